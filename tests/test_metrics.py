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


def test_detection_f1(grid):
    """Hand-made maps with known found and ghost counts."""
    # 3 true sources; maxima at 12 (10 mm from 10: found), 50 (found) and 70
    # (100 mm from every true source: a ghost); 90 is missed
    y = _patch(10) + _patch(50) + _patch(90)
    est = _patch(12) + _patch(50) + _patch(70, amp=0.5)
    f1, precision, recall = metrics.detection_f1(y, est, grid, return_parts=True)
    assert (precision, recall) == pytest.approx((2 / 3, 2 / 3))
    assert f1 == pytest.approx(2 / 3)
    assert metrics.detection_f1(y, est, grid) == pytest.approx(2 / 3)
    # 2 true sources (10, 90); maxima at 8 and 14 (30 mm apart, both within
    # 30 mm of 10: neither is a ghost) and a ghost at 50; 90 is missed
    y = _patch(10) + _patch(90)
    est = _patch(8) + _patch(14) + _patch(50, amp=0.5)
    err = metrics.multi_source_errors(y, est, grid)
    assert err["n_estimated"] == 3 and err["n_ghost"] == 1
    assert err["found"] == 0.5
    f1, precision, recall = metrics.detection_f1(y, est, grid, return_parts=True)
    assert precision == pytest.approx(2 / 3) and recall == 0.5
    assert f1 == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))  # 4 / 7
    # many ghosts cost precision, not recall: a spread estimate loses to a
    # sparse one that finds as many sources
    spread = _patch(10) + _patch(90) + sum(_patch(c, amp=0.5) for c in (30, 50, 70))
    sparse = _patch(10) + _patch(90)
    assert metrics.detection_f1(y, spread, grid, return_parts=True)[1:] == (
        pytest.approx(0.4), 1.0)
    assert metrics.detection_f1(y, spread, grid) == pytest.approx(2 * 0.4 / 1.4)
    assert metrics.detection_f1(y, sparse, grid) == 1.0
    # explicit true sources; a radius that finds the shifted maximum or not
    y1, est1 = _patch(30), _patch(34)  # 20 mm apart
    assert metrics.detection_f1(y1, est1, grid, true_idx=[30]) == 1.0
    assert metrics.detection_f1(y1, est1, grid, radius=15.0) == 0.0


def test_detection_f1_degenerate(grid):
    y = _patch(30)
    assert metrics.detection_f1(y, y, grid, return_parts=True) == (1.0, 1.0, 1.0)
    # no maxima at all (all zero): F1, precision and recall 0
    assert metrics.detection_f1(y, np.zeros(100), grid, return_parts=True) == (
        0.0, 0.0, 0.0)
    # only ghosts: precision and recall 0 together, F1 0 (no division by 0)
    assert metrics.detection_f1(y, _patch(80), grid, return_parts=True) == (
        0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="no active source"):
        metrics.detection_f1(np.zeros(100), y, grid)
    with pytest.raises(ValueError, match="radius must be finite distances >= 0"):
        metrics.detection_f1(y, y, grid, radius=-1)
    with pytest.raises(ValueError, match=r"rel_threshold must be a fraction in \["):
        metrics.detection_f1(y, y, grid, rel_threshold=2)
    # evaluate computes the same values
    Y = np.array([_patch(10) + _patch(50) + _patch(90), y, y])
    P = np.array([_patch(12) + _patch(50) + _patch(70, amp=0.5), _patch(80),
                  np.zeros(100)])
    out = metrics.evaluate(Y, P, grid, metrics=("f1", "found"))
    np.testing.assert_allclose(out["f1"], [2 / 3, 0.0, 0.0])
    expect = [metrics.detection_f1(a, b, grid) for a, b in zip(Y, P, strict=True)]
    np.testing.assert_allclose(out["f1"], expect)
    assert "f1" in metrics.evaluate(Y[:1], Y[:1], grid)  # in the default set


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


def test_all_zero_estimate(grid):
    """Predicting nothing never scores better than a real estimate."""
    y = _patch(30)
    zero = np.zeros(100)
    assert metrics.mle(y, zero, grid) == np.inf
    assert metrics.mle(y, np.full(100, 3.0), grid) == np.inf  # flat: no maximum
    assert metrics.dle(y, zero, grid) == np.inf
    assert metrics.spatial_dispersion(y, zero, grid) == np.inf
    assert metrics.nmse(y, zero) == 1.0
    assert metrics.auc_close_far(y, zero, grid) == 0.5
    assert metrics.auc_close_far(y, np.full(100, 3.0), grid) == 0.5
    assert metrics.overall_amplitude(y, zero) == 0.0
    np.testing.assert_array_equal(metrics.f1_radius(y, zero, grid), 0.0)
    assert metrics.detection_f1(y, zero, grid) == 0.0
    err = metrics.multi_source_errors(y, zero, grid)
    assert err == dict(mle=np.inf, found=0.0, n_ghost=0, n_true=1, n_estimated=0)
    # a poor but real estimate (peak 150 mm away) beats nothing on every median
    far = _patch(60)
    Y = np.array([y, y, y])
    out_far = metrics.evaluate(Y, np.array([far] * 3), grid)
    out_zero = metrics.evaluate(Y, np.array([zero] * 3), grid)
    for m in ("mle", "dle", "sd", "nmse"):
        assert np.median(out_zero[m]) > np.median(out_far[m]), m
    for m in ("found", "f1"):
        assert np.median(out_zero[m]) <= np.median(out_far[m]), m


