# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.

import warnings

import mne
import numpy as np
import pytest
from scipy import sparse

from mne_deepinverse.simulation import (
    PatchSimulator,
    simulate_patch_evoked,
    simulate_samples,
)


def test_shapes_and_determinism(fwd):
    X, Y = simulate_samples(fwd, 200, random_state=42)
    assert X.shape == (200, 31) and Y.shape == (200, 5124)
    assert X.dtype == np.float32 and Y.dtype == np.float32
    X2, Y2 = simulate_samples(fwd, 200, random_state=42)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(Y, Y2)
    X3, _ = simulate_samples(fwd, 200, random_state=43)
    assert not np.allclose(X, X3)
    # average reference
    np.testing.assert_allclose(X.mean(axis=1), 0, atol=1e-6 * np.abs(X).max())
    # seed moments within the amplitude range (5-10 nAm), all non-negative
    assert Y.min() >= 0
    assert 4.99e-9 <= Y.max(axis=1).min() and Y.max() <= 10e-9 * 5


def test_patches_and_snr(fwd):
    # noise-free check: X is the gain times Y (average referenced)
    X, Y = simulate_samples(
        fwd, 50, n_patches=1, extent=2, snr_db=200, random_state=0, dtype=np.float64
    )
    gain = fwd["sol"]["data"]
    clean = Y @ gain.T
    clean -= clean.mean(axis=1, keepdims=True)
    np.testing.assert_allclose(X, clean, rtol=1e-5, atol=1e-6 * np.abs(clean).max())
    # one patch of order 2 on ico4: 19 sources (seed, 6 + 12 neighbours)
    n_active = (Y > 0).sum(axis=1)
    assert np.median(n_active) == 19
    # patch amplitude falls off from the seed
    adj = sparse.csr_matrix(mne.spatial_src_adjacency(fwd["src"], verbose=False))
    seed = np.argmax(Y[0])
    neighbours = np.setdiff1d(adj[seed].indices, [seed])
    assert len(neighbours) >= 5
    assert np.all(Y[0, neighbours] < Y[0, seed])
    # the SNR is what was asked for
    Xn, Yn = simulate_samples(
        fwd, 400, n_patches=2, snr_db=5.0, random_state=1, dtype=np.float64
    )
    sig = Yn @ gain.T
    sig -= sig.mean(axis=1, keepdims=True)
    snr = 10 * np.log10(np.mean(sig**2, 1) / np.mean((Xn - sig) ** 2, 1))
    np.testing.assert_allclose(snr, 5.0, atol=1e-4)
    # number of patches within the range
    Xm, Ym = simulate_samples(fwd, 300, n_patches=(3, 3), extent=0, random_state=2)
    assert ((Ym > 0).sum(axis=1) <= 3).all() and ((Ym > 0).sum(axis=1) >= 2).all()


def test_extent_mm(fwd):
    X, Y = simulate_samples(
        fwd, 100, n_patches=1, extent=(30, 30), extent_units="mm", random_state=0
    )
    pos = fwd["source_rr"]
    for y in Y[:10]:
        idx = np.flatnonzero(y)
        seed = np.argmax(y)
        d = np.linalg.norm(pos[idx] - pos[seed], axis=1)
        assert d.max() <= 0.015 + 1e-9
    with pytest.raises(ValueError, match="Invalid value for the 'extent_units'"):
        simulate_samples(fwd, 10, extent_units="cm")


def test_noise_kinds(fwd):
    noise_cov = mne.make_ad_hoc_cov(
        mne.create_info(fwd["info"]["ch_names"], 100.0, "eeg"), verbose=False
    )
    for noise in ("white", "brain", noise_cov, ["brain", "white"]):
        X, _ = simulate_samples(fwd, 20, noise=noise, random_state=0)
        assert np.isfinite(X).all()
    # brain noise is spatially correlated, white noise is not
    Xw, Yw = simulate_samples(fwd, 4000, snr_db=-60, noise="white", random_state=0,
                              dtype=np.float64)
    Xb, Yb = simulate_samples(fwd, 4000, snr_db=-60, noise="brain", random_state=0,
                              dtype=np.float64)
    cw = np.corrcoef(Xw.T)[np.triu_indices(31, 1)]
    cb = np.corrcoef(Xb.T)[np.triu_indices(31, 1)]
    assert np.abs(cb).mean() > 2 * np.abs(cw).mean()
    with pytest.raises(ValueError, match="Invalid value for the 'noise'"):
        simulate_samples(fwd, 10, noise="pink")
    bad_cov = mne.make_ad_hoc_cov(mne.create_info(["Cz"], 100.0, "eeg"), verbose=False)
    with pytest.raises(ValueError, match="lacks channel"):
        simulate_samples(fwd, 10, noise=bad_cov)


