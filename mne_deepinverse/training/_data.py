# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Training data: batches drawn afresh every epoch, and a validation set.

:class:`TrainingData` is a torch :class:`~torch.utils.data.IterableDataset`
of whole batches. Each epoch, each data-loader worker draws its share of the
epoch's batches from a random stream of its own, seeded by ``(seed, epoch,
part)``: the same seed gives the same batches, however many epochs ran
before, on any device. In a distributed run every process (rank) draws its
share of every batch (``batch_size / world_size`` samples), so an epoch has
the same steps and the same global batches' size on one process or many.
"""

import numpy as np
import torch
from mne.utils import _validate_type

from .._checks import _check_active
from ..simulation import PatchSimulator
from ..simulation._regions import _RegionWindows
from ..simulation._windows import _check_sim_keys, _window_simulator


def _rank():
    """Return the process's rank and the number of processes (1 outside DDP)."""
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class TrainingData(torch.utils.data.IterableDataset):
    """Training batches ``(X, Y)`` drawn on the fly, and a validation set.

    Parameters
    ----------
    draw : callable
        ``draw(n, rng)`` returns a batch of ``n`` samples ``(X, Y)`` (numpy
        arrays or tensors) drawn with the numpy generator ``rng``: a
        simulator's ``simulate``, or rows of given arrays.
    X_val, Y_val : array
        The held-out validation set.
    steps_per_epoch : int
        Batches per epoch (over all processes and workers).
    batch_size : int
        Samples per batch.
    seed : int
        Seed of the batches' random streams.
    source_pos : array, shape (n_outputs, 3)
        Positions (m) of what the network outputs (sources or regions), for
        distance-based losses.
    source : str
        What the data are, in words (the model card's ``training["data"]``).

    Notes
    -----
    Batches are whole: iterate it directly, or through
    ``torch.utils.data.DataLoader(data, batch_size=None, num_workers=k)``.
    Call :meth:`set_epoch` before every epoch.
    """

    def __init__(self, draw, X_val, Y_val, *, steps_per_epoch, batch_size, seed,
                 source_pos, source="simulated on the fly"):
        super().__init__()
        if not callable(draw):
            raise TypeError(f"draw must be callable draw(n, rng), got {draw!r}.")
        for name, value in (("steps_per_epoch", steps_per_epoch),
                            ("batch_size", batch_size)):
            _validate_type(value, "int", name)
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}.")
        self.draw = draw
        self.X_val, self.Y_val = X_val, Y_val
        self.steps_per_epoch = int(steps_per_epoch)
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.source_pos = np.asarray(source_pos, np.float64)
        self.source = source
        self.epoch = 0

    @classmethod
    def from_simulator(cls, sim, *, n_val, steps_per_epoch, batch_size, seeds,
                       source_pos, source="simulated on the fly"):
        """Return data simulated on the fly by a simulator (and its validation set).

        ``sim`` has ``simulate(n, rng)``
        (:class:`~mne_deepinverse.simulation.Simulator`); ``seeds`` are the
        validation set's and the batches' seeds; ``source_pos`` the positions
        of what its maps hold (sources or regions).
        """
        X_val, Y_val = sim.simulate(n_val, np.random.default_rng(seeds[0]))
        return cls(sim.simulate, X_val, Y_val, steps_per_epoch=steps_per_epoch,
                   batch_size=batch_size, seed=seeds[1], source_pos=source_pos,
                   source=source)

    @classmethod
    def from_arrays(cls, X, Y, *, n_val, batch_size, seeds, source_pos):
        """Return given samples: validation rows held out, batches drawn from the rest.

        At most a tenth of the rows (at least one) are held out; an epoch is
        one pass's worth of batches of the others, drawn with replacement.
        """
        perm = np.random.default_rng(seeds[0]).permutation(len(X))
        n_val = max(1, min(n_val, len(X) // 10))
        X_tr, Y_tr = X[perm[n_val:]], Y[perm[n_val:]]

        def draw(n, rng):
            idx = rng.integers(0, len(X_tr), n)
            return X_tr[idx], Y_tr[idx]

        return cls(draw, X[perm[:n_val]], Y[perm[:n_val]],
                   steps_per_epoch=max(1, len(X_tr) // batch_size),
                   batch_size=batch_size, seed=seeds[1], source_pos=source_pos,
                   source="given arrays")

    def set_epoch(self, epoch):
        """Set the epoch whose batches are drawn next."""
        self.epoch = int(epoch)

    def _part(self):
        """Return this process's rank, processes, worker, workers (DataLoader)."""
        info = torch.utils.data.get_worker_info()
        worker, n_workers = (0, 1) if info is None else (info.id, info.num_workers)
        return (*_rank(), worker, n_workers)

    def __iter__(self):
        """Yield this process's and worker's batches of the epoch.

        Every process (rank) gets every step's share of the batch,
        ``ceil(batch_size / world_size)`` samples (the gradients averaged
        over the processes are then those of one batch of ``batch_size``);
        the steps are shared among its data-loader workers.
        """
        rank, world, worker, n_workers = self._part()
        rng = np.random.default_rng([self.seed, self.epoch, rank, worker])
        size = -(-self.batch_size // world)
        for _ in range(worker, self.steps_per_epoch, n_workers):
            yield self.draw(size, rng)

    def __len__(self):
        """Batches of one epoch (over all processes)."""
        return self.steps_per_epoch


def sample_data(fwd, meta, *, simulation, noise_cov, X, Y, n_val, batch_size,
                steps_per_epoch, seeds, sim_seed):
    """Return the training data of a network that reads one time sample.

    Patches simulated on the fly (:class:`~mne_deepinverse.simulation.
    PatchSimulator`, the ConvDip paper's data), or given (checked) samples.
    Sets the card's ``input``.

    Returns
    -------
    data : TrainingData
        The batches and the validation set (2000 samples unless ``n_val``).
    inputs : dict
        Further arrays the network's ``build`` takes (none).
    to_sources : None
        The maps are on the sources already.
    """
    meta["input"] = dict(kind="sample")
    n_val = 2000 if n_val is None else n_val
    pos = np.asarray(meta["source_rr"])
    if X is None:
        _check_sim_keys(simulation, PatchSimulator)
        sim = PatchSimulator(fwd, noise_cov=noise_cov, **simulation)
        data = TrainingData.from_simulator(
            sim, n_val=n_val, steps_per_epoch=steps_per_epoch,
            batch_size=batch_size, seeds=seeds, source_pos=pos)
        _check_active(
            data.Y_val, "The simulated validation set", f"Check simulation="
            f"{simulation}: every sample needs n_patches >= 1 and a positive "
            "amplitude.",
        )
    else:
        data = TrainingData.from_arrays(X, Y, n_val=n_val, batch_size=batch_size,
                                        seeds=seeds, source_pos=pos)
    return data, {}, None


def window_data(fwd, meta, *, simulation, noise_cov, X, Y, n_val, batch_size,
                steps_per_epoch, seeds, sim_seed):
    """Return the training data of a network that reads windows of samples.

    Windows are simulated by a neural-mass network (``simulation["kind"] =
    "neural_mass"``, the default), by independent patches (``"patches"``) or
    both (``"mixed"``), or given (checked windows, their maps averaged over
    the regions of a parcellation); the network predicts per region. Sets the
    card's ``input`` and ``regions``.

    Returns
    -------
    data : TrainingData
        The batches and the validation set (256 windows unless ``n_val``).
    inputs : dict
        The regions' expansion onto the sources (``build`` keeps it for the
        export).
    to_sources : callable
        Maps region activity onto the sources.
    """
    params = dict(simulation)
    kind = params.pop("kind", "neural_mass")
    n_val = 256 if n_val is None else n_val
    if X is None:
        sim = _window_simulator(fwd, kind, params, sim_seed, noise_cov)
        data = TrainingData.from_simulator(
            sim, n_val=n_val, steps_per_epoch=steps_per_epoch,
            batch_size=batch_size, seeds=seeds, source_pos=sim.centres,
            source=f"simulated on the fly ({kind})")
    else:
        sim = _RegionWindows()
        sim._setup(fwd, params.get("n_regions"), params.get("sfreq", 250.0),
                   X.shape[1], np.random.default_rng(sim_seed))
        X, Y = X.astype(np.float32), sim.to_regions(Y).astype(np.float32)
        data = TrainingData.from_arrays(X, Y, n_val=n_val, batch_size=batch_size,
                                        seeds=seeds, source_pos=sim.centres)
    _check_active(
        np.abs(data.Y_val).max(axis=1), "The validation set", "Every window "
        "needs an active source (check simulation=, or drop empty windows).")
    meta["input"] = sim.input
    meta["regions"] = dict(n_regions=int(sim.n_regions), labels=sim.labels.tolist())
    return data, dict(expansion=sim.expansion), sim.to_sources


#: How the training data of a network are made, by what it reads (its
#: backend spec's ``input_kind``).
TRAINING_DATA = dict(sample=sample_data, window=window_data)
