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
from mne.utils import ProgressBar, _validate_type
from scipy import sparse

from .._docs import fill_doc
from .._utils import (
    _check_fixed_forward,
    _check_random_state,
    _check_range,
    _source_adjacency,
    _source_positions,
    _src_space_ids,
)

#: Jansen and Rit's (1995) standard parameters: gains (mV), inverse time
#: constants (1/s), connectivity constants, sigmoid (mV, 1/s, 1/mV) and the
#: input pulse density (1/s): mean, and sd for steps of 1 ms (scaled by
#: sqrt(1 ms / dt)), as their uniform 120-320 pulses/s.
JR_PARAMS = dict(A=3.25, B=22.0, a=100.0, b=50.0, C=135.0, v0=6.0, e0=2.5,
                 r=0.56, p_mean=220.0, p_sd=58.0)


def _sigmoid(v, p):
    return 2 * p["e0"] / (1 + np.exp(p["r"] * (p["v0"] - v)))


def make_parcellation(pos, space_ids, n_regions, random_state=None):
    """Divide sources into regions of about equal size (k-means per hemisphere).

    Parameters
    ----------
    pos : array, shape (n_sources, 3)
        Source positions (m).
    space_ids : array of int, shape (n_sources,)
        Source space (hemisphere) of every source; regions never cross them.
    n_regions : int
        Number of regions (shared between the spaces by their source counts).
    random_state : None | int | instance of numpy.random.Generator
        Seed of the k-means initialisation.

    Returns
    -------
    labels : array of int, shape (n_sources,)
        Region of every source; regions of the first space come first.
    centres : array, shape (n_regions, 3)
        Mean position of each region's sources.
    region_space : array of int, shape (n_regions,)
        Source space of every region.
    """
    from sklearn.cluster import KMeans

    rng = _check_random_state(random_state)
    pos = np.asarray(pos, float)
    space_ids = np.asarray(space_ids)
    spaces, counts = np.unique(space_ids, return_counts=True)
    if not 1 <= n_regions <= len(pos):
        raise ValueError(f"n_regions must be between 1 and the number of sources "
                         f"({len(pos)}), got {n_regions}.")
    share = np.maximum(1, np.round(n_regions * counts / counts.sum()).astype(int))
    share[-1] = max(1, n_regions - share[:-1].sum())
    labels = np.empty(len(pos), int)
    region_space, offset = [], 0
    for space, k in zip(spaces, share, strict=True):
        idx = np.flatnonzero(space_ids == space)
        km = KMeans(k, n_init=1, random_state=int(rng.integers(2**31 - 1)))
        labels[idx] = km.fit_predict(pos[idx]) + offset
        region_space += [space] * k
        offset += k
    centres = np.array([pos[labels == k].mean(axis=0) for k in range(offset)])
    return labels, centres, np.array(region_space)


def region_connectivity(centres, region_space, *, n_neighbors=12, length=0.02,
                        mirror=0.2):
    """Derive a connectome from region distances.

    Parameters
    ----------
    centres : array, shape (n_regions, 3)
        Region centres (m; head coordinates, x from left to right).
    region_space : array of int, shape (n_regions,)
        Hemisphere of every region.
    n_neighbors : int
        Regions of the same hemisphere each region projects to.
    length : float
        Decay length (m) of the weights, ``exp(-d / length)``.
    mirror : float
        Weight of the projection to the nearest region of the other
        hemisphere after mirroring the centre in x (callosal fibres), relative
        to the sum of the same-hemisphere weights.

    Returns
    -------
    W : sparse matrix, shape (n_regions, n_regions)
        ``W[i, j]``: weight of region j's output in region i's input; no
        self-connections, rows sum to one.
    """
    from scipy.spatial import cKDTree

    n = len(centres)
    rows, cols, vals = [], [], []
    for space in np.unique(region_space):
        idx = np.flatnonzero(region_space == space)
        k = min(n_neighbors + 1, len(idx))
        dist, near = cKDTree(centres[idx]).query(centres[idx], k)
        dist, near = np.atleast_2d(dist)[:, 1:], np.atleast_2d(near)[:, 1:]
        w = np.exp(-dist / length)
        w /= np.maximum(w.sum(axis=1, keepdims=True), 1e-30)
        rows.append(np.repeat(idx, w.shape[1]))
        cols.append(idx[near].ravel())
        vals.append(w.ravel())
        other = np.flatnonzero(region_space != space)
        if len(other) and mirror > 0:
            mirrored = centres[idx] * [-1, 1, 1]
            hit = cKDTree(centres[other]).query(mirrored)[1]
            rows.append(idx)
            cols.append(other[hit])
            vals.append(np.full(len(idx), mirror))
    W = sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n, n))
    W = sparse.diags(1 / np.maximum(np.asarray(W.sum(axis=1)).ravel(), 1e-30)) @ W
    return sparse.csr_matrix(W)


