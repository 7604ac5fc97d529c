# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""The fitted-model object and the Evoked / Epochs / Raw apply paths."""

import pickle
import tracemalloc

import mne
import numpy as np
import pytest

from mne_deepinverse import (
    DeepInverseModel,
    apply_deep_inverse,
    apply_deep_inverse_epochs,
    apply_deep_inverse_raw,
    read_deep_inverse_model,
)
from mne_deepinverse._load import load_model as _load_model
from mne_deepinverse.datasets import fetch_pretrained_file
from mne_deepinverse.simulation import simulate_patch_evoked


@pytest.fixture(scope="module")
def convdip():
    return _load_model("convdip")


@pytest.fixture(scope="module")
def data(fwd):
    evoked, _, epochs = simulate_patch_evoked(
        fwd, n_patches=2, n_trials=4, return_epochs=True, random_state=0
    )
    return evoked, epochs


def test_model_object(convdip, tmp_path):
    """The fitted model: torch-free, repr, save/read, pickle."""
    assert isinstance(convdip, DeepInverseModel)
    text = repr(convdip)
    assert "convdip, 31 EEG channels, 5124 sources" in text
    assert "input: one time sample" in text and "fsaverage5" in text
    assert convdip.input == {"kind": "sample"}  # format-1 card, read as samples
    fname = tmp_path / "m.onnx"
    convdip.save(fname)
    with pytest.raises(FileExistsError):
        convdip.save(fname)
    again = read_deep_inverse_model(fname)
    assert again.card == convdip.card and again.onnx == convdip.onnx
    assert fname.read_bytes() == fetch_pretrained_file("convdip.onnx").read_bytes()
    restored = pickle.loads(pickle.dumps(convdip))
    X = np.random.default_rng(0).normal(0, 1e-6, (5, 31))
    np.testing.assert_array_equal(restored.predict(X), convdip.predict(X))


@pytest.mark.parametrize("amplitudes", ["scale", "patch"])
def test_evoked_epochs_raw_agree(convdip, fwd, data, amplitudes):
    """One worker: the same data give the same maps through all three paths."""
    evoked, epochs = data
    # one epoch holding the evoked's data, and a raw recording of it
    ep = mne.EpochsArray(evoked.data[None], evoked.info, tmin=evoked.times[0],
                         verbose=False)
    raw = mne.io.RawArray(evoked.data, evoked.info, verbose=False)
    stc = apply_deep_inverse(evoked, fwd, convdip, amplitudes=amplitudes)
    (stc_ep,) = apply_deep_inverse_epochs(ep, fwd, convdip, amplitudes=amplitudes)
    np.testing.assert_array_equal(stc_ep.data, stc.data)
    assert stc_ep.tmin == stc.tmin and stc_ep.tstep == stc.tstep
    # raw, in one chunk, equals the evoked
    stc_raw = apply_deep_inverse_raw(raw, fwd, convdip, amplitudes=amplitudes)
    np.testing.assert_array_equal(stc_raw.data, stc.data)
    if amplitudes == "scale":  # one time sample at a time: chunks change nothing
        stc_raw = apply_deep_inverse_raw(raw, fwd, convdip, buffer_size=7,
                                         amplitudes=amplitudes)
        np.testing.assert_allclose(stc_raw.data, stc.data, rtol=1e-6, atol=1e-16)
        part = apply_deep_inverse_raw(raw, fwd, convdip, start=5, stop=12,
                                      amplitudes=amplitudes)
        np.testing.assert_allclose(part.data, stc.data[:, 5:12], rtol=1e-6,
                                   atol=1e-16)
        assert part.tmin == pytest.approx(raw.times[5])
    # epochs: a list, or a generator of the same estimates
    stcs = apply_deep_inverse_epochs(epochs, fwd, convdip, amplitudes=amplitudes)
    assert len(stcs) == len(epochs)
    gen = apply_deep_inverse_epochs(epochs, fwd, convdip, return_generator=True,
                                    amplitudes=amplitudes)
    assert not isinstance(gen, list)
    for a, b in zip(stcs, gen, strict=True):
        np.testing.assert_array_equal(a.data, b.data)
    # nothing passed in was modified
    np.testing.assert_array_equal(ep.get_data()[0], evoked.data)


