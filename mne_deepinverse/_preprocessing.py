# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""The input pre-processing of every network, defined once.

Average reference, then division by the *signed* peak of each sample (the
value of the channel with the largest magnitude), so that ``x`` and ``-x``
give the same network input: the networks predict one magnitude pattern for
both polarities and the amplitude fit gives the sign. Samples whose peak is
below ``EPS`` are left as they are (divided by one).

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


def reference_numpy(X):
    """Average reference of samples ``X`` (n, n_channels)."""
    X = np.asarray(X)
    return X - X.mean(axis=1, keepdims=True)


def normalise_numpy(X):
    """Average reference and division by the signed peak (numpy).

    Parameters
    ----------
    X : array, shape (n, n_channels)
        EEG samples.

    Returns
    -------
    Xn : array, shape (n, n_channels)
        The network input.
    """
    X = reference_numpy(X)
    peak = np.take_along_axis(X, np.abs(X).argmax(axis=1)[:, None], axis=1)
    peak = np.where(np.abs(peak) > EPS, peak, 1.0)
    return X / peak


def normalise_torch(x):
    """Average reference and division by the signed peak (torch tensors)."""
    import torch

    x = x - x.mean(dim=1, keepdim=True)
    peak = x.gather(1, x.abs().argmax(dim=1, keepdim=True))
    peak = torch.where(peak.abs() > EPS, peak, torch.ones_like(peak))
    return x / peak


def onnx_nodes(inp="eeg", ref="eeg_ref", out="h0"):
    """ONNX nodes and constants of the same pre-processing.

    Parameters
    ----------
    inp, ref, out : str
        Names of the input (raw EEG), of the referenced EEG (a graph output)
        and of the network input.

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
    ]
    nodes = [
        helper.make_node("ReduceMean", [inp], ["pre_mean"], axes=[1], keepdims=1),
        helper.make_node("Sub", [inp, "pre_mean"], [ref]),
        helper.make_node("Abs", [ref], ["pre_abs"]),
        helper.make_node("ArgMax", ["pre_abs"], ["pre_idx"], axis=1, keepdims=1),
        helper.make_node("GatherElements", [ref, "pre_idx"], ["pre_peak"], axis=1),
        helper.make_node("Abs", ["pre_peak"], ["pre_peak_abs"]),
        helper.make_node("Greater", ["pre_peak_abs", "pre_eps"], ["pre_ok"]),
        helper.make_node("Where", ["pre_ok", "pre_peak", "pre_one"], ["pre_safe"]),
        helper.make_node("Div", [ref, "pre_safe"], [out]),
    ]
    return nodes, inits
