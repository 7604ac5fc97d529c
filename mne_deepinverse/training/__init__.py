# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Training networks (torch): one loop over one kind of training data.

:func:`fit_network` trains any backend's network on a :class:`TrainingData`
(batches drawn afresh every epoch from per-epoch, per-process random
streams, and a validation set); ``DeepInverse.fit``, its any-sensor fit and
``tools/train_anycap.py`` all go through it.
"""

from ._data import TRAINING_DATA, TrainingData, sample_data, window_data
from ._loop import card_training_record, fit_network, normalise_sources

__all__ = ["TRAINING_DATA", "TrainingData", "card_training_record", "fit_network",
           "normalise_sources", "sample_data", "window_data"]
