# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Deep-learning EEG/MEG inverse solutions for MNE-Python."""

from . import baselines, datasets, metrics, simulation
from ._version import __version__

__all__ = ["__version__", "baselines", "datasets", "metrics", "simulation"]
