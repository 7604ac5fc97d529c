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

By default the cap is the ConvDip paper's 31 channels, the layout of the
shipped models. ``montage=`` runs the benchmark on one of MNE's built-in
montages instead: the AGM test data and the MNE solvers then use that cap's
channels (AGM: its positions moved by N(0, 2 mm); solvers: the template
forward made for it), and every deep model runs on its own channels, picked
from the cap, if the cap has them all and the model's forward check passes
on the cap's forward; otherwise the model is reported as not applicable,
with the reason.
"""

import json
import time
from pathlib import Path

import mne
import numpy as np
from mne.utils import ProgressBar, _check_option, _validate_type, logger, verbose

from ._registry import PRETRAINED
from .agm import make_agm_forward, map_to_sources
from .baselines import apply_baseline, make_baseline_operator
from .datasets import check_scalp_positions, make_template_forward
from .metrics import evaluate, summarise

BASELINES = ("eLORETA", "dSPM", "sLORETA", "LCMV")
METRICS = ("auc", "mle", "nmse", "f1", "found", "n_ghost", "time_ms")
SETS = ("single", "multi")
#: How the best deep model and the best baseline of a test are chosen.
SELECTION = "each the best of its kind by median AUC on these same samples"
#: What the time per evoked includes, per kind of method.
TIMING = (
    "wall time per evoked on the benchmark machine: for MNE's solvers the noise "
    "covariance from the evoked's epochs, the inverse operator (LCMV: the data "
    "covariance and filter) and its application; for the deep models bare "
    "inference (ONNX, the peak sample or, for window models, the whole evoked), "
    "for any-sensor models with their binding (three linear kernels for the "
    "evoked's noise covariance), but not that covariance"
)
#: Metrics of the paired tests, per set (the detection F1 is a multi-source
#: metric: one source is found or not).
STAT_METRICS = dict(single=("auc", "mle", "nmse"), multi=("auc", "mle", "nmse", "f1"))
#: The 19 channels of the classic (clinical) 10-20 system. MNE's ``*_1020``
#: montages hold more positions (94 in ``standard_1020``, with old names such
#: as T3 next to T7); a benchmark on a 10-20 montage uses these 19.
CLASSIC_1020 = ("Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3", "Cz",
                "C4", "T8", "P7", "P3", "Pz", "P4", "P8", "O1", "O2")
#: Standard deviation (mm) of the AGM's electrode displacements.
_AGM_JITTER_MM = 2.0
#: The AGM's head motion in the MEG helmet: rotation (degrees), shift (mm).
_AGM_HEAD_MOTION = (3.0, 3.0)
#: The sensors a benchmark runs on.
SENSORS = ("eeg", "meg", "meg+eeg")
#: The test evokeds per time course: sampling rate, time range, and the
#: window of the sources' activity (LCMV's data covariance). The half-sine is
#: the ConvDip paper's; "erp" evokeds (one evoked-response-like waveform per
#: evoked, peak at 50-150 ms) are long enough for models that read windows.
EVOKEDS = {
    "half-sine": dict(sfreq=100.0, tmin=-0.1, tmax=0.2, active=(0.0, 0.1)),
    "erp": dict(sfreq=250.0, tmin=-0.2, tmax=0.308, active=(0.0, 0.3)),
}
_DEFAULT_CAP = "the ConvDip paper's 31 channels"
#: Samples per set whose maps are kept for the example figures.
_N_EXAMPLES = 2


def _sample_plan(kind, n_samples, rng):
    """Per-sample (n_patches, extent order) covering the paper's ranges."""
    if kind == "single":
        orders = np.resize(np.arange(2, 8), n_samples)
        return [(1, int(o)) for o in rng.permutation(orders)]
    counts = np.resize(np.arange(1, 11), n_samples)
    return [(int(c), (2, 7)) for c in rng.permutation(counts)]


