# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""The ConvDip paper's evaluation :footcite:`HeckerEtAl2021`, deep vs MNE.

Training/inversion forward: the template (ico4, 5124 sources). Test data come
from the alternative generative model (AGM: oct6, altered conductivities,
electrodes moved by N(0, 2 mm)) and the truth is mapped onto the model's
sources by 5-nearest-neighbour averaging (:mod:`mne_deepinverse.agm`), so no
method profits from the inverse crime.

Every test sample is an evoked response (half a 5 Hz sine) averaged over
``n_trials`` trials with noise; all methods are scored at its peak. MNE's
minimum-norm solvers get a noise covariance from the pre-stimulus baseline,
LCMV a data covariance from the post-stimulus window (0-100 ms) of the single
trials (unit-noise-gain weights, fixed orientations), which is what makes it
localise a clean source. Deep models see the peak sample only.

By default the cap is the ConvDip paper's 31 channels, the layout of the
shipped models. ``montage=`` runs the benchmark on one of MNE's built-in
montages instead: the AGM test data and the MNE solvers then use that cap's
channels (AGM: its positions moved by N(0, 2 mm); solvers: the template
forward made for it), and every deep model runs on its own channels, picked
from the cap, if the cap has them all and the model's forward check passes
on the cap's forward; otherwise the model is reported as not applicable,
with the reason.
"""

from ._protocol import (
    BASELINES,
    CLASSIC_1020,
    EVOKEDS,
    METRICS,
    SENSORS,
    SETS,
    STAT_METRICS,
)
from ._result import SELECTION, TIMING, BenchmarkResult
from ._run import run_benchmark

__all__ = [
    "BASELINES",
    "CLASSIC_1020",
    "EVOKEDS",
    "METRICS",
    "SELECTION",
    "SENSORS",
    "SETS",
    "STAT_METRICS",
    "TIMING",
    "BenchmarkResult",
    "run_benchmark",
]
