# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Train the shipped any-cap model (``anycap``) over many EEG caps.

One forward on the template (ico4, 5124 sources) is computed for a bank of
electrode positions: the union of MNE's standard caps (10-05, BioSemi,
EasyCap, EGI HydroCel), moved onto the template's scalp. Every training batch
draws one cap from a set of caps made from that bank:

- a standard cap (19-channel 10-20, BioSemi 16-128, EasyCap M1/M10,
  HydroCel 32-256), with up to 15 % of its channels missing (bad), or
- an even random subset of 16-128 positions of the 10-05 system or the
  HydroCel-256 net;

its electrodes' positions are jittered (sd 3 mm) for the interpolation, as
the positions a user gives differ from the true ones. The EEG of the batch
is simulated on the cap's true bank positions (patches, noise at random SNR,
average reference), normalised as in every model, interpolated onto the
model's grid with the cap's spherical-spline matrix and fed to the network.

The simulation runs in torch on the training device (a GPU when one is
given with ``--device cuda``: the patch bank and its EEG sit on the device
and a batch is a few gathers and matrix products).

``python tools/train_anycap.py`` writes ``mne_deepinverse/pretrained/
anycap.onnx`` (model card in its metadata), ``anycap.md`` and the sha256
registry entry. ``--minutes`` bounds the training time.

On a GPU machine without MNE's data (the shipped model was trained so):

1. here: ``python train_anycap.py --prepare DIR`` writes the electrode bank
   and its forward (fixed orientation) to ``DIR``;
2. there: ``python train_anycap.py --prepared DIR --device cuda --state-out
   state.pt`` trains and writes the weights and the training record;
3. here: ``python train_anycap.py --finish state.pt`` exports,
   validates on the held-out caps and writes the model files.

The shipped model: step 2 on one H100 (16 cores) with ``--jobs 14 --n-caps
2000 --minutes 7.3 --epoch-samples 524288`` (3 min of set-up, 4.8 min of
training, 27 M samples; the record is in its model card).
"""

import argparse
import json
import multiprocessing
import time
from functools import partial
from pathlib import Path

import mne
import numpy as np
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]

#: Standard caps drawn during training (name -> channels, None: all).
C1020 = "Fp1 Fp2 F7 F3 Fz F4 F8 T7 C3 Cz C4 T8 P7 P3 Pz P4 P8 O1 O2".split()
STANDARD_CAPS = {
    "standard_1020": C1020,
    "biosemi16": None, "biosemi32": None, "biosemi64": None, "biosemi128": None,
    "easycap-M1": None, "easycap-M10": None,
    "GSN-HydroCel-32": None, "GSN-HydroCel-64_1.0": None,
    "GSN-HydroCel-128": None, "GSN-HydroCel-256": None,
}
#: Standard caps never drawn in training.
HELD_OUT = ("biosemi64", "GSN-HydroCel-128")
#: Caps the model is validated on: the held-out ones and the smallest cap.
VAL_CAPS = {"biosemi64": None, "standard_1020": C1020, "GSN-HydroCel-128": None}
CONFIG = dict(
    n_patches=(1, 10), extent=(1, 6), amplitude=(5.0, 10.0), snr_db=(0.0, 15.0),
    noise=["brain", "white"], jitter_mm=3.0, max_missing=0.15,
    n_channels=(16, 256), max_gap_deg=40.0, n_caps=2000, batch_size=512,
    learning_rate=1e-3, loss="cosine_wmse", n_val=3000, random_state=42,
)


def _standard_positions(kind, names):
    """Positions (head, m) of a standard cap, on the template's scalp."""
    from mne_deepinverse.datasets import project_to_template_scalp

    montage = mne.channels.make_standard_montage(kind)
    names = montage.ch_names if names is None else names
    info = mne.create_info(names, 100.0, "eeg").set_montage(montage)
    moved = project_to_template_scalp(info, verbose=False)[0]
    pos = moved.get_positions()["ch_pos"]
    return np.array([pos[ch] for ch in names])