def test_apply_errors(convdip, fwd, data):
    evoked, epochs = data
    raw = mne.io.RawArray(evoked.data, evoked.info, verbose=False)
    with pytest.raises(ValueError, match="Invalid value for the 'amplitudes'"):
        apply_deep_inverse(evoked, fwd, convdip, amplitudes="both")
    with pytest.raises(ValueError, match="amplitudes='patch' fits .* pass fwd"):
        apply_deep_inverse(evoked, None, convdip, amplitudes="patch")
    with pytest.raises(ValueError, match="buffer_size must be >= 1"):
        apply_deep_inverse_raw(raw, fwd, convdip, buffer_size=0)
    with pytest.raises(ValueError, match="non-empty span"):
        apply_deep_inverse_raw(raw, fwd, convdip, start=10, stop=10)
    with pytest.raises(TypeError, match="epochs must be an instance of"):
        apply_deep_inverse_epochs(evoked, fwd, convdip)
    with pytest.raises(TypeError, match="raw must be an instance of"):
        apply_deep_inverse_raw(epochs, fwd, convdip)
    info = evoked.info.copy()
    with info._unlock():
        info["projs"] = []
    no_ref = mne.io.RawArray(evoked.data, info, verbose=False)
    with pytest.raises(ValueError, match="average reference"):
        apply_deep_inverse_raw(no_ref, fwd, convdip)


@pytest.mark.parametrize("buffer_size", [500, 20_000])
@pytest.mark.parametrize("kind", ["sample", "window", "window-resampled"])
def test_raw_memory_is_bounded_by_the_chunk(convdip, fwd, data, window_data, kind,
                                            buffer_size):
    """Beyond the returned estimate, memory grows neither with the recording nor
    with buffer_size: 20,000 samples in chunks of 500 peak at a few chunks, and
    in one chunk of 20,000 at a few blocks of maps (``_BLOCK_ROWS`` samples),
    also when a window model resamples the data (here 250 Hz to its 100 Hz)."""
    from mne_deepinverse._inverse import _BLOCK_ROWS

    evoked, _ = data
    model = convdip
    if kind != "sample":
        model = _export_abs_net(fwd, convdip.card, window_data[1], temporal=True,
                                window=dict(kind="window", n_times=50, sfreq=100.0))
    n_times, chunk = 20_000, min(buffer_size, _BLOCK_ROWS)
    rng = np.random.default_rng(0)
    info = evoked.info
    if kind == "window-resampled":
        info = evoked.info.copy()
        with info._unlock():
            info["sfreq"] = 250.0
    raw = mne.io.RawArray(
        rng.normal(0, 2e-6, (len(evoked.ch_names), n_times)), info, verbose=False,
    )
    stc_bytes = convdip.n_sources * n_times * 4
    chunk_bytes = convdip.n_sources * chunk * 4  # one chunk of maps (float32)
    tracemalloc.start()
    try:
        stc = apply_deep_inverse_raw(raw, fwd, model, buffer_size=buffer_size,
                                     amplitudes="scale")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert stc.data.shape == (convdip.n_sources, n_times)
    extra = peak - stc_bytes
    # the whole recording's maps at once would be stc_bytes more again
    assert extra < 8 * chunk_bytes + 20e6, (extra / 1e6, chunk_bytes / 1e6)


def _export_abs_net(fwd, card, W, *, window=None, temporal=False):
    """A small network |x @ W| (optionally smoothed over time) as a model.

    The map of a time sample then depends only on that sample (up to a
    positive factor, which the amplitude fit removes), unless ``temporal``.
    """
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from mne_deepinverse._card import FORMAT_VERSION
    from mne_deepinverse._export import export_torch_model
    from mne_deepinverse._utils import _eeg_gain, _reference

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("W", torch.as_tensor(W, dtype=torch.float32))

        def forward(self, x):
            y = (x @ self.W).abs()
            if temporal:  # moving average over 5 samples of the window
                y = torch.nn.functional.avg_pool1d(
                    y.transpose(1, 2), 5, stride=1, padding=2,
                    count_include_pad=False).transpose(1, 2)
            return y

    card = dict(card, backend="test-window" if window else "test-sample",
                format_version=FORMAT_VERSION,
                input=window or {"kind": "sample"})
    gain = _reference(_eeg_gain(fwd)[0]).astype(np.float32)
    return DeepInverseModel(export_torch_model(Net().eval(), gain, card, fp16=False))


