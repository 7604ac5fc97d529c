# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""VNet on a voxelised linear estimate (3-D CNN).

After the 2023 report on 3-D CNNs for the EEG inverse problem, whose
networks received electrode values placed in a voxel grid and collapsed to
empty outputs. Here the network never has to learn the physics from raw
electrode values:

1. the normalised EEG goes through a linear kernel (sLORETA by default) and
   the estimate's magnitude is divided by its peak;
2. it is voxelised into a cubic grid covering the source space (every voxel
   averages its nearest sources; voxels far from every source are zero) and
   stacked with the brain mask as a second channel;
3. a VNet (Milletari et al.): residual stages, strided-convolution
   down-sampling, transposed-convolution up-sampling with skip connections
   and PReLU; like the original VNet no normalisation layers by default
   (``groups > 0`` adds GroupNorm, which costs a third of the training time on
   2 CPU cores);
4. the output is read back at the source positions (trilinear), added to a
   learnt affine function of the estimate itself (a residual connection at
   full source resolution, so the network starts from the linear estimate and
   learns corrections) and squashed to (0, 1) by a sigmoid.

Works for any source space with positions: surface, volume or discrete.
"""

import numpy as np
import torch
from scipy.spatial import cKDTree
from torch import nn

from ._resample import (
    gather_sum,
    knn_table,
    multilinear_table,
    peak_normalise,
)
from .base import Backend

DEFAULTS = dict(
    grid=24,
    channels=(4, 8, 16, 32),
    groups=0,
    kernel="sLORETA",
    lambda2=1.0 / 9.0,
    k=4,
)
LOSS = "cosine_wmse"


def voxel_tables(pos, n_grid=32, k=4):
    """Gather tables between sources and a cubic voxel grid around them.

    The grid is isotropic: the largest extent of the source positions spans
    ``n_grid - 2`` voxels, centred, so one empty voxel surrounds the sources.

    Parameters
    ----------
    pos : array, shape (n_sources, 3)
        Source positions (m).
    n_grid : int
        Voxels per side.
    k : int
        Nearest sources averaged into a voxel.

    Returns
    -------
    to_grid : tuple of array
        ``(index, weight)``, shape ``(n_grid ** 3, k)``; voxels farther from
        every source than the voxel size or the source spacing get zero
        weights.
    from_grid : tuple of array
        ``(index, weight)``, shape ``(n_sources, 8)`` (trilinear).
    mask : array of float32, shape (n_grid, n_grid, n_grid)
        1 where the grid holds sources.
    voxel_size : float
        Voxel edge (m).
    """
    pos = np.asarray(pos, dtype=np.float64)
    lo, hi = pos.min(axis=0), pos.max(axis=0)
    size = max((hi - lo).max() / (n_grid - 2), 1e-6)
    origin = (lo + hi) / 2 - size * (n_grid - 1) / 2
    ijk = np.stack(np.meshgrid(*[np.arange(n_grid)] * 3, indexing="ij"), -1)
    centres = origin + size * ijk.reshape(-1, 3)
    spacing = np.median(cKDTree(pos).query(pos, k=2)[0][:, 1]) if len(pos) > 1 else 0
    idx, w, inside = knn_table(pos, centres, k, max_distance=max(size, spacing))
    from_grid = multilinear_table((pos - origin) / size, (n_grid,) * 3)
    return (idx, w), from_grid, inside.reshape((n_grid,) * 3).astype(np.float32), size


def _norm_act(c, groups):
    norm = [nn.GroupNorm(min(groups, c), c)] if groups else []
    return [*norm, nn.PReLU(c)]


class _ResStage(nn.Module):
    """``n_convs`` 3x3x3 convolutions with a residual connection."""

    def __init__(self, c, n_convs, groups):
        super().__init__()
        layers = []
        for ii in range(n_convs):
            layers.append(nn.Conv3d(c, c, 3, padding=1))
            if groups:
                layers.append(nn.GroupNorm(min(groups, c), c))
            if ii < n_convs - 1:
                layers.append(nn.PReLU(c))
        self.convs = nn.Sequential(*layers)
        self.act = nn.PReLU(c)

    def forward(self, x):  # noqa: D102
        return self.act(x + self.convs(x))


class VNet(nn.Module):
    """Kernel, voxelisation, a 4-level VNet and the trilinear read-back."""

    def __init__(self, kernel, to_grid, from_grid, mask, channels, groups):
        super().__init__()
        self.n_grid = mask.shape[0]
        self.register_buffer("kernel_t", torch.as_tensor(kernel.T.copy()))
        self.register_buffer("mask", torch.as_tensor(mask)[None, None])
        for name, (idx, w) in (("to", to_grid), ("from", from_grid)):
            self.register_buffer(f"{name}_idx", torch.as_tensor(idx))
            self.register_buffer(f"{name}_w", torch.as_tensor(w))
        c1, c2, c3, c4 = channels
        self.inp = nn.Sequential(nn.Conv3d(2, c1, 3, padding=1), *_norm_act(c1, groups))
        self.enc1 = _ResStage(c1, 1, groups)
        self.enc2 = _ResStage(c2, 2, groups)
        self.enc3 = _ResStage(c3, 2, groups)
        self.bottom = _ResStage(c4, 2, groups)
        self.down = nn.ModuleList(
            nn.Sequential(nn.Conv3d(a, b, 2, stride=2), *_norm_act(b, groups))
            for a, b in ((c1, c2), (c2, c3), (c3, c4))
        )
        self.up = nn.ModuleList(
            nn.Sequential(nn.ConvTranspose3d(a, b, 2, stride=2), *_norm_act(b, groups))
            for a, b in ((c4, c3), (c3, c2), (c2, c1))
        )
        self.merge = nn.ModuleList(
            nn.Sequential(nn.Conv3d(2 * c, c, 1), *_norm_act(c, groups))
            for c in (c3, c2, c1)
        )
        self.dec = nn.ModuleList(
            _ResStage(c, n, groups) for c, n in ((c3, 2), (c2, 2), (c1, 1))
        )
        self.head = nn.Conv3d(c1, 1, 1)
        self.skip = nn.Parameter(torch.tensor([6.0, -3.0]))

    def estimate(self, x):
        """Normalised EEG (n, n_channels) -> linear estimate's magnitude in [0, 1]."""
        return peak_normalise((x @ self.kernel_t).abs())

    def volumes(self, est):
        """Source-space estimate (n, n_sources) -> input volumes (n, 2, g, g, g)."""
        vol = gather_sum(est, self.to_idx, self.to_w).view(-1, 1, *self.mask.shape[2:])
        vol = torch.cat([vol, self.mask.expand_as(vol)], dim=1)
        if torch.onnx.is_in_onnx_export():
            return vol
        return vol.contiguous(memory_format=torch.channels_last_3d)  # faster on CPU

    def forward(self, x):
        """Map normalised EEG (n, n_channels) to a source-map shape in (0, 1)."""
        est = self.estimate(x)
        h = self.enc1(self.inp(self.volumes(est)))
        skips = []
        for down, enc in zip(self.down, (self.enc2, self.enc3, self.bottom),
                             strict=True):
            skips.append(h)
            h = enc(down(h))
        for up, merge, dec, skip in zip(self.up, self.merge, self.dec, skips[::-1],
                                        strict=True):
            h = dec(merge(torch.cat([up(h), skip], dim=1)))
        out = gather_sum(self.head(h).flatten(1), self.from_idx, self.from_w)
        # the network corrects the linear estimate at full source resolution:
        # from the first step the output follows it, so it cannot start from
        # (or fall into) an empty map
        return torch.sigmoid(out + self.skip[0] * est + self.skip[1])


