# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""EEG forwards on the template from a shipped scalp lead field (no BEM solution).

MNE computes the potential at an electrode as the potentials at the three
vertices of the scalp triangle under it, weighted by the electrode's
barycentric coordinates in that triangle (``_bem_specify_els``). The gains of
every source at every scalp vertex of the template's three-layer BEM (the
"scalp lead field") therefore give any electrode set's forward by the same
interpolation, without the BEM solution that takes most of a first forward.
``tools/make_eeg_leadfield.py`` computes the lead field with MNE and stores
it as a truncated SVD (left factor in float32, right factor in float16) in
``pretrained/template-eeg-leadfield.npz`` (sha256 in ``registry.txt``); the
file records the largest relative error of a source's gains, measured there
against MNE's own forward.
"""

import functools

import mne
import numpy as np
from mne.utils import logger

from ._pretrained import _read_registry, fetch_pretrained_file

#: The shipped scalp lead field (free-orientation gains at the scalp vertices).
LEADFIELD_FILE = "template-eeg-leadfield.npz"


@functools.cache
def read_scalp_leadfield():
    """Read the shipped scalp lead field (hash-checked) once per process."""
    from mne.surface import complete_surface_info

    fname = fetch_pretrained_file(LEADFIELD_FILE)
    with np.load(fname) as z:
        data = {key: z[key] for key in z.files}
    rr = data["scalp_rr"].astype(np.float64)
    tris = data["scalp_tris"].astype(np.int64)
    surf = dict(rr=rr, tris=tris, np=len(rr), ntri=len(tris))
    data["scalp"] = complete_surface_info(surf, copy=False, verbose=False)
    data["conductivity"] = tuple(float(c) for c in data["conductivity"])
    data["spacing"] = str(data["spacing"])
    # forwards from it are cached under a key naming this file's hash
    digest = _read_registry()[LEADFIELD_FILE].rpartition(":")[2]
    data["tag"] = f"leadfield-{digest[:12]}"
    return data


def shipped_leadfield(spacing, conductivity):
    """Return the shipped lead field if it was made for this model, else None."""
    lf = read_scalp_leadfield()
    if lf["spacing"] != spacing or not np.allclose(
            lf["conductivity"], conductivity, rtol=1e-6, atol=0):
        return None
    return lf


def leadfield_forward(info, trans, src, lf):
    """Free-orientation EEG forward of ``info``'s electrodes from the lead field.

    ``info`` holds only EEG channels, already on the template's scalp. The
    Forward's structure (channels, source space, coordinate frames) comes from
    :func:`mne.make_forward_solution` on a sphere model that contains every
    source, cheap to compute; its gains are then replaced by the lead field's.
    """
    from mne.surface import _project_onto_surface

    for hemi, s in enumerate(src):
        if not np.array_equal(s["vertno"], lf[f"vertno_{hemi}"]):
            raise RuntimeError(
                "The source space differs from the one of the shipped EEG lead "
                "field; regenerate it with tools/make_eeg_leadfield.py.")
    picks = mne.pick_types(info, meg=False, eeg=True, exclude=())
    pos = np.array([info["chs"][p]["loc"][:3] for p in picks])
    pos = mne.transforms.apply_trans(trans, pos)  # head -> MRI, as MNE does
    weights, tri = _project_onto_surface(pos, lf["scalp"])
    interp = np.zeros((len(pos), lf["scalp"]["np"]))
    np.add.at(interp, (np.repeat(np.arange(len(pos)), 3),
                       lf["scalp"]["tris"][tri].ravel()), weights.ravel())
    gain = (interp @ lf["left"].astype(np.float64)) @ lf["right"].astype(np.float64)
    sphere = mne.make_sphere_model(r0=(0.0, 0.0, 0.0), head_radius=1.0, verbose=False)
    fwd = mne.make_forward_solution(info, trans, src, sphere, meg=False, eeg=True,
                                    mindist=0.0, verbose=False)
    if fwd["sol"]["data"].shape != gain.shape:  # (a source outside the sphere)
        raise RuntimeError(f"Forward of shape {fwd['sol']['data'].shape}, expected "
                           f"{gain.shape}.")
    fwd["sol"]["data"][:] = gain
    fwd["_orig_sol"] = fwd["sol"]["data"]
    logger.info("    EEG gains interpolated from the shipped scalp lead field (rank "
                f"{len(lf['right'])}; largest relative error of a source's gains at "
                f"the scalp vertices against MNE's BEM: {float(lf['max_error']):.1e})")
    return fwd
