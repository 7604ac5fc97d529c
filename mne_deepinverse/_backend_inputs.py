# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""What a network backend needs besides its model card, computed for training.

The networks (:mod:`mne_deepinverse.backends`) know nothing of MNE's inverse
solvers, of the template or of FreeSurfer files: the training side computes
the arrays they start from here, by the names a backend's spec lists in its
``needs``, and passes them to ``backend.build(meta, hyper_params, **inputs)``:

- ``"kernels"``: linear kernels of the methods ``hyper_params["kernels"]``
  (MNE, dSPM and sLORETA for the U-Net);
- ``"kernel"``: the linear kernel ``hyper_params["kernel"]`` (sLORETA for the
  VNet);
- ``"sphere_pos"``: the sources' unit vectors on the spherical registration.
"""

import mne
import numpy as np

from ._sensors import Sensors
from ._sensors import linear_kernels as _linear_kernels
from .datasets import TEMPLATE_SUBJECT, get_template


def _kernels(fwd, params, noise_cov):
    return linear_kernels(fwd, list(params["kernels"]), lambda2=params["lambda2"],
                          noise_cov=noise_cov)


def _kernel(fwd, params, noise_cov):
    return linear_kernels(fwd, [params["kernel"]], lambda2=params["lambda2"],
                          noise_cov=noise_cov)[0]


def _sphere_pos(fwd, params, noise_cov):
    return sphere_positions(fwd, params.get("subjects_dir"))


#: What the training side computes for a network, by name.
PROVIDERS = dict(kernels=_kernels, kernel=_kernel, sphere_pos=_sphere_pos)


def backend_inputs(backend, fwd, hyper_params, *, noise_cov=None):
    """Return the arrays that ``backend.build`` needs (its spec's ``needs``).

    Parameters
    ----------
    backend : Backend
        The backend's spec (:func:`mne_deepinverse.backends.get_backend`).
    fwd : instance of Forward
        The forward the model is trained for, as the user gave it: the
        kernels use depth weighting when it has free orientations.
    hyper_params : dict
        The backend's hyper-parameters (missing keys take its defaults);
        ``subjects_dir`` locates the spherical registration.
    noise_cov : instance of Covariance | None
        The noise covariance of a MEG or EEG+MEG model (see
        :class:`~mne_deepinverse.DeepInverse`).

    Returns
    -------
    inputs : dict
        Keyword arguments for the backend's ``build``, computed in the order
        of ``needs`` (e.g. the source-space check of ``"sphere_pos"`` first).
    """
    params = backend.hyper_params(hyper_params)
    return {name: PROVIDERS[name](fwd, params, noise_cov) for name in backend.needs}


def linear_kernels(fwd, methods, *, lambda2=1.0 / 9.0, depth=0.8, noise_cov=None):
    """Linear inverse kernels of MNE's minimum-norm solvers for a forward.

    :func:`mne_deepinverse._sensors.linear_kernels` for the sensors of
    ``fwd`` and ``noise_cov`` (see :class:`~mne_deepinverse.DeepInverse`).

    Parameters
    ----------
    fwd : instance of Forward
        EEG, MEG or EEG+MEG forward.
    methods : list of str
        Any of ``"MNE"``, ``"dSPM"``, ``"sLORETA"``, ``"eLORETA"``.
    lambda2 : float
        Regularisation.
    depth : float | None
        Depth weighting exponent (free-orientation forwards only).
    noise_cov : instance of Covariance | None
        The model's noise covariance.

    Returns
    -------
    kernels : array of float32, shape (n_methods, n_sources, n_channels)
        The kernels, each scaled to a largest absolute entry of 1.
    """
    return _linear_kernels(fwd, Sensors.from_forward(fwd, noise_cov), methods,
                           lambda2=lambda2, depth=depth)


def sphere_positions(fwd, subjects_dir=None):
    """Return the unit vectors of the sources on the spherical registration.

    Parameters
    ----------
    fwd : instance of Forward
        Forward on a surface source space.
    subjects_dir : path-like | None
        FreeSurfer subjects directory; the template's for its own subject,
        else MNE's ``SUBJECTS_DIR``.

    Returns
    -------
    pos : list of array, shape (n_used, 3)
        Per hemisphere, read from ``surf/?h.sphere.reg``.
    """
    src = fwd["src"]
    if src.kind != "surface":
        raise ValueError(
            f"model='unet' maps each hemisphere through its spherical "
            f"registration and needs a surface source space, but this forward "
            f"has a {src.kind} source space. Use model='vnet' (volumetric) or "
            "model='convdip' instead."
        )
    subject = src._subject
    if subject == TEMPLATE_SUBJECT and subjects_dir is None:
        subjects_dir = get_template()[0]
    subjects_dir = mne.utils.get_subjects_dir(subjects_dir, raise_error=True)
    out = []
    for s, hemi in zip(src, ("lh", "rh"), strict=False):
        fname = subjects_dir / subject / "surf" / f"{hemi}.sphere.reg"
        if not fname.is_file():
            raise FileNotFoundError(
                f"model='unet' needs the spherical registration {fname} of "
                f"subject {subject!r}; pass hyper_params=dict(subjects_dir=...) "
                "pointing at the FreeSurfer subjects directory."
            )
        rr = mne.read_surface(fname)[0]
        if len(rr) != s["np"]:
            raise ValueError(
                f"{fname} has {len(rr)} vertices but the source space's surface "
                f"has {s['np']}: they belong to different subjects."
            )
        rr = rr[s["vertno"]]
        out.append(rr / np.linalg.norm(rr, axis=1, keepdims=True))
    return out
