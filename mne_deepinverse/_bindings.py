# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Sensor bindings: a model card met with a forward, an info and a covariance.

How a model reads the sensors is a strategy, chosen by the card's
:attr:`~mne_deepinverse._card.SensorSpec.kind`:

- :class:`FixedSensors`: the channels the model was trained for; a forward,
  when given, must be the one it was trained on (same channels, sources and
  gain);
- :class:`AnyCap`: any EEG cap on the model's source space, read through the
  spherical-spline interpolation of its electrodes onto the model's grid;
- :class:`AnySensors`: any EEG cap and MEG array on the model's source space,
  whitened with the data's noise covariance and projectors, the linear
  kernels computed for the forward.

Each ``bind`` returns a new, immutable :class:`Binding`; nothing of the card,
the forward or the info is modified. The expensive bindings (interpolation,
kernels) are cached by *content* (a hash of the gain, the channels and their
positions, the covariance and the projectors), never by object identity: a
forward edited in place, or freed and replaced by another of the same shape,
gets a binding of its own.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field
from types import MappingProxyType

import mne
import numpy as np
from mne.utils import _validate_type, logger, warn

from ._caps import (
    cap_interpolation,
    check_cap,
    electrode_interpolation,
    on_fitted_sphere,
)
from ._checks import (
    _check_cap_coverage,
    _check_compensation,
    _check_forward_positions,
    _check_head_position,
    _check_meg_scales,
    _check_positions,
    _check_projectors,
    _check_reference,
    _check_scale,
    _eeg_positions,
    _short,
    _ssp_differ,
)
from ._sensors import (
    Sensors,
    _check_cov_channels,
    channel_types,
    linear_kernels,
    sensor_gain,
    sensor_picks,
    sensor_positions_head,
)
from ._utils import _check_fixed_forward, _eeg_gain, _gain_fingerprint, _reference

#: Most bindings kept in the content-keyed cache (oldest dropped first).
_CACHE_SIZE = 8
_CACHE = OrderedDict()


