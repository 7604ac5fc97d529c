# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.

import numpy as np
import pytest

from mne_deepinverse.fmri import (
    BALLOON_PARAMS,
    HAEMODYNAMIC_RANGES,
    balloon_windkessel,
    hrf_convolve,
    random_haemodynamic_params,
)

SFREQ = 50.0


def _pulse(amplitudes, duration=0.5, onset=1.0, length=40.0):
    """Drives of one block each, (n_regions, n_times) at SFREQ."""
    drive = np.zeros((len(amplitudes), int(length * SFREQ)))
    sl = slice(int(onset * SFREQ), int((onset + duration) * SFREQ))
    drive[:, sl] = np.asarray(amplitudes, float)[:, None]
    return drive


@pytest.mark.parametrize("coefficients", ["obata", "classic"])
def test_balloon_windkessel_response(coefficients):
    """A brief input gives a BOLD peak 4-6 s later, then an undershoot."""
    bold, times = balloon_windkessel(_pulse([1.0]), SFREQ, 0.1,
                                     coefficients=coefficients)
    assert bold.shape == (1, 400) and times[0] == pytest.approx(0.05)
    t_peak = times[np.argmax(bold[0])] - 1.25  # after the pulse's centre
    assert 4.0 <= t_peak <= 6.0
    assert 0.001 < bold[0].max() < 0.05  # a change of 0.1-5 %
    t_min = times[np.argmin(bold[0])] - 1.25
    assert 8.0 <= t_min <= 20.0 and bold[0].min() < -0.05 * bold[0].max()
    assert abs(bold[0, -1]) < 0.02 * bold[0].max()  # back to rest at 40 s
    assert np.all(bold[0, times < 1.0] == 0)  # nothing before the input


def test_balloon_windkessel_linear_small_nonlinear_large():
    """Linear for small inputs, sub-additive (saturating) for large ones."""
    bold, _ = balloon_windkessel(_pulse([0.01, 0.02, 1.0, 4.0], duration=2.0),
                                 SFREQ, 0.5)
    peak = bold.max(axis=1)
    assert peak[1] / peak[0] == pytest.approx(2.0, rel=0.01)
    assert peak[3] / peak[2] < 3.5  # four times the input, not four times BOLD
    # no input, no change
    zero, _ = balloon_windkessel(np.zeros((2, 500)), SFREQ, 1.0)
    np.testing.assert_array_equal(zero, 0.0)


def test_balloon_windkessel_numerics():
    """Converged in dt, regions independent, per-region parameters."""
    drive = np.random.default_rng(0).uniform(0, 1, (3, int(30 * SFREQ)))
    bold, _ = balloon_windkessel(drive, SFREQ, 1.0)
    fine, _ = balloon_windkessel(drive, SFREQ, 1.0, dt=0.002)
    np.testing.assert_allclose(bold, fine, atol=1e-3 * np.abs(fine).max())
    params = random_haemodynamic_params(3, random_state=0)
    het, _ = balloon_windkessel(drive, SFREQ, 1.0, params=params)
    for ii in range(3):  # vectorised = one region at a time
        one, _ = balloon_windkessel(drive[ii], SFREQ, 1.0,
                                    params={k: v[ii] for k, v in params.items()})
        np.testing.assert_allclose(het[ii], one[0], rtol=1e-10, atol=1e-14)
    assert not np.allclose(het, bold)  # the parameters matter
    # a drive sampled more coarsely than the step is held
    coarse, _ = balloon_windkessel(drive[:, ::5], SFREQ / 5, 1.0)
    assert np.corrcoef(coarse.ravel(), bold.ravel())[0, 1] > 0.9


def test_random_haemodynamic_params():
    """Draws are reproducible and within their published ranges."""
    a = random_haemodynamic_params(100, random_state=1)
    b = random_haemodynamic_params(100, random_state=1)
    for key, (lo, hi) in HAEMODYNAMIC_RANGES.items():
        np.testing.assert_array_equal(a[key], b[key])
        assert lo <= a[key].min() and a[key].max() <= hi
    assert set(HAEMODYNAMIC_RANGES) <= set(BALLOON_PARAMS)


@pytest.mark.parametrize("hrf_model", ["glover", "spm"])
def test_hrf_convolve(hrf_model):
    """The canonical HRF: peak 4-6 s after a brief input, unit gain."""
    pytest.importorskip("nilearn")
    bold, times = hrf_convolve(_pulse([1.0, 2.0]), SFREQ, 0.1, hrf_model=hrf_model)
    t_peak = times[np.argmax(bold[0])] - 1.25
    assert 4.0 <= t_peak <= 6.0 and bold[0].min() < 0  # an undershoot
    np.testing.assert_allclose(bold[1], 2 * bold[0], atol=1e-12)  # linear
    const, _ = hrf_convolve(np.ones((1, int(60 * SFREQ))), SFREQ, 2.0,
                            hrf_model=hrf_model)
    assert const[0, -1] == pytest.approx(1.0, rel=1e-3)  # unit-sum kernel


