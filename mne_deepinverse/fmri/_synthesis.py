# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Predicted BOLD from EEG/MEG recordings, and BOLD maps as NIfTI images."""

import warnings

import mne
import numpy as np
from mne.utils import _check_option, _validate_type, logger, verbose, warn

from ._haemodynamics import _check_drive, hrf_convolve

#: The default frequency band (Hz) of the power that predicts BOLD, and its
#: coupling: alpha power falls where the cortex is more active, so that its
#: relative change, negated, is the classic EEG regressor of BOLD in
#: simultaneous EEG-fMRI (Goldman et al. 2002; Laufs et al. 2003).
DEFAULT_BAND, DEFAULT_COUPLING = (8.0, 12.0), -1.0
#: The deep route's default synthesizer.
DEFAULT_SYNTHESIZER = "boldnet"


@verbose
def synthesize_bold(inst, fwd, *, tr, method="hrf", model=None,
                    noise_cov=None, band=DEFAULT_BAND, coupling=DEFAULT_COUPLING,
                    hrf_model="glover", lambda2=1.0 / 9.0, inverse_method="dSPM",
                    resolution=0.1, on_mismatch="raise", verbose=None):
    """Predict the BOLD signal of every source from an EEG/MEG recording.

    Two routes. ``method="deep"``: a network trained on simulated
    simultaneous EEG-fMRI (``model="boldnet"``, see
    :mod:`mne_deepinverse.backends.boldnet`) reads, for every frame of
    ``tr`` seconds, the spectrogram of the EEG of the 24 s that end at the
    frame's centre (any cap, interpolated onto a fixed grid) and returns
    the BOLD signal change (%%) of the template's regions, spread over their
    sources; run with onnxruntime. It reads EEG only (MEG channels are left
    out), needs the template's source space and data at >= 100 Hz.

    ``method="hrf"``: the recording, band-passed to ``band``, is inverted
    (with ``model``: one of our models, or an MNE inverse operator), the
    band power of every source is averaged in bins of ``resolution``
    seconds, taken relative to its mean over the recording, multiplied by
    ``coupling`` and convolved with the canonical HRF
    (:func:`hrf_convolve`), and read at the centre of every frame of
    ``tr`` seconds.

    Parameters
    ----------
    inst : instance of Raw | Epochs | Evoked
        The recording. Each epoch (or the evoked) must last at least
        ``tr``; a Raw is inverted in chunks (its ``BAD_`` spans count as
        the mean power).
    fwd : instance of Forward
        The forward model (as for
        :func:`~mne_deepinverse.apply_deep_inverse`).
    tr : float
        Repetition time (s) of the predicted BOLD.
    method : "hrf" | "deep"
        The synthesis route: by the canonical HRF on the band power of
        source estimates, or by the deep synthesizer.
    model : None | str | instance of DeepInverseModel | instance of InverseOperator
        ``"hrf"``: the inverse solution, one of our models (as for
        :func:`~mne_deepinverse.apply_deep_inverse`; None: ``"convdip"``) or
        an MNE inverse operator applied with ``inverse_method`` and
        ``lambda2``. ``"deep"``: the synthesizer (None: ``"boldnet"``, or a
        file of ``tools/train_boldnet.py``).
    noise_cov : instance of Covariance | None
        Noise covariance, for models that need one (e.g. ``"anysensor"``).
    band : tuple of float
        Low and high edge (Hz) of the band whose power predicts BOLD.
    coupling : float
        Factor on the relative power change (negative for alpha, whose power
        falls with activity; positive for e.g. gamma, ``band=(30, 80)``).
    hrf_model : "glover" | "spm"
        The canonical HRF (nilearn's).
    lambda2 : float
        Regularisation of an MNE inverse operator.
    inverse_method : "MNE" | "dSPM" | "sLORETA" | "eLORETA"
        Method of an MNE inverse operator.
    resolution : float
        Bin width (s) of the band power.
    on_mismatch : "raise" | "warn" | "ignore"
        ``"deep"``: what to do when the EEG cap is outside the range the
        synthesizer was trained for.
    %(verbose)s

    Returns
    -------
    bold : instance of SourceEstimate | list of SourceEstimate
        The predicted BOLD signal change of every source (``"hrf"``: relative
        band power through the HRF, arbitrary units; ``"deep"``: %%), one
        sample per frame
        (``tmin``: the first frame's centre; ``tstep``: ``tr``); for Epochs,
        one per epoch.

    See Also
    --------
    bold_to_nifti : The maps as a 4-D NIfTI image.
    hrf_convolve : The convolution.
    """
    _check_option("method", method, ("hrf", "deep"))
    _validate_type(inst, (mne.io.BaseRaw, mne.BaseEpochs, mne.Evoked), "inst")
    _validate_type(tr, "numeric", "tr")
    if not tr > 0:
        raise ValueError(f"tr must be positive, got {tr}.")
    if method == "deep":
        if model is None:
            model = DEFAULT_SYNTHESIZER
        return _synthesize_deep(inst, fwd, tr, model, on_mismatch)
    model = "convdip" if model is None else model
    band = tuple(float(b) for b in band)
    sfreq = inst.info["sfreq"]
    if not (len(band) == 2 and 0 < band[0] < band[1] < sfreq / 2):
        raise ValueError(f"band must be (low, high) with 0 < low < high < the "
                         f"Nyquist frequency ({sfreq / 2:g} Hz), got {band}.")
    _validate_type(coupling, "numeric", "coupling")
    length = (inst.n_times if isinstance(inst, mne.io.BaseRaw)
              else len(inst.times))
    _check_drive(np.zeros((1, length)), sfreq, tr)  # at least one TR
    per_bin = max(1, int(round(resolution * sfreq)))
    kw = dict(fwd=fwd, model=model, noise_cov=noise_cov, lambda2=lambda2,
              inverse_method=inverse_method, per_bin=per_bin)
    filt = dict(l_freq=band[0], h_freq=band[1], picks="data", verbose=False)
    if isinstance(inst, mne.io.BaseRaw):
        raw = inst.copy().load_data().filter(**filt)
        power, vertices, src = _binned_power(_raw_chunks(raw, **kw), per_bin)
        # times from the first sample, as apply_inverse_raw's
        return _bold_stc(power, vertices, src, 0.0, per_bin / sfreq, tr,
                         coupling, hrf_model)
    if isinstance(inst, mne.Evoked):
        evoked = inst.copy().filter(**filt)
        power, vertices, src = _binned_power([_invert(evoked, **kw)], per_bin)
        return _bold_stc(power, vertices, src, evoked.times[0], per_bin / sfreq,
                         tr, coupling, hrf_model)
    epochs = inst.copy().load_data().filter(**filt)
    out = []
    for ii in range(len(epochs)):
        evoked = epochs[ii].average()
        power, vertices, src = _binned_power([_invert(evoked, **kw)], per_bin)
        out.append(_bold_stc(power, vertices, src, epochs.times[0],
                             per_bin / sfreq, tr, coupling, hrf_model))
    return out


