# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Deep-learning EEG/MEG inverse solutions for MNE-Python."""

import lazy_loader as _lazy

from ._version import __version__  # noqa: F401 (public, in __all__)

# Submodules and names load on first use (as in MNE-Python), so that
# ``import mne_deepinverse`` and ``mne-deepinverse --help`` stay fast.
__getattr__, __dir__, __all__ = _lazy.attach(
    __name__,
    submodules=["baselines", "bids", "datasets", "fmri", "metrics", "simulation"],
    submod_attrs={
        "_inverse": [
            "apply_deep_inverse",
            "apply_deep_inverse_epochs",
            "apply_deep_inverse_raw",
        ],
        "_card": ["ModelCard"],
        "_fit": ["goodness_of_fit"],
        "_model": ["DeepInverseModel", "PreparedModel", "read_deep_inverse_model"],
        "estimator": ["DeepInverse", "read_deep_inverse"],
        "fmri": ["bold_to_nifti", "synthesize_bold"],
    },
)
__all__ = sorted([*__all__, "__version__"])
