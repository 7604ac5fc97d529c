# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Train the shipped pretrained models and write their model cards.

``python tools/train_pretrained.py convdip`` (or ``unet``, ``vnet``) trains
the network for the forward of ``read_pretrained_forward(name)`` (31 channels,
ico4, 5124 sources) on fresh simulated samples, writes
``mne_deepinverse/pretrained/<name>.onnx`` (the model card is in its ONNX
metadata), ``mne_deepinverse/pretrained/<name>.md`` (the human-readable card)
and updates the sha256 registry. The seed makes it reproducible on the same
machine and torch version.
"""

import argparse
import json
import time
from pathlib import Path

import mne

from mne_deepinverse import DeepInverse
from mne_deepinverse.backends import get_backend
from mne_deepinverse.datasets import DEFAULT_CONDUCTIVITY, read_pretrained_forward

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "mne_deepinverse" / "pretrained"

CONFIGS = {
    "convdip": dict(
        model="convdip",
        n_epochs=100,
        samples_per_epoch=51_200,
        batch_size=1024,
        learning_rate=1e-3,
        loss="cosine_mse",
        patience=8,
        n_val=4000,
        # broader than the paper's 1-5 patches of orders 2-5, for multi-source
        # maps (see DESIGN.md, "what has been measured so far")
        simulation=dict(
            n_patches=(1, 10),
            extent=(1, 6),
            amplitude=(5.0, 10.0),
            snr_db=(0.0, 15.0),
            noise=["brain", "white"],
        ),
        random_state=42,
    ),
}
# The image backends cost far more per sample on 2 CPU cores (convolutions on
# 64 x 64 images / 24^3 volumes): fewer, smaller epochs, same data generator.
CONFIGS["unet"] = dict(
    CONFIGS["convdip"], model="unet", n_epochs=24, samples_per_epoch=10_240,
    batch_size=128, patience=6, n_val=1000, loss="auto",
)
CONFIGS["vnet"] = dict(
    CONFIGS["convdip"], model="vnet", n_epochs=22, samples_per_epoch=7_680,
    batch_size=128, patience=6, n_val=1000, loss="auto",
)

# SIFNet reads windows of 128 samples at 250 Hz and predicts the activity of
# the 1000 regions of its parcellation. The shipped model learns from both
# kinds of windows: neural-mass windows (64 runs of 5 s of a Jansen-Rit
# network, spikes in every region over the runs, alpha background) and
# independent patches with evoked-like time courses in white noise (1-10
# patches, as the ConvDip model's data).
_NMM = dict(n_runs=64, seconds=5.0, n_patches=(1, 3), extent=(0, 1),
            snr_db=(0.0, 15.0))
_PATCHES = dict(n_patches=(1, 10), extent=(1, 6), amplitude=(5.0, 10.0),
                snr_db=(0.0, 15.0))
CONFIGS["sifnet"] = dict(
    model="sifnet", n_epochs=36, samples_per_epoch=16_384, batch_size=128,
    learning_rate=1e-3, loss="auto", patience=8, n_val=256,
    simulation=dict(kind="mixed", neural_mass=_NMM, patches=_PATCHES, share=0.5),
    random_state=42,
)
# SIFNet's comparison (benchmarks/bench_sifnet.py): the same network on one
# kind of windows each, with the same (smaller) budget; not shipped.
CONFIGS["sifnet-nmm"] = dict(CONFIGS["sifnet"], n_epochs=20,
                             simulation=dict(kind="neural_mass", **_NMM))
CONFIGS["sifnet-patches"] = dict(CONFIGS["sifnet"], n_epochs=20,
                                 simulation=dict(kind="patches", **_PATCHES))
#: The models that ship (their files go into the registry).
SHIPPED = ("convdip", "unet", "vnet", "sifnet")
#: What the model cards do not hold, written into the markdown cards (with
#: the script's wall time): the forward, and how SIFNet's regions were made
#: and are mapped onto the sources (``simulation.region_expansion``).
FORWARD_NOTE = ("forward: `read_pretrained_forward(\"{model}\")`, 3-layer BEM "
                f"{DEFAULT_CONDUCTIVITY} S/m")
REGIONS_NOTE = ("regions: k-means of the source positions per hemisphere; every "
                "source takes the Gaussian-weighted mean of its 4 nearest regions")
NOTES = dict.fromkeys(("sifnet", "sifnet-nmm", "sifnet-patches"), (REGIONS_NOTE,))


def card_notes(name, wall):
    """Return what the markdown card of ``name`` says beyond the model card."""
    return [FORWARD_NOTE.format(model=CONFIGS[name]["model"]), *NOTES.get(name, ()),
            f"script wall time: {wall / 60:.1f} min"]


def main():
    """Train one pretrained model and write its files."""
    from make_pretrained_forward import update_registry

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=sorted(CONFIGS))
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--device", default="cpu",
                        help="torch device to train on, e.g. cuda (default cpu)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    import _distributed  # (tools/: --strategy ddp with torchrun)

    _distributed.add_arguments(parser)
    args = parser.parse_args()
    device, rank = _distributed.setup(args)
    mne.set_log_level("INFO")
    config = dict(CONFIGS[args.name])
    if args.epochs:
        config["n_epochs"] = args.epochs
    # the image backends' linear kernels use depth weighting: free orientations
    fixed = config["model"] in ("convdip", "sifnet")
    fwd = read_pretrained_forward("convdip", fixed=fixed)
    t0 = time.perf_counter()
    est = DeepInverse(fwd, device=device, strategy=args.strategy,
                      checkpoint=args.checkpoint, **config).fit()
    if rank:  # the first process writes the files
        _distributed.teardown(args)
        return
    wall = time.perf_counter() - t0
    fname = args.out / f"{args.name}.onnx"
    est.save(fname, overwrite=True)
    if args.name in SHIPPED and args.out == DEFAULT_OUT:
        update_registry(fname)
    card = est.card_
    (args.out / f"{args.name}.md").write_text(card.to_markdown(
        name=args.name, summary=get_backend(card.backend).summary,
        notes=card_notes(args.name, wall)))
    print(json.dumps(est.card_["validation"], indent=1))
    print(f"Wrote {fname} ({fname.stat().st_size / 1e6:.1f} MB) in {wall / 60:.1f} min")

    _distributed.teardown(args)

if __name__ == "__main__":
    main()
