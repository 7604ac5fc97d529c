# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Every shipped model gives the maps it gave before the contracts redesign.

``data/reference_maps.npz`` was written by ``tools/make_reference_maps.py``
with the code of commit 0cc3bfb (before the redesign): for every shipped
model (the any-cap model on a 64-channel BioSemi cap, the any-sensor model
on MEG and on 31-channel EEG, ConvDip also with ``amplitudes="patch"``) a
fixed input and the model's source estimate. The maps must stay within 1e-5
of their peak.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

from mne_deepinverse import apply_deep_inverse

TOOLS = Path(__file__).resolve().parents[1] / "tools"
sys.path.insert(0, str(TOOLS))
from make_reference_maps import (  # noqa: E402
    CASES,
    WINDOW_STEP,
    forward_and_info,
    make_evoked,
)

sys.path.remove(str(TOOLS))
REF = Path(__file__).parent / "data" / "reference_maps.npz"
_FORWARDS = {}


def _forward(which):
    if which not in _FORWARDS:
        _FORWARDS[which] = forward_and_info(which)
    return _FORWARDS[which]


@pytest.mark.parametrize("case", sorted(CASES))
def test_reference_maps(case):
    """The shipped model's maps on a stored input are the stored maps."""
    model, which, sfreq, n_times, amplitudes = CASES[case]
    ref = np.load(REF)
    data, want = ref[f"{case}_data"], ref[f"{case}_maps"]
    assert data.shape[1] == n_times
    fwd, info = _forward(which)
    evoked = make_evoked(info, fwd, data, sfreq)
    stc = apply_deep_inverse(evoked, fwd, model=model, amplitudes=amplitudes)
    got = stc.data[:, ::WINDOW_STEP] if n_times > 16 else stc.data
    assert got.shape == want.shape
    peak = np.abs(want).max()
    assert peak > 0
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * peak)
    # the estimate itself is MNE's: the forward's vertices and subject
    assert stc.subject == "fsaverage5"
    for v, s in zip(stc.vertices, fwd["src"], strict=True):
        np.testing.assert_array_equal(v, s["vertno"])
