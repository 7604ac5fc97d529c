# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Files shipped in ``mne_deepinverse/pretrained/``, verified by sha256 with pooch."""

from importlib.resources import files
from pathlib import Path

import mne
from mne.utils import _check_option, _validate_type, verbose

from .._registry import PRETRAINED

#: The 31 channels of the ConvDip paper (Hecker et al. 2021).
CONVDIP_CH_NAMES = (
    "Fp1 F3 F7 FT9 FC5 FC1 C3 T7 TP9 CP5 CP1 Pz P3 P7 O1 Oz O2 P4 P8 TP10 CP6 CP2 "
    "Cz C4 T8 FT10 FC6 FC2 F4 F8 Fp2"
).split()



def pretrained_dir():
    """Return the folder holding the shipped pretrained files.

    Returns
    -------
    path : pathlib.Path
        ``mne_deepinverse/pretrained``, package data read through
        :mod:`importlib.resources`.
    """
    path = Path(str(files("mne_deepinverse") / "pretrained"))
    if not (path / "registry.txt").is_file():
        raise RuntimeError(
            f"The pretrained files are missing from {path}. Reinstall "
            "mne-deepinverse."
        )
    return path


def _read_registry():
    registry = {}
    with open(pretrained_dir() / "registry.txt") as fid:
        for line in fid:
            line = line.strip()
            if line and not line.startswith("#"):
                name, digest = line.split()
                registry[name] = digest
    return registry


def fetch_pretrained_file(name):
    """Return the path of a shipped file after checking its sha256 hash.

    Parameters
    ----------
    name : str
        File name in ``pretrained/registry.txt``.

    Returns
    -------
    path : pathlib.Path
        The verified file.
    """
    import pooch

    registry = _read_registry()
    _check_option("name", name, sorted(registry))
    path = pretrained_dir() / name
    if not path.is_file():
        raise FileNotFoundError(f"Pretrained file {path} is missing; reinstall.")
    algorithm, _, expected = registry[name].rpartition(":")
    digest = pooch.file_hash(str(path), alg=algorithm or "sha256")
    if digest != expected:
        raise RuntimeError(
            f"The hash of {path} ({digest}) does not match the registry "
            f"({expected}): the file is corrupted or was edited. Reinstall "
            "mne-deepinverse, or restore the file from the repository."
        )
    return path


@verbose
def read_pretrained_forward(model="convdip", *, fixed=True, verbose=None):
    """Read the exact forward model a shipped pretrained model was trained on.

    Parameters
    ----------
    model : "convdip" | "unet" | "vnet" | "sifnet"
        Name of the pretrained model. All four share one forward: the
        ConvDip paper's 31 channels on the template's ico4 source space
        (5124 sources).
    fixed : bool
        If True (default), sources are fixed normal to the cortex, as the
        networks use them; if False, the free-orientation forward (what MNE's
        minimum-norm solvers need for depth weighting).
    %(verbose)s

    Returns
    -------
    fwd : instance of Forward
        The forward solution.
    """
    _validate_type(model, str, "model")
    _check_option("model", model, sorted(PRETRAINED))
    _validate_type(fixed, bool, "fixed")
    if PRETRAINED[model]["forward"] is None:
        raise ValueError(
            f"The pretrained model {model!r} accepts "
            f"{PRETRAINED[model]['accepts']} and has no forward "
            "of its own: apply it with the template forward of your sensors, "
            "make_template_forward(inst.info)."
        )
    fname = fetch_pretrained_file(PRETRAINED[model]["forward"])
    fwd = mne.read_forward_solution(fname, verbose=False)
    if fixed:
        fwd = mne.convert_forward_solution(
            fwd, surf_ori=True, force_fixed=True, use_cps=True, verbose=False
        )
    return fwd
