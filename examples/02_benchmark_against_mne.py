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
  response of 20 noisy trials; the MNE solvers get the noise covariance of
  its baseline (and LCMV the data covariance of the trials), the network only
  the average. Metrics are computed per sample, and the best deep model and
  the best baseline are compared with a paired test.

:func:`~mne_deepinverse.benchmark.run_benchmark` does all this. Here it runs
with 15 samples per set so that the example stays short; the
:doc:`benchmark page <../benchmark_results>` shows the full run (500 samples
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
    baselines=("eLORETA", "dSPM", "sLORETA", "LCMV"),
    n_samples=15,
    random_state=0,
    progress=False,
)
print(result.table())

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
for kind, stats in result.statistics(n_permutations=2000).items():
    print(f"{kind}: {stats['deep']} vs {stats['baseline']}")
    for metric in ("auc", "mle", "nmse"):
        s = stats[metric]
        print(f"  {metric:>4}: mean difference {s['mean_diff']:+.3g}, "
              f"p = {s['p_value']:.3g}, d = {s['cohens_d']:.2f}")

# %%
# What this small run can and cannot say
# --------------------------------------
# Fifteen samples per set show the direction of the differences, not their
# size: with this few samples the quartiles move by several points between
# seeds, and a p-value near 0.05 means little. The full run on the
# :doc:`benchmark page <../benchmark_results>` (500 samples per set) is the
# one to quote. It shows the same pattern as this small run: the three
# networks (ConvDip, the U-Net on stacked minimum-norm estimates, the VNet on
# the voxelised sLORETA) separate active from inactive sources better (AUC,
# nMSE) than every MNE solver for single and multiple sources, the U-Net
# most; but with 1-10 sources they miss some of them (``found`` < 1), so
# the distance from each true source to the nearest estimated maximum (MLE)
# is larger than with MNE's solvers, which find every source, though with
# many ghost maxima. The times in the table are per evoked response and include
# preparing each MNE operator; see :ref:`ex-onnx-speed` for a timing on
# equal terms.
#
# .. footbibliography::
