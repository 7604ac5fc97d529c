# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Writing trained networks as ONNX graphs (training side: needs ``onnx``).

Every graph takes raw EEG in V (``eeg``, shape ``(n, n_channels)``) and
returns the average-referenced EEG (``eeg_ref``), the source-map shape
(``sources``) and its projection through the average-referenced gain
(``projection``); the pre-processing of :mod:`mne_deepinverse._preprocessing`
is part of the graph. The model card is stored as metadata
(:data:`mne_deepinverse._onnx.CARD_KEY`).
"""

import json

import numpy as np

from ._card import CARD_KEY
from ._onnx import CHECKSUM_PLACEHOLDER, seal
from ._preprocessing import normalise_torch, onnx_nodes, reference_torch

#: Largest magnitude stored in float16 (its largest finite value is 65504):
#: larger constants (a MEG whitener, a whitened gain) stay float32.
_FP16_MAX = 6e4


def make_onnx_model(layers, gain, card, *, fp16=True, whitener=None):
    """Write dense layers and the gain as an ONNX graph (bytes).

    With ``gain=None`` the graph is an any-cap graph: the number of channels
    is free, and besides ``eeg`` it takes ``interp`` (n_channels, n_pixels),
    the cap's interpolation onto the model's grid, applied to the normalised
    EEG before the first layer, and ``gain_t`` (n_sources, n_channels), the
    transposed average-referenced gain of the user's forward.

    Parameters
    ----------
    layers : list of tuple
        ``(weight (n_in, n_out), bias (n_out,), relu)`` per layer.
    gain : array, shape (n_channels, n_sources) | None
        Average-referenced gain of the forward model; None for an any-cap
        graph.
    card : dict
        The model card (JSON-serialisable), stored as metadata.
    fp16 : bool
        Store the weights in float16 (computation stays in float32).
    whitener : array, shape (n_channels, n_channels) | None
        The whitener that replaces the average reference (MEG models; then
        ``gain`` is the whitened gain).

    Returns
    -------
    model : bytes
        The serialised ONNX model.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    store = np.float16 if fp16 else np.float32
    nodes, inits = [], []

    def const(name, value):
        half = fp16 and np.abs(value).max(initial=0) < _FP16_MAX
        value = np.asarray(value, dtype=store if half else np.float32)
        if half:
            inits.append(numpy_helper.from_array(value, name + "_h"))
            nodes.append(helper.make_node("Cast", [name + "_h"], [name],
                                          to=TensorProto.FLOAT))
        else:
            inits.append(numpy_helper.from_array(value, name))
        return name

    # average reference, then division by the signed peak (defined once, in
    # mne_deepinverse._preprocessing)
    pre_nodes, pre_inits = onnx_nodes("eeg", "eeg_ref", "h0", whitener=whitener)
    nodes += pre_nodes
    inits += pre_inits
    h = "h0"
    any_cap = gain is None
    n_src = layers[-1][0].shape[1]
    if any_cap:
        nodes.append(helper.make_node("MatMul", ["h0", "interp"], ["grid"]))
        h = "grid"
    for ii, (w, b, relu) in enumerate(layers):
        nodes.append(helper.make_node("MatMul", [h, const(f"W{ii}", w)], [f"mm{ii}"]))
        out = "sources" if ii == len(layers) - 1 and not relu else f"z{ii}"
        nodes.append(helper.make_node("Add", [f"mm{ii}", const(f"b{ii}", b)], [out]))
        if relu:
            out_relu = "sources" if ii == len(layers) - 1 else f"h{ii + 1}"
            nodes.append(helper.make_node("Relu", [out], [out_relu]))
            out = out_relu
        h = out
    if any_cap:
        n_ch = "n_channels"
        inputs = [
            helper.make_tensor_value_info("eeg", TensorProto.FLOAT, ["n", n_ch]),
            helper.make_tensor_value_info("interp", TensorProto.FLOAT,
                                          [n_ch, layers[0][0].shape[0]]),
            helper.make_tensor_value_info("gain_t", TensorProto.FLOAT, [n_src, n_ch]),
        ]
        nodes.append(helper.make_node("MatMul", ["sources", "gain_t"], ["projection"]))
    else:
        n_ch = gain.shape[0]
        inputs = [helper.make_tensor_value_info("eeg", TensorProto.FLOAT, ["n", n_ch])]
        nodes.append(helper.make_node("MatMul", ["sources", const("gain_t", gain.T)],
                                      ["projection"]))
    graph = helper.make_graph(
        nodes,
        "mne_deepinverse",
        inputs,
        [
            helper.make_tensor_value_info("eeg_ref", TensorProto.FLOAT, ["n", n_ch]),
            helper.make_tensor_value_info("sources", TensorProto.FLOAT, ["n", n_src]),
            helper.make_tensor_value_info("projection", TensorProto.FLOAT,
                                          ["n", n_ch]),
        ],
        inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)],
        producer_name="mne-deepinverse",
    )
    model.ir_version = 8
    _put_card(model, card)
    onnx.checker.check_model(model)
    return _serialize(model)


