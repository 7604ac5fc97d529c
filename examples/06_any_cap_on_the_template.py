r"""
.. _ex-any-cap:

=========================================================
Any EEG cap on the template, no training: 64-channel data
=========================================================

Most labs record with their own cap and have no MRI of their subjects. The
pretrained any-cap model (``model="anycap"``) works for any cap of 16-256
EEG channels on MNE's fsaverage template: build the template forward for your
recording's channels and apply it, as you would apply
:func:`mne.minimum_norm.apply_inverse`. No training is needed.

Here a 64-channel BioSemi recording with two active patches is simulated with
another head model than the one used to invert it (other conductivities,
source space and displaced electrodes: no inverse crime), then localised with
the any-cap model and with MNE's eLORETA and dSPM.
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
from mne_deepinverse.datasets import get_template, make_template_forward
from mne_deepinverse.metrics import find_maxima
from mne_deepinverse.simulation import simulate_patch_evoked

mne.set_log_level("WARNING")

# %%
# The cap: MNE's ``biosemi64`` montage. Its frontal electrodes sit up to
# 25 mm off the template's scalp; ``make_template_forward`` moves them onto it
# along the surface normal and logs how far. The forward is cached under
# ``MNE_DATA``: the first call takes a few minutes, later ones a second.
montage = mne.channels.make_standard_montage("biosemi64")
info = mne.create_info(montage.ch_names, 200.0, "eeg").set_montage(montage)
fwd_free = make_template_forward(info, fixed=False, verbose=True)
fwd = mne.convert_forward_solution(fwd_free, force_fixed=True, use_cps=True)
print(fwd)

# %%
# A recording from another head: the alternative generative model (AGM) of
# the ConvDip paper (finer source space, other conductivities, electrodes
# displaced by 2 mm). Two patches, 30 trials, 10 dB SNR in the average.
fwd_agm = make_agm_forward(info, random_state=0)
evoked, stc_true, epochs = simulate_patch_evoked(
    fwd_agm, n_patches=2, extent=(2, 3), snr_db=10.0, n_trials=30,
    sfreq=200.0, return_epochs=True, random_state=7,
)
evoked.set_montage(montage)
evoked.plot_joint(title="Simulated 64-channel evoked (two patches)")

# %%
# The deep inverse: one call, the pretrained any-cap model, no training. It
# checks that the cap is within what it was trained for (channel count,
# coverage of the head) and interpolates the cap onto its grid once per
# forward.
stc_deep = apply_deep_inverse(evoked, fwd, model="anycap")

# %%
# MNE's minimum-norm solutions with the same forward (free orientations, as
# MNE recommends) and the noise covariance of the pre-stimulus baseline.
noise_cov = mne.compute_covariance(epochs, tmax=0.0, method="shrunk")
inv = make_inverse_operator(evoked.info, fwd_free, noise_cov, loose=0.2,
                            depth=0.8)
stcs = {"any-cap model": stc_deep}
for method in ("eLORETA", "dSPM"):
    stcs[method] = apply_inverse(evoked, inv, lambda2=1 / 9, method=method,
                                 pick_ori=None)

# %%
# Where do the maxima at the peak fall? For each true patch, the distance to
# the nearest estimated maximum, and the number of maxima (every maximum
# more than 30 mm from a true patch is a ghost source).
t_peak = np.argmax(np.abs(stc_true.data).max(axis=0))
pos_true = fwd_agm["source_rr"]
true_idx = find_maxima(stc_true.data[:, t_peak], pos_true)
pos = fwd["source_rr"]
for name, stc in stcs.items():
    est_idx = find_maxima(np.abs(stc.data[:, t_peak]), pos)
    d = 1e3 * np.linalg.norm(pos_true[true_idx][:, None] - pos[est_idx][None],
                             axis=-1)
    ghosts = int((d.min(axis=0) > 30).sum())
    print(f"{name:14s}: {len(est_idx):2d} maxima, {ghosts:2d} ghost(s); nearest "
          f"to each true patch: {np.round(d.min(axis=1), 1)} mm")

# %%
# The maps at the peak with MNE's own plotting
# (:meth:`mne.SourceEstimate.plot`, matplotlib backend, headless): the lateral
# view of the hemisphere holding the strongest true patch, each map at
# 30-100 % of its maximum. The truth lives on the AGM's oct6 source space.
subjects_dir, subject = get_template()
strongest = np.argmax(np.abs(stc_true.data[:, t_peak]))
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
# The benchmark measures this on hundreds of samples per cap (19-channel
# 10-20, 31 and 64 channels, 128-channel EGI): see :doc:`../benchmark_results`.
# To go further for one cap or one head, fine-tune the any-cap model:
# :doc:`../own_mri`.
