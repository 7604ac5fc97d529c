# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Simulation throughput on the ConvDip forward (31 channels x 5124 sources).

Target: at least 10,000 samples per second on a 2-core machine with the
default (ConvDip paper) settings. Run ``python benchmarks/bench_simulation.py``.

``--neural-mass`` also times the Jansen-Rit simulator
(:class:`~mne_deepinverse.simulation.NeuralMassSimulator`, 1000 regions):
building its banks once, then windows of EEG per second.
"""

import argparse
import json
import os
import platform
import time

import mne
import numpy as np
from tqdm import tqdm

from mne_deepinverse.datasets import read_pretrained_forward
from mne_deepinverse.simulation import PatchSimulator

SETTINGS = {
    "default (1-5 patches, orders 2-5, white noise)": {},
    "brain + white noise": {"noise": ["brain", "white"]},
    "1-10 patches, orders 2-7": {"n_patches": (1, 10), "extent": (2, 7)},
    "extent 20-60 mm": {"extent": (20, 60), "extent_units": "mm"},
}


def main():
    """Measure the simulation rate of every noise kind."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default=None, help="save results here")
    parser.add_argument("--neural-mass", action="store_true",
                        help="also time the neural-mass windows")
    args = parser.parse_args()
    mne.set_log_level("WARNING")
    fwd = read_pretrained_forward("convdip")
    results = {}
    for name, params in SETTINGS.items():
        sim = PatchSimulator(fwd, **params)  # bank built (and cached) here
        rng = np.random.default_rng(0)
        sim.simulate(1000, rng)  # warm-up
        best = 0.0
        for _ in range(args.repeats):
            n_done = 0
            t0 = time.perf_counter()
            bar = tqdm(total=args.n_samples, desc=name, unit="sample", leave=False)
            with bar:
                while n_done < args.n_samples:
                    n = min(args.batch, args.n_samples - n_done)
                    sim.simulate(n, rng)
                    n_done += n
                    bar.update(n)
            best = max(best, n_done / (time.perf_counter() - t0))
        results[name] = best
        print(f"{name:<48} {best:>10,.0f} samples/s")
    neural_mass = bench_neural_mass(fwd, args) if args.neural_mass else None
    info = dict(
        neural_mass=neural_mass,
        machine=platform.processor() or platform.machine(),
        cores=os.cpu_count(),
        n_channels=len(fwd["info"]["ch_names"]),
        n_sources=fwd["nsource"],
        samples_per_s=results,
    )
    target = results["default (1-5 patches, orders 2-5, white noise)"]
    print(f"Default rate {target:,.0f} samples/s on {os.cpu_count()} cores "
          f"(target >= 10,000): {'PASS' if target >= 10_000 else 'FAIL'}")
    if args.json:
        with open(args.json, "w") as fid:
            json.dump(info, fid, indent=2)


def bench_neural_mass(fwd, args):
    """Time the neural-mass banks and windows (128 samples at 250 Hz)."""
    from mne_deepinverse.simulation import NeuralMassSimulator

    t0 = time.perf_counter()
    sim = NeuralMassSimulator(fwd, random_state=0, progress=True)
    t_banks = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    sim.simulate(64, rng)  # warm-up
    best = 0.0
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        for _ in tqdm(range(20), desc="neural-mass windows", leave=False):
            sim.simulate(64, rng)
        best = max(best, 20 * 64 / (time.perf_counter() - t0))
    n_regions = sim.member.shape[1]
    print(f"Neural mass ({n_regions} regions, {len(sim._events)} spiking regions "
          f"in the bank): banks {t_banks:.0f} s, {best:,.0f} windows/s of "
          f"{sim.n_times} samples ({best * sim.n_times:,.0f} samples/s)")
    return dict(n_regions=n_regions, banks_s=t_banks, windows_per_s=best,
                n_times=sim.n_times, sfreq=sim.sfreq)


if __name__ == "__main__":
    main()
