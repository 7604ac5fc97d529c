# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""The offline template head model (fsaverage5 cortex, MNE's fsaverage head)."""

import hashlib
import os
import threading
from importlib.resources import files
from pathlib import Path

import mne
import numpy as np
from mne.utils import _check_option, _validate_type, logger, verbose, warn

from ._leadfield import leadfield_forward, shipped_leadfield

#: Name of the template subject (FreeSurfer-style folder shipped with the package).
TEMPLATE_SUBJECT = "fsaverage5"
#: Default three-layer conductivities (brain, skull, scalp) in S/m.
DEFAULT_CONDUCTIVITY = (0.3, 0.006, 0.3)
#: Conductivity (S/m) of the one-layer (inner skull) BEM of MEG-only forwards,
#: as MNE recommends for MEG.
MEG_CONDUCTIVITY = (0.3,)
#: Distance (mm) from the template's scalp beyond which an electrode cannot be
#: meant for this head (MNE's standard caps reach 29 mm: EGI_256's face
#: electrodes; spherical_1005 reaches 45 mm).
MAX_SCALP_DISTANCE_MM = 35.0
#: Median distance (mm) beyond which a montage cannot be meant for this head
#: (MNE's standard caps: 2-7 mm; spherical montages: 13-15 mm).
MAX_MEDIAN_SCALP_DISTANCE_MM = 10.0
_SPACINGS = ("ico4", "oct6")
#: MEG systems whose sensor definitions ship with the package.
MEG_SYSTEMS = ("neuromag306",)
#: Closest distance (mm) of a MEG sensor to the template's scalp: nearer (or
#: inside the head) means the head sits where no head fits in the helmet.
MIN_MEG_SCALP_DISTANCE_MM = 5.0


@verbose
def get_template(verbose=None):
    """Return where the shipped template subject lives.

    The template is a small FreeSurfer-style subject (``fsaverage5``) that
    ships inside the package: fsaverage5 cortical surfaces (white, pial,
    inflated, sphere, sphere.reg, curv) and a three-layer BEM (scalp and inner
    skull from MNE's fsaverage, outer skull derived from the inner skull).
    Nothing is downloaded.

    Parameters
    ----------
    %(verbose)s

    Returns
    -------
    subjects_dir : pathlib.Path
        The FreeSurfer ``SUBJECTS_DIR`` holding the template.
    subject : str
        The template's subject name, ``"fsaverage5"``.

    See Also
    --------
    mne.datasets.fetch_fsaverage
    """
    subjects_dir = Path(str(files("mne_deepinverse.datasets") / "data"))
    if not (subjects_dir / TEMPLATE_SUBJECT / "surf" / "lh.white").is_file():
        raise RuntimeError(
            f"The template subject is missing from {subjects_dir}. Reinstall "
            "mne-deepinverse or regenerate it with tools/make_template.py."
        )
    return subjects_dir, TEMPLATE_SUBJECT


def get_template_trans():
    """Return the head <-> MRI transform of the template.

    Returns
    -------
    trans : instance of Transform
        The head to MRI transform (the one of MNE's fsaverage).
    """
    subjects_dir, subject = get_template()
    return mne.read_trans(subjects_dir / subject / f"{subject}-trans.fif")


def get_cache_dir():
    """Return the folder where source spaces, BEMs and forwards are cached.

    It is ``<MNE_DATA>/mne_deepinverse``; set the ``MNE_DATA`` configuration
    value or environment variable to move it.

    Returns
    -------
    cache_dir : pathlib.Path
        The cache folder (created if needed).
    """
    root = os.environ.get("MNE_DATA") or mne.get_config("MNE_DATA")
    root = Path(root) if root else Path.home() / "mne_data"
    cache = root / "mne_deepinverse"
    cache.mkdir(parents=True, exist_ok=True)
    return cache


