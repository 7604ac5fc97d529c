# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from mne_deepinverse.__main__ import main
from mne_deepinverse.benchmark import (
    CLASSIC_1020,
    TUNING_GRID,
    BenchmarkResult,
    run_benchmark,
)
from mne_deepinverse.benchmark._methods import _deep_on_cap, _load_deep_models
from mne_deepinverse.benchmark._protocol import (
    _check_montage,
    _meg_setup,
    _montage_info,
    _n_trials_for,
    _simulate_test_sample,
)
from mne_deepinverse.benchmark._result import _paired_stats, _summary


@pytest.fixture(scope="module")
def result():
    return run_benchmark(n_samples=3, n_validation=2, progress=False, random_state=0)


_BASELINES = ["eLORETA", "dSPM", "sLORETA", "LCMV", "MxNE", "irMxNE", "gamma-MAP",
              "TRAP-MUSIC", "dipole"]


def test_run_benchmark(result, tmp_path):
    methods = result.methods
    assert methods == ["convdip", "unet", "vnet", "sifnet", "anycap", "anysensor",
                       *_BASELINES]
    # the dipole fit runs on single sources only
    assert len(result.records) == 2 * 3 * 15 - 3
    assert {r["set"] for r in result.records if r["method"] == "dipole"} == {"single"}
    summ = result.summary()
    assert "dipole" in summ["single"] and "dipole" not in summ["multi"]
    for kind in ("single", "multi"):
        for m in summ[kind]:
            auc = summ[kind][m]["auc"]
            assert 0 <= auc["q25"] <= auc["median"] <= auc["q75"] <= 1
            assert summ[kind][m]["time_ms"]["median"] > 0
    single = [r for r in result.records if r["set"] == "single"]
    assert {r["n_patches"] for r in single} == {1}
    assert all(2 <= r["extent"] <= 7 for r in single)
    # the detection F1 is recorded next to found and ghosts, and agrees with them
    for r in result.records:
        assert 0 <= r["f1"] <= 1
        assert (r["f1"] == 0) == (r["found"] == 0)
    assert summ["multi"]["convdip"]["f1"]["n"] == 3
    table = result.table()
    assert table.splitlines()[0].startswith(
        "Benchmark on the ConvDip paper's 31 channels: AGM test data, 3 samples")
    assert "convdip" in table and "LCMV" in table and "f1" in table.splitlines()[1]
    assert "not applicable" not in table
    stats = result.statistics()
    assert set(stats["multi"]) == {"chosen", "auc", "mle", "nmse", "f1"}
    assert "f1" not in stats["single"]
    for kind, st in stats.items():  # per metric: the best of each kind for it
        for met in ("auc", "mle", "nmse"):
            assert st[met]["deep"] == result.best(kind, True, met)
            assert st[met]["baseline"] == result.best(kind, False, met)
            assert st[met]["baseline"] in _BASELINES
    best_mle = min(_BASELINES, key=lambda m: np.median(result.values("single", m,
                                                                     "mle")))
    assert np.median(result.values("single", stats["single"]["mle"]["baseline"],
                                   "mle")) == np.median(result.values(
                                       "single", best_mle, "mle"))
    # MNE's settings were chosen on validation samples, per set; the protocol
    cfg = result.config
    assert cfg["protocol"] == "realistic" and "1/f" in cfg["noise"]
    assert "head not the template's: scaled by" in cfg["agm"]
    assert "co-registered off by 3 degrees and 3 mm" in cfg["agm"]
    assert "shrunk" in cfg["noise_cov"] and cfg["evokeds"]["tmin"] == -0.2
    assert cfg["n_validation"] == 2
    for kind in ("single", "multi"):
        tuned = cfg["tuned"][kind]
        assert set(tuned) == set(_BASELINES) - {"dipole"}
        assert tuned["dSPM"]["snr"] in TUNING_GRID["dSPM"]["snr"]
        assert set(tuned["sLORETA"]) == {"snr", "depth"}
        assert tuned["TRAP-MUSIC"]["n_dipoles"] in TUNING_GRID["TRAP-MUSIC"][
            "n_dipoles"]
        rows = cfg["validation"]["scores"][kind]["dSPM"]
        assert len(rows) == 7 * 4  # every setting tried, with its objective
        objective = [r[1] for r in rows]
        best = min(objective) if kind == "single" else max(objective)
        assert [r[0] for r in rows if r[1] == best][0] == tuned["dSPM"] or \
            objective.count(best) > 1
    js, csv_fname = result.save(tmp_path)
    data = json.loads(js.read_text())
    cfg = data["config"]
    assert cfg["n_samples"] == 3
    assert cfg["montage"] is None and cfg["n_channels"] == 31
    assert cfg["n_trials"] == 20
    assert cfg["not_applicable"] == {} and cfg["deep"] == methods[:6]
    assert cfg["tuned"] == result.config["tuned"]
    assert data["summary"]["multi"]["unet"]["f1"]["n"] == 3
    # the CSV: one row per record, the values as str() writes them
    lines = csv_fname.read_text().splitlines()
    assert lines[0] == ",".join(result.records[0])
    assert lines[0].count(",f1,") == 1
    assert lines[1:] == [",".join(str(v) for v in r.values()) for r in result.records]
    with open(csv_fname, newline="") as fid:
        rows = list(csv.DictReader(fid))
    assert [float(row["auc"]) for row in rows] == [r["auc"] for r in result.records]
    figs = result.plot(tmp_path)
    assert len(figs) >= 4 and all(f.is_file() for f in figs)


