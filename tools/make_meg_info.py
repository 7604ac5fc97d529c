# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Write the MEG sensor definitions and noise covariance that ship with the package.

``python tools/make_meg_info.py [RAW]`` reads the Neuromag VectorView
recording RAW (default: the MNE "sample" snippet in ``../shared/data/``) and
writes ``mne_deepinverse/datasets/data/neuromag306-info.fif``: the 306 MEG
channels (102 magnetometers, 204 planar gradiometers: names, coil types,
positions and orientations in the device frame, calibrations) and the
recording's device-to-head transform, which places the template head in the
helmet (its head frame is defined by the fiducials, as the template's is).
Nothing else of the recording is kept: no data, no digitisation, no
projectors, no subject or measurement information.

It also writes ``neuromag306-noise-cov.fif``: the recording's MEG noise
covariance from the 200 ms before every stimulus (1-40 Hz, with the
recording's three empty-room SSP projectors), the sensor noise of the MEG
benchmark (:func:`mne_deepinverse.datasets.read_meg_noise_cov`).
"""

import sys
from pathlib import Path

import mne

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT.parent / "shared" / "data" / "sample_audvis_snippet_raw.fif"
OUT = ROOT / "mne_deepinverse" / "datasets" / "data" / "neuromag306-info.fif"
COV = OUT.with_name("neuromag306-noise-cov.fif")


def main(fname=DEFAULT):
    """Write the VectorView sensor definitions from the recording ``fname``."""
    raw_info = mne.io.read_info(fname, verbose=False)
    picks = mne.pick_types(raw_info, meg=True, exclude=())
    info = mne.create_info([raw_info["ch_names"][p] for p in picks], 1000.0, "mag")
    with info._unlock():
        info["chs"] = [raw_info["chs"][p].copy() for p in picks]
        info["dev_head_t"] = raw_info["dev_head_t"]
    info._update_redundant()
    info._check_consistency()
    mne.io.write_info(OUT, info, overwrite=True)
    print(f"Wrote {OUT} ({len(picks)} MEG channels, {OUT.stat().st_size} bytes)")
    raw = mne.io.read_raw_fif(fname, preload=True, verbose=False)
    events = mne.find_events(raw, stim_channel="STI 014", verbose=False)
    events = events[events[:, 2] <= 4]  # the auditory and visual stimuli
    raw.pick("meg").filter(1.0, 40.0, verbose=False)
    epochs = mne.Epochs(raw, events, tmin=-0.2, tmax=0.0, baseline=None,
                        preload=True, verbose=False)
    cov = mne.compute_covariance(epochs, method="shrunk", rank="info", verbose=False)
    cov.save(COV, overwrite=True, verbose=False)
    print(f"Wrote {COV} ({len(epochs)} baselines, {len(cov['projs'])} projectors, "
          f"{COV.stat().st_size} bytes)")


if __name__ == "__main__":
    main(*sys.argv[1:])
