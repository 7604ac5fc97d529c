# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Make the shipped scalp lead field of the template (EEG forwards without a BEM).

MNE's EEG forward interpolates the potentials at the scalp vertices of the
BEM under each electrode (barycentric weights in the nearest triangle). This
script computes, with :func:`mne.make_forward_solution` on the template's
three-layer BEM (default conductivities) and ico4 source space, the
free-orientation gains of every source at every scalp vertex, factors them
by SVD and keeps the smallest rank whose stored factors (left in float32,
right in float16) reproduce every source's gains to ``--max-error``
(relative, Euclidean norm over the vertices). It then checks the
interpolated forwards of three MNE standard caps against MNE's own forwards
and writes ``mne_deepinverse/pretrained/template-eeg-leadfield.npz`` with its
sha256 in ``registry.txt``.

Usage::

    python tools/make_eeg_leadfield.py [--max-error 6e-4]
"""

import argparse
import time
from pathlib import Path

import mne
import numpy as np

from mne_deepinverse.datasets import (
    DEFAULT_CONDUCTIVITY,
    get_template_trans,
    make_template_bem,
    make_template_forward,
    setup_template_source_space,
)
from mne_deepinverse.datasets._leadfield import LEADFIELD_FILE, read_scalp_leadfield

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "mne_deepinverse" / "pretrained" / LEADFIELD_FILE
SPACING = "ico4"
CHECK_CAPS = ("easycap-M1", "biosemi64", "GSN-HydroCel-128")


def vertex_forward(bem, src):
    """MNE's forward with one electrode at each scalp vertex (head frame)."""
    trans = get_template_trans()
    scalp = bem["surfs"][0]
    rr = mne.transforms.apply_trans(mne.transforms.invert_transform(trans),
                                    scalp["rr"])
    names = [f"V{i:04d}" for i in range(len(rr))]
    info = mne.create_info(names, 100.0, "eeg")
    info.set_montage(mne.channels.make_dig_montage(
        ch_pos=dict(zip(names, rr, strict=True)), coord_frame="head"))
    fwd = mne.make_forward_solution(info, trans, src, bem, meg=False, eeg=True,
                                    mindist=0.0, verbose=False)
    return fwd["sol"]["data"].astype(np.float64), scalp


def factor(gain, max_error):
    """Smallest-rank stored factors whose per-source error is <= max_error."""
    u, s, vt = np.linalg.svd(gain, full_matrices=False)
    norms = np.linalg.norm(gain, axis=0)
    for rank in range(100, len(s) + 1, 50):
        left = (u[:, :rank] * s[:rank]).astype(np.float32)
        right = vt[:rank].astype(np.float16)
        err = np.linalg.norm(left.astype(np.float64) @ right.astype(np.float64)
                             - gain, axis=0) / norms
        print(f"rank {rank}: largest error per source {err.max():.2e}")
        if err.max() <= max_error:
            return left, right, float(err.max())
    raise RuntimeError(f"No rank reaches {max_error}.")


def check(caps):
    """Largest per-source relative error of the shipped route vs MNE's BEM forward."""
    from mne_deepinverse.datasets._template import _template_forward_bem

    worst = 0.0
    for cap in caps:
        mont = mne.channels.make_standard_montage(cap)
        info = mne.create_info(mont.ch_names, 100.0, "eeg")
        info.set_montage(mont)
        ours = make_template_forward(info, SPACING, fixed=False)["sol"]["data"]
        ref = _template_forward_bem(info, SPACING, DEFAULT_CONDUCTIVITY)["sol"]["data"]
        err = np.linalg.norm(ours - ref, axis=0) / np.linalg.norm(ref, axis=0)
        print(f"{cap}: largest error per source {err.max():.2e}, median "
              f"{np.median(err):.2e}")
        worst = max(worst, float(err.max()))
    return worst


def main():
    """Compute, store and check the scalp lead field."""
    from make_pretrained_forward import update_registry

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-error", type=float, default=6e-4)
    args = parser.parse_args()
    t0 = time.perf_counter()
    src = setup_template_source_space(SPACING)
    bem = make_template_bem(DEFAULT_CONDUCTIVITY)
    gain, scalp = vertex_forward(bem, src)
    left, right, err = factor(gain, args.max_error)
    np.savez(
        OUT, left=left, right=right,
        scalp_rr=scalp["rr"].astype(np.float32),
        scalp_tris=scalp["tris"].astype(np.int32),
        vertno_0=src[0]["vertno"], vertno_1=src[1]["vertno"],
        spacing=SPACING, conductivity=np.array(DEFAULT_CONDUCTIVITY),
        max_error=err, mne_version=mne.__version__,
    )
    update_registry(OUT)
    read_scalp_leadfield.cache_clear()
    print(f"Wrote {OUT} ({OUT.stat().st_size / 1e6:.1f} MB, rank {len(right)}, "
          f"largest error per source at the vertices {err:.2e}) in "
          f"{time.perf_counter() - t0:.0f} s")
    print(f"Interpolated caps vs MNE's forwards: largest error {check(CHECK_CAPS):.2e}")


if __name__ == "__main__":
    main()