@dataclass(frozen=True, eq=False)
class Binding:
    """What a model reads of the data, for one forward / info / covariance.

    Parameters
    ----------
    ch_names : tuple of str
        The channels the network reads, in order.
    ch_types : tuple of str
        Their types.
    sensors : Sensors
        The average reference or whitener of the data the network reads.
    feeds : mapping
        Further graph inputs (an any-cap or any-sensor graph's arrays).
    fwd : instance of Forward | None
        The fixed-orientation forward it was bound with.
    eeg_pos : array, shape (n_eeg, 3) | None
        Electrode positions the data's must be near (fixed-channel models).
    meg_pos : array, shape (n_meg, 3) | None
        MEG sensor positions (head coordinates) the data's must be near.
    fwd_eeg_pos : array, shape (n_eeg, 3) | None
        Electrode positions of the forward the data's (when they have any)
        must be near (models that read the forward's channels).
    check_projectors : bool
        Whether the data's SSP projectors must be the model's (the whitener
        of a fixed-channel model holds them).
    comp_grade : int | None
        The CTF compensation grade the data must have (None: not checked).
    """

    ch_names: tuple
    ch_types: tuple
    sensors: Sensors
    feeds: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    fwd: mne.Forward | None = None
    eeg_pos: np.ndarray | None = None
    meg_pos: np.ndarray | None = None
    fwd_eeg_pos: np.ndarray | None = None
    check_projectors: bool = False
    comp_grade: int | None = None

    def check_info(self, info, *, on_mismatch="raise", kind="data"):
        """Check that ``info`` holds what the network reads; return the picks.

        See :meth:`mne_deepinverse.PreparedModel.check_info`.
        """
        _validate_type(info, mne.Info, "info")
        types = [t for t in ("eeg", "mag", "grad") if t in self.ch_types] or ["eeg"]
        eeg_only = types == ["eeg"]
        if len(sensor_picks(info, types)) == 0:
            kinds = sorted(set(info.get_channel_types()))
            raise ValueError(
                f"The {kind} has no EEG channels (it has {kinds}); this model is "
                "an EEG model and cannot be applied to MEG or other data."
                if eeg_only else
                f"The {kind} has no {'/'.join(types)} channels (it has {kinds}); "
                f"this model reads {self.sensors.description} channels."
            )
        names = list(self.ch_names)
        present = [ch for ch in names if ch in info["ch_names"]]
        have = dict(zip(present, channel_types(
            info, [info["ch_names"].index(ch) for ch in present]), strict=True))
        wrong = [f"{ch} ({have[ch]} in the {kind}, {t} for the model)"
                 for ch, t in zip(names, self.ch_types, strict=True)
                 if ch in have and have[ch] != t]
        if wrong:
            raise ValueError(
                f"{len(wrong)} channel(s) have another type in the {kind} than in "
                f"the model: {_short(wrong)}. Set the channel types the data were "
                "recorded with (set_channel_types), or use a model for them."
            )
        missing = [ch for ch in names if ch not in have]
        if missing:
            what = "EEG" if eeg_only else "sensor"
            hint = (" (with electrode positions, e.g. a montage, the EEG of "
                    "another cap is interpolated onto the model's electrodes)"
                    if eeg_only and self.eeg_pos is not None else "")
            raise ValueError(
                f"The {kind} lacks {len(missing)} {what} channel(s) the model "
                f"needs: {_short(missing)}. Interpolate or add them{hint}, or "
                "train a model for your channels with DeepInverse(fwd).fit()."
            )
        bads = [ch for ch in names if ch in info["bads"]]
        if bads:
            raise ValueError(
                f"Channel(s) {bads} needed by the model are marked bad; repair "
                f"them first, e.g. {kind}.interpolate_bads()."
            )
        if "eeg" in types:
            _check_reference(info, kind)
        if self.check_projectors:
            _check_projectors(info, self.sensors, kind)
        if self.comp_grade is not None:
            _check_compensation(info, self.comp_grade, kind)
        eeg = [ii for ii, t in enumerate(self.ch_types) if t == "eeg"]
        meg = [ii for ii, t in enumerate(self.ch_types) if t != "eeg"]
        if self.meg_pos is not None and meg:
            _check_head_position(info, [names[ii] for ii in meg], self.meg_pos,
                                 on_mismatch)
        if self.eeg_pos is not None and eeg:
            _check_positions(info, [names[ii] for ii in eeg], self.eeg_pos,
                             on_mismatch)
        if self.fwd_eeg_pos is not None and eeg:
            _check_forward_positions(info, [names[ii] for ii in eeg],
                                     self.fwd_eeg_pos, on_mismatch)
        return np.array([info["ch_names"].index(ch) for ch in names], int)

    def read_plan(self, info, *, on_mismatch="raise", kind="data"):
        """Return the data's channels to read and how they become the model's.

        See :meth:`mne_deepinverse.PreparedModel.read_plan`.
        """
        names = list(self.ch_names)
        interpolate = (
            self.eeg_pos is not None and not self.sensors.whitened
            and set(self.ch_types) == {"eeg"}
            and any(ch not in info["ch_names"] for ch in names))
        picks = mne.pick_types(info, meg=False, eeg=True, exclude="bads")
        if interpolate and len(picks):
            have = [info["ch_names"][p] for p in picks]
            try:
                pos = _eeg_positions(info, have)
            except ValueError:  # no montage: the channels' names must do
                pos = None
            if pos is not None:
                _check_scale(pos, self.eeg_pos)
                unit, unit_ref = on_fitted_sphere(pos, self.eeg_pos)
                _check_cap_coverage(unit, names, unit_ref, on_mismatch)
                _check_reference(info, kind)
                logger.info(f"    Interpolating {len(have)} EEG channels of the "
                            f"{kind} onto the model's {len(names)} (spherical "
                            "splines)")
                return picks, electrode_interpolation(unit, unit_ref)
        return self.check_info(info, on_mismatch=on_mismatch, kind=kind), None


def _frozen(feeds):
    """Read-only graph inputs (the arrays cannot be written either)."""
    for value in feeds.values():
        value.flags.writeable = False
    return MappingProxyType(feeds)


