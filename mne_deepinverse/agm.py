# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Test data without the inverse crime: the alternative generative model.

The ConvDip paper :footcite:`HeckerEtAl2021` (section 2.1) evaluates on data
from an *alternative generative model* (AGM) that differs from the model the
network is trained with: an oct6 source space (8196 sources), conductivities
changed from (0.3, 0.006, 0.3) to (0.332, 0.0113, 0.332) S/m, and electrodes
moved by N(0, 2 mm). The true source maps are brought back onto the model's
sources by 5-nearest-neighbour averaging with their energy preserved.
"""

import mne
import numpy as np
from mne.utils import _validate_type, logger, verbose
from scipy import sparse

from ._utils import _check_fixed_forward, _check_random_state, _source_positions
from .datasets import make_template_forward, make_template_info
from .simulation import simulate_samples

#: Brain, skull and scalp conductivities (S/m) of the AGM.
AGM_CONDUCTIVITY = (0.332, 0.0113, 0.332)


def _eeg_names(fwd):
    picks = mne.pick_types(fwd["info"], meg=False, eeg=True, exclude=())
    return [fwd["info"]["ch_names"][p] for p in picks]


def _make_agm_info(ch_names, electrode_jitter, random_state, head_motion=(0.0, 0.0)):
    """Info (template positions for names) with electrodes moved by N(0, jitter mm).

    MEG sensors stay in the helmet; the head moves instead: ``head_motion``
    = (degrees, mm) of a rotation about a random axis through the head
    frame's origin and a shift in a random direction.
    """
    if isinstance(ch_names, mne.Info):
        info = ch_names.copy()
    else:
        info = make_template_info(ch_names)
    rng = _check_random_state(random_state)
    shift = rng.normal(0.0, electrode_jitter * 1e-3, (len(info["chs"]), 3))
    eeg = set(mne.pick_types(info, meg=False, eeg=True, exclude=()))
    with info._unlock():
        for ii, (ch, dr) in enumerate(zip(info["chs"], shift, strict=True)):
            if ii in eeg:
                ch["loc"][:3] += dr
        if len(mne.pick_types(info, meg=True, exclude=())) and any(head_motion):
            info["dev_head_t"] = _move_head(info["dev_head_t"], *head_motion, rng)
    return info, shift[sorted(eeg)]


def _move_head(dev_head_t, degrees, mm, rng):
    """Return ``dev_head_t`` with the head rotated and shifted (random directions)."""
    from scipy.spatial.transform import Rotation

    axis, direction = rng.normal(size=3), rng.normal(size=3)
    move = np.eye(4)
    move[:3, :3] = Rotation.from_rotvec(
        np.deg2rad(degrees) * axis / np.linalg.norm(axis)).as_matrix()
    move[:3, 3] = mm * 1e-3 * direction / np.linalg.norm(direction)
    return mne.transforms.Transform("meg", "head", move @ dev_head_t["trans"])


@verbose
def make_agm_forward(
    ch_names,
    *,
    conductivity=AGM_CONDUCTIVITY,
    spacing="oct6",
    electrode_jitter=2.0,
    head_motion=(3.0, 3.0),
    head_scale=None,
    coreg_error=(0.0, 0.0),
    random_state=None,
    verbose=None,
):
    """Make the fixed-orientation forward of the alternative generative model.

    The test data of the ConvDip paper :footcite:`HeckerEtAl2021` come from a
    forward model that differs from the one the methods invert with: another
    source space, other conductivities and displaced electrodes.

    Parameters
    ----------
    ch_names : list of str | instance of Info
        EEG channel names of the 10-05 system (e.g. the model's channels),
        placed at the template's 10-05 positions, or an Info whose electrode
        positions (e.g. a standard cap's) and MEG sensors (with the head
        position ``dev_head_t``) are used instead; it is not modified.
    conductivity : tuple of float
        Brain, skull and scalp conductivities in S/m.
    spacing : "ico4" | "oct6"
        Cortical source space (5124 or 8196 sources).
    electrode_jitter : float
        Standard deviation (mm) of the Gaussian displacement added to every
        coordinate of every electrode (MNE then projects the electrodes
        onto the scalp).
    head_motion : tuple of float
        For MEG: the head of the AGM sits elsewhere in the helmet than in
        ``ch_names``' ``dev_head_t``: rotated by this many degrees about a
        random axis and shifted by this many mm in a random direction.

        .. versionadded:: 0.1
    head_scale : tuple of float | None
        A head that is not the template, as when the template stands in for
        a subject: the template's BEM surfaces, cortex and electrodes scaled
        by these factors along x, y and z (MRI axes) about the centre of the
        inner skull (e.g. ``(1.08, 0.93, 1.02)``; 0.8-1.25 each). None: the
        template's head.

        .. versionadded:: 0.1
    coreg_error : tuple of float
        The co-registration of that head with the sensors is off: its MRI
        (BEM and cortex) is rotated by this many degrees about a random axis
        through the centre of the inner skull and shifted by this many mm in
        a random direction, relative to the electrodes and the MEG helmet.

        .. versionadded:: 0.1
    random_state : None | int | instance of numpy.random.Generator
        Seed of the electrode displacements and of the co-registration
        error's directions; the same seed gives the same forward.
    %(verbose)s

    Returns
    -------
    fwd : instance of Forward
        The fixed-orientation forward. Like every template forward it is
        cached under ``MNE_DATA`` (≈ 4 MB per seed; ``random_state=None``
        makes a new one every call); the first call for new conductivities
        (or a new ``head_scale``) also computes a BEM solution (about 2.5
        minutes, ≈ 200 MB). Its sources are where the scaled and displaced
        head puts them; :func:`agm_source_positions` gives their anatomical
        positions on the template, for mapping truths onto a model's sources.

    See Also
    --------
    simulate_agm_samples
    mne_deepinverse.datasets.make_template_forward

    References
    ----------
    .. footbibliography::
    """
    _validate_type(electrode_jitter, "numeric", "electrode_jitter")
    if not electrode_jitter >= 0:
        raise ValueError(
            f"electrode_jitter must be a non-negative number of mm, got "
            f"{electrode_jitter}."
        )
    scale = _check_head_scale(head_scale)
    _validate_type(coreg_error, (tuple, list), "coreg_error")
    if len(coreg_error) != 2 or not all(np.isfinite(coreg_error)) or min(
            coreg_error) < 0:
        raise ValueError("coreg_error must be (degrees, mm), both >= 0, got "
                         f"{coreg_error!r}.")
    info, shift = _make_agm_info(ch_names, electrode_jitter, random_state,
                                 head_motion)
    moved = ("" if not len(shift) else ", electrodes moved by "
             f"{np.linalg.norm(shift, axis=1).mean() * 1e3:.1f} mm on average")
    if len(mne.pick_types(info, meg=True, exclude=())):
        moved += (f", head rotated by {head_motion[0]:g} degrees and shifted by "
                  f"{head_motion[1]:g} mm in the helmet")
    if scale is None and not any(coreg_error):
        logger.info(f"Making the AGM forward ({spacing}, {conductivity} S/m{moved})")
        return make_template_forward(info, spacing, conductivity, fixed=True)
    rng = (np.random.default_rng([int(random_state), 3])
           if isinstance(random_state, int | np.integer)
           else _check_random_state(random_state))
    logger.info(f"Making the AGM forward ({spacing}, {conductivity} S/m{moved}, "
                f"head scaled by {scale or (1, 1, 1)}, co-registration off by "
                f"{coreg_error[0]:g} degrees and {coreg_error[1]:g} mm)")
    return _other_head_forward(info, spacing, conductivity, scale or (1.0, 1.0, 1.0),
                               coreg_error, rng)


def _check_head_scale(head_scale):
    if head_scale is None:
        return None
    _validate_type(head_scale, (tuple, list, np.ndarray), "head_scale")
    scale = tuple(float(x) for x in head_scale)
    if len(scale) != 3 or not all(0.8 <= x <= 1.25 for x in scale):
        raise ValueError("head_scale must be three factors (x, y, z) between 0.8 "
                         f"and 1.25, got {head_scale!r}.")
    return scale


def _head_centre():
    """Return the centre (MRI coordinates, m) about which a head is scaled.

    The mean of the template's inner skull vertices (the surface file the
    BEM is made from, not the 200-MB BEM solution).
    """
    from .datasets import get_template

    subjects_dir, subject = get_template()
    rr = mne.read_surface(subjects_dir / subject / "bem" / "inner_skull.surf")[0]
    return rr.mean(axis=0) / 1000.0  # (FreeSurfer surfaces are in mm)


def _scaled_bem(scale, conductivity, centre):
    """Return the template's BEM solution with its surfaces scaled (cached)."""
    from mne.bem import _surfaces_to_bem

    from .datasets import get_cache_dir, get_template
    from .datasets._template import _cached

    subjects_dir, subject = get_template()

    def compute():
        model = mne.make_bem_model(subject, ico=None, conductivity=conductivity,
                                   subjects_dir=subjects_dir, verbose=False)
        surfs = [dict(rr=centre + (s["rr"] - centre) * scale, tris=s["tris"])
                 for s in model]
        ids = [s["id"] for s in model]
        model = _surfaces_to_bem(surfs, ids, [s["sigma"] for s in model],
                                 rescale=False)
        return mne.make_bem_solution(model, verbose=False)

    tag = "-".join(f"{c:g}" for c in conductivity) + "-scaled-" + "-".join(
        f"{x:.4f}" for x in scale)
    return _cached(get_cache_dir() / f"{subject}-{tag}-bem-sol.fif", compute,
                   mne.write_bem_solution, mne.read_bem_solution,
                   f"the template BEM solution scaled by {scale}")


