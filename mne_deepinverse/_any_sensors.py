# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Training data of any-sensor models: many sensor configurations, one cortex.

An any-sensor model (``model="anysensor"``) reads linear estimates on its
source space, computed from whatever sensors the data come from. It is
trained over several forwards on one source space (EEG caps, MEG arrays in
several head positions, EEG+MEG): every batch is simulated for one of them
(patches, sensor noise per channel type, SNR after whitening), whitened,
normalised and mapped to MNE, dSPM and sLORETA estimates with that
forward's kernels (:func:`mne_deepinverse._sensors.linear_kernels`) and, with
``scan``, to a single-dipole scan with its whitened gain, exactly as the
exported graph does at apply time with the user's forward.
"""

import numpy as np
from mne.utils import logger

from ._preprocessing import normalise_numpy
from ._sensors import linear_kernels
from ._utils import _check_fixed_forward
from .backends.anysensor import dipole_scan


class SensorConfigs:
    """Draw training batches over several forwards on one source space.

    Parameters
    ----------
    fwds : list of Forward
        Fixed-orientation forwards on the same source space.
    sim_params : dict
        Parameters of :class:`~mne_deepinverse.simulation.PatchSimulator`.
    methods : list of str
        The linear kernels (e.g. ``["MNE", "dSPM", "sLORETA"]``).
    lambda2 : float
        Their regularisation.
    noise_cov : instance of Covariance | None
        Noise covariance of every forward (None: ad hoc per forward).
    scan : bool
        Append the single-dipole scan
        (:func:`~mne_deepinverse.backends.anysensor.dipole_scan`) to the
        estimates, as the exported graph computes it from the whitened gain.
    """

    def __init__(self, fwds, sim_params, methods, lambda2, noise_cov=None,
                 scan=False):
        from .simulation import PatchSimulator
        from .simulation._windows import _check_sim_keys

        _check_sim_keys(sim_params, PatchSimulator)
        self.configs = []
        vertices = None
        for ii, fwd in enumerate(fwds):
            fwd = _check_fixed_forward(fwd)
            verts = [s["vertno"].tolist() for s in fwd["src"]]
            if vertices is None:
                vertices = verts
            elif verts != vertices:
                raise ValueError(
                    f"The forwards must share one source space, but forward {ii} "
                    "has other sources than the first; make them all on the same "
                    "source space (e.g. the template's)."
                )
            sim = PatchSimulator(fwd, noise_cov=noise_cov, **sim_params)
            sensors = sim.sensors
            logger.info(f"    Sensor configuration {ii}: {sensors.description}")
            kernels = linear_kernels(fwd, sensors, methods, lambda2=lambda2)
            n_k, n_src, n_ch = kernels.shape
            unit = None
            if scan:
                gain = sensors.pre_gain(sim.gain)
                unit = (gain / np.maximum(np.linalg.norm(gain, axis=0), 1e-30)
                        ).astype(np.float32)
            self.configs.append(dict(
                sim=sim, sensors=sensors, fwd=fwd, unit_gain=unit,
                whitener=None if not sensors.whitened else sensors.W,
                kernel_t=np.ascontiguousarray(kernels.reshape(n_k * n_src, n_ch).T)))

    @property
    def descriptions(self):
        """The sensors of every configuration in words (list of str)."""
        return [c["sensors"].description for c in self.configs]

    def estimates(self, config, X):
        """Linear estimates of raw samples ``X`` as the graph computes them."""
        c = self.configs[config]
        x = normalise_numpy(X.astype(np.float64), c["whitener"])
        est = (x @ c["kernel_t"]).astype(np.float32)
        if c["unit_gain"] is None:
            return est
        return np.concatenate([est, dipole_scan(x.astype(np.float32), c["unit_gain"])],
                              axis=1)

    def draw(self, n, rng):
        """Simulate ``n`` samples for one configuration drawn at random.

        Returns
        -------
        est : array, shape (n, n_kernels * n_sources)
            The network's inputs.
        Y : array, shape (n, n_sources)
            Source moments (Am).
        """
        config = int(rng.integers(len(self.configs)))
        X, Y = self.configs[config]["sim"].simulate(n, rng)
        return self.estimates(config, X), Y

    def validation(self, n, rng):
        """Return a validation set spread over the configurations.

        Returns
        -------
        est : array, shape (n, n_kernels * n_sources)
            Network inputs of all configurations.
        Y : array, shape (n, n_sources)
            Their source maps.
        raw : list of tuple
            Per configuration, its raw samples and maps ``(X, Y)``.
        """
        per = max(1, n // len(self.configs))
        raw = [c["sim"].simulate(per, rng) for c in self.configs]
        est = np.concatenate([self.estimates(ii, X) for ii, (X, _) in enumerate(raw)])
        return est, np.concatenate([Y for _, Y in raw]), raw