def test_run_benchmark_erp_window_model():
    """Evoked-response time courses: window models see the whole evoked."""
    res = run_benchmark(models=("convdip", "sifnet"), baselines=("sLORETA",),
                        n_samples=2, time_course="erp", progress=False,
                        random_state=0, n_validation=0)
    assert res.methods == ["convdip", "sifnet", "sLORETA"]
    cfg = res.config
    assert cfg["time_course"] == "erp"
    assert cfg["evokeds"] == dict(sfreq=250.0, tmin=-0.2, tmax=0.308,
                                  active=(0.0, 0.3))
    assert cfg["n_trials"] == 20  # 51 baseline samples per trial
    assert cfg["tuned"] == {}  # n_validation=0: MNE's defaults
    for r in res.records:
        assert 0 <= r["auc"] <= 1 and np.isfinite(r["mle"])


def test_cli_names_are_the_benchmark_s():
    """The command line lists the methods and protocols without importing MNE."""
    from mne_deepinverse._registry import BENCHMARK_BASELINES, BENCHMARK_PROTOCOLS
    from mne_deepinverse.benchmark import BASELINES, PROTOCOLS, TUNING_GRID

    assert tuple(PROTOCOLS) == BENCHMARK_PROTOCOLS
    assert BASELINES == BENCHMARK_BASELINES and set(BASELINES) <= set(TUNING_GRID)


def test_paired_stats():
    rng = np.random.default_rng(0)
    a = rng.normal(1.0, 0.1, 50)
    b = a - 0.5 + rng.normal(0, 0.05, 50)
    s = _paired_stats(a, b, 2000, rng)
    assert s["p_value"] < 0.01 and s["cohens_d"] > 5
    s = _paired_stats(a, a + rng.normal(0, 0.1, 50), 2000, rng)
    assert s["p_value"] > 0.01
    assert _paired_stats(a, a, 100, rng)["p_value"] == 1.0
    # scipy's exact test on few samples: 2 ** 5 sign flips, the observed one the
    # most extreme (both signs: p = 2 / 32)
    s = _paired_stats(np.arange(1.0, 6.0), np.zeros(5), 10_000, rng)
    assert s["p_value"] == pytest.approx(2 / 32)


def test_failures_count_in_summaries():
    """An all-zero estimate (inf distance) is the worst value, never dropped."""
    ok = _summary([10.0, 12.0, 14.0, 16.0])
    failing = _summary([10.0, 12.0, np.inf, np.inf])
    assert failing["n"] == 4 and failing["n_failed"] == 2
    assert failing["median"] > ok["median"] and np.isinf(failing["q75"])
    assert _summary([10.0, np.nan])["n"] == 1  # undefined values are left out
    rng = np.random.default_rng(0)
    a = rng.normal(10.0, 1.0, 20)
    b = a.copy()
    b[:3] = np.inf
    s = _paired_stats(a, b, 100, rng)
    assert s["n"] == 17 and s["n_excluded"] == 3


