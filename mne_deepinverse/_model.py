# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""The fitted inverse model: an ONNX graph and its model card, torch-free.

:class:`DeepInverseModel` is to :class:`mne_deepinverse.DeepInverse` what
:class:`mne.beamformer.Beamformer` is to :func:`mne.beamformer.make_lcmv`:
the estimator trains, the model applies. It needs only onnxruntime.
"""

from pathlib import Path

import mne
import numpy as np
from mne.utils import _check_fname, _validate_type, logger

from ._checks import _check_data_array, _check_head_position, _check_positions
from ._onnx import OnnxModel
from ._sensors import Sensors, channel_types, sensor_gain, sensor_picks
from ._utils import _check_fixed_forward, _eeg_gain, _gain_fingerprint, _reference
from .scaling import rescale_amplitudes

#: What a model reads: one time sample (every sample is inverted on its own)
#: or a window of ``n_times`` samples at ``sfreq`` Hz.
INPUT_KINDS = ("sample", "window")


def _default_input(card):
    """Return the input contract of a card (format 1 cards: one time sample)."""
    inp = dict(card.get("input") or {"kind": "sample"})
    if inp.get("kind") not in INPUT_KINDS:
        raise RuntimeError(
            f"The model card's input kind {inp.get('kind')!r} is not one of "
            f"{INPUT_KINDS}: the file is corrupted or needs a newer mne-deepinverse."
        )
    return inp


class DeepInverseModel:
    """A fitted deep-learning inverse model (ONNX graph + model card).

    Made by :meth:`mne_deepinverse.DeepInverse.fit` (as its ``model_``),
    read with :func:`read_deep_inverse_model`, or given by name to
    :func:`mne_deepinverse.apply_deep_inverse`. It needs no torch.

    Parameters
    ----------
    onnx : bytes
        The serialised ONNX model with its card in the metadata.

    Attributes
    ----------
    card : dict
        The model card: backend, channels and their positions, source space,
        input, pre-processing, hyper-parameters, training record, metrics.
    input : dict
        What the model reads: ``{"kind": "sample"}`` (one time sample) or
        ``{"kind": "window", "n_times": int, "sfreq": float}``.

    See Also
    --------
    mne_deepinverse.DeepInverse
    mne_deepinverse.apply_deep_inverse
    read_deep_inverse_model
    """

    def __init__(self, onnx):
        _validate_type(onnx, bytes, "onnx")
        self._onnx = onnx
        self._session = OnnxModel(onnx)
        self.card = self._session.card
        self.input = _default_input(self.card)
        self.sensors = Sensors.from_card(self.card)
        self._cap = None  # any-cap models: the forward they are bound to

    @property
    def any_cap(self):
        """Whether the model accepts any EEG cap on its source space (bool)."""
        return "cap" in self.card

    @property
    def any_sensors(self):
        """Whether the model accepts any EEG and MEG sensors (bool).

        Such a model computes its linear estimates at apply time, for the
        forward (on its source space) and noise covariance it is given.
        """
        return "any_sensors" in self.card

    @property
    def reads_forward(self):
        """Whether the model learns its channels from the forward (bool)."""
        return self.any_cap or self.any_sensors

    # --- what the model is -------------------------------------------------
    @property
    def onnx(self):
        """The serialised ONNX model (bytes)."""
        return self._onnx

    @property
    def backend(self):
        """Name of the network backend (str)."""
        return self.card["backend"]

    @property
    def ch_names(self):
        """The channels the model reads, in order (list of str).

        For an any-cap or any-sensor model, the channels of the forward it
        was last checked against (:meth:`check_forward`).
        """
        if self.reads_forward:
            if self._cap is None:
                raise RuntimeError(
                    f"This {self.backend} model reads the channels of your forward: "
                    "call model.check_forward(fwd) first (apply_deep_inverse does)."
                )
            return list(self._cap["ch_names"])
        return list(self.card["ch_names"])

    @property
    def n_sources(self):
        """Number of sources (int)."""
        return int(self.card["n_sources"])

    def __repr__(self):
        inp = ("one time sample" if self.input["kind"] == "sample" else
               f"windows of {self.input['n_times']} samples at "
               f"{self.input['sfreq']:g} Hz")
        trained = self.card.get("training", {}).get("date", "unknown date")
        if self.any_cap:
            low, high = self.card["cap"]["n_channels"]
            chans = f"any cap of {low}-{high} EEG channels"
        elif self.any_sensors:
            chans = "any EEG cap and MEG array"
        else:
            chans = f"{self.sensors.description} channels"
        return (
            f"<DeepInverseModel | {self.backend}, {chans}, "
            f"{self.n_sources} sources ({self.card['src_kind']}, "
            f"subject {self.card['subject']}), input: {inp}, trained {trained}>"
        )

    def __getstate__(self):
        return dict(onnx=self._onnx)

    def __setstate__(self, state):
        self.__init__(state["onnx"])

    # --- checks ------------------------------------------------------------
    def check_forward(self, fwd, *, on_mismatch="raise", info=None, noise_cov=None):
        """Raise if ``fwd`` is not a forward the model can be applied with.

        A model for one cap needs the forward it was trained on (same
        channels, sources and gain). An any-cap model needs a forward on its
        source space for a cap within the range it was trained for (channel
        count, coverage of the head); it then reads that forward's channels,
        interpolated onto its grid (the interpolation is computed here, once
        per forward).

        Parameters
        ----------
        fwd : instance of Forward
            The forward model (free orientations are converted to fixed).
        on_mismatch : "raise" | "warn" | "ignore"
            For an any-cap model, what to do when the cap is outside the
            trained range.
        info : instance of Info | None
            For an any-sensor model: the data's info, whose bad channels are
            left out and whose projectors are part of the whitener.
        noise_cov : instance of Covariance | None
            For an any-sensor model: the data's noise covariance (None: ad
            hoc). Other models carry their own: passing one is an error.

        Returns
        -------
        fwd : instance of Forward
            The fixed-orientation forward.
        """
        card = self.card
        remedy = (
            " Train a model for this forward with DeepInverse(fwd).fit(), or use "
            "the forward the model was trained on"
        )
        fwd = _check_fixed_forward(fwd)
        if noise_cov is not None and not self.any_sensors:
            raise ValueError(
                f"This {self.backend} model whitens the data with the noise "
                "covariance it was trained with (or reads average-referenced "
                "EEG); noise_cov is only for models that compute their linear "
                "estimates at apply time (e.g. 'anysensor'). Drop noise_cov, or "
                "train a model with it: DeepInverse(fwd, noise_cov=cov)."
            )
        if self.any_sensors:
            return self._bind_sensors(fwd, info, noise_cov)
        if self.any_cap:
            gain, ch_names = _eeg_gain(fwd)
            return self._bind(fwd, gain, ch_names, on_mismatch)
        types = tuple(t for t in ("eeg", "mag", "grad") if t in self.sensors.ch_types)
        gain, ch_names, _ = sensor_gain(fwd, types)
        if ch_names != card["ch_names"]:
            what = "EEG" if types == ("eeg",) else "/".join(types)
            raise ValueError(
                f"The forward's {what} channels {_short(ch_names)} differ from the "
                f"model's {_short(card['ch_names'])}." + remedy + "."
            )
        vertices = [s["vertno"].tolist() for s in fwd["src"]]
        if gain.shape[1] != card["n_sources"] or vertices != card["vertices"]:
            raise ValueError(
                f"The forward has {gain.shape[1]} sources but the model was "
                f"trained for {card['n_sources']} (or other vertices)." + remedy
                + "."
            )
        fp = np.asarray(_gain_fingerprint(self.sensors.pre_gain(gain)))
        ref = np.asarray(card["gain_fingerprint"])
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
        return fwd

    def _bind(self, fwd, gain, ch_names, on_mismatch):
        """Check a forward for an any-cap model; compute its graph inputs."""
        from ._caps import cap_interpolation, check_cap

        card = self.card
        self._check_source_space(fwd, gain.shape[1])
        key = id(fwd["sol"]["data"])
        if self._cap is not None and self._cap["key"] == key:
            return fwd
        pos = np.array([ch["loc"][:3] for ch in fwd["info"]["chs"]
                        if ch["ch_name"] in ch_names])
        check_cap(ch_names, pos, card["cap"], on_mismatch)
        self._cap = dict(
            key=key, ch_names=ch_names,
            feeds=dict(interp=cap_interpolation(pos, card["cap"]),
                       gain_t=np.ascontiguousarray(_reference(gain).T,
                                                   dtype=np.float32)),
        )
        return fwd

    def _check_source_space(self, fwd, n_sources):
        """Raise if a forward is not on the model's (template) source space."""
        card = self.card
        vertices = [s["vertno"].tolist() for s in fwd["src"]]
        if n_sources != card["n_sources"] or vertices != card["vertices"]:
            raise ValueError(
                f"The forward has {n_sources} sources but this {self.backend} "
                f"model works on the template's {card['n_sources']} "
                f"({card['subject']}, other vertices). Build the forward on the "
                "template: mne_deepinverse.datasets.make_template_forward(inst.info)."
            )

    def _bind_sensors(self, fwd, info, noise_cov):
        """Bind an any-sensor model: whitener, kernels and gain of a forward."""
        from ._sensors import Sensors, linear_kernels, sensor_positions_head

        _validate_type(noise_cov, (mne.Covariance, None), "noise_cov")
        gain_all, names, _ = sensor_gain(fwd)
        self._check_source_space(fwd, gain_all.shape[1])
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
        key = (id(fwd["sol"]["data"]), tuple(names), id(noise_cov),
               tuple((p["desc"], np.asarray(p["data"]["data"]).tobytes())
                     for p in projs))
        if self._cap is not None and self._cap["key"] == key:
            return fwd
        sensors = Sensors.from_forward(fwd, noise_cov, ch_names=names, projs=projs,
                                       whiten=True)
        fwd_sel = mne.pick_channels_forward(fwd, names, ordered=True, verbose=False)
        entry = self.card["any_sensors"]
        kernels = linear_kernels(fwd_sel, sensors, list(entry["kernels"]),
                                 lambda2=entry["lambda2"])
        n_k, n_src, n_ch = kernels.shape
        gain = sensor_gain(fwd_sel)[0]
        self._cap = dict(
            key=key, ch_names=names,
            pos=sensor_positions_head(fwd_sel["info"], np.arange(n_ch)),
            feeds=dict(
                white_t=np.ascontiguousarray(sensors.W.T, np.float32),
                kernel_t=np.ascontiguousarray(kernels.reshape(n_k * n_src, n_ch).T),
                gain_t=np.ascontiguousarray(sensors.pre_gain(gain).T, np.float32)),
        )
        self.sensors = sensors
        return fwd

    def check_info(self, info, *, on_mismatch="raise", kind="data"):
        """Check that ``info`` holds what the model reads; return the picks.

        The model's channels must be present as EEG, not bad, with an
        average-reference projector and electrode positions near the model's.

        Parameters
        ----------
        info : instance of Info
            The measurement info of the data.
        on_mismatch : "raise" | "warn" | "ignore"
            What to do when the positions are far (median > 2 cm) from the
            model's; missing positions and positions in another unit always
            raise.
        kind : str
            How messages name the data ("evoked", "epochs", "raw").

        Returns
        -------
        picks : array of int
            Indices of the model's channels in ``info``, in the model's order.
        """
        _validate_type(info, mne.Info, "info")
        sensors = self.sensors
        types = [t for t in ("eeg", "mag", "grad") if t in sensors.ch_types] or ["eeg"]
        eeg_only = types == ["eeg"]
        if len(sensor_picks(info, types)) == 0:
            kinds = sorted(set(info.get_channel_types()))
            raise ValueError(
                f"The {kind} has no EEG channels (it has {kinds}); this model is "
                "an EEG model and cannot be applied to MEG or other data."
                if eeg_only else
                f"The {kind} has no {'/'.join(types)} channels (it has {kinds}); "
                f"this model reads {sensors.description} channels."
            )
        names = self.ch_names
        model_types = ["eeg"] * len(names) if self.any_cap else sensors.ch_types
        present = [ch for ch in names if ch in info["ch_names"]]
        have = dict(zip(present, channel_types(
            info, [info["ch_names"].index(ch) for ch in present]), strict=True))
        wrong = [f"{ch} ({have[ch]} in the {kind}, {t} for the model)"
                 for ch, t in zip(names, model_types, strict=True)
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
            raise ValueError(
                f"The {kind} lacks {len(missing)} {what} channel(s) the model "
                f"needs: {_short(missing)}. Interpolate or add them, or train a "
                "model for your channels with DeepInverse(fwd).fit()."
            )
        bads = [ch for ch in names if ch in info["bads"]]
        if bads:
            raise ValueError(
                f"Channel(s) {bads} needed by the model are marked bad; repair "
                f"them first, e.g. {kind}.interpolate_bads()."
            )
        if "eeg" in types:
            _check_reference(info, kind)
        if self.any_sensors:  # whitener made with the data's projectors
            meg = [ii for ii, t in enumerate(model_types) if t != "eeg"]
            if meg:  # the forward's head position must be the data's
                _check_head_position(info, [names[ii] for ii in meg],
                                     self._cap["pos"][meg], on_mismatch)
        elif sensors.whitened:
            _check_projectors(info, sensors, kind)
            if "mag" in types or "grad" in types:
                _check_compensation(info, self.card["sensors"], kind)
        if not self.reads_forward:  # else: the forward's positions are used
            ref = np.asarray(self.card["ch_pos"], dtype=np.float64)
            for meg in (False, True):
                rows = [ii for ii, t in enumerate(model_types)
                        if (t != "eeg") == meg]
                if not rows:
                    continue
                check = _check_head_position if meg else _check_positions
                check(info, [names[ii] for ii in rows], ref[rows], on_mismatch)
        return np.array([info["ch_names"].index(ch) for ch in names], int)

    def _check_X(self, X):
        X = np.asarray(X)
        n_ch = len(self.ch_names)
        if self.input["kind"] == "window":
            n_times = self.input["n_times"]
            ok = X.ndim == 3 and X.shape[1:] == (n_times, n_ch)
            want = f"(n_windows, {n_times}, {n_ch})"
        else:
            ok = X.ndim == 2 and X.shape[1] == n_ch
            want = f"(n_samples, {n_ch})"
        if not ok:
            raise ValueError(
                f"X must have shape {want} with the model's channels "
                f"{self.ch_names}, got {X.shape}."
            )
        eeg = "EEG " if self.any_cap or not self.sensors.whitened else ""
        checked = _check_data_array(X.reshape(-1, n_ch).T, f"The {eeg}samples X",
                                    ch_types=None if self.any_cap
                                    else self.sensors.ch_types).T
        return checked.reshape(X.shape)

    # --- running ------------------------------------------------------------
    def run(self, X):
        """Run the network on EEG samples (or windows).

        Parameters
        ----------
        X : array, shape (n_samples, n_channels) | (n_windows, n_times, n_channels)
            EEG in V (MEG in T, T/m), channels in the model's order: time
            samples, or windows of ``input["n_times"]`` samples for a window
            model.

        Returns
        -------
        X_ref : array, shape (n_samples, n_channels) | (n_windows, n_times, n_channels)
            Average-referenced EEG (whitened data for a model that reads
            MEG).
        shapes : array, shape (n_samples, n_sources) | (n_windows, n_times, n_sources)
            Predicted source-map patterns (non-negative, arbitrary scale).
        projection : array, shape like X_ref
            Forward projection of the patterns (average-referenced or
            whitened gain).
        """
        return self._session.run(self._check_X(X), **self._feeds())

    def _feeds(self):
        """Further graph inputs: an any-cap or any-sensor model's bound inputs."""
        if not self.reads_forward:
            return {}
        self.ch_names  # noqa: B018 (raises when no forward is bound)
        return self._cap["feeds"]

    def predict(self, X):
        """Predict source maps (Am) from EEG samples (or windows).

        Parameters
        ----------
        X : array, shape (n_samples, n_channels) | (n_windows, n_times, n_channels)
            EEG in V (MEG in T, T/m), channels in the model's order (windows
            of ``input["n_times"]`` samples for a window model).

        Returns
        -------
        Y : array, shape (n_samples, n_sources) | (n_windows, n_times, n_sources)
            Source moments in Am: each predicted pattern times the scale that
            fits its projection to the data, one scale per time sample
            (:func:`~mne_deepinverse.scaling.rescale_amplitudes`).
        """
        X = self._check_X(X)
        return self._predict(X)[0].reshape(X.shape[:-1] + (self.n_sources,))

    def _rows(self, X):
        """Run checked ``X``; return its outputs with one time sample per row."""
        X_ref, shapes, proj = self._session.run(X, **self._feeds())
        n_ch = len(self.ch_names)
        return (X_ref.reshape(-1, n_ch), shapes.reshape(-1, self.n_sources),
                proj.reshape(-1, n_ch))

    def _predict(self, X):
        """Scaled maps of checked ``X`` (rows), the EEG, projections and scales."""
        X_ref, shapes, proj = self._rows(X)
        scale = rescale_amplitudes(X_ref, proj)
        shapes *= scale[:, None].astype(np.float32)
        return shapes, X_ref, proj, scale

    # --- files ----------------------------------------------------------------
    def save(self, fname, *, overwrite=False):
        """Save the model as one ONNX file with its model card.

        Parameters
        ----------
        fname : path-like
            File name, should end with ``.onnx``.
        overwrite : bool
            Overwrite an existing file.
        """
        _validate_type(fname, "path-like", "fname")
        if Path(fname).is_dir():
            raise IsADirectoryError(
                f"{fname} is a directory; pass a file name, e.g. "
                f"{Path(fname) / 'model.onnx'}."
            )
        fname = _check_fname(fname, overwrite, name=str(fname))
        if fname.suffix != ".onnx":
            logger.info(f"    {fname.name} does not end with .onnx")
        fname.write_bytes(self._onnx)


def _short(items, n=10):
    """At most ``n`` items of a list for a message, with how many were left."""
    items = list(items)
    return str(items) if len(items) <= n else (
        f"{items[:n]} and {len(items) - n} more")


def _check_projectors(info, sensors, kind):
    """Raise if the data's SSP projectors differ from the model's.

    The whitener holds the projectors, as an inverse operator does; MNE
    refuses data with other projectors (:func:`mne.minimum_norm.apply_inverse`).
    """
    from mne._fiff.proj import make_projector

    names = sensors.ch_names
    avg = "Average EEG reference"
    data_projs = [p for p in info["projs"] if not p["desc"].startswith(avg)]
    model_projs = [p for p in sensors.info()["projs"] if not p["desc"].startswith(avg)]
    P_data = make_projector(data_projs, names)[0]
    P_model = make_projector(model_projs, names)[0]
    if np.abs(P_data - P_model).max() > 1e-3:
        raise ValueError(
            f"The {kind}'s SSP projectors {[p['desc'] for p in data_projs]} "
            f"differ from those the model was trained with "
            f"{[p['desc'] for p in model_projs]}: the model whitens the data "
            "with its projectors, as an inverse operator does. Give the data the "
            "model's projectors (add_proj, del_proj), or train a model with a "
            "noise covariance computed on data with these projectors "
            "(DeepInverse(fwd, noise_cov=cov))."
        )


def _check_compensation(info, entry, kind):
    """Raise if the data's CTF compensation grade differs from the model's."""
    from mne._fiff.compensator import get_current_comp

    grade = int(get_current_comp(info) or 0)
    want = int(entry.get("comp_grade", 0))
    if grade != want:
        raise ValueError(
            f"The {kind} have CTF compensation grade {grade}, the model's "
            f"forward grade {want}: the gradiometers would read other fields. "
            f"Use {kind}.apply_gradient_compensation({want}), or train a model "
            "with the forward of the data as they are."
        )


def _check_reference(info, kind="data"):
    from mne._fiff.proj import _has_eeg_average_ref_proj

    if info.get("custom_ref_applied"):
        raise ValueError(
            "Custom EEG reference is not allowed for inverse modeling. Use "
            f"{kind}.set_eeg_reference('average', projection=True)."
        )
    if not _has_eeg_average_ref_proj(info):
        raise ValueError(
            "EEG average reference (using a projector) is mandatory for "
            "modeling, use the method set_eeg_reference(projection=True)."
        )


def read_deep_inverse_model(fname):
    """Read a model saved with :meth:`DeepInverseModel.save`.

    Parameters
    ----------
    fname : path-like
        The ``.onnx`` file (also one written by
        :meth:`mne_deepinverse.DeepInverse.save`).

    Returns
    -------
    model : instance of DeepInverseModel
        The model.
    """
    _validate_type(fname, "path-like", "fname")
    fname = Path(fname)
    if fname.is_dir():
        found = sorted(p.name for p in fname.glob("*.onnx"))
        raise IsADirectoryError(
            f"{fname} is a directory; pass the .onnx model file"
            + (f" (it holds {found})." if found else ".")
        )
    _check_fname(fname, overwrite="read", must_exist=True, name="Model file")
    return DeepInverseModel(fname.read_bytes())

