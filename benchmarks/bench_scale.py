# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Throughput with more workers: BIDS recordings per minute, training samples/s.

1. A BIDS dataset of ``--n-recordings`` generated EEG recordings (BrainVision,
   64 channels of the BioSemi cap on the template, ``--minutes`` each, events
   every second) is processed by :func:`mne_deepinverse.bids.process_bids`
   (any-cap model, one evoked per condition) with 1 worker, then with 2 (a
   Dask ``LocalCluster``: the same path as a real cluster); recordings per
   minute of each (the template forward is computed once before, as a
   cluster's cache would hold it).
2. A ConvDip for the 31-channel template forward trains for ``--epochs``
   epochs of ``--samples`` simulated samples on 1 process, then with
   ``strategy="ddp"`` on 2 gloo processes (torch.multiprocessing): training
   samples per second and the best validation loss of each.

::

    python benchmarks/bench_scale.py [--n-recordings 12] [--json scale.json]

Measured on this machine as it is (say how many cores it has and what else
ran); not a timed test.
"""

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path


def make_dataset(root, n_recordings, minutes):
    """Write ``n_recordings`` EEG recordings as a BIDS dataset."""
    import mne
    import numpy as np
    from mne_bids import BIDSPath, write_raw_bids

    from mne_deepinverse.datasets import make_template_montage

    montage = mne.channels.make_standard_montage("biosemi64")
    names = montage.ch_names
    tm = make_template_montage()
    keep = [n for n in names if n in tm.ch_names]
    sfreq = 250.0
    for ii in range(n_recordings):
        rng = np.random.default_rng(ii)
        info = mne.create_info(keep, sfreq, "eeg")
        info.set_montage(make_template_montage(keep))
        n = int(minutes * 60 * sfreq)
        data = rng.standard_normal((len(keep), n)) * 5e-6
        onsets = np.arange(sfreq, n - sfreq, sfreq).astype(int)
        pattern = rng.standard_normal(len(keep))[:, None] * np.hanning(50)[None]
        for onset in onsets:
            data[:, onset: onset + 50] += pattern * 1e-5
        raw = mne.io.RawArray(data, info, verbose=False)
        labels = ["a" if k % 2 else "b" for k in range(len(onsets))]
        raw.set_annotations(mne.Annotations(onsets / sfreq, 0.0, labels))
        write_raw_bids(raw, BIDSPath(subject=f"{ii + 1:02d}", task="bench",
                                     datatype="eeg", root=root),
                       allow_preload=True, format="BrainVision", verbose=False)
    return keep


def bench_bids(n_recordings, minutes):
    """Measure recordings per minute with 1 worker and 2 (Dask LocalCluster)."""
    import mne
    from distributed import Client, LocalCluster

    from mne_deepinverse.bids import process_bids
    from mne_deepinverse.datasets import make_template_forward, make_template_info

    root = Path(tempfile.mkdtemp()) / "ds"
    try:
        keep = make_dataset(root, n_recordings, minutes)
        make_template_forward(make_template_info(keep, sfreq=250.0))  # cached
        out = {}
        t0 = time.perf_counter()
        rep = process_bids(root, model="anycap", overwrite=True, verbose=False)
        out["1 worker"] = time.perf_counter() - t0
        assert all(r["status"] == "done" for r in rep), rep
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            client.run(mne.set_log_level, "WARNING")
            t0 = time.perf_counter()
            rep = process_bids(root, model="anycap", overwrite=True, client=client,
                               verbose=False)
            out["2 workers (Dask LocalCluster)"] = time.perf_counter() - t0
        assert all(r["status"] == "done" for r in rep), rep
        return {k: dict(seconds=round(v, 1),
                        recordings_per_minute=round(60 * n_recordings / v, 1))
                for k, v in out.items()}
    finally:
        shutil.rmtree(root.parent, ignore_errors=True)


def _train(rank, world, init, args, out):
    import torch

    from mne_deepinverse import DeepInverse
    from mne_deepinverse.datasets import read_pretrained_forward

    torch.set_num_threads(1 if world > 1 else os.cpu_count())
    if world > 1:
        torch.distributed.init_process_group("gloo", init_method=init, rank=rank,
                                             world_size=world)
    try:
        est = DeepInverse(read_pretrained_forward("convdip"), "convdip",
                          n_epochs=args.epochs, samples_per_epoch=args.samples,
                          random_state=0, progress=False, patience=10**6,
                          strategy="ddp" if world > 1 else "single")
        t0 = time.perf_counter()
        est.fit()
        wall = time.perf_counter() - t0
        if rank == 0:
            tr = est.card_["training"]
            Path(out).write_text(json.dumps(dict(
                fit_seconds=round(wall, 1), train_seconds=tr["train_time_s"],
                samples_seen=tr["samples_seen"], best_val_loss=tr["best_val_loss"],
                samples_per_second=round(tr["samples_seen"] / tr["train_time_s"]))))
    finally:
        if world > 1:
            torch.distributed.destroy_process_group()


def bench_training(args):
    """Training samples per second on 1 and on 2 processes."""
    import torch

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        fname = os.path.join(tmp, "r.json")
        _train(0, 1, None, args, fname)
        out["1 process"] = json.loads(Path(fname).read_text())
        init = Path(tmp, "init").as_uri()
        torch.multiprocessing.spawn(_train, args=(2, init, args, fname), nprocs=2)
        out["2 processes (DDP, gloo)"] = json.loads(Path(fname).read_text())
    return out


def main():
    """Run both measurements and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-recordings", type=int, default=12)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--samples", type=int, default=50_000)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    result = dict(machine=f"{os.cpu_count()} cores",
                  bids=bench_bids(args.n_recordings, args.minutes),
                  training=bench_training(args), settings=vars(args) | dict(
                      json=str(args.json)))
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
