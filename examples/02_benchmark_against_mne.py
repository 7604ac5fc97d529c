r"""
.. _ex-benchmark:

=====================================================
Compare with mne.minimum_norm the way a paper would
=====================================================

The ConvDip paper :footcite:`HeckerEtAl2021` compares its network with
classical inverse solutions on simulated data, with care for two things a
quick comparison gets wrong:

* **No inverse crime.** Test data come from an *alternative generative
  model* (AGM): another source space (oct6, 8196 sources instead of ico4's
  5124), other conductivities and electrodes moved by a few mm. Every method,
  the network included, inverts with the *model* forward, so none gets the
  exact forward that made the data.
* **The same data for everyone.** Each test sample is an averaged evoked
  response of 20 trials with background brain activity (1/f, from every
  source) and sensor noise; MNE's methods get the noise covariance of its
  200-ms baseline estimated as MNE recommends (``method="shrunk"``; LCMV also
  the data covariance of the trials), the network only the average. Metrics
  are computed per sample, and for each metric the best deep model and MNE's
  best method are compared with a paired test.
* **MNE's methods at their best.** Their regularisation, depth weighting or
  number of dipoles is chosen per set on separate validation samples, never
  on the test samples; the sparse solvers (MxNE, gamma-MAP) and TRAP-MUSIC
  run next to the minimum-norm family and LCMV (the full run also has irMxNE
  and a single-dipole fit, the reference for a single source's peak).

:func:`~mne_deepinverse.benchmark.run_benchmark` does all this. Here it runs
with 15 samples per set so that the example stays short; the
:doc:`benchmark page <../benchmark_results>` shows the full runs (300 samples
per set), and ``mne-deepinverse benchmark`` runs it from the command line.
"""
# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.

# %%
import matplotlib.pyplot as plt
import mne
import numpy as np

from mne_deepinverse.benchmark import run_benchmark

mne.set_log_level("WARNING")

# %%
# Run the benchmark
# -----------------
# Two sets: single sources (one patch of varying extent) and 1-10 sources.
# The AGM forward is computed on the first run and cached under ``MNE_DATA``.
result = run_benchmark(
    models=("convdip", "unet", "vnet"),
    baselines=("eLORETA", "dSPM", "sLORETA", "LCMV", "MxNE", "gamma-MAP",
               "TRAP-MUSIC"),
    n_samples=15,
    n_validation=8,
    random_state=0,
    progress=False,
)
print(result.table())
print(result.config["tuned"])  # the settings chosen on the validation samples

# %%
# The metrics
# -----------
# * **AUC**: how well the map separates active sources from inactive ones,
#   the mean of two ROC areas: against the inactive sources *close* to an
#   active one and against those *far* from all of them (1 is perfect).
# * **MLE**: distance between the true and the estimated maximum (single
#   source) or from each true source to the nearest estimated maximum.
# * **nMSE**: mean squared error after scaling both maps to a maximum of 1.
# * **ghost sources**: estimated maxima more than 30 mm from every true source.
#
# A paper reports distributions, not single numbers:
methods = result.methods
fig, axes = plt.subplots(2, 3, figsize=(9, 5.5), constrained_layout=True)
for row, (kind, label) in enumerate((("single", "single source"),
                                     ("multi", "1-10 sources"))):
    for ax, (metric, name) in zip(axes[row], (("auc", "AUC"), ("mle", "MLE (mm)"),
                                              ("nmse", "nMSE")), strict=True):
        data = [result.values(kind, m, metric) for m in methods]
        ax.boxplot(data, showfliers=False)
        for ii, d in enumerate(data):
            jitter = np.random.default_rng(ii).uniform(-0.15, 0.15, len(d))
            ax.plot(ii + 1 + jitter, d, ".", color="k", alpha=0.4, ms=3)
        ax.set_xticks(np.arange(1, len(methods) + 1), methods, rotation=45,
                      fontsize=8)
        ax.set_title(f"{name}, {label}", fontsize=9)
plt.show()

# %%
# Paired statistics
# -----------------
# Each method saw the same samples, so differences are tested per sample
# (paired permutation test) with Cohen's d as effect size.
# For each metric, the best network is compared with MNE's best method for
# that metric.
for kind, stats in result.statistics(n_permutations=2000).items():
    for metric in ("auc", "mle", "nmse"):
        s = stats[metric]
        print(f"{kind} {metric:>4}: {s['deep']} - {s['baseline']}: mean "
              f"difference {s['mean_diff']:+.3g}, p = {s['p_value']:.3g}, "
              f"d = {s['cohens_d']:.2f}")

# %%
# What this small run can and cannot say
# --------------------------------------
# Fifteen samples per set show the direction of the differences, not their
# size: with this few samples the quartiles move by several points between
# seeds, and a p-value near 0.05 means little; eight validation samples per
# set choose MNE's settings only roughly. Quote the full runs on the
# :doc:`benchmark page <../benchmark_results>` (each states its protocol,
# tuned settings and paired tests), not this one. Read the sparse methods'
# rows with their maps in mind: MxNE, gamma-MAP and TRAP-MUSIC put the
# activity on a few sources, so they cannot rank the rest of an extended
# patch (AUC near 0.5) while their maxima (MLE, F1) can be the best of all.
# The times in the table are per evoked response and include preparing each
# MNE operator; see :ref:`ex-onnx-speed` for a timing on equal terms.
#
# .. footbibliography::
