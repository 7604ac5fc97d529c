# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
r"""Brent amplitude rescaling of predicted source-map shapes.

A network predicts the *shape* of the source map (max-normalised). The scalar
``s`` that makes the forward projection of the shape fit the measured EEG,

.. math:: s^* = \arg\min_s \| x - s\, G \hat y \|^2 ,

gives the map in Am, as in ConvDip :footcite:`HeckerEtAl2021`. We find it with
Brent's method (:func:`scipy.optimize.minimize_scalar`, ``method="brent"``).
The objective is a parabola in ``s``, so its exact minimiser is also known in
closed form, ``s* = <x, p> / <p, p>`` with ``p = G y``; for speed on long
recordings (``method="auto"``) every time sample is solved at once in closed
form and Brent's method, bracketed by that estimate, is run on a few samples
spread over the recording to verify it. ``method="brent"`` runs Brent on every
sample.

One scale per sample gives every source of the sample the same sign.
:func:`fit_patch_amplitudes` instead fits one signed amplitude per connected
patch of the predicted support (a small linear least-squares problem per
sample), so that regions of opposite polarity keep opposite signs.
"""

import numpy as np
from mne.utils import _check_option, _validate_type, logger
from scipy.optimize import minimize_scalar

_N_VERIFY = 8


def _closed_form(X, P):
    """Unconstrained least-squares scale of every sample."""
    num = np.einsum("ij,ij->i", X, P)
    den = np.einsum("ij,ij->i", P, P)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def _brent_one(x, p, guess):
    """Brent minimisation of ||x - s p||^2, bracketed around ``guess``."""
    norm = float(np.dot(p, p))
    if norm <= 0:
        return 0.0
    x_norm = float(np.dot(x, x)) or 1.0

    def cost(s):
        r = x - s * p
        return float(np.dot(r, r)) / x_norm

    width = max(abs(guess), np.sqrt(x_norm / norm), 1e-30)
    res = minimize_scalar(
        cost, bracket=(guess - width, guess, guess + width), method="brent",
        options=dict(xtol=1e-10),
    )
    return float(res.x)


def rescale_amplitudes(X, P, *, method="auto"):
    """Find the scale of each predicted map that fits the measured EEG.

    Parameters
    ----------
    X : array, shape (n_samples, n_channels)
        Measured (average-referenced) EEG.
    P : array, shape (n_samples, n_channels)
        Forward projections ``G @ y_hat`` of the predicted source-map shapes,
        referenced like ``X``.
    method : "auto" | "brent"
        ``"brent"`` runs :func:`scipy.optimize.minimize_scalar` with
        ``method="brent"`` on every sample. ``"auto"`` solves all samples in
        closed form (the exact minimiser of the parabola) and verifies up to
        eight of them with Brent's method.

    Returns
    -------
    scale : array, shape (n_samples,)
        Scale factors. The networks predict the pattern of source magnitudes;
        a negative scale means the currents flow inward along the cortical
        normal (the measured topography is the pattern's negative).
    """
    _check_option("method", method, ("auto", "brent"))
    X = np.asarray(X, dtype=np.float64)
    P = np.asarray(P, dtype=np.float64)
    if X.shape != P.shape or X.ndim != 2:
        raise ValueError(
            f"X and P must both have shape (n_samples, n_channels), got {X.shape} "
            f"and {P.shape}."
        )
    with np.errstate(over="ignore"):
        energy = np.einsum("ij,ij->i", X, X) + np.einsum("ij,ij->i", P, P)
    if not np.isfinite(energy).all():
        raise ValueError(
            "X and P must be finite, with finite sums of squares (values below "
            "~1e150); got NaN, inf or overflowing values. Clean the data and "
            "express EEG in V."
        )
    closed = _closed_form(X, P)
    if method == "brent":
        brent = [_brent_one(x, p, s) for x, p, s in zip(X, P, closed, strict=True)]
        return np.asarray(brent)
    n = len(X)
    idx = np.unique(np.linspace(0, n - 1, min(n, _N_VERIFY)).astype(int))
    for ii in idx:
        brent = _brent_one(X[ii], P[ii], closed[ii])
        tol = 1e-6 * max(abs(brent), abs(closed[ii]), 1e-30)
        if abs(brent - closed[ii]) > tol:  # pragma: no cover - numerical trouble
            logger.info(
                f"    Brent and closed-form scales differ at sample {ii} "
                f"({brent:g} vs {closed[ii]:g}); using Brent on every sample"
            )
            return rescale_amplitudes(X, P, method="brent")
    return closed