def _synthesize_deep(inst, fwd, tr, model, on_mismatch):
    """Run the deep route (see :func:`synthesize_bold`)."""
    from ._deep import bind_synthesizer, load_synthesizer, synthesize_deep

    synth = load_synthesizer(model)
    names, fwd, interp = bind_synthesizer(synth, inst, fwd, on_mismatch)
    highpass = inst.info["highpass"] or 0.0
    if synth.spec.get("slow") and highpass > 0.01:
        warn(f"The data were high-passed at {highpass:g} Hz. The deep route also "
             "reads the EEG's slow potential (fluctuations of 0.02-0.5 Hz, which "
             "the BOLD signal follows in its training data); a high-pass above "
             "0.01 Hz removes part of it, and with it part of what the prediction "
             "rests on. Record or keep the data DC-coupled (or high-passed at <= "
             "0.01 Hz) where you can.")
    sfreq = inst.info["sfreq"]
    length = (inst.n_times if isinstance(inst, mne.io.BaseRaw)
              else len(inst.times))
    _check_drive(np.zeros((1, length)), sfreq, tr)  # at least one TR
    inst = inst.copy().pick(names)
    if isinstance(inst, mne.io.BaseRaw):
        inst.load_data().apply_proj(verbose=False)
        data = inst.get_data(reject_by_annotation="NaN")
        return synthesize_deep(data, sfreq, 0.0, synth, interp, fwd, tr)
    inst.apply_proj(verbose=False)
    if isinstance(inst, mne.Evoked):
        return synthesize_deep(inst.data, sfreq, inst.times[0], synth, interp,
                               fwd, tr)
    return [synthesize_deep(epoch, sfreq, inst.times[0], synth, interp, fwd, tr)
            for epoch in inst.get_data()]


def _invert(evoked, *, fwd, model, noise_cov, lambda2, inverse_method, per_bin):
    """Source estimate of an evoked (one epoch) by ``model``."""
    from mne.minimum_norm import InverseOperator, apply_inverse

    if isinstance(model, InverseOperator):
        return apply_inverse(evoked, model, lambda2, inverse_method,
                             verbose=False)
    from .._inverse import apply_deep_inverse

    return apply_deep_inverse(evoked, fwd, model, noise_cov=noise_cov)


def _raw_chunks(raw, *, fwd, model, noise_cov, lambda2, inverse_method, per_bin):
    """Source estimates of a Raw, chunk by chunk (whole bins per chunk)."""
    from mne.minimum_norm import InverseOperator, apply_inverse_raw

    buffer = per_bin * max(1, 10_000 // per_bin)
    if isinstance(model, InverseOperator):
        for start in range(0, raw.n_times, buffer):
            yield apply_inverse_raw(raw, model, lambda2, inverse_method,
                                    start=start, stop=start + buffer,
                                    verbose=False)
        return
    from .._inverse import apply_deep_inverse_raw

    yield from apply_deep_inverse_raw(raw, fwd, model, noise_cov=noise_cov,
                                      buffer_size=buffer, return_generator=True)


def _binned_power(stcs, per_bin):
    """Mean squared amplitude per source in bins of ``per_bin`` samples."""
    bins, carry, vertices, src = [], None, None, None
    for stc in stcs:
        if vertices is None:
            vertices, src = [v.copy() for v in stc.vertices], stc
        x = stc.data.astype(np.float64) ** 2
        if carry is not None:
            x = np.concatenate([carry, x], axis=1)
        n_full = x.shape[1] // per_bin * per_bin
        with warnings.catch_warnings():  # bins inside BAD_ spans: all NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            bins.append(np.nanmean(
                x[:, :n_full].reshape(len(x), -1, per_bin), axis=-1))
        carry = x[:, n_full:]
    return np.concatenate(bins, axis=1), vertices, src


