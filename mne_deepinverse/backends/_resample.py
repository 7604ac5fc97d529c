# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Between source space and regular grids.

The image backends (U-Net, VNet) see source maps on regular grids. Both
directions are sparse linear maps stored as index/weight tables of fixed
width, applied as one gather and a weighted sum (an ONNX ``Gather``):

- sources to grid: every grid point averages its ``k`` nearest sources with
  inverse-distance weights (points far from every source are masked out);
- grid to sources: multilinear interpolation of the grid at each source
  (bilinear on a latitude/longitude image, trilinear in a volume).

The linear inverse kernels the networks start from are computed outside the
networks (:mod:`mne_deepinverse._backend_inputs`) and passed to ``build``.
"""

import numpy as np
from scipy.spatial import cKDTree


def knn_table(points, queries, k, *, max_distance=None):
    """Inverse-distance weights of the ``k`` nearest points of each query.

    Parameters
    ----------
    points : array, shape (n_points, n_dim)
        Where the values live (e.g. source positions).
    queries : array, shape (n_queries, n_dim)
        Where the values are wanted (e.g. grid points).
    k : int
        Number of neighbours.
    max_distance : float | None
        Queries whose nearest point is farther get all-zero weights.

    Returns
    -------
    index : array of int64, shape (n_queries, k)
        Indices into ``points``.
    weight : array of float32, shape (n_queries, k)
        Weights summing to 1 per query (0 for masked queries).
    inside : array of bool, shape (n_queries,)
        The queries that are not masked.
    """
    k = min(int(k), len(points))
    dist, index = cKDTree(points).query(queries, k=k)
    dist, index = dist.reshape(len(queries), k), index.reshape(len(queries), k)
    weight = 1.0 / np.maximum(dist, 1e-3 * max(dist.max(), 1e-12))
    weight /= weight.sum(axis=1, keepdims=True)
    inside = np.ones(len(queries), bool)
    if max_distance is not None:
        inside = dist[:, 0] <= max_distance
        weight[~inside] = 0.0
    return index.astype(np.int64), weight.astype(np.float32), inside


def multilinear_table(coords, shape, *, wrap=()):
    """Multilinear interpolation weights of a regular grid at given points.

    Parameters
    ----------
    coords : array, shape (n_points, n_dim)
        Fractional grid indices (0 = centre of the first cell) per axis.
    shape : tuple of int
        The grid shape.
    wrap : tuple of int
        Periodic axes (e.g. longitude); other axes are clamped at the edges.

    Returns
    -------
    index : array of int64, shape (n_points, 2 ** n_dim)
        Flat (C-order) indices of the corners.
    weight : array of float32, shape (n_points, 2 ** n_dim)
        Corner weights, summing to 1 per point.
    """
    coords = np.asarray(coords, dtype=np.float64)
    n, n_dim = coords.shape
    lo = np.floor(coords).astype(np.int64)
    frac = coords - lo
    index = np.zeros((n, 2**n_dim), np.int64)
    weight = np.ones((n, 2**n_dim))
    for corner in range(2**n_dim):
        flat = np.zeros(n, np.int64)
        for axis in range(n_dim):
            upper = (corner >> axis) & 1
            idx = lo[:, axis] + upper
            if axis in wrap:
                idx = idx % shape[axis]
            else:
                idx = np.clip(idx, 0, shape[axis] - 1)
            flat = flat * shape[axis] + idx
            weight[:, corner] *= frac[:, axis] if upper else 1 - frac[:, axis]
        index[:, corner] = flat
    return index, weight.astype(np.float32)


def gather_sum(x, index, weight):
    """``out[..., i] = sum_j weight[i, j] * x[..., index[i, j]]`` (torch)."""
    n_out, k = index.shape
    picked = x.index_select(-1, index.reshape(-1))
    return (picked.reshape(*x.shape[:-1], n_out, k) * weight).sum(-1)


def peak_normalise(x, eps=1e-12):
    """Divide each row (last axis) by its largest absolute value."""
    return x / x.abs().amax(dim=-1, keepdim=True).clamp_min(eps)
