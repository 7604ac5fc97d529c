r"""
.. _ex-meg:

=============================================================
MEG on the template: the auditory N100m, any-sensor vs dSPM
=============================================================

The MNE "sample" recording holds 306-channel Neuromag VectorView MEG next to
its EEG. Here its auditory evoked field (the N100m, about 100 ms after each
tone) is localised on the template head by the pretrained any-sensor model
(``"anysensor"``) and by dSPM, with the same forward model and the same
noise covariance.

No model was trained for this recording. ``"anysensor"`` computes its linear
estimates (MNE, dSPM and sLORETA kernels) when it is applied, for these
sensors, this head position in the helmet and this noise covariance, and
refines them with a U-Net trained over several sensor configurations
(:ref:`api`).

**Head model.** The MEG sensors are placed relative to the head by the
recording's device-to-head transform; head coordinates are defined by the
fiducials (nasion, left and right pre-auricular points), in the recording as
in the template, so the template head sits where the subject's head was,
aligned by its fiducials (not scaled, not the subject's anatomy).

The data: the full recording of ``mne.datasets.sample`` when it has been
downloaded already, else the project's 24-second excerpt
(:func:`~mne_deepinverse.datasets.find_sample_raw`). Nothing is downloaded.
"""
# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.

# %%
import matplotlib.pyplot as plt
import mne
import numpy as np

from mne_deepinverse import apply_deep_inverse
from mne_deepinverse.baselines import apply_baseline
from mne_deepinverse.datasets import (
    find_sample_raw,
    get_template,
    get_template_trans,
    make_template_forward,
)

mne.set_log_level("WARNING")

# %%
# The auditory evoked field
# -------------------------
# MEG only (the EEG of the same recording is example :ref:`ex-real-data`),
# with the recording's three empty-room SSP projectors, 1-40 Hz.
raw = mne.io.read_raw_fif(find_sample_raw(), preload=True)
events = mne.find_events(raw, stim_channel="STI 014")
raw.pick(["meg", "eog"]).filter(1.0, 40.0)
epochs = mne.Epochs(
    raw, events, event_id={"auditory/left": 1, "auditory/right": 2},
    tmin=-0.2, tmax=0.5, baseline=(None, 0),
    reject=dict(grad=6000e-13, mag=5e-12, eog=250e-6), preload=True,
).pick("meg")
print(f"{len(epochs)} auditory trials, {len(epochs.ch_names)} MEG channels, "
      f"projectors: {[p['desc'] for p in epochs.info['projs']]}")
evoked = epochs.average()
noise_cov = mne.compute_covariance(epochs, tmax=0.0, method="shrunk")
evoked.plot_joint(times=[0.1], picks="grad",
                  title="Auditory evoked field, gradiometers")

# %%
# Forward model and the two inverses
# ----------------------------------
# One template forward for the recording's sensors and head position; dSPM
# gets its free-orientation form (depth weighting), the model the fixed one.
fwd = make_template_forward(evoked.info)
fwd_free = make_template_forward(evoked.info, fixed=False)
stc_deep = apply_deep_inverse(evoked, fwd, model="anysensor", noise_cov=noise_cov)
stc_dspm = apply_baseline(evoked, fwd_free, "dSPM", noise_cov=noise_cov)

# the N100m: the largest gradiometer field power between 80 and 130 ms
gfp = evoked.copy().pick("grad").data.std(axis=0)
window = (evoked.times >= 0.08) & (evoked.times <= 0.13)
t_peak = evoked.times[window][np.argmax(gfp[window])]
print(f"N100m peak at {1e3 * t_peak:.0f} ms")

# %%
# Maps at the peak
# ----------------
# MNE's own plotting (:meth:`mne.SourceEstimate.plot`, matplotlib backend),
# lateral views of the inflated template, each map thresholded at 30-100 %
# of its own maximum.
subjects_dir, subject = get_template()
for name, stc in (("anysensor", stc_deep), ("dSPM", stc_dspm)):
    peak = abs(stc.copy().crop(t_peak, t_peak))
    top = peak.data.max()
    for hemi in ("lh", "rh"):
        fig = peak.plot(
            subject=subject, subjects_dir=subjects_dir, hemi=hemi, views="lat",
            surface="inflated", backend="matplotlib", colorbar=False,
            clim=dict(kind="value", lims=[0.3 * top, 0.6 * top, top]),
            time_label=None, size=(400, 300))
        fig.suptitle(f"{name}, {hemi}, {1e3 * t_peak:.0f} ms", fontsize=10)
plt.show()

