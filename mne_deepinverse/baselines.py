# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Classical inverse solutions through MNE's own solvers, behind one function.

eLORETA, dSPM and sLORETA (and plain MNE) come from :mod:`mne.minimum_norm`,
LCMV and TRAP-MUSIC from :mod:`mne.beamformer`, MxNE, irMxNE and gamma-MAP
from :mod:`mne.inverse_sparse`, the single-dipole fit from
:func:`mne.fit_dipole`. Sources are constrained normal to the cortex
(``fixed=True``, ``loose=0``), like the sources the networks are trained on;
depth weighting is computed from the free-orientation forward when one is
given. Every method returns a source estimate on all the forward's sources,
so that all are scored on the same maps: the sparse solvers' active sources
keep their amplitudes, and dipoles (which MNE fits anywhere in the brain) are
placed on their nearest source, with their amplitude signed by their
orientation against the cortical normal there.
"""

import mne
import numpy as np
from mne.io.constants import FIFF
from mne.utils import _check_option, _validate_type, logger, verbose, warn

#: Methods with an operator (:func:`make_baseline_operator`).
LINEAR_METHODS = ("eLORETA", "dSPM", "sLORETA", "MNE", "LCMV")
#: Sparse solvers of :mod:`mne.inverse_sparse` (a few active sources).
SPARSE_METHODS = ("MxNE", "irMxNE", "gamma-MAP")
#: Methods that return dipoles: one fitted per time sample (``"dipole"``) or
#: ``n_dipoles`` scanned over the whole evoked (TRAP-MUSIC).
DIPOLE_METHODS = ("dipole", "TRAP-MUSIC")
BASELINE_METHODS = LINEAR_METHODS + SPARSE_METHODS + DIPOLE_METHODS
#: Default regularisation ``alpha`` of the sparse solvers: MxNE's in percent
#: of the smallest value that makes every source inactive (MNE's scale),
#: gamma-MAP's the noise regularisation (MNE's default).
DEFAULT_ALPHA = {"MxNE": 30.0, "irMxNE": 30.0, "gamma-MAP": 0.2}
#: Reweighting iterations of irMxNE (iterative reweighted MxNE).
_IRMXNE_ITER = 10


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
        The method (the sparse solvers and dipole fits have no operator).
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
    if method not in LINEAR_METHODS:
        raise ValueError(
            f"{method} has no operator to prepare: it fits each evoked on its "
            f"own. Call apply_baseline(evoked, fwd, {method!r}, ...) directly.")
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
    alpha=None,
    n_dipoles=1,
    bem=None,
    verbose=None,
):
    """Apply a classical inverse solution with MNE's own solvers.

    Parameters
    ----------
    evoked : instance of Evoked
        The data (EEG with an average-reference projector).
    fwd : instance of Forward
        The forward model, see :func:`make_baseline_operator`.
    method : str
        The method: ``"eLORETA"``, ``"dSPM"``, ``"sLORETA"``, ``"MNE"``,
        ``"LCMV"`` (:func:`mne.minimum_norm.apply_inverse`,
        :func:`mne.beamformer.apply_lcmv`), ``"MxNE"``, ``"irMxNE"``
        (:func:`mne.inverse_sparse.mixed_norm`, irMxNE with 10 reweightings),
        ``"gamma-MAP"`` (:func:`mne.inverse_sparse.gamma_map`), ``"dipole"``
        (:func:`mne.fit_dipole`, one dipole per time sample, on ``bem``) or
        ``"TRAP-MUSIC"`` (:func:`mne.beamformer.trap_music`, ``n_dipoles``
        over the whole evoked). The sparse solvers fit all the evoked's time
        samples at once: crop it to the response first.

        .. versionchanged:: 0.1
           The sparse solvers and dipole fits.
    noise_cov : instance of Covariance | None
        Noise covariance; None uses an ad-hoc one.
    data_cov : instance of Covariance | None
        Data covariance (LCMV only).
    snr : float
        Assumed SNR of the minimum-norm methods (``lambda2 = 1 / snr**2``),
        finite and > 0.
    depth : float | None
        Depth weighting of the minimum-norm methods and sparse solvers.
    reg : float
        LCMV regularisation.
    operator : instance of InverseOperator | Beamformer | None
        A prepared operator from :func:`make_baseline_operator`, to skip its
        computation.
    alpha : float | None
        Regularisation of the sparse solvers: MxNE's and irMxNE's in percent
        of the value at which no source is active (0-100), gamma-MAP's the
        noise regularisation; None: :data:`DEFAULT_ALPHA`.
    n_dipoles : int
        Dipoles of TRAP-MUSIC.
    bem : instance of ConductorModel | path-like | None
        The BEM solution of the forward (or a sphere model), for
        ``method="dipole"`` (the template's:
        :func:`mne_deepinverse.datasets.make_template_bem`).
    %(verbose)s

    Returns
    -------
    stc : instance of SourceEstimate
        The source estimate on the forward's sources (signed, normal to the
        cortex; zero where a sparse solver or dipole put nothing).

    See Also
    --------
    mne.minimum_norm.apply_inverse
    mne.beamformer.apply_lcmv
    mne.inverse_sparse.mixed_norm
    mne.inverse_sparse.gamma_map
    mne.fit_dipole
    mne.beamformer.trap_music
    """
    _check_methods_input(evoked, fwd, method)
    _check_snr(snr)
    if method not in LINEAR_METHODS:
        if operator is not None:
            raise ValueError(f"{method} takes no operator; pass operator=None.")
        noise_cov = _default_noise_cov(evoked.info, noise_cov)
        _check_cov_channels(noise_cov, evoked.info, fwd, "noise covariance")
        if method in SPARSE_METHODS:
            return _apply_sparse(evoked, fwd, method, noise_cov, alpha, depth)
        return _apply_dipoles(evoked, fwd, method, noise_cov, n_dipoles, bem)
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


def _empty_like(evoked, fwd):
    """Return zeros on the forward's sources at the evoked's times."""
    vertices = [s["vertno"].copy() for s in fwd["src"]]
    n_src = sum(len(v) for v in vertices)
    return mne.SourceEstimate(np.zeros((n_src, len(evoked.times))), vertices,
                              tmin=evoked.times[0], tstep=1.0 / evoked.info["sfreq"],
                              subject=fwd["src"]._subject)


def _source_index(fwd, vertices):
    """Rows of the forward's sources for per-hemisphere vertex numbers."""
    rows, offset = [], 0
    for s, vert in zip(fwd["src"], vertices, strict=True):
        rows.append(offset + np.searchsorted(s["vertno"], vert))
        offset += len(s["vertno"])
    return np.concatenate(rows).astype(int)


