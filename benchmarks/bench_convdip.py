# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Pretrained ConvDip against MNE's solvers: accuracy (AGM data) and speed.

Accuracy: test samples come from the alternative generative model (oct6,
altered conductivities, electrodes moved by N(0, 2 mm)), truth mapped onto the
model's 5124 sources by 5-NN averaging: single sources (orders 2-7) and 1-10
sources (orders 2-7). eLORETA, sLORETA and dSPM use the free-orientation
template forward with depth weighting, fixed orientations, and a noise
covariance estimated from the noise of the same samples.

Speed: a 1000-sample evoked, ``apply_deep_inverse`` (model loaded) against
``make_inverse_operator`` + ``apply_inverse(method="eLORETA")``, and against
the float32 floor of ConvDip's own dense matrix products in numpy, all timed
in this run (best of ``--repeats``).

``python benchmarks/bench_convdip.py [--n-samples 500] [--json out.json]``;
``--model unet`` (or ``vnet``, ``anycap``, or a saved ``.onnx``) measures
another model (no dense-layer floor for the convolutional networks);
``--model anycap --montage biosemi64`` times an any-cap model on another cap
(speed only; its set-up, the cap's interpolation, is timed apart, once per
forward, as MNE's operator is not).
"""

import argparse
import json
import os
import platform
import time

import mne
import numpy as np
from tqdm import tqdm

from mne_deepinverse import apply_deep_inverse
from mne_deepinverse._load import load_model
from mne_deepinverse.agm import make_agm_forward, simulate_agm_samples
from mne_deepinverse.datasets import CONVDIP_CH_NAMES, read_pretrained_forward
from mne_deepinverse.metrics import evaluate

SETS = {
    "single": dict(n_patches=1, extent=(2, 7)),
    "multi": dict(n_patches=(1, 10), extent=(2, 7)),
}
SNR_DB = (6.0, 9.0)
LINEAR = ("eLORETA", "sLORETA", "dSPM")


def _info(ch_names, sfreq):
    from mne_deepinverse.datasets import make_template_info

    info = make_template_info(ch_names, sfreq)
    return info


def _evoked(X, info):
    ev = mne.EvokedArray(X.T.astype(np.float64), info, tmin=0.0, verbose=False)
    ev.set_eeg_reference("average", projection=True, verbose=False)
    return ev


def accuracy(n_samples, seed, fwd, fwd_free, fwd_agm, model):
    """Score the model and MNE's solvers on AGM samples."""
    info = _info(CONVDIP_CH_NAMES, 1000.0)
    pos = fwd["source_rr"]
    out = {}
    for name, params in SETS.items():
        X, Y = simulate_agm_samples(fwd, n_samples, fwd_agm=fwd_agm,
                                    random_state=seed, snr_db=SNR_DB, **params)
        X_clean, _ = simulate_agm_samples(fwd, n_samples, fwd_agm=fwd_agm,
                                          random_state=seed, snr_db=300.0, **params)
        noise = (X - X_clean).astype(np.float64)
        noise_cov = mne.Covariance(
            noise.T @ noise / len(noise), CONVDIP_CH_NAMES, [], [], len(noise)
        )
        evoked = _evoked(X, info)
        preds = {"ConvDip": model.bind(fwd).predict(X)}
        for method in tqdm(LINEAR, desc=f"{name}: MNE solvers", leave=False):
            inv = mne.minimum_norm.make_inverse_operator(
                evoked.info, fwd_free, noise_cov, loose=0.0, fixed=True,
                depth=0.8, verbose=False,
            )
            stc = mne.minimum_norm.apply_inverse(evoked, inv, 1.0 / 9.0, method,
                                                 verbose=False)
            preds[method] = np.abs(stc.data.T)
        metrics = ("auc", "mle", "nmse") if name == "single" else (
            "auc", "nmse", "mle_multi", "found", "n_ghost")
        out[name] = {}
        for method, P in preds.items():
            scores = evaluate(Y, P, pos, metrics=metrics)
            out[name][method] = {
                m: dict(median=float(np.nanmedian(v)),
                        iqr=[float(np.nanpercentile(v, 25)),
                             float(np.nanpercentile(v, 75))],
                        mean=float(np.nanmean(v)))
                for m, v in scores.items()
            }
            row = "  ".join(f"{m} {d['median']:.3f}" if m in ("auc", "nmse", "found")
                            else f"{m} {d['median']:.1f}"
                            for m, d in out[name][method].items())
            print(f"{name:<7} {method:<8} {row}")
    return out


def _best_time(fun, repeats):
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fun()
        best = min(best, time.perf_counter() - t0)
    return best


def speed(repeats, fwd, fwd_free, model, seed, info=None):
    """Time the model against the MNE eLORETA path on a 1000-sample evoked."""
    import onnx
    from onnx import numpy_helper

    info = _info(CONVDIP_CH_NAMES, 1000.0) if info is None else info
    rng = np.random.default_rng(seed)
    X, _ = simulate_agm_samples(fwd, 1000, fwd_agm=fwd, random_state=rng)
    evoked = _evoked(X, info)
    noise_cov = mne.make_ad_hoc_cov(info, verbose=False)

    def mne_path():
        inv = mne.minimum_norm.make_inverse_operator(
            evoked.info, fwd_free, noise_cov, loose=0.0, fixed=True, depth=0.8,
            verbose=False)
        mne.minimum_norm.apply_inverse(evoked, inv, 1.0 / 9.0, "eLORETA",
                                       verbose=False)

    def deep_path():
        apply_deep_inverse(evoked, fwd, model)

    one = X[:1]
    t_bind = time.perf_counter()
    prepared = model.bind(fwd)  # an any-cap model's set-up: its cap interpolation
    t_bind = time.perf_counter() - t_bind
    prepared.predict(one)
    t = dict(
        setup_s=t_bind,
        mne_elor_s=_best_time(mne_path, repeats),
        deep_s=_best_time(deep_path, repeats),
        predict_one_sample_s=_best_time(lambda: prepared.predict(one), 30),
    )
    t["speedup_vs_mne"] = t["mne_elor_s"] / t["deep_s"]
    msg = (f"1000 samples: MNE eLORETA path {1e3 * t['mne_elor_s']:.1f} ms, "
           f"apply_deep_inverse ({model.card['backend']}) {1e3 * t['deep_s']:.1f} ms "
           f"({t['speedup_vs_mne']:.2f}x faster; set-up once per forward "
           f"{1e3 * t['setup_s']:.1f} ms); one sample through predict "
           f"{1e3 * t['predict_one_sample_s']:.3f} ms")
    if model.card["backend"] != "convdip":  # no dense-layer floor for CNNs
        print(msg)
        return t
    # the floor: ConvDip's dense layers (folded) as float32 numpy products
    proto = onnx.load_from_string(model.onnx)
    weights = {i.name.removesuffix("_h"): numpy_helper.to_array(i).astype(np.float32)
               for i in proto.graph.initializer}
    layers = [(weights[f"W{i}"], weights[f"b{i}"]) for i in range(3)]
    x32 = X.astype(np.float32)

    def floor():
        h = x32
        for w, b in layers:
            h = np.maximum(h @ w + b, 0)

    t["floor_s"] = _best_time(floor, repeats)
    t["predict_one_sample_s"] = _best_time(lambda: prepared.predict(one), 300)
    t["ratio_to_floor"] = t["deep_s"] / t["floor_s"]
    print(f"{msg}; float32 floor {1e3 * t['floor_s']:.1f} ms "
          f"(ratio {t['ratio_to_floor']:.2f}), one sample (300 repeats) "
          f"{1e3 * t['predict_one_sample_s']:.3f} ms")
    return t


def main():
    """Run the benchmark from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--json", default=None)
    parser.add_argument("--model", default="convdip",
                        help="pretrained model name or .onnx file")
    parser.add_argument("--montage", default=None,
                        help="speed only: an MNE standard montage for an any-cap "
                             "model (e.g. biosemi64)")
    args = parser.parse_args()
    mne.set_log_level("WARNING")
    fwd = read_pretrained_forward("convdip")
    fwd_free = read_pretrained_forward("convdip", fixed=False)
    model = load_model(args.model)
    info = None
    if args.montage:  # the cap's template forward; accuracy: mne-deepinverse benchmark
        from mne_deepinverse.datasets import make_template_forward

        montage = mne.channels.make_standard_montage(args.montage)
        info = mne.create_info(montage.ch_names, 1000.0, "eeg").set_montage(montage)
        fwd_free = make_template_forward(info, fixed=False)
        fwd = make_template_forward(info)
        args.skip_accuracy = True
    results = dict(
        machine=f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        model_card_training=model.card["training"]["samples_seen"],
    )
    if not args.skip_accuracy:
        fwd_agm = make_agm_forward(CONVDIP_CH_NAMES, random_state=0)
        results["accuracy"] = accuracy(args.n_samples, args.seed, fwd, fwd_free,
                                       fwd_agm, model)
    results["speed"] = speed(args.repeats, fwd, fwd_free, model, args.seed, info)
    if args.json:
        with open(args.json, "w") as fid:
            json.dump(results, fid, indent=1)


if __name__ == "__main__":
    main()
