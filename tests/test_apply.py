# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""The fitted-model object and the Evoked / Epochs / Raw apply paths."""

import pickle
import tracemalloc

import mne
import numpy as np
import pytest

from mne_deepinverse import (
    DeepInverseModel,
    apply_deep_inverse,
    apply_deep_inverse_epochs,
    apply_deep_inverse_raw,
    read_deep_inverse_model,
)
from mne_deepinverse._inverse import _load_model
from mne_deepinverse.datasets import fetch_pretrained_file
from mne_deepinverse.simulation import simulate_evoked


@pytest.fixture(scope="module")
def convdip():
    return _load_model("convdip")


@pytest.fixture(scope="module")
def data(fwd):
    evoked, _, epochs = simulate_evoked(
        fwd, n_patches=2, n_trials=4, return_epochs=True, random_state=0
    )
    return evoked, epochs


def test_model_object(convdip, tmp_path):
    """The fitted model: torch-free, repr, save/read, pickle."""
    assert isinstance(convdip, DeepInverseModel)
    text = repr(convdip)
    assert "convdip, 31 EEG channels, 5124 sources" in text
    assert "input: one time sample" in text and "fsaverage5" in text
    assert convdip.input == {"kind": "sample"}  # format-1 card, read as samples
    fname = tmp_path / "m.onnx"
    convdip.save(fname)
    with pytest.raises(FileExistsError):
        convdip.save(fname)
    again = read_deep_inverse_model(fname)
    assert again.card == convdip.card and again.onnx == convdip.onnx
    assert fname.read_bytes() == fetch_pretrained_file("convdip.onnx").read_bytes()
    restored = pickle.loads(pickle.dumps(convdip))
    X = np.random.default_rng(0).normal(0, 1e-6, (5, 31))
    np.testing.assert_array_equal(restored.predict(X), convdip.predict(X))


@pytest.mark.parametrize("amplitudes", ["scale", "patch"])
def test_evoked_epochs_raw_agree(convdip, fwd, data, amplitudes):
    """One worker: the same data give the same maps through all three paths."""
    evoked, epochs = data
    # one epoch holding the evoked's data, and a raw recording of it
    ep = mne.EpochsArray(evoked.data[None], evoked.info, tmin=evoked.times[0],
                         verbose=False)
    raw = mne.io.RawArray(evoked.data, evoked.info, verbose=False)
    stc = apply_deep_inverse(evoked, fwd, convdip, amplitudes=amplitudes)
    (stc_ep,) = apply_deep_inverse_epochs(ep, fwd, convdip, amplitudes=amplitudes)
    np.testing.assert_array_equal(stc_ep.data, stc.data)
    assert stc_ep.tmin == stc.tmin and stc_ep.tstep == stc.tstep
    # raw, in one chunk, equals the evoked
    stc_raw = apply_deep_inverse_raw(raw, fwd, convdip, amplitudes=amplitudes)
    np.testing.assert_array_equal(stc_raw.data, stc.data)
    if amplitudes == "scale":  # one time sample at a time: chunks change nothing
        stc_raw = apply_deep_inverse_raw(raw, fwd, convdip, buffer_size=7,
                                         amplitudes=amplitudes)
        np.testing.assert_allclose(stc_raw.data, stc.data, rtol=1e-6, atol=1e-16)
        part = apply_deep_inverse_raw(raw, fwd, convdip, start=5, stop=12,
                                      amplitudes=amplitudes)
        np.testing.assert_allclose(part.data, stc.data[:, 5:12], rtol=1e-6,
                                   atol=1e-16)
        assert part.tmin == pytest.approx(raw.times[5])
    # epochs: a list, or a generator of the same estimates
    stcs = apply_deep_inverse_epochs(epochs, fwd, convdip, amplitudes=amplitudes)
    assert len(stcs) == len(epochs)
    gen = apply_deep_inverse_epochs(epochs, fwd, convdip, return_generator=True,
                                    amplitudes=amplitudes)
    assert not isinstance(gen, list)
    for a, b in zip(stcs, gen, strict=True):
        np.testing.assert_array_equal(a.data, b.data)
    # nothing passed in was modified
    np.testing.assert_array_equal(ep.get_data()[0], evoked.data)


def test_apply_errors(convdip, fwd, data):
    evoked, epochs = data
    raw = mne.io.RawArray(evoked.data, evoked.info, verbose=False)
    with pytest.raises(ValueError, match="Invalid value for the 'amplitudes'"):
        apply_deep_inverse(evoked, fwd, convdip, amplitudes="both")
    with pytest.raises(ValueError, match="amplitudes='patch' fits .* pass fwd"):
        apply_deep_inverse(evoked, None, convdip, amplitudes="patch")
    with pytest.raises(ValueError, match="buffer_size must be >= 1"):
        apply_deep_inverse_raw(raw, fwd, convdip, buffer_size=0)
    with pytest.raises(ValueError, match="non-empty span"):
        apply_deep_inverse_raw(raw, fwd, convdip, start=10, stop=10)
    with pytest.raises(TypeError, match="epochs must be an instance of"):
        apply_deep_inverse_epochs(evoked, fwd, convdip)
    with pytest.raises(TypeError, match="raw must be an instance of"):
        apply_deep_inverse_raw(epochs, fwd, convdip)
    info = evoked.info.copy()
    with info._unlock():
        info["projs"] = []
    no_ref = mne.io.RawArray(evoked.data, info, verbose=False)
    with pytest.raises(ValueError, match="average reference"):
        apply_deep_inverse_raw(no_ref, fwd, convdip)


def test_raw_memory_is_bounded_by_the_chunk(convdip, fwd, data):
    """Beyond the returned estimate, memory grows with the chunk, not the
    recording: 20,000 samples in chunks of 500 peak at a few chunks."""
    evoked, _ = data
    n_times, chunk = 20_000, 500
    rng = np.random.default_rng(0)
    raw = mne.io.RawArray(
        rng.normal(0, 2e-6, (len(evoked.ch_names), n_times)), evoked.info,
        verbose=False,
    )
    stc_bytes = convdip.n_sources * n_times * 4
    chunk_bytes = convdip.n_sources * chunk * 4  # one chunk of maps (float32)
    tracemalloc.start()
    try:
        stc = apply_deep_inverse_raw(raw, fwd, convdip, buffer_size=chunk,
                                     amplitudes="scale")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert stc.data.shape == (convdip.n_sources, n_times)
    extra = peak - stc_bytes
    # the whole recording's maps at once would be stc_bytes more again
    assert extra < 8 * chunk_bytes + 20e6, (extra / 1e6, chunk_bytes / 1e6)
