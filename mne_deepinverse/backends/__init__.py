# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Network backends: one module per network, behind a small dispatcher.

Every backend module defines ``build(fwd_info, hyper_params, random_state)``
returning a torch module whose ``forward`` maps normalised EEG
``(n, n_channels)`` to a non-negative source-map shape ``(n, n_sources)``, and
``fold(net)`` returning the same network (in eval mode) as a list of dense
layers ``(weight (n_in, n_out), bias (n_out,), relu)`` for ONNX export.
Torch is imported only inside these modules.
"""

from importlib import import_module

from mne.utils import _check_option

#: Available backends and their modules.
BACKENDS = {"convdip": "convdip"}


def get_backend(name):
    """Return the backend module for ``name`` (imports torch)."""
    _check_option("model", name, sorted(BACKENDS))
    return import_module(f".{BACKENDS[name]}", __name__)
