# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""A U-Net on linear estimates for any EEG cap and MEG array on the template.

The network of :mod:`~mne_deepinverse.backends.unet` (MNE, dSPM and sLORETA
estimates, each divided by its peak magnitude, on latitude/longitude images
of the hemispheres; a 3-level U-Net; read back at the vertices), but the
linear kernels are not part of it: they are computed at apply time for the
user's forward on the template's source space (the user's sensors, head
position in the MEG helmet, noise covariance and projectors) and fed to the
graph together with the whitener and the whitened gain. The network only
ever sees estimates on the template's cortex, so one network serves every
sensor configuration it was trained over (``tools/train_anysensor.py``).
Its per-vertex head (``vertex_head``, see :mod:`~mne_deepinverse.backends.unet`)
places the peak at the sources' resolution.

With ``scan=1`` (the default) the network reads one more map next to the
linear estimates: a single-dipole scan, for each source the fraction of the
whitened data that a dipole there explains alone (the squared cosine between
the data and the source's whitened field, in [0, 1]). It is computed in the
graph from the whitened gain the graph is given anyway, so it needs nothing
more at apply time. For one source it is the scan an LCMV beamformer's
output power makes of a rank-one data covariance, here of the one sample
read; the linear estimates keep what it lacks for several sources.
"""

import torch

from .base import Backend
from .unet import DEFAULTS as _UNET_DEFAULTS
from .unet import RUNTIME_KEYS as _UNET_RUNTIME_KEYS
from .unet import UNet, build_unet

DEFAULTS = dict(_UNET_DEFAULTS, vertex_head=16, scan=1)
LOSS = "cosine_wmse"
#: The kernels are an input of the network (and of the exported graph).
KERNELS_AT_APPLY = True


class EstimateUNet(UNet):
    """The U-Net on estimates: ``forward`` takes the linear estimates.

    In training the estimates of every batch are computed from its sensor
    configuration's kernels outside the network; :meth:`from_data` is the
    exported form, which computes them from normalised data and kernels.
    """

    def forward(self, est):
        """Map linear estimates (n, n_k * n_sources) to a source-map shape."""
        return self.from_estimates(est)

    def from_data(self, x, kernel_t, gain_t):
        """Map normalised data (n, n_channels), kernels and gain to a map shape."""
        est = x @ kernel_t
        if self.scan:
            unit = gain_t / torch.linalg.vector_norm(gain_t, dim=1,
                                                     keepdim=True).clamp_min(1e-30)
            est = torch.cat([est, dipole_scan(x, unit.T)], dim=1)
        return self.from_estimates(est)


def dipole_scan(x, unit_gain):
    """Fraction of each sample's power a dipole at each source explains alone.

    Parameters
    ----------
    x : array | tensor, shape (n, n_channels)
        Whitened (and projected) data.
    unit_gain : array | tensor, shape (n_channels, n_sources)
        The whitened gain with each source's column scaled to unit norm.

    Returns
    -------
    scan : array | tensor, shape (n, n_sources)
        Squared cosines between the data and the sources' fields, in [0, 1].
    """
    fit = x @ unit_gain
    return fit * fit / ((x * x).sum(1)[:, None] + 1e-30)


def build(meta, hyper_params, *, sphere_pos):
    """Build an untrained U-Net whose kernels are an input.

    Parameters
    ----------
    meta : dict
        The model card's description of the source space.
    hyper_params : dict
        Hyper-parameters (missing keys take :data:`DEFAULTS`).
    sphere_pos : list of array, shape (n_used, 3)
        Unit vectors of each hemisphere's sources on the spherical
        registration.
    """
    params = {**DEFAULTS, **hyper_params}
    scan = bool(params["scan"])
    net = build_unet(EstimateUNet, (len(params["kernels"]) + scan,
                                    int(meta["n_sources"])), params, sphere_pos)
    net.scan = scan
    return net


class AnySensorBackend(Backend):
    """The U-Net whose linear kernels are computed for each forward at apply."""

    name = "anysensor"
    defaults = DEFAULTS
    loss = LOSS
    runtime_keys = _UNET_RUNTIME_KEYS
    sensor_kind = "any_sensor"
    # a per-vertex head on 5124 sources: 128 time samples at once keep its
    # working memory near 150 MB, as fast as 256 (benchmarks/bench_raw_memory.py)
    rows_per_call = 128
    apply_inputs = ("white_t", "kernel_t", "gain_t")
    needs = ("sphere_pos",)
    summary = ("U-Net whose MNE/dSPM/sLORETA kernels are computed at apply time: "
               "any EEG cap and MEG array on the template")

    def build(self, meta, hyper, *, sphere_pos):
        """Build an untrained any-sensor U-Net (see :func:`build`)."""
        return build(meta, hyper, sphere_pos=sphere_pos)

    def export(self, net, gain_pre, card, *, fp16=True, whitener=None):
        """Export a graph whose whitener, kernels and gain are inputs."""
        from .._export import export_any_sensor_model

        return export_any_sensor_model(net, card, fp16=fp16)
