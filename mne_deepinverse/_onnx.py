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

import json

import numpy as np

CARD_KEY = "mne_deepinverse_model_card"
#: Format 2 adds the card's ``input`` (format 1 cards read one time sample).
FORMAT_VERSION = 2
# what every model card holds (the apply path and the checks read them)
CARD_KEYS = ("format_version", "backend", "ch_names", "ch_pos", "n_sources",
             "vertices", "subject", "src_kind", "source_rr", "gain_fingerprint")
_CORRUPT = (": the file is corrupted or was not written by mne-deepinverse. Save "
            "it again with DeepInverse.save or reinstall the pretrained models.")


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
    if "cap" in card:
        from ._caps import CAP_KEYS

        cap = card["cap"]
        missing = [key for key in CAP_KEYS
                   if not isinstance(cap, dict) or key not in cap]
        if missing or cap["kind"] != "any":
            raise RuntimeError(f"The model card's cap entry is invalid (lacks "
                               f"{missing} or is not kind 'any')" + _CORRUPT)
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

    def run(self, X, **feeds):
        """Return average-referenced EEG, source shapes and their projection.

        ``feeds`` are further graph inputs (an any-cap graph's ``interp`` and
        ``gain_t``).
        """
        X = np.ascontiguousarray(X, dtype=np.float32)
        return self.session.run(None, {"eeg": X, **feeds})
