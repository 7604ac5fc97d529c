r"""
.. _ex-sifnet:

===================================================================
Windows of EEG: SIFNet on neural-mass data, against ConvDip and MNE
===================================================================

Real EEG is not a few patches in white noise: the whole cortex is active,
and the background is itself brain activity. SIFNet (Sun et al., 2022) was
trained on EEG whose sources were a network of coupled Jansen-Rit neural
masses, one per cortical region, and it reads a *window* of EEG (channels x
time) instead of one time sample.

Here a spike-like discharge in one cortical region rides on the alpha
background of a neural-mass network simulated with *another* head model than
the one used to invert it (finer source space, other conductivities,
displaced electrodes, perturbed noise input of the neural masses). We
localise it with the pretrained ``sifnet``, the pretrained ``convdip`` (one
sample at a time, trained on patches) and MNE's sLORETA, and compare the
maps at the spike's peak and the time course in the true region.
"""
# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.

# %%
import matplotlib.pyplot as plt
import mne
import numpy as np
from mne.minimum_norm import apply_inverse, make_inverse_operator

from mne_deepinverse import apply_deep_inverse
from mne_deepinverse.agm import make_agm_forward
from mne_deepinverse.datasets import get_template, read_pretrained_forward
from mne_deepinverse.simulation import NeuralMassSimulator

mne.set_log_level("WARNING")

# %%
# The template forward of the pretrained models (31 channels) and the
# alternative generative model (AGM) the data come from.
fwd = read_pretrained_forward("sifnet")
fwd_free = read_pretrained_forward("sifnet", fixed=False)
fwd_agm = make_agm_forward(fwd["info"]["ch_names"], random_state=0)

# %%
# A Jansen-Rit network on a 1000-region parcellation of the AGM's cortex,
# coupled through a distance-derived connectome. Its noise input is perturbed
# (sd 1.5 times, mean 200 instead of 220 pulses/s) against the pretrained
# model's training data. In every run of the banks some regions have a raised
# excitatory gain and spike. One window of 1 s at 250 Hz with one spiking
# region at 5 dB over the background.
sim = NeuralMassSimulator(
    fwd_agm, sfreq=250.0, n_times=250, n_patches=1, extent=0, snr_db=5.0,
    n_runs=6, seconds=5.0, params=dict(p_sd=87.0, p_mean=200.0), random_state=1,
)
rng = np.random.default_rng(4)
X, Y = sim.simulate(1, rng)
truth = sim.to_sources(Y[0])  # (n_times, n_sources of the AGM)
region = int(np.abs(Y[0]).max(axis=0).argmax())

info = mne.create_info(sim.ch_names, sim.sfreq, "eeg")
info.set_montage(mne.channels.make_dig_montage(
    dict(zip(sim.ch_names, [ch["loc"][:3] for ch in fwd["info"]["chs"]],
             strict=True)), coord_frame="head"))
evoked = mne.EvokedArray(X[0].T, info, tmin=-0.5)
evoked.set_eeg_reference(projection=True)
evoked.plot(titles=dict(eeg="Neural-mass EEG: a spike on alpha background"))

# %%
# Three inverse solutions. SIFNet reads windows of 128 samples at 250 Hz
# (half-overlapping windows, averaged with Hann weights); data at other rates
# from 100 Hz up are resampled for it and its estimates back. ConvDip reads
# one sample at a time. sLORETA gets a noise covariance of the neural-mass
# background (an ad-hoc one would favour it less).
background = sim.background(40, np.random.default_rng(5))
noise_cov = mne.Covariance(np.cov(background.reshape(-1, len(sim.ch_names)).T),
                           sim.ch_names, [], evoked.info["projs"], 40 * 250)
inv = make_inverse_operator(evoked.info, fwd_free, noise_cov, loose=0.2, depth=0.8)
stcs = {
    "SIFNet": apply_deep_inverse(evoked, fwd, model="sifnet"),
    "ConvDip": apply_deep_inverse(evoked, fwd, model="convdip"),
    "sLORETA": apply_inverse(evoked, inv, lambda2=1 / 9, method="sLORETA"),
}

# %%
# At the spike's peak: how far is each map's maximum from the true region?
t_peak = int(np.abs(truth).sum(axis=1).argmax())
pos, pos_agm = fwd["source_rr"], fwd_agm["source_rr"]
true_src = np.flatnonzero(sim.labels == region)
centre = pos_agm[true_src].mean(axis=0)
for name, stc in stcs.items():
    top = np.abs(stc.data[:, t_peak]).argmax()
    print(f"{name:8s}: maximum {1e3 * np.linalg.norm(pos[top] - centre):5.1f} mm "
          "from the centre of the spiking region")

# %%
# The maps at the peak with MNE's own plotting
# (:meth:`mne.SourceEstimate.plot`, matplotlib backend, headless): the lateral
# view of the hemisphere of the spiking region, each map at 30-100 % of its
# maximum. The truth lives on the AGM's oct6 source space.
stc_true = mne.SourceEstimate(truth.T, [s["vertno"] for s in fwd_agm["src"]],
                              tmin=evoked.times[0], tstep=1 / sim.sfreq)
subjects_dir, subject = get_template()
strongest = np.argmax(np.abs(truth[t_peak]))
hemi = "lh" if strongest < len(stc_true.vertices[0]) else "rh"
for name, stc in ({"truth (AGM)": stc_true} | stcs).items():
    t_at = stc.times[t_peak]
    peak = abs(stc.copy().crop(t_at, t_at))
    top = peak.data.max()
    fig = peak.plot(subject=subject, subjects_dir=subjects_dir, hemi=hemi,
                    views="lat", surface="inflated", backend="matplotlib",
                    colorbar=False, time_label=None, size=(400, 300),
                    clim=dict(kind="value", lims=[0.3 * top, 0.6 * top, top]))
    fig.suptitle(f"{name}, {hemi}", fontsize=10)
plt.show()

# %%
# The time course in the true region: each method's mean over the template
# sources within 10 mm of the spiking region's sources, against the truth
# (each scaled to its largest magnitude), and how well each follows the true
# course (correlation). One window is one example: the benchmark page
# compares the methods on hundreds.
near = np.unique(np.concatenate([
    np.flatnonzero(np.linalg.norm(pos - p, axis=1) < 0.01) for p in pos_agm[true_src]
]))
fig, ax = plt.subplots(figsize=(7, 3), layout="constrained")
course = truth[:, true_src].mean(axis=1)
ax.plot(evoked.times, course / np.abs(course).max(), "k", lw=2, label="truth")
for name, stc in stcs.items():
    est = stc.data[near].mean(axis=0)
    ax.plot(evoked.times, est / np.abs(est).max(), label=name)
    print(f"{name:8s}: correlation with the true course "
          f"{np.corrcoef(est, course)[0, 1]:.2f}")
ax.set(xlabel="time (s)", ylabel="scaled activity",
       title="Activity in the spiking region")
ax.legend(loc="lower right", ncols=4)
plt.show()

# %%
# The comparison on hundreds of windows, with models trained on neural-mass
# and on patch data, tested on both: :doc:`../benchmark_results`.
