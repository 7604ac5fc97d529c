# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""The ConvDip paper's evaluation :footcite:`HeckerEtAl2021`, deep vs MNE.

Training/inversion forward: the template (ico4, 5124 sources). Test data come
from the alternative generative model (AGM: oct6, altered conductivities,
electrodes moved by N(0, 2 mm)) and the truth is mapped onto the model's
sources by 5-nearest-neighbour averaging (:mod:`mne_deepinverse.agm`), so no
method profits from the inverse crime.

Every test sample is an evoked response (half a 5 Hz sine) averaged over
``n_trials`` trials with noise; all methods are scored at its peak. MNE's
minimum-norm solvers get a noise covariance from the pre-stimulus baseline,
LCMV a data covariance from the post-stimulus window (0-100 ms) of the single
trials (unit-noise-gain weights, fixed orientations), which is what makes it
localise a clean source. Deep models see the peak sample only.
"""

import json
import time
from pathlib import Path

import mne
import numpy as np
from mne.utils import _check_option, _validate_type, logger, verbose
from tqdm.auto import tqdm

from ._registry import PRETRAINED
from .agm import make_agm_forward, map_to_sources
from .baselines import apply_baseline, make_baseline_operator
from .metrics import evaluate, summarise

BASELINES = ("eLORETA", "dSPM", "sLORETA", "LCMV")
METRICS = ("auc", "mle", "nmse", "found", "n_ghost", "time_ms")
SETS = ("single", "multi")


def _sample_plan(kind, n_samples, rng):
    """Per-sample (n_patches, extent order) covering the paper's ranges."""
    if kind == "single":
        orders = np.resize(np.arange(2, 8), n_samples)
        return [(1, int(o)) for o in rng.permutation(orders)]
    counts = np.resize(np.arange(1, 11), n_samples)
    return [(int(c), (2, 7)) for c in rng.permutation(counts)]


def _simulate_test_sample(fwd_agm, pos_agm, pos_model, n_patches, extent,
                          snr_db, n_trials, rng):
    from .simulation import simulate_evoked

    evoked, stc, epochs = simulate_evoked(
        fwd_agm, n_patches=n_patches, extent=extent, snr_db=snr_db,
        n_trials=n_trials, return_epochs=True, random_state=rng,
    )
    t_peak = int(np.argmax(np.abs(stc.data).max(axis=0)))
    truth_agm = stc.data[:, t_peak]
    truth = map_to_sources(truth_agm, pos_agm, pos_model)
    centre = pos_agm[np.argmax(np.abs(truth_agm))]
    return evoked, epochs, t_peak, truth, centre


class _Baselines:
    """MNE's solvers, set up per test sample like a user would."""

    def __init__(self, fwd_free, fwd_fixed, methods):
        self.fwd_free, self.fwd_fixed, self.methods = fwd_free, fwd_fixed, methods

    def apply(self, evoked, epochs, t_peak):
        out, times = {}, {}
        ev_peak = evoked.copy().crop(evoked.times[t_peak], evoked.times[t_peak])
        t0 = time.perf_counter()
        noise_cov = mne.compute_covariance(epochs, tmax=0.0, verbose=False)
        t_cov = time.perf_counter() - t0
        mn = [m for m in self.methods if m != "LCMV"]
        if mn:  # one minimum-norm operator serves eLORETA, dSPM and sLORETA
            t0 = time.perf_counter()
            inv = make_baseline_operator(evoked.info, self.fwd_free, mn[0],
                                         noise_cov=noise_cov)
            t_inv = time.perf_counter() - t0
            for method in mn:
                t0 = time.perf_counter()
                stc = apply_baseline(ev_peak, self.fwd_free, method, operator=inv)
                out[method] = stc.data[:, 0]
                times[method] = t_cov + t_inv + time.perf_counter() - t0
        if "LCMV" in self.methods:
            t0 = time.perf_counter()
            data_cov = mne.compute_covariance(epochs, tmin=0.0, tmax=0.1,
                                              verbose=False)
            filters = make_baseline_operator(evoked.info, self.fwd_fixed, "LCMV",
                                             noise_cov=noise_cov, data_cov=data_cov)
            stc = apply_baseline(ev_peak, self.fwd_fixed, "LCMV", operator=filters)
            out["LCMV"] = stc.data[:, 0]
            times["LCMV"] = t_cov + time.perf_counter() - t0
        return out, times


