# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""The model card and the sensor bindings: typed, validated once, immutable."""

import copy
import gc
import json
import pickle

import mne
import numpy as np
import pytest

from mne_deepinverse import apply_deep_inverse
from mne_deepinverse._bindings import BINDINGS
from mne_deepinverse._card import FORMAT_VERSION, InputSpec, ModelCard
from mne_deepinverse._load import load_model
from mne_deepinverse._model import PreparedModel
from mne_deepinverse._registry import PRETRAINED
from mne_deepinverse.datasets import fetch_pretrained_file


def _stored_card(name):
    import onnx

    proto = onnx.load(fetch_pretrained_file(PRETRAINED[name]["model"]))
    meta = {p.key: p.value for p in proto.metadata_props}
    return meta["mne_deepinverse_model_card"]


@pytest.mark.parametrize("name", sorted(PRETRAINED))
def test_shipped_cards_read_unchanged(name):
    """Every shipped card (format 1 and 2) reads into typed specs, unchanged."""
    text = _stored_card(name)
    card = ModelCard.from_json(text)
    assert card.to_dict() == json.loads(text)
    assert json.loads(card.to_json()) == json.loads(text)
    assert card.backend == name
    assert card.source.n_sources == 5124 and card.source.src_type == "surface"
    assert card.source.subject == "fsaverage5" and card.source.n_orient == 1
    assert card.sensors.kind in BINDINGS
    want = dict(anycap="any_cap", anysensor="any_sensor").get(name, "fixed")
    assert card.sensors.kind == want
    if want == "fixed":
        assert len(card.sensors.ch_names) == 31
        assert card.sensors.ch_pos.shape == (31, 3)
        assert card.sensors.describe() == "31 EEG channels"
    assert card.input.is_window == (name == "sifnet")
    assert card.get("format_version", 0) <= FORMAT_VERSION
    # the model's card is this card, read-only
    model = load_model(name)
    assert model.card.to_dict() == card.to_dict()
    hyper = model.card["hyper_params"]
    hyper["changed"] = 1
    assert "changed" not in model.card["hyper_params"]
    with pytest.raises(AttributeError, match="immutable"):
        model.card.backend = "x"
    with pytest.raises(TypeError):
        model.card["backend"] = "x"
    assert pickle.loads(pickle.dumps(card)).to_dict() == card.to_dict()


def test_card_validation():
    """A card is validated once, on read, with messages that say what is wrong."""
    base = json.loads(_stored_card("convdip"))
    with pytest.raises(RuntimeError, match="not valid JSON"):
        ModelCard.from_json("{")
    with pytest.raises(RuntimeError, match="lacks the keys.*vertices"):
        ModelCard.from_dict({k: v for k, v in base.items() if k != "vertices"})
    with pytest.raises(RuntimeError, match="newer mne-deepinverse"):
        ModelCard.from_dict(dict(base, format_version=FORMAT_VERSION + 1))
    with pytest.raises(RuntimeError, match="31 channels but ch_pos"):
        ModelCard.from_dict(dict(base, ch_pos=base["ch_pos"][:3]))
    with pytest.raises(RuntimeError, match="do not match its vertices"):
        ModelCard.from_dict(dict(base, n_sources=5000))
    with pytest.raises(RuntimeError, match="input kind 'movie'"):
        ModelCard.from_dict(dict(base, input=dict(kind="movie")))
    with pytest.raises(RuntimeError, match="lacks a valid n_times"):
        ModelCard.from_dict(dict(base, input=dict(kind="window")))
    bad_cap = dict(base, cap=dict(kind="any"))
    with pytest.raises(RuntimeError, match="cap entry is invalid"):
        ModelCard.from_dict(bad_cap)
    # replace makes a new, validated card; the old one is unchanged
    card = ModelCard.from_dict(base)
    new = card.replace(validation=dict(auc=1.0))
    assert new["validation"] == dict(auc=1.0) != card["validation"]
    assert InputSpec.from_dict(None) == InputSpec()
    win = InputSpec.from_dict(dict(kind="window", n_times=128, sfreq=250))
    assert win.describe() == "windows of 128 samples at 250 Hz"
    assert win.to_dict() == dict(kind="window", n_times=128, sfreq=250.0)


