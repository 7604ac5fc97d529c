# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""The benchmark's runner: test samples drawn, every method applied and scored."""

import json
import time
from pathlib import Path

import mne
import numpy as np
from mne.utils import ProgressBar, _check_option, _validate_type, logger, verbose

from ..metrics import evaluate
from ._methods import TUNING_GRID, _Baselines, _DeepModels, _grid, _load_deep_models
from ._protocol import (
    BASELINES,
    EVOKEDS,
    PROTOCOLS,
    SENSORS,
    SETS,
    _agm_text,
    _evokeds,
    _n_trials_for,
    _noise_text,
    _sample_plan,
    _simulate_test_sample,
    _test_setup,
)
from ._result import BenchmarkResult, _reused_records, _reused_run

#: Samples per set whose maps are kept for the example figures.
_N_EXAMPLES = 2
#: The metrics scored per sample (MLE: "mle" on single sources, "mle_multi"
#: on 1-10).
_SCORED = ("auc", "mle", "nmse", "f1", "found", "n_ghost", "mle_multi")


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
    protocol="realistic",
    n_validation=None,
    quick=False,
    random_state=0,
    reuse_baselines=None,
    checkpoint=None,
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
        MNE's methods (:data:`BASELINES`): any of ``"eLORETA"``, ``"dSPM"``,
        ``"sLORETA"``, ``"LCMV"``, ``"MxNE"``, ``"irMxNE"``, ``"gamma-MAP"``,
        ``"TRAP-MUSIC"`` and ``"dipole"`` (a single-dipole fit with
        :func:`mne.fit_dipole` on the template's BEM, at the peak sample:
        the reference for single-source peak error; 0.3 s per evoked with
        numba installed, which the ``benchmark`` extra brings, else 10 s).
        Each gets a noise covariance from the evoked's baseline estimated
        with ``method="shrunk"``, and the settings of
        :data:`~mne_deepinverse.benchmark.TUNING_GRID` chosen on a separate
        validation set (``n_validation``).
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
        least 1. None: 20, or on large caps as many as give the covariances
        the ``5 (n_channels + 1)`` samples MNE asks for (21 baseline samples
        per trial: 31 trials for 128 channels; with the paper protocol's 11,
        30 for 64 channels and 59 for 128); fewer handicap the MNE solvers on
        large caps.
    time_course : "half-sine" | "erp"
        The test evokeds (:data:`EVOKEDS`): the ConvDip paper's (half a 5 Hz
        sine, -100-200 ms at 100 Hz), or evoked-response-like waveforms
        (peak at 50-150 ms, -200-308 ms at 250 Hz: 128 samples, one window of
        the SIFNet model). Models that read one time sample see the peak
        sample; models that read windows see the whole evoked
        (:func:`~mne_deepinverse.apply_deep_inverse`) and are scored at the
        peak.

        .. versionadded:: 0.1
    protocol : "realistic" | "convdip-paper"
        The test data (:data:`PROTOCOLS`): background activity of all sources
        (1/f) plus sensor noise, 200-ms baselines, and a test head that is
        not the template (scaled by 0.9-1.1 per axis, drawn from the seed,
        and co-registered 3 degrees and 3 mm off:
        :func:`~mne_deepinverse.agm.make_agm_forward`), on top of the AGM's
        other source space, conductivities and moved electrodes; or the
        ConvDip paper's white sensor noise, 100-ms baselines and the
        template's head.

        .. versionadded:: 0.1
    n_validation : int | None
        Samples per set of the validation set on which the settings of MNE's
        methods are chosen (the same protocol, other draws than the test
        samples): per set and method, the settings of
        :data:`~mne_deepinverse.benchmark.TUNING_GRID` with the smallest mean
        peak error (single source) or the largest mean detection F1 (1-10
        sources), ties broken by AUC. None: 50, or 10 with ``quick``; 0:
        MNE's defaults, untuned. The choices are in
        ``result.config["tuned"]``.

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
    checkpoint : path-like | None
        A file in which the run keeps its state: the settings chosen on the
        validation set, then the scores so far and the random generator's
        state, every few test samples (written through a temporary file and a
        rename). If the file exists, the run resumes from it and gives the
        result an uninterrupted run gives; it must hold a run with the same
        arguments, or the error names the ones that differ. The command line
        keeps it in ``--out-dir`` and removes it once the results are saved,
        so a long run that was stopped continues when run again.

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
    n_samples = _check_args(baselines, quick, n_samples, n_trials, time_course,
                            sensors)
    _check_option("protocol", protocol, tuple(PROTOCOLS))
    if n_validation is None:
        n_validation = 10 if quick else 50
    _validate_type(n_validation, "int", "n_validation")
    if not 0 <= n_validation <= _MAX_SAMPLES:
        raise ValueError(f"n_validation must be in [0, {_MAX_SAMPLES}], got "
                         f"{n_validation}.")
    evokeds = _evokeds(time_course, protocol)
    # deep models for one forward are checked against the pretrained forward
    # only on its cap; on others, against the cap's forward (_DeepModels.on_cap)
    default_cap = montage is None and sensors == "eeg"
    deep, fwd_pretrained = _load_deep_models(models, check=default_cap)
    names = list(deep)
    test = _test_setup(montage, sensors, evokeds["sfreq"], random_state,
                       fwd_pretrained, protocol)
    deep, not_applicable = _DeepModels.on_cap(
        deep, test.fwd, test.cap, checked=default_cap, evokeds=evokeds,
        time_course=time_course)
    ch_names = test.fwd["info"]["ch_names"]
    if n_trials is None:
        n_trials = _n_trials_for(len(ch_names), evokeds)
    prev = prev_from = None
    if reuse_baselines is not None:
        prev, prev_from = _reused_run(reuse_baselines, baselines, dict(
            sensors=sensors, montage=montage, ch_names=list(ch_names),
            n_samples=n_samples, snr_db=list(snr_db), n_trials=n_trials,
            time_course=time_course, random_state=random_state, protocol=protocol,
            n_validation=n_validation))
    base = _Baselines(test.fwd_free, test.fwd, tuple(baselines), evokeds["active"])
    pos, pos_agm = test.fwd["source_rr"], test.pos_agm
    centre = pos.mean(axis=0)

    def draw(n_patches, extent, rng):
        evoked, epochs, t_peak, truth, true_centre = _simulate_test_sample(
            test.fwd_agm, pos_agm, pos, n_patches, extent, snr_db, n_trials,
            rng, time_course, test.noise_cov, test.info, protocol)
        t0 = time.perf_counter()
        noise_cov = _noise_cov(epochs)
        return (evoked, epochs, t_peak, truth, true_centre, noise_cov,
                time.perf_counter() - t0)

    ckpt = _Checkpoint(checkpoint, dict(
        models=names, baselines=list(baselines), sensors=sensors, montage=montage,
        ch_names=list(ch_names), n_samples=n_samples, snr_db=list(snr_db),
        n_trials=n_trials, time_course=time_course, protocol=protocol,
        n_validation=n_validation, random_state=random_state,
        reuse_baselines=None if prev is None else str(prev_from)))
    if prev is not None:
        tuned = prev.config.get("tuned", {})
        validation = prev.config.get("validation")
    elif "tuned" in ckpt.state:
        tuned, validation = ckpt.state["tuned"], ckpt.state["validation"]
    else:
        tuned, validation = _tune(base, draw, n_validation, random_state, progress,
                                  ckpt)
        ckpt.save(tuned=tuned, validation=validation, tuning=None)
    rng = np.random.default_rng(random_state)
    records, examples = [], {}
    at = ckpt.state.get("position")  # where a resumed run stopped
    if at is not None:
        records, examples = ckpt.state["records"], ckpt.state["examples"]
        rng.bit_generator.state = at["rng"]
    for kind in SETS:
        if at is not None and SETS.index(kind) < SETS.index(at["kind"]):
            continue  # done before the run stopped
        if at is not None and kind == at["kind"]:
            plan, start = _plan_of(at["plan"]), at["index"] + 1
        else:
            plan, start = _sample_plan(kind, n_samples, rng), 0
        for ii, (n_patches, extent) in enumerate(
            ProgressBar(plan[start:], mesg=f"Benchmark ({kind} source)"
                        + (f", resumed at sample {start}" if start else ""),
                        which_tqdm=None if progress else "off"), start
        ):
            (evoked, epochs, t_peak, truth, true_centre, noise_cov,
             t_cov) = draw(n_patches, extent, rng)
            ecc = float(np.linalg.norm(true_centre - centre) * 1e3)
            reused = {} if prev is None else _reused_records(
                prev, kind, ii, baselines, (n_patches, extent, ecc))
            maps, times = deep.apply(evoked, t_peak, noise_cov)
            if prev is None or ii < _N_EXAMPLES:  # reused: only for the example maps
                bl_maps, bl_times = base.apply(evoked, epochs, t_peak, noise_cov,
                                               t_cov, settings=tuned.get(kind),
                                               kind=kind)
                maps.update(bl_maps)
                times.update(bl_times)
            covariates = dict(n_patches=n_patches,
                              extent=extent if kind == "single" else -1,
                              eccentricity_mm=ecc)
            records += [
                dict(set=kind, sample=ii, method=name, **covariates,
                     **_scores(kind, truth, est_map, pos), time_ms=1e3 * times[name])
                for name, est_map in maps.items() if name not in reused
            ]
            records += [reused[name] for name in baselines if name in reused]
            if ii < _N_EXAMPLES:
                examples[f"{kind}{ii}"] = dict(
                    truth=truth.tolist(),
                    **{k: np.abs(v).tolist() for k, v in maps.items()},
                )
            if (ii + 1) % _CHECKPOINT_EVERY == 0 or ii + 1 == len(plan):
                ckpt.save(records=records, examples=examples, position=dict(
                    kind=kind, index=ii, plan=plan, rng=rng.bit_generator.state))
    config = dict(
        models=names, deep=list(deep.models),
        not_applicable=not_applicable, baselines=list(baselines),
        montage=montage, sensors=sensors, n_channels=len(ch_names),
        ch_names=list(ch_names), cap=test.cap,
        n_samples=n_samples, snr_db=list(snr_db), n_trials=n_trials,
        time_course=time_course, evokeds=evokeds, protocol=protocol,
        noise=_noise_text(protocol, sensors),
        noise_cov=("from each evoked's baseline (its trials), method='shrunk' "
                   "(MNE's Ledoit-Wolf shrinkage)"),
        n_validation=n_validation, tuned=tuned, validation=validation,
        random_state=random_state, quick=quick,
        forward=test.forward, agm=_agm_text(sensors, protocol, random_state),
        mne_version=mne.__version__,
    )
    if prev is not None:
        config["baselines_from"] = dict(
            run=prev_from, mne_version=prev.config.get("mne_version"))
    return BenchmarkResult(records, config, examples)