def _check_patch_inputs(X_ref, shapes, gain_ref, adjacency, threshold, alpha):
    """Validate and convert the inputs of :func:`fit_patch_amplitudes`."""
    from scipy import sparse

    _validate_type(threshold, "numeric", "threshold")
    _validate_type(alpha, "numeric", "alpha")
    threshold, alpha = float(threshold), float(alpha)
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}.")
    if not (np.isfinite(alpha) and alpha >= 0):
        raise ValueError(f"alpha must be a finite number >= 0, got {alpha}.")
    X_ref = np.asarray(X_ref, dtype=np.float64)
    gain_ref = np.asarray(gain_ref, dtype=np.float64)
    shapes = np.asarray(shapes)
    if shapes.dtype.kind not in "biuf":
        raise TypeError(f"shapes must hold real numbers, got dtype {shapes.dtype}.")
    # float32 network outputs stay float32 (as in the model graph), others float64
    shapes = shapes.astype(np.result_type(shapes.dtype, np.float32), copy=False)
    for name, arr, dims in (
        ("X_ref", X_ref, "(n_times, n_channels)"),
        ("shapes", shapes, "(n_times, n_sources)"),
        ("gain_ref", gain_ref, "(n_channels, n_sources)"),
    ):
        if arr.ndim != 2:
            raise ValueError(
                f"{name} must be a 2D array of shape {dims}, got shape {arr.shape}."
            )
    n_times, n_channels = X_ref.shape
    n_sources = gain_ref.shape[1]
    if gain_ref.shape[0] != n_channels:
        raise ValueError(
            f"gain_ref must have one row per channel of X_ref ({n_channels}), got "
            f"shape {gain_ref.shape}."
        )
    if shapes.shape != (n_times, n_sources):
        raise ValueError(
            f"shapes must have shape (n_times, n_sources) = ({n_times}, "
            f"{n_sources}) to match X_ref and gain_ref, got {shapes.shape}."
        )
    for name, arr in (("X_ref", X_ref), ("gain_ref", gain_ref)):
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} must be finite, got NaN or inf values.")
    if shapes.size:
        low, high = shapes.min(), shapes.max()  # both NaN if any value is
        if not (np.isfinite(low) and np.isfinite(high)):
            raise ValueError("shapes must be finite, got NaN or inf values.")
        if low < 0:
            raise ValueError(
                "shapes must be non-negative magnitude patterns, got "
                f"{int((shapes < 0).sum())} negative value(s) (min {low:g})."
            )
    if not (sparse.issparse(adjacency) or isinstance(adjacency, np.ndarray)):
        raise TypeError(
            "adjacency must be a scipy sparse matrix or array (e.g. from "
            f"mne.spatial_src_adjacency), got {type(adjacency).__name__}."
        )
    if adjacency.shape != (n_sources, n_sources):
        raise ValueError(
            f"adjacency must have shape (n_sources, n_sources) = ({n_sources}, "
            f"{n_sources}), got {adjacency.shape}."
        )
    adjacency = sparse.csr_array(adjacency)
    return X_ref, shapes, gain_ref, adjacency, threshold, alpha