def _bold_stc(power, vertices, like, tmin, dt, tr, coupling, hrf_model):
    """Make the BOLD SourceEstimate from binned power."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(power, axis=1, keepdims=True)
    rel = power / np.where(mean > 0, mean, 1.0) - 1.0
    n_bad = int(np.isnan(rel).all(axis=0).sum())
    if n_bad:
        logger.info(f"    {n_bad} bin(s) of {dt:g} s in BAD_ spans: taken as the "
                    "mean power")
    rel = np.nan_to_num(rel, nan=0.0)
    bold, frame_times = hrf_convolve(coupling * rel, 1.0 / dt, tr, tmin=tmin,
                                     hrf_model=hrf_model, resolution=dt)
    return like.__class__(bold, vertices, tmin=frame_times[0], tstep=tr,
                          subject=like.subject)


def bold_to_nifti(stc, fwd, *, voxel_size=4.0, radius=None):
    """Put BOLD maps on the template into a 4-D NIfTI image in MNI space.

    The template is fsaverage, whose surface coordinates are MNI305
    coordinates; the image's grid is that of the MNI152 templates of
    nilearn and FSL (bounding box x -90 to 90, y -126 to 90, z -72 to 108
    mm) at ``voxel_size``, so nilearn's ``plot_stat_map``, ``plot_epi``
    and its GLM read it as they read fMRI. Every voxel within ``radius``
    of a source takes the value of its nearest source; others are 0.

    Parameters
    ----------
    stc : instance of SourceEstimate | instance of VolSourceEstimate
        BOLD maps (e.g. of :func:`synthesize_bold` or
        :func:`simulate_eeg_fmri`), one sample per frame.
    fwd : instance of Forward
        The forward model of the maps (its source positions); on the
        template (fsaverage, MNI305).
    voxel_size : float
        Voxel size (mm).
    radius : float | None
        Largest distance (mm) from a voxel's centre to its nearest source;
        None: the voxel's half-diagonal plus 2 mm (the cortical ribbon
        around the sources).

    Returns
    -------
    img : instance of nibabel.Nifti1Image
        Shape (n_x, n_y, n_z, n_frames), float32, with the TR (``stc.tstep``)
        as its fourth zoom.
    """
    import nibabel as nib
    from scipy.spatial import cKDTree

    _validate_type(stc, (mne.SourceEstimate, mne.VolSourceEstimate), "stc")
    _validate_type(voxel_size, "numeric", "voxel_size")
    if not voxel_size > 0:
        raise ValueError(f"voxel_size must be positive, got {voxel_size}.")
    src = fwd["src"]
    same = len(stc.vertices) == len(src) and all(
        np.array_equal(v, s["vertno"])
        for v, s in zip(stc.vertices, src, strict=False))
    if not same or stc.subject not in (None, src._subject):
        raise ValueError("The estimate's vertices are not the forward's sources: "
                         "pass the forward the estimate was made with.")
    # source positions in MRI (surface RAS) coordinates, mm: MNI305 on fsaverage
    rr = np.concatenate([s["rr"][s["vertno"]] for s in src])
    if src[0]["coord_frame"] == mne.io.constants.FIFF.FIFFV_COORD_HEAD:
        rr = mne.transforms.apply_trans(mne.transforms.invert_transform(
            fwd["mri_head_t"]), rr)
    rr = rr * 1e3
    lo, hi = np.array([-90.0, -126.0, -72.0]), np.array([90.0, 90.0, 108.0])
    shape = np.floor((hi - lo) / voxel_size).astype(int) + 1
    affine = np.diag([voxel_size] * 3 + [1.0])
    affine[:3, 3] = lo
    ijk = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), -1)
    xyz = ijk.reshape(-1, 3) * voxel_size + lo
    if radius is None:
        radius = voxel_size * np.sqrt(3) / 2 + 2.0
    dist, nearest = cKDTree(rr).query(xyz, distance_upper_bound=radius)
    inside = np.isfinite(dist)
    data = np.zeros((len(xyz), stc.data.shape[1]), np.float32)
    data[inside] = stc.data[nearest[inside]]
    img = nib.Nifti1Image(data.reshape(*shape, -1), affine)
    img.header.set_xyzt_units("mm", "sec")
    img.header.set_zooms((voxel_size,) * 3 + (float(stc.tstep),))
    return img
