# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Networks of coupled Jansen-Rit neural masses."""

import numpy as np
from mne.utils import ProgressBar, _validate_type
from scipy import sparse

from .._utils import _check_random_state

#: Jansen and Rit's (1995) standard parameters: gains (mV), inverse time
#: constants (1/s), connectivity constants, sigmoid (mV, 1/s, 1/mV) and the
#: input pulse density (1/s): mean, and sd for steps of 1 ms (scaled by
#: sqrt(1 ms / dt)), as their uniform 120-320 pulses/s.
JR_PARAMS = dict(A=3.25, B=22.0, a=100.0, b=50.0, C=135.0, v0=6.0, e0=2.5,
                 r=0.56, p_mean=220.0, p_sd=58.0)


def _sigmoid(v, p):
    return 2 * p["e0"] / (1 + np.exp(p["r"] * (p["v0"] - v)))


def simulate_jansen_rit(W, n_times, sfreq, *, A=None, p_mean=None,
                        coupling=10.0, dt=5e-4,
                        n_runs=1, transient=1.0, params=None, random_state=None,
                        progress=False):
    """Integrate a network of coupled Jansen-Rit neural masses.

    Every region ``i`` is a Jansen-Rit column (pyramidal cells, excitatory and
    inhibitory interneurons); its input pulse density is Gaussian noise
    (``p_mean``, ``p_sd``, drawn every step) plus ``coupling`` times the
    ``W``-weighted firing rates of the other regions' pyramidal cells.
    Euler-Maruyama steps of ``dt``, vectorised over regions and runs.

    Parameters
    ----------
    W : sparse matrix, shape (n_regions, n_regions)
        Connectome (:func:`region_connectivity`).
    n_times : int
        Samples to return per run, after the transient.
    sfreq : float
        Sampling rate (Hz) of the output; ``1 / sfreq`` must be a multiple of
        ``dt``.
    A : None | float | array, shape (n_runs, n_regions)
        Excitatory gain (mV) per run and region; None: 3.25.
    p_mean : None | float | array
        Mean input pulse density (1/s) per run and region, shape (n_runs,
        n_regions); None: 220 (with ``A=3.25``, an irregular alpha rhythm).
        With a time axis, shape (n_runs, n_times, n_regions): per output
        sample (held over its integration steps; the transient gets the
        first sample's), e.g. blocks of stronger input that raise a region's
        activity. ``A`` of 3.5-3.7 with
        ``p_mean=90`` gives spike-like discharges
        :footcite:`WendlingEtAl2000`.
    coupling : float
        Global coupling (pulses/s per unit firing rate).
    dt : float
        Integration step (s).
    n_runs : int
        Independent runs integrated together.
    transient : float
        Seconds integrated and dropped first (from rest).
    params : dict | None
        Overrides of :data:`JR_PARAMS`.
    random_state : None | int | instance of numpy.random.Generator
        Seed of the input noise.
    progress : bool
        Show a progress bar.

    Returns
    -------
    v : array of float32, shape (n_runs, n_times, n_regions)
        The pyramidal cells' mean membrane potential ``y1 - y2`` (mV), the
        quantity EEG reflects.

    References
    ----------
    .. footbibliography::
    """
    _validate_type(coupling, "numeric", "coupling")
    p = dict(JR_PARAMS, **(params or {}))
    rng = _check_random_state(random_state)
    n = W.shape[0]
    step = int(round(1 / (sfreq * dt)))
    if step < 1 or abs(step * dt * sfreq - 1) > 1e-6:
        raise ValueError(f"1 / sfreq ({1 / sfreq:g} s) must be a multiple of dt "
                         f"({dt:g} s).")
    A = np.broadcast_to(p["A"] if A is None else np.asarray(A, float), (n_runs, n))
    p_mean = p["p_mean"] if p_mean is None else np.asarray(p_mean, float)
    if np.ndim(p_mean) == 3:  # one input per output sample
        if p_mean.shape != (n_runs, n_times, n):
            raise ValueError(f"A p_mean with a time axis must have the shape "
                             f"(n_runs, n_times, n_regions) = {(n_runs, n_times, n)}, "
                             f"got {p_mean.shape}.")
        p_course = p_mean
    else:
        p_course = np.broadcast_to(p_mean, (n_runs, n))[:, None]
    a, b, B, C = p["a"], p["b"], p["B"], p["C"]
    c1, c2, c3, c4 = C, 0.8 * C, 0.25 * C, 0.25 * C
    sd_step = p["p_sd"] * np.sqrt(1e-3 / dt)  # p_sd is for 1-ms steps
    y = np.zeros((6, n_runs, n))
    n_skip = int(round(transient * sfreq))
    out = np.empty((n_runs, n_times, n), np.float32)
    W = sparse.csr_matrix(W)  # W @ firing.T: no transpose of W per step
    bar = ProgressBar(n_skip + n_times, mesg="Jansen-Rit") if progress else None
    for t in range(n_skip + n_times):
        p_mean = p_course[:, min(max(t - n_skip, 0), p_course.shape[1] - 1)]
        for _ in range(step):
            y0, y1, y2, y3, y4, y5 = y
            v = y1 - y2
            pulses = p_mean + sd_step * rng.standard_normal((n_runs, n))
            firing = _sigmoid(v, p)  # pyramidal output, local and coupled
            pulses += coupling * (W @ firing.T).T
            dy = np.stack([
                y3, y4, y5,
                A * a * firing - 2 * a * y3 - a * a * y0,
                A * a * (pulses + c2 * _sigmoid(c1 * y0, p)) - 2 * a * y4 - a * a * y1,
                B * b * c4 * _sigmoid(c3 * y0, p) - 2 * b * y5 - b * b * y2,
            ])
            y += dt * dy
        if t >= n_skip:
            out[:, t - n_skip] = y[1] - y[2]
        if bar is not None:
            bar.update(t + 1)
    return out