@pytest.fixture(scope="module")
def window_data(convdip, fwd):
    """137 samples at 100 Hz, two sources of changing sign, 5 % noise."""
    rng = np.random.default_rng(3)
    gain = fwd["sol"]["data"]
    t = np.arange(137) / 100.0
    J = np.zeros((gain.shape[1], t.size))
    J[300] = 10e-9 * np.sin(2 * np.pi * 3 * t)
    J[3000] = -8e-9 * np.cos(2 * np.pi * 5 * t)
    data = gain @ J
    data += rng.normal(0, 0.05 * np.abs(data).max(), data.shape)
    info = mne.create_info(convdip.ch_names, 100.0, "eeg")
    evoked = mne.EvokedArray(data, info, tmin=-0.2, verbose=False)
    evoked.set_montage(_montage(convdip), verbose=False)
    evoked.set_eeg_reference(projection=True, verbose=False)
    W = rng.normal(size=(len(convdip.ch_names), convdip.n_sources))
    return evoked, W


def _montage(model):
    pos = dict(zip(model.ch_names, np.asarray(model.card["ch_pos"]), strict=True))
    return mne.channels.make_dig_montage(pos, coord_frame="head")


@pytest.mark.parametrize("amplitudes", ["scale", "patch"])
def test_window_model_overlap_and_edges(convdip, fwd, window_data, amplitudes):
    """Windows overlap by half, the last one is aligned with the end, spans
    shorter than a window are padded: a window model whose maps depend only
    on each sample equals the same network applied sample by sample."""
    evoked, W = window_data
    window = dict(kind="window", n_times=20, sfreq=100.0)
    per_sample = _export_abs_net(fwd, convdip.card, W)
    windowed = _export_abs_net(fwd, convdip.card, W, window=window)
    assert "input: windows of 20 samples at 100 Hz" in repr(windowed)
    want, want_res = apply_deep_inverse(evoked, fwd, per_sample, return_residual=True,
                                        amplitudes=amplitudes)
    got, got_res = apply_deep_inverse(evoked, fwd, windowed, return_residual=True,
                                      amplitudes=amplitudes)
    scale = np.abs(want.data).max()
    np.testing.assert_allclose(got.data, want.data, rtol=1e-3, atol=1e-4 * scale)
    np.testing.assert_allclose(got_res.data, want_res.data, rtol=1e-3,
                               atol=1e-4 * np.abs(evoked.data).max())
    # raw in chunks smaller than a window, and an Epochs, give the same maps
    raw = mne.io.RawArray(evoked.data, evoked.info, verbose=False)
    stc_raw = apply_deep_inverse_raw(raw, fwd, windowed, buffer_size=7,
                                     amplitudes=amplitudes)
    np.testing.assert_allclose(stc_raw.data, got.data, rtol=1e-5, atol=1e-6 * scale)
    # shorter than a window: padded by reflection, with a warning
    short = evoked.copy().crop(0.0, 0.08)  # 9 samples
    with pytest.warns(RuntimeWarning, match="9 time samples, fewer than the "
                      "model's window of 20; it is padded by reflection"):
        stc_short = apply_deep_inverse(short, fwd, windowed, amplitudes=amplitudes)
    np.testing.assert_allclose(stc_short.data, want.crop(0.0, 0.08).data, rtol=1e-3,
                               atol=1e-4 * scale)


