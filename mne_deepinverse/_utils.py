# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Shared helpers: forward checks, EEG info, source geometry and adjacency."""

import copy
import hashlib

import mne
import numpy as np
from mne.io.constants import FIFF
from mne.utils import _validate_type, logger
from scipy import sparse

from ._preprocessing import reference_numpy


def _check_fixed_forward(fwd):
    """Return a fixed-orientation forward, converting free ones with a note."""
    _validate_type(fwd, mne.Forward, "fwd")
    if fwd["source_ori"] == FIFF.FIFFV_MNE_FIXED_ORI:
        return fwd
    kinds = {s["type"] for s in fwd["src"]}
    if kinds != {"surf"}:
        raise ValueError(
            "A fixed-orientation forward is needed, but this one has free "
            f"orientations on {sorted(kinds)} source spaces, which have no "
            "cortical normal to fix them to. Make the forward with fixed "
            "orientations (e.g. a discrete source space with normals and "
            "mne.convert_forward_solution(fwd, force_fixed=True))."
        )
    logger.info(
        "    Converting the free-orientation forward to fixed orientation "
        "(normal to the cortex)"
    )
    return mne.convert_forward_solution(
        fwd, surf_ori=True, force_fixed=True, use_cps=True, verbose=False
    )


def _eeg_gain(fwd):
    """Return the EEG gain (n_eeg, n_sources) and the EEG channel names."""
    picks = mne.pick_types(fwd["info"], meg=False, eeg=True, exclude=())
    if len(picks) == 0:
        kinds = sorted(
            set(fwd["info"].get_channel_types()) if len(fwd["info"]["chs"]) else ()
        )
        raise ValueError(
            f"The forward has no EEG channels (it has {kinds}); mne-deepinverse "
            "models are trained for EEG. Make an EEG forward model."
        )
    names = [fwd["info"]["ch_names"][p] for p in picks]
    rows = [fwd["sol"]["row_names"].index(n) for n in names]
    return np.asarray(fwd["sol"]["data"][rows], dtype=np.float64), names


def _make_info(fwd, ch_names, sfreq):
    """Info of the forward's channels (types, positions, MEG coils, dev_head_t)."""
    info = mne.create_info(ch_names, sfreq, "eeg")
    fwd_chs = {ch["ch_name"]: ch for ch in fwd["info"]["chs"]}
    with info._unlock():
        info["chs"] = [copy.deepcopy(fwd_chs[name]) for name in ch_names]
        if fwd["info"].get("dev_head_t") is not None:
            info["dev_head_t"] = fwd["info"]["dev_head_t"].copy()
    info._update_redundant()
    info._check_consistency()
    return info


def _src_space_ids(src):
    """Index of the source space (hemisphere) of every used source."""
    return np.concatenate(
        [np.full(s["nuse"], ii, dtype=np.int64) for ii, s in enumerate(src)]
    )


def _source_adjacency(src):
    """Sparse (n_sources, n_sources) adjacency for any source space kind."""
    kinds = {s["type"] for s in src}
    if kinds <= {"surf", "vol"} and not (
        "surf" in kinds
        and any(s.get("use_tris") is None for s in src if s["type"] == "surf")
    ):
        adj = mne.spatial_src_adjacency(src, verbose=False)
        return sparse.csr_matrix(adj, dtype=np.float32)
    # discrete (or surface without triangulation): link every source to the
    # sources closer than 1.5 times the median nearest-neighbour spacing
    from scipy.spatial import cKDTree

    rr = np.concatenate([s["rr"][s["vertno"]] for s in src])
    tree = cKDTree(rr)
    dist = tree.query(rr, k=2)[0][:, 1]
    pairs = tree.query_pairs(1.5 * np.median(dist), output_type="ndarray")
    ids = _src_space_ids(src)
    pairs = pairs[ids[pairs[:, 0]] == ids[pairs[:, 1]]]
    n = len(rr)
    adj = sparse.coo_matrix(
        (np.ones(len(pairs), np.float32), (pairs[:, 0], pairs[:, 1])), shape=(n, n)
    )
    return (adj + adj.T).tocsr()


def _source_positions(fwd):
    """Positions (m) of the used sources, in the forward's coordinate frame."""
    return np.asarray(fwd["source_rr"], dtype=np.float64)


def _hash_array(*arrays):
    h = hashlib.sha256()
    for arr in arrays:
        arr = np.ascontiguousarray(arr)
        h.update(str(arr.shape).encode())
        h.update(arr.tobytes())
    return h.hexdigest()


def _check_random_state(random_state):
    """Return a numpy Generator from an int, None, RandomState or Generator."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1))
    _validate_type(random_state, ("int-like", None), "random_state")
    if random_state is not None and random_state < 0:
        raise ValueError(
            f"random_state must be None or an int >= 0, got {random_state}.")
    return np.random.default_rng(random_state)


def _check_range(value, name, *, kind=float, low=None, high=None):
    """Return a (min, max) tuple from a scalar or a pair."""
    if np.isscalar(value):
        value = (value, value)
    value = tuple(value)
    if len(value) != 2 or value[0] > value[1]:
        raise ValueError(f"{name} must be a number or a (min, max) pair, got {value}")
    value = tuple(kind(v) for v in value)
    if low is not None and value[0] < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    if high is not None and value[1] > high:
        raise ValueError(f"{name} must be <= {high}, got {value}")
    return value


def _reference(gain):
    """Average-referenced gain (channels' mean removed)."""
    return reference_numpy(np.asarray(gain).T).T


def _gain_fingerprint(gain):
    """Return a short, rounding-robust summary of an (average-referenced) gain."""
    rng = np.random.default_rng(0)
    probe = rng.standard_normal((gain.shape[1], 4))
    return (gain @ probe).ravel().tolist()
