r"""
.. _ex-onnx-speed:

============================================
ONNX models and inference speed vs eLORETA
============================================

A trained model is one ONNX file. Its graph contains the whole inference
path (average reference, input normalisation, the network and the forward
projection the amplitude fit needs), and its metadata carries the model card,
so onnxruntime alone can apply it: no PyTorch, not even mne-deepinverse.

This example opens the pretrained ConvDip with plain onnxruntime, checks it
against :func:`~mne_deepinverse.apply_deep_inverse`, exports a copy with
:meth:`~mne_deepinverse.DeepInverse.save`, and times inference on a
1000-sample evoked response against MNE's path for the same data
(:func:`mne.minimum_norm.make_inverse_operator` + eLORETA
:func:`mne.minimum_norm.apply_inverse`).
"""
# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.

# %%
import json
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import mne
import numpy as np
import onnxruntime as ort
from mne.minimum_norm import (
    apply_inverse,
    make_inverse_operator,
    prepare_inverse_operator,
)

from mne_deepinverse import apply_deep_inverse, read_deep_inverse
from mne_deepinverse.datasets import fetch_pretrained_file, read_pretrained_forward
from mne_deepinverse.simulation import simulate_patch_evoked

mne.set_log_level("WARNING")

# %%
# The model file and its card
# ---------------------------
# :func:`~mne_deepinverse.datasets.fetch_pretrained_file` returns the shipped
# file after checking its sha256 hash.
fname = fetch_pretrained_file("convdip.onnx")
sess = ort.InferenceSession(str(fname), providers=["CPUExecutionProvider"])
meta = sess.get_modelmeta().custom_metadata_map
card = json.loads(meta["mne_deepinverse_model_card"])
print(f"{fname.name}: {fname.stat().st_size / 1e6:.1f} MB, backend "
      f"{card['backend']!r}, {len(card['ch_names'])} channels, "
      f"{card['n_sources']} sources")
for node in sess.get_inputs():
    print("input ", node.name, node.shape)
for node in sess.get_outputs():
    print("output", node.name, node.shape)

# %%
# Inference with onnxruntime only
# -------------------------------
# The graph takes EEG in V, shape ``(n_times, n_channels)`` in the card's
# channel order, and returns the average-referenced EEG, the source-map shapes
# (arbitrary scale) and their forward projections. The amplitude of each map
# is the least-squares fit of its projection to the data (Brent's method in
# :func:`~mne_deepinverse.scaling.rescale_amplitudes` finds the same scale),
# so a complete inverse is a dozen lines of numpy:
fwd = read_pretrained_forward("convdip")
evoked, stc_true, epochs = simulate_patch_evoked(
    fwd, n_patches=2, snr_db=10.0, n_trials=20, tmin=-0.5, tmax=9.49,
    return_epochs=True, random_state=0,
)
print(f"{len(evoked.times)} time samples")


def onnx_inverse(session, data):
    """Source maps (Am), shape (n_sources, n_times), from EEG (n_ch, n_times)."""
    x_ref, shapes, proj = session.run(None, {"eeg": data.T.astype(np.float32)})
    scale = (proj * x_ref).sum(axis=1) / np.maximum((proj * proj).sum(axis=1),
                                                     1e-30)
    return (shapes * scale[:, None]).T


data = evoked.get_data(picks=card["ch_names"])
maps_ort = onnx_inverse(sess, data)
stc = apply_deep_inverse(evoked, fwd, model="convdip")
err = np.abs(maps_ort - stc.data).max() / np.abs(stc.data).max()
print(f"onnxruntime alone vs apply_deep_inverse: max relative difference {err:.1e}")

# %%
# Export
# ------
# :func:`~mne_deepinverse.read_deep_inverse` gives a fitted
# :class:`~mne_deepinverse.DeepInverse`; :meth:`~mne_deepinverse.DeepInverse.save`
# writes the same single file (a model you trained yourself is saved the same
# way, see :ref:`ex-train-your-own`).
est = read_deep_inverse(fname)
out = Path(tempfile.mkdtemp()) / "convdip-copy.onnx"
est.save(out)
sess_copy = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
np.testing.assert_allclose(onnx_inverse(sess_copy, data), maps_ort, rtol=1e-5)
print(f"{out.name} written and checked")

# %%
# Inference speed
# ---------------
# Both methods get the same evoked response (1000 time samples, 31
# channels). MNE's path builds an inverse operator from the forward and a
# noise covariance and applies eLORETA, whose source weights are found
# iteratively when the operator is prepared for the data; the deep path is one
# onnxruntime call and the amplitude fit. A fourth bar shows MNE applying an
# operator prepared in advance (:func:`mne.minimum_norm.prepare_inverse_operator`),
# which is possible when many evoked responses share channels, bads and
# projectors.
fwd_free = read_pretrained_forward("convdip", fixed=False)
noise_cov = mne.compute_covariance(epochs, tmax=0.0, method="shrunk")
lambda2 = 1.0 / 9.0


def best_of(func, repeat=5):
    """Best wall-clock time of ``repeat`` calls, in ms."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return 1e3 * min(times)


def mne_eloreta():
    inv = make_inverse_operator(evoked.info, fwd_free, noise_cov, loose=0.0,
                                depth=0.8)
    return apply_inverse(evoked, inv, lambda2=lambda2, method="eLORETA")


inv = make_inverse_operator(evoked.info, fwd_free, noise_cov, loose=0.0, depth=0.8)
inv_prepared = prepare_inverse_operator(inv, evoked.nave, lambda2, "eLORETA")
timings = {
    "ConvDip\n(onnxruntime)": best_of(lambda: onnx_inverse(sess, data)),
    "ConvDip\n(apply_deep_inverse)": best_of(
        lambda: apply_deep_inverse(evoked, fwd, model=est)),
    "eLORETA\n(make operator + apply)": best_of(mne_eloreta, repeat=3),
    "eLORETA\n(prepared operator)": best_of(
        lambda: apply_inverse(evoked, inv_prepared, lambda2, "eLORETA",
                              prepared=True)),
}
for name, ms in timings.items():
    print(f"{name.replace(chr(10), ' '):<36} {ms:8.1f} ms")

fig, ax = plt.subplots(figsize=(6, 3), constrained_layout=True)
ax.barh(list(timings), list(timings.values()), color=["C0", "C0", "C1", "C1"])
ax.invert_yaxis()
ax.set(xlabel="ms for 1000 time samples (best of several runs)",
       title="Inference time, same evoked, same machine")
plt.show()

# %%
# Reading the numbers
# -------------------
# Times depend on the machine and on what else runs on it; compare bars from
# the same run only. For a new recording, MNE's whole path (operator,
# eLORETA weights, application) is the one to compare with the network's
# whole path, which needs neither an operator nor a noise covariance. Once an
# operator is prepared, a linear inverse is a single small matrix product and
# hard to beat; the network pays for its dense layers on every time sample.
