# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.


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

    from mne_deepinverse._preprocessing import normalise_torch as normalise_eeg

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


def test_inference_without_torch(fitted, sphere_fwd, tmp_path, run_without_torch):
    fname = tmp_path / "model.onnx"
    fitted.save(fname)
    X, _ = simulate_samples(sphere_fwd, 10, random_state=6)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "ref.npy", fitted.predict(X))
    run_without_torch(f"""import numpy as np
import mne_deepinverse
est = mne_deepinverse.read_deep_inverse(r"{fname}")
pred = est.predict(np.load(r"{tmp_path / 'X.npy'}"))
np.testing.assert_array_equal(pred, np.load(r"{tmp_path / 'ref.npy'}"))
""")


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
    X = np.random.default_rng(0).normal(0, 1e-6, (3, 31))
    with pytest.raises(ValueError, match="Complex data not supported"):
        fitted.predict(X * 1j)
    with pytest.raises(TypeError, match="X must be floating point, got dtype int"):
        fitted.predict((X * 1e6).astype(int))
    with pytest.raises(ValueError, match="look like µV or mV"):
        fitted.predict_shape(X * 1e6)


def test_fit_checks(sphere_fwd, monkeypatch):
    """Bad arguments and data fail in fit, before anything is trained."""
    from mne_deepinverse import simulation

    X, Y = simulate_samples(sphere_fwd, 20, random_state=3)
    est = DeepInverse(sphere_fwd, **SMALL)
    with pytest.raises(ValueError, match=r"fit got X but no Y: pass both"):
        est.fit(X)
    with pytest.raises(ValueError, match=r"fit got Y but no X"):
        est.fit(Y=Y)
    with pytest.raises(ValueError, match="at least 2 samples .* got 1"):
        est.fit(X[:1], Y[:1])
    zero = Y.copy()
    zero[[3, 7]] = 0
    with pytest.raises(ValueError, match=r"Y has 2 sample\(s\) without an active "
                       r"source \(all-zero rows \[3, 7\]\).* Drop these samples"):
        est.fit(X, zero)
    with pytest.raises(ValueError, match="X span .* cannot be EEG in V"):
        est.fit(X * 1e6, Y)
    with pytest.raises(ValueError, match="Complex data not supported"):
        est.fit(X, Y + 0j)
    for lr in (np.nan, -1e-3, 0):
        with pytest.raises(ValueError, match="learning_rate must be a positive, "
                           "finite number"):
            DeepInverse(sphere_fwd, learning_rate=lr).fit()
    with pytest.raises(TypeError, match="learning_rate must be an instance of numeric"):
        DeepInverse(sphere_fwd, learning_rate="fast").fit()
    with pytest.raises(TypeError, match="random_state must be an instance of None "
                       "or int"):
        DeepInverse(sphere_fwd, random_state="abc").fit()
    with pytest.raises(ValueError, match="random_state must be None or an int >= 0"):
        DeepInverse(sphere_fwd, random_state=-1).fit()
    with pytest.raises(ValueError, match="device='gpu0' is no torch device"):
        DeepInverse(sphere_fwd, device="gpu0").fit()
    with pytest.raises(TypeError, match="device must be an instance of str"):
        DeepInverse(sphere_fwd, device=0).fit()
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="torch finds no CUDA GPU here"):
            DeepInverse(sphere_fwd, device="cuda").fit()
    with pytest.raises(ValueError, match=r"hyper_params\['image_shape'\] must be a "
                       r"tuple of 2 integers >= 1 \(default \(7, 11\)\), got "
                       r"\(0, 0\)"):
        DeepInverse(sphere_fwd, hyper_params=dict(image_shape=(0, 0))).fit()
    with pytest.raises(ValueError, match=r"hyper_params\['n_dense'\] must be an "
                       "integer >= 1"):
        DeepInverse(sphere_fwd, hyper_params=dict(n_dense=2.5)).fit()
    with pytest.raises(TypeError, match="hyper_params must be an instance of dict"):
        DeepInverse(sphere_fwd, hyper_params=[1]).fit()
    # a typo is not silently ignored: the allowed keys are listed
    with pytest.raises(ValueError, match=r"Invalid hyper_params key\(s\) \{'n_filter'\}"
                       r".*model='convdip' \(allowed: \['image_shape', 'n_dense', "
                       r"'n_filters'\]\)"):
        DeepInverse(sphere_fwd, hyper_params=dict(n_filter=4)).fit()
    with pytest.raises(ValueError, match=r"\{'subjects_dir'\}.*model='vnet'"):
        DeepInverse(sphere_fwd, "vnet", hyper_params=dict(subjects_dir=".")).fit()
    # a simulation that can give samples without a source is caught on the
    # validation set, before training (the simulator itself refuses n_patches=0)
    simulate = simulation.PatchSimulator.simulate

    def some_empty(self, n, rng):
        X, Y = simulate(self, n, rng)
        Y[::2] = 0
        return X, Y

    monkeypatch.setattr(simulation.PatchSimulator, "simulate", some_empty)
    with pytest.raises(ValueError, match=r"simulated validation set has 100 "
                       r"sample\(s\) without an active source .* n_patches >= 1"):
        est.fit()


