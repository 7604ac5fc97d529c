r"""
.. _ex-apply-convdip:

=====================================================
Apply the pretrained ConvDip and compare with eLORETA
=====================================================

Simulate an evoked response with two source patches on the template head
model, invert it with the pretrained ConvDip (onnxruntime, no training) and
with MNE's eLORETA, and compare where each puts its maxima.
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
from mne_deepinverse.datasets import get_template, read_pretrained_forward
from mne_deepinverse.metrics import find_maxima
from mne_deepinverse.simulation import simulate_patch_evoked

mne.set_log_level("WARNING")

# %%
# The forward model the pretrained ConvDip was trained on: 31 channels of the
# 10-20 system on the template's ico4 source space (5124 sources).
fwd = read_pretrained_forward("convdip")
fwd_free = read_pretrained_forward("convdip", fixed=False)  # for eLORETA
pos = fwd["source_rr"]

evoked, stc_true, epochs = simulate_patch_evoked(
    fwd, n_patches=2, extent=(2, 3), snr_db=10.0, n_trials=20,
    return_epochs=True, random_state=3,
)
evoked.plot_joint(title="Simulated evoked (two patches)")

# %%
# Invert with ConvDip and with eLORETA (noise covariance from the baseline).
stc_deep = apply_deep_inverse(evoked, fwd, model="convdip")
noise_cov = mne.compute_covariance(epochs, tmax=0.0, method="shrunk")
stc_elor = apply_baseline(evoked, fwd_free, "eLORETA", noise_cov=noise_cov)

t_peak = np.argmax(np.abs(stc_true.data).max(axis=0))
truth = stc_true.data[:, t_peak]
true_idx = find_maxima(truth, pos)
for name, stc in (("ConvDip", stc_deep), ("eLORETA", stc_elor)):
    est_idx = find_maxima(stc.data[:, t_peak], pos)
    d = np.linalg.norm(pos[true_idx][:, None] - pos[est_idx][None], axis=-1) * 1e3
    print(f"{name}: {len(est_idx)} maxima; nearest to each true patch: "
          f"{np.round(d.min(axis=1), 1)} mm")

# %%
# Maps at the peak with MNE's own plotting (:meth:`mne.SourceEstimate.plot`,
# matplotlib backend, headless): the lateral view of the hemisphere holding
# the strongest true patch, each map thresholded at 30-100 % of its maximum.
subjects_dir, subject = get_template()
n_lh = len(stc_true.vertices[0])
hemi = "lh" if np.argmax(np.abs(truth)) < n_lh else "rh"
t_at = stc_true.times[t_peak]
for name, stc in (("truth", stc_true), ("ConvDip", stc_deep), ("eLORETA", stc_elor)):
    peak = abs(stc.copy().crop(t_at, t_at))
    top = peak.data.max()
    fig = peak.plot(subject=subject, subjects_dir=subjects_dir, hemi=hemi,
                    views="lat", surface="inflated", backend="matplotlib",
                    colorbar=False, time_label=None, size=(400, 300),
                    clim=dict(kind="value", lims=[0.3 * top, 0.6 * top, top]))
    fig.suptitle(f"{name}, {hemi}", fontsize=10)
plt.show()
