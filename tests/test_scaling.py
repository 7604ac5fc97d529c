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