def _summary(values):
    """Median, quartiles and mean; failures (inf) count, undefined (NaN) not."""
    (q25, med, q75), n = summarise(values)
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    return dict(median=float(med), q25=float(q25), q75=float(q75),
                mean=float(v.mean()) if n else np.nan, n=int(n),
                n_failed=int(np.isinf(v).sum()))


def _paired_stats(a, b, n_permutations, rng):
    """Paired permutation test (sign flips) and Cohen's d of a - b.

    A mean difference is undefined where either method failed (an infinite
    distance); those pairs are left out of the test and counted in
    ``n_excluded`` (the summaries keep them).
    """
    d = np.asarray(a, float) - np.asarray(b, float)
    n_all = int((~np.isnan(d) | np.isinf(a) | np.isinf(b)).sum())
    d = d[np.isfinite(d)]
    n_excluded = n_all - len(d)
    if len(d) < 2 or np.allclose(d, 0):
        return dict(mean_diff=float(d.mean()) if len(d) else np.nan, p_value=1.0,
                    cohens_d=0.0, n=int(len(d)), n_excluded=n_excluded)
    observed = abs(d.mean())
    signs = rng.choice([-1.0, 1.0], size=(n_permutations, len(d)))
    null = np.abs((signs * d).mean(axis=1))
    p = (np.sum(null >= observed) + 1) / (n_permutations + 1)
    return dict(mean_diff=float(d.mean()), p_value=float(p),
                cohens_d=float(d.mean() / d.std(ddof=1)), n=int(len(d)),
                n_excluded=n_excluded)