def _file_hash(fname):
    """Return the sha256 of a file (hex)."""
    h = hashlib.sha256()
    with open(fname, "rb") as fid:
        for block in iter(lambda: fid.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _cached(fname, compute, write, read, what):
    """Read ``fname`` from the cache, or compute, write and read it back.

    The first build is returned *as read back from the file*, never as
    computed: FIF stores positions, gains and BEM solutions in float32, so
    returning the float64 computation would make the same call give other
    numbers once the cache is warm. The file is written under a temporary
    name unique to the process and thread and renamed, so a run that is
    interrupted (or another process or thread building the same file) never
    sees half a file. A sidecar ``<name>.sha256`` holds the file's hash: a
    cached file that differs from it, or that cannot be read, is reported and
    computed again.
    """
    fname = Path(fname)
    sidecar = fname.with_name(fname.name + ".sha256")
    if fname.is_file():
        problem = None
        if sidecar.is_file() and sidecar.read_text().strip() != _file_hash(fname):
            problem = "its content differs from its recorded sha256"
        else:
            try:
                obj = read(fname, verbose=False)
            except Exception as exc:  # MNE's readers raise many kinds
                problem = f"it cannot be read: {type(exc).__name__}: {exc}"
            else:
                if not sidecar.is_file():  # a cache written before the hashes
                    _write_text(sidecar, _file_hash(fname))
                return obj
        warn(f"The cached {what} {fname} is corrupted ({problem}); it is "
             "computed again.")
        fname.unlink(missing_ok=True)
        sidecar.unlink(missing_ok=True)
    logger.info(f"Computing {what} (cached as {fname})")
    obj = compute()
    tmp = fname.with_name(f".{os.getpid()}-{threading.get_ident()}-{fname.name}")
    try:
        write(tmp, obj, overwrite=True, verbose=False)
        digest = _file_hash(tmp)
        os.replace(tmp, fname)
    finally:
        tmp.unlink(missing_ok=True)
    _write_text(sidecar, digest)
    return read(fname, verbose=False)


def _write_text(fname, text):
    """Write a small text file through a temporary name and a rename."""
    tmp = fname.with_name(f".{os.getpid()}-{threading.get_ident()}-{fname.name}")
    try:
        tmp.write_text(text)
        os.replace(tmp, fname)
    finally:
        tmp.unlink(missing_ok=True)


def _check_ch_name_list(ch_names):
    """Return ch_names as a list of unique str, or raise a clear error."""
    if isinstance(ch_names, str):
        raise TypeError(
            f"ch_names must be a list of str, got the single str {ch_names!r}. "
            f"Pass a list, e.g. [{ch_names!r}]."
        )
    _validate_type(ch_names, (list, tuple, np.ndarray), "ch_names")
    ch_names = list(ch_names)
    for ch in ch_names:
        _validate_type(ch, str, "each channel name in ch_names")
    if not ch_names:
        raise ValueError(
            "ch_names is empty. Pass the names of your EEG channels, e.g. "
            "mne_deepinverse.datasets.CONVDIP_CH_NAMES."
        )
    dups = sorted({ch for ch in ch_names if ch_names.count(ch) > 1})
    if dups:
        raise ValueError(f"ch_names has duplicates {dups}. Pass each channel once.")
    return ch_names


def make_template_montage(ch_names=None):
    """Make a standard 10-05 montage in the template's coordinates.

    Parameters
    ----------
    ch_names : list of str | None
        Channels to keep (in this order). ``None`` keeps all 10-05 positions.

    Returns
    -------
    montage : instance of DigMontage
        The montage (positions of MNE's ``fsaverage_1005``).
    """
    if ch_names is not None:
        ch_names = _check_ch_name_list(ch_names)
    builtin = mne.channels.get_builtin_montages()
    kind = "fsaverage_1005" if "fsaverage_1005" in builtin else "standard_1005"
    montage = mne.channels.make_standard_montage(kind)
    if ch_names is not None:
        missing = [ch for ch in ch_names if ch not in montage.ch_names]
        if missing:
            raise ValueError(
                f"No 10-05 position for channel(s) {missing}. Use names of the "
                "10-05 system or pass an Info with your own montage."
            )
        pos = montage.get_positions()
        montage = mne.channels.make_dig_montage(
            ch_pos={ch: pos["ch_pos"][ch] for ch in ch_names},
            nasion=pos["nasion"],
            lpa=pos["lpa"],
            rpa=pos["rpa"],
            coord_frame=pos["coord_frame"],
        )
    return montage


def make_template_info(ch_names, sfreq=100.0):
    """Make an EEG :class:`mne.Info` with template (10-05) positions.

    Parameters
    ----------
    ch_names : list of str
        EEG channel names of the 10-05 system.
    sfreq : float
        Sampling frequency in Hz.

    Returns
    -------
    info : instance of Info
        Info with the template montage set.
    """
    ch_names = _check_ch_name_list(ch_names)
    _validate_type(sfreq, "numeric", "sfreq")
    if not (np.isfinite(sfreq) and sfreq > 0):
        raise ValueError(
            f"sfreq must be a finite sampling frequency > 0 in Hz, got {sfreq}."
        )
    info = mne.create_info(ch_names, float(sfreq), "eeg")
    info.set_montage(make_template_montage(ch_names))
    return info


def make_template_meg_info(system="neuromag306", *, sfreq=100.0, dev_head_t=None):
    """Make a MEG :class:`mne.Info` with the template head in the helmet.

    Parameters
    ----------
    system : "neuromag306"
        The MEG system: ``"neuromag306"`` is the Neuromag (Elekta, MEGIN)
        VectorView array of 102 magnetometers and 204 planar gradiometers
        (the sensor definitions of the MNE "sample" recording).
    sfreq : float
        Sampling frequency in Hz.
    dev_head_t : instance of Transform | array, shape (4, 4) | None
        Where the head sits in the helmet (device to head coordinates).
        None: the head position of the MNE "sample" recording, which leaves
        21-30 mm (closest, median) between the template's scalp and the
        sensors (the head frame is defined by the fiducials, in the
        recording as in the template).

    Returns
    -------
    info : instance of Info
        The MEG channels and ``dev_head_t``; add EEG channels with
        :func:`mne.io.Info` tools or combine with a template EEG montage.

    See Also
    --------
    make_template_info
    make_template_forward
    """
    _check_option("system", system, MEG_SYSTEMS)
    _validate_type(sfreq, "numeric", "sfreq")
    _validate_type(dev_head_t, (mne.transforms.Transform, np.ndarray, None),
                   "dev_head_t")
    info = mne.io.read_info(
        Path(str(files("mne_deepinverse.datasets") / "data" / f"{system}-info.fif")),
        verbose=False)
    with info._unlock():
        info["sfreq"] = float(sfreq)
        info["lowpass"] = float(sfreq) / 2.0
        if dev_head_t is not None:
            trans = dev_head_t if isinstance(dev_head_t, mne.transforms.Transform) \
                else mne.transforms.Transform("meg", "head", np.asarray(dev_head_t))
            if (trans["from"], trans["to"]) != (1, 4):  # device -> head
                raise ValueError(f"dev_head_t must map the MEG device frame to "
                                 f"the head frame, got {trans}.")
            info["dev_head_t"] = trans
    return info


def read_meg_noise_cov(system="neuromag306"):
    """Read the real MEG noise covariance that ships with the package.

    Parameters
    ----------
    system : "neuromag306"
        The MEG system (see :func:`make_template_meg_info`).

    Returns
    -------
    cov : instance of Covariance
        The noise covariance of the MNE "sample" recording's MEG (the 200 ms
        before each of its 29 auditory and visual stimuli, 1-40 Hz, shrunk;
        with its three empty-room SSP projectors): the sensor noise of the
        MEG benchmark's test data.
    """
    _check_option("system", system, MEG_SYSTEMS)
    fname = files("mne_deepinverse.datasets") / "data" / f"{system}-noise-cov.fif"
    return mne.read_cov(Path(str(fname)), verbose=False)


def _check_meg_in_helmet(info, picks):
    """Raise if MEG sensors are nearer the template's scalp than a head allows."""
    from scipy.spatial import cKDTree

    if info["dev_head_t"] is None:
        raise ValueError("The info has MEG channels but no device-to-head "
                         "transform (info['dev_head_t']); set it.")
    pos = np.array([info["chs"][p]["loc"][:3] for p in picks])
    pos_mri = mne.transforms.apply_trans(
        get_template_trans(), mne.transforms.apply_trans(info["dev_head_t"], pos))
    scalp = _template_scalp()
    dist, idx = cKDTree(scalp["rr"]).query(pos_mri)
    inside = np.einsum("ij,ij->i", pos_mri - scalp["rr"][idx], scalp["nn"][idx]) < 0
    dist = np.where(inside, -dist, dist) * 1e3
    if dist.min() < MIN_MEG_SCALP_DISTANCE_MM:
        raise ValueError(
            f"With this info['dev_head_t'] the template's scalp comes "
            f"{dist.min():.0f} mm from a MEG sensor (minimum "
            f"{MIN_MEG_SCALP_DISTANCE_MM:g} mm; negative: inside the head): the "
            "head would not fit in the helmet there. Check the device-to-head "
            "transform (in m), or align the head by its fiducials "
            "(mne_deepinverse.datasets.make_template_meg_info gives a typical one)."
        )


def _check_spacing(spacing):
    _validate_type(spacing, str, "spacing")
    _check_option("spacing", spacing, _SPACINGS)


def _check_conductivity(conductivity, eeg=True):
    """Return the conductivities as floats: three, or one for MEG alone."""
    what = ("three positive values (brain, skull, scalp) in S/m, e.g. "
            "(0.3, 0.006, 0.3)")
    if not eeg:
        what += ", or one (brain) for a one-layer MEG model, e.g. (0.3,)"
    _validate_type(conductivity, (tuple, list, np.ndarray), "conductivity")
    try:
        conductivity = tuple(float(c) for c in conductivity)
    except (TypeError, ValueError):
        raise ValueError(
            f"conductivity must be {what}, got {tuple(conductivity)}.") from None
    if len(conductivity) not in ((3,) if eeg else (1, 3)) or not all(
            np.isfinite(conductivity)) or min(conductivity) <= 0:
        extra = (" (EEG needs the skull and scalp layers)"
                 if eeg and len(conductivity) == 1 else "")
        raise ValueError(f"conductivity must be {what}, got {conductivity}{extra}.")
    return conductivity


@verbose
def setup_template_source_space(spacing="ico4", verbose=None):
    """Set up (or read from the cache) a cortical source space on the template.

    Parameters
    ----------
    spacing : "ico4" | "oct6"
        ``"ico4"`` gives 2 x 2562 = 5124 sources (the ConvDip paper's model),
        ``"oct6"`` 2 x 4098 = 8196 (its alternative generative model).
    %(verbose)s

    Returns
    -------
    src : instance of SourceSpaces
        The source space, with distances omitted, cached under ``MNE_DATA``.
        The first call returns it as read back from the cache file (FIF
        stores positions in float32), so every call gives the same values.
    """
    _check_spacing(spacing)
    subjects_dir, subject = get_template()
    return _cached(
        get_cache_dir() / f"{subject}-{spacing}-src.fif",
        lambda: mne.setup_source_space(
            subject, spacing=spacing, add_dist=False, subjects_dir=subjects_dir,
            verbose=False,
        ),
        mne.write_source_spaces,
        mne.read_source_spaces,
        f"the {spacing} source space of the template",
    )


@verbose
def make_template_bem(conductivity=DEFAULT_CONDUCTIVITY, verbose=None):
    """Make (or read from the cache) a BEM solution of the template.

    The first call for a set of three conductivities takes about a minute on
    two cores (the solution, ≈ 200 MB, is cached under ``MNE_DATA``); a
    one-layer model (MEG) takes about 5 s (≈ 26 MB). On the first call too, the
    solution is returned as read back from the cache file (FIF stores it in
    float32), so every call gives the same values.

    Parameters
    ----------
    conductivity : tuple of float
        Brain, skull and scalp conductivities in S/m (three layers), or the
        brain's alone (one layer, the inner skull: enough for MEG).
    %(verbose)s

    Returns
    -------
    bem : instance of ConductorModel
        The BEM solution.
    """
    conductivity = _check_conductivity(conductivity, eeg=False)
    subjects_dir, subject = get_template()
    tag = "-".join(f"{c:g}" for c in conductivity)

    def compute():
        model = mne.make_bem_model(
            subject, ico=None, conductivity=conductivity,
            subjects_dir=subjects_dir, verbose=False,
        )
        return mne.make_bem_solution(model, verbose=False)

    return _cached(
        get_cache_dir() / f"{subject}-{tag}-bem-sol.fif",
        compute,
        mne.write_bem_solution,
        mne.read_bem_solution,
        f"the template BEM solution for {conductivity} S/m",
    )


def _eeg_positions_mri(info, picks):
    """EEG positions (m) in MRI coordinates; errors for missing positions."""
    pos = np.array([info["chs"][p]["loc"][:3] for p in picks])
    bad = [
        info["ch_names"][p]
        for p, rr in zip(picks, pos, strict=True)
        if not np.isfinite(rr).all() or np.allclose(rr, 0)
    ]
    if bad:
        raise ValueError(
            f"Channel(s) {bad} have no position. Set a montage first, e.g. "
            "info.set_montage(mne_deepinverse.datasets.make_template_montage())"
            " or inst.set_montage(...) with your digitisation."
        )
    trans = get_template_trans()
    return mne.transforms.apply_trans(trans, pos)


def _template_scalp():
    """Read the template's scalp surface (MRI coordinates, m), with its geometry."""
    subjects_dir, subject = get_template()
    scalp = mne.read_bem_surfaces(
        subjects_dir / subject / "bem" / f"{subject}-head.fif", verbose=False
    )[0]
    return mne.surface.complete_surface_info(scalp, copy=True, verbose=False)


def _scalp_projection(info):
    """EEG picks, their projections onto the scalp (head, m), distances (mm)."""
    from mne.surface import _project_onto_surface

    picks = mne.pick_types(info, meg=False, eeg=True, exclude=())
    if len(picks) == 0:
        raise ValueError("The Info has no EEG channels.")
    pos_mri = _eeg_positions_mri(info, picks)
    on_scalp = _project_onto_surface(pos_mri, _template_scalp(), project_rrs=True)[2]
    mri_head = mne.transforms.invert_transform(get_template_trans())
    moved = np.linalg.norm(on_scalp - pos_mri, axis=1) * 1e3
    return picks, mne.transforms.apply_trans(mri_head, on_scalp), moved


def _check_distances(names, dist, max_distance, max_median):
    """Raise if electrodes are too far from the template's scalp to be meant for it."""
    far = dist > max_distance
    median = float(np.median(dist))
    if far.any() or median > max_median:
        what = (
            f"Channel(s) {[n for n, f in zip(names, far, strict=True) if f]} are "
            f"more than {max_distance:g} mm from the template's scalp (distances "
            f"{np.round(dist[far], 1)} mm)" if far.any() else
            f"The EEG electrodes are {median:.1f} mm from the template's scalp "
            f"(median; more than {max_distance:g} mm: none), more than the "
            f"{max_median:g} mm of a cap on this head"
        )
        raise ValueError(
            f"{what}. These positions cannot be meant for the template head: "
            "they must be in m, in head coordinates defined by the nasion and "
            "preauricular points, as MNE's standard montages (e.g. "
            "mne.channels.make_standard_montage('easycap-M1'); spherical_* "
            "montages are not head shapes) or your own digitisation aligned "
            "to fsaverage (e.g. with mne.coreg)."
        )


def check_scalp_positions(info, max_distance=MAX_SCALP_DISTANCE_MM,
                          max_median=MAX_MEDIAN_SCALP_DISTANCE_MM):
    """Check that the EEG electrodes can be meant for the template's scalp.

    Standard caps sit a few mm off the template's scalp (up to ~29 mm at the
    forehead and face, where caps and heads differ most);
    :func:`make_template_forward` moves them onto it
    (:func:`project_to_template_scalp`). Positions farther away cannot be
    meant for this head (wrong unit or coordinate frame, a spherical layout).

    Parameters
    ----------
    info : instance of Info
        Measurement info with EEG positions in head coordinates.
    max_distance : float
        Largest allowed distance (mm) between an electrode and the scalp.
    max_median : float
        Largest allowed median distance (mm) over the electrodes.

    Returns
    -------
    distances : array, shape (n_eeg,)
        Distance (mm) of each EEG electrode to the template's scalp.
    """
    picks, _, dist = _scalp_projection(info)
    _check_distances([info["ch_names"][p] for p in picks], dist, max_distance,
                     max_median)
    return dist


@verbose
def project_to_template_scalp(info, *, verbose=None):
    """Move EEG electrodes onto the template's scalp.

    Each electrode goes to the nearest point of the template's scalp surface
    (MNE's fsaverage head), that is along the surface normal there; how far
    each one moved is logged. This is what :func:`make_template_forward`
    does before computing a forward, so that MNE's standard montages (which
    sit 2-29 mm off this scalp, e.g. biosemi64's Fp1, Fpz, Fp2 and AFz at
    20-23 mm) work on the template. Positions that cannot be meant for this
    head raise an error (:func:`check_scalp_positions`).

    Parameters
    ----------
    info : instance of Info
        Measurement info with EEG positions in head coordinates; it is not
        modified.
    %(verbose)s

    Returns
    -------
    montage : instance of DigMontage
        The EEG electrodes on the scalp (head coordinates) with the
        fiducials of ``info``; apply it with ``inst.set_montage(montage)``.
    distances : array, shape (n_eeg,)
        How far (mm) each EEG electrode moved.
    """
    _validate_type(info, mne.Info, "info")
    picks, on_scalp, moved = _scalp_projection(info)
    names = [info["ch_names"][p] for p in picks]
    _check_distances(names, moved, MAX_SCALP_DISTANCE_MM, MAX_MEDIAN_SCALP_DISTANCE_MM)
    order = [i for i in np.argsort(moved)[::-1] if moved[i] > 10]
    far = ", ".join(f"{names[i]} {moved[i]:.1f}" for i in order[:8])
    if len(order) > 8:
        far += f" and {len(order) - 8} more"
    logger.info(
        f"    Projected {len(names)} EEG electrodes onto the template's scalp: "
        f"moved {np.median(moved):.1f} mm (median), {moved.max():.1f} mm (max)"
        + (f"; more than 10 mm: {far} mm" if far else "")
    )
    montage = info.get_montage()
    fid = {} if montage is None else {
        key: montage.get_positions()[key] for key in ("nasion", "lpa", "rpa")}
    montage = mne.channels.make_dig_montage(
        ch_pos=dict(zip(names, on_scalp, strict=True)), coord_frame="head", **fid
    )
    return montage, moved


def _forward_key(info, spacing, conductivity, route=""):
    picks = mne.pick_types(info, meg=False, eeg=True, exclude=())
    h = hashlib.sha256()
    for p in picks:
        ch = info["chs"][p]
        h.update(ch["ch_name"].encode())
        h.update(np.round(ch["loc"][:3], 7).tobytes())
    meg = mne.pick_types(info, meg=True, exclude=())
    for p in meg:  # (EEG-only keys stay as they were)
        ch = info["chs"][p]
        h.update(f"{ch['ch_name']}{int(ch['coil_type'])}".encode())
        h.update(np.round(ch["loc"], 7).tobytes())
    if len(meg):
        h.update(np.round(info["dev_head_t"]["trans"], 7).tobytes())
    # electrodes are projected onto the scalp before the forward is computed
    h.update(f"{spacing}{conductivity}scalp-projected{route}".encode())
    return h.hexdigest()[:16]


def _forward_info(info, montage):
    """Return ``info``'s EEG and MEG channels, all good, electrodes on the scalp."""
    picks = mne.pick_types(info, meg=True, eeg=True, exclude=())
    info_sel = mne.pick_info(info, picks)
    with info_sel._unlock():
        info_sel["bads"] = []
        info_sel["projs"] = []
        info_sel["comps"] = []
    if montage is not None:
        info_sel.set_montage(montage)
    return info_sel


def _template_forward_bem(info, spacing, conductivity):
    """MNE's BEM forward (free orientation, not cached) of ``info`` on the template.

    The reference the shipped EEG lead field is checked against.
    """
    n_eeg = len(mne.pick_types(info, meg=False, eeg=True, exclude=()))
    montage = project_to_template_scalp(info, verbose=False)[0] if n_eeg else None
    return _bem_forward(_forward_info(info, montage), spacing, conductivity)


def _bem_forward(info_sel, spacing, conductivity):
    n_meg = len(mne.pick_types(info_sel, meg=True, exclude=()))
    return mne.make_forward_solution(
        info_sel, get_template_trans(), setup_template_source_space(spacing),
        make_template_bem(conductivity), meg=bool(n_meg),
        eeg=len(info_sel["ch_names"]) > n_meg, mindist=0.0, verbose=False,
    )


@verbose
def make_template_forward(
    info,
    spacing="ico4",
    conductivity=None,
    *,
    fixed=True,
    verbose=None,
):
    """Make (or read from the cache) an EEG/MEG forward model on the template.

    Parameters
    ----------
    info : instance of Info
        Measurement info with EEG positions in head coordinates (as set by a
        standard montage or a digitisation aligned to fsaverage) and/or MEG
        sensors with a device-to-head transform that places the template
        head in the helmet (:func:`make_template_meg_info`); its EEG and MEG
        channels are used, bad ones included. The electrodes are moved onto
        the template's scalp first (:func:`project_to_template_scalp`; the
        forward's info holds the moved positions, ``info`` is not modified).
    spacing : "ico4" | "oct6"
        Cortical source space (5124 or 8196 sources).
    conductivity : tuple of float | None
        Brain, skull and scalp conductivities in S/m (a three-layer BEM), or
        the brain's alone for MEG (a one-layer BEM, the inner skull). None
        (default) chooses as MNE recommends: :data:`DEFAULT_CONDUCTIVITY` with
        EEG channels, ``(0.3,)`` for MEG alone.
    fixed : bool
        If True, return a fixed-orientation forward (sources normal to the
        cortex), else the free-orientation one.
    %(verbose)s

    Returns
    -------
    fwd : instance of Forward
        The forward solution. It is cached under ``MNE_DATA`` by channel
        positions, spacing and conductivities; the first call returns it as
        read back from the cache file (FIF stores gains in float32), so a
        cold and a warm cache give identical forwards.

    See Also
    --------
    read_pretrained_forward
    mne.make_forward_solution

    Notes
    -----
    First use is fast on an empty cache (about 2 s for a new EEG cap, 10 s
    for a new MEG head position on two cores; ``python
    benchmarks/bench_apply.py --first-use``):

    - EEG alone with the default conductivities and ``"ico4"``: the gains are
      interpolated from a lead field shipped with the package (the gains of
      every source at every scalp vertex of the template's BEM), exactly as
      MNE interpolates its BEM's scalp potentials under each electrode, so no
      BEM solution is needed. Every source's gains equal MNE's own forward to
      a relative error below 1e-3 (the lead field is stored as a truncated
      SVD; ``tools/make_eeg_leadfield.py`` makes and checks it).
    - MEG alone: a one-layer BEM (about 5 s to solve, then cached).
    - EEG with MEG, other conductivities and ``"oct6"``: MNE's three-layer
      BEM (about a minute, once).
    """
    _validate_type(info, mne.Info, "info")
    _check_spacing(spacing)
    _validate_type(fixed, bool, "fixed")
    n_eeg = len(mne.pick_types(info, meg=False, eeg=True, exclude=()))
    meg = mne.pick_types(info, meg=True, exclude=())
    if n_eeg == 0 and len(meg) == 0:
        raise ValueError(
            f"The info has no EEG or MEG channels (it has "
            f"{sorted(set(info.get_channel_types()))}); a forward needs sensors.")
    if conductivity is None:
        conductivity = DEFAULT_CONDUCTIVITY if n_eeg else MEG_CONDUCTIVITY
    conductivity = _check_conductivity(conductivity, eeg=bool(n_eeg))
    montage = project_to_template_scalp(info)[0] if n_eeg else None
    if len(meg):
        _check_meg_in_helmet(info, meg)
    # EEG alone on the default head: interpolated from the shipped scalp lead
    # field, as MNE interpolates its BEM's scalp potentials (no BEM solution)
    leadfield = (shipped_leadfield(spacing, conductivity)
                 if n_eeg and not len(meg) else None)
    key = _forward_key(info, spacing, conductivity,
                       leadfield["tag"] if leadfield is not None else "")

    def compute():
        info_sel = _forward_info(info, montage)
        if leadfield is not None:
            return leadfield_forward(info_sel, get_template_trans(),
                                     setup_template_source_space(spacing), leadfield)
        return _bem_forward(info_sel, spacing, conductivity)

    what = " + ".join(f"{n} {kind}" for n, kind in ((n_eeg, "EEG"), (len(meg), "MEG"))
                      if n)
    fwd = _cached(
        get_cache_dir() / f"template-{spacing}-{key}-fwd.fif",
        compute,
        mne.write_forward_solution,
        mne.read_forward_solution,
        f"the {spacing} template forward for {what} channels",
    )
    if fixed:
        fwd = mne.convert_forward_solution(
            fwd, surf_ori=True, force_fixed=True, use_cps=True, verbose=False
        )
    return fwd
