# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""A benchmark run's scores: summaries, paired statistics, table and files."""

import csv
import json
from pathlib import Path

import numpy as np

from ..metrics import summarise
from ._protocol import _DEFAULT_CAP, METRICS, SETS, STAT_METRICS

#: How the best deep model and the best baseline of a test are chosen.
SELECTION = ("per metric, each the best of its kind by its median on these same "
             "samples (ties: mean): our best network against MNE's best method "
             "for that metric")
#: Metrics where a smaller value is better.
_SMALLER_IS_BETTER = ("mle", "nmse", "n_ghost", "time_ms")
#: What the time per evoked includes, per kind of method.
TIMING = (
    "wall time per evoked on the benchmark machine: for MNE's solvers the noise "
    "covariance from the evoked's epochs, the inverse operator (LCMV: the data "
    "covariance and filter) and its application; for the deep models bare "
    "inference (ONNX, the peak sample or, for window models, the whole evoked), "
    "for any-sensor models with their binding (three linear kernels for the "
    "evoked's noise covariance), but not that covariance"
)


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
    from scipy.stats import permutation_test

    # paired: each sample's two scores are swapped or not (a sign flip of d)
    res = permutation_test(
        (d,), lambda x, axis: np.mean(x, axis=axis), permutation_type="samples",
        vectorized=True, n_resamples=n_permutations, alternative="two-sided",
        rng=rng,
    )
    return dict(mean_diff=float(d.mean()), p_value=float(res.pvalue),
                cohens_d=float(d.mean() / d.std(ddof=1)), n=int(len(d)),
                n_excluded=n_excluded)