def _patch_labels(shapes, adjacency, threshold):
    """Patch of every source (-1: none), number of patches, non-zero sources."""
    from scipy.sparse.csgraph import connected_components, dijkstra

    n_sources = shapes.shape[1]
    labels = np.full(n_sources, -1, dtype=np.int64)
    active = np.flatnonzero(shapes.max(axis=0, initial=0) > 0)
    if not len(active):
        return labels, 0, active
    row_max = shapes.max(axis=1)
    # all-zero rows contribute nothing (their threshold is inf)
    row_thresh = np.where(row_max > 0, threshold * row_max, np.inf)
    support = np.flatnonzero((shapes >= row_thresh[:, np.newaxis]).any(axis=0))
    n_patches, labels[support] = connected_components(
        adjacency[support][:, support], directed=False
    )
    # sub-threshold sources with a non-zero shape join the nearest patch in
    # graph hops, along paths through sources with a non-zero shape
    if len(active) > len(support):
        graph = adjacency
        if len(active) < n_sources:
            graph = adjacency[active][:, active]
        _, _, nearest = dijkstra(
            graph, directed=False, indices=np.searchsorted(active, support),
            unweighted=True, min_only=True, return_predecessors=True,
        )
        reached = nearest >= 0
        labels[active[reached]] = labels[active[nearest[reached]]]
    return labels, n_patches, active