def _digest(*parts):
    """Return a content hash of arrays, strings and numbers."""
    h = hashlib.blake2b(digest_size=20)
    for part in parts:
        if isinstance(part, np.ndarray):
            part = np.ascontiguousarray(part)
            h.update(f"{part.dtype}{part.shape}".encode())
            h.update(part.tobytes())
        else:
            h.update(repr(part).encode())
        h.update(b"|")
    return h.hexdigest()


def _cached(key, make):
    """Return the binding of ``key``, made (and kept) if it is not cached."""
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    binding = make()
    _CACHE[key] = binding
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return binding


def _check_source_space(card, fwd, n_sources, backend):
    """Raise if a forward is not on the model's (template) source space."""
    source = card.source
    if n_sources != source.n_sources or not source.matches(fwd["src"]):
        raise ValueError(
            f"The forward has {n_sources} sources but this {backend} model works "
            f"on the template's {source.n_sources} ({source.subject}, other "
            "vertices). Build the forward on the template: "
            "mne_deepinverse.datasets.make_template_forward(inst.info)."
        )


def _comp_grade(fwd):
    """Return the CTF compensation grade of a forward's sensors (0: none)."""
    from mne._fiff.compensator import get_current_comp

    return int(get_current_comp(fwd["info"]) or 0)


def _check_gain(gain):
    """Raise if a forward's gain holds NaN or infinite values."""
    if not np.isfinite(gain).all():
        bad = np.flatnonzero(~np.isfinite(gain).all(axis=1))
        raise ValueError(
            f"The forward's gain matrix holds NaN or infinite values ({len(bad)} "
            "channel row(s)): the forward is corrupted. Compute it again "
            "(mne.make_forward_solution or "
            "mne_deepinverse.datasets.make_template_forward)."
        )


def _check_noise_cov(cov, names, data_projs, types):
    """Raise if a noise covariance cannot whiten the data of ``names``.

    It must hold the channels, be finite, have a positive variance on every
    channel and be positive semi-definite, and its SSP projectors must be
    the data's (the data are whitened with theirs).
    """
    _check_cov_channels(cov, names)
    idx = [cov["names"].index(ch) for ch in names]
    data = np.asarray(cov["data"], np.float64)
    data = np.diag(data[idx]) if cov["diag"] else data[np.ix_(idx, idx)]
    remedy = (" Compute it again from the data's baseline, e.g. "
              "mne.compute_covariance(epochs, tmax=0.0, method='shrunk').")
    if not np.isfinite(data).all():
        raise ValueError("The noise covariance holds NaN or infinite values."
                         + remedy)
    flat = [ch for ch, v in zip(names, np.diag(data), strict=True) if not v > 0]
    if flat:
        raise ValueError(
            f"The noise covariance gives {len(flat)} channel(s) no variance "
            f"(zero or negative): {_short(flat)}. Mark flat channels as bad, "
            "or compute the covariance on data where they record." + remedy)
    evals = np.linalg.eigvalsh(data)
    if evals[0] < -1e-6 * evals[-1]:
        raise ValueError(
            "The noise covariance is not positive semi-definite (its smallest "
            f"eigenvalue is {evals[0]:.3g}, {-evals[0] / evals[-1]:.2g} of the "
            "largest): it is no covariance of the data (edited, or computed on "
            "other channels)." + remedy)
    _check_cov_conditioning(cov, data, names, data_projs, types, remedy)
    cov_projs, data_projs, differ = _ssp_differ(cov["projs"], data_projs, names)
    # (a covariance without projectors, e.g. ad hoc: the data's projectors hold)
    if cov_projs and differ:
        raise ValueError(
            f"The noise covariance was computed with the SSP projectors "
            f"{[p['desc'] for p in cov_projs]}, the data have "
            f"{[p['desc'] for p in data_projs]}: the data are whitened with "
            "their own projectors, so they must be the covariance's (as for "
            "mne.minimum_norm.make_inverse_operator). Give the data the "
            "covariance's projectors (inst.add_proj(cov['projs'])), or compute "
            "the covariance on data with the same projectors."
        )


