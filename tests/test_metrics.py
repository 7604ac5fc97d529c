# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.

import numpy as np
import pytest

from mne_deepinverse import metrics


@pytest.fixture(scope="module")
def grid():
    """Sources on a 1-D line, 5 mm apart (positions in m)."""
    x = np.arange(100) * 0.005
    return np.c_[x, np.zeros(100), np.zeros(100)]


def _patch(center, n=100, width=2, amp=1.0):
    y = np.zeros(n)
    y[max(center - width, 0) : center + width + 1] = amp
    y[center] = 2 * amp
    return y


def test_perfect(grid):
    y = _patch(30)
    assert metrics.auc_close_far(y, y, grid) == 1.0
    assert metrics.mle(y, y, grid) == 0.0
    assert metrics.nmse(y, 3 * y) == 0.0
    assert metrics.dle(y, y, grid) == 0.0
    assert metrics.overall_amplitude(y, y) == 1.0
    np.testing.assert_allclose(metrics.f1_radius(y, y, grid, rel_threshold=0), 1.0)
    err = metrics.multi_source_errors(y, y, grid)
    assert err == dict(mle=0.0, found=1.0, n_ghost=0, n_true=1, n_estimated=1)


def test_shifted_peak(grid):
    y = _patch(30)
    for shift in (1, 4, 7):
        est = _patch(30 + shift)
        assert metrics.mle(y, est, grid) == pytest.approx(5.0 * shift)
        assert metrics.dle(y, est, grid) == pytest.approx(5.0 * shift)
    # an estimate peaking only at one far vertex: SD = its distance
    est = np.zeros(100)
    est[70] = 1.0
    assert metrics.spatial_dispersion(y, est, grid) == pytest.approx(200.0)


def test_auc_cases(grid):
    y = _patch(50, width=3)
    # estimate equal to the truth shifted far away: every negative beats
    # every positive -> AUC 0 for the far set is impossible, close set wins
    rng = np.random.default_rng(0)
    noise = rng.random(100)
    auc, close, far = metrics.auc_close_far(y, noise, grid, return_parts=True)
    assert 0.1 < auc < 0.9
    inverted = np.where(y > 0, 0.0, 1.0)
    assert metrics.auc_close_far(y, inverted, grid) == 0.0
    # a blurred estimate is perfect against far sources, imperfect near
    blur = np.exp(-(((np.arange(100) - 50) / 10.0) ** 2))
    auc, close, far = metrics.auc_close_far(y, blur, grid, return_parts=True)
    assert far == 1.0
    assert close == 1.0  # monotone blur still ranks the patch first
    flat = np.where(np.abs(np.arange(100) - 50) < 20, 1.0, 0.0)
    auc, close, far = metrics.auc_close_far(y, flat, grid, return_parts=True)
    assert far == 1.0 and close < 1.0


def test_multi_source(grid):
    y = _patch(10) + _patch(50) + _patch(90)
    est = _patch(12) + _patch(50) + _patch(70, amp=0.5)
    err = metrics.multi_source_errors(y, est, grid)
    # 10 found at 10 mm, 50 at 0 mm, 90 is 100 mm from 70 -> missed
    assert err["found"] == pytest.approx(2 / 3)
    assert err["n_ghost"] == 1  # 70 is 100 mm from every true source
    assert err["mle"] == pytest.approx((10 + 0 + 100) / 3)
    assert err["n_true"] == 3 and err["n_estimated"] == 3
    idx = metrics.find_maxima(est, grid, rel_threshold=0.2, min_distance=30)
    np.testing.assert_array_equal(sorted(idx), [12, 50, 70])
    # weak maxima are ignored
    idx = metrics.find_maxima(est, grid, rel_threshold=0.6)
    np.testing.assert_array_equal(sorted(idx), [12, 50])


def test_nmse_and_oa():
    y = np.array([0.0, 1.0, 2.0, 0.0])
    est = np.array([0.0, 2.0, 2.0, 0.0])
    assert metrics.nmse(y, est) == pytest.approx(0.25 / 4)
    assert metrics.overall_amplitude(y, est) == pytest.approx(4 / 3)


def test_f1_radius(grid):
    y = _patch(50, width=0)
    est = _patch(53, width=0)  # 15 mm away
    f1 = metrics.f1_radius(y, est, grid, radii=[0, 10, 15, 20], rel_threshold=0.9)
    np.testing.assert_allclose(f1, [0, 0, 1, 1])


def test_evaluate_and_errors(grid):
    Y = np.array([_patch(20), _patch(60)])
    out = metrics.evaluate(Y, Y, grid, metrics=("auc", "mle", "nmse", "found"))
    np.testing.assert_allclose(out["auc"], 1.0)
    np.testing.assert_allclose(out["mle"], 0.0)
    with pytest.raises(ValueError, match="same shape"):
        metrics.evaluate(Y, Y[:1], grid)
    with pytest.raises(ValueError, match="Invalid value for the 'metrics'"):
        metrics.evaluate(Y, Y, grid, metrics=("foo",))
    with pytest.raises(ValueError, match="no active source"):
        metrics.mle(np.zeros(100), Y[0], grid)
    with pytest.raises(ValueError, match="NaN"):
        metrics.nmse(Y[0], Y[0] * np.nan)
    with pytest.raises(ValueError, match="pos must have shape"):
        metrics.mle(Y[0], Y[0], grid[:10])
