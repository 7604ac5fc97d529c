# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.

import numpy as np
import pytest

from mne_deepinverse.scaling import rescale_amplitudes


def test_brent_equals_least_squares():
    rng = np.random.default_rng(0)
    P = rng.standard_normal((40, 31))
    true = rng.uniform(0.1, 5, 40)
    X = P * true[:, None] + 0.3 * rng.standard_normal((40, 31))
    lstsq = np.array([np.linalg.lstsq(p[:, None], x, rcond=None)[0][0]
                      for p, x in zip(P, X, strict=True)])
    brent = rescale_amplitudes(X, P, method="brent")
    auto = rescale_amplitudes(X, P)
    np.testing.assert_allclose(brent, lstsq, rtol=1e-6)
    np.testing.assert_allclose(auto, lstsq, rtol=1e-10)
    # EEG-scale values (µV, nAm) work as well
    np.testing.assert_allclose(
        rescale_amplitudes(X * 1e-6, P * 1e3, method="brent"), lstsq * 1e-9,
        rtol=1e-6,
    )


def test_edge_cases():
    X = np.ones((3, 4))
    P = np.vstack([np.zeros(4), -np.ones(4), np.ones(4)])
    # an all-zero shape gets scale 0; an inverted topography a negative scale
    np.testing.assert_allclose(rescale_amplitudes(X, P), [0, -1, 1])
    np.testing.assert_allclose(rescale_amplitudes(X, P, method="brent"), [0, -1, 1])
    with pytest.raises(ValueError, match="must both have shape"):
        rescale_amplitudes(X, P[:2])
    with pytest.raises(ValueError, match="Invalid value for the 'method'"):
        rescale_amplitudes(X, P, method="golden")
    # non-finite or overflowing values fail up front, not in Brent's bracketing
    for bad in (np.inf, np.nan, 1e200):
        with pytest.raises(ValueError, match="must be finite, with finite sums of "
                           "squares"):
            rescale_amplitudes(X * bad, P, method="brent")


def test_many_samples_fast():
    import time

    rng = np.random.default_rng(1)
    P = rng.standard_normal((1000, 31))
    X = 2.5 * P
    t0 = time.perf_counter()
    scale = rescale_amplitudes(X, P)
    assert time.perf_counter() - t0 < 1.0  # generous: this is not a benchmark
    np.testing.assert_allclose(scale, 2.5)


# --- signed amplitudes per patch (fit_patch_amplitudes) ---------------------


def _chain(n):
    """Adjacency of a chain of n sources."""
    from scipy import sparse

    return sparse.diags([np.ones(n - 1), np.ones(n - 1)], [-1, 1], format="csr")


def _avg_ref_gain(rng, n_channels, n_sources):
    gain = rng.standard_normal((n_channels, n_sources))
    return gain - gain.mean(axis=0)


def _single_scale_fit(X, shapes, gain):
    """The map of rescale_amplitudes' single scale per sample."""
    return shapes * rescale_amplitudes(X, shapes @ gain.T)[:, np.newaxis]


def _residuals(X, Y, gain):
    return np.linalg.norm(X - np.asarray(Y, np.float64) @ gain.T, axis=1)


