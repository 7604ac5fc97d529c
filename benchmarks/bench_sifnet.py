# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""SIFNet's comparison on our template: neural-mass vs patch training data.

Sun et al. (2022) found that a network trained on independent patches in
white noise failed on data whose background came from coupled neural masses,
while one trained on neural-mass data worked on both. This script repeats
the comparison on the template without the inverse crime:

- models: a SIFNet trained on neural-mass windows (``--nmm``) and one
  trained on patch windows (``--patches``), with the same budget
  (``python tools/train_pretrained.py sifnet-nmm --out DIR``, likewise
  ``sifnet-patches``), and the shipped ``sifnet``, trained on both
  (``--mixed``);
- test data from the alternative generative model (oct6 sources,
  conductivities (0.332, 0.0113, 0.332) S/m, electrodes moved by N(0, 2 mm)):
  neural-mass windows of a network on the AGM's own parcellation whose input
  noise is perturbed (``p_sd`` x 1.5, ``p_mean`` 200 instead of 220), and
  patch windows in white noise; truth at each window's peak sample, mapped
  onto the template's sources (5-NN, energy kept);
- MNE's sLORETA and eLORETA (``make_inverse_operator`` on the template's
  free-orientation forward, noise covariance of each test set's noise: the
  neural-mass background, or white), scored at the same sample.

Scores per window at its peak: localisation error (distance between the
maxima, mm), concordance (the estimated maximum lies on a truly active
source: truth >= 10 % of its maximum), AUC (close/far).

Run: ``python benchmarks/bench_sifnet.py --nmm DIR/sifnet-nmm.onnx --patches
DIR/sifnet-patches.onnx --n-windows 300 --out-dir bench_sifnet``.
"""

import argparse
import json
import time
from pathlib import Path

import mne
import numpy as np
from tqdm.auto import tqdm

from mne_deepinverse import read_deep_inverse_model
from mne_deepinverse._load import load_model
from mne_deepinverse._utils import _make_info
from mne_deepinverse.agm import make_agm_forward, map_to_sources
from mne_deepinverse.baselines import apply_baseline, make_baseline_operator
from mne_deepinverse.datasets import read_pretrained_forward
from mne_deepinverse.metrics import evaluate, summarise
from mne_deepinverse.simulation import NeuralMassSimulator, PatchWindowSimulator

#: The perturbed input noise of the neural-mass test data.
PERTURBED = dict(p_sd=1.5 * 58.0, p_mean=200.0)
BASELINES = ("sLORETA", "eLORETA")


def _test_sets(fwd_agm, model, n_windows, seed):
    """Neural-mass and patch windows from the AGM, at the model's window."""
    inp = model.input
    common = dict(n_times=int(inp["n_times"]), sfreq=float(inp["sfreq"]))
    nmm = NeuralMassSimulator(fwd_agm, n_runs=24, params=PERTURBED,
                              random_state=seed, progress=True, **common)
    patches = PatchWindowSimulator(fwd_agm, random_state=seed, **common)
    out = {}
    for name, sim in (("neural mass", nmm), ("patches", patches)):
        X, Y = sim.simulate(n_windows, np.random.default_rng(seed + 1))
        peak = np.abs(Y).sum(axis=2).argmax(axis=1)
        truth = sim.to_sources(Y[np.arange(n_windows), peak])
        noise_rng = np.random.default_rng(seed + 2)
        if name == "neural mass":
            bg = sim.background(100, noise_rng).reshape(-1, X.shape[-1])
        else:
            bg = noise_rng.standard_normal((5000, X.shape[-1]))
        bg = bg - bg.mean(axis=1, keepdims=True)
        out[name] = dict(X=X, peak=peak, truth=truth, noise=bg)
    return out


def _noise_cov(noise, info):
    """Return the test set's noise covariance (its shape is what the solvers use)."""
    data = np.cov(noise.T)
    return mne.Covariance(data, info["ch_names"], [], info["projs"], len(noise))


