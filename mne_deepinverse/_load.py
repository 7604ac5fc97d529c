# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Loading a model: a pretrained name, a file, a model or a fitted estimator.

Pretrained models are read once and shared: a model never changes (its
bindings are :class:`~mne_deepinverse.PreparedModel` objects of their own).
"""

from pathlib import Path

from mne.utils import _validate_type

from ._model import DeepInverseModel, read_deep_inverse_model
from ._registry import PRETRAINED
from .datasets import fetch_pretrained_file

_PRETRAINED_CACHE = {}


def load_model(model):
    """Return the DeepInverseModel for a name, a file, a model or an estimator.

    Parameters
    ----------
    model : str | path-like | DeepInverseModel | DeepInverse
        A pretrained model's name, a saved model (``.onnx``), a model, or a
        fitted :class:`~mne_deepinverse.DeepInverse` (its ``model_``).

    Returns
    -------
    model : DeepInverseModel
        The model (pretrained ones are read once and shared: models never
        change).
    """
    from sklearn.base import BaseEstimator
    from sklearn.utils.validation import check_is_fitted

    if isinstance(model, DeepInverseModel):
        return model
    if isinstance(model, BaseEstimator):  # a DeepInverse: its fitted model
        check_is_fitted(model, "model_")
        return model.model_
    _validate_type(model, (str, "path-like", DeepInverseModel, BaseEstimator),
                   "model")
    model_str = str(model)
    if model_str in PRETRAINED:
        if model_str not in _PRETRAINED_CACHE:
            fname = fetch_pretrained_file(PRETRAINED[model_str]["model"])
            _PRETRAINED_CACHE[model_str] = read_deep_inverse_model(fname)
        return _PRETRAINED_CACHE[model_str]
    if Path(model_str).suffix == ".onnx" or Path(model_str).exists():
        return read_deep_inverse_model(model_str)
    raise ValueError(
        f"Invalid value for the 'model' parameter. Allowed values are "
        f"{sorted(PRETRAINED)}, a path to a saved model (.onnx), a "
        f"DeepInverseModel or a fitted DeepInverse, but got {model!r} instead."
    )