def _eeg_evoked(fwd, vertex, seed=0):
    """A noisy single-dipole evoked on a forward's EEG channels."""
    rng = np.random.default_rng(seed)
    gain = fwd["sol"]["data"]
    src = np.zeros((gain.shape[1], 3))
    src[vertex] = 1e-8
    data = gain @ src + rng.normal(0, 1e-8, (gain.shape[0], 3))
    info = mne.create_info(fwd["info"]["ch_names"], 100.0, "eeg")
    with info._unlock():
        for ch, fch in zip(info["chs"], fwd["info"]["chs"], strict=True):
            ch["loc"][:] = fch["loc"]
    evoked = mne.EvokedArray(data, info, verbose=False)
    evoked.set_eeg_reference(projection=True, verbose=False)
    return evoked


def test_bindings_are_keyed_by_content(fwd, biosemi64_fwd):
    """One pretrained model, two forwards alternately, each with its own maps;
    a forward freed and replaced, or edited in place, gets a binding of its own.
    """
    model = load_model("anycap")
    onnx_before = model.onnx
    ev31 = _eeg_evoked(fwd, 1000)
    ev64 = _eeg_evoked(biosemi64_fwd, 1000)
    first = [apply_deep_inverse(ev, f, model).data
             for ev, f in ((ev31, fwd), (ev64, biosemi64_fwd))]
    for _ in range(2):  # alternately: the same maps as the first time
        for (ev, f), want in zip(((ev31, fwd), (ev64, biosemi64_fwd)), first,
                                 strict=True):
            np.testing.assert_array_equal(apply_deep_inverse(ev, f, model).data,
                                          want)
    assert model.onnx is onnx_before  # the model never changed
    p31, p64 = model.bind(fwd), model.bind(biosemi64_fwd)
    assert isinstance(p31, PreparedModel) and len(p31.ch_names) == 31
    assert len(p64.ch_names) == 64
    # a forward edited in place: the gain of the 31 channels scaled and mixed
    edited = copy.deepcopy(fwd)
    want = apply_deep_inverse(ev31, edited, model).data
    edited["sol"]["data"][:] = edited["sol"]["data"][::-1] * 2
    got = apply_deep_inverse(ev31, edited, model).data
    assert not np.allclose(got, want, rtol=1e-3, atol=0)
    fresh = copy.deepcopy(edited)
    np.testing.assert_array_equal(apply_deep_inverse(ev31, fresh, model).data, got)
    # a forward freed and replaced by another of the same shape
    other = copy.deepcopy(fwd)
    del edited, fresh
    gc.collect()
    other["sol"]["data"][:] = other["sol"]["data"][:, ::-1]
    got = apply_deep_inverse(ev31, other, model).data
    np.testing.assert_array_equal(
        got, apply_deep_inverse(ev31, copy.deepcopy(other), model).data)
    assert not np.allclose(got, first[0], rtol=1e-3, atol=0)


def test_prepared_model_is_read_only(fwd):
    """A prepared model's graph inputs cannot be written; a model cannot be."""
    model = load_model("convdip")
    with pytest.raises(AttributeError, match="does not change"):
        model.foo = 1
    prepared = model.bind(fwd)
    assert prepared.fwd is not None and prepared.ch_names == model.ch_names
    assert "PreparedModel | convdip, 31 channels" in repr(prepared)
    anycap = load_model("anycap").bind(fwd)
    with pytest.raises(ValueError, match="read-only"):
        anycap.feeds["interp"][0, 0] = 1.0
    with pytest.raises(TypeError):
        anycap.feeds["interp"] = None
    with pytest.raises(RuntimeError, match="bind it first"):
        load_model("anycap").ch_names  # noqa: B018


#: The old optional module attributes of a backend and the card flags that
#: decided what varies; nothing outside a backend's own module probes them.
_PROBED = {"RUNTIME_KEYS", "fold", "for_export", "INPUT", "train_targets",
           "KERNELS_AT_APPLY", "DenseChain", "DEFAULTS", "LOSS", "reads_forward",
           "any_sensors", "any_cap"}


