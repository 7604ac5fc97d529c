r"""
.. _ex-eeg-to-fmri:

=================================================================================
Predicted BOLD from EEG: the sample recording's auditory and visual events
=================================================================================

What would an fMRI scanner have measured while the EEG of MNE's "sample"
subject was recorded? Nobody scanned this subject at the same time, so the
question can only be answered by a model. This example predicts the BOLD
signal of every source of the template brain from the EEG, by two routes of
:func:`~mne_deepinverse.fmri.synthesize_bold`, and then analyses the
prediction as fMRI data would be analysed: a general linear model (GLM) of the
auditory and visual events.

The two routes:

1. ``method="hrf"``: the classic regressor of simultaneous EEG-fMRI. The EEG
   is inverted (here by the pretrained any-cap model, ``"anycap"``, and by an
   MNE dSPM inverse operator), the alpha-band (8-12 Hz) power of every source
   is taken relative to its mean, negated (alpha power falls where the cortex
   is active) and convolved with the canonical haemodynamic response function
   (HRF). The unit is arbitrary.
2. ``method="deep"``: a network (``"boldnet"``) trained on *simulated*
   simultaneous EEG-fMRI reads, for every fMRI frame, the EEG of the 24 s
   before it (its slow potential, second by second, on a fixed grid onto
   which any cap is interpolated) and returns the BOLD signal change, in
   percent of the recording's mean, of every source.

**Read the result with care.** There is no measured BOLD here, so nothing in
this example is validated; it shows how the tools fit together. The data are
the project's 24-second excerpt of the recording (unless the full recording
of ``mne.datasets.sample`` has been downloaded already): 11 whole frames of 2 s,
with a stimulus every 0.7 s or so, in random order.

The data: :func:`~mne_deepinverse.datasets.find_sample_raw`. Nothing is
downloaded.
"""
# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.

# %%
import matplotlib.pyplot as plt
import mne
import numpy as np
import pandas as pd
from mne.minimum_norm import make_inverse_operator
from nilearn.datasets import load_mni152_template
from nilearn.glm.first_level import make_first_level_design_matrix
from nilearn.image import index_img
from nilearn.plotting import plot_design_matrix, plot_stat_map
from scipy import stats

from mne_deepinverse.datasets import (
    find_sample_raw,
    get_template_trans,
    make_template_forward,
)
from mne_deepinverse.fmri import bold_to_nifti, synthesize_bold

mne.set_log_level("WARNING")
TR = 2.0

# %%
# The EEG and its events
# ----------------------
# The events are read from the stimulus channel first; their onsets, in
# seconds from the first sample, are what an fMRI analysis uses (as brief
# events of 0.1 s: at the time scale of the HRF the exact stimulus length
# matters little). The EEG is then resampled to 200 Hz (the deep route reads
# power up to 45 Hz), low-passed at 45 Hz and average-referenced. It is not
# high-passed: the deep route also reads the EEG's slow potential, which
# follows BOLD in its training data. The recording itself was high-passed at
# 0.1 Hz when it was made, which removes part of that slow potential: the
# deep route warns about it below.
raw = mne.io.read_raw_fif(find_sample_raw(), preload=True)
events = mne.find_events(raw, stim_channel="STI 014")
conditions = {1: "auditory", 2: "auditory", 3: "visual", 4: "visual"}
events = events[np.isin(events[:, 2], list(conditions))]
onsets = (events[:, 0] - raw.first_samp) / raw.info["sfreq"]
events_df = pd.DataFrame(dict(
    onset=onsets, duration=0.1,
    trial_type=[conditions[e] for e in events[:, 2]]))
raw.pick("eeg").resample(200.0).filter(None, 45.0)
raw.set_eeg_reference("average", projection=True)
sfreq = raw.info["sfreq"]
counts = events_df.trial_type.value_counts().sort_index()
print(f"{len(raw.ch_names)} EEG channels, {raw.n_times / sfreq:.1f} s at {sfreq:g} Hz; "
      + ", ".join(f"{n} {name}" for name, n in counts.items())
      + f" events, {np.diff(onsets).mean():.2f} s apart on average")

