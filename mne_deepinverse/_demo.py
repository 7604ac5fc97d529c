# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""The README's demo: two patches on the template, ConvDip and MNE compared."""

from pathlib import Path

import numpy as np
from mne.utils import _validate_type, logger, verbose

from .metrics import find_maxima

DEMO_METHODS = ("eLORETA", "sLORETA", "dSPM", "LCMV")


def _check_out_dir(out_dir):
    """Return out_dir as a Path, created if missing; error if it is a file."""
    _validate_type(out_dir, "path-like", "out_dir")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise FileExistsError(
            f"The output folder {str(out_dir)!r} is a file. Pass a folder "
            "(it is created if missing)."
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    return out_dir


def _maxima_report(name, est, true_idx, pos):
    est_idx = find_maxima(est, pos, rel_threshold=0.2, min_distance=30.0)
    d = np.linalg.norm(pos[true_idx][:, None] - pos[est_idx][None], axis=-1) * 1e3
    nearest = d.min(axis=1)
    parts = ", ".join(f"{x:5.1f}" for x in nearest)
    return f"{name:<9} {len(est_idx):>3}   {parts}", nearest


def _plot(maps, pos, true_idx, fname):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    n = len(maps)
    fig, axes = plt.subplots(2, n, figsize=(2.6 * n, 5.2), constrained_layout=True)
    views = (("top (x, y)", 0, 1), ("left (y, z)", 1, 2))
    for col, (name, y) in enumerate(maps.items()):
        y = np.abs(y) / max(np.abs(y).max(), 1e-30)
        order = np.argsort(y)
        for row, (label, a, b) in enumerate(views):
            ax = axes[row, col]
            ax.scatter(pos[:, a] * 1e3, pos[:, b] * 1e3, c="0.9", s=3)
            order = order[y[order] > 0.05]
            ax.scatter(pos[order, a] * 1e3, pos[order, b] * 1e3, c=y[order], s=3,
                       cmap="hot_r", vmin=0, vmax=1)
            ax.scatter(pos[true_idx, a] * 1e3, pos[true_idx, b] * 1e3, marker="x",
                       c="tab:blue", s=40, label="true centre")
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(name)
            if col == 0:
                ax.set_ylabel(label)
    axes[0, 0].legend(loc="lower left", fontsize=7)
    fig.suptitle("Two simulated patches on the template (|source|, peak time)")
    fig.savefig(fname, dpi=110)
    plt.close(fig)


@verbose
def run_demo(out_dir=".", random_state=0, show=False, verbose="warning"):
    """Simulate two patches, apply the inverse solutions, report and plot.

    Parameters
    ----------
    out_dir : path-like
        Folder for the figure, created if missing (checked before any work).
    random_state : int
        Seed of the simulation.
    show : bool
        Unused (figures are saved, never shown).
    verbose : bool | str | int | None
        MNE's log level during the demo (default: warnings only; the user's
        level is restored afterwards).

    Returns
    -------
    errors : dict
        For each method, the distance (mm) from each true patch centre to the
        nearest estimated maximum.
    fname : pathlib.Path
        The saved figure.
    """
    import mne

    from . import baselines
    from ._inverse import apply_deep_inverse
    from .datasets import read_pretrained_forward
    from .simulation import simulate_patch_evoked

    out_dir = _check_out_dir(out_dir)
    fwd = read_pretrained_forward("convdip")
    fwd_free = read_pretrained_forward("convdip", fixed=False)
    pos = fwd["source_rr"]
    print("Simulating an evoked response with two patches on the template "
          "(31 channels, 5124 sources, 20 trials, SNR 10 dB)")
    evoked, stc, epochs = simulate_patch_evoked(
        fwd, n_patches=2, extent=(2, 3), snr_db=10.0, n_trials=20,
        return_epochs=True, random_state=random_state,
    )
    t_peak = int(np.argmax(np.abs(stc.data).max(axis=0)))
    truth = stc.data[:, t_peak]
    true_idx = find_maxima(truth, pos, rel_threshold=0.2, min_distance=30.0)
    noise_cov = mne.compute_covariance(epochs, tmax=0.0, method="shrunk",
                                       verbose=False)
    data_cov = mne.compute_covariance(epochs, tmin=0.0, tmax=0.1, verbose=False)
    maps = {"truth": truth}
    errors = {}
    print(f"\nDistance (mm) from each true patch centre to the nearest maximum "
          f"found, at t = {1e3 * stc.times[t_peak]:.0f} ms")
    print(f"{'method':<9} {'n_max':>5}   per true patch")
    stc_deep = apply_deep_inverse(evoked, fwd, "convdip")
    maps["ConvDip"] = stc_deep.data[:, t_peak]
    line, errors["ConvDip"] = _maxima_report("ConvDip", maps["ConvDip"], true_idx, pos)
    print(line)
    for method in DEMO_METHODS:
        est = baselines.apply_baseline(
            evoked, fwd_free, method, noise_cov=noise_cov, data_cov=data_cov,
            snr=3.0,
        )
        maps[method] = est.data[:, t_peak]
        line, errors[method] = _maxima_report(method, maps[method], true_idx, pos)
        print(line)
    fname = out_dir / "mne_deepinverse_demo.png"
    _plot(maps, pos, true_idx, fname)
    print(f"\nFigure saved to {fname.resolve()}")
    logger.info("demo done")
    return errors, fname