def _package_sources():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "mne_deepinverse"
    return root, sorted(root.rglob("*.py"))


def test_no_backend_switches():
    """What differs between networks lives in the backend's module: no
    ``if name == "unet"`` and no ``getattr(backend, "fold")`` elsewhere."""
    import ast

    from mne_deepinverse._registry import BACKENDS

    root, paths = _package_sources()
    own = {root / "backends" / f"{mod}.py" for mod in BACKENDS.values()}
    bad = []
    for path in paths:
        if path in own:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Compare):  # name == "unet", "x" in (...)
                consts = [n.value for n in ast.walk(node)
                          if isinstance(n, ast.Constant)]
                if any(c in BACKENDS for c in consts if isinstance(c, str)):
                    bad.append(f"{path.relative_to(root)}:{node.lineno} compares "
                               "with a backend name")
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in ("getattr", "hasattr")
                    and len(node.args) >= 2
                    and isinstance(node.args[1], ast.Constant)
                    and node.args[1].value in _PROBED):
                bad.append(f"{path.relative_to(root)}:{node.lineno} probes "
                           f"{node.args[1].value!r}")
    assert not bad, bad


def test_any_sensor_binding_follows_the_covariance(fwd):
    """A noise covariance edited in place between two calls is used as edited."""
    model = load_model("anysensor")
    evoked = _eeg_evoked(fwd, 2500, seed=1)
    cov = mne.make_ad_hoc_cov(evoked.info, verbose=False)
    first = apply_deep_inverse(evoked, fwd, model, noise_cov=cov).data
    cov["data"][:5] *= 100.0  # five noisy channels
    edited = apply_deep_inverse(evoked, fwd, model, noise_cov=cov).data
    assert not np.allclose(edited, first, rtol=1e-3, atol=0)
    np.testing.assert_array_equal(
        apply_deep_inverse(evoked, fwd, model, noise_cov=cov.copy()).data, edited)
    # the data's bad channels are the binding's too
    bad = evoked.copy()
    bad.info["bads"] = [bad.ch_names[3]]
    prepared = model.bind(fwd, info=bad.info)
    assert bad.ch_names[3] not in prepared.ch_names
    assert len(prepared.ch_names) == len(evoked.ch_names) - 1


@pytest.mark.parametrize("name", sorted(PRETRAINED))
def test_backend_spec_matches_the_shipped_model(name, fwd):
    """A backend's spec says what its models read and are fed at apply time."""
    pytest.importorskip("torch")
    from mne_deepinverse.backends import get_backend

    spec = get_backend(name)
    model = load_model(name)
    assert spec.name == name and spec.summary
    assert model.card.sensors.kind == spec.sensor_kind
    assert model.card.input.kind == spec.input_kind
    graph_inputs = [i.name for i in model._session.session.get_inputs()]
    assert graph_inputs == ["eeg", *spec.apply_inputs]
    if spec.sensor_kind != "fixed":
        assert set(model.bind(fwd).feeds) == set(spec.apply_inputs)
    assert set(spec.stored(spec.hyper_params())) <= set(spec.defaults)
    # the shipped cards predate the apply entry: the registry's value is the spec's
    assert "apply" not in model.card
    assert model.card.rows_per_call == spec.rows_per_call


@pytest.mark.parametrize("name", ["anycap", "anysensor"])
def test_forward_positions_are_the_data(name, biosemi64_fwd):
    """A model that reads the forward's channels compares the data's electrode
    positions with the forward's: a mirrored montage is refused."""
    evoked = _eeg_evoked(biosemi64_fwd, 1500)
    apply_deep_inverse(evoked, biosemi64_fwd, name)  # the forward's own places
    mirrored = evoked.copy()
    with mirrored.info._unlock():
        for ch in mirrored.info["chs"]:
            ch["loc"][0] *= -1  # left <-> right, same channel names
    with pytest.raises(ValueError, match="from those of the forward.*mirrored"):
        apply_deep_inverse(mirrored, biosemi64_fwd, name)
    with pytest.warns(RuntimeWarning, match="from those of the forward"):
        apply_deep_inverse(mirrored, biosemi64_fwd, name, on_mismatch="warn")
    # data without positions: the forward defines them
    bare = evoked.copy()
    with bare.info._unlock():
        for ch in bare.info["chs"]:
            ch["loc"][:] = 0.0
    np.testing.assert_allclose(apply_deep_inverse(bare, biosemi64_fwd, name).data,
                               apply_deep_inverse(evoked, biosemi64_fwd, name).data)


