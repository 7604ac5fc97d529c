# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Shared docstring entries (``%(name)s``) and the decorator that fills them."""

from mne.utils.docs import docdict as _mne_docdict

docdict = {}

docdict["maps"] = """y_true, y_pred : array, shape (n_sources,)
    True and estimated source maps."""
docdict["pos"] = """pos : array, shape (n_sources, 3)
    Source positions in m."""
docdict["true_idx"] = """true_idx : array of int | None
    True source centres (default: maxima of ``y_true``)."""
docdict["sim_params"] = """n_patches : int | tuple of int
    Number of active patches per sample (at least 1), or its (min, max)
    range.
extent : int | float | tuple
    Patch size range: integer neighbourhood orders (``extent_units="order"``,
    0 to 20; order 0 is a single source) or diameters in mm (``"mm"``).
extent_units : "order" | "mm"
    Units of ``extent``.
amplitude : float | tuple of float
    Seed moment range in nAm (> 0); the moment falls off over the patch with a
    Gaussian of the distance to the seed (sd = half the patch radius).
snr_db : float | tuple of float
    Finite range of the signal-to-noise ratio in dB (mean signal power over mean
    noise power across channels, per sample; for MEG, of the whitened data).
noise : "white" | "brain" | instance of Covariance | list
    Sensor noise: independent across channels (``"white"``; for MEG, drawn
    from ``noise_cov``: independent noise of each channel type's level);
    spatially correlated like activity of independent sources all over the
    cortex (``"brain"``); drawn from a noise covariance; or a list of these
    mixed with equal power (after whitening, for MEG).
average_ref : bool
    Re-reference the EEG to the channel average (and, for MEG, apply the
    projectors of ``noise_cov``).
dtype : numpy dtype
    Floating-point type of the arrays returned."""
docdict["noise_cov_sim"] = """noise_cov : instance of Covariance | None
    For MEG and EEG+MEG forwards (or to whiten EEG): the noise covariance
    that combines the channel types (:func:`mne.cov.compute_whitener`; None:
    :func:`mne.make_ad_hoc_cov`). The SNR is measured on the whitened data
    and ``noise="white"`` draws from it. None for an EEG-only forward: the
    average-referenced EEG in V."""
docdict["draw_windows"] = """n_windows : int
    Number of windows.
rng : instance of numpy.random.Generator
    Random generator."""
docdict["random_state"] = """\
random_state : None | int | instance of numpy.random.Generator
    Seed; the same seed gives the same result."""

docdict["fwd_apply"] = """fwd : instance of Forward | None
    The forward model, checked against the one the model was trained on
    (channels, sources and gain); also used to fit the amplitudes of the
    active patches. For pretrained models use
    :func:`mne_deepinverse.datasets.read_pretrained_forward`. None skips the
    check (and ``amplitudes="patch"``, which needs the gain)."""
docdict["model_apply"] = """model : str | path-like | DeepInverseModel | DeepInverse
    A pretrained model name (``"convdip"``, ``"unet"``, ``"vnet"`` or
    ``"sifnet"``, all for the 31-channel EEG forward of
    :func:`~mne_deepinverse.datasets.read_pretrained_forward`; ``"anycap"``
    for any EEG cap and ``"anysensor"`` for any EEG cap and MEG array, both
    with the template forward of the data's sensors,
    :func:`~mne_deepinverse.datasets.make_template_forward`), a saved model
    file (.onnx), a :class:`~mne_deepinverse.DeepInverseModel`, or a fitted
    :class:`~mne_deepinverse.DeepInverse`."""
docdict["noise_cov_apply"] = """noise_cov : instance of Covariance | None
    For models that compute their linear estimates at apply time
    (``"anysensor"``): the noise covariance of the data (e.g. from the
    pre-stimulus baseline or an empty-room recording), which combines the
    channel types and whitens the data, as for
    :func:`mne.minimum_norm.make_inverse_operator`; None: an ad hoc diagonal
    one (:func:`mne.make_ad_hoc_cov`). Other models whiten with the
    covariance they were trained with (see
    :class:`~mne_deepinverse.DeepInverse`); passing one to them is an error.

    .. versionadded:: 0.1"""
docdict["on_mismatch"] = """on_mismatch : "raise" | "warn" | "ignore"
    What to do when the data's electrode positions are far (median distance
    > 2 cm) from those the model was trained for, or when the MEG sensors sit
    elsewhere relative to the head (median > 1 cm, from the data's
    ``dev_head_t``) than in the model's forward. Missing positions (no
    montage), positions in another unit (mm, cm) and MEG without a
    device-to-head transform are always an error."""
docdict["amplitudes"] = """amplitudes : "scale" | "patch"
    How the predicted patterns get their signed amplitudes (Am).
    ``"patch"``: the predicted support of each time sample is split into
    connected patches, and every patch gets its own signed amplitude, fitted
    to the data by least squares through the forward model
    (:func:`~mne_deepinverse.scaling.fit_patch_amplitudes`); regions of
    opposite polarity keep their signs, as ``mode="mean_flip"`` label time
    courses need. ``"scale"``: one signed scale per time sample for the
    whole map (:func:`~mne_deepinverse.scaling.rescale_amplitudes`), as in
    the ConvDip paper (the default); all active sources share one sign."""


def fill_doc(f):
    """Fill ``%(name)s`` entries of ``f``'s docstring (ours and MNE's)."""
    doc = f.__doc__
    if not doc:
        return f
    lines = doc.splitlines()
    indents = [len(ln) - len(ln.lstrip()) for ln in lines[1:] if ln.strip()]
    indent = " " * (min(indents) if indents else 0)
    entries = {**_mne_docdict, **docdict}
    filled = {}
    for key, value in entries.items():
        parts = value.strip("\n").splitlines()
        filled[key] = "\n".join(parts[:1] + [indent + p if p else p for p in parts[1:]])
    f.__doc__ = doc % filled
    return f