def fit_patch_amplitudes(X_ref, shapes, gain_ref, adjacency, *, threshold=0.1,
                         alpha=1e-6):
    r"""Signed amplitudes per patch of the predicted support, by least squares.

    The networks predict non-negative magnitude patterns; a single scale per
    time sample (:func:`rescale_amplitudes`) gives every source of a sample
    the same sign. This function splits the predicted support into spatially
    connected patches and fits one signed amplitude per patch and time
    sample, so that regions of opposite polarity come out with opposite signs.

    Parameters
    ----------
    X_ref : array, shape (n_times, n_channels)
        Measured EEG, average-referenced like ``gain_ref``.
    shapes : array, shape (n_times, n_sources)
        Predicted non-negative magnitude patterns, each row on an arbitrary
        scale.
    gain_ref : array, shape (n_channels, n_sources)
        Average-referenced gain matrix of a fixed-orientation forward.
    adjacency : scipy sparse matrix, shape (n_sources, n_sources)
        Source adjacency, e.g. from :func:`mne.spatial_src_adjacency`.
    threshold : float
        Relative threshold in (0, 1]. The support is the union, over the time
        samples, of the sources with ``shapes[t] >= threshold * shapes[t].max()``
        (all-zero rows contribute nothing).
    alpha : float
        Relative ridge (>= 0): ``alpha * trace(A) / K`` is added to the
        diagonal of each sample's ``K x K`` normal matrix ``A``. With
        ``alpha=0`` the minimum-norm solution is computed by pseudo-inverse.

    Returns
    -------
    Y : array of float32, shape (n_times, n_sources)
        Signed source maps, ``shapes[t, j] * amplitudes[t, labels[j]]`` (and
        the single scale for sources with label -1, see Notes).
    amplitudes : array, shape (n_times, K)
        Signed amplitude of each patch at each time sample.
    labels : array of int, shape (n_sources,)
        Patch index of each source, from 0 to K - 1 (support sources and the
        sub-threshold sources attached to a patch), or -1 for sources in no
        patch (see Notes).

    See Also
    --------
    rescale_amplitudes : One signed scale per time sample.
    mne.spatial_src_adjacency : The source adjacency of a source space.

    Notes
    -----
    The patches are the connected components of ``adjacency`` restricted to
    the support (:func:`scipy.sparse.csgraph.connected_components`).
    A source below the threshold whose shape is non-zero somewhere in the
    window joins the patch nearest to it in graph hops, along paths through
    sources with non-zero shape (so the tail of a blob is scaled with its
    blob). Sources with non-zero shape that no such path links to a patch
    (e.g. faint activity in the other hemisphere) get label -1 and are scaled
    by the single-scale fit ``s(t)`` of :func:`rescale_amplitudes` (its
    closed form); sources whose shape is zero throughout get label -1 and
    zero.

    At each time sample the signed amplitudes solve the ridge-regularised
    least-squares problem

    .. math:: \min_a \| x_t - s_t r_t - \sum_k a_k p_{t,k} \|^2 ,

    where ``p_{t,k} = gain_ref[:, labels == k] @ shapes[t, labels == k]`` and
    ``r_t`` is the same projection of the label -1 sources; all samples are
    solved in one batched :func:`numpy.linalg.solve`. The projections are
    computed in float32 for float32 ``shapes`` (as in the model graph), in
    float64 otherwise. Patches whose projection is zero get amplitude 0.
    Setting every ``a_k = s_t`` gives the single-scale fit, so the
    unregularised optimum never fits worse; with the ridge, a sample whose
    patch fit leaves a larger residual than the single-scale fit falls back
    to it (all its amplitudes set to ``s_t``). Hence
    ``||X_ref - Y @ gain_ref.T||`` never exceeds the single-scale residual (up
    to the float32 rounding of ``Y``).
    """
    X_ref, shapes, gain_ref, adjacency, threshold, alpha = _check_patch_inputs(
        X_ref, shapes, gain_ref, adjacency, threshold, alpha
    )
    n_times, n_sources = shapes.shape
    labels, n_patches, active = _patch_labels(shapes, adjacency, threshold)
    # group of every source: its patch, K (unlabelled) or K + 1 (zero shape)
    group = np.full(n_sources, n_patches + 1)
    group[active] = np.where(labels[active] >= 0, labels[active], n_patches)
    proj = np.zeros((n_patches + 1, n_times, X_ref.shape[1]))
    for k in range(n_patches + 1):
        cols = np.flatnonzero(group == k)
        if len(cols):
            gain_t = np.ascontiguousarray(gain_ref[:, cols].T, dtype=shapes.dtype)
            proj[k] = np.take(shapes, cols, axis=1) @ gain_t
    P_patch, P_rest = proj[:-1], proj[-1]
    P_total = proj.sum(axis=0)
    single = _closed_form(X_ref, P_total)
    resid = X_ref - single[:, np.newaxis] * P_total
    err_single = np.einsum("ij,ij->i", resid, resid)
    # normal equations of every sample, solved at once
    target = X_ref - single[:, np.newaxis] * P_rest
    A = np.einsum("kti,lti->tkl", P_patch, P_patch)
    b = np.einsum("kti,ti->tk", P_patch, target)
    diag = np.einsum("tkk->tk", A)  # a writable view on the diagonals
    if n_patches:
        diag += (alpha / n_patches) * diag.sum(axis=1, keepdims=True)
    diag[diag <= 0] = 1.0  # zero projection (zero row and rhs): amplitude 0
    if alpha > 0:  # the ridge makes every A positive definite
        amplitudes = np.linalg.solve(A, b[..., np.newaxis])[..., 0]
    else:  # A may be singular: the minimum-norm least-squares solution
        amplitudes = (np.linalg.pinv(A) @ b[..., np.newaxis])[..., 0]
    resid = target - np.einsum("tk,kti->ti", amplitudes, P_patch)
    worse = ~(np.einsum("ij,ij->i", resid, resid) <= err_single)  # NaN: worse
    amplitudes[worse] = single[worse, np.newaxis]
    logger.info(
        f"    {n_patches} patch(es); single-scale fit kept at {worse.sum()} of "
        f"{n_times} sample(s)"
    )
    # the factor of every source: its patch's amplitude, the single scale, or 0
    factors = np.column_stack([amplitudes, single, np.zeros(n_times)])
    Y = np.empty((n_times, n_sources), dtype=np.float32)
    np.multiply(shapes, np.take(factors.astype(shapes.dtype), group, axis=1),
                out=Y, casting="same_kind")
    return Y, amplitudes, labels
