# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Train the shipped BOLD synthesizer (BoldNet) on simulated simultaneous EEG-fMRI.

Pairs are simulated on the fly (:class:`mne_deepinverse.fmri._pairs.BoldPairs`:
Jansen-Rit networks on parcellations of the template, activation blocks,
Balloon-Windkessel haemodynamics with parameters per region from their
published ranges, EEG at 0-10 dB) on three caps of the template (the
ConvDip paper's 31 channels, the 19 of the 10-20 system, BioSemi's 64), and
the network is trained by the package's one training loop
(:func:`mne_deepinverse.training.fit_network`, MSE on the BOLD signal change
in %). Writes ``mne_deepinverse/pretrained/boldnet.onnx`` (its card in the
metadata), ``boldnet.md`` and its sha256 in ``registry.txt``::

    python tools/train_boldnet.py [--minutes 40] [--checkpoint boldnet-state.pt]

Seeds: the parcellation bank and the validation pairs come from ``--seed``
streams; ``benchmarks/bench_bold.py`` tests on segments of seeds >= 1000 with
their own parcellations.
"""

import argparse
import json
import time
from pathlib import Path

import mne
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CAPS = ("convdip", "colin27_1020", "biosemi64")
# Features: the slow potential only. On the simulations the band powers of
# 1-45 Hz carried next to no information on the regions' BOLD (ridge
# regression on HRF-weighted windows, 48 training and 16 held-out runs of the
# 31-channel cap: median correlation 0.03 with the five bands, 0.29 with the
# slow potential alone, 0.24 with both); with alpha power added to the slow
# potential this network reached 0.20-0.24 against 0.27-0.32 without.
CONFIG = dict(grid_shape=[12, 12], bands=[],
              bin_s=1.0, n_bins=24, n_regions=400, duration=120.0, tr=2.0,
              sfreq=100.0, snr_db=[0.0, 10.0], batch_size=128, n_val_runs=16,
              runs_per_job=8, learning_rate=1e-3, weight_decay=0.01, patience=3,
              n_parcellations=12,
              sim_regions=[100, 200, 300])


def simulate_pool(pairs, n_runs, seed, n_jobs):
    """All frames of ``n_runs`` simulated runs, in jobs of a few runs each."""
    from joblib import Parallel, delayed

    per_job = CONFIG["runs_per_job"]
    n_frames = per_job * pairs.frames_per_run
    jobs = [delayed(pairs.simulate)(n_frames, np.random.default_rng([seed, 3, k]))
            for k in range(-(-n_runs // per_job))]
    out = Parallel(n_jobs=n_jobs, verbose=5)(jobs)
    return (np.concatenate([x for x, _ in out]),
            np.concatenate([y for _, y in out]))


def cap_forwards():
    """Return the template forwards (ico4, fixed) of the training caps."""
    from mne_deepinverse.benchmark._protocol import _montage_info
    from mne_deepinverse.datasets import make_template_forward, read_pretrained_forward

    fwds = [read_pretrained_forward("convdip")]
    for name in CAPS[1:]:
        info, _ = _montage_info(name)
        fwds.append(make_template_forward(info, "ico4", verbose=False))
    return fwds


def make_spec(fwd, seed):
    """Return the card's ``bold`` entry: grid, features, template regions."""
    from mne_deepinverse._caps import grid_directions
    from mne_deepinverse._load import load_model
    from mne_deepinverse._utils import _source_positions, _src_space_ids
    from mne_deepinverse.fmri._deep import source_space_digest
    from mne_deepinverse.simulation import make_parcellation

    cap = dict(load_model("anycap").card.sensors.cap,
               grid_shape=CONFIG["grid_shape"], n_channels=[16, 256])
    labels, centres, _ = make_parcellation(
        _source_positions(fwd), _src_space_ids(fwd["src"]), CONFIG["n_regions"],
        np.random.default_rng([seed, 1]))
    return dict(cap=cap, bands=CONFIG["bands"], slow=True, bin_s=CONFIG["bin_s"],
                n_bins=CONFIG["n_bins"], n_regions=CONFIG["n_regions"],
                n_pixels=int(grid_directions(cap["grid_shape"],
                                             cap["theta_max_deg"])[1].sum()),
                labels=labels.tolist(),
                source_space=source_space_digest(fwd["src"]), units="%",
                tr_trained=CONFIG["tr"]), centres


