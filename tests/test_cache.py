# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Cached template files give the same values on a cold and a warm cache."""

import os

import numpy as np
import pytest

from mne_deepinverse.datasets import (
    get_cache_dir,
    make_template_bem,
    make_template_forward,
    make_template_info,
    setup_template_source_space,
)
from mne_deepinverse.datasets._template import _cached


def _write_f32(fname, obj, overwrite, verbose):
    np.save(fname, obj.astype(np.float32), allow_pickle=False)


def _read_f32(fname, verbose):
    return np.load(fname).astype(np.float64)


def _counted(values):
    """A compute function returning ``values``, and the list of its calls."""
    calls = []

    def compute():
        calls.append(1)
        return values

    return compute, calls


def test_cached_returns_what_was_written(tmp_path):
    """The first build is returned as read back (float32 file), not as computed."""
    values = np.random.default_rng(0).standard_normal(50)
    fname = tmp_path / "values.npy"
    compute, calls = _counted(values)

    cold = _cached(fname, compute, _write_f32, _read_f32, "values")
    warm = _cached(fname, compute, _write_f32, _read_f32, "values")
    assert len(calls) == 1  # the second call reads the cache
    np.testing.assert_array_equal(cold, warm)
    assert not np.array_equal(cold, values)  # float32 on disk, and that is returned
    assert sorted(p.name for p in tmp_path.iterdir()) == ["values.npy",
                                                          "values.npy.sha256"]


def test_cached_failed_write_leaves_no_file(tmp_path):
    fname = tmp_path / "values.npy"

    def broken_write(fname, obj, overwrite, verbose):
        fname.write_bytes(b"half a file")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        _cached(fname, lambda: np.ones(3), broken_write, _read_f32, "values")
    assert list(tmp_path.iterdir()) == []  # neither the file nor its temporary


def test_cached_corrupted_files_are_rebuilt(tmp_path):
    """A cached file that was changed or cut is reported and computed again."""
    values = np.arange(1000.0)
    fname = tmp_path / "values.npy"
    compute, calls = _counted(values)

    want = _cached(fname, compute, _write_f32, _read_f32, "values")
    data = bytearray(fname.read_bytes())
    data[-10] ^= 0xFF  # a flipped byte: still readable, but other values
    fname.write_bytes(bytes(data))
    with pytest.warns(RuntimeWarning, match="differs from its recorded sha256"):
        got = _cached(fname, compute, _write_f32, _read_f32, "values")
    np.testing.assert_array_equal(got, want)
    fname.write_bytes(fname.read_bytes()[:50])  # cut, and no record of its hash
    (tmp_path / "values.npy.sha256").unlink()
    with pytest.warns(RuntimeWarning, match=f"{fname.name} is corrupted .*cannot "
                      "be read"):
        got = _cached(fname, compute, _write_f32, _read_f32, "values")
    np.testing.assert_array_equal(got, want)
    assert len(calls) == 3


def test_cached_threads_do_not_collide(tmp_path):
    """Threads building the same file each write their own temporary file."""
    from concurrent.futures import ThreadPoolExecutor

    fname = tmp_path / "values.npy"

    def slow_write(fname, obj, overwrite, verbose):
        import time

        np.save(fname, obj, allow_pickle=False)
        time.sleep(0.2)  # both threads are writing at once

    def build(_):
        return _cached(fname, lambda: np.arange(5.0), slow_write, _read_f32,
                       "values")

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(build, range(2)))
    for res in results:
        np.testing.assert_array_equal(res, np.arange(5.0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["values.npy",
                                                          "values.npy.sha256"]


def test_template_forward_cold_equals_warm(tmp_path, monkeypatch, no_network):
    """A forward (and its source space) built on an empty cache equals the cached one.

    The BEM solution is linked from the session's cache to save its
    1.5-minute computation; the source space and the forward are built cold.
    """
    bem_name = "fsaverage5-0.3-0.006-0.3-bem-sol.fif"
    make_template_bem()  # computed (or read) in the session's cache
    warm_dir = get_cache_dir()
    monkeypatch.setenv("MNE_DATA", str(tmp_path))
    cold_dir = get_cache_dir()
    assert cold_dir != warm_dir and not any(cold_dir.iterdir())
    os.symlink(warm_dir / bem_name, cold_dir / bem_name)

    src_cold = setup_template_source_space("ico4")
    src_warm = setup_template_source_space("ico4")
    for a, b in zip(src_cold, src_warm, strict=True):
        np.testing.assert_array_equal(a["rr"], b["rr"])
        np.testing.assert_array_equal(a["nn"], b["nn"])
        np.testing.assert_array_equal(a["vertno"], b["vertno"])

    info = make_template_info(["Fz", "Cz", "Pz", "C3", "C4", "O1", "O2", "Fp1"])
    fwd_cold = make_template_forward(info, fixed=False)
    assert len(list(cold_dir.glob("template-ico4-*-fwd.fif"))) == 1
    fwd_warm = make_template_forward(info, fixed=False)
    np.testing.assert_array_equal(fwd_cold["sol"]["data"], fwd_warm["sol"]["data"])
    np.testing.assert_array_equal(fwd_cold["source_rr"], fwd_warm["source_rr"])
    np.testing.assert_array_equal(fwd_cold["source_nn"], fwd_warm["source_nn"])
    # and so are the fixed-orientation forwards derived from them
    fixed_cold = make_template_forward(info)
    np.testing.assert_array_equal(
        fixed_cold["sol"]["data"], make_template_forward(info)["sol"]["data"]
    )
    # no temporary file is left behind
    assert not [p for p in cold_dir.iterdir() if p.name.startswith(".")]
