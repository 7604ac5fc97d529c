"""Record what each shipped model's estimates explain on its own kind of data.

For every shipped inverse model, simulate evokeds the way its training data
were drawn (the model card's ``simulation``: patches, extents, amplitudes, SNR
range, brain + white noise), with a 200-ms baseline, apply the model, and
record the goodness of fit of every time sample (``apply_deep_inverse``'s, in
%) against its SNR estimated from the baseline, as it is estimated at apply
time. The 5th and 50th percentiles per 2-dB SNR bin go to
``mne_deepinverse/pretrained/fit_reference.json`` (keyed by the model's key),
whose sha256 goes into ``registry.txt``.

Usage::

    python tools/make_fit_reference.py [--n-evokeds 200] [--random-state 0]

The fixed-cap models (ConvDip, U-Net, VNet, SIFNet) use their training forward
(31 channels); the any-cap model a 64-channel BioSemi cap on the template;
the any-sensor model the same EEG cap and the Neuromag 306-channel MEG of the
template with its noise covariance, half of the evokeds each.
"""

import argparse
import hashlib
import json
from pathlib import Path

import mne
import numpy as np
from mne.utils import ProgressBar

from mne_deepinverse import apply_deep_inverse
from mne_deepinverse._fit import REFERENCE_FILE, _fit_terms, _sample_snr_db, explained
from mne_deepinverse._load import load_model
from mne_deepinverse.datasets import (
    make_template_forward,
    make_template_info,
    make_template_meg_info,
    read_meg_noise_cov,
    read_pretrained_forward,
)
from mne_deepinverse.simulation import simulate_patch_evoked

EDGES = np.arange(0.0, 26.0, 2.0)  # SNR bins (dB)
MIN_PER_BIN = 30
HERE = Path(__file__).resolve().parents[1] / "mne_deepinverse" / "pretrained"


def _setups(name, model):
    """(fwd, noise_cov) pairs the model is simulated on."""
    if model.card.input.is_window or name in ("convdip", "unet", "vnet"):
        return [(read_pretrained_forward(name), None)]
    montage = mne.channels.make_standard_montage("biosemi64")
    eeg = make_template_forward(make_template_info(montage.ch_names))
    if name == "anycap":
        return [(eeg, None)]
    info = make_template_meg_info()
    return [(eeg, None), (make_template_forward(info), read_meg_noise_cov())]


def _params(card):
    sim = card.simulation
    sim = sim.get("patches", sim)
    return dict(n_patches=tuple(sim["n_patches"]), extent=tuple(sim["extent"]),
                amplitude=tuple(sim["amplitude"]), snr_db=tuple(sim["snr_db"]),
                noise=["brain", "white"])


def reference(name, n_evokeds, random_state):
    """Return the model's key and its fit reference entry."""
    model = load_model(name)
    params = _params(model.card)
    sfreq = model.card.input.sfreq or 100.0
    tmax = 0.3 if not model.card.input.is_window else 0.6
    setups = _setups(name, model)
    rng = np.random.default_rng(random_state)
    gofs, snrs = [], []
    for ii in ProgressBar(range(n_evokeds), mesg=name):
        fwd, cov = setups[ii % len(setups)]
        evoked, _ = simulate_patch_evoked(
            fwd, sfreq=sfreq, tmin=-0.2, tmax=tmax, random_state=rng,
            noise_cov=cov, **params)
        stc = apply_deep_inverse(evoked, fwd, name, noise_cov=cov)
        X, R = _fit_terms(evoked, stc, fwd, cov)
        power = np.sum(X**2, axis=0)
        gof = explained(X, R)
        snr = _sample_snr_db(power, evoked.times)
        keep = evoked.times >= 0
        gofs.append(gof[keep])
        snrs.append(snr[keep])
    gof, snr = np.concatenate(gofs), np.concatenate(snrs)
    p5, p50, counts = [], [], []
    for lo, hi in zip(EDGES[:-1], EDGES[1:], strict=True):
        sel = (snr >= lo) & (snr < hi)
        if hi == EDGES[-1]:
            sel |= snr >= hi
        counts.append(int(sel.sum()))
        enough = sel.sum() >= MIN_PER_BIN
        p5.append(float(np.percentile(gof[sel], 5)) if enough else None)
        p50.append(float(np.percentile(gof[sel], 50)) if enough else None)
    desc = (f"{n_evokeds} simulated evokeds ({params['n_patches'][0]}-"
            f"{params['n_patches'][1]} patches, SNR {params['snr_db'][0]:g}-"
            f"{params['snr_db'][1]:g} dB at the peak, brain + white noise, "
            f"200-ms baseline, {sfreq:g} Hz) on "
            + " and ".join(f"{len(f['sol']['row_names'])} channels"
                           for f, _ in setups)
            + f"; random_state={random_state}")
    return model.key, dict(model=name, snr_db=EDGES.tolist(), p5=p5, p50=p50,
                           counts=counts, data=desc)


def main():
    """Compute the references of the models asked for; update the registry."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-evokeds", type=int, default=200)
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--models", nargs="+", default=[
        "convdip", "unet", "vnet", "sifnet", "anycap", "anysensor"])
    args = parser.parse_args()
    mne.set_log_level("ERROR")
    out = HERE / REFERENCE_FILE
    refs = json.loads(out.read_text()) if out.is_file() else {}
    for name in args.models:
        key, entry = reference(name, args.n_evokeds, args.random_state)
        refs = {k: v for k, v in refs.items() if v["model"] != name}
        refs[key] = entry
        print(name, "p5:", [None if v is None else round(v) for v in entry["p5"]])
        out.write_text(json.dumps(refs, indent=1) + "\n")
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    registry = HERE / "registry.txt"
    lines = [ln for ln in registry.read_text().splitlines()
             if not ln.startswith(REFERENCE_FILE + " ")]
    lines.append(f"{REFERENCE_FILE} sha256:{digest}")
    registry.write_text("\n".join(sorted(lines)) + "\n")
    print(f"Wrote {out} (sha256 {digest})")


if __name__ == "__main__":
    main()