def make_bank():
    """Electrode bank: positions (head, m) and the cap index lists into it."""
    from scipy.spatial import cKDTree

    groups = {kind: _standard_positions(kind, names)
              for kind, names in {**STANDARD_CAPS, "fsaverage_1005": None,
                                  "EGI_256": None}.items()}
    bank = np.zeros((0, 3))
    index = {}
    for kind, pos in groups.items():
        idx = []
        for rr in pos:
            if len(bank):
                dist, near = cKDTree(bank).query(rr)
                if dist < 2e-3:  # the same position in another cap
                    idx.append(int(near))
                    continue
            bank = np.vstack([bank, rr])
            idx.append(len(bank) - 1)
        index[kind] = np.array(idx)
    return bank, index


def bank_forward(bank):
    """Compute the template forward (ico4, fixed) for every bank electrode."""
    from mne_deepinverse.datasets import make_template_forward

    names = [f"B{ii:03d}" for ii in range(len(bank))]
    info = mne.create_info(names, 100.0, "eeg")
    montage = mne.channels.make_dig_montage(
        dict(zip(names, bank, strict=True)), coord_frame="head")
    info.set_montage(montage)
    return make_template_forward(info, "ico4", verbose=True)


def _even_subset(pos, n, rng):
    """``n`` positions spread evenly (farthest-point sampling from a random one)."""
    chosen = [int(rng.integers(len(pos)))]
    dist = np.linalg.norm(pos - pos[chosen[0]], axis=1)
    for _ in range(n - 1):
        nxt = int(np.argmax(dist))
        chosen.append(nxt)
        dist = np.minimum(dist, np.linalg.norm(pos - pos[nxt], axis=1))
    return np.array(chosen)


def _draw_cap(i, bank, index, cap, seed, kinds):
    """Draw training cap ``i`` (its own seed): bank indices, interpolation matrix."""
    from mne_deepinverse._caps import cap_interpolation, coverage_gap

    rng = np.random.default_rng([seed, i])
    low, high = CONFIG["n_channels"]
    while True:
        if rng.random() < 0.5:
            idx = index[kinds[rng.integers(len(kinds))]]
            n_drop = rng.integers(0, int(CONFIG["max_missing"] * len(idx)) + 1)
            keep = np.sort(rng.permutation(len(idx))[:len(idx) - n_drop])
            idx = idx[keep]
        else:
            pool = index["fsaverage_1005" if rng.random() < 0.5 else "EGI_256"]
            n = int(rng.integers(16, 129))
            idx = np.sort(pool[_even_subset(bank[pool], n, rng)])
        if not low <= len(idx) <= high:
            continue
        pos = bank[idx] + rng.normal(0, CONFIG["jitter_mm"] * 1e-3, (len(idx), 3))
        if coverage_gap(pos, cap) > CONFIG["max_gap_deg"] - 5:
            continue  # keep a margin to the limit the model checks
        return idx, cap_interpolation(pos, cap).astype(np.float32)


def make_caps(bank, index, cap, n_caps, seed, *, exclude=(), n_jobs=1):
    """Draw ``n_caps`` training caps: (bank indices, interpolation matrix).

    Cap ``i`` is drawn with the seed ``(seed, i)``, so the caps do not depend
    on ``n_jobs``.
    """
    kinds = [k for k in STANDARD_CAPS if k not in exclude]
    draw = partial(_draw_cap, bank=bank, index=index, cap=cap, seed=seed,
                   kinds=kinds)
    if n_jobs == 1:
        return [draw(i) for i in range(n_caps)]
    with multiprocessing.get_context("fork").Pool(
            n_jobs, initializer=threadpool_limits, initargs=(1,)) as pool:
        return pool.map(draw, range(n_caps), chunksize=8)


