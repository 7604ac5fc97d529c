# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""The fitted inverse model: an ONNX graph and its model card, torch-free.

:class:`DeepInverseModel` is to :class:`mne_deepinverse.DeepInverse` what
:class:`mne.beamformer.Beamformer` is to :func:`mne.beamformer.make_lcmv`:
the estimator trains, the model applies. It needs only onnxruntime.
"""

import hashlib
import os
import tempfile
from functools import cached_property
from pathlib import Path

import numpy as np
from mne.utils import _check_fname, _check_option, _validate_type, logger

from ._bindings import BINDINGS, _cached, _digest, bind
from ._checks import _check_data_array
from ._onnx import OnnxModel
from ._sensors import Sensors
from ._utils import _source_adjacency
from .scaling import fit_patch_amplitudes, rescale_amplitudes

#: Most time samples the network runs on in one call, for every model (None:
#: each model's own, ``ModelCard.rows_per_call``).
ROWS_PER_CALL = None
#: How the amplitudes of the network's maps are fitted to the data.
AMPLITUDES = ("scale", "patch")


class DeepInverseModel:
    """A fitted deep-learning inverse model (ONNX graph + model card).

    Made by :meth:`mne_deepinverse.DeepInverse.fit` (as its ``model_``),
    read with :func:`read_deep_inverse_model`, or given by name to
    :func:`mne_deepinverse.apply_deep_inverse`. It needs no torch and never
    changes: :meth:`bind` returns a :class:`PreparedModel` for a forward
    model, info and noise covariance, as
    :func:`mne.minimum_norm.prepare_inverse_operator` returns a prepared copy.

    Parameters
    ----------
    onnx : bytes
        The serialised ONNX model with its card in the metadata.

    Attributes
    ----------
    card : ModelCard
        The model card (validated, read-only): backend, sensors, source
        space, input, pre-processing, hyper-parameters, training record,
        metrics; ``card["key"]`` reads a stored entry.
    input : dict
        What the model reads: ``{"kind": "sample"}`` (one time sample) or
        ``{"kind": "window", "n_times": int, "sfreq": float}``.

    See Also
    --------
    mne_deepinverse.DeepInverse
    mne_deepinverse.apply_deep_inverse
    read_deep_inverse_model
    """

    __slots__ = ("_onnx", "_session", "_key", "_sensors")

    def __init__(self, onnx):
        _validate_type(onnx, bytes, "onnx")
        set_ = object.__setattr__
        set_(self, "_onnx", onnx)
        set_(self, "_session", OnnxModel(onnx))
        set_(self, "_key", hashlib.blake2b(onnx, digest_size=20).hexdigest())
        spec = self.card.sensors
        set_(self, "_sensors", Sensors(spec.ch_names, spec.ch_types, spec.noise_cov,
                                       spec.projs))

    def __setattr__(self, name, value):
        raise AttributeError(
            "A DeepInverseModel does not change; model.bind(fwd, ...) returns a "
            "PreparedModel for a forward."
        )

    # --- what the model is -------------------------------------------------
    @property
    def card(self):
        """The model card (:class:`~mne_deepinverse._card.ModelCard`)."""
        return self._session.card

    @property
    def onnx(self):
        """The serialised ONNX model (bytes)."""
        return self._onnx

    @property
    def key(self):
        """A hash of the model file (str): what caches of its bindings use."""
        return self._key

    @property
    def input(self):
        """What the model reads (dict): one time sample, or windows."""
        return self.card.input.to_dict()

    @property
    def backend(self):
        """Name of the network backend (str)."""
        return self.card.backend

    @property
    def any_cap(self):
        """Whether the model accepts any EEG cap on its source space (bool)."""
        return self.card.sensors.kind == "any_cap"

    @property
    def any_sensors(self):
        """Whether the model accepts any EEG cap and MEG array (bool)."""
        return self.card.sensors.kind == "any_sensor"

    @property
    def reads_forward(self):
        """Whether the model learns its channels from the forward (bool)."""
        return self.card.sensors.reads_forward

    @property
    def reads_noise_cov(self):
        """Whether the model whitens with the data's noise covariance (bool)."""
        return BINDINGS[self.card.sensors.kind].reads_noise_cov

    @property
    def sensors(self):
        """The channels, types and whitener of a fixed-channel model."""
        self._fixed("sensors")
        return self._sensors

    @property
    def ch_names(self):
        """The channels a fixed-channel model reads, in order (list of str)."""
        self._fixed("ch_names")
        return list(self.card.sensors.ch_names)

    @property
    def n_sources(self):
        """Number of sources (int)."""
        return self.card.source.n_sources

    def _fixed(self, what):
        if self.reads_forward:
            raise RuntimeError(
                f"This {self.backend} model reads the channels of your forward: "
                f"bind it first, prepared = model.bind(fwd), and use prepared."
                f"{what} (apply_deep_inverse does this)."
            )

    def __repr__(self):
        trained = self.card.get("training", {}).get("date", "unknown date")
        src = self.card.source
        return (
            f"<DeepInverseModel | {self.backend}, {self.card.sensors.describe()}, "
            f"{src.n_sources} sources ({src.src_type}, subject {src.subject}), "
            f"input: {self.card.input.describe()}, trained {trained}>"
        )

    def __getstate__(self):
        return dict(onnx=self._onnx)

    def __setstate__(self, state):
        self.__init__(state["onnx"])

    # --- binding -------------------------------------------------------------
    def bind(self, fwd=None, info=None, noise_cov=None, *, on_mismatch="raise"):
        """Prepare the model for a forward model, data info and noise covariance.

        A model for one cap needs the forward it was trained on (same
        channels, sources and gain), or none. An any-cap model needs a forward
        on its source space for a cap within the range it was trained for
        (channel count, coverage of the head): it reads that forward's
        channels, interpolated onto its grid. An any-sensor model computes
        its whitener and linear kernels for the forward (and the data's bad
        channels and projectors, and ``noise_cov``). The model is not
        changed; bindings are cached by content.

        Parameters
        ----------
        fwd : instance of Forward | None
            The forward model (free orientations are converted to fixed).
        info : instance of Info | None
            For an any-sensor model: the data's info, whose bad channels are
            left out and whose projectors are part of the whitener.
        noise_cov : instance of Covariance | None
            For an any-sensor model: the data's noise covariance (None: ad
            hoc). Other models carry their own: passing one is an error.
        on_mismatch : "raise" | "warn" | "ignore"
            For an any-cap model, what to do when the cap is outside the
            trained range.

        Returns
        -------
        prepared : PreparedModel
            The model bound to these sensors.
        """
        return PreparedModel(self, bind(self, fwd, info, noise_cov,
                                        on_mismatch=on_mismatch))

    def _unbound(self):
        """Return the binding of a fixed-channel model from its card alone."""
        self._fixed("run and predict")
        return self.bind()

    # --- a fixed-channel model without a forward ------------------------------
    def check_info(self, info, *, on_mismatch="raise", kind="data"):
        """Check that ``info`` holds what a fixed-channel model reads.

        Parameters
        ----------
        info : instance of Info
            The measurement info of the data.
        on_mismatch : "raise" | "warn" | "ignore"
            What to do when the positions are far from the model's.
        kind : str
            How messages name the data ("evoked", "epochs", "raw").

        Returns
        -------
        picks : array of int
            Indices of the model's channels in ``info``, in the model's order
            (:meth:`PreparedModel.check_info`).
        """
        return self._unbound().check_info(info, on_mismatch=on_mismatch, kind=kind)

    def run(self, X):
        """Run a fixed-channel model's network.

        Parameters
        ----------
        X : array, shape (n_samples, n_channels) | (n_windows, n_times, n_channels)
            EEG in V (MEG in T, T/m), channels in the model's order.

        Returns
        -------
        X_ref, shapes, projection : array
            See :meth:`PreparedModel.run`.
        """
        return self._unbound().run(X)

    def predict(self, X):
        """Predict source maps (Am) of a fixed-channel model.

        Parameters
        ----------
        X : array, shape (n_samples, n_channels) | (n_windows, n_times, n_channels)
            EEG in V (MEG in T, T/m), channels in the model's order.

        Returns
        -------
        Y : array, shape (n_samples, n_sources) | (n_windows, n_times, n_sources)
            Source moments in Am (see :meth:`PreparedModel.predict`).
        """
        return self._unbound().predict(X)

    # --- files ----------------------------------------------------------------
    def save(self, fname, *, overwrite=False):
        """Save the model as one ONNX file with its model card.

        Parameters
        ----------
        fname : path-like
            File name, should end with ``.onnx``.
        overwrite : bool
            Overwrite an existing file.

        Notes
        -----
        The file is written next to ``fname`` under a temporary name and
        renamed when complete, so a failed save (a full disk) leaves an
        existing file as it was and no partial file. Its card carries the
        sha256 of its content, checked when it is read.
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
        _write_atomic(fname, self._onnx)


def _write_atomic(fname, data):
    """Write ``data`` to ``fname`` through a temporary file and a rename."""
    fd, tmp = tempfile.mkstemp(dir=fname.parent, prefix=f".{fname.name}.",
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fid:
            fid.write(data)
            fid.flush()
            os.fsync(fid.fileno())
        # the permissions a plain write would give (mkstemp's are 0o600)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, fname.stat().st_mode & 0o777 if fname.exists()
                 else 0o666 & ~umask)
        os.replace(tmp, fname)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class PreparedModel:
    """A model bound to a forward, info and noise covariance; immutable.

    Made by :meth:`DeepInverseModel.bind`. It holds what inverting data
    needs: the channels the network reads and how (average reference or
    whitener), the graph's further inputs, and the forward.

    Parameters
    ----------
    model : DeepInverseModel
        The model.
    binding : Binding
        Its binding (:mod:`mne_deepinverse._bindings`).
    """

    def __init__(self, model, binding):
        self._model = model
        self._binding = binding

    @property
    def model(self):
        """The model (:class:`DeepInverseModel`)."""
        return self._model

    @property
    def card(self):
        """The model card."""
        return self._model.card

    @property
    def backend(self):
        """Name of the network backend (str)."""
        return self._model.backend

    @property
    def input(self):
        """What the model reads (dict)."""
        return self._model.input

    @property
    def ch_names(self):
        """The channels the network reads, in order (list of str)."""
        return list(self._binding.ch_names)

    @property
    def ch_types(self):
        """Their types (list of str)."""
        return list(self._binding.ch_types)

    @property
    def sensors(self):
        """The average reference or whitener of the data the network reads."""
        return self._binding.sensors

    @property
    def fwd(self):
        """The fixed-orientation forward it is bound to (None: none given)."""
        return self._binding.fwd

    @property
    def n_sources(self):
        """Number of sources (int)."""
        return self._model.n_sources

    @property
    def feeds(self):
        """The graph's further inputs for these sensors (read-only mapping)."""
        return self._binding.feeds

    def __repr__(self):
        return (f"<PreparedModel | {self.backend}, {len(self.ch_names)} channels "
                f"({self.sensors.description}), {self.n_sources} sources>")

    # --- checks ------------------------------------------------------------
    def check_info(self, info, *, on_mismatch="raise", kind="data"):
        """Check that ``info`` holds what the model reads; return the picks.

        The model's channels must be present with their types, not bad, EEG
        with an average-reference projector and electrode positions near the
        model's, MEG with the model's projectors, compensation and head
        position.

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
        return self._binding.check_info(info, on_mismatch=on_mismatch, kind=kind)

    def read_plan(self, info, *, on_mismatch="raise", kind="data"):
        """Return which channels of the data to read, and how.

        The model's channels, as :meth:`check_info` checks them; or, for a
        model of one EEG cap given data of another (some of the model's
        channels absent, every good EEG channel with a position), all good
        EEG channels of the data and the spherical-spline interpolation of
        them onto the model's electrodes (:meth:`mne.Evoked.interpolate_to`
        does the same), provided the data's electrodes cover the model's
        (within 35 mm of each; ``on_mismatch`` otherwise).

        Parameters
        ----------
        info : instance of Info
            The measurement info of the data.
        on_mismatch : "raise" | "warn" | "ignore"
            What to do when the positions are far from the model's, or the
            data's cap does not cover the model's electrodes.
        kind : str
            How messages name the data ("evoked", "epochs", "raw").

        Returns
        -------
        picks : array of int
            The data's channels to read, in order.
        interp : array, shape (n_model_channels, n_picks) | None
            The model's channels are ``interp @ data[picks]``; None: the
            picks are the model's channels.
        """
        return self._binding.read_plan(info, on_mismatch=on_mismatch, kind=kind)

    def check_X(self, X):
        """Return checked samples (or windows) ``X`` of the model's channels.

        Parameters
        ----------
        X : array, shape (n_samples, n_channels) | (n_windows, n_times, n_channels)
            EEG in V (MEG in T, T/m), channels in the model's order.

        Returns
        -------
        X : array
            The data, checked (shape, finite, plausible units).
        """
        X = np.asarray(X)
        n_ch = len(self.ch_names)
        inp = self.card.input
        if inp.is_window:
            ok = X.ndim == 3 and X.shape[1:] == (inp.n_times, n_ch)
            want = f"(n_windows, {inp.n_times}, {n_ch})"
        else:
            ok = X.ndim == 2 and X.shape[1] == n_ch
            want = f"(n_samples, {n_ch})"
        if not ok:
            raise ValueError(
                f"X must have shape {want} with the model's channels "
                f"{self.ch_names}, got {X.shape}."
            )
        eeg = "" if self.sensors.whitened else "EEG "
        checked = _check_data_array(X.reshape(-1, n_ch).T, f"The {eeg}samples X",
                                    ch_types=self.ch_types).T
        return checked.reshape(X.shape)

    # --- running ------------------------------------------------------------
    def run(self, X):
        """Run the network on samples (or windows) of the model's channels.

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
        return self._model._session.run(self.check_X(X), **self._binding.feeds)

    def predict(self, X):
        """Predict source maps (Am) from samples (or windows).

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
        X = self.check_X(X)
        return self.invert(X)[0].reshape(X.shape[:-1] + (self.n_sources,))

    def _rows(self, X):
        """Run checked ``X``; return its outputs with one time sample per row.

        The network runs on at most the card's ``rows_per_call`` time samples
        at a time (whole windows for a window model), so its working memory is
        bounded whatever the number of samples.
        """
        session, feeds = self._model._session, self._binding.feeds
        rows = self.card.rows_per_call if ROWS_PER_CALL is None else ROWS_PER_CALL
        per_call = max(1, rows // (X.shape[1] if X.ndim == 3 else 1))
        if len(X) <= per_call:
            X_ref, shapes, proj = session.run(X, **feeds)
        else:
            outs = None
            for first in range(0, len(X), per_call):
                part = session.run(X[first:first + per_call], **feeds)
                if outs is None:
                    outs = [np.empty((len(X),) + o.shape[1:], o.dtype) for o in part]
                for dest, o in zip(outs, part, strict=True):
                    dest[first:first + len(o)] = o
            X_ref, shapes, proj = outs
        n_ch = len(self.ch_names)
        return (X_ref.reshape(-1, n_ch), shapes.reshape(-1, self.n_sources),
                proj.reshape(-1, n_ch))

    @cached_property
    def _patch_inputs(self):
        """The gain as the network compares it with data, and the adjacency."""
        fwd = self.fwd
        if fwd is None:
            raise ValueError(
                "amplitudes='patch' fits the amplitude of every active patch "
                "through the forward model; pass fwd, or use amplitudes='scale'."
            )
        rows = [fwd["sol"]["row_names"].index(ch) for ch in self.ch_names]
        gain = np.asarray(fwd["sol"]["data"][rows], np.float64)

        def make():
            gain_pre = self.sensors.pre_gain(gain).astype(np.float32)
            gain_pre.flags.writeable = False
            return gain_pre, _source_adjacency(fwd["src"])

        key = ("patch", self._model.key, _digest(gain, tuple(self.ch_names),
                                                 *self.card.source.vertices))
        return _cached(key, make)

    def invert(self, X, amplitudes="scale"):
        """Invert checked samples or windows; maps and residuals, a row a sample.

        Parameters
        ----------
        X : array, shape (n_samples, n_channels) | (n_windows, n_times, n_channels)
            Checked data (:meth:`check_X`).
        amplitudes : "scale" | "patch"
            One least-squares scale per time sample, or one amplitude per
            active patch (needs the forward).

        Returns
        -------
        maps : array, shape (n_rows, n_sources)
            Source maps in Am, one row per time sample.
        residual : array, shape (n_rows, n_channels)
            The data minus the maps' projection, as the network reads the
            data (whitened for a model that reads MEG).
        """
        _check_option("amplitudes", amplitudes, AMPLITUDES)
        X_ref, shapes, proj = self._rows(X)
        if amplitudes == "patch":
            gain_pre, adjacency = self._patch_inputs
            maps = fit_patch_amplitudes(X_ref, shapes, gain_pre, adjacency)[0]
            proj = maps @ gain_pre.T
        else:
            scale = rescale_amplitudes(X_ref, proj)[:, None].astype(np.float32)
            maps = shapes
            maps *= scale  # in place: no second (n_rows, n_sources) array
            proj *= scale
        return maps, X_ref - proj

    def make_stc(self, data, tmin, tstep):
        """Return the SourceEstimate of maps, MNE's way.

        Parameters
        ----------
        data : array, shape (n_sources, n_times)
            Source moments in Am.
        tmin : float
            Time of the first sample (s).
        tstep : float
            Time between samples (s).

        Returns
        -------
        stc : instance of SourceEstimate | VolSourceEstimate
            The estimate on the model's source space and subject.
        """
        return self.card.source.make_stc(data, tmin, tstep)


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

