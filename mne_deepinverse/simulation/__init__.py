# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Training and test data: region-grown source patches, noise and SNR.

Samples follow the ConvDip paper :footcite:`HeckerEtAl2021`: 1-5 patches per
sample, each grown from a random seed over a range of neighbourhood orders,
with the seed's moment attenuated over the patch by a Gaussian of the distance
(standard deviation half the patch radius), projected through the forward
model, with noise added at a random SNR and an average reference.

Speed comes from a bank of precomputed patches and their sensor projections:
a batch is one sparse product that picks and weighs bank rows.
"""

from mne.utils import warn

from ._base import Simulator
from ._evoked import TIME_COURSES, simulate_patch_evoked
from ._jansen_rit import JR_PARAMS, simulate_jansen_rit
from ._neural_mass import NeuralMassSimulator
from ._parcellation import make_parcellation, region_connectivity, region_expansion
from ._patches import PatchBank, PatchSimulator, simulate_samples
from ._windows import PatchWindowSimulator

__all__ = [
    "JR_PARAMS",
    "TIME_COURSES",
    "NeuralMassSimulator",
    "PatchBank",
    "PatchSimulator",
    "PatchWindowSimulator",
    "Simulator",
    "make_parcellation",
    "region_connectivity",
    "region_expansion",
    "simulate_jansen_rit",
    "simulate_patch_evoked",
    "simulate_samples",
]

# names of 0.1.dev that shadowed mne.simulation's (other signatures)
_RENAMED = dict(SourceSimulator="PatchSimulator",
                simulate_evoked="simulate_patch_evoked")


def __getattr__(name):
    """Return a renamed object by its old name, with a FutureWarning."""
    if name not in _RENAMED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    new = _RENAMED[name]
    warn(f"mne_deepinverse.simulation.{name} is renamed {new}: the old name "
         f"shadowed mne.simulation.{name}, which takes other parameters. It will "
         "be removed in 0.2.", FutureWarning)
    return globals()[new]