class BenchmarkResult:
    """Per-sample scores of a benchmark run, with summaries, files and figures.

    Parameters
    ----------
    records : list of dict
        One record per (set, sample, method) with the metrics and covariates.
    config : dict
        The settings of the run.
    examples : dict
        Example maps for figures: truth and estimates of a few samples.
    """

    def __init__(self, records, config, examples):
        self.records = records
        self.config = config
        self.examples = examples

    @property
    def methods(self):
        """Methods in the order they were run."""
        return list(dict.fromkeys(r["method"] for r in self.records))

    def values(self, kind, method, metric):
        """Return the scores of one metric over the samples of a set.

        Parameters
        ----------
        kind : "single" | "multi"
            The set: single sources or 1-10 sources.
        method : str
            A deep model or a baseline (see :attr:`methods`).
        metric : str
            One of ``"auc"``, ``"mle"``, ``"nmse"``, ``"found"``,
            ``"n_ghost"``, ``"time_ms"``.

        Returns
        -------
        values : array, shape (n_samples,)
            The scores, one per sample.
        """
        return np.array([r[metric] for r in self.records
                         if r["set"] == kind and r["method"] == method], float)

    def summary(self):
        """Summarise the scores per set, method and metric.

        Returns
        -------
        summary : dict
            ``summary[kind][method][metric]`` is a dict with the median,
            quartiles, mean and number of samples.
        """
        return {
            kind: {
                m: {met: _summary(self.values(kind, m, met)) for met in METRICS}
                for m in self.methods
            }
            for kind in SETS
        }

    def best(self, kind, deep):
        """Return the best method (median AUC) among deep models or baselines.

        Parameters
        ----------
        kind : "single" | "multi"
            The set: single sources or 1-10 sources.
        deep : bool
            Choose among the deep models (True) or the baselines (False).

        Returns
        -------
        method : str | None
            The method's name, None if there is none of that kind.
        """
        cands = [m for m in self.methods if (m in self.config["deep"]) == deep]
        if not cands:
            return None
        return max(cands, key=lambda m: np.nanmedian(self.values(kind, m, "auc")))

    def statistics(self, n_permutations=10_000):
        """Test the best deep model against the best baseline, sample by sample.

        Parameters
        ----------
        n_permutations : int
            Number of permutations of the paired permutation test.

        Returns
        -------
        stats : dict
            Per set, the two methods and, per metric, the mean difference,
            the p-value and Cohen's d.
        """
        rng = np.random.default_rng(0)
        out = {}
        for kind in SETS:
            deep, base = self.best(kind, True), self.best(kind, False)
            if deep is None or base is None:
                continue
            out[kind] = dict(deep=deep, baseline=base)
            for met in ("auc", "mle", "nmse"):
                out[kind][met] = _paired_stats(
                    self.values(kind, deep, met), self.values(kind, base, met),
                    n_permutations, rng,
                )
        return out

    def table(self):
        """Format the summary as a text table (median [IQR]).

        Returns
        -------
        table : str
            One line per set and method.
        """
        lines = []
        cols = ("auc", "mle", "nmse", "found", "n_ghost", "time_ms")
        head = f"{'set':<7}{'method':<10}" + "".join(f"{c:>22}" for c in cols)
        lines.append(head)
        summ = self.summary()
        for kind in SETS:
            for m in self.methods:
                cells = []
                for c in cols:
                    s = summ[kind][m][c]
                    fmt = ".3f" if c in ("auc", "nmse", "found") else ".1f"
                    cells.append(
                        f"{s['median']:{fmt}} [{s['q25']:{fmt}}-{s['q75']:{fmt}}]"
                        if s["n"] else "-"
                    )
                lines.append(f"{kind:<7}{m:<10}" + "".join(f"{c:>22}" for c in cells))
        return "\n".join(lines)

    def save(self, out_dir):
        """Write ``benchmark.json`` and ``benchmark.csv`` into a folder.

        Parameters
        ----------
        out_dir : path-like
            The folder (created if needed).

        Returns
        -------
        json_fname : pathlib.Path
            The JSON file (configuration, summary, statistics, records).
        csv_fname : pathlib.Path
            The records as CSV.
        """
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        with open(out_dir / "benchmark.json", "w") as fid:
            json.dump(dict(config=self.config, summary=self.summary(),
                           statistics=self.statistics(), records=self.records),
                      fid, indent=1, default=float)
        keys = list(self.records[0])
        with open(out_dir / "benchmark.csv", "w") as fid:
            fid.write(",".join(keys) + "\n")
            for r in self.records:
                fid.write(",".join(str(r[k]) for k in keys) + "\n")
        return out_dir / "benchmark.json", out_dir / "benchmark.csv"

    def plot(self, out_dir):
        """Save the figures (metrics by extent, depth, number of sources, maps).

        Parameters
        ----------
        out_dir : path-like
            The folder.

        Returns
        -------
        fnames : list of pathlib.Path
            The PNG files written.
        """
        from ._plotting import plot_benchmark

        return plot_benchmark(self, Path(out_dir))


def _check_positive_int(value, name):
    _validate_type(value, "int", name)
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value}.")


def _load_deep_models(models):
    """Load the deep models and check them against the pretrained forward.

    Returns a dict {name: DeepInverse} and the (fixed) pretrained forward.
    """
    from ._inverse import _load_model
    from .datasets import read_pretrained_forward

    _validate_type(models, (list, tuple, None), "models")
    if models is None:
        models = tuple(PRETRAINED)
    fwd = read_pretrained_forward("convdip")
    deep = {}
    for model in models:
        est = _load_model(model)
        est.check_forward(fwd)
        name = model if str(model) in PRETRAINED else est.backend
        base, k = name, 1
        while name in deep:  # two models of one backend: keep both
            k += 1
            name = f"{base}-{k}"
        deep[name] = est
    return deep, fwd


