# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Deep-learning EEG/MEG inverse solutions for MNE-Python."""

from . import baselines, datasets, metrics, simulation
from ._inverse import apply_deep_inverse
from ._version import __version__
from .estimator import DeepInverse, read_deep_inverse

__all__ = [
    "DeepInverse",
    "__version__",
    "apply_deep_inverse",
    "baselines",
    "datasets",
    "metrics",
    "read_deep_inverse",
    "simulation",
]
