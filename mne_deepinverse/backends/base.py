# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""The contract of a network backend: one :class:`Backend` subclass per network.

What differs between networks lives in the network's own module, as a
subclass of :class:`Backend` that is registered by its ``name`` when the
module is imported (the module itself is listed once, in
:data:`mne_deepinverse._registry.BACKENDS`). Orchestrators (the estimator,
the exporter, the model zoo) read the spec's attributes and call its methods;
they hold no ``if name == ...`` and probe no module attributes.

A spec says:

- ``defaults``, ``loss``, ``runtime_keys``: its hyper-parameters (and those
  accepted but not stored with the model, e.g. a local path), its default
  training loss;
- ``input_kind``: what the network reads (``"sample"``: one time sample;
  ``"window"``: windows of samples), as the card's
  :class:`~mne_deepinverse._card.InputSpec`;
- ``sensor_kind``: how a trained model meets the sensors (``"fixed"``
  channels, ``"any_cap"``, ``"any_sensor"``), the card's
  :class:`~mne_deepinverse._card.SensorSpec` kind and the binding strategy
  of :mod:`mne_deepinverse._bindings`;
- ``needs``: the arrays ``build`` takes that the training side computes
  from the forward (by provider name: ``"kernels"``, ``"kernel"``,
  ``"sphere_pos"``; see :mod:`mne_deepinverse._backend_inputs`);
- ``apply_inputs``: the exported graph's inputs besides the data, which the
  sensor binding computes at apply time for the user's forward (and noise
  covariance); ``rows_per_call``: the most time samples its graph runs on at
  once when applied (a bound on its working memory, in the card's
  ``apply`` entry);
- ``trained_by``: None when :class:`~mne_deepinverse.DeepInverse` trains it,
  else the script that does;
- ``warm_startable``: whether :class:`~mne_deepinverse.DeepInverse` can
  start it from a trained dense-layer model (``warm_start``).

and it builds the torch module (:meth:`Backend.build`), exports a trained one
as ONNX (:meth:`Backend.export`), maps training targets onto the network's
training output (:meth:`Backend.train_targets`) and describes itself
(:attr:`Backend.summary`). This module needs no torch.
"""

from __future__ import annotations

import numbers

import numpy as np
from mne.utils import _check_dict_keys

#: Registered backends: name -> spec class (filled as their modules load).
_SPECS = {}
#: Integer hyper-parameters for which 0 means "none of it".
_ZERO_IS_NONE = ("groups", "vertex_head", "scan")
#: The training losses (``DeepInverse(loss=...)``; see ``backends.losses``).
LOSSES = ("cosine_mse", "cosine_wmse", "hausdorff", "mse")


class Backend:
    """The contract of a network backend (subclass it in the network's module).

    Subclasses set the class attributes below and implement :meth:`build`;
    defining a subclass with a ``name`` registers it.
    """

    #: The backend's name (``DeepInverse(model=name)``).
    name = ""
    #: Hyper-parameters and their defaults.
    defaults = {}
    #: The default training loss.
    loss = "cosine_wmse"
    #: Hyper-parameters accepted but not stored with the model.
    runtime_keys = ()
    #: What the network reads: "sample" or "window".
    input_kind = "sample"
    #: How a trained model meets the sensors: "fixed", "any_cap", "any_sensor".
    sensor_kind = "fixed"
    #: Arrays ``build`` takes, computed from the forward by the training side.
    needs = ()
    #: Graph inputs besides the data, fed at apply time by the sensor binding.
    apply_inputs = ()
    #: Most time samples the exported graph runs on in one call at apply time
    #: (bounds its working memory; stored in the card).
    rows_per_call = 256
    #: None: trained by DeepInverse.fit; else the script that trains it.
    trained_by = None
    #: Whether DeepInverse can start it from a trained dense-layer model.
    warm_startable = False
    #: What the network is, in one sentence (the model zoo).
    summary = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.name:
            _SPECS[cls.name] = cls

    # --- hyper-parameters --------------------------------------------------------
    def hyper_params(self, given=None):
        """Return the hyper-parameters: the defaults updated with ``given``."""
        return {**self.defaults, **(given or {})}

    def stored(self, hyper):
        """Return the hyper-parameters stored with a model (no runtime keys)."""
        return {k: v for k, v in hyper.items() if k not in self.runtime_keys}

    def check_hyper_params(self, hyper):
        """Raise for unknown keys, and numeric values unlike their default's form."""
        defaults = self.defaults
        allowed = sorted(set(defaults) | set(self.runtime_keys))
        _check_dict_keys(
            hyper, allowed, "hyper_params key(s)",
            f"the hyper-parameters of model={self.name!r} (allowed: {allowed})",
        )

        def is_int(v, low):
            return (isinstance(v, numbers.Integral) and not isinstance(v, bool)
                    and v >= low)

        for key, value in hyper.items():
            default, low = defaults.get(key), 0 if key in _ZERO_IS_NONE else 1
            if isinstance(default, float):
                ok = (isinstance(value, numbers.Real) and not isinstance(value, bool)
                      and np.isfinite(value) and value > 0)
                what = "a positive, finite number"
            elif isinstance(default, int):
                ok, what = is_int(value, low), f"an integer >= {low}"
            elif isinstance(default, tuple) and all(isinstance(d, int)
                                                    for d in default):
                ok = (isinstance(value, tuple | list) and len(value) == len(default)
                      and all(is_int(v, low) for v in value))
                what = f"a tuple of {len(default)} integers >= {low}"
            else:
                continue
            if not ok:
                raise ValueError(
                    f"hyper_params[{key!r}] must be {what} (default {default!r}), "
                    f"got {value!r}."
                )

    # --- the network ---------------------------------------------------------------
    def build(self, meta, hyper, **inputs):
        """Build an untrained network (a torch module).

        Parameters
        ----------
        meta : dict
            The card entries of the forward (sensors, sources, input).
        hyper : dict
            The hyper-parameters (missing keys take :attr:`defaults`).
        **inputs
            The arrays of :attr:`needs` (and of the training data, e.g. a
            region simulator's expansion).

        Returns
        -------
        net : torch.nn.Module
            Maps normalised data to a non-negative source-map shape.
        """
        raise NotImplementedError(f"The {self.name} backend does not build networks.")

    def export(self, net, gain_pre, card, *, fp16=True, whitener=None):
        """Export a trained network as an ONNX model (bytes) with its card.

        The default: torch's exporter, with the pre-processing (average
        reference or ``whitener``) and the projection through ``gain_pre``
        (the average-referenced or whitened gain) in the graph.
        """
        from .._export import export_torch_model

        return export_torch_model(self.for_export(net), gain_pre, card, fp16=fp16,
                                  whitener=whitener)

    def for_export(self, net):
        """Return the module a graph is exported from (its outputs: sources)."""
        return net

    def train_targets(self, net):
        """Return a map of target batches onto the network's training output.

        None: the network is trained on the source maps themselves.
        """
        return None


def get_spec(name):
    """Return the registered spec of an imported backend module's ``name``."""
    return _SPECS[name]()
