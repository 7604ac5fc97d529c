# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""The training loop shared by all backends (torch)."""

import datetime
import io
import os
import platform
import time
from logging import INFO
from pathlib import Path

import numpy as np
import torch
from mne.utils import _check_option, logger
from tqdm.auto import tqdm

from .._preprocessing import normalise_torch
from ..backends.losses import get_loss


def normalise_sources(y):
    """Magnitudes scaled to a maximum of 1 per map (all-zero maps stay zero).

    A window of maps ``(n, n_times, n_sources)`` is scaled by one maximum,
    that of the whole window, as its EEG is (relative amplitudes survive).
    """
    y = y.abs()
    peak = y.flatten(1).amax(dim=1).clamp_min(1e-30)
    return y / peak.view((-1,) + (1,) * (y.dim() - 1))


def _flat_loss(loss_fn):
    """Return the loss on one row per sample (a window's maps as one long map)."""
    def flat(pred, target):
        return loss_fn(pred.flatten(1), target.flatten(1))
    return flat


def fit_network(
    net,
    data,
    *,
    n_epochs,
    learning_rate,
    loss,
    patience,
    seed,
    progress=True,
    normalise_input=True,
    max_time_s=None,
    target_transform=None,
    whitener=None,
    num_workers=0,
    strategy="single",
    checkpoint=None,
    normalise_target=True,
    weight_decay=0.0,
):
    """Train ``net`` on ``data`` with Adam, a plateau schedule and early stopping.

    The one training loop of every network (``DeepInverse.fit``, its
    any-sensor fit and ``tools/train_anycap.py``). Targets are source
    magnitudes; the input normalisation divides by the signed peak, so the
    network sees inward and outward currents alike and the amplitude
    rescaling gives the sign. The network trains on the device it is on.

    Parameters
    ----------
    net : torch.nn.Module
        The network, on the training device.
    data : TrainingData
        The batches (drawn afresh every epoch) and the validation set:
        samples ``(n, n_channels)`` and maps ``(n, n_outputs)``, or windows
        ``(n, n_times, n_channels)`` and ``(n, n_times, n_outputs)`` (a
        window's maps are one target: normalised together, one loss term).
    n_epochs : int
        Largest number of epochs.
    learning_rate : float
        Initial Adam learning rate (halved when the validation loss stalls).
    loss : str
        Loss name (see :mod:`mne_deepinverse.backends.losses`).
    patience : int
        Epochs without validation improvement before stopping.
    seed : int
        Seed of torch's generator (dropout, shuffles inside the network).
    progress : bool
        Show a progress bar (when MNE's log level includes INFO).
    normalise_input : bool
        Apply the input pre-processing to ``X`` (False when the batches are
        network inputs already, e.g. an any-cap model's grid images).
    max_time_s : float | None
        Wall-clock budget: no epoch is started that would, at the mean epoch
        time so far, end after it.
    target_transform : callable | None
        Applied to the (normalised) training targets, to match what the
        network outputs in training mode (e.g. time-averaged windows);
        validation runs in eval mode on the targets as they are.
    whitener : array, shape (n_channels, n_channels) | None
        The whitener that replaces the average reference in the input
        pre-processing (models that read MEG).
    num_workers : int
        Data-loader processes drawing the batches (0: this process).
    strategy : "single" | "ddp"
        Train on one device, or data-parallel over the processes of an
        initialised :mod:`torch.distributed` group (e.g. launched with
        ``torchrun``): the network is wrapped in
        :class:`~torch.nn.parallel.DistributedDataParallel`, every process
        draws its share of every batch (:class:`TrainingData`),
        the gradients are averaged, and only the first process shows
        progress. Every process ends with the same network.
    checkpoint : path-like | None
        A file in which the training state is saved after every epoch (by
        the first process, through a temporary file and a rename): the
        network, the optimiser and its schedule, the best network so far,
        the losses and torch's random state. If the file exists, training
        resumes after its last epoch and ends with the network an
        uninterrupted run gives (the batches of every epoch are drawn from
        the epoch's own seed); a state of another training (other learning
        rate, loss, seed, patience or network) is refused. The file is
        removed once training ends.

    weight_decay : float
        Decoupled weight decay (AdamW); 0: Adam.
    normalise_target : bool
        Train on source magnitudes scaled to a peak of 1 per map (True), or
        on the targets as they are (False: e.g. BOLD signal changes, with
        ``loss="mse"``).

    Returns
    -------
    record : dict
        Training record: epochs, samples seen, time, losses per epoch, the
        machine (and GPU) it ran on and the date.
    """
    _check_option("strategy", strategy, ("single", "ddp"))
    torch.manual_seed(seed)
    model, rank, world = net, 0, 1
    if strategy == "ddp":
        dist = torch.distributed
        if not (dist.is_available() and dist.is_initialized()):
            raise ValueError(
                "strategy='ddp' trains over the processes of a torch.distributed "
                "group, but none is initialised: launch the script with torchrun "
                "and call torch.distributed.init_process_group(), or use "
                "strategy='single'.")
        rank, world = dist.get_rank(), dist.get_world_size()
        device = next(net.parameters()).device
        model = torch.nn.parallel.DistributedDataParallel(
            net, device_ids=[device.index] if device.type == "cuda" else None)
    loss_fn = _flat_loss(get_loss(loss, data.source_pos))
    opt = (torch.optim.AdamW(model.parameters(), lr=learning_rate,
                             weight_decay=weight_decay) if weight_decay > 0
           else torch.optim.Adam(model.parameters(), lr=learning_rate))
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, factor=0.5, patience=max(1, patience // 2)
    )
    device = next(net.parameters()).device

    def tensor(a):
        return torch.as_tensor(a, dtype=torch.float32).to(device)

    white_t = None if whitener is None else tensor(np.asarray(whitener).T)

    def prepare(x):
        return normalise_torch(x, white_t) if normalise_input else x

    def target(y):
        return normalise_sources(y) if normalise_target else y

    Xv = prepare(tensor(data.X_val))
    Yv = target(tensor(data.Y_val))
    loader = torch.utils.data.DataLoader(data, batch_size=None,
                                         num_workers=num_workers)
    best, best_state, bad_epochs = np.inf, None, 0
    history = dict(train_loss=[], val_loss=[], lr=[])
    n_seen, first, done_s = 0, 0, 0.0
    ckpt = _TrainingCheckpoint(checkpoint, net, dict(
        learning_rate=float(learning_rate), loss=loss, seed=int(seed),
        weight_decay=float(weight_decay),
        patience=int(patience), world=world))
    state = ckpt.load(device)
    if state is not None:
        net.load_state_dict(state["net"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        torch.set_rng_state(state["rng"])
        best, best_state, bad_epochs = state["best"], state["best_state"], \
            state["bad_epochs"]
        history, n_seen, done_s = state["history"], state["n_seen"], state["time_s"]
        first = len(history["val_loss"])
        logger.info(f"    Resuming training after epoch {first} ({checkpoint})")
    t0 = time.perf_counter() - done_s
    stopped = state is not None and state["stopped"]
    bar = tqdm(range(first, n_epochs if not stopped else first),
               desc="Training (epochs)", unit="epoch", initial=first,
               total=n_epochs,
               disable=not (progress and rank == 0
                            and logger.getEffectiveLevel() <= INFO))
    for epoch in bar:
        data.set_epoch(epoch)
        model.train()
        total, steps = 0.0, 0
        for X, Y in loader:
            x = prepare(tensor(X))
            y = target(tensor(Y))
            if target_transform is not None:
                y = target_transform(y)
            opt.zero_grad(set_to_none=True)
            batch_loss = loss_fn(model(x), y)
            batch_loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
            total += float(batch_loss.detach())
            n_seen += len(X)
            steps += 1
        net.eval()
        with torch.no_grad():
            val = float(loss_fn(net(Xv), Yv))
        history["train_loss"].append(total / max(steps, 1))
        history["val_loss"].append(val)
        history["lr"].append(opt.param_groups[0]["lr"])
        sched.step(val)
        bar.set_postfix(train=f"{total / max(steps, 1):.4f}", val=f"{val:.4f}")
        if val < best - 1e-6:
            best, bad_epochs = val, 0
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        else:
            bad_epochs += 1
        stop = bad_epochs >= patience
        if stop:
            logger.info(f"    Early stopping after epoch {epoch + 1}")
        elapsed = time.perf_counter() - t0
        if (not stop and max_time_s is not None
                and elapsed * (epoch + 2) / (epoch + 1) > max_time_s):
            logger.info(f"    Time budget reached after epoch {epoch + 1}")
            stop = True
        if rank == 0:
            ckpt.save(dict(
                net=net.state_dict(), opt=opt.state_dict(), sched=sched.state_dict(),
                rng=torch.get_rng_state(), best=best, best_state=best_state,
                bad_epochs=bad_epochs, history=history, n_seen=n_seen,
                time_s=elapsed, stopped=stop))
        if stop:
            break
    bar.close()
    if world > 1:  # the samples every process saw
        seen = torch.tensor([n_seen], dtype=torch.float64, device=device)
        torch.distributed.all_reduce(seen)
        n_seen = int(seen.item())
    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    if rank == 0:
        ckpt.remove()
    return dict(
        epochs=len(history["val_loss"]),
        samples_seen=n_seen,
        train_time_s=time.perf_counter() - t0,
        best_val_loss=best,
        history=history,
        machine=_machine(device),
        date=datetime.date.today().isoformat(),
    )


class _TrainingCheckpoint:
    """The training state in a file (torch.save), so that training resumes."""

    def __init__(self, fname, net, settings):
        self.fname = None if fname is None else Path(fname)
        self.settings = dict(settings, shapes={
            k: list(v.shape) for k, v in net.state_dict().items()})

    def load(self, device):
        """Return the saved state (None without a file)."""
        if self.fname is None or not self.fname.exists():
            return None
        try:
            state = torch.load(self.fname, map_location=device, weights_only=True)
            saved = state["settings"]
        except Exception as exc:
            raise ValueError(
                f"The training checkpoint {self.fname} cannot be read ({exc}). "
                "Remove it to train from the start.") from None
        differ = sorted(k for k in set(saved) | set(self.settings)
                        if saved.get(k) != self.settings.get(k))
        if differ:
            raise ValueError(
                f"The training checkpoint {self.fname} is of another training "
                f"(its {', '.join(differ)} differ). Remove it, or train with its "
                "settings to resume it.")
        return state

    def save(self, state):
        """Write the state (atomically)."""
        if self.fname is None:
            return
        from .._model import _write_atomic

        self.fname.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        torch.save(dict(state, settings=self.settings), buf)
        _write_atomic(self.fname, buf.getvalue())

    def remove(self):
        """Remove the file once training has ended."""
        if self.fname is not None:
            self.fname.unlink(missing_ok=True)


def _machine(device):
    cpu = f"{platform.machine()} ({os.cpu_count()} cores)"
    if device.type == "cuda":
        cpu += f", GPU {torch.cuda.get_device_name(device)}"
    return f"{cpu}, torch {torch.__version__}"


def card_training_record(record):
    """Return the model card's entries for a training ``record`` of fit_network.

    Epochs, samples seen, time, best and per-epoch validation losses, the
    machine (and GPU) and torch version, and the date of the training.
    """
    return dict(
        epochs=record["epochs"], samples_seen=record["samples_seen"],
        train_time_s=round(record["train_time_s"], 1),
        best_val_loss=record["best_val_loss"],
        val_loss=record["history"]["val_loss"],
        machine=record["machine"], date=record["date"],
    )