def _simulate_test_sample(fwd_agm, pos_agm, pos_model, n_patches, extent,
                          snr_db, n_trials, rng, time_course="half-sine",
                          noise_cov=None, info=None):
    """One test evoked (and its trials) from the AGM, with its truth.

    With MEG, the sensor noise is drawn from ``noise_cov`` and the data get
    the sensors and head position of ``info`` (where the methods believe the
    head is; the AGM's head sits elsewhere).
    """
    from .simulation import simulate_patch_evoked

    ev = EVOKEDS[time_course]
    evoked, stc, epochs = simulate_patch_evoked(
        fwd_agm, n_patches=n_patches, extent=extent, snr_db=snr_db,
        n_trials=n_trials, return_epochs=True, random_state=rng,
        sfreq=ev["sfreq"], tmin=ev["tmin"], tmax=ev["tmax"], time_course=time_course,
        noise_cov=noise_cov,
    )
    if info is not None:
        for inst in (evoked, epochs):
            chs = {ch["ch_name"]: ch for ch in info["chs"]}
            with inst.info._unlock():
                inst.info["chs"] = [dict(chs[ch["ch_name"]]) for ch in inst.info["chs"]]
                inst.info["dev_head_t"] = info["dev_head_t"]
    t_peak = int(np.argmax(np.abs(stc.data).max(axis=0)))
    truth_agm = stc.data[:, t_peak]
    truth = map_to_sources(truth_agm, pos_agm, pos_model)
    centre = pos_agm[np.argmax(np.abs(truth_agm))]
    return evoked, epochs, t_peak, truth, centre


