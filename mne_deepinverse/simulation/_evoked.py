# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Evoked responses of source patches with their true source estimate."""

import mne
import numpy as np
from mne.source_estimate import _make_stc
from mne.utils import _check_option, _validate_type, verbose, warn

from .._docs import fill_doc
from .._utils import _check_random_state, _make_info
from ._noise import _noise_sqrt, _pink_noise
from ._patches import PatchSimulator


def _time_course(times):
    """Half a 5 Hz sine from 0 to 100 ms, exactly zero at and beyond its ends."""
    inside = (times > 1e-9) & (times < 0.1 - 1e-9)
    return np.where(inside, np.sin(2 * np.pi * 5 * times), 0.0)


#: Time courses of :func:`simulate_patch_evoked`.
TIME_COURSES = ("half-sine", "erp")


def _erp_course(times, rng):
    """Return an evoked-response-like waveform: a Gaussian-windowed cosine.

    Peak (value one) at 50-150 ms, Gaussian sd 20-50 ms, 2-8 Hz; it decays
    to under 1 % of its peak before 0 s is reached only for the narrower
    draws, as real responses ride on what came before.
    """
    centre = rng.uniform(0.05, 0.15)
    sd = rng.uniform(0.02, 0.05)
    freq = rng.uniform(2.0, 8.0)
    return np.exp(-0.5 * ((times - centre) / sd) ** 2) * np.cos(
        2 * np.pi * freq * (times - centre))


