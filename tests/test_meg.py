# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""MEG and EEG+MEG: whitening, simulation, training, apply-time checks."""

import json
import warnings

import mne
import numpy as np
import pytest

from mne_deepinverse import DeepInverse, apply_deep_inverse, read_deep_inverse
from mne_deepinverse._sensors import Sensors, sensor_gain
from mne_deepinverse.datasets import (
    CONVDIP_CH_NAMES,
    make_template_forward,
    make_template_info,
    make_template_meg_info,
)
from mne_deepinverse.simulation import PatchSimulator, simulate_patch_evoked

FIT = dict(n_epochs=1, samples_per_epoch=256, batch_size=64, n_val=32,
           random_state=0, progress=False, simulation=dict(snr_db=(5.0, 15.0)))


def _meg_eeg_info():
    """The shipped VectorView sensors and 31 template EEG electrodes."""
    meg = mne.io.RawArray(np.zeros((306, 1)), make_template_meg_info(), verbose=False)
    eeg = mne.io.RawArray(np.zeros((31, 1)), make_template_info(CONVDIP_CH_NAMES),
                          verbose=False)
    with eeg.info._unlock():
        eeg.info["sfreq"] = meg.info["sfreq"]
    meg.add_channels([eeg], force_update_info=True)
    return meg.info