def test_save_is_atomic_and_checked(tmp_path, monkeypatch):
    """A failed save leaves the old file; a changed file fails its checksum."""
    import os

    from mne_deepinverse import DeepInverseModel, read_deep_inverse_model
    from mne_deepinverse._export import set_card

    model = load_model("convdip")
    assert "checksum" not in model.card  # shipped: hash-checked by pooch
    sealed = DeepInverseModel(set_card(model.onnx, model.card))  # re-exported
    assert sealed.card["checksum"].startswith("sha256:")
    fname = tmp_path / "model.onnx"
    sealed.save(fname)
    assert oct(fname.stat().st_mode & 0o777) != oct(0o600)
    before = fname.read_bytes()
    assert read_deep_inverse_model(fname).card["checksum"] == sealed.card["checksum"]

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space left"):
        sealed.save(fname, overwrite=True)
    monkeypatch.undo()
    assert fname.read_bytes() == before  # the old model is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]
    # a flipped bit in the weights (a bad copy) is caught when read
    data = bytearray(before)
    data[len(data) // 2] ^= 0x01
    fname.write_bytes(bytes(data))
    with pytest.raises(RuntimeError, match="differs from what was saved"):
        read_deep_inverse_model(fname)


def test_any_sensor_noise_cov_checked(fwd):
    """A covariance that cannot whiten the data is refused, naming the problem."""
    model = load_model("anysensor")
    evoked = _eeg_evoked(fwd, 2500, seed=2)
    good = mne.make_ad_hoc_cov(evoked.info, verbose=False)
    apply_deep_inverse(evoked, fwd, model, noise_cov=good)
    full = mne.Covariance(np.diag(good["data"]), good["names"], [], [], 10,
                          verbose=False)
    cases = []
    nan = full.copy()
    nan["data"][0, 0] = np.nan
    cases.append((nan, "NaN or infinite"))
    zero = full.copy()
    zero["data"][:] = 0.0
    cases.append((zero, "no variance"))
    indefinite = full.copy()
    indefinite["data"][0, 1] = indefinite["data"][1, 0] = 10 * full["data"][0, 0]
    cases.append((indefinite, "not positive semi-definite"))
    fewer = mne.pick_channels_cov(full, full["names"][:-2], verbose=False)
    cases.append((fewer, "lacks 2 channel"))
    proj = mne.compute_proj_evoked(evoked, n_eeg=1, verbose=False)
    with_proj = full.copy()
    with_proj["projs"] = proj
    cases.append((with_proj, "computed with the SSP projectors"))
    for cov, match in cases:
        with pytest.raises(ValueError, match=match):
            apply_deep_inverse(evoked, fwd, model, noise_cov=cov)
    # the data with the covariance's projector: accepted
    projected = evoked.copy().add_proj(proj)
    apply_deep_inverse(projected, fwd, model, noise_cov=with_proj)
    # a NaN in a forward's gain is refused by every kind of model
    broken = copy.deepcopy(fwd)
    broken["sol"]["data"][3, 10] = np.nan
    for name in ("convdip", "anycap", "anysensor"):
        with pytest.raises(ValueError, match="gain matrix holds NaN"):
            apply_deep_inverse(evoked, broken, name)


def test_tampered_cards_and_foreign_graphs():
    """Impossible card values, and a foreign graph carrying a copied card,
    are refused when read, not inside onnxruntime."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    from mne_deepinverse import DeepInverseModel

    base = json.loads(_stored_card("sifnet"))
    for inp in (dict(kind="window", n_times=0, sfreq=250.0),
                dict(kind="window", n_times=-5, sfreq=250.0),
                dict(kind="window", n_times=10**11, sfreq=250.0),
                dict(kind="window", n_times=128, sfreq=0.0)):
        with pytest.raises(RuntimeError, match="window input .* is invalid"):
            ModelCard.from_dict(dict(base, input=inp))
    nan = dict(base, gain_fingerprint=[float("nan")] * len(base["gain_fingerprint"]))
    with pytest.raises(RuntimeError, match="fingerprint are not finite"):
        ModelCard.from_dict(nan)
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])], "foreign",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 31])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 31])])
    foreign = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    foreign.ir_version = 8
    helper.set_model_props(foreign, {"mne_deepinverse_model_card":
                                     _stored_card("convdip")})
    onnx.checker.check_model(foreign)
    with pytest.raises(RuntimeError, match="carries a model card it was not"):
        DeepInverseModel(foreign.SerializeToString())


def test_misc_inputs_named(fwd):
    """Typos and wrong types get messages that name the argument."""
    from mne_deepinverse import DeepInverse
    from mne_deepinverse.datasets import make_template_bem
    from mne_deepinverse.metrics import evaluate

    pos = fwd["source_rr"]
    y = np.zeros((1, len(pos)))
    y[0, 10] = 1.0
    with pytest.raises(ValueError, match="look like mm or cm"):
        evaluate(y, y, pos * 1000)
    np.testing.assert_allclose(evaluate(y, y, pos, metrics=("mle",))["mle"], 0)
    with pytest.raises(ValueError, match="simulation key.*n_patchs.*PatchSimulator"):
        DeepInverse(fwd, n_epochs=1, samples_per_epoch=16, batch_size=8, n_val=4,
                    simulation=dict(n_patchs=2), progress=False).fit()
    with pytest.raises(TypeError, match="random_state must be"):
        from mne_deepinverse.simulation import simulate_samples

        simulate_samples(fwd, 2, random_state="abc")
    with pytest.raises(TypeError, match="conductivity must be an instance of"):
        make_template_bem(conductivity="abc")
    with pytest.raises(ValueError, match="conductivity must be three positive"):
        make_template_bem(conductivity=("a", "b", "c"))


@pytest.mark.parametrize("case", ["convdip", "sifnet"])
def test_network_runs_in_bounded_calls(case, monkeypatch):
    """The network sees at most ROWS_PER_CALL samples (or whole windows) per
    call: the maps are those of one call."""
    import sys
    from pathlib import Path

    from mne_deepinverse import _model

    tools = Path(__file__).resolve().parents[1] / "tools"
    sys.path.insert(0, str(tools))
    try:
        from make_reference_maps import CASES, forward_and_info, make_evoked
    finally:
        sys.path.remove(str(tools))
    name, which, sfreq, _, _ = CASES[case]
    fwd, info = forward_and_info(which)
    rng = np.random.default_rng(0)
    n = 300 if case == "sifnet" else 40
    src = np.zeros((fwd["nsource"], n))
    src[[100, 3000]] = 1e-8 * rng.standard_normal((2, n))
    evoked = make_evoked(info, fwd, fwd["sol"]["data"] @ src
                         + rng.normal(0, 1e-7, (31, n)), sfreq)
    whole = apply_deep_inverse(evoked, fwd, name).data
    monkeypatch.setattr(_model, "ROWS_PER_CALL", 7)
    np.testing.assert_allclose(apply_deep_inverse(evoked, fwd, name).data, whole,
                               rtol=1e-5, atol=1e-6 * np.abs(whole).max())


def _meg_data(meg_template_fwd):
    """A MEG evoked and its epochs (Neuromag, template), SNR 10 dB."""
    from mne_deepinverse.simulation import simulate_patch_evoked

    evoked, _, epochs = simulate_patch_evoked(
        meg_template_fwd, n_patches=1, n_trials=40, snr_db=10.0,
        return_epochs=True, random_state=0)
    return evoked, epochs


@pytest.mark.filterwarnings("ignore:The largest eigenvalue:RuntimeWarning")  # MNE's
@pytest.mark.filterwarnings("ignore:Too few samples:RuntimeWarning")
def test_noise_cov_conditioning_warns(meg_template_fwd):
    """A noise covariance that whitens badly (an empirical estimate from fewer
    samples than channels) gives a warning with the remedy; the shrunk
    estimate of the same baseline does not."""
    model = load_model("anysensor")
    evoked, epochs = _meg_data(meg_template_fwd)
    few = epochs.copy().crop(tmin=None, tmax=epochs.times[0] + 0.04)  # 200 samples
    with pytest.warns(RuntimeWarning, match="Too few samples"):
        empirical = mne.compute_covariance(few, method="empirical", verbose=False)
    assert empirical["nfree"] < len(evoked.ch_names)
    with pytest.warns(RuntimeWarning, match=r"rank-deficient or ill-conditioned on "
                      r"the 306 MEG channels \(it was estimated from \d+ samples.*"
                      r"method='shrunk'"):
        apply_deep_inverse(evoked, meg_template_fwd, model, noise_cov=empirical)
    shrunk = mne.compute_covariance(epochs, tmax=0.0, method="shrunk", verbose=False)
    with _no_warning("ill-conditioned"):
        apply_deep_inverse(evoked, meg_template_fwd, model, noise_cov=shrunk)


class _no_warning:
    """Fail if a warning matching ``match`` is raised in the block."""

    def __init__(self, match):
        import warnings

        self.match = match
        self.record = warnings.catch_warnings(record=True)

    def __enter__(self):
        import warnings

        self.caught = self.record.__enter__()
        warnings.simplefilter("always")

    def __exit__(self, *exc):
        self.record.__exit__(*exc)
        hits = [str(w.message) for w in self.caught if self.match in str(w.message)]
        assert not hits, hits


def test_meg_units_and_flat_channels_warn(meg_template_fwd, fwd):
    """Gradiometers 100 times too small (in the data or in the covariance) and
    flat channels are plausible but suspect: a warning naming them."""
    model = load_model("anysensor")
    evoked, _ = _meg_data(meg_template_fwd)
    cov = mne.make_ad_hoc_cov(evoked.info, verbose=False)
    with _no_warning("gradiometers"), _no_warning("flat"):
        apply_deep_inverse(evoked, meg_template_fwd, model, noise_cov=cov)
    small = evoked.copy()
    grads = mne.pick_types(small.info, meg="grad")
    small.data[grads] /= 100.0  # T/cm read as T/m
    with pytest.warns(RuntimeWarning, match=r"The evoked data: the gradiometers "
                      r"are 0\.\d+ times the magnetometers.*too small"):
        apply_deep_inverse(small, meg_template_fwd, model, noise_cov=cov)
    bad_cov = mne.make_ad_hoc_cov(evoked.info, std=dict(grad=5e-15), verbose=False)
    with pytest.warns(RuntimeWarning, match="The noise covariance .its standard "
                      "deviations.: the gradiometers are 0.25 times"):
        apply_deep_inverse(evoked, meg_template_fwd, model, noise_cov=bad_cov)
    flat = evoked.copy()
    flat.data[5] = 0.0
    with pytest.warns(RuntimeWarning, match=rf"1 flat channel\(s\).*{flat.ch_names[5]}"
                      r".*Mark it bad"):
        apply_deep_inverse(flat, meg_template_fwd, model, noise_cov=cov)
    flat.info["bads"] = [flat.ch_names[5]]  # the remedy: left out, no warning
    with _no_warning("flat"):
        apply_deep_inverse(flat, meg_template_fwd, model, noise_cov=cov)
    # a CTF compensation grade other than the forward's: refused (any-sensor too)
    comp = evoked.copy()
    with comp.info._unlock():
        for ch in comp.info["chs"]:
            ch["coil_type"] = int(ch["coil_type"]) | (3 << 16)
    with pytest.raises(ValueError, match="compensation grade 3"):
        apply_deep_inverse(comp, meg_template_fwd, model, noise_cov=cov)
    eeg = _eeg_evoked(fwd, 2500, seed=3)
    eeg.data[[2, 7]] = 1e-6  # two constant channels
    for name in ("convdip", "anycap"):
        with pytest.warns(RuntimeWarning, match=r"2 flat channel\(s\)"):
            apply_deep_inverse(eeg, fwd, name)
