# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Region-grown source patches and single-sample EEG/MEG (ConvDip's data).

Speed comes from a bank of precomputed patches and their sensor projections:
a batch is one sparse product that picks and weighs bank rows.
"""

from collections import OrderedDict
from typing import NamedTuple

import numpy as np
from mne.utils import _check_option, _validate_type, logger, verbose
from scipy import sparse

from .._docs import fill_doc
from .._sensors import Sensors, sensor_gain
from .._utils import (
    _check_fixed_forward,
    _check_random_state,
    _check_range,
    _hash_array,
    _source_adjacency,
    _source_positions,
    _src_space_ids,
)
from ._base import Simulator
from ._noise import _add_noise_at_snr, _noise_sqrt

_BANK_CACHE = OrderedDict()
_BANK_CACHE_SIZE = 16


class PatchBank(NamedTuple):
    """A simulator's bank of patches and their sensor projections (read-only).

    Row ``seed * n_orders + (order - min_order)`` is the patch grown from
    source ``seed`` over ``order`` neighbourhood orders, with a unit moment at
    the seed (:meth:`PatchSimulator.draw_bank_rows` draws rows).

    Parameters
    ----------
    maps : sparse matrix, shape (n_rows, n_sources)
        The patches' source maps (float32).
    projection : array, shape (n_rows, n_channels)
        Their sensor data (the forward's channels, not referenced).
    """

    maps: sparse.csr_matrix
    """The patches' source maps, shape (n_rows, n_sources)."""
    projection: np.ndarray
    """Their sensor data, shape (n_rows, n_channels)."""


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


@fill_doc
class PatchSimulator(Simulator):
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

    @property
    def bank(self):
        """The patch bank (:class:`PatchBank`; None for extents in mm)."""
        if self.extent_units != "order":
            return None
        return PatchBank(self._bank, self._bank_proj)

    def draw_bank_rows(self, n_samples, rng):
        """Draw the patches of ``n_samples`` samples as rows of :attr:`bank`.

        Parameters
        ----------
        n_samples : int
            Number of samples.
        rng : instance of numpy.random.Generator
            The random generator (advanced as :meth:`simulate` advances it).

        Returns
        -------
        sample_idx : array of int, shape (n_patches,)
            The sample of every patch.
        rows : array of int, shape (n_patches,)
            Its row of the bank.
        amps : array, shape (n_patches,)
            Its seed moment in Am.
        """
        if self.extent_units != "order":
            raise ValueError("Patches of extent_units='mm' have no bank; use "
                             "extent_units='order'.")
        sample_idx, seeds, orders, amps = self._draw_patches(n_samples, rng)
        return sample_idx, self._bank_rows(seeds, orders), amps

    def simulate_clean(self, n_samples, rng):
        """Simulate noise-free samples (the draws of :meth:`simulate`).

        Parameters
        ----------
        n_samples : int
            Number of samples (>= 1).
        rng : instance of numpy.random.Generator
            The random generator (advanced in place).

        Returns
        -------
        X : array, shape (n_samples, n_channels)
            Sensor data (float64, not referenced).
        Y : array, shape (n_samples, n_sources)
            Source moments in Am (float32).
        """
        Y, X = self._clean(_check_n_samples(n_samples), rng)
        return X, Y

    def _clean(self, n_samples, rng):
        """Noise-free source maps (float32) and EEG (float64, not referenced)."""
        if self.extent_units == "order":
            sample_idx, rows, amps = self.draw_bank_rows(n_samples, rng)
            pick = sparse.csr_matrix(
                (amps, (sample_idx, rows)), shape=(n_samples, self._bank.shape[0])
            )
            Y = (pick.astype(np.float32) @ self._bank).toarray()
            X = pick @ self._bank_proj
        else:
            sample_idx, seeds, orders, amps = self._draw_patches(n_samples, rng)
            n_total = len(seeds)
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
    def input(self):
        """What a model trained on the data reads: one sample (dict)."""
        return dict(kind="sample")

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
