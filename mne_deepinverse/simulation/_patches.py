# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Training and test data: region-grown source patches, noise and SNR.

Samples follow the ConvDip paper :footcite:`HeckerEtAl2021`: 1-5 patches per
sample, each grown from a random seed over a range of neighbourhood orders,
with the seed's moment attenuated over the patch by a Gaussian of the distance
(standard deviation half the patch radius), projected through the forward
model, with noise added at a random SNR and an average reference.

Speed comes from a bank of precomputed patches and their sensor projections:
a batch is one sparse product that picks and weighs bank rows.
"""

from collections import OrderedDict

import mne
import numpy as np
from mne.utils import _check_option, _validate_type, logger, verbose, warn
from scipy import sparse

from .._docs import fill_doc
from .._sensors import Sensors, sensor_gain
from .._utils import (
    _check_fixed_forward,
    _check_random_state,
    _check_range,
    _hash_array,
    _make_info,
    _source_adjacency,
    _source_positions,
    _src_space_ids,
)

_NOISE_KINDS = ("white", "brain")
_BANK_CACHE = OrderedDict()
_BANK_CACHE_SIZE = 16


def _check_sim_range(value, name, must, example, *, integer=False, low=-np.inf,
                     high=np.inf, strict=False):
    """Return the (min, max) of a simulation parameter, or say how to fix it."""
    values = list(value) if isinstance(value, list | tuple | np.ndarray) else [value]
    for v in values:
        _validate_type(v, "int" if integer else "numeric", name,
                       extra=f"or a (min, max) pair of them (e.g. {name}={example})")
    arr = np.asarray(values, dtype=np.float64)
    above = arr > low if strict else arr >= low
    if not (np.isfinite(arr) & above & (arr <= high)).all():
        raise ValueError(
            f"{name} must be {must}, got {value}. Use e.g. {name}={example}."
        )
    return _check_range(value, name, kind=int if integer else float)


def _check_n_samples(n_samples):
    _validate_type(n_samples, "int", "n_samples")
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}; ask for at "
                         "least one sample.")
    return int(n_samples)


def _patch_bank(pos, adjacency, orders):
    """Sparse patches (n_sources * n_orders, n_sources), row = seed, order."""
    n = len(pos)
    step = (adjacency + sparse.eye(n, dtype=np.float32, format="csr")).tocsr()
    step.data[:] = 1
    reach = sparse.eye(n, dtype=np.float32, format="csr")
    blocks = {}
    for order in range(1, orders[1] + 1):
        reach = reach @ step
        reach.data[:] = 1
        if order >= orders[0]:
            blocks[order] = reach.copy()
    if orders[0] == 0:
        blocks[0] = sparse.eye(n, dtype=np.float32, format="csr")
    rows = []
    for order in range(orders[0], orders[1] + 1):
        coo = blocks[order].tocoo()
        rows.append(_gaussian_weights(coo.row, coo.row, coo.col, pos, coo.shape))
    # interleave so that row = seed * n_orders + (order - orders[0])
    n_orders = len(rows)
    bank = sparse.vstack(rows, format="csr")
    perm = (np.arange(n)[:, None] + n * np.arange(n_orders)[None, :]).ravel()
    return bank[perm]


def _gaussian_weights(rows, seeds, members, pos, shape, radius=None):
    """Sparse patches: members weighted by a Gaussian of their seed distance.

    The standard deviation is half the patch radius; ``radius=None`` takes the
    largest member distance of each row.
    """
    dist = np.linalg.norm(pos[members] - pos[seeds], axis=1)
    if radius is None:
        radius = np.zeros(shape[0])
        np.maximum.at(radius, rows, dist)
        radius = radius[rows]
    sd = radius / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(sd > 0, np.exp(-(dist**2) / (2 * sd**2 + 1e-30)), 1.0)
    return sparse.csr_matrix((w.astype(np.float32), (rows, members)), shape=shape)


def _noise_sqrt(noise, gain, ch_names, sensors=None):
    """Square root (n_ch, n_ch) of the noise covariance, unit mean variance.

    With whitened ``sensors`` (MEG models), "white" is the sensors' noise
    covariance (sensor noise per channel type) and every kind is scaled to
    unit mean variance after whitening.
    """
    kinds = list(noise) if isinstance(noise, list | tuple) else [noise]
    whitened = sensors is not None and sensors.whitened
    n_ch = len(ch_names)
    total = np.zeros((n_ch, n_ch))
    for kind in kinds:
        _validate_type(kind, (str, mne.Covariance), "noise")
        if isinstance(kind, mne.Covariance):
            missing = sorted(set(ch_names) - set(kind["names"]))
            if missing:
                raise ValueError(
                    f"The noise covariance lacks channel(s) {missing} of the "
                    "forward; compute it on the same channels."
                )
            idx = [kind["names"].index(c) for c in ch_names]
            data = np.diag(kind.data) if kind["diag"] else kind.data
            cov = data[np.ix_(idx, idx)]
        else:
            _check_option("noise", kind, _NOISE_KINDS)
            # brain noise: independent unit sources everywhere through the gain
            if kind == "brain":
                cov = gain @ gain.T
            else:
                cov = sensors.cov_matrix() if whitened else np.eye(n_ch)
        if whitened:
            white = sensors.W @ cov @ sensors.W.T
            total += cov / np.trace(white) * n_ch
        else:
            total += cov / np.trace(cov) * n_ch
    total /= len(kinds)
    evals, evecs = np.linalg.eigh(total)
    return evecs * np.sqrt(np.clip(evals, 0, None))


@fill_doc
class PatchSimulator:
    """Draw random (EEG, source map) samples from a fixed-orientation forward.

    Parameters
    ----------
    fwd : instance of Forward
        Fixed-orientation EEG, MEG or EEG+MEG forward model on a surface,
        volume or discrete source space (a free-orientation surface forward
        is converted with a logged note); every EEG and MEG channel is used.
    %(sim_params)s
    %(noise_cov_sim)s
    """

    def __init__(
        self,
        fwd,
        *,
        n_patches=(1, 5),
        extent=(2, 5),
        extent_units="order",
        amplitude=(5.0, 10.0),
        snr_db=(6.0, 9.0),
        noise="white",
        average_ref=True,
        dtype=np.float32,
        noise_cov=None,
    ):
        _check_option("extent_units", extent_units, ("order", "mm"))
        self.n_patches = _check_sim_range(
            n_patches, "n_patches", "an int >= 1 or a (min, max) pair of them (a "
            "sample without a source is no training sample)", (1, 5), integer=True,
            low=1,
        )
        if extent_units == "order":
            self.extent = _check_sim_range(
                extent, "extent", "neighbourhood orders between 0 and 20", (2, 5),
                integer=True, low=0, high=20,
            )
        else:
            self.extent = _check_sim_range(
                extent, "extent", "diameters >= 0 mm", (10.0, 30.0), low=0
            )
        self.extent_units = extent_units
        self.amplitude = _check_sim_range(
            amplitude, "amplitude", "> 0 nAm (a zero moment gives all-zero data)",
            (5.0, 10.0), low=0, strict=True,
        )
        self.snr_db = _check_sim_range(snr_db, "snr_db", "finite (dB)", (6.0, 9.0))
        self.average_ref = bool(average_ref)
        self.dtype = np.dtype(dtype)
        if not np.issubdtype(self.dtype, np.floating):
            raise ValueError(
                f"dtype must be a floating-point type, got {self.dtype}, which "
                "would round the data (V, Am) to zero. Use np.float32 or np.float64."
            )
        self.fwd = fwd = _check_fixed_forward(fwd)
        if fwd["nsource"] < 2:
            raise ValueError(
                f"The forward has {fwd['nsource']} source; simulation needs at "
                "least 2 (with one there is nothing to localise and no inactive "
                "source to score against). Use a source space with more sources."
            )
        self.gain, self.ch_names, _ = sensor_gain(fwd)
        if not np.isfinite(self.gain).all():
            raise ValueError("The forward's gain matrix holds NaN or inf values.")
        self.sensors = Sensors.from_forward(fwd, noise_cov)
        self.src = fwd["src"]
        self.pos = _source_positions(fwd)
        self.space_ids = _src_space_ids(fwd["src"])
        self.n_sources = self.gain.shape[1]
        self.noise_sqrt = _noise_sqrt(noise, self.gain, self.ch_names, self.sensors)
        self._tree = None
        if extent_units == "order":
            key = (_hash_array(self.pos, self.gain), self.extent)
            if key not in _BANK_CACHE:
                logger.info(f"    Building a patch bank of orders {self.extent}")
                adj = _source_adjacency(fwd["src"])
                bank = _patch_bank(self.pos, adj, self.extent)
                proj = np.asarray((bank @ self.gain.T.astype(np.float32)), np.float64)
                _BANK_CACHE[key] = (bank, proj)
                while len(_BANK_CACHE) > _BANK_CACHE_SIZE:
                    _BANK_CACHE.popitem(last=False)
            self._bank, self._bank_proj = _BANK_CACHE[key]

    def _draw_patches(self, n_samples, rng):
        k = rng.integers(self.n_patches[0], self.n_patches[1] + 1, n_samples)
        sample_idx = np.repeat(np.arange(n_samples), k)
        n_total = len(sample_idx)
        seeds = rng.integers(0, self.n_sources, n_total)
        amps = rng.uniform(*self.amplitude, n_total) * 1e-9  # nAm -> Am
        if self.extent_units == "order":
            orders = rng.integers(self.extent[0], self.extent[1] + 1, n_total)
        else:
            orders = rng.uniform(*self.extent, n_total)  # diameter in mm
        return sample_idx, seeds, orders, amps

    def _mm_patches(self, seeds, diameters):
        from scipy.spatial import cKDTree

        if self._tree is None:
            self._tree = cKDTree(self.pos)
        radius = diameters / 2000.0  # mm -> m
        members = self._tree.query_ball_point(self.pos[seeds], radius)
        lens = np.array([len(m) for m in members])
        rows = np.repeat(np.arange(len(seeds)), lens)
        cols = np.concatenate(members).astype(np.int64) if len(rows) else rows
        same = self.space_ids[cols] == self.space_ids[seeds[rows]]
        rows, cols = rows[same], cols[same]
        return _gaussian_weights(
            rows, seeds[rows], cols, self.pos, (len(seeds), self.n_sources),
            radius=radius[rows],
        )

    def _bank_rows(self, seeds, orders):
        """Rows of the patch bank for seeds and neighbourhood orders."""
        n_orders = self.extent[1] - self.extent[0] + 1
        return seeds * n_orders + (orders - self.extent[0])

    def _clean(self, n_samples, rng):
        """Noise-free source maps (float32) and EEG (float64, not referenced)."""
        sample_idx, seeds, orders, amps = self._draw_patches(n_samples, rng)
        n_total = len(seeds)
        if self.extent_units == "order":
            rows = self._bank_rows(seeds, orders)
            pick = sparse.csr_matrix(
                (amps, (sample_idx, rows)), shape=(n_samples, self._bank.shape[0])
            )
            Y = (pick.astype(np.float32) @ self._bank).toarray()
            X = pick @ self._bank_proj
        else:
            patches = self._mm_patches(seeds, orders)
            pick = sparse.csr_matrix(
                (amps, (sample_idx, np.arange(n_total))), shape=(n_samples, n_total)
            )
            Y = (pick.astype(np.float32) @ patches).toarray()
            X = Y.astype(np.float64) @ self.gain.T
        return Y, X

    def simulate(self, n_samples, rng):
        """Simulate ``n_samples`` samples with the generator ``rng``.

        Parameters
        ----------
        n_samples : int
            Number of samples (>= 1).
        rng : instance of numpy.random.Generator
            The random generator (advanced in place).

        Returns
        -------
        X : array, shape (n_samples, n_channels)
            EEG in V (MEG in T, T/m).
        Y : array, shape (n_samples, n_sources)
            Source moments in Am.
        """
        n_samples = _check_n_samples(n_samples)
        _validate_type(rng, np.random.Generator, "rng")
        Y, X = self._clean(n_samples, rng)
        noise = rng.standard_normal((n_samples, len(self.ch_names))) @ self.noise_sqrt.T
        snr = rng.uniform(*self.snr_db, n_samples)
        X = _add_noise_at_snr(self._reference(X), self._reference(noise), snr,
                              self._measure)
        return X.astype(self.dtype, copy=False), Y.astype(self.dtype, copy=False)

    @property
    def _measure(self):
        """Where the SNR is measured: None (the data) or the whitened data."""
        return self.sensors.pre if self.sensors.whitened else None

    def _reference(self, X):
        """Apply the average reference (and, for MEG, the projectors) if asked."""
        if self.average_ref:
            X = self.sensors.project(X)
        return X


@verbose
@fill_doc
def simulate_samples(
    fwd,
    n_samples,
    *,
    random_state=None,
    n_patches=(1, 5),
    extent=(2, 5),
    extent_units="order",
    amplitude=(5.0, 10.0),
    snr_db=(6.0, 9.0),
    noise="white",
    average_ref=True,
    dtype=np.float32,
    noise_cov=None,
    verbose=None,
):
    """Simulate single-time-point EEG (or MEG) samples and their source maps.

    Parameters
    ----------
    fwd : instance of Forward
        Fixed-orientation forward model (surface, volume or discrete source
        space); a free-orientation surface forward is converted with a note.
    n_samples : int
        Number of samples.
    %(random_state)s
    %(sim_params)s
    %(noise_cov_sim)s
    %(verbose)s

    Returns
    -------
    X : array, shape (n_samples, n_channels)
        EEG in V (MEG in T and T/m), channels in the order of the forward's
        EEG and MEG channels.
    Y : array, shape (n_samples, n_sources)
        Source moments in Am (non-negative, normal to the cortex).

    See Also
    --------
    PatchSimulator
    simulate_patch_evoked
    mne.simulation.simulate_sparse_stc
    """
    n_samples = _check_n_samples(n_samples)
    sim = PatchSimulator(
        fwd, n_patches=n_patches, extent=extent, extent_units=extent_units,
        amplitude=amplitude, snr_db=snr_db, noise=noise, average_ref=average_ref,
        dtype=dtype, noise_cov=noise_cov,
    )
    rng = _check_random_state(random_state)
    return sim.simulate(n_samples, rng)


def _add_noise_at_snr(X, noise, snr_db, measure=None):
    """Add ``noise`` to the samples ``X`` (in place) at the SNR (dB) of each.

    Numpy arrays or torch tensors (the any-cap training simulates on a GPU).
    The powers are those of the rows, or of ``measure(rows)`` (e.g. the
    whitened data of a MEG model, where every channel type counts by its
    noise).
    """
    Xm, Nm = (X, noise) if measure is None else (measure(X), measure(noise))
    p_sig = (Xm**2).mean(1)
    p_noise = (Nm**2).mean(1)
    p_noise = p_noise + (p_noise == 0)  # all-zero noise adds nothing
    X += noise * ((p_sig / (p_noise * 10 ** (snr_db / 10))) ** 0.5)[:, None]
    return X


def _pink_noise(rng, n_series, n_times):
    """Noise with a 1/f power spectrum along the last axis, unit variance."""
    n_fft = 2 * n_times
    freqs = np.fft.rfftfreq(n_fft)
    amp = np.zeros_like(freqs)
    amp[1:] = 1.0 / np.sqrt(freqs[1:])
    spec = amp * (
        rng.standard_normal((n_series, len(freqs)))
        + 1j * rng.standard_normal((n_series, len(freqs)))
    )
    out = np.fft.irfft(spec, n=n_fft, axis=-1)[:, :n_times]
    out -= out.mean(axis=-1, keepdims=True)
    return out / out.std(axis=-1, keepdims=True)


def _time_course(times):
    """Half a 5 Hz sine from 0 to 100 ms, exactly zero at and beyond its ends."""
    inside = (times > 1e-9) & (times < 0.1 - 1e-9)
    return np.where(inside, np.sin(2 * np.pi * 5 * times), 0.0)


#: Time courses of :func:`simulate_patch_evoked`.
TIME_COURSES = ("half-sine", "erp")


def _erp_course(times, rng):
    """Return an evoked-response-like waveform: a Gaussian-windowed cosine.

    Peak (value one) at 50-150 ms, Gaussian sd 20-50 ms, 2-8 Hz; it decays
    to under 1 % of its peak before 0 s is reached only for the narrower
    draws, as real responses ride on what came before.
    """
    centre = rng.uniform(0.05, 0.15)
    sd = rng.uniform(0.02, 0.05)
    freq = rng.uniform(2.0, 8.0)
    return np.exp(-0.5 * ((times - centre) / sd) ** 2) * np.cos(
        2 * np.pi * freq * (times - centre))


@verbose
@fill_doc
def simulate_patch_evoked(
    fwd,
    *,
    n_patches=(1, 5),
    extent=(2, 5),
    extent_units="order",
    amplitude=(5.0, 10.0),
    snr_db=(6.0, 9.0),
    noise="white",
    n_trials=1,
    sfreq=100.0,
    tmin=-0.1,
    tmax=0.2,
    time_course="half-sine",
    return_epochs=False,
    random_state=None,
    noise_cov=None,
    verbose=None,
):
    """Simulate an evoked response with its true source estimate.

    Every patch follows half a period of a 5 Hz sine (0 to 100 ms, peak at
    50 ms), as in the ConvDip paper :footcite:`HeckerEtAl2021`; before and
    after it there is only noise, so the baseline can be used for a noise
    covariance. With ``time_course="erp"`` the patches follow an
    evoked-response-like waveform instead (a Gaussian-windowed cosine with
    its peak at 50-150 ms, sd 20-50 ms, 2-8 Hz, one draw per evoked).

    Parameters
    ----------
    fwd : instance of Forward
        Fixed-orientation EEG, MEG or EEG+MEG forward model.
    n_patches, extent, extent_units, amplitude : see :func:`simulate_samples`
        Source configuration (one draw for the whole evoked).
    snr_db : float | tuple of float
        SNR of the averaged evoked at the peak (dB, one draw).
    noise : "white" | "pink" | "brain" | instance of Covariance | list
        ``"white"``: independent per channel and time; ``"pink"``: 1/f in
        time, independent across channels; ``"brain"``: 1/f sources all over
        the cortex through the gain (correlated in space and time); a
        covariance: white in time, coloured in space.
    n_trials : int
        Number of trials averaged; each has its own noise, scaled so that the
        average reaches ``snr_db``.
    sfreq : float
        Sampling frequency in Hz; above 10 Hz, so that the source time course
        is sampled.
    tmin, tmax : float
        Time range in s; it must overlap the source time course (0 to 100 ms),
        and a warning says when it leaves out the peak at 50 ms.
    time_course : "half-sine" | "erp"
        The sources' time course (see above).

        .. versionadded:: 0.1
    return_epochs : bool
        Also return the single trials as :class:`mne.EpochsArray`.
    random_state : None | int | instance of numpy.random.Generator
        Seed.
    %(noise_cov_sim)s

        .. versionadded:: 0.1
    %(verbose)s

    Returns
    -------
    evoked : instance of EvokedArray
        The average-referenced evoked (projector applied), in V, baseline
        corrected when ``tmin < 0``.
    stc : instance of SourceEstimate | VolSourceEstimate
        The true source activity (Am).
    epochs : instance of EpochsArray
        The trials (only if ``return_epochs=True``).

    References
    ----------
    .. footbibliography::
    """
    rng = _check_random_state(random_state)
    _validate_type(n_trials, "int", "n_trials")
    if n_trials < 1:
        raise ValueError(f"n_trials must be >= 1, got {n_trials}")
    for name, value in (("sfreq", sfreq), ("tmin", tmin), ("tmax", tmax)):
        _validate_type(value, "numeric", name)
        if not np.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value}.")
    if sfreq <= 0:
        raise ValueError(f"sfreq must be > 0 Hz, got {sfreq}; use e.g. sfreq=100.")
    if tmin > tmax:
        raise ValueError(
            f"tmin must be <= tmax, got tmin={tmin} and tmax={tmax} s; swap them."
        )
    _check_option("time_course", time_course, TIME_COURSES)
    times = np.arange(int(round(tmin * sfreq)), int(round(tmax * sfreq)) + 1) / sfreq
    course = (_time_course(times) if time_course == "half-sine"
              else _erp_course(times, rng))
    if not course.any():
        raise ValueError(
            "No sample of the source time course (half a sine from 0 to 100 ms) "
            f"falls in tmin={tmin}, tmax={tmax} s at sfreq={sfreq} Hz, so the data "
            "would be all zero. Use a window that contains 0-100 ms (e.g. "
            "tmin=-0.1, tmax=0.2) and sfreq > 10 Hz (e.g. 100)."
        )
    if not tmin <= 0.05 <= tmax:
        warn(
            f"The window tmin={tmin}, tmax={tmax} s leaves out the peak of the "
            "source time course (50 ms); the SNR is set at the largest sample in "
            "the window instead. Use tmin <= 0.05 <= tmax to include the peak."
        )
    noise_kinds = list(noise) if isinstance(noise, list | tuple) else [noise]
    for kind in noise_kinds:
        _validate_type(kind, (str, mne.Covariance), "noise")
        if isinstance(kind, str):
            _check_option("noise", kind, ("white", "pink", "brain"))
    sim = PatchSimulator(
        fwd, n_patches=n_patches, extent=extent, extent_units=extent_units,
        amplitude=amplitude, snr_db=snr_db, noise="white", average_ref=True,
        dtype=np.float64, noise_cov=noise_cov,
    )
    fwd, sensors = sim.fwd, sim.sensors
    # one noiseless source map, drawn like the training samples
    y = sim._clean(1, rng)[0][0].astype(np.float64)
    source = y[:, None] * course[None]
    signal = sensors.project((sim.gain @ source).T).T
    n_ch, n_times = signal.shape

    def power(x):  # mean power over channels (whitened for MEG), x (n_ch, ...)
        x = np.moveaxis(x, 0, -1)
        return np.mean((sensors.pre(x) if sensors.whitened else x) ** 2)

    # noise per trial, as (n_trials, n_ch, n_times)
    parts = []
    for kind in noise_kinds:
        if isinstance(kind, str) and kind == "pink":
            part = _pink_noise(rng, n_trials * n_ch, n_times).reshape(
                n_trials, n_ch, n_times
            )
            if sensors.whitened:  # each channel at its type's noise level
                part = np.einsum("ij,tjs->tis", sensors.noise_sqrt(), part)
        elif isinstance(kind, str) and kind == "brain":
            src_noise = _pink_noise(rng, sim.n_sources, n_times * n_trials)
            part = (sim.gain @ src_noise).reshape(n_ch, n_trials, n_times)
            part = part.transpose(1, 0, 2)
        else:
            nsqrt = _noise_sqrt(kind, sim.gain, sim.ch_names, sensors)
            part = np.einsum("ij,tjs->tis", nsqrt, rng.standard_normal(
                (n_trials, n_ch, n_times)))
        part = np.moveaxis(sensors.project(np.moveaxis(part, 1, -1)), -1, 1)
        parts.append(part / np.sqrt(power(np.moveaxis(part, 1, 0))))
    trial_noise = sum(parts) / np.sqrt(len(parts))
    snr = rng.uniform(*sim.snr_db)
    peak = np.argmax(np.abs(course))
    p_sig = power(signal[:, peak])
    p_noise_avg = power(trial_noise.mean(axis=0))
    trial_noise *= np.sqrt(p_sig / (p_noise_avg * 10 ** (snr / 10)))
    trials = signal[None] + trial_noise
    info = _make_info(fwd, sim.ch_names, sfreq)
    if sensors.whitened:  # the SSP projectors the noise covariance was made with
        with info._unlock():
            info["projs"] = [p for p in sensors.info()["projs"]
                             if p["desc"] != "Average EEG reference"]
    baseline = (None, 0) if times[0] < 0 else None
    epochs = mne.EpochsArray(
        trials, info, tmin=times[0], baseline=baseline, verbose=False
    )
    if "eeg" in sensors.ch_types:
        epochs.set_eeg_reference("average", projection=True, verbose=False)
    epochs.apply_proj(verbose=False)
    evoked = epochs.average()
    stc = _make_stc(fwd, source, times[0], 1.0 / sfreq)
    if return_epochs:
        return evoked, stc, epochs
    return evoked, stc


def _make_stc(fwd, data, tmin, tstep):
    src = fwd["src"]
    vertices = [s["vertno"].copy() for s in src]
    cls = {
        "surface": mne.SourceEstimate,
        "mixed": mne.MixedSourceEstimate,
    }.get(src.kind, mne.VolSourceEstimate)
    return cls(data, vertices, tmin=tmin, tstep=tstep, subject=src._subject)