class _Baselines:
    """MNE's solvers, set up per test sample like a user would."""

    def __init__(self, fwd_free, fwd_fixed, methods, active=(0.0, 0.1)):
        self.fwd_free, self.fwd_fixed, self.methods = fwd_free, fwd_fixed, methods
        self.active = active

    def apply(self, evoked, epochs, t_peak, noise_cov, t_cov):
        """Return maps at ``t_peak`` and times (s, covariances and operators in)."""
        out, times = {}, {}
        ev_peak = evoked.copy().crop(evoked.times[t_peak], evoked.times[t_peak])
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
            data_cov = mne.compute_covariance(epochs, tmin=self.active[0],
                                              tmax=self.active[1], verbose=False)
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
            Per set, the two methods and, per metric (AUC, MLE, nMSE; on
            1-10 sources also the detection F1), the mean difference, the
            p-value and Cohen's d. Empty for a set without a deep model or
            without a baseline.
        """
        rng = np.random.default_rng(0)
        out = {}
        for kind in SETS:
            deep, base = self.best(kind, True), self.best(kind, False)
            if deep is None or base is None:
                continue
            out[kind] = dict(deep=deep, baseline=base, chosen=SELECTION)
            for met in STAT_METRICS[kind]:
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
            for m in self.methods:
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
        with open(fname) as fid:
            data = json.load(fid)
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


def _cell(s, metric):
    """One table cell: median [q25-q75] of a summary, or '-'."""
    fmt = ".3f" if metric in ("auc", "nmse", "f1", "found") else ".1f"
    if not s["n"]:
        return "-"
    return f"{s['median']:{fmt}} [{s['q25']:{fmt}}-{s['q75']:{fmt}}]"


def _n_trials_for(n_channels, evokeds=EVOKEDS["half-sine"]):
    """Trials per evoked by default: 20, or more for MNE's covariances.

    MNE asks for at least ``5 (n_channels + 1)`` samples for a reliable
    covariance (and warns otherwise); with 11 samples per trial and window
    (the half-sine evokeds' baseline at 100 Hz) 20 trials suffice up to 43
    channels.
    """
    need = 5 * (n_channels + 1)
    per_trial = int(round(-evokeds["tmin"] * evokeds["sfreq"])) + 1
    return max(20, -(-need // per_trial))


def _check_positive_int(value, name):
    _validate_type(value, "int", name)
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value}.")


def _load_deep_models(models, *, check=True):
    """Load the deep models and check them against the pretrained forward.

    Returns a dict {name: DeepInverseModel} and the (fixed) pretrained
    forward. With ``check=False`` (a benchmark on another cap) the models are
    only loaded: they are checked against the cap's forward instead.
    """
    from ._load import load_model
    from .datasets import read_pretrained_forward

    _validate_type(models, (list, tuple, None), "models")
    if models is None:
        models = tuple(PRETRAINED)
    fwd = read_pretrained_forward("convdip")
    deep = {}
    for model in models:
        est = load_model(model)
        if check:
            est.bind(fwd)  # raises if the forward is not the model's
        name = model if str(model) in PRETRAINED else est.backend
        base, k = name, 1
        while name in deep:  # two models of one backend: keep both
            k += 1
            name = f"{base}-{k}"
        deep[name] = est
    return deep, fwd


def _check_montage(montage):
    """Return the name MNE reads a benchmark montage by (None: the default cap).

    MNE's deprecated names (``standard_1020`` is ``colin27_1020`` since MNE
    1.13) are read by their new names, without MNE's FutureWarning.
    """
    from mne.channels import montage as mne_montage

    _validate_type(montage, (str, None), "montage")
    if montage is None:
        return None
    builtin = mne.channels.get_builtin_montages()
    deprecated = getattr(mne_montage, "_DEPRECATED_STANDARD_MONTAGES", {})
    aliases = {old: new for old, new in deprecated.items()
               if old not in builtin and new in builtin}
    if montage not in builtin and montage not in aliases:
        raise ValueError(
            "Invalid value for the 'montage' parameter. Allowed values are None "
            f"({_DEFAULT_CAP}) or the name of one of MNE's built-in montages "
            f"({', '.join(builtin)}; list them with "
            f"mne.channels.get_builtin_montages()), but got {montage!r} instead."
        )
    return aliases.get(montage, montage)


def _montage_info(montage):
    """Info (EEG, 100 Hz) of a built-in montage, checked against the template.

    A 10-20 montage (``*_1020``) keeps only the 19 channels of
    :data:`CLASSIC_1020`. Returns the info and a description of the cap.
    """
    kind = _check_montage(montage)
    dig = mne.channels.make_standard_montage(kind)
    ch_names = dig.ch_names
    note = []
    if kind != montage:
        note.append(f"MNE's {kind}")
    if kind.endswith("_1020"):
        ch_names = [ch for ch in CLASSIC_1020 if ch in dig.ch_names]
        note.append("the classic 10-20 channels")
    info = mne.create_info(ch_names, 100.0, "eeg")
    info.set_montage(dig)
    check_scalp_positions(info)  # positions that cannot be on the template
    cap = f"{montage}, {len(ch_names)} channels"
    return info, cap + (f" ({'; '.join(note)})" if note else "")


def _meg_setup(sensors, montage, sfreq, random_state):
    """Nominal info, cap, forwards (free, AGM) and sensor noise for MEG.

    The MEG is the template Neuromag VectorView in its default head position;
    ``"meg+eeg"`` adds the EEG cap (``montage``, or the ConvDip paper's 31
    channels). The AGM's head is rotated and shifted in the helmet
    (:data:`_AGM_HEAD_MOTION`), its electrodes moved; the sensor noise of
    the MEG is the real noise covariance of the MNE "sample" recording
    (:func:`~mne_deepinverse.datasets.read_meg_noise_cov`), that of the EEG
    the ad hoc 0.2 µV.
    """
    from .datasets import (
        CONVDIP_CH_NAMES,
        make_template_info,
        make_template_meg_info,
        read_meg_noise_cov,
    )

    info = make_template_meg_info(sfreq=sfreq)
    cap = "Neuromag VectorView (102 mag + 204 grad), template head position"
    if sensors == "meg+eeg":
        eeg_info, eeg_cap = ((make_template_info(CONVDIP_CH_NAMES), _DEFAULT_CAP)
                             if montage is None else _montage_info(montage))
        raw = mne.io.RawArray(np.zeros((len(info["ch_names"]), 1)), info,
                              verbose=False)
        eeg = mne.io.RawArray(np.zeros((len(eeg_info["ch_names"]), 1)), eeg_info,
                              verbose=False)
        with eeg.info._unlock():
            eeg.info["sfreq"] = info["sfreq"]
        raw.add_channels([eeg], force_update_info=True)
        info, cap = raw.info, f"{cap} + EEG: {eeg_cap}"
    logger.info(f"Building the template and AGM forwards for {cap} (cached after "
                "the first run)")
    fwd_free = make_template_forward(info, "ico4", fixed=False)
    fwd_agm = make_agm_forward(info, electrode_jitter=_AGM_JITTER_MM,
                               head_motion=_AGM_HEAD_MOTION,
                               random_state=random_state)
    meg_cov = read_meg_noise_cov()
    names = fwd_agm["info"]["ch_names"]
    ad_hoc = mne.make_ad_hoc_cov(mne.create_info(names, sfreq, [
        mne.channel_type(fwd_agm["info"], ii) for ii in range(len(names))]),
        verbose=False)
    data = np.diag(ad_hoc.data)
    meg = [names.index(ch) for ch in meg_cov["names"] if ch in names]
    data[np.ix_(meg, meg)] = meg_cov.data
    noise_cov = mne.Covariance(data, names, bads=[], projs=meg_cov["projs"],
                               nfree=meg_cov["nfree"], verbose=False)
    return info, cap, fwd_free, fwd_agm, noise_cov


def _first_sentence(text):
    return text.split(". ")[0].rstrip(".")


def _deep_on_cap(deep, fwd_cap, cap):
    """Pick the channels of the deep models that run on a cap; say why not others.

    A model for one layout runs when the cap has all its channels and its
    forward check passes on the cap's forward restricted to them; a model for
    any cap runs on all the cap's channels when its check of the cap's
    forward passes.
    """
    cap_names = fwd_cap["info"]["ch_names"]
    picks, not_applicable = {}, {}
    for name, est in deep.items():
        any_cap = getattr(est, "reads_forward", False)
        names = cap_names if any_cap else est.ch_names
        if missing := [ch for ch in names if ch not in cap_names]:
            shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
            reason = (f"the cap lacks {len(missing)} of its {len(est.ch_names)} "
                      f"channels ({shown})")
            detail = f"missing channels {missing}"
        else:
            fwd_model = fwd_cap if any_cap else mne.pick_channels_forward(
                fwd_cap, names, ordered=True, verbose=False)
            try:
                est.bind(fwd_model)
            except ValueError as exc:
                detail = str(exc)
                reason = ("its check of the cap's forward fails: " if any_cap else
                          "its forward check fails on the cap's forward: "
                          ) + _first_sentence(detail)
            else:
                picks[name] = np.array([cap_names.index(ch) for ch in names])
                continue
        not_applicable[name] = reason
        logger.warning(f"{name} is not applicable on {cap}: {detail.rstrip('.')}. "
                       "It is reported as not applicable; the MNE solvers still "
                       "run.")
    return picks, not_applicable


def _apply_window_model(model, evoked, picks, fwd, t_peak):
    """Return the map at ``t_peak`` of a window model applied to the whole evoked."""
    import warnings

    from ._inverse import apply_deep_inverse

    ev = evoked.copy().pick([evoked.ch_names[p] for p in picks])
    fwd_model = fwd if getattr(model, "reads_forward", False) else None
    # (a short evoked is padded with a warning: said once, by run_benchmark)
    with mne.utils.use_log_level("error"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        stc = apply_deep_inverse(ev, fwd_model, model, on_mismatch="ignore")
    return stc.data[:, t_peak]


def _same_sources(fwd_a, fwd_b):
    return all(np.array_equal(a["vertno"], b["vertno"])
               for a, b in zip(fwd_a["src"], fwd_b["src"], strict=True))


@verbose
def run_benchmark(
    models=None,
    *,
    baselines=BASELINES,
    montage=None,
    sensors="eeg",
    n_samples=None,
    snr_db=(6.0, 9.0),
    n_trials=None,
    time_course="half-sine",
    quick=False,
    random_state=0,
    reuse_baselines=None,
    progress=True,
    verbose=None,
):
    """Run the ConvDip paper's benchmark: deep models against MNE's solvers.

    Parameters
    ----------
    models : tuple of str | tuple of DeepInverseModel | None
        Deep models (pretrained names, saved model files or fitted models).
        Without ``montage`` they must be for the template's pretrained
        forward (checked before any work). None: every shipped pretrained
        model.
    baselines : tuple of str
        Any of ``"eLORETA"``, ``"dSPM"``, ``"sLORETA"``, ``"LCMV"``.
    montage : str | None
        The EEG cap: None for the ConvDip paper's 31 channels (the layout of
        the shipped models), or the name of one of MNE's built-in montages
        (:func:`mne.channels.get_builtin_montages`, e.g. ``"biosemi64"``,
        ``"easycap-M1"``, ``"GSN-HydroCel-128"``; MNE's deprecated
        ``"standard_1020"`` is read as ``"colin27_1020"``). A 10-20 montage
        (a name ending in ``_1020``) uses the 19 channels of the classic
        10-20 system (:data:`CLASSIC_1020`), not all of its positions. The
        test data (AGM) and the MNE solvers use the cap's channels and a
        template forward made for it
        (:func:`~mne_deepinverse.datasets.make_template_forward`). A deep
        model runs on its own channels, picked from the cap, when the cap has
        them all and its forward check passes on the cap's forward; else it
        is reported as not applicable (``result.config["not_applicable"]``,
        the table and the log).
    sensors : "eeg" | "meg" | "meg+eeg"
        The sensors: the EEG cap (``montage``), the template Neuromag
        VectorView MEG (102 magnetometers, 204 gradiometers, in the template
        head position of
        :func:`~mne_deepinverse.datasets.make_template_meg_info`), or both
        (the cap of ``montage`` or the ConvDip paper's 31 channels). With
        MEG, the AGM's head sits elsewhere in the helmet than the methods
        believe (rotated by 3 degrees, shifted by 3 mm), its sensor noise is
        the real MEG noise covariance of the MNE "sample" recording (with
        its SSP projectors; ad hoc 0.2 µV for EEG), and every method gets a
        noise covariance from the pre-stimulus baseline (models that compute
        their estimates at apply time, such as ``"anysensor"``, too).

        .. versionadded:: 0.1
    n_samples : int | None
        Samples per set (single source, 1-10 sources), at least 1; None:
        1000, or 30 with ``quick``.
    snr_db : tuple of float
        SNR range of the averaged evokeds in dB.
    n_trials : int | None
        Trials per evoked (for the covariances of the MNE solvers), at
        least 1. None: 20, or on caps of more than 43 channels as many as
        give the covariances the ``5 (n_channels + 1)`` samples MNE asks for
        (11 samples per trial and window: 30 trials for 64 channels, 59 for
        128); fewer handicap the MNE solvers on large caps.
    time_course : "half-sine" | "erp"
        The test evokeds (:data:`EVOKEDS`): the ConvDip paper's (half a 5 Hz
        sine, -100-200 ms at 100 Hz), or evoked-response-like waveforms
        (peak at 50-150 ms, -200-308 ms at 250 Hz: 128 samples, one window of
        the SIFNet model). Models that read one time sample see the peak
        sample; models that read windows see the whole evoked
        (:func:`~mne_deepinverse.apply_deep_inverse`) and are scored at the
        peak.

        .. versionadded:: 0.1
    quick : bool
        A small run (30 samples per set) for a first look and for CI; not
        with ``n_samples``.
    random_state : int
        Seed of the test data and of the AGM electrode displacements.
    reuse_baselines : path-like | BenchmarkResult | None
        A previous run on the same test data (its ``benchmark.json``, the
        folder holding it, or the result): the scores of ``baselines`` are
        taken from it instead of being computed again, and only the deep
        models run (to add or retrain a model without rerunning MNE's
        solvers, which take most of a run's time). Its settings (sensors,
        cap, samples, SNR, trials, time course, seed) must be those of this
        run, and every test sample is checked against its record (number of
        sources, extent, depth of the true source) as it is drawn. The
        baselines still run on the few samples of the example maps; their
        times are those of the previous run.

        .. versionadded:: 0.1
    progress : bool
        Show progress bars (MNE's, shown when its log level includes INFO).
    %(verbose)s

    Returns
    -------
    result : BenchmarkResult
        Scores per sample (AUC, MLE, nMSE, detection F1, found and ghost
        sources, time), with ``summary()``, ``table()``, ``statistics()``,
        ``save()`` and ``plot()``.
    """
    from .datasets import read_pretrained_forward

    _validate_type(baselines, (list, tuple), "baselines")
    for b in baselines:
        _check_option("baselines", b, BASELINES)
    _validate_type(quick, bool, "quick")
    if quick and n_samples is not None:
        raise ValueError(
            f"quick=True runs 30 samples per set, but n_samples={n_samples} was "
            "given too: pass one of them."
        )
    if n_samples is None:
        n_samples = 30 if quick else 1000
    _check_positive_int(n_samples, "n_samples")
    if n_trials is not None:
        _check_positive_int(n_trials, "n_trials")
    _check_option("time_course", time_course, tuple(EVOKEDS))
    evokeds = EVOKEDS[time_course]
    _check_option("sensors", sensors, SENSORS)
    # deep models for one forward are checked against the pretrained forward
    # only on its cap; on others, against the cap's forward (_deep_on_cap)
    default_cap = montage is None and sensors == "eeg"
    deep, fwd = _load_deep_models(models, check=default_cap)
    names = list(deep)
    info_meg = test_cov = None
    if default_cap:
        cap = _DEFAULT_CAP
        fwd_free = read_pretrained_forward("convdip", fixed=False)
        ch_names = fwd["info"]["ch_names"]
        logger.info("Building the AGM forward (cached after the first run)")
        fwd_agm = make_agm_forward(ch_names, electrode_jitter=_AGM_JITTER_MM,
                                   random_state=random_state)
        picks = {name: np.arange(len(ch_names)) for name in deep}
        not_applicable = {}
        forward = f"template ico4, {cap} (read_pretrained_forward('convdip'))"
    else:
        if sensors == "eeg":
            info_cap, cap = _montage_info(montage)
            logger.info(f"Building the template and AGM forwards for {cap} (cached "
                        "after the first run)")
            fwd_free = make_template_forward(info_cap, "ico4", fixed=False)
            fwd_agm = make_agm_forward(info_cap, electrode_jitter=_AGM_JITTER_MM,
                                       random_state=random_state)
        else:
            info_meg, cap, fwd_free, fwd_agm, test_cov = _meg_setup(
                sensors, montage, evokeds["sfreq"], random_state)
        fwd_cap = mne.convert_forward_solution(
            fwd_free, surf_ori=True, force_fixed=True, use_cps=True, verbose=False
        )
        if not _same_sources(fwd_cap, fwd):  # the figures plot on these sources
            raise RuntimeError("The cap's template forward has other sources than "
                               "the pretrained forward; please report this.")
        fwd = fwd_cap
        ch_names = fwd["info"]["ch_names"]
        picks, not_applicable = _deep_on_cap(deep, fwd, cap)
        deep = {name: est for name, est in deep.items() if name in picks}
        forward = f"template ico4, {cap} (make_template_forward)"
    if n_trials is None:
        n_trials = _n_trials_for(len(ch_names), evokeds)
    prev = None
    if reuse_baselines is not None:
        prev, prev_from = _reused_run(reuse_baselines, baselines, dict(
            sensors=sensors, montage=montage, ch_names=list(ch_names),
            n_samples=n_samples, snr_db=list(snr_db), n_trials=n_trials,
            time_course=time_course, random_state=random_state))
    pos, pos_agm = fwd["source_rr"], fwd_agm["source_rr"]
    centre = pos.mean(axis=0)
    n_evoked = int(round((evokeds["tmax"] - evokeds["tmin"]) * evokeds["sfreq"])) + 1
    for name, est in deep.items():
        inp = est.input
        if inp["kind"] == "window" and (
                n_evoked * inp["sfreq"] / evokeds["sfreq"] < inp["n_times"] - 1):
            logger.warning(
                f"{name} reads windows of {inp['n_times']} samples at "
                f"{inp['sfreq']:g} Hz, longer than the {time_course} test evokeds "
                f"({n_evoked} samples at {evokeds['sfreq']:g} Hz): they are padded "
                "by reflection. Use time_course='erp' for evokeds a window long.")
    base = _Baselines(fwd_free, fwd, tuple(baselines), evokeds["active"])
    rng = np.random.default_rng(random_state)
    records, examples = [], {}
    metrics = ("auc", "mle", "nmse", "f1", "found", "n_ghost", "mle_multi")
    for kind in SETS:
        plan = _sample_plan(kind, n_samples, rng)
        for ii, (n_patches, extent) in enumerate(
            ProgressBar(plan, mesg=f"Benchmark ({kind} source)",
                        which_tqdm=None if progress else "off")
        ):
            evoked, epochs, t_peak, truth, true_centre = _simulate_test_sample(
                fwd_agm, pos_agm, pos, n_patches, extent, snr_db, n_trials, rng,
                time_course, test_cov, info_meg,
            )
            ecc = float(np.linalg.norm(true_centre - centre) * 1e3)
            reused = {} if prev is None else _reused_records(
                prev, kind, ii, baselines, (n_patches, extent, ecc))
            t0 = time.perf_counter()
            noise_cov = mne.compute_covariance(epochs, tmax=0.0, verbose=False)
            t_cov = time.perf_counter() - t0
            maps, times = {}, {}
            x = evoked.data[:, t_peak]
            for name, est in deep.items():
                t0 = time.perf_counter()
                if est.input["kind"] == "window":  # the whole evoked
                    maps[name] = _apply_window_model(est, evoked, picks[name],
                                                     fwd, t_peak)
                else:  # bound to this cap (an any-sensor model: and this data)
                    prepared = est.bind(
                        fwd if est.reads_forward else None, info=evoked.info,
                        noise_cov=noise_cov if est.any_sensors else None)
                    maps[name] = prepared.predict(x[picks[name]][None])[0]
                times[name] = time.perf_counter() - t0
            if prev is None or ii < _N_EXAMPLES:  # reused: only for the example maps
                bl_maps, bl_times = base.apply(evoked, epochs, t_peak, noise_cov,
                                               t_cov)
                maps.update(bl_maps)
                times.update(bl_times)
            for name, est_map in maps.items():
                if name in reused:
                    continue
                scores = evaluate(truth[None], np.abs(est_map)[None], pos,
                                  metrics=metrics)
                records.append(dict(
                    set=kind, sample=ii, method=name,
                    n_patches=n_patches,
                    extent=extent if kind == "single" else -1,
                    eccentricity_mm=ecc,
                    auc=float(scores["auc"][0]),
                    mle=float(scores["mle" if kind == "single" else "mle_multi"][0]),
                    nmse=float(scores["nmse"][0]),
                    f1=float(scores["f1"][0]),
                    found=float(scores["found"][0]),
                    n_ghost=float(scores["n_ghost"][0]),
                    time_ms=1e3 * times[name],
                ))
            records += [reused[name] for name in baselines if name in reused]
            if ii < _N_EXAMPLES:
                examples[f"{kind}{ii}"] = dict(
                    truth=truth.tolist(),
                    **{k: np.abs(v).tolist() for k, v in maps.items()},
                )
    config = dict(
        models=names, deep=list(deep),
        not_applicable=not_applicable, baselines=list(baselines),
        montage=montage, sensors=sensors, n_channels=len(ch_names),
        ch_names=list(ch_names), cap=cap,
        n_samples=n_samples, snr_db=list(snr_db), n_trials=n_trials,
        time_course=time_course, evokeds=evokeds,
        random_state=random_state, quick=quick,
        forward=forward,
        agm="oct6, conductivities (0.332, 0.0113, 0.332) S/m, " + (
            "" if sensors == "meg" else "electrodes moved by N(0, 2 mm), ")
            + "truth mapped by 5-NN averaging" + (
                "" if sensors == "eeg" else
                f"; head rotated by {_AGM_HEAD_MOTION[0]:g} degrees and shifted by "
                f"{_AGM_HEAD_MOTION[1]:g} mm in the helmet; MEG sensor noise from the "
                "real noise covariance of the MNE sample recording (3 SSP "
                "projectors)"),
        mne_version=mne.__version__,
    )
    if prev is not None:
        config["baselines_from"] = dict(
            run=prev_from, mne_version=prev.config.get("mne_version"))
    return BenchmarkResult(records, config, examples)


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


def write_results_page(json_fname, rst_fname, *, figures=(), comparison=None):
    """Write a reStructuredText results page from benchmark JSON files.

    Parameters
    ----------
    json_fname : path-like | list of path-like
        ``benchmark.json`` written by :meth:`BenchmarkResult.save`, or one
        per cap (e.g. runs with different ``montage``): the page gets a
        section per run, titled by its cap.
    rst_fname : path-like
        The page to write.
    figures : list of path-like | list of list of path-like
        Figures to include (paths relative to the page); with several JSON
        files, one list per file (placed in its section).
    comparison : path-like | None
        ``sifnet_comparison.json`` of ``benchmarks/bench_sifnet.py`` (SIFNet
        trained on neural-mass vs patch data): a last section.

    Returns
    -------
    rst_fname : pathlib.Path
        The page.
    """
    several = isinstance(json_fname, list | tuple)
    runs = list(json_fname) if several else [json_fname]
    figures = list(figures)
    if several:
        if figures and len(figures) != len(runs):
            raise ValueError(
                f"figures must hold one list per JSON file ({len(runs)}), got "
                f"{len(figures)} lists."
            )
        figures = figures or [[] for _ in runs]
    else:
        figures = [figures]
    lines = [
        "Benchmark results",
        "=================",
        "",
        "Generated by ``mne_deepinverse.benchmark.write_results_page`` from the "
        "JSON of ``mne-deepinverse benchmark`` (do not edit by hand).",
        "",
        "Median [25th-75th percentile]; MLE is the distance of the maxima for "
        "single sources and the mean distance from each true source to the "
        "nearest estimated maximum for 1-10 sources. F1 is the detection F1: "
        "recall is the share of true sources with an estimated maximum within "
        "30 mm (found), precision the share of estimated maxima (>= 20 % of "
        "the peak, 30 mm apart) that are not ghosts "
        "(:func:`~mne_deepinverse.metrics.detection_f1`). Time per evoked: "
        f"{TIMING}.",
        "",
    ]
    for fname, figs in zip(runs, figures, strict=True):
        with open(fname) as fid:
            data = json.load(fid)
        lines += _results_section(data, figs, per_cap=several)
    if comparison is not None:
        with open(comparison) as fid:
            lines += _comparison_section(json.load(fid))
    rst_fname = Path(rst_fname)
    rst_fname.write_text("\n".join(lines) + "\n")
    return rst_fname


def _results_section(data, figures, per_cap):
    """Lines of one run's part of the results page."""
    cfg, summ, stats = data["config"], data["summary"], data["statistics"]
    cap = cfg.get("cap", _DEFAULT_CAP)
    if cfg.get("time_course", "half-sine") == "erp":
        cap += ", evoked-response time courses"
    heads = ("AUC", "MLE (mm)", "nMSE", "F1", "found", "ghost sources",
             "time per evoked (ms)")
    na = cfg.get("not_applicable", {})
    lines = []
    # titles name the deep models: runs on one cap with other models stay apart
    run = f"{cap} ({', '.join(cfg['deep'])})" if cfg.get("deep") else cap
    if per_cap:  # a section per cap, the sets below it
        title = f"{'Cap' if cfg.get('sensors', 'eeg') == 'eeg' else 'Sensors'}: {run}"
        lines += [title, "-" * len(title), ""]
    lines += [
        f"- cap: {cap}",
        f"- samples per set: {cfg['n_samples']}; SNR {cfg['snr_db']} dB; "
        f"{cfg['n_trials']} trials per evoked; seed {cfg['random_state']}",
        f"- test evokeds: {_evokeds_text(cfg)}",
        f"- inversion forward: {cfg['forward']}",
        f"- test data (AGM): {cfg['agm']}",
        f"- MNE {cfg['mne_version']}",
    ]
    if "baselines_from" in cfg:
        lines.append(f"- MNE solvers' scores and times: from an earlier run on the "
                     f"same test data (MNE {cfg['baselines_from']['mne_version']}; "
                     "checked sample by sample), the deep models' from this one")
    lines += [f"- not applicable on this cap: **{m}** ({reason})"
              for m, reason in na.items()]
    lines.append("")
    for kind, label in (("single", "Single source"), ("multi", "1-10 sources")):
        if per_cap:
            label = f"{label} ({run})"
        lines += [label, ("~" if per_cap else "-") * len(label), "", ".. list-table::",
                  "   :header-rows: 1", "", "   * - method"]
        lines += [f"     - {h}" for h in heads]
        for method, mets in summ[kind].items():
            lines.append(f"   * - {method}")
            # files of older runs have no F1
            lines += [f"     - {_cell(mets[c], c) if c in mets else '-'}"
                      for c in METRICS]
        for method in na:
            lines.append(f"   * - {method}")
            lines += ["     - not applicable"] + ["     -"] * (len(METRICS) - 1)
        lines.append("")
        if kind in stats:
            st = stats[kind]
            lines.append(f"Best deep model **{st['deep']}** vs best baseline "
                         f"**{st['baseline']}** ({SELECTION}; paired permutation "
                         "test, Cohen's d):")
            lines.append("")
            for met in STAT_METRICS[kind]:
                if met not in st:
                    continue
                s = st[met]
                lines.append(f"- {met}: mean difference {s['mean_diff']:.4g}, "
                             f"p = {s['p_value']:.3g}, d = {s['cohens_d']:.2f}")
            lines.append("")
    for fig in figures:
        lines += [f".. image:: {fig}", "   :width: 100%", ""]
    return lines


def _evokeds_text(cfg):
    """Describe a run's test evokeds (older files: the half-sine)."""
    kind = cfg.get("time_course", "half-sine")
    ev = cfg.get("evokeds", EVOKEDS[kind])
    course = ("half a 5 Hz sine (0-100 ms)" if kind == "half-sine" else
              "an evoked-response-like waveform per evoked (peak at 50-150 ms)")
    return (f"{course}, {ev['tmin']:g} to {ev['tmax']:g} s at {ev['sfreq']:g} Hz; "
            "models that read windows see the whole evoked")


def _comparison_section(data):
    """Return the lines of the SIFNet comparison (neural-mass vs patch data)."""
    title = "SIFNet: neural-mass vs patch training data"
    lines = [title, "-" * len(title), "",
             "Sun et al. (2022) trained one network on neural-mass data and one on "
             "independent patches in white noise and tested both on both kinds of "
             "data. The same on the template, with test data from the alternative "
             "generative model (oct6, other conductivities, electrodes moved by "
             "N(0, 2 mm)); the neural-mass test data come from a network on the "
             "AGM's own parcellation with perturbed noise input "
             f"({data['perturbed']}). {data['n_windows']} windows per test set "
             f"(seed {data['seed']}), scored at each window's peak: localisation "
             "error (distance of the maxima), concordance (the estimated maximum "
             "on a truly active source, >= 10 % of the true peak) and AUC. MNE's "
             "sLORETA and eLORETA use the noise covariance of each test set's "
             "noise (generated by ``benchmarks/bench_sifnet.py``).", "",
             ".. list-table::", "   :header-rows: 1", "",
             "   * - test data", "     - method",
             "     - localisation error (mm)", "     - concordance", "     - AUC"]
    for key, rec in data["records"].items():
        test, method = key.split(" | ")
        q25, med, q75 = rec["le_mm"]
        lines += [f"   * - {test}", f"     - {method}",
                  f"     - {med:.1f} [{q25:.1f}-{q75:.1f}]",
                  f"     - {100 * rec['concordance']:.0f} %",
                  f"     - {rec['auc']:.3f}"]
    return lines + [""]
