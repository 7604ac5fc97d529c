# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Training losses: on max-normalised source maps, or plain MSE (torch)."""

import torch
from mne.utils import _check_option

from .base import LOSSES


def cosine_mse(pred, target):
    """Cosine distance plus mean squared error, averaged over the batch."""
    cos = torch.nn.functional.cosine_similarity(pred, target, dim=1, eps=1e-8)
    return (1 - cos).mean() + torch.mean((pred - target) ** 2)


def mse(pred, target):
    """Mean squared error (signed targets, e.g. BOLD signal changes)."""
    return torch.mean((pred - target) ** 2)


def cosine_wmse(pred, target, active_weight=9.0):
    """Cosine distance plus MSE weighted towards the active sources.

    Each source's squared error is weighted by ``1 + active_weight * target``,
    so missing an active source costs up to ten times more than a false
    positive among the many inactive ones: predicting all zeros (or a
    constant) is never a cheap minimum, and the cosine term has no minimum
    there at all.
    """
    cos = torch.nn.functional.cosine_similarity(pred, target, dim=1, eps=1e-8)
    weight = 1 + active_weight * target
    return (1 - cos).mean() + torch.mean(weight * (pred - target) ** 2)


class WeightedHausdorff:
    r"""Weighted Hausdorff distance of Ribera et al. :footcite:`RiberaEtAl2019`.

    For a predicted map ``p`` in [0, 1] over the sources ``x`` and the set
    ``Y`` of active true sources,

    .. math::

        d(p, Y) = \frac{1}{S + \epsilon} \sum_x p_x \min_{y \in Y} d(x, y)
        + \frac{1}{|Y|} \sum_{y \in Y} M_\alpha \left[ p_x d(x, y)
        + (1 - p_x) d_{max} \right]_x

    with ``S = sum_x p_x``, ``d_max`` the largest distance between sources and
    ``M_alpha`` the generalised mean with ``alpha = -1`` (a soft minimum).
    Written from the paper's formula; distances in cm.

    Parameters
    ----------
    pos : array, shape (n_sources, 3)
        Source positions in m.
    alpha : float
        Exponent of the generalised mean.
    """

    def __init__(self, pos, alpha=-1.0):
        self.pos = torch.as_tensor(pos, dtype=torch.float32) * 100.0  # cm
        self.alpha = alpha
        self.d_max = float(torch.cdist(self.pos, self.pos).max())

    def __call__(self, pred, target):
        """Mean distance over the batch."""
        pred = pred.clamp(0, 1)
        losses = []
        for p, y in zip(pred, target, strict=True):
            active = torch.nonzero(y > 0).flatten()
            if len(active) == 0:
                losses.append(p.mean())
                continue
            d = torch.cdist(self.pos, self.pos[active])  # (n_sources, n_active)
            term1 = (p * d.min(dim=1).values).sum() / (p.sum() + 1e-6)
            w = p[:, None] * d + (1 - p[:, None]) * self.d_max + 1e-6
            gen_mean = torch.mean(w**self.alpha, dim=0) ** (1.0 / self.alpha)
            losses.append(term1 + gen_mean.mean())
        return torch.stack(losses).mean()


def get_loss(name, pos):
    """Return the loss callable ``loss(pred, target)``."""
    _check_option("loss", name, LOSSES)
    losses = dict(cosine_mse=cosine_mse, cosine_wmse=cosine_wmse, mse=mse)
    return WeightedHausdorff(pos) if name == "hausdorff" else losses[name]
