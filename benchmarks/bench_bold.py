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

Routes: :func:`~mne_deepinverse.fmri.synthesize_bold` with ``method="deep"``
(the shipped BoldNet, trained on other simulations by
``tools/train_boldnet.py``), with ``method="hrf"``
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


_INV = {}


def _inverse_operator(info, fwd_free):
    """Return MNE's inverse operator (ad hoc covariance, fixed orientation).

    Made once: every segment has the same channels.
    """
    import mne

    key = tuple(info["ch_names"])
    if key not in _INV:
        cov = mne.make_ad_hoc_cov(info, verbose=False)
        _INV[key] = mne.minimum_norm.make_inverse_operator(
            info, fwd_free, cov, fixed=True, verbose=False)
    return _INV[key]


def run_segment(seed, args, fwd, fwd_free, tr=2.0):
    """Simulate one segment and score every route on it."""
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
    if args.deep:
        t0 = time.perf_counter()
        stc = synthesize_bold(raw, fwd, tr=tr, method="deep", verbose=False)
        times["deep"] = time.perf_counter() - t0
        out["deep (boldnet)"] = _region_means(stc, labels, n_regions)
    inv = _inverse_operator(raw.info, fwd_free)
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
    parser.add_argument("--models", nargs="+", default=list(ROUTES_MODELS),
                        help="inverse models of the HRF route")
    parser.add_argument("--no-deep", dest="deep", action="store_false",
                        help="leave out the deep synthesizer (boldnet)")
    parser.add_argument("--seed", type=int, default=1000,
                        help="first segment's seed (held out from training)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--rst", type=Path, default=None,
                        help="also write the results as a reStructuredText table")
    args = parser.parse_args()
    fwd = read_pretrained_forward("convdip")
    fwd_free = read_pretrained_forward("convdip", fixed=False)
    # finished segments go to a JSON-lines file beside --json as they come, so
    # that a stopped run resumes where it stopped when run again
    done = {}
    partial = None if args.json is None else args.json.with_suffix(".segments.jsonl")
    if partial is not None and partial.exists():
        for line in partial.read_text().splitlines():
            rec = json.loads(line)
            done[rec["seed"]] = rec
    segments = []
    for ii in ProgressBar(range(args.n_segments), mesg="Segments"):
        seed = args.seed + ii
        if seed not in done:
            done[seed] = run_segment(seed, args, fwd, fwd_free)
            if partial is not None:
                with partial.open("a") as fid:
                    fid.write(json.dumps(done[seed]) + "\n")
        segments.append(done[seed])
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
        partial.unlink(missing_ok=True)
    if args.rst:
        args.rst.parent.mkdir(parents=True, exist_ok=True)
        args.rst.write_text(results_table(result))


def results_table(result):
    """Return the results as reStructuredText (the documentation's fMRI page)."""
    set_ = result["settings"]
    cmd = "python benchmarks/bench_bold.py" + (
        f" --n-segments {set_['n_segments']}" if set_["n_segments"] != 200 else "")
    if list(set_["models"]) != list(ROUTES_MODELS):
        cmd += " --models " + " ".join(set_["models"])
    if not set_.get("deep", True):
        cmd += " --no-deep"
    lines = [
        f"``{cmd}``: {set_['n_segments']} held-out segments of "
        f"{set_['duration']:g} s (seeds from {set_['seed']}; EEG on the template's "
        f"31 channels at {set_['sfreq']:g} Hz, SNR {set_['snr'][0]:g}-"
        f"{set_['snr'][1]:g} dB; {set_['n_regions']} regions, haemodynamics drawn "
        "per region), TR 2 s. Medians over segments [interquartile range] of "
        "the per-segment median correlation over the regions that carry "
        "activity, RMSE after one gain per segment, and the SSIM of the volumes; "
        "the paired mean difference of the correlation against the better of "
        "dSPM and eLORETA, with its permutation p-value (9999 resamples):", "",
        ".. list-table::", "   :header-rows: 1", "",
        "   * - route", "     - correlation", "     - RMSE (%)", "     - SSIM",
        "     - vs MNE (correlation)"]
    for route, s in result["summary"].items():
        t = result["tests"].get(route)
        lines += [
            f"   * - {route}",
            f"     - {s['r']['median']:.3f} [{s['r']['iqr'][0]:.3f}, "
            f"{s['r']['iqr'][1]:.3f}]",
            f"     - {100 * s['rmse']['median']:.3f}",
            f"     - {s['ssim']['median']:.3f}",
            f"     - {t['mean_diff']:+.3f} (p = {t['p_value']:.2g})" if t
            else "     - (reference)"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
