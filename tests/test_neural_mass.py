# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Jansen-Rit neural-mass simulation (SIFNet's training data)."""

import numpy as np
import pytest
from scipy.signal import welch

from mne_deepinverse.simulation import (
    NeuralMassSimulator,
    make_parcellation,
    region_connectivity,
    simulate_jansen_rit,
)


@pytest.fixture(scope="module")
def network():
    rng = np.random.default_rng(0)
    pos = rng.normal(size=(1200, 3))
    pos = 0.07 * pos / np.linalg.norm(pos, axis=1, keepdims=True)
    space = (pos[:, 0] > 0).astype(int)
    labels, centres, region_space = make_parcellation(pos, space, 60, 0)
    return pos, space, labels, centres, region_space


def test_parcellation(network):
    pos, space, labels, centres, region_space = network
    assert labels.min() == 0 and labels.max() == 59
    sizes = np.bincount(labels)
    assert sizes.min() >= 5 and sizes.max() <= 5 * sizes.min()
    # regions never cross hemispheres, and their centres are their means
    np.testing.assert_array_equal(region_space[labels], space)
    np.testing.assert_allclose(centres[7], pos[labels == 7].mean(axis=0))
    with pytest.raises(ValueError, match="n_regions must be between 1 and"):
        make_parcellation(pos, space, 5000)


def test_connectivity(network):
    _, _, _, centres, region_space = network
    W = region_connectivity(centres, region_space, n_neighbors=6)
    np.testing.assert_allclose(np.asarray(W.sum(axis=1)).ravel(), 1)
    assert W.diagonal().max() == 0
    # 6 neighbours in the same hemisphere and one mirror region
    assert (np.diff(W.indptr) <= 7).all()
    i, j = W.nonzero()
    same = region_space[i] == region_space[j]
    assert (~same).sum() == len(centres)
    # weights decay with distance within a hemisphere
    d = np.linalg.norm(centres[i] - centres[j], axis=1)
    w = np.asarray(W[i, j]).ravel()
    row = i == 0
    assert np.corrcoef(d[row & same], w[row & same])[0, 1] < 0


def test_jansen_rit_dynamics(network):
    """Standard parameters give alpha; a raised gain at low input spikes."""
    *_, centres, region_space = network
    W = region_connectivity(centres, region_space)
    A = np.full((2, 60), 3.25)
    p_mean = np.full((2, 60), 220.0)
    A[1, 5], p_mean[1, 5] = 3.6, 90.0
    v = simulate_jansen_rit(W, 1000, 200.0, A=A, p_mean=p_mean, n_runs=2,
                            random_state=0)
    assert v.shape == (2, 1000, 60) and v.dtype == np.float32
    freqs, psd = welch(v[0] - v[0].mean(axis=0), 200.0, nperseg=400, axis=0)
    assert 8 <= freqs[np.argmax(psd.mean(axis=1))] <= 12  # alpha background
    spikes = v[1, :, 5] - np.median(v[1, :, 5])
    background = v[0, :, 5] - np.median(v[0, :, 5])
    assert spikes.max() > 8 and spikes.max() > 1.5 * background.max()
    # seeded
    again = simulate_jansen_rit(W, 1000, 200.0, A=A, p_mean=p_mean, n_runs=2,
                                random_state=0)
    np.testing.assert_array_equal(v, again)
    with pytest.raises(ValueError, match="must be a multiple of dt"):
        simulate_jansen_rit(W, 10, 300.0, dt=1e-3)


@pytest.fixture(scope="module")
def nm_sim(sphere_fwd):
    return NeuralMassSimulator(sphere_fwd, n_regions=40, n_times=64, sfreq=200.0,
                               n_runs=2, seconds=6.0, random_state=0)


def test_neural_mass_windows(nm_sim, sphere_fwd):
    sim = nm_sim
    assert len(sim._events) > 0
    X, Y = sim.simulate(32, np.random.default_rng(1))
    n_ch = len(sim.ch_names)
    assert X.shape == (32, 64, n_ch) and Y.shape == (32, 64, 40)
    assert np.isfinite(X).all()
    np.testing.assert_allclose(X.mean(axis=-1), 0, atol=1e-20)  # average reference
    active = (np.abs(Y).max(axis=1) > 0).sum(axis=1)
    assert (active >= 1).all()
    # without background the EEG is the targets through the regions' gain
    quiet = NeuralMassSimulator(sphere_fwd, n_regions=40, n_times=64, sfreq=200.0,
                                n_runs=2, seconds=6.0, snr_db=200.0,
                                random_state=0)
    X, Y = quiet.simulate(4, np.random.default_rng(2))
    expect = Y.astype(float) @ quiet.region_gain.T
    expect -= expect.mean(axis=-1, keepdims=True)
    np.testing.assert_allclose(X, expect, rtol=1e-4, atol=1e-6 * np.abs(X).max())
    # the maps on the sources: every source of an active region
    Ys = quiet.to_sources(Y)
    assert Ys.shape == (4, 64, sphere_fwd["nsource"])
    np.testing.assert_allclose(Ys[..., quiet.labels == 3], Y[..., [3]] * np.ones(
        (1, 1, (quiet.labels == 3).sum())))


def test_neural_mass_seeded(nm_sim, sphere_fwd):
    X1, Y1 = nm_sim.simulate(8, np.random.default_rng(5))
    X2, Y2 = nm_sim.simulate(8, np.random.default_rng(5))
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(Y1, Y2)


def test_neural_mass_input_errors(sphere_fwd):
    with pytest.raises(ValueError, match="sfreq must be >= 100 Hz"):
        NeuralMassSimulator(sphere_fwd, sfreq=50.0)
    with pytest.raises(ValueError, match="use longer runs"):
        NeuralMassSimulator(sphere_fwd, n_times=600, seconds=4.0, sfreq=200.0)
    with pytest.raises(TypeError, match="n_times"):
        NeuralMassSimulator(sphere_fwd, n_times=12.5)
    with pytest.raises(ValueError, match="params key"):
        NeuralMassSimulator(sphere_fwd, params=dict(gain=3.0))


def test_neural_mass_coverage_and_background(nm_sim, sphere_fwd):
    """Over the runs every region gets its turn to spike; background windows."""
    sim = NeuralMassSimulator(sphere_fwd, n_regions=40, n_times=64, sfreq=200.0,
                              n_runs=8, seconds=6.0, random_state=0)
    spiked = {region for region, _ in sim._events}
    assert len(spiked) >= 0.8 * 40  # (a region may have no spike in its run)
    bg = nm_sim.background(3, np.random.default_rng(0))
    assert bg.shape == (3, 64, len(nm_sim.ch_names))
    np.testing.assert_allclose(bg.mean(axis=-1), 0, atol=1e-20)
    # the background is the non-spiking regions through the gain: its power is
    # that of the windows' background at 0 dB SNR, same order of magnitude
    X, _ = nm_sim.simulate(16, np.random.default_rng(1))
    assert 0.01 < np.std(bg) / np.std(X) < 100
    # perturbed noise input: other banks, same parcellation
    noisy = NeuralMassSimulator(sphere_fwd, n_regions=40, n_times=64, sfreq=200.0,
                                n_runs=2, seconds=6.0, random_state=0,
                                params=dict(p_sd=87.0))
    np.testing.assert_array_equal(noisy.labels, nm_sim.labels)
    assert noisy.params["p_sd"] == 87.0
    assert not np.allclose(noisy._background, nm_sim._background)
