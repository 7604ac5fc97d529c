r"""
.. _ex-train-your-own:

==============================================
Train a ConvDip for your own forward model
==============================================

The pretrained ConvDip knows one montage (31 channels) on one head model. For
another montage or head model, train a :class:`~mne_deepinverse.DeepInverse`
on samples simulated from *your* forward model, save it as one ONNX file,
read it back with :func:`~mne_deepinverse.read_deep_inverse` and apply it like
:func:`mne.minimum_norm.apply_inverse`.

To keep this example under a few minutes on a laptop, the model is small in
every respect: 19 channels of the 10-20 system, a few epochs of a few
thousand fresh samples each. A useful model needs far longer training (the
shipped one saw about five million samples); everything else is the same.
"""
# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import mne
import numpy as np

from mne_deepinverse import DeepInverse, apply_deep_inverse, read_deep_inverse
from mne_deepinverse.datasets import make_template_forward, make_template_info
from mne_deepinverse.metrics import evaluate, find_maxima
from mne_deepinverse.simulation import simulate_patch_evoked, simulate_samples

mne.set_log_level("WARNING")

# %%
# The forward model
# -----------------
# Here the montage is the classic 19-channel 10-20 system on the template head
# (ico4: 5124 cortical sources). With your own data you would pass your
# ``raw.info`` (with a montage) to
# :func:`~mne_deepinverse.datasets.make_template_forward`, or build the forward
# with :func:`mne.make_forward_solution` for an individual head model. The
# forward is computed once and cached under ``MNE_DATA``.
ch_names = ["Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3", "Cz",
            "C4", "T8", "P7", "P3", "Pz", "P4", "P8", "O1", "O2"]
info = make_template_info(ch_names, sfreq=100.0)
fwd = make_template_forward(info, spacing="ico4")
print(fwd)

# %%
# Train
# -----
# ``fit()`` without data simulates fresh samples on the fly (1-5 region-grown
# patches, the ConvDip paper's settings) and keeps a simulated validation set
# for early stopping. Here the simulations are restricted to single patches
# (a simpler task that a short training can learn), with a higher learning
# rate and smaller batches than the defaults. Training needs PyTorch (the
# ``train`` extra); everything after training runs with onnxruntime alone.
est = DeepInverse(
    fwd,
    model="convdip",
    n_epochs=5,
    samples_per_epoch=6_000,
    batch_size=128,
    learning_rate=3e-3,
    n_val=500,
    simulation=dict(n_patches=1, extent=(2, 4)),
    random_state=0,
    progress=False,
)
est.fit()
training = est.card_["training"]
print(f"{training['epochs']} epochs, {training['samples_seen']} samples, "
      f"{training['train_time_s']} s")
print("validation (median over simulated samples):", est.card_["validation"])

fig, ax = plt.subplots(figsize=(4, 2.5), constrained_layout=True)
ax.plot(np.arange(1, len(training["val_loss"]) + 1), training["val_loss"], "o-")
ax.set(xlabel="epoch", ylabel="validation loss", title="Training record")

# %%
# Save and read back
# ------------------
# A model is one ONNX file; its model card (channels, sources, forward
# fingerprint, pre-processing, training record) travels inside it.
tmpdir = Path(tempfile.mkdtemp())
fname = tmpdir / "convdip-1020.onnx"
est.save(fname)
print(f"{fname.name}: {fname.stat().st_size / 1e6:.1f} MB")

est_read = read_deep_inverse(fname)
X, Y = simulate_samples(fwd, 300, n_patches=1, extent=(2, 4), random_state=1)
np.testing.assert_allclose(est_read.predict(X), est.predict(X), rtol=1e-5)
scores = evaluate(Y, est_read.predict(X), fwd["source_rr"],
                  metrics=("auc", "mle", "nmse"))
print({k: round(float(np.median(v)), 3) for k, v in scores.items()})

# %%
# Apply to an evoked response
# ---------------------------
# :func:`~mne_deepinverse.apply_deep_inverse` checks that the evoked has the
# model's channels and an average-reference projector, and that the forward
# matches the one the model was trained for; the result is an
# :class:`mne.SourceEstimate`.
evoked, stc_true = simulate_patch_evoked(fwd, n_patches=1, extent=2, snr_db=10.0,
                                   random_state=4)
stc = apply_deep_inverse(evoked, fwd, model=est_read)
print(stc)

pos = fwd["source_rr"]
t_peak = np.argmax(np.abs(stc_true.data).max(axis=0))
true_idx = find_maxima(stc_true.data[:, t_peak], pos)
est_idx = find_maxima(stc.data[:, t_peak], pos)
dist = np.linalg.norm(pos[true_idx][:, None] - pos[est_idx][None], axis=-1) * 1e3
print(f"Distance from the true patch to the nearest estimated maximum: "
      f"{dist.min():.1f} mm")

# %%
# Where the truth and the estimate are, seen from the top (sources with at
# least 20 % of the maximum):
fig, axes = plt.subplots(1, 2, figsize=(6, 3), constrained_layout=True)
for ax, (name, y) in zip(axes, (("truth", stc_true.data[:, t_peak]),
                                ("small ConvDip", stc.data[:, t_peak])), strict=True):
    y = np.abs(y) / np.abs(y).max()
    ax.scatter(pos[:, 0], pos[:, 1], c="0.9", s=2)
    on = y > 0.2
    ax.scatter(pos[on, 0], pos[on, 1], c=y[on], s=4, cmap="hot_r", vmin=0, vmax=1)
    ax.set(title=name, aspect="equal")
    ax.axis("off")
plt.show()

# %%
# What to expect
# --------------
# A few epochs already give a network that points at the right region most of
# the time, but its maps are blurrier and its errors larger than those of the
# pretrained model: compare the numbers above with the pretrained ConvDip on
# the :doc:`benchmark page <../benchmark_results>`. For a real model, use the
# defaults (up to 30 epochs of 20,000 samples, early stopping) or
# ``tools/train_pretrained.py``, which made the shipped model.