def test_cli_benchmark(tmp_path, capsys):
    assert main(["benchmark", "--n-samples", "2", "--out-dir", str(tmp_path),
                 "--seed", "0", "--n-validation", "1", "--baselines", "dSPM",
                 "MxNE", "--protocol", "convdip-paper", "--models", "convdip"]) == 0
    out = capsys.readouterr().out
    assert "Cohen's d" in out and "benchmark.json" in out
    cfg = json.loads((tmp_path / "benchmark.json").read_text())["config"]
    assert cfg["protocol"] == "convdip-paper" and cfg["baselines"] == ["dSPM", "MxNE"]
    assert cfg["evokeds"]["tmin"] == -0.1 and "only" in cfg["noise"]
    assert cfg["agm"].startswith("oct6")  # the template's head
    assert set(cfg["tuned"]["single"]) == {"dSPM", "MxNE"}
    assert (tmp_path / "benchmark_by_extent.png").is_file()
    assert not (tmp_path / "benchmark.checkpoint.json").exists()  # done: removed


@pytest.mark.parametrize("kwargs, err, match", [
    (dict(n_samples=0), ValueError, "n_samples must be a positive integer, got 0"),
    (dict(n_samples=-3), ValueError, "n_samples must be a positive integer"),
    (dict(n_samples=2.0), TypeError, "n_samples must be an int"),
    (dict(n_trials=0), ValueError, "n_trials must be a positive integer"),
    (dict(n_samples=10**9), ValueError, "n_samples=1000000000 would take days"),
    (dict(n_trials=10**8), ValueError, "would not fit in memory or time"),
    (dict(quick=True, n_samples=300), ValueError, "quick=True runs 30 samples per "
     "set, but n_samples=300 was given too"),
    (dict(baselines="LCMV"), TypeError, "baselines must be an instance of list"),
    (dict(baselines=("MUSIC",)), ValueError, "Invalid value for the 'baselines'"),
    (dict(models="convdip"), TypeError, "models must be an instance of list"),
    (dict(models=("nope",)), ValueError, "Invalid value for the 'model'"),
    (dict(montage=64), TypeError, "montage must be an instance of str or None"),
    (dict(montage="biosemi65"), ValueError,
     r"Invalid value for the 'montage' parameter.*biosemi64.*"
     r"mne.channels.get_builtin_montages\(\)\), but got 'biosemi65' instead"),
    (dict(montage="spherical_1020"), ValueError, "cannot be meant for the template"),
    (dict(montage="biosemi64", models=("nope",)), ValueError,
     "Invalid value for the 'model'"),
    (dict(time_course="gamma"), ValueError, "Invalid value for the 'time_course'"),
    (dict(protocol="paper"), ValueError, "Invalid value for the 'protocol'"),
    (dict(n_validation=-1), ValueError, "n_validation must be in"),
    (dict(n_validation=2.5), TypeError, "n_validation must be an int"),
])
def test_run_benchmark_errors(kwargs, err, match, monkeypatch):
    """Bad arguments fail before any forward is built."""
    from mne_deepinverse.benchmark import _protocol

    def fail(*args, **kwargs):
        raise AssertionError("bad input reached the slow part")

    monkeypatch.setattr(_protocol, "make_agm_forward", fail)
    monkeypatch.setattr(_protocol, "make_template_forward", fail)
    with pytest.raises(err, match=match):
        run_benchmark(**kwargs)


def test_load_deep_models_twice():
    """Two models of one name are both kept, not one silently dropped."""
    deep, fwd = _load_deep_models(("convdip", "convdip"))
    assert list(deep) == ["convdip", "convdip-2"]
    assert fwd["nsource"] == 5124


