# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""``apply_deep_inverse``: the MNE-style entry point."""

from pathlib import Path

import mne
import numpy as np
from mne.utils import _check_on_missing, _validate_type, logger, verbose, warn

from ._checks import _check_data_array, _check_positions
from ._registry import PRETRAINED
from .estimator import (
    DeepInverse,
    _eeg_gain,
    _gain_fingerprint,
    _reference,
    read_deep_inverse,
)

_PRETRAINED_CACHE = {}


def _load_model(model):
    _validate_type(model, (str, "path-like", DeepInverse), "model")
    if isinstance(model, DeepInverse):
        return model
    model_str = str(model)
    if model_str in PRETRAINED:
        if model_str not in _PRETRAINED_CACHE:
            from .datasets import fetch_pretrained_file

            fname = fetch_pretrained_file(PRETRAINED[model_str]["model"])
            _PRETRAINED_CACHE[model_str] = read_deep_inverse(fname)
        return _PRETRAINED_CACHE[model_str]
    if Path(model_str).suffix == ".onnx" or Path(model_str).exists():
        return read_deep_inverse(model_str)
    raise ValueError(
        f"Invalid value for the 'model' parameter. Allowed values are "
        f"{sorted(PRETRAINED)}, a path to a saved model (.onnx) or a "
        f"fitted DeepInverse, but got {model!r} instead."
    )


def _check_reference(info):
    from mne._fiff.proj import _has_eeg_average_ref_proj

    if info.get("custom_ref_applied"):
        raise ValueError(
            "Custom EEG reference is not allowed for inverse modeling. Use "
            "evoked.set_eeg_reference('average', projection=True)."
        )
    if not _has_eeg_average_ref_proj(info):
        raise ValueError(
            "EEG average reference (using a projector) is mandatory for "
            "modeling, use the method set_eeg_reference(projection=True)."
        )


def _check_forward(fwd, card):
    """Raise if the forward is not the one the model was trained on."""
    from ._utils import _check_fixed_forward

    remedy = (
        " Train a model for this forward with DeepInverse(fwd).fit(), or use "
        "the forward the model was trained on"
    )
    if card.get("backend") and fwd is not None:
        fwd = _check_fixed_forward(fwd)
        gain, ch_names = _eeg_gain(fwd)
        if ch_names != card["ch_names"]:
            raise ValueError(
                f"The forward's EEG channels {ch_names} differ from the model's "
                f"{card['ch_names']}." + remedy + "."
            )
        vertices = [s["vertno"].tolist() for s in fwd["src"]]
        if gain.shape[1] != card["n_sources"] or vertices != card["vertices"]:
            raise ValueError(
                f"The forward has {gain.shape[1]} sources but the model was "
                f"trained for {card['n_sources']} (or other vertices)." + remedy
                + "."
            )
        fp = np.asarray(_gain_fingerprint(_reference(gain)))
        ref = np.asarray(card["gain_fingerprint"])
        if np.abs(fp - ref).max() > 1e-3 * np.abs(ref).max():
            raise ValueError(
                "The forward's gain matrix differs from the one the model was "
                "trained on (other head model, conductivities or electrode "
                "positions)." + remedy + " (e.g. mne_deepinverse.datasets."
                "read_pretrained_forward for pretrained models)."
            )
    return fwd


