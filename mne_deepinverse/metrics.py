# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Metrics that compare an estimated source map with the truth.

All functions take one map per call (``array, shape (n_sources,)``) and
source positions in m (e.g. ``fwd["source_rr"]``); distances are returned in
mm. :func:`evaluate` runs a set of them over many samples.

An estimate that is all zero locates nothing, and scores as a failure, never
better than a real estimate: distances (MLE, DLE, SD, multi-source MLE) are
``inf``, nMSE is 1 (its largest value), the AUC 0.5 (chance, as for any
constant estimate), found sources, F1 and overall amplitude 0.

The definitions follow the ConvDip paper :footcite:`HeckerEtAl2021` (AUC with
close and far negatives, MLE, nMSE, found and ghost sources, and the detection
F1 that combines them), Hauk et al.
:footcite:`HaukEtAl2011` (spatial dispersion, overall amplitude) and the 3-D CNN
report :footcite:`CNN3D2023` (F1 over a radius sweep).
"""

import numpy as np
from mne.utils import ProgressBar, _check_option, _validate_type
from scipy.spatial import cKDTree

from ._docs import fill_doc

_EPS = 1e-30


def _check_map(y, name):
    """Absolute values of a source map (float64), which must be finite."""
    y = np.abs(np.asarray(y, dtype=np.float64))
    n_bad = np.sum(~np.isfinite(y))
    if n_bad:
        raise ValueError(
            f"{name} must not contain NaN or inf, but {n_bad} of its {y.size} "
            "values are; fix or drop those source maps before scoring them."
        )
    return y


def _check_pos(pos, n_sources):
    pos = np.asarray(pos, dtype=np.float64)
    if pos.shape != (n_sources, 3):
        raise ValueError(
            f"pos must have shape (n_sources, 3) = ({n_sources}, 3), got "
            f"{pos.shape}; pass the source positions (e.g. fwd['source_rr'])."
        )
    if not np.isfinite(pos).all():
        raise ValueError("pos holds NaN or infinite values; pass the source "
                         "positions in m (e.g. fwd['source_rr']).")
    spread = np.ptp(pos, axis=0).max() if len(pos) > 1 else 0.0
    if spread > 2.0:  # a head is ~0.2 m across: these are mm or cm
        raise ValueError(
            f"pos spans {spread:.4g} across, which is no head in m (about 0.2); "
            "the positions look like mm or cm. Pass them in m, as MNE keeps them "
            "(fwd['source_rr'], or pos / 1000 for mm): distances are reported "
            "in mm from positions in m."
        )
    return pos


def _check_pair(y_true, y_pred, pos=None):
    y_true, y_pred = _check_map(y_true, "y_true"), _check_map(y_pred, "y_pred")
    if y_true.ndim != 1 or y_true.shape != y_pred.shape:
        raise ValueError(
            "y_true and y_pred must be 1-D arrays of the same length (one value "
            f"per source), got shapes {y_true.shape} and {y_pred.shape}."
        )
    if pos is not None:
        pos = _check_pos(pos, len(y_true))
    return y_true, y_pred, pos


def _check_mm(value, name):
    """Distances in mm: finite and >= 0."""
    arr = np.asarray(value, dtype=np.float64)
    if not (np.isfinite(arr) & (arr >= 0)).all():
        raise ValueError(f"{name} must be finite distances >= 0 (mm), got {value}.")
    return arr


def _check_fraction(value, name, *, closed=True):
    """Check a fraction in [0, 1] (``closed``) or (0, 1)."""
    _validate_type(value, "numeric", name)
    inside = 0 <= value <= 1 if closed else 0 < value < 1
    if not inside:
        interval = "[0, 1]" if closed else "(0, 1)"
        raise ValueError(f"{name} must be a fraction in {interval}, got {value}.")


def _active(y_true):
    active = y_true > 0
    if not active.any():
        raise ValueError(
            "y_true has no active source (it is all zero); metrics are undefined. "
            "Score only maps with a source."
        )
    return active


@fill_doc
def auc_close_far(y_true, y_pred, pos, *, close=0.2, far=0.5, return_parts=False):
    """Area under the ROC curve against close and far inactive sources.

    Positives are the active sources (``y_true != 0``). Close negatives are the
    ``close`` fraction of inactive sources nearest to an active one, far
    negatives the ``far`` fraction farthest from every active one; the AUC is
    the mean of the two ROC areas, computed on ``abs(y_pred)``. A constant
    estimate (all zero included) ranks nothing and scores 0.5 (chance).

    Parameters
    ----------
    %(maps)s
    %(pos)s
    close, far : float
        Fractions of the inactive sources used as close and far negatives,
        each in (0, 1), with ``close + far <= 1`` so that the two sets do not
        overlap.
    return_parts : bool
        Also return the close and far AUCs.

    Returns
    -------
    auc : float
        Mean of the close and far AUCs (1 is perfect, 0.5 chance).
    auc_close, auc_far : float
        Only if ``return_parts``.
    """
    from sklearn.metrics import roc_auc_score

    _check_fraction(close, "close", closed=False)
    _check_fraction(far, "far", closed=False)
    if close + far > 1:
        raise ValueError(
            f"close + far must be <= 1 so that close and far negatives do not "
            f"overlap, got close={close} and far={far}; lower one of them."
        )
    y_true, y_pred, pos = _check_pair(y_true, y_pred, pos)
    active = _active(y_true)
    inactive = np.flatnonzero(~active)
    if len(inactive) == 0:
        raise ValueError("Every source is active; no negatives for the AUC.")
    dist = cKDTree(pos[active]).query(pos[inactive])[0]
    order = inactive[np.argsort(dist, kind="stable")]
    n_close = max(1, int(round(close * len(order))))
    n_far = max(1, int(round(far * len(order))))
    scores = y_pred / max(y_pred.max(), _EPS)
    pos_scores = scores[active]
    aucs = []
    for neg in (order[:n_close], order[-n_far:]):
        labels = np.r_[np.ones(len(pos_scores)), np.zeros(len(neg))]
        aucs.append(roc_auc_score(labels, np.r_[pos_scores, scores[neg]]))
    auc = float(np.mean(aucs))
    return (auc, float(aucs[0]), float(aucs[1])) if return_parts else auc


@fill_doc
def mle(y_true, y_pred, pos):
    """Localisation error of the maxima (single source), in mm.

    Parameters
    ----------
    %(maps)s
    %(pos)s

    Returns
    -------
    error : float
        Distance (mm) between the maxima of ``abs(y_true)`` and
        ``abs(y_pred)``; ``inf`` when ``y_pred`` is constant (all zero
        included), which has no maximum.
    """
    y_true, y_pred, pos = _check_pair(y_true, y_pred, pos)
    _active(y_true)
    if y_pred.max() <= y_pred.min():
        return np.inf
    return float(np.linalg.norm(pos[np.argmax(y_true)] - pos[np.argmax(y_pred)]) * 1e3)


@fill_doc
def find_maxima(y, pos, *, rel_threshold=0.2, min_distance=30.0):
    """Find the separate maxima of a source map.

    Sources at or above ``rel_threshold`` times the map's maximum are visited
    from the largest down; one is kept when no kept maximum lies within
    ``min_distance`` mm (greedy non-maximum suppression).

    Parameters
    ----------
    y : array, shape (n_sources,)
        Source map (absolute values are used).
    %(pos)s
    rel_threshold : float
        Fraction of the maximum (in [0, 1]) below which nothing counts as a
        maximum.
    min_distance : float
        Suppression radius in mm (>= 0).

    Returns
    -------
    idx : array of int
        Indices of the maxima, largest first (none for an all-zero map).
    """
    y = _check_map(y, "y")
    if y.ndim != 1:
        raise ValueError(f"y must be a 1-D source map, got shape {y.shape}.")
    pos = _check_pos(pos, len(y))
    _check_fraction(rel_threshold, "rel_threshold")
    _check_mm(min_distance, "min_distance")
    top = y.max()
    if top <= 0:
        return np.array([], dtype=int)
    cand = np.flatnonzero(y >= rel_threshold * top)
    cand = cand[np.argsort(-y[cand], kind="stable")]
    kept = []
    radius = min_distance / 1e3
    for idx in cand:
        if not kept or np.min(np.linalg.norm(pos[kept] - pos[idx], axis=1)) >= radius:
            kept.append(idx)
    return np.array(kept, dtype=int)


def _maxima_distances(y_true, y_pred, pos, true_idx, rel_threshold, min_distance):
    """Distances (mm, n_true x n_estimated) between true and estimated maxima."""
    y_true, y_pred, pos = _check_pair(y_true, y_pred, pos)
    _active(y_true)
    if true_idx is None:
        true_idx = find_maxima(y_true, pos, rel_threshold=rel_threshold,
                               min_distance=min_distance)
    true_idx = np.atleast_1d(np.asarray(true_idx, dtype=int))
    est_idx = find_maxima(y_pred, pos, rel_threshold=rel_threshold,
                          min_distance=min_distance)
    return np.linalg.norm(pos[true_idx][:, None] - pos[est_idx][None], axis=-1) * 1e3


@fill_doc
def multi_source_errors(
    y_true, y_pred, pos, *, true_idx=None, radius=30.0, rel_threshold=0.2
):
    """Localisation, found and ghost sources for maps with several sources.

    Parameters
    ----------
    %(maps)s
    %(pos)s
    true_idx : array of int | None
        Indices of the true source centres; if None, the maxima of
        ``y_true`` found by :func:`find_maxima`.
    radius : float
        Distance (mm) within which an estimated maximum finds a true source,
        and the suppression radius of the estimated maxima.
    rel_threshold : float
        Relative threshold of the estimated (and true) maxima.

    Returns
    -------
    errors : dict
        ``mle``: mean distance (mm) from each true source to the nearest
        estimated maximum (``inf`` when there is none); ``found``: fraction of
        true sources with an estimated maximum within ``radius``;
        ``n_ghost``: estimated maxima farther than ``radius`` from every true
        source; ``n_true`` and ``n_estimated``: the numbers of sources.

    See Also
    --------
    detection_f1
    """
    _check_mm(radius, "radius")
    d = _maxima_distances(y_true, y_pred, pos, true_idx, rel_threshold, radius)
    if d.shape[1] == 0:
        return dict(mle=np.inf, found=0.0, n_ghost=0, n_true=len(d),
                    n_estimated=0)
    return dict(
        mle=float(d.min(axis=1).mean()),
        found=float(np.mean(d.min(axis=1) < radius)),
        n_ghost=int(np.sum(d.min(axis=0) >= radius)),
        n_true=d.shape[0],
        n_estimated=d.shape[1],
    )


@fill_doc
def detection_f1(
    y_true, y_pred, pos, *, true_idx=None, radius=30.0, rel_threshold=0.2,
    return_parts=False,
):
    """Score the detection of several sources by their maxima (F1).

    The estimated maxima are those of :func:`find_maxima` (sources at or
    above ``rel_threshold`` times the peak, ``radius`` mm suppression), as in
    :func:`multi_source_errors`. Recall is the fraction of true sources with
    an estimated maximum within ``radius`` mm (``found``); precision the
    fraction of estimated maxima that are not ghosts (within ``radius`` mm of
    a true source); F1 is their harmonic mean ``2 P R / (P + R)``.

    Parameters
    ----------
    %(maps)s
    %(pos)s
    %(true_idx)s
    radius : float
        Distance (mm) within which an estimated maximum finds a true source,
        and the suppression radius of the estimated maxima.
    rel_threshold : float
        Relative threshold of the estimated (and true) maxima.
    return_parts : bool
        Also return the precision and the recall.

    Returns
    -------
    f1 : float
        The F1 score, from 0 to 1.
    precision, recall : float
        Only if ``return_parts``.

    See Also
    --------
    multi_source_errors
    f1_radius

    Notes
    -----
    A maximum counts as found or ghost by its distance alone: two estimated
    maxima near one true source both count as correct for the precision (the
    suppression keeps them at least ``radius`` apart), and true sources
    closer than ``radius`` to each other count once when ``true_idx`` is
    None (they are one maximum of ``y_true``).

    Degenerate cases: an estimate without maxima (all zero) has no precision;
    it finds nothing, so its F1 (and, by convention, its precision) is 0,
    never better than a real estimate. Precision and recall are 0 together
    (a maximum that is not a ghost finds a true source), and then F1 is 0.
    A ``y_true`` without active sources is an error, as for every metric.
    """
    err = multi_source_errors(y_true, y_pred, pos, true_idx=true_idx,
                              radius=radius, rel_threshold=rel_threshold)
    return _f1_from_errors(err, return_parts)


def _f1_from_errors(err, return_parts=False):
    """F1 (and precision, recall) from :func:`multi_source_errors`' output."""
    recall = err["found"]
    n_est = err["n_estimated"]
    precision = (n_est - err["n_ghost"]) / n_est if n_est else 0.0
    denom = precision + recall
    f1 = 2 * precision * recall / denom if denom > 0 else 0.0
    f1, precision, recall = float(f1), float(precision), float(recall)
    return (f1, precision, recall) if return_parts else f1


