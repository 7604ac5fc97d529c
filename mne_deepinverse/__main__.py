# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Command line: ``mne-deepinverse demo | benchmark | sys-info``."""

import argparse
import sys

from ._version import __version__


def _int_type(minimum, what):
    """Argparse type: an int >= minimum."""

    def check(value):
        try:
            n = int(value)
        except ValueError:
            n = minimum - 1
        if n < minimum:
            raise argparse.ArgumentTypeError(f"must be {what}, got {value!r}")
        return n

    return check


_positive_int = _int_type(1, "a positive integer (1, 2, ...)")
_seed = _int_type(0, "an integer >= 0")
_non_negative_int = _int_type(0, "an integer >= 0")


def _sys_info(args, error):
    """Print :func:`mne.sys_info` and what mne-deepinverse adds to it."""
    import importlib

    import mne

    from .datasets import get_cache_dir, get_template, pretrained_dir

    mne.sys_info(check_version=False)  # offline: no look-up of the latest MNE
    print("\nmne-deepinverse:")
    print(f"├☑ mne-deepinverse  {__version__}")
    for name in ("torch", "onnxruntime", "onnx", "pooch"):
        try:
            version = getattr(importlib.import_module(name), "__version__", "?")
            mark = "☑"
        except ImportError:
            version, mark = "not installed", "☐"
        print(f"├{mark} {name:<16} {version}")
    subjects_dir, subject = get_template()
    print(f"├  template         {subject} in {subjects_dir}")
    print(f"├  pretrained       {pretrained_dir()}")
    print(f"└  cache (MNE_DATA) {get_cache_dir()}")
    return 0


def _demo(args, error):
    from ._demo import _check_out_dir, run_demo

    try:
        _check_out_dir(args.out_dir)
    except OSError as exc:
        error(str(exc))
    run_demo(out_dir=args.out_dir, random_state=args.seed, show=False)
    return 0


#: The benchmark's state in its output folder while it runs (a run stopped
#: before the end resumes from it when run again with the same arguments).
CHECKPOINT = "benchmark.checkpoint.json"


def _real_data(args, error):
    from ._demo import _check_out_dir
    from .benchmark._real import format_real_data, run_real_data

    try:
        _check_out_dir(args.out_dir)
    except (ValueError, OSError) as exc:
        error(str(exc))
    result = run_real_data(args.fname, models=tuple(args.models),
                           methods=tuple(args.methods), sensors=tuple(args.sensors),
                           out_dir=args.out_dir)
    print(format_real_data(result))
    print(f"Saved real_data.json and real_data.rst in {args.out_dir}")
    return 0


def _benchmark(args, error):
    from pathlib import Path

    from ._demo import _check_out_dir
    from .benchmark import STAT_METRICS, run_benchmark
    from .benchmark._methods import _load_deep_models
    from .benchmark._protocol import _montage_info
    from .benchmark._result import _reused_run

    if args.quick and args.n_samples is not None:
        error(f"--quick runs 30 samples per set, but --n-samples {args.n_samples} "
              "was given too: pass one of them.")
    try:  # cheap checks first, so bad input fails in seconds, not minutes
        _check_out_dir(args.out_dir)
        if args.montage is not None:
            _montage_info(args.montage)
        # on another cap the models are checked against its forward, in the run
        _load_deep_models(tuple(args.models),
                          check=args.montage is None and args.sensors == "eeg")
        if args.reuse_baselines is not None:  # readable (settings: in the run)
            _reused_run(args.reuse_baselines, (), {})
    except (ValueError, TypeError, OSError, RuntimeError) as exc:
        error(str(exc))
    result = run_benchmark(
        models=tuple(args.models), montage=args.montage, sensors=args.sensors,
        n_samples=args.n_samples, baselines=tuple(args.baselines),
        protocol=args.protocol, n_validation=args.n_validation,
        quick=args.quick, random_state=args.seed, n_trials=args.n_trials,
        time_course=args.time_course, reuse_baselines=args.reuse_baselines,
        checkpoint=Path(args.out_dir) / CHECKPOINT,
    )
    out = Path(args.out_dir)
    print(result.table())
    stats = result.statistics()
    if not result.config["deep"]:
        print("No deep model ran on this cap, so there are no paired tests.")
    for kind, st in stats.items():
        print(f"{kind}: {st['chosen']}")
        for met in STAT_METRICS[kind]:
            s = st[met]
            print(f"{kind}: {s['deep']} - {s['baseline']} {met}: mean difference "
                  f"{s['mean_diff']:.4g}, paired permutation p = {s['p_value']:.4g}, "
                  f"Cohen's d = {s['cohens_d']:.2f} (n = {s['n']})")
    files = list(result.save(out)) + list(result.plot(out))
    (out / CHECKPOINT).unlink(missing_ok=True)  # done: the next run starts afresh
    print("Saved:\n  " + "\n  ".join(str(f.resolve()) for f in files))
    return 0


