# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.

import re
import subprocess
import sys
from pathlib import Path

import pytest

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
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)\n```", readme, flags=re.S)
    assert len(blocks) >= 2
    assert "mne-deepinverse demo" in blocks[0]
    test_command = blocks[1].strip()
    assert "pytest" in test_command and "torch==2.13.0" in test_command
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_command in ci.splitlines()


def test_sys_info(capsys, no_network):
    assert main(["sys-info"]) == 0
    out = capsys.readouterr().out
    for name in ("mne", "numpy", "torch", "onnxruntime", "template", "pretrained"):
        assert name in out


def test_demo(tmp_path, capsys, no_network):
    assert main(["demo", "--out-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "eLORETA" in out and "LCMV" in out
    assert (tmp_path / "mne_deepinverse_demo.png").is_file()
    assert str(tmp_path) in out


def test_cli_errors():
    with pytest.raises(SystemExit):
        main(["nope"])
