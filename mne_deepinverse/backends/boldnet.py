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
(:func:`mne_deepinverse.fmri._features.spectrogram_windows`): every bin's
pixels x bands go through a two-layer encoder shared by the bins (the spatial
and spectral pattern to the activity of the regions of a fixed parcellation of
the template), and learned kernels over the window's bins, shared by all
regions (the haemodynamic integration), give every region's BOLD signal
change (%); the exported
graph spreads every region's value over its sources. Trained by
``tools/train_boldnet.py``; applied with onnxruntime by
:func:`mne_deepinverse.fmri.synthesize_bold` (``method="deep"``).
"""

import numpy as np

from .base import Backend

DEFAULTS = dict(n_hidden=512, n_kernels=8, dropout=0.1)
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
    n_reg, n_bins, n_k = spec["n_regions"], spec["n_bins"], params["n_kernels"]

    class BoldNet(nn.Module):
        def __init__(self):
            super().__init__()
            # every bin: its pixels x bands -> the regions' activity
            self.encode = nn.Sequential(
                nn.Linear(n_in, params["n_hidden"]), nn.GELU(),
                nn.Dropout(params["dropout"]), nn.Linear(params["n_hidden"], n_reg))
            # the window: haemodynamic kernels over the bins, shared by regions
            self.kernels = nn.Parameter(torch.randn(n_bins, n_k) / n_bins)
            self.mix = nn.Parameter(torch.randn(n_k) / n_k)
            self.bias = nn.Parameter(torch.zeros(n_reg))

        def forward(self, x):
            # x: (n, n_pixels, n_bands, n_bins) -> one row per bin
            act = self.encode(x.permute(0, 3, 1, 2).flatten(2))  # (n, bins, reg)
            z = nn.functional.gelu(torch.einsum("ntr,tk->nkr", act, self.kernels))
            return torch.einsum("nkr,k->nr", z, self.mix) + self.bias

    torch.manual_seed(int(meta.get("seed", 0)))
    return BoldNet()


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
               "template's regions, trained on simulated simultaneous EEG-fMRI")

    def build(self, meta, hyper, **inputs):
        """Build an untrained BoldNet (see :func:`build`)."""
        return build(meta, hyper)

    def export(self, net, gain_pre, card, *, fp16=True, whitener=None):
        """Export as a spectrogram-to-BOLD graph (see :func:`export`)."""
        return export(net, card, fp16=fp16)
