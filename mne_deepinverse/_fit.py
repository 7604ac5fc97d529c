# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""How well an estimate explains the data: goodness of fit and its reference.

The goodness of fit of a time sample is the share of the data's power that
the forward projection of the estimate explains, in the space where the noise
is white (:func:`mne.fit_dipole` reports the same quantity for its dipoles):
``100 * (1 - |W (y - G x)|^2 / |W y|^2)`` in %. EEG without a noise
covariance is compared after the average reference, unwhitened.

A shipped model's *fit reference* records what it reaches on simulated
evokeds of the kind it was trained on (``tools/make_fit_reference.py``): the
5th and 50th percentiles of the goodness of fit of its time samples, in bins
of their SNR, estimated from the data as it is estimated at apply time
(:func:`_sample_snr_db`). :func:`apply_deep_inverse` warns when most time
samples with signal fall below that 5th percentile.
"""

import functools
import json

import mne
import numpy as np
from mne.utils import _validate_type, logger
from mne.utils import warn as _warn

from ._utils import _check_fixed_forward

#: Baseline samples (before time 0) needed to estimate an evoked's noise.
MIN_BASELINE = 10

#: Shipped file of the models' fit references (in ``pretrained/``).
REFERENCE_FILE = "fit_reference.json"


def explained(data, residual):
    """Goodness of fit (%) of each column, from the data and the residual.

    Parameters
    ----------
    data, residual : array, shape (n_channels, n_times)
        The data and the residual, both as the model reads them (average
        referenced; whitened where there is a noise covariance).

    Returns
    -------
    gof : array, shape (n_times,)
        ``100 * (1 - |residual|^2 / |data|^2)``; NaN where the data are zero.
    """
    power = np.sum(np.square(data, dtype=np.float64), axis=0)
    res = np.sum(np.square(residual, dtype=np.float64), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        gof = 100.0 * (1.0 - res / power)
    gof[power == 0] = np.nan
    return gof


def _sample_snr_db(power, times, *, nave=1, rank=None):
    """Estimate each time sample's SNR (dB) as the data show it.

    From the baseline when the data have one (at least ``MIN_BASELINE``
    samples before time 0): the noise power is the baseline's mean power.
    Otherwise, from the noise covariance of whitened data (``rank`` given):
    the whitened noise of an average of ``nave`` trials has a power of
    ``rank / nave``. Returns None when neither is available.
    """
    before = times < 0
    if before.sum() >= MIN_BASELINE:
        noise = float(np.mean(power[before]))
    elif rank is not None:
        noise = rank / max(int(nave), 1)
    else:
        return None
    if not noise > 0:
        return None
    ratio = np.clip(power / noise - 1.0, 1e-3, None)
    return 10.0 * np.log10(ratio)


class FitReference:
    """What a model's estimates explain on simulated data, by SNR.

    Parameters
    ----------
    entry : dict
        ``snr_db`` (bin edges in dB), ``p5`` and ``p50`` (the 5th and 50th
        percentiles of the goodness of fit in %, one per bin; NaN where a
        bin held too few samples) and ``data`` (how they were simulated).
    """

    def __init__(self, entry):
        self.edges = np.asarray(entry["snr_db"], float)
        self.p5 = np.asarray(entry["p5"], float)
        self.p50 = np.asarray(entry["p50"], float)
        self.data = entry.get("data", "")
        if len(self.p5) != len(self.edges) - 1 or len(self.p50) != len(self.p5):
            raise ValueError("A fit reference needs one p5 and p50 per SNR bin.")

    def at(self, snr_db):
        """Return (p5, p50) at each SNR: its bin's, or the nearest filled bin's."""
        filled = np.flatnonzero(np.isfinite(self.p5))
        centres = (self.edges[:-1] + self.edges[1:]) / 2
        idx = np.clip(np.searchsorted(self.edges, snr_db, side="right") - 1, 0,
                      len(self.p5) - 1)
        near = filled[np.abs(centres[filled][None] - centres[idx][:, None])
                      .argmin(axis=1)]
        idx = np.where(np.isfinite(self.p5[idx]), idx, near)
        return self.p5[idx], self.p50[idx]


@functools.cache
def _shipped_references():
    """Return the shipped fit references ({model key: entry}), read once."""
    from .datasets._pretrained import _read_registry, fetch_pretrained_file

    if REFERENCE_FILE not in _read_registry():
        return {}
    with open(fetch_pretrained_file(REFERENCE_FILE)) as fid:
        return json.load(fid)


def fit_reference(model):
    """Return the fit reference of a model (:class:`FitReference`) or None.

    A model's card can carry one (``validation["fit"]``); shipped models
    find theirs in the package's ``fit_reference.json``, by the model's key.
    """
    entry = (model.card.validation or {}).get("fit")
    if entry is None:
        entry = _shipped_references().get(model.key)
    return None if entry is None else FitReference(entry)


def check_fit(gof, snr_db, times, reference, kind):
    """Warn when an estimate explains far less than the model's reference.

    Looks at the time samples from time 0 on whose estimated SNR is 0 dB or
    more (those with signal); warns when more than half of them explain less
    than the 5th percentile of the model's simulated data at their SNR.
    Returns the median goodness of fit of those samples (NaN: none).
    """
    if snr_db is None:
        logger.info("    No baseline or noise covariance: the goodness of fit "
                    "is not compared with the model's reference")
        return np.nan
    signal = (times >= 0) & (snr_db >= 0) & np.isfinite(gof)
    if not signal.any():
        logger.info(f"    No time sample of the {kind} has an SNR of 0 dB or more")
        return np.nan
    median = float(np.median(gof[signal]))
    logger.info(f"    The estimate explains {median:.0f} % of the data (median "
                f"over {signal.sum()} samples with signal)")
    if reference is None or signal.sum() < 3:
        return median
    p5, p50 = reference.at(snr_db[signal])
    below = gof[signal] < p5
    if below.mean() > 0.5:
        _warn(
            f"The estimate explains a median {median:.0f} % of the {kind}'s data "
            f"over its {signal.sum()} time samples with signal (median SNR "
            f"{np.median(snr_db[signal]):.0f} dB); at those SNRs the model "
            f"explains a median {np.median(p50):.0f} % of its simulated data and "
            f"more than {np.median(p5):.0f} % in 95 % of samples "
            f"({below.mean():.0%} of these samples are below that). The data "
            "may lie outside what the model was trained for: electrode positions "
            "or a head far from the model's, artefacts or bad channels, a noise "
            "covariance that does not describe the noise. Compare with a method "
            "of mne.minimum_norm on the same data, and check the montage, the "
            "bad channels and the covariance (see "
            "mne_deepinverse.goodness_of_fit)."
        )
    return median


def goodness_of_fit(evoked, stc, fwd, *, noise_cov=None):
    """Share of the data an estimate explains, per time sample (%).

    The goodness of fit as :func:`mne.fit_dipole` reports it: ``100 * (1 -
    |W (y - G x)|^2 / |W y|^2)``, with ``y`` the data, ``x`` the estimate,
    ``G`` the gain of the forward model and ``W`` the whitener of the noise
    covariance (with the data's projectors). EEG without a noise covariance
    is compared after the average reference, unwhitened.

    Parameters
    ----------
    evoked : instance of Evoked
        The data the estimate was computed from.
    stc : instance of SourceEstimate | VolSourceEstimate
        Signed source moments in Am along the cortical normal (what
        :func:`~mne_deepinverse.apply_deep_inverse` returns, or a
        fixed-orientation minimum-norm estimate); noise-normalised estimates
        such as dSPM or sLORETA are not moments and have no goodness of fit.
    fwd : instance of Forward
        The forward model of the estimate (free orientations are fixed to the
        cortical normal).
    noise_cov : instance of Covariance | None
        The noise covariance; needed when the data hold MEG (or EEG and
        MEG), whose units differ.

    Returns
    -------
    gof : array, shape (n_times,)
        Goodness of fit in % (may be negative when an estimate adds power
        the data do not have).

    See Also
    --------
    apply_deep_inverse
    mne.fit_dipole
    """
    return explained(*_fit_terms(evoked, stc, fwd, noise_cov))


def _fit_terms(evoked, stc, fwd, noise_cov):
    """Return the data and the residual of an estimate, whitened (n_ch, n_t)."""
    _validate_type(evoked, mne.Evoked, "evoked")
    _validate_type(stc, (mne.SourceEstimate, mne.VolSourceEstimate), "stc")
    _validate_type(fwd, mne.Forward, "fwd")
    _validate_type(noise_cov, (mne.Covariance, None), "noise_cov")
    fwd = _check_fixed_forward(fwd)
    names = [ch for ch in fwd["sol"]["row_names"]
             if ch in evoked.ch_names and ch not in evoked.info["bads"]]
    if not names:
        raise ValueError("The evoked and the forward share no good channel.")
    ev = evoked.copy().pick(names)
    types = set(ev.get_channel_types())
    if noise_cov is None and types != {"eeg"}:
        raise ValueError(
            f"The data hold {sorted(types)} channels, whose units differ: pass "
            "the noise covariance (noise_cov) that whitens them.")
    if len(stc.times) != len(evoked.times):
        raise ValueError(
            f"The estimate has {len(stc.times)} time samples and the evoked "
            f"{len(evoked.times)}; pass the estimate of this evoked.")
    vertices = [s["vertno"] for s in fwd["src"]]
    if len(vertices) != len(stc.vertices) or not all(
            np.array_equal(a, b) for a, b in zip(vertices, stc.vertices, strict=True)):
        raise ValueError(
            "The estimate's vertices are not the forward's source space; pass "
            "the forward the estimate was computed with.")
    rows = [fwd["sol"]["row_names"].index(ch) for ch in names]
    gain = np.asarray(fwd["sol"]["data"][rows], np.float64)
    data = ev.data
    residual = data - gain @ stc.data.astype(np.float64)
    if noise_cov is not None:
        W = mne.cov.compute_whitener(noise_cov, ev.info, pca=False,
                                     verbose=False)[0]
    else:  # EEG: the average reference
        W = np.eye(len(names)) - 1.0 / len(names)
    return W @ data, W @ residual
