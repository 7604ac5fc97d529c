# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""The input pre-processing of every network, defined once.

Average reference, then division by the *signed* peak of each network input
(the value with the largest magnitude), so that ``x`` and ``-x`` give the
same network input: the networks predict one magnitude pattern for both
polarities and the amplitude fit gives the sign. Inputs whose peak is below
``EPS`` are left as they are (divided by one).

An input is one time sample, shape ``(n, n_channels)``, or a window of time
samples, shape ``(n, n_times, n_channels)``. The reference is always taken
over the channels (the last axis) of every time sample; a window is divided
by one peak, its largest value over all its samples and channels, so that the
relative amplitudes of its time samples survive.

Models that read MEG (or EEG and MEG together) replace the average
reference by their whitener ``W`` (:mod:`mne_deepinverse._sensors`): the
samples are multiplied by ``W.T`` (``whitener`` below), then divided by
their signed peak.

The same arithmetic is written three times, for the three places a model
runs: :func:`normalise_numpy` (reference), :func:`normalise_torch`
(training) and :func:`onnx_nodes` (inside every exported graph);
``tests/test_preprocessing.py`` checks that they agree.
"""

import numpy as np

#: Samples with a smaller peak (V) are not divided.
EPS = 1e-30

#: What the model card says of the pre-processing.
DESCRIPTION = dict(reference="average", normalisation="signed peak")


def reference_numpy(X, whitener=None):
    """Average reference (or whitening) of samples ``X`` (..., n_channels)."""
    X = np.asarray(X)
    if whitener is not None:
        return X @ np.asarray(whitener).T
    return X - X.mean(axis=-1, keepdims=True)


def normalise_numpy(X, whitener=None):
    """Average reference and division by the signed peak (numpy).

    Parameters
    ----------
    X : array, shape (n, n_channels) | (n, n_times, n_channels)
        EEG samples or windows.
    whitener : array, shape (n_channels, n_channels) | None
        Whitener replacing the average reference (MEG models).

    Returns
    -------
    Xn : array, same shape as X
        The network input.
    """
    X = reference_numpy(X, whitener)
    flat = X.reshape(len(X), -1)
    peak = np.take_along_axis(flat, np.abs(flat).argmax(axis=1)[:, None], axis=1)
    peak = np.where(np.abs(peak) > EPS, peak, 1.0)
    return X / peak.reshape((len(X),) + (1,) * (X.ndim - 1))


def reference_torch(x, whitener_t=None):
    """Average reference (or whitening) of samples ``x`` (..., n_channels), torch.

    ``whitener_t`` (a tensor, the transposed whitener) replaces the average
    reference for MEG models.
    """
    return x - x.mean(dim=-1, keepdim=True) if whitener_t is None else x @ whitener_t


def normalise_torch(x, whitener_t=None):
    """Average reference and division by the signed peak (torch tensors).

    ``whitener_t`` (a tensor, the transposed whitener) replaces the average
    reference for MEG models.
    """
    import torch

    x = reference_torch(x, whitener_t)
    flat = x.flatten(1)
    peak = flat.gather(1, flat.abs().argmax(dim=1, keepdim=True))
    peak = torch.where(peak.abs() > EPS, peak, torch.ones_like(peak))
    return x / peak.view((-1,) + (1,) * (x.dim() - 1))


def onnx_nodes(inp="eeg", ref="eeg_ref", out="h0", *, window=False, whitener=None):
    """ONNX nodes and constants of the same pre-processing.

    Parameters
    ----------
    inp, ref, out : str
        Names of the input (raw EEG), of the referenced EEG (a graph output)
        and of the network input.
    window : bool
        Whether the input holds windows ``(n, n_times, n_channels)`` rather
        than samples ``(n, n_channels)``.
    whitener : array, shape (n_channels, n_channels) | None
        Whitener replacing the average reference (kept in float32: its
        entries exceed float16's range).

    Returns
    -------
    nodes : list of NodeProto
        The nodes, in order.
    initializers : list of TensorProto
        The constants they use.
    """
    from onnx import helper, numpy_helper

    inits = [
        numpy_helper.from_array(np.array([EPS], np.float32), "pre_eps"),
        numpy_helper.from_array(np.array([1.0], np.float32), "pre_one"),
        # every input flattened to one row; its peak back to (n, 1[, 1])
        numpy_helper.from_array(np.array([0, -1], np.int64), "pre_flat"),
        numpy_helper.from_array(np.array([0, 1, 1] if window else [0, 1], np.int64),
                                "pre_peak_shape"),
    ]
    if whitener is None:
        nodes = [
            helper.make_node("ReduceMean", [inp], ["pre_mean"], axes=[-1],
                             keepdims=1),
            helper.make_node("Sub", [inp, "pre_mean"], [ref]),
        ]
    else:
        inits.append(numpy_helper.from_array(
            np.ascontiguousarray(np.asarray(whitener).T, np.float32), "pre_white_t"))
        nodes = [helper.make_node("MatMul", [inp, "pre_white_t"], [ref])]
    nodes += [
        helper.make_node("Reshape", [ref, "pre_flat"], ["pre_rows"]),
        helper.make_node("Abs", ["pre_rows"], ["pre_abs"]),
        helper.make_node("ArgMax", ["pre_abs"], ["pre_idx"], axis=1, keepdims=1),
        helper.make_node("GatherElements", ["pre_rows", "pre_idx"], ["pre_peak"],
                         axis=1),
        helper.make_node("Abs", ["pre_peak"], ["pre_peak_abs"]),
        helper.make_node("Greater", ["pre_peak_abs", "pre_eps"], ["pre_ok"]),
        helper.make_node("Where", ["pre_ok", "pre_peak", "pre_one"], ["pre_safe"]),
        helper.make_node("Reshape", ["pre_safe", "pre_peak_shape"], ["pre_div"]),
        helper.make_node("Div", [ref, "pre_div"], [out]),
    ]
    return nodes, inits
