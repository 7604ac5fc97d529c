# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""ConvDip :footcite:`HeckerEtAl2021`: a shallow CNN on a 2-D scalp image.

Average-referenced EEG, divided by its signed peak (so both polarities look
alike; the paper max-normalises), is interpolated onto a 7 x 11 image
with one precomputed linear matrix (so any number of time samples goes
through one matrix product), then Conv 8@3x3 + ReLU + BatchNorm, dense 512 +
ReLU + BatchNorm, dense n_sources + ReLU.

Whitened MEG (or EEG+MEG) is drawn as several images on one grid, the
image's channels (:func:`image_groups`): one per sensor type and per coil at
a sensor position (a Neuromag VectorView gives magnetometers, the first and
the second gradiometer of each pair, and EEG: four images).
"""

import numpy as np
import torch
from torch import nn

from .base import Backend

DEFAULTS = dict(image_shape=(7, 11), n_filters=8, n_dense=512)
LOSS = "cosine_mse"


def image_groups(ch_types, pos2d):
    """Channels drawn as one image each: per type and per coil at a position.

    Parameters
    ----------
    ch_types : list of str
        Channel types.
    pos2d : array, shape (n_channels, 2)
        2-D (topomap) channel positions.

    Returns
    -------
    groups : list of array of int
        Channel indices of every image, in order of first appearance; the
        k-th channel of a type at a position (e.g. the second gradiometer of
        a pair) goes to the type's k-th image.
    """
    seen, groups = {}, {}
    for ii, (kind, pos) in enumerate(zip(ch_types, np.round(pos2d, 4).tolist(),
                                         strict=True)):
        k = seen.get((kind, tuple(pos)), 0)
        seen[(kind, tuple(pos))] = k + 1
        groups.setdefault((kind, k), []).append(ii)
    return [np.array(g) for g in groups.values()]


def scalp_image_matrix(pos2d, shape=(7, 11), groups=None):
    """Linear interpolation of channel values onto a regular 2-D grid.

    Parameters
    ----------
    pos2d : array, shape (n_channels, 2)
        2-D (topomap) channel positions.
    shape : tuple of int
        Image rows and columns.
    groups : list of array of int | None
        Channels of each image (:func:`image_groups`); None: one image of
        every channel. All images share the grid over all positions.

    Returns
    -------
    interp : array, shape (n_images * rows * cols, n_channels)
        ``image.ravel() = interp @ x`` (images one after the other); pixels
        outside the channels' convex hull take the nearest channel's value.
    """
    from scipy.interpolate import LinearNDInterpolator
    from scipy.spatial import cKDTree

    pos2d = np.asarray(pos2d, dtype=np.float64)
    n_ch = len(pos2d)
    groups = [np.arange(n_ch)] if groups is None else groups
    rows, cols = shape
    lo, hi = pos2d.min(axis=0), pos2d.max(axis=0)
    gx, gy = np.meshgrid(
        np.linspace(lo[0], hi[0], cols), np.linspace(hi[1], lo[1], rows)
    )
    grid = np.c_[gx.ravel(), gy.ravel()]
    interp = np.zeros((len(groups) * len(grid), n_ch))
    for gg, idx in enumerate(groups):
        block = np.full((len(grid), len(idx)), np.nan)
        if len(idx) >= 4:  # a triangulation needs a few points
            block = LinearNDInterpolator(pos2d[idx], np.eye(len(idx)))(grid)
        outside = np.isnan(block).any(axis=1)
        nearest = cKDTree(pos2d[idx]).query(grid[outside])[1]
        block[outside] = np.eye(len(idx))[nearest]
        interp[gg * len(grid):(gg + 1) * len(grid), idx] = block
    return interp


class ConvDip(nn.Module):
    """The ConvDip network (training form, with BatchNorm)."""

    def __init__(self, interp, n_sources, image_shape=(7, 11), n_filters=8,
                 n_dense=512, n_images=1):
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.n_images = int(n_images)
        self.register_buffer("interp", torch.as_tensor(interp.T, dtype=torch.float32))
        self.conv = nn.Conv2d(self.n_images, n_filters, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(n_filters)
        n_pix = self.image_shape[0] * self.image_shape[1]
        self.fc = nn.Linear(n_filters * n_pix, n_dense)
        self.bn2 = nn.BatchNorm1d(n_dense)
        self.out = nn.Linear(n_dense, n_sources)

    def first_layer(self, x):
        """Interpolation and convolution (linear, before the ReLU)."""
        img = (x @ self.interp).view(-1, self.n_images, *self.image_shape)
        return self.conv(img).flatten(1)

    def forward(self, x):
        """Map normalised EEG (n, n_channels) to a source-map shape."""
        h = self.bn1(torch.relu(self.first_layer(x)).view(
            -1, self.conv.out_channels, *self.image_shape)).flatten(1)
        h = self.bn2(torch.relu(self.fc(h)))
        return torch.relu(self.out(h))


def build(meta, hyper_params):
    """Build an untrained ConvDip for a model card's channel layout."""
    params = {**DEFAULTS, **hyper_params}
    pos2d = np.asarray(meta["ch_pos2d"])
    groups = None
    if meta.get("sensors"):  # MEG, EEG+MEG: an image per type and coil
        groups = image_groups(meta["sensors"]["ch_types"], pos2d)
    interp = scalp_image_matrix(pos2d, params["image_shape"], groups)
    return ConvDip(
        interp, meta["n_sources"], image_shape=params["image_shape"],
        n_filters=params["n_filters"], n_dense=params["n_dense"],
        n_images=1 if groups is None else len(groups),
    )