def test_n_trials_for_covariances():
    """Default trials: 20, more where MNE's covariances need more samples."""
    from mne_deepinverse.benchmark._protocol import _evokeds

    # 21 baseline samples per trial (200 ms at 100 Hz)
    assert [_n_trials_for(n) for n in (19, 31, 64, 83, 84, 128)] == [
        20, 20, 20, 20, 21, 31]
    for n in (128, 256):  # MNE's minimum: 5 (n_channels + 1) samples
        assert _n_trials_for(n) * 21 >= 5 * (n + 1) > (_n_trials_for(n) - 1) * 21
    paper = _evokeds("half-sine", "convdip-paper")  # 11 samples per trial
    assert [_n_trials_for(n, paper) for n in (43, 64, 128)] == [20, 30, 59]


def test_montage_caps():
    """Montage names: MNE's built-ins, 10-20 as its 19 classic channels."""
    info, cap = _montage_info("GSN-HydroCel-128")
    assert len(info["ch_names"]) == 128 and cap == "GSN-HydroCel-128, 128 channels"
    info, cap = _montage_info("fsaverage_1020")
    assert info["ch_names"] == list(CLASSIC_1020) and len(CLASSIC_1020) == 19
    assert cap == "fsaverage_1020, 19 channels (the classic 10-20 channels)"
    assert _check_montage(None) is None
    assert _check_montage("biosemi64") == "biosemi64"
    # MNE >= 1.13 reads its deprecated standard_1020 as colin27_1020: no warning
    new = _check_montage("standard_1020")
    assert new in ("standard_1020", "colin27_1020")
    info, cap = _montage_info("standard_1020")
    assert info["ch_names"] == list(CLASSIC_1020)
    assert cap.startswith("standard_1020, 19 channels (")


class _AnyCap:
    """A stand-in for a model that accepts any cap."""

    any_cap = reads_forward = True

    def __init__(self, ok):
        self.ok = ok

    def bind(self, fwd):
        if not self.ok:
            raise ValueError("The cap has 19 EEG channels, fewer than the 32 this "
                             "model was trained for. Use a cap with more.")
        return fwd


def test_deep_on_cap(fwd, caplog):
    """Which deep models run on a cap, on which channels, and why not."""
    import mne

    from mne_deepinverse._load import load_model as _load_model

    model = _load_model("convdip")
    names = model.ch_names
    # a cap with the model's channels in another order: it runs, picking them
    cap_fwd = mne.pick_channels_forward(fwd, names[::-1], ordered=True,
                                        verbose=False)
    picks, na = _deep_on_cap(dict(convdip=model), cap_fwd, "reversed")
    assert na == {} and list(picks) == ["convdip"]
    assert [cap_fwd["info"]["ch_names"][p] for p in picks["convdip"]] == names
    x = np.random.default_rng(0).normal(size=(1, 31)) * 1e-6
    x_cap = x[:, ::-1]
    np.testing.assert_allclose(model.predict(x_cap[:, picks["convdip"]]),
                               model.predict(x), rtol=1e-6)
    # a cap that lacks channels; a cap whose forward differs
    small = mne.pick_channels_forward(fwd, names[:20], ordered=True, verbose=False)
    other = fwd.copy()
    other["sol"] = dict(other["sol"], data=other["sol"]["data"] * 1.5)
    other["sol"]["data"][0] *= 2
    deep = dict(convdip=model, anycap=_AnyCap(True), anycap_small=_AnyCap(False))
    with caplog.at_level("WARNING", logger="mne"):
        picks, na = _deep_on_cap(deep, small, "small cap")
    assert list(picks) == ["anycap"]
    np.testing.assert_array_equal(picks["anycap"], np.arange(20))
    assert na["convdip"] == (
        "the cap lacks 11 of its 31 channels (CP6, CP2, Cz, C4, T8, ...)")
    assert na["anycap_small"] == (
        "its check of the cap's forward fails: The cap has 19 EEG channels, "
        "fewer than the 32 this model was trained for")
    assert "convdip is not applicable on small cap: missing channels" in caplog.text
    assert "the MNE solvers still run" in caplog.text
    picks, na = _deep_on_cap(dict(convdip=model), other, "other")
    assert picks == {}
    assert na["convdip"].startswith(
        "its forward check fails on the cap's forward: The forward's gain matrix "
        "differs from the one the model was trained on")


@pytest.fixture(scope="module")
def cap_result():
    """A benchmark on 10-20: no shipped model has its channels there."""
    return run_benchmark(montage="fsaverage_1020", n_samples=2, progress=False,
                         random_state=0, baselines=("eLORETA", "LCMV"),
                         n_validation=1,
                         models=("convdip", "unet", "vnet"))


