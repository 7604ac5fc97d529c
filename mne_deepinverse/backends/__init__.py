# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Network backends: one module per network, behind a small dispatcher.

Every backend module defines ``DEFAULTS`` (hyper-parameters), ``LOSS`` (its
default training loss) and ``build(meta, hyper_params, **inputs)`` returning
a torch module whose ``forward`` maps normalised EEG ``(n, n_channels)`` to a
non-negative source-map shape ``(n, n_sources)``. ``meta`` is the forward's
description in the model card; ``inputs`` are the arrays the network starts
from (linear kernels, sphere positions), computed by the training side
(:func:`mne_deepinverse._backend_inputs.backend_inputs`): the networks know
nothing of simulation, baselines or datasets. ``RUNTIME_KEYS`` (optional)
names further ``hyper_params`` keys accepted for the backend but not stored
with the model. A backend that can be
written as dense layers also defines ``fold(net)`` (a list of
``(weight (n_in, n_out), bias (n_out,), relu)``), which gives the fastest ONNX
graph; the others are exported by torch's ONNX exporter (from
``for_export(net)`` where a backend defines it, e.g. to map region outputs
onto the sources). A backend whose networks read windows of EEG,
``(n, n_times, n_channels)``, sets ``INPUT = "window"``; its ``meta`` then
holds the card's ``input`` (``n_times``, ``sfreq``).
Torch is imported only inside these modules.
"""

from importlib import import_module

from mne.utils import _check_option

from .._registry import BACKENDS


def get_backend(name):
    """Return the backend module for ``name`` (imports torch)."""
    _check_option("model", name, sorted(BACKENDS))
    return import_module(f".{BACKENDS[name]}", __name__)


def export_onnx(backend, net, gain_ref, card, *, fp16=True, whitener=None):
    """Export a trained network of ``backend`` as an ONNX model (bytes).

    ``gain_ref`` is the average-referenced gain, or the whitened one when
    ``whitener`` (MEG models) replaces the average reference.
    """
    from .._export import export_any_sensor_model, export_torch_model, make_onnx_model

    if getattr(backend, "KERNELS_AT_APPLY", False):  # kernels etc. fed at apply
        return export_any_sensor_model(net, card, fp16=fp16)
    if hasattr(backend, "fold"):  # gain_ref None: an any-cap graph
        return make_onnx_model(backend.fold(net), gain_ref, card, fp16=fp16,
                               whitener=whitener)
    if hasattr(backend, "for_export"):  # e.g. regions mapped onto sources
        net = backend.for_export(net)
    return export_torch_model(net, gain_ref, card, fp16=fp16, whitener=whitener)