def read_dense_layers(onnx_bytes):
    """Read the dense layers of a graph written by :func:`make_onnx_model`.

    Parameters
    ----------
    onnx_bytes : bytes
        A serialised ONNX model.

    Returns
    -------
    layers : list of tuple | None
        ``(weight (n_in, n_out), bias (n_out,), relu)`` per layer (float32),
        as :func:`make_onnx_model` took them; None for other graphs (the
        U-Net's and VNet's convolutions).
    """
    import onnx
    from onnx import numpy_helper

    model = onnx.load_from_string(onnx_bytes)
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    relu_inputs = {n.input[0] for n in model.graph.node if n.op_type == "Relu"}

    def value(name):
        if name in inits:
            return inits[name].astype(np.float32)
        return inits[name + "_h"].astype(np.float32)  # stored in float16

    layers = []
    while f"W{len(layers)}" in inits or f"W{len(layers)}_h" in inits:
        ii = len(layers)
        relu = f"z{ii}" in relu_inputs
        layers.append((value(f"W{ii}"), value(f"b{ii}"), relu))
    return layers or None


def _finish(model, card, fp16):
    """Weights to float16 (with casts), the card as metadata; checked bytes."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    if fp16:
        casts, keep = [], []
        for init in model.graph.initializer:
            value = numpy_helper.to_array(init)
            if (value.dtype == np.float32 and value.size >= 1024
                    and np.abs(value).max() < _FP16_MAX):
                keep.append(numpy_helper.from_array(value.astype(np.float16),
                                                    init.name + "_h"))
                casts.append(helper.make_node("Cast", [init.name + "_h"], [init.name],
                                              to=TensorProto.FLOAT))
            else:
                keep.append(init)
        del model.graph.initializer[:]
        model.graph.initializer.extend(keep)
        nodes = casts + list(model.graph.node)
        del model.graph.node[:]
        model.graph.node.extend(nodes)
    _put_card(model, card)
    onnx.checker.check_model(model)
    return _serialize(model)


def _put_card(model, card):
    """Store the card as the model's only metadata (in place).

    Its ``checksum`` is a placeholder until :func:`_serialize` seals the file.
    """
    from onnx import helper

    card = dict(card, checksum=CHECKSUM_PLACEHOLDER)
    del model.metadata_props[:]
    helper.set_model_props(model, {CARD_KEY: json.dumps(card)})


def _serialize(model):
    """Return the model's bytes, its checksum written into its card."""
    return seal(model.SerializeToString())


def set_card(model, card):
    """Return a serialised model with its card replaced."""
    import onnx

    model = onnx.load_from_string(model)
    _put_card(model, card)
    return _serialize(model)


