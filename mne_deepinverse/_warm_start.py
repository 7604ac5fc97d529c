# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Fine-tuning: start a training from a trained model (``warm_start=``).

A ConvDip-type model (the 31-channel ``convdip``, the any-cap ``anycap`` or
any model trained with ``model="convdip"``) is stored as three dense layers
on the normalised EEG. Those layers are carried over to the new forward:

- channels: a one-cap model needs the forward's channels, in its order; an
  any-cap model's first layer reads its grid, so the forward's cap is
  interpolated onto the grid and that matrix is folded into the layer;
- sources: on the model's own source space the output layer is kept; on
  another one (an individual MRI) each source takes the output unit of the
  model's nearest source (head coordinates), and the training adapts it.
"""

import os

import numpy as np
from mne.utils import logger


def warm_start_layers(warm, meta):
    """Return the dense layers to start a training for a forward from.

    Parameters
    ----------
    warm : str | path-like | DeepInverseModel | DeepInverse
        The model to start from (a pretrained name, a saved file, a model or
        a fitted estimator).
    meta : dict
        The new forward's description (``_card.forward_entries``).

    Returns
    -------
    layers : list of tuple
        ``(weight (n_in, n_out), bias (n_out,), relu)`` per layer, for the
        forward's channels and sources.
    info : dict
        What the model card records of the start: the model, its backend,
        its training date, loss and simulation, and how its sources were
        mapped.
    """
    from ._export import read_dense_layers
    from ._load import load_model

    model = load_model(warm)
    card = model.card
    name = (str(warm) if isinstance(warm, str | os.PathLike)
            else f"a {model.backend} model")
    layers = read_dense_layers(model.onnx)
    if layers is None:
        raise ValueError(
            f"warm_start={name!r} is a {model.backend} model, whose network cannot "
            "be fine-tuned here: warm starts need a ConvDip-type model (dense "
            "layers): 'convdip', 'anycap' or a model trained with "
            "DeepInverse(model='convdip')."
        )
    ch_names = meta["ch_names"]
    if model.any_cap:
        from ._caps import cap_interpolation, check_cap

        pos = np.asarray(meta["ch_pos"])
        check_cap(ch_names, pos, card["cap"])
        w, b, relu = layers[0]
        layers[0] = (cap_interpolation(pos, card["cap"]) @ w, b, relu)
    elif ch_names != card["ch_names"]:
        missing = sorted(set(card["ch_names"]) - set(ch_names))
        raise ValueError(
            f"warm_start={name!r} reads the EEG channels {card['ch_names']}; the "
            f"forward has {ch_names}"
            + (f" (missing {missing})" if missing else " (another order)")
            + ". Pick and order the forward's channels as the model's with "
            "mne.pick_channels_forward(fwd, model_ch_names, ordered=True), or "
            "start from the any-cap model (warm_start='anycap')."
        )
    old = np.asarray(card["source_rr"], float)
    new = np.asarray(meta["source_rr"], float)
    if old.shape == new.shape and np.allclose(old, new, atol=1e-4):
        sources = "the model's own"
    else:
        from scipy.spatial import cKDTree

        dist, nearest = cKDTree(old).query(new)
        w, b, relu = layers[-1]
        layers[-1] = (w[:, nearest], b[nearest], relu)
        sources = (f"nearest of the model's {len(old)} sources (median "
                   f"{1e3 * np.median(dist):.1f} mm away)")
        logger.info(f"    The forward's {len(new)} sources start from the "
                    f"{sources}")
    training = card.get("training", {})
    simulation = card.get("simulation") or None
    if simulation and "Covariance" in simulation.values():
        simulation = None  # a noise covariance is not stored in the card
    info = dict(model=name, backend=model.backend, sources=sources,
                trained=training.get("date"), loss=training.get("loss"),
                simulation=simulation)
    return layers, info