@verbose
def run_benchmark(
    models=None,
    *,
    baselines=BASELINES,
    n_samples=1000,
    snr_db=(6.0, 9.0),
    n_trials=20,
    quick=False,
    random_state=0,
    progress=True,
    verbose=None,
):
    """Run the ConvDip paper's benchmark: deep models against MNE's solvers.

    Parameters
    ----------
    models : tuple of str | tuple of DeepInverse | None
        Deep models (pretrained names, saved model files or fitted models)
        for the template's pretrained forward (checked before any work).
        None: every shipped pretrained model.
    baselines : tuple of str
        Any of ``"eLORETA"``, ``"dSPM"``, ``"sLORETA"``, ``"LCMV"``.
    n_samples : int
        Samples per set (single source, 1-10 sources), at least 1.
    snr_db : tuple of float
        SNR range of the averaged evokeds in dB.
    n_trials : int
        Trials per evoked (for the covariances of the MNE solvers), at
        least 1.
    quick : bool
        A small run (30 samples per set) for a first look and for CI.
    random_state : int
        Seed of the test data and of the AGM electrode displacements.
    progress : bool
        Show progress bars.
    %(verbose)s

    Returns
    -------
    result : BenchmarkResult
        Scores per sample, with ``summary()``, ``table()``, ``statistics()``,
        ``save()`` and ``plot()``.
    """
    from .datasets import read_pretrained_forward

    _validate_type(baselines, (list, tuple), "baselines")
    for b in baselines:
        _check_option("baselines", b, BASELINES)
    for name, n in (("n_samples", n_samples), ("n_trials", n_trials)):
        _check_positive_int(n, name)
    _validate_type(quick, bool, "quick")
    if quick:
        n_samples = 30
    deep, fwd = _load_deep_models(models)
    fwd_free = read_pretrained_forward("convdip", fixed=False)
    ch_names = fwd["info"]["ch_names"]
    logger.info("Building the AGM forward (cached after the first run)")
    fwd_agm = make_agm_forward(ch_names, random_state=random_state)
    pos, pos_agm = fwd["source_rr"], fwd_agm["source_rr"]
    centre = pos.mean(axis=0)
    base = _Baselines(fwd_free, fwd, tuple(baselines))
    rng = np.random.default_rng(random_state)
    records, examples = [], {}
    for kind in SETS:
        plan = _sample_plan(kind, n_samples, rng)
        for ii, (n_patches, extent) in enumerate(
            tqdm(plan, desc=f"Benchmark ({kind} source)", disable=not progress)
        ):
            evoked, epochs, t_peak, truth, true_centre = _simulate_test_sample(
                fwd_agm, pos_agm, pos, n_patches, extent, snr_db, n_trials, rng
            )
            maps, times = {}, {}
            x = evoked.data[:, t_peak][None]
            for name, est in deep.items():
                t0 = time.perf_counter()
                maps[name] = est.predict(x)[0]
                times[name] = time.perf_counter() - t0
            bl_maps, bl_times = base.apply(evoked, epochs, t_peak)
            maps.update(bl_maps)
            times.update(bl_times)
            metrics = ("auc", "mle", "nmse", "found", "n_ghost", "mle_multi")
            for name, est_map in maps.items():
                scores = evaluate(truth[None], np.abs(est_map)[None], pos,
                                  metrics=metrics)
                records.append(dict(
                    set=kind, sample=ii, method=name,
                    n_patches=n_patches,
                    extent=extent if kind == "single" else -1,
                    eccentricity_mm=float(np.linalg.norm(true_centre - centre) * 1e3),
                    auc=float(scores["auc"][0]),
                    mle=float(scores["mle" if kind == "single" else "mle_multi"][0]),
                    nmse=float(scores["nmse"][0]),
                    found=float(scores["found"][0]),
                    n_ghost=float(scores["n_ghost"][0]),
                    time_ms=1e3 * times[name],
                ))
            if ii < 2:
                examples[f"{kind}{ii}"] = dict(
                    truth=truth.tolist(),
                    **{k: np.abs(v).tolist() for k, v in maps.items()},
                )
    config = dict(
        models=list(deep), deep=list(deep), baselines=list(baselines),
        n_samples=n_samples, snr_db=list(snr_db), n_trials=n_trials,
        random_state=random_state, quick=quick,
        forward="template ico4, 31 channels (read_pretrained_forward('convdip'))",
        agm="oct6, conductivities (0.332, 0.0113, 0.332) S/m, electrodes moved "
            "by N(0, 2 mm), truth mapped by 5-NN averaging",
        mne_version=mne.__version__,
    )
    return BenchmarkResult(records, config, examples)


