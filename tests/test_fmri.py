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


@pytest.fixture(scope="module")
def alpha_raw(sphere_fwd):
    """EEG of 10-Hz sources everywhere; one source's alpha drops in blocks."""
    import mne

    from mne_deepinverse._sensors import sensor_gain
    from mne_deepinverse._utils import _make_info
    from mne_deepinverse.fmri._simulation import _blocks

    rng = np.random.default_rng(0)
    sfreq, n_times = 100.0, 12_000  # 120 s
    gain, ch_names, _ = sensor_gain(sphere_fwd, ("eeg",))
    n_src = gain.shape[1]
    t = np.arange(n_times) / sfreq
    design = _blocks(n_times, sfreq, (10.0, 20.0), rng)
    phases = rng.uniform(0, 2 * np.pi, n_src)
    amp = np.full((n_src, 1), 0.05)
    target = int(np.argmax(np.linalg.norm(gain, axis=0)))
    amp[target] = 1.0
    sources = amp * np.sin(2 * np.pi * 10 * t + phases[:, None])
    sources[target] *= 1.0 - 0.7 * design  # desynchronisation during blocks
    data = gain @ (sources * 1e-8)
    data += 0.02 * data.std() * rng.standard_normal(data.shape)
    raw = mne.io.RawArray(data - data.mean(0), _make_info(sphere_fwd, ch_names,
                                                          sfreq), verbose=False)
    raw.set_eeg_reference("average", projection=True, verbose=False)
    return raw, design, target


def test_synthesize_bold_hrf(alpha_raw, sphere_fwd):
    """Alpha power falls in blocks: the predicted BOLD rises with them."""
    import mne

    from mne_deepinverse.fmri import bold_to_nifti, synthesize_bold

    raw, design, target = alpha_raw
    orig = raw.get_data().copy()
    cov = mne.make_ad_hoc_cov(raw.info, verbose=False)
    inv = mne.minimum_norm.make_inverse_operator(raw.info, sphere_fwd, cov,
                                                 fixed=True, depth=None,
                                                 verbose=False)
    bold = synthesize_bold(raw, sphere_fwd, tr=2.0, model=inv)
    np.testing.assert_array_equal(raw.get_data(), orig)  # the input is kept
    assert bold.data.shape == (sphere_fwd["nsource"], 60) and bold.tstep == 2.0
    assert bold.tmin == 1.0
    expected, _ = hrf_convolve(design[None], 100.0, 2.0)
    assert np.corrcoef(bold.data[target], expected[0])[0, 1] > 0.8
    # gamma-style coupling flips the sign
    pos = synthesize_bold(raw, sphere_fwd, tr=2.0, model=inv, coupling=1.0)
    np.testing.assert_allclose(pos.data, -bold.data, rtol=1e-6, atol=1e-12)
    # epochs: one estimate per epoch of at least one TR
    epochs = mne.make_fixed_length_epochs(raw, duration=20.0, preload=True,
                                          verbose=False)
    per = synthesize_bold(epochs, sphere_fwd, tr=2.0, model=inv)
    assert len(per) == len(epochs) and per[0].data.shape[1] == 10
    with pytest.raises(ValueError, match="shorter than one repetition time"):
        synthesize_bold(epochs, sphere_fwd, tr=30.0, model=inv)
    with pytest.raises(ValueError, match="tr must be positive"):
        synthesize_bold(raw, sphere_fwd, tr=0, model=inv)
    with pytest.raises(ValueError, match="band must be"):
        synthesize_bold(raw, sphere_fwd, tr=2.0, model=inv, band=(12.0, 8.0))
    with pytest.raises(ValueError, match="Invalid value for the 'method'"):
        synthesize_bold(raw, sphere_fwd, tr=2.0, method="gan")
    with pytest.raises(TypeError, match="inst must be an instance of"):
        synthesize_bold(raw.get_data(), sphere_fwd, tr=2.0)
    # a forward that is not the estimate's
    with pytest.raises(ValueError, match="not the forward's sources"):
        bold_to_nifti(bold.copy().crop(0, 10).__class__(
            bold.data[:10], [bold.vertices[0][:10]], 1.0, 2.0), sphere_fwd)


def test_bold_to_nifti_template(fwd):
    """Template maps on the MNI152 grid, one volume per frame."""
    import mne

    from mne_deepinverse.fmri import bold_to_nifti

    vertices = [s["vertno"] for s in fwd["src"]]
    data = np.zeros((fwd["nsource"], 3))
    data[0, 0] = 1.0  # one source of the left hemisphere, first frame
    stc = mne.SourceEstimate(data, vertices, 1.0, 2.0, subject="fsaverage5")
    img = bold_to_nifti(stc, fwd)
    assert img.shape == (46, 55, 46, 3)
    assert img.header.get_zooms() == (4.0, 4.0, 4.0, 2.0)
    vol = img.get_fdata()
    assert (vol[..., 1:] == 0).all() and vol[..., 0].sum() >= 1
    ijk = np.argwhere(vol[..., 0] > 0)
    xyz = ijk * 4.0 + np.array([-90.0, -126.0, -72.0])
    # the vertex on the template's white surface (surface RAS = MNI305, mm)
    from mne_deepinverse.datasets import get_template

    subjects_dir, subject = get_template()
    white, _ = mne.read_surface(subjects_dir / subject / "surf" / "lh.white")
    src_mm = white[fwd["src"][0]["vertno"][0]]
    assert np.linalg.norm(xyz - src_mm, axis=1).max() < 8.0
    assert (xyz[:, 0] < 0).all()  # left hemisphere: x < 0 in MNI space
    # most of the cortex lands inside the brain's bounding box
    cortex = (np.abs(bold_to_nifti(mne.SourceEstimate(
        np.ones((fwd["nsource"], 1)), vertices, 0, 1), fwd).get_fdata()) > 0)
    assert 5_000 < cortex.sum() < 30_000