def _bids(args, error):
    from .bids import process_bids

    try:
        report = process_bids(
            args.root, model=args.model, datatype=args.datatype,
            subjects=args.subjects, sessions=args.sessions, tasks=args.tasks,
            runs=args.runs, output=args.output, event_id=args.event_id,
            tmin=args.tmin, tmax=args.tmax, overwrite=args.overwrite,
            n_jobs=args.n_jobs, client=args.scheduler)
    except (ValueError, TypeError, OSError) as exc:
        error(str(exc))
    for rec in report:
        line = f"{rec['status']:>7}  {rec['recording']}  ({rec['seconds']:.1f} s)"
        if rec["error"]:
            line += "\n         " + rec["error"].strip().splitlines()[-1]
        print(line)
    failed = sum(rec["status"] == "failed" for rec in report)
    print(f"{len(report) - failed} of {len(report)} recording(s) done or skipped; "
          f"{failed} failed")
    return 1 if failed else 0


def main(argv=None):
    """Run the ``mne-deepinverse`` command line."""
    from ._registry import BENCHMARK_BASELINES as BASELINES
    from ._registry import BENCHMARK_PROTOCOLS as PROTOCOLS
    from ._registry import PRETRAINED

    parser = argparse.ArgumentParser(
        prog="mne-deepinverse",
        description="Deep-learning EEG/MEG inverse solutions for MNE-Python.",
    )
    parser.add_argument("--version", action="version",
                        version=f"mne-deepinverse {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("sys-info", help="mne.sys_info(), our versions and where "
                                        "our files are")
    p.set_defaults(func=_sys_info)
    p = sub.add_parser(
        "demo",
        help="simulate an evoked on the template and compare inverse solutions",
    )
    p.add_argument("--out-dir", default=".", help="where to save the figure")
    p.add_argument("--seed", type=_seed, default=0, help="random seed")
    p.set_defaults(func=_demo)
    p = sub.add_parser(
        "benchmark",
        help="the ConvDip paper's evaluation: deep models vs MNE's solvers",
    )
    p.add_argument("--quick", action="store_true",
                   help="30 samples per set (not with --n-samples)")
    p.add_argument(
        "--models", nargs="+", default=list(PRETRAINED),
        help="pretrained model names or saved model files (.onnx) to compare "
             f"(default: {' '.join(PRETRAINED)})",
    )
    p.add_argument(
        "--montage", default=None, metavar="NAME",
        help="EEG cap: one of MNE's built-in montages (e.g. colin27_1020 = its "
             "19 classic 10-20 channels, biosemi64, easycap-M1, GSN-HydroCel-128; "
             "see mne.channels.get_builtin_montages()); default: the ConvDip "
             "paper's 31 channels. Test data and MNE solvers use the cap; deep "
             "models that cannot run on it are reported as not applicable",
    )
    p.add_argument("--baselines", nargs="+", default=list(BASELINES),
                   choices=BASELINES, metavar="METHOD",
                   help=f"MNE's methods (default: all: {' '.join(BASELINES)}; "
                        "'dipole' fits a dipole per single-source evoked: 0.3 s "
                        "each with numba, 10 s without)")
    p.add_argument("--protocol", choices=tuple(PROTOCOLS), default="realistic",
                   help="test data: background brain activity (1/f) plus sensor "
                        "noise, 200-ms baselines (realistic), or the ConvDip "
                        "paper's white sensor noise and 100-ms baselines")
    p.add_argument("--n-validation", type=_non_negative_int, default=None,
                   help="validation samples per set on which MNE's settings are "
                        "chosen (default: 50; --quick: 10; 0: MNE's defaults)")
    p.add_argument("--sensors", choices=("eeg", "meg", "meg+eeg"), default="eeg",
                   help="EEG (the cap of --montage), the template Neuromag "
                        "VectorView MEG (head moved in the helmet, real MEG noise), "
                        "or both")
    p.add_argument("--n-samples", type=_positive_int, default=None,
                   help="samples per set (default: 1000; --quick: 30)")
    p.add_argument("--n-trials", type=_positive_int, default=None,
                   help="trials per evoked (default: 20, more on caps of over 43 "
                        "channels, as MNE's covariances need)")
    p.add_argument("--time-course", choices=("half-sine", "erp"), default="half-sine",
                   help="test evokeds: the ConvDip paper's half sine (100 Hz, "
                        "-0.2-0.2 s; -0.1 s with --protocol convdip-paper) or "
                        "evoked-response-like waveforms (250 Hz, -0.2-0.308 s, one "
                        "window of models that read windows)")
    p.add_argument("--out-dir", default="benchmark_results",
                   help="output folder; while the run lasts it holds the run's "
                        f"state ({CHECKPOINT}), so a run that was stopped "
                        "resumes when run again with the same arguments")
    p.add_argument("--seed", type=_seed, default=0, help="random seed")
    p.add_argument("--reuse-baselines", default=None, metavar="RUN",
                   help="a previous run (its benchmark.json or folder) with the "
                        "same settings: its MNE solvers' scores are reused (the "
                        "test data are checked sample by sample) and only the "
                        "deep models run")
    p.set_defaults(func=_benchmark)
    from ._registry import REAL_DATA_METHODS as MNE_METHODS
    from ._registry import REAL_DATA_MODELS as EEG_MODELS
    from ._registry import REAL_DATA_SENSORS as SENSOR_SETS

    p = sub.add_parser(
        "real-data",
        help="where each model and MNE's methods put the auditory and visual "
             "responses of the MNE sample recording (EEG, MEG, EEG+MEG)")
    p.add_argument("--fname", default=None,
                   help="the recording (default: the full sample recording if "
                        "downloaded, else the project's 24-s excerpt)")
    p.add_argument("--models", nargs="+", default=list(EEG_MODELS),
                   choices=EEG_MODELS, metavar="MODEL")
    p.add_argument("--methods", nargs="+", default=list(MNE_METHODS),
                   choices=MNE_METHODS, metavar="METHOD")
    p.add_argument("--sensors", nargs="+", default=list(SENSOR_SETS),
                   choices=SENSOR_SETS)
    p.add_argument("--out-dir", default="real_data_results")
    p.set_defaults(func=_real_data)
    p = sub.add_parser(
        "bids", help="source estimates for a BIDS dataset, written as BIDS "
                     "derivatives (derivatives/mne-deepinverse)")
    p.add_argument("root", help="the BIDS dataset's root folder")
    p.add_argument("--model", default="anycap",
                   help="pretrained model name or saved model file (default: "
                        "anycap; anysensor for MEG)")
    p.add_argument("--datatype", choices=("eeg", "meg"), default="eeg")
    for entity in ("subjects", "sessions", "tasks", "runs"):
        p.add_argument(f"--{entity}", nargs="+", default=None,
                       help=f"which {entity} (default: all)")
    p.add_argument("--output", choices=("evoked", "epochs", "raw"), default="evoked",
                   help="one estimate per condition's evoked, one per epoch, or "
                        "the continuous data in splits")
    p.add_argument("--event-id", nargs="+", default=None, metavar="CONDITION",
                   help="conditions to average or cut epochs of (default: all "
                        "in the events files)")
    p.add_argument("--tmin", type=float, default=-0.2)
    p.add_argument("--tmax", type=float, default=0.5)
    p.add_argument("--overwrite", action="store_true",
                   help="compute recordings whose estimates exist again")
    p.add_argument("--n-jobs", type=_positive_int, default=1,
                   help="recordings processed at once on this machine")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="a Dask scheduler (e.g. tcp://10.0.0.1:8786): run the "
                        "recordings on its workers")
    p.set_defaults(func=_bids)
    args = parser.parse_args(argv)
    # errors of our own checks: one line "usage ... error: ..." and exit code 2
    return args.func(args, sub.choices[args.command].error)


if __name__ == "__main__":
    sys.exit(main())
