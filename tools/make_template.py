# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Write the offline template head model shipped in ``mne_deepinverse``.

The template is a small FreeSurfer-style subject called ``fsaverage5``:

* cortical surfaces (white, pial, inflated, sphere, sphere.reg, curv) of
  FreeSurfer's fsaverage5 (10242 vertices per hemisphere), taken from the
  GIfTI files that ship with nilearn;
* the scalp, inner skull, fiducials and head<->MRI transform of MNE's own
  fsaverage files (``mne/data/fsaverage``); the inner skull is decimated from
  its ico5 tessellation to ico4;
* an outer skull derived by scaling the inner skull about its centre by the
  largest factor that keeps it ``MIN_GAP_MM`` inside the scalp.

Run ``python tools/make_template.py`` to regenerate the files; nilearn is
needed only here, not by users. MNE's own BEM checks are run at the end.
"""

import argparse
import shutil
from pathlib import Path

import mne
import nibabel as nib
import numpy as np
from mne.bem import _ico_downsample
from mne.surface import _CheckInside, _compute_nearest

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "mne_deepinverse" / "datasets" / "data" / "fsaverage5"
MIN_GAP_MM = 2.0
SUBJECT = "fsaverage5"


def _nilearn_dir():
    import nilearn

    return Path(nilearn.__file__).parent / "datasets" / "data" / "fsaverage5"


def _read_gifti(fname):
    img = nib.load(fname)
    rr = np.asarray(img.darrays[0].data, dtype=np.float64)
    tris = np.asarray(img.darrays[1].data, dtype=np.int32)
    return rr, tris


def _write_cortex(out):
    src = _nilearn_dir()
    surf_dir = out / "surf"
    surf_dir.mkdir(parents=True, exist_ok=True)
    names = {
        "white": "white_{}",
        "pial": "pial_{}",
        "inflated": "infl_{}",
        "sphere": "sphere_{}",
    }
    for hemi, side in (("lh", "left"), ("rh", "right")):
        for fs_name, nl_name in names.items():
            rr, tris = _read_gifti(src / (nl_name.format(side) + ".gii.gz"))
            nib.freesurfer.write_geometry(surf_dir / f"{hemi}.{fs_name}", rr, tris)
        # fsaverage5 is already registered: its sphere is its sphere.reg
        shutil.copyfile(surf_dir / f"{hemi}.sphere", surf_dir / f"{hemi}.sphere.reg")
        curv = np.asarray(
            nib.load(src / f"curv_{side}.gii.gz").darrays[0].data, np.float32
        )
        nib.freesurfer.write_morph_data(surf_dir / f"{hemi}.curv", curv)


def _largest_scale(inner, scalp):
    """Largest scale of inner (about its centre) staying MIN_GAP_MM in scalp."""
    centre = inner["rr"].mean(axis=0)
    inside = _CheckInside(scalp)
    best = 1.0
    for scale in np.arange(1.0, 1.2, 0.0025):
        rr = centre + scale * (inner["rr"] - centre)
        if not inside(rr).all():
            break
        dist = _compute_nearest(scalp["rr"], rr, return_dists=True)[1]
        if dist.min() * 1000 < MIN_GAP_MM:
            break
        best = scale
    return best, centre


def _write_bem(out):
    fs_dir = Path(mne.__file__).parent / "data" / "fsaverage"
    bem_dir = out / "bem"
    bem_dir.mkdir(parents=True, exist_ok=True)
    scalp = mne.read_bem_surfaces(fs_dir / "fsaverage-head.fif")[0]
    inner = mne.read_bem_surfaces(fs_dir / "fsaverage-inner_skull-bem.fif")[0]
    inner = _ico_downsample(inner, 4)
    inner = mne.surface.complete_surface_info(inner, copy=True, verbose=False)
    scalp = mne.surface.complete_surface_info(scalp, copy=True, verbose=False)
    scale, centre = _largest_scale(inner, scalp)
    outer_rr = centre + scale * (inner["rr"] - centre)
    print(f"Outer skull: inner skull scaled by {100 * (scale - 1):.2f} %")
    # FreeSurfer surfaces are in mm
    mne.write_surface(bem_dir / "inner_skull.surf", inner["rr"] * 1e3, inner["tris"],
                      overwrite=True)
    mne.write_surface(bem_dir / "outer_skull.surf", outer_rr * 1e3, inner["tris"],
                      overwrite=True)
    mne.write_surface(bem_dir / "outer_skin.surf", scalp["rr"] * 1e3, scalp["tris"],
                      overwrite=True)
    mne.write_bem_surfaces(bem_dir / f"{SUBJECT}-head.fif", [scalp], overwrite=True)
    shutil.copyfile(fs_dir / "fsaverage-fiducials.fif",
                    bem_dir / f"{SUBJECT}-fiducials.fif")
    shutil.copyfile(fs_dir / "fsaverage-trans.fif", out / f"{SUBJECT}-trans.fif")


def _check(out):
    subjects_dir = out.parent
    model = mne.make_bem_model(
        SUBJECT, ico=None, conductivity=(0.3, 0.006, 0.3),
        subjects_dir=subjects_dir, verbose=True,
    )
    for spacing, n_expected in (("ico4", 2562), ("oct6", 4098)):
        src = mne.setup_source_space(
            SUBJECT, spacing=spacing, add_dist=False, subjects_dir=subjects_dir,
            verbose=False,
        )
        assert all(s["nuse"] == n_expected for s in src), spacing
    print("BEM surfaces:", [len(s["rr"]) for s in model], "- source spaces OK")


def main():
    """Write the template subject folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--no-check", action="store_true")
    args = parser.parse_args()
    if args.out.exists():
        shutil.rmtree(args.out)
    _write_cortex(args.out)
    _write_bem(args.out)
    if not args.no_check:
        _check(args.out)
    total = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file())
    print(f"Wrote {args.out} ({total / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
