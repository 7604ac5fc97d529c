# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.

import json

import numpy as np
import pytest

from mne_deepinverse.__main__ import main
from mne_deepinverse.benchmark import (
    _paired_stats,
    _summary,
    run_benchmark,
    write_results_page,
)


@pytest.fixture(scope="module")
def result():
    return run_benchmark(n_samples=3, progress=False, random_state=1)


def test_run_benchmark(result, tmp_path):
    methods = result.methods
    assert methods == ["convdip", "unet", "vnet", "eLORETA", "dSPM", "sLORETA",
                       "LCMV"]
    assert len(result.records) == 2 * 3 * 7
    summ = result.summary()
    for kind in ("single", "multi"):
        for m in methods:
            auc = summ[kind][m]["auc"]
            assert 0 <= auc["q25"] <= auc["median"] <= auc["q75"] <= 1
            assert summ[kind][m]["time_ms"]["median"] > 0
    single = [r for r in result.records if r["set"] == "single"]
    assert {r["n_patches"] for r in single} == {1}
    assert all(2 <= r["extent"] <= 7 for r in single)
    table = result.table()
    assert "convdip" in table and "LCMV" in table
    js, csv = result.save(tmp_path)
    data = json.loads(js.read_text())
    assert data["config"]["n_samples"] == 3
    assert csv.read_text().count("\n") == len(result.records) + 1
    figs = result.plot(tmp_path)
    assert len(figs) >= 4 and all(f.is_file() for f in figs)
    page = write_results_page(js, tmp_path / "results.rst", figures=["a.png"])
    text = page.read_text()
    assert "Single source" in text and "convdip" in text and ".. image:: a.png" in text


def test_paired_stats():
    rng = np.random.default_rng(0)
    a = rng.normal(1.0, 0.1, 50)
    b = a - 0.5 + rng.normal(0, 0.05, 50)
    s = _paired_stats(a, b, 2000, rng)
    assert s["p_value"] < 0.01 and s["cohens_d"] > 5
    s = _paired_stats(a, a + rng.normal(0, 0.1, 50), 2000, rng)
    assert s["p_value"] > 0.01
    assert _paired_stats(a, a, 100, rng)["p_value"] == 1.0


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
                 "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "Cohen's d" in out and "benchmark.json" in out
    assert (tmp_path / "benchmark_by_extent.png").is_file()


@pytest.mark.parametrize("kwargs, err, match", [
    (dict(n_samples=0), ValueError, "n_samples must be a positive integer, got 0"),
    (dict(n_samples=-3), ValueError, "n_samples must be a positive integer"),
    (dict(n_samples=2.0), TypeError, "n_samples must be an int"),
    (dict(n_trials=0), ValueError, "n_trials must be a positive integer"),
    (dict(baselines="LCMV"), TypeError, "baselines must be an instance of list"),
    (dict(baselines=("MUSIC",)), ValueError, "Invalid value for the 'baselines'"),
    (dict(models="convdip"), TypeError, "models must be an instance of list"),
    (dict(models=("nope",)), ValueError, "Invalid value for the 'model'"),
])
def test_run_benchmark_errors(kwargs, err, match, monkeypatch):
    """Bad arguments fail before the AGM forward is built."""
    from mne_deepinverse import benchmark

    def fail(*args, **kwargs):
        raise AssertionError("bad input reached the slow part")

    monkeypatch.setattr(benchmark, "make_agm_forward", fail)
    with pytest.raises(err, match=match):
        run_benchmark(**kwargs)


def test_load_deep_models_twice():
    """Two models of one name are both kept, not one silently dropped."""
    from mne_deepinverse.benchmark import _load_deep_models

    deep, fwd = _load_deep_models(("convdip", "convdip"))
    assert list(deep) == ["convdip", "convdip-2"]
    assert fwd["nsource"] == 5124
