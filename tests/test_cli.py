# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.

import pytest

from mne_deepinverse import _demo, benchmark
from mne_deepinverse.__main__ import main


@pytest.fixture
def no_run(monkeypatch):
    """Fail if the CLI gets as far as the (slow) demo or benchmark."""

    def fail(*args, **kwargs):
        raise AssertionError("bad input reached the slow part")

    monkeypatch.setattr(_demo, "run_demo", fail)
    monkeypatch.setattr(benchmark, "run_benchmark", fail)


def _error(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


@pytest.mark.parametrize("value", ["-3", "0", "1.5", "x"])
def test_cli_n_samples(value, no_run, capsys, tmp_path):
    err = _error(["benchmark", "--n-samples", value, "--out-dir", str(tmp_path)],
                 capsys)
    assert err.startswith("mne-deepinverse benchmark: error: argument --n-samples")
    assert f"must be a positive integer (1, 2, ...), got '{value}'" in err
    assert not list(tmp_path.iterdir())  # no partial benchmark.json


def test_cli_n_trials_seed(no_run, capsys):
    err = _error(["benchmark", "--n-trials", "0"], capsys)
    assert "argument --n-trials: must be a positive integer" in err
    err = _error(["demo", "--seed", "-1"], capsys)
    assert "argument --seed: must be an integer >= 0, got '-1'" in err


@pytest.mark.parametrize("command", ["demo", "benchmark"])
def test_cli_out_dir_is_file(command, no_run, capsys, tmp_path):
    fname = tmp_path / "a_file"
    fname.write_text("")
    err = _error([command, "--out-dir", str(fname)], capsys)
    assert err.startswith(f"mne-deepinverse {command}: error: The output folder")
    assert "is a file. Pass a folder (it is created if missing)." in err


def test_cli_out_dir_created(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(_demo, "run_demo", lambda **kw: calls.append(kw))
    out = tmp_path / "new" / "folder"
    assert main(["demo", "--out-dir", str(out), "--seed", "3"]) == 0
    assert out.is_dir()
    assert calls == [dict(out_dir=str(out), random_state=3, show=False)]


def test_run_demo_out_dir_is_file():
    """run_demo checks its folder before any work, too."""
    with pytest.raises(FileExistsError, match="is a file. Pass a folder"):
        _demo.run_demo(out_dir=__file__)


def test_cli_bad_model(no_run, capsys, tmp_path):
    err = _error(["benchmark", "--models", "nope", "--out-dir", str(tmp_path)],
                 capsys)
    assert "error: Invalid value for the 'model' parameter" in err
    err = _error(["benchmark", "--models", str(tmp_path / "x.onnx")], capsys)
    assert "error: Model file does not exist" in err


def test_cli_bad_montage(no_run, capsys, tmp_path):
    err = _error(["benchmark", "--montage", "biosemi65", "--out-dir", str(tmp_path)],
                 capsys)
    assert err.startswith("mne-deepinverse benchmark: error: Invalid value for the "
                          "'montage' parameter. Allowed values are None")
    assert "mne.channels.get_builtin_montages()" in err
    assert "but got 'biosemi65' instead" in err
    # a montage that cannot be on the template fails before the run, too
    err = _error(["benchmark", "--montage", "spherical_1020"], capsys)
    assert "These positions cannot be meant for the template head" in err
    assert not list(tmp_path.iterdir())


def test_cli_montage_passed_on(monkeypatch, tmp_path):
    """--montage reaches run_benchmark; models are checked on that cap there."""
    calls = []

    class Stop(Exception):
        pass

    def run(**kwargs):
        calls.append(kwargs)
        raise Stop

    monkeypatch.setattr(benchmark, "run_benchmark", run)
    with pytest.raises(Stop):
        main(["benchmark", "--montage", "GSN-HydroCel-128", "--models", "unet",
              "--n-samples", "2", "--out-dir", str(tmp_path)])
    assert calls[0]["montage"] == "GSN-HydroCel-128"
    assert calls[0]["models"] == ("unet",) and calls[0]["n_samples"] == 2
    with pytest.raises(Stop):
        main(["benchmark", "--models", "convdip", "--out-dir", str(tmp_path)])
    assert calls[1]["montage"] is None


def test_cli_quick_and_n_samples(no_run, capsys):
    err = _error(["benchmark", "--quick", "--n-samples", "300"], capsys)
    assert "--quick runs 30 samples per set, but --n-samples 300 was given" in err
