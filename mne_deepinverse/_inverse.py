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

from ._checks import _check_data_array, _check_flat, _check_meg_scales
from ._docs import fill_doc
from ._fit import _sample_snr_db, check_fit, explained, fit_reference
from ._load import load_model
from ._model import AMPLITUDES

#: Lowest sampling rate (Hz) that window models resample data from.
_MIN_SFREQ = 100.0
#: Time samples whose maps are made at a time, whatever ``buffer_size``: the
#: memory a call needs beyond its estimate stays bounded (1024 samples of
#: 5124 sources are 21 MB).
_BLOCK_ROWS = 1024


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


#: Band-limited interpolation between the data's and a model's rate: zero
#: crossings of the sinc on each side (at the lower rate), Kaiser window
#: shape, cut-off as a fraction of the lower Nyquist frequency, and output
#: samples computed at once.
_RESAMPLE_LOBES = 16
_RESAMPLE_BETA = 8.0
_RESAMPLE_ROLLOFF = 0.9
_RESAMPLE_BLOCK = 1024


class _Resampler:
    """Resample a signal from ``rate_in`` to ``rate_out`` Hz, a chunk at a time.

    Every output sample (at time ``i / rate_out`` from the first input
    sample) is a Kaiser-windowed sinc interpolation of the input samples
    within ``_RESAMPLE_LOBES`` periods of the lower rate, low-passed at
    ``_RESAMPLE_ROLLOFF`` times the lower Nyquist frequency (anti-aliasing
    when downsampling), with the weights normalised to preserve a constant;
    the input is mirrored at both ends (as MNE pads by reflection). Unlike
    an FFT over the whole span (:func:`mne.filter.resample`), each output
    depends on a few dozen neighbours only, so a recording resampled chunk by
    chunk gives the same values as at once, whatever the (possibly
    non-integer) ratio of the rates.
    """

    def __init__(self, rate_in, rate_out, n_in, n_out=None):
        self.step = float(rate_in) / float(rate_out)  # input samples per output
        self.n_in = int(n_in)
        self.n_out = (max(1, round(n_in / self.step)) if n_out is None
                      else int(n_out))
        ratio = max(1.0, self.step)  # downsampling: cut off below the output's
        self.cutoff = _RESAMPLE_ROLLOFF / ratio
        self.half = int(np.ceil(_RESAMPLE_LOBES * ratio))

    def taps(self, first, last):
        """Input indices and weights, each (last - first, n_taps), of outputs."""
        pos = np.arange(first, last) * self.step
        base = np.floor(pos).astype(np.int64)
        idx = base[:, None] + np.arange(1 - self.half, self.half + 1)
        dist = pos[:, None] - idx
        w = self.cutoff * np.sinc(self.cutoff * dist)
        w *= np.i0(_RESAMPLE_BETA * np.sqrt(np.clip(1 - (dist / self.half) ** 2,
                                                     0, None)))
        w /= w.sum(axis=1, keepdims=True)
        top = self.n_in - 1
        idx = np.abs(idx)
        idx = np.where(idx > top, 2 * top - idx, idx)
        return np.clip(idx, 0, top), w

    def ready(self, n_read):
        """How many outputs read only the first ``n_read`` inputs (unmirrored)."""
        limit = n_read - 1 - self.half  # the largest base whose taps are < n_read
        if limit < 0:
            return 0
        count = int(np.ceil((limit + 1) / self.step))
        while count > 0 and np.floor((count - 1) * self.step) > limit:
            count -= 1
        while np.floor(count * self.step) <= limit:
            count += 1
        return min(count, self.n_out)

    @staticmethod
    def apply(x, idx, w):
        """Interpolate ``x`` (n_rows, n) at ``idx``: (n_rows, len(idx))."""
        w = w.astype(np.result_type(x.dtype, np.float32), copy=False)
        out = np.zeros((x.shape[0], idx.shape[0]), w.dtype)
        for k in range(idx.shape[1]):
            out += x[:, idx[:, k]] * w[:, k]
        return out


