# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""A ConvDip for any EEG cap: the same shallow CNN on a fixed scalp grid.

The network of :mod:`~mne_deepinverse.backends.convdip` (Conv 8@3x3 + ReLU +
BatchNorm, dense 512 + ReLU + BatchNorm, dense n_sources + ReLU), but its
image is not interpolated from one cap's channels: it is the grid of virtual
electrodes of :mod:`mne_deepinverse._caps`, onto which any cap is
interpolated with spherical splines outside the network (a per-cap matrix,
an input of the exported graph). Trained over many caps, one network serves
them all (``tools/train_anycap.py``).
"""

import numpy as np

from .base import Backend
from .convdip import ConvDip
from .convdip import fold as _fold_convdip

DEFAULTS = dict(grid_shape=(16, 16), theta_max_deg=115.0, n_filters=8, n_dense=512)
LOSS = "cosine_wmse"


def build(meta, hyper_params):
    """Build an untrained network for the grid of a model card's ``cap``.

    The network reads grid images ``(n, n_pixels)`` (the interpolated,
    normalised EEG), not channels.
    """
    params = {**DEFAULTS, **hyper_params}
    shape = tuple(meta["cap"]["grid_shape"])
    n_pix = shape[0] * shape[1]
    return ConvDip(np.eye(n_pix), meta["n_sources"], image_shape=shape,
                   n_filters=params["n_filters"], n_dense=params["n_dense"])


def fold(net):
    """Fold convolution and BatchNorm into three dense layers on the grid."""
    return _fold_convdip(net)


class AnyCapBackend(Backend):
    """ConvDip on a scalp grid that any EEG cap is interpolated onto."""

    name = "anycap"
    defaults = DEFAULTS
    loss = LOSS
    sensor_kind = "any_cap"
    apply_inputs = ("interp", "gain_t")
    rows_per_call = 4096  # dense layers: little memory per sample
    trained_by = "tools/train_anycap.py"
    summary = "ConvDip on spherical-spline images: any EEG cap on the template"

    def build(self, meta, hyper, **inputs):
        """Build an untrained any-cap network (see :func:`build`)."""
        return build(meta, hyper)

    def export(self, net, gain_pre, card, *, fp16=True, whitener=None):
        """Export as dense layers on the grid; the cap's matrices are inputs."""
        from .._export import make_onnx_model

        return make_onnx_model(fold(net), None, card, fp16=fp16)
