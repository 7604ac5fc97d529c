"""Goodness of fit of estimates, its reference and the real-data suite."""

import json

import mne
import numpy as np
import pytest

from mne_deepinverse import apply_deep_inverse, goodness_of_fit
from mne_deepinverse._fit import FitReference, _sample_snr_db, fit_reference
from mne_deepinverse._load import load_model
from mne_deepinverse.benchmark._real import format_real_data, lobe, run_real_data
from mne_deepinverse.datasets import find_sample_raw, read_pretrained_forward
from mne_deepinverse.simulation import simulate_patch_evoked


@pytest.fixture(scope="module")
def fwd():
    return read_pretrained_forward("convdip")


def _evoked(fwd, snr_db, seed=0):
    return simulate_patch_evoked(fwd, snr_db=snr_db, n_patches=(1, 3),
                                 noise=["brain", "white"], tmin=-0.2, tmax=0.3,
                                 random_state=seed)


def test_goodness_of_fit_of_the_truth(fwd):
    """The true sources explain the data as much as the SNR allows."""
    evoked, stc = _evoked(fwd, 10.0)
    gof = goodness_of_fit(evoked, stc, fwd)
    assert gof.shape == (len(evoked.times),)
    peak = np.argmin(np.abs(evoked.times - 0.05))  # the source's peak
    assert 80 < gof[peak] < 100  # 10 dB: 91 % of the power is signal
    assert np.nanmedian(gof[evoked.times < 0]) < 20  # the baseline: noise
    evoked_clean, stc_clean = _evoked(fwd, 200.0)
    assert goodness_of_fit(evoked_clean, stc_clean, fwd)[peak] > 99.9
    # a sign flip explains nothing of the peak (more power in the residual)
    flipped = stc.copy()
    flipped.data *= -1
    assert goodness_of_fit(evoked, flipped, fwd)[peak] < 0


def test_goodness_of_fit_errors(fwd):
    evoked, stc = _evoked(fwd, 10.0)
    with pytest.raises(ValueError, match="time samples"):
        goodness_of_fit(evoked, stc.copy().crop(0, 0.1), fwd)
    other = mne.SourceEstimate(stc.data[1:], [stc.vertices[0][1:], stc.vertices[1]],
                               stc.tmin, stc.tstep)
    with pytest.raises(ValueError, match="vertices"):
        goodness_of_fit(evoked, other, fwd)
    with pytest.raises(TypeError, match="evoked"):
        goodness_of_fit(evoked.data, stc, fwd)


def test_snr_estimate():
    """The baseline's power is the noise; without baseline or rank: None."""
    times = np.arange(-0.2, 0.3, 0.01)
    power = np.where(times < 0, 1.0, 11.0)
    snr = _sample_snr_db(power, times)
    assert np.allclose(snr[times >= 0], 10.0)
    assert _sample_snr_db(power[times >= 0], times[times >= 0]) is None
    snr = _sample_snr_db(np.full(5, 40.0), np.arange(5) / 100, nave=4, rank=4)
    assert np.allclose(snr, 10 * np.log10(39.0))


def test_reference_shipped():
    """Every shipped inverse model has a fit reference, rising with the SNR."""
    for name in ("convdip", "unet", "vnet", "sifnet", "anycap", "anysensor"):
        ref = fit_reference(load_model(name))
        assert ref is not None, name
        p5, p50 = ref.at(np.array([1.0, 13.0, 30.0]))
        assert np.all(p50 >= p5)
        assert p50[1] > p50[0]
        assert p5[2] == p5[1] or np.isfinite(p5[2])  # beyond: the last filled bin
    with pytest.raises(ValueError, match="one p5"):
        FitReference(dict(snr_db=[0, 2, 4], p5=[1.0], p50=[2.0]))


def test_fit_warning(fwd):
    """Data the model cannot explain get a warning; its own kind does not."""
    evoked, _ = _evoked(fwd, 15.0, seed=3)
    with mne.utils.use_log_level("INFO"):
        apply_deep_inverse(evoked, fwd, "convdip")  # no warning (errors here)
    # spatially white topographies (no cortical source makes them), shaped in
    # time like the response
    scrambled = evoked.copy()
    rng = np.random.default_rng(0)
    post = evoked.times >= 0
    course = np.sin(np.pi * np.arange(post.sum()) / (post.sum() - 1))
    scrambled.data[:, post] = (rng.standard_normal((len(evoked.ch_names), post.sum()))
                               * np.abs(evoked.data).max() * course)
    scrambled.data -= scrambled.data.mean(axis=0)
    before = scrambled.data.copy()
    with pytest.warns(RuntimeWarning, match="outside what the model was trained"):
        apply_deep_inverse(scrambled, fwd, "convdip")
    assert np.array_equal(scrambled.data, before)  # nothing changed in place


