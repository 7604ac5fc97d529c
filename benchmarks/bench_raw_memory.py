# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Peak memory of apply_deep_inverse_raw on a long recording, beyond the estimate.

A 64-channel EEG recording (the ConvDip paper's 31 channels and 33 more of
the 10-05 system, template positions) of ``--minutes`` at 250 Hz is inverted
with a model at the default settings (``buffer_size`` 10,000) in a fresh
process, a model for fixed channels with its pretrained forward (it reads
its 31 channels of the 64), any other with the template forward of the 64.
The peak resident set during the call minus the memory before it and minus
the returned estimate (n_sources x n_times float32) is what the call needed
beyond its result (Linux, ``/proc/self/status``).

Usage::

    python benchmarks/bench_raw_memory.py --model unet --minutes 10
"""

import argparse

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
    args = parser.parse_args()
    mne.set_log_level("WARNING")
    sfreq = 250.0
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
    stc = apply_deep_inverse_raw(raw, fwd, args.model)
    peak = _mb("VmHWM") - before
    estimate = stc.data.nbytes / 2**20
    print(f"{args.model}: {n} samples ({args.minutes:g} min, 64 EEG channels): "
          f"peak {peak:.0f} MB during the call, estimate {estimate:.0f} MB, "
          f"beyond the estimate {peak - estimate:.0f} MB")


if __name__ == "__main__":
    main()
