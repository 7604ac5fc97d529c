# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""The sensors a model reads: channel types, projectors and the whitener.

EEG-only models read average-referenced EEG in V (their graphs subtract the
channels' mean). Models that read MEG (magnetometers, gradiometers or both)
or EEG and MEG together combine the channel types the way MNE's inverse
operators do: the data are projected (SSP projectors, the EEG average
reference) and whitened with a noise covariance
(:func:`mne.cov.compute_whitener`, no PCA), an ad hoc diagonal one by default
(:func:`mne.make_ad_hoc_cov`: 5 fT/cm, 20 fT, 0.2 µV). The whitened data are
what the network reads, and the amplitude fit compares them with the
whitened forward projection, so every channel type counts by its noise.

The model card's ``sensors`` entry stores the channel types, the noise
covariance and the projectors; the whitener is rebuilt from them, the same
way at training and at apply time, and the graph holds it as a constant.
"""

import mne
import numpy as np
from mne.io.constants import FIFF
from mne.utils import _validate_type

from ._preprocessing import reference_numpy

#: Channel types a model can read.
SENSOR_TYPES = ("eeg", "mag", "grad")
#: Largest distance (m, median over the sensors) between the MEG sensors of
#: the data and of the model, both in head coordinates: a head moved further
#: in the helmet than this needs a forward for its position.
MAX_MEG_SHIFT = 0.01


def channel_types(info, picks):
    """Return the channel type ("eeg", "mag", "grad", ...) of every pick."""
    return [mne.channel_type(info, p) for p in picks]


def sensor_picks(info, types=SENSOR_TYPES):
    """Return the indices of the channels of ``types`` (bads included)."""
    meg = [t for t in types if t in ("mag", "grad")]
    meg = True if set(meg) == {"mag", "grad"} else (meg[0] if meg else False)
    return mne.pick_types(info, meg=meg, eeg="eeg" in types, exclude=())


def sensor_gain(fwd, types=SENSOR_TYPES):
    """Gain, names and types of the forward's channels of ``types``.

    Parameters
    ----------
    fwd : instance of Forward
        The forward model.
    types : tuple of str
        Channel types to pick (default: EEG and MEG).

    Returns
    -------
    gain : array, shape (n_channels, n_sources)
        Rows in the forward's channel order (SI units per Am).
    ch_names : list of str
        The channels.
    ch_types : list of str
        Their types.
    """
    info = fwd["info"]
    picks = sensor_picks(info, types)
    if len(picks) == 0:
        kinds = sorted(set(info.get_channel_types()) if len(info["chs"]) else ())
        raise ValueError(
            f"The forward has no {'/'.join(types)} channels (it has {kinds}); "
            "mne-deepinverse models read EEG and MEG (magnetometers, "
            "gradiometers). Make an EEG or MEG forward model."
        )
    names = [info["ch_names"][p] for p in picks]
    rows = [fwd["sol"]["row_names"].index(n) for n in names]
    return (np.asarray(fwd["sol"]["data"][rows], dtype=np.float64), names,
            channel_types(info, picks))


def sensor_positions_head(info, picks):
    """Sensor positions (m) in head coordinates (MEG through ``dev_head_t``)."""
    out = np.array([info["chs"][p]["loc"][:3] for p in picks], dtype=np.float64)
    meg = np.array([info["chs"][p]["coord_frame"] == FIFF.FIFFV_COORD_DEVICE
                    for p in picks], bool)
    if meg.any():
        if info["dev_head_t"] is None:
            raise ValueError(
                "The MEG sensors cannot be placed relative to the head: the info "
                "has no device-to-head transform (info['dev_head_t']). Read the "
                "data with their head-position measurement, or set it."
            )
        out[meg] = mne.transforms.apply_trans(info["dev_head_t"], out[meg])
    return out


def _check_cov_channels(cov, names):
    """Raise if a noise covariance lacks channels of the forward (and data)."""
    missing = [ch for ch in names if ch not in cov["names"]]
    if missing:
        shown = str(missing) if len(missing) <= 10 else (
            f"{missing[:10]} and {len(missing) - 10} more")
        raise ValueError(
            f"The noise covariance lacks {len(missing)} channel(s) of the "
            f"forward: {shown}. Compute it on the same channels, e.g. "
            "mne.compute_covariance(epochs, tmax=0.0, method='shrunk') on data "
            "with the forward's channels."
        )


def _cov_entry(cov, ch_names, kind):
    """JSON form of a noise covariance on ``ch_names`` (7 significant digits)."""
    idx = [cov["names"].index(ch) for ch in ch_names]
    if cov["diag"]:
        data = np.asarray(cov["data"])[idx]
    else:
        data = np.asarray(cov["data"])[np.ix_(idx, idx)]
    return dict(kind=kind, diag=bool(cov["diag"]), nfree=int(cov["nfree"]),
                data=np.vectorize(lambda v: float(f"{v:.7g}"))(data).tolist())


class Sensors:
    """What a model reads and how: channels, types, projectors, whitener.

    Parameters
    ----------
    ch_names : list of str
        The channels, in the model's order.
    ch_types : list of str
        Their types (``"eeg"``, ``"mag"``, ``"grad"``).
    noise_cov : dict | None
        The card's noise covariance entry (``kind``, ``diag``, ``nfree``,
        ``data`` on ``ch_names``); None: EEG only, average reference.
    projs : list of dict
        The card's projectors (``desc``, ``data`` on ``ch_names``), the EEG
        average reference included.
    """

    def __init__(self, ch_names, ch_types, noise_cov=None, projs=()):
        self.ch_names = list(ch_names)
        self.ch_types = list(ch_types)
        self.noise_cov = noise_cov
        self.projs = list(projs)
        self._W = self._colorer = self._rank = None

    # --- construction -------------------------------------------------------
    @classmethod
    def from_forward(cls, fwd, noise_cov=None, ch_names=None, *, projs=None,
                     whiten=False):
        """Make the sensors of a forward (all its EEG and MEG channels).

        EEG-only forwards without ``noise_cov`` (and ``whiten=False``) give
        the average-reference sensors; others are whitened with ``noise_cov``
        (ad hoc if None) after the SSP projectors (``projs``, by default those
        of ``noise_cov`` and the forward) and, with EEG, an average reference.
        ``ch_names`` picks channels of the forward.
        """
        _validate_type(noise_cov, (mne.Covariance, None), "noise_cov")
        _, names, types = sensor_gain(fwd)
        if ch_names is not None:
            keep = [names.index(ch) for ch in ch_names]
            names, types = [names[k] for k in keep], [types[k] for k in keep]
        if noise_cov is None and set(types) == {"eeg"} and not whiten:
            return cls(names, types)
        if noise_cov is None:
            noise_cov = mne.make_ad_hoc_cov(mne.create_info(names, 1000.0, types),
                                            verbose=False)
            kind = "ad hoc"
        else:
            _check_cov_channels(noise_cov, names)
            kind = "given"
        # SSP projectors: those of the noise covariance (computed on projected
        # data, as for mne.minimum_norm.make_inverse_operator) and the forward's
        if projs is None:
            projs = [*noise_cov["projs"], *fwd["info"].get("projs", [])]
        projs = [p for p in projs
                 if not p["desc"].startswith("Average EEG reference")]
        projs = list({p["desc"]: p for p in projs}.values())
        projs = [dict(desc=p["desc"], data=_proj_on(p, names).tolist())
                 for p in projs]
        if "eeg" in types:
            eeg = np.array([t == "eeg" for t in types], float)
            projs.append(dict(desc="Average EEG reference",
                              data=(eeg / np.sqrt(eeg.sum())).tolist()))
        return cls(names, types, _cov_entry(noise_cov, names, kind), projs)

    @classmethod
    def from_card(cls, card):
        """Make the sensors of a model card (format 2: EEG, average reference)."""
        entry = card.get("sensors")
        names = card.get("ch_names") or []
        if entry is None:
            return cls(names, ["eeg"] * len(names))
        return cls(names, entry["ch_types"], entry.get("noise_cov"),
                   entry.get("projs", ()))

    def to_card(self):
        """Return the card's ``sensors`` entry (None: average-referenced EEG)."""
        if not self.whitened:
            return None
        return dict(ch_types=self.ch_types, noise_cov=self.noise_cov,
                    projs=self.projs, rank=self.rank)

    # --- what they are ------------------------------------------------------
    @property
    def whitened(self):
        """Whether the data are whitened (else: average-referenced EEG)."""
        return self.noise_cov is not None

    @property
    def description(self):
        """The channels in words, e.g. "102 mag + 204 grad + 60 EEG"."""
        names = dict(mag="mag", grad="grad", eeg="EEG")
        return " + ".join(f"{self.ch_types.count(t)} {name}"
                          for t, name in names.items() if t in self.ch_types)

    def covariance(self):
        """Return the noise covariance as an :class:`mne.Covariance`."""
        cov = self.noise_cov
        return mne.Covariance(np.asarray(cov["data"], np.float64), self.ch_names,
                              bads=[], projs=[], nfree=cov["nfree"], verbose=False)

    def info(self, sfreq=1000.0):
        """Return an Info of the channel types and projectors (no positions)."""
        info = mne.create_info(self.ch_names, sfreq, self.ch_types)
        projs = [mne.Projection(
            data=dict(nrow=1, ncol=len(self.ch_names), row_names=None,
                      col_names=list(self.ch_names),
                      data=np.asarray(p["data"], np.float64)[None]),
            desc=p["desc"], kind=FIFF.FIFFV_PROJ_ITEM_FIELD, active=False,
            explained_var=None) for p in self.projs]
        with info._unlock():
            info["projs"] = projs
        return info

    @property
    def W(self):
        """The whitener (n_channels, n_channels): projectors, then noise."""
        if self._W is None:
            if not self.whitened:
                n = len(self.ch_names)
                self._W = np.eye(n) - 1.0 / n
            else:
                self._W = mne.cov.compute_whitener(
                    self.covariance(), self.info(), pca=False, rank=None,
                    verbose=False)[0]
        return self._W

    @property
    def rank(self):
        """The rank of :attr:`W` (the whitened data's dimension)."""
        if self._rank is None:
            self._rank = int(np.linalg.matrix_rank(self.W))
        return self._rank

    @property
    def colorer(self):
        """Pseudo-inverse of :attr:`W`: whitened values back in sensor units."""
        if self._colorer is None:
            self._colorer = np.linalg.pinv(self.W)
        return self._colorer

    # --- arithmetic ----------------------------------------------------------
    def pre(self, X):
        """Return what the network reads of rows ``X`` (..., n_channels), unscaled.

        Average-referenced EEG, or the whitened data.
        """
        return reference_numpy(X, self.W if self.whitened else None)

    def pre_gain(self, gain):
        """Return the gain as the model compares it with :meth:`pre` data."""
        return self.pre(np.asarray(gain).T).T

    def project(self, X):
        """Rows ``X`` after the projectors (sensor units)."""
        X = np.asarray(X)
        if not self.whitened:
            return reference_numpy(X)
        if not self.projs:
            return X
        # orthonormal basis of the projectors' vectors (as mne.make_projector)
        basis = np.linalg.qr(np.array([p["data"] for p in self.projs]).T)[0]
        return X - (X @ basis) @ basis.T

    def cov_matrix(self):
        """Return the noise covariance as a full (n_channels, n_channels) array."""
        cov = np.asarray(self.noise_cov["data"], np.float64)
        return np.diag(cov) if cov.ndim == 1 else cov

    def noise_sqrt(self):
        """Square root of the noise covariance (sensor units)."""
        cov = np.asarray(self.noise_cov["data"], np.float64)
        if cov.ndim == 1:
            return np.diag(np.sqrt(cov))
        evals, evecs = np.linalg.eigh(cov)
        return evecs * np.sqrt(np.clip(evals, 0, None))