def test_run_benchmark_montage(cap_result, tmp_path):
    res = cap_result
    assert res.methods == ["eLORETA", "LCMV"]
    cfg = res.config
    assert cfg["montage"] == "fsaverage_1020" and cfg["n_channels"] == 19
    assert cfg["ch_names"] == list(CLASSIC_1020)
    assert cfg["models"] == ["convdip", "unet", "vnet"] and cfg["deep"] == []
    assert set(cfg["not_applicable"]) == {"convdip", "unet", "vnet"}
    assert cfg["not_applicable"]["unet"].startswith("the cap lacks 13 of its 31")
    assert "fsaverage_1020, 19 channels" in cfg["forward"]
    assert len(res.records) == 2 * 2 * 2
    assert all(0 <= r["f1"] <= 1 for r in res.records)
    table = res.table()
    assert table.splitlines()[0].startswith(
        "Benchmark on fsaverage_1020, 19 channels (the classic 10-20 channels)")
    assert "multi  vnet        not applicable: the cap lacks 13" in table
    assert res.statistics() == {}  # no deep model to test
    js, _ = res.save(tmp_path / "cap")
    data = json.loads(js.read_text())
    assert data["config"]["not_applicable"] == cfg["not_applicable"]
    assert set(data["summary"]["multi"]) == {"eLORETA", "LCMV"}


def test_run_benchmark_montage_models_run(monkeypatch):
    """On a cap with the models' channels and forward, the models run."""
    from mne_deepinverse.benchmark import _protocol
    from mne_deepinverse.datasets import (
        CONVDIP_CH_NAMES,
        make_template_info,
        read_pretrained_forward,
    )

    real = _protocol.make_template_forward

    def cap_info(montage):  # the shipped models' cap, as a montage
        return make_template_info(CONVDIP_CH_NAMES), "test cap, 31 channels"

    def template_forward(info, spacing="ico4", *args, **kwargs):
        if spacing == "oct6":  # the AGM's forward
            return real(info, spacing, *args, **kwargs)
        return read_pretrained_forward("convdip", fixed=False)

    monkeypatch.setattr(_protocol, "_montage_info", cap_info)
    monkeypatch.setattr(_protocol, "make_template_forward", template_forward)
    res = run_benchmark(montage="test", models=("convdip",), n_samples=1,
                        baselines=("sLORETA",), progress=False, random_state=0,
                        n_validation=1)
    assert res.methods == ["convdip", "sLORETA"]
    assert res.config["deep"] == ["convdip"] and res.config["not_applicable"] == {}
    assert res.config["n_channels"] == 31
    assert res.config["cap"] == "test cap, 31 channels"
    assert "not applicable" not in res.table()
    assert set(res.statistics()["multi"]) == {"chosen", "auc", "mle", "nmse", "f1"}


def test_cli_benchmark_montage(cap_result, tmp_path, capsys):
    """The CLI takes --montage; the run reports the models it could not run."""
    assert main(["benchmark", "--montage", "fsaverage_1020", "--n-samples", "1",
                 "--models", "convdip", "--out-dir", str(tmp_path),
                 "--seed", "0", "--baselines", "sLORETA", "--n-validation",
                 "0"]) == 0
    out = capsys.readouterr().out
    assert "Benchmark on fsaverage_1020, 19 channels" in out
    assert "convdip     not applicable: the cap lacks 13 of its 31" in out
    assert "No deep model ran on this cap" in out
    cfg = json.loads((tmp_path / "benchmark.json").read_text())["config"]
    assert cfg["montage"] == "fsaverage_1020" and cfg["n_channels"] == 19


