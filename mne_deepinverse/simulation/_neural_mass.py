# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Jansen-Rit neural masses on a cortical parcellation (SIFNet's training data).

SIFNet and DeepSIF :footcite:`SunEtAl2022` learnt from EEG whose sources were
a network of Jansen-Rit neural-mass models :footcite:`JansenRit1995`, one
per cortical region, coupled through a connectome: background activity with
an alpha rhythm everywhere, and spike-like (interictal) events where a
region's excitatory gain is raised. The pieces:

- :func:`make_parcellation`: regions of about equal size on any source
  space, by k-means of the source positions per hemisphere;
- :func:`region_connectivity`: a connectome derived from distance (no
  diffusion data ship with the package): each region projects to its nearest
  regions in the same hemisphere with a weight decaying exponentially with
  the distance of their centres, and to the mirror region of the other
  hemisphere; rows sum to one. It has no long-range association fibres, so
  activity spreads only locally and between homologous regions;
- :func:`simulate_jansen_rit`: the coupled equations integrated with the
  Euler-Maruyama method, vectorised over regions and independent runs,
  seeded;
- :class:`NeuralMassSimulator`: banks of background and spike waveforms,
  simulated once, mixed into windows of EEG on the fly.
"""

import numpy as np
from mne.utils import _check_dict_keys, _validate_type

from .._docs import fill_doc
from .._utils import _check_random_state, _check_range, _source_adjacency
from ._jansen_rit import JR_PARAMS, simulate_jansen_rit
from ._noise import _add_noise_at_snr
from ._parcellation import region_connectivity
from ._regions import _RegionWindows


@fill_doc
class NeuralMassSimulator(_RegionWindows):
    """Windows of EEG from a Jansen-Rit network, mixed on the fly.

    Banks are simulated once: a network of Jansen-Rit regions
    (:func:`make_parcellation`, :func:`region_connectivity`) in several
    independent runs, in each of which scattered regions have a raised
    excitatory gain and spike (:func:`simulate_jansen_rit`). The other
    regions' activity, projected through the forward, is the background EEG;
    the spiking regions' waveforms are the events. A training window then
    costs a few vector operations: 1-3 patches (a spiking region's waveform
    on a region and its neighbouring regions), projected through the
    patch's summed gain, plus a background window scaled to a random SNR.

    Parameters
    ----------
    fwd : instance of Forward
        Fixed-orientation EEG forward on a surface (or volume) source space.
    n_regions : int | None
        Regions of the parcellation; None: one per 5 sources, at most 1000
        (the paper's 994 on a finer cortex).
    sfreq : float
        Sampling rate (Hz) of the windows.
    n_times : int
        Samples per window.
    n_patches : int | tuple of int
        Spiking patches per window (range).
    extent : int | tuple of int
        Neighbourhood order of a patch in regions (0: one region).
    snr_db : float | tuple of float
        Ratio (dB) of the events' EEG power to the background's, per window.
    n_runs : int
        Independent network runs in the banks. In every run, scattered
        regions (>= 50 mm apart, those that spiked least in the runs before
        first) spike, so that over the runs every region does: on the
        template's 1000 regions, 64 runs give each region about two runs of
        spikes.
    seconds : float
        Length of each run (after a 1-s transient).
    coupling : float
        Global coupling of the network.
    params : dict | None
        Overrides of :data:`JR_PARAMS` for the whole network (e.g. a larger
        ``p_sd``, the input noise, for test data from a perturbed model);
        spiking regions still get ``A`` of 3.5-3.7 and ``p_mean`` 90.
    random_state : None | int | instance of numpy.random.Generator
        Seed of the parcellation and the banks.
    progress : bool
        Show the integration's progress.
    %(noise_cov_sim)s
    """

    def __init__(self, fwd, *, n_regions=None, sfreq=250.0, n_times=128,
                 n_patches=(1, 3), extent=(0, 1), snr_db=(0.0, 15.0), n_runs=64,
                 seconds=5.0, coupling=10.0, params=None, random_state=None,
                 progress=False, noise_cov=None):
        rng = _check_random_state(random_state)
        _validate_type(seconds, "numeric", "seconds")
        _validate_type(params, (dict, None), "params")
        _check_dict_keys(params or {}, sorted(JR_PARAMS), "params key(s)",
                         "Jansen-Rit parameters (JR_PARAMS)")
        self.params = dict(JR_PARAMS, **(params or {}))
        fwd = self._setup(fwd, n_regions, sfreq, n_times, rng,
                          max_times=seconds * sfreq / 4, noise_cov=noise_cov)
        self.n_patches = _check_range(n_patches, "n_patches", kind=int, low=1)
        self.extent = _check_range(extent, "extent", kind=int, low=0, high=5)
        self.snr_db = _check_range(snr_db, "snr_db")
        adj = _source_adjacency(fwd["src"])
        region_adj = (self.member.T @ adj @ self.member).tocsr()
        region_adj.setdiag(0)
        self.region_adj = (region_adj > 0).tocsr()
        self.W = region_connectivity(self.centres, self.region_space)
        self._patches = {}
        self._make_banks(self.centres, n_runs, seconds, coupling, rng, progress)

    def _make_banks(self, centres, n_runs, seconds, coupling, rng, progress):
        from scipy.signal import find_peaks
        from scipy.spatial import cKDTree

        n_regions = len(centres)
        A = np.full((n_runs, n_regions), self.params["A"])
        p_mean = np.full((n_runs, n_regions), self.params["p_mean"])
        spiking = []
        tree = cKDTree(centres)
        used = np.zeros(n_regions)
        for run in range(n_runs):  # scattered spiking regions, >= 50 mm apart
            free = np.ones(n_regions, bool)
            chosen = []
            # the regions that spiked least so far first: over the runs, every
            # region gets its turn (about n_runs * n_chosen / n_regions each)
            for r in np.argsort(used + rng.random(n_regions)):
                if free[r]:
                    chosen.append(r)
                    free[tree.query_ball_point(centres[r], 0.05)] = False
            used[chosen] += 1
            A[run, chosen] = rng.uniform(3.5, 3.7, len(chosen))
            p_mean[run, chosen] = 90.0
            spiking.append(np.array(chosen))
        v = simulate_jansen_rit(
            self.W, int(round(seconds * self.sfreq)), self.sfreq, A=A,
            p_mean=p_mean, coupling=coupling, n_runs=n_runs, params=self.params,
            random_state=rng,
            progress=progress)
        v -= np.median(v, axis=1, keepdims=True)  # each region's resting level
        # events: the spiking regions' waveforms and their spike peaks
        self._events, self._peaks = [], []
        for run, chosen in enumerate(spiking):
            for r in chosen:
                w = v[run, :, r].copy()
                peaks = find_peaks(w, height=4 * np.median(np.abs(w)) + 1.0,
                                   distance=int(0.1 * self.sfreq))[0]
                peaks = peaks[(peaks >= self.n_times)
                              & (peaks < len(w) - self.n_times)]
                if len(peaks):
                    self._events.append((int(r), w))
                    self._peaks.append(peaks)
            v[run, :, chosen] = 0.0  # background: the other regions
        if not self._events:
            raise RuntimeError("The neural-mass banks hold no spike; use longer "
                               "runs (seconds) or more runs (n_runs).")
        # background EEG of every run, (n_runs, n_samples, n_channels), in V
        self._background = (v * 1e-9) @ self.region_gain.T

    @fill_doc
    def background(self, n_windows, rng):
        """Draw windows of background EEG only (no spiking region).

        Parameters
        ----------
        %(draw_windows)s

        Returns
        -------
        X : array, shape (n_windows, n_times, n_channels)
            EEG in V, average reference, at the banks' scale: the activity of
            the network's non-spiking regions, e.g. for a noise covariance
            (:class:`mne.Covariance`) of neural-mass data.
        """
        n_runs, n_bank = self._background.shape[:2]
        run = rng.integers(n_runs, size=n_windows)
        start = rng.integers(0, n_bank - self.n_times, size=n_windows)
        bg = self._background[run[:, None], start[:, None] + np.arange(self.n_times)]
        return self.sensors.project(bg)

    def _patch(self, region, order):
        """Return the regions within ``order`` steps of ``region`` (cached)."""
        key = (int(region), int(order))
        if key not in self._patches:
            self._patches[key] = self._grow(region, order)
        return self._patches[key]

    def _grow(self, region, order):
        patch = {int(region)}
        front = {int(region)}
        for _ in range(order):
            front = {int(n) for r in front for n in self.region_adj[r].indices} - patch
            patch |= front
        return np.array(sorted(patch))

    @fill_doc
    def simulate(self, n_windows, rng):
        """Simulate windows of EEG and their source activity.

        Parameters
        ----------
        %(draw_windows)s

        Returns
        -------
        X : array, shape (n_windows, n_times, n_channels)
            EEG in V, average reference.
        Y : array of float32, shape (n_windows, n_times, n_regions)
            Moments (Am) per source of the spiking patches' regions (the
            background is not a target); :meth:`to_sources` maps them onto
            the sources.
        """
        T, n_ch = self.n_times, len(self.ch_names)
        X = np.zeros((n_windows, T, n_ch))
        Y = np.zeros((n_windows, T, self.member.shape[1]), np.float32)
        counts = rng.integers(self.n_patches[0], self.n_patches[1] + 1, n_windows)
        for i, k in enumerate(counts):
            for _ in range(k):
                e = rng.integers(len(self._events))
                region, w = self._events[e]
                peak = rng.choice(self._peaks[e])
                start = peak - rng.integers(T // 4, 3 * T // 4)
                seg = w[start:start + T] * 1e-9 * rng.uniform(0.5, 1.5)  # Am
                regions = self._patch(region, rng.integers(self.extent[0],
                                                           self.extent[1] + 1))
                X[i] += np.outer(seg, self.region_gain[:, regions].sum(axis=1))
                Y[i][:, regions] += seg[:, None].astype(np.float32)
        bg = self.background(n_windows, rng)
        X = self.sensors.project(X)
        snr = rng.uniform(*self.snr_db, n_windows)
        # one SNR per window: its samples and channels as one row
        _add_noise_at_snr(X.reshape(n_windows, -1), bg.reshape(n_windows, -1), snr,
                          self._measure)
        return X, Y
