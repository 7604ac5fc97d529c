# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.

import socket
import ssl  # noqa: F401 (imported before no_network replaces socket.socket)
import subprocess
import sys
import warnings

import mne
import numpy as np
import pytest


def pytest_configure(config):
    """Turn warnings into errors, except the ones listed here."""
    for line in (
        "error::",
        # third-party deprecations we cannot act on
        "ignore::DeprecationWarning:(?!mne_deepinverse)",
        "ignore::FutureWarning:(?!mne_deepinverse)",
        "ignore:.*is not baseline corrected.*:RuntimeWarning",
        "ignore:.*pkg_resources.*:UserWarning",
    ):
        config.addinivalue_line("filterwarnings", line)


@pytest.fixture(autouse=True)
def _mne_log_level():
    mne.set_log_level("WARNING")
    yield


@pytest.fixture
def no_network(monkeypatch):
    """Make any attempt to open a socket fail."""

    def guard(*args, **kwargs):
        raise RuntimeError("Network access attempted during an offline test")

    monkeypatch.setattr(socket, "socket", guard)
    monkeypatch.setattr(socket, "create_connection", guard)
    yield


_BLOCK_TORCH = """
import importlib.abc
import sys


class BlockTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] == "torch":
            raise ImportError("torch is blocked in this test")


sys.meta_path.insert(0, BlockTorch())
"""


@pytest.fixture
def run_without_torch():
    """Return a function that runs Python code in a process where torch fails
    to import, and checks at the end that torch was not imported."""

    def run(code):
        code = _BLOCK_TORCH + code + '\nassert "torch" not in sys.modules\n'
        subprocess.run([sys.executable, "-c", code], check=True)

    return run


@pytest.fixture(scope="session")
def fwd_free():
    from mne_deepinverse.datasets import read_pretrained_forward

    return read_pretrained_forward("convdip", fixed=False)


@pytest.fixture(scope="session")
def fwd(fwd_free):
    return mne.convert_forward_solution(
        fwd_free, surf_ori=True, force_fixed=True, use_cps=True, verbose=False
    )


@pytest.fixture(scope="session")
def biosemi64_fwd():
    """The template forward (ico4) for MNE's 64-channel BioSemi cap."""
    from mne_deepinverse.datasets import make_template_forward

    montage = mne.channels.make_standard_montage("biosemi64")
    info = mne.create_info(montage.ch_names, 100.0, "eeg").set_montage(montage)
    return make_template_forward(info)


@pytest.fixture(scope="session")
def meg_template_fwd():
    """The template forward (ico4) for the shipped Neuromag VectorView MEG."""
    from mne_deepinverse.datasets import make_template_forward, make_template_meg_info

    return make_template_forward(make_template_meg_info())


@pytest.fixture(scope="session")
def sphere_fwd():
    """A fast fixed-orientation forward on a discrete source space."""
    from mne_deepinverse.datasets import CONVDIP_CH_NAMES, make_template_info

    info = make_template_info(CONVDIP_CH_NAMES)
    sphere = mne.make_sphere_model("auto", "auto", info, verbose=False)
    rng = np.random.default_rng(0)
    rr = rng.normal(size=(400, 3))
    rr /= np.linalg.norm(rr, axis=1, keepdims=True)
    nn = rr.copy()
    rr = rr * 0.06 + sphere["r0"]
    src = mne.setup_volume_source_space(
        pos=dict(rr=rr, nn=nn), sphere=sphere, verbose=False
    )
    fwd = mne.make_forward_solution(info, None, src, sphere, meg=False, verbose=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mne.convert_forward_solution(
            fwd, surf_ori=True, force_fixed=True, verbose=False
        )
