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
from mne_deepinverse.datasets import read_pretrained_forward
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
noise_cov = mne.compute_covariance(epochs, tmax=0.0)
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
# Maps at the peak on the inflated template (headless, matplotlib).
from mne_deepinverse._plotting import inflated_positions  # noqa: E402

inflated = inflated_positions(stc_true.vertices)
fig, axes = plt.subplots(1, 3, figsize=(9, 3), constrained_layout=True)
for ax, (name, y) in zip(axes, (("truth", truth),
                                ("ConvDip", stc_deep.data[:, t_peak]),
                                ("eLORETA", stc_elor.data[:, t_peak])), strict=True):
    y = np.abs(y) / np.abs(y).max()
    order = np.argsort(y)
    ax.scatter(inflated[order, 0], inflated[order, 1], c=y[order], s=3,
               cmap="hot_r", vmin=0, vmax=1)
    ax.set_title(name)
    ax.set_aspect("equal")
    ax.axis("off")
plt.show()
