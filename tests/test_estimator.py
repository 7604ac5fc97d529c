# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.

import subprocess
import sys

import mne
import numpy as np
import pytest
from sklearn.base import clone

from mne_deepinverse import DeepInverse, read_deep_inverse
from mne_deepinverse.simulation import simulate_samples

pytest.importorskip("torch")

SMALL = dict(
    n_epochs=2, samples_per_epoch=1024, batch_size=128, n_val=200,
    hyper_params=dict(n_dense=64), progress=False,
)


@pytest.fixture(scope="module")
def fitted(sphere_fwd):
    return DeepInverse(sphere_fwd, random_state=0, fp16=False, **SMALL).fit()


def test_fit_predict(fitted, sphere_fwd):
    X, Y = simulate_samples(sphere_fwd, 50, random_state=1)
    pred = fitted.predict(X)
    assert pred.shape == (50, 400) and pred.dtype == np.float32
    # polarity: the inverted EEG gives the same pattern with the opposite sign
    np.testing.assert_allclose(fitted.predict(-X), -pred, rtol=1e-5,
                               atol=1e-6 * np.abs(pred).max())
    # not a constant map: a briefly trained model varies across sources and
    # across samples (no all-zero collapse)
    _, shapes, _ = fitted.predict_shape(X)
    assert np.mean(np.ptp(shapes, axis=1) > 0) > 0.9
    shapes = shapes / shapes.max(axis=1, keepdims=True)
    assert np.abs(np.diff(shapes, axis=0)).max() > 0.1
    score = fitted.score(X, Y)
    assert 0.5 < score <= 1.0
    card = fitted.card_
    assert card["backend"] == "convdip"
    assert card["training"]["samples_seen"] == 2 * (1024 // 128) * 128
    assert set(card["validation"]) >= {"auc", "mle", "nmse"}
    assert len(fitted.net_.state_dict()) > 0


def test_same_seed_same_model(fitted, sphere_fwd):
    other = DeepInverse(sphere_fwd, random_state=0, fp16=False, **SMALL).fit()
    X, _ = simulate_samples(sphere_fwd, 20, random_state=2)
    np.testing.assert_array_equal(other.predict(X), fitted.predict(X))
    third = DeepInverse(sphere_fwd, random_state=1, fp16=False, **SMALL).fit()
    assert not np.allclose(third.predict(X), fitted.predict(X), rtol=1e-3, atol=0)


def test_clone_and_params(fitted):
    est = clone(fitted)
    assert est.get_params()["random_state"] == 0
    assert not hasattr(est, "onnx_")
    with pytest.raises(Exception, match="not fitted"):
        est.predict(np.zeros((1, 31)))


def test_fit_arrays(sphere_fwd):
    X, Y = simulate_samples(sphere_fwd, 1500, random_state=3)
    est = DeepInverse(sphere_fwd, random_state=0, **SMALL).fit(X, Y)
    assert est.card_["training"]["data"] == "given arrays"
    assert est.predict(X[:5]).shape == (5, 400)
    with pytest.raises(ValueError, match=r"X must have shape \(n_samples, 31\)"):
        DeepInverse(sphere_fwd, **SMALL).fit(X[:, :5], Y)
    with pytest.raises(ValueError, match="Y must have shape"):
        DeepInverse(sphere_fwd, **SMALL).fit(X, Y[:, :5])
    with pytest.raises(ValueError, match="NaN"):
        DeepInverse(sphere_fwd, **SMALL).fit(X * np.nan, Y)
    with pytest.raises(ValueError, match="needs a forward model"):
        DeepInverse(None, **SMALL).fit()
    with pytest.raises(ValueError, match="Invalid value for the 'loss'"):
        DeepInverse(sphere_fwd, loss="l1", **SMALL).fit()


def test_onnx_matches_torch(fitted, sphere_fwd):
    import torch

    from mne_deepinverse.backends._train import normalise_eeg

    X, _ = simulate_samples(sphere_fwd, 64, random_state=4)
    _, shapes, _ = fitted.predict_shape(X)
    with torch.no_grad():
        ref = fitted.net_.eval()(normalise_eeg(torch.as_tensor(X))).numpy()
    np.testing.assert_allclose(shapes, ref, rtol=1e-5, atol=1e-5 * ref.max())


def test_save_read(fitted, sphere_fwd, tmp_path):
    fname = tmp_path / "model.onnx"
    fitted.save(fname)
    with pytest.raises(FileExistsError):
        fitted.save(fname)
    est = read_deep_inverse(fname)
    X, _ = simulate_samples(sphere_fwd, 20, random_state=5)
    np.testing.assert_array_equal(est.predict(X), fitted.predict(X))
    assert est.card_["ch_names"] == fitted.card_["ch_names"]
    # a corrupted file gives a clear error
    bad = tmp_path / "bad.onnx"
    data = bytearray(fname.read_bytes())
    data[100:400] = b"\x00" * 300
    bad.write_bytes(bytes(data))
    with pytest.raises(RuntimeError, match="not an mne-deepinverse model or it is"):
        read_deep_inverse(bad)


def test_inference_without_torch(fitted, sphere_fwd, tmp_path):
    fname = tmp_path / "model.onnx"
    fitted.save(fname)
    X, _ = simulate_samples(sphere_fwd, 10, random_state=6)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "ref.npy", fitted.predict(X))
    code = f"""
import importlib.abc
import sys


class BlockTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] == "torch":
            raise ImportError("torch is blocked in this test")


sys.meta_path.insert(0, BlockTorch())
import numpy as np
import mne_deepinverse
est = mne_deepinverse.read_deep_inverse(r"{fname}")
pred = est.predict(np.load(r"{tmp_path / 'X.npy'}"))
np.testing.assert_array_equal(pred, np.load(r"{tmp_path / 'ref.npy'}"))
assert "torch" not in sys.modules
"""
    subprocess.run([sys.executable, "-c", code], check=True)


