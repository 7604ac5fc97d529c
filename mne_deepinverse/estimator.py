# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""The scikit-learn style estimator :class:`DeepInverse`."""


import mne
import numpy as np
from mne.utils import (
    _check_option,
    _validate_type,
    logger,
    verbose,
)
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted

from ._card import forward_entries, make_card
from ._checks import _check_active, _check_data_array
from ._model import DeepInverseModel, read_deep_inverse_model
from ._registry import BACKENDS, PRETRAINED
from ._sensors import Sensors, sensor_gain
from ._utils import (
    _check_fixed_forward,
    _check_random_state,
)
from .backends.base import LOSSES

_LOSSES = ("auto", *LOSSES)
# the parameters a model card records and read_deep_inverse restores
_RECIPE = ("model", "n_epochs", "samples_per_epoch", "batch_size", "learning_rate",
           "loss", "patience", "n_val", "simulation", "hyper_params", "fp16",
           "warm_start", "random_state")


def _sklearn_array(X, name, ensure_2d=True):
    """Return ``X`` as a numeric array, checked the way scikit-learn checks it.

    Sparse, complex and empty input are refused with scikit-learn's messages;
    the dtype (integers are refused: not in V) and NaN or infinite values are
    left to the package's own checks, which say where they are and what to do.
    """
    return check_array(X, accept_sparse=False, ensure_all_finite=False,
                       allow_nd=True, ensure_2d=ensure_2d, dtype=None,
                       input_name=name)