@verbose
def apply_deep_inverse(
    evoked,
    fwd,
    model="convdip",
    *,
    return_residual=False,
    on_mismatch="raise",
    verbose=None,
):
    """Apply a deep-learning inverse solution to an evoked response.

    Every time sample is inverted in one batch through onnxruntime; each
    predicted map is scaled by the least-squares fit of its forward projection
    to the data: in closed form, checked with Brent's method on a few samples
    (see :func:`mne_deepinverse.scaling.rescale_amplitudes`).

    Parameters
    ----------
    evoked : instance of Evoked
        EEG data in V with an average-reference projector and electrode
        positions (a montage) near the model's, containing every channel of
        the model (others are ignored). Data that cannot be EEG in V (complex,
        not floating point, empty, non-finite, or spanning more than 10 mV
        peak to peak) raise an error; data below 1e-13 V give a warning.
    fwd : instance of Forward | None
        The forward model, checked against the one the model was trained on
        (channels, sources and gain). For pretrained models use
        :func:`mne_deepinverse.datasets.read_pretrained_forward`. None skips
        the check.
    model : str | path-like | instance of DeepInverse
        A pretrained model name (``"convdip"``, ``"unet"`` or ``"vnet"``, all
        for the forward of
        :func:`~mne_deepinverse.datasets.read_pretrained_forward`), a saved
        model file (.onnx), or a fitted :class:`DeepInverse`.
    return_residual : bool
        If True, also return the residual (data minus the forward projection
        of the estimate) as an Evoked, like
        :func:`mne.minimum_norm.apply_inverse`.
    on_mismatch : "raise" | "warn" | "ignore"
        What to do when the evoked's electrode positions are far (median
        distance > 2 cm) from those the model was trained for. Missing
        positions (no montage) and positions in another unit (mm, cm) are
        always an error.
    %(verbose)s

    Returns
    -------
    stc : instance of SourceEstimate | VolSourceEstimate
        The source estimate in Am (float32; signed moments along the cortical
        normal: the predicted magnitude pattern times the signed amplitude
        scale of each time sample), with the forward's vertices, the evoked's ``tmin``
        and ``tstep``.
    residual : instance of Evoked
        The residual (only if ``return_residual=True``).

    See Also
    --------
    DeepInverse
    mne.minimum_norm.apply_inverse
    """
    _validate_type(evoked, mne.Evoked, "evoked")
    _validate_type(fwd, (mne.Forward, None), "fwd")
    _check_on_missing(on_mismatch, "on_mismatch")
    est = _load_model(model)
    card = est._session_().card
    if fwd is None and isinstance(model, DeepInverse):
        fwd = model.fwd
    info = evoked.info
    eeg = mne.pick_types(info, meg=False, eeg=True, exclude=())
    if len(eeg) == 0:
        kinds = sorted(set(evoked.get_channel_types()))
        raise ValueError(
            f"The evoked has no EEG channels (it has {kinds}); this model is an "
            "EEG model and cannot be applied to MEG or other data."
        )
    names = card["ch_names"]
    eeg_names = [info["ch_names"][p] for p in eeg]
    missing = [ch for ch in names if ch not in eeg_names]
    if missing:
        raise ValueError(
            f"The evoked lacks {len(missing)} EEG channel(s) the model needs: "
            f"{missing}. Interpolate or add them, or train a model for your "
            "montage with DeepInverse(fwd).fit()."
        )
    bads = [ch for ch in names if ch in info["bads"]]
    if bads:
        raise ValueError(
            f"Channel(s) {bads} needed by the model are marked bad; repair them "
            "first, e.g. evoked.interpolate_bads()."
        )
    _check_reference(info)
    _check_positions(info, card, on_mismatch)
    picks = [info["ch_names"].index(ch) for ch in names]
    data = _check_data_array(evoked.data[picks], "The evoked data")
    projs = [p for p in info["projs"] if not p["active"]]
    if projs:  # apply pending projectors on a copy, never on the user's evoked
        data = evoked.copy().pick(names).apply_proj(verbose=False).data
    fwd = _check_forward(fwd, card)
    maps, X_ref, proj, scale = est._predict(data.T)
    if not np.any(scale != 0):
        warn("The model predicts no active source for any time sample.")
    sol = maps.T  # (n_sources, n_times), float32
    tstep = 1.0 / info["sfreq"]
    vertices = [np.asarray(v, dtype=np.int64) for v in card["vertices"]]
    cls = {"surface": mne.SourceEstimate, "mixed": mne.MixedSourceEstimate}.get(
        card["src_kind"], mne.VolSourceEstimate
    )
    stc = cls(sol, vertices, tmin=evoked.times[0], tstep=tstep,
              subject=card["subject"])
    logger.info(f"    Applied {card['backend']} to {sol.shape[1]} time samples")
    if not return_residual:
        return stc
    residual = evoked.copy().pick(names)
    residual.data = (X_ref - proj * scale[:, None]).T.astype(np.float64)
    return stc, residual
