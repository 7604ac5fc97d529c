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
from mne.io.constants import FIFF
from mne.utils import _check_option, logger

from ._registry import BACKENDS
from ._sensors import Sensors
from ._utils import _make_info
from .baselines import apply_baseline, make_baseline_operator
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
    _check_option("model", name, sorted(BACKENDS))
    if name == "convdip":
        return {}
    from .backends import get_backend

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

    Each kernel maps what the network reads (average-referenced EEG, or
    whitened data for MEG and EEG+MEG) to signed source amplitudes; it is
    read off :func:`mne.minimum_norm.apply_inverse` applied to the identity
    (one "time sample" per channel), with the model's noise covariance (an
    ad-hoc diagonal one by default), fixed orientations and the projectors
    (the EEG average reference); for whitened data it is then multiplied by
    the pseudo-inverse of the whitener.

    Parameters
    ----------
    fwd : instance of Forward
        EEG forward. With free orientations (surface source space) the
        kernels use depth weighting; a fixed-orientation forward gives no
        depth information, so its kernels are computed without.
    methods : list of str
        Any of ``"MNE"``, ``"dSPM"``, ``"sLORETA"``, ``"eLORETA"``.
    lambda2 : float
        Regularisation.
    depth : float | None
        Depth weighting exponent.
    noise_cov : instance of Covariance | None
        The model's noise covariance (see
        :class:`~mne_deepinverse.DeepInverse`).

    Returns
    -------
    kernels : array of float32, shape (n_methods, n_sources, n_channels)
        The kernels, each scaled to a largest absolute entry of 1 (the
        networks see per-sample normalised estimates, so the scale is free).
    """
    sensors = Sensors.from_forward(fwd, noise_cov)
    ch_names = sensors.ch_names
    info = _make_info(fwd, ch_names, 100.0)
    cov = None
    if sensors.whitened:
        cov = sensors.covariance()
        with info._unlock():  # the SSP projectors (the average reference below)
            info["projs"] = [p for p in sensors.info()["projs"]
                             if p["desc"] != "Average EEG reference"]
    fwd = mne.pick_channels_forward(fwd, ch_names, ordered=True, verbose=False)
    eye = mne.EvokedArray(np.eye(len(ch_names)), info, tmin=0.0, nave=1,
                          verbose=False)
    if "eeg" in sensors.ch_types:
        eye.set_eeg_reference("average", projection=True, verbose=False)
    if fwd["source_ori"] == FIFF.FIFFV_MNE_FIXED_ORI:
        depth = None
    inv = make_baseline_operator(eye.info, fwd, "MNE", depth=depth, noise_cov=cov,
                                 verbose=False)
    kernels = []
    for method in methods:
        logger.info(f"    Linear kernel: {method}")
        kern = apply_baseline(eye, fwd, method, operator=inv,
                              snr=lambda2**-0.5).data
        if sensors.whitened:  # maps whitened data: K W+ W x = K x
            kern = kern @ sensors.colorer
        kernels.append(kern / np.abs(kern).max())
    return np.stack(kernels).astype(np.float32)


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