class CapBatches:
    """Draw batches ``(grid images, source maps)``, one cap per batch (torch).

    The patches are drawn as in :class:`~mne_deepinverse.simulation.
    PatchSimulator` (its patch bank and the bank's EEG, moved to ``device``);
    amplitudes in nAm (the inputs are normalised, the targets max-scaled).
    """

    def __init__(self, fwd, caps, device="cpu"):
        import torch

        from mne_deepinverse.simulation import PatchSimulator

        self.sim = sim = PatchSimulator(
            fwd, **{k: CONFIG[k] for k in ("n_patches", "extent", "amplitude",
                                           "snr_db", "noise")})

        def tensor(a):
            return torch.as_tensor(np.asarray(a, np.float32), device=device)

        self.bank = tensor(sim.bank.maps.toarray())  # (n_patches, n_sources)
        self.bank_eeg = tensor(sim.bank.projection)  # (n_patches, n_bank_channels)
        self.noise_sqrt = tensor(sim.noise_sqrt)
        self.caps = [self.to_device(c, device) for c in caps]
        self.device = device

    @staticmethod
    def to_device(cap, device):
        """Move a cap ``(bank indices, interpolation matrix)`` to ``device``."""
        import torch

        idx, interp = cap
        return (torch.as_tensor(np.asarray(idx), device=device),
                torch.as_tensor(np.asarray(interp, np.float32), device=device))

    def __call__(self, n, rng, cap=None):
        """Return ``n`` grid images and source maps (a random cap unless given).

        ``rng`` (numpy) draws the cap and the patches and seeds the device's
        generator of the noise and SNR.
        """
        import torch

        from mne_deepinverse._preprocessing import normalise_torch, reference_torch
        from mne_deepinverse.simulation._noise import _add_noise_at_snr

        dev, sim = self.device, self.sim
        gen = torch.Generator(dev).manual_seed(int(rng.integers(2**62)))
        idx, interp = self.caps[rng.integers(len(self.caps))] if cap is None else cap
        sample_idx, rows, amps = sim.draw_bank_rows(n, rng)
        rows = torch.as_tensor(rows, device=dev)
        samples = torch.as_tensor(sample_idx, device=dev)
        amps = torch.as_tensor(amps * 1e9, dtype=torch.float32, device=dev)[:, None]
        Y = torch.zeros(n, self.bank.shape[1], device=dev)
        Y.index_add_(0, samples, self.bank[rows] * amps)
        X = torch.zeros(n, len(idx), device=dev)
        X.index_add_(0, samples, self.bank_eeg[rows[:, None], idx[None]] * amps)
        noise = torch.randn(n, self.noise_sqrt.shape[1], generator=gen,
                            device=dev) @ self.noise_sqrt[idx].T
        low, high = CONFIG["snr_db"]
        snr = low + (high - low) * torch.rand(n, generator=gen, device=dev)
        X = _add_noise_at_snr(reference_torch(X), reference_torch(noise), snr)
        return normalise_torch(X) @ interp, Y


def _card(fwd, cap, record, val):
    from mne_deepinverse._card import forward_entries, make_card
    from mne_deepinverse.backends import anycap
    from mne_deepinverse.training import card_training_record

    meta = forward_entries(fwd)
    meta.update(ch_names=[], ch_pos=[], ch_pos2d=[], gain_fingerprint=[],
                input=dict(kind="sample"))
    return make_card(
        "anycap", meta, hyper_params=dict(anycap.DEFAULTS), cap=cap,
        apply=dict(rows_per_call=anycap.AnyCapBackend.rows_per_call),
        preprocessing=dict(grid="spherical-spline interpolation of the normalised "
                           "EEG onto the cap grid"),
        simulation={k: CONFIG[k] for k in ("n_patches", "extent", "amplitude",
                                           "snr_db", "noise")},
        training=dict(
            data="simulated on the fly, one cap per batch (tools/train_anycap.py)",
            caps=dict(standard=sorted(set(STANDARD_CAPS) - set(HELD_OUT)),
                      held_out=sorted(HELD_OUT), validated=sorted(VAL_CAPS),
                      n_caps=record["n_caps"], jitter_mm=CONFIG["jitter_mm"],
                      max_missing=CONFIG["max_missing"]),
            loss=CONFIG["loss"], batch_size=CONFIG["batch_size"],
            learning_rate=CONFIG["learning_rate"],
            random_state=CONFIG["random_state"], **card_training_record(record),
        ),
        validation=val,
    )


