# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Write the stored reference maps of every shipped model on fixed inputs.

``tests/test_reference_maps.py`` applies every shipped model to the inputs
stored here and compares its maps with the stored ones (within 1e-5 of the
peak): a refactoring of the apply path, the bindings or the model card must
leave the maps of the shipped ``.onnx`` files unchanged. The inputs are plain
arrays (data drawn from the forward with a fixed seed, not from the package's
simulator), so the test depends on nothing but the apply path.

Run it only when the shipped models or the meaning of their outputs change
on purpose (say so in the commit)::

    python tools/make_reference_maps.py

It writes ``tests/data/reference_maps.npz``.
"""

from pathlib import Path

import mne
import numpy as np

from mne_deepinverse import apply_deep_inverse
from mne_deepinverse.datasets import (
    CONVDIP_CH_NAMES,
    DEFAULT_CONDUCTIVITY,
    make_template_forward,
    make_template_info,
    make_template_meg_info,
    read_pretrained_forward,
)

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "reference_maps.npz"

#: Cases: name -> (model, which forward, sampling rate, samples, amplitudes).
#: Window models get one window (128 samples at 250 Hz) and store every
#: 8th time sample of their maps.
CASES = {
    "convdip": ("convdip", "convdip", 100.0, 4, "scale"),
    "convdip_patch": ("convdip", "convdip", 100.0, 3, "patch"),
    "unet": ("unet", "convdip", 100.0, 4, "scale"),
    "vnet": ("vnet", "convdip", 100.0, 4, "scale"),
    "sifnet": ("sifnet", "convdip", 250.0, 128, "scale"),
    "anycap": ("anycap", "biosemi64", 100.0, 4, "scale"),
    "anysensor_meg": ("anysensor", "meg", 100.0, 4, "scale"),
    "anysensor_eeg": ("anysensor", "convdip_template", 100.0, 4, "scale"),
}
#: Every n-th time sample of a window model's maps is stored.
WINDOW_STEP = 8


def forward_and_info(which):
    """Return the fixed-orientation forward and the info of a case.

    The template forwards are MNE's on the three-layer BEM, as when the
    references were made (EEG forwards now come from the shipped lead field,
    equal to 1e-3; MEG ones from a one-layer BEM by default: both change the
    any-sensor model's maps by more than the test's 1e-5).
    """
    from mne_deepinverse.datasets._template import _template_forward_bem

    if which == "convdip":
        fwd = read_pretrained_forward("convdip")
        info = make_template_info(CONVDIP_CH_NAMES)
    elif which == "convdip_template":
        info = make_template_info(CONVDIP_CH_NAMES)
        fwd = mne.convert_forward_solution(
            _template_forward_bem(info, "ico4", DEFAULT_CONDUCTIVITY), surf_ori=True,
            force_fixed=True, use_cps=True, verbose=False)
    elif which == "biosemi64":
        montage = mne.channels.make_standard_montage("biosemi64")
        info = mne.create_info(montage.ch_names, 100.0, "eeg")
        info.set_montage(montage)
        fwd = make_template_forward(info)
    else:
        info = make_template_meg_info()
        fwd = make_template_forward(info, conductivity=DEFAULT_CONDUCTIVITY)
    return fwd, info


def make_evoked(info, fwd, data, sfreq):
    """Return an evoked of ``data`` on the forward's channels, average-referenced."""
    names = fwd["info"]["ch_names"]
    info = mne.pick_info(info, [info["ch_names"].index(ch) for ch in names])
    with info._unlock():
        info["sfreq"] = sfreq
    evoked = mne.EvokedArray(data, info, tmin=0.0, verbose=False)
    if "eeg" in evoked.get_channel_types():
        evoked.set_eeg_reference("average", projection=True, verbose=False)
    return evoked


def case_data(fwd, sfreq, n_times, seed):
    """Return two source patches' field with a half-sine course and sensor noise."""
    rng = np.random.default_rng(seed)
    gain = fwd["sol"]["data"]
    n_src = gain.shape[1]
    src = np.zeros((n_src, n_times))
    course = np.sin(np.pi * (np.arange(n_times) + 1) / (n_times + 1))
    seeds = rng.choice(n_src, 2, replace=False)
    pos = fwd["source_rr"]
    for s in seeds:
        dist = np.linalg.norm(pos - pos[s], axis=1)
        src += (10e-9 * np.exp(-0.5 * (dist / 0.01) ** 2))[:, None] * course
    data = gain @ src
    noise = rng.standard_normal(data.shape)
    noise *= 0.1 * data.std(axis=1, keepdims=True).mean()
    return data + noise


def main():
    """Apply every shipped model to its fixed input; store inputs and maps."""
    arrays = {}
    forwards = {}
    for ii, (case, (model, which, sfreq, n_times, amplitudes)) in enumerate(
            CASES.items()):
        if which not in forwards:
            forwards[which] = forward_and_info(which)
        fwd, info = forwards[which]
        data = case_data(fwd, sfreq, n_times, seed=ii)
        evoked = make_evoked(info, fwd, data, sfreq)
        stc = apply_deep_inverse(evoked, fwd, model=model, amplitudes=amplitudes)
        maps = stc.data[:, ::WINDOW_STEP] if n_times > 16 else stc.data
        arrays[f"{case}_data"] = data
        arrays[f"{case}_maps"] = maps.astype(np.float32)
        print(f"{case}: {model} on {which}, {n_times} samples at {sfreq:g} Hz, "
              f"peak {np.abs(maps).max():.3g} Am")
    OUT.parent.mkdir(exist_ok=True)
    np.savez_compressed(OUT, **arrays)
    print(f"Wrote {OUT} ({OUT.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
