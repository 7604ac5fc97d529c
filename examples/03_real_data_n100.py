r"""
.. _ex-real-data:

===============================================================
Real data: the auditory N100 of the MNE sample recording
===============================================================

The pretrained ConvDip was trained on simulations only. Here it meets a real
recording: the auditory evoked response of MNE's "sample" subject (EEG, 60
channels), whose N100 (about 100 ms after the tone, negative over
fronto-central electrodes, positive over the mastoids) is generated mainly in
the auditory cortices on the upper banks of both temporal lobes.

Two things separate this recording from what the network knows:

1. **Head model.** The recording belongs to the "sample" subject, the model
   to the template head (fsaverage5). Head coordinates are defined by the
   fiducials (nasion, left and right pre-auricular points) in both, so we
   only fit the head size and then move each electrode onto the template's
   scalp.
2. **Montage.** The recording has 60 electrodes named ``EEG 001`` ...
   ``EEG 060``; the model expects 31 electrodes of the 10-20 system
   (:data:`~mne_deepinverse.datasets.CONVDIP_CH_NAMES`). We interpolate the
   aligned data onto the model's electrode positions with spherical splines
   (:meth:`mne.Evoked.interpolate_to`). A model trained for the 60-channel
   montage (see :ref:`ex-train-your-own`) avoids this step.

dSPM gets exactly the same 31-channel data and the same template forward, so
the two maps differ only by the method. The any-cap model (``"anycap"``)
needs no interpolation: it reads all 60 aligned channels through their own
template forward, as does a dSPM on the 60 channels shown beside it.

The data: the full recording comes with ``mne.datasets.sample`` and is used
when it has been downloaded already; otherwise the example uses a 24-second
excerpt of it (about 15 tones per ear) shipped with the project's test data
(``../shared/data/sample_audvis_snippet_raw.fif`` next to the repository, or
the file named by the environment variable ``MNE_DEEPINVERSE_SAMPLE_RAW``).
Nothing is downloaded.
"""
# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.

# %%
import matplotlib.pyplot as plt
import mne
import numpy as np
from scipy.optimize import minimize_scalar
from scipy.spatial import cKDTree

from mne_deepinverse import apply_deep_inverse
from mne_deepinverse.baselines import apply_baseline
from mne_deepinverse.datasets import (
    CONVDIP_CH_NAMES,
    check_scalp_positions,
    find_sample_raw,
    get_template,
    get_template_trans,
    make_template_forward,
    make_template_montage,
    read_pretrained_forward,
)

mne.set_log_level("WARNING")


# %%
# Find the recording
# ------------------
fname = find_sample_raw()
print(f"Reading {fname.name}")
raw = mne.io.read_raw_fif(fname, preload=True)
raw.pick(["eeg", "eog", "stim"]).filter(1.0, 40.0, picks=["eeg", "eog"])
events = mne.find_events(raw, stim_channel="STI 014")
epochs = mne.Epochs(
    raw, events, event_id={"auditory/left": 1, "auditory/right": 2},
    tmin=-0.2, tmax=0.5, baseline=(None, 0), reject=dict(eeg=150e-6, eog=250e-6),
    preload=True,
).pick("eeg")
epochs.set_eeg_reference("average", projection=True)
print(f"{len(epochs)} auditory trials, {len(epochs.ch_names)} EEG channels")
evoked = epochs.average()
evoked.plot_joint(times=[0.1], title="Auditory evoked response (sample subject)")

# %%
# Align the sample head to the template
# -------------------------------------
# Head coordinates are defined by the fiducials (x through the pre-auricular
# points, y through the nasion, z up), for the sample subject as for the
# template, so the sample's digitisation is already in the template's frame up
# to head size and shape. We fit one scale factor (the one that brings the
# electrodes closest to the template's scalp) and then, as MNE's
# coregistration does with its "project EEG" option, move each electrode to
# the nearest point of the template's scalp.
subjects_dir, subject = get_template()
scalp = mne.read_bem_surfaces(subjects_dir / subject / "bem" / f"{subject}-head.fif")[0]
# sample the scalp's triangles densely (MRI coordinates, m)
a, b = np.meshgrid(np.linspace(0, 1, 9), np.linspace(0, 1, 9))
keep = a + b <= 1
weights = np.stack([1 - a[keep] - b[keep], a[keep], b[keep]], axis=1)
scalp_points = np.einsum("kv,tvd->tkd", weights,
                         scalp["rr"][scalp["tris"]]).reshape(-1, 3)
scalp_tree = cKDTree(scalp_points)
head_to_mri = get_template_trans()


def project_onto_template_scalp(rr_head):
    """Nearest points (head coordinates, m) of the template's scalp."""
    rr_mri = mne.transforms.apply_trans(head_to_mri, rr_head)
    nearest = scalp_points[scalp_tree.query(rr_mri)[1]]
    return mne.transforms.apply_trans(
        mne.transforms.invert_transform(head_to_mri), nearest)


