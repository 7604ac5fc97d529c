# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""EEG-to-fMRI synthesis on held-out simultaneous EEG-fMRI simulations.

Every segment is one :func:`mne_deepinverse.fmri.simulate_eeg_fmri` run on
the template's 31-channel forward (its own seed, EEG SNR drawn from
``--snr``, haemodynamic parameters drawn per region from their published
ranges). The predicted BOLD of each route is compared with the true
(noise-free) BOLD:

- per region: Pearson correlation over the frames (the median over the
  regions that carry activity, i.e. whose true BOLD varies by more than a
  tenth of the segment's largest variation) and RMSE (after one
  least-squares gain per segment, as the HRF routes' units are arbitrary);
- per frame: SSIM of the volumes (:func:`mne_deepinverse.fmri.bold_to_nifti`,
  4 mm; :func:`skimage.metrics.structural_similarity`), mean over frames.

Routes: :func:`~mne_deepinverse.fmri.synthesize_bold` with ``method="hrf"``
on each shipped model that reads the 31 channels, and on MNE's dSPM and
eLORETA (fixed orientation, ad hoc noise covariance, lambda2 = 1/9); and the
trivial baseline, the sensors' mean band power through the HRF (no source
imaging: the same time course in every region). Paired permutation tests of
the per-segment median correlation: each route against the best of dSPM and
eLORETA.

::

    python benchmarks/bench_bold.py [--n-segments 200] [--json bold.json]
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np

ROUTES_MODELS = ("convdip", "anycap", "unet", "vnet")


def _scores(pred, true, active, fwd, labels):
    """Correlation, RMSE (one gain) and SSIM of region BOLD predictions."""
    from skimage.metrics import structural_similarity

    from mne_deepinverse.fmri import bold_to_nifti

    r = [np.corrcoef(pred[k], true[k])[0, 1] for k in active]
    gain = (pred * true).sum() / max((pred * pred).sum(), 1e-30)
    rmse = float(np.sqrt(np.mean((gain * pred - true) ** 2)))
    vp = bold_to_nifti(_stc(gain * pred[labels], fwd), fwd).get_fdata()
    vt = bold_to_nifti(_stc(true[labels], fwd), fwd).get_fdata()
    rng = max(float(np.ptp(vt)), 1e-12)
    ssim = float(np.mean([structural_similarity(vt[..., k], vp[..., k],
                                                data_range=rng)
                          for k in range(vt.shape[-1])]))
    return dict(r=float(np.nanmedian(r)), rmse=rmse, ssim=ssim)


def _stc(data, fwd):
    import mne

    return mne.SourceEstimate(data, [s["vertno"] for s in fwd["src"]], 0.0, 1.0,
                              subject=fwd["src"]._subject)


def _region_means(stc, labels, n_regions):
    """Mean predicted BOLD of every region's sources."""
    counts = np.bincount(labels, minlength=n_regions)
    out = np.zeros((n_regions, stc.data.shape[1]))
    np.add.at(out, labels, stc.data)
    return out / np.maximum(counts, 1)[:, None]


