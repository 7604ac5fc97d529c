# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""SIFNet :footcite:`SunEtAl2022`: a residual network on windows of EEG.

It reads a window of normalised EEG, ``(n, n_times, n_channels)``, and
predicts the magnitude of every cortical region's activity at every time
sample of the window, ``(n, n_times, n_regions)``, for the regions of the
parcellation its neural-mass training data were simulated on
(:class:`~mne_deepinverse.simulation.NeuralMassSimulator`).

Sized for a CPU (about 2.5 M parameters against the paper's 5 M, most of
them in the dense layer that writes the region maps):

- a spatial stem: a dense layer over the channels at every time sample
  (1 x 1 convolution) + BatchNorm + ReLU;
- pooling by ``pool`` in time, then residual blocks of two temporal
  convolutions with BatchNorm each (dilated 1, 2, 4, ... so the blocks see
  most of the window);
- where: the blocks' features pooled over the window (mean and max) go
  through a dense layer to ``n_components`` non-negative region maps, one
  set per window (the sources of a window stay where they are);
- when: per time sample, the stem's and the (upsampled) blocks' features give
  ``n_components`` non-negative weights; the output at a time sample is
  the weighted sum of the window's maps.

In training, the weights (and the targets, :func:`train_targets`) are
averaged over ``train_pool`` samples before the output is formed: the output
is linear in the weights, so this is exactly the time-averaged output, at a
fraction of the memory traffic of ``n_times x n_regions`` values per window
(which otherwise dominates the cost of a step on a CPU).

