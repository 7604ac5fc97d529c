# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.

import mne
import numpy as np
import pytest

from mne_deepinverse.agm import (
    AGM_CONDUCTIVITY,
    _make_agm_info,
    make_agm_forward,
    map_to_sources,
    simulate_agm_samples,
)
from mne_deepinverse.datasets import CONVDIP_CH_NAMES, make_template_info
from mne_deepinverse.simulation import simulate_samples


@pytest.fixture(scope="module")
def fwd_agm():
    # the first build takes ~2.5 min (BEM solution), then it is read from cache
    return make_agm_forward(CONVDIP_CH_NAMES, random_state=0)


def test_map_to_sources_identity_and_energy():
    rng = np.random.default_rng(0)
    pos = rng.normal(size=(50, 3)) * 0.05
    Y = rng.uniform(size=(4, 50))
    np.testing.assert_allclose(map_to_sources(Y, pos, pos, k=1), Y)
    # energy preserved, dtype kept, 1-D input gives 1-D output
    pos_to = rng.normal(size=(80, 3)) * 0.05
    Y = rng.uniform(size=(6, 50)).astype(np.float32)
    Y[0] = 0
    out = map_to_sources(Y, pos, pos_to)
    assert out.shape == (6, 80) and out.dtype == np.float32
    np.testing.assert_allclose((out**2).sum(1), (Y**2).sum(1), rtol=1e-5)
    assert not out[0].any()
    np.testing.assert_allclose(map_to_sources(Y[1], pos, pos_to), out[1])


def test_map_to_sources_single_source():
    # a 10 x 10 grid (1 cm) mapped onto a shifted 6 x 6 grid
    g = np.arange(10) * 0.01
    pos_from = np.array([(x, y, 0.0) for x in g for y in g])
    pos_to = np.array([(x, y, 0.001) for x in g[::2] + 0.003 for y in g[::2]])
    src = 44  # (0.04, 0.04, 0)
    y = np.zeros(len(pos_from))
    y[src] = 2.0
    for k in (1, 3, 5):
        out = map_to_sources(y, pos_from, pos_to, k=k)
        dist = np.linalg.norm(pos_to[:, None] - pos_from[None], axis=-1)
        knn = np.argsort(dist, axis=1, kind="stable")[:, :k]
        expected = (knn == src).any(axis=1)
        assert expected.any()
        np.testing.assert_array_equal(out != 0, expected)
        # equal weights, energy of the input
        np.testing.assert_allclose(out[expected], out[expected][0])
        np.testing.assert_allclose((out**2).sum(), 4.0)
        # only targets next to the active source
        assert dist[expected, src].max() < 0.02


def test_map_to_sources_errors():
    pos = np.zeros((5, 3)) + np.arange(5)[:, None]
    with pytest.raises(ValueError, match=r"Y must have shape \(n_samples, 5\)"):
        map_to_sources(np.ones((2, 4)), pos, pos)
    with pytest.raises(ValueError, match="Y must have shape"):
        map_to_sources(np.ones((2, 2, 5)), pos, pos)
    with pytest.raises(ValueError, match=r"pos_to must have shape \(n_sources, 3\)"):
        map_to_sources(np.ones(5), pos, pos[:, :2])
    with pytest.raises(ValueError, match="pos_from must have shape"):
        map_to_sources(np.ones(5), pos.ravel(), pos)
    with pytest.raises(ValueError, match="Y holds NaN"):
        map_to_sources(np.full(5, np.nan), pos, pos)
    bad = pos.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="pos_from holds NaN"):
        map_to_sources(np.ones(5), bad, pos)
    with pytest.raises(ValueError, match="k must be between 1 and 5"):
        map_to_sources(np.ones(5), pos, pos, k=6)
    with pytest.raises(TypeError, match="k must be an int"):
        map_to_sources(np.ones(5), pos, pos, k=2.0)


