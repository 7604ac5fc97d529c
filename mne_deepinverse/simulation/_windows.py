# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Window simulators: source patches, mixtures, and the factory of DeepInverse."""

import numpy as np
from mne.utils import _check_dict_keys, _check_option
from scipy import sparse

from .._docs import fill_doc
from .._utils import _check_random_state, _check_range
from ._base import Simulator
from ._neural_mass import NeuralMassSimulator
from ._noise import _add_noise_at_snr
from ._patches import PatchSimulator
from ._regions import _RegionWindows


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


class _Mixture(Simulator):
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

    @property
    def input(self):
        """What a model trained on the data reads: a window (dict)."""
        return self.sims[0].input

    def to_sources(self, Y):
        """Map region activity onto the sources (as the first simulator)."""
        return self.sims[0].to_sources(Y)

    def simulate(self, n_windows, rng):
        """Draw ``n_windows`` windows, each from one of the simulators."""
        k = int(rng.binomial(n_windows, self.share))
        parts = [sim.simulate(m, rng) for sim, m in
                 zip(self.sims, (k, n_windows - k), strict=True) if m]
        return (np.concatenate([p[0] for p in parts]),
                np.concatenate([p[1] for p in parts]))


#: Training data of window models (``simulation["kind"]`` of DeepInverse).
WINDOW_SIMULATIONS = ("neural_mass", "patches", "mixed")


def _check_sim_keys(params, cls):
    """Raise for ``simulation`` keys that ``cls`` does not take (typos)."""
    from inspect import signature

    allowed = sorted(set(signature(cls).parameters) - {
        "fwd", "random_state", "noise_cov", "verbose"})
    _check_dict_keys(params, allowed, "simulation key(s)",
                     f"the parameters of {cls.__name__} (allowed: {allowed})")


def _window_simulator(fwd, kind, params, random_state, noise_cov=None):
    """Return the window simulator of ``DeepInverse(simulation=)`` for ``kind``.

    ``"neural_mass"`` and ``"patches"`` take ``params`` as their parameters;
    ``"mixed"`` shares ``n_regions``, ``sfreq`` and ``n_times`` between both
    and takes each one's own parameters from ``params["neural_mass"]`` and
    ``params["patches"]``, and the share of neural-mass windows from
    ``params["share"]`` (default 0.5).
    """
    _check_option("simulation['kind']", kind, WINDOW_SIMULATIONS)
    params = dict(params)
    if kind != "mixed":
        cls = NeuralMassSimulator if kind == "neural_mass" else PatchWindowSimulator
        _check_sim_keys(params, cls)
        return cls(fwd, random_state=random_state, noise_cov=noise_cov, **params)
    shared = {k: params.pop(k) for k in ("n_regions", "sfreq", "n_times")
              if k in params}
    own = {k: dict(params.pop(k, None) or {}) for k in ("neural_mass", "patches")}
    share = params.pop("share", 0.5)
    _check_dict_keys(params, (), "simulation key(s)", "a mixed simulation "
                     "(n_regions, sfreq, n_times, neural_mass, patches, share)")
    _check_sim_keys(own["neural_mass"], NeuralMassSimulator)
    _check_sim_keys(own["patches"], PatchWindowSimulator)
    return _Mixture([
        NeuralMassSimulator(fwd, random_state=random_state, noise_cov=noise_cov,
                            **shared, **own["neural_mass"]),
        PatchWindowSimulator(fwd, random_state=random_state, noise_cov=noise_cov,
                             **shared, **own["patches"])], share)
