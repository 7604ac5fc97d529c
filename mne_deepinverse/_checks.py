# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Checks of the data and electrode positions a model is applied to.

They take arrays and :class:`mne.Info` (not Evoked), so that every apply path
(Evoked, Epochs, Raw, arrays) can share them. All are cheap (one pass over the
data) and run before any inference.

Thresholds (all in SI units):

- ``MAX_PTP = 1e-2`` V: the largest peak-to-peak amplitude of a channel
  accepted as EEG in V. Scalp EEG, even raw data with movement or electrode
  artefacts, stays within a few mV; 10 mV in V is 10,000 in µV, so EEG in µV
  or most EEG in mV is refused.
- ``MAX_OFFSET = 5e-4`` V: the largest median over time of a channel (after
  the average reference removes what all channels share) accepted as EEG in
  V. High-pass filtered or baseline-corrected EEG varies by tens of µV around
  zero; a channel that sits at 0.5 mV or more carries a DC offset (raw EEG
  that was not high-pass filtered), which a network would read as brain
  activity.
- ``MIN_PEAK = 1e-13`` V: data whose every value is smaller in magnitude are
  implausible as EEG in V (0.1 pV; the amplifier noise alone is ~0.1 µV) and
  give a warning.
- ``MAX_POS_DIST = 0.02`` m: the largest median distance between the
  electrodes and the positions a model was trained for. Standard 10-05, 10-20,
  BioSemi and EasyCap montages lie within 17 mm of the template's; a montage
  for another head, frame or cap is farther.
- ``COVER_SPACINGS = (2, 4)``: when a fixed-channel EEG model reads
  another cap by interpolation, how far (in the cap's electrode spacings,
  the median angle between neighbours) its electrodes may lie from the
  cap's nearest one: beyond 2 they are extrapolated (a warning); beyond 4
  the cap covers another part of the head (an error by default). On the
  sample recording's 60-channel cap (spacing 15 deg) the 31-channel models'
  TP10 and FT10 lie 31-32 deg from it.
- ``MAX_POS_SCALE = 2``: electrode spreads that differ from the model's by more
  than this factor are in another unit (mm or cm instead of m).
- MEG (``MEG_LIMITS``): magnetometers in T span less than 1e-7 T (100 nT)
  peak to peak and gradiometers in T/m less than 1e-5 T/m, even raw data
  with artefacts (MEG in fT or fT/cm is 1e15 or 1e13 times larger);
  values all below 1e-18 T or 1e-16 T/m give a warning.
