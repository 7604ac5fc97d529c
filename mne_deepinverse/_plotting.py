# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Headless matplotlib figures of benchmark results and source maps."""

import numpy as np

from .metrics import summarise


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def inflated_positions(vertices):
    """Inflated-surface coordinates (m) of the template's source vertices.

    Parameters
    ----------
    vertices : list of array
        Vertex numbers of the left and right hemispheres.

    Returns
    -------
    pos : array, shape (n_sources, 3)
        Inflated coordinates, hemispheres moved apart along x for display.
    """
    import mne

    from .datasets import get_template

    subjects_dir, subject = get_template()
    out = []
    hemis = zip(("lh", "rh"), vertices, (-0.035, 0.035), strict=False)
    for hemi, verts, shift in hemis:
        rr, _ = mne.read_surface(subjects_dir / subject / "surf" / f"{hemi}.inflated")
        rr = rr[np.asarray(verts)] / 1e3
        rr[:, 0] += shift - rr[:, 0].mean() + (-1 if hemi == "lh" else 1) * 0.04
        out.append(rr)
    return np.concatenate(out)


def plot_maps(maps, vertices, fname, title=""):
    """Plot source maps on the inflated template, lateral views.

    Parameters
    ----------
    maps : dict of array, shape (n_sources,)
        Maps to plot (absolute values, each scaled to its maximum).
    vertices : list of array
        Left and right hemisphere vertex numbers of the maps' sources.
    fname : path-like
        Output PNG.
    title : str
        Figure title.
    """
    plt = _plt()
    pos = inflated_positions(vertices)
    n_lh = len(vertices[0])
    n = len(maps)
    fig, axes = plt.subplots(2, n, figsize=(2.4 * n, 3.6), constrained_layout=True)
    axes = np.atleast_2d(axes).reshape(2, n)
    for col, (name, y) in enumerate(maps.items()):
        y = np.abs(np.asarray(y, float))
        y = y / max(y.max(), 1e-30)
        halves = ((slice(0, n_lh), -1), (slice(n_lh, None), 1))
        for row, (sl, flip) in enumerate(halves):
            ax = axes[row, col]
            p, v = pos[sl], y[sl]
            ax.scatter(flip * p[:, 1], p[:, 2], c="0.88", s=4, edgecolors="none")
            order = np.argsort(v)
            order = order[v[order] > 0.05]
            ax.scatter(flip * p[order, 1], p[order, 2], c=v[order], s=4, cmap="hot_r",
                       vmin=0, vmax=1, edgecolors="none")
            ax.set_aspect("equal")
            ax.axis("off")
            if row == 0:
                ax.set_title(name, fontsize=9)
    fig.suptitle(title or "Source maps (inflated template; top: left, bottom: right)",
                 fontsize=9)
    fig.savefig(fname, dpi=110)
    plt.close(fig)
    return fname


def _by(result, kind, key, metric, bins=None):
    """Median and quartiles of a metric per value (or bin) of a covariate."""
    out = {}
    for method in result.methods:
        recs = [r for r in result.records if r["set"] == kind and r["method"] == method]
        x = np.array([r[key] for r in recs], float)
        y = np.array([r[metric] for r in recs], float)
        if bins is None:
            levels = np.unique(x)
            groups = [y[x == lv] for lv in levels]
        else:
            idx = np.digitize(x, bins[1:-1])
            levels = 0.5 * (bins[:-1] + bins[1:])
            groups = [y[idx == i] for i in range(len(levels))]
        # failures (inf) count as the worst values; only NaN is left out
        stats = [summarise(g) for g in groups]
        keep = [i for i, (_, n) in enumerate(stats) if n]
        med = [stats[i][0][1] for i in keep]
        q = [stats[i][0][[0, 2]] for i in keep]
        levels = np.asarray(levels)[keep]
        out[method] = (levels, np.array(med), np.array(q).reshape(-1, 2))
    return out


def _panel(ax, data, xlabel, ylabel):
    for method, (x, med, q) in data.items():
        line = ax.plot(x, med, marker="o", ms=3, label=method)[0]
        if len(x):
            ax.fill_between(x, q[:, 0], q[:, 1], color=line.get_color(), alpha=0.15)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)


def plot_benchmark(result, out_dir):
    """Figures of a benchmark run, as in the ConvDip paper's figures 2-5.

    Parameters
    ----------
    result : BenchmarkResult
        The benchmark.
    out_dir : pathlib.Path
        Folder for the PNG files.

    Returns
    -------
    fnames : list of pathlib.Path
        The files written.
    """
    plt = _plt()
    out_dir.mkdir(parents=True, exist_ok=True)
    fnames = []
    specs = [
        ("single", "extent", None, "extent (neighbourhood order)", "by_extent"),
        ("multi", "n_patches", None, "number of sources", "by_n_sources"),
    ]
    ecc = np.array([r["eccentricity_mm"] for r in result.records])
    ecc_bins = np.linspace(ecc.min(), ecc.max() + 1e-6, 6) if len(ecc) else None
    specs.append(("single", "eccentricity_mm", ecc_bins, "eccentricity (mm from the "
                  "centre of the source space)", "by_eccentricity"))
    metric_sets = {
        "by_extent": ("auc", "mle", "nmse"),
        "by_n_sources": ("auc", "found", "n_ghost"),
        "by_eccentricity": ("auc", "mle", "nmse"),
    }
    labels = dict(auc="AUC", mle="MLE (mm)", nmse="nMSE", found="found (fraction)",
                  n_ghost="ghost sources")
    for kind, key, bins, xlabel, name in specs:
        mets = metric_sets[name]
        fig, axes = plt.subplots(1, len(mets), figsize=(4 * len(mets), 3.2),
                                 constrained_layout=True)
        for ax, met in zip(axes, mets, strict=True):
            _panel(ax, _by(result, kind, key, met, bins), xlabel, labels[met])
        axes[0].legend(fontsize=8)
        fig.suptitle(f"{kind}-source test set (AGM data), median and IQR")
        fname = out_dir / f"benchmark_{name}.png"
        fig.savefig(fname, dpi=110)
        plt.close(fig)
        fnames.append(fname)
    from .datasets import read_pretrained_forward

    fwd = read_pretrained_forward("convdip")
    vertices = [s["vertno"] for s in fwd["src"]]
    for key, maps in result.examples.items():
        fname = out_dir / f"benchmark_maps_{key}.png"
        maps = {k: np.asarray(v) for k, v in maps.items()}
        plot_maps(maps, vertices, fname, title=f"Example {key}: |source| at the peak")
        fnames.append(fname)
    return fnames
