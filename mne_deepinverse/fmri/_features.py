# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""What the deep BOLD synthesizer reads: spectrogram windows of the EEG.

The EEG is interpolated onto the fixed grid of virtual electrodes of
:mod:`mne_deepinverse._caps` (so one network serves any cap); every pixel's
power in a few frequency bands is computed in bins of ``bin_s`` seconds
(Hann-windowed FFT of each bin), taken as the log of its ratio to the
recording's mean power in that band and pixel; the slow potential (every
bin's mean, a standardised map) is one more feature; and every fMRI frame gets
the ``n_bins`` bins that end at its centre: the EEG of the seconds that its
haemodynamic response integrates. Bins before the recording starts are 0
(the mean).
"""

import warnings

import numpy as np

#: Frequency bands (Hz) of the spectrogram: delta, theta, alpha, beta, gamma.
BANDS = ((1.0, 4.0), (4.0, 8.0), (8.0, 13.0), (13.0, 30.0), (30.0, 45.0))


def _bins(data, sfreq, bin_s):
    """Cut the last axis into whole bins: (..., n_bins, samples per bin)."""
    data = np.asarray(data, np.float64)
    per_bin = int(round(bin_s * sfreq))
    n_bins = data.shape[-1] // per_bin
    return data[..., : n_bins * per_bin].reshape(*data.shape[:-1], n_bins, per_bin)


def band_log_power(data, sfreq, bands, bin_s):
    """Log band power of every channel in consecutive bins.

    Parameters
    ----------
    data : array, shape (n_runs, n_channels, n_times)
        Signals (any unit).
    sfreq : float
        Sampling rate (Hz).
    bands : sequence of (float, float)
        Band edges (Hz); every band must hold at least one FFT frequency
        (``1 / bin_s`` apart) below the Nyquist frequency.
    bin_s : float
        Bin length (s).

    Returns
    -------
    power : array of float32, shape (n_runs, n_channels, n_bands, n_bins)
        Log of the bins' band power relative to its mean over the bins;
        bins with a NaN sample (spans to ignore) are 0 and not in the mean.
    """
    x = _bins(data, sfreq, bin_s)
    n_bins, per_bin = x.shape[-2:]
    if n_bins < 1:
        raise ValueError(f"The data ({np.shape(data)[-1] / sfreq:g} s) are shorter "
                         f"than one bin of the spectrogram ({bin_s:g} s).")
    bad = ~np.isfinite(x).all(axis=-1)  # bins in spans to ignore (NaN)
    x = np.where(bad[..., None], 0.0, x)
    x = x - x.mean(axis=-1, keepdims=True)
    spec = np.abs(np.fft.rfft(x * np.hanning(per_bin), axis=-1)) ** 2
    freqs = np.fft.rfftfreq(per_bin, 1.0 / sfreq)
    out = []
    for lo, hi in bands:
        sel = (freqs >= lo) & (freqs < hi)
        if not sel.any() or hi > sfreq / 2:
            raise ValueError(f"The band {lo:g}-{hi:g} Hz holds no frequency of "
                             f"bins of {bin_s:g} s at {sfreq:g} Hz (Nyquist "
                             f"{sfreq / 2:g} Hz).")
        out.append(spec[..., sel].mean(axis=-1))
    power = np.stack(out, axis=-2)  # (..., n_bands, n_bins)
    floor = 1e-12 * max(float(power.max()), 1e-300)
    log = np.where(bad[..., None, :], np.nan, np.log(power + floor))
    with warnings.catch_warnings():  # all bins bad: all 0
        warnings.simplefilter("ignore", RuntimeWarning)
        log -= np.nanmean(log, axis=-1, keepdims=True)
    return np.nan_to_num(log, nan=0.0).astype(np.float32)


def slow_potential(data, sfreq, bin_s):
    """Return the slow potential of every channel: its mean in consecutive bins.

    Parameters
    ----------
    data : array, shape (n_runs, n_channels, n_times)
        Signals.
    sfreq, bin_s : float
        Sampling rate (Hz) and bin length (s).

    Returns
    -------
    slow : array of float32, shape (n_runs, n_channels, n_bins)
        Bin means minus their mean over the bins, divided by their standard
        deviation over channels and bins (one scale per run: the map's
        shape and time course, not the cap's gain); bins with a NaN sample
        are 0 and out of the statistics.
    """
    x = _bins(data, sfreq, bin_s)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        means = x.mean(axis=-1)  # NaN in bins to ignore
        means -= np.nanmean(means, axis=-1, keepdims=True)
        scale = np.nanstd(means, axis=(-2, -1), keepdims=True)
    means /= np.where(scale > 0, scale, 1.0)
    return np.nan_to_num(means, nan=0.0).astype(np.float32)


def n_features(spec):
    """Return the number of features per pixel and bin of a card's entry.

    Its bands, and the slow potential when ``spec["slow"]``.
    """
    return len(spec["bands"]) + int(bool(spec.get("slow", False)))


def frame_windows(power, bin_s, frame_times, n_bins):
    """Return the ``n_bins`` bins that end at every frame's centre.

    Parameters
    ----------
    power : array, shape (n_runs, n_pixels, n_bands, n_all_bins)
        Of :func:`band_log_power`, bins from the recording's first sample.
    bin_s : float
        Bin length (s).
    frame_times : array, shape (n_frames,)
        Frame centres (s from the recording's first sample).
    n_bins : int
        Bins per window.

    Returns
    -------
    windows : array of float32, shape (n_runs, n_frames, n_pixels, n_bands, n_bins)
        Bins before the recording (or after its last whole bin) are 0.
    """
    n_runs, n_pix, n_bands, n_all = power.shape
    padded = np.concatenate(
        [np.zeros((n_runs, n_pix, n_bands, n_bins), np.float32), power,
         np.zeros((n_runs, n_pix, n_bands, n_bins), np.float32)], axis=-1)
    ends = np.clip(np.floor(np.asarray(frame_times) / bin_s + 1e-9).astype(int),
                   0, n_all + n_bins)
    idx = ends[:, None] + np.arange(n_bins)[None]  # in padded: end + n_bins - n_bins
    windows = padded[..., idx]  # (n_runs, n_pix, n_bands, n_frames, n_bins)
    return np.ascontiguousarray(windows.transpose(0, 3, 1, 2, 4))


def spectrogram_windows(data, sfreq, interp, frame_times, *, bands=BANDS, bin_s=1.0,
                        n_bins=24, slow=True):
    """Spectrogram windows of EEG on the grid, one per fMRI frame.

    Parameters
    ----------
    data : array, shape (n_runs, n_channels, n_times)
        Average-referenced EEG (V).
    sfreq : float
        Its sampling rate (Hz).
    interp : array, shape (n_channels, n_pixels)
        The cap's interpolation onto the grid
        (:func:`mne_deepinverse._caps.cap_interpolation`), pixels outside the
        head left out.
    frame_times : array, shape (n_frames,)
        Frame centres (s from the first sample).
    bands, bin_s, n_bins
        The spectrogram: bands (Hz), bin length (s), bins per window.
    slow : bool
        Add the slow potential (:func:`slow_potential`) as a last band.

    Returns
    -------
    windows : array of float32, shape (n_runs, n_frames, n_pixels, n_features, n_bins)
        ``n_features``: the bands (and the slow potential).
    """
    grid = np.einsum("cp,rct->rpt", np.asarray(interp, np.float64),
                     np.asarray(data, np.float64))
    feats = [band_log_power(grid, sfreq, bands, bin_s)] if len(bands) else []
    if slow:
        feats.append(slow_potential(grid, sfreq, bin_s)[:, :, None])
    if not feats:
        raise ValueError("No feature: give bands, or slow=True.")
    return frame_windows(np.concatenate(feats, axis=2), bin_s, frame_times, n_bins)