def test_agm_electrode_jitter():
    ref = np.array(
        [ch["loc"][:3] for ch in make_template_info(CONVDIP_CH_NAMES)["chs"]]
    )
    info0, shift0 = _make_agm_info(CONVDIP_CH_NAMES, 2.0, 0)
    info0b, _ = _make_agm_info(CONVDIP_CH_NAMES, 2.0, 0)
    info1, _ = _make_agm_info(CONVDIP_CH_NAMES, 2.0, 1)
    pos = [np.array([ch["loc"][:3] for ch in i["chs"]]) for i in (info0, info0b, info1)]
    np.testing.assert_array_equal(pos[0], pos[1])
    assert not np.allclose(pos[0], pos[2])
    np.testing.assert_allclose(pos[0] - ref, shift0)
    assert 0.5e-3 < np.std(pos[0] - ref) < 4e-3
    np.testing.assert_array_equal(_make_agm_info(CONVDIP_CH_NAMES, 0.0, 3)[1], 0)
    with pytest.raises(ValueError, match="electrode_jitter must be a non-negative"):
        make_agm_forward(CONVDIP_CH_NAMES, electrode_jitter=-1.0)


def test_make_agm_forward(fwd, fwd_agm, no_network):
    assert fwd_agm["nsource"] == 8196 and fwd_agm["sol"]["data"].shape == (31, 8196)
    assert fwd_agm["source_ori"] == mne.io.constants.FIFF.FIFFV_MNE_FIXED_ORI
    assert fwd_agm["info"]["ch_names"] == list(CONVDIP_CH_NAMES)
    assert fwd_agm["coord_frame"] == fwd["coord_frame"]
    # the electrodes were moved (their positions are kept in the forward's info)
    ref = np.array([ch["loc"][:3] for ch in fwd["info"]["chs"]])
    moved = np.array([ch["loc"][:3] for ch in fwd_agm["info"]["chs"]])
    assert 0.5e-3 < np.linalg.norm(moved - ref, axis=1).mean() < 6e-3
    # same seed, same forward (read from the cache, offline)
    again = make_agm_forward(CONVDIP_CH_NAMES, random_state=0)
    np.testing.assert_array_equal(again["sol"]["data"], fwd_agm["sol"]["data"])
    # other conductivities and electrodes: gains differ from the model's at
    # the sources both source spaces share (oct6 and ico4 share no vertices,
    # so compare the nearest ones, within 1 mm)
    assert AGM_CONDUCTIVITY == (0.332, 0.0113, 0.332)
    from scipy.spatial import cKDTree

    d, idx = cKDTree(fwd_agm["source_rr"]).query(fwd["source_rr"])
    close = d < 1e-3
    assert close.sum() > 100
    g_model = fwd["sol"]["data"][:, close]
    g_agm = fwd_agm["sol"]["data"][:, idx[close]]
    rel = np.linalg.norm(g_agm - g_model) / np.linalg.norm(g_model)
    assert 0.05 < rel < 1.0
    # but they describe the same head: strongly correlated topographies
    corr = np.corrcoef(g_agm.ravel(), g_model.ravel())[0, 1]
    assert corr > 0.8


def test_simulate_agm_samples(fwd, fwd_agm, no_network):
    X, Y = simulate_agm_samples(fwd, 100, fwd_agm=fwd_agm, random_state=0)
    assert X.shape == (100, 31) and Y.shape == (100, 5124)
    assert X.dtype == np.float32 and Y.dtype == np.float32
    X2, Y2 = simulate_agm_samples(fwd, 100, fwd_agm=fwd_agm, random_state=0)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(Y, Y2)
    X3, _ = simulate_agm_samples(fwd, 100, fwd_agm=fwd_agm, random_state=1)
    assert not np.allclose(X, X3)
    # EEG from the AGM forward, truth mapped with energy preserved
    X_agm, Y_agm = simulate_samples(fwd_agm, 100, random_state=0)
    np.testing.assert_array_equal(X, X_agm)
    assert Y_agm.shape == (100, 8196) and Y.min() >= 0
    np.testing.assert_allclose(
        (Y.astype(float) ** 2).sum(1), (Y_agm.astype(float) ** 2).sum(1), rtol=1e-4
    )
    # sim_params are passed on
    _, Y1 = simulate_agm_samples(
        fwd, 20, fwd_agm=fwd_agm, random_state=0, n_patches=1, extent=0
    )
    assert ((Y1 > 0).sum(axis=1) <= 5).all()
    # fwd_agm=None builds the AGM forward with the same seed (cached)
    X4, Y4 = simulate_agm_samples(fwd, 100, random_state=0)
    np.testing.assert_array_equal(X4, X)
    np.testing.assert_array_equal(Y4, Y)