class BenchmarkResult:
    """Per-sample scores of a benchmark run, with summaries, files and figures.

    Parameters
    ----------
    records : list of dict
        One record per (set, sample, method) with the metrics and covariates.
    config : dict
        The settings of the run: among them the cap (``montage``,
        ``n_channels``, ``cap``), the deep models that ran (``deep``) and
        those not applicable on the cap, with the reason
        (``not_applicable``).
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
            One of ``"auc"``, ``"mle"``, ``"nmse"``, ``"f1"`` (detection F1,
            :func:`~mne_deepinverse.metrics.detection_f1`), ``"found"``,
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
                for m in self.methods if len(self.values(kind, m, "auc"))
            }
            for kind in SETS
        }

    def best(self, kind, deep, metric="auc"):
        """Return the best method by one metric among deep models or baselines.

        Parameters
        ----------
        kind : "single" | "multi"
            The set: single sources or 1-10 sources.
        deep : bool
            Choose among the deep models (True) or the baselines (False).
        metric : str
            The metric (its median; ties: its mean over the finite values).

            .. versionadded:: 0.1

        Returns
        -------
        method : str | None
            The method's name, None if there is none of that kind.
        """
        cands = [m for m in self.methods if (m in self.config["deep"]) == deep
                 and len(self.values(kind, m, metric))]
        if not cands:
            return None
        sign = 1.0 if metric in _SMALLER_IS_BETTER else -1.0

        def key(m):
            v = self.values(kind, m, metric)
            finite = v[np.isfinite(v)]
            return (sign * np.nanmedian(v),
                    sign * (finite.mean() if len(finite) else np.inf))

        return min(cands, key=key)

    def statistics(self, n_permutations=10_000):
        """Test the best deep model against the best baseline, sample by sample.

        Both are chosen by their median AUC on these same samples (see
        :meth:`best`), so the test compares two winners of one selection;
        its p-values do not correct for that choice.

        Parameters
        ----------
        n_permutations : int
            Number of resamples of the paired permutation test
            (:func:`scipy.stats.permutation_test`, each sample's difference
            flipped in sign or not; exact when there are fewer).

        Returns
        -------
        stats : dict
            Per set and metric (AUC, MLE, nMSE; on 1-10 sources also the
            detection F1): the best deep model and the best baseline for that
            metric (``deep``, ``baseline``), the mean difference, the p-value
            and Cohen's d. Empty for a set without a deep model or without a
            baseline.
        """
        rng = np.random.default_rng(0)
        out = {}
        for kind in SETS:
            if self.best(kind, True) is None or self.best(kind, False) is None:
                continue
            out[kind] = dict(chosen=SELECTION)
            for met in STAT_METRICS[kind]:
                deep, base = self.best(kind, True, met), self.best(kind, False, met)
                out[kind][met] = dict(deep=deep, baseline=base, **_paired_stats(
                    self.values(kind, deep, met), self.values(kind, base, met),
                    n_permutations, rng,
                ))
        return out

    def table(self):
        """Format the summary as a text table (median [IQR]).

        Returns
        -------
        table : str
            A title with the cap, then one line per set and method; deep
            models that are not applicable on the cap get a line with the
            reason.
        """
        cfg = self.config
        lines = [
            f"Benchmark on {cfg.get('cap', _DEFAULT_CAP)}: AGM test data, "
            f"{cfg['n_samples']} samples per set, median [IQR]; time_ms: {TIMING}"
        ]
        head = f"{'set':<7}{'method':<10}" + "".join(f"{c:>24}" for c in METRICS)
        lines.append(head)
        summ = self.summary()
        na = cfg.get("not_applicable", {})
        for kind in SETS:
            for m in summ[kind]:
                cells = [_cell(summ[kind][m][c], c) for c in METRICS]
                lines.append(f"{kind:<7}{m:<10}" + "".join(f"{c:>24}" for c in cells))
            for m, reason in na.items():
                lines.append(f"{kind:<7}{m:<10}  not applicable: {reason}")
        return "\n".join(lines)

    @classmethod
    def read(cls, fname):
        """Read a run saved with :meth:`save` (its records and configuration).

        Parameters
        ----------
        fname : path-like
            The ``benchmark.json`` file.

        Returns
        -------
        result : BenchmarkResult
            The run, without its example maps: :meth:`summary`,
            :meth:`statistics` and :meth:`table` are computed anew from the
            records.
        """
        try:
            with open(fname) as fid:
                data = json.load(fid)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(
                f"{fname} is not a benchmark run's JSON ({exc}): pass the "
                "benchmark.json that run_benchmark (mne-deepinverse benchmark) "
                "wrote, or its folder."
            ) from None
        return cls(data["records"], data["config"], {})

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
        with open(out_dir / "benchmark.csv", "w", newline="") as fid:
            writer = csv.DictWriter(fid, fieldnames=list(self.records[0]),
                                    lineterminator="\n")
            writer.writeheader()
            writer.writerows(self.records)
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
        from .._plotting import plot_benchmark

        return plot_benchmark(self, Path(out_dir))


def _cell(s, metric):
    """One table cell: median [q25-q75] of a summary, or '-'."""
    fmt = ".3f" if metric in ("auc", "nmse", "f1", "found") else ".1f"
    if not s["n"]:
        return "-"
    return f"{s['median']:{fmt}} [{s['q25']:{fmt}}-{s['q75']:{fmt}}]"




def _reused_run(reuse, baselines, settings):
    """Read a run whose baselines are reused and check it fits this one."""
    if isinstance(reuse, BenchmarkResult):
        prev, name = reuse, "a BenchmarkResult"
    else:
        fname = Path(reuse)
        if fname.is_dir():
            fname = fname / "benchmark.json"
        if not fname.is_file():
            raise FileNotFoundError(
                f"reuse_baselines={str(reuse)!r}: there is no benchmark.json there; "
                "pass a previous run's benchmark.json or its folder.")
        prev, name = BenchmarkResult.read(fname), str(fname)
    diff = [f"{k}: {prev.config.get(k)!r} there, {v!r} here"
            for k, v in settings.items() if prev.config.get(k) != v]
    if diff:
        raise ValueError(
            f"The run in {name} was made on other test data than this one, so its "
            f"baselines cannot be reused ({'; '.join(diff)}). Run with the same "
            "settings, or without reuse_baselines.")
    missing = [b for b in baselines if b not in prev.methods]
    if missing:
        raise ValueError(
            f"The run in {name} has no scores of {', '.join(missing)} (it has "
            f"{', '.join(prev.methods)}); pass baselines it has, or run without "
            "reuse_baselines.")
    return prev, name


def _reused_records(prev, kind, sample, baselines, key):
    """Return the previous run's baseline records of one sample, checked."""
    if not baselines:
        return {}
    recs = {r["method"]: dict(r) for r in prev.records
            if r["set"] == kind and r["sample"] == sample and r["method"] in baselines}
    extent = key[1] if kind == "single" else -1

    def same(rec):
        return ((rec["n_patches"], rec["extent"]) == (key[0], extent)
                and np.isclose(rec["eccentricity_mm"], key[2], rtol=0, atol=1e-6))

    if not recs or not all(same(rec) for rec in recs.values()):
        raise RuntimeError(
            f"Test sample {sample} of the {kind}-source set differs from the reused "
            "run's, though their settings agree (was it made with another version "
            "of mne-deepinverse or MNE?); run without reuse_baselines.")
    return recs
