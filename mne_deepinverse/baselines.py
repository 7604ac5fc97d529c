# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Classical inverse solutions through MNE's own solvers, behind one function.

eLORETA, dSPM and sLORETA (and plain MNE) come from :mod:`mne.minimum_norm`,
LCMV from :mod:`mne.beamformer`. Sources are constrained normal to the cortex
(``fixed=True``), like the sources the networks are trained on; depth
weighting is computed from the free-orientation forward when one is given.
"""

import mne
import numpy as np
from mne.io.constants import FIFF
from mne.utils import _check_option, _validate_type, logger, verbose

BASELINE_METHODS = ("eLORETA", "dSPM", "sLORETA", "MNE", "LCMV")


def _check_methods_input(evoked, fwd, method):
    _validate_type(evoked, mne.Evoked, "evoked")
    _validate_type(fwd, mne.Forward, "fwd")
    _validate_type(method, str, "method")
    _check_option("method", method, BASELINE_METHODS)


def _default_noise_cov(info, noise_cov):
    if noise_cov is None:
        logger.info("    No noise covariance given: using an ad-hoc diagonal one")
        return mne.make_ad_hoc_cov(info, verbose=False)
    _validate_type(noise_cov, mne.Covariance, "noise_cov")
    return noise_cov


def _check_cov_channels(cov, info, fwd, name):
    """Error if a good channel of both info and fwd is missing from cov.

    MNE would silently drop such channels from the inverse.
    """
    used = [ch for ch in info["ch_names"]
            if ch in fwd["info"]["ch_names"] and ch not in info["bads"]]
    missing = [ch for ch in used if ch not in cov.ch_names]
    if missing:
        raise ValueError(
            f"The {name} lacks channel(s) {missing} of the data and forward, "
            "which would be dropped from the inverse. Compute the covariance "
            "on the same channels as the data (e.g. mne.compute_covariance("
            "epochs) from the epochs of this evoked), or mark those channels "
            "as bad in info['bads']."
        )


def _check_snr(snr):
    _validate_type(snr, "numeric", "snr")
    if not (np.isfinite(snr) and snr > 0):
        raise ValueError(
            f"snr must be a finite number > 0 (lambda2 = 1 / snr**2), got {snr}. "
            "Use e.g. snr=3.0 for evoked responses, 1.0 for single trials."
        )


@verbose
def make_baseline_operator(
    info,
    fwd,
    method="eLORETA",
    *,
    noise_cov=None,
    data_cov=None,
    depth=0.8,
    reg=0.05,
    verbose=None,
):
    """Prepare a classical inverse operator or beamformer.

    Parameters
    ----------
    info : instance of Info
        Measurement info (with an average-reference projector for EEG).
    fwd : instance of Forward
        Forward model; free orientation is best (depth weighting uses it),
        fixed orientation works too.
    method : "eLORETA" | "dSPM" | "sLORETA" | "MNE" | "LCMV"
        The method.
    noise_cov : instance of Covariance | None
        Noise covariance (e.g. from the pre-stimulus baseline), on every
        good channel of ``info`` that ``fwd`` has. None uses an ad-hoc
        diagonal covariance.
    data_cov : instance of Covariance | None
        Data covariance, required for LCMV, on the same channels. Compute it
        over the response from many trials, e.g.
        ``mne.compute_covariance(epochs, tmin=0, tmax=0.1)``; from a single
        average LCMV does not localise.
    depth : float | None
        Depth weighting exponent of the minimum-norm methods.
    reg : float
        Regularisation of the LCMV data covariance.
    %(verbose)s

    Returns
    -------
    operator : instance of InverseOperator | Beamformer
        What :func:`apply_baseline` applies.
    """
    _validate_type(info, mne.Info, "info")
    _validate_type(fwd, mne.Forward, "fwd")
    _check_option("method", method, BASELINE_METHODS)
    noise_cov = _default_noise_cov(info, noise_cov)
    _check_cov_channels(noise_cov, info, fwd, "noise covariance")
    if method == "LCMV":
        if data_cov is None:
            raise ValueError(
                "LCMV needs a data covariance (data_cov) computed over the "
                "response from many trials, e.g. mne.compute_covariance(epochs, "
                "tmin=0, tmax=0.1)."
            )
        _validate_type(data_cov, mne.Covariance, "data_cov")
        _check_cov_channels(data_cov, info, fwd, "data covariance")
        free = fwd["source_ori"] != FIFF.FIFFV_MNE_FIXED_ORI
        if free:
            fwd = mne.convert_forward_solution(
                fwd, surf_ori=True, force_fixed=True, use_cps=True, verbose=False
            )
        return mne.beamformer.make_lcmv(
            info, fwd, data_cov, reg=reg, noise_cov=noise_cov, pick_ori=None,
            weight_norm="unit-noise-gain", rank=None, verbose=False,
        )
    return mne.minimum_norm.make_inverse_operator(
        info, fwd, noise_cov, loose=0.0, depth=depth, fixed=True, verbose=False
    )


@verbose
def apply_baseline(
    evoked,
    fwd,
    method="eLORETA",
    *,
    noise_cov=None,
    data_cov=None,
    snr=3.0,
    depth=0.8,
    reg=0.05,
    operator=None,
    verbose=None,
):
    """Apply a classical inverse solution with MNE's own solvers.

    Parameters
    ----------
    evoked : instance of Evoked
        The data (EEG with an average-reference projector).
    fwd : instance of Forward
        The forward model, see :func:`make_baseline_operator`.
    method : "eLORETA" | "dSPM" | "sLORETA" | "MNE" | "LCMV"
        The method.
    noise_cov : instance of Covariance | None
        Noise covariance; None uses an ad-hoc one.
    data_cov : instance of Covariance | None
        Data covariance (LCMV only).
    snr : float
        Assumed SNR of the minimum-norm methods (``lambda2 = 1 / snr**2``),
        finite and > 0.
    depth : float | None
        Depth weighting of the minimum-norm methods.
    reg : float
        LCMV regularisation.
    operator : instance of InverseOperator | Beamformer | None
        A prepared operator from :func:`make_baseline_operator`, to skip its
        computation.
    %(verbose)s

    Returns
    -------
    stc : instance of SourceEstimate
        The source estimate (signed, normal to the cortex).

    See Also
    --------
    mne.minimum_norm.apply_inverse
    mne.beamformer.apply_lcmv
    """
    _check_methods_input(evoked, fwd, method)
    _check_snr(snr)
    if operator is None:
        operator = make_baseline_operator(
            evoked.info, fwd, method, noise_cov=noise_cov, data_cov=data_cov,
            depth=depth, reg=reg,
        )
    if method == "LCMV":
        return mne.beamformer.apply_lcmv(evoked, operator, verbose=False)
    return mne.minimum_norm.apply_inverse(
        evoked, operator, lambda2=1.0 / snr**2, method=method, pick_ori=None,
        verbose=False,
    )
