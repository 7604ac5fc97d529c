# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""``apply_deep_inverse`` and its Epochs and Raw versions.

The MNE-style entry points are thin validating wrappers around one private
worker on arrays.

Only the fitted model (:class:`~mne_deepinverse.DeepInverseModel`) is used
here: no training code, no torch.
"""

import mne
import numpy as np
from mne.utils import _check_on_missing, _check_option, _validate_type, logger, verbose
from mne.utils import warn as _warn

from ._checks import _check_data_array
from ._docs import fill_doc
from ._load import load_model
from ._model import AMPLITUDES

#: Lowest sampling rate (Hz) that window models resample data from.
_MIN_SFREQ = 100.0


def _window_starts(n, n_times, hop):
    """First samples of the windows covering ``n >= n_times`` samples.

    Windows start every ``hop`` samples from the first; a last window is
    aligned with the end when the grid does not reach it.
    """
    starts = list(range(0, n - n_times + 1, hop))
    if starts[-1] != n - n_times:
        starts.append(n - n_times)
    return np.array(starts)


def _window_weights(n_times):
    """Overlap-add weights of a window: a Hann taper, positive at the edges."""
    return np.hanning(n_times + 2)[1:-1]


class _Inverter:
    """What every data block needs: the model, its picks, projector, amplitudes.

    Built once per call (all validation happens here, before any inference);
    :meth:`span` then inverts a span of data read block by block.

    Models that read one time sample invert every sample on its own, so blocks
    need no overlap. Models that read windows of ``n_times`` samples see
    windows that start every ``n_times // 2`` samples (the last one aligned
    with the end of the span); each window's maps are weighted by a Hann
    taper, added up and divided by the sum of the weights, so every sample
    is a weighted mean of the 1-3 windows that hold it (at the edges, of the
    one window that does). Spans shorter than a window are padded by
    reflection at both ends (with a warning). Raw data are read in groups of
    windows, on the same grid as a whole recording, so chunking does not
    change the result.
    """

    def __init__(self, model, info, fwd, *, kind, on_mismatch, amplitudes,
                 noise_cov=None):
        from mne._fiff.proj import make_projector

        _check_on_missing(on_mismatch, "on_mismatch")
        _validate_type(amplitudes, str, "amplitudes")
        _check_option("amplitudes", amplitudes, AMPLITUDES)
        model = load_model(model)
        self.window = None
        self.rate = None
        inp = model.card.input
        if inp.is_window:
            n_times, want = inp.n_times, inp.sfreq
            have = float(info["sfreq"])
            if have < _MIN_SFREQ:
                raise ValueError(
                    f"This {model.backend} model reads windows of {n_times} "
                    f"samples at {want:g} Hz; the {kind} is sampled at {have:g} "
                    f"Hz, below the {_MIN_SFREQ:g} Hz it can be resampled from "
                    "(its events last tens of ms). Use data sampled at "
                    f"{_MIN_SFREQ:g} Hz or more."
                )
            if abs(have - want) > 1e-6 * want:
                logger.info(f"    Resampling the {kind} from {have:g} to {want:g} Hz "
                            "(the model's rate) and the estimates back")
                self.rate = (want, have)
            self.window = (n_times, max(1, n_times // 2), _window_weights(n_times))
        if fwd is None and noise_cov is not None:
            raise ValueError("noise_cov is used with the forward model; pass fwd.")
        self.prepared = prepared = model.bind(fwd, info, noise_cov,
                                              on_mismatch=on_mismatch)
        self.picks = prepared.check_info(info, on_mismatch=on_mismatch, kind=kind)
        if amplitudes == "patch":
            prepared._patch_inputs  # noqa: B018 (raises without a forward)
        self.kind = kind
        # pending projectors are applied to every block (never to the user's
        # object); active ones are already in the data; a whitener holds them
        # (checked to be the data's)
        projs = [p for p in info["projs"] if not p["active"]]
        self.proj = None
        if projs and not prepared.sensors.whitened:
            self.proj = make_projector(projs, prepared.ch_names)[0]
        self.amplitudes = amplitudes

    def _read(self, read, first, last, bad=None):
        """Read, check and project the data of samples [first, last).

        Samples marked in ``bad`` (a boolean mask of the span) are neither
        checked nor seen by the network: they are read as zeros.
        """
        data = read(first, last)
        skip = None if bad is None else bad[first:last]
        if skip is None or not skip.any():
            data = _check_data_array(data, f"The {self.kind} data",
                                     ch_types=self.prepared.ch_types)
        else:
            data = np.array(data, dtype=np.float64)
            if not skip.all():
                _check_data_array(data[:, ~skip], f"The {self.kind} data",
                                  ch_types=self.prepared.ch_types)
            data[:, skip] = 0.0
        return data if self.proj is None else self.proj @ data

    def _invert_rows(self, X):
        """Invert samples or windows; return maps and residuals, a row a sample.

        The residuals are as the model reads the data (whitened for MEG).
        """
        return self.prepared.invert(X, self.amplitudes)

    def span(self, read, n, *, buffer_size=None, residual=False, bad=None):
        """Invert ``n`` samples; ``read(first, last)`` gives (n_channels, last - first).

        Returns the maps (n_sources, n) in Am, float32, and the residual
        (n_channels, n) if asked. At most about ``buffer_size`` samples (all
        when None) are read and inverted at once. Samples where the boolean
        mask ``bad`` (n,) is True are not inverted: their maps (and residual)
        are NaN.
        """
        if n == 0:
            self._read(read, 0, 0)  # raises: empty data
        if bad is not None and not bad.any():
            bad = None
        if self.rate is not None:
            sol, res = self._resampled_span(read, n, buffer_size, residual, bad)
            return _blank(sol, res, bad)
        n_ch = len(self.prepared.ch_names)
        buffer_size = n if buffer_size is None else buffer_size
        sol = np.empty((self.prepared.n_sources, n), np.float32)
        res = np.empty((n_ch, n), np.float32) if residual else None
        if self.window is None:
            for first in range(0, n, buffer_size):
                last = min(first + buffer_size, n)
                maps, r = self._invert_rows(self._read(read, first, last, bad).T)
                sol[:, first:last] = maps.T
                if residual:
                    res[:, first:last] = r.T
        elif n < self.window[0]:
            self._short_span(read, n, sol, res, bad)
        else:
            self._windows(read, n, buffer_size, sol, res, bad)
        good = slice(None) if bad is None else ~bad
        if not sol[:, good].any():
            _warn(f"The model predicts no active source in the {self.kind} data.")
        if res is not None and self.prepared.sensors.whitened:  # to sensor units
            res = (self.prepared.sensors.colorer @ res).astype(np.float32)
        return _blank(sol, res, bad)

    def _resampled_span(self, read, n, buffer_size, residual, bad):
        """Invert a span at the model's rate; the estimates back at the data's.

        The span is read whole, resampled with :func:`mne.filter.resample`
        (FFT, reflection-padded), inverted window by window, and the maps and
        residual are resampled back onto the ``n`` samples of the data.
        """
        from mne.filter import resample

        model_rate, data_rate = self.rate
        data = self._read(read, 0, n, bad).astype(np.float64)
        at_model = resample(data, model_rate, data_rate, npad="auto", verbose=False)
        rate, self.rate = self.rate, None
        try:
            sol_m, res_m = self.span(lambda a, b: at_model[:, a:b], at_model.shape[1],
                                     buffer_size=None, residual=residual)
        finally:
            self.rate = rate

        def back(x):
            y = resample(x.astype(np.float64), data_rate, model_rate, npad="auto",
                         verbose=False)
            if y.shape[1] < n:  # rounding of the lengths: repeat the last sample
                y = np.pad(y, ((0, 0), (0, n - y.shape[1])), mode="edge")
            return np.ascontiguousarray(y[:, :n], dtype=np.float32)

        return back(sol_m), (back(res_m) if residual else None)

    def _windows(self, read, n, buffer_size, sol, res, bad):
        """Overlap-add the maps of the windows of ``n >= n_times`` samples."""
        n_times, hop, weights = self.window
        starts = _window_starts(n, n_times, hop)
        total = np.zeros(n)
        sol[:] = 0.0
        if res is not None:
            res[:] = 0.0
        per_block = max(1, buffer_size // hop)
        for g in range(0, len(starts), per_block):
            group = starts[g:g + per_block]
            offset = group[0]
            block = self._read(read, offset, group[-1] + n_times, bad)
            X = np.stack([block[:, k - offset:k - offset + n_times].T for k in group])
            maps, r = self._invert_rows(X)
            maps = maps.reshape(len(group), n_times, -1)
            r = r.reshape(len(group), n_times, -1)
            for k, m, rr in zip(group, maps, r, strict=True):
                sol[:, k:k + n_times] += (weights[:, None] * m).T
                total[k:k + n_times] += weights
                if res is not None:
                    res[:, k:k + n_times] += (weights[:, None] * rr).T
        sol /= total.astype(np.float32)
        if res is not None:
            res /= total.astype(np.float32)

    def _short_span(self, read, n, sol, res, bad):
        """Invert a span shorter than one window, padded by reflection."""
        n_times = self.window[0]
        _warn(
            f"The {self.kind} has {n} time samples, fewer than the model's window "
            f"of {n_times}; it is padded by reflection at both ends. Pass a "
            "longer span (e.g. a longer baseline) for estimates the network was "
            "trained for."
        )
        data = self._read(read, 0, n, bad)
        before = (n_times - n) // 2
        padded = np.pad(data, ((0, 0), (before, n_times - n - before)),
                        mode="reflect" if n > 1 else "edge")
        maps, r = self._invert_rows(padded.T[None])
        sol[:] = maps[before:before + n].T
        if res is not None:
            res[:] = r[before:before + n].T

    def make_stc(self, sol, tmin, sfreq):
        return self.prepared.make_stc(sol, tmin, 1.0 / sfreq)


def _bad_samples(raw, start, stop):
    """Return the samples [start, stop) in spans annotated as bad (bool mask)."""
    from mne.annotations import _annotations_starts_stops

    onsets, ends = _annotations_starts_stops(raw, "bad")
    mask = np.zeros(stop - start, bool)
    for onset, end in zip(onsets, ends, strict=True):
        mask[max(onset - start, 0):max(end - start, 0)] = True
    if mask.any():
        logger.info(f"    {mask.sum()} of {len(mask)} samples are in bad spans: "
                    "not inverted (NaN)")
    return mask


def _blank(sol, res, bad):
    """Set the maps (and residual) of the ``bad`` samples to NaN, in place."""
    if bad is not None:
        sol[:, bad] = np.nan
        if res is not None:
            res[:, bad] = np.nan
    return sol, res


def _epoch_data(epochs, picks):
    """Yield the picked data of every good epoch, one epoch in memory at a time.

    Loaded epochs are indexed; lazy ones (``preload=False``, MNE's default)
    are read and checked against their rejection criteria one at a time, as
    :func:`mne.minimum_norm.apply_inverse_epochs` reads them, without dropping
    anything from the user's object.
    """
    if epochs.preload:
        for ii in range(len(epochs)):
            yield epochs.get_data(picks=picks, item=ii)[0]
    else:
        for data in epochs:
            yield data[picks]


@verbose
@fill_doc
def apply_deep_inverse(
    evoked,
    fwd,
    model="convdip",
    *,
    return_residual=False,
    on_mismatch="raise",
    amplitudes="scale",
    noise_cov=None,
    verbose=None,
):
    """Apply a deep-learning inverse solution to an evoked response.

    Every time sample is inverted in one batch through onnxruntime; the
    network predicts the pattern of each map, and the amplitudes are fitted
    to the data by least squares (``amplitudes``). Models that read windows
    of time samples (their ``input``) see half-overlapping windows whose maps
    are averaged with Hann weights; an evoked sampled at another rate (at
    least 100 Hz) is resampled to the model's rate for the network
    (:func:`mne.filter.resample`) and the estimates back to the evoked's
    times, and an evoked shorter than one window is padded by reflection
    (with a warning).

    Parameters
    ----------
    evoked : instance of Evoked
        EEG data in V with an average-reference projector and electrode
        positions (a montage) near the model's, containing every channel of
        the model (others are ignored); MEG in T (magnetometers) and T/m
        (gradiometers) for models that read MEG, with the SSP projectors and
        compensation grade the model was trained with and the head where the
        model's forward put it in the helmet (``info["dev_head_t"]``). Data
        that cannot be EEG in V or MEG in T, T/m (complex, not floating
        point, empty, non-finite, or spanning more than 10 mV, 100 nT or
        10 µT/m peak to peak) raise an error; implausibly small data give a
        warning.
    %(fwd_apply)s
    %(model_apply)s
    return_residual : bool
        If True, also return the residual (data minus the forward projection
        of the estimate) as an Evoked, like
        :func:`mne.minimum_norm.apply_inverse`.
    %(on_mismatch)s
    %(amplitudes)s
    %(noise_cov_apply)s
    %(verbose)s

    Returns
    -------
    stc : instance of SourceEstimate | VolSourceEstimate
        The source estimate in Am (float32; signed moments along the cortical
        normal), with the forward's vertices, the evoked's ``tmin`` and
        ``tstep``, and the model's subject (see :ref:`template-subject`).
    residual : instance of Evoked
        The residual (only if ``return_residual=True``).

    See Also
    --------
    apply_deep_inverse_epochs
    apply_deep_inverse_raw
    DeepInverse
    mne.minimum_norm.apply_inverse
    """
    _validate_type(evoked, mne.Evoked, "evoked")
    _validate_type(fwd, (mne.Forward, None), "fwd")
    if fwd is None and hasattr(model, "fwd") and hasattr(model, "model_"):
        fwd = model.fwd  # a fitted DeepInverse knows its forward
    inv = _Inverter(model, evoked.info, fwd, kind="evoked",
                    on_mismatch=on_mismatch, amplitudes=amplitudes,
                    noise_cov=noise_cov)
    data = evoked.data[inv.picks]
    sol, res = inv.span(lambda a, b: data[:, a:b], data.shape[1],
                        residual=return_residual)
    stc = inv.make_stc(sol, evoked.times[0], evoked.info["sfreq"])
    logger.info(f"    Applied {inv.prepared.backend} to {sol.shape[1]} time samples")
    if not return_residual:
        return stc
    residual = evoked.copy().pick(inv.prepared.ch_names)
    residual.data = res.astype(np.float64)
    return stc, residual


@verbose
@fill_doc
def apply_deep_inverse_epochs(
    epochs,
    fwd,
    model="convdip",
    *,
    return_generator=False,
    on_mismatch="raise",
    amplitudes="scale",
    noise_cov=None,
    verbose=None,
):
    """Apply a deep-learning inverse solution to every epoch.

    Each epoch is inverted exactly like :func:`apply_deep_inverse` inverts
    an evoked (one private worker serves both); the epochs' data are read one
    epoch at a time.

    Parameters
    ----------
    epochs : instance of Epochs
        EEG epochs in V with an average-reference projector, or MEG (see
        :func:`apply_deep_inverse` for what the data must hold).
    %(fwd_apply)s
    %(model_apply)s
    return_generator : bool
        Return a generator of SourceEstimates (one epoch in memory at a time)
        instead of a list.
    %(on_mismatch)s
    %(amplitudes)s
    %(noise_cov_apply)s
    %(verbose)s

    Returns
    -------
    stcs : list | generator of SourceEstimate | VolSourceEstimate
        One source estimate per epoch.

    See Also
    --------
    apply_deep_inverse
    apply_deep_inverse_raw
    mne.minimum_norm.apply_inverse_epochs
    """
    _validate_type(epochs, mne.BaseEpochs, "epochs")
    _validate_type(fwd, (mne.Forward, None), "fwd")
    _validate_type(return_generator, bool, "return_generator")
    inv = _Inverter(model, epochs.info, fwd, kind="epochs",
                    on_mismatch=on_mismatch, amplitudes=amplitudes,
                    noise_cov=noise_cov)
    if epochs.preload and len(epochs) == 0:
        raise ValueError("The epochs are empty (no epoch left); nothing to invert.")

    def stcs():
        n = 0
        for data in _epoch_data(epochs, inv.picks):
            sol = inv.span(lambda a, b: data[:, a:b], data.shape[1])[0]  # noqa: B023
            n += 1
            yield inv.make_stc(sol, epochs.times[0], epochs.info["sfreq"])
        if n == 0:
            raise ValueError("The epochs are empty (every epoch was rejected); "
                             "nothing to invert.")

    what = f"{len(epochs)} epochs" if epochs.preload else "the epochs (read lazily)"
    logger.info(f"    Applying {inv.prepared.backend} to {what}")
    return stcs() if return_generator else list(stcs())


@verbose
@fill_doc
def apply_deep_inverse_raw(
    raw,
    fwd,
    model="convdip",
    *,
    start=None,
    stop=None,
    buffer_size=10_000,
    reject_by_annotation=True,
    on_mismatch="raise",
    amplitudes="scale",
    noise_cov=None,
    verbose=None,
):
    """Apply a deep-learning inverse solution to continuous data.

    The recording is read and inverted in chunks of ``buffer_size`` samples,
    so that memory beyond the returned SourceEstimate stays bounded by one
    chunk (its data, the network's maps and their projections), however long
    the recording. The result is that of :func:`apply_deep_inverse` on the
    same samples: models that read one time sample need no overlap between
    chunks; models that read windows of time samples see windows on one grid
    over the whole span (half-overlapping, Hann-weighted, the last aligned
    with the end), read a group of windows per chunk; a recording at another
    sampling rate than the model's is read whole, resampled to the model's
    rate and the estimates back (memory: the span at both rates).

    Parameters
    ----------
    raw : instance of Raw
        Continuous EEG in V (high-pass filtered: slow drifts of more than
        10 mV within a chunk are refused as not EEG in V), with an
        average-reference projector, or MEG (see :func:`apply_deep_inverse`).
    %(fwd_apply)s
    %(model_apply)s
    start, stop : int | None
        First sample and the sample after the last one to invert (indices
        into the data, as in :meth:`mne.io.Raw.get_data`); None: from the
        beginning, to the end.
    buffer_size : int
        Samples per chunk (at least 1).
    reject_by_annotation : bool
        If True (default), samples in spans annotated as bad (descriptions
        starting with ``"BAD"``, as MNE rejects them) are not inverted: the
        network never sees them (nor their neighbours' windows, which read
        them as zeros) and their estimates are NaN, so an artefact there
        cannot distort the estimates. If False, every sample is inverted.

        .. versionadded:: 0.1
    %(on_mismatch)s
    %(amplitudes)s
    %(noise_cov_apply)s
    %(verbose)s

    Returns
    -------
    stc : instance of SourceEstimate | VolSourceEstimate
        The source estimate of the whole span (float32).

    See Also
    --------
    apply_deep_inverse
    apply_deep_inverse_epochs
    mne.minimum_norm.apply_inverse_raw
    """
    _validate_type(raw, mne.io.BaseRaw, "raw")
    _validate_type(fwd, (mne.Forward, None), "fwd")
    _validate_type(buffer_size, "int", "buffer_size")
    _validate_type(reject_by_annotation, bool, "reject_by_annotation")
    if buffer_size < 1:
        raise ValueError(f"buffer_size must be >= 1 sample, got {buffer_size}.")
    n_total = raw.n_times
    for name, value in (("start", start), ("stop", stop)):
        _validate_type(value, ("int-like", None), name)
    start = 0 if start is None else start + (n_total if start < 0 else 0)
    stop = n_total if stop is None else stop + (n_total if stop < 0 else 0)
    if not 0 <= start < stop <= n_total:
        raise ValueError(
            f"start and stop must give a non-empty span of the {n_total} samples "
            f"(0 <= start < stop <= {n_total}), got start={start}, stop={stop}."
        )
    inv = _Inverter(model, raw.info, fwd, kind="raw", on_mismatch=on_mismatch,
                    amplitudes=amplitudes, noise_cov=noise_cov)
    logger.info(f"    Applying {inv.prepared.backend} to {stop - start} samples in "
                f"chunks of {buffer_size}")

    def read(first, last):
        return raw.get_data(picks=inv.picks, start=start + first, stop=start + last)

    bad = _bad_samples(raw, start, stop) if reject_by_annotation else None
    sol = inv.span(read, stop - start, buffer_size=buffer_size, bad=bad)[0]
    return inv.make_stc(sol, raw.times[start], raw.info["sfreq"])