def test_free_forward_converted(fwd_free, fwd):
    X, Y = simulate_samples(fwd_free, 10, random_state=0)
    X2, Y2 = simulate_samples(fwd, 10, random_state=0)
    np.testing.assert_allclose(X, X2, rtol=1e-5)


def test_discrete_source_space(sphere_fwd):
    X, Y = simulate_samples(sphere_fwd, 30, extent=(1, 2), random_state=0)
    assert X.shape == (30, 31) and Y.shape == (30, 400)
    assert ((Y > 0).sum(axis=1) > 1).all()
    sim = PatchSimulator(sphere_fwd, extent=(10, 20), extent_units="mm")
    X, Y = sim.simulate(5, np.random.default_rng(0))
    assert sparse.issparse(sim._mm_patches(np.array([0]), np.array([20.0])))


def test_bad_forward(sphere_fwd):
    with pytest.raises(TypeError, match="fwd must be an instance of Forward"):
        simulate_samples("fwd", 10)
    vol_free = sphere_fwd.copy()
    vol_free["source_ori"] = mne.io.constants.FIFF.FIFFV_MNE_FREE_ORI
    with pytest.raises(ValueError, match="no cortical normal"):
        simulate_samples(vol_free, 10)
    with pytest.raises(ValueError, match="n_patches must be"):
        simulate_samples(sphere_fwd, 10, n_patches=(3, 1))


def test_simulate_evoked(fwd):
    evoked, stc, epochs = simulate_patch_evoked(
        fwd, n_patches=2, n_trials=5, snr_db=10, return_epochs=True, random_state=0
    )
    assert isinstance(evoked, mne.Evoked) and isinstance(stc, mne.SourceEstimate)
    assert evoked.nave == 5 and len(epochs) == 5
    assert evoked.info["projs"][0]["active"]
    assert "Average EEG reference" in evoked.info["projs"][0]["desc"]
    np.testing.assert_allclose(evoked.times, stc.times)
    assert stc.subject == "fsaverage5"
    assert stc.data.shape == (5124, len(evoked.times))
    # half a 5 Hz sine: zero before 0 and after 100 ms, peak at 50 ms
    tc = stc.data.max(axis=0)
    assert evoked.times[np.argmax(tc)] == pytest.approx(0.05)
    assert np.all(tc[evoked.times < 0] == 0) and np.all(tc[evoked.times > 0.1] == 0)
    # same seed, same evoked
    evoked2, stc2 = simulate_patch_evoked(fwd, n_patches=2, n_trials=5, snr_db=10,
                                    random_state=0)
    np.testing.assert_array_equal(evoked.data, evoked2.data)
    for noise in ("pink", "brain", ["brain", "white"]):
        ev, _ = simulate_patch_evoked(fwd, noise=noise, random_state=0)
        assert np.isfinite(ev.data).all()


@pytest.mark.parametrize(
    "kwargs, err, match",
    [
        (dict(n_samples=-3), ValueError, "n_samples must be >= 1"),
        (dict(n_samples=0), ValueError, "n_samples must be >= 1"),
        (dict(n_samples=2.0), TypeError, "n_samples must be an int"),
        (dict(n_patches=0), ValueError, "n_patches must be an int >= 1.*no training"),
        (dict(n_patches=(0, 3)), ValueError, r"n_patches must be.*n_patches=\(1, 5\)"),
        (dict(n_patches=1.5), TypeError, "n_patches must be an int or a"),
        (dict(extent=2.5), TypeError, r"extent must be an int.*extent=\(2, 5\)"),
        (dict(extent=(2, 3.5)), TypeError, "extent must be an int"),
        (dict(extent=25), ValueError, "extent must be neighbourhood orders between"),
        (dict(extent=np.nan, extent_units="mm"), ValueError, "diameters >= 0 mm"),
        (dict(amplitude=0), ValueError, r"amplitude must be > 0 nAm.*all-zero"),
        (dict(amplitude=(0.0, 5.0)), ValueError, "amplitude must be > 0 nAm"),
        (dict(snr_db=np.nan), ValueError, r"snr_db must be finite.*snr_db=\(6.0"),
        (dict(snr_db=(0, np.inf)), ValueError, "snr_db must be finite"),
        (dict(dtype=int), ValueError, "dtype must be a floating-point type"),
    ],
)
def test_bad_sample_params(sphere_fwd, kwargs, err, match):
    kwargs = dict(n_samples=5) | kwargs
    with pytest.raises(err, match=match):
        simulate_samples(sphere_fwd, kwargs.pop("n_samples"), **kwargs)
    # parameters are checked before the forward (no work done on it first)
    if "n_samples" not in match:
        with pytest.raises(err, match=match):
            PatchSimulator("not a forward", **kwargs)


