# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""ONNX graphs of trained models and their onnxruntime inference.

A model file is one ONNX graph with the model card (JSON) in its metadata.
The graph takes raw EEG in V (``eeg``, shape ``(n, n_channels)``, channels in
the card's order) and returns the average-referenced EEG (``eeg_ref``), the
source-map shape (``sources``) and its forward projection through the
average-referenced gain (``projection``), which the amplitude rescaling
needs. Pre-processing (average reference, division by the signed peak) is
part of the graph, so onnxruntime alone applies a model.
"""

import json

import numpy as np

CARD_KEY = "mne_deepinverse_model_card"
FORMAT_VERSION = 1
_EPS = 1e-30
# what every model card holds (the apply path and the checks read them)
CARD_KEYS = ("format_version", "backend", "ch_names", "ch_pos", "n_sources",
             "vertices", "subject", "src_kind", "source_rr", "gain_fingerprint")
_CORRUPT = (": the file is corrupted or was not written by mne-deepinverse. Save "
            "it again with DeepInverse.save or reinstall the pretrained models.")


def make_onnx_model(layers, gain, card, *, fp16=True):
    """Write dense layers and the gain as an ONNX graph (bytes).

    Parameters
    ----------
    layers : list of tuple
        ``(weight (n_in, n_out), bias (n_out,), relu)`` per layer.
    gain : array, shape (n_channels, n_sources)
        Average-referenced gain of the forward model.
    card : dict
        The model card (JSON-serialisable), stored as metadata.
    fp16 : bool
        Store the weights in float16 (computation stays in float32).

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
        value = np.asarray(value, dtype=store)
        if fp16:
            inits.append(numpy_helper.from_array(value, name + "_h"))
            nodes.append(helper.make_node("Cast", [name + "_h"], [name],
                                          to=TensorProto.FLOAT))
        else:
            inits.append(numpy_helper.from_array(value, name))
        return name

    inits.append(numpy_helper.from_array(np.array([_EPS], np.float32), "eps"))
    inits.append(numpy_helper.from_array(np.array([1.0], np.float32), "one"))
    nodes += [
        # average reference, then division by the signed peak (see
        # backends._train.normalise_eeg)
        helper.make_node("ReduceMean", ["eeg"], ["mean"], axes=[1], keepdims=1),
        helper.make_node("Sub", ["eeg", "mean"], ["eeg_ref"]),
        helper.make_node("Abs", ["eeg_ref"], ["abs"]),
        helper.make_node("ArgMax", ["abs"], ["peak_idx"], axis=1, keepdims=1),
        helper.make_node("GatherElements", ["eeg_ref", "peak_idx"], ["peak"], axis=1),
        helper.make_node("Abs", ["peak"], ["peak_abs"]),
        helper.make_node("Greater", ["peak_abs", "eps"], ["peak_ok"]),
        helper.make_node("Where", ["peak_ok", "peak", "one"], ["peak_safe"]),
        helper.make_node("Div", ["eeg_ref", "peak_safe"], ["h0"]),
    ]
    h = "h0"
    for ii, (w, b, relu) in enumerate(layers):
        nodes.append(helper.make_node("MatMul", [h, const(f"W{ii}", w)], [f"mm{ii}"]))
        out = "sources" if ii == len(layers) - 1 and not relu else f"z{ii}"
        nodes.append(helper.make_node("Add", [f"mm{ii}", const(f"b{ii}", b)], [out]))
        if relu:
            out_relu = "sources" if ii == len(layers) - 1 else f"h{ii + 1}"
            nodes.append(helper.make_node("Relu", [out], [out_relu]))
            out = out_relu
        h = out
    nodes.append(helper.make_node("MatMul", ["sources", const("gain_t", gain.T)],
                                  ["projection"]))
    n_ch, n_src = gain.shape
    graph = helper.make_graph(
        nodes,
        "mne_deepinverse",
        [helper.make_tensor_value_info("eeg", TensorProto.FLOAT, ["n", n_ch])],
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
    return model.SerializeToString()


def _finish(model, card, fp16):
    """Weights to float16 (with casts), the card as metadata; checked bytes."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    if fp16:
        casts, keep = [], []
        for init in model.graph.initializer:
            value = numpy_helper.to_array(init)
            if value.dtype == np.float32 and value.size >= 1024:
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
    return model.SerializeToString()


def _put_card(model, card):
    """Store the card as the model's only metadata (in place)."""
    from onnx import helper

    del model.metadata_props[:]
    helper.set_model_props(model, {CARD_KEY: json.dumps(card)})


def set_card(model, card):
    """Return a serialised model with its card replaced."""
    import onnx

    model = onnx.load_from_string(model)
    _put_card(model, card)
    return model.SerializeToString()


def export_torch_model(net, gain, card, *, fp16=True):
    """Export a torch network with pre-processing and projection as ONNX.

    The graph is the same as :func:`make_onnx_model`'s (average reference,
    division by the signed peak, the network, projection through the gain),
    written by torch's ONNX exporter.

    Parameters
    ----------
    net : torch.nn.Module
        Maps normalised EEG ``(n, n_channels)`` to source shapes.
    gain : array, shape (n_channels, n_sources)
        Average-referenced gain of the forward model.
    card : dict
        The model card, stored as metadata.
    fp16 : bool
        Store the weights in float16 (computation stays in float32).

    Returns
    -------
    model : bytes
        The serialised ONNX model.
    """
    import io
    import warnings

    import onnx
    import torch

    from .backends._train import normalise_eeg

    class _Graph(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net
            self.register_buffer("gain_t", torch.as_tensor(gain.T, dtype=torch.float32))

        def forward(self, eeg):
            eeg_ref = eeg - eeg.mean(dim=1, keepdim=True)
            sources = self.net(normalise_eeg(eeg_ref))
            return eeg_ref, sources, sources @ self.gain_t

    graph = _Graph().eval()
    buffer = io.BytesIO()
    names = ["eeg_ref", "sources", "projection"]
    with warnings.catch_warnings(), torch.no_grad():
        # torch >= 2.9 marks the TorchScript exporter as deprecated; the
        # torch.export one needs onnxscript, which we do not require
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph, (torch.zeros(2, gain.shape[0]),), buffer, dynamo=False,
            input_names=["eeg"], output_names=names, opset_version=17,
            dynamic_axes={name: {0: "n"} for name in ["eeg", *names]},
        )
    return _finish(onnx.load_from_string(buffer.getvalue()), card, fp16)


def _check_card(text):
    """Parse the JSON model card and check that it holds what a model needs."""
    try:
        card = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RuntimeError(
            f"The model card is not valid JSON ({exc})" + _CORRUPT
        ) from None
    if not isinstance(card, dict):
        raise RuntimeError(f"The model card is a JSON {type(card).__name__}, not an "
                           "object" + _CORRUPT)
    version = card.get("format_version", 0)
    if isinstance(version, int) and version > FORMAT_VERSION:
        raise RuntimeError(
            f"The model was written by a newer mne-deepinverse (format "
            f"{version}); upgrade the package."
        )
    missing = [key for key in CARD_KEYS if key not in card]
    if missing:
        raise RuntimeError(f"The model card lacks the keys {missing}" + _CORRUPT)
    return card


class OnnxModel:
    """An onnxruntime session of a model and its card.

    Parameters
    ----------
    model : bytes | path-like
        Serialised model or file name.
    """

    def __init__(self, model):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        source = model if isinstance(model, bytes) else str(model)
        try:
            self.session = ort.InferenceSession(
                source, sess_options=opts, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise RuntimeError(
                f"Could not load the model with onnxruntime ({exc}). The file is "
                "not an mne-deepinverse model or it is corrupted; save it again "
                "with DeepInverse.save or reinstall the pretrained models."
            ) from None
        meta = self.session.get_modelmeta().custom_metadata_map
        if CARD_KEY not in meta:
            raise RuntimeError(
                "This ONNX file carries no mne-deepinverse model card; it was not "
                "written by DeepInverse.save."
            )
        self.card = _check_card(meta[CARD_KEY])
        n_ch = self.session.get_inputs()[0].shape[-1]
        if isinstance(n_ch, int) and n_ch != len(self.card["ch_names"]):
            raise RuntimeError(
                f"The model card lists {len(self.card['ch_names'])} channels but "
                f"the network takes {n_ch}" + _CORRUPT
            )

    def run(self, X):
        """Return average-referenced EEG, source shapes and their projection."""
        X = np.ascontiguousarray(X, dtype=np.float32)
        return self.session.run(None, {"eeg": X})