def test_simulate_agm_samples_channels(fwd, fwd_agm):
    names = list(CONVDIP_CH_NAMES)
    X, _ = simulate_agm_samples(fwd, 30, fwd_agm=fwd_agm, random_state=0, noise="white")
    # AGM channels in another order: X still follows the model's order
    shuffled = mne.pick_channels_forward(fwd_agm, names[::-1], ordered=True)
    assert shuffled["info"]["ch_names"] == names[::-1]
    X2, _ = simulate_agm_samples(fwd, 30, fwd_agm=shuffled, random_state=0)
    np.testing.assert_allclose(X2, X)
    with pytest.raises(ValueError, match=r"fwd_agm lacks EEG channel\(s\) \['Fp2'\]"):
        simulate_agm_samples(
            fwd, 5, fwd_agm=mne.pick_channels_forward(fwd_agm, names[:-1], ordered=True)
        )
    with pytest.raises(TypeError, match="fwd_agm must be an instance of"):
        simulate_agm_samples(fwd, 5, fwd_agm="oct6")


def test_agm_other_head(fwd_agm, no_network):
    """A test head that is not the template: scaled per axis, co-registered
    off; its sources move, their anatomy (agm_source_positions) does not."""
    from mne_deepinverse.agm import agm_source_positions
    from mne_deepinverse.benchmark._protocol import _other_head

    other = _other_head("realistic", 0)  # the benchmark's (its BEM is shared)
    assert all(0.9 <= x <= 1.1 for x in other["head_scale"])
    assert other["coreg_error"] == (3.0, 3.0)
    fwd_other = make_agm_forward(CONVDIP_CH_NAMES, random_state=0, **other)
    anatomy = agm_source_positions()
    np.testing.assert_allclose(anatomy, fwd_agm["source_rr"], atol=1e-6)
    moved = np.linalg.norm(fwd_other["source_rr"] - anatomy, axis=1) * 1e3
    assert 1.0 < np.median(moved) < 15.0, np.median(moved)  # mm
    # the cortex keeps its vertices; the gains change, but not beyond recognition
    assert fwd_other["nsource"] == fwd_agm["nsource"]
    g0, g1 = fwd_agm["sol"]["data"], fwd_other["sol"]["data"]
    rel = np.linalg.norm(g1 - g0) / np.linalg.norm(g0)
    assert 0.02 < rel < 0.5, rel
    assert np.corrcoef(g0.ravel(), g1.ravel())[0, 1] > 0.9
    # the electrodes sit on the scaled scalp: they moved with it
    e0 = np.array([ch["loc"][:3] for ch in fwd_agm["info"]["chs"]])
    e1 = np.array([ch["loc"][:3] for ch in fwd_other["info"]["chs"]])
    assert np.median(np.linalg.norm(e1 - e0, axis=1)) > 1e-3
    # the same seed gives the same forward (from the cache)
    again = make_agm_forward(CONVDIP_CH_NAMES, random_state=0, **other)
    np.testing.assert_array_equal(again["sol"]["data"], g1)
    with pytest.raises(ValueError, match="head_scale must be three factors"):
        make_agm_forward(CONVDIP_CH_NAMES, head_scale=(2.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="coreg_error must be"):
        make_agm_forward(CONVDIP_CH_NAMES, coreg_error=(-1.0, 0.0))
