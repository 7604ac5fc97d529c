# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""What defines the benchmark's test data: sets, caps, sensors, the AGM, evokeds."""

from typing import NamedTuple

import mne
import numpy as np
from mne.utils import _validate_type, logger

from .._registry import BENCHMARK_BASELINES
from ..agm import agm_source_positions, make_agm_forward, map_to_sources
from ..datasets import (
    check_scalp_positions,
    make_template_forward,
    read_pretrained_forward,
)

BASELINES = BENCHMARK_BASELINES
METRICS = ("auc", "mle", "nmse", "f1", "found", "n_ghost", "time_ms")
SETS = ("single", "multi")
#: Metrics of the paired tests, per set (the detection F1 is a multi-source
#: metric: one source is found or not).
STAT_METRICS = dict(single=("auc", "mle", "nmse"), multi=("auc", "mle", "nmse", "f1"))
#: The 19 channels of the classic (clinical) 10-20 system. MNE's ``*_1020``
#: montages hold more positions (94 in ``standard_1020``, with old names such
#: as T3 next to T7); a benchmark on a 10-20 montage uses these 19.
CLASSIC_1020 = ("Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3", "Cz",
                "C4", "T8", "P7", "P3", "Pz", "P4", "P8", "O1", "O2")
#: Standard deviation (mm) of the AGM's electrode displacements.
_AGM_JITTER_MM = 2.0
#: The AGM's head motion in the MEG helmet: rotation (degrees), shift (mm).
_AGM_HEAD_MOTION = (3.0, 3.0)
#: The sensors a benchmark runs on.
SENSORS = ("eeg", "meg", "meg+eeg")
#: The test evokeds per time course: sampling rate, time range, and the
#: window of the sources' activity (LCMV's data covariance). The half-sine is
#: the ConvDip paper's; "erp" evokeds (one evoked-response-like waveform per
#: evoked, peak at 50-150 ms) are long enough for models that read windows.
EVOKEDS = {
    "half-sine": dict(sfreq=100.0, tmin=-0.2, tmax=0.2, active=(0.0, 0.1)),
    "erp": dict(sfreq=250.0, tmin=-0.2, tmax=0.308, active=(0.0, 0.3)),
}
#: The test data's protocol: the noise of every trial (``"brain"``: 1/f
#: activity of all sources through the test forward; ``"white"``: sensor
#: noise, white in time, the real MEG noise covariance for MEG) and the
#: baseline of the half-sine evokeds. ``"realistic"`` (the default): brain
#: and sensor noise of equal power, 200-ms baselines (MNE's noise covariance
#: from 21 samples per trial at 100 Hz); ``"convdip-paper"``: sensor noise
#: only and 100-ms baselines, as the ConvDip paper and earlier versions of
#: this benchmark.
PROTOCOLS = {
    "realistic": dict(noise=("brain", "white"), baseline=0.2, other_head=True),
    "convdip-paper": dict(noise=("white",), baseline=0.1, other_head=False),
}
#: The realistic protocol's test head is not the template: scaled by a factor
#: drawn uniformly from this range per axis (per run, from the seed), and
#: co-registered off by (degrees, mm) in random directions, as when a
#: template stands in for a subject.
_AGM_HEAD_SCALE = (0.9, 1.1)
_AGM_COREG_ERROR = (3.0, 3.0)


def _other_head(protocol, random_state):
    """Return the AGM's head scale and co-registration error (a protocol's)."""
    if not PROTOCOLS[protocol]["other_head"]:
        return dict(head_scale=None, coreg_error=(0.0, 0.0))
    scale = np.random.default_rng([random_state, 2]).uniform(*_AGM_HEAD_SCALE, 3)
    return dict(head_scale=tuple(float(x) for x in scale.round(3)),
                coreg_error=_AGM_COREG_ERROR)


def _evokeds(time_course, protocol="realistic"):
    """Return the test evokeds' timing (:data:`EVOKEDS`) under a protocol."""
    ev = dict(EVOKEDS[time_course])
    if time_course == "half-sine":
        ev["tmin"] = -PROTOCOLS[protocol]["baseline"]
    return ev
_DEFAULT_CAP = "the ConvDip paper's 31 channels"