def nmse(y_true, y_pred):
    """Mean squared error after scaling both maps to a maximum of 1.

    Parameters
    ----------
    y_true, y_pred : array, shape (n_sources,)
        True and estimated source maps (absolute values are used).

    Returns
    -------
    nmse : float
        The normalised mean squared error, between 0 and 1; 1 when ``y_pred``
        is all zero (it cannot be scaled, and estimates nothing).
    """
    y_true, y_pred, _ = _check_pair(y_true, y_pred)
    _active(y_true)
    if y_pred.max() <= 0:
        return 1.0
    a = y_true / max(y_true.max(), _EPS)
    b = y_pred / max(y_pred.max(), _EPS)
    return float(np.mean((a - b) ** 2))


@fill_doc
def dle(y_true, y_pred, pos, *, true_idx=None, rel_threshold=0.2, min_distance=30.0):
    """Dipole localisation error between true and estimated maxima (mm).

    The mean, over true sources, of the distance to the nearest estimated
    maximum and, over estimated maxima, of the distance to the nearest true
    source, averaged; for one source of each it is the distance of the maxima.

    Parameters
    ----------
    %(maps)s
    %(pos)s
    %(true_idx)s
    rel_threshold, min_distance : float
        Parameters of :func:`find_maxima` for the maxima.

    Returns
    -------
    dle : float
        The error in mm (``inf`` when the estimate is all zero).
    """
    d = _maxima_distances(y_true, y_pred, pos, true_idx, rel_threshold, min_distance)
    if d.shape[1] == 0:
        return np.inf
    return float(0.5 * d.min(axis=1).mean() + 0.5 * d.min(axis=0).mean())