- ``GRAD_MAG_RATIO = (1, 1000)``: the typical gradiometer (T/m) over
  magnetometer (T) amplitude of planar-gradiometer systems. On the Neuromag
  sample recording it is 14 for the data (1-40 Hz) and 31 for the baseline
  noise (MNE's ad hoc noise: 25); gradiometers in T/cm (100 times too small)
  or in fT/cm read as T/m give a ratio outside and a warning.
- ``FLAT_PTP = 1e-4``: a channel whose peak-to-peak amplitude is below this
  fraction of the median of its type is flat (disconnected, or a constant
  written in its place) and gives a warning.
"""

import numpy as np
from mne.utils import _on_missing, warn

MAX_PTP = 1e-2
MIN_PEAK = 1e-13
MAX_OFFSET = 5e-4
MAX_POS_DIST = 0.02
MAX_POS_SCALE = 2.0
COVER_SPACINGS = (2.0, 4.0)
#: Per MEG channel type: largest peak-to-peak, smallest plausible peak, unit,
#: name in messages, and a unit the data may be in by mistake.
MEG_LIMITS = {
    "mag": (1e-7, 1e-18, "T", "magnetometer", "fT: * 1e-15"),
    "grad": (1e-5, 1e-16, "T/m", "gradiometer", "fT/cm: * 1e-13"),
}
GRAD_MAG_RATIO = (1.0, 1000.0)
FLAT_PTP = 1e-4
# the model computes in float32: values whose squares overflow it are refused
_MAX_F32 = float(np.sqrt(np.finfo(np.float32).max))


def _check_data_array(data, name="The data", *, eeg=True, ch_types=None):
    """Return ``data`` as a real floating array after checking it.

    Parameters
    ----------
    data : array, shape (n_channels, n_times)
        EEG in V (``eeg=True``) or other real values, e.g. source maps.
    name : str
        How messages name the data ("The evoked data").
    eeg : bool
        Also check that the values are plausible as sensor data in SI units.
    ch_types : list of str | None
        The type of every row ("eeg", "mag", "grad"); None: all EEG.

    Returns
    -------
    data : array
        The data (converted to float32 if float16, otherwise as passed).
    """
    data = np.asarray(data)
    if np.iscomplexobj(data):
        raise TypeError(
            f"{name} are complex ({data.dtype}), e.g. an analytic signal; the "
            "model needs real values. Take the real part (data.real) or the "
            "envelope (np.abs(data)) yourself first."
        )
    if data.dtype == np.float16:
        warn(
            f"{name} are float16, which rounds EEG in V to a few significant "
            "bits (values below 6e-5 are subnormal); converting to float32, "
            "but the precision already lost stays lost. Keep EEG in float32 "
            "or float64."
        )
        data = data.astype(np.float32)
    if not np.issubdtype(data.dtype, np.floating):
        raise TypeError(
            f"{name} must be floating point, got dtype {data.dtype}. Convert "
            "them, e.g. data.astype(float), and scale EEG to V (e.g. * 1e-6 for "
            "integer µV)."
        )
    if data.size == 0:
        raise ValueError(
            f"{name} are empty ({data.shape[0]} channels x {data.shape[-1]} "
            "samples): there is nothing to invert. Pass data with at least one "
            "channel and time sample."
        )
    if not np.isfinite(data).all():
        raise ValueError(
            f"{name} contain NaN or inf values; clean or interpolate them first."
        )
    if not eeg:
        return data
    if ch_types is not None and set(ch_types) != {"eeg"}:
        return _check_sensor_types(data, name, ch_types)
    return _check_eeg_values(data, name)


def _check_sensor_types(data, name, ch_types):
    """Check the rows of every channel type against its plausible range."""
    ch_types = np.asarray(ch_types)
    for kind in ("eeg", *MEG_LIMITS):
        rows = data[ch_types == kind]
        if not len(rows):
            continue
        if kind == "eeg":
            _check_eeg_values(rows, f"{name} (EEG channels)")
            continue
        max_ptp, min_peak, unit, what, wrong = MEG_LIMITS[kind]
        peak = float(np.abs(rows).max())
        ptp = float(np.ptp(rows, axis=-1 if rows.shape[-1] > 1 else 0).max())
        if ptp > max_ptp:
            raise ValueError(
                f"{name} span {ptp:.3g} peak to peak on the {what}s, which cannot "
                f"be MEG in {unit} (the limit is {max_ptp:g} {unit}); they look "
                f"like another unit ({wrong}) or carry slow drifts. Read the data "
                f"with MNE, which keeps MEG in {unit}, or scale them to {unit}; "
                "high-pass filter continuous data."
            )
        if peak < min_peak:
            warn(
                f"{name} are implausibly small on the {what}s (all |x| <= "
                f"{peak:.3g} {unit}). Check their unit (the model expects "
                f"{unit}) and that the channels are not flat."
            )
    return data


def _check_eeg_values(data, name):
    """Check that values are plausible as EEG in V."""
    peak = float(np.abs(data).max())
    if peak > _MAX_F32:
        raise ValueError(
            f"{name} reach {peak:.3g}, too large for the model's float32 "
            f"arithmetic (their squares overflow above {_MAX_F32:.2g}). EEG in "
            "V stays below 1e-2: scale the data to V."
        )
    ptp = float(np.ptp(data, axis=-1 if data.shape[-1] > 1 else 0).max())
    if ptp > MAX_PTP:
        raise ValueError(
            f"{name} span {ptp:.3g} peak to peak, which cannot be EEG in V (the "
            f"limit is {MAX_PTP:g} V = 10 mV); they look like µV or mV. Scale "
            "them to V, e.g. evoked.apply_function(lambda x: x * 1e-6) for µV, "
            "or set the right unit when reading or creating the data."
        )
    if data.shape[-1] > 1:  # one sample: the peak-to-peak over channels
        offset = np.median(data, axis=-1)
        offset = np.abs(offset - offset.mean())
        if offset.max() > MAX_OFFSET:
            rows = np.flatnonzero(offset > MAX_OFFSET)
            shown = rows[:10].tolist() + (["..."] if len(rows) > 10 else [])
            raise ValueError(
                f"{name} have DC offsets: {len(rows)} channel(s) (rows {shown} "
                f"of the model's channels) sit up to {offset.max() * 1e3:.3g} mV "
                "from the others (median over the samples), where EEG varies by "
                "tens of µV around zero. A network would read the offsets as "
                "brain activity. Remove them first: high-pass filter continuous "
                "data (raw.filter(l_freq=0.1, h_freq=None)) or baseline-correct "
                "(evoked.apply_baseline(), epochs.apply_baseline())."
            )
    if peak < MIN_PEAK:
        warn(
            f"{name} are implausibly small for EEG in V (all |x| <= {peak:.3g}, "
            f"below {MIN_PEAK:g} V). Check their unit (the model expects V) and "
            "that the channels are not flat."
        )
    return data


def _eeg_positions(info, names):
    """Return the positions (n, 3) of EEG channels; raise if any has none."""
    pos = np.array([info["chs"][info["ch_names"].index(ch)]["loc"][:3]
                    for ch in names], dtype=np.float64)
    ok = np.isfinite(pos).all(axis=1) & pos.any(axis=1)
    missing = [ch for ch, good in zip(names, ok, strict=True) if not good]
    if missing:
        what = ("The data have no electrode positions (no montage)"
                if len(missing) == len(names)
                else f"{len(missing)} EEG channel(s) have no position: {missing}")
        raise ValueError(
            f"{what}, so they cannot be checked against the positions the model "
            "was trained for. Set a montage, e.g. evoked.set_montage("
            "mne_deepinverse.datasets.make_template_montage()) for the template "
            "or your digitised positions (mne.channels.read_custom_montage)."
        )
    return pos


def _check_scale(pos, ref):
    """Raise if electrodes are far more or less spread than the model's (units)."""

    def spread(p):  # median distance to the centre, > 0
        return max(np.median(np.linalg.norm(p - p.mean(axis=0), axis=1)), 1e-12)

    scale = spread(pos) / spread(ref)
    if not 1 / MAX_POS_SCALE < scale < MAX_POS_SCALE:
        unit = {3: " (in mm instead of m?)", 2: " (in cm instead of m?)"}.get(
            round(np.log10(scale)), "")
        raise ValueError(
            f"The electrode positions are {scale:.3g} times as far apart as the "
            f"model's{unit}. MNE wants positions in m: set the montage again "
            "with positions in m (mm / 1000, cm / 100), e.g. with "
            "mne.channels.make_dig_montage(ch_pos, coord_frame='head')."
        )


def _check_positions(info, names, ref, on_mismatch="raise"):
    """Compare the EEG positions in ``info`` with the model's.

    Parameters
    ----------
    info : instance of Info
        Info holding every channel of ``names`` (head coordinates).
    names : list of str
        The model's EEG channels.
    ref : array, shape (n_channels, 3)
        Their positions in the model card (``ch_pos``).
    on_mismatch : "raise" | "warn" | "ignore"
        What to do when the positions are far from the model's (missing
        positions and positions in another unit always raise).
    """
    ref = np.asarray(ref, dtype=np.float64)
    pos = _eeg_positions(info, names)
    _check_scale(pos, ref)
    dist = np.linalg.norm(pos - ref, axis=1)
    if np.median(dist) > MAX_POS_DIST:
        order = np.argsort(dist)[::-1][:5]
        far = ", ".join(f"{names[ii]} ({dist[ii] * 1e3:.0f} mm)" for ii in order)
        _on_missing(on_mismatch, (
            f"The electrode positions are {np.median(dist) * 1e3:.0f} mm (median) "
            f"from those the model was trained for (limit "
            f"{MAX_POS_DIST * 1e3:.0f} mm; farthest: {far}): the model was "
            "trained for other positions (another montage, head or coordinate "
            "frame), so its sources would be displaced. Set the montage the model "
            "was trained for (mne_deepinverse.datasets.make_template_montage for "
            "the pretrained models), train a model for your positions with "
            "DeepInverse(fwd).fit(), or pass on_mismatch='warn' to apply it "
            "anyway."
        ), name="on_mismatch")


def _check_cap_coverage(unit, names, unit_ref, on_mismatch="raise"):
    """Check that a cap's electrodes cover a model's electrodes.

    For a fixed-channel EEG model that reads another cap through
    spherical-spline interpolation onto its electrodes (``names``, directions
    ``unit_ref``; the cap's: ``unit``, on the same sphere): a model electrode
    farther from the cap's nearest electrode than ``COVER_SPACINGS[0]``
    times the cap's electrode spacing (the median angle between neighbours)
    is extrapolated, with a warning; beyond ``COVER_SPACINGS[1]`` times, the
    cap covers another part of the head (``on_mismatch``).
    """
    def angles(a, b):
        return np.degrees(np.arccos(np.clip(a @ b.T, -1.0, 1.0)))

    gap = angles(unit_ref, unit).min(axis=1)
    between = angles(unit, unit)
    np.fill_diagonal(between, np.inf)
    spacing = float(np.median(between.min(axis=1)))
    far = np.flatnonzero(gap > COVER_SPACINGS[0] * spacing)
    if not len(far):
        return
    order = far[np.argsort(gap[far])[::-1]][:6]
    what = ", ".join(f"{names[ii]} ({gap[ii]:.0f} deg)" for ii in order)
    level = on_mismatch
    if gap.max() <= COVER_SPACINGS[1] * spacing and on_mismatch == "raise":
        level = "warn"  # a few electrodes past the cap's edge: extrapolated
    _on_missing(level, (
        f"{len(far)} of the model's electrodes lie beyond the data's cap, "
        f"farther from its nearest electrode than {COVER_SPACINGS[0]:g} times "
        f"its electrode spacing ({spacing:.0f} deg): {what}. Their potentials "
        "are extrapolated by the spherical splines. Use a model for your cap "
        "(e.g. 'anycap'), or train one with DeepInverse(fwd).fit()"
        + (", or pass on_mismatch='warn' to apply it anyway." if level == "raise"
           else "; on_mismatch='ignore' silences this.")
    ), name="on_mismatch")


def _check_forward_positions(info, names, fwd_pos, on_mismatch="raise"):
    """Compare the data's EEG positions with those of the forward it is given.

    A model that reads the forward's channels (any cap, any sensor) takes the
    electrodes' places from the forward; the data's own positions, when they
    have any, must be near them (the template forward moves electrodes onto
    its scalp, a median of 2-10 mm), or the forward was made for another
    montage (e.g. a mirrored one with the same names) or another head frame.
    Data without positions are not checked: the forward defines them.

    Parameters
    ----------
    info : instance of Info
        Info holding every channel of ``names`` (head coordinates).
    names : list of str
        The EEG channels the model reads.
    fwd_pos : array, shape (n_channels, 3)
        Their positions in the forward (head coordinates, m).
    on_mismatch : "raise" | "warn" | "ignore"
        What to do when the positions are far (median > 2 cm) from the
        forward's.
    """
    pos = np.array([info["chs"][info["ch_names"].index(ch)]["loc"][:3]
                    for ch in names], dtype=np.float64)
    ok = np.isfinite(pos).all(axis=1) & pos.any(axis=1)
    if not ok.any():
        return
    dist = np.linalg.norm(pos[ok] - np.asarray(fwd_pos, np.float64)[ok], axis=1)
    if np.median(dist) > MAX_POS_DIST:
        kept = [ch for ch, good in zip(names, ok, strict=True) if good]
        order = np.argsort(dist)[::-1][:5]
        far = ", ".join(f"{kept[ii]} ({dist[ii] * 1e3:.0f} mm)" for ii in order)
        _on_missing(on_mismatch, (
            f"The data's electrode positions are {np.median(dist) * 1e3:.0f} mm "
            f"(median) from those of the forward (limit {MAX_POS_DIST * 1e3:.0f} "
            f"mm; farthest: {far}): the forward was made for other positions "
            "(another montage, e.g. a mirrored one, or another head frame), so "
            "the sources would be displaced. Make the forward from the data's "
            "info (mne_deepinverse.datasets.make_template_forward(inst.info)), "
            "or pass on_mismatch='warn' to apply it anyway."
        ), name="on_mismatch")


def _check_head_position(info, names, ref, on_mismatch="raise"):
    """Compare the MEG sensors' places relative to the head with the model's.

    Parameters
    ----------
    info : instance of Info
        Info holding every channel of ``names`` and ``dev_head_t``.
    names : list of str
        The model's MEG channels.
    ref : array, shape (n_channels, 3)
        Their positions in head coordinates in the model card.
    on_mismatch : "raise" | "warn" | "ignore"
        What to do when the head sat elsewhere in the helmet (a median shift
        of more than :data:`~mne_deepinverse._sensors.MAX_MEG_SHIFT`).
    """
    from ._sensors import MAX_MEG_SHIFT, sensor_positions_head

    picks = [info["ch_names"].index(ch) for ch in names]
    dist = np.linalg.norm(sensor_positions_head(info, picks) - np.asarray(ref),
                          axis=1)
    if np.median(dist) > MAX_MEG_SHIFT:
        _on_missing(on_mismatch, (
            f"The MEG sensors lie {np.median(dist) * 1e3:.0f} mm (median) from "
            "where they were relative to the head in the forward the model was "
            f"trained for (limit {MAX_MEG_SHIFT * 1e3:.0f} mm): the head sat "
            "elsewhere in the helmet (info['dev_head_t']) or the data come from "
            "another system, so the model's sources would be displaced. Make "
            "the forward for this recording (mne.make_forward_solution(info, "
            "trans, src, bem)) and train a model for it, or pass "
            "on_mismatch='warn' to apply it anyway."
        ), name="on_mismatch")


def _short(items, n=10):
    """At most ``n`` items of a list for a message, with how many were left."""
    items = list(items)
    return str(items) if len(items) <= n else (
        f"{items[:n]} and {len(items) - n} more")


def _ssp_differ(projs_a, projs_b, names):
    """Compare two sets of SSP projectors on ``names`` (average reference aside).

    Returns both lists without the EEG average reference, and whether the
    subspaces they project out differ (MNE's projectors, 1e-3 apart).
    """
    from mne._fiff.proj import make_projector

    avg = "Average EEG reference"
    projs_a = [p for p in projs_a if not p["desc"].startswith(avg)]
    projs_b = [p for p in projs_b if not p["desc"].startswith(avg)]
    P_a = make_projector(projs_a, names)[0]
    P_b = make_projector(projs_b, names)[0]
    return projs_a, projs_b, bool(np.abs(P_a - P_b).max() > 1e-3)


def _check_projectors(info, sensors, kind):
    """Raise if the data's SSP projectors differ from the model's.

    The whitener holds the projectors, as an inverse operator does; MNE
    refuses data with other projectors (:func:`mne.minimum_norm.apply_inverse`).
    """
    data_projs, model_projs, differ = _ssp_differ(
        info["projs"], sensors.info()["projs"], sensors.ch_names)
    if differ:
        raise ValueError(
            f"The {kind}'s SSP projectors {[p['desc'] for p in data_projs]} "
            f"differ from those the model was trained with "
            f"{[p['desc'] for p in model_projs]}: the model whitens the data "
            "with its projectors, as an inverse operator does. Give the data the "
            "model's projectors (add_proj, del_proj), or train a model with a "
            "noise covariance computed on data with these projectors "
            "(DeepInverse(fwd, noise_cov=cov))."
        )


def _check_compensation(info, want, kind):
    """Raise if the data's CTF compensation grade is not ``want``."""
    from mne._fiff.compensator import get_current_comp

    grade = int(get_current_comp(info) or 0)
    if grade != int(want):
        raise ValueError(
            f"The {kind} have CTF compensation grade {grade}, the model's "
            f"forward grade {want}: the gradiometers would read other fields. "
            f"Use {kind}.apply_gradient_compensation({want}), or train a model "
            "with the forward of the data as they are."
        )


class _WithInfo:
    """The ``.info`` holder that MNE's reference check reads."""

    def __init__(self, info):
        self.info = info


def _check_reference(info, kind="data"):
    """Raise if EEG lacks MNE's average-reference projector (MNE's own check).

    :func:`mne.minimum_norm.apply_inverse`'s check, with the remedy for the
    kind of data in the message.
    """
    from mne.minimum_norm.inverse import _check_reference as _mne_check_reference

    try:
        _mne_check_reference(_WithInfo(info))
    except ValueError as exc:
        remedy = (f" Use {kind}.set_eeg_reference('average', projection=True)."
                  if "Custom" in str(exc) else "")
        raise ValueError(str(exc).rstrip(".") + "." + remedy) from None


def _check_active(Y, what, remedy):
    """Raise if rows of the source maps ``Y`` have no active source."""
    empty = np.flatnonzero(~np.any(Y != 0, axis=1))
    if len(empty):
        rows = empty[:10].tolist() + (["..."] if len(empty) > 10 else [])
        raise ValueError(
            f"{what} has {len(empty)} sample(s) without an active source (all-zero "
            f"rows {rows}); every sample needs one, or it cannot be scored. "
            + remedy
        )


def _check_meg_scales(std, ch_types, name):
    """Warn if gradiometers and magnetometers are not in the ratio of real MEG.

    ``std`` holds a typical amplitude (standard deviation) of every channel.
    """
    ch_types = np.asarray(ch_types)
    mag, grad = std[ch_types == "mag"], std[ch_types == "grad"]
    if not (len(mag) and len(grad)):
        return
    mag, grad = np.median(mag), np.median(grad)
    if not (mag > 0 and grad > 0):
        return
    ratio = grad / mag
    low, high = GRAD_MAG_RATIO
    if not low <= ratio <= high:
        which = ("too small (in T/cm instead of T/m?)" if ratio < low
                 else "too large (in fT/cm instead of T/m?)")
        warn(
            f"{name}: the gradiometers are {ratio:.3g} times the magnetometers "
            f"(median), where real MEG in T/m and T gives {low:g}-{high:g} "
            f"(Neuromag: 10-30). The gradiometers look {which}, or the "
            "magnetometers are in another unit. Read the data with MNE, which "
            "keeps magnetometers in T and gradiometers in T/m."
        )


def _check_flat(data, names, ch_types, name):
    """Warn about channels that are flat in ``data`` (n_channels, n_times)."""
    if data.shape[-1] < 3:
        return
    ptp = np.ptp(data, axis=-1)
    ch_types = np.asarray(ch_types)
    flat = np.zeros(len(ptp), bool)
    for kind in np.unique(ch_types):
        rows = ch_types == kind
        flat[rows] = ptp[rows] <= FLAT_PTP * np.median(ptp[rows])
    if flat.any() and not flat.all():
        shown = _short([names[k] for k in np.flatnonzero(flat)])
        warn(
            f"{name} have {flat.sum()} flat channel(s) (peak to peak below "
            f"{FLAT_PTP:g} of the median of their type): {shown}. A flat "
            "channel is read as a real zero field or potential there, which "
            "distorts the estimates. Mark it bad (inst.info['bads']): models "
            "that read any cap or any sensors then leave it out; for a model "
            "of fixed channels, also interpolate it (inst.interpolate_bads())."
        )
