# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Fine-tuning the any-cap model against training from scratch.

For a cap the shipped models never saw (default: ``mgh60``, the 60-channel
Neuromag EEG cap of MNE's "sample" recording) on the template, this script

- trains ConvDips for the cap from scratch (``DeepInverse(fwd, "convdip")``)
  and fine-tunes the any-cap model for it (``warm_start="anycap"``), each
  with growing budgets (epochs of fresh simulated samples), timing every fit
  on this machine;
- scores every model, and the any-cap model as shipped (no training), with
  the benchmark: inverse-crime-free AGM test data, single sources and 1-10
  sources, against MNE's eLORETA, dSPM and sLORETA in the same run.

It writes ``finetune.json`` (times, medians) and ``finetune.png`` (AUC,
MLE and detection F1 against training time) to ``--out-dir``::

    python benchmarks/bench_finetune.py --out-dir finetune
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np

SETS = ("single", "multi")


def fit_models(fwd, args):
    """Fit the scratch and fine-tuned models; return (label, kind, time, model)."""
    from mne_deepinverse import DeepInverse

    runs = [("anycap as shipped", "fine-tuned", 0.0, "anycap")]
    common = dict(samples_per_epoch=args.samples_per_epoch, random_state=0,
                  patience=10**6, progress=False)
    plans = [("scratch", e, dict(learning_rate=1e-3)) for e in args.scratch_epochs]
    plans += [("fine-tuned", e, dict(warm_start="anycap",
                                     learning_rate=args.finetune_lr))
              for e in args.finetune_epochs]
    for kind, n_epochs, params in plans:
        t0 = time.perf_counter()
        est = DeepInverse(fwd, "convdip", n_epochs=n_epochs, **common, **params).fit()
        dt = time.perf_counter() - t0
        print(f"{kind}, {n_epochs} epoch(s): {dt:.1f} s")
        runs.append((f"{kind}, {n_epochs} epoch(s)", kind, dt, est.model_))
    return runs


def main():
    """Fit, score and plot."""
    import mne

    from mne_deepinverse.benchmark import _montage_info, run_benchmark
    from mne_deepinverse.datasets import make_template_forward

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--montage", default="mgh60")
    parser.add_argument("--scratch-epochs", type=int, nargs="+", default=[1, 3, 10, 30])
    parser.add_argument("--finetune-epochs", type=int, nargs="+", default=[1, 3, 10])
    parser.add_argument("--finetune-lr", type=float, default=1e-4)
    parser.add_argument("--samples-per-epoch", type=int, default=20_000)
    parser.add_argument("--n-samples", type=int, default=300,
                        help="test samples per set")
    parser.add_argument("--out-dir", type=Path, default=Path("finetune"))
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    mne.set_log_level("WARNING")
    info, cap = _montage_info(args.montage)
    fwd = make_template_forward(info, "ico4")
    runs = fit_models(fwd, args)
    result = run_benchmark([m for *_, m in runs], montage=args.montage,
                           baselines=("eLORETA", "dSPM", "sLORETA"),
                           n_samples=args.n_samples, random_state=0)
    summary = result.summary()
    names = result.config["deep"]  # the runs' order
    scores = {}
    for (label, kind, dt, _), name in zip(runs, names, strict=True):
        scores[label] = dict(kind=kind, train_time_s=round(dt, 1), **{
            s: {m: summary[s][name][m]["median"] for m in ("auc", "mle", "f1")}
            for s in SETS})
    for name in ("eLORETA", "dSPM", "sLORETA"):
        scores[name] = dict(kind="MNE", train_time_s=None, **{
            s: {m: summary[s][name][m]["median"] for m in ("auc", "mle", "f1")}
            for s in SETS})
    out = dict(cap=cap, n_samples=args.n_samples,
               samples_per_epoch=args.samples_per_epoch,
               finetune_lr=args.finetune_lr, scores=scores)
    (args.out_dir / "finetune.json").write_text(json.dumps(out, indent=1))
    plot(scores, cap, args.out_dir / "finetune.png")
    print(json.dumps(out, indent=1))


def plot(scores, cap, fname):
    """AUC, MLE and F1 against training time, MNE's solvers as lines."""
    import matplotlib.pyplot as plt

    panels = [("single", "auc", "AUC, single source"),
              ("single", "mle", "MLE (mm), single source"),
              ("multi", "auc", "AUC, 1-10 sources"),
              ("multi", "f1", "detection F1, 1-10 sources")]
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.6), layout="constrained")
    for ax, (s, m, title) in zip(axes, panels, strict=True):
        for kind, style in (("scratch", "o-"), ("fine-tuned", "s-")):
            pts = sorted((v["train_time_s"], v[s][m]) for v in scores.values()
                         if v["kind"] == kind)
            t = np.maximum([p[0] for p in pts], 1.0)  # untrained at 1 s (log axis)
            ax.plot(t, [p[1] for p in pts], style, label=kind)
        for name, ls in (("eLORETA", "--"), ("dSPM", ":"), ("sLORETA", "-.")):
            ax.axhline(scores[name][s][m], color="gray", ls=ls, lw=1, label=name)
        ax.set(xscale="log", xlabel="training time (s, this machine)", title=title)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"Fine-tuning the any-cap model vs training from scratch: {cap}")
    fig.savefig(fname, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