def test_lobe():
    assert lobe((-47, -22, 8)) == "temporal"  # Heschl's gyrus
    assert lobe((48, -20, 8)) == "temporal"
    assert lobe((20, -90, 5)) == "occipital"
    assert lobe((40, 30, 30)) == "frontal"
    assert lobe((-35, -60, 50)) == "parietal"
    assert lobe((-38, 0, 5)) == "insula"
    assert lobe((50, 0, -30)) == "temporal"


def test_real_data_suite(tmp_path):
    """The suite runs on the sample recording and scores every map."""
    try:
        find_sample_raw()
    except FileNotFoundError:
        pytest.skip("the MNE sample recording (or the project's excerpt) is absent")
    result = run_real_data(conditions=("auditory/left",), sensors=("eeg",),
                           models=("anycap",), methods=("dSPM",),
                           out_dir=tmp_path, progress=False)
    rows = result["rows"]
    assert {(r["method"], r["montage"]) for r in rows} == {
        ("anycap", "digitised"), ("anycap", "standard"),
        ("dSPM", "digitised"), ("dSPM", "standard")}
    for r in rows:
        assert 70 <= r["t_peak_ms"] <= 130
        assert r["max_lobe"] in ("frontal", "parietal", "temporal", "occipital",
                                 "insula")
        assert r["lh_to_dipole"] >= 0 and r["rh_to_anatomy"] >= 0
    assert 0 < rows[0]["gof"] <= 100  # the deep model's fit at the peak
    dip = result["dipoles"]["auditory/left"]
    assert dip["lh"]["pos"][0] < 0 < dip["rh"]["pos"][0]
    assert len(result["stability"]) == 2
    saved = json.loads((tmp_path / "real_data.json").read_text())
    assert saved["rows"] == json.loads(json.dumps(rows))
    text = format_real_data(result)
    assert "auditory/left" in text and "digitised vs standard" in text


def test_check_fit_reads_samples_after_zero():
    """Baseline samples never count as signal, however loud."""
    from mne_deepinverse._fit import check_fit

    ref = FitReference(dict(snr_db=[0.0, 40.0], p5=[50.0], p50=[80.0]))
    times = np.arange(-5, 5) / 100
    snr = np.full(10, 10.0)
    gof = np.where(times < 0, 0.0, 90.0)  # the baseline explained by nothing
    assert check_fit(gof, snr, times, ref, "evoked") == 90.0  # no warning
    with pytest.warns(RuntimeWarning, match="explains a median 10 %"):
        check_fit(np.full(10, 10.0), snr, times, ref, "evoked")


@pytest.mark.parametrize("name", ["sifnet", "convdip"])
def test_readme_line_on_sample_recording(name):
    """The README's line of a 31-channel model runs on the recording's own cap."""
    try:
        fname = find_sample_raw()
    except FileNotFoundError:
        pytest.skip("the MNE sample recording (or the project's excerpt) is absent")
    raw = mne.io.read_raw_fif(fname, preload=True, verbose=False)
    events = mne.find_events(raw, stim_channel="STI 014", verbose=False)
    raw.info["bads"] = ["EEG 053"]
    raw.pick(["eeg", "eog"], exclude="bads").filter(1.0, 40.0, verbose=False)
    raw.set_eeg_reference("average", projection=True, verbose=False)
    evoked = mne.Epochs(raw, events, {"auditory/left": 1, "auditory/right": 2},
                        tmin=-0.2, tmax=0.5, reject=dict(eeg=150e-6, eog=250e-6),
                        preload=True, verbose=False).pick("eeg").average()
    assert "Fp1" not in evoked.ch_names  # 59 channels EEG 001 ... EEG 060
    # the recording's cap ends above TP10 and FT10: extrapolated, with a warning
    with pytest.warns(RuntimeWarning, match=r"TP10 \(\d+ deg\), FT10"):
        stc = apply_deep_inverse(evoked, read_pretrained_forward(name), model=name)
    assert stc.data.shape == (5124, len(evoked.times))
    assert np.abs(stc.data).max() > 0