@fill_doc
def spatial_dispersion(y_true, y_pred, pos, *, true_idx=None):
    """Spatial dispersion of the estimate around the true sources (mm).

    ``sqrt(sum_i d_i**2 y_pred_i**2 / sum_i y_pred_i**2)`` with ``d_i`` the
    distance of source ``i`` to the nearest true source centre
    :footcite:`HaukEtAl2011`.

    Parameters
    ----------
    %(maps)s
    %(pos)s
    %(true_idx)s

    Returns
    -------
    sd : float
        The spatial dispersion in mm (``inf`` for an all-zero estimate).

    References
    ----------
    .. footbibliography::
    """
    y_true, y_pred, pos = _check_pair(y_true, y_pred, pos)
    _active(y_true)
    if true_idx is None:
        true_idx = find_maxima(y_true, pos)
    d = cKDTree(pos[np.atleast_1d(true_idx)]).query(pos)[0] * 1e3
    w = y_pred**2
    if w.sum() <= 0:
        return np.inf
    return float(np.sqrt(np.sum(d**2 * w) / np.sum(w)))


def overall_amplitude(y_true, y_pred):
    """Overall amplitude: total estimated over total true amplitude.

    Parameters
    ----------
    y_true, y_pred : array, shape (n_sources,)
        True and estimated source maps (absolute values are used).

    Returns
    -------
    oa : float
        ``sum(abs(y_pred)) / sum(abs(y_true))``; 1 when the estimate carries
        the true overall amplitude :footcite:`HaukEtAl2011`.

    References
    ----------
    .. footbibliography::
    """
    y_true, y_pred, _ = _check_pair(y_true, y_pred)
    return float(y_pred.sum() / max(_active(y_true) @ y_true, _EPS))