@pytest.mark.parametrize("kwargs, match", [
    (dict(tr=0.0), "tr must be positive, got 0.0"),
    (dict(tr=-2.0), "tr must be positive"),
    (dict(tr=60.0), r"The data last 40 s, shorter than one repetition time"),
    (dict(sfreq=0), "sfreq must be positive"),
    (dict(drive=np.full((1, 100), np.nan)), "NaN or infinite"),
    (dict(drive=np.zeros((1, 2, 3))), r"shape \(n_regions, n_times\)"),
    (dict(params=dict(kapa=1.0)), r"Unknown haemodynamic parameter\(s\) \['kapa'\]"),
    (dict(params=dict(E0=1.5)), r"must be in \(0, 1\)"),
    (dict(params=dict(tau=np.ones(3))), r"shape \(1,\), got shape \(3,\)"),
    (dict(dt=0.5), r"dt must be in \(0, 0.1\]"),
    (dict(coefficients="new"), "Invalid value for the 'coefficients' parameter"),
])
def test_haemodynamics_errors(kwargs, match):
    """Bad input gets an error that says what is wrong."""
    args = dict(drive=_pulse([1.0]), sfreq=SFREQ, tr=2.0) | kwargs
    with pytest.raises(ValueError, match=match):
        balloon_windkessel(args.pop("drive"), args.pop("sfreq"), args.pop("tr"),
                           **args)
    if not {"params", "dt", "coefficients"} & set(kwargs):
        args = dict(drive=_pulse([1.0]), sfreq=SFREQ, tr=2.0) | kwargs
        with pytest.raises(ValueError, match=match):
            hrf_convolve(args["drive"], args["sfreq"], args["tr"])


@pytest.fixture(scope="module")
def eeg_fmri(sphere_fwd):
    from mne_deepinverse.fmri import simulate_eeg_fmri

    return simulate_eeg_fmri(sphere_fwd, duration=40.0, tr=2.0, n_regions=20,
                             n_active=2, random_state=0, progress=False)


def test_simulate_eeg_fmri(eeg_fmri, sphere_fwd):
    """EEG and BOLD of one activity: BOLD follows the active regions' blocks."""
    from mne_deepinverse.fmri import simulate_eeg_fmri

    raw, bold, truth = eeg_fmri
    assert raw.info["sfreq"] == 250.0 and raw.n_times == 10_000
    assert raw.info["projs"] and raw.ch_names == sphere_fwd["info"]["ch_names"]
    assert bold.data.shape == (sphere_fwd["nsource"], 20)
    assert bold.tstep == 2.0 and bold.tmin == 1.0  # frame centres
    active = truth["active"]
    assert len(active) == 2 and truth["design"][active].any(axis=1).all()
    assert not np.delete(truth["design"], active, axis=0).any()
    clean = truth["bold_clean"]
    # the active regions' BOLD follows their blocks through the HRF
    expected, _ = hrf_convolve(truth["design"], 250.0, 2.0)
    for r in active:
        assert np.corrcoef(expected[r], clean[r])[0, 1] > 0.8
        assert 0.005 < clean[r].max() < 0.1  # 0.5-10 % signal change
    assert np.abs(np.delete(clean, active, axis=0)).max() < 0.2 * clean[active].max()
    # every source carries its region's BOLD, with noise
    np.testing.assert_array_equal(np.isfinite(bold.data), True)
    r = active[0]
    noisy = bold.data[truth["labels"] == r][0]
    assert 0.5 < np.corrcoef(noisy, clean[r])[0, 1] < 1.0
    # reproducible
    raw2, bold2, _ = simulate_eeg_fmri(sphere_fwd, duration=40.0, tr=2.0,
                                       n_regions=20, n_active=2, random_state=0,
                                       progress=False)
    np.testing.assert_array_equal(raw2.get_data(), raw.get_data())
    np.testing.assert_array_equal(bold2.data, bold.data)


@pytest.mark.parametrize("kwargs, match", [
    (dict(tr=0.0), "tr must be positive"),
    (dict(duration=1.0), r"duration \(1 s\) must be at least one repetition"),
    (dict(sfreq=50.0), "sfreq must be at least 100 Hz"),
    (dict(n_active=30), r"n_active must be between 1 and n_regions \(20\)"),
])
def test_simulate_eeg_fmri_errors(sphere_fwd, kwargs, match):
    from mne_deepinverse.fmri import simulate_eeg_fmri

    with pytest.raises(ValueError, match=match):
        simulate_eeg_fmri(sphere_fwd, **(dict(duration=10.0, n_regions=20,
                                               progress=False) | kwargs))
