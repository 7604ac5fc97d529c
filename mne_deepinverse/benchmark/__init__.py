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
``n_trials`` trials with noise (by default background activity of all sources,
1/f, plus sensor noise, with 200-ms baselines, from a test head scaled and
co-registered off the template: :data:`PROTOCOLS`); all methods
are scored at its peak. MNE's methods are run as an expert would: a noise
covariance from the pre-stimulus baseline estimated with ``method="shrunk"``,
for LCMV also a data covariance from the post-stimulus window (0-100 ms) of
the single trials (unit-noise-gain weights, fixed orientations); the sparse
solvers (MxNE, irMxNE, gamma-MAP) and TRAP-MUSIC fit the post-stimulus
window, a single-dipole fit (:func:`mne.fit_dipole`, the template's BEM) the
peak; and each method's regularisation, depth weighting or number of dipoles
(:data:`TUNING_GRID`) is chosen on a separate validation set, never on the
test samples. Deep models see the peak sample only (models that read windows:
the whole evoked).

By default the cap is the ConvDip paper's 31 channels, the layout of the
shipped models. ``montage=`` runs the benchmark on one of MNE's built-in
montages instead: the AGM test data and the MNE solvers then use that cap's
channels (AGM: its positions moved by N(0, 2 mm); solvers: the template
forward made for it), and every deep model runs on its own channels, picked
from the cap, if the cap has them all and the model's forward check passes
on the cap's forward; otherwise the model is reported as not applicable,
with the reason.
"""

from ._methods import DEFAULT_SETTINGS, TUNING_GRID
from ._protocol import (
    BASELINES,
    CLASSIC_1020,
    EVOKEDS,
    METRICS,
    PROTOCOLS,
    SENSORS,
    SETS,
    STAT_METRICS,
)
from ._result import SELECTION, TIMING, BenchmarkResult
from ._run import run_benchmark

__all__ = [
    "BASELINES",
    "CLASSIC_1020",
    "DEFAULT_SETTINGS",
    "EVOKEDS",
    "METRICS",
    "PROTOCOLS",
    "SELECTION",
    "SENSORS",
    "SETS",
    "STAT_METRICS",
    "TIMING",
    "TUNING_GRID",
    "BenchmarkResult",
    "run_benchmark",
]