def test_benchmark_meg(meg_template_fwd):
    """MEG test data: the AGM's head moves in the helmet, real MEG noise; the
    methods see the nominal head position and get the baseline covariance."""
    res = run_benchmark(models=("anysensor", "convdip"), sensors="meg",
                        baselines=("dSPM",), n_samples=2, time_course="erp",
                        progress=False, random_state=0, n_validation=0)
    cfg = res.config
    assert cfg["sensors"] == "meg" and cfg["n_channels"] == 306
    assert "head rotated by 3 degrees and shifted by 3 mm" in cfg["agm"]
    assert cfg["deep"] == ["anysensor"]
    assert cfg["not_applicable"]["convdip"].startswith("the cap lacks 31")
    assert res.methods == ["anysensor", "dSPM"]
    for r in res.records:
        assert np.isfinite(r["auc"]) and np.isfinite(r["mle"])
    info, cap, _, fwd_agm, cov = _meg_setup("meg", None, 250.0, 0)
    assert cap.startswith("Neuromag VectorView")
    moved = fwd_agm["info"]["dev_head_t"]["trans"] - info["dev_head_t"]["trans"]
    assert 1e-3 < np.linalg.norm(moved[:3, 3]) < 2e-2  # the AGM's head moved
    assert [p["desc"] for p in cov["projs"]] == ["PCA-v1", "PCA-v2", "PCA-v3"]
    rng = np.random.default_rng(0)
    evoked = _simulate_test_sample(
        fwd_agm, fwd_agm["source_rr"], meg_template_fwd["source_rr"], 1, 3,
        (10.0, 10.0), 4, rng, "erp", cov, info)[0]
    np.testing.assert_array_equal(evoked.info["dev_head_t"]["trans"],
                                  info["dev_head_t"]["trans"])
    assert len(evoked.info["projs"]) == 3
    with pytest.raises(ValueError, match="Invalid value for the 'sensors'"):
        run_benchmark(sensors="ecog")


def test_read_saved_run(tmp_path):
    """A saved run reads back with the same summary and statistics."""
    static = Path(__file__).resolve().parents[1] / "doc" / "_static" / "benchmark"
    fname = static / "meg" / "benchmark.json"
    res = BenchmarkResult.read(fname)
    assert res.config["sensors"] == "meg" and res.methods[0] == "anysensor"
    saved = json.loads(fname.read_text())
    assert res.summary()["single"]["anysensor"]["auc"] == pytest.approx(
        saved["summary"]["single"]["anysensor"]["auc"])
    st = res.statistics(n_permutations=2000)
    assert st["single"]["auc"]["deep"] == "anysensor"
    assert st["single"]["auc"]["p_value"] < 0.01


def test_reuse_baselines(result, tmp_path, capsys):
    """A run reuses an earlier run's baselines on the same test data only."""
    result.save(tmp_path)
    kw = dict(models=("convdip",), n_samples=3, n_validation=2, progress=False,
              random_state=0)
    res = run_benchmark(reuse_baselines=tmp_path, **kw)
    base = _BASELINES
    assert res.methods == ["convdip"] + base
    assert res.config["tuned"] == result.config["tuned"]  # reused, not re-tuned
    assert res.config["baselines_from"]["run"] == str(tmp_path / "benchmark.json")

    def rows(r, methods):
        return [{k: v for k, v in rec.items() if k != "time_ms"}
                for rec in r.records if rec["method"] in methods]

    # the deep model ran anew and scores as before; the baselines are reused
    assert rows(res, ["convdip"]) == rows(result, ["convdip"])
    assert [r for r in res.records if r["method"] in base] == [
        r for r in result.records if r["method"] in base]
    assert set(res.examples["single0"]) == {"truth", "convdip", *base}
    saved = json.loads(res.save(tmp_path / "new")[0].read_text())
    assert saved["config"]["baselines_from"] == res.config["baselines_from"]
    # nothing to reuse without baselines: the deep models alone
    assert run_benchmark(reuse_baselines=tmp_path, baselines=(), **kw).methods == [
        "convdip"]
    with pytest.raises(ValueError, match=r"other test data.*random_state: 0 there, "
                                         "2 here"):
        run_benchmark(reuse_baselines=tmp_path, **{**kw, "random_state": 2})
    partial = BenchmarkResult([r for r in result.records if r["method"] != "LCMV"],
                              result.config, {})
    with pytest.raises(ValueError, match="has no scores of LCMV"):
        run_benchmark(reuse_baselines=partial, **kw)
    tampered = BenchmarkResult([dict(r) for r in result.records], result.config, {})
    tampered.records[-1]["eccentricity_mm"] += 1.0  # the last multi-source sample
    with pytest.raises(RuntimeError, match="Test sample 2 of the multi-source set "
                                           "differs"):
        run_benchmark(reuse_baselines=tampered, **kw)
    with pytest.raises(FileNotFoundError, match="no benchmark.json there"):
        run_benchmark(reuse_baselines=tmp_path / "nope", **kw)
    with pytest.raises(SystemExit):
        main(["benchmark", "--reuse-baselines", str(tmp_path / "nope"),
              "--out-dir", str(tmp_path)])
    assert "no benchmark.json there" in capsys.readouterr().err


