# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.

import mne
import numpy as np
import pytest

from mne_deepinverse import DeepInverse, apply_deep_inverse
from mne_deepinverse.datasets import (
    CONVDIP_CH_NAMES,
    make_template_forward,
    make_template_info,
    read_pretrained_forward,
)
from mne_deepinverse.simulation import simulate_patch_evoked

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def model(fwd):
    return DeepInverse(
        fwd, random_state=0, n_epochs=1, samples_per_epoch=512, batch_size=128,
        n_val=50, hyper_params=dict(n_dense=32), progress=False,
    ).fit()


def _without_projs(evoked):
    info = evoked.info.copy()
    with info._unlock():
        info["projs"] = []
    return mne.EvokedArray(evoked.data.copy(), info, tmin=evoked.times[0])


@pytest.fixture(scope="module")
def evoked(fwd):
    return simulate_patch_evoked(fwd, n_patches=2, random_state=0)[0]


def test_apply(model, fwd, evoked):
    before = evoked.copy()
    stc, residual = apply_deep_inverse(evoked, fwd, model, return_residual=True)
    assert isinstance(stc, mne.SourceEstimate)
    assert stc.subject == "fsaverage5"
    np.testing.assert_array_equal(stc.vertices[0], fwd["src"][0]["vertno"])
    assert stc.tmin == evoked.times[0] and stc.tstep == pytest.approx(0.01)
    assert stc.data.shape == (5124, len(evoked.times))
    # the peak of the response has positive (outward) moments, as simulated
    t = np.argmax(np.abs(evoked.data).max(axis=0))
    assert stc.data[:, t].sum() > 0
    # residual = average-referenced data minus the projection of the estimate
    gain = fwd["sol"]["data"]
    proj = gain @ stc.data
    proj -= proj.mean(axis=0)
    np.testing.assert_allclose(residual.data, evoked.data - proj, rtol=1e-3,
                               atol=1e-3 * np.abs(evoked.data).max())
    # the fitted amplitude explains the data at the peak better than nothing
    peak = np.argmax(np.abs(evoked.data).max(axis=0))
    assert np.linalg.norm(residual.data[:, peak]) < np.linalg.norm(evoked.data[:, peak])
    # the evoked passed in is untouched
    np.testing.assert_array_equal(evoked.data, before.data)
    assert evoked.info["ch_names"] == before.info["ch_names"]
    # extra channels and channel order do not matter
    reordered = evoked.copy().reorder_channels(evoked.ch_names[::-1])
    stc2 = apply_deep_inverse(reordered, fwd, model)
    np.testing.assert_allclose(stc2.data, stc.data, rtol=1e-5, atol=1e-15)


def test_pending_projector_not_applied_to_input(model, fwd, evoked):
    ev = _without_projs(evoked)
    ev.set_eeg_reference("average", projection=True, verbose=False)
    assert not ev.info["projs"][0]["active"]
    data = ev.data.copy()
    stc = apply_deep_inverse(ev, fwd, model)
    np.testing.assert_array_equal(ev.data, data)
    assert not ev.info["projs"][0]["active"]
    assert np.isfinite(stc.data).all()


def test_input_errors(model, fwd, evoked, sphere_fwd):
    with pytest.raises(TypeError, match="evoked must be an instance of Evoked"):
        apply_deep_inverse(evoked.data, fwd, model)
    # a missing channel: without electrode positions, nothing to interpolate from
    with pytest.raises(ValueError, match=r"lacks 1 EEG channel\(s\) the model needs: "
                       r"\['Oz'\]"):
        apply_deep_inverse(evoked.copy().drop_channels(["Oz"]).set_montage(None),
                           fwd, model)
    no_ref = _without_projs(evoked)
    with pytest.raises(ValueError, match="EEG average reference .* is mandatory"):
        apply_deep_inverse(no_ref, fwd, model)
    nan = evoked.copy()
    nan.data[3, 5] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        apply_deep_inverse(nan, fwd, model)
    bad = evoked.copy()
    bad.info["bads"] = ["Cz"]
    with pytest.raises(ValueError, match=r"\['Cz'\] needed by the model are marked"):
        apply_deep_inverse(bad, fwd, model)
    meg = mne.EvokedArray(np.zeros((2, 5)), mne.create_info(["M1", "M2"], 100.0, "mag"))
    with pytest.raises(ValueError, match="no EEG channels .* cannot be applied to MEG"):
        apply_deep_inverse(meg, fwd, model)
    with pytest.raises(ValueError, match=r"Invalid value for the 'model' parameter.*"
                       r"\['anycap', 'anysensor', 'convdip', 'sifnet', 'unet', "
                       r"'vnet'\]"):
        apply_deep_inverse(evoked, fwd, "sloreta-net")


def test_forward_mismatch(model, fwd, evoked, sphere_fwd):
    with pytest.raises(ValueError, match=r"400 sources .* DeepInverse\(fwd\)\.fit\(\)"):
        apply_deep_inverse(evoked, sphere_fwd, model)
    fewer = mne.pick_channels_forward(fwd, fwd["info"]["ch_names"][:-1], verbose=False)
    with pytest.raises(ValueError, match=r"EEG channels .* differ .* DeepInverse"):
        apply_deep_inverse(evoked, fewer, model)
    other = fwd.copy()
    other["sol"] = dict(other["sol"])
    other["sol"]["data"] = other["sol"]["data"] * np.linspace(0.5, 1.5, 5124)
    with pytest.raises(ValueError, match="gain matrix differs"):
        apply_deep_inverse(evoked, other, model)
    # None skips the check (the model card still gives the vertices)
    assert apply_deep_inverse(evoked, None, model).data.shape[0] == 5124


