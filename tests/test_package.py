# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.

import logging
import re
import ssl  # noqa: F401 (before no_network patches socket: ssl subclasses it)
import subprocess
import sys
from pathlib import Path

import mne
import pytest

import mne_deepinverse
from mne_deepinverse.__main__ import main

ROOT = Path(__file__).resolve().parents[1]


def test_import_does_not_import_torch():
    code = (
        "import sys, mne_deepinverse, mne_deepinverse.datasets, "
        "mne_deepinverse.simulation, mne_deepinverse.metrics, "
        "mne_deepinverse.baselines; "
        "assert 'torch' not in sys.modules, 'torch imported'; "
        "assert 'onnxruntime' not in sys.modules, 'onnxruntime imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_readme_commands_match_ci():
    """CI runs the README's two quick-start commands exactly, each in a new
    virtual environment with an empty MNE_DATA."""
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)\n```", readme, flags=re.S)
    assert len(blocks) >= 2
    run_command, test_command = blocks[0].strip(), blocks[1].strip()
    assert "mne-deepinverse demo" in run_command
    assert "pytest" in test_command and "torch==2.13.0" in test_command
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert run_command in ci and test_command in ci
    # each command runs right after a fresh environment was made, and its
    # status is checked on the next line (set -e ignores a failure inside an
    # `a && b` list unless it is the last command)
    for command, name in ((run_command, "demo"), (test_command, "tests")):
        at = ci.index(command)
        before = [line for line in ci[:at] if line.strip()]
        assert before[-1] == f"fresh_env {name}"
        assert ci[at + 1].startswith("step_done ") and ci[at + 1].endswith(" $?")
    body = "\n".join(ci)
    assert '-m venv "$WORK/$1-venv"' in body  # a new venv...
    assert 'export MNE_DATA="$WORK/$1-mne_data"' in body  # ...and an empty cache
    assert "set -euo pipefail" in body


def _requirements():
    """Names and specifiers of the declared dependencies (pyproject.toml)."""
    from packaging.requirements import Requirement

    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {(r := Requirement(s)).name: r for s in project["dependencies"]}
    extras = {
        name: {(r := Requirement(s)).name: r for s in reqs}
        for name, reqs in project["optional-dependencies"].items()
    }
    return core, extras


def test_runtime_dependencies_declared():
    """Every third-party module the package imports is a core dependency
    (torch and onnx: the train extra; the EEG-to-fMRI and BIDS modules'
    imports: their extras), plus what MNE needs for our files."""
    import ast

    import_to_dist = {"sklearn": "scikit-learn", "mne_bids": "mne-bids",
                      "distributed": "dask"}
    train_only = {"torch", "onnx"}
    optional = {"nilearn": "fmri", "mne-bids": "bids", "dask": "bids",
                "joblib": "bids"}
    imported = set()
    for fname in (ROOT / "mne_deepinverse").rglob("*.py"):
        for node in ast.walk(ast.parse(fname.read_text())):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                imported.add(node.module.split(".")[0])
    third_party = {
        import_to_dist.get(m, m)
        for m in imported - set(sys.stdlib_module_names) - {"mne_deepinverse"}
    }
    core, extras = _requirements()
    assert third_party - train_only - set(optional) <= set(core), (
        third_party - set(core))
    assert train_only <= set(extras["train"])
    for dist, extra in optional.items():
        assert dist in extras[extra], (dist, extra)
    # MNE reads the template's FreeSurfer surfaces through nibabel
    assert "nibabel" in core
    # Evoked.interpolate_to (MNE 1.10) is used by the examples
    mne_spec = core["mne"].specifier
    assert mne_spec.contains("1.10") and not mne_spec.contains("1.9")


def test_torch_range_admits_cpu_build():
    """CI installs torch 2.13.0 (CPU) first; the train extra must accept it and
    current releases (no upper bound that would pull another build)."""
    _, extras = _requirements()
    spec = extras["train"]["torch"].specifier
    assert spec.contains("2.13.0")
    assert spec.contains("2.99.0") and spec.contains("3.0.0")


def test_sys_info(capsys, no_network):
    assert main(["sys-info"]) == 0
    out = capsys.readouterr().out
    assert "Platform" in out and "Python" in out  # mne.sys_info()'s
    ours = out[out.index("mne-deepinverse:"):]
    for name in ("mne-deepinverse", "torch", "onnxruntime", "template",
                 "pretrained", "cache (MNE_DATA)"):
        assert name in ours


def test_version_and_help_are_light():
    """--version and --help answer without importing MNE, numpy or torch."""
    code = """
import sys
from mne_deepinverse.__main__ import main
for argv in (["--version"], ["--help"], ["benchmark", "--help"]):
    try:
        main(argv)
    except SystemExit as exc:
        assert exc.code == 0, exc.code
heavy = sorted(m for m in ("mne", "numpy", "scipy", "sklearn", "torch", "onnxruntime")
               if m in sys.modules)
assert not heavy, heavy
"""
    out = subprocess.run([sys.executable, "-c", code], check=True,
                         capture_output=True, text=True).stdout
    assert f"mne-deepinverse {mne_deepinverse.__version__}" in out
    assert "--sensors" in out


def test_demo_keeps_log_level(tmp_path, capsys, no_network):
    """The demo runs; library code leaves the user's MNE log level as it was."""
    for path in Path(mne_deepinverse.__file__).parent.rglob("*.py"):
        assert "set_log_level(" not in path.read_text(encoding="utf-8"), path
    mne.set_log_level("DEBUG")
    try:
        assert main(["demo", "--out-dir", str(tmp_path)]) == 0
        assert mne.utils.logger.level == logging.DEBUG
    finally:
        mne.set_log_level("WARNING")
    out = capsys.readouterr().out
    assert "eLORETA" in out and "LCMV" in out
    assert (tmp_path / "mne_deepinverse_demo.png").is_file()
    assert str(tmp_path) in out


def test_cli_errors():
    with pytest.raises(SystemExit):
        main(["nope"])
