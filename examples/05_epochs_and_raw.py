r"""
.. _ex-epochs-raw:

===================================================
Epochs, Raw and signed time courses on the template
===================================================

Apply the pretrained ConvDip to every epoch of a simulated experiment and to
a continuous recording, exactly as :func:`mne.minimum_norm.apply_inverse_epochs`
and :func:`mne.minimum_norm.apply_inverse_raw` are used. One worker serves
Evoked, Epochs and Raw, so the same data give the same source estimate
through all three; Raw is inverted in chunks (``buffer_size``), so memory
beyond the returned estimate stays bounded however long the recording.

The source estimates live on the template (subject ``"fsaverage5"``), whose
ico4 vertex numbers are those of MNE's ``fsaverage``: with
``stc.subject = "fsaverage"`` they work with MNE's own fsaverage.
"""
# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.

# %%
import matplotlib.pyplot as plt
import mne
import numpy as np
from scipy.sparse.csgraph import connected_components

from mne_deepinverse import (
    apply_deep_inverse,
    apply_deep_inverse_epochs,
    apply_deep_inverse_raw,
)
from mne_deepinverse.datasets import read_pretrained_forward
from mne_deepinverse.simulation import simulate_patch_evoked

mne.set_log_level("WARNING")
fwd = read_pretrained_forward("convdip")

# %%
# Epochs
# ------
# Twenty simulated trials of one patch; every epoch gets its own estimate.
evoked, stc_true, epochs = simulate_patch_evoked(
    fwd, n_patches=1, extent=(2, 3), snr_db=10.0, n_trials=20,
    return_epochs=True, random_state=0,
)
stcs = apply_deep_inverse_epochs(epochs, fwd, "convdip")
stc_evoked = apply_deep_inverse(evoked, fwd, "convdip")
peak = int(np.argmax(np.abs(stc_true.data).max(axis=0)))
true_vertex = int(np.argmax(np.abs(stc_true.data[:, peak])))
pos = fwd["source_rr"]
errors = [np.linalg.norm(pos[np.argmax(np.abs(s.data[:, peak]))]
                         - pos[true_vertex]) * 1e3 for s in stcs]
print(f"{len(stcs)} epochs: peak error {np.median(errors):.1f} mm (median over "
      "single trials); on the average "
      f"{np.linalg.norm(pos[np.argmax(np.abs(stc_evoked.data[:, peak]))] - pos[true_vertex]) * 1e3:.1f} mm")  # noqa: E501

# %%
# Raw
# ---
# A continuous recording: the epochs laid end to end. It is inverted in
# chunks of 100 samples; for a model that reads one time sample, the result
# is exactly what the whole recording at once would give.
data = np.concatenate(list(epochs.get_data()), axis=1)
raw = mne.io.RawArray(data, epochs.info)
stc_raw = apply_deep_inverse_raw(raw, fwd, "convdip", buffer_size=100)
print(stc_raw)
fig, ax = plt.subplots(figsize=(7, 2.5), constrained_layout=True)
ax.plot(stc_raw.times, stc_raw.data[true_vertex] * 1e9, lw=0.8)
ax.set(xlabel="Time (s)", ylabel="Moment (nAm)",
       title="Raw: the time course at the simulated patch's centre")

# %%
# Signed time courses
# -------------------
# Two patches of opposite polarity at once. With ``amplitudes="scale"`` (one
# scale per time sample, as in the ConvDip paper) the whole map shares one
# sign; ``amplitudes="patch"`` fits every predicted patch its own signed
# amplitude through the forward model, which the residual rewards. A sign
# can only come out right where the network predicts a patch at all: here it
# finds both, but on 1-10 sources it often misses some (see the benchmark),
# and then ``"patch"`` can only lower the residual.
evoked2, stc_true2 = simulate_patch_evoked(fwd, n_patches=2, extent=3, snr_db=20.0,
                                     random_state=6)
tp = int(np.argmax(np.abs(stc_true2.data).max(axis=0)))
active = np.flatnonzero(stc_true2.data[:, tp])
n_patches, labels = connected_components(
    mne.spatial_src_adjacency(fwd["src"], verbose=False)[active][:, active]
)
signs = np.ones(len(pos))
signs[active[labels == 0]] = -1  # the first patch now points inward
Y = stc_true2.data * signs[:, None]
rng = np.random.default_rng(0)
eeg = fwd["sol"]["data"] @ Y
eeg += rng.normal(0, 0.05 * np.abs(eeg).max(), eeg.shape)
eeg -= eeg.mean(axis=0)  # average reference (the projector is active)
evoked_signed = mne.EvokedArray(eeg, evoked2.info, tmin=evoked2.times[0])
centres = [active[labels == k][np.argmax(np.abs(Y[active[labels == k], tp]))]
           for k in range(n_patches)]
print(f"{n_patches} patches, true signs at the peak: "
      f"{np.sign(Y[centres, tp]).astype(int).tolist()}")
for amplitudes in ("scale", "patch"):
    stc, res = apply_deep_inverse(evoked_signed, fwd, "convdip",
                                  amplitudes=amplitudes, return_residual=True)
    rel = np.linalg.norm(res.data[:, tp]) / np.linalg.norm(eeg[:, tp])
    # the sign of the estimate within 15 mm of each true centre
    near = [np.linalg.norm(pos - pos[c], axis=1) < 0.015 for c in centres]
    est = [int(np.sign(stc.data[m, tp].sum())) for m in near]
    print(f"amplitudes={amplitudes!r}: estimated signs {est}, residual at the "
          f"peak {rel:.2f} of the data")

# %%
# With MNE's fsaverage
# --------------------
# The estimates are ordinary :class:`mne.SourceEstimate` objects on the
# template's ico4 vertices, which are fsaverage's own vertex numbers (the
# template is fsaverage5, the first 10242 vertices of each fsaverage
# hemisphere). To use MNE's fsaverage (``mne.datasets.fetch_fsaverage``,
# a download) for plotting or morphing, relabel the subject::
#
#     stc_evoked.subject = "fsaverage"
#     stc_evoked.plot(subjects_dir=fs_dir.parent)
print(stc_evoked.subject, [v[:5] for v in stc_evoked.vertices])