def _sample_plan(kind, n_samples, rng):
    """Per-sample (n_patches, extent order) covering the paper's ranges."""
    if kind == "single":
        orders = np.resize(np.arange(2, 8), n_samples)
        return [(1, int(o)) for o in rng.permutation(orders)]
    counts = np.resize(np.arange(1, 11), n_samples)
    return [(int(c), (2, 7)) for c in rng.permutation(counts)]


def _simulate_test_sample(fwd_agm, pos_agm, pos_model, n_patches, extent,
                          snr_db, n_trials, rng, time_course="half-sine",
                          noise_cov=None, info=None, protocol="realistic"):
    """One test evoked (and its trials) from the AGM, with its truth.

    With MEG, the sensor noise is drawn from ``noise_cov`` and the data get
    the sensors and head position of ``info`` (where the methods believe the
    head is; the AGM's head sits elsewhere).
    """
    from ..simulation import simulate_patch_evoked

    ev = _evokeds(time_course, protocol)
    evoked, stc, epochs = simulate_patch_evoked(
        fwd_agm, n_patches=n_patches, extent=extent, snr_db=snr_db,
        n_trials=n_trials, return_epochs=True, random_state=rng,
        sfreq=ev["sfreq"], tmin=ev["tmin"], tmax=ev["tmax"], time_course=time_course,
        noise_cov=noise_cov, noise=list(PROTOCOLS[protocol]["noise"]),
    )
    if info is not None:
        for inst in (evoked, epochs):
            chs = {ch["ch_name"]: ch for ch in info["chs"]}
            with inst.info._unlock():
                inst.info["chs"] = [dict(chs[ch["ch_name"]]) for ch in inst.info["chs"]]
                inst.info["dev_head_t"] = info["dev_head_t"]
    t_peak = int(np.argmax(np.abs(stc.data).max(axis=0)))
    truth_agm = stc.data[:, t_peak]
    truth = map_to_sources(truth_agm, pos_agm, pos_model)
    centre = pos_agm[np.argmax(np.abs(truth_agm))]
    return evoked, epochs, t_peak, truth, centre