def _other_head_forward(info, spacing, conductivity, scale, coreg_error, rng):
    """Make the forward of the template scaled and mis-coregistered."""
    import copy
    import hashlib

    from scipy.spatial.transform import Rotation

    from .datasets import (
        get_cache_dir,
        get_template_trans,
        project_to_template_scalp,
        setup_template_source_space,
    )
    from .datasets._template import _cached, _forward_key

    centre = _head_centre()
    scale = np.asarray(scale, float)
    head_mri = get_template_trans()  # head -> MRI
    if head_mri["from"] != mne.io.constants.FIFF.FIFFV_COORD_HEAD:
        head_mri = mne.transforms.invert_transform(head_mri)
    # electrodes: on the template's scalp, scaled with the head (MRI frame)
    info = info.copy()
    eeg = mne.pick_types(info, meg=False, eeg=True, exclude=())
    if len(eeg):
        info.set_montage(project_to_template_scalp(info)[0])
        with info._unlock():
            for p in eeg:
                loc = info["chs"][p]["loc"]
                mri = mne.transforms.apply_trans(head_mri, loc[:3])
                loc[:3] = mne.transforms.apply_trans(
                    mne.transforms.invert_transform(head_mri),
                    centre + (mri - centre) * scale)
    # co-registration error: the MRI moved about the head's centre
    degrees, mm = coreg_error
    axis, direction = rng.normal(size=3), rng.normal(size=3)
    rot = Rotation.from_rotvec(np.deg2rad(degrees) * axis / np.linalg.norm(axis))
    error = np.eye(4)  # x_mri' = R (x_mri - c) + c + t
    error[:3, :3] = rot.as_matrix()
    error[:3, 3] = centre - rot.as_matrix() @ centre + mm * 1e-3 * direction / (
        np.linalg.norm(direction))
    # head -> MRI of the displaced head: the inverse error after the nominal one
    trans = mne.transforms.Transform("head", "mri",
                                     np.linalg.inv(error) @ head_mri["trans"])
    src = copy.deepcopy(setup_template_source_space(spacing))
    for hemi in src:
        hemi["rr"] = centre + (hemi["rr"] - centre) * scale
        nn = hemi["nn"] / scale  # normals: the inverse transpose of the scaling
        hemi["nn"] = nn / np.linalg.norm(nn, axis=1, keepdims=True)
    # the template forward's key of these sensors, and what makes the head other
    h = hashlib.sha256(_forward_key(info, spacing, conductivity).encode())
    h.update(np.round(trans["trans"], 9).tobytes())
    h.update(f"{scale.round(6).tolist()}".encode())
    meg = len(mne.pick_types(info, meg=True, exclude=()))

    def compute():
        picks = mne.pick_types(info, meg=True, eeg=True, exclude=())
        info_sel = mne.pick_info(info, picks)
        with info_sel._unlock():
            info_sel["bads"], info_sel["projs"], info_sel["comps"] = [], [], []
        return mne.make_forward_solution(
            info_sel, trans, src, _scaled_bem(tuple(scale), conductivity, centre),
            meg=bool(meg), eeg=bool(len(eeg)), mindist=0.0, verbose=False)

    fwd = _cached(get_cache_dir() / f"agm-{spacing}-{h.hexdigest()[:16]}-fwd.fif",
                  compute, mne.write_forward_solution, mne.read_forward_solution,
                  "the AGM forward of a scaled, mis-coregistered head")
    return mne.convert_forward_solution(fwd, surf_ori=True, force_fixed=True,
                                        use_cps=True, verbose=False)