@pytest.mark.parametrize("where", ["y_true", "y_pred"])
def test_nan_maps(grid, where):
    y, bad = _patch(30), _patch(30)
    bad[3] = np.nan
    args = (bad, y) if where == "y_true" else (y, bad)
    for func in (metrics.mle, metrics.auc_close_far, metrics.dle):
        with pytest.raises(ValueError, match=f"{where} must not contain NaN"):
            func(*args, grid)
    with pytest.raises(ValueError, match=f"{where} must not contain NaN"):
        metrics.nmse(*args)
    with pytest.raises(ValueError, match="y must not contain NaN"):
        metrics.find_maxima(bad, grid)
    Y = np.array([y, y])
    Y_bad = np.array([y, bad])
    with pytest.raises(ValueError, match="must not contain NaN.*1 of its 200"):
        metrics.evaluate(*((Y_bad, Y) if where == "y_true" else (Y, Y_bad)), grid)


def test_bad_distances_and_fractions(grid):
    y = _patch(30)
    with pytest.raises(ValueError, match=r"radii must be finite distances >= 0 \(mm\)"):
        metrics.f1_radius(y, y, grid, radii=[-5, 10])
    with pytest.raises(ValueError, match="min_distance must be finite distances >= 0"):
        metrics.find_maxima(y, grid, min_distance=-1)
    with pytest.raises(ValueError, match="min_distance must be finite distances >= 0"):
        metrics.dle(y, y, grid, min_distance=-1)
    with pytest.raises(ValueError, match="radius must be finite distances >= 0"):
        metrics.multi_source_errors(y, y, grid, radius=-30)
    with pytest.raises(ValueError, match=r"rel_threshold must be a fraction in \["):
        metrics.f1_radius(y, y, grid, rel_threshold=1.5)
    for close, far in ((0, 0.5), (1.0, 0.5), (-0.1, 0.5), (0.2, np.nan), (0.2, 1.2)):
        with pytest.raises(ValueError, match=r"must be a fraction in \(0, 1\)"):
            metrics.auc_close_far(y, y, grid, close=close, far=far)
    with pytest.raises(ValueError, match="close \\+ far must be <= 1.*close=0.6"):
        metrics.auc_close_far(y, y, grid, close=0.6, far=0.5)
    with pytest.raises(TypeError, match="close must be an instance of"):
        metrics.auc_close_far(y, y, grid, close="0.2")
    with pytest.raises(ValueError, match="no active source"):
        metrics.nmse(np.zeros(100), y)


def test_evaluate_metric_names(grid):
    Y = np.array([_patch(20), _patch(60)])
    out = metrics.evaluate(Y, Y, grid, metrics="auc")
    assert list(out) == ["auc"]
    np.testing.assert_allclose(out["auc"], 1.0)
    with pytest.raises(ValueError, match="Allowed values are 'auc'.*got 'a'"):
        metrics.evaluate(Y, Y, grid, metrics=["a"])
    with pytest.raises(TypeError, match="metrics must be an instance of list or"):
        metrics.evaluate(Y, Y, grid, metrics={"auc": 1})
    Y0 = Y.copy()
    Y0[1] = 0
    with pytest.raises(ValueError, match=r"no active source in sample\(s\) \[1\]"):
        metrics.evaluate(Y0, Y, grid)
    with pytest.raises(ValueError, match="pos must have shape"):
        metrics.evaluate(Y, Y, grid[:5])


def test_summarise_counts_failures_as_worst():
    from mne_deepinverse.metrics import summarise

    q, n = summarise([1.0, 2.0, 3.0, np.nan])
    np.testing.assert_allclose(q, [1.5, 2.0, 2.5])
    assert n == 3  # NaN (undefined) is left out
    # inf (an all-zero estimate) is kept and counts as the worst value
    q, n = summarise([1.0, 2.0, np.inf, np.inf])
    assert n == 4 and q[0] == 1.75 and np.isinf(q[2])
    assert np.isinf(summarise([np.inf, np.inf, np.inf])[0]).all()
    q, n = summarise([np.nan])
    assert n == 0 and np.isnan(q).all()