#: A noise covariance whose smallest eigenvalue (beyond what the projectors
#: remove) is below this fraction of its largest, per channel type (MEG:
#: magnetometers and gradiometers together), once every channel is scaled to
#: unit variance, whitens badly: the whitener weights directions where it saw
#: almost no noise up to 1000 times more than the others, and there the
#: forward model's errors (a template head) dominate. On the MNE sample
#: recording's auditory MEG (14 epochs, 200-ms baselines, 1-40 Hz) the
#: empirical estimate reaches 6e-9 (MNE warns that "the whitener will likely
#: be unstable"; the any-sensor model's N100m lands in the wrong lobe) and
#: ``method="shrunk"`` 1e-4 (both auditory cortices); EEG baselines reach
#: 2e-5 (50 ms) to 2e-4 (200 ms) empirical.
MIN_COV_EIGEN = 1e-6


def _check_cov_conditioning(cov, data, names, projs, types, remedy):
    """Warn if a noise covariance cannot whiten the channels of ``names``.

    Per channel type (EEG; MEG, magnetometers and gradiometers together, as
    MNE whitens them), the covariance after the data's projectors is scaled
    to unit variances; its eigenvalues beyond the projectors' rank must not
    span more than ``1 / MIN_COV_EIGEN`` (rank deficiency included). Also
    checks that magnetometer and gradiometer variances are in the ratio of
    real MEG (see :func:`~mne_deepinverse._checks._check_meg_scales`).
    """
    from mne._fiff.proj import make_projector

    types = np.asarray(types)
    std = np.sqrt(np.diag(data))
    _check_meg_scales(std, types, "The noise covariance (its standard deviations)")
    P = make_projector(projs, names)[0] if projs else np.eye(len(names))
    scaled = (P @ data @ P.T) / np.outer(std, std)
    for group, rows in (("EEG", types == "eeg"),
                        ("MEG", np.isin(types, ("mag", "grad")))):
        if rows.sum() < 2:
            continue
        rank = int(round(np.trace(P[np.ix_(rows, rows)])))
        evals = np.linalg.eigvalsh(scaled[np.ix_(rows, rows)])[::-1][:rank]
        if rank and evals[-1] < MIN_COV_EIGEN * evals[0]:
            nfree = cov.get("nfree")
            hint = (f" (it was estimated from {nfree} samples for {rows.sum()} "
                    "channels)" if nfree and nfree < 2 * rows.sum() else "")
            warn(
                f"The noise covariance is rank-deficient or ill-conditioned on "
                f"the {rows.sum()} {group} channels{hint}: beyond the projectors "
                f"its smallest eigenvalue is {evals[-1] / evals[0]:.2g} of the "
                "largest (after scaling every channel to unit variance), so the "
                "whitener amplifies directions where it saw no noise and the "
                "estimates can land in the wrong lobe. Regularise it: "
                "mne.compute_covariance(epochs, tmax=0.0, method='shrunk') (or "
                "method='auto'), from a baseline of at least 200 ms per epoch, "
                "or mne.cov.regularize."
            )


def _no_noise_cov(card, noise_cov):
    if noise_cov is not None:
        raise ValueError(
            f"This {card.backend} model whitens the data with the noise "
            "covariance it was trained with (or reads average-referenced "
            "EEG); noise_cov is only for models that compute their linear "
            "estimates at apply time (e.g. 'anysensor'). Drop noise_cov, or "
            "train a model with it: DeepInverse(fwd, noise_cov=cov)."
        )


class FixedSensors:
    """The channels a model was trained for, and the forward it was trained on."""

    kind = "fixed"
    needs_forward = False
    reads_noise_cov = False

    @staticmethod
    def bind(model, fwd=None, info=None, noise_cov=None, on_mismatch="raise"):
        """Bind a fixed-channel model (and check the forward, when given)."""
        card, spec = model.card, model.card.sensors
        _no_noise_cov(card, noise_cov)
        sensors = model.sensors  # its whitener is computed once per model
        types = [t for t in spec.ch_types if t != "eeg"]
        if fwd is not None:
            fwd = _check_fixed_forward(fwd)
            _check_trained_forward(card, sensors, fwd)
        return Binding(
            ch_names=tuple(spec.ch_names), ch_types=tuple(spec.ch_types),
            sensors=sensors, fwd=fwd,
            eeg_pos=spec.ch_pos[[t == "eeg" for t in spec.ch_types]],
            meg_pos=spec.ch_pos[[t != "eeg" for t in spec.ch_types]],
            check_projectors=sensors.whitened,
            comp_grade=spec.comp_grade if (sensors.whitened and types) else None,
        )