def save_prepared(folder, bank, index, fwd):
    """Write the electrode bank and its forward to ``folder``.

    The forward goes as a pickle of its fixed-orientation form with a float32
    gain (a FIF file would hold the free-orientation solution, three times as
    large), read back by :func:`load_prepared` with the same MNE.
    """
    import pickle

    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "bank.npz", bank=bank,
             **{f"index_{k}": v for k, v in index.items()})
    fwd = mne.convert_forward_solution(fwd, force_fixed=True, use_cps=True,
                                       verbose=False)
    for key in ("_orig_sol", "_orig_sol_grad"):
        fwd.pop(key, None)
    fwd["sol"]["data"] = fwd["sol"]["data"].astype(np.float32)
    with open(folder / "bank-fwd.pkl", "wb") as f:
        pickle.dump(fwd, f, protocol=pickle.HIGHEST_PROTOCOL)


def load_prepared(folder):
    """Read what :func:`save_prepared` wrote."""
    import pickle

    with np.load(folder / "bank.npz") as f:
        bank = f["bank"]
        index = {k[6:]: f[k] for k in f.files if k.startswith("index_")}
    with open(folder / "bank-fwd.pkl", "rb") as f:
        fwd = pickle.load(f)  # our own file, written by save_prepared
    fwd["sol"]["data"] = fwd["sol"]["data"].astype(np.float64)
    return bank, index, fwd


def cap_entry():
    """Return the model card's ``cap``: the grid and the caps the model accepts."""
    from mne_deepinverse.backends import anycap

    return dict(kind="any", origin=np.round(_head_origin(), 6).tolist(),
                grid_shape=list(anycap.DEFAULTS["grid_shape"]),
                theta_max_deg=anycap.DEFAULTS["theta_max_deg"], alpha=1e-5,
                n_channels=list(CONFIG["n_channels"]),
                max_gap_deg=CONFIG["max_gap_deg"])