def test_patch_amplitudes_opposite_polarity(fwd):
    """Two simultaneous patches of opposite polarity keep their signs."""
    import mne

    from mne_deepinverse.scaling import fit_patch_amplitudes

    rng = np.random.default_rng(0)
    gain = fwd["sol"]["data"]
    gain = gain - gain.mean(axis=0)
    adjacency = mne.spatial_src_adjacency(fwd["src"], verbose=False)
    n_times, n_sources = 50, gain.shape[1]
    patches = []
    for seed in (100, 2562 + 1500):  # one patch in each hemisphere
        mask = np.zeros(n_sources)
        mask[seed] = 1
        for _ in range(2):
            mask = adjacency @ mask
        patches.append(mask > 0)
    a_patch, b_patch = patches
    tc = np.sin(np.linspace(0.2, np.pi - 0.2, n_times)) * 1e-8
    Y_true = np.zeros((n_times, n_sources))
    Y_true[:, a_patch] = tc[:, np.newaxis]
    Y_true[:, b_patch] = -0.7 * tc[:, np.newaxis]
    X = Y_true @ gain.T
    shapes = np.abs(Y_true) / np.abs(Y_true).max(axis=1, keepdims=True)
    shapes += 0.005 * rng.random(shapes.shape)  # a little positive noise
    shapes = shapes.astype(np.float32)

    Y, amplitudes, labels = fit_patch_amplitudes(X, shapes, gain, adjacency)
    assert Y.shape == (n_times, n_sources) and Y.dtype == np.float32
    assert amplitudes.shape == (n_times, 2)
    assert labels.shape == (n_sources,)
    # each true patch is one patch of the support; the noise joins a patch
    for mask in patches:
        assert len(np.unique(labels[mask])) == 1
    assert labels[a_patch][0] != labels[b_patch][0]
    assert (labels >= 0).all()
    # right signs on both patches, at every sample
    assert (Y[:, a_patch] > 0).all()
    assert (Y[:, b_patch] < 0).all()
    assert (amplitudes[:, labels[a_patch][0]] > 0).all()
    assert (amplitudes[:, labels[b_patch][0]] < 0).all()
    # a smaller residual than the single scale (which fits one sign only)
    single = _single_scale_fit(X, shapes.astype(np.float64), gain)
    assert (np.sign(single[:, a_patch]) == np.sign(single[:, b_patch][:, :1])).all()
    res_patch = _residuals(X, Y, gain)
    res_single = _residuals(X, single, gain)
    assert np.linalg.norm(res_patch) < 0.2 * np.linalg.norm(res_single)
    assert (res_patch <= res_single * (1 + 1e-5)).all()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_patch_amplitudes_single_patch(dtype):
    """One patch gives the single-scale fit, to float precision."""
    from mne_deepinverse.scaling import fit_patch_amplitudes

    rng = np.random.default_rng(1)
    n_times, n_channels, n_sources = 30, 16, 40
    gain = _avg_ref_gain(rng, n_channels, n_sources)
    shapes = np.zeros((n_times, n_sources))
    shapes[:, 10:16] = rng.uniform(0.2, 1, (n_times, 6))
    shapes[:, 16:20] = rng.uniform(0, 0.01, (n_times, 4))  # a sub-threshold tail
    shapes = shapes.astype(dtype)
    X = rng.standard_normal((n_times, n_channels))
    X -= X.mean(axis=1, keepdims=True)

    Y, amplitudes, labels = fit_patch_amplitudes(X, shapes, gain, _chain(n_sources))
    expected_labels = np.full(n_sources, -1)
    expected_labels[10:20] = 0
    np.testing.assert_array_equal(labels, expected_labels)
    scale = rescale_amplitudes(X, shapes.astype(np.float64) @ gain.T)
    rtol = 1e-5 if dtype == np.float32 else 1e-6
    np.testing.assert_allclose(amplitudes[:, 0], scale, rtol=rtol)
    np.testing.assert_allclose(Y, _single_scale_fit(X, shapes, gain), rtol=rtol)


def test_patch_amplitudes_unlinked_sources():
    """Faint sources linked to no patch keep the single scale (label -1)."""
    from mne_deepinverse.scaling import fit_patch_amplitudes

    rng = np.random.default_rng(2)
    n_times, n_channels, n_sources = 20, 16, 40
    gain = _avg_ref_gain(rng, n_channels, n_sources)
    shapes = np.zeros((n_times, n_sources))
    shapes[:, 10:16] = rng.uniform(0.2, 1, (n_times, 6))
    shapes[:, 30:32] = 0.01  # faint and cut off from the patch by zeros
    X = rng.standard_normal((n_times, n_channels))
    Y, amplitudes, labels = fit_patch_amplitudes(X, shapes, gain, _chain(n_sources))
    assert amplitudes.shape == (n_times, 1)
    np.testing.assert_array_equal(labels[30:32], -1)
    np.testing.assert_array_equal(labels[10:16], 0)
    single = _single_scale_fit(X, shapes, gain)
    np.testing.assert_allclose(Y[:, 30:32], single[:, 30:32], rtol=1e-6)
    assert (_residuals(X, Y, gain) <= _residuals(X, single, gain) * (1 + 1e-6)).all()


def test_patch_amplitudes_never_worse():
    """Per sample, the patch fit never leaves a larger residual."""
    from mne_deepinverse.scaling import fit_patch_amplitudes

    rng = np.random.default_rng(2)
    n_times, n_channels, n_sources = 200, 31, 120
    gain = _avg_ref_gain(rng, n_channels, n_sources)
    shapes = rng.random((n_times, n_sources))
    shapes[:, ::12] = 0  # ten patches of 11 sources
    shapes[:, 5::12] = 0.01  # each cut in two at a threshold of 0.1
    X = rng.standard_normal((n_times, n_channels))
    X -= X.mean(axis=1, keepdims=True)
    res_single = _residuals(X, _single_scale_fit(X, shapes, gain), gain)
    for alpha in (0, 1e-6, 1e3):  # a huge ridge shrinks, then falls back
        Y, amplitudes, labels = fit_patch_amplitudes(
            X, shapes, gain, _chain(n_sources), alpha=alpha
        )
        assert amplitudes.shape[1] == labels.max() + 1 == 20
        res_patch = _residuals(X, Y, gain)
        assert (res_patch <= res_single * (1 + 1e-6)).all()
        if alpha < 1:
            assert res_patch.mean() < 0.9 * res_single.mean()


