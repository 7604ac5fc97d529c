# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Deep-learning EEG/MEG inverse solutions for MNE-Python."""

from . import baselines, datasets, metrics, simulation
from ._inverse import (
    apply_deep_inverse,
    apply_deep_inverse_epochs,
    apply_deep_inverse_raw,
)
from ._model import DeepInverseModel, read_deep_inverse_model
from ._version import __version__
from .estimator import DeepInverse, read_deep_inverse

__all__ = [
    "DeepInverse",
    "DeepInverseModel",
    "__version__",
    "apply_deep_inverse",
    "apply_deep_inverse_epochs",
    "apply_deep_inverse_raw",
    "baselines",
    "datasets",
    "metrics",
    "read_deep_inverse",
    "read_deep_inverse_model",
    "simulation",
]