def main():
    """Train the any-cap model and write its files."""
    import torch

    from mne_deepinverse._caps import cap_interpolation, coverage_gap
    from mne_deepinverse.backends import anycap
    from mne_deepinverse.training import TrainingData, fit_network

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0,
                        help="training time budget")
    parser.add_argument("--epoch-samples", type=int, default=25_600)
    parser.add_argument("--n-caps", type=int, default=CONFIG["n_caps"])
    parser.add_argument("--out", type=Path,
                        default=ROOT / "mne_deepinverse" / "pretrained")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--jobs", type=int, default=1,
                        help="processes drawing the training caps")
    parser.add_argument("--device", default="cpu", help="torch device (cpu, cuda)")
    parser.add_argument("--prepare", type=Path, default=None,
                        help="only write the electrode bank and its forward here")
    parser.add_argument("--prepared", type=Path, default=None,
                        help="read the bank and forward written by --prepare")
    parser.add_argument("--state-out", type=Path, default=None,
                        help="write the trained weights and record here and stop")
    parser.add_argument("--finish", type=Path, default=None,
                        help="export and validate weights written by --state-out")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    mne.set_log_level("INFO")
    t0 = time.perf_counter()
    if args.prepared:
        bank, index, fwd = load_prepared(args.prepared)
    else:
        bank, index = make_bank()
        fwd = bank_forward(bank)
    print(f"Electrode bank: {len(bank)} positions ({time.perf_counter() - t0:.0f} s)")
    if args.prepare:
        save_prepared(args.prepare, bank, index, fwd)
        return
    cap = cap_entry()
    seed = CONFIG["random_state"]
    caps = [] if args.finish else make_caps(
        bank, index, cap, args.n_caps, seed,
        exclude=HELD_OUT, n_jobs=args.jobs)
    print(f"{len(caps)} training caps, {time.perf_counter() - t0:.0f} s")
    draw = CapBatches(fwd, caps, args.device)
    # validation caps (two never seen in training), with their exact positions
    val_caps = {k: (index[k], cap_interpolation(bank[index[k]], cap))
                for k in VAL_CAPS}
    for k, (idx, _) in val_caps.items():
        print(f"  held-out {k}: {len(idx)} channels, coverage gap "
              f"{coverage_gap(bank[idx], cap):.0f} deg")
    n_each = CONFIG["n_val"] // len(val_caps)
    rng_val = np.random.default_rng(seed + 1)
    Xv, Yv = zip(*(draw(n_each, rng_val, draw.to_device(c, args.device))
                   for c in val_caps.values()), strict=True)
    X_val, Y_val = torch.cat(Xv), torch.cat(Yv)
    net = anycap.build(dict(n_sources=fwd["nsource"], cap=cap), {}).to(args.device)
    print(f"Set-up {time.perf_counter() - t0:.0f} s")
    if args.finish:
        net.load_state_dict(torch.load(args.finish, map_location="cpu"))
        record = json.loads(args.finish.with_suffix(".json").read_text())
    else:
        torch.manual_seed(seed)
        data = TrainingData(
            draw, X_val, Y_val,
            steps_per_epoch=max(1, args.epoch_samples // CONFIG["batch_size"]),
            batch_size=CONFIG["batch_size"], seed=seed, source_pos=fwd["source_rr"])
        record = fit_network(
            net, data, n_epochs=10**6, learning_rate=CONFIG["learning_rate"],
            loss=CONFIG["loss"], patience=8, seed=seed, normalise_input=False,
            max_time_s=args.minutes * 60,
        )
        record["n_caps"] = len(caps)
    if args.state_out:
        torch.save(net.state_dict(), args.state_out)
        args.state_out.with_suffix(".json").write_text(json.dumps(record))
        print(f"Wrote {args.state_out}: {record['samples_seen']:,} samples, "
              f"{record['epochs']} epochs, {record['train_time_s']:.0f} s")
        return
    write_model(net.cpu().eval(), fwd, cap, record, val_caps, draw.sim, args.out, t0)


def write_model(net, fwd, cap, record, val_caps, sim, out, t0):
    """Export the network, validate it per held-out cap and write its files."""
    from make_pretrained_forward import update_registry

    from mne_deepinverse import DeepInverseModel
    from mne_deepinverse.backends import export_onnx, get_backend
    from mne_deepinverse.metrics import evaluate

    card = _card(fwd, cap, record, {})
    anycap = get_backend("anycap")
    model = DeepInverseModel(export_onnx(anycap, net, None, card))
    val = {}
    for k, (idx, _) in val_caps.items():
        sub = mne.pick_channels_forward(fwd, [fwd["info"]["ch_names"][i] for i in idx],
                                        ordered=True, verbose=False)
        prepared = model.bind(sub)
        rng_v = np.random.default_rng(7)
        X, Y = sim.simulate_clean(500, rng_v)
        X = X[:, idx] + rng_v.normal(0, 0.1 * np.abs(X[:, idx]).std(), (500, len(idx)))
        pred = prepared.predict(X)
        scores = evaluate(Y, pred, fwd["source_rr"], metrics=("auc", "mle"))
        val[k] = {m: float(np.median(v)) for m, v in scores.items()}
        print(f"  validation {k}: {val[k]}")
    card = _card(fwd, cap, record, dict(
        caps=val, n_samples=500, sources="1-10 patches",
        noise="white, sd 10 % of the EEG's"))
    model = DeepInverseModel(export_onnx(anycap, net, None, card))
    fname = out / "anycap.onnx"
    fname.write_bytes(model.onnx)
    update_registry(fname)
    wall = time.perf_counter() - t0
    (out / "anycap.md").write_text(model.card.to_markdown(
        name="anycap", summary=anycap.summary))
    print(json.dumps(val, indent=1))
    print(f"Wrote {fname} ({fname.stat().st_size / 1e6:.1f} MB) in {wall / 60:.1f} min")


def _head_origin():
    """Centre (head coordinates, m) of the sphere fitted to the 10-05 positions."""
    montage = mne.channels.make_standard_montage("fsaverage_1005")
    info = mne.create_info(montage.ch_names, 100.0, "eeg").set_montage(montage)
    return mne.bem.fit_sphere_to_headshape(info, dig_kinds=("eeg",), units="m",
                                           verbose=False)[1]


if __name__ == "__main__":
    main()