@pytest.fixture(scope="module")
def fwd_all():
    """A fast EEG+MEG forward: 200 fixed dipoles in a sphere model."""
    info = _meg_eeg_info()
    sphere = mne.make_sphere_model("auto", "auto", make_template_info(
        CONVDIP_CH_NAMES), verbose=False)
    rng = np.random.default_rng(0)
    rr = rng.normal(size=(200, 3))
    rr /= np.linalg.norm(rr, axis=1, keepdims=True)
    nn = rr.copy()  # radial dipoles are silent in MEG: tilt them
    nn += rng.normal(scale=0.8, size=nn.shape)
    nn /= np.linalg.norm(nn, axis=1, keepdims=True)
    src = mne.setup_volume_source_space(
        pos=dict(rr=rr * 0.06 + sphere["r0"], nn=nn), sphere=sphere, verbose=False)
    fwd = mne.make_forward_solution(info, None, src, sphere, verbose=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mne.convert_forward_solution(fwd, surf_ori=True, force_fixed=True,
                                            verbose=False)


def _pick(fwd, kind):
    meg = {"mag": "mag", "grad": "grad", "meg": True, "meg+eeg": True}[kind]
    return mne.pick_types_forward(fwd, meg=meg, eeg=kind == "meg+eeg")


def _evoked(fwd, seed=1, **kwargs):
    evoked, stc = simulate_patch_evoked(fwd, random_state=seed, snr_db=15.0, n_trials=4,
                                  tmin=-0.3, tmax=0.3, sfreq=250.0, **kwargs)
    with evoked.info._unlock():
        evoked.info["dev_head_t"] = fwd["info"]["dev_head_t"]
    return evoked, stc


@pytest.fixture(scope="module")
def meg_model(fwd_all):
    fwd = _pick(fwd_all, "meg")
    return fwd, DeepInverse(fwd, "convdip", **FIT).fit()


def test_whitener_is_mne(fwd_all):
    """The sensors' whitener is MNE's, rebuilt identically from the card."""
    fwd = _pick(fwd_all, "meg+eeg")
    sensors = Sensors.from_forward(fwd)
    assert sensors.whitened and sensors.description == "102 mag + 204 grad + 31 EEG"
    _, names, _ = sensor_gain(fwd)
    evoked = mne.EvokedArray(np.zeros((len(names), 1)), _info_of(fwd, names),
                             verbose=False)
    evoked.set_eeg_reference(projection=True, verbose=False)
    cov = mne.make_ad_hoc_cov(evoked.info, verbose=False)
    W_mne = mne.cov.compute_whitener(cov, evoked.info, pca=False, verbose=False)[0]
    np.testing.assert_allclose(sensors.W, W_mne, rtol=1e-6, atol=1e-6 * np.abs(
        W_mne).max())
    # the average reference is part of it: EEG offsets vanish
    eeg = np.array([t == "eeg" for t in sensors.ch_types])
    assert np.abs(sensors.pre(eeg * 1e-5)).max() < 1e-6 * np.abs(sensors.W).max()
    entry = json.loads(json.dumps(sensors.to_card()))  # what a card stores
    assert entry["noise_cov"]["kind"] == "ad hoc" and entry["rank"] == len(names) - 1
    again = Sensors.from_card(dict(ch_names=names, sensors=entry))
    np.testing.assert_allclose(again.W, sensors.W, rtol=1e-6,
                               atol=1e-6 * np.abs(sensors.W).max())


def _info_of(fwd, names):
    from mne_deepinverse._utils import _make_info

    return _make_info(fwd, names, 100.0)


def test_meg_noise_and_snr(fwd_all):
    """Sensor noise per channel type; the SNR is that of the whitened data."""
    fwd = _pick(fwd_all, "meg+eeg")
    sim = PatchSimulator(fwd, snr_db=(0.0, 0.0), noise="white")
    sensors = sim.sensors
    # the "white" noise is the noise covariance: whitened, it is white
    white = sensors.W @ (sim.noise_sqrt @ sim.noise_sqrt.T) @ sensors.W.T
    evals = np.linalg.eigvalsh(white)[1:]  # one dimension: average reference
    np.testing.assert_allclose(evals, evals.mean(), rtol=1e-6)
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    X, Y = sim.simulate(20, rng)
    rng.bit_generator.state = state
    clean = sim.simulate_clean(20, rng)[0]  # the same draws, without noise
    signal = sensors.pre(sensors.project(clean))
    noise = sensors.pre(X) - signal
    ratio = (signal**2).mean(axis=1) / (noise**2).mean(axis=1)
    np.testing.assert_allclose(ratio, 1.0, rtol=1e-4)  # 0 dB after whitening
    # every channel type carries signal and noise at its own scale
    types = np.array(sensors.ch_types)
    for kind, scale in (("mag", 1e-12), ("grad", 1e-10), ("eeg", 1e-5)):
        peak = np.abs(X[:, types == kind]).max()
        assert scale / 1e3 < peak < scale * 1e2, (kind, peak)


@pytest.mark.parametrize("kind, backend", [
    ("mag", "convdip"), ("meg+eeg", "convdip"), ("meg", "vnet"),
    ("meg+eeg", "sifnet")])
def test_fit_apply_meg(fwd_all, kind, backend):
    """Train on MEG / EEG+MEG; the ONNX model is the network; apply it."""
    import torch

    from mne_deepinverse._preprocessing import normalise_torch
    from mne_deepinverse.backends import get_backend

    fwd = _pick(fwd_all, kind)
    params = dict(FIT)
    if backend == "sifnet":
        params["simulation"] = dict(kind="patches", n_regions=20)
        params["samples_per_epoch"] = 64
    est = DeepInverse(fwd, backend, **params).fit()
    card = est.card_
    sensors = est.model_.sensors
    assert card["sensors"]["noise_cov"]["kind"] == "ad hoc"
    assert card["preprocessing"]["reference"].startswith("whitener")
    assert card["sensors"]["ch_types"] == sensor_gain(fwd)[2]
    assert sensors.description in repr(est.model_)
    # the exported graph computes what the torch network does
    evoked, _ = _evoked(fwd)
    n_times = card["input"].get("n_times")
    x = evoked.data[:, :n_times].T[None] if n_times else evoked.data.T
    x = np.ascontiguousarray(x, np.float32)
    if n_times:
        x = np.concatenate([x, np.zeros((1, n_times - x.shape[1], x.shape[2]),
                                        np.float32)], axis=1)
    white_ref, shapes, _ = est.model_.run(x)
    np.testing.assert_allclose(white_ref, sensors.pre(x.astype(np.float64)),
                               rtol=1e-4, atol=1e-4 * np.abs(white_ref).max())
    with torch.no_grad():
        net = est.net_.eval()
        net = get_backend(backend).for_export(net)
        inp = normalise_torch(torch.as_tensor(x), torch.as_tensor(
            sensors.W.T, dtype=torch.float32))
        ref = net(inp).numpy()
    np.testing.assert_allclose(shapes, ref, rtol=1e-3, atol=1e-3 * np.abs(ref).max())
    # apply: stc on the forward's sources, residual in sensor units
    data_before = evoked.data.copy()
    stc, residual = apply_deep_inverse(evoked, fwd, est, return_residual=True)
    np.testing.assert_array_equal(evoked.data, data_before)
    assert stc.data.shape == (fwd["nsource"], len(evoked.times))
    gain = sensor_gain(fwd)[0]
    expected = sensors.project(evoked.data.T).T - sensors.project(
        (gain @ stc.data).T).T
    scale = np.abs(evoked.data).max(axis=1)  # per channel (types differ)
    assert (np.abs(residual.data - expected).max(axis=1) <= 2e-3 * scale).all()


def test_meg_apply_errors(meg_model):
    """Wrong sensors, projectors, compensation, head position or unit: errors."""
    fwd, est = meg_model
    evoked, _ = _evoked(fwd)
    before = evoked.copy()
    # an EEG-only recording
    eeg = mne.EvokedArray(np.zeros((31, 5)), make_template_info(CONVDIP_CH_NAMES),
                          verbose=False)
    with pytest.raises(ValueError, match="no mag/grad channels"):
        apply_deep_inverse(eeg, fwd, est)
    # a channel of another type, a missing one, a bad one
    with pytest.warns(RuntimeWarning, match="unit"):
        other = evoked.copy().set_channel_types({"MEG 0111": "misc"})
    with pytest.raises(ValueError, match="another type.*MEG 0111 \\(misc"):
        apply_deep_inverse(other, fwd, est)
    with pytest.raises(ValueError, match="lacks 1 sensor channel"):
        apply_deep_inverse(evoked.copy().drop_channels(["MEG 0113"]), fwd, est)
    bad = evoked.copy()
    bad.info["bads"] = ["MEG 0113"]
    with pytest.raises(ValueError, match="marked bad"):
        apply_deep_inverse(bad, fwd, est)
    # an SSP projector the model was not trained with
    names = evoked.ch_names
    vec = np.random.default_rng(0).standard_normal(len(names))
    proj = mne.Projection(data=dict(nrow=1, ncol=len(names), row_names=None,
                                    col_names=names, data=vec[None] / np.linalg.norm(
                                        vec)), desc="PCA-v1", kind=1, active=False,
                          explained_var=None)
    with pytest.raises(ValueError, match="SSP projectors \\['PCA-v1'\\] differ"):
        apply_deep_inverse(evoked.copy().add_proj([proj]), fwd, est)
    # CTF compensation grade
    comp = evoked.copy()
    with comp.info._unlock():
        for ch in comp.info["chs"]:
            ch["coil_type"] = int(ch["coil_type"]) | (3 << 16)
    with pytest.raises(ValueError, match="compensation grade 3"):
        apply_deep_inverse(comp, fwd, est)
    # the head 15 mm elsewhere in the helmet
    moved = evoked.copy()
    trans = moved.info["dev_head_t"]["trans"].copy()
    trans[:3, 3] += [0.0, 0.015, 0.0]
    with moved.info._unlock():
        moved.info["dev_head_t"] = mne.transforms.Transform("meg", "head", trans)
    with pytest.raises(ValueError, match="MEG sensors lie 15 mm"):
        apply_deep_inverse(moved, fwd, est)
    with pytest.warns(RuntimeWarning, match="MEG sensors lie 15 mm"):
        apply_deep_inverse(moved, fwd, est, on_mismatch="warn")
    nohead = evoked.copy()
    with nohead.info._unlock():
        nohead.info["dev_head_t"] = None
    with pytest.raises(ValueError, match="no device-to-head transform"):
        apply_deep_inverse(nohead, fwd, est)
    # MEG in fT
    with pytest.raises(ValueError, match="cannot be MEG in T.*fT"):
        apply_deep_inverse(evoked.copy().apply_function(lambda x: x * 1e15),
                           fwd, est)
    # a forward for other sensors
    with pytest.raises(ValueError, match="forward's mag/grad channels"):
        apply_deep_inverse(evoked, mne.pick_types_forward(fwd, meg="mag"), est)
    # nothing the user passed changed
    np.testing.assert_array_equal(evoked.data, before.data)
    assert evoked.info["projs"] == before.info["projs"]


def test_meg_noise_cov_with_projectors(fwd_all, tmp_path):
    """A noise covariance with SSP: stored, restored, required of the data."""
    fwd = _pick(fwd_all, "meg")
    names = sensor_gain(fwd)[1]
    info = _info_of(fwd, names)
    rng = np.random.default_rng(0)
    noise = mne.EpochsArray(rng.standard_normal((40, len(names), 50)) * np.where(
        np.array(info.get_channel_types()) == "mag", 3e-14, 8e-13)[:, None],
        info, baseline=(None, None), verbose=False)
    proj = mne.compute_proj_epochs(noise, n_grad=1, n_mag=1, n_eeg=0, verbose=False)
    noise.add_proj(proj)
    cov = mne.compute_covariance(noise, verbose=False)
    est = DeepInverse(fwd, "convdip", noise_cov=cov, **FIT).fit()
    entry = est.card_["sensors"]
    assert entry["noise_cov"]["kind"] == "given"
    assert [p["desc"] for p in entry["projs"]] == [p["desc"] for p in proj]
    assert entry["rank"] == len(names) - 2
    evoked, _ = _evoked(fwd, noise_cov=cov)
    assert [p["desc"] for p in evoked.info["projs"]] == [p["desc"] for p in proj]
    apply_deep_inverse(evoked, fwd, est)  # the same projectors: fine
    bare = evoked.copy()
    with bare.info._unlock():
        bare.info["projs"] = []
    with pytest.raises(ValueError, match="differ from those the model"):
        apply_deep_inverse(bare, fwd, est)
    # the saved model keeps its covariance (not a string)
    est.save(tmp_path / "meg.onnx")
    read = read_deep_inverse(tmp_path / "meg.onnx")
    assert isinstance(read.noise_cov, mne.Covariance)
    np.testing.assert_allclose(read.noise_cov.data, cov.data, rtol=1e-6)
    assert [p["desc"] for p in read.noise_cov["projs"]] == [p["desc"] for p in proj]


def test_template_meg_forward():
    """The shipped VectorView sensors give a template MEG forward; heads that
    cannot fit in the helmet are refused."""
    info = make_template_meg_info(sfreq=250.0)
    assert info["sfreq"] == 250.0 and len(info["ch_names"]) == 306
    assert set(info.get_channel_types()) == {"mag", "grad"}
    fwd = make_template_forward(info)
    assert fwd["nchan"] == 306 and fwd["nsource"] == 5124
    gain = sensor_gain(fwd)[0]
    assert np.isfinite(gain).all() and np.abs(gain).max() > 0
    inside = info["dev_head_t"]["trans"].copy()
    inside[2, 3] -= 0.04  # sensors 4 cm lower: into the head
    with pytest.raises(ValueError, match="would not fit in the helmet"):
        make_template_forward(make_template_meg_info(dev_head_t=inside))
    with pytest.raises(ValueError, match="Invalid value for the 'system'"):
        make_template_meg_info("ctf275")


@pytest.fixture(scope="module")
def anysensor_model(meg_template_fwd, fwd):
    """A tiny any-sensor model trained over a MEG and an EEG forward."""
    est = DeepInverse([meg_template_fwd, fwd], "anysensor", n_epochs=1,
                      samples_per_epoch=64, batch_size=16, n_val=8, random_state=0,
                      progress=False, hyper_params=dict(channels=(4, 4, 4)))
    return est.fit()


def test_anysensor_any_sensors(anysensor_model, meg_template_fwd, fwd, tmp_path):
    """Kernels at apply time: MEG, EEG, bad channels, a noise covariance."""
    est = anysensor_model
    model = est.model_
    card = est.card_
    assert model.any_sensors and card["ch_names"] == []
    assert card["any_sensors"]["configs"] == ["102 mag + 204 grad", "31 EEG"]
    assert [v["sensors"] for v in card["validation"]["per_config"]] == \
        card["any_sensors"]["configs"]
    assert "any EEG cap and MEG array" in repr(model)
    est.save(tmp_path / "any.onnx")
    from mne_deepinverse import read_deep_inverse_model

    model = read_deep_inverse_model(tmp_path / "any.onnx")
    with pytest.raises(RuntimeError, match="bind it first"):
        model.ch_names  # noqa: B018
    for f in (meg_template_fwd, fwd):
        evoked, _ = simulate_patch_evoked(f, random_state=0, snr_db=20, n_patches=1)
        stc, res = apply_deep_inverse(evoked, f, model, return_residual=True)
        assert stc.data.shape == (5124, len(evoked.times)) and np.abs(stc.data).max()
        assert res.ch_names == evoked.ch_names
    # bad channels are left out of the kernels; the data keep them
    bad = evoked.copy()
    bad.info["bads"] = [bad.ch_names[0]]
    apply_deep_inverse(bad, fwd, model)
    assert model.bind(fwd, info=bad.info).ch_names == evoked.ch_names[1:]
    with pytest.raises(AttributeError, match="does not change"):
        model.sensors = None
    # the data's noise covariance whitens (and its projectors with it)
    meg_ev, _ = simulate_patch_evoked(meg_template_fwd, random_state=1, snr_db=20,
                                n_patches=1)
    cov = mne.make_ad_hoc_cov(meg_ev.info, std=dict(mag=4e-14, grad=9e-13),
                              verbose=False)
    stc_cov = apply_deep_inverse(meg_ev, meg_template_fwd, model, noise_cov=cov)
    prepared = model.bind(meg_template_fwd, info=meg_ev.info, noise_cov=cov)
    np.testing.assert_allclose(prepared.feeds["white_t"][0, 0],
                               1 / 9e-13, rtol=1e-3)  # MEG 0113: a gradiometer
    assert stc_cov.data.shape[1] == len(meg_ev.times)
    # errors: no forward, another source space, a covariance for other models
    with pytest.raises(ValueError, match="accepts any EEG cap and MEG array"):
        apply_deep_inverse(meg_ev, None, model)
    with pytest.raises(ValueError, match="works on the template's 5124"):
        apply_deep_inverse(meg_ev, _other_src(meg_template_fwd), model)
    with pytest.raises(ValueError, match="noise_cov is only for models"):
        apply_deep_inverse(evoked, fwd, "convdip", noise_cov=cov)
    with pytest.raises(ValueError, match="cannot take X and Y"):
        DeepInverse(fwd, "anysensor").fit(np.zeros((4, 31)), np.ones((4, 5124)))
    with pytest.raises(ValueError, match="only model='anysensor' trains over"):
        DeepInverse([fwd, fwd], "convdip").fit()


def test_anysensor_dipole_scan(anysensor_model, meg_template_fwd):
    """The single-dipole scan: one more input, computed in the graph."""
    import torch

    from mne_deepinverse._preprocessing import normalise_torch
    from mne_deepinverse.backends.anysensor import dipole_scan

    net, model = anysensor_model.net_, anysensor_model.model_
    assert anysensor_model.card_["hyper_params"]["scan"] == 1
    assert net.scan and net.enc1[0].in_channels == 3 + 1
    # the scan peaks at a lone noise-free dipole, whatever its amplitude
    prepared = model.bind(meg_template_fwd)
    feeds = dict(prepared.feeds)
    unit = feeds["gain_t"].T / np.linalg.norm(feeds["gain_t"], axis=1)
    idx = [10, 2000, 4000]
    scan = dipole_scan(unit[:, idx].T * np.array([[1.0], [-3.0], [1e-3]]), unit)
    assert scan.shape == (3, 5124) and scan.max() <= 1 + 1e-5 and scan.min() >= 0
    np.testing.assert_array_equal(scan.argmax(axis=1), idx)
    # torch (training) == onnxruntime (apply)
    evoked, _ = simulate_patch_evoked(meg_template_fwd, random_state=3, snr_db=10,
                                      n_patches=1)
    X = evoked.data[:, 10:14].T
    shapes = prepared.run(X)[1]
    with torch.no_grad():
        t = [torch.as_tensor(np.array(feeds[k])) for k in ("white_t", "kernel_t",
                                                            "gain_t")]
        ref = net.from_data(normalise_torch(torch.as_tensor(X, dtype=torch.float32),
                                            t[0]), t[1], t[2]).numpy()
    assert np.corrcoef(shapes.ravel(), ref.ravel())[0, 1] > 0.999
    # the graph computes the scan from the gain it is given
    gain_t = feeds["gain_t"].copy()
    assert not feeds["gain_t"].flags.writeable  # a binding is read-only
    gain_t[::2] = gain_t[1::2][:len(gain_t[::2])]
    other = model._session.run(prepared.check_X(X), **dict(feeds, gain_t=gain_t))[1]
    assert not np.allclose(other, shapes, atol=1e-4)


def _other_src(fwd):
    """The forward restricted to one hemisphere's sources."""
    return mne.forward.restrict_forward_to_label(
        fwd, mne.Label(fwd["src"][0]["vertno"], hemi="lh", subject="fsaverage5"))
