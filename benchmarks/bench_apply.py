# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Time and memory of apply_deep_inverse for every shipped model vs MNE's dSPM.

For each shipped model, a 1000-sample evoked (31-channel EEG at 250 Hz on the
template; MEG for the any-sensor model) is inverted with
:func:`mne_deepinverse.apply_deep_inverse`, first call (binding included) and
repeated calls (best of ``--repeats``), against MNE's
``make_inverse_operator`` + ``apply_inverse`` (dSPM, fixed orientation) on the
same data in the same run. Ratios (ours / MNE's) are what to compare between
runs and machines; the peak memory is the largest resident-set growth
during a call (after a first one on 10 samples), from ``/proc/self/status``
in a fresh process (Linux; onnxruntime's memory is not numpy's, so
``tracemalloc`` would not see it).

With ``--first-use``, it also measures first use on an empty cache: in a
new process with a new, empty ``MNE_DATA``, the seconds until a forward of a
new EEG cap (EasyCap M1, 74 channels) and of a new MEG head position (the
template's, moved by 5 mm) are ready, and those of the first
``apply_deep_inverse`` call on each (any-cap and any-sensor models).

With ``--raw MINUTES``, it also runs ``bench_raw_memory.py`` for every model
(a 64-channel recording of that many minutes at 250 Hz, default
``buffer_size``, each in a new process): the memory beyond the estimate and
the throughput as a multiple of real time.

Usage::

    python benchmarks/bench_apply.py [--repeats 5] [--first-use] [--raw 2] \
        [--json out.json]
"""

import argparse
import json
import subprocess
import sys
import time

import mne
import numpy as np

from mne_deepinverse import apply_deep_inverse
from mne_deepinverse._registry import PRETRAINED
from mne_deepinverse.datasets import (
    CONVDIP_CH_NAMES,
    make_template_forward,
    make_template_info,
    make_template_meg_info,
    read_pretrained_forward,
)

N_TIMES = 1000
SFREQ = 250.0


def _setup(name):
    """Return the evoked and the forward a model is timed on."""
    rng = np.random.default_rng(0)
    if name == "anysensor":
        info = make_template_meg_info(sfreq=SFREQ)
        fwd = make_template_forward(info)
    else:
        info = make_template_info(CONVDIP_CH_NAMES, sfreq=SFREQ)
        fwd = (read_pretrained_forward(name) if PRETRAINED[name]["forward"]
               else make_template_forward(info))
    names = fwd["info"]["ch_names"]
    info = mne.pick_info(info, [info["ch_names"].index(ch) for ch in names])
    src = np.zeros((fwd["sol"]["data"].shape[1], N_TIMES))
    src[rng.choice(src.shape[0], 3), :] = 1e-8 * np.sin(
        2 * np.pi * 5 * np.arange(N_TIMES) / SFREQ)
    data = fwd["sol"]["data"] @ src
    data += 0.1 * data.std() * rng.standard_normal(data.shape)
    evoked = mne.EvokedArray(data, info, tmin=0.0, verbose=False)
    if "eeg" in evoked.get_channel_types():
        evoked.set_eeg_reference("average", projection=True, verbose=False)
    return evoked, fwd


def _best(fun, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fun()
        times.append(time.perf_counter() - t0)
    return min(times)


def time_model(name, repeats):
    """Seconds of the first and of repeated calls, ours and MNE's dSPM path."""
    evoked, fwd = _setup(name)
    cov = mne.make_ad_hoc_cov(evoked.info, verbose=False)

    def mne_path():
        inv = mne.minimum_norm.make_inverse_operator(
            evoked.info, fwd, cov, fixed=True, depth=None, verbose=False)
        mne.minimum_norm.apply_inverse(evoked, inv, 1 / 9, "dSPM", verbose=False)

    def ours():
        apply_deep_inverse(evoked, fwd, model=name)

    t0 = time.perf_counter()
    ours()
    first = time.perf_counter() - t0
    return dict(first_s=first, ours_s=_best(ours, repeats),
                mne_dspm_s=_best(mne_path, repeats))


def peak_memory(name):
    """Return the growth of the peak resident set (MB) during one call.

    In a new process: the model is loaded and bound by a first call on 10
    samples, the peak is reset (Linux: ``/proc/self/clear_refs``), and the
    peak of the call on all 1000 samples is read.
    """
    code = (
        "import sys; sys.path.insert(0, 'benchmarks');"
        "from bench_apply import _setup, _rss_mb; from mne_deepinverse import "
        "apply_deep_inverse;"
        f"e, f = _setup({name!r});"
        f"apply_deep_inverse(e.copy().crop(0, 9 / e.info['sfreq']), f, {name!r});"
        "open('/proc/self/clear_refs', 'w').write('5');"
        "r0 = _rss_mb('VmRSS');"
        f"apply_deep_inverse(e, f, model={name!r});"
        "print(_rss_mb('VmHWM') - r0)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def _rss_mb(field):
    """Return a memory field of this process (``VmRSS``, ``VmHWM``) in MB."""
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


_FIRST_USE = """
import time, sys
t0 = time.perf_counter()
import mne, numpy as np
from mne_deepinverse import apply_deep_inverse
from mne_deepinverse.datasets import make_template_forward, make_template_meg_info
mne.set_log_level("WARNING")
out = dict(import_s=time.perf_counter() - t0)

def ready(info, model):
    t0 = time.perf_counter()
    fwd = make_template_forward(info)
    t1 = time.perf_counter()
    evoked = mne.EvokedArray(fwd["sol"]["data"][:, :50] * 1e-8, info)
    if model == "anycap":
        evoked.set_eeg_reference("average", projection=True)
    apply_deep_inverse(evoked, fwd, model=model)
    return t1 - t0, time.perf_counter() - t1

montage = mne.channels.make_standard_montage("easycap-M1")
info = mne.create_info(montage.ch_names, 250.0, "eeg").set_montage(montage)
out["eeg_forward_s"], out["eeg_first_apply_s"] = ready(info, "anycap")
trans = make_template_meg_info()["dev_head_t"]["trans"].copy()
trans[:3, 3] += np.array([3.0, -3.0, 2.6]) * 1e-3
info = make_template_meg_info(sfreq=250.0, dev_head_t=trans)
out["meg_forward_s"], out["meg_first_apply_s"] = ready(info, "anysensor")
print(repr(out))
"""


def first_use():
    """Seconds to a first forward and estimate in a new process, empty cache."""
    import ast
    import os
    import tempfile

    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, MNE_DATA=cache)
        out = subprocess.run([sys.executable, "-c", _FIRST_USE], capture_output=True,
                             text=True, check=True, env=env)
    return ast.literal_eval(out.stdout.strip().splitlines()[-1])


def raw_run(name, minutes):
    """Memory beyond the estimate and throughput of a Raw (bench_raw_memory.py)."""
    import os
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "raw.json")
        here = os.path.dirname(os.path.abspath(__file__))
        subprocess.run([sys.executable, os.path.join(here, "bench_raw_memory.py"),
                        "--model", name, "--minutes", str(minutes), "--json", out],
                       capture_output=True, text=True, check=True)
        with open(out) as fid:
            return json.load(fid)


def main():
    """Time every shipped model; print (and save) the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--models", nargs="+", default=sorted(PRETRAINED))
    parser.add_argument("--json", default=None)
    parser.add_argument("--first-use", action="store_true")
    parser.add_argument("--raw", type=float, default=None, metavar="MINUTES")
    args = parser.parse_args()
    mne.set_log_level("WARNING")
    import datetime
    import os
    import platform

    import onnxruntime

    out = {"machine": dict(
        cpu=f"{platform.machine()} ({os.cpu_count()} cores)",
        versions=f"MNE {mne.__version__}, onnxruntime {onnxruntime.__version__}",
        date=datetime.date.today().isoformat(),
        command="python benchmarks/bench_apply.py " + " ".join(sys.argv[1:]))}
    if args.first_use:
        out["first_use"] = first_use()
        print("first use, empty cache (s): " + ", ".join(
            f"{key[:-2]} {val:.1f}" for key, val in out["first_use"].items()))
    print(f"{'model':<10} {'first s':>8} {'ours s':>8} {'dSPM s':>8} "
          f"{'ratio':>6} {'peak MB':>8}" + (f" {'raw MB':>7} {'x real':>7}"
                                            if args.raw else ""))
    for name in args.models:
        res = time_model(name, args.repeats)
        res["ratio"] = res["ours_s"] / res["mne_dspm_s"]
        res["peak_mb"] = peak_memory(name)
        line = (f"{name:<10} {res['first_s']:8.3f} {res['ours_s']:8.3f} "
                f"{res['mne_dspm_s']:8.3f} {res['ratio']:6.2f} {res['peak_mb']:8.0f}")
        if args.raw:
            res["raw"] = raw_run(name, args.raw)
            line += f" {res['raw']['beyond_mb']:7.0f} {res['raw']['real_time']:7.1f}"
        out[name] = res
        print(line)
    if args.json:
        with open(args.json, "w") as fid:
            json.dump(out, fid, indent=1)


if __name__ == "__main__":
    main()