pos = evoked.get_montage().get_positions()
names = list(pos["ch_pos"])
rr_sample = np.array([pos["ch_pos"][ch] for ch in names])


def scalp_distance(scale):
    """Median electrode-scalp distance (m) after scaling the head."""
    rr = rr_sample * scale
    return np.median(np.linalg.norm(project_onto_template_scalp(rr) - rr, axis=1))


scale = minimize_scalar(scalp_distance, bounds=(0.8, 1.25), method="bounded").x
rr_scaled = rr_sample * scale
rr_aligned = project_onto_template_scalp(rr_scaled)
moved = np.linalg.norm(rr_aligned - rr_scaled, axis=1) * 1e3
print(f"Head scaled by {scale:.3f}; projection onto the template's scalp moved "
      f"the electrodes by {np.median(moved):.1f} mm (median), {moved.max():.1f} "
      "mm (max)")
aligned = mne.channels.make_dig_montage(
    ch_pos=dict(zip(names, rr_aligned, strict=True)),
    nasion=pos["nasion"] * scale, lpa=pos["lpa"] * scale, rpa=pos["rpa"] * scale,
    coord_frame="head",
)
evoked_aligned = evoked.copy().set_montage(aligned)
dist = check_scalp_positions(evoked_aligned.info)
print(f"Electrode-scalp distance on the template: max {dist.max():.1f} mm")

# %%
# The aligned electrodes (black) and the model's 31 electrodes (red) on the
# template head. The model's lowest electrodes (FT9, FT10, TP9, TP10) lie
# below the sample's coverage, so the interpolation extrapolates there.
fig, axes = plt.subplots(1, 2, figsize=(7, 3.5), constrained_layout=True)
info_31 = mne.create_info(CONVDIP_CH_NAMES, 100.0, "eeg")
info_31.set_montage(make_template_montage(CONVDIP_CH_NAMES))
for ax, (i, j, label) in zip(axes, ((0, 1, "top"), (1, 2, "side")), strict=True):
    for info, color, size in ((evoked_aligned.info, "k", 8), (info_31, "r", 14)):
        rr = np.array([ch["loc"][:3] for ch in info["chs"]])
        ax.scatter(rr[:, i] * 1e3, rr[:, j] * 1e3, c=color, s=size)
    ax.set(aspect="equal", title=f"{label} view (head frame, mm)")
plt.show()

# %%
# Interpolate onto the model's electrodes
# ---------------------------------------
# ``apply_deep_inverse(evoked, fwd, model="convdip")`` does this by itself
# when the evoked lacks the model's channels but has electrode positions
# (:meth:`~mne_deepinverse.PreparedModel.read_plan`); here it is done
# explicitly, to show the interpolated data and give dSPM the same channels.
evoked_31 = evoked_aligned.interpolate_to(
    make_template_montage(CONVDIP_CH_NAMES), method="spline")
evoked_31.nave, evoked_31.comment = evoked.nave, "interpolated to 31 channels"
evoked_31.set_eeg_reference("average", projection=True)
print(evoked_31)

# %%
# ConvDip and dSPM
# ----------------
# The noise covariance comes from the baseline of the interpolated trials.
fwd = read_pretrained_forward("convdip")
fwd_free = read_pretrained_forward("convdip", fixed=False)
epochs_31 = epochs.copy().set_montage(aligned).interpolate_to(
    make_template_montage(CONVDIP_CH_NAMES), method="spline")
epochs_31.apply_baseline((None, 0)).set_eeg_reference("average", projection=True)
noise_cov_31 = mne.compute_covariance(epochs_31, tmax=0.0, method="shrunk")

stc_convdip = apply_deep_inverse(evoked_31, fwd, model="convdip")
stc_dspm = apply_baseline(evoked_31, fwd_free, "dSPM", noise_cov=noise_cov_31)

# dSPM on all 60 aligned electrodes, with their own template forward
noise_cov = mne.compute_covariance(epochs, tmax=0.0, method="shrunk")
fwd_60 = make_template_forward(evoked_aligned.info, fixed=False)
stc_dspm60 = apply_baseline(evoked_aligned, fwd_60, "dSPM", noise_cov=noise_cov)
# the any-cap model on the same 60 channels (fixed orientations, no training)
fwd_60_fixed = mne.convert_forward_solution(fwd_60, force_fixed=True, use_cps=True)
stc_anycap = apply_deep_inverse(evoked_aligned, fwd_60_fixed, model="anycap")

# %%
# Maps at the N100 peak (the largest global field power between 80 and
# 130 ms), on the inflated template, both hemispheres from the side:
gfp = evoked.copy().apply_proj().data.std(axis=0)
window = (evoked.times >= 0.08) & (evoked.times <= 0.13)
t_n100 = evoked.times[window][np.argmax(gfp[window])]
print(f"N100 peak at {1e3 * t_n100:.0f} ms")