def _rewrite_card(onnx_bytes, text):
    """The model with its card metadata replaced by ``text`` (any string)."""
    import onnx

    from mne_deepinverse._card import CARD_KEY

    model = onnx.load_from_string(onnx_bytes)
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, {CARD_KEY: text})
    return model.SerializeToString()


def test_model_file_errors(fitted, tmp_path):
    import json

    from mne_deepinverse._load import load_model as _load_model

    with pytest.raises(IsADirectoryError, match="is a directory; pass a file name"):
        fitted.save(tmp_path)
    fitted.save(tmp_path / "model.onnx")
    with pytest.raises(FileExistsError, match=r"overwrite=True.*model\.onnx"):
        fitted.save(tmp_path / "model.onnx")
    fitted.save(tmp_path / "model.onnx", overwrite=True)
    for reader in (read_deep_inverse, _load_model):
        with pytest.raises(IsADirectoryError, match=r"is a directory; pass the "
                           r"\.onnx model file \(it holds \['model\.onnx'\]\)"):
            reader(tmp_path)
    with pytest.raises(FileNotFoundError, match="Model file does not exist"):
        read_deep_inverse(tmp_path / "other.onnx")
    card = fitted.card_
    newer = dict(card, format_version=99)
    del newer["ch_pos"]
    short = dict(card, ch_names=card["ch_names"][:-1], ch_pos=card["ch_pos"][:-1])
    for text, match in [
        ("{not json", "not valid JSON"),
        ("", "not valid JSON"),
        ("[1, 2]", "is a JSON list, not an object"),
        ("{}", r"lacks the keys \['format_version', 'backend', 'ch_names'"),
        (json.dumps({k: v for k, v in card.items() if k != "vertices"}),
         r"lacks the keys \['vertices'\]"),
        (json.dumps(short), "lists 30 channels but the network takes 31"),
        (json.dumps(dict(card, ch_pos=card["ch_pos"][:-1])),
         r"has 31 channels but ch_pos of shape \(30, 3\)"),
        (json.dumps(newer), "newer mne-deepinverse .* upgrade"),
    ]:
        fname = tmp_path / "bad.onnx"
        fname.write_bytes(_rewrite_card(fitted.onnx_, text))
        with pytest.raises(RuntimeError, match=match):
            read_deep_inverse(fname)
        if "newer" not in match:
            with pytest.raises(RuntimeError, match="file is corrupted or was not "
                               "written by mne-deepinverse"):
                _load_model(fname)


def test_apply_surface(fwd):
    """A model trained for the template forward gives SourceEstimates."""
    from mne_deepinverse import apply_deep_inverse
    from mne_deepinverse.simulation import simulate_patch_evoked

    est = DeepInverse(fwd, random_state=0, n_epochs=1, samples_per_epoch=256,
                      batch_size=128, n_val=50, hyper_params=dict(n_dense=32),
                      progress=False).fit()
    evoked, _ = simulate_patch_evoked(fwd, random_state=0)
    stc = est.apply(evoked)
    assert isinstance(stc, mne.SourceEstimate)
    stc2 = apply_deep_inverse(evoked, fwd, est)
    np.testing.assert_array_equal(stc.data, stc2.data)


def _ddp_fit(rank, world, init, fwd_fname, out):
    """Fit in one process of a 2-process gloo group; rank 0 writes the card."""
    import json
    import pickle

    import torch

    torch.distributed.init_process_group("gloo", init_method=init, rank=rank,
                                         world_size=world)
    try:
        with open(fwd_fname, "rb") as fid:
            fwd = pickle.load(fid)
        est = DeepInverse(fwd, random_state=0, fp16=False, strategy="ddp",
                          **{**SMALL, "n_epochs": 4}).fit()
        if rank == 0:
            with open(out, "w") as fid:
                json.dump(est.card_["training"], fid)
    finally:
        torch.distributed.destroy_process_group()


def test_fit_ddp_same_quality(sphere_fwd, tmp_path):
    """The same seed on 1 or 2 processes: models of the same quality."""
    import json

    import torch

    if not torch.distributed.is_available():
        pytest.skip("torch.distributed is not available")
    import pickle

    fwd_fname = tmp_path / "sphere-fwd.pkl"  # the same Forward in the workers
    fwd_fname.write_bytes(pickle.dumps(sphere_fwd))
    out = tmp_path / "ddp.json"
    torch.multiprocessing.spawn(
        _ddp_fit, args=(2, (tmp_path / "init").as_uri(), str(fwd_fname), str(out)),
        nprocs=2)
    ddp = json.loads(out.read_text())
    single = [DeepInverse(sphere_fwd, random_state=seed, fp16=False,
                          **{**SMALL, "n_epochs": 4}).fit().card_["training"]
              for seed in (0, 1)]
    # two processes drew the same number of samples per epoch between them
    assert ddp["samples_seen"] == single[0]["samples_seen"]
    noise = abs(single[0]["best_val_loss"] - single[1]["best_val_loss"])
    diff = abs(ddp["best_val_loss"] - single[0]["best_val_loss"])
    assert diff <= max(3 * noise, 0.05 * single[0]["best_val_loss"])
    # and it learnt: the loss fell over the epochs
    assert ddp["val_loss"][-1] < ddp["val_loss"][0]
