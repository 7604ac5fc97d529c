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
"""

import numpy as np
from mne.utils import _check_option, logger
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