def _apply_sparse(evoked, fwd, method, noise_cov, alpha, depth):
    """MxNE, irMxNE or gamma-MAP, as a source estimate on all sources."""
    from mne.inverse_sparse import gamma_map, mixed_norm

    alpha = DEFAULT_ALPHA[method] if alpha is None else alpha
    _validate_type(alpha, "numeric", "alpha")
    if method == "gamma-MAP":
        if not alpha > 0:
            raise ValueError(f"gamma-MAP's alpha must be > 0, got {alpha}.")
    elif not 0 < alpha < 100:
        raise ValueError(
            f"{method}'s alpha is in percent of the value at which no source "
            f"is active: 0 < alpha < 100, got {alpha}.")
    try:
        if method == "gamma-MAP":
            sparse = gamma_map(evoked, fwd, noise_cov, alpha=alpha, loose=0.0,
                               depth=depth, verbose=False)
        else:
            sparse = mixed_norm(
                evoked, fwd, noise_cov, alpha=alpha, loose=0.0, depth=depth,
                n_mxne_iter=_IRMXNE_ITER if method == "irMxNE" else 1,
                verbose=False)
    except Exception as exc:  # MNE raises a bare Exception when nothing is left
        if "No active dipoles found" not in str(exc):
            raise
        warn(f"{method} found no active source at alpha={alpha:g} (MNE: {exc}); "
             "the estimate is all zero. Lower alpha to keep sources.")
        sparse = None
    stc = _empty_like(evoked, fwd)
    if sparse is not None and sparse.data.size:  # (None: no active source)
        stc.data[_source_index(fwd, sparse.vertices)] = sparse.data
    return stc


def _nearest_sources(fwd, pos, ori):
    """Rows of the sources nearest to dipole positions, and orientation signs."""
    from scipy.spatial import cKDTree

    if fwd["coord_frame"] != FIFF.FIFFV_COORD_HEAD:
        raise ValueError("The forward's sources must be in head coordinates (as "
                         "mne.make_forward_solution makes them).")
    _, rows = cKDTree(fwd["source_rr"]).query(pos)
    normals = np.concatenate([s["nn"][s["vertno"]] for s in fwd["src"]])
    return rows, np.sign(np.sum(ori * normals[rows], axis=1))


def _apply_dipoles(evoked, fwd, method, noise_cov, n_dipoles, bem):
    """Fit a dipole per sample, or TRAP-MUSIC's, placed on the nearest sources."""
    stc = _empty_like(evoked, fwd)
    if method == "TRAP-MUSIC":
        from mne.beamformer import trap_music

        _validate_type(n_dipoles, "int", "n_dipoles")
        if n_dipoles < 1:
            raise ValueError(f"n_dipoles must be >= 1, got {n_dipoles}.")
        dipoles = trap_music(evoked, fwd, noise_cov, n_dipoles=n_dipoles,
                             verbose=False)
        for dip in dipoles:
            rows, sign = _nearest_sources(fwd, dip.pos[:1], dip.ori[:1])
            stc.data[rows[0]] += sign[0] * dip.amplitude
        return stc
    if bem is None:
        raise ValueError(
            "method='dipole' fits dipoles in the head model of the forward: pass "
            "its BEM solution as bem= (for the template: "
            "mne_deepinverse.datasets.make_template_bem()).")
    dip = mne.fit_dipole(evoked, noise_cov, bem, trans=fwd["mri_head_t"],
                         verbose=False)[0]
    rows, sign = _nearest_sources(fwd, dip.pos, dip.ori)
    stc.data[rows, np.arange(len(rows))] = sign * dip.amplitude
    return stc
