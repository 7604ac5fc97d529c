# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""What a network backend needs besides its model card, computed for training.

The networks (:mod:`mne_deepinverse.backends`) know nothing of MNE's inverse
solvers, of the template or of FreeSurfer files: the training side computes
the arrays they start from here and passes them to ``backend.build(meta,
hyper_params, **inputs)``:

- ``"unet"``: ``kernels`` (MNE, dSPM and sLORETA by default) and
  ``sphere_pos``, the sources' unit vectors on the spherical registration;
- ``"vnet"``: ``kernel`` (sLORETA by default);
- ``"convdip"``: nothing.
"""

import mne
import numpy as np
from mne.utils import _check_option

from ._registry import BACKENDS
from ._sensors import Sensors
from ._sensors import linear_kernels as _linear_kernels
from .datasets import TEMPLATE_SUBJECT, get_template


def backend_inputs(name, fwd, hyper_params, *, noise_cov=None):
    """Return the arrays that ``build`` of backend ``name`` needs.

    Parameters
    ----------
    name : str
        The backend (a key of :data:`mne_deepinverse._registry.BACKENDS`).
    fwd : instance of Forward
        The EEG forward the model is trained for, as the user gave it: the
        kernels use depth weighting when it has free orientations.
    hyper_params : dict
        The backend's hyper-parameters (missing keys take its defaults);
        ``subjects_dir`` locates the spherical registration for ``"unet"``.
    noise_cov : instance of Covariance | None
        The noise covariance of a MEG or EEG+MEG model (see
        :class:`~mne_deepinverse.DeepInverse`).

    Returns
    -------
    inputs : dict
        Keyword arguments for the backend's ``build`` (empty for
        ``"convdip"``).
    """
    from .backends import get_backend

    _check_option("model", name, sorted(BACKENDS))
    if name == "convdip":
        return {}
    if name == "anysensor":  # its kernels are computed per forward, at apply
        params = {**get_backend(name).DEFAULTS, **hyper_params}
        return dict(sphere_pos=sphere_positions(fwd, params.get("subjects_dir")))
    params = {**get_backend(name).DEFAULTS, **hyper_params}
    if name == "unet":
        # the source space check first: it fails fast for non-surface spaces
        sphere_pos = sphere_positions(fwd, params.get("subjects_dir"))
        kernels = linear_kernels(fwd, list(params["kernels"]),
                                 lambda2=params["lambda2"], noise_cov=noise_cov)
        return dict(kernels=kernels, sphere_pos=sphere_pos)
    kernel = linear_kernels(fwd, [params["kernel"]], lambda2=params["lambda2"],
                            noise_cov=noise_cov)[0]
    return dict(kernel=kernel)


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