def _check_trained_forward(card, sensors, fwd):
    """Raise if ``fwd`` is not the forward a fixed-channel model was trained on."""
    remedy = (" Train a model for this forward with DeepInverse(fwd).fit(), or "
              "use the forward the model was trained on")
    spec = card.sensors
    types = tuple(t for t in ("eeg", "mag", "grad") if t in spec.ch_types)
    gain, ch_names, _ = sensor_gain(fwd, types)
    _check_gain(gain)
    if ch_names != list(spec.ch_names):
        what = "EEG" if types == ("eeg",) else "/".join(types)
        raise ValueError(
            f"The forward's {what} channels {_short(ch_names)} differ from the "
            f"model's {_short(spec.ch_names)}." + remedy + "."
        )
    if gain.shape[1] != card.source.n_sources or not card.source.matches(fwd["src"]):
        raise ValueError(
            f"The forward has {gain.shape[1]} sources but the model was "
            f"trained for {card.source.n_sources} (or other vertices)." + remedy
            + "."
        )
    fp = np.asarray(_gain_fingerprint(sensors.pre_gain(gain)))
    ref = spec.gain_fingerprint
    # 5e-3: the same head and positions, moved onto the scalp in float
    # arithmetic, differ by ~1e-3; another head or conductivities by far more
    if np.abs(fp - ref).max() > 5e-3 * np.abs(ref).max():
        raise ValueError(
            "The forward's gain matrix differs from the one the model was "
            "trained on (other head model, conductivities, electrode "
            "positions or head position in the MEG helmet)." + remedy
            + " (e.g. mne_deepinverse.datasets.read_pretrained_forward for "
            "pretrained models)."
        )


class AnyCap:
    """Any EEG cap on the model's source space, read through its grid."""

    kind = "any_cap"
    needs_forward = True
    reads_noise_cov = False
    accepts = "EEG cap"

    @staticmethod
    def bind(model, fwd, info=None, noise_cov=None, on_mismatch="raise"):
        """Bind an any-cap model to the EEG cap of ``fwd``."""
        card = model.card
        _no_noise_cov(card, noise_cov)
        fwd = _check_fixed_forward(fwd)
        gain, ch_names = _eeg_gain(fwd)
        _check_gain(gain)
        _check_source_space(card, fwd, gain.shape[1], card.backend)
        pos = np.array([ch["loc"][:3] for ch in fwd["info"]["chs"]
                        if ch["ch_name"] in ch_names])
        cap = card.sensors.cap
        # the cap check runs on every call (on_mismatch may differ)
        check_cap(ch_names, pos, cap, on_mismatch)

        def make():
            return dict(
                interp=cap_interpolation(pos, cap),
                gain_t=np.ascontiguousarray(_reference(gain).T, dtype=np.float32))

        key = ("any_cap", model.key, _digest(gain, tuple(ch_names), pos))
        feeds = _cached(key, lambda: _frozen(make()))
        return Binding(ch_names=tuple(ch_names), ch_types=("eeg",) * len(ch_names),
                       sensors=Sensors(ch_names, ["eeg"] * len(ch_names)),
                       feeds=feeds, fwd=fwd, fwd_eeg_pos=pos)