def test_hausdorff_loss():
    import torch

    from mne_deepinverse.backends.losses import WeightedHausdorff

    pos = np.c_[np.arange(50) * 0.005, np.zeros(50), np.zeros(50)]
    loss = WeightedHausdorff(pos)
    target = torch.zeros(1, 50)
    target[0, 20:23] = 1.0
    near = torch.zeros(1, 50)
    near[0, 22:25] = 1.0
    far = torch.zeros(1, 50)
    far[0, 40:43] = 1.0
    exact = float(loss(target, target))
    assert exact < float(loss(near, target)) < float(loss(far, target))
    pred = torch.full((1, 50), 0.5, requires_grad=True)
    loss(pred, target).backward()
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


def test_hausdorff_training(sphere_fwd):
    est = DeepInverse(sphere_fwd, loss="hausdorff", random_state=0, **SMALL).fit()
    assert est.card_["training"]["loss"] == "hausdorff"
    X, _ = simulate_samples(sphere_fwd, 5, random_state=7)
    assert np.isfinite(est.predict(X)).all()


def test_predict_checks(fitted):
    with pytest.raises(ValueError, match=r"X must have shape \(n_samples, 31\)"):
        fitted.predict(np.zeros((3, 30)))
    with pytest.raises(ValueError, match="NaN or inf"):
        fitted.predict(np.full((3, 31), np.nan))


def test_apply_surface(fwd):
    """A model trained for the template forward gives SourceEstimates."""
    from mne_deepinverse import apply_deep_inverse
    from mne_deepinverse.simulation import simulate_evoked

    est = DeepInverse(fwd, random_state=0, n_epochs=1, samples_per_epoch=256,
                      batch_size=128, n_val=50, hyper_params=dict(n_dense=32),
                      progress=False).fit()
    evoked, _ = simulate_evoked(fwd, random_state=0)
    stc = est.apply(evoked)
    assert isinstance(stc, mne.SourceEstimate)
    stc2 = apply_deep_inverse(evoked, fwd, est)
    np.testing.assert_array_equal(stc.data, stc2.data)
