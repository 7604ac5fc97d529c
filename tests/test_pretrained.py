# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.

import shutil
import warnings
from pathlib import Path

import mne
import numpy as np
import pytest

from mne_deepinverse import _load, apply_deep_inverse
from mne_deepinverse._fit import REFERENCE_FILE
from mne_deepinverse._registry import BACKENDS, PRETRAINED, SYNTHESIZERS
from mne_deepinverse.datasets import (
    CONVDIP_CH_NAMES,
    _pretrained,
    fetch_pretrained_file,
    make_template_info,
    pretrained_dir,
    read_pretrained_forward,
)
from mne_deepinverse.simulation import simulate_patch_evoked


@pytest.fixture
def fresh_cache(monkeypatch):
    monkeypatch.setattr(_load, "_PRETRAINED_CACHE", {})


#: Pretrained models for the 31-channel layout (the others accept any cap).
FIXED_CAP = sorted(n for n, e in PRETRAINED.items() if e["forward"] is not None)


@pytest.mark.parametrize("name", sorted(PRETRAINED))
def test_pretrained_card(name, no_network, fresh_cache):
    model = _load.load_model(name)
    card = model.card
    assert card["backend"] == name
    assert card["n_sources"] == 5124
    training = card["training"]
    for key in ("samples_seen", "epochs", "train_time_s", "machine", "date"):
        assert key in training
    assert training["samples_seen"] > 100_000
    assert training["train_time_s"] < 3600  # < 60 min
    # simulated validation on the training distribution (1-10 patches); the
    # inverse-crime-free accuracy is measured by `mne-deepinverse benchmark`
    if name in FIXED_CAP:
        assert card["ch_names"] == CONVDIP_CH_NAMES
        assert card["validation"]["auc"] > 0.7
    elif model.any_cap:  # validated on caps held out of training
        assert card["ch_names"] == []
        assert card["cap"]["n_channels"] == [16, 256]
        for scores in card["validation"]["caps"].values():
            assert scores["auc"] > 0.7
    else:  # any sensors: validated per training configuration
        assert model.any_sensors and card["ch_names"] == []
        kinds = " ".join(card["any_sensors"]["configs"])
        assert "mag" in kinds and "grad" in kinds and "EEG" in kinds
        for scores in card["validation"]["per_config"]:
            assert scores["auc"] > 0.7
    assert (pretrained_dir() / f"{name}.md").is_file()


@pytest.mark.parametrize("name", sorted(PRETRAINED))
def test_pretrained_apply(name, no_network, fresh_cache, request):
    """The shipped models localise single high-SNR patches on the template
    (the any-cap model on a 64-channel BioSemi cap, the any-sensor model on
    the Neuromag VectorView MEG)."""
    fwd = (read_pretrained_forward(name) if name in FIXED_CAP
           else request.getfixturevalue("meg_template_fwd" if name == "anysensor"
                                        else "biosemi64_fwd"))
    pos = fwd["source_rr"]
    errors = []
    # a model that reads windows gets evokeds a window long (250 Hz, 128 samples)
    window = _load.load_model(name).input["kind"] == "window"
    timing = (dict(sfreq=250.0, tmin=-0.2, tmax=0.308, time_course="erp") if window
              else {})
    for seed in range(8):
        evoked, stc_true = simulate_patch_evoked(
            fwd, n_patches=1, extent=(2, 4), snr_db=20, random_state=seed, **timing
        )
        before = evoked.data.copy()
        with warnings.catch_warnings():
            # white sensor noise of equal power in T and T/m is not what the
            # any-sensor model's MEG covariance describes: its fit check warns
            # (tested in test_fit); this test is about localisation
            warnings.filterwarnings("ignore", "The estimate explains")
            stc = apply_deep_inverse(evoked, fwd, name)
        np.testing.assert_array_equal(evoked.data, before)
        assert isinstance(stc, mne.SourceEstimate)
        t = np.argmax(np.abs(stc_true.data).max(axis=0))
        errors.append(np.linalg.norm(
            pos[np.argmax(np.abs(stc.data[:, t]))]
            - pos[np.argmax(np.abs(stc_true.data[:, t]))]
        ) * 1e3)
    assert np.median(errors) < 20, errors