def export_torch_model(net, gain, card, *, fp16=True, whitener=None):
    """Export a torch network with pre-processing and projection as ONNX.

    The graph is the same as :func:`make_onnx_model`'s (average reference,
    division by the signed peak, the network, projection through the gain),
    written by torch's ONNX exporter. When the card's ``input`` is a window,
    the graph takes ``(n, n_times, n_channels)`` and returns every output per
    time sample of the window (``(n, n_times, ...)``).

    Parameters
    ----------
    net : torch.nn.Module
        Maps normalised EEG ``(n, n_channels)`` (or windows ``(n, n_times,
        n_channels)``) to source shapes ``(n, n_sources)`` (or ``(n, n_times,
        n_sources)``).
    gain : array, shape (n_channels, n_sources)
        Average-referenced (or whitened) gain of the forward model.
    card : dict
        The model card, stored as metadata.
    fp16 : bool
        Store the weights in float16 (computation stays in float32).
    whitener : array, shape (n_channels, n_channels) | None
        The whitener that replaces the average reference (MEG models).

    Returns
    -------
    model : bytes
        The serialised ONNX model.
    """
    import torch

    class _Graph(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net
            self.register_buffer("gain_t", torch.as_tensor(gain.T, dtype=torch.float32))
            self.register_buffer("white_t", None if whitener is None else
                                 torch.as_tensor(np.asarray(whitener).T,
                                                 dtype=torch.float32))

        def forward(self, eeg):
            eeg_ref = reference_torch(eeg, self.white_t)
            sources = self.net(normalise_torch(eeg, self.white_t))
            return eeg_ref, sources, sources @ self.gain_t

    graph = _Graph().eval()
    n_ch = gain.shape[0]
    inp = card.get("input", {"kind": "sample"})
    example = (torch.zeros(2, inp["n_times"], n_ch) if inp["kind"] == "window"
               else torch.zeros(2, n_ch))
    names = ["eeg", *_OUTPUTS]
    return _export(graph, (example,), ["eeg"], {name: {0: "n"} for name in names},
                   card, fp16)


#: The outputs of every graph.
_OUTPUTS = ("eeg_ref", "sources", "projection")


def _export(graph, example, inputs, axes, card, fp16):
    """Export a torch graph with torch's ONNX exporter; finish it (card, fp16)."""
    import io
    import warnings

    import onnx
    import torch

    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        # torch >= 2.9 marks the TorchScript exporter as deprecated; the
        # torch.export one needs onnxscript, which we do not require
        warnings.simplefilter("ignore")
        torch.onnx.export(graph, example, buffer, dynamo=False, input_names=inputs,
                          output_names=list(_OUTPUTS), opset_version=17,
                          dynamic_axes=axes)
    return _finish(onnx.load_from_string(buffer.getvalue()), card, fp16)


def export_any_sensor_model(net, card, *, fp16=True):
    """Export a network whose kernels, whitener and gain are graph inputs.

    The graph takes raw data ``eeg`` ``(n, n_channels)`` (any number of
    channels) and ``white_t`` ``(n_channels, n_channels)`` (the transposed
    whitener), ``kernel_t`` ``(n_channels, n_kernels * n_sources)`` (the
    transposed linear kernels, on whitened data) and ``gain_t``
    ``(n_sources, n_channels)`` (the transposed whitened gain), all computed
    at apply time for the user's forward and noise covariance; it returns
    the whitened data, the source-map shape and its projection, as every
    graph does.

    Parameters
    ----------
    net : torch.nn.Module
        Has ``from_data(x, kernel_t, gain_t)``, mapping normalised whitened
        data, kernels and the whitened gain to source shapes ``(n, n_sources)``.
    card : dict
        The model card, stored as metadata.
    fp16 : bool
        Store the weights in float16 (computation stays in float32).

    Returns
    -------
    model : bytes
        The serialised ONNX model.
    """
    import torch

    class _Graph(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, eeg, white_t, kernel_t, gain_t):
            x = normalise_torch(eeg, white_t)
            sources = self.net.from_data(x, kernel_t, gain_t)
            return eeg @ white_t, sources, sources @ gain_t

    graph = _Graph().eval()
    n_ch, n_src = 7, int(card["n_sources"])
    n_k = len(card["any_sensors"]["kernels"])
    example = (torch.ones(2, n_ch), torch.eye(n_ch), torch.zeros(n_ch, n_k * n_src),
               torch.ones(n_src, n_ch))
    axes = dict(eeg={0: "n", 1: "n_channels"},
                white_t={0: "n_channels", 1: "n_channels"},
                kernel_t={0: "n_channels"}, gain_t={1: "n_channels"},
                eeg_ref={0: "n", 1: "n_channels"}, sources={0: "n"},
                projection={0: "n", 1: "n_channels"})
    return _export(graph, example, ["eeg", "white_t", "kernel_t", "gain_t"], axes,
                   card, fp16)