# %%
# Where are the maxima?
# ---------------------
# The forward's source positions are in head coordinates; the template's
# head-to-MRI transform brings them to fsaverage's surface coordinates, which
# are close to MNI305 space: Heschl's gyrus (primary auditory cortex) lies at
# roughly x = ±40 to ±55, y = -15 to -30, z = +5 to +12 mm.
#
# As a reference that needs no cortex, a single equivalent current dipole is
# fitted to each temporal sensor selection at the N100m (a sphere model of
# the subject's digitised head shape, the same noise covariance): it places
# the sources in the recording's head frame, which the template shares.
HESCHL = {"lh": np.array([-47.0, -22.0, 8.0]), "rh": np.array([48.0, -20.0, 8.0])}
head_mri = get_template_trans()
sphere = mne.make_sphere_model("auto", "auto", raw.info)
dipoles = {}
for hemi, selection in (("lh", "Left-temporal"), ("rh", "Right-temporal")):
    names = mne.read_vectorview_selection(selection, info=evoked.info)
    dip = mne.fit_dipole(evoked.copy().pick(names).crop(t_peak, t_peak),
                         noise_cov, sphere)[0]
    rr = dipoles[hemi] = mne.transforms.apply_trans(head_mri, dip.pos[0]) * 1e3
    print(f"dipole {hemi}: ({rr[0]:.0f}, {rr[1]:.0f}, {rr[2]:.0f}) mm, goodness of "
          f"fit {dip.gof[0]:.0f} %, {np.linalg.norm(rr - HESCHL[hemi]):.0f} mm from "
          "Heschl's gyrus")

src_rr = mne.transforms.apply_trans(head_mri, fwd["source_rr"]) * 1e3
n_lh = len(stc_deep.vertices[0])
for name, stc in (("anysensor", stc_deep), ("dSPM", stc_dspm)):
    y = np.abs(stc.data[:, np.argmin(np.abs(stc.times - t_peak))])
    parts = []
    for hemi, sl in (("lh", slice(0, n_lh)), ("rh", slice(n_lh, None))):
        best = sl.start + np.argmax(y[sl])
        dist = np.linalg.norm(src_rr[best] - HESCHL[hemi])
        to_dip = np.linalg.norm(src_rr[best] - dipoles[hemi])
        parts.append(f"{hemi} ({src_rr[best, 0]:.0f}, {src_rr[best, 1]:.0f}, "
                     f"{src_rr[best, 2]:.0f}) mm, {y[best] / y.max():.0%} of max, "
                     f"{dist:.0f} mm from Heschl's gyrus, {to_dip:.0f} mm from the "
                     "dipole")
    print(f"{name:<10} " + "; ".join(parts))

# %%
# What can be concluded
# ---------------------
# Read with care: one subject, a template head, and on the project's
# excerpt only 14 trials. On that run:
#
# * Both methods put each hemisphere's maximum in the region of the auditory
#   cortex: the any-sensor model 15 mm (left) and 16 mm (right) from the
#   textbook position of Heschl's gyrus and 5-9 mm from the dipole fits; dSPM
#   12 and 19 mm from Heschl's gyrus and 16-19 mm from the dipoles, deeper
#   (x = ±39-41 mm, towards the insula), as minimum-norm estimates with depth
#   weighting tend to be for superficial sources.
# * No position here is the truth. The dipoles themselves lie 16-17 mm from
#   the textbook point, and the template is not the subject's head: it is
#   about 12 % larger (fiducial distances 165 vs 147 mm) and was aligned by
#   the fiducials without scaling, which moves a temporal-lobe source by
#   several mm. Agreement between a network, dSPM and dipoles shows that
#   they read the same field, not that any of them is anatomically right.
# * The same trials in EEG (:ref:`ex-real-data`) gave no clear bilateral
#   auditory picture. The N100m's generators on the supratemporal plane are
#   mostly tangential, which is what MEG sees best; the gradiometers' field
#   has a dipolar pattern over each temporal lobe that every method here
#   turns into a source in that temporal lobe.
# * ``apply_deep_inverse`` warns that the estimate explains little of the
#   data: over the epoch's samples with signal, a median of 3 % of the
#   whitened data (on its own simulations at those SNRs the model explains
#   63 %, and more than 4 % in 95 % of samples). At the N100m peak it
#   explains more (13-25 % in the real-data suite), but most of this field
#   is not what a few compact patches produce. The positions agree with
#   dSPM and the dipoles; the network's amplitudes and time courses are not
#   a complete account of these data.
# * The network's maps are more focal than dSPM's: that is its training
#   prior (compact patches) as much as the data. Its numbers on simulated
#   data with known sources are on the benchmark page
#   (``mne-deepinverse benchmark --models anysensor --sensors meg``).
# * The real-data check suite (``mne-deepinverse real-data``, its table on
#   :doc:`/real_data`) scores the same maps, and those of dSPM, sLORETA,
#   eLORETA, MxNE and a dipole fit, for both ears, the visual responses
#   (:ref:`ex-real-visual`), EEG and EEG+MEG.
