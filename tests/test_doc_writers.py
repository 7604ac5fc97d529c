# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""The documentation's page generators (``doc/sphinxext/``)."""

import json
import sys
from pathlib import Path

import pytest

from mne_deepinverse._registry import PRETRAINED
from mne_deepinverse.benchmark import BenchmarkResult

DOC = Path(__file__).resolve().parents[1] / "doc"
STATIC = DOC / "_static" / "benchmark"
sys.path.insert(0, str(DOC / "sphinxext"))

from model_zoo import write_model_zoo  # noqa: E402
from results_page import _results_section, write_results_page  # noqa: E402


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two documented runs (the template's 31 channels, 10-20), saved anew."""
    out = tmp_path_factory.mktemp("runs")
    return [BenchmarkResult.read(STATIC / name / "benchmark.json").save(out / name)[0]
            for name in ("c31", "colin27_1020")]


def test_results_page(runs, tmp_path):
    """One run: its tables, statistics and figures."""
    page = write_results_page(runs[0], tmp_path / "results.rst", figures=["a.png"])
    text = page.read_text()
    assert text.startswith("Benchmark results\n=================\n")
    assert "Single source" in text and "convdip" in text and ".. image:: a.png" in text
    assert "     - F1" in text
    # per metric, the best network against MNE's best method for that metric
    assert "- f1: **" in text and "**: mean difference" in text
    assert "Best deep model vs best MNE method (per metric" in text
    assert "the ConvDip paper's 31 channels" in text
    assert "Cap: " not in text  # one run: no section per cap


def test_results_page_caps(runs, tmp_path):
    """One page for two caps: a section per cap, not-applicable models listed."""
    c31 = json.loads(runs[0].read_text())
    page = write_results_page(runs, tmp_path / "results.rst",
                              figures=[["a.png"], []])
    text = page.read_text()
    # the title names the deep models (runs on one cap with other models)
    title = "Cap: the ConvDip paper's 31 channels (" + ", ".join(
        c31["config"]["deep"]) + ")"
    assert f"{title}\n{'-' * len(title)}\n" in text
    assert "Cap: colin27_1020, 19 channels" in text
    assert "1-10 sources (colin27_1020, 19 channels" in text
    assert "- not applicable on this cap: **convdip** (the cap lacks 13" in text
    assert text.count("     - not applicable") == 2 * 4
    assert text.count(".. image:: a.png") == 1
    with pytest.raises(ValueError, match="one list per JSON file"):
        write_results_page(runs, tmp_path / "r.rst", figures=[["a.png"]])
    # the SIFNet comparison (benchmarks/bench_sifnet.py) as a last section
    comparison = tmp_path / "sifnet_comparison.json"
    comparison.write_text(json.dumps(dict(
        n_windows=5, seed=0, perturbed=dict(p_sd=87.0),
        records={"neural mass | sLORETA": dict(le_mm=[5.0, 10.0, 20.0],
                                               concordance=0.4, auc=0.8, n=5)})))
    page = write_results_page(runs, tmp_path / "r.rst", comparison=comparison)
    text = page.read_text()
    assert text.index("Cap: colin27_1020") < text.index(
        "SIFNet: neural-mass vs patch training data\n---")
    assert "   * - neural mass\n     - sLORETA\n     - 10.0 [5.0-20.0]\n     - 40 %" \
        in text


def test_results_section_reused_baselines(runs):
    """A run with reused baselines says so; one without deep model has no test."""
    data = json.loads(runs[1].read_text())
    data["config"]["baselines_from"] = dict(run="x/benchmark.json",
                                            mne_version="1.0")
    data["statistics"] = {}
    text = "\n".join(_results_section(data, [], False))
    assert ("MNE solvers' scores and times: from an earlier run on the same test "
            "data (MNE 1.0") in text
    assert "Best deep model" not in text


def test_model_zoo_page(tmp_path):
    """The model zoo is written from every shipped card, with hashes and numbers."""
    from mne_deepinverse.datasets._pretrained import _read_registry

    runs = [STATIC / name / "benchmark.json"
            for name in (STATIC / "runs.txt").read_text().split()]
    text = write_model_zoo(tmp_path / "zoo.rst", runs).read_text()
    registry = _read_registry()
    for name, entry in PRETRAINED.items():
        assert f"\n{name}\n{'-' * len(name)}\n" in text
        assert registry[entry["model"]] in text
    # the MEG run's numbers are in the any-sensor model's table
    meg = json.loads((STATIC / "meg" / "benchmark.json").read_text())
    auc = meg["summary"]["single"]["anysensor"]["auc"]["median"]
    assert f"{auc:.3f}" in text.split("\nanysensor\n")[1]


def test_model_zoo_speed(tmp_path):
    """The speed section reads bench_apply.py's JSON: every model's ratio, memory
    and throughput, and the first-use times."""
    res = {"machine": dict(cpu="x86_64 (2 cores)", versions="MNE 1.x",
                           date="2026-12-08",
                           command="python benchmarks/bench_apply.py --first-use"),
           "first_use": dict(import_s=0.4, eeg_forward_s=1.61, eeg_first_apply_s=0.2,
                             meg_forward_s=8.64, meg_first_apply_s=1.5)}
    for k, name in enumerate(PRETRAINED):
        res[name] = dict(first_s=1.0, ours_s=0.1 * (k + 1), mne_dspm_s=0.08,
                         ratio=0.1 * (k + 1) / 0.08, peak_mb=40.0 + k,
                         raw=dict(beyond_mb=100.0 + k, real_time=50.0 - k))
    fname = tmp_path / "speed.json"
    fname.write_text(json.dumps(res))
    text = write_model_zoo(tmp_path / "zoo.rst", speed=fname).read_text()
    section = text.split("\nSpeed and memory\n")[1].split("\nBOLD synthesizers\n")[0]
    for k, name in enumerate(PRETRAINED):
        assert f"   * - {name}\n     - {0.1 * (k + 1):.3f}\n" in section
        assert f"     - {100 + k}\n     - {50 - k:.1f}\n" in section
    assert "forward in 1.6 s" in section and "forward in 8.6 s" in section
    assert "python benchmarks/bench_apply.py --first-use" in section