def region_expansion(pos, labels, centres, region_space, *, k=4):
    """Compute the weights that map region values onto the sources, smoothly.

    Every source takes a Gaussian-weighted mean of the values of the ``k``
    regions of its own source space (hemisphere) whose centres are nearest
    to it (its own region among them); the Gaussian's sd is half the median
    distance between neighbouring region centres. A map that is high in
    one region and lower in a neighbour then peaks between their centres,
    nearer the higher one, not on an arbitrary source of the region.

    Parameters
    ----------
    pos : array, shape (n_sources, 3)
        Source positions (m).
    labels : array of int, shape (n_sources,)
        Region of every source (:func:`make_parcellation`).
    centres : array, shape (n_regions, 3)
        Region centres (m).
    region_space : array of int, shape (n_regions,)
        Source space of every region.
    k : int
        Regions per source.

    Returns
    -------
    index : array of int64, shape (n_sources, k)
        The regions of every source, its own first.
    weight : array of float32, shape (n_sources, k)
        Their weights (rows sum to one).
    """
    from scipy.spatial import cKDTree

    pos, labels = np.asarray(pos, float), np.asarray(labels)
    centres = np.asarray(centres, float)
    n_regions = len(centres)
    k = max(1, min(int(k), n_regions))
    space = np.asarray(region_space)
    space_of_source = space[labels]
    spacing = np.median(cKDTree(centres).query(centres, min(2, n_regions))[0][..., -1])
    sd = max(spacing / 2, 1e-6)
    index = np.empty((len(pos), k), np.int64)
    dist = np.empty((len(pos), k))
    for s in np.unique(space):
        regions = np.flatnonzero(space == s)
        sources = np.flatnonzero(space_of_source == s)
        kk = min(k, len(regions))
        d, near = cKDTree(centres[regions]).query(pos[sources], kk)
        d, near = d.reshape(len(sources), kk), regions[near.reshape(len(sources), kk)]
        if kk < k:  # a space with fewer regions: repeat its nearest, weight 0
            near = np.pad(near, ((0, 0), (0, k - kk)), mode="edge")
            d = np.pad(d, ((0, 0), (0, k - kk)), constant_values=np.inf)
        index[sources], dist[sources] = near, d
    # own region first (k-means puts it nearest; make sure)
    own = labels
    has_own = (index == own[:, None]).any(axis=1)
    index[~has_own, -1], dist[~has_own, -1] = own[~has_own], 0.0
    order = np.argsort(index != own[:, None], axis=1, kind="stable")
    index = np.take_along_axis(index, order, axis=1)
    dist = np.take_along_axis(dist, order, axis=1)
    dist[:, 0] = np.minimum(dist[:, 0], np.linalg.norm(pos - centres[own], axis=1))
    weight = np.exp(-0.5 * (dist / sd) ** 2)
    weight[:, 0] = np.maximum(weight[:, 0], 1e-6)
    weight /= weight.sum(axis=1, keepdims=True)
    return index, weight.astype(np.float32)


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
    p_mean : None | float | array, shape (n_runs, n_regions)
        Mean input pulse density (1/s) per run and region; None: 220 (with
        ``A=3.25``, an irregular alpha rhythm). ``A`` of 3.5-3.7 with
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
    p_mean = np.broadcast_to(p["p_mean"] if p_mean is None
                             else np.asarray(p_mean, float), (n_runs, n))
    a, b, B, C = p["a"], p["b"], p["B"], p["C"]
    c1, c2, c3, c4 = C, 0.8 * C, 0.25 * C, 0.25 * C
    sd_step = p["p_sd"] * np.sqrt(1e-3 / dt)  # p_sd is for 1-ms steps
    y = np.zeros((6, n_runs, n))
    n_skip = int(round(transient * sfreq))
    out = np.empty((n_runs, n_times, n), np.float32)
    Wt = sparse.csr_matrix(W.T)
    bar = ProgressBar(n_skip + n_times, mesg="Jansen-Rit") if progress else None
    for t in range(n_skip + n_times):
        for _ in range(step):
            y0, y1, y2, y3, y4, y5 = y
            v = y1 - y2
            pulses = p_mean + sd_step * rng.standard_normal((n_runs, n))
            firing = _sigmoid(v, p)  # pyramidal output, local and coupled
            pulses += coupling * (firing @ Wt)
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