def test_window_model_paths_agree(convdip, fwd, window_data):
    """A network that mixes the samples of its window: evoked, epochs and raw
    (any chunk size, start and stop) share one window grid."""
    evoked, W = window_data
    window = dict(kind="window", n_times=20, sfreq=100.0)
    model = _export_abs_net(fwd, convdip.card, W, window=window, temporal=True)
    stc = apply_deep_inverse(evoked, fwd, model)
    scale = np.abs(stc.data).max()
    # the network's smoothing over time shows: not the per-sample result
    per_sample = apply_deep_inverse(evoked, fwd, _export_abs_net(fwd, convdip.card, W))
    assert not np.allclose(stc.data, per_sample.data, rtol=1e-2, atol=1e-2 * scale)
    raw = mne.io.RawArray(evoked.data, evoked.info, verbose=False)
    for buffer_size in (1, 7, 30, 10_000):
        stc_raw = apply_deep_inverse_raw(raw, fwd, model, buffer_size=buffer_size)
        np.testing.assert_allclose(stc_raw.data, stc.data, rtol=1e-5,
                                   atol=1e-6 * scale)
    part = apply_deep_inverse_raw(raw, fwd, model, start=10, stop=90, buffer_size=25)
    cropped = mne.EvokedArray(evoked.data[:, 10:90], evoked.info, verbose=False)
    np.testing.assert_allclose(part.data, apply_deep_inverse(cropped, fwd, model).data,
                               rtol=1e-5, atol=1e-6 * scale)
    epochs = mne.EpochsArray(np.stack([evoked.data, -evoked.data]), evoked.info,
                             tmin=evoked.times[0], verbose=False)
    stc_ep = apply_deep_inverse_epochs(epochs, fwd, model)
    np.testing.assert_allclose(stc_ep[0].data, stc.data, rtol=1e-5, atol=1e-6 * scale)
    np.testing.assert_allclose(stc_ep[1].data, -stc.data, rtol=1e-5,
                               atol=1e-6 * scale)
    # predict takes windows and returns maps per sample of each window
    X = evoked.data[:, :40].T.reshape(2, 20, -1)
    assert model.predict(X).shape == (2, 20, model.n_sources)
    with pytest.raises(ValueError, match=r"X must have shape \(n_windows, 20, 31\)"):
        model.predict(evoked.data.T)
    # below 100 Hz: no resampling, a clear error
    slow = mne.EvokedArray(evoked.data, mne.create_info(evoked.ch_names, 50.0, "eeg"),
                           verbose=False)
    slow.set_montage(_montage(convdip), verbose=False)
    slow.set_eeg_reference(projection=True, verbose=False)
    with pytest.raises(ValueError, match=r"windows of 20 samples at 100 Hz; the "
                       r"evoked is sampled at 50 Hz, below the 100 Hz"):
        apply_deep_inverse(slow, fwd, model)


def test_window_model_other_sfreq(convdip, fwd, window_data):
    """Data at another rate are resampled for the model and the maps back."""
    evoked, W = window_data
    window = dict(kind="window", n_times=20, sfreq=100.0)
    model = _export_abs_net(fwd, convdip.card, W, window=window, temporal=True)
    want = apply_deep_inverse(evoked, fwd, model)
    fast = evoked.copy().resample(400.0, verbose=False)  # user's copy
    before = fast.data.copy()
    got = apply_deep_inverse(fast, fwd, model, verbose=True)
    np.testing.assert_array_equal(fast.data, before)  # nothing modified
    assert got.sfreq == 400.0 and got.data.shape[1] == fast.data.shape[1]
    assert got.tmin == fast.times[0]
    # at the 100-Hz samples the maps agree (away from the resampling edges)
    sub = got.data[:, ::4][:, 5:-5]
    ref = want.data[:, 5:sub.shape[1] + 5]
    corr = np.corrcoef(sub.ravel(), ref.ravel())[0, 1]
    assert corr > 0.98, corr
    err = np.linalg.norm(sub - ref) / np.linalg.norm(ref)
    assert err < 0.2, err
    # raw at 400 Hz (any buffer) gives the evoked's result
    raw = mne.io.RawArray(fast.data, fast.info, verbose=False)
    stc_raw = apply_deep_inverse_raw(raw, fwd, model, buffer_size=30)
    np.testing.assert_allclose(stc_raw.data, got.data, rtol=1e-4,
                               atol=1e-5 * np.abs(got.data).max())


