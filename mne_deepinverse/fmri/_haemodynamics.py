# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""From neural activity to BOLD: the Balloon-Windkessel model and the HRF."""

import numpy as np
from mne.utils import _check_option, _validate_type

from .._utils import _check_random_state

#: Haemodynamic parameters of the Balloon-Windkessel model
#: :footcite:`FristonEtAl2000`, with the values of Stephan et al. (2007):
#: rate of signal decay ``kappa`` (1/s), of flow-dependent elimination
#: ``gamma`` (1/s), transit time ``tau`` (s), Grubb's exponent ``alpha``,
#: resting oxygen extraction ``E0`` and venous volume fraction ``V0``; and of
#: the BOLD signal equation (Obata et al. 2004, at 1.5 T): echo time ``TE``
#: (s), frequency offset ``theta0`` (1/s), intravascular relaxation slope
#: ``r0`` (1/s) and intra- to extravascular signal ratio ``epsilon``.
BALLOON_PARAMS = dict(kappa=0.64, gamma=0.32, tau=2.0, alpha=0.32, E0=0.4,
                      V0=0.04, TE=0.04, theta0=40.3, r0=25.0, epsilon=1.0)

#: Ranges (uniform) of the haemodynamic parameters for simulations that vary
#: them between regions: they span the values of Friston et al. (2000;
#: ``kappa`` 0.65, ``gamma`` 0.41, ``tau`` 0.98, ``E0`` 0.34, ``V0`` 0.02)
#: and of Stephan et al. (2007) (:data:`BALLOON_PARAMS`).
HAEMODYNAMIC_RANGES = dict(kappa=(0.5, 0.8), gamma=(0.28, 0.45), tau=(0.9, 2.2),
                           alpha=(0.28, 0.36), E0=(0.32, 0.45), V0=(0.02, 0.05))

#: Integration step (s) of the Balloon-Windkessel model by default.
_DT = 0.02


def balloon_windkessel(drive, sfreq, tr, *, tmin=0.0, params=None,
                       coefficients="obata", dt=_DT):
    """BOLD of every region from its neural activity (Balloon-Windkessel).

    The neural activity drives a vasodilatory signal, which drives blood
    inflow; inflow inflates the venous balloon (volume) and changes its
    deoxyhaemoglobin content, which give the BOLD signal
    :footcite:`BuxtonEtAl1998,FristonEtAl2000,StephanEtAl2007`. Every region
    starts at rest at the first sample. Fourth-order Runge-Kutta steps of
    ``dt`` on the logarithms of flow, volume and deoxyhaemoglobin (as SPM's
    DCM does), vectorised over regions; the drive is averaged over each step
    (or held, when it is sampled more coarsely).

    Parameters
    ----------
    drive : array, shape (n_regions, n_times)
        Neural activity of each region (dimensionless; an input of 1 held
        for a few seconds gives a BOLD change of a few percent).
    sfreq : float
        Sampling rate of ``drive`` (Hz).
    tr : float
        Repetition time (s) at which the BOLD signal is returned.
    tmin : float
        Time of the first sample of ``drive`` (s).
    params : dict | None
        Haemodynamic parameters, each a float or an array of shape
        (n_regions,), overriding those of :data:`BALLOON_PARAMS` (e.g. drawn
        with :func:`random_haemodynamic_params`).
    coefficients : "obata" | "classic"
        The BOLD signal equation's coefficients: Obata et al. (2004)
        :footcite:`ObataEtAl2004` (``k1 = 4.3 theta0 E0 TE``,
        ``k2 = epsilon r0 E0 TE``, ``k3 = 1 - epsilon``), as revised by
        :footcite:t:`StephanEtAl2007`, or the classic ones of Buxton et al.
        (``k1 = 7 E0``, ``k2 = 2``, ``k3 = 2 E0 - 0.2``).
    dt : float
        Integration step (s).

    Returns
    -------
    bold : array, shape (n_regions, n_frames)
        BOLD signal change (fraction of the resting signal: 0.01 is 1 %) in
        each frame: at the centre of frame ``k``, which covers
        ``tmin + k * tr`` to ``tmin + (k + 1) * tr``.
    frame_times : array, shape (n_frames,)
        The frames' centres (s).

    See Also
    --------
    hrf_convolve : The linear route, by the canonical HRF.

    References
    ----------
    .. footbibliography::
    """
    drive, sfreq, tr, n_frames = _check_drive(drive, sfreq, tr)
    _check_option("coefficients", coefficients, ("obata", "classic"))
    _validate_type(dt, "numeric", "dt")
    if not 0 < dt <= 0.1:
        raise ValueError(f"dt must be in (0, 0.1] s for a stable and accurate "
                         f"integration, got {dt}.")
    p = _balloon_params(params, drive.shape[0])
    # the drive on the integration grid: averaged over each step, or held
    per_step = max(1, int(round(dt * sfreq)))
    sub = max(1, int(np.ceil(1.0 / (sfreq * dt))))  # steps per drive sample
    h = per_step / sfreq / sub
    n_steps = drive.shape[1] // per_step
    z = drive[:, : n_steps * per_step].reshape(len(drive), n_steps, per_step)
    z = z.mean(axis=-1)
    inv_alpha = 1.0 / p["alpha"]
    log_1_e0 = np.log1p(-p["E0"])

    def deriv(x, zt):
        s, lf, lv, lq = x
        f, v, q = np.exp(lf), np.exp(lv), np.exp(lq)
        out_flow = v ** inv_alpha
        extraction = -np.expm1(log_1_e0 / f) / p["E0"]  # E(f) / E0
        return np.stack([
            zt - p["kappa"] * s - p["gamma"] * (f - 1.0),
            s / f,
            (f - out_flow) / (p["tau"] * v),
            (f * extraction - out_flow * q / v) / (p["tau"] * q),
        ])

    # frames read on the way (linear interpolation between steps), so memory
    # does not grow with the data's length
    frame_times = tmin + (np.arange(n_frames) + 0.5) * tr
    bold = np.zeros((len(drive), n_frames))
    x = np.zeros((4, len(drive)))  # rest: s = 0, f = v = q = 1
    y_prev, t_prev, frame = np.zeros(len(drive)), tmin, 0
    for k in range(n_steps):
        zt = z[:, k]
        for j in range(sub):
            k1 = deriv(x, zt)
            k2 = deriv(x + 0.5 * h * k1, zt)
            k3 = deriv(x + 0.5 * h * k2, zt)
            k4 = deriv(x + h * k3, zt)
            x = x + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
            t = tmin + (k * sub + j + 1) * h
            if frame < n_frames and frame_times[frame] <= t:
                y = _bold_signal(np.exp(x[2]), np.exp(x[3]), p, coefficients)
                while frame < n_frames and frame_times[frame] <= t:
                    w = (frame_times[frame] - t_prev) / h
                    bold[:, frame] = (1 - w) * y_prev + w * y
                    frame += 1
            if frame < n_frames and frame_times[frame] <= t + h:  # next step's
                y_prev = _bold_signal(np.exp(x[2]), np.exp(x[3]), p, coefficients)
            t_prev = t
    if frame < n_frames:  # frames within a step of the end: the last state's
        bold[:, frame:] = _bold_signal(np.exp(x[2]), np.exp(x[3]), p,
                                       coefficients)[:, None]
    return bold, frame_times


