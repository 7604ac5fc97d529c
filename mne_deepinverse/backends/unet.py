# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""U-Net that refines minimum-norm estimates on latitude/longitude images.

After the 2019 thesis on post-processing MNE inverse solutions with a U-Net,
which stacked MNE, dSPM and sLORETA estimates as input channels. The thesis
laid the vertices along an image axis in index order, where neighbouring
pixels need not be neighbouring sources; here each hemisphere is mapped to a
latitude/longitude image through the subject's spherical registration
(``surf/?h.sphere.reg``), so a convolution acts on cortical neighbourhoods:

1. the normalised EEG goes through the three linear kernels (one matrix
   product) and each estimate is divided by its peak magnitude (kernels and
   sphere positions are computed outside the network and passed to
   :func:`build`);
2. every pixel averages its nearest vertices on the sphere (inverse-distance
   weights); the two hemispheres are stacked along the image height;
3. a 2-D U-Net (3 levels, GroupNorm, ReLU, skip connections);
4. the output image is read back at the vertices (bilinear, periodic in
   longitude) and squashed to (0, 1) by a sigmoid. With ``vertex_head``
   (hidden units; 0 for none, 16 in the any-sensor model) the output image
   has three more channels, read back too, and a small per-vertex network
   adds to each vertex's logit what it reads from them and from the vertex's
   own input estimates (signed and magnitude), so the peak is placed at the
   resolution of the sources rather than of the image (a pixel spans about
   1.4 source spacings at the equator of the sphere).