def _with_data(evoked, data):
    out = evoked.copy()
    out.data = data
    return out


def test_data_checks(model, fwd, evoked):
    """Data that cannot be EEG in V are refused before inference."""
    with pytest.raises(ValueError, match=r"cannot be EEG in V .* look like µV or "
                       r"mV\. Scale them to V, e\.g\. evoked\.apply_function"):
        apply_deep_inverse(_with_data(evoked, evoked.data * 1e6), fwd, model)
    with pytest.warns(RuntimeWarning, match="implausibly small for EEG in V"):
        apply_deep_inverse(_with_data(evoked, evoked.data * 1e-10), fwd, model)
    with pytest.raises(ValueError, match="too large for the model's float32"):
        apply_deep_inverse(_with_data(evoked, evoked.data * 1e32), fwd, model)
    with pytest.raises(TypeError, match=r"complex .* Take the real part"):
        apply_deep_inverse(_with_data(evoked, evoked.data * (1 + 1j)), fwd, model)
    with pytest.raises(TypeError, match="must be floating point, got dtype int64"):
        apply_deep_inverse(_with_data(evoked, (evoked.data * 1e7).astype(np.int64)),
                           fwd, model)
    with pytest.warns(RuntimeWarning, match="are float16.* converting to float32"):
        stc = apply_deep_inverse(_with_data(evoked, evoked.data.astype(np.float16)),
                                 fwd, model)
    assert np.isfinite(stc.data).all()
    empty = mne.EvokedArray(np.zeros((len(evoked.ch_names), 0)), evoked.info)
    with pytest.raises(ValueError, match=r"are empty \(31 channels x 0 samples\)"):
        apply_deep_inverse(empty, fwd, model)


def _moved(evoked, fun):
    out = evoked.copy()
    for ch in out.info["chs"]:
        ch["loc"][:3] = fun(ch["loc"][:3])
    return out


def test_position_checks(model, fwd, evoked):
    """Electrode positions are compared with those the model was trained for."""
    with pytest.raises(ValueError, match=r"no electrode positions \(no montage\).* "
                       "Set a montage"):
        apply_deep_inverse(_moved(evoked, lambda p: np.nan), fwd, model)
    one = evoked.copy()
    one.info["chs"][one.ch_names.index("Cz")]["loc"][:3] = 0
    with pytest.raises(ValueError, match=r"1 EEG channel\(s\) have no position: "
                       r"\['Cz'\]"):
        apply_deep_inverse(one, fwd, model)
    with pytest.raises(ValueError, match=r"1e\+03 times as far apart as the "
                       r"model's \(in mm instead of m\?\)"):
        apply_deep_inverse(_moved(evoked, lambda p: p * 1000), fwd, model)
    shifted = _moved(evoked, lambda p: p + [0, 0, 0.03])
    with pytest.raises(ValueError, match=r"30 mm \(median\) .* farthest: \w+ "
                       r"\(30 mm\).* trained for other positions"):
        apply_deep_inverse(shifted, fwd, model)
    with pytest.warns(RuntimeWarning, match="trained for other positions"):
        apply_deep_inverse(shifted, fwd, model, on_mismatch="warn")
    with pytest.raises(ValueError, match="Invalid value for the 'on_mismatch'"):
        apply_deep_inverse(evoked, fwd, model, on_mismatch="skip")
    # digitisation differences of a few mm pass
    rng = np.random.default_rng(0)
    apply_deep_inverse(_moved(evoked, lambda p: p + rng.normal(0, 0.003, 3)),
                       fwd, model)
    # the typical use: an evoked on the template montage
    info = make_template_info(CONVDIP_CH_NAMES)
    template = mne.EvokedArray(evoked.copy().pick(CONVDIP_CH_NAMES).data, info)
    template.set_eeg_reference("average", projection=True, verbose=False)
    apply_deep_inverse(template, fwd, model)


def test_other_cap_interpolated():
    """A model of one cap reads another cap's EEG through spherical splines."""
    fwd = read_pretrained_forward("convdip")
    names = mne.channels.make_standard_montage("biosemi64").ch_names
    fwd_64 = make_template_forward(make_template_info(names))
    ev_64, stc_true = simulate_patch_evoked(fwd_64, n_patches=1, extent=3,
                                            snr_db=30, random_state=1)
    assert set(fwd["info"]["ch_names"]) - set(ev_64.ch_names)  # e.g. TP9, FT10
    before = ev_64.data.copy()
    stc, res = apply_deep_inverse(ev_64, fwd, "convdip", return_residual=True)
    np.testing.assert_array_equal(ev_64.data, before)
    assert res.ch_names == fwd["info"]["ch_names"]  # the model's electrodes
    t = np.argmax(np.abs(stc_true.data).max(axis=0))
    pos = fwd["source_rr"]
    peak = pos[np.argmax(np.abs(stc.data[:, t]))]
    assert np.linalg.norm(peak - pos[np.argmax(np.abs(stc_true.data[:, t]))]) < 0.03
    # a cap of the left half of the head does not cover the model's right
    rr = {ch["ch_name"]: ch["loc"][:3] for ch in ev_64.info["chs"]}
    left = [ch for ch in ev_64.ch_names if rr[ch][0] < -0.02]
    half = ev_64.copy().pick(left)
    with pytest.raises(ValueError, match="lie beyond the data's cap"):
        apply_deep_inverse(half, fwd, "convdip")
    # a few electrodes past the cap's edge are extrapolated, with a warning
    top = [ch for ch in ev_64.ch_names if rr[ch][2] > 0.04]  # 48 of 64
    with pytest.warns(RuntimeWarning, match="extrapolated"):
        apply_deep_inverse(ev_64.copy().pick(top),
                           fwd, "convdip", on_mismatch="raise")
