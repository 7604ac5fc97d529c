# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Train the shipped any-sensor model (``anysensor``) over many sensor setups.

The network is the U-Net on MNE, dSPM and sLORETA estimates whose kernels
are computed at apply time for the user's forward and noise covariance, and
on a single-dipole scan computed from the whitened gain, with a per-vertex
head that places the peak at the sources' resolution
(:mod:`mne_deepinverse.backends.anysensor`). It is trained with
``DeepInverse(fwds, "anysensor")`` over template forwards (fsaverage5, ico4,
5124 sources, fixed orientation) of these sensor configurations:

- the Neuromag VectorView (102 magnetometers, 204 gradiometers) with the
  template head in six positions in the helmet: the default one of
  :func:`mne_deepinverse.datasets.make_template_meg_info` and five others,
  each rotated by 2-8 degrees about a random axis and shifted by up to 8 mm;
- VectorView + EEG in two of those positions (EasyCap M10, 61 channels;
  BioSemi 32);
- EEG alone: the ConvDip paper's 31 channels and EasyCap M1.

Each batch is simulated for one configuration drawn at random (1-10
patches, sensor noise of every channel type from the ad hoc covariance mixed
with brain noise, SNR 0-15 dB after whitening). ``python
tools/train_anysensor.py`` writes ``mne_deepinverse/pretrained/
anysensor.onnx`` (model card in its metadata), ``anysensor.md`` and the
sha256 registry entry; ``--epochs`` and ``--device`` as in
``train_pretrained.py``.
"""

import argparse
import json
import time
from pathlib import Path

import mne
import numpy as np

from mne_deepinverse import DeepInverse
from mne_deepinverse.backends import get_backend
from mne_deepinverse.datasets import (
    make_template_forward,
    make_template_meg_info,
    read_pretrained_forward,
)

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "mne_deepinverse" / "pretrained"
CONFIG = dict(
    model="anysensor", n_epochs=30, samples_per_epoch=10_240, batch_size=128,
    learning_rate=1e-3, loss="auto", patience=6, n_val=1000, random_state=42,
    simulation=dict(n_patches=(1, 10), extent=(1, 6), amplitude=(5.0, 10.0),
                    snr_db=(0.0, 15.0), noise=["brain", "white"]),
)
#: Head positions (rotation in degrees, shift in mm) drawn with this seed.
N_POSITIONS, POSITION_SEED = 6, 7


def head_positions(n=N_POSITIONS, seed=POSITION_SEED):
    """Return the default device-to-head transform and ``n - 1`` moved ones."""
    from scipy.spatial.transform import Rotation

    default = make_template_meg_info()["dev_head_t"]["trans"]
    rng = np.random.default_rng(seed)
    out = [default]
    while len(out) < n:
        axis = rng.normal(size=3)
        angle = rng.uniform(2.0, 8.0)
        move = np.eye(4)
        move[:3, :3] = Rotation.from_rotvec(np.deg2rad(angle) * axis
                                            / np.linalg.norm(axis)).as_matrix()
        move[:3, 3] = np.clip(rng.normal(scale=4.0, size=3), -8, 8) / 1e3
        out.append(move @ default)  # the head moved in head coordinates
    return out


def _with_eeg(info_meg, montage):
    """MEG info with the EEG channels of a standard montage added."""
    mont = mne.channels.make_standard_montage(montage)
    eeg = mne.create_info(mont.ch_names, info_meg["sfreq"], "eeg")
    eeg.set_montage(mont)
    raw = mne.io.RawArray(np.zeros((len(info_meg["ch_names"]), 1)), info_meg,
                          verbose=False)
    raw.add_channels([mne.io.RawArray(np.zeros((len(mont.ch_names), 1)), eeg,
                                      verbose=False)], force_update_info=True)
    return raw.info


def forwards():
    """Make the template forwards of every training configuration."""
    positions = head_positions()
    infos = [make_template_meg_info(dev_head_t=t) for t in positions]
    fwds = [make_template_forward(info) for info in infos]
    fwds += [make_template_forward(_with_eeg(infos[0], "easycap-M10")),
             make_template_forward(_with_eeg(infos[3], "biosemi32"))]
    fwds.append(read_pretrained_forward("convdip"))
    mont = mne.channels.make_standard_montage("easycap-M1")
    info = mne.create_info(mont.ch_names, 100.0, "eeg")
    info.set_montage(mont)
    fwds.append(make_template_forward(info))
    return fwds


def card_notes(wall):
    """Return what the markdown card says beyond the model card."""
    return [f"sensor configurations: VectorView in {N_POSITIONS} head positions, "
            "see `tools/train_anysensor.py`",
            f"script wall time: {wall / 60:.1f} min"]


def main():
    """Train the any-sensor model and write its files."""
    from make_pretrained_forward import update_registry

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=OUT)
    import _distributed  # (tools/: --strategy ddp with torchrun)

    _distributed.add_arguments(parser)
    args = parser.parse_args()
    device, rank = _distributed.setup(args)
    mne.set_log_level("INFO")
    config = dict(CONFIG)
    if args.epochs:
        config["n_epochs"] = args.epochs
    t0 = time.perf_counter()
    fwds = forwards()
    est = DeepInverse(fwds, device=device, strategy=args.strategy,
                      checkpoint=args.checkpoint, **config).fit()
    if rank:  # the first process writes the files
        _distributed.teardown(args)
        return
    wall = time.perf_counter() - t0
    fname = args.out / "anysensor.onnx"
    est.save(fname, overwrite=True)
    if args.out == OUT:
        update_registry(fname)
    card = est.card_
    (args.out / "anysensor.md").write_text(card.to_markdown(
        name="anysensor", summary=get_backend(card.backend).summary,
        notes=card_notes(wall)))
    print(json.dumps(est.card_["validation"], indent=1))
    print(f"Wrote {fname} ({fname.stat().st_size / 1e6:.1f} MB) in {wall / 60:.1f} min")

    _distributed.teardown(args)

if __name__ == "__main__":
    main()