#: Test samples between two saves of a run's checkpoint.
_CHECKPOINT_EVERY = 10


class _Checkpoint:
    """A run's state in a JSON file, so that a stopped run resumes.

    ``state`` holds what an earlier run with the same ``args`` saved (empty
    without a file): ``tuned`` and ``validation`` once the settings are
    chosen, then ``records``, ``examples`` and ``position`` (set, index of
    the last sample done, the set's plan and the generator's state after
    it). Everything goes through JSON, as the results do, so a resumed run
    saves the same file as an uninterrupted one.
    """

    def __init__(self, fname, args):
        self.fname = None if fname is None else Path(fname)
        self.args = json.loads(json.dumps(args, default=float))
        self.state = {}
        if self.fname is None or not self.fname.exists():
            return
        try:
            state = json.loads(self.fname.read_text())
            saved = state["args"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(
                f"The checkpoint {self.fname} is not a benchmark run's state "
                f"({exc}). Remove it to start the run afresh.") from None
        differ = sorted(k for k in set(saved) | set(self.args)
                        if saved.get(k) != self.args.get(k))
        if differ:
            what = ", ".join(f"{k}: {saved.get(k)!r} there, {self.args.get(k)!r} "
                             "here" for k in differ)
            raise ValueError(
                f"The checkpoint {self.fname} holds a run with other settings "
                f"({what}). "
                "Run with its settings to resume it, or remove it (or choose "
                "another output folder) to start this run.")
        self.state = state
        done = len({(r["set"], r["sample"]) for r in state.get("records", [])})
        logger.info(f"Resuming the run saved in {self.fname} ({done} test samples "
                    "done" + (", MNE's settings chosen" if "tuned" in state else "")
                    + ")")

    def save(self, **state):
        """Update the state and write it (no file: nothing)."""
        self.state.update(state)
        if self.fname is None:
            return
        from .._model import _write_atomic

        data = json.dumps(dict(self.state, args=self.args), default=float)
        self.fname.parent.mkdir(parents=True, exist_ok=True)
        _write_atomic(self.fname, data.encode())


def _noise_cov(epochs):
    """Estimate the noise covariance of a baseline, as MNE recommends it."""
    import warnings

    with warnings.catch_warnings():  # (MNE's note on few samples: the point)
        warnings.simplefilter("ignore", RuntimeWarning)
        return mne.compute_covariance(epochs, tmax=0.0, method="shrunk",
                                      verbose=False)


#: What the settings are chosen for, per set: (metric, larger is better).
OBJECTIVES = dict(single=("mle", False), multi=("f1", True))


def _tune(base, draw, n_validation, random_state, progress, ckpt=None):
    """Choose MNE's settings per set on validation samples (not the test's).

    The validation samples follow the test protocol with their own draws
    (seed ``(random_state, 1)``). Returns ``tuned`` ({set: {method:
    settings}}) and ``validation`` ({set: {method: [[settings, objective,
    mean AUC], ...]}}, every setting tried). With a checkpoint
    (:class:`_Checkpoint`), the scores so far are saved every few samples,
    and a stopped tuning resumes where it was.
    """
    tunable = [m for m in base.methods if TUNING_GRID[m]]
    if not n_validation or not tunable:
        return {}, None
    ckpt = ckpt or _Checkpoint(None, {})
    rng = np.random.default_rng([random_state, 1])
    pos = base.fwd_fixed["source_rr"]
    at = ckpt.state.get("tuning") or {}  # where a stopped tuning was
    done, current = dict(at.get("done", {})), at.get("current")
    if at:
        rng.bit_generator.state = at["rng"]
    tuned, validation = {}, {}
    for kind in SETS:
        metric, larger = OBJECTIVES[kind]
        if kind not in done:
            if current is not None and current["kind"] == kind:
                plan, start = _plan_of(current["plan"]), current["index"] + 1
                scores = current["scores"]
            else:  # {method: [[settings, [[objective, AUC], ...]], ...]}
                plan, start = _sample_plan(kind, n_validation, rng), 0
                scores = {m: [] for m in tunable}
            for ii, (n_patches, extent) in enumerate(ProgressBar(
                    plan[start:], mesg=f"Tuning MNE's methods ({kind} source)",
                    which_tqdm=None if progress else "off"), start):
                evoked, epochs, t_peak, truth, _, noise_cov, _ = draw(
                    n_patches, extent, rng)
                operators = {}  # shared by the minimum-norm methods of this sample
                for method in tunable:
                    rows = {_key(p): vals for p, vals in scores[method]}
                    for params, est_map, _ in base.run(
                            method, _grid(method), evoked, epochs, t_peak,
                            noise_cov, operators):
                        sc = _scores(kind, truth, est_map, pos)
                        key = _key(params)
                        if key not in rows:  # (in the order they run: ties)
                            rows[key] = []
                            scores[method].append([dict(key), rows[key]])
                        rows[key].append([sc[metric], sc["auc"]])
                if (ii + 1) % _CHECKPOINT_EVERY == 0 and ii + 1 < len(plan):
                    ckpt.save(tuning=dict(done=done, rng=rng.bit_generator.state,
                                          current=dict(kind=kind, index=ii,
                                                       plan=plan, scores=scores)))
            done[kind] = scores
            ckpt.save(tuning=dict(done=done, rng=rng.bit_generator.state,
                                  current=None))
        scores = done[kind]
        tuned[kind], validation[kind] = {}, {}
        for method, per in scores.items():
            rows = []
            for params, vals in per:
                vals = np.array(vals, float)
                rows.append([dict(params), float(np.nanmean(vals[:, 0])),
                             float(np.nanmean(vals[:, 1]))])
            sign = -1.0 if larger else 1.0
            best = min(rows, key=lambda r: (sign * r[1], -r[2]))
            tuned[kind][method] = best[0]
            validation[kind][method] = rows
    return tuned, dict(n_samples=n_validation, objective={
        k: f"{'largest' if big else 'smallest'} mean {m}"
        for k, (m, big) in OBJECTIVES.items()}, scores=validation)


def _key(params):
    """Return a hashable key of a method's settings."""
    return tuple(sorted(params.items()))


def _plan_of(saved):
    """Return a sample plan read back from JSON (extents as tuples, as drawn)."""
    return [(n, tuple(e) if isinstance(e, list) else e) for n, e in saved]


def _check_positive_int(value, name):
    _validate_type(value, "int", name)
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value}.")