def build(meta, hyper_params, *, kernel):
    """Build an untrained VNet for a forward model.

    Parameters
    ----------
    meta : dict
        The forward's description in the model card (``source_rr``).
    hyper_params : dict
        Hyper-parameters (missing keys take :data:`DEFAULTS`).
    kernel : array, shape (n_sources, n_channels)
        The linear inverse kernel the network starts from.
    """
    params = {**DEFAULTS, **hyper_params}
    n_grid = int(params["grid"])
    if n_grid % 8 or not 16 <= n_grid <= 64:
        raise ValueError(
            f"The VNet grid must be a multiple of 8 between 16 and 64, got {n_grid}.")
    to_grid, from_grid, mask, _ = voxel_tables(
        np.asarray(meta["source_rr"]), n_grid, params["k"])
    net = VNet(kernel, to_grid, from_grid, mask, tuple(params["channels"]),
               params["groups"])
    return net.to(memory_format=torch.channels_last_3d)


class VNetBackend(Backend):
    """A VNet refining the voxelised magnitude of a linear estimate (3-D)."""

    name = "vnet"
    defaults = DEFAULTS
    loss = LOSS
    needs = ("kernel",)
    # 3-D feature maps: 128 time samples at once keep the working memory near
    # 200 MB, as fast as 256 (benchmarks/bench_raw_memory.py)
    rows_per_call = 128
    summary = "VNet refining the voxelised sLORETA magnitude (3-D)"

    def build(self, meta, hyper, *, kernel):
        """Build an untrained VNet (see :func:`build`)."""
        return build(meta, hyper, kernel=kernel)
