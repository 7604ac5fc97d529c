# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Write the forward models the pretrained networks are trained on.

``mne_deepinverse/pretrained/convdip-fwd.fif``: the ConvDip paper's 31
channels (10-05 positions of the template) on the template's ico4 source
space, 3-layer BEM with conductivities (0.3, 0.006, 0.3) S/m, free orientation
(the fixed one is derived on reading). The file's sha256 is written to
``mne_deepinverse/pretrained/registry.txt``.
"""

from pathlib import Path

import mne
import pooch

from mne_deepinverse.datasets import (
    CONVDIP_CH_NAMES,
    make_template_forward,
    make_template_info,
)

ROOT = Path(__file__).resolve().parents[1]


def update_registry(fname):
    """Add or replace ``fname``'s sha256 in the ``registry.txt`` beside it."""
    fname = Path(fname)
    reg = fname.parent / "registry.txt"
    lines = reg.read_text().splitlines() if reg.is_file() else []
    lines = [ln for ln in lines if ln.split()[:1] != [fname.name]]
    lines.append(f"{fname.name} sha256:{pooch.file_hash(str(fname))}")
    reg.write_text("\n".join(sorted(lines)) + "\n")


def main():
    """Write the pretrained forward and update the registry."""
    info = make_template_info(CONVDIP_CH_NAMES)
    fwd = make_template_forward(info, "ico4", fixed=False, verbose=True)
    assert fwd["nsource"] == 5124, fwd["nsource"]
    fname = ROOT / "mne_deepinverse" / "pretrained" / "convdip-fwd.fif"
    mne.write_forward_solution(fname, fwd, overwrite=True)
    update_registry(fname)
    print(f"Wrote {fname} ({fname.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