class AnySensors:
    """Any EEG cap and MEG array on the model's source space."""

    kind = "any_sensor"
    needs_forward = True
    reads_noise_cov = True
    accepts = "EEG cap and MEG array"

    @staticmethod
    def bind(model, fwd, info=None, noise_cov=None, on_mismatch="raise"):
        """Bind an any-sensor model: whitener, kernels and gain of a forward."""
        card = model.card
        _validate_type(noise_cov, (mne.Covariance, None), "noise_cov")
        fwd = _check_fixed_forward(fwd)
        gain_all, fwd_names, _ = sensor_gain(fwd)
        names = list(fwd_names)
        _check_gain(gain_all)
        _check_source_space(card, fwd, gain_all.shape[1], card.backend)
        if info is not None:  # the data's good channels of the forward
            names = [ch for ch in names
                     if ch in info["ch_names"] and ch not in info["bads"]]
            if not names:
                raise ValueError(
                    "None of the forward's EEG/MEG channels is a good channel of "
                    "the data; make the forward from the data's info "
                    "(mne_deepinverse.datasets.make_template_forward(inst.info))."
                )
        projs = [] if info is None else info["projs"]
        if noise_cov is not None:
            fwd_chs = fwd["info"]["ch_names"]
            types = channel_types(fwd["info"], [fwd_chs.index(ch) for ch in names])
            _check_noise_cov(noise_cov, names, projs, types)
        fwd_sel = mne.pick_channels_forward(fwd, names, ordered=True, verbose=False)
        pos = sensor_positions_head(fwd_sel["info"], np.arange(len(names)))
        cov_key = None if noise_cov is None else (
            tuple(noise_cov["names"]), np.asarray(noise_cov["data"]),
            tuple((p["desc"], np.asarray(p["data"]["data"]).tobytes())
                  for p in noise_cov["projs"]))
        key = ("any_sensor", model.key, _digest(
            gain_all, tuple(fwd_names), tuple(names), pos, cov_key,
            tuple((p["desc"], np.asarray(p["data"]["data"]).tobytes(),
                   tuple(p["data"]["col_names"])) for p in projs)))

        def make():
            sensors = Sensors.from_forward(fwd, noise_cov, ch_names=names,
                                           projs=projs, whiten=True)
            entry = card.sensors.any_sensors
            kernels = linear_kernels(fwd_sel, sensors, list(entry["kernels"]),
                                     lambda2=entry["lambda2"])
            n_k, n_src, n_ch = kernels.shape
            gain = sensor_gain(fwd_sel)[0]
            feeds = dict(
                white_t=np.ascontiguousarray(sensors.W.T, np.float32),
                kernel_t=np.ascontiguousarray(kernels.reshape(n_k * n_src, n_ch).T),
                gain_t=np.ascontiguousarray(sensors.pre_gain(gain).T, np.float32))
            return sensors, _frozen(feeds)

        sensors, feeds = _cached(key, make)
        meg = np.array([t != "eeg" for t in sensors.ch_types], bool)
        return Binding(ch_names=tuple(names), ch_types=tuple(sensors.ch_types),
                       sensors=sensors, feeds=feeds, fwd=fwd, meg_pos=pos[meg],
                       fwd_eeg_pos=pos[~meg],
                       comp_grade=_comp_grade(fwd) if meg.any() else None)


#: The binding strategy of every sensor kind of a model card.
BINDINGS = {b.kind: b for b in (FixedSensors, AnyCap, AnySensors)}


def bind(model, fwd=None, info=None, noise_cov=None, *, on_mismatch="raise",
         kind="data"):
    """Return the :class:`Binding` of a model for a forward, info and covariance.

    Parameters
    ----------
    model : DeepInverseModel
        The model (not modified).
    fwd : instance of Forward | None
        The forward model (needed by models that read the forward's sensors).
    info : instance of Info | None
        The data's info (an any-sensor model leaves out its bad channels and
        whitens with its projectors).
    noise_cov : instance of Covariance | None
        The data's noise covariance (any-sensor models only).
    on_mismatch : "raise" | "warn" | "ignore"
        What to do when an any-cap model's cap is outside its trained range.
    kind : str
        How messages name the data ("evoked", "epochs", "raw").

    Returns
    -------
    binding : Binding
        The binding.
    """
    _validate_type(fwd, (mne.Forward, None), "fwd")
    strategy = BINDINGS[model.card.sensors.kind]
    if fwd is None and strategy.needs_forward:
        raise ValueError(
            f"This {model.backend} model accepts any {strategy.accepts} and reads "
            "your "
            "sensors through their forward model: pass fwd, e.g. fwd = mne_"
            f"deepinverse.datasets.make_template_forward({kind}.info)."
        )
    return strategy.bind(model, fwd, info=info, noise_cov=noise_cov,
                         on_mismatch=on_mismatch)