Only surface source spaces have a spherical registration; for volume or
discrete source spaces use ``model="vnet"``.
"""

import numpy as np
import torch
from torch import nn

from ._resample import (
    gather_sum,
    knn_table,
    multilinear_table,
    peak_normalise,
)
from .base import Backend

DEFAULTS = dict(
    grid=(32, 64),
    channels=(8, 16, 32),
    groups=4,
    kernels=("MNE", "dSPM", "sLORETA"),
    lambda2=1.0 / 9.0,
    k=3,
    vertex_head=0,
)
LOSS = "cosine_wmse"
#: Hyper-parameters accepted for this network but not stored with it
#: (machine-specific; ``subjects_dir`` locates the spherical registration,
#: read by :func:`mne_deepinverse._backend_inputs.sphere_positions`).
RUNTIME_KEYS = ("subjects_dir",)


#: Output-image channels read back at the vertices for a vertex head.
_VERTEX_FEATURES = 3


def _pixel_vectors(grid):
    rows, cols = grid
    lat = np.deg2rad(-90 + (np.arange(rows) + 0.5) * 180 / rows)
    lon = np.deg2rad(-180 + (np.arange(cols) + 0.5) * 360 / cols)
    lat, lon = np.meshgrid(lat, lon, indexing="ij")
    return np.c_[
        (np.cos(lat) * np.cos(lon)).ravel(),
        (np.cos(lat) * np.sin(lon)).ravel(),
        np.sin(lat).ravel(),
    ]


def sphere_image_tables(hemi_pos, grid=(32, 64), k=3):
    """Gather tables between sources and the stacked hemisphere images.

    Parameters
    ----------
    hemi_pos : list of array, shape (n_used, 3)
        Unit vectors of each hemisphere's sources on the spherical
        registration.
    grid : tuple of int
        Rows (latitude) and columns (longitude) per hemisphere.
    k : int
        Nearest vertices averaged into a pixel.

    Returns
    -------
    to_grid : tuple of array
        ``(index, weight)`` of shape ``(n_pixels, k)``, pixels of the image of
        shape ``(n_hemi * rows, cols)`` in C order.
    from_grid : tuple of array
        ``(index, weight)`` of shape ``(n_sources, 4)``.
    """
    rows, cols = grid
    pix = _pixel_vectors(grid)
    to_idx, to_w, from_idx, from_w = [], [], [], []
    offset = 0
    for hh, pos in enumerate(hemi_pos):
        idx, w, _ = knn_table(pos, pix, k)
        to_idx.append(idx + offset)
        to_w.append(w)
        lat = np.rad2deg(np.arcsin(np.clip(pos[:, 2], -1, 1)))
        lon = np.rad2deg(np.arctan2(pos[:, 1], pos[:, 0]))
        coords = np.c_[(lat + 90) / 180 * rows - 0.5, (lon + 180) / 360 * cols - 0.5]
        idx, w = multilinear_table(coords, grid, wrap=(1,))
        from_idx.append(idx + hh * rows * cols)
        from_w.append(w)
        offset += len(pos)
    return (
        (np.concatenate(to_idx), np.concatenate(to_w)),
        (np.concatenate(from_idx), np.concatenate(from_w)),
    )


def _block(c_in, c_out, groups):
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1),
        nn.GroupNorm(min(groups, c_out), c_out),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1),
        nn.GroupNorm(min(groups, c_out), c_out),
        nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    """Kernels, sphere images, a 3-level 2-D U-Net and the read-back."""

    def __init__(self, kernels, to_grid, from_grid, image_shape, channels, groups,
                 vertex_head=0):
        super().__init__()
        # kernels: an array (n_kernels, n_sources, n_channels), or only its
        # first two sizes when the kernels are an input of forward()
        n_k, n_src = kernels.shape[:2] if hasattr(kernels, "shape") else kernels
        self.n_k, self.n_src = n_k, n_src
        self.image_shape = tuple(image_shape)
        self.register_buffer("kernel_t", torch.as_tensor(
            kernels.reshape(n_k * n_src, kernels.shape[2]).T.copy())
            if hasattr(kernels, "shape") else None)
        for name, (idx, w) in (("to", to_grid), ("from", from_grid)):
            self.register_buffer(f"{name}_idx", torch.as_tensor(idx))
            self.register_buffer(f"{name}_w", torch.as_tensor(w))
        c1, c2, c3 = channels
        self.enc1 = _block(n_k, c1, groups)
        self.enc2 = _block(c1, c2, groups)
        self.bottom = _block(c2, c3, groups)
        self.up2 = nn.ConvTranspose2d(c3, c2, 2, stride=2)
        self.dec2 = _block(2 * c2, c2, groups)
        self.up1 = nn.ConvTranspose2d(c2, c1, 2, stride=2)
        self.dec1 = _block(2 * c1, c1, groups)
        # with a vertex head, the output image has _VERTEX_FEATURES more
        # channels: features read back at the vertices for it
        n_feat = _VERTEX_FEATURES if vertex_head else 0
        self.head = nn.Conv2d(c1, 1 + n_feat, 1)
        self.pool = nn.MaxPool2d(2)
        self.vertex = None
        if vertex_head:  # per vertex: read-back channels, estimates, magnitudes
            self.vertex = nn.Sequential(
                nn.Linear(1 + n_feat + 2 * n_k, int(vertex_head)),
                nn.ReLU(inplace=True),
                nn.Linear(int(vertex_head), 1),
            )
            # starts as the plain read-back; training grows the correction
            nn.init.zeros_(self.vertex[-1].weight)
            nn.init.zeros_(self.vertex[-1].bias)

    def forward(self, x, kernel_t=None):
        """Map normalised EEG (n, n_channels) to a source-map shape in (0, 1).

        ``kernel_t`` (n_channels, n_k * n_sources) replaces the network's
        own kernels (transposed).
        """
        kernel_t = self.kernel_t if kernel_t is None else kernel_t
        return self.from_estimates(x @ kernel_t)

    def from_estimates(self, est):
        """Map linear estimates (n, n_k * n_sources) to a source-map shape."""
        est = peak_normalise(est.view(-1, self.n_k, self.n_src))
        img = gather_sum(est, self.to_idx, self.to_w)
        img = img.view(-1, self.n_k, *self.image_shape)
        if not torch.onnx.is_in_onnx_export():
            img = img.contiguous(memory_format=torch.channels_last)  # faster on CPU
        e1 = self.enc1(img)
        e2 = self.enc2(self.pool(e1))
        b = self.bottom(self.pool(e2))
        d2 = self.dec2(torch.cat([self.up2(b), e2], dim=1))
        d1 = self.dec1(torch.cat([self.up1(d2), e1], dim=1))
        out = gather_sum(self.head(d1).flatten(2), self.from_idx, self.from_w)
        logit = out[:, 0]
        if self.vertex is not None:
            feats = torch.cat([out, est, est.abs()], dim=1).transpose(1, 2)
            logit = logit + self.vertex(feats).squeeze(2)
        return torch.sigmoid(logit)


def build(meta, hyper_params, *, kernels, sphere_pos):
    """Build an untrained U-Net for a forward model.

    Parameters
    ----------
    meta : dict
        The forward's description in the model card.
    hyper_params : dict
        Hyper-parameters (missing keys take :data:`DEFAULTS`).
    kernels : array, shape (n_kernels, n_sources, n_channels)
        Linear inverse kernels, one input channel each.
    sphere_pos : list of array, shape (n_used, 3)
        Unit vectors of each hemisphere's sources on the spherical
        registration.
    """
    return build_unet(UNet, kernels, {**DEFAULTS, **hyper_params}, sphere_pos)


def build_unet(cls, kernels, params, sphere_pos):
    """Build a U-Net of class ``cls`` on the hemispheres' sphere images.

    ``kernels`` is the array of linear kernels, or ``(n_kernels,
    n_sources)`` for a network that takes them as an input.
    """
    grid = tuple(params["grid"])
    if grid[0] % 4 or grid[1] % 4:
        raise ValueError(f"The U-Net grid must be divisible by 4, got {grid}.")
    to_grid, from_grid = sphere_image_tables(sphere_pos, grid, params["k"])
    shape = (len(sphere_pos) * grid[0], grid[1])
    net = cls(kernels, to_grid, from_grid, shape, tuple(params["channels"]),
              params["groups"], params["vertex_head"])
    return net.to(memory_format=torch.channels_last)


class UNetBackend(Backend):
    """A U-Net refining linear estimates on images of the hemispheres."""

    name = "unet"
    defaults = DEFAULTS
    loss = LOSS
    runtime_keys = RUNTIME_KEYS
    needs = ("sphere_pos", "kernels")
    summary = ("U-Net refining MNE, dSPM and sLORETA estimates (hemisphere "
               "images)")

    def build(self, meta, hyper, *, kernels, sphere_pos):
        """Build an untrained U-Net (see :func:`build`)."""
        return build(meta, hyper, kernels=kernels, sphere_pos=sphere_pos)
