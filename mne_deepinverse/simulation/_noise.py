# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Sensor noise: its covariance, 1/f noise, and adding it at an SNR."""

import mne
import numpy as np
from mne.utils import _check_option, _validate_type

_NOISE_KINDS = ("white", "brain")


def _noise_sqrt(noise, gain, ch_names, sensors=None):
    """Square root (n_ch, n_ch) of the noise covariance, unit mean variance.

    With whitened ``sensors`` (MEG models), "white" is the sensors' noise
    covariance (sensor noise per channel type) and every kind is scaled to
    unit mean variance after whitening.
    """
    kinds = list(noise) if isinstance(noise, list | tuple) else [noise]
    whitened = sensors is not None and sensors.whitened
    n_ch = len(ch_names)
    total = np.zeros((n_ch, n_ch))
    for kind in kinds:
        _validate_type(kind, (str, mne.Covariance), "noise")
        if isinstance(kind, mne.Covariance):
            missing = sorted(set(ch_names) - set(kind["names"]))
            if missing:
                raise ValueError(
                    f"The noise covariance lacks channel(s) {missing} of the "
                    "forward; compute it on the same channels."
                )
            idx = [kind["names"].index(c) for c in ch_names]
            data = np.diag(kind.data) if kind["diag"] else kind.data
            cov = data[np.ix_(idx, idx)]
        else:
            _check_option("noise", kind, _NOISE_KINDS)
            # brain noise: independent unit sources everywhere through the gain
            if kind == "brain":
                cov = gain @ gain.T
            else:
                cov = sensors.cov_matrix() if whitened else np.eye(n_ch)
        if whitened:
            white = sensors.W @ cov @ sensors.W.T
            total += cov / np.trace(white) * n_ch
        else:
            total += cov / np.trace(cov) * n_ch
    total /= len(kinds)
    evals, evecs = np.linalg.eigh(total)
    return evecs * np.sqrt(np.clip(evals, 0, None))


def _add_noise_at_snr(X, noise, snr_db, measure=None):
    """Add ``noise`` to the samples ``X`` (in place) at the SNR (dB) of each.

    Numpy arrays or torch tensors (the any-cap training simulates on a GPU).
    The powers are those of the rows, or of ``measure(rows)`` (e.g. the
    whitened data of a MEG model, where every channel type counts by its
    noise).
    """
    Xm, Nm = (X, noise) if measure is None else (measure(X), measure(noise))
    p_sig = (Xm**2).mean(1)
    p_noise = (Nm**2).mean(1)
    p_noise = p_noise + (p_noise == 0)  # all-zero noise adds nothing
    X += noise * ((p_sig / (p_noise * 10 ** (snr_db / 10))) ** 0.5)[:, None]
    return X


def _pink_noise(rng, n_series, n_times):
    """Noise with a 1/f power spectrum along the last axis, unit variance."""
    n_fft = 2 * n_times
    freqs = np.fft.rfftfreq(n_fft)
    amp = np.zeros_like(freqs)
    amp[1:] = 1.0 / np.sqrt(freqs[1:])
    spec = amp * (
        rng.standard_normal((n_series, len(freqs)))
        + 1j * rng.standard_normal((n_series, len(freqs)))
    )
    out = np.fft.irfft(spec, n=n_fft, axis=-1)[:, :n_times]
    out -= out.mean(axis=-1, keepdims=True)
    return out / out.std(axis=-1, keepdims=True)
