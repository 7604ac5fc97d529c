# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""The one registry of network backends and shipped pretrained models.

Everything else derives its lists from here: the estimator's ``model``
choices, the backend dispatcher, ``apply_deep_inverse``'s pretrained names,
``read_pretrained_forward`` and the command line. The sha256 hashes of the
shipped files are in ``mne_deepinverse/pretrained/registry.txt`` (written by
the ``tools/`` scripts); a test checks that both agree.

Adding a network means: its module in ``mne_deepinverse/backends/``, an
entry in :data:`BACKENDS`, and (when it ships trained) an entry in
:data:`PRETRAINED` with its files in ``mne_deepinverse/pretrained/``.
"""

#: Network backends: name -> module of ``mne_deepinverse.backends``.
BACKENDS = {
    "convdip": "convdip",
    "unet": "unet",
    "vnet": "vnet",
    "anycap": "anycap",
    "sifnet": "sifnet",
    "anysensor": "anysensor",
    "boldnet": "boldnet",
}

#: Shipped pretrained models: name -> backend, model file, the forward it was
#: trained on (None: any cap) and its human-readable model card, all in
#: ``mne_deepinverse/pretrained/``.
PRETRAINED = {
    name: dict(
        backend=name,
        model=f"{name}.onnx",
        forward="convdip-fwd.fif",  # the ConvDip paper's 31 channels, ico4
        card=f"{name}.md",
    )
    for name in ("convdip", "unet", "vnet", "sifnet")
}
# The shipped cards predate the card's ``apply`` entry (written by the
# backend's spec at export): the most time samples their graphs run on at once.
for _name, _rows in dict(convdip=4096, unet=256, vnet=128, sifnet=2048).items():
    PRETRAINED[_name]["rows_per_call"] = _rows
# The any-cap model (tools/train_anycap.py) has no forward of its own: it is
# applied with the user's template forward, for any cap on the template.
PRETRAINED["anycap"] = dict(backend="anycap", model="anycap.onnx", forward=None,
                            card="anycap.md", accepts="any EEG cap",
                            rows_per_call=4096)
# The any-sensor model (tools/train_anysensor.py) computes its kernels for the
# user's template forward (any EEG cap and MEG array) when it is applied.
PRETRAINED["anysensor"] = dict(backend="anysensor", model="anysensor.onnx",
                               forward=None, card="anysensor.md",
                               accepts="any EEG cap or MEG array",
                               rows_per_call=128)

#: Shipped BOLD synthesizers (:func:`mne_deepinverse.fmri.synthesize_bold`,
#: ``method="deep"``): name -> backend, model file and card; not inverse
#: models, so not in :data:`PRETRAINED`.
SYNTHESIZERS = dict(boldnet=dict(backend="boldnet", model="boldnet.onnx",
                                 card="boldnet.md", accepts="any EEG cap"))


#: MNE's methods the benchmark runs (:data:`mne_deepinverse.benchmark.BASELINES`)
#: and its test-data protocols (:data:`mne_deepinverse.benchmark.PROTOCOLS`),
#: named here so that the command line lists them without importing MNE.
BENCHMARK_BASELINES = ("eLORETA", "dSPM", "sLORETA", "LCMV", "MxNE", "irMxNE",
                       "gamma-MAP", "TRAP-MUSIC", "dipole")
BENCHMARK_PROTOCOLS = ("realistic", "convdip-paper")

#: The real-data check suite (``mne-deepinverse real-data``): shipped
#: models, MNE's methods and sensor sets it runs by default.
REAL_DATA_MODELS = ("convdip", "unet", "vnet", "sifnet", "anycap", "anysensor")
REAL_DATA_METHODS = ("dSPM", "sLORETA", "eLORETA", "MxNE", "dipole")
REAL_DATA_SENSORS = ("eeg", "meg", "meg+eeg")