def main():
    """Run the comparison and write its table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nmm", required=True,
                        help="SIFNet trained on neural-mass data (.onnx)")
    parser.add_argument("--patches", required=True,
                        help="SIFNet trained on patch data (.onnx)")
    parser.add_argument("--mixed", default="sifnet",
                        help="SIFNet trained on both (default: the shipped "
                             "'sifnet'; 'none' leaves it out)")
    parser.add_argument("--n-windows", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", type=Path, default=Path("bench_sifnet"))
    args = parser.parse_args()
    models = {"SIFNet (neural-mass data)": load_model(args.nmm),
              "SIFNet (patch data)": read_deep_inverse_model(args.patches)}
    if args.mixed != "none":
        models["SIFNet (both, shipped)" if args.mixed == "sifnet"
               else "SIFNet (both)"] = load_model(args.mixed)
    first = next(iter(models.values()))
    for model in models.values():
        if model.input != first.input:
            raise SystemExit("Both models must read the same windows.")
    fwd = read_pretrained_forward("convdip")
    fwd_free = read_pretrained_forward("convdip", fixed=False)
    for model in models.values():
        model.bind(fwd)  # raises if the forward is not the models'
    ch_names = fwd["info"]["ch_names"]
    t0 = time.perf_counter()
    fwd_agm = make_agm_forward(ch_names, electrode_jitter=2.0,
                               random_state=args.seed)
    sets = _test_sets(fwd_agm, first, args.n_windows, args.seed)
    pos, pos_agm = fwd["source_rr"], fwd_agm["source_rr"]
    blank = mne.EvokedArray(np.zeros((len(ch_names), 1)),
                            _make_info(fwd, ch_names, first.input["sfreq"]),
                            verbose=False)
    blank.set_eeg_reference(projection=True, verbose=False)
    info = blank.info
    rows, records = [], {}
    for set_name, data in sets.items():
        truth = np.abs(map_to_sources(data["truth"], pos_agm, pos))
        idx = np.arange(len(truth))
        maps = {}
        for name, model in models.items():
            maps[name] = np.concatenate([
                model.predict(data["X"][k:k + 50])[idx[k:k + 50] - k,
                                                    data["peak"][k:k + 50]]
                for k in range(0, len(truth), 50)])
        cov = _noise_cov(data["noise"], info)
        inv = make_baseline_operator(info, fwd_free, "sLORETA", noise_cov=cov)
        for method in BASELINES:
            est = []
            for k in tqdm(idx, desc=f"{method} on {set_name}"):
                x = data["X"][k, data["peak"][k]][:, None]
                ev = mne.EvokedArray(x, info, verbose=False)
                est.append(apply_baseline(ev, fwd_free, method, operator=inv)
                           .data[:, 0])
            maps[method] = np.array(est)
        for name, est in maps.items():
            scores = evaluate(truth, np.abs(est), pos, metrics=("auc", "mle"))
            top = np.abs(est).argmax(axis=1)
            concordant = truth[idx, top] >= 0.1 * truth.max(axis=1)
            (q25, med, q75), n = summarise(scores["mle"])
            auc = np.median(scores["auc"])
            records[f"{set_name} | {name}"] = dict(
                le_mm=[float(q25), float(med), float(q75)],
                concordance=float(concordant.mean()), auc=float(auc), n=int(n))
            rows.append(f"| {set_name} | {name} | {med:.1f} [{q25:.1f}-{q75:.1f}] | "
                        f"{100 * concordant.mean():.0f} % | {auc:.3f} |")
    table = "\n".join([
        "| test data (AGM) | method | localisation error mm, median [IQR] | "
        "concordance | AUC |", "| --- | --- | --- | --- | --- |", *rows])
    print(table)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "sifnet_comparison.md").write_text(table + "\n")
    (args.out_dir / "sifnet_comparison.json").write_text(json.dumps(dict(
        records=records, n_windows=args.n_windows, seed=args.seed,
        perturbed=PERTURBED, models={k: m.card["training"].get("data")
                                     for k, m in models.items()},
        seconds=time.perf_counter() - t0), indent=1))


if __name__ == "__main__":
    main()