class DeepInverse(TransformerMixin, BaseEstimator):
    """A deep-learning EEG/MEG inverse solution trained for one forward model.

    Parameters
    ----------
    fwd : instance of Forward | None
        Fixed-orientation forward model the network is trained for (a
        free-orientation surface forward is converted): EEG, MEG
        (magnetometers, gradiometers or both) or EEG+MEG; the network reads
        every EEG and MEG channel of it (pick the channels of the forward,
        e.g. with :func:`mne.pick_types_forward`, to train for fewer). A list
        of forwards on one source space for ``model="anysensor"``. None only
        for models read from disk.
    model : "convdip" | "unet" | "vnet" | "sifnet" | "anysensor"
        The network backend: ConvDip :footcite:`HeckerEtAl2021` (a shallow
        CNN on a 2-D scalp image), a U-Net refining MNE, dSPM and sLORETA
        estimates on latitude/longitude images of the hemispheres (surface
        source spaces) :footcite:`UNetThesis`, a VNet refining the
        voxelised sLORETA magnitude (any source space)
        :footcite:`CNN3D2023`, or SIFNet :footcite:`SunEtAl2022`, a residual
        network that reads windows of EEG and predicts every region's
        activity over the window (trained on neural-mass simulations).
        ``"anysensor"`` is the U-Net whose MNE, dSPM and sLORETA kernels are
        computed at apply time for the user's forward and noise covariance:
        trained over several forwards on one source space (``fwd`` a list:
        EEG caps, MEG arrays in several head positions, EEG+MEG), it serves
        any of them and others like them.
    n_epochs : int
        Largest number of epochs.
    samples_per_epoch : int
        Fresh simulated samples (windows, for SIFNet) per epoch (when ``fit``
        gets no data).
    batch_size : int
        Samples per gradient step.
    learning_rate : float
        Initial Adam learning rate (halved when validation stalls).
    loss : "auto" | "cosine_mse" | "cosine_wmse" | "hausdorff"
        Cosine distance + MSE on max-normalised maps, the same with the
        squared errors weighted towards active sources, or the weighted
        Hausdorff distance :footcite:`RiberaEtAl2019`. "auto" picks the
        backend's default ("cosine_mse" for ConvDip, "cosine_wmse" for the
        U-Net and VNet).
    patience : int
        Epochs without validation improvement before early stopping.
    n_val : int | None
        Size of the held-out validation set; None: 2000 samples, or 256
        windows for SIFNet.
    simulation : dict | None
        Parameters of :class:`~mne_deepinverse.simulation.PatchSimulator`
        for the training data (defaults: the ConvDip paper's). For SIFNet,
        ``kind`` picks the simulator: ``"neural_mass"`` (default;
        :class:`~mne_deepinverse.simulation.NeuralMassSimulator`) or
        ``"patches"``
        (:class:`~mne_deepinverse.simulation.PatchWindowSimulator`), and the
        other keys are its parameters (e.g. ``n_regions``, ``sfreq``,
        ``n_times``: the window the model reads); ``"mixed"`` draws each
        window from either (probability ``share`` of a neural-mass window,
        default 0.5) on one parcellation, with ``n_regions``, ``sfreq`` and
        ``n_times`` shared and the dicts ``neural_mass`` and ``patches``
        holding each simulator's own parameters.
    noise_cov : instance of Covariance | None
        The noise covariance that combines the channel types of a MEG or
        EEG+MEG forward, as in :func:`mne.minimum_norm.make_inverse_operator`:
        the network reads data whitened with it (after its SSP projectors and,
        with EEG, the average reference), the training data's sensor noise is
        drawn from it and their SNR is measured after whitening. None: an ad
        hoc diagonal one (:func:`mne.make_ad_hoc_cov`) for MEG; for an
        EEG-only forward, no whitening (average-referenced EEG in V). Stored
        with the model; data the model is applied to must carry the same SSP
        projectors.

        .. versionadded:: 0.1
    hyper_params : dict | None
        Backend hyper-parameters. ConvDip: ``n_filters``, ``n_dense``,
        ``image_shape``. U-Net: ``grid`` (rows, columns per hemisphere),
        ``channels`` (3 levels), ``groups`` (GroupNorm), ``kernels``,
        ``lambda2``, ``k``, ``vertex_head`` (hidden units of a per-vertex
        head, 0 for none; 16 in ``"anysensor"``) and ``subjects_dir`` (where
        the subject's ``surf/?h.sphere.reg`` are; not needed for the
        template); ``"anysensor"`` also ``scan`` (1: read a single-dipole
        scan next to the linear estimates, the default; 0: not). VNet:
        ``grid`` (voxels per side), ``channels`` (4 levels), ``groups``
        (0 = no normalisation), ``kernel``, ``lambda2``, ``k``.
    fp16 : bool
        Store the weights of the exported model in float16.
    warm_start : None | bool | str | path-like | DeepInverseModel | DeepInverse
        Fine-tune: start from a trained ConvDip-type model instead of random
        weights: a pretrained name (``"anycap"`` for any cap on the template,
        ``"convdip"`` for its 31 channels), a saved model, a fitted
        estimator, or True for this estimator's last fit (None or False:
        random weights). Needs ``model="convdip"``. The model's cap is
        carried over to the forward's channels (an any-cap model's
        spherical-spline interpolation is folded into its first layer) and,
        on another source space (an individual MRI), each source starts from
        the model's nearest one. Unless ``simulation`` is given, the training
        data are simulated as the model's were (its card's ``simulation``),
        and ``loss="auto"`` is the model's loss. A learning rate ~10 times smaller (e.g.
        ``1e-4``) keeps what the model learnt.

        .. versionadded:: 0.1
    random_state : None | int
        Seed of everything random (simulation, initialisation, batches).
    progress : bool
        Show a progress bar during training (MNE's
        :class:`~mne.utils.ProgressBar`, shown when MNE's log level includes
        INFO).
    device : str
        The torch device to train on: ``"cpu"`` (default) or a GPU, e.g.
        ``"cuda"``. Only training uses it: the fitted model runs on the CPU
        with onnxruntime. The same seed gives the same model on the same
        device and torch version.

        .. versionadded:: 0.1
    strategy : "single" | "ddp"
        Train in this process, or data-parallel over the processes of an
        initialised :mod:`torch.distributed` group (one per GPU or CPU
        process, e.g. launched with ``torchrun``; NCCL on GPUs, gloo on
        CPUs): every process runs ``fit`` with the same arguments, draws its
        share of each epoch's simulated batches and ends with the same
        model (save it from one process). See :doc:`/cluster`.

        .. versionadded:: 0.1
    checkpoint : path-like | None
        A file in which training keeps its state after every epoch; ``fit``
        resumes from it if it exists (same arguments: the same model as an
        uninterrupted fit) and removes it when training ends.

        .. versionadded:: 0.1

    Attributes
    ----------
    model_ : instance of DeepInverseModel
        The fitted model (ONNX graph + model card; torch-free): what
        ``predict``, ``apply`` and ``save`` use.
    card_ : dict
        The model card (``model_.card``): channels, sources, input,
        pre-processing, hyper-parameters, training record and validation
        metrics.
    onnx_ : bytes
        The serialised ONNX model (``model_.onnx``).
    net_ : torch.nn.Module
        The trained network (only after ``fit`` in this session).

    See Also
    --------
    DeepInverseModel
    apply_deep_inverse
    read_deep_inverse

    References
    ----------
    .. footbibliography::
    """

    def __init__(
        self,
        fwd=None,
        model="convdip",
        *,
        n_epochs=30,
        samples_per_epoch=20_000,
        batch_size=256,
        learning_rate=1e-3,
        loss="auto",
        patience=5,
        n_val=None,
        simulation=None,
        noise_cov=None,
        hyper_params=None,
        fp16=True,
        warm_start=None,
        random_state=None,
        progress=True,
        device="cpu",
        strategy="single",
        checkpoint=None,
    ):
        self.fwd = fwd
        self.model = model
        self.n_epochs = n_epochs
        self.samples_per_epoch = samples_per_epoch
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.loss = loss
        self.patience = patience
        self.n_val = n_val
        self.simulation = simulation
        self.noise_cov = noise_cov
        self.hyper_params = hyper_params
        self.fp16 = fp16
        self.warm_start = warm_start
        self.random_state = random_state
        self.progress = progress
        self.device = device
        self.strategy = strategy
        self.checkpoint = checkpoint

    @verbose
    def fit(self, X=None, Y=None, verbose=None):
        """Train the network.

        Parameters
        ----------
        X : array | None
            EEG samples (V), shape ``(n_samples, n_channels)``, channels in
            the forward's order, at least 2 (some are held out for
            validation); for SIFNet windows, ``(n_windows, n_times,
            n_channels)``, at the sampling rate ``simulation["sfreq"]``
            (default 250 Hz). None simulates fresh data from the forward on
            the fly.
        Y : array | None
            The matching source maps, ``(n_samples, n_sources)`` or
            ``(n_windows, n_times, n_sources)``, each with an active source
            (SIFNet learns their means over the regions of its parcellation). Pass
            both X and Y or neither.
        %(verbose)s

        Returns
        -------
        self : instance of DeepInverse
            The fitted estimator.
        """
        self._check_params()
        if (X is None) != (Y is None):
            given, absent = ("X", "Y") if Y is None else ("Y", "X")
            raise ValueError(
                f"fit got {given} but no {absent}: pass both the EEG samples X and "
                "their source maps Y, or neither to train on data simulated from "
                "the forward."
            )
        import torch

        device = self._torch_device(torch)  # before any expensive work
        # seed torch inside a fork of its global RNG: the user's state is restored
        forked = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=forked):
            return self._fit(X, Y, device)

    def _fit(self, X, Y, device):
        """Train on ``X, Y`` (None: simulated) on the torch ``device``."""
        import torch

        from ._backend_inputs import backend_inputs
        from ._export import set_card as _set_card
        from .backends import export_onnx, get_backend
        from .training import TRAINING_DATA, card_training_record, fit_network

        backend = get_backend(self.model)
        backend.check_hyper_params(self.hyper_params or {})
        if backend.sensor_kind == "any_sensor":
            if X is not None:
                raise ValueError(
                    f"model={self.model!r} trains on data simulated for every "
                    "forward it is given (its inputs depend on the sensors); it "
                    "cannot take X and Y. Call fit() without them."
                )
            return self._fit_any_sensors(backend, device)
        fwd = _check_fixed_forward(self.fwd)
        sensors = Sensors.from_forward(fwd, self.noise_cov)
        meta = forward_entries(fwd, sensors)
        gain = sensor_gain(fwd)[0]
        window = backend.input_kind == "window"
        layers = warm = None
        start = self._warm_model()
        if start is not None and sensors.whitened:
            raise ValueError(
                f"warm_start fine-tunes an EEG model, but this forward has "
                f"{sensors.description} channels (read whitened). Train from "
                "scratch (warm_start=None)."
            )
        if start is not None:
            from ._warm_start import warm_start_layers

            layers, warm = warm_start_layers(start, meta)
        rng = _check_random_state(self.random_state)
        seeds = rng.integers(0, 2**31 - 1, 3)
        if self.simulation is None and warm is not None:
            # go on with the data the model was trained on
            sim_params = dict(warm["simulation"] or {})
        else:
            sim_params = dict(self.simulation or {})
        if X is not None:
            X, Y = self._check_XY(X, Y, sensors.ch_types, meta["n_sources"],
                                  window=window)
        sim_seed = int(rng.integers(0, 2**31 - 1))
        data, extra, to_sources = TRAINING_DATA[backend.input_kind](
            fwd, meta, simulation=sim_params, noise_cov=self.noise_cov, X=X, Y=Y,
            n_val=self.n_val, batch_size=self.batch_size,
            steps_per_epoch=self._steps(), seeds=seeds[1:], sim_seed=sim_seed)
        inputs = {} if warm is not None else {**backend_inputs(
            backend, self.fwd, self.hyper_params, noise_cov=self.noise_cov), **extra}
        torch.manual_seed(int(seeds[0]))
        hyper = backend.hyper_params(self.hyper_params)
        loss = backend.loss if self.loss == "auto" else self.loss
        if window and loss == "hausdorff":
            raise ValueError(
                f"loss='hausdorff' is for networks that read one time sample; "
                f"model={self.model!r} reads windows: use loss='auto' "
                "(cosine_wmse), 'cosine_mse' or 'cosine_wmse'.")
        if warm is None:
            net = backend.build(meta, hyper, **inputs)
        else:
            net = backend.dense_chain(layers)
            hyper = dict(layers=[int(w.shape[1]) for w, _, _ in layers])
            if self.loss == "auto" and warm["loss"]:
                loss = warm["loss"]  # the loss the model was trained with
            logger.info(f"Fine-tuning {warm['model']} ({warm['backend']})")
        hyper = backend.stored(hyper)  # no machine-specific keys
        net = net.to(device)
        what = "windows" if window else "samples"
        logger.info(f"Training {self.model} on {what} {data.source} "
                    f"({meta['n_sources']} "
                    f"sources, {sensors.description} channels)")
        whitener = sensors.W if sensors.whitened else None
        record = fit_network(
            net, data, n_epochs=self.n_epochs, learning_rate=self.learning_rate,
            loss=loss, patience=self.patience, seed=int(seeds[0]),
            progress=self.progress,
            target_transform=backend.train_targets(net),
            whitener=whitener, strategy=self.strategy, checkpoint=self.checkpoint,
        )
        self.net_ = net = net.cpu()
        card = make_card(
            self.model, meta, hyper_params=hyper,
            apply=dict(rows_per_call=backend.rows_per_call),
            preprocessing=(dict(reference="whitener (noise covariance, projectors)")
                           if whitener is not None else None),
            simulation=sim_params,
            training=dict(
                data=data.source, loss=loss, batch_size=self.batch_size,
                learning_rate=float(self.learning_rate),
                random_state=None if self.random_state is None
                else int(self.random_state),
                **card_training_record(record),
                **({} if warm is None else dict(warm_start=warm)),
                params=self._recipe(backend),
            ),
        )
        # export, score the exported model on the validation set, then store
        # the validation metrics in the card (metadata only, same graph)
        model = DeepInverseModel(
            export_onnx(backend, net, sensors.pre_gain(gain), card, fp16=self.fp16,
                        whitener=whitener)
        )
        card = card.replace(validation=self._validation_metrics(
            model, data.X_val, data.Y_val, meta, to_sources))
        self.model_ = DeepInverseModel(_set_card(model.onnx, card))
        return self

    def _fit_any_sensors(self, backend, device):
        """Train an any-sensor model over the sensor configurations of ``fwd``."""
        from ._any_sensors import SensorConfigs
        from ._backend_inputs import backend_inputs
        from ._export import set_card as _set_card
        from .backends import export_onnx
        from .metrics import evaluate
        from .training import TrainingData, card_training_record, fit_network

        fwds = list(self.fwd) if isinstance(self.fwd, list | tuple) else [self.fwd]
        hyper = backend.hyper_params(self.hyper_params)
        rng = _check_random_state(self.random_state)
        seeds = rng.integers(0, 2**31 - 1, 3)
        sim_params = dict(self.simulation or {})
        configs = SensorConfigs(fwds, sim_params, list(hyper["kernels"]),
                                hyper["lambda2"], self.noise_cov,
                                scan=bool(hyper["scan"]))
        n_val = 2000 if self.n_val is None else self.n_val
        X_val, Y_val, raw_val = configs.validation(n_val, np.random.default_rng(
            seeds[1]))
        import torch

        torch.manual_seed(int(seeds[0]))
        meta = forward_entries(configs.configs[0]["fwd"])
        meta.pop("sensors", None)
        meta.update(ch_names=[], ch_pos=[], ch_pos2d=[], gain_fingerprint=[],
                    input=dict(kind="sample"))
        net = backend.build(meta, hyper, **backend_inputs(
            backend, configs.configs[0]["fwd"], hyper)).to(device)
        hyper = backend.stored(hyper)
        loss = backend.loss if self.loss == "auto" else self.loss
        logger.info(f"Training {self.model} on samples simulated on the fly for "
                    f"{len(fwds)} sensor configurations ({meta['n_sources']} "
                    "sources)")
        data = TrainingData(configs.draw, X_val, Y_val, steps_per_epoch=self._steps(),
                            batch_size=self.batch_size, seed=seeds[2],
                            source_pos=meta["source_rr"])
        record = fit_network(
            net, data, n_epochs=self.n_epochs, learning_rate=self.learning_rate,
            loss=loss, patience=self.patience, seed=int(seeds[0]),
            progress=self.progress, normalise_input=False,
            strategy=self.strategy, checkpoint=self.checkpoint,
        )
        self.net_ = net = net.cpu()
        card = make_card(
            self.model, meta, hyper_params=hyper,
            apply=dict(rows_per_call=backend.rows_per_call),
            preprocessing=dict(reference="whitener (noise covariance, projectors), "
                               "computed at apply time"),
            any_sensors=dict(kernels=list(hyper["kernels"]),
                             lambda2=float(hyper["lambda2"]),
                             configs=configs.descriptions),
            simulation=dict(sim_params),
            training=dict(
                data="simulated on the fly", loss=loss, batch_size=self.batch_size,
                learning_rate=float(self.learning_rate),
                random_state=None if self.random_state is None
                else int(self.random_state),
                **card_training_record(record), params=self._recipe(backend)),
        )
        model = DeepInverseModel(export_onnx(backend, net, None, card, fp16=self.fp16))
        per_config = []
        for c, (X, Y) in zip(configs.configs, raw_val, strict=True):
            prepared = model.bind(c["fwd"], noise_cov=self.noise_cov)
            n = min(len(Y), 300)
            out = evaluate(Y[:n], prepared.predict(X[:n]),
                           np.asarray(meta["source_rr"]),
                           metrics=("auc", "mle", "nmse"))
            per_config.append({k: float(np.median(v)) for k, v in out.items()}
                              | dict(n_samples=n, sensors=c["sensors"].description))
        validation = {k: float(np.median([v[k] for v in per_config]))
                      for k in ("auc", "mle", "nmse")}
        validation.update(n_samples=sum(v["n_samples"] for v in per_config),
                          per_config=per_config)
        card = card.replace(validation=validation)
        self.model_ = DeepInverseModel(_set_card(model.onnx, card))
        return self

    def _recipe(self, backend):
        """Return the training parameters, as :func:`read_deep_inverse` restores them.

        Not the forward and noise covariance (stored with the channels), the
        device and progress bars (the machine, not the recipe), nor a
        warm-start model other than a pretrained name (its record is the
        card's ``training["warm_start"]``).
        """
        hyper = backend.stored(self.hyper_params or {})
        params = {name: getattr(self, name) for name in _RECIPE}
        params["hyper_params"] = hyper or None
        params["simulation"] = dict(self.simulation) if self.simulation else None
        params["learning_rate"] = float(self.learning_rate)
        if not (isinstance(self.warm_start, str) and self.warm_start in PRETRAINED):
            # a file, an object or the last fit: not reproducible from the card
            params["warm_start"] = None
        return params

    def _torch_device(self, torch):
        """Return the checked torch device of ``self.device``."""
        try:
            device = torch.device(self.device)
        except RuntimeError as exc:
            raise ValueError(f"device={self.device!r} is no torch device ({exc}); "
                             "use 'cpu' or e.g. 'cuda'.") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device={self.device!r}, but torch finds no CUDA GPU "
                             "here; use device='cpu'.")
        return device

    def _warm_model(self):
        """Return the model to start from (None: random weights)."""
        if self.warm_start is None or self.warm_start is False:
            return None
        if self.warm_start is not True:
            return self.warm_start
        if not hasattr(self, "model_"):
            raise ValueError(
                "warm_start=True continues the last fit, but this estimator is "
                "not fitted yet. Fit it first, or pass the model to start from "
                "(e.g. warm_start='anycap')."
            )
        return self.model_

    def _check_params(self):
        """Validate the parameters, before anything is built."""
        if self.fwd is None:
            raise ValueError("DeepInverse needs a forward model (fwd) to be trained.")
        _check_option("model", self.model, sorted(BACKENDS))
        from .backends import get_backend

        backend = get_backend(self.model)
        if isinstance(self.fwd, list | tuple):
            if backend.sensor_kind != "any_sensor":
                raise ValueError(
                    f"fwd is a list of {len(self.fwd)} forwards; only "
                    "model='anysensor' trains over several sensor configurations. "
                    f"Pass one forward for model={self.model!r}."
                )
            if not self.fwd:
                raise ValueError("fwd is an empty list; pass at least one forward.")
            for f in self.fwd:
                _validate_type(f, mne.Forward, "each forward in fwd")
        else:
            _validate_type(self.fwd, mne.Forward, "fwd")
        if backend.trained_by is not None:
            raise NotImplementedError(
                f"DeepInverse trains a network for one forward's channels; "
                f"{self.model} networks are trained by {backend.trained_by}. "
                f"Apply the pretrained {self.model} model with apply_deep_inverse, "
                "or fine-tune it for your forward: DeepInverse(fwd, 'convdip', "
                f"warm_start={self.model!r})."
            )
        _validate_type(self.warm_start, (None, bool, str, "path-like",
                                         DeepInverseModel, BaseEstimator),
                       "warm_start")
        if self.warm_start is not None and self.warm_start is not False:
            if not backend.warm_startable:
                raise ValueError(
                    f"warm_start fine-tunes a ConvDip-type model, so it needs "
                    f"model='convdip', got model={self.model!r}."
                )
            if self.hyper_params:
                raise ValueError(
                    f"hyper_params={self.hyper_params} cannot apply with "
                    "warm_start: the network is the warm-start model's. Drop "
                    "hyper_params, or train from scratch (warm_start=None)."
                )
        _check_option("loss", self.loss, _LOSSES)
        names = ("n_epochs", "samples_per_epoch", "batch_size", "patience", "n_val")
        for name in names:
            if name == "n_val" and self.n_val is None:
                continue
            _validate_type(getattr(self, name), "int", name)
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        lr = self.learning_rate
        _validate_type(lr, "numeric", "learning_rate")
        if not (np.isfinite(lr) and lr > 0):
            raise ValueError(
                f"learning_rate must be a positive, finite number (e.g. 1e-3), got "
                f"{lr}."
            )
        _validate_type(self.random_state, (None, "int-like"), "random_state")
        if self.random_state is not None and self.random_state < 0:
            raise ValueError(
                f"random_state must be None or an int >= 0, got {self.random_state}."
            )
        for name in ("simulation", "hyper_params"):
            _validate_type(getattr(self, name), (dict, None), name)
        if "noise_cov" in (self.simulation or {}):
            raise ValueError(
                "simulation['noise_cov'] is not a simulation parameter of "
                "DeepInverse: pass the covariance as DeepInverse(fwd, "
                "noise_cov=cov), which also whitens the model's input and is "
                "stored with it."
            )
        _validate_type(self.noise_cov, (mne.Covariance, None), "noise_cov")
        _validate_type(self.device, str, "device")
        for name in ("fp16", "progress"):
            _validate_type(getattr(self, name), bool, name)

    def _steps(self):
        """Batches per epoch of simulated data."""
        return max(1, self.samples_per_epoch // self.batch_size)

    @staticmethod
    def _validation_metrics(model, X_val, Y_val, meta, to_sources=None):
        """Return AUC, MLE and nMSE of the exported model on <= 300 validation rows.

        A window is scored at its time sample of largest true activity, its
        targets (per region) mapped onto the sources by ``to_sources``.
        """
        from .metrics import evaluate

        n = min(len(Y_val), 300)
        if meta["input"]["kind"] == "window":
            truth, pred = [], []
            for first in range(0, n, 50):  # bounded memory (n_times x n_sources)
                Yw = Y_val[first:min(first + 50, n)]
                peak = np.abs(Yw).sum(axis=2).argmax(axis=1)
                rows = np.arange(len(Yw))
                truth.append(to_sources(Yw[rows, peak]))
                pred.append(model.predict(X_val[first:first + len(Yw)])[rows, peak])
            truth, pred = np.concatenate(truth), np.concatenate(pred)
        else:
            truth, pred = Y_val[:n], model.predict(X_val[:n])
        out = evaluate(truth, pred, np.asarray(meta["source_rr"]),
                       metrics=("auc", "mle", "nmse"))
        return {k: float(np.median(v)) for k, v in out.items()} | {"n_samples": n}

    @staticmethod
    def _check_XY(X, Y, ch_types, n_src, *, window=False):
        """Check given samples (or windows) and their maps; return them as float32."""
        X = _sklearn_array(X, "X")
        Y = _sklearn_array(Y, "Y", ensure_2d=False)
        n_ch = len(ch_types)
        what = "windows" if window else "samples"
        if len(X) < 2:
            raise ValueError(
                f"fit needs at least 2 {what} (some are held out for validation, "
                f"the others train), got {len(X)} {what[:-1]}."
            )
        if X.ndim != 2 + window or X.shape[-1] != n_ch:
            shape = "(n_windows, n_times, " if window else "(n_samples, "
            raise ValueError(
                f"X must have shape {shape}{n_ch}) (the forward's EEG channels"
                f"{' last, for a model that reads windows' if window else ''}), "
                f"got {X.shape}."
            )
        if Y.shape != X.shape[:-1] + (n_src,):
            per = "per time sample of every window" if window else "per sample"
            raise ValueError(
                f"Y must have shape {X.shape[:-1] + (n_src,)} (one source map "
                f"{per}), got {Y.shape}."
            )
        eeg = "EEG " if set(ch_types) == {"eeg"} else ""
        flat = _check_data_array(X.reshape(-1, n_ch).T, f"The {eeg}{what} X",
                                 ch_types=ch_types).T
        X = np.asarray(flat, np.float32).reshape(X.shape)
        Y = np.asarray(_check_data_array(Y.reshape(-1, n_src), "The source maps Y",
                                         eeg=False), np.float32).reshape(Y.shape)
        _check_active(np.abs(Y).reshape(len(Y), -1), "Y", f"Drop these {what} "
                      "first, e.g. keep = np.abs(Y).reshape(len(Y), -1).max(axis=1)"
                      " > 0; X, Y = X[keep], Y[keep].")
        return X, Y

    @property
    def card_(self):
        """The model card of the fitted model (dict)."""
        check_is_fitted(self, "model_")
        return self.model_.card

    @property
    def onnx_(self):
        """The serialised ONNX model of the fitted model (bytes)."""
        check_is_fitted(self, "model_")
        return self.model_.onnx

    def predict_shape(self, X):
        """Predict source-map shapes (arbitrary scale) and their projections.

        Parameters
        ----------
        X : array, shape (n_samples, n_channels)
            EEG samples in V, channels in the model's order.

        Returns
        -------
        X_ref : array, shape (n_samples, n_channels)
            Average-referenced EEG.
        shapes : array, shape (n_samples, n_sources)
            Predicted source-map shapes (arbitrary scale).
        projection : array, shape (n_samples, n_channels)
            Forward projection of the shapes (average-referenced).
        """
        check_is_fitted(self, "model_")
        return self.model_.run(_sklearn_array(X, "X"))

    def predict(self, X):
        """Predict source maps (Am) from EEG samples.

        Parameters
        ----------
        X : array, shape (n_samples, n_channels)
            EEG samples in V, channels in the model's order.

        Returns
        -------
        Y : array, shape (n_samples, n_sources)
            Source moments in Am: the network's shape times the amplitude
            scale of each sample (see
            :func:`~mne_deepinverse.scaling.rescale_amplitudes`).
        """
        check_is_fitted(self, "model_")
        return self.model_.predict(_sklearn_array(X, "X"))

    def transform(self, X):
        """Estimate the sources of EEG/MEG data: the estimator as a Pipeline step.

        Parameters
        ----------
        X : array, shape (n_epochs, n_channels, n_times) | (n_samples, n_channels)
            Epochs as :meth:`mne.Epochs.get_data` returns them (the layout of
            :mod:`mne.decoding`), or time samples; channels in the model's
            order (:attr:`feature_names_in_`), EEG in V, MEG in T and T/m. A
            model that reads windows needs epochs of its window length
            (``model_.input["n_times"]``).

        Returns
        -------
        Y : array, shape (n_epochs, n_sources, n_times) | (n_samples, n_sources)
            Source moments in Am, as :meth:`predict` gives them.

        Notes
        -----
        For source-space decoding, freeze a fitted (or read) estimator so a
        pipeline's ``fit`` does not retrain it::

            from sklearn.frozen import FrozenEstimator
            pipe = make_pipeline(FrozenEstimator(est), mne.decoding.Vectorizer(),
                                 LogisticRegression())
        """
        check_is_fitted(self, "model_")
        X = _sklearn_array(X, "X")
        window = self.model_.input["kind"] == "window"
        if X.ndim != 3:
            if window:
                raise ValueError(
                    f"This {self.model_.backend} model reads windows of "
                    f"{self.model_.input['n_times']} samples: X must have shape "
                    f"(n_epochs, n_channels, n_times), got {X.shape}."
                )
            return self.predict(X)
        n_epochs, n_channels, n_times = X.shape
        if window:
            if n_times != self.model_.input["n_times"]:
                raise ValueError(
                    f"This {self.model_.backend} model reads windows of "
                    f"{self.model_.input['n_times']} samples, got epochs of "
                    f"{n_times}: crop or resample them (at "
                    f"{self.model_.input['sfreq']:g} Hz)."
                )
            return self.predict(X.transpose(0, 2, 1)).transpose(0, 2, 1)
        Y = self.predict(X.transpose(0, 2, 1).reshape(-1, n_channels))
        return Y.reshape(n_epochs, n_times, -1).transpose(0, 2, 1)

    @property
    def feature_names_in_(self):
        """The channels the fitted model reads, in order (array of str)."""
        check_is_fitted(self, "model_")
        if self.model_.reads_forward:
            raise AttributeError(
                f"This {self.model_.backend} model reads the channels of the forward "
                "it is applied to; it has no fixed channels (feature_names_in_)."
            )
        return np.asarray(self.model_.ch_names, dtype=object)

    @property
    def n_features_in_(self):
        """Number of channels the fitted model reads (int)."""
        return len(self.feature_names_in_)

    def __getstate__(self):
        """Return the state to pickle: without the torch network (``net_``).

        A pickled estimator loads and predicts without torch; the network's
        weights are in ``model_`` (ONNX).
        """
        state = super().__getstate__()
        state.pop("net_", None)
        return state

    def score(self, X, Y):
        """Median AUC (close/far) of the predictions.

        Parameters
        ----------
        X : array, shape (n_samples, n_channels)
            EEG samples.
        Y : array, shape (n_samples, n_sources)
            True source maps.

        Returns
        -------
        score : float
            Median of :func:`~mne_deepinverse.metrics.auc_close_far`.
        """
        from .metrics import evaluate

        pred = self.predict(X)
        pos = np.asarray(self.card_["source_rr"])
        return float(np.median(evaluate(Y, pred, pos, metrics=("auc",))["auc"]))

    @verbose
    def apply(self, evoked, *, return_residual=False, on_mismatch="raise",
              verbose=None):
        """Apply the model to an evoked response.

        Parameters
        ----------
        evoked : instance of Evoked
            EEG data with an average-reference projector.
        return_residual : bool
            Also return the residual evoked.
        on_mismatch : "raise" | "warn" | "ignore"
            What to do when the electrode positions are far from the model's
            (see :func:`apply_deep_inverse`).
        %(verbose)s

        Returns
        -------
        stc : instance of SourceEstimate
            The source estimate.
        residual : instance of Evoked
            Only if ``return_residual``.
        """
        from ._inverse import apply_deep_inverse

        check_is_fitted(self, "model_")
        return apply_deep_inverse(evoked, self.fwd, model=self.model_,
                                  return_residual=return_residual,
                                  on_mismatch=on_mismatch)

    def save(self, fname, *, overwrite=False):
        """Save the model as one ONNX file with its model card.

        Parameters
        ----------
        fname : path-like
            File name, should end with ``.onnx``.
        overwrite : bool
            Overwrite an existing file.
        """
        check_is_fitted(self, "model_")
        self.model_.save(fname, overwrite=overwrite)


def read_deep_inverse(fname):
    """Read a model saved with :meth:`DeepInverse.save`.

    Parameters
    ----------
    fname : path-like
        The ``.onnx`` file.

    Returns
    -------
    model : instance of DeepInverse
        The fitted estimator (its ``fwd`` is None; pass the forward to
        :func:`apply_deep_inverse` to check it matches). Its ``model_`` is the
        torch-free :class:`DeepInverseModel`. Its parameters are those it was
        trained with (the noise covariance with its projectors; a warm start
        only by a pretrained name; ``device`` and ``progress`` at their
        defaults), so ``clone(model).set_params(fwd=fwd).fit()`` trains it
        again.

    See Also
    --------
    read_deep_inverse_model
    """
    model = read_deep_inverse_model(fname)
    card = model.card
    training = card.get("training", {})
    noise_cov = None
    if card.get("sensors", {}).get("noise_cov", {}).get("kind") == "given":
        sensors = model.sensors  # the covariance with its SSP projectors
        noise_cov = sensors.covariance()
        noise_cov["projs"] = [p for p in sensors.info()["projs"]
                              if p["desc"] != "Average EEG reference"]
    params = training.get("params")
    if params is None:  # a card written before the recipe was recorded
        params = dict(
            model=card["backend"], hyper_params=card.get("hyper_params"),
            simulation=card.get("simulation") or None,
            loss=training.get("loss", "cosine_mse"),
            random_state=training.get("random_state"),
        )
    est = DeepInverse(None, noise_cov=noise_cov, **params)
    est.model_ = model
    return est
