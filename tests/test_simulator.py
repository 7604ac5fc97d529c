# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Every simulator follows one protocol: simulate, input, to_sources."""

import numpy as np
import pytest

from mne_deepinverse.simulation import (
    NeuralMassSimulator,
    PatchSimulator,
    PatchWindowSimulator,
    Simulator,
)
from mne_deepinverse.simulation._windows import _Mixture, _window_simulator

WINDOW = dict(n_regions=40, n_times=64, sfreq=200.0)
BANKS = dict(n_runs=2, seconds=6.0)


@pytest.fixture(scope="module")
def simulators(sphere_fwd):
    """One simulator of every kind on the small discrete forward."""
    return {
        "patches": PatchSimulator(sphere_fwd),
        "patches_mm": PatchSimulator(sphere_fwd, extent_units="mm",
                                     extent=(10.0, 30.0), dtype=np.float64),
        "neural_mass": NeuralMassSimulator(sphere_fwd, random_state=0, **WINDOW,
                                           **BANKS),
        "patch_windows": PatchWindowSimulator(sphere_fwd, random_state=0, **WINDOW),
        "mixed": _window_simulator(sphere_fwd, "mixed",
                                   dict(**WINDOW, neural_mass=BANKS), 0),
    }


@pytest.mark.parametrize("name", ["patches", "patches_mm", "neural_mass",
                                  "patch_windows", "mixed"])
def test_simulator_protocol(simulators, sphere_fwd, name):
    """Shapes follow ``input``, ``to_sources`` reaches every source, and a
    generator of the same seed gives the same arrays."""
    sim = simulators[name]
    assert isinstance(sim, Simulator)
    n, n_ch, n_src = 5, len(sim.ch_names), sphere_fwd["nsource"]
    inp = sim.input
    assert inp == sim.input and inp is not sim.input  # a fresh dict each time
    if name.startswith("patches"):
        assert inp == {"kind": "sample"}
        shape = (n, n_ch)
    else:
        assert inp == {"kind": "window", "n_times": 64, "sfreq": 200.0}
        assert type(inp["n_times"]) is int and type(inp["sfreq"]) is float
        assert (inp["n_times"], inp["sfreq"]) == (sim.n_times, sim.sfreq)
        shape = (n, inp["n_times"], n_ch)
    X, Y = sim.simulate(n, np.random.default_rng(0))
    assert X.shape == shape and Y.shape[:-1] == shape[:-1]
    assert np.isfinite(X).all() and np.abs(Y).max() > 0
    Y_src = sim.to_sources(Y)
    assert Y_src.shape == shape[:-1] + (n_src,)
    if inp["kind"] == "sample":
        assert Y_src is Y  # already per source
    else:
        assert Y.shape[-1] == sim.n_regions
    # reproducible with the same seed, not with another
    X2, Y2 = sim.simulate(n, np.random.default_rng(0))
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(Y, Y2)
    X3, _ = sim.simulate(n, np.random.default_rng(1))
    assert not np.array_equal(X, X3)


def test_mixture_follows_first(simulators):
    """A mixture reads and maps as its first simulator does."""
    mix = simulators["mixed"]
    assert isinstance(mix, _Mixture)
    first = mix.sims[0]
    assert mix.input == first.input
    Y = np.random.default_rng(0).random((2, 3, mix.n_regions)).astype(np.float32)
    np.testing.assert_array_equal(mix.to_sources(Y), first.to_sources(Y))


def test_simulator_base():
    """The base class states the protocol; subclasses fill it in."""
    sim = Simulator()
    with pytest.raises(NotImplementedError, match="Simulator does not simulate"):
        sim.simulate(2, np.random.default_rng(0))
    with pytest.raises(NotImplementedError, match="does not say its input"):
        sim.input  # noqa: B018
    Y = np.ones((2, 3))
    assert sim.to_sources(Y) is Y


def test_patch_bank_is_public(sphere_fwd):
    """A GPU variant of the patch simulator reads the bank through public API."""
    from mne_deepinverse.simulation import PatchBank, PatchSimulator

    sim = PatchSimulator(sphere_fwd, n_patches=(1, 3), extent=(1, 2))
    bank = sim.bank
    assert isinstance(bank, PatchBank)
    assert bank.maps.shape == (sphere_fwd["nsource"] * 2, sphere_fwd["nsource"])
    assert bank.projection.shape == (bank.maps.shape[0], 31)
    X, Y = sim.simulate_clean(5, np.random.default_rng(3))
    idx, rows, amps = sim.draw_bank_rows(5, np.random.default_rng(3))
    Y_bank = np.zeros_like(Y)
    np.add.at(Y_bank, idx, bank.maps[rows].toarray() * amps[:, None])
    np.testing.assert_allclose(Y, Y_bank, rtol=1e-5, atol=1e-12)
    X_bank = np.zeros_like(X)
    np.add.at(X_bank, idx, bank.projection[rows] * amps[:, None])
    np.testing.assert_allclose(X, X_bank, rtol=1e-6, atol=1e-20)
    mm = PatchSimulator(sphere_fwd, extent=(5.0, 10.0), extent_units="mm")
    assert mm.bank is None
    with pytest.raises(ValueError, match="no bank"):
        mm.draw_bank_rows(2, np.random.default_rng(0))
