# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Rewrite the shipped SIFNet graph so its region maps are expanded before use.

A SIFNet window's output is ``courses @ maps`` (n_times x K times K x
regions), expanded onto the sources by a weighted gather of each source's
nearest regions. Expanding the K region maps first and multiplying by the
time courses after gives the same product while gathering K rows instead of
n_times (:class:`mne_deepinverse.backends.sifnet.ToSources` exports new models
that way). This script makes the same change in the graph of the shipped
``sifnet.onnx`` (trained before it), checks that the outputs agree with the
old graph's on random windows and on simulated EEG, and writes the file,
its sha256 in ``registry.txt`` and its new key in ``fit_reference.json``
(the fit reference of an unchanged function).

Usage::

    python tools/rewrite_sifnet_onnx.py
"""

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

ROOT = Path(__file__).resolve().parents[1]
PRETRAINED = ROOT / "mne_deepinverse" / "pretrained"


def rewrite(model):
    """Move the gathers of ``MatMul(courses, maps)``'s output onto ``maps``."""
    graph = model.graph
    consumers = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    gathers = [n for n in graph.node if n.op_type == "Gather"
               and n.input[0] in {m.output[0] for m in graph.node
                                  if m.op_type == "MatMul"}]
    if not gathers:
        raise RuntimeError("No gather of a MatMul output: already rewritten?")
    product = gathers[0].input[0]
    matmul = next(n for n in graph.node if n.output[0] == product)
    if {id(n) for n in consumers[product]} != {id(n) for n in gathers}:
        raise RuntimeError("The product has other consumers than the gathers.")
    courses, maps = matmul.input
    for g in gathers:
        g.input[0] = maps
    # the last Add of the weighted sum gives 'sources'; it now gives the
    # expanded maps, multiplied by the courses in a new MatMul
    last = next(n for n in graph.node if n.output[0] == "sources")
    last.output[0] = "expanded_maps"
    new = onnx.helper.make_node("MatMul", [courses, "expanded_maps"], ["sources"],
                                name="/courses_times_expanded_maps")
    nodes = [n for n in graph.node if n is not matmul]
    nodes.insert(nodes.index(last) + 1, new)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(model)
    return model


def _run(data, feeds):
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def main():
    """Rewrite, check and write the shipped SIFNet graph."""
    from make_pretrained_forward import update_registry

    from mne_deepinverse import DeepInverseModel
    from mne_deepinverse._load import load_model
    from mne_deepinverse.datasets import read_pretrained_forward
    from mne_deepinverse.simulation import simulate_patch_evoked

    fname = PRETRAINED / "sifnet.onnx"
    old_bytes = fname.read_bytes()
    old_key = load_model("sifnet").key
    new_bytes = rewrite(onnx.load_from_string(old_bytes)).SerializeToString()
    # the same outputs: random windows and simulated EEG of the model's cap
    model = load_model("sifnet")
    n_times = model.card.input.n_times
    rng = np.random.default_rng(0)
    evoked = simulate_patch_evoked(read_pretrained_forward("sifnet"), n_patches=3,
                                   sfreq=model.card.input.sfreq, tmin=-0.2,
                                   tmax=0.6, random_state=0)[0]
    real = evoked.data[:, :n_times].T[None].astype(np.float32)
    worst = 0.0
    for X in (rng.standard_normal((5, n_times, len(model.ch_names))).astype(
            np.float32) * 1e-6, real):
        for a, b in zip(_run(old_bytes, dict(eeg=X)), _run(new_bytes, dict(eeg=X)),
                        strict=True):
            err = float(np.abs(a - b).max() / np.abs(a).max())
            worst = max(worst, err)
    print(f"largest difference between the graphs' outputs (relative to the "
          f"largest output): {worst:.1e}")
    if worst > 1e-5:
        raise RuntimeError("The rewritten graph's outputs differ.")
    fname.write_bytes(new_bytes)
    update_registry(fname)
    new_key = DeepInverseModel(new_bytes).key
    refs = PRETRAINED / "fit_reference.json"
    table = json.loads(refs.read_text())
    if old_key in table:
        table[new_key] = table.pop(old_key)
        refs.write_text(json.dumps(table, indent=1) + "\n")
        update_registry(refs)
    print(f"Wrote {fname} ({len(new_bytes) / 1e6:.2f} MB); key {old_key} -> "
          f"{new_key}")


if __name__ == "__main__":
    main()
