# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""The deep route of BOLD synthesis: a trained BoldNet, run with onnxruntime."""

import hashlib
import json
from pathlib import Path

import mne
import numpy as np
from mne.utils import _validate_type, logger

from .._caps import cap_interpolation, check_cap
from .._card import CARD_KEY
from .._onnx import check_seal, open_session
from .._registry import SYNTHESIZERS
from .._utils import _check_fixed_forward
from ._features import spectrogram_windows

_CACHE = {}


class BoldSynthesizer:
    """A trained BOLD synthesizer: its onnxruntime session and card.

    Parameters
    ----------
    model : str | path-like
        A shipped synthesizer's name (``"boldnet"``) or a saved file
        (``.onnx``, written by ``tools/train_boldnet.py``).
    """

    def __init__(self, model):
        _validate_type(model, ("path-like",), "model")
        name = str(model)
        if name in SYNTHESIZERS:
            from ..datasets import fetch_pretrained_file

            fname = fetch_pretrained_file(SYNTHESIZERS[name]["model"])
        elif Path(name).is_file():
            fname = Path(name)
        else:
            raise ValueError(
                f"Invalid value for the 'model' parameter of the deep route: "
                f"allowed are {sorted(SYNTHESIZERS)} or a saved synthesizer "
                f"(.onnx), got {model!r}.")
        data = Path(fname).read_bytes()
        failure = (f"Could not read {fname} as a BOLD synthesizer "
                   "({exc}): it is corrupted or not a file of "
                   "tools/train_boldnet.py.")
        self.session = open_session(data, failure)
        try:
            card = json.loads(self.session.get_modelmeta().custom_metadata_map[
                CARD_KEY])
        except Exception as exc:
            raise RuntimeError(failure.replace("{exc}", str(exc))) from None
        backends = {entry["backend"] for entry in SYNTHESIZERS.values()}
        if card.get("backend") not in backends or "bold" not in card:
            raise ValueError(
                f"{fname} is a {card.get('backend')!r} model, not a BOLD "
                "synthesizer: the deep route needs a BoldNet (model='boldnet'). "
                "Inverse models go through method='hrf'.")
        check_seal(data, card)
        self.card, self.spec = card, card["bold"]

    def windows(self, data, sfreq, interp, frame_times):
        """Spectrogram windows ``(n_frames, n_pixels, n_bands, n_bins)``."""
        spec = self.spec
        return spectrogram_windows(
            data[None], sfreq, interp, frame_times, bands=spec["bands"],
            bin_s=spec["bin_s"], n_bins=spec["n_bins"],
            slow=bool(spec.get("slow", False)))[0]

    def predict(self, windows, batch=256):
        """BOLD (% signal change) of every source, ``(n_sources, n_frames)``."""
        out = [self.session.run(None, {"spectrogram": windows[k: k + batch]})[0]
               for k in range(0, len(windows), batch)]
        return np.concatenate(out).T


def load_synthesizer(model):
    """Return a :class:`BoldSynthesizer` (shipped ones read once)."""
    if isinstance(model, BoldSynthesizer):
        return model
    if str(model) in SYNTHESIZERS:
        if str(model) not in _CACHE:
            _CACHE[str(model)] = BoldSynthesizer(model)
        return _CACHE[str(model)]
    return BoldSynthesizer(model)


def source_space_digest(src):
    """Return the sha256 of a source space's used vertices.

    A synthesizer's regions are defined on them.
    """
    h = hashlib.sha256()
    for s in src:
        h.update(np.asarray(s["vertno"], np.int64).tobytes())
    return h.hexdigest()


def bind_synthesizer(synth, inst, fwd, on_mismatch="raise"):
    """Return the EEG channels and the cap's grid interpolation for ``inst``.

    Checks that the forward is on the synthesizer's source space, that the
    data have the forward's EEG channels and an average reference, and
    that the cap is one the synthesizer was trained for.
    """
    fwd = _check_fixed_forward(fwd)
    spec = synth.spec
    if source_space_digest(fwd["src"]) != spec["source_space"]:
        raise ValueError(
            f"The forward's source space ({fwd['nsource']} sources) is not the "
            f"one the synthesizer's regions are on (the template's "
            f"{len(spec['labels'])} sources, ico4): use "
            "mne_deepinverse.datasets.make_template_forward(info).")
    fwd_eeg = [ch["ch_name"] for ch in fwd["info"]["chs"]
               if ch["kind"] == mne.io.constants.FIFF.FIFFV_EEG_CH]
    if not fwd_eeg:
        raise ValueError("The forward has no EEG channels; the deep route reads "
                         "EEG. Pass an EEG forward (make_template_forward).")
    bads = set(inst.info["bads"])
    names = [n for n in fwd_eeg if n not in bads]
    missing = [n for n in names if n not in inst.ch_names]
    if missing:
        raise ValueError(
            f"The data lack {len(missing)} EEG channel(s) of the forward "
            f"({', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}): "
            "make the forward for the data's channels (make_template_forward"
            "(inst.info)).")
    if not mne._fiff.proj._has_eeg_average_ref_proj(inst.info, ch_type="eeg"):
        raise ValueError(
            "The EEG has no average reference: call "
            "inst.set_eeg_reference('average', projection=True) first.")
    pos = np.array([fwd["info"]["chs"][fwd["info"]["ch_names"].index(n)]["loc"][:3]
                    for n in names])
    cap = spec["cap"]
    check_cap(names, pos, cap, on_mismatch)
    return names, fwd, cap_interpolation(pos, cap, inside_only=True)


def synthesize_deep(data, sfreq, tmin, synth, interp, fwd, tr):
    """BOLD SourceEstimate of one recording's EEG ``(n_channels, n_times)``.

    ``data`` are average-referenced (V), NaN in spans to ignore; frames of
    ``tr`` start at the first sample (centres ``(k + 0.5) tr``).
    """
    spec = synth.spec
    top = max((b[1] for b in spec["bands"]), default=0.0)
    if top and sfreq / 2 <= top:
        raise ValueError(
            f"The deep route reads EEG power up to {top:g} Hz; the data's "
            f"Nyquist frequency is {sfreq / 2:g} Hz. Record at >= {4 * top:g} Hz.")
    n_frames = int(np.floor(data.shape[1] / sfreq / tr + 1e-9))
    frame_times = (np.arange(n_frames) + 0.5) * tr
    logger.info(f"    BoldNet: {n_frames} frame(s) of {tr:g} s from "
                f"{len(interp)} EEG channels")
    bold = synth.predict(synth.windows(data, sfreq, interp, frame_times))
    src = fwd["src"]
    return mne.SourceEstimate(bold.astype(np.float64),
                              [s["vertno"].copy() for s in src],
                              tmin=tmin + frame_times[0], tstep=tr,
                              subject=src._subject)