@fill_doc
def f1_radius(y_true, y_pred, pos, *, radii=None, rel_threshold=0.5):
    """F1 score of the active sources over a sweep of tolerance radii.

    Estimated active sources are those at or above ``rel_threshold`` times the
    estimate's maximum; true active sources are ``y_true != 0``. For a radius
    ``r``, precision is the fraction of estimated active sources within ``r``
    of a true one, recall the fraction of true active sources within ``r`` of
    an estimated one.

    Parameters
    ----------
    %(maps)s
    %(pos)s
    radii : array of float | None
        Tolerance radii in mm (>= 0); None is 0, 5, ..., 50 mm.
    rel_threshold : float
        Relative threshold (in [0, 1]) that makes an estimated source active.

    Returns
    -------
    f1 : array, shape (n_radii,)
        The F1 score at each radius (0 for an all-zero estimate).
    """
    radii = np.arange(0.0, 55.0, 5.0) if radii is None else radii
    radii = np.atleast_1d(_check_mm(radii, "radii"))
    _check_fraction(rel_threshold, "rel_threshold")
    y_true, y_pred, pos = _check_pair(y_true, y_pred, pos)
    t_idx = np.flatnonzero(_active(y_true))
    if y_pred.max() <= 0:
        return np.zeros(len(radii))
    e_idx = np.flatnonzero((y_pred > 0) & (y_pred >= rel_threshold * y_pred.max()))
    d_est = cKDTree(pos[t_idx]).query(pos[e_idx])[0] * 1e3
    d_true = cKDTree(pos[e_idx]).query(pos[t_idx])[0] * 1e3
    tol = 1e-9
    precision = (d_est[None] <= radii[:, None] + tol).mean(axis=1)
    recall = (d_true[None] <= radii[:, None] + tol).mean(axis=1)
    denom = precision + recall
    return np.where(denom > 0, 2 * precision * recall / np.maximum(denom, _EPS), 0.0)