def _grow(old, length, cols=None):
    """Zeros of ``length`` samples, ``old`` first.

    Float32 of shape (length, cols) (a row a sample, so that a window's maps
    are added to contiguous rows), or float64 weights of shape (length,).
    """
    new = (np.zeros((length, cols), np.float32) if cols is not None
           else np.zeros(length))
    if old is not None:
        new[:len(old)] = old
    return new


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
        self.picks, self.interp = prepared.read_plan(info, on_mismatch=on_mismatch,
                                                     kind=kind)
        # what is read of the data: the model's channels, or another cap's EEG
        # interpolated onto them
        self.ch_names = [info["ch_names"][p] for p in self.picks]
        self.ch_types = (list(prepared.ch_types) if self.interp is None
                         else ["eeg"] * len(self.picks))
        if amplitudes == "patch":
            prepared._patch_inputs  # noqa: B018 (raises without a forward)
        self.kind = kind
        # pending projectors are applied to every block (never to the user's
        # object); active ones are already in the data; a whitener holds them
        # (checked to be the data's)
        projs = [p for p in info["projs"] if not p["active"]]
        self.proj = None
        if projs and not prepared.sensors.whitened:
            self.proj = make_projector(projs, self.ch_names)[0]
        self.amplitudes = amplitudes
        self.model = model
        self._looked = False  # at the channels' scales (on the first block read)

    def _look(self, data):
        """Warn once per call about flat channels and MEG units (first block)."""
        if self._looked or data.shape[-1] < 3:
            return
        self._looked = True
        what = f"The {self.kind} data"
        _check_flat(data, self.ch_names, self.ch_types, what)
        _check_meg_scales(data.std(axis=-1), self.ch_types, what)

    def _read(self, read, first, last, bad=None):
        """Read, check and project the data of samples [first, last).

        Samples marked in ``bad`` (a boolean mask of the span) are neither
        checked nor seen by the network: they are read as zeros.
        """
        data = read(first, last)
        skip = None if bad is None else bad[first:last]
        if skip is None or not skip.any():
            data = _check_data_array(data, f"The {self.kind} data",
                                     ch_types=self.ch_types)
            self._look(data)
        else:
            data = np.array(data, dtype=np.float64)
            if not skip.all():
                _check_data_array(data[:, ~skip], f"The {self.kind} data",
                                  ch_types=self.ch_types)
                self._look(data[:, ~skip])
            data[:, skip] = 0.0
        return self._to_model(data)

    def _to_model(self, data):
        """Project the read channels and interpolate them onto the model's."""
        if self.proj is not None:
            data = self.proj @ data
        return data if self.interp is None else self.interp @ data

    def _invert_rows(self, X):
        """Invert samples or windows; return maps and residuals, a row a sample.

        The residuals are as the model reads the data (whitened for MEG).
        """
        return self.prepared.invert(X, self.amplitudes)

    def span(self, read, n, *, buffer_size=None, residual=False, bad=None,
             as_read=False):
        """Invert ``n`` samples; ``read(first, last)`` gives (n_channels, last - first).

        Returns the maps (n_sources, n) in Am, float32, and the residual
        (n_channels, n) if asked, assembled from :meth:`chunks`.
        """
        n_ch = len(self.prepared.ch_names)
        sol = np.empty((self.prepared.n_sources, n), np.float32)
        res = np.empty((n_ch, n), np.float32) if residual else None
        for first, last, maps, r in self.chunks(read, n, buffer_size=buffer_size,
                                                residual=residual, bad=bad,
                                                as_read=as_read):
            sol[:, first:last] = maps
            if residual:
                res[:, first:last] = r
            del maps, r  # (not alive while the next block is made)
        return sol, res

    def chunks(self, read, n, *, buffer_size=None, residual=False, bad=None,
               as_read=False):
        """Invert ``n`` samples chunk by chunk, in order.

        Yields ``(first, last, maps, residual)``: the maps of samples
        ``[first, last)`` (n_sources, last - first) in Am, float32, and their
        residual in sensor units (None unless asked; with ``as_read``, as the
        model reads the data: whitened for a model that reads MEG). The chunks tile
        ``[0, n)``; the data are read ``buffer_size`` samples at a time (all
        when None) and the maps made for at most about ``_BLOCK_ROWS`` of them
        at a time, so that memory grows neither with ``n`` nor with
        ``buffer_size`` (:func:`_regroup` cuts them into chunks of
        ``buffer_size`` samples). Samples where
        the boolean mask ``bad`` (n,) is True are not inverted: their maps
        (and residual) are NaN.
        """
        if n == 0:
            self._read(read, 0, 0)  # raises: empty data
        if bad is not None and not bad.any():
            bad = None
        if self.rate is not None:
            pieces = self._resampled_chunks(read, n, buffer_size, residual, bad)
        else:
            pieces = self._chunks(read, n, buffer_size, residual, bad)
        active = False
        for first, last, maps, res in pieces:
            good = slice(None) if bad is None else ~bad[first:last]
            active = active or bool(maps[:, good].any())
            if res is not None and not as_read:
                res = self.in_sensor_units(res)
            if bad is not None:
                maps, res = _blank(maps, res, bad[first:last])
            yield first, last, maps, res
            del maps, res
        if not active:
            _warn(f"The model predicts no active source in the {self.kind} data.")

    def _chunks(self, read, n, buffer_size, residual, bad):
        """Yield the chunks at the model's rate (residuals as the model reads)."""
        buffer_size = n if buffer_size is None else buffer_size
        if self.window is None:
            for first in range(0, n, buffer_size):
                last = min(first + buffer_size, n)
                X = self._read(read, first, last, bad).T
                for a in range(0, last - first, _BLOCK_ROWS):
                    b = min(a + _BLOCK_ROWS, last - first)
                    maps, r = self._invert_rows(X[a:b])
                    yield first + a, first + b, maps.T, (r.T if residual else None)
        elif n < self.window[0]:
            yield (0, n, *self._short_span(read, n, residual, bad))
        else:
            yield from self._windows(read, n, buffer_size, residual, bad)

    def _resampled_chunks(self, read, n, buffer_size, residual, bad):
        """Invert a span at the model's rate; the estimates back at the data's.

        The data are resampled to the model's rate and the maps and residual
        back by band-limited interpolation (:class:`_Resampler`), chunk by
        chunk: every output sample depends on a few dozen neighbours only,
        so a chunked span gives the same estimates as a whole one and memory
        stays bounded by the chunk.
        """
        model_rate, data_rate = self.rate
        to_model = _Resampler(data_rate, model_rate, n)
        n_m = to_model.n_out
        back = _Resampler(model_rate, data_rate, n_m, n_out=n)

        def read_model(first, last):  # checked and projected by _chunks' _read
            idx, w = to_model.taps(first, last)
            lo, hi = int(idx.min()), int(idx.max()) + 1
            data = read(lo, hi)
            if bad is not None and bad[lo:hi].any():  # never seen by the network
                data = np.array(data, dtype=np.float64)
                data[:, bad[lo:hi]] = 0.0
            return _Resampler.apply(data, idx - lo, w)

        size = None if buffer_size is None else max(1, round(buffer_size
                                                             * model_rate / data_rate))
        inner = self._chunks(read_model, n_m, size, residual, None)
        buf_first, buf, buf_res = 0, None, None
        done = 0
        for _, last_m, maps, res in inner:
            buf = maps if buf is None else np.concatenate([buf, maps], axis=1)
            if residual:
                buf_res = res if buf_res is None else np.concatenate([buf_res, res],
                                                                     axis=1)
            del maps, res
            ready = n if last_m == n_m else back.ready(last_m)
            if ready <= done:
                continue
            for a in range(done, ready, _RESAMPLE_BLOCK):  # (bounded pieces)
                b = min(a + _RESAMPLE_BLOCK, ready)
                idx, w = back.taps(a, b)
                idx = idx - buf_first
                yield (a, b, back.apply(buf, idx, w),
                       back.apply(buf_res, idx, w) if residual else None)
            done = ready
            if done < n:  # keep what the next output samples read
                keep = min(int(back.taps(done, done + 1)[0].min()),
                           int(back.taps(n - 1, n)[0].min()))
                buf = buf[:, keep - buf_first:]
                if residual:
                    buf_res = buf_res[:, keep - buf_first:]
                buf_first = keep

    def _windows(self, read, n, buffer_size, residual, bad):
        """Overlap-add the maps of the windows of ``n >= n_times`` samples.

        Windows are inverted in groups of about ``buffer_size`` samples (at
        most about ``_BLOCK_ROWS``); the samples before the next group's first
        window are final and yielded.
        """
        n_times, hop, weights = self.window
        starts = _window_starts(n, n_times, hop)
        per_block = max(1, min(buffer_size, _BLOCK_ROWS) // hop)
        acc = total = acc_res = None
        for g in range(0, len(starts), per_block):
            group = starts[g:g + per_block]
            offset, end = group[0], group[-1] + n_times
            block = self._read(read, offset, end, bad)
            X = np.stack([block[:, k - offset:k - offset + n_times].T for k in group])
            maps, r = self._invert_rows(X)
            maps = maps.reshape(len(group), n_times, -1)
            r = r.reshape(len(group), n_times, -1)
            # the accumulators cover [offset, end); the previous group's tail first
            acc = _grow(acc, end - offset, maps.shape[-1])
            total = _grow(total, end - offset)
            if residual:
                acc_res = _grow(acc_res, end - offset, r.shape[-1])
            w = weights[:, None].astype(np.float32)
            for k, m, rr in zip(group, maps, r, strict=True):
                at = slice(k - offset, k - offset + n_times)
                m *= w  # (in place: the network's output, not used again)
                acc[at] += m
                total[at] += weights
                if residual:
                    acc_res[at] += w * rr
            del maps, r, m, rr  # (not alive while the chunk is used)
            final = starts[g + per_block] if g + per_block < len(starts) else n
            cut = final - offset
            # final samples: normalised in place (never added to again)
            scale = (1.0 / total[:cut, None]).astype(np.float32)
            acc[:cut] *= scale
            if residual:
                acc_res[:cut] *= scale
            yield (offset, final, acc[:cut].T, acc_res[:cut].T if residual else None)
            acc, total = acc[cut:], total[cut:]
            if residual:
                acc_res = acc_res[cut:]

    def _short_span(self, read, n, residual, bad):
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
        return (np.ascontiguousarray(maps[before:before + n].T),
                np.ascontiguousarray(r[before:before + n].T) if residual else None)

    def make_stc(self, sol, tmin, sfreq):
        return self.prepared.make_stc(sol, tmin, 1.0 / sfreq)

    def in_sensor_units(self, res):
        """Return a residual as the model reads it in sensor units (float32)."""
        sensors = self.prepared.sensors
        return (sensors.colorer @ res).astype(np.float32) if sensors.whitened else res

    def residual(self, evoked, res):
        """Return the residual (as the model reads it) as an Evoked.

        On the evoked's channels the model reads; on the model's electrodes
        when it read another cap through interpolation.
        """
        if self.interp is None:
            out = evoked.copy().pick(self.prepared.ch_names)
        else:
            spec = self.model.card.sensors
            info = mne.create_info(list(spec.ch_names), evoked.info["sfreq"], "eeg")
            info.set_montage(mne.channels.make_dig_montage(
                dict(zip(spec.ch_names, spec.ch_pos, strict=True)),
                coord_frame="head"))
            out = mne.EvokedArray(res, info, tmin=evoked.times[0], nave=evoked.nave,
                                  comment=evoked.comment)
            out.set_eeg_reference(projection=True, verbose=False).apply_proj(
                verbose=False)
        out.data = self.in_sensor_units(res).astype(np.float64)
        return out

    def check_fit(self, data, res, times, nave):
        """Goodness of fit (%) per sample; warn if far below the reference.

        ``data`` are the picked data and ``res`` the residual as the model
        reads the data (``as_read``: average referenced, or whitened).
        """
        sensors = self.prepared.sensors
        X = sensors.pre(self._to_model(data).T).T
        gof = explained(X, res)
        rank = sensors.rank if sensors.whitened else None
        snr = _sample_snr_db(np.sum(X**2, axis=0), times, nave=nave, rank=rank)
        check_fit(gof, snr, times, fit_reference(self.model), self.kind)
        return gof


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


def _regroup(pieces, n, size):
    """Cut the maps of pieces into chunks of ``size`` samples; yield ``(first, maps)``.

    ``pieces`` are ``(first, last, maps, _)`` tiling ``[0, n)`` in order; the
    last chunk is shorter when ``size`` does not divide ``n``.
    """
    out = None
    for first, last, maps, _ in pieces:
        at = first
        while at < last:
            if out is None:
                c0, c1 = at, min(at + size, n)
                out = np.empty((maps.shape[0], c1 - c0), np.float32)
            take = min(last, c1) - at
            out[:, at - c0:at - c0 + take] = maps[:, at - first:at - first + take]
            at += take
            if at == c1:
                yield c0, out
                out = None


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

    The share of the data the estimate explains (goodness of fit, per time
    sample: :func:`~mne_deepinverse.goodness_of_fit`) is logged; when most
    samples with signal fall below what the model explains on 95 percent of
    simulated data of its training kind at their SNR (estimated from the
    baseline, or from ``noise_cov``), a warning says that the data may lie
    outside what the model was trained for.

    Parameters
    ----------
    evoked : instance of Evoked
        EEG data in V with an average-reference projector and electrode
        positions (a montage) near the model's, containing every channel of
        the model (others are ignored), or, for a model of one EEG cap, the
        EEG of another cap with positions, interpolated onto the model's
        electrodes (:meth:`~mne_deepinverse.PreparedModel.read_plan`; the
        residual is then on the model's electrodes); MEG in T (magnetometers) and T/m
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
    sol, res = inv.span(lambda a, b: data[:, a:b], data.shape[1], residual=True,
                        as_read=True)
    stc = inv.make_stc(sol, evoked.times[0], evoked.info["sfreq"])
    logger.info(f"    Applied {inv.prepared.backend} to {sol.shape[1]} time samples")
    inv.check_fit(data, res, evoked.times, evoked.nave)
    if not return_residual:
        return stc
    return stc, inv.residual(evoked, res)


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
    return_generator=False,
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
    return_generator : bool
        If True, return a generator of SourceEstimates, one per chunk of
        about ``buffer_size`` samples, in order and without overlap (each
        with its own ``tmin``), instead of one SourceEstimate: only one
        chunk's estimate is then in memory at a time, for recordings whose
        whole estimate does not fit (a 1-hour, 64-channel recording at 250 Hz
        on 5124 sources is 17 GiB). Save each chunk as it comes, e.g.
        ``stc.save(f"sub-01_part-{k:03d}", ftype="h5")``; the chunks'
        estimates are those of the whole span (see :ref:`stream-raw`).

        .. versionadded:: 0.1
    %(on_mismatch)s
    %(amplitudes)s
    %(noise_cov_apply)s
    %(verbose)s

    Returns
    -------
    stc : instance of SourceEstimate | VolSourceEstimate | generator
        The source estimate of the whole span (float32), or a generator of
        the chunks' estimates (``return_generator=True``).

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
    _validate_type(return_generator, bool, "return_generator")
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
    sfreq = raw.info["sfreq"]
    if return_generator:
        pieces = inv.chunks(read, stop - start, buffer_size=buffer_size, bad=bad)
        return (inv.make_stc(maps, raw.times[start + first], sfreq)
                for first, maps in _regroup(pieces, stop - start, buffer_size))
    sol = inv.span(read, stop - start, buffer_size=buffer_size, bad=bad)[0]
    return inv.make_stc(sol, raw.times[start], sfreq)