def _n_trials_for(n_channels, evokeds=EVOKEDS["half-sine"]):
    """Trials per evoked by default: 20, or more for MNE's covariances.

    MNE asks for at least ``5 (n_channels + 1)`` samples for a reliable
    covariance (and warns otherwise); with 21 samples per trial (the
    half-sine evokeds' 200-ms baseline at 100 Hz) 20 trials suffice up to 83
    channels (with the paper protocol's 11: up to 43).
    """
    need = 5 * (n_channels + 1)
    per_trial = int(round(-evokeds["tmin"] * evokeds["sfreq"])) + 1
    return max(20, -(-need // per_trial))


def _check_montage(montage):
    """Return the name MNE reads a benchmark montage by (None: the default cap).

    MNE's deprecated names (``standard_1020`` is ``colin27_1020`` since MNE
    1.13) are read by their new names, without MNE's FutureWarning.
    """
    from mne.channels import montage as mne_montage

    _validate_type(montage, (str, None), "montage")
    if montage is None:
        return None
    builtin = mne.channels.get_builtin_montages()
    deprecated = getattr(mne_montage, "_DEPRECATED_STANDARD_MONTAGES", {})
    aliases = {old: new for old, new in deprecated.items()
               if old not in builtin and new in builtin}
    if montage not in builtin and montage not in aliases:
        raise ValueError(
            "Invalid value for the 'montage' parameter. Allowed values are None "
            f"({_DEFAULT_CAP}) or the name of one of MNE's built-in montages "
            f"({', '.join(builtin)}; list them with "
            f"mne.channels.get_builtin_montages()), but got {montage!r} instead."
        )
    return aliases.get(montage, montage)


def _montage_info(montage):
    """Info (EEG, 100 Hz) of a built-in montage, checked against the template.

    A 10-20 montage (``*_1020``) keeps only the 19 channels of
    :data:`CLASSIC_1020`. Returns the info and a description of the cap.
    """
    kind = _check_montage(montage)
    dig = mne.channels.make_standard_montage(kind)
    ch_names = dig.ch_names
    note = []
    if kind != montage:
        note.append(f"MNE's {kind}")
    if kind.endswith("_1020"):
        ch_names = [ch for ch in CLASSIC_1020 if ch in dig.ch_names]
        note.append("the classic 10-20 channels")
    info = mne.create_info(ch_names, 100.0, "eeg")
    info.set_montage(dig)
    check_scalp_positions(info)  # positions that cannot be on the template
    cap = f"{montage}, {len(ch_names)} channels"
    return info, cap + (f" ({'; '.join(note)})" if note else "")


def _meg_setup(sensors, montage, sfreq, random_state, protocol="convdip-paper"):
    """Nominal info, cap, forwards (free, AGM) and sensor noise for MEG.

    The MEG is the template Neuromag VectorView in its default head position;
    ``"meg+eeg"`` adds the EEG cap (``montage``, or the ConvDip paper's 31
    channels). The AGM's head is rotated and shifted in the helmet
    (:data:`_AGM_HEAD_MOTION`), its electrodes moved; the sensor noise of
    the MEG is the real noise covariance of the MNE "sample" recording
    (:func:`~mne_deepinverse.datasets.read_meg_noise_cov`), that of the EEG
    the ad hoc 0.2 µV.
    """
    from ..datasets import (
        CONVDIP_CH_NAMES,
        make_template_info,
        make_template_meg_info,
        read_meg_noise_cov,
    )

    info = make_template_meg_info(sfreq=sfreq)
    cap = "Neuromag VectorView (102 mag + 204 grad), template head position"
    if sensors == "meg+eeg":
        eeg_info, eeg_cap = ((make_template_info(CONVDIP_CH_NAMES), _DEFAULT_CAP)
                             if montage is None else _montage_info(montage))
        raw = mne.io.RawArray(np.zeros((len(info["ch_names"]), 1)), info,
                              verbose=False)
        eeg = mne.io.RawArray(np.zeros((len(eeg_info["ch_names"]), 1)), eeg_info,
                              verbose=False)
        with eeg.info._unlock():
            eeg.info["sfreq"] = info["sfreq"]
        raw.add_channels([eeg], force_update_info=True)
        info, cap = raw.info, f"{cap} + EEG: {eeg_cap}"
    logger.info(f"Building the template and AGM forwards for {cap} (cached after "
                "the first run)")
    fwd_free = make_template_forward(info, "ico4", fixed=False)
    fwd_agm = make_agm_forward(info, electrode_jitter=_AGM_JITTER_MM,
                               head_motion=_AGM_HEAD_MOTION,
                               random_state=random_state,
                               **_other_head(protocol, random_state))
    meg_cov = read_meg_noise_cov()
    names = fwd_agm["info"]["ch_names"]
    ad_hoc = mne.make_ad_hoc_cov(mne.create_info(names, sfreq, [
        mne.channel_type(fwd_agm["info"], ii) for ii in range(len(names))]),
        verbose=False)
    data = np.diag(ad_hoc.data)
    meg = [names.index(ch) for ch in meg_cov["names"] if ch in names]
    data[np.ix_(meg, meg)] = meg_cov.data
    noise_cov = mne.Covariance(data, names, bads=[], projs=meg_cov["projs"],
                               nfree=meg_cov["nfree"], verbose=False)
    return info, cap, fwd_free, fwd_agm, noise_cov


def _same_sources(fwd_a, fwd_b):
    return all(np.array_equal(a["vertno"], b["vertno"])
               for a, b in zip(fwd_a["src"], fwd_b["src"], strict=True))


class _TestSetup(NamedTuple):
    """The forwards, cap and sensor noise of a run (see :func:`_test_setup`)."""

    cap: str
    forward: str
    fwd: mne.Forward
    fwd_free: mne.Forward
    fwd_agm: mne.Forward
    info: mne.Info | None
    noise_cov: mne.Covariance | None
    pos_agm: np.ndarray  # the AGM's sources, anatomically (on the template)


def _test_setup(montage, sensors, sfreq, random_state, fwd_pretrained,
                protocol="convdip-paper"):
    """Return the forwards of the methods and of the test data, for a cap.

    ``fwd_pretrained`` (fixed) is the inversion forward on the default cap
    (the ConvDip paper's 31 channels, EEG); on any other cap or sensors, the
    template forward made for them must have its sources. ``fwd`` (fixed) is
    what the deep models run on and the figures plot on, ``fwd_free`` MNE's
    solvers' (LCMV: ``fwd``), ``fwd_agm`` the test data's. With MEG,
    ``info`` holds the sensors and head position the methods believe in and
    ``noise_cov`` the test data's sensor noise; both are None otherwise.
    """
    if montage is None and sensors == "eeg":
        ch_names = fwd_pretrained["info"]["ch_names"]
        fwd_free = read_pretrained_forward("convdip", fixed=False)
        logger.info("Building the AGM forward (cached after the first run)")
        fwd_agm = make_agm_forward(ch_names, electrode_jitter=_AGM_JITTER_MM,
                                   random_state=random_state,
                                   **_other_head(protocol, random_state))
        forward = (f"template ico4, {_DEFAULT_CAP} "
                   "(read_pretrained_forward('convdip'))")
        return _TestSetup(_DEFAULT_CAP, forward, fwd_pretrained, fwd_free, fwd_agm,
                          None, None, _pos_agm(fwd_agm, protocol))
    info = noise_cov = None
    if sensors == "eeg":
        info_cap, cap = _montage_info(montage)
        logger.info(f"Building the template and AGM forwards for {cap} (cached "
                    "after the first run)")
        fwd_free = make_template_forward(info_cap, "ico4", fixed=False)
        fwd_agm = make_agm_forward(info_cap, electrode_jitter=_AGM_JITTER_MM,
                                   random_state=random_state,
                                   **_other_head(protocol, random_state))
    else:
        info, cap, fwd_free, fwd_agm, noise_cov = _meg_setup(
            sensors, montage, sfreq, random_state, protocol)
    fwd = mne.convert_forward_solution(
        fwd_free, surf_ori=True, force_fixed=True, use_cps=True, verbose=False
    )
    if not _same_sources(fwd, fwd_pretrained):  # the figures plot on these sources
        raise RuntimeError("The cap's template forward has other sources than "
                           "the pretrained forward; please report this.")
    forward = f"template ico4, {cap} (make_template_forward)"
    return _TestSetup(cap, forward, fwd, fwd_free, fwd_agm, info, noise_cov,
                      _pos_agm(fwd_agm, protocol))


def _pos_agm(fwd_agm, protocol):
    """Return where the AGM's sources are on the template (truths map from there)."""
    if PROTOCOLS[protocol]["other_head"]:
        return agm_source_positions()
    return fwd_agm["source_rr"]


def _noise_text(protocol, sensors):
    """Describe the test data's noise under a protocol (for the configuration)."""
    sensor = ("white sensor noise" if sensors == "eeg" else
              "sensor noise (MEG: the real noise covariance of the MNE sample "
              "recording; EEG: white)")
    if protocol == "convdip-paper":
        return f"{sensor} only (the ConvDip paper's protocol)"
    return ("background activity of every source of the test head (1/f in time, "
            f"through the AGM forward) plus {sensor}, of equal power")


def _agm_text(sensors, protocol="convdip-paper", random_state=0):
    """Describe the AGM of a run's sensors (for its configuration)."""
    other = _other_head(protocol, random_state)
    head = "" if other["head_scale"] is None else (
        "head not the template's: scaled by {} along x, y, z and co-registered "
        "off by {:g} degrees and {:g} mm, ".format(
            "/".join(f"{x:g}" for x in other["head_scale"]), *other["coreg_error"]))
    return (
        head + "oct6, conductivities (0.332, 0.0113, 0.332) S/m, " + (
            "" if sensors == "meg" else "electrodes moved by N(0, 2 mm), ")
        + "truth mapped by 5-NN averaging" + (
            "" if sensors == "eeg" else
            f"; head rotated by {_AGM_HEAD_MOTION[0]:g} degrees and shifted by "
            f"{_AGM_HEAD_MOTION[1]:g} mm in the helmet; MEG sensor noise from the "
            "real noise covariance of the MNE sample recording (3 SSP "
            "projectors)")
    )