def at_peak(stc):
    """|source estimate| at the N100 peak."""
    return np.abs(stc.data[:, np.argmin(np.abs(stc.times - t_n100))])


maps = {
    "ConvDip (31 ch)": stc_convdip,
    "dSPM (31 ch)": stc_dspm,
    "any-cap (60 ch)": stc_anycap,
    "dSPM (60 ch)": stc_dspm60,
}
n_lh = len(stc_convdip.vertices[0])
# MNE's own plotting (:meth:`mne.SourceEstimate.plot`, matplotlib backend):
# lateral views of the inflated template, each map at 30-100 % of its maximum
subjects_dir, subject = get_template()
for name, stc in maps.items():
    peak = abs(stc.copy().crop(t_n100, t_n100, include_tmax=True))
    top = peak.data.max()
    for hemi in ("lh", "rh"):
        fig = peak.plot(subject=subject, subjects_dir=subjects_dir, hemi=hemi,
                        views="lat", surface="inflated", backend="matplotlib",
                        colorbar=False, time_label=None, size=(400, 300),
                        clim=dict(kind="value", lims=[0.3 * top, 0.6 * top, top]))
        fig.suptitle(f"{name}, {hemi}, {1e3 * t_n100:.0f} ms", fontsize=10)
plt.show()

# %%
# Where are the maxima?
# ---------------------
# fsaverage's surface coordinates are close to MNI305 space, so the position
# of each hemisphere's strongest source can be read against the auditory
# cortex (Heschl's gyrus, roughly x = ±45 to ±55, y = -20, z = +5 to +10 mm).
# (the forward's source positions are in head coordinates: to the template's
# MRI, i.e. surface RAS, coordinates in mm)
src_rr = mne.transforms.apply_trans(get_template_trans(), fwd["source_rr"]) * 1e3
for name, stc in maps.items():
    y = at_peak(stc)
    parts = []
    for hemi, sl in (("left", slice(0, n_lh)), ("right", slice(n_lh, None))):
        best = np.argmax(y[sl]) + (0 if hemi == "left" else n_lh)
        parts.append(f"{hemi} ({src_rr[best, 0]:.0f}, {src_rr[best, 1]:.0f}, "
                     f"{src_rr[best, 2]:.0f}) mm, {y[best] / y.max():.0%} of max")
    print(f"{name:<16} " + "; ".join(parts))

# %%
# What can be concluded
# ---------------------
# Honestly, not much about this subject's brain, and something about the
# tools.
#
# * There is no ground truth here. Textbook N100 generators are in both
#   auditory cortices; a map that agrees with that is *plausible*, not
#   *validated*. With the 24-second excerpt (13 trials after rejection) the
#   evoked response itself is noisy.
# * On the excerpt, no method shows the textbook picture clearly in both
#   hemispheres. ConvDip has a secondary maximum in the left posterior
#   temporal lobe and puts its strongest source in the right orbitofrontal
#   cortex. dSPM has its left maximum near the left auditory cortex and the
#   insula (about (-34, -30, 13) mm) and its right one in the parietal lobe,
#   with 31 as with 60 channels. The any-cap model, reading all 60 channels
#   without interpolation, has a left maximum in the posterior superior
#   temporal cortex (about (-48, -36, 8) mm) and a right one on the dorsal
#   frontal cortex. The MEG of the same trials (:ref:`ex-meg`) localises
#   both auditory cortices much more clearly.
# * The frontal ConvDip source is an instructive failure: tangential dipoles
#   in the auditory cortices produce the N100's fronto-central negativity,
#   and a radial source under the frontal electrodes produces a similar
#   topography. A network trained on a few compact patches must pick one
#   explanation, and its sharp map hides that the data cannot decide. A focal
#   ConvDip map states its training prior as much as the data.
# * Two approximations come before either method: the head is a scaled
#   template, not the subject's anatomy, and the 31-channel data are
#   interpolated from 60 electrodes at other places. Both blur and shift
#   sources by amounts comparable to the differences between the methods.
# * The simulation benchmark (:ref:`ex-benchmark`) tells which errors each
#   method tends to make on data that follow its assumptions; it does not
#   tell which map is right for this recording.
#
# The real-data check suite (``mne-deepinverse real-data``, its table on
# :doc:`/real_data`) runs every shipped model and MNE's methods on the
# auditory and visual responses of this recording, EEG, MEG and both, and
# scores them against MEG dipole fits; :ref:`ex-real-visual` shows it on the
# visual responses.
#
# A real validation needs data with known generators (intracranial
# recordings, stimulation, phantoms), more trials, and the subject's own head
# model; with the full sample recording (``mne.datasets.sample``) this
# example uses all of its auditory trials.
