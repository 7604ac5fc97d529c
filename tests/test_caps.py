# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Any-cap models: the scalp grid, the cap interpolation and the checks."""

import mne
import numpy as np
import pytest

from mne_deepinverse import DeepInverseModel, apply_deep_inverse
from mne_deepinverse._caps import (
    cap_interpolation,
    check_cap,
    coverage_gap,
    grid_directions,
)
from mne_deepinverse._preprocessing import normalise_numpy
from mne_deepinverse._utils import _eeg_gain, _reference

CAP = dict(kind="any", origin=[-0.0015, 0.0121, 0.0430], grid_shape=[16, 16],
           theta_max_deg=115.0, alpha=1e-5, n_channels=[8, 256], max_gap_deg=40.0)


def _positions(fwd):
    return np.array([ch["loc"][:3] for ch in fwd["info"]["chs"]])


def test_grid():
    dirs, inside, theta = grid_directions((16, 16), 115.0)
    assert dirs.shape == (256, 3)
    np.testing.assert_allclose(np.linalg.norm(dirs, axis=1), 1.0)
    assert 160 < inside.sum() < 256  # the disc (pi/4 of the square), not the corners
    np.testing.assert_allclose(np.rad2deg(theta[inside]).max(), 115.0, atol=8)
    # top rows are frontal (+y), left columns left (-x)
    assert dirs[8, 1] > 0.5 and dirs[16 * 8, 0] < -0.5


def test_interpolation_of_a_smooth_field(fwd):
    """Splines reproduce a smooth scalp field on the covered part of the grid."""
    pos = _positions(fwd)
    interp = cap_interpolation(pos, CAP)
    assert interp.shape == (31, 256) and interp.dtype == np.float32
    dirs, inside, theta = grid_directions((16, 16), 115.0)
    unit = pos - CAP["origin"]
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    field = unit @ np.array([0.3, 0.8, 0.5])  # a dipolar field
    image = field @ interp
    upper = theta <= np.deg2rad(80)
    want = dirs[upper] @ np.array([0.3, 0.8, 0.5])
    assert np.corrcoef(image[upper], want)[0, 1] > 0.99
    assert not image[~inside].any()  # corners stay zero


def test_check_cap(fwd):
    pos = _positions(fwd)
    names = fwd["info"]["ch_names"]
    assert coverage_gap(pos, CAP) < 35
    check_cap(names, pos, CAP)  # fine
    with pytest.raises(ValueError, match="has 5 EEG channels; this model was "
                       "trained for caps of 8 to 256"):
        check_cap(names[:5], pos[:5], CAP)
    back = pos[:, 1] < np.median(pos[:, 1])  # the back half of the head
    with pytest.raises(ValueError, match="leaves part of the head uncovered"):
        check_cap([n for n, b in zip(names, back, strict=True) if b], pos[back], CAP)
    with pytest.warns(RuntimeWarning, match="uncovered"):
        check_cap([n for n, b in zip(names, back, strict=True) if b], pos[back], CAP,
                  on_mismatch="warn")


@pytest.fixture(scope="module")
def anycap_model(fwd):
    """A small untrained any-cap network, exported, and its torch form."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from mne_deepinverse._card import forward_entries as _forward_meta
    from mne_deepinverse.backends import anycap, export_onnx, get_backend

    torch.manual_seed(0)
    meta = _forward_meta(fwd)
    meta.update(ch_names=[], ch_pos=[], ch_pos2d=[], gain_fingerprint=[], cap=CAP)
    net = anycap.build(meta, dict(n_dense=32)).eval()
    with torch.no_grad():  # non-trivial BatchNorm statistics and outputs
        for bn in (net.bn1, net.bn2):
            bn.running_mean.uniform_(0, 0.1)
            bn.running_var.uniform_(0.5, 2)
        net.out.bias.fill_(0.05)
    card = dict(meta, format_version=2, backend="anycap", input=dict(kind="sample"))
    onnx = export_onnx(get_backend("anycap"), net, None, card, fp16=False)
    return DeepInverseModel(onnx), net


def test_anycap_model_on_two_caps(anycap_model, fwd):
    """One model, any cap: the maps are the network on the interpolated grid."""
    import torch

    model, net = anycap_model
    assert model.any_cap
    assert "anycap, any cap of 8-256 EEG channels, 5124 sources" in repr(model)
    with pytest.raises(RuntimeError, match="bind it first"):
        model.predict(np.zeros((2, 31)))
    rng = np.random.default_rng(0)
    for step in (1, 2):  # the full cap, and every other channel (16)
        names = fwd["info"]["ch_names"][::step]
        n_ch = len(names)
        sub = mne.pick_channels_forward(fwd, names, ordered=True, verbose=False)
        J = np.zeros((fwd["nsource"], 3))
        J[[100, 2000, 4000], [0, 1, 2]] = 1e-8
        data = sub["sol"]["data"] @ J + rng.normal(0, 1e-7, (n_ch, 3))
        info = mne.create_info(names, 100.0, "eeg")
        with info._unlock():
            for ch, fch in zip(info["chs"], sub["info"]["chs"], strict=True):
                ch["loc"][:3] = fch["loc"][:3]
        evoked = mne.EvokedArray(data, info, verbose=False)
        evoked.set_eeg_reference(projection=True, verbose=False)
        stc = apply_deep_inverse(evoked, sub, model)
        assert model.bind(sub).ch_names == names
        # the same by hand: spline grid, the torch network, least-squares scale
        image = normalise_numpy(data.T) @ cap_interpolation(_positions(sub), CAP)
        with torch.no_grad():
            shapes = net(torch.as_tensor(image, dtype=torch.float32)).numpy()
        gain = _reference(_eeg_gain(sub)[0])
        proj = shapes @ gain.T
        ref = data.T - data.T.mean(axis=1, keepdims=True)
        scale = np.einsum("ij,ij->i", ref, proj) / np.einsum("ij,ij->i", proj, proj)
        np.testing.assert_allclose(stc.data, (shapes * scale[:, None]).T, rtol=2e-3,
                                   atol=1e-3 * np.abs(stc.data).max())


def test_anycap_errors(anycap_model, fwd, sphere_fwd):
    model, _ = anycap_model
    names = fwd["info"]["ch_names"]
    info = mne.create_info(names, 100.0, "eeg")
    evoked = mne.EvokedArray(np.zeros((31, 2)) + 1e-6, info, verbose=False)
    with pytest.raises(ValueError, match="accepts any EEG cap .* pass fwd"):
        apply_deep_inverse(evoked, None, model)
    with pytest.raises(ValueError, match="works on the template's 5124"):
        model.bind(sphere_fwd)
    few = mne.pick_channels_forward(fwd, names[:5], ordered=True, verbose=False)
    with pytest.raises(ValueError, match="trained for caps of 8 to 256"):
        model.bind(few)
    with pytest.raises(NotImplementedError, match="tools/train_anycap.py"):
        from mne_deepinverse import DeepInverse

        DeepInverse(fwd, model="anycap").fit()