def main():
    """Train, export, validate and write the model's files."""
    import torch
    from make_pretrained_forward import update_registry

    from mne_deepinverse.backends import get_backend
    from mne_deepinverse.fmri._pairs import BoldPairs
    from mne_deepinverse.training import TrainingData, card_training_record, fit_network

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=40.0)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--n-runs", type=int, default=320,
                        help="simulated runs of 120 s (60 frames each)")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--out", type=Path,
                        default=ROOT / "mne_deepinverse" / "pretrained")
    args = parser.parse_args()
    t0 = time.perf_counter()
    mne.set_log_level("WARNING")
    torch.manual_seed(args.seed)
    fwds = cap_forwards()
    spec, centres = make_spec(fwds[0], args.seed)
    pairs = BoldPairs(fwds, spec, duration=CONFIG["duration"], tr=CONFIG["tr"],
                      sfreq=CONFIG["sfreq"], snr_db=CONFIG["snr_db"],
                      sim_regions=CONFIG["sim_regions"],
                      n_parcellations=CONFIG["n_parcellations"],
                      random_state=np.random.default_rng([args.seed, 2]))
    X, Y = simulate_pool(pairs, args.n_runs, args.seed, args.n_jobs)
    X_val, Y_val = simulate_pool(pairs, CONFIG["n_val_runs"], args.seed + 1,
                                 args.n_jobs)
    print(f"{len(X)} training and {len(X_val)} validation pairs simulated in "
          f"{time.perf_counter() - t0:.0f} s")

    def draw(n, rng):
        rows = rng.integers(0, len(X), n)
        return X[rows], Y[rows]

    data = TrainingData(
        draw, X_val, Y_val, steps_per_epoch=max(1, len(X) // CONFIG["batch_size"]),
        batch_size=CONFIG["batch_size"], seed=args.seed + 12, source_pos=centres,
        source=f"{args.n_runs} simulated simultaneous EEG-fMRI runs "
               "(tools/train_boldnet.py), frames drawn at random")
    backend = get_backend("boldnet")
    meta = dict(bold=spec, seed=args.seed)
    net = backend.build(meta, {})
    n_params = sum(p.numel() for p in net.parameters())
    print(f"BoldNet: {n_params} parameters; data ready after "
          f"{time.perf_counter() - t0:.0f} s")
    record = fit_network(
        net, data, n_epochs=args.epochs, learning_rate=CONFIG["learning_rate"],
        loss="mse", patience=CONFIG["patience"], seed=args.seed,
        normalise_input=False, normalise_target=False,
        weight_decay=CONFIG["weight_decay"],
        max_time_s=args.minutes * 60, checkpoint=args.checkpoint)
    # validation: correlation of predicted and true regional BOLD per region
    with torch.no_grad():
        pred = torch.cat([net(torch.as_tensor(X_val[k: k + 512]))
                          for k in range(0, len(X_val), 512)]).numpy()
    true = data.Y_val
    varies = true.std(axis=0) > 0.05
    r = [np.corrcoef(pred[:, k], true[:, k])[0, 1] for k in np.flatnonzero(varies)]
    val = dict(n_pairs=len(true), rmse_pct=float(np.sqrt(np.mean((pred - true) ** 2))),
               median_r_varying_regions=float(np.median(r)) if r else None,
               n_varying_regions=int(varies.sum()))
    card = dict(
        backend="boldnet", name="boldnet", summary=backend.summary,
        hyper_params=dict(backend.defaults), bold=spec,
        training=dict(
            data=data.source, caps=list(CAPS), config=CONFIG, n_parameters=n_params,
            loss="mse", random_state=args.seed, **card_training_record(record)),
        validation=val, mne_version=mne.__version__)
    onnx_bytes = backend.export(net, None, card)
    fname = args.out / "boldnet.onnx"
    fname.write_bytes(onnx_bytes)
    update_registry(fname)
    write_card(args.out / "boldnet.md", card)
    print(json.dumps(val, indent=1))
    print(f"Wrote {fname} ({fname.stat().st_size / 1e6:.1f} MB) in "
          f"{(time.perf_counter() - t0) / 60:.1f} min")


def features(spec):
    """Return the features of a card's ``bold`` entry, in words."""
    bands = ", ".join(f"{lo:g}-{hi:g}" for lo, hi in spec["bands"])
    out = [f"the log band power ({bands} Hz)"] if bands else []
    if spec.get("slow"):
        out.append("the slow potential (every bin's mean, a standardised map)")
    return " and ".join(out)


def write_card(fname, card):
    """Write the human-readable model card (Markdown)."""
    tr, spec, val = card["training"], card["bold"], card["validation"]
    cap, cfg = spec["cap"], tr["config"]
    lines = [
        "# boldnet", "",
        card["summary"] + ".", "",
        "- backend: `boldnet` (`mne_deepinverse.backends.boldnet`); applied by "
        "`mne_deepinverse.fmri.synthesize_bold(inst, fwd, tr=..., method=\"deep\")`",
        f"- input: per fMRI frame, {features(spec)} of the EEG on a "
        f"{cap['grid_shape'][0]}x{cap['grid_shape'][1]} scalp grid "
        f"({spec['n_pixels']} pixels; any cap of {cap['n_channels'][0]}-"
        f"{cap['n_channels'][1]} channels, spherical splines) in "
        f"{spec['n_bins']} bins of {spec['bin_s']:g} s that end at the frame's "
        "centre, relative to the recording's mean; the EEG is read as recorded, "
        "without a high-pass filter (DC-coupled)",
        "- output: BOLD signal change (%, relative to the recording's mean) of "
        f"{spec['n_regions']} regions of the template "
        "(ico4, 5124 sources; k-means parcellation), spread over their sources",
        f"- training data: {tr['data']}; caps {', '.join(tr['caps'])}; "
        f"{cfg['duration']:g}-s runs at {cfg['sfreq']:g} Hz, TR {cfg['tr']:g} s, "
        f"EEG SNR {cfg['snr_db'][0]:g}-{cfg['snr_db'][1]:g} dB, 3-15 active "
        "regions per run in blocks of 6-20 s",
        f"- training: {tr['epochs']} epochs, {tr['samples_seen']} pairs, "
        f"{tr['train_time_s']:.1f} s of training (after the simulation) on "
        f"{tr['machine']} ({tr['date']}); "
        f"best validation MSE {tr['best_val_loss']:.4g} (%^2); "
        f"{tr['n_parameters']} parameters",
        f"- validation ({val['n_pairs']} simulated pairs of the training "
        f"generator): RMSE {val['rmse_pct']:.3f} %, median correlation over the "
        f"{val['n_varying_regions']} regions whose BOLD varies "
        f"{val['median_r_varying_regions']:.3f}",
        "- reproduce: `python tools/train_boldnet.py`", "",
        "## Benchmark", "",
        "Held-out simulations (other seeds, parcellations and haemodynamics): "
        "`python benchmarks/bench_bold.py` (see the EEG-to-fMRI page of the "
        "documentation).", "",
        "## What is not validated", "",
        "No simultaneous EEG-fMRI recording was available offline: the network "
        "has only seen simulated data, where BOLD follows the regions' "
        "afferent input and EEG alpha power falls with activity. On real "
        "recordings its maps are a hypothesis of where BOLD would change, not "
        "a measurement.", ""]
    Path(fname).write_text("\n".join(lines))


if __name__ == "__main__":
    main()