def agm_source_positions(spacing="oct6"):
    """Return the anatomical positions of the AGM's sources on the template.

    The sources of an AGM forward for a scaled or mis-coregistered head
    (:func:`make_agm_forward` with ``head_scale`` or ``coreg_error``) sit
    where that head puts them; the same vertices on the template (head
    coordinates) say which part of the cortex they are, so truths are mapped
    onto a model's sources from these (:func:`map_to_sources`).

    Parameters
    ----------
    spacing : "ico4" | "oct6"
        The AGM's source space.

    Returns
    -------
    pos : array, shape (n_sources, 3)
        The positions (m, head coordinates), in the order of the forward's
        sources.
    """
    from .datasets import get_template_trans, setup_template_source_space

    src = setup_template_source_space(spacing)
    trans = get_template_trans()
    if trans["from"] == mne.io.constants.FIFF.FIFFV_COORD_HEAD:
        trans = mne.transforms.invert_transform(trans)
    rr = np.concatenate([s["rr"][s["vertno"]] for s in src])
    return mne.transforms.apply_trans(trans, rr)


def map_to_sources(Y, pos_from, pos_to, *, k=5):
    """Map source maps onto another source space by k-nearest neighbours.

    Every target source takes the mean of the ``k`` nearest source values,
    then every map is rescaled so that its energy (sum of squares) equals
    that of the input map.

    Parameters
    ----------
    Y : array, shape (n_samples, n_from) | (n_from,)
        Source maps on the sources at ``pos_from``.
    pos_from : array, shape (n_from, 3)
        Positions (m) of the sources of ``Y``.
    pos_to : array, shape (n_to, 3)
        Positions (m) of the target sources, in the same coordinate frame.
    k : int
        Number of nearest neighbours averaged.

    Returns
    -------
    Y_to : array, shape (n_samples, n_to) | (n_to,)
        The mapped source maps. A map none of whose active sources is among
        the neighbours of a target source stays zero.

    See Also
    --------
    simulate_agm_samples
    """
    Y = np.asarray(Y)
    if not np.issubdtype(Y.dtype, np.floating):
        Y = Y.astype(np.float64)
    pos_from = np.asarray(pos_from, dtype=np.float64)
    pos_to = np.asarray(pos_to, dtype=np.float64)
    for name, pos in (("pos_from", pos_from), ("pos_to", pos_to)):
        if pos.ndim != 2 or pos.shape[1] != 3 or len(pos) == 0:
            raise ValueError(f"{name} must have shape (n_sources, 3), got {pos.shape}.")
        if not np.isfinite(pos).all():
            raise ValueError(f"{name} holds NaN or inf values.")
    if Y.ndim not in (1, 2) or Y.shape[-1] != len(pos_from):
        raise ValueError(
            f"Y must have shape (n_samples, {len(pos_from)}) or ({len(pos_from)},)"
            f" to match pos_from, got {Y.shape}."
        )
    if not np.isfinite(Y).all():
        raise ValueError("Y holds NaN or inf values.")
    _validate_type(k, "int", "k")
    if not 1 <= k <= len(pos_from):
        raise ValueError(f"k must be between 1 and {len(pos_from)}, got {k}.")
    from scipy.spatial import cKDTree

    Y2 = np.atleast_2d(Y)
    n_to = len(pos_to)
    idx = cKDTree(pos_from).query(pos_to, k=k)[1].reshape(n_to, k)
    avg = sparse.csr_matrix(
        (np.full(idx.size, 1.0 / k), (np.repeat(np.arange(n_to), k), idx.ravel())),
        shape=(n_to, len(pos_from)),
    )
    out = np.asarray(avg @ Y2.T.astype(np.float64)).T
    e_in = np.sum(Y2.astype(np.float64) ** 2, axis=1)
    e_out = np.sum(out**2, axis=1)
    scale = np.sqrt(np.divide(e_in, e_out, out=np.zeros_like(e_in), where=e_out > 0))
    out = (out * scale[:, None]).astype(Y.dtype, copy=False)
    return out[0] if Y.ndim == 1 else out