def _bold_signal(v, q, p, coefficients):
    """Return the BOLD signal equation's value (v, q: (n_times, n_regions))."""
    if coefficients == "obata":
        k1 = 4.3 * p["theta0"] * p["E0"] * p["TE"]
        k2 = p["epsilon"] * p["r0"] * p["E0"] * p["TE"]
        k3 = 1.0 - p["epsilon"]
    else:
        k1, k2, k3 = 7.0 * p["E0"], 2.0, 2.0 * p["E0"] - 0.2
    return p["V0"] * (k1 * (1.0 - q) + k2 * (1.0 - q / v) + k3 * (1.0 - v))


def hrf_convolve(drive, sfreq, tr, *, tmin=0.0, hrf_model="glover",
                 time_length=32.0, resolution=0.1):
    """BOLD of every region by convolution with the canonical HRF.

    The linear prediction of fMRI analysis: the drive is averaged into bins
    of ``resolution`` seconds, convolved with nilearn's canonical
    haemodynamic response function (Glover's, or SPM's double gamma
    :footcite:`Glover1999`; normalised to unit sum, so a constant drive
    gives the same constant) and read at the centre of each frame. Activity
    before the first sample is taken as zero.

    Parameters
    ----------
    drive : array, shape (n_regions, n_times)
        Neural activity (or band power) of each region.
    sfreq : float
        Sampling rate of ``drive`` (Hz).
    tr : float
        Repetition time (s).
    tmin : float
        Time of the first sample (s).
    hrf_model : "glover" | "spm"
        :func:`nilearn.glm.first_level.glover_hrf` or
        :func:`nilearn.glm.first_level.spm_hrf`.
    time_length : float
        Length of the HRF (s).
    resolution : float
        Bin width (s) of the convolution (at most the drive's sampling
        interval's multiple closest to it).

    Returns
    -------
    bold : array, shape (n_regions, n_frames)
        The predicted BOLD signal, in the drive's units.
    frame_times : array, shape (n_frames,)
        The frames' centres (s), as in :func:`balloon_windkessel`.

    See Also
    --------
    balloon_windkessel : The non-linear haemodynamic model.

    References
    ----------
    .. footbibliography::
    """
    from mne.utils import _soft_import
    from scipy.signal import oaconvolve

    drive, sfreq, tr, n_frames = _check_drive(drive, sfreq, tr)
    _check_option("hrf_model", hrf_model, ("glover", "spm"))
    _soft_import("nilearn", "the canonical HRF (pip install nilearn)")
    from nilearn.glm.first_level import glover_hrf, spm_hrf

    hrf_fun = glover_hrf if hrf_model == "glover" else spm_hrf
    per_bin = max(1, int(round(resolution * sfreq)))
    dt = per_bin / sfreq
    n_bins = drive.shape[1] // per_bin
    z = drive[:, : n_bins * per_bin].reshape(len(drive), n_bins, per_bin).mean(-1)
    hrf = hrf_fun(dt, oversampling=1, time_length=time_length)
    bold = oaconvolve(z, hrf[None], axes=-1)[:, :n_bins]
    times = tmin + (np.arange(n_bins) + 0.5) * dt  # bin centres
    return _at_frames(bold.T, times, tmin, tr, n_frames)


