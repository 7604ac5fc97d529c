# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""EEG-to-fMRI: BOLD signals from neural activity and from EEG.

The haemodynamics turn neural activity into BOLD: the non-linear
Balloon-Windkessel model :footcite:`FristonEtAl2000` (for simulations) and
the canonical HRF of fMRI analysis (the linear prediction).
:func:`simulate_eeg_fmri` gives EEG and BOLD of the same simulated neural
activity (a Jansen-Rit network), with their ground truth.
"""

from ._haemodynamics import (
    BALLOON_PARAMS,
    HAEMODYNAMIC_RANGES,
    balloon_windkessel,
    hrf_convolve,
    random_haemodynamic_params,
)
from ._simulation import (
    NEUROVASCULAR_GAIN,
    P_ACTIVE,
    P_REST,
    simulate_eeg_fmri,
)
from ._synthesis import DEFAULT_BAND, DEFAULT_COUPLING, bold_to_nifti, synthesize_bold

__all__ = [
    "BALLOON_PARAMS",
    "DEFAULT_BAND",
    "DEFAULT_COUPLING",
    "HAEMODYNAMIC_RANGES",
    "NEUROVASCULAR_GAIN",
    "P_ACTIVE",
    "P_REST",
    "balloon_windkessel",
    "bold_to_nifti",
    "hrf_convolve",
    "random_haemodynamic_params",
    "simulate_eeg_fmri",
    "synthesize_bold",
]