class _RegionWindows:
    """Windows of EEG with targets per region of a parcellation (shared part).

    Sets the forward's gain, the parcellation (:func:`make_parcellation`,
    drawn first from ``rng``, so two simulators with the same seed share
    it), the region-to-source maps and the window geometry.
    """

    def _setup(self, fwd, n_regions, sfreq, n_times, rng, *, max_times=None,
               noise_cov=None):
        from .._sensors import Sensors, sensor_gain

        fwd = _check_fixed_forward(fwd)
        self.gain, self.ch_names, _ = sensor_gain(fwd)
        self.sensors = Sensors.from_forward(fwd, noise_cov)
        pos = _source_positions(fwd)
        n_src = len(pos)
        if n_regions is None:
            n_regions = max(2, min(1000, n_src // 5))
        _validate_type(n_regions, "int-like", "n_regions")
        _validate_type(sfreq, "numeric", "sfreq")
        _validate_type(n_times, "int-like", "n_times")
        if not sfreq >= 100:
            raise ValueError(f"sfreq must be >= 100 Hz (the spikes last ~50 ms), "
                             f"got {sfreq}.")
        if not n_times >= 8:
            raise ValueError(f"n_times must be at least 8, got {n_times}.")
        if max_times is not None and n_times > max_times:
            raise ValueError(
                f"n_times must be at most a quarter of a bank run (seconds * "
                f"sfreq / 4 = {max_times:g}), got {n_times}; use longer runs "
                "(seconds) for longer windows.")
        self.sfreq, self.n_times = float(sfreq), int(n_times)
        self.labels, self.centres, self.region_space = make_parcellation(
            pos, _src_space_ids(fwd["src"]), int(n_regions), rng)
        self.member = sparse.csr_matrix(
            (np.ones(n_src), (np.arange(n_src), self.labels)),
            shape=(n_src, int(n_regions)))
        self.region_gain = np.asarray(self.gain @ self.member)  # (n_ch, n_regions)
        # (n_sources, n_regions): the mean over every region's sources
        counts = np.asarray(self.member.sum(axis=0)).ravel()
        self._region_mean = sparse.csr_matrix(self.member.multiply(1 / counts))
        self.expansion = region_expansion(pos, self.labels, self.centres,
                                          self.region_space)
        return fwd

    def _measure(self, rows):
        """Rows of windows as the SNR measures them (whitened for MEG)."""
        if not self.sensors.whitened:
            return rows
        n_ch = len(self.ch_names)
        return self.sensors.pre(rows.reshape(len(rows), -1, n_ch)).reshape(
            len(rows), -1)

    @property
    def n_regions(self):
        """Number of regions of the parcellation (int)."""
        return self.member.shape[1]

    def to_sources(self, Y):
        """Map region activity onto the sources.

        Parameters
        ----------
        Y : array, shape (..., n_regions)
            Activity per region (e.g. the targets of :meth:`simulate`).

        Returns
        -------
        Y_sources : array, shape (..., n_sources)
            Every source takes its region's value.
        """
        return np.asarray(Y @ self.member.T.toarray().astype(Y.dtype))

    def to_regions(self, Y):
        """Average source activity over the regions.

        Parameters
        ----------
        Y : array, shape (..., n_sources)
            Activity per source.

        Returns
        -------
        Y_regions : array, shape (..., n_regions)
            The mean over every region's sources.
        """
        Y = np.asarray(Y)
        return np.asarray(Y @ self._region_mean.toarray().astype(Y.dtype))


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
        from mne.utils import _check_dict_keys

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
        from ._patches import _add_noise_at_snr  # (simulation imports us)

        X = self.sensors.project(X)
        snr = rng.uniform(*self.snr_db, n_windows)
        # one SNR per window: its samples and channels as one row
        _add_noise_at_snr(X.reshape(n_windows, -1), bg.reshape(n_windows, -1), snr,
                          self._measure)
        return X, Y


def _random_courses(rng, n, n_times, sfreq):
    """Evoked-like time courses: Gaussian-windowed sines, peak magnitude one.

    Centre in the middle half of the window, Gaussian sd 15-60 ms, 2-12 Hz,
    random phase.
    """
    t = np.arange(n_times) / sfreq
    centre = rng.uniform(0.25, 0.75, (n, 1)) * t[-1]
    sd = rng.uniform(0.015, 0.06, (n, 1))
    freq = rng.uniform(2.0, 12.0, (n, 1))
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    course = np.exp(-0.5 * ((t - centre) / sd) ** 2) * np.cos(
        2 * np.pi * freq * (t - centre) + phase)
    return course / np.abs(course).max(axis=1, keepdims=True)


@fill_doc
class PatchWindowSimulator(_RegionWindows):
    """Windows of EEG from independent source patches in white noise.

    The "patch" training data of SIFNet's comparison :footcite:`SunEtAl2022`:
    1-3 patches per window, grown over the source space like
    :class:`PatchSimulator`'s, each with its own evoked-like time course (a
    Gaussian-windowed sine of 2-12 Hz, sd 15-60 ms, centred in the middle
    half of the window), plus white sensor noise at a random SNR. Targets
    are given per region of the same parcellation as
    :class:`NeuralMassSimulator` makes with the same ``random_state`` (so
    networks trained on either kind of data are alike).

    Parameters
    ----------
    fwd : instance of Forward
        Fixed-orientation EEG forward.
    n_regions : int | None
        Regions of the parcellation (see :class:`NeuralMassSimulator`).
    sfreq : float
        Sampling rate (Hz) of the windows.
    n_times : int
        Samples per window.
    n_patches : int | tuple of int
        Patches per window (range).
    extent : int | tuple of int
        Neighbourhood order of a patch over the source space (range).
    amplitude : float | tuple of float
        Peak moment of a patch's seed (nAm, range).
    snr_db : float | tuple of float
        Ratio (dB) of the patches' EEG power to the noise's, per window.
    random_state : None | int | instance of numpy.random.Generator
        Seed of the parcellation.
    %(noise_cov_sim)s

    References
    ----------
    .. footbibliography::
    """

    def __init__(self, fwd, *, n_regions=None, sfreq=250.0, n_times=128,
                 n_patches=(1, 3), extent=(2, 5), amplitude=(5.0, 10.0),
                 snr_db=(0.0, 15.0), random_state=None, noise_cov=None):
        from ._patches import PatchSimulator  # (simulation imports us)

        rng = _check_random_state(random_state)
        fwd = self._setup(fwd, n_regions, sfreq, n_times, rng, noise_cov=noise_cov)
        self.n_patches = _check_range(n_patches, "n_patches", kind=int, low=1)
        self.snr_db = _check_range(snr_db, "snr_db")
        # one patch per draw; windows combine draws with their time courses
        self._single = PatchSimulator(fwd, n_patches=1, extent=extent,
                                       amplitude=amplitude, average_ref=False,
                                       noise_cov=noise_cov)

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
            Moments (Am) per source, averaged over every region.
        """
        from ._patches import _add_noise_at_snr

        T, n_ch = self.n_times, len(self.ch_names)
        counts = rng.integers(self.n_patches[0], self.n_patches[1] + 1, n_windows)
        window = np.repeat(np.arange(n_windows), counts)
        maps, eeg = self._single._clean(len(window), rng)
        region_maps = (sparse.csr_matrix(maps) @ self._region_mean).tocsr()
        courses = _random_courses(rng, len(window), T, self.sfreq)
        # EEG: every window sums its patches' courses times their EEG
        pick = sparse.csr_matrix((np.ones(len(window)), (window, np.arange(
            len(window)))), shape=(n_windows, len(window)))
        X = np.einsum("pt,pc->ptc", courses, eeg).reshape(len(window), -1)
        X = np.asarray(pick @ X).reshape(n_windows, T, n_ch)
        # targets: only the few regions of each patch are touched
        Y = np.zeros((n_windows, T, self.n_regions), np.float32)
        for j, i in enumerate(window):
            row = region_maps[j]
            Y[i][:, row.indices] += np.outer(courses[j], row.data).astype(np.float32)
        X = self.sensors.project(X)
        noise = rng.standard_normal(X.shape)
        if self.sensors.whitened:  # sensor noise of every channel type's level
            noise = noise @ self.sensors.noise_sqrt().T
        noise = self.sensors.project(noise)
        snr = rng.uniform(*self.snr_db, n_windows)
        _add_noise_at_snr(X.reshape(n_windows, -1), noise.reshape(n_windows, -1), snr,
                          self._measure)
        return X, Y


class _Mixture:
    """Windows from several simulators on one parcellation, mixed per batch.

    Every window of a batch comes from the first simulator with probability
    ``share`` and from the second otherwise; the simulators must share their
    parcellation and window (same ``random_state``, ``n_regions``, ``sfreq``
    and ``n_times``), whose attributes the mixture takes from the first.
    """

    def __init__(self, sims, share):
        first, second = sims
        if not (np.array_equal(first.labels, second.labels)
                and (first.n_times, first.sfreq) == (second.n_times, second.sfreq)):
            raise ValueError("The simulators of a mixture must share their "
                             "parcellation and window.")
        if not 0 <= share <= 1:
            raise ValueError(f"share must be between 0 and 1, got {share}.")
        self.sims, self.share = sims, float(share)
        for name in ("n_times", "sfreq", "labels", "centres", "expansion",
                     "n_regions", "ch_names"):
            setattr(self, name, getattr(first, name))
        self.to_sources = first.to_sources

    def simulate(self, n_windows, rng):
        """Draw ``n_windows`` windows, each from one of the simulators."""
        k = int(rng.binomial(n_windows, self.share))
        parts = [sim.simulate(m, rng) for sim, m in
                 zip(self.sims, (k, n_windows - k), strict=True) if m]
        return (np.concatenate([p[0] for p in parts]),
                np.concatenate([p[1] for p in parts]))


#: Training data of window models (``simulation["kind"]`` of DeepInverse).
WINDOW_SIMULATIONS = ("neural_mass", "patches", "mixed")


def _window_simulator(fwd, kind, params, random_state, noise_cov=None):
    """Return the window simulator of ``DeepInverse(simulation=)`` for ``kind``.

    ``"neural_mass"`` and ``"patches"`` take ``params`` as their parameters;
    ``"mixed"`` shares ``n_regions``, ``sfreq`` and ``n_times`` between both
    and takes each one's own parameters from ``params["neural_mass"]`` and
    ``params["patches"]``, and the share of neural-mass windows from
    ``params["share"]`` (default 0.5).
    """
    from mne.utils import _check_dict_keys, _check_option

    _check_option("simulation['kind']", kind, WINDOW_SIMULATIONS)
    params = dict(params)
    if kind != "mixed":
        cls = NeuralMassSimulator if kind == "neural_mass" else PatchWindowSimulator
        return cls(fwd, random_state=random_state, noise_cov=noise_cov, **params)
    shared = {k: params.pop(k) for k in ("n_regions", "sfreq", "n_times")
              if k in params}
    own = {k: dict(params.pop(k, None) or {}) for k in ("neural_mass", "patches")}
    share = params.pop("share", 0.5)
    _check_dict_keys(params, (), "simulation key(s)", "a mixed simulation "
                     "(n_regions, sfreq, n_times, neural_mass, patches, share)")
    return _Mixture([
        NeuralMassSimulator(fwd, random_state=random_state, noise_cov=noise_cov,
                            **shared, **own["neural_mass"]),
        PatchWindowSimulator(fwd, random_state=random_state, noise_cov=noise_cov,
                             **shared, **own["patches"])], share)