def test_corrupted_model(tmp_path, monkeypatch, fresh_cache):
    bad = tmp_path / "pretrained"
    shutil.copytree(pretrained_dir(), bad)
    with open(bad / "convdip.onnx", "r+b") as fid:
        fid.seek(2000)
        fid.write(b"edited")
    monkeypatch.setattr(_pretrained, "pretrained_dir", lambda: bad)
    with pytest.raises(RuntimeError, match="corrupted or was edited"):
        fetch_pretrained_file("convdip.onnx")
    fwd = read_pretrained_forward("convdip")
    evoked, _ = simulate_patch_evoked(fwd, random_state=0)
    with pytest.raises(RuntimeError, match="does not match the registry"):
        apply_deep_inverse(evoked, fwd, "convdip")


def test_one_registry():
    """Every pretrained model has its files, its hashes and a known backend;
    the dispatcher, the estimator and the command line use the same names."""
    from mne_deepinverse.__main__ import main
    from mne_deepinverse.backends import get_backend
    from mne_deepinverse.datasets._leadfield import LEADFIELD_FILE
    from mne_deepinverse.datasets._pretrained import _read_registry

    hashes = _read_registry()
    for entry in PRETRAINED.values():
        assert entry["backend"] in BACKENDS
        for key in ("model", "forward", "card"):
            assert entry[key] is None or (pretrained_dir() / entry[key]).is_file()
        assert entry["model"] in hashes
        assert entry["forward"] is None or entry["forward"] in hashes
    # every hashed file belongs to a registry entry (inverse models and BOLD
    # synthesizers)
    for entry in SYNTHESIZERS.values():
        assert entry["backend"] in BACKENDS and entry["model"] in hashes
        assert (pretrained_dir() / entry["card"]).is_file()
    shipped = {e[k] for e in PRETRAINED.values() for k in ("model", "forward")}
    shipped |= {e["model"] for e in SYNTHESIZERS.values()}
    shipped |= {REFERENCE_FILE}  # the models' fit references
    shipped |= {LEADFIELD_FILE}  # the template's scalp lead field (EEG forwards)
    assert set(hashes) == shipped - {None}
    any_cap = [n for n, e in PRETRAINED.items() if e["forward"] is None]
    for name in any_cap:
        with pytest.raises(ValueError, match="accepts any EEG cap.*has no forward"):
            read_pretrained_forward(name)
    # the package data is found through importlib.resources
    assert pretrained_dir().parent.name == "mne_deepinverse"
    with pytest.raises(ValueError, match="Allowed values are.*convdip.*unet.*vnet"):
        get_backend("nope")
    with pytest.raises(ValueError, match="Allowed values are.*convdip.*unet.*vnet"):
        read_pretrained_forward("nope")
    with pytest.raises(SystemExit):
        main(["benchmark", "--models", "nope"])


@pytest.mark.parametrize("name", ["convdip", "unet", "vnet"])
def test_shipped_maps_unchanged(name, fwd):
    """The shipped models give the maps they gave before the redesign.

    ``data/shipped_maps.npz`` holds four EEG samples (single and multiple
    dipoles of both signs with 5 % noise) and each shipped model's source
    estimate, written by the code of commit 25de64d (before issue 11).
    """
    ref = np.load(Path(__file__).parent / "data" / "shipped_maps.npz")
    info = make_template_info(list(ref["ch_names"]), sfreq=100.0)
    evoked = mne.EvokedArray(ref["data"], info, tmin=0.0)
    evoked.set_eeg_reference(projection=True, verbose=False)
    stc = apply_deep_inverse(evoked, fwd, model=name)
    want = ref[name]
    # the magnitude maps (patterns and amplitudes) are unchanged ...
    np.testing.assert_allclose(np.abs(stc.data), np.abs(want), rtol=1e-4,
                               atol=1e-4 * np.abs(want).max())
    # ... and so is the default single-scale sign
    np.testing.assert_allclose(stc.data, want, rtol=1e-4,
                               atol=1e-4 * np.abs(want).max())