# %%
# Forward model and predicted BOLD
# --------------------------------
# One template forward (fsaverage5, 5124 sources) for the recording's 60
# electrodes, moved onto the template's scalp. dSPM gets the
# free-orientation forward (for its depth weighting) and an ad hoc (diagonal)
# noise covariance: with a stimulus every 0.7 s, the excerpt has no
# stimulus-free stretch to estimate the noise from, beyond a few seconds at
# its start.
fwd = make_template_forward(raw.info)
fwd_free = make_template_forward(raw.info, fixed=False)
inv = make_inverse_operator(raw.info, fwd_free, mne.make_ad_hoc_cov(raw.info),
                            loose=0.2, depth=0.8)
bold = {
    "deep (boldnet, %)": synthesize_bold(raw, fwd, tr=TR, method="deep"),
    "HRF, any-cap (a.u.)": synthesize_bold(raw, fwd, tr=TR, method="hrf",
                                            model="anycap"),
    "HRF, dSPM (a.u.)": synthesize_bold(raw, fwd, tr=TR, method="hrf",
                                         model=inv, inverse_method="dSPM"),
}
frame_times = next(iter(bold.values())).times
for name, stc in bold.items():
    assert np.allclose(stc.times, frame_times)
    print(f"{name:<20} {stc.data.shape[0]} sources x {stc.data.shape[1]} frames, "
          f"values {stc.data.min():+.3g} to {stc.data.max():+.3g}, "
          f"temporal s.d. (median over sources) {np.median(stc.data.std(1)):.3g}")

# %%
# Time courses of a few regions
# -----------------------------
# The template is fsaverage, whose surface coordinates are MNI305
# coordinates: the forward's source positions (head coordinates) go there by
# the template's head-to-MRI transform. Each region is the mean of the
# sources within 15 mm of a point: the left and right superior temporal gyri
# (around the auditory cortex) and the occipital poles (around the primary
# visual cortex). Their mean t values are printed with the GLM below.
REGIONS = {
    "left temporal": (-55.0, -22.0, 8.0),
    "right temporal": (55.0, -20.0, 8.0),
    "left occipital": (-12.0, -92.0, 2.0),
    "right occipital": (12.0, -92.0, 2.0),
}
src_rr = mne.transforms.apply_trans(get_template_trans(), fwd["source_rr"]) * 1e3
members = {}
for region, xyz in REGIONS.items():
    members[region] = np.flatnonzero(
        np.linalg.norm(src_rr - np.array(xyz), axis=1) < 15.0)
    print(f"{region:<16} {len(members[region])} sources")

colors = dict(auditory="tab:red", visual="tab:blue")
fig, axes = plt.subplots(len(bold), 1, figsize=(8, 2.4 * len(bold)), sharex=True,
                         layout="constrained")
for ax, (name, stc) in zip(axes, bold.items(), strict=True):
    for region, idx in members.items():
        color = "tab:orange" if "temporal" in region else "tab:green"
        style = "-" if region.startswith("left") else "--"
        ax.plot(stc.times, stc.data[idx].mean(0), style, color=color, marker="o",
                ms=3, label=region)
    for cond, color in colors.items():
        for onset in events_df.onset[events_df.trial_type == cond]:
            ax.axvline(onset, color=color, lw=0.6, alpha=0.4)
    ax.axhline(0, color="k", lw=0.5)
    ax.set(title=name, ylabel="BOLD")
axes[0].legend(fontsize=7, ncols=2, loc="upper left")
axes[-1].set(xlabel="Time (s); vertical lines: auditory (red) and visual (blue) "
                    "events", xlim=(0, raw.times[-1]))
plt.show()

# %%
# The GLM of the events
# ---------------------
# The design an fMRI analysis would use: one regressor per condition (the
# events convolved with Glover's canonical HRF, sampled at the frames'
# centres), a linear drift and a constant. Every source's predicted BOLD is
# fitted by ordinary least squares, and the auditory-minus-visual contrast is
# a t map.
design = make_first_level_design_matrix(
    frame_times, events_df, hrf_model="glover", drift_model="polynomial",
    drift_order=1)
fig, ax = plt.subplots(figsize=(4, 4), layout="constrained")
plot_design_matrix(design, axes=ax)
X = design.to_numpy()
contrast = (design.columns == "auditory").astype(float) - (
    design.columns == "visual")
