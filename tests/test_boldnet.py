# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""The deep route of EEG-to-fMRI synthesis: features, BoldNet, the shipped model."""

import mne
import numpy as np
import pytest

pytest.importorskip("nilearn")

from mne_deepinverse.fmri import simulate_eeg_fmri, synthesize_bold  # noqa: E402
from mne_deepinverse.fmri._features import (  # noqa: E402
    BANDS,
    band_log_power,
    frame_windows,
    slow_potential,
)


def test_band_log_power():
    """Alpha power that doubles in the second half shows in the alpha band only;
    NaN spans are left out."""
    rng = np.random.default_rng(0)
    sfreq, n = 100.0, 10_000  # 100 s
    t = np.arange(n) / sfreq
    amp = np.where(t < 50, 1.0, np.sqrt(2.0))
    x = amp * np.sin(2 * np.pi * 10 * t) + 0.1 * rng.standard_normal(n)
    power = band_log_power(x[None, None], sfreq, BANDS, 1.0)[0, 0]
    assert power.shape == (5, 100)
    alpha = power[2]
    np.testing.assert_allclose(alpha[50:].mean() - alpha[:50].mean(), np.log(2.0),
                               atol=0.05)
    assert abs(power[0, 50:].mean() - power[0, :50].mean()) < 0.3  # delta: noise
    np.testing.assert_allclose(power.mean(axis=1), 0.0, atol=1e-5)
    # a bin with a NaN sample is 0 and out of the mean
    x_bad = x.copy()
    x_bad[150] = np.nan
    bad = band_log_power(x_bad[None, None], sfreq, BANDS, 1.0)[0, 0]
    assert (bad[:, 1] == 0).all() and np.isfinite(bad).all()
    np.testing.assert_allclose(bad[2, 50:].mean() - bad[2, :50].mean(), np.log(2.0),
                               atol=0.06)
    with pytest.raises(ValueError, match="shorter than one bin"):
        band_log_power(x[None, None, :50], sfreq, BANDS, 1.0)
    with pytest.raises(ValueError, match="holds no frequency"):
        band_log_power(x[None, None], 60.0, BANDS, 1.0)


def test_slow_potential():
    """A step of the mean shows as a standardised step; NaN bins are 0."""
    x = np.r_[np.zeros(500), np.ones(500)] * 1e-5 + 1e-3  # 10 s, an offset
    slow = slow_potential(np.stack([x, 2 * x])[None], 100.0, 1.0)[0]
    assert slow.shape == (2, 10)
    np.testing.assert_allclose(slow.mean(axis=1), 0.0, atol=1e-6)
    assert (slow[:, 5:] > 0).all() and (slow[:, :5] < 0).all()
    np.testing.assert_allclose(slow[1], 2 * slow[0], rtol=1e-5)  # one scale
    x[250] = np.nan
    assert slow_potential(x[None, None], 100.0, 1.0)[0, 0, 2] == 0.0


def test_frame_windows():
    """Every frame gets the bins that end at its centre; earlier bins are 0."""
    power = np.arange(1, 11, dtype=np.float32)[None, None, None]  # 10 bins of 1 s
    win = frame_windows(power, 1.0, np.array([1.0, 5.0, 9.0]), 4)
    assert win.shape == (1, 3, 1, 1, 4)
    np.testing.assert_array_equal(win[0, :, 0, 0], [[0, 0, 0, 1], [2, 3, 4, 5],
                                                   [6, 7, 8, 9]])


def _tiny_spec(fwd):
    from mne_deepinverse._caps import grid_directions
    from mne_deepinverse._load import load_model
    from mne_deepinverse.fmri._deep import source_space_digest

    cap = dict(load_model("anycap").card.sensors.cap, grid_shape=[6, 6])
    labels = np.arange(fwd["nsource"]) % 7
    return dict(cap=cap, bands=[[8.0, 13.0], [13.0, 30.0]], slow=True, bin_s=2.0,
                n_bins=4,
                n_regions=7, labels=labels.tolist(),
                n_pixels=int(grid_directions([6, 6], cap["theta_max_deg"])[1].sum()),
                source_space=source_space_digest(fwd["src"]), units="%",
                tr_trained=2.0)