The exported graph maps the region values onto the sources: every source
takes a Gaussian-weighted mean of its nearest regions' values
(``expansion``), so the peak of a map falls between region centres where
the network puts it.
"""

import numpy as np
import torch
from torch import nn

from .base import Backend

DEFAULTS = dict(width=64, n_blocks=4, kernel=5, pool=8, n_components=6,
                n_hidden=384, train_pool=8)
LOSS = "cosine_wmse"
#: What the networks of this backend read (see DeepInverseModel.input).
INPUT = "window"


class _ResBlock(nn.Module):
    """Two temporal convolutions with BatchNorm and a skip connection."""

    def __init__(self, width, kernel, dilation):
        super().__init__()
        pad = dilation * (kernel - 1) // 2
        self.conv1 = nn.Conv1d(width, width, kernel, padding=pad, dilation=dilation,
                               bias=False)
        self.bn1 = nn.BatchNorm1d(width)
        self.conv2 = nn.Conv1d(width, width, kernel, padding=pad, dilation=dilation,
                               bias=False)
        self.bn2 = nn.BatchNorm1d(width)

    def forward(self, x):
        """Map features (n, width, t) to features of the same shape."""
        h = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(x + self.bn2(self.conv2(h)))


class SIFNet(nn.Module):
    """The SIFNet-type window network (training form, region outputs).

    Parameters
    ----------
    n_channels, n_times, n_regions : int
        Channels and samples of a window; regions of the output.
    width, n_blocks, kernel, pool, n_components, n_hidden : int
        Feature width, residual blocks, temporal kernel size, time pooling,
        region maps per window and width of the dense map layer.
    train_pool : int
        Samples averaged in the outputs during training.
    """

    def __init__(self, n_channels, n_times, n_regions, *, width=128, n_blocks=4,
                 kernel=5, pool=4, n_components=6, n_hidden=384, train_pool=1):
        super().__init__()
        for name, value in (("pool", pool), ("train_pool", train_pool)):
            if n_times % value:
                raise ValueError(f"n_times ({n_times}) must be a multiple of "
                                 f"{name} ({value}).")
        self.train_pool = train_pool
        self.n_times, self.pool, self.n_components = n_times, pool, n_components
        self.n_regions = n_regions
        self.stem = nn.Sequential(nn.Conv1d(n_channels, width, 1),
                                  nn.BatchNorm1d(width), nn.ReLU())
        self.blocks = nn.Sequential(*[
            _ResBlock(width, kernel, 2 ** (ii % 4)) for ii in range(n_blocks)])
        self.maps = nn.Sequential(
            nn.Linear(2 * width, n_hidden), nn.BatchNorm1d(n_hidden), nn.ReLU(),
            nn.Linear(n_hidden, n_components * n_regions))
        self.weights = nn.Conv1d(2 * width, n_components, 1)

    def factors(self, x):
        """Return the time courses (n, T, K) and region maps (n, K, n_reg) of windows.

        The output is their product (:meth:`forward`).
        """
        h0 = self.stem(x.transpose(1, 2))  # (n, width, T)
        h = self.blocks(nn.functional.avg_pool1d(h0, self.pool))
        pooled = torch.cat([h.mean(dim=-1), h.amax(dim=-1)], dim=1)
        maps = torch.relu(self.maps(pooled)).view(-1, self.n_components,
                                                  self.n_regions)
        up = h.repeat_interleave(self.pool, dim=-1)
        w = torch.relu(self.weights(torch.cat([h0, up], dim=1)))  # (n, K, T)
        if self.training and self.train_pool > 1:
            w = nn.functional.avg_pool1d(w, self.train_pool)
        return w.transpose(1, 2), maps

    def forward(self, x):
        """Map normalised EEG windows (n, T, n_channels) to regions (n, T, n_reg)."""
        return torch.bmm(*self.factors(x))


class ToSources(nn.Module):
    """A trained SIFNet with its regions mapped onto the sources (for export).

    Parameters
    ----------
    net : SIFNet
        The network.
    expansion : tuple of array
        ``(index (n_sources, k), weight (n_sources, k))``: each source's
        nearest regions and their weights (rows sum to one).
    """

    def __init__(self, net, expansion):
        super().__init__()
        self.net = net
        idx, w = expansion
        self.register_buffer("index", torch.as_tensor(np.asarray(idx),
                                                      dtype=torch.long))
        self.register_buffer("weight", torch.as_tensor(np.asarray(w),
                                                       dtype=torch.float32))

    def forward(self, x):
        """Map normalised EEG windows to source maps (n, n_times, n_sources).

        The K region maps of a window are expanded onto the sources before
        they are weighted by their time courses (the same product, K rows
        expanded instead of n_times: several times faster).
        """
        courses, maps = self.net.factors(x)
        out = maps[..., self.index[:, 0]] * self.weight[:, 0]
        for j in range(1, self.index.shape[1]):
            out = out + maps[..., self.index[:, j]] * self.weight[:, j]
        return torch.bmm(courses, out)


def build(meta, hyper_params, *, expansion):
    """Build an untrained SIFNet for a model card (``input``, ``regions``).

    ``expansion`` (``(index, weight)`` of
    :func:`~mne_deepinverse.simulation.region_expansion`) is kept for the
    export (:func:`for_export`).
    """
    params = {**DEFAULTS, **hyper_params}
    net = SIFNet(
        len(meta["ch_names"]), int(meta["input"]["n_times"]),
        int(meta["regions"]["n_regions"]), width=params["width"],
        n_blocks=params["n_blocks"], kernel=params["kernel"], pool=params["pool"],
        n_components=params["n_components"], n_hidden=params["n_hidden"],
        train_pool=params["train_pool"])
    net.expansion = expansion
    return net


def train_targets(net):
    """Return the map of training targets onto what ``net`` outputs in training.

    Windows of target maps ``(n, n_times, n_regions)`` averaged over
    ``net.train_pool`` samples (the network's training output).
    """
    pool = net.train_pool

    def transform(y):
        if pool == 1:
            return y
        return nn.functional.avg_pool1d(y.transpose(1, 2), pool).transpose(1, 2)

    return transform


def for_export(net):
    """Return the module the ONNX graph is exported from (source outputs)."""
    return ToSources(net, net.expansion).eval()


class SIFNetBackend(Backend):
    """SIFNet: windows of EEG to the activity of every region over the window."""

    name = "sifnet"
    defaults = DEFAULTS
    loss = LOSS
    input_kind = "window"
    # one-dimensional convolutions: 16 windows of 128 samples at once need
    # about 90 MB and run twice as fast as 2 (benchmarks/bench_raw_memory.py)
    rows_per_call = 2048
    summary = ("SIFNet: a residual network on windows of EEG, trained on "
               "neural-mass and patch simulations")

    def build(self, meta, hyper, *, expansion):
        """Build an untrained SIFNet (see :func:`build`)."""
        return build(meta, hyper, expansion=expansion)

    def for_export(self, net):
        """Return the network with its regions mapped onto the sources."""
        return for_export(net)

    def train_targets(self, net):
        """Average the targets over the network's training pool."""
        return train_targets(net)