def linear_kernels(fwd, sensors, methods, *, lambda2=1.0 / 9.0, depth=0.8):
    """Linear inverse kernels of MNE's minimum-norm solvers for a forward.

    Each kernel maps what a network reads (average-referenced EEG, or
    whitened data for MEG and EEG+MEG) to signed source amplitudes; it is
    read off :func:`mne.minimum_norm.apply_inverse` applied to the identity
    (one "time sample" per channel), with the sensors' noise covariance (an
    ad-hoc diagonal one for average-referenced EEG), fixed orientations and
    the projectors (the EEG average reference); for whitened data it is then
    multiplied by the pseudo-inverse of the whitener.

    Parameters
    ----------
    fwd : instance of Forward
        Forward with the sensors' channels. With free orientations (surface
        source space) the kernels use depth weighting; a fixed-orientation
        forward gives no depth information, so its kernels are computed
        without.
    sensors : Sensors
        The channels, whitener and projectors.
    methods : list of str
        Any of ``"MNE"``, ``"dSPM"``, ``"sLORETA"``, ``"eLORETA"``.
    lambda2 : float
        Regularisation.
    depth : float | None
        Depth weighting exponent.

    Returns
    -------
    kernels : array of float32, shape (n_methods, n_sources, n_channels)
        The kernels, each scaled to a largest absolute entry of 1 (the
        networks see per-sample normalised estimates, so the scale is free).
    """
    from mne.utils import logger

    from ._utils import _make_info
    from .baselines import apply_baseline, make_baseline_operator

    ch_names = sensors.ch_names
    info = _make_info(fwd, ch_names, 100.0)
    cov = None
    if sensors.whitened:
        cov = sensors.covariance()
        with info._unlock():  # the SSP projectors (the average reference below)
            info["projs"] = [p for p in sensors.info()["projs"]
                             if p["desc"] != "Average EEG reference"]
    fwd = mne.pick_channels_forward(fwd, ch_names, ordered=True, verbose=False)
    eye = mne.EvokedArray(np.eye(len(ch_names)), info, tmin=0.0, nave=1,
                          verbose=False)
    if "eeg" in sensors.ch_types:
        eye.set_eeg_reference("average", projection=True, verbose=False)
    if fwd["source_ori"] == FIFF.FIFFV_MNE_FIXED_ORI:
        depth = None
    inv = make_baseline_operator(eye.info, fwd, "MNE", depth=depth, noise_cov=cov,
                                 verbose=False)
    kernels = []
    for method in methods:
        logger.info(f"    Linear kernel: {method}")
        kern = apply_baseline(eye, fwd, method, operator=inv,
                              snr=lambda2**-0.5).data
        if sensors.whitened:  # maps whitened data: K W+ W x = K x
            kern = kern @ sensors.colorer
        kernels.append(kern / np.abs(kern).max())
    return np.stack(kernels).astype(np.float32)


def _proj_on(proj, ch_names):
    """Return a projector's unit vector on ``ch_names`` (zero elsewhere)."""
    cols = proj["data"]["col_names"]
    vec = np.zeros(len(ch_names))
    data = np.asarray(proj["data"]["data"], np.float64)[0]
    for ii, ch in enumerate(ch_names):
        if ch in cols:
            vec[ii] = data[cols.index(ch)]
    norm = np.linalg.norm(vec)
    return vec / norm if norm > 0 else vec