def write_results_page(json_fname, rst_fname, *, figures=()):
    """Write a reStructuredText results page from a benchmark's JSON.

    Parameters
    ----------
    json_fname : path-like
        ``benchmark.json`` written by :meth:`BenchmarkResult.save`.
    rst_fname : path-like
        The page to write.
    figures : list of path-like
        Figures to include (paths relative to the page).

    Returns
    -------
    rst_fname : pathlib.Path
        The page.
    """
    with open(json_fname) as fid:
        data = json.load(fid)
    cfg, summ, stats = data["config"], data["summary"], data["statistics"]
    cols = ("auc", "mle", "nmse", "found", "n_ghost", "time_ms")
    heads = ("AUC", "MLE (mm)", "nMSE", "found", "ghost sources", "time/sample (ms)")
    lines = [
        "Benchmark results",
        "=================",
        "",
        "Generated by ``mne_deepinverse.benchmark.write_results_page`` from the "
        "JSON of ``mne-deepinverse benchmark`` (do not edit by hand).",
        "",
        f"- samples per set: {cfg['n_samples']}; SNR {cfg['snr_db']} dB; "
        f"{cfg['n_trials']} trials per evoked; seed {cfg['random_state']}",
        f"- inversion forward: {cfg['forward']}",
        f"- test data (AGM): {cfg['agm']}",
        f"- MNE {cfg['mne_version']}",
        "",
        "Median [25th-75th percentile]; MLE is the distance of the maxima for "
        "single sources and the mean distance from each true source to the "
        "nearest estimated maximum for 1-10 sources.",
        "",
    ]
    for kind, label in (("single", "Single source"), ("multi", "1-10 sources")):
        lines += [label, "-" * len(label), "", ".. list-table::", "   :header-rows: 1",
                  "", "   * - method"]
        lines += [f"     - {h}" for h in heads]
        for method, mets in summ[kind].items():
            lines.append(f"   * - {method}")
            for c in cols:
                s = mets[c]
                fmt = ".3f" if c in ("auc", "nmse", "found") else ".1f"
                cell = (f"{s['median']:{fmt}} [{s['q25']:{fmt}}-{s['q75']:{fmt}}]"
                        if s["n"] else "-")
                lines.append(f"     - {cell}")
        lines.append("")
        if kind in stats:
            st = stats[kind]
            lines.append(f"Best deep model **{st['deep']}** vs best baseline "
                         f"**{st['baseline']}** (paired permutation test, Cohen's d):")
            lines.append("")
            for met in ("auc", "mle", "nmse"):
                s = stats[kind][met]
                lines.append(f"- {met}: mean difference {s['mean_diff']:.4g}, "
                             f"p = {s['p_value']:.3g}, d = {s['cohens_d']:.2f}")
            lines.append("")
    for fig in figures:
        lines += [f".. image:: {fig}", "   :width: 100%", ""]
    rst_fname = Path(rst_fname)
    rst_fname.write_text("\n".join(lines) + "\n")
    return rst_fname