@verbose
@fill_doc
def simulate_patch_evoked(
    fwd,
    *,
    n_patches=(1, 5),
    extent=(2, 5),
    extent_units="order",
    amplitude=(5.0, 10.0),
    snr_db=(6.0, 9.0),
    noise="white",
    n_trials=1,
    sfreq=100.0,
    tmin=-0.1,
    tmax=0.2,
    time_course="half-sine",
    return_epochs=False,
    random_state=None,
    noise_cov=None,
    verbose=None,
):
    """Simulate an evoked response with its true source estimate.

    Every patch follows half a period of a 5 Hz sine (0 to 100 ms, peak at
    50 ms), as in the ConvDip paper :footcite:`HeckerEtAl2021`; before and
    after it there is only noise, so the baseline can be used for a noise
    covariance. With ``time_course="erp"`` the patches follow an
    evoked-response-like waveform instead (a Gaussian-windowed cosine with
    its peak at 50-150 ms, sd 20-50 ms, 2-8 Hz, one draw per evoked).

    Parameters
    ----------
    fwd : instance of Forward
        Fixed-orientation EEG, MEG or EEG+MEG forward model.
    n_patches, extent, extent_units, amplitude : see :func:`simulate_samples`
        Source configuration (one draw for the whole evoked).
    snr_db : float | tuple of float
        SNR of the averaged evoked at the peak (dB, one draw).
    noise : "white" | "pink" | "brain" | instance of Covariance | list
        ``"white"``: independent per channel and time; ``"pink"``: 1/f in
        time, independent across channels; ``"brain"``: 1/f sources all over
        the cortex through the gain (correlated in space and time); a
        covariance: white in time, coloured in space.
    n_trials : int
        Number of trials averaged; each has its own noise, scaled so that the
        average reaches ``snr_db``.
    sfreq : float
        Sampling frequency in Hz; above 10 Hz, so that the source time course
        is sampled.
    tmin, tmax : float
        Time range in s; it must overlap the source time course (0 to 100 ms),
        and a warning says when it leaves out the peak at 50 ms.
    time_course : "half-sine" | "erp"
        The sources' time course (see above).

        .. versionadded:: 0.1
    return_epochs : bool
        Also return the single trials as :class:`mne.EpochsArray`.
    random_state : None | int | instance of numpy.random.Generator
        Seed.
    %(noise_cov_sim)s

        .. versionadded:: 0.1
    %(verbose)s

    Returns
    -------
    evoked : instance of EvokedArray
        The average-referenced evoked (projector applied), in V, baseline
        corrected when ``tmin < 0``.
    stc : instance of SourceEstimate | VolSourceEstimate
        The true source activity (Am).
    epochs : instance of EpochsArray
        The trials (only if ``return_epochs=True``).

    References
    ----------
    .. footbibliography::
    """
    rng = _check_random_state(random_state)
    _validate_type(n_trials, "int", "n_trials")
    if n_trials < 1:
        raise ValueError(f"n_trials must be >= 1, got {n_trials}")
    for name, value in (("sfreq", sfreq), ("tmin", tmin), ("tmax", tmax)):
        _validate_type(value, "numeric", name)
        if not np.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value}.")
    if sfreq <= 0:
        raise ValueError(f"sfreq must be > 0 Hz, got {sfreq}; use e.g. sfreq=100.")
    if tmin > tmax:
        raise ValueError(
            f"tmin must be <= tmax, got tmin={tmin} and tmax={tmax} s; swap them."
        )
    _check_option("time_course", time_course, TIME_COURSES)
    times = np.arange(int(round(tmin * sfreq)), int(round(tmax * sfreq)) + 1) / sfreq
    course = (_time_course(times) if time_course == "half-sine"
              else _erp_course(times, rng))
    if not course.any():
        raise ValueError(
            "No sample of the source time course (half a sine from 0 to 100 ms) "
            f"falls in tmin={tmin}, tmax={tmax} s at sfreq={sfreq} Hz, so the data "
            "would be all zero. Use a window that contains 0-100 ms (e.g. "
            "tmin=-0.1, tmax=0.2) and sfreq > 10 Hz (e.g. 100)."
        )
    if not tmin <= 0.05 <= tmax:
        warn(
            f"The window tmin={tmin}, tmax={tmax} s leaves out the peak of the "
            "source time course (50 ms); the SNR is set at the largest sample in "
            "the window instead. Use tmin <= 0.05 <= tmax to include the peak."
        )
    noise_kinds = list(noise) if isinstance(noise, list | tuple) else [noise]
    for kind in noise_kinds:
        _validate_type(kind, (str, mne.Covariance), "noise")
        if isinstance(kind, str):
            _check_option("noise", kind, ("white", "pink", "brain"))
    sim = PatchSimulator(
        fwd, n_patches=n_patches, extent=extent, extent_units=extent_units,
        amplitude=amplitude, snr_db=snr_db, noise="white", average_ref=True,
        dtype=np.float64, noise_cov=noise_cov,
    )
    fwd, sensors = sim.fwd, sim.sensors
    # one noiseless source map, drawn like the training samples
    y = sim._clean(1, rng)[0][0].astype(np.float64)
    source = y[:, None] * course[None]
    signal = sensors.project((sim.gain @ source).T).T
    n_ch, n_times = signal.shape

    def power(x):  # mean power over channels (whitened for MEG), x (n_ch, ...)
        x = np.moveaxis(x, 0, -1)
        return np.mean((sensors.pre(x) if sensors.whitened else x) ** 2)

    # noise per trial, as (n_trials, n_ch, n_times)
    parts = []
    for kind in noise_kinds:
        if isinstance(kind, str) and kind == "pink":
            part = _pink_noise(rng, n_trials * n_ch, n_times).reshape(
                n_trials, n_ch, n_times
            )
            if sensors.whitened:  # each channel at its type's noise level
                part = np.einsum("ij,tjs->tis", sensors.noise_sqrt(), part)
        elif isinstance(kind, str) and kind == "brain":
            src_noise = _pink_noise(rng, sim.n_sources, n_times * n_trials)
            part = (sim.gain @ src_noise).reshape(n_ch, n_trials, n_times)
            part = part.transpose(1, 0, 2)
        else:
            nsqrt = _noise_sqrt(kind, sim.gain, sim.ch_names, sensors)
            part = np.einsum("ij,tjs->tis", nsqrt, rng.standard_normal(
                (n_trials, n_ch, n_times)))
        part = np.moveaxis(sensors.project(np.moveaxis(part, 1, -1)), -1, 1)
        parts.append(part / np.sqrt(power(np.moveaxis(part, 1, 0))))
    trial_noise = sum(parts) / np.sqrt(len(parts))
    snr = rng.uniform(*sim.snr_db)
    peak = np.argmax(np.abs(course))
    p_sig = power(signal[:, peak])
    p_noise_avg = power(trial_noise.mean(axis=0))
    trial_noise *= np.sqrt(p_sig / (p_noise_avg * 10 ** (snr / 10)))
    trials = signal[None] + trial_noise
    info = _make_info(fwd, sim.ch_names, sfreq)
    if sensors.whitened:  # the SSP projectors the noise covariance was made with
        with info._unlock():
            info["projs"] = [p for p in sensors.info()["projs"]
                             if p["desc"] != "Average EEG reference"]
    baseline = (None, 0) if times[0] < 0 else None
    epochs = mne.EpochsArray(
        trials, info, tmin=times[0], baseline=baseline, verbose=False
    )
    if "eeg" in sensors.ch_types:
        epochs.set_eeg_reference("average", projection=True, verbose=False)
    epochs.apply_proj(verbose=False)
    evoked = epochs.average()
    src = fwd["src"]
    stc = _make_stc(source, [s["vertno"].copy() for s in src], src_type=src.kind,
                    tmin=times[0], tstep=1.0 / sfreq, subject=src._subject)
    if return_epochs:
        return evoked, stc, epochs
    return evoked, stc