def test_lazy_epochs(convdip, fwd, data):
    """Epochs read lazily (preload=False, MNE's default) are inverted one at a
    time, rejected ones left out, and the user's object is not changed."""
    evoked, _ = data
    n = len(evoked.times)
    signal = np.tile(evoked.data, 4)
    signal[3, 2 * n + 5] += 5e-4  # one epoch with a 0.5 mV artefact
    raw = mne.io.RawArray(signal, evoked.info, verbose=False)
    events = np.array([[k * n, 0, 1] for k in range(4)])
    kwargs = dict(tmin=0.0, tmax=(n - 1) / raw.info["sfreq"], baseline=None,
                  reject=dict(eeg=2e-4), verbose=False)
    lazy = mne.Epochs(raw, events, preload=False, **kwargs)
    loaded = mne.Epochs(raw, events, preload=True, **kwargs)
    assert len(loaded) == 3
    stcs = apply_deep_inverse_epochs(lazy, fwd, convdip)
    assert len(stcs) == 3
    for a, b in zip(stcs, apply_deep_inverse_epochs(loaded, fwd, convdip),
                    strict=True):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-6, atol=1e-16)
    assert not lazy.preload and not lazy._bad_dropped
    everything = mne.Epochs(raw, events, preload=False,
                            **dict(kwargs, reject=dict(eeg=1e-12)))
    with pytest.raises(ValueError, match="every epoch was rejected"):
        apply_deep_inverse_epochs(everything, fwd, convdip)


def test_raw_bad_annotations(convdip, fwd, data):
    """Spans annotated as bad are not inverted (NaN); the rest is unchanged."""
    evoked, _ = data
    signal = np.tile(evoked.data, 3)
    clean = mne.io.RawArray(signal, evoked.info, verbose=False)
    want = apply_deep_inverse_raw(clean, fwd, convdip).data
    dirty = signal.copy()
    dirty[:, 10:20] += 2e-2  # 20 mV: refused as EEG in V, if read
    raw = mne.io.RawArray(dirty, evoked.info, verbose=False)
    sfreq = raw.info["sfreq"]
    raw.set_annotations(mne.Annotations(10 / sfreq, 10 / sfreq, "BAD_movement"))
    for buffer_size in (7, 10_000):
        got = apply_deep_inverse_raw(raw, fwd, convdip, buffer_size=buffer_size).data
        assert np.isnan(got[:, 10:20]).all()
        good = np.r_[0:10, 20:got.shape[1]]
        np.testing.assert_allclose(got[:, good], want[:, good], rtol=1e-6,
                                   atol=1e-16)
    part = apply_deep_inverse_raw(raw, fwd, convdip, start=15, stop=30).data
    assert np.isnan(part[:, :5]).all() and not np.isnan(part[:, 5:]).any()
    with pytest.raises(ValueError, match="10 mV"):
        apply_deep_inverse_raw(raw, fwd, convdip, reject_by_annotation=False)
    with pytest.raises(TypeError, match="reject_by_annotation"):
        apply_deep_inverse_raw(raw, fwd, convdip, reject_by_annotation="omit")
    assert raw.annotations.description[0] == "BAD_movement"  # not modified


def test_dc_offsets_refused(convdip, fwd, data):
    """Channels sitting at a DC offset are refused with the remedy; an offset
    shared by all channels (removed by the average reference) is not."""
    evoked, _ = data
    one = evoked.copy()
    one.data[4] += 5e-3  # one channel at +5 mV
    with pytest.raises(ValueError, match=r"DC offsets: 1 channel\(s\) \(rows \[4\]"):
        apply_deep_inverse(one, fwd, convdip)
    rng = np.random.default_rng(0)
    raw = mne.io.RawArray(np.tile(evoked.data, 3)
                          + rng.uniform(-2e-2, 2e-2, (31, 1)) * 0.2,
                          evoked.info, verbose=False)  # +/- 4 mV per channel
    with pytest.raises(ValueError, match="raw.filter"):
        apply_deep_inverse_raw(raw, fwd, convdip)
    common = evoked.copy()
    common.data += 5e-3  # the same offset on every channel
    np.testing.assert_allclose(apply_deep_inverse(common, fwd, convdip).data,
                               apply_deep_inverse(evoked, fwd, convdip).data,
                               rtol=1e-4, atol=1e-4 * 1e-8)