_ALL = ("auc", "mle", "nmse", "found", "n_ghost", "f1", "dle", "sd", "oa")


@fill_doc
def summarise(values, q=(25, 50, 75)):
    """Compute percentiles of scores, counting failures (``inf``) as the worst.

    NaN values (a metric that is undefined for a sample, e.g. the
    multi-source MLE of a sample without estimated maxima) are left out;
    ``inf`` values (an all-zero estimate) are kept, so a method that predicts
    nothing is never rewarded by dropping them.

    Parameters
    ----------
    values : array-like of float
        Scores of one metric.
    q : tuple of float
        Percentiles (0-100).

    Returns
    -------
    percentiles : array, shape (len(q),)
        The percentiles (NaN if no value is defined).
    n : int
        The number of values used (not NaN).
    """
    values = np.asarray(values, dtype=float).ravel()
    values = values[~np.isnan(values)]
    if not len(values):
        return np.full(len(q), np.nan), 0
    with np.errstate(invalid="ignore"):
        out = np.percentile(values, q)
    # linear interpolation between two inf neighbours gives NaN: it is inf
    out[np.isnan(out)] = np.inf
    return out, len(values)


@fill_doc
def evaluate(Y_true, Y_pred, pos, *, metrics=_ALL, progress=False):
    """Evaluate many estimated source maps.

    Parameters
    ----------
    Y_true, Y_pred : array, shape (n_samples, n_sources)
        True and estimated source maps.
    %(pos)s
    metrics : str | tuple of str
        One or more of ``"auc"``, ``"mle"`` (maxima distance, single source),
        ``"mle_multi"``, ``"found"``, ``"n_ghost"``, ``"f1"`` (multi source,
        :func:`multi_source_errors` and :func:`detection_f1`), ``"nmse"``,
        ``"dle"``, ``"sd"``, ``"oa"``.
    progress : bool
        Show a progress bar.

    Returns
    -------
    scores : dict of array, shape (n_samples,)
        One array per metric. All-zero estimates score as failures (``inf``
        distances, nMSE 1, AUC 0.5, see the module's notes): summarise with
        :func:`numpy.median` or ranks, which count them as the worst; do not
        drop non-finite values (or use :func:`numpy.nanmedian`), which would
        leave the failures out and reward a model that predicts nothing.
    """
    if isinstance(metrics, str):
        metrics = (metrics,)
    _validate_type(metrics, (list, tuple), "metrics")
    for m in metrics:
        _check_option("metrics", m, _ALL + ("mle_multi",))
    Y_true = np.atleast_2d(Y_true)
    Y_pred = np.atleast_2d(Y_pred)
    if Y_true.ndim != 2 or Y_true.shape != Y_pred.shape:
        raise ValueError(
            "Y_true and Y_pred must have the same shape (n_samples, n_sources), "
            f"got {Y_true.shape} and {Y_pred.shape}."
        )
    # everything that would fail for one sample fails here, before any scoring
    _check_map(Y_true, "Y_true")
    _check_map(Y_pred, "Y_pred")
    pos = _check_pos(pos, Y_true.shape[1])
    empty = np.flatnonzero(~(Y_true != 0).any(axis=1))
    if len(empty):
        raise ValueError(
            f"Y_true has no active source in sample(s) {empty[:10].tolist()}; "
            "metrics are undefined there. Drop those samples."
        )
    out = {m: np.empty(len(Y_true)) for m in metrics}
    multi = {"mle_multi", "found", "n_ghost", "f1"} & set(metrics)
    it = range(len(Y_true))
    if progress:
        it = ProgressBar(it, mesg="Scoring")
    for ii in it:
        yt, yp = Y_true[ii], Y_pred[ii]
        if multi:
            err = multi_source_errors(yt, yp, pos)
            for key, name in (("mle", "mle_multi"), ("found", "found"),
                              ("n_ghost", "n_ghost")):
                if name in out:
                    out[name][ii] = err[key]
            if "f1" in out:
                out["f1"][ii] = _f1_from_errors(err)
        if "auc" in out:
            out["auc"][ii] = auc_close_far(yt, yp, pos)
        if "mle" in out:
            out["mle"][ii] = mle(yt, yp, pos)
        if "nmse" in out:
            out["nmse"][ii] = nmse(yt, yp)
        if "dle" in out:
            out["dle"][ii] = dle(yt, yp, pos)
        if "sd" in out:
            out["sd"][ii] = spatial_dispersion(yt, yp, pos)
        if "oa" in out:
            out["oa"][ii] = overall_amplitude(yt, yp)
    return out
