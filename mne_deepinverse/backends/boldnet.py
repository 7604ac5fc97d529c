# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""BoldNet: the BOLD signal of cortical regions from spectrogram windows of EEG.

In the spirit of the EEG-to-fMRI synthesis of Calhas et al. (EEG
spectrogram in, fMRI out), but trained on simulated simultaneous EEG-fMRI
with ground truth (:func:`mne_deepinverse.fmri.simulate_eeg_fmri`'s
Jansen-Rit networks and Balloon-Windkessel haemodynamics), on the template,
for any EEG cap. The network reads one fMRI frame's window of EEG
spectrogram bins on the grid of :mod:`mne_deepinverse._caps`
(:func:`mne_deepinverse.fmri._features.spectrogram_windows`: band power and
the slow potential of every pixel): learned kernels over the window's bins
(starting as the canonical HRF and its derivative) integrate every pixel's
features as the haemodynamics would, and one linear layer maps them to the
BOLD signal change (%) of the regions of a fixed parcellation of the
template; the exported graph spreads every region's value over its sources.
A small network on purpose: on the simulations, larger ones (a two-layer
encoder per bin, 0.4 M parameters) learned the training runs and not the
held-out ones. Trained by
``tools/train_boldnet.py``; applied with onnxruntime by
:func:`mne_deepinverse.fmri.synthesize_bold` (``method="deep"``).
"""

import numpy as np

from .base import Backend

DEFAULTS = dict(n_kernels=2, dropout=0.2)
#: The spectrogram's layout and the output's scale (in the card's ``bold``).
INPUT_NAME, OUTPUT_NAME = "spectrogram", "bold"


def build(meta, hyper_params):
    """Build an untrained BoldNet for the card entries ``meta``.

    ``meta["bold"]`` holds ``n_pixels``, ``bands``, ``n_bins`` and
    ``n_regions``.
    """
    import torch
    from torch import nn

    from ..fmri._features import n_features

    params = {**DEFAULTS, **hyper_params}
    spec = meta["bold"]
    n_in = spec["n_pixels"] * n_features(spec)
    init = hrf_kernels(spec["n_bins"], spec["bin_s"], params["n_kernels"])

    class BoldNet(nn.Module):
        def __init__(self):
            super().__init__()
            # the window: haemodynamic kernels over the bins (the canonical HRF
            # and its derivative to start with), shared by pixels and features
            self.kernels = nn.Parameter(torch.as_tensor(init))
            self.drop = nn.Dropout(params["dropout"])
            # the kernels' outputs of every pixel and feature -> the regions
            self.regions = nn.Linear(n_in * params["n_kernels"], spec["n_regions"])
            nn.init.zeros_(self.regions.weight)
            nn.init.zeros_(self.regions.bias)

        def forward(self, x):
            # x: (n, n_pixels, n_features, n_bins)
            z = torch.einsum("npfb,bk->npfk", x, self.kernels).flatten(1)
            return self.regions(self.drop(z))

    torch.manual_seed(int(meta.get("seed", 0)))
    return BoldNet()


def hrf_kernels(n_bins, bin_s, n_kernels):
    """Start values of the kernels over a window's bins (the latest bin last).

    The first is nilearn's canonical (Glover) HRF sampled at the bins, the
    second its temporal derivative, others small random ones; each scaled
    to a sum of absolute values of 1.
    """
    from nilearn.glm.first_level import glover_hrf

    hrf = glover_hrf(bin_s, oversampling=1, time_length=n_bins * bin_s)[:n_bins]
    hrf = np.pad(hrf, (0, n_bins - len(hrf)))[::-1]
    kernels = [hrf, np.gradient(hrf)]
    rng = np.random.default_rng(0)
    kernels += [rng.standard_normal(n_bins) for _ in range(n_kernels - 2)]
    out = np.stack(kernels[:n_kernels], axis=1)
    return (out / np.abs(out).sum(axis=0)).astype(np.float32)


def export(net, card, *, fp16=True):
    """Export a trained BoldNet: spectrogram windows in, BOLD per source out.

    The graph takes ``spectrogram`` ``(n, n_pixels, n_bands, n_bins)`` and
    returns ``bold`` ``(n, n_sources)``: the regions' BOLD (% signal change)
    spread over their sources (``card["bold"]["labels"]``).
    """
    import io
    import warnings

    import onnx
    import torch

    from .._export import _finish
    from ..fmri._features import n_features

    labels = torch.as_tensor(np.asarray(card["bold"]["labels"], np.int64))
    spec = card["bold"]

    class _Graph(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net
            self.register_buffer("labels", labels)

        def forward(self, spectrogram):
            return self.net(spectrogram)[:, self.labels]

    graph = _Graph().eval()
    example = torch.zeros(2, spec["n_pixels"], n_features(spec), spec["n_bins"])
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation
        torch.onnx.export(graph, (example,), buffer, dynamo=False,
                          input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                          opset_version=17,
                          dynamic_axes={INPUT_NAME: {0: "n"}, OUTPUT_NAME: {0: "n"}})
    return _finish(onnx.load_from_string(buffer.getvalue()), card, fp16)


class BoldNetBackend(Backend):
    """Spectrogram windows of EEG (any cap) -> BOLD of the template's regions."""

    name = "boldnet"
    defaults = DEFAULTS
    loss = "mse"
    input_kind = "window"
    sensor_kind = "any_cap"
    trained_by = "tools/train_boldnet.py"
    summary = ("EEG spectrogram windows (any cap) to the BOLD signal of the "
               "template's regions through learned haemodynamic kernels, trained "
               "on simulated simultaneous EEG-fMRI")

    def build(self, meta, hyper, **inputs):
        """Build an untrained BoldNet (see :func:`build`)."""
        return build(meta, hyper)

    def export(self, net, gain_pre, card, *, fp16=True, whitener=None):
        """Export as a spectrogram-to-BOLD graph (see :func:`export`)."""
        return export(net, card, fp16=fp16)
