# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Fine-tuning from a trained model (``DeepInverse(warm_start=...)``)."""

import mne
import numpy as np
import pytest

from mne_deepinverse import DeepInverse
from mne_deepinverse._card import forward_entries as _forward_meta
from mne_deepinverse._preprocessing import normalise_numpy
from mne_deepinverse.simulation import simulate_samples

torch = pytest.importorskip("torch")

from mne_deepinverse._warm_start import warm_start_layers  # noqa: E402
from mne_deepinverse.backends.convdip import DenseChain, fold  # noqa: E402

SMALL = dict(n_epochs=1, samples_per_epoch=512, batch_size=128, n_val=100,
             progress=False)


@pytest.fixture(scope="module")
def warm(sphere_fwd):
    return DeepInverse(sphere_fwd, random_state=0, fp16=False,
                       hyper_params=dict(n_dense=64), **SMALL).fit()


def _net_output(layers, X):
    with torch.no_grad():
        x = torch.as_tensor(normalise_numpy(X), dtype=torch.float32)
        return DenseChain(layers)(x).numpy()


def test_warm_start_reproduces_the_model(warm, sphere_fwd):
    """The network a fine-tuning starts from is the warm model's network."""
    X, _ = simulate_samples(sphere_fwd, 20, random_state=1)
    layers, info = warm_start_layers(warm, _forward_meta(sphere_fwd))
    assert info["sources"] == "the model's own"
    _, shapes, _ = warm.model_.run(X)
    np.testing.assert_allclose(_net_output(layers, X), shapes, rtol=1e-4,
                               atol=1e-5 * shapes.max())
    # folding a DenseChain gives its layers back
    for (w0, b0, r0), (w1, b1, r1) in zip(layers, fold(DenseChain(layers)),
                                          strict=True):
        np.testing.assert_array_equal(w0, w1)
        np.testing.assert_array_equal(b0, b1)
        assert r0 == r1


def test_warm_start_other_sources(warm, sphere_fwd):
    """On another source space each source starts from the nearest one."""
    X, _ = simulate_samples(sphere_fwd, 10, random_state=2)
    meta = _forward_meta(sphere_fwd)
    keep = np.arange(0, meta["n_sources"], 3)
    other = dict(meta, source_rr=np.asarray(meta["source_rr"])[keep].tolist())
    layers, info = warm_start_layers(warm, other)
    assert "nearest" in info["sources"] and "0.0 mm" in info["sources"]
    _, shapes, _ = warm.model_.run(X)
    np.testing.assert_allclose(_net_output(layers, X), shapes[:, keep], rtol=1e-4,
                               atol=1e-5 * shapes.max())


def test_anycap_warm_start(biosemi64_fwd):
    """The any-cap model starts a one-cap network: its cap interpolation is
    folded into the first layer, the maps are the same."""
    from mne_deepinverse._load import load_model as _load_model

    X, _ = simulate_samples(biosemi64_fwd, 10, random_state=3)
    layers, info = warm_start_layers("anycap", _forward_meta(biosemi64_fwd))
    assert info["backend"] == "anycap" and info["sources"] == "the model's own"
    assert layers[0][0].shape[0] == 64
    model = _load_model("anycap")
    _, shapes, _ = model.bind(biosemi64_fwd).run(X)
    np.testing.assert_allclose(_net_output(layers, X), shapes, rtol=1e-3,
                               atol=1e-4 * shapes.max())


def test_fine_tune(warm, sphere_fwd):
    """A fine-tuned model trains, records its start, and can go on training."""
    est = DeepInverse(sphere_fwd, warm_start=warm, learning_rate=1e-4,
                      random_state=0, **SMALL).fit()
    start = est.card_["training"]["warm_start"]
    assert start["backend"] == "convdip" and start["loss"] == "cosine_mse"
    assert est.card_["hyper_params"] == dict(layers=[int(w.shape[1]) for w, _, _
                                                     in fold(est.net_)])
    X, Y = simulate_samples(sphere_fwd, 50, random_state=4)
    assert np.isfinite(est.predict(X)).all()
    before = est.model_.run(X)[1]
    est.set_params(warm_start=True).fit()  # go on from the last fit
    assert not np.allclose(est.model_.run(X)[1], before)


def test_warm_start_errors(warm, sphere_fwd, fwd):
    with pytest.raises(ValueError, match="warm_start=True continues the last fit"):
        DeepInverse(sphere_fwd, warm_start=True, **SMALL).fit()
    with pytest.raises(ValueError, match="needs model='convdip'"):
        DeepInverse(sphere_fwd, "unet", warm_start=warm, **SMALL).fit()
    with pytest.raises(ValueError, match="cannot apply with warm_start"):
        DeepInverse(sphere_fwd, warm_start=warm, hyper_params=dict(n_dense=8),
                    **SMALL).fit()
    with pytest.raises(TypeError, match="warm_start"):
        DeepInverse(sphere_fwd, warm_start=3, **SMALL).fit()
    with pytest.raises(ValueError, match="is a unet model.*cannot be fine-tuned"):
        DeepInverse(fwd, warm_start="unet", **SMALL).fit()
    sub = mne.pick_channels_forward(sphere_fwd, sphere_fwd["info"]["ch_names"][:20],
                                    verbose=False)
    with pytest.raises(ValueError, match=r"missing \['"):
        DeepInverse(sub, warm_start=warm, **SMALL).fit()
    with pytest.raises(ValueError, match="channels; this model was trained for"):
        DeepInverse(mne.pick_channels_forward(sub, sub["info"]["ch_names"][:8],
                                              verbose=False),
                    warm_start="anycap", **SMALL).fit()


def test_fine_tune_anycap(biosemi64_fwd):
    """Fine-tuning the any-cap model simulates and scores as it was trained."""
    from mne_deepinverse._load import load_model as _load_model

    est = DeepInverse(biosemi64_fwd, warm_start="anycap", learning_rate=1e-4,
                      random_state=0, **SMALL).fit()
    card, anycap = est.card_, _load_model("anycap").card
    assert card["simulation"] == anycap["simulation"]
    assert card["training"]["loss"] == anycap["training"]["loss"]
    assert card["ch_names"] == biosemi64_fwd["info"]["ch_names"]
    assert not est.model_.any_cap
    assert 0.5 < card["validation"]["auc"] <= 1
