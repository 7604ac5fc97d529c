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
"""

from .unet import DEFAULTS as _UNET_DEFAULTS
from .unet import UNet, build_unet

DEFAULTS = dict(_UNET_DEFAULTS, vertex_head=16)
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

    def from_data(self, x, kernel_t):
        """Map normalised data (n, n_channels) and kernels to a source-map shape."""
        return self.from_estimates(x @ kernel_t)


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
    return build_unet(EstimateUNet, (len(params["kernels"]), int(meta["n_sources"])),
                      params, sphere_pos)
