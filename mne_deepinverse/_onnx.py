# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Model files at run time: the model card and the onnxruntime session.

A model file is one ONNX graph with the model card (JSON) in its metadata.
The graph takes raw EEG in V (``eeg``, shape ``(n, n_channels)``, channels in
the card's order) and returns the average-referenced EEG (``eeg_ref``), the
source-map shape (``sources``) and its forward projection through the
average-referenced gain (``projection``), which the amplitude rescaling
needs. Pre-processing (average reference, division by the signed peak) is
part of the graph, so onnxruntime alone applies a model.
"""

import hashlib
import re

import numpy as np

from ._card import _CORRUPT, CARD_KEY, ModelCard

#: What a model file's card holds before its checksum is computed.
CHECKSUM_PLACEHOLDER = "sha256:" + "0" * 64
_CHECKSUM = re.compile(rb'"checksum": "sha256:([0-9a-f]{64})"')


def seal(data):
    """Write the checksum of a serialised model into its card (bytes).

    The card (JSON in the graph's metadata) holds :data:`CHECKSUM_PLACEHOLDER`;
    the sha256 of the whole file with that placeholder replaces it (the same
    length, so nothing else moves). :func:`check_seal` recomputes it.
    """
    placeholder = CHECKSUM_PLACEHOLDER.encode()
    if data.count(placeholder) != 1:
        raise RuntimeError("The model's card holds no checksum placeholder.")
    digest = hashlib.sha256(data).hexdigest().encode()
    return data.replace(placeholder, b"sha256:" + digest)


def check_seal(data, card):
    """Raise if a model file's content differs from when it was written.

    Models whose card has no checksum (the shipped models, hash-checked by
    pooch, and files written before checksums) are not checked.
    """
    if "checksum" not in card:
        return
    found = _CHECKSUM.findall(data)
    digest = found[0].decode() if len(found) == 1 else None
    zeroed = _CHECKSUM.sub(f'"checksum": "{CHECKSUM_PLACEHOLDER}"'.encode(), data)
    if digest is None or hashlib.sha256(zeroed).hexdigest() != digest:
        raise RuntimeError(
            "The model file's content differs from what was saved (its sha256 "
            "does not match the checksum in its card): the file is corrupted "
            "(a failed copy, a bad disk) or was edited. Save the model again, "
            "or train it again."
        )


def open_session(source, failure):
    """Return an onnxruntime CPU session of a serialised model or file.

    ``failure`` is the error message when onnxruntime cannot read it, with
    ``{exc}`` for onnxruntime's own message.
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(source, sess_options=opts,
                                    providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise RuntimeError(failure.replace("{exc}", str(exc))) from None


class OnnxModel:
    """An onnxruntime session of a model and its card.

    Parameters
    ----------
    model : bytes | path-like
        Serialised model or file name.
    """

    def __init__(self, model):
        source = model if isinstance(model, bytes) else str(model)
        self.session = open_session(
            source,
            "Could not load the model with onnxruntime ({exc}). The file is not "
            "an mne-deepinverse model or it is corrupted; save it again with "
            "DeepInverse.save or reinstall the pretrained models.")
        meta = self.session.get_modelmeta().custom_metadata_map
        if CARD_KEY not in meta:
            raise RuntimeError(
                "This ONNX file carries no mne-deepinverse model card; it was not "
                "written by DeepInverse.save."
            )
        self.card = ModelCard.from_json(meta[CARD_KEY])
        n_ch = self.session.get_inputs()[0].shape[-1]
        inputs = [i.name for i in self.session.get_inputs()]
        outputs = [o.name for o in self.session.get_outputs()]
        if inputs[:1] != ["eeg"] or outputs != ["eeg_ref", "sources", "projection"]:
            raise RuntimeError(
                f"The ONNX graph takes {inputs} and returns {outputs}, not the "
                "data ('eeg') and the referenced data, source map and projection "
                "of an mne-deepinverse graph: it carries a model card it was not "
                "exported with" + _CORRUPT
            )
        n_card = len(self.card.sensors.ch_names)
        if isinstance(n_ch, int) and n_ch != n_card:
            raise RuntimeError(
                f"The model card lists {n_card} channels but "
                f"the network takes {n_ch}" + _CORRUPT
            )
        data = model if isinstance(model, bytes) else open(model, "rb").read()
        check_seal(data, self.card)

    def run(self, X, **feeds):
        """Return average-referenced EEG, source shapes and their projection.

        ``feeds`` are further graph inputs (an any-cap graph's ``interp`` and
        ``gain_t``).
        """
        X = np.ascontiguousarray(X, dtype=np.float32)
        return self.session.run(None, {"eeg": X, **feeds})