def run_segment(seed, args, fwd, fwd_free, tr=2.0):
    """Simulate one segment and score every route on it."""
    import mne

    from mne_deepinverse.fmri import hrf_convolve, simulate_eeg_fmri, synthesize_bold

    rng = np.random.default_rng([seed, 7])
    snr = float(rng.uniform(*args.snr))
    raw, _, truth = simulate_eeg_fmri(
        fwd, duration=args.duration, tr=tr, sfreq=args.sfreq,
        n_regions=args.n_regions, snr_db=snr, random_state=seed, progress=False,
        verbose=False)
    labels, true = truth["labels"], truth["bold_clean"]
    spread = np.ptp(true, axis=1)
    active = np.flatnonzero(spread > 0.1 * spread.max())
    n_regions = true.shape[0]
    out, times = {}, {}
    for name in args.models:
        t0 = time.perf_counter()
        stc = synthesize_bold(raw, fwd, tr=tr, model=name, verbose=False)
        times[name] = time.perf_counter() - t0
        out[f"hrf on {name}"] = _region_means(stc, labels, n_regions)
    cov = mne.make_ad_hoc_cov(raw.info, verbose=False)
    inv = mne.minimum_norm.make_inverse_operator(raw.info, fwd_free, cov,
                                                 fixed=True, verbose=False)
    for method in ("dSPM", "eLORETA"):
        stc = synthesize_bold(raw, fwd, tr=tr, model=inv, inverse_method=method,
                              verbose=False)
        out[f"hrf on {method}"] = _region_means(stc, labels, n_regions)
    # trivial: the sensors' mean alpha power through the HRF, everywhere
    band = raw.copy().filter(8.0, 12.0, verbose=False).get_data()
    per_bin = int(round(0.1 * raw.info["sfreq"]))
    n_bins = band.shape[1] // per_bin
    power = (band[:, : n_bins * per_bin] ** 2).reshape(len(band), n_bins,
                                                       per_bin).mean(-1).mean(0)
    bold, _ = hrf_convolve(-(power / power.mean() - 1.0), 10.0, tr)
    out["sensor power (no imaging)"] = np.repeat(bold, n_regions, axis=0)
    scores = {k: _scores(v, true, active, fwd, labels) for k, v in out.items()}
    return dict(seed=seed, snr_db=snr, n_active=int(len(active)), scores=scores,
                times=times)


def main():
    """Run the segments, print medians and paired tests."""
    from mne.utils import ProgressBar
    from scipy.stats import permutation_test

    from mne_deepinverse.datasets import read_pretrained_forward

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-segments", type=int, default=200)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--sfreq", type=float, default=100.0)
    parser.add_argument("--n-regions", type=int, default=200)
    parser.add_argument("--snr", type=float, nargs=2, default=(0.0, 10.0))
    parser.add_argument("--models", nargs="+", default=list(ROUTES_MODELS))
    parser.add_argument("--seed", type=int, default=1000,
                        help="first segment's seed (held out from training)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    fwd = read_pretrained_forward("convdip")
    fwd_free = read_pretrained_forward("convdip", fixed=False)
    segments = [run_segment(args.seed + ii, args, fwd, fwd_free)
                for ii in ProgressBar(range(args.n_segments), mesg="Segments")]
    routes = list(segments[0]["scores"])
    summary = {}
    for route in routes:
        vals = {m: np.array([s["scores"][route][m] for s in segments])
                for m in ("r", "rmse", "ssim")}
        summary[route] = {m: dict(median=float(np.nanmedian(v)),
                                  iqr=[float(np.nanpercentile(v, 25)),
                                       float(np.nanpercentile(v, 75))])
                          for m, v in vals.items()}
    mne_best = max(("hrf on dSPM", "hrf on eLORETA"),
                   key=lambda k: summary[k]["r"]["median"])
    ref = np.array([s["scores"][mne_best]["r"] for s in segments])
    tests = {}
    for route in routes:
        if route == mne_best:
            continue
        x = np.array([s["scores"][route]["r"] for s in segments])
        ok = np.isfinite(x) & np.isfinite(ref)
        res = permutation_test((x[ok] - ref[ok],), np.mean,
                               permutation_type="samples", n_resamples=9999,
                               random_state=0)
        tests[route] = dict(vs=mne_best, mean_diff=float(np.mean(x[ok] - ref[ok])),
                            p_value=float(res.pvalue), n=int(ok.sum()))
    result = dict(settings={k: (str(v) if isinstance(v, Path) else v)
                            for k, v in vars(args).items()},
                  summary=summary, tests=tests, segments=segments)
    for route in routes:
        s = summary[route]
        t = tests.get(route)
        print(f"{route:<28} r {s['r']['median']:.3f}  RMSE {s['rmse']['median']:.2e}"
              f"  SSIM {s['ssim']['median']:.3f}"
              + (f"  vs {t['vs']}: {t['mean_diff']:+.3f} (p = {t['p_value']:.3g})"
                 if t else ""))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