def test_resampler():
    """Band-limited interpolation: a sine is resampled to within 0.1 %
    (non-integer ratios, both ways), content above the new Nyquist is
    removed, and chunks give exactly the values of the whole span."""
    from mne_deepinverse._inverse import _Resampler

    rate_in = 600.614990234375  # the sample recording's rate
    n_in = 3000
    t = np.arange(n_in) / rate_in
    slow = np.sin(2 * np.pi * 11.0 * t + 0.3)
    fast = 0.5 * np.sin(2 * np.pi * 200.0 * t)  # above 125 Hz, 250 Hz's Nyquist
    x = np.stack([slow, slow + fast])
    down = _Resampler(rate_in, 250.0, n_in)
    assert down.n_out == round(n_in * 250.0 / rate_in)
    whole = down.apply(x, *down.taps(0, down.n_out))
    t_out = np.arange(down.n_out) / 250.0
    want = np.sin(2 * np.pi * 11.0 * t_out + 0.3)
    inner = slice(50, -50)  # away from the mirrored ends
    np.testing.assert_allclose(whole[0, inner], want[inner], atol=1e-3)
    np.testing.assert_allclose(whole[1, inner], want[inner], atol=5e-3)  # aliasing
    pieces = [down.apply(x, *down.taps(a, min(a + 97, down.n_out)))
              for a in range(0, down.n_out, 97)]
    np.testing.assert_array_equal(np.concatenate(pieces, axis=1), whole)
    up = _Resampler(250.0, rate_in, down.n_out, n_out=n_in)
    back = up.apply(whole[:1], *up.taps(0, n_in))
    np.testing.assert_allclose(back[0, 150:-150], slow[150:-150], atol=2e-3)
    # ready(k): the outputs that read the first k inputs only
    for k in (0, 10, 500, down.n_out):
        n_ready = up.ready(k)
        if n_ready:
            assert up.taps(n_ready - 1, n_ready)[0].max() < k or k == up.n_in
        if n_ready < up.n_out and k < up.n_in:
            lo = n_ready * up.step
            assert np.floor(lo) + up.half >= k


@pytest.mark.parametrize("kind", ["sample", "window", "window-resampled"])
def test_raw_generator(convdip, fwd, window_data, kind):
    """return_generator=True yields the chunks' estimates in order, without
    overlap, with their own tmin: together they are the whole estimate."""
    evoked, W = window_data
    model = convdip
    if kind != "sample":
        model = _export_abs_net(fwd, convdip.card, W, temporal=True,
                                window=dict(kind="window", n_times=20, sfreq=100.0))
    if kind == "window-resampled":
        evoked = evoked.copy().resample(300.0, verbose=False)
    raw = mne.io.RawArray(np.tile(evoked.data, 2), evoked.info, first_samp=17,
                          verbose=False)
    whole = apply_deep_inverse_raw(raw, fwd, model, start=3, buffer_size=40)
    gen = apply_deep_inverse_raw(raw, fwd, model, start=3, buffer_size=40,
                                 return_generator=True)
    assert not isinstance(gen, mne.SourceEstimate)
    stcs = list(gen)
    assert len(stcs) > 3
    # about buffer_size each (resampling holds back the interpolation's reach)
    most = 160 if kind == "window-resampled" else 80
    assert max(s.data.shape[1] for s in stcs) <= most
    np.testing.assert_array_equal(np.concatenate([s.data for s in stcs], axis=1),
                                  whole.data)
    assert stcs[0].tmin == pytest.approx(whole.tmin)
    for a, b in zip(stcs[:-1], stcs[1:], strict=True):
        assert b.tmin == pytest.approx(a.times[-1] + a.tstep)
    with pytest.raises(TypeError, match="return_generator"):
        apply_deep_inverse_raw(raw, fwd, model, return_generator=1)
