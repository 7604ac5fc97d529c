# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Peak memory of apply_deep_inverse_raw on a long recording, beyond the estimate.

A 64-channel EEG recording (the ConvDip paper's 31 channels and 33 more of
the 10-05 system, template positions) of ``--minutes`` at ``--sfreq`` Hz
(250) is inverted
with a model at the default settings (``buffer_size`` 10,000, or
``--buffer-size``) in a fresh
process, a model for fixed channels with its pretrained forward (it reads
its 31 channels of the 64), any other with the template forward of the 64.
The peak resident set during the call minus the memory before it and minus
the returned estimate (n_sources x n_times float32) is what the call needed
beyond its result (Linux, ``/proc/self/status``); the call's duration gives
the throughput as a multiple of real time.

Usage::

    python benchmarks/bench_raw_memory.py --model unet --minutes 10
    python benchmarks/bench_raw_memory.py --model sifnet --minutes 2 --sfreq 1000
    python benchmarks/bench_raw_memory.py --model unet --minutes 60 --generator

With ``--generator`` the estimate is streamed chunk by chunk
(``return_generator=True``) and nothing is kept: the peak is all the call
needs.
"""

import argparse
import json
import time

import mne
import numpy as np
from bench_apply import _rss_mb as _mb  # (this folder, on sys.path)

from mne_deepinverse import apply_deep_inverse_raw
from mne_deepinverse._registry import PRETRAINED
from mne_deepinverse.datasets import (
    CONVDIP_CH_NAMES,
    make_template_forward,
    make_template_info,
    make_template_montage,
    read_pretrained_forward,
)


def main():
    """Invert a long recording once; print the memory beyond the estimate."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="unet")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--sfreq", type=float, default=250.0,
                        help="sampling rate of the recording (Hz)")
    parser.add_argument("--buffer-size", type=int, default=10_000,
                        help="samples per chunk (apply_deep_inverse_raw's buffer_size)")
    parser.add_argument("--json", default=None, help="also write the numbers here")
    parser.add_argument("--generator", action="store_true",
                        help="stream the estimate (return_generator=True), "
                        "keeping no chunk")
    args = parser.parse_args()
    mne.set_log_level("WARNING")
    sfreq = args.sfreq
    biosemi = mne.channels.make_standard_montage("biosemi64").ch_names
    template = make_template_montage().ch_names
    more = [ch for ch in biosemi
            if ch not in CONVDIP_CH_NAMES and ch in template][:33]
    assert len(more) == 33
    info = make_template_info(CONVDIP_CH_NAMES + more, sfreq=sfreq)
    fwd = make_template_forward(info)
    n = int(args.minutes * 60 * sfreq)
    rng = np.random.default_rng(0)
    src = rng.standard_normal((20, n)).astype(np.float32) * 1e-8
    idx = rng.choice(fwd["nsource"], 20, replace=False)
    data = fwd["sol"]["data"][:, idx] @ src
    data += rng.normal(0, 1e-6, data.shape)
    raw = mne.io.RawArray(data, info, verbose=False)
    raw.set_eeg_reference(projection=True, verbose=False)
    del src, data
    # load and bind on a short span first, then measure the long call
    if PRETRAINED.get(args.model, {}).get("forward"):  # its own channels
        fwd = read_pretrained_forward(args.model)
    apply_deep_inverse_raw(raw, fwd, args.model, stop=100)
    open("/proc/self/clear_refs", "w").write("5")
    before = _mb("VmRSS")
    t0 = time.perf_counter()
    if args.generator:
        n_chunks = 0
        for _stc in apply_deep_inverse_raw(raw, fwd, args.model,
                                           buffer_size=args.buffer_size,
                                           return_generator=True):
            n_chunks += 1  # a user would save it here
        estimate = 0.0
    else:
        stc = apply_deep_inverse_raw(raw, fwd, args.model,
                                     buffer_size=args.buffer_size)
        estimate = stc.data.nbytes / 2**20
    seconds = time.perf_counter() - t0
    peak = _mb("VmHWM") - before
    how = f", {n_chunks} chunks streamed" if args.generator else ""
    print(f"{args.model}: {n} samples ({args.minutes:g} min at {sfreq:g} Hz, 64 EEG "
          f"channels, buffer_size {args.buffer_size}{how}): "
          f"peak {peak:.0f} MB during the call, estimate {estimate:.0f} MB, "
          f"beyond the estimate {peak - estimate:.0f} MB; {seconds:.1f} s "
          f"({n / sfreq / seconds:.1f}x real time)")
    if args.json:
        with open(args.json, "w") as fid:
            json.dump(dict(model=args.model, n_times=n, sfreq=sfreq,
                           buffer_size=args.buffer_size, peak_mb=peak,
                           estimate_mb=estimate, beyond_mb=peak - estimate,
                           seconds=seconds, real_time=n / sfreq / seconds), fid)


if __name__ == "__main__":
    main()