def test_patch_amplitudes_singular():
    """Patches with identical projections need no ridge to be solved."""
    from mne_deepinverse.scaling import fit_patch_amplitudes

    rng = np.random.default_rng(6)
    gain = _avg_ref_gain(rng, 8, 10)
    gain[:, 6:9] = gain[:, 1:4]  # patch 6-8 projects like patch 1-3
    shapes = np.zeros((4, 10))
    shapes[:, 1:4] = shapes[:, 6:9] = 1
    X = shapes @ gain.T
    Y, amplitudes, _ = fit_patch_amplitudes(X, shapes, gain, _chain(10), alpha=0)
    np.testing.assert_allclose(amplitudes, 1)  # the minimum-norm solution
    np.testing.assert_allclose(_residuals(X, Y, gain), 0, atol=1e-6)


def test_patch_amplitudes_zero_rows():
    """All-zero rows give zero maps and amplitudes, and define no support."""
    from mne_deepinverse.scaling import fit_patch_amplitudes

    rng = np.random.default_rng(3)
    n_times, n_channels, n_sources = 6, 8, 20
    gain = _avg_ref_gain(rng, n_channels, n_sources)
    X = rng.standard_normal((n_times, n_channels))
    shapes = np.zeros((n_times, n_sources))
    shapes[::2, 4:7] = 1.0
    Y, amplitudes, labels = fit_patch_amplitudes(X, shapes, gain, _chain(n_sources))
    assert amplitudes.shape == (n_times, 1)
    assert (Y[1::2] == 0).all() and (amplitudes[1::2] == 0).all()
    assert (Y[::2, 4:7] != 0).all()
    np.testing.assert_array_equal(np.flatnonzero(labels >= 0), [4, 5, 6])
    # nothing predicted at all
    Y, amplitudes, labels = fit_patch_amplitudes(
        X, np.zeros_like(shapes), gain, _chain(n_sources)
    )
    assert (Y == 0).all() and amplitudes.shape == (n_times, 0)
    assert (labels == -1).all()


def test_patch_amplitudes_errors():
    from mne_deepinverse.scaling import fit_patch_amplitudes

    rng = np.random.default_rng(4)
    X, shapes, gain = np.ones((3, 4)), rng.random((3, 5)), rng.random((4, 5))
    adj = _chain(5)
    with pytest.raises(ValueError, match="X_ref must be a 2D array"):
        fit_patch_amplitudes(X[0], shapes, gain, adj)
    with pytest.raises(ValueError, match="one row per channel"):
        fit_patch_amplitudes(X, shapes, gain[:3], adj)
    with pytest.raises(ValueError, match=r"shapes must have shape \(n_times, n_so"):
        fit_patch_amplitudes(X, shapes[:, :4], gain, adj)
    for name, pos in (("X_ref", 0), ("shapes", 1), ("gain_ref", 2)):
        for bad in (np.nan, np.inf):
            args = [X.copy(), shapes.copy(), gain.copy()]
            args[pos][0, 0] = bad
            with pytest.raises(ValueError, match=f"{name} must be finite"):
                fit_patch_amplitudes(*args, adj)
    with pytest.raises(ValueError, match="non-negative magnitude patterns, got 1 "):
        fit_patch_amplitudes(X, shapes - (shapes == shapes.min()), gain, adj)
    with pytest.raises(TypeError, match="shapes must hold real numbers"):
        fit_patch_amplitudes(X, shapes.astype(complex), gain, adj)
    with pytest.raises(TypeError, match="adjacency must be a scipy sparse"):
        fit_patch_amplitudes(X, shapes, gain, [[1]])
    with pytest.raises(ValueError, match=r"adjacency must have shape \(n_sources"):
        fit_patch_amplitudes(X, shapes, gain, _chain(4))
    for threshold in (0, -0.1, 1.5):
        with pytest.raises(ValueError, match=r"threshold must be in \(0, 1\]"):
            fit_patch_amplitudes(X, shapes, gain, adj, threshold=threshold)
    with pytest.raises(TypeError, match="threshold must be an instance of"):
        fit_patch_amplitudes(X, shapes, gain, adj, threshold="0.1")
    for alpha in (-1, np.inf):
        with pytest.raises(ValueError, match="alpha must be a finite number >= 0"):
            fit_patch_amplitudes(X, shapes, gain, adj, alpha=alpha)


def test_patch_amplitudes_dense():
    from mne_deepinverse.scaling import fit_patch_amplitudes

    rng = np.random.default_rng(5)
    n_times, n_sources = 1000, 5124
    gain = _avg_ref_gain(rng, 31, n_sources)
    shapes = 0.01 * rng.random((n_times, n_sources), dtype=np.float32)  # dense
    for k in range(8):
        shapes[:, 600 * k:600 * k + 60] += 1
    X = rng.standard_normal((n_times, 31))
    Y, amplitudes, labels = fit_patch_amplitudes(X, shapes, gain, _chain(n_sources))
    assert amplitudes.shape == (n_times, 8) and (labels >= 0).all()