def test_bad_simulate_call(sphere_fwd):
    sim = PatchSimulator(sphere_fwd)
    with pytest.raises(ValueError, match="n_samples must be >= 1"):
        sim.simulate(0, np.random.default_rng(0))
    with pytest.raises(TypeError, match="rng must be an instance of Generator"):
        sim.simulate(3, 0)


def test_one_source_forward():
    from mne_deepinverse.datasets import CONVDIP_CH_NAMES, make_template_info

    info = make_template_info(CONVDIP_CH_NAMES)
    sphere = mne.make_sphere_model("auto", "auto", info, verbose=False)
    rr = np.array([[0.0, 0.0, 0.06]]) + sphere["r0"]
    src = mne.setup_volume_source_space(
        pos=dict(rr=rr, nn=np.array([[0.0, 0.0, 1.0]])), sphere=sphere, verbose=False
    )
    fwd1 = mne.make_forward_solution(info, None, src, sphere, meg=False, verbose=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fwd1 = mne.convert_forward_solution(fwd1, force_fixed=True, verbose=False)
    with pytest.raises(ValueError, match="has 1 source; simulation needs at least 2"):
        simulate_samples(fwd1, 5)


@pytest.mark.parametrize(
    "kwargs, err, match",
    [
        (dict(tmin=0.2, tmax=-0.1), ValueError, "tmin must be <= tmax.*swap"),
        (dict(sfreq=-100.0), ValueError, r"sfreq must be > 0 Hz.*sfreq=100"),
        (dict(sfreq=0), ValueError, "sfreq must be > 0 Hz"),
        (dict(sfreq=np.nan), ValueError, "sfreq must be finite"),
        (dict(tmax=np.inf), ValueError, "tmax must be finite"),
        (dict(sfreq="100"), TypeError, "sfreq must be an instance of"),
        (dict(sfreq=10.0), ValueError, r"No sample of the source time course.*> 10"),
        (dict(tmin=0.2, tmax=0.5), ValueError, "window that contains 0-100 ms"),
        (dict(tmin=-0.5, tmax=-0.1), ValueError, "would be all zero"),
        (dict(n_patches=(0, 2)), ValueError, "n_patches must be an int >= 1"),
        (dict(amplitude=0.0), ValueError, "amplitude must be > 0"),
        (dict(snr_db=np.inf), ValueError, "snr_db must be finite"),
    ],
)
def test_bad_evoked_params(sphere_fwd, kwargs, err, match):
    with pytest.raises(err, match=match):
        simulate_patch_evoked(sphere_fwd, **kwargs)


def test_evoked_window_without_peak(sphere_fwd):
    with pytest.warns(RuntimeWarning, match="leaves out the peak"):
        evoked, stc = simulate_patch_evoked(sphere_fwd, tmin=0.07, tmax=0.3,
                                            random_state=0)
    assert np.abs(stc.data).max() > 0 and np.abs(evoked.data).max() > 0
    # the source course is exactly zero at and after 100 ms
    assert np.all(stc.data[:, stc.times >= 0.1 - 1e-9] == 0)


def test_renamed_names():
    """The names that shadowed mne.simulation's still work, with a FutureWarning."""
    from mne_deepinverse import simulation

    for old, new in (("SourceSimulator", "PatchSimulator"),
                     ("simulate_evoked", "simulate_patch_evoked")):
        assert not hasattr(simulation, "__all__") or old not in simulation.__all__
        with pytest.warns(FutureWarning, match=f"renamed {new}: the old name shadowed"):
            assert getattr(simulation, old) is getattr(simulation, new)
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        simulation.nothing  # noqa: B018