dof = len(X) - np.linalg.matrix_rank(X)
r_av = np.corrcoef(design["auditory"], design["visual"])[0, 1]
print(f"Design: {X.shape[0]} frames x {X.shape[1]} regressors "
      f"({', '.join(design.columns)}), {dof} degrees of freedom; auditory-visual "
      f"correlation {r_av:.2f}, condition number {np.linalg.cond(X):.0f}")

XtX_inv = np.linalg.pinv(X.T @ X)
t_crit = stats.t.ppf(0.975, dof)
t_maps = {}
for name, stc in bold.items():
    beta, *_ = np.linalg.lstsq(X, stc.data.T, rcond=None)
    resid = stc.data.T - X @ beta
    sigma2 = (resid**2).sum(0) / dof
    t = (contrast @ beta) / np.sqrt(sigma2 * (contrast @ XtX_inv @ contrast))
    t_maps[name] = t
    r2 = 1 - (resid**2).sum(0) / ((stc.data.T - stc.data.T.mean(0)) ** 2).sum(0)
    region_t = ", ".join(f"{region} {t[idx].mean():+.2f}"
                         for region, idx in members.items())
    print(f"{name:<20} median R^2 {np.median(r2):.2f}; auditory-visual t: "
          f"max |t| {np.abs(t).max():.2f}, {np.mean(np.abs(t) > t_crit):.1%} of "
          f"sources with |t| > {t_crit:.2f} (p < 0.05 uncorrected); "
          f"regions {region_t}")

# %%
# How much of that is the design? OLS t values assume independent errors,
# which HRF-smoothed signals on a dozen frames are not, and two regressors that
# correlate this strongly make the contrast unstable. A null distribution
# that keeps all of this: shuffle which events are auditory and which are
# visual, refit, and count how often the shuffled design gives a larger
# maximum :math:`|t|` and as many "significant" sources.
rng = np.random.default_rng(0)
n_perm = 200
null_max = {name: np.empty(n_perm) for name in bold}
null_frac = {name: np.empty(n_perm) for name in bold}
for kk in range(n_perm):
    shuffled = events_df.assign(trial_type=rng.permutation(events_df.trial_type))
    Xp = make_first_level_design_matrix(
        frame_times, shuffled, hrf_model="glover", drift_model="polynomial",
        drift_order=1)[design.columns].to_numpy()
    cp = contrast @ np.linalg.pinv(Xp.T @ Xp) @ contrast
    for name, stc in bold.items():
        beta, *_ = np.linalg.lstsq(Xp, stc.data.T, rcond=None)
        sigma2 = ((stc.data.T - Xp @ beta) ** 2).sum(0) / dof
        tp = np.abs(contrast @ beta) / np.sqrt(sigma2 * cp)
        null_max[name][kk], null_frac[name][kk] = tp.max(), np.mean(tp > t_crit)
for name, t in t_maps.items():
    print(f"{name:<20} shuffled labels: median max |t| "
          f"{np.median(null_max[name]):.2f}, median {np.median(null_frac[name]):.1%} "
          f"of sources with |t| > {t_crit:.2f}; observed max |t| exceeded in "
          f"{np.mean(null_max[name] >= np.abs(t).max()):.0%} of {n_perm} shuffles")

# %%
# How much do the routes agree?
# -----------------------------
# Three numbers per route: the share of its BOLD variance (all sources, all
# frames) that one common time course explains (each source scaled to the
# mean over sources: 100 % would mean that the route predicts the same
# signal everywhere, up to scale); the median over sources of the temporal
# correlation with each other route; and the spatial correlation of their t
# maps.
names = list(bold)
for name, stc in bold.items():
    y = stc.data - stc.data.mean(1, keepdims=True)
    g = y.mean(0)
    fit = np.outer(y @ g / (g @ g), g)
    share = 1 - ((y - fit) ** 2).sum() / (y**2).sum()
    print(f"{name:<20} common time course: {share:.0%} of the variance")
for ii, a in enumerate(names):
    for b in names[ii + 1:]:
        ya, yb = (bold[n].data - bold[n].data.mean(1, keepdims=True) for n in (a, b))
        r_t = (ya * yb).sum(1) / np.sqrt((ya**2).sum(1) * (yb**2).sum(1))
        print(f"{a} vs {b}: temporal correlation (median over sources) "
              f"{np.median(r_t):+.2f}, spatial correlation of the t maps "
              f"{np.corrcoef(t_maps[a], t_maps[b])[0, 1]:+.2f}")