def _bn_affine(bn):
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return scale, bn.bias - bn.running_mean * scale


class DenseChain(nn.Module):
    """A folded ConvDip: dense layers (ReLU where flagged) on normalised EEG.

    What :func:`fold` makes of a trained ConvDip, as a network again: the
    form a pretrained model is fine-tuned in (``DeepInverse(warm_start=)``).

    Parameters
    ----------
    layers : list of tuple
        ``(weight (n_in, n_out), bias (n_out,), relu)`` per layer.
    """

    def __init__(self, layers):
        super().__init__()
        self.dense = nn.ModuleList()
        self.relu = [bool(relu) for _, _, relu in layers]
        for w, b, _ in layers:
            lin = nn.Linear(*np.shape(w))
            with torch.no_grad():
                lin.weight.copy_(torch.as_tensor(np.asarray(w).T))
                lin.bias.copy_(torch.as_tensor(np.asarray(b)))
            self.dense.append(lin)

    def forward(self, x):
        """Map normalised EEG (n, n_channels) to a source-map shape."""
        for lin, relu in zip(self.dense, self.relu, strict=True):
            x = lin(x)
            x = torch.relu(x) if relu else x
        return x


@torch.no_grad()
def fold(net):
    """Fold interpolation, convolution and BatchNorm into three dense layers.

    In eval mode, ``BN(relu(z)) = a * relu(z) + c`` per unit, which folds into
    the next dense layer, and interpolation + convolution is one linear map.
    A :class:`DenseChain` is folded already.
    """
    net = net.eval()
    if isinstance(net, DenseChain):
        return [(lin.weight.T.numpy().copy(), lin.bias.numpy().copy(), relu)
                for lin, relu in zip(net.dense, net.relu, strict=True)]
    n_ch = net.interp.shape[0]
    bias1 = net.first_layer(torch.zeros(1, n_ch))[0]
    w1 = net.first_layer(torch.eye(n_ch)) - bias1
    a1, c1 = _bn_affine(net.bn1)
    n_pix = net.image_shape[0] * net.image_shape[1]
    a1, c1 = a1.repeat_interleave(n_pix), c1.repeat_interleave(n_pix)
    w2 = (net.fc.weight * a1[None]).T
    b2 = net.fc.weight @ c1 + net.fc.bias
    a2, c2 = _bn_affine(net.bn2)
    w3 = (net.out.weight * a2[None]).T
    b3 = net.out.weight @ c2 + net.out.bias
    return [
        (w1.numpy(), bias1.numpy(), True),
        (w2.numpy(), b2.numpy(), True),
        (w3.numpy(), b3.numpy(), True),
    ]


class ConvDipBackend(Backend):
    """ConvDip: a shallow CNN on a 2-D image of the scalp (one cap's channels)."""

    name = "convdip"
    defaults = DEFAULTS
    loss = LOSS
    rows_per_call = 4096  # dense layers: little memory per sample
    warm_startable = True
    summary = "ConvDip: a shallow CNN on a 2-D image of the scalp EEG"

    def build(self, meta, hyper, **inputs):
        """Build an untrained ConvDip (see :func:`build`)."""
        return build(meta, hyper)

    def export(self, net, gain_pre, card, *, fp16=True, whitener=None):
        """Export as dense layers (the fastest graph; :func:`fold`)."""
        from .._export import make_onnx_model

        return make_onnx_model(fold(net), gain_pre, card, fp16=fp16,
                               whitener=whitener)

    def dense_chain(self, layers):
        """Return a warm start's dense layers as a network (:class:`DenseChain`)."""
        return DenseChain(layers)