def random_haemodynamic_params(n_regions, random_state=None):
    """Draw haemodynamic parameters per region from their published ranges.

    Parameters
    ----------
    n_regions : int
        Number of regions.
    random_state : None | int | instance of numpy.random.Generator
        The random generator or its seed.

    Returns
    -------
    params : dict
        For each parameter of :data:`HAEMODYNAMIC_RANGES`, an array of shape
        (n_regions,) drawn uniformly from its range; pass it to
        :func:`balloon_windkessel`.
    """
    _validate_type(n_regions, "int", "n_regions")
    rng = _check_random_state(random_state)
    return {k: rng.uniform(lo, hi, n_regions)
            for k, (lo, hi) in HAEMODYNAMIC_RANGES.items()}


def _check_drive(drive, sfreq, tr):
    """Validate the drive, rate and TR; return them and the number of frames."""
    drive = np.asarray(drive, dtype=np.float64)
    if drive.ndim == 1:
        drive = drive[None]
    if drive.ndim != 2:
        raise ValueError(f"drive must be an array of shape (n_regions, n_times), "
                         f"got shape {drive.shape}.")
    if not np.isfinite(drive).all():
        raise ValueError("drive holds NaN or infinite values; interpolate or "
                         "drop them first.")
    for name, val in (("sfreq", sfreq), ("tr", tr)):
        _validate_type(val, "numeric", name)
        if not val > 0:
            raise ValueError(f"{name} must be positive, got {val}.")
    duration = drive.shape[1] / sfreq
    n_frames = int(np.floor(duration / tr + 1e-9))
    if n_frames < 1:
        raise ValueError(
            f"The data last {duration:g} s, shorter than one repetition time "
            f"(tr={tr:g} s), so there is no BOLD frame to return. Pass longer "
            "data (e.g. a Raw or concatenated epochs) or a shorter tr.")
    return drive, float(sfreq), float(tr), n_frames


def _balloon_params(params, n_regions):
    """Return the full parameter set, each a float or an (n_regions,) array."""
    _validate_type(params, (dict, None), "params")
    params = dict(params or {})
    unknown = sorted(set(params) - set(BALLOON_PARAMS))
    if unknown:
        raise ValueError(f"Unknown haemodynamic parameter(s) {unknown}; the "
                         f"parameters are {sorted(BALLOON_PARAMS)}.")
    p = dict(BALLOON_PARAMS, **params)
    for key, val in p.items():
        val = np.asarray(val, dtype=np.float64)
        if val.ndim and val.shape != (n_regions,):
            raise ValueError(f"params[{key!r}] must be a float or an array of "
                             f"shape ({n_regions},), got shape {val.shape}.")
        p[key] = val
    for key in ("kappa", "gamma", "tau", "alpha", "V0", "TE"):
        if np.any(p[key] <= 0):
            raise ValueError(f"params[{key!r}] must be positive.")
    if np.any((p["E0"] <= 0) | (p["E0"] >= 1)):
        raise ValueError("params['E0'] (oxygen extraction) must be in (0, 1).")
    return p


def _at_frames(signal, times, tmin, tr, n_frames):
    """Read ``signal`` (n_times, n_regions) at the frames' centres."""
    frame_times = tmin + (np.arange(n_frames) + 0.5) * tr
    idx = np.clip(np.searchsorted(times, frame_times) - 1, 0, len(times) - 2)
    w = np.clip((frame_times - times[idx]) / (times[idx + 1] - times[idx]), 0, 1)
    out = signal[idx] * (1 - w)[:, None] + signal[idx + 1] * w[:, None]
    return np.ascontiguousarray(out.T), frame_times