# %%
# The contrast in MNI space
# -------------------------
# :func:`~mne_deepinverse.fmri.bold_to_nifti` puts the t maps on the MNI152
# grid of nilearn, voxels within reach of a source taking its value, so that
# nilearn plots them on its MNI152 template as it plots fMRI results. Each map
# is thresholded at the uncorrected p < 0.05 of the OLS t (which the shuffles
# above show to be far too lenient for the HRF routes) or, where no source
# reaches it, at half its own maximum: the title says which.
background = load_mni152_template(resolution=2)
for name, t in t_maps.items():
    stc_t = mne.SourceEstimate(t[:, None], bold[name].vertices, tmin=0.0,
                               tstep=TR, subject=bold[name].subject)
    img = index_img(bold_to_nifti(stc_t, fwd, voxel_size=4.0), 0)
    top = np.abs(t).max()
    threshold = t_crit if top > t_crit else 0.5 * top
    plot_stat_map(img, bg_img=background, display_mode="ortho",
                  cut_coords=REGIONS["left temporal"], threshold=threshold,
                  vmax=top, title=f"auditory - visual t, {name.split(' (')[0]}, "
                  f"|t| > {threshold:.2f}")
plt.show()

# %%
# What can be concluded
# ---------------------
# Little about this brain; what the example shows is how the pieces fit and
# where they stop.
#
# * **Nothing is validated.** No fMRI was recorded with this EEG, so none of
#   the printed numbers compares a prediction with a measurement: they
#   compare predictions with a design, and with each other.
# * **The design cannot separate the conditions.** A stimulus comes every
#   0.7 s or so, in random order; at a TR of 2 s the two HRF-convolved
#   regressors are nearly the same curve (their correlation and the design's
#   condition number are printed above), and on the excerpt a dozen frames
#   leave a handful of degrees of freedom. Auditory minus visual is the
#   difference of two almost collinear regressors.
# * **The t values are not p values.** Predicted BOLD is smooth (the HRF, the
#   24-s windows), so the residuals are autocorrelated and OLS overstates
#   every t. Shuffling which events are auditory and which visual gives the
#   HRF routes maxima of :math:`|t|`, and shares of "significant" sources, as large
#   as the true labels do (the "shuffled labels" lines): their contrast maps
#   are what a random split of the events gives too. An fMRI analysis would
#   model the autocorrelation (nilearn's ``FirstLevelModel`` with
#   ``noise_model="ar1"``) and correct for multiple comparisons; neither
#   gives a dozen frames more information.
# * **The HRF route** turns relative alpha power through the canonical HRF
#   into a regressor: its unit is arbitrary, and only its time course and
#   sign are read. It depends on the inverse solution as much as on the EEG:
#   the any-cap model and dSPM agree only in part (the temporal and spatial
#   correlations above).
# * **The deep route** learned from simulations only, in which BOLD follows
#   the regions' neural input; what it reads is the EEG's slow potential (in
#   the simulations, the band powers carried next to no information on the
#   regions' BOLD). This recording was high-passed at 0.1 Hz when it was
#   made, which removes much of that slow potential (the warning above): its
#   prediction here rests on what is left. The 24-s windows of the first
#   frames reach back before the recording starts (those bins are set to the
#   recording's mean). Much of its predicted variance is one time course
#   shared by all sources (the "common time course" line), and it agrees
#   little with the HRF routes. Its accuracy on held-out simulations, where
#   it does better than the HRF routes, is on the EEG-to-fMRI page of the
#   documentation; on real EEG it is not validated.
# * **What would validate it:** simultaneous EEG-fMRI with a design the TR
#   can resolve (blocks, or events several seconds apart), such as the
#   auditory and visual oddball EEG-fMRI data on OpenNeuro (ds000116):
#   predict the BOLD from the EEG, then compare it with the measured BOLD
#   voxel by voxel (correlation over frames, on held-out runs) and compare
#   the GLM maps of the predicted and the measured signal. The full
#   "sample" recording, when available, gives the GLM many more frames, but
#   still no fMRI to compare with.
