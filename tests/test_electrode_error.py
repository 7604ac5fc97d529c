# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Training data through displaced electrode caps (the shipped lead field)."""

import numpy as np
import pytest

from mne_deepinverse.datasets import (
    CONVDIP_CH_NAMES,
    make_template_forward,
    make_template_info,
)
from mne_deepinverse.simulation import PatchSimulator
from mne_deepinverse.simulation._electrodes import ElectrodeErrors


@pytest.fixture(scope="module")
def fwd31():
    return make_template_forward(make_template_info(CONVDIP_CH_NAMES))


def test_no_error_gives_the_forward(fwd31):
    """Without displacement the lead field gives the forward's own gains."""
    errors = ElectrodeErrors(fwd31, jitter_mm=0.0, coreg_mm=0.0, coreg_deg=0.0)
    gain, pos = errors.draw(np.random.default_rng(0))
    want = fwd31["sol"]["data"]
    err = np.linalg.norm(gain - want, axis=0) / np.linalg.norm(want, axis=0)
    assert err.max() < 2e-3, err.max()


def test_displaced_caps(fwd31):
    """Displaced caps: plausible gains, reproducible, a few mm away."""
    errors = ElectrodeErrors(fwd31, jitter_mm=3.0, coreg_mm=3.0, coreg_deg=3.0)
    g1, p1 = errors.draw(np.random.default_rng(1))
    g2, p2 = errors.draw(np.random.default_rng(1))
    np.testing.assert_array_equal(g1, g2)
    moved = np.linalg.norm(p1 - errors.pos, axis=1) * 1e3
    assert 1 < np.median(moved) < 15
    want = fwd31["sol"]["data"]
    corr = np.sum(g1 * want, 0) / np.linalg.norm(g1, axis=0) / np.linalg.norm(
        want, axis=0)
    assert np.median(corr) > 0.95 and corr.min() < 0.999


def test_simulator_electrode_error(fwd31, sphere_fwd):
    """PatchSimulator(electrode_error=...) draws through displaced caps."""
    sim = PatchSimulator(fwd31, electrode_error=dict(jitter_mm=4.0))
    X1, Y1 = sim.simulate(16, np.random.default_rng(0))
    X2, Y2 = sim.simulate(16, np.random.default_rng(0))
    np.testing.assert_array_equal(X1, X2)
    nominal = PatchSimulator(fwd31)
    Xn, Yn = nominal.simulate_clean(16, np.random.default_rng(0))
    Xe, Ye = sim.simulate_clean(16, np.random.default_rng(0))
    np.testing.assert_array_equal(Yn, Ye)  # the same sources
    assert not np.allclose(Xn, Xe)  # seen through other electrodes
    with pytest.raises(ValueError, match="Unknown electrode_error"):
        PatchSimulator(fwd31, electrode_error=dict(jiter_mm=1.0))
    with pytest.raises(ValueError, match="EEG-only forward on the template"):
        PatchSimulator(sphere_fwd, electrode_error={})


def test_estimator_trains_through_displaced_caps(fwd31):
    """DeepInverse(simulation=dict(electrode_error=...)) trains and records it."""
    pytest.importorskip("torch")
    from mne_deepinverse import DeepInverse

    simulation = dict(n_patches=(1, 3), electrode_error=dict(jitter_mm=3.0))
    est = DeepInverse(fwd31, "convdip", simulation=simulation, n_epochs=1,
                      samples_per_epoch=128, batch_size=64, n_val=32,
                      progress=False, random_state=0).fit()
    assert est.card_["simulation"]["electrode_error"] == dict(jitter_mm=3.0)
