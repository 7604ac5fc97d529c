r"""
.. _ex-real-visual:

=====================================================================
Real data: the visual response, checked against dipoles and anatomy
=====================================================================

A checkerboard in the left visual hemifield excites the right occipital
cortex, one in the right hemifield the left. The MNE "sample" recording has
both, with EEG and MEG. Here the real-data check suite
(``mne-deepinverse real-data``; its full table is on :doc:`/real_data`) runs
on the visual conditions: the any-cap and any-sensor models, SIFNet (which
reads the recording's 60 channels interpolated onto its 31) and MNE's dSPM,
sLORETA and a single-dipole fit, on the template head. Each map's maximum is
scored by its hemisphere and lobe and by its distance to a dipole fitted to
the MEG sensors over the contralateral occipital lobe.

Nothing here is a ground truth: the template is not the subject's head, and
the project's excerpt of the recording holds only 6-7 trials per condition.
The conclusions at the end are computed from this run, not written by hand.
"""
# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.

# %%
import matplotlib.pyplot as plt
import mne
import numpy as np

from mne_deepinverse.benchmark._real import CONDITIONS, run_real_data

mne.set_log_level("ERROR")

# %%
# Run the suite on the visual conditions
# --------------------------------------
# EEG (the recording's digitised positions and MNE's standard ``mgh60``
# positions of the same cap) and MEG; one shrunk noise covariance per sensor
# set from the baselines of all trials.
result = run_real_data(
    conditions=("visual/left", "visual/right"), sensors=("eeg", "meg"),
    models=("anycap", "anysensor", "sifnet"),
    methods=("dSPM", "sLORETA", "dipole"), progress=False)
print(f"trials: {result['n_trials']}")
print(f"peaks (ms): {result['peaks']}")

rows = [r for r in result["rows"] if r["montage"] == "digitised"]
print(f"\n{'condition':<14}{'sensors':<8}{'method':<10}{'global maximum':<32}"
      f"{'to dipole':>10}  expected")
for r in rows:
    contra = CONDITIONS[r["condition"]]["contra"]
    where = "({:.0f}, {:.0f}, {:.0f}) mm".format(*r["max"])
    print(f"{r['condition']:<14}{r['sensors']:<8}{r['method']:<10}"
          f"{where + ' ' + r['max_hemi'] + ' ' + r['max_lobe']:<32}"
          f"{r[f'{contra}_to_dipole']:>8.0f} mm  "
          f"{'yes' if r['as_expected'] else 'no'}")

# %%
# Where the maxima are
# --------------------
# Seen from above (x: left-right, y: back-front, template coordinates in
# mm), every method's global maximum per condition and sensor set, with the
# contralateral dipole (black star).
fig, axes = plt.subplots(2, 2, figsize=(8, 8), sharex=True, sharey=True,
                         layout="constrained")
methods = sorted({r["method"] for r in rows})
colors = dict(zip(methods, plt.cm.tab10.colors, strict=False))
for ax, (cond, sens) in zip(axes.ravel(), [(c, s) for c in ("visual/left",
                            "visual/right") for s in ("eeg", "meg")], strict=True):
    contra = CONDITIONS[cond]["contra"]
    dip = result["dipoles"][cond][contra]["pos"]
    ax.plot(dip[0], dip[1], "k*", ms=14, label="MEG dipole")
    for r in rows:
        if (r["condition"], r["sensors"]) == (cond, sens):
            ax.plot(r["max"][0], r["max"][1], "o", color=colors[r["method"]],
                    ms=9, label=r["method"])
    ax.axvline(0, color="0.7", lw=0.8)
    ax.axhline(-72, color="0.7", lw=0.8, ls=":")  # the occipital boundary
    ax.set(title=f"{cond}, {sens.upper()}", xlim=(-80, 80), ylim=(-110, 70),
           aspect="equal")
axes[0, 0].legend(fontsize=8, loc="upper left")
for ax in axes[1]:
    ax.set_xlabel("x (mm, left to right)")
for ax in axes[:, 0]:
    ax.set_ylabel("y (mm, back to front)")
plt.show()

# %%
# What this run shows
# -------------------
# The sentences below are computed from the table above.
for sens in ("eeg", "meg"):
    for method in methods:
        mine = [r for r in rows if r["sensors"] == sens and r["method"] == method]
        if not mine:
            continue
        hits = sum(r["as_expected"] for r in mine)
        dist = [r[f"{CONDITIONS[r['condition']]['contra']}_to_dipole"]
                for r in mine]
        print(f"{sens.upper():<4}{method:<10} contralateral occipital maximum in "
              f"{hits} of {len(mine)} conditions; {np.min(dist):.0f}-"
              f"{np.max(dist):.0f} mm from the contralateral dipole")
moved = {s["method"]: s["max"] for s in result["stability"]
         if s["condition"] == "visual/left"}
print("EEG, visual/left: the global maximum moves by "
      + ", ".join(f"{m} {d:.0f} mm" for m, d in moved.items())
      + " between the digitised and the standard electrode positions")

# %%
# Reading it
# ----------
# A map is "expected" when its global maximum lies in the occipital lobe of
# the hemisphere opposite the stimulated hemifield (a coarse coordinate rule,
# :func:`mne_deepinverse.benchmark._real.lobe`); the dipole distance is to
# the dipole fitted to the contralateral occipital MEG sensors. With so few
# trials a single evoked decides each line, and the template is not the
# subject's head: agreement between methods shows that they read the same
# field, not that any of them is anatomically right. The same run for the
# auditory conditions, EEG+MEG and every shipped model is on
# :doc:`/real_data`.
