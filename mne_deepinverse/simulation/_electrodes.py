# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Random electrode-position errors of an EEG cap on the template (training data).

A recording's electrodes are not where the model's forward puts them: a
digitisation differs from the standard montage by millimetres per electrode,
and the cap as a whole is co-registered to the template with errors of a few
mm and degrees. The shipped scalp lead field
(:mod:`mne_deepinverse.datasets._leadfield`) gives the gains of any electrode
set on the template's scalp in two small matrix products, so training data
can be simulated through a freshly displaced cap for every group of samples
while the network reads the nominal channels.
"""

import mne
import numpy as np
from scipy.spatial.transform import Rotation

from ..datasets._leadfield import scalp_interpolation, shipped_leadfield
from ..datasets._template import DEFAULT_CONDUCTIVITY, get_template_trans

#: Keys of ``electrode_error`` and their defaults: per-electrode displacement
#: (sd per axis, mm) and the largest rigid co-registration error (mm, degrees).
ELECTRODE_ERROR_DEFAULTS = dict(jitter_mm=3.0, coreg_mm=3.0, coreg_deg=3.0)


def _check_electrode_error(electrode_error):
    if not isinstance(electrode_error, dict):
        raise TypeError("electrode_error must be a dict (keys "
                        f"{sorted(ELECTRODE_ERROR_DEFAULTS)}) or None, got "
                        f"{type(electrode_error).__name__}.")
    unknown = sorted(set(electrode_error) - set(ELECTRODE_ERROR_DEFAULTS))
    if unknown:
        raise ValueError(f"Unknown electrode_error key(s) {unknown}; use "
                         f"{sorted(ELECTRODE_ERROR_DEFAULTS)}.")
    out = {**ELECTRODE_ERROR_DEFAULTS, **electrode_error}
    for key, value in out.items():
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"electrode_error[{key!r}] must be >= 0, got {value}.")
    return {key: float(value) for key, value in out.items()}


class ElectrodeErrors:
    """Gains of an EEG cap displaced at random on the template's scalp.

    Parameters
    ----------
    fwd : instance of Forward
        Fixed-orientation EEG-only forward on the template's ico4 source space
        (:func:`~mne_deepinverse.datasets.make_template_forward` or a
        pretrained model's forward).
    jitter_mm, coreg_mm, coreg_deg : float
        See :data:`ELECTRODE_ERROR_DEFAULTS`.
    """

    def __init__(self, fwd, *, jitter_mm, coreg_mm, coreg_deg):
        self.jitter, self.coreg_mm, self.coreg_deg = jitter_mm, coreg_mm, coreg_deg
        types = set(fwd["info"].get_channel_types())
        vertno = [s["vertno"] for s in fwd["src"]]
        lf = shipped_leadfield("ico4", DEFAULT_CONDUCTIVITY)
        if types != {"eeg"} or len(vertno) != 2 or not all(
                np.array_equal(v, lf[f"vertno_{h}"]) for h, v in enumerate(vertno)):
            raise ValueError(
                "electrode_error needs an EEG-only forward on the template's ico4 "
                "source space (make_template_forward(info) or "
                "read_pretrained_forward(...)); this forward has channel types "
                f"{sorted(types)} and {fwd['nsource']} sources.")
        self.pos = np.array([ch["loc"][:3] for ch in fwd["info"]["chs"]])
        self.trans = get_template_trans()
        nn = np.asarray(fwd["source_nn"], np.float64)  # (n_sources, 3), head
        right = lf["right"].astype(np.float64).reshape(len(lf["right"]), -1, 3)
        self.right = np.einsum("rsk,sk->rs", right, nn)
        self.left = lf["left"].astype(np.float64)
        self.lf = lf

    def gains(self, pos):
        """Fixed-orientation gains (n_electrodes, n_sources) of positions (head, m)."""
        interp = scalp_interpolation(self.lf, mne.transforms.apply_trans(
            self.trans, pos))
        return (interp @ self.left) @ self.right

    def draw(self, rng):
        """Return the gains of the cap displaced at random, and its positions."""
        axis = rng.normal(size=3)
        angle = np.deg2rad(rng.uniform(0, self.coreg_deg))
        rot = Rotation.from_rotvec(angle * axis / np.linalg.norm(axis)).as_matrix()
        shift = rng.normal(size=3)
        shift *= rng.uniform(0, self.coreg_mm) * 1e-3 / np.linalg.norm(shift)
        pos = self.pos @ rot.T + shift
        pos += rng.normal(scale=self.jitter * 1e-3, size=pos.shape)
        return self.gains(pos), pos