def test_reuse_baselines_bad_json(tmp_path):
    """A file that is not a run's JSON is named in the error."""
    fname = tmp_path / "benchmark.json"
    fname.write_text("{not json")
    with pytest.raises(ValueError, match=r"benchmark.json is not a benchmark run"):
        run_benchmark(quick=True, reuse_baselines=fname)


def test_checkpoint_resumes(tmp_path, monkeypatch):
    """A stopped run resumes from its checkpoint and gives the same result."""
    from mne_deepinverse.benchmark import _run

    kw = dict(models=("convdip",), baselines=("dSPM", "LCMV"), n_samples=3,
              n_validation=1, progress=False, random_state=0)
    whole = run_benchmark(**kw)
    monkeypatch.setattr(_run, "_CHECKPOINT_EVERY", 1)
    simulate, calls = _run._simulate_test_sample, []

    def stop_at_2nd_multi(*args, **kwargs):  # validation: 2, single: 3, multi: 1
        calls.append(1)
        if len(calls) == 2 + 3 + 2:
            raise KeyboardInterrupt
        return simulate(*args, **kwargs)

    fname = tmp_path / "ck.json"
    monkeypatch.setattr(_run, "_simulate_test_sample", stop_at_2nd_multi)
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(checkpoint=fname, **kw)
    state = json.loads(fname.read_text())
    assert (state["position"]["kind"], state["position"]["index"]) == ("multi", 0)
    assert len(state["records"]) == (3 + 1) * 3  # 3 methods (dSPM, LCMV, ConvDip)
    monkeypatch.setattr(_run, "_simulate_test_sample", simulate)
    calls.clear()
    resumed = run_benchmark(checkpoint=fname, **kw)

    def rows(res):
        return [{k: v for k, v in r.items() if k != "time_ms"} for r in res.records]

    assert rows(resumed) == rows(whole)
    assert resumed.config["tuned"] == whole.config["tuned"]
    assert resumed.examples == whole.examples
    position = json.loads(fname.read_text())["position"]
    assert (position["kind"], position["index"]) == ("multi", 2)
    # stopped while tuning (the 2nd single-source validation sample of 2)
    kw2 = {**kw, "n_validation": 2, "n_samples": 1}
    whole2 = run_benchmark(**kw2)
    calls.clear()
    fname2 = tmp_path / "ck2.json"

    def stop_at_2nd(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return simulate(*args, **kwargs)

    monkeypatch.setattr(_run, "_CHECKPOINT_EVERY", 1)
    monkeypatch.setattr(_run, "_simulate_test_sample", stop_at_2nd)
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(checkpoint=fname2, **kw2)
    tuning = json.loads(fname2.read_text())["tuning"]
    assert tuning["current"]["index"] == 0 and not tuning["done"]
    monkeypatch.setattr(_run, "_simulate_test_sample", simulate)
    resumed2 = run_benchmark(checkpoint=fname2, **kw2)
    assert resumed2.config["tuned"] == whole2.config["tuned"]
    assert resumed2.config["validation"] == json.loads(json.dumps(
        whole2.config["validation"]))
    assert rows(resumed2) == rows(whole2)
    # another run's checkpoint is refused, naming what differs
    with pytest.raises(ValueError, match=r"other settings \(random_state: 0 there, "
                                         r"1 here\)"):
        run_benchmark(checkpoint=fname, **{**kw, "random_state": 1})
    fname.write_text("{not json")
    with pytest.raises(ValueError, match="ck.json is not a benchmark run's state"):
        run_benchmark(checkpoint=fname, **kw)
