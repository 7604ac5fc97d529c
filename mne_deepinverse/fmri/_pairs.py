# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Training pairs of the deep BOLD synthesizer: simulated simultaneous EEG-fMRI.

Every batch is a few runs of :func:`simulate_eeg_fmri`'s generator
integrated together (Jansen-Rit networks on a parcellation of the template
drawn from a bank, activation blocks, haemodynamic parameters per region
from their published ranges, EEG noise at a drawn SNR) on one of the caps
given; every fMRI frame of a run is one pair: the spectrogram window of its
EEG on the grid, and the noise-free BOLD signal change (%) of the
synthesizer's regions (the mean over their sources), relative to its mean
over the run.
"""

import numpy as np
from mne.utils import ProgressBar, logger

from .._caps import cap_interpolation
from .._sensors import sensor_gain
from .._utils import _check_random_state, _source_positions, _src_space_ids
from ..simulation import make_parcellation, region_connectivity
from ._features import spectrogram_windows
from ._simulation import _simulate_runs


def region_average(labels, n_regions):
    """Matrix ``(n_sources, n_regions)`` that averages sources into regions."""
    counts = np.bincount(labels, minlength=n_regions).astype(np.float64)
    avg = np.zeros((len(labels), n_regions))
    avg[np.arange(len(labels)), labels] = 1.0 / counts[labels]
    return avg


class BoldPairs:
    """Simulated (spectrogram window, regional BOLD) pairs on the fly.

    Parameters
    ----------
    fwds : list of Forward
        EEG forwards on one source space (the template), one per cap.
    spec : dict
        The synthesizer's card entry ``bold``: ``cap`` (grid), ``bands``,
        ``bin_s``, ``n_bins``, ``labels`` (its regions' labels of the
        sources), ``n_regions``.
    duration : float
        Seconds per simulated run.
    tr : float
        Repetition time (s).
    sfreq : float
        EEG sampling rate (Hz) of the simulation.
    sim_regions : sequence of int
        Region counts of the simulation's parcellations (a bank of
        ``n_parcellations`` is drawn at the start, each of one of these).
    n_parcellations : int
        Parcellations in the bank.
    snr_db : tuple of float
        Range of the EEG's SNR (dB), drawn per run.
    random_state : None | int | instance of numpy.random.Generator
        Seed of the parcellation bank.
    """

    def __init__(self, fwds, spec, *, duration=120.0, tr=2.0, sfreq=100.0,
                 sim_regions=(100, 200, 400), n_parcellations=12,
                 snr_db=(0.0, 10.0), random_state=None):
        rng = _check_random_state(random_state)
        self.spec, self.duration, self.tr, self.sfreq = spec, duration, tr, sfreq
        self.snr_db = snr_db
        cap = spec["cap"]
        self.caps = []
        for fwd in fwds:
            gain, ch_names, _ = sensor_gain(fwd, ("eeg",))
            pos = np.array([ch["loc"][:3] for ch in fwd["info"]["chs"]
                            if ch["ch_name"] in ch_names])
            self.caps.append((gain, cap_interpolation(pos, cap, inside_only=True)))
        pos = _source_positions(fwds[0])
        space = _src_space_ids(fwds[0]["src"])
        self.to_regions = region_average(np.asarray(spec["labels"]),
                                         spec["n_regions"])
        self.bank = []
        for ii in ProgressBar(range(n_parcellations), mesg="Parcellations"):
            n = int(sim_regions[ii % len(sim_regions)])
            labels, centres, region_space = make_parcellation(pos, space, n, rng)
            self.bank.append((labels, region_connectivity(centres, region_space)))
        self.frames_per_run = int(np.floor(duration / tr + 1e-9))
        logger.info(f"    {len(self.caps)} cap(s), {n_parcellations} parcellations, "
                    f"{self.frames_per_run} frames per run")

    def simulate(self, n, rng):
        """Return ``n`` pairs of windows and regional BOLD.

        Windows ``(n, n_pixels, n_features, n_bins)``, BOLD ``(n, n_regions)``
        (%, relative to the run's mean).
        """
        rng = _check_random_state(rng)
        n_runs = -(-n // self.frames_per_run)
        gain, interp = self.caps[rng.integers(len(self.caps))]
        labels, W = self.bank[rng.integers(len(self.bank))]
        runs = _simulate_runs(
            gain, labels, W, n_runs=n_runs, duration=self.duration, tr=self.tr,
            sfreq=self.sfreq, n_active=(3, 15), block=(6.0, 20.0),
            snr_db=rng.uniform(*self.snr_db, n_runs), haemodynamics="random",
            coupling=10.0, rng=rng)
        spec = self.spec
        X = spectrogram_windows(runs["eeg"], self.sfreq, interp,
                                runs["frame_times"], bands=spec["bands"],
                                bin_s=spec["bin_s"], n_bins=spec["n_bins"],
                                slow=bool(spec.get("slow", False)))
        # BOLD of every source (its simulated region's), averaged into ours,
        # relative to the run's mean (as fMRI is read)
        Y = np.einsum("rsf,sk->rfk", runs["bold_clean"][:, labels],
                      self.to_regions) * 100.0
        Y -= Y.mean(axis=1, keepdims=True)
        X = X.reshape(-1, *X.shape[2:])
        Y = Y.reshape(-1, Y.shape[-1]).astype(np.float32)
        keep = np.sort(rng.choice(len(X), n, replace=False))
        return X[keep], Y[keep]
