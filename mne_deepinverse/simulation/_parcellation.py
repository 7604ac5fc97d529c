# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Cortical parcellations: regions, their connectome and region-to-source maps."""

import numpy as np
from scipy import sparse

from .._utils import _check_random_state


def make_parcellation(pos, space_ids, n_regions, random_state=None):
    """Divide sources into regions of about equal size (k-means per hemisphere).

    Parameters
    ----------
    pos : array, shape (n_sources, 3)
        Source positions (m).
    space_ids : array of int, shape (n_sources,)
        Source space (hemisphere) of every source; regions never cross them.
    n_regions : int
        Number of regions (shared between the spaces by their source counts).
    random_state : None | int | instance of numpy.random.Generator
        Seed of the k-means initialisation.

    Returns
    -------
    labels : array of int, shape (n_sources,)
        Region of every source; regions of the first space come first.
    centres : array, shape (n_regions, 3)
        Mean position of each region's sources.
    region_space : array of int, shape (n_regions,)
        Source space of every region.
    """
    from sklearn.cluster import KMeans

    rng = _check_random_state(random_state)
    pos = np.asarray(pos, float)
    space_ids = np.asarray(space_ids)
    spaces, counts = np.unique(space_ids, return_counts=True)
    if not 1 <= n_regions <= len(pos):
        raise ValueError(f"n_regions must be between 1 and the number of sources "
                         f"({len(pos)}), got {n_regions}.")
    share = np.maximum(1, np.round(n_regions * counts / counts.sum()).astype(int))
    share[-1] = max(1, n_regions - share[:-1].sum())
    labels = np.empty(len(pos), int)
    region_space, offset = [], 0
    for space, k in zip(spaces, share, strict=True):
        idx = np.flatnonzero(space_ids == space)
        km = KMeans(k, n_init=1, random_state=int(rng.integers(2**31 - 1)))
        labels[idx] = km.fit_predict(pos[idx]) + offset
        region_space += [space] * k
        offset += k
    centres = np.array([pos[labels == k].mean(axis=0) for k in range(offset)])
    return labels, centres, np.array(region_space)


def region_connectivity(centres, region_space, *, n_neighbors=12, length=0.02,
                        mirror=0.2):
    """Derive a connectome from region distances.

    Parameters
    ----------
    centres : array, shape (n_regions, 3)
        Region centres (m; head coordinates, x from left to right).
    region_space : array of int, shape (n_regions,)
        Hemisphere of every region.
    n_neighbors : int
        Regions of the same hemisphere each region projects to.
    length : float
        Decay length (m) of the weights, ``exp(-d / length)``.
    mirror : float
        Weight of the projection to the nearest region of the other
        hemisphere after mirroring the centre in x (callosal fibres), relative
        to the sum of the same-hemisphere weights.

    Returns
    -------
    W : sparse matrix, shape (n_regions, n_regions)
        ``W[i, j]``: weight of region j's output in region i's input; no
        self-connections, rows sum to one.
    """
    from scipy.spatial import cKDTree

    n = len(centres)
    rows, cols, vals = [], [], []
    for space in np.unique(region_space):
        idx = np.flatnonzero(region_space == space)
        k = min(n_neighbors + 1, len(idx))
        dist, near = cKDTree(centres[idx]).query(centres[idx], k)
        dist, near = np.atleast_2d(dist)[:, 1:], np.atleast_2d(near)[:, 1:]
        w = np.exp(-dist / length)
        w /= np.maximum(w.sum(axis=1, keepdims=True), 1e-30)
        rows.append(np.repeat(idx, w.shape[1]))
        cols.append(idx[near].ravel())
        vals.append(w.ravel())
        other = np.flatnonzero(region_space != space)
        if len(other) and mirror > 0:
            mirrored = centres[idx] * [-1, 1, 1]
            hit = cKDTree(centres[other]).query(mirrored)[1]
            rows.append(idx)
            cols.append(other[hit])
            vals.append(np.full(len(idx), mirror))
    W = sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n, n))
    W = sparse.diags(1 / np.maximum(np.asarray(W.sum(axis=1)).ravel(), 1e-30)) @ W
    return sparse.csr_matrix(W)


def region_expansion(pos, labels, centres, region_space, *, k=4):
    """Compute the weights that map region values onto the sources, smoothly.

    Every source takes a Gaussian-weighted mean of the values of the ``k``
    regions of its own source space (hemisphere) whose centres are nearest
    to it (its own region among them); the Gaussian's sd is half the median
    distance between neighbouring region centres. A map that is high in
    one region and lower in a neighbour then peaks between their centres,
    nearer the higher one, not on an arbitrary source of the region.

    Parameters
    ----------
    pos : array, shape (n_sources, 3)
        Source positions (m).
    labels : array of int, shape (n_sources,)
        Region of every source (:func:`make_parcellation`).
    centres : array, shape (n_regions, 3)
        Region centres (m).
    region_space : array of int, shape (n_regions,)
        Source space of every region.
    k : int
        Regions per source.

    Returns
    -------
    index : array of int64, shape (n_sources, k)
        The regions of every source, its own first.
    weight : array of float32, shape (n_sources, k)
        Their weights (rows sum to one).
    """
    from scipy.spatial import cKDTree

    pos, labels = np.asarray(pos, float), np.asarray(labels)
    centres = np.asarray(centres, float)
    n_regions = len(centres)
    k = max(1, min(int(k), n_regions))
    space = np.asarray(region_space)
    space_of_source = space[labels]
    spacing = np.median(cKDTree(centres).query(centres, min(2, n_regions))[0][..., -1])
    sd = max(spacing / 2, 1e-6)
    index = np.empty((len(pos), k), np.int64)
    dist = np.empty((len(pos), k))
    for s in np.unique(space):
        regions = np.flatnonzero(space == s)
        sources = np.flatnonzero(space_of_source == s)
        kk = min(k, len(regions))
        d, near = cKDTree(centres[regions]).query(pos[sources], kk)
        d, near = d.reshape(len(sources), kk), regions[near.reshape(len(sources), kk)]
        if kk < k:  # a space with fewer regions: repeat its nearest, weight 0
            near = np.pad(near, ((0, 0), (0, k - kk)), mode="edge")
            d = np.pad(d, ((0, 0), (0, k - kk)), constant_values=np.inf)
        index[sources], dist[sources] = near, d
    # own region first (k-means puts it nearest; make sure)
    own = labels
    has_own = (index == own[:, None]).any(axis=1)
    index[~has_own, -1], dist[~has_own, -1] = own[~has_own], 0.0
    order = np.argsort(index != own[:, None], axis=1, kind="stable")
    index = np.take_along_axis(index, order, axis=1)
    dist = np.take_along_axis(dist, order, axis=1)
    dist[:, 0] = np.minimum(dist[:, 0], np.linalg.norm(pos - centres[own], axis=1))
    weight = np.exp(-0.5 * (dist / sd) ** 2)
    weight[:, 0] = np.maximum(weight[:, 0], 1e-6)
    weight /= weight.sum(axis=1, keepdims=True)
    return index, weight.astype(np.float32)