def test_boldnet_train_export_apply(fwd, tmp_path):
    """Pairs, one training path (MSE on unnormalised targets), ONNX export and
    the deep route reading the file: the same numbers as the torch network."""
    torch = pytest.importorskip("torch")
    from mne_deepinverse.backends import get_backend
    from mne_deepinverse.fmri._deep import BoldSynthesizer
    from mne_deepinverse.fmri._pairs import BoldPairs
    from mne_deepinverse.training import TrainingData, fit_network

    spec = _tiny_spec(fwd)
    pairs = BoldPairs([fwd], spec, duration=16.0, tr=2.0, sfreq=100.0,
                      sim_regions=(20,), n_parcellations=1, random_state=0)
    X, Y = pairs.simulate(12, np.random.default_rng(1))
    assert X.shape == (12, spec["n_pixels"], 3, 4) and Y.shape == (12, 7)
    assert X.dtype == np.float32 and np.isfinite(X).all() and (Y != 0).any()
    # the same seed, the same pairs
    X2, Y2 = pairs.simulate(12, np.random.default_rng(1))
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(Y, Y2)
    backend = get_backend("boldnet")
    assert backend.trained_by == "tools/train_boldnet.py"
    # the kernels start as the canonical HRF (peak 4-6 s before the frame)
    # and its derivative
    from mne_deepinverse.backends.boldnet import hrf_kernels

    kernels = hrf_kernels(24, 1.0, 3)
    assert kernels.shape == (24, 3)
    assert 4 <= 23 - int(np.argmax(kernels[:, 0])) <= 6
    np.testing.assert_allclose(np.abs(kernels).sum(axis=0), 1.0, rtol=1e-5)
    net = backend.build(dict(bold=spec), dict(n_kernels=3))
    data = TrainingData(lambda n, rng: (X, Y), X, Y, steps_per_epoch=4,
                        batch_size=12, seed=0, source_pos=np.zeros((7, 3)))
    rec = fit_network(net, data, n_epochs=15, learning_rate=1e-2, loss="mse",
                      patience=20, seed=0, progress=False, normalise_input=False,
                      normalise_target=False)
    hist = rec["history"]["val_loss"]
    assert min(hist) < 0.5 * hist[0]  # it learns the (signed, unscaled) targets
    card = dict(backend="boldnet", name="tiny", bold=spec)
    fname = tmp_path / "tiny.onnx"
    fname.write_bytes(backend.export(net, None, card, fp16=False))
    synth = BoldSynthesizer(fname)
    with torch.no_grad():
        expected = net(torch.as_tensor(X)).numpy()[:, np.asarray(spec["labels"])]
    np.testing.assert_allclose(synth.predict(X).T, expected, rtol=1e-4, atol=1e-5)
    # a corrupted file is refused
    raw_bytes = bytearray(fname.read_bytes())
    raw_bytes[-200] ^= 0xFF
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(bytes(raw_bytes))
    with pytest.raises((RuntimeError, ValueError), match="corrupted|checksum"):
        BoldSynthesizer(bad)


@pytest.fixture(scope="module")
def segment(fwd):
    """60 s of simultaneous EEG-fMRI on the template's 31 channels."""
    raw, bold, truth = simulate_eeg_fmri(fwd, duration=60.0, tr=2.0, sfreq=100.0,
                                         n_regions=200, random_state=1000,
                                         progress=False)
    return raw, truth


def test_synthesize_bold_deep(segment, fwd):
    """The shipped BoldNet follows the true BOLD of the active regions."""
    raw, truth = segment
    orig = raw.get_data().copy()
    bold = synthesize_bold(raw, fwd, tr=2.0, method="deep")
    np.testing.assert_array_equal(raw.get_data(), orig)
    assert isinstance(bold, mne.SourceEstimate)
    assert bold.data.shape == (fwd["nsource"], 30) and bold.tstep == 2.0
    assert bold.tmin == 1.0 and bold.subject == "fsaverage5"
    labels, true = truth["labels"], truth["bold_clean"]
    pred = np.array([bold.data[labels == k].mean(0) for k in range(len(true))])
    spread = np.ptp(true, axis=1)
    active = np.flatnonzero(spread > 0.1 * spread.max())
    r = [np.corrcoef(pred[k], true[k])[0, 1] for k in active]
    assert np.median(r) > 0.2, r  # HRF routes: about 0.05 (bench_bold.py)
    # an evoked and epochs go the same way
    evoked = mne.EvokedArray(raw.get_data(), raw.info, tmin=-2.0)  # its projector
    ev = synthesize_bold(evoked, fwd, tr=2.0, method="deep")
    assert ev.tmin == -1.0
    np.testing.assert_allclose(ev.data, bold.data, rtol=1e-5, atol=1e-8)
    epochs = mne.make_fixed_length_epochs(raw, duration=30.0, preload=True,
                                          verbose=False)
    per = synthesize_bold(epochs, fwd, tr=2.0, method="deep")
    assert len(per) == 2 and per[0].data.shape == (fwd["nsource"], 15)


def test_synthesize_bold_deep_errors(segment, fwd, sphere_fwd, tmp_path):
    raw, _ = segment
    with pytest.raises(ValueError, match="tr must be positive"):
        synthesize_bold(raw, fwd, tr=-1.0, method="deep")
    with pytest.raises(ValueError, match="shorter than one repetition time"):
        synthesize_bold(raw.copy().crop(0, 1.0), fwd, tr=2.0, method="deep")
    with pytest.raises(ValueError, match="not the one the synthesizer's regions"):
        synthesize_bold(raw, sphere_fwd, tr=2.0, method="deep")
    with pytest.raises(ValueError, match="no average reference"):
        synthesize_bold(raw.copy().del_proj(), fwd, tr=2.0, method="deep")
    with pytest.raises(ValueError, match="lack 1 EEG channel"):
        synthesize_bold(raw.copy().drop_channels(raw.ch_names[:1]), fwd, tr=2.0,
                        method="deep")
    with pytest.raises(ValueError, match="not a BOLD synthesizer"):
        from mne_deepinverse.datasets import fetch_pretrained_file

        synthesize_bold(raw, fwd, tr=2.0, method="deep",
                        model=fetch_pretrained_file("convdip.onnx"))
    with pytest.raises(ValueError, match="Invalid value for the 'model'"):
        synthesize_bold(raw, fwd, tr=2.0, method="deep", model="nope")
    # a high-pass above 0.01 Hz removes the slow potential: a warning says so
    with pytest.warns(RuntimeWarning, match="high-passed at 0.1 Hz"):
        synthesize_bold(raw.copy().filter(0.1, None, verbose=False), fwd, tr=2.0,
                        method="deep")