@verbose
def simulate_agm_samples(
    fwd_model,
    n_samples,
    *,
    fwd_agm=None,
    random_state=None,
    verbose=None,
    **sim_params,
):
    """Simulate test samples from the alternative generative model (AGM).

    EEG is simulated on the AGM's forward and the true source maps are mapped
    onto the model's sources (:func:`map_to_sources`, k = 5), so that a
    network trained on ``fwd_model`` is not tested on its own generative
    model (the "inverse crime") :footcite:`HeckerEtAl2021`.

    Parameters
    ----------
    fwd_model : instance of Forward
        The forward the network (or inverse solver) uses.
    n_samples : int
        Number of samples.
    fwd_agm : instance of Forward | None
        The AGM forward, with (at least) the EEG channels of ``fwd_model``.
        ``None`` makes it with :func:`make_agm_forward` for the EEG channels
        of ``fwd_model`` and ``random_state``.
    random_state : None | int | instance of numpy.random.Generator
        Seed of the electrode displacements (when ``fwd_agm`` is ``None``)
        and of the samples.
    %(verbose)s
    **sim_params
        Keyword arguments of :func:`mne_deepinverse.simulation.simulate_samples`
        (``n_patches``, ``extent``, ``snr_db``, ...).

    Returns
    -------
    X : array, shape (n_samples, n_channels)
        EEG in V, channels in the order of the EEG channels of ``fwd_model``.
    Y : array, shape (n_samples, n_sources)
        True source moments (Am) on the sources of ``fwd_model``.

    See Also
    --------
    make_agm_forward
    map_to_sources
    mne_deepinverse.simulation.simulate_samples

    References
    ----------
    .. footbibliography::
    """
    _validate_type(fwd_model, mne.Forward, "fwd_model")
    _validate_type(fwd_agm, (None, mne.Forward), "fwd_agm")
    names = _eeg_names(fwd_model)
    if not names:
        raise ValueError("fwd_model has no EEG channels; make an EEG forward model.")
    if fwd_agm is None:
        fwd_agm = make_agm_forward(names, random_state=random_state)
    fwd_agm = _check_fixed_forward(fwd_agm)
    if fwd_agm["coord_frame"] != fwd_model["coord_frame"]:
        raise ValueError(
            "fwd_agm and fwd_model have sources in different coordinate frames "
            f"({fwd_agm['coord_frame']} and {fwd_model['coord_frame']})."
        )
    agm_names = _eeg_names(fwd_agm)
    missing = [ch for ch in names if ch not in agm_names]
    if missing:
        raise ValueError(
            f"fwd_agm lacks EEG channel(s) {missing} of fwd_model; make it with "
            "make_agm_forward(ch_names) for the model's channels."
        )
    if agm_names != names:
        fwd_agm = mne.pick_channels_forward(fwd_agm, names, ordered=True, verbose=False)
    X, Y = simulate_samples(fwd_agm, n_samples, random_state=random_state, **sim_params)
    Y = map_to_sources(Y, _source_positions(fwd_agm), _source_positions(fwd_model))
    return X, Y
