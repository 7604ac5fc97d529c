# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""SIFNet: the window network, its training data and its use through MNE."""

import mne
import numpy as np
import pytest

from mne_deepinverse import DeepInverse, apply_deep_inverse, read_deep_inverse
from mne_deepinverse._utils import _src_space_ids
from mne_deepinverse.simulation import (
    NeuralMassSimulator,
    PatchWindowSimulator,
    make_parcellation,
    region_expansion,
)

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from mne_deepinverse.backends import get_backend  # noqa: E402

NM = dict(n_regions=40, n_times=64, sfreq=200.0, n_runs=2, seconds=6.0)
BRIEF = dict(n_epochs=2, samples_per_epoch=128, batch_size=32, n_val=32,
             learning_rate=3e-3, progress=False, fp16=False,
             hyper_params=dict(width=16, n_blocks=2, n_hidden=32, n_components=3))


def test_region_expansion(sphere_fwd):
    """Rows sum to one, own region first; maps peak in the region that is high."""
    pos = sphere_fwd["source_rr"]
    labels, centres, space = make_parcellation(
        pos, _src_space_ids(sphere_fwd["src"]), 30, random_state=0)
    index, weight = region_expansion(pos, labels, centres, space, k=4)
    assert index.shape == weight.shape == (len(pos), 4)
    np.testing.assert_allclose(weight.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_array_equal(index[:, 0], labels)
    assert (weight >= 0).all()
    # a constant over the regions stays constant over the sources
    np.testing.assert_allclose((np.ones(30)[index] * weight).sum(axis=1), 1,
                               rtol=1e-6)
    # one active region: the sources' map peaks on one of its own sources
    for region in (0, 7, 21):
        values = np.zeros(30)
        values[region] = 1.0
        src_map = (values[index] * weight).sum(axis=1)
        assert labels[np.argmax(src_map)] == region
    with pytest.raises(ValueError, match="n_regions must be between 1"):
        make_parcellation(pos, _src_space_ids(sphere_fwd["src"]), 0)


@pytest.fixture(scope="module")
def patch_sim(sphere_fwd):
    return PatchWindowSimulator(sphere_fwd, n_regions=40, n_times=64, sfreq=200.0,
                                n_patches=(1, 2), extent=(1, 2), random_state=0)


def test_patch_windows(patch_sim, sphere_fwd):
    """Patch windows: shapes, average reference, SNR, seeds, the parcellation."""
    X, Y = patch_sim.simulate(16, np.random.default_rng(0))
    assert X.shape == (16, 64, len(patch_sim.ch_names))
    assert Y.shape == (16, 64, 40) and Y.dtype == np.float32
    np.testing.assert_allclose(X.mean(axis=-1), 0, atol=1e-20)
    assert (np.abs(Y).max(axis=(1, 2)) > 0).all()  # every window has a source
    # the time courses vary within the window (evoked-like, not constant)
    course = np.abs(Y).max(axis=2)
    assert (course.max(axis=1) > 5 * course.min(axis=1)).all()
    # targets are the regions' mean moments: the clean EEG is their
    # projection through the regions' summed gains only up to the patches'
    # shape inside the regions, so check sign and size instead
    peak = np.abs(Y).max()
    assert 1e-9 < peak < 20e-9
    X2, Y2 = patch_sim.simulate(16, np.random.default_rng(0))
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(Y, Y2)
    # the same seed gives a neural-mass simulator the same parcellation
    nm = NeuralMassSimulator(sphere_fwd, random_state=0, **NM)
    np.testing.assert_array_equal(nm.labels, patch_sim.labels)
    # to_regions inverts to_sources
    R = np.random.default_rng(1).normal(size=(3, 40))
    np.testing.assert_allclose(patch_sim.to_regions(patch_sim.to_sources(R)), R,
                               rtol=1e-6, atol=1e-12)


def test_sifnet_network():
    """Output shapes and non-negativity; windows of other length are refused."""
    backend = get_backend("sifnet")
    meta = dict(ch_names=[f"E{i}" for i in range(7)],
                input=dict(kind="window", n_times=32, sfreq=100.0),
                regions=dict(n_regions=12))
    idx = np.tile(np.arange(12), (3, 1)).T[:, :2].copy()
    w = np.full((12, 2), 0.5, np.float32)
    net = backend.build(meta, dict(width=16, n_blocks=3), expansion=(idx, w)).eval()
    x = torch.randn(5, 32, 7)
    out = net(x)
    assert out.shape == (5, 32, 12) and (out >= 0).all()
    src = backend.for_export(net)(x)
    assert src.shape == (5, 32, 12)
    with pytest.raises(ValueError, match="multiple of pool"):
        backend.build(dict(meta, input=dict(n_times=30)), {}, expansion=(idx, w))


@pytest.fixture(scope="module")
def sifnet(sphere_fwd):
    return DeepInverse(sphere_fwd, "sifnet", simulation=NM, random_state=0,
                       **BRIEF).fit()


def test_sifnet_fit_and_apply(sifnet, sphere_fwd, tmp_path):
    """Fit on neural-mass windows, export, apply to an evoked at another rate."""
    est = sifnet
    card = est.card_
    assert card["input"] == dict(kind="window", n_times=64, sfreq=200.0)
    assert card["regions"]["n_regions"] == 40
    assert len(card["regions"]["labels"]) == sphere_fwd["nsource"]
    assert card["simulation"] == NM
    assert "neural_mass" in card["training"]["data"]
    assert card["training"]["loss"] == "cosine_wmse"
    assert {"auc", "mle", "nmse"} <= set(card["validation"])
    # the ONNX graph agrees with the torch network mapped onto the sources
    sim = NeuralMassSimulator(sphere_fwd, random_state=1, **NM)
    X, _ = sim.simulate(4, np.random.default_rng(2))
    from mne_deepinverse._preprocessing import normalise_numpy

    with torch.no_grad():
        exported = get_backend("sifnet").for_export(est.net_)
        x = torch.as_tensor(normalise_numpy(X), dtype=torch.float32)
        want = exported(x).numpy()
        # the export expands the region maps before the time courses weight
        # them: the same as expanding the network's region outputs
        regions = est.net_.eval()(x).numpy()
    idx, w = exported.index.numpy(), exported.weight.numpy()
    expanded = sum(regions[..., idx[:, j]] * w[:, j] for j in range(idx.shape[1]))
    np.testing.assert_allclose(want, expanded, rtol=1e-4,
                               atol=1e-6 * np.abs(want).max())
    shapes = est.predict_shape(X)[1]
    np.testing.assert_allclose(shapes, want, rtol=1e-3, atol=1e-4 * want.max())
    Yp = est.predict(X)
    assert Yp.shape == (4, 64, sphere_fwd["nsource"])
    # saved and read back
    est.save(tmp_path / "sif.onnx")
    back = read_deep_inverse(tmp_path / "sif.onnx")
    np.testing.assert_array_equal(back.predict(X), Yp)
    # an evoked at 500 Hz: resampled for the model, the estimate on its times
    info = mne.create_info(sim.ch_names, 500.0, "eeg")
    data = X.reshape(-1, X.shape[-1])[:200].T  # 200 samples as if at 500 Hz
    evoked = mne.EvokedArray(data, info, tmin=-0.1, verbose=False)
    evoked.set_montage(_montage(est), verbose=False)
    evoked.set_eeg_reference(projection=True, verbose=False)
    stc = apply_deep_inverse(evoked, sphere_fwd, est.model_)
    assert stc.data.shape == (sphere_fwd["nsource"], 200)
    assert stc.sfreq == 500.0 and np.isclose(stc.tmin, -0.1)
    assert np.isfinite(stc.data).all() and np.abs(stc.data).max() > 0


def _montage(est):
    card = est.card_
    pos = dict(zip(card["ch_names"], np.asarray(card["ch_pos"]), strict=True))
    return mne.channels.make_dig_montage(pos, coord_frame="head")


def test_sifnet_seeded_and_patches(sifnet, sphere_fwd):
    """The same seed gives the same model; patch data train the same network."""
    again = DeepInverse(sphere_fwd, "sifnet", simulation=NM, random_state=0,
                        **BRIEF).fit()
    X, _ = NeuralMassSimulator(sphere_fwd, random_state=3, **NM).simulate(
        3, np.random.default_rng(0))
    np.testing.assert_array_equal(again.predict(X), sifnet.predict(X))
    assert again.card_["validation"] == sifnet.card_["validation"]
    patches = DeepInverse(
        sphere_fwd, "sifnet", random_state=0,
        simulation=dict(kind="patches", n_regions=40, n_times=64, sfreq=200.0,
                        extent=(1, 2)), **BRIEF).fit()
    assert "patches" in patches.card_["training"]["data"]
    assert patches.card_["regions"]["labels"] == sifnet.card_["regions"]["labels"]
    # both kinds of windows, one parcellation
    nm = {k: v for k, v in NM.items() if k in ("n_runs", "seconds")}
    mixed = DeepInverse(
        sphere_fwd, "sifnet", random_state=0, **BRIEF,
        simulation=dict(kind="mixed", n_regions=40, n_times=64, sfreq=200.0,
                        neural_mass=nm, patches=dict(extent=(1, 2)), share=0.5))
    mixed.fit()
    assert mixed.card_["regions"]["labels"] == sifnet.card_["regions"]["labels"]
    with pytest.raises(ValueError, match="simulation key"):
        DeepInverse(sphere_fwd, "sifnet", **BRIEF,
                    simulation=dict(kind="mixed", n_runs=2)).fit()


def test_sifnet_given_windows(sphere_fwd, patch_sim):
    """fit(X, Y) takes windows with source maps (mean per region)."""
    X, Y = patch_sim.simulate(40, np.random.default_rng(3))
    Ys = patch_sim.to_sources(Y)
    est = DeepInverse(sphere_fwd, "sifnet", random_state=0,
                      simulation=dict(n_regions=40, sfreq=200.0), **BRIEF)
    est.fit(X, Ys)
    assert est.card_["training"]["data"] == "given arrays"
    assert est.card_["input"]["n_times"] == 64
    with pytest.raises(ValueError, match=r"X must have shape \(n_windows, n_times"):
        est.fit(X[:, 0], Ys[:, 0])
    with pytest.raises(ValueError, match=r"Y must have shape \(40, 64, 400\)"):
        est.fit(X, Y)
    with pytest.raises(ValueError, match="loss='hausdorff' is for networks that "
                       "read one time sample"):
        DeepInverse(sphere_fwd, "sifnet", loss="hausdorff", simulation=NM,
                    **BRIEF).fit()
    with pytest.raises(ValueError, match="Invalid value for the 'simulation"):
        DeepInverse(sphere_fwd, "sifnet", simulation=dict(kind="dipoles"),
                    **BRIEF).fit()
