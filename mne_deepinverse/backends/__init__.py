# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Network backends: one module per network, each with its :class:`Backend` spec.

A backend module holds its network (torch), its build function and a
subclass of :class:`~mne_deepinverse.backends.base.Backend` that says what
the network needs and how it is trained, exported and applied (see
:mod:`mne_deepinverse.backends.base`). The module is listed once, in
:data:`mne_deepinverse._registry.BACKENDS`; :func:`get_backend` imports it
(and torch) and returns its spec. The networks know nothing of simulation,
baselines or datasets: the training side computes the arrays they start from
(:mod:`mne_deepinverse._backend_inputs`).
"""

from importlib import import_module

from mne.utils import _check_option

from .._registry import BACKENDS
from .base import Backend, get_spec

__all__ = ["Backend", "export_onnx", "get_backend"]


def get_backend(name):
    """Return the spec of backend ``name`` (imports its module and torch)."""
    _check_option("model", name, sorted(BACKENDS))
    import_module(f".{BACKENDS[name]}", __name__)
    return get_spec(name)


def export_onnx(backend, net, gain_ref, card, *, fp16=True, whitener=None):
    """Export a trained network of ``backend`` as an ONNX model (bytes).

    ``gain_ref`` is the average-referenced gain, or the whitened one when
    ``whitener`` (MEG models) replaces the average reference (None for
    models whose gain is an input of the graph).
    """
    return backend.export(net, gain_ref, card, fp16=fp16, whitener=whitener)
