# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Simultaneous EEG-fMRI from one simulated neural activity."""

import mne
import numpy as np
from mne.source_estimate import _make_stc
from mne.utils import _validate_type, logger, verbose
from scipy import sparse

from .._sensors import sensor_gain
from .._utils import (
    _check_fixed_forward,
    _check_random_state,
    _make_info,
    _source_positions,
    _src_space_ids,
)
from ..simulation import make_parcellation, region_connectivity, simulate_jansen_rit
from ..simulation._jansen_rit import JR_PARAMS, _sigmoid
from ._haemodynamics import balloon_windkessel, random_haemodynamic_params

#: Input pulse density (1/s) of a region at rest and during an activation
#: block: with Jansen and Rit's standard parameters, 220 gives an irregular
#: alpha rhythm; 350 raises the pyramidal firing rate by about 15 % and
#: lowers the alpha power by about 60 % (event-related desynchronisation).
P_REST, P_ACTIVE = 220.0, 350.0
#: Neurovascular gain: the haemodynamic drive is this times the relative
#: change of a region's afferent input (external plus coupled) from rest,
#: so that an activation block raises the steady-state blood flow by about
#: 60 % (``drive / gamma``).
NEUROVASCULAR_GAIN = 0.4


@verbose
def simulate_eeg_fmri(fwd, *, duration=120.0, tr=2.0, sfreq=250.0, n_regions=None,
                      n_active=(2, 5), block=(6.0, 20.0), snr_db=10.0,
                      bold_snr_db=10.0, drift_db=0.0, haemodynamics="random",
                      coupling=10.0, random_state=None, progress=True,
                      verbose=None):
    """Simulate simultaneous EEG and fMRI from one neural activity.

    A network of coupled Jansen-Rit neural masses
    (:func:`~mne_deepinverse.simulation.simulate_jansen_rit`) on a
    parcellation of the forward's sources
    (:func:`~mne_deepinverse.simulation.make_parcellation`) runs with an
    alpha-rhythm background everywhere; a few regions get blocks of stronger
    input (:data:`P_ACTIVE` instead of :data:`P_REST` pulses/s), which raise
    their firing and lower their alpha power. The same activity gives

    - the EEG: every region's pyramidal membrane potential on all its
      sources, through the forward, plus white sensor noise at ``snr_db``;
    - the BOLD signal: every region's afferent input relative to rest
      (times :data:`NEUROVASCULAR_GAIN`) drives the Balloon-Windkessel model
      (:func:`balloon_windkessel`), read at ``tr``, plus thermal noise (white,
      at ``bold_snr_db``) and physiological drift (slow cosines below
      1/128 Hz, SPM's high-pass cut-off, at ``drift_db``).

    Parameters
    ----------
    fwd : instance of Forward
        Fixed-orientation (or surface, free-orientation) EEG forward.
    duration : float
        Seconds of data (after a 1-s transient of the network).
    tr : float
        Repetition time (s) of the fMRI.
    sfreq : float
        Sampling rate (Hz) of the EEG.
    n_regions : int | None
        Regions of the parcellation; None: one per 5 sources, at most 1000.
    n_active : int | tuple of int
        Number of regions with activation blocks (a range: drawn).
    block : tuple of float
        Range of the blocks' lengths (s); blocks and rests of such lengths
        alternate in every active region, with random onsets.
    snr_db : float
        For the EEG: power of the brain's signal over the sensor noise (dB).
    bold_snr_db : float
        For the fMRI: variance of the BOLD signal over all regions over the thermal
        noise's (dB).
    drift_db : float
        For the fMRI: variance of the BOLD signal over the drift's (dB).
    haemodynamics : "random" | dict | None
        Haemodynamic parameters: drawn per region
        (:func:`random_haemodynamic_params`), given (a dict for
        :func:`balloon_windkessel`), or None (:data:`BALLOON_PARAMS`).
    coupling : float
        Global coupling of the network.
    random_state : None | int | instance of numpy.random.Generator
        Seed of every random step.
    progress : bool
        Show the network's integration progress.
    %(verbose)s

    Returns
    -------
    raw : instance of RawArray
        The EEG, with an average-reference projector.
    bold : instance of SourceEstimate
        The BOLD signal change of every source (its region's), one sample
        per frame (``tmin`` the first frame's centre, ``tstep`` = ``tr``).
    truth : dict
        ``labels`` (region of every source), ``active`` (active regions),
        ``design`` (n_regions, n_times: 1 during blocks), ``drive``
        (n_regions, n_times: the haemodynamic drive), ``bold_clean`` (n_regions,
        n_frames: before noise), ``frame_times`` and ``haemodynamics``.
    """
    rng = _check_random_state(random_state)
    fwd = _check_fixed_forward(fwd)
    for name, val in (("duration", duration), ("tr", tr), ("sfreq", sfreq)):
        _validate_type(val, "numeric", name)
        if not val > 0:
            raise ValueError(f"{name} must be positive, got {val}.")
    if duration < tr:
        raise ValueError(f"duration ({duration:g} s) must be at least one "
                         f"repetition time (tr={tr:g} s).")
    if sfreq < 100:
        raise ValueError(f"sfreq must be at least 100 Hz (the network's alpha "
                         f"rhythm and its integration), got {sfreq}.")
    gain, ch_names, _ = sensor_gain(fwd, ("eeg",))
    if not len(ch_names):
        raise ValueError("The forward has no EEG channels; simulate_eeg_fmri "
                         "simulates EEG. Pass an EEG forward.")
    pos = _source_positions(fwd)
    if n_regions is None:
        n_regions = max(2, min(1000, len(pos) // 5))
    labels, centres, region_space = make_parcellation(
        pos, _src_space_ids(fwd["src"]), int(n_regions), rng)
    W = region_connectivity(centres, region_space)
    lo, hi = (n_active, n_active) if np.ndim(n_active) == 0 else n_active
    if not 1 <= lo <= hi <= n_regions:
        raise ValueError(f"n_active must be between 1 and n_regions "
                         f"({n_regions}), got {n_active}.")
    logger.info(f"Simulating {duration:g} s of a {n_regions}-region Jansen-Rit "
                f"network")
    runs = _simulate_runs(
        gain, labels, W, n_runs=1, duration=duration, tr=tr, sfreq=sfreq,
        n_active=(lo, hi), block=block, snr_db=snr_db,
        haemodynamics=haemodynamics, coupling=coupling, rng=rng,
        progress=progress)
    bold_clean, frame_times = runs["bold_clean"][0], runs["frame_times"]
    noisy = bold_clean.copy()
    signal_var = bold_clean.var() or 1.0
    noisy += rng.standard_normal(noisy.shape) * np.sqrt(
        signal_var / 10 ** (bold_snr_db / 10))
    drift = _drift(len(frame_times), tr, int(n_regions), rng)
    noisy += drift * np.sqrt(signal_var / 10 ** (drift_db / 10) / drift.var())
    info = _make_info(fwd, ch_names, sfreq)
    raw = mne.io.RawArray(runs["eeg"][0], info, verbose=False)
    raw.set_eeg_reference("average", projection=True, verbose=False)
    src = fwd["src"]
    stc = _make_stc(noisy[labels], [s["vertno"].copy() for s in src],
                    src_type=src.kind, tmin=frame_times[0], tstep=tr,
                    subject=src._subject)
    truth = dict(labels=labels, active=runs["active"][0],
                 design=runs["design"][0], drive=runs["drive"][0],
                 bold_clean=bold_clean, frame_times=frame_times,
                 haemodynamics=runs["haemodynamics"][0])
    return raw, stc, truth


def _simulate_runs(gain, labels, W, *, n_runs, duration, tr, sfreq, n_active,
                   block, snr_db, haemodynamics, coupling, rng, progress=False):
    """Simulate ``n_runs`` simultaneous EEG-fMRI runs on one parcellation.

    The runs are integrated together (one Jansen-Rit network of
    ``n_runs`` independent copies); each has its own active regions,
    blocks, input noise, haemodynamics and sensor noise. Returns a dict of
    ``eeg`` (n_runs, n_channels, n_times; average reference, with noise at
    ``snr_db``, a float or a value per run), ``bold_clean`` (n_runs,
    n_regions, n_frames), ``frame_times``, ``active``, ``design``,
    ``drive`` and ``haemodynamics`` (lists, one entry per run).
    """
    n_regions = W.shape[0]
    n_times = int(round(duration * sfreq))
    lo, hi = n_active
    design = np.zeros((n_runs, n_regions, n_times))
    active = []
    for run in range(n_runs):
        k = int(rng.integers(lo, hi + 1))
        active.append(np.sort(rng.choice(n_regions, k, replace=False)))
        for r in active[-1]:
            design[run, r] = _blocks(n_times, sfreq, block, rng)
    p_mean = P_REST + (P_ACTIVE - P_REST) * design
    v = simulate_jansen_rit(
        W, n_times, sfreq, p_mean=p_mean.transpose(0, 2, 1), coupling=coupling,
        n_runs=n_runs, random_state=rng, progress=progress).astype(np.float64)
    # the haemodynamic drive: afferent input (external + coupled) vs rest
    firing = _sigmoid(v, JR_PARAMS).transpose(0, 2, 1)  # (runs, regions, times)
    W = sparse.csr_matrix(W)
    drives, params = [], []
    for run in range(n_runs):
        afferent = p_mean[run] + coupling * (W @ firing[run])
        # rest: the external input at rest plus the coupled input of regions
        # at rest (W's rows sum to one)
        rest = P_REST + coupling * firing[run][design[run] == 0].mean()
        drives.append(NEUROVASCULAR_GAIN * (afferent - rest) / rest)
        params.append(random_haemodynamic_params(n_regions, rng)
                      if haemodynamics == "random" else haemodynamics)
    if haemodynamics == "random":  # all runs at once, each its own parameters
        stacked = {key: np.concatenate([p[key] for p in params])
                   for key in params[0]}
    elif haemodynamics is not None:  # given: the same for every run
        stacked = {key: np.tile(val, n_runs) if np.ndim(val) else val
                   for key, val in haemodynamics.items()}
    else:
        stacked = None
    bold, frame_times = balloon_windkessel(np.concatenate(drives), sfreq, tr,
                                           params=stacked)
    bold = bold.reshape(n_runs, n_regions, -1)
    # EEG: every source of a region carries its membrane potential
    member = sparse.csr_matrix((np.ones(len(labels)), (np.arange(len(labels)),
                                                       labels)))
    region_gain = np.asarray(gain @ member)  # (n_ch, n_regions)
    eeg = region_gain @ (v.transpose(0, 2, 1) * 1e-9)  # mV -> ~nAm per source
    eeg -= eeg.mean(axis=1, keepdims=True)  # average reference
    snr_db = np.broadcast_to(np.asarray(snr_db, float), (n_runs,))
    for run in range(n_runs):
        noise = rng.standard_normal(eeg.shape[1:])
        noise -= noise.mean(axis=0)
        eeg[run] += noise * np.sqrt((eeg[run] ** 2).mean() / (noise**2).mean()
                                    / 10 ** (snr_db[run] / 10))
    return dict(eeg=eeg, bold_clean=bold, frame_times=frame_times, active=active,
                design=list(design), drive=drives, haemodynamics=params)


def _blocks(n_times, sfreq, block, rng):
    """Alternating blocks and rests of lengths in ``block`` (s), 1 in blocks."""
    lo, hi = block
    out = np.zeros(n_times)
    t = rng.uniform(0, hi) * sfreq  # a random first onset
    while t < n_times:
        length = rng.uniform(lo, hi) * sfreq
        out[int(t): int(t + length)] = 1.0
        t += length + rng.uniform(lo, hi) * sfreq
    return out


def _drift(n_frames, tr, n_regions, rng):
    """Slow drifts per region: random cosines below 1/128 Hz (SPM's cut-off)."""
    duration = n_frames * tr
    n_basis = max(1, int(np.floor(2 * duration / 128.0)))
    t = (np.arange(n_frames) + 0.5) / n_frames
    basis = np.cos(np.pi * np.outer(np.arange(1, n_basis + 1), t))
    weights = rng.standard_normal((n_regions, n_basis)) / np.arange(1, n_basis + 1)
    return weights @ basis