#: The most test samples per set and trials per evoked a run accepts.
_MAX_SAMPLES = 100_000
_MAX_TRIALS = 10_000


def _check_args(baselines, quick, n_samples, n_trials, time_course, sensors):
    """Check run_benchmark's arguments before any work; return ``n_samples``."""
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
    if n_samples > _MAX_SAMPLES:
        raise ValueError(
            f"n_samples={n_samples} would take days (about a second per sample "
            f"and set); at most {_MAX_SAMPLES} are run. The documented runs use "
            "300-1000.")
    if n_trials is not None:
        _check_positive_int(n_trials, "n_trials")
        if n_trials > _MAX_TRIALS:
            raise ValueError(
                f"n_trials={n_trials} trials per test evoked would not fit in "
                f"memory or time; at most {_MAX_TRIALS} (None: as many as the "
                "protocol's SNR needs).")
    _check_option("time_course", time_course, tuple(EVOKEDS))
    _check_option("sensors", sensors, SENSORS)
    return n_samples


def _scores(kind, truth, est_map, pos):
    """Score one map against the truth (MLE: of the maxima, or of each source)."""
    scores = evaluate(truth[None], np.abs(est_map)[None], pos, metrics=_SCORED)
    return dict(
        auc=float(scores["auc"][0]),
        mle=float(scores["mle" if kind == "single" else "mle_multi"][0]),
        nmse=float(scores["nmse"][0]),
        f1=float(scores["f1"][0]),
        found=float(scores["found"][0]),
        n_ghost=float(scores["n_ghost"][0]),
    )
