# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Shared docstring entries (``%(name)s``) and the decorator that fills them."""

from mne.utils.docs import docdict as _mne_docdict

docdict = {}

docdict["maps"] = """y_true, y_pred : array, shape (n_sources,)
    True and estimated source maps."""
docdict["pos"] = """pos : array, shape (n_sources, 3)
    Source positions in m."""
docdict["true_idx"] = """true_idx : array of int | None
    True source centres (default: maxima of ``y_true``)."""
docdict["sim_params"] = """n_patches : int | tuple of int
    Number of active patches per sample (at least 1), or its (min, max)
    range.
extent : int | float | tuple
    Patch size range: integer neighbourhood orders (``extent_units="order"``,
    0 to 20; order 0 is a single source) or diameters in mm (``"mm"``).
extent_units : "order" | "mm"
    Units of ``extent``.
amplitude : float | tuple of float
    Seed moment range in nAm (> 0); the moment falls off over the patch with a
    Gaussian of the distance to the seed (sd = half the patch radius).
snr_db : float | tuple of float
    Finite range of the signal-to-noise ratio in dB (mean signal power over mean
    noise power across channels, per sample).
noise : "white" | "brain" | instance of Covariance | list
    Sensor noise: independent across channels (``"white"``); spatially
    correlated like activity of independent sources all over the cortex
    (``"brain"``); drawn from a noise covariance; or a list of these mixed
    with equal power.
average_ref : bool
    Re-reference the EEG to the channel average.
dtype : numpy dtype
    Floating-point type of the arrays returned."""
docdict["random_state"] = """\
random_state : None | int | instance of numpy.random.Generator
    Seed; the same seed gives the same result."""


def fill_doc(f):
    """Fill ``%(name)s`` entries of ``f``'s docstring (ours and MNE's)."""
    doc = f.__doc__
    if not doc:
        return f
    lines = doc.splitlines()
    indents = [len(ln) - len(ln.lstrip()) for ln in lines[1:] if ln.strip()]
    indent = " " * (min(indents) if indents else 0)
    entries = {**_mne_docdict, **docdict}
    filled = {}
    for key, value in entries.items():
        parts = value.strip("\n").splitlines()
        filled[key] = "\n".join(parts[:1] + [indent + p if p else p for p in parts[1:]])
    f.__doc__ = doc % filled
    return f
