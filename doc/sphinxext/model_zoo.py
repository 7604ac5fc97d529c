# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""The model zoo page: the shipped models' cards and benchmark numbers as rst.

A documentation generator (``doc/conf.py`` runs it at every build), not part
of the package.
"""

import json
from pathlib import Path

from mne_deepinverse import read_deep_inverse_model
from mne_deepinverse._registry import PRETRAINED
from mne_deepinverse.backends import get_backend
from mne_deepinverse.datasets import fetch_pretrained_file
from mne_deepinverse.datasets._pretrained import _read_registry


def _sensors(card):
    """Describe the sensors a model reads."""
    if "cap" in card:
        low, high = card["cap"]["n_channels"]
        return f"any EEG cap of {low}-{high} channels on the template"
    if "any_sensors" in card:
        configs = card["any_sensors"]["configs"]
        kinds = sorted(set(configs))
        return ("any EEG cap and MEG array on the template (trained over "
                f"{len(configs)} configurations: {'; '.join(kinds)})")
    n = len(card["ch_names"])
    types = card.get("sensors", {}).get("ch_types")
    what = "EEG" if not types else "/".join(sorted(set(types)))
    return f"{n} {what} channels: {' '.join(card['ch_names'])}"


def _input(card):
    """Describe what the model reads and how it is pre-processed."""
    inp = card.get("input", {"kind": "sample"})
    if inp["kind"] == "window":
        what = (f"windows of {inp['n_times']} samples at {inp['sfreq']:g} Hz "
                f"({1e3 * inp['n_times'] / inp['sfreq']:.0f} ms)")
    else:
        what = "one time sample at a time"
    pre = card.get("preprocessing", {})
    return (f"{what}; reference: {pre.get('reference', 'average')}; "
            f"normalisation: {pre.get('normalisation', '-')}; amplitudes: "
            f"{pre.get('rescaling', '-')}")


def _training(card):
    """Describe the training data and record."""
    tr = card.get("training", {})
    sim = json.dumps(card.get("simulation") or {})
    minutes = tr.get("train_time_s", float("nan")) / 60
    return (f"{tr.get('data', '?')}; simulation ``{sim}``; "
            f"{tr.get('samples_seen', 0):,} samples seen in {tr.get('epochs', '?')} "
            f"epochs; loss {tr.get('loss', '?')}, batch {tr.get('batch_size', '?')}, "
            f"seed {tr.get('random_state')}; {minutes:.1f} min on "
            f"{tr.get('machine', '?')} ({tr.get('date', '?')})")


def _validation(card):
    """Describe the validation metrics (simulated, the training generator)."""
    val = card.get("validation", {})
    if "caps" in val:
        parts = [f"{cap}: AUC {v['auc']:.3f}, MLE {v['mle']:.1f} mm"
                 for cap, v in val["caps"].items()]
        return "; ".join(parts) + f" ({val.get('sources', '')})"
    if "auc" not in val:
        return "-"
    return (f"AUC {val['auc']:.3f}, MLE {val['mle']:.1f} mm, nMSE "
            f"{val['nmse']:.4f} (n = {val.get('n_samples', '?')}, medians)")


def _benchmarks(name, runs):
    """Return table rows (cap, set, AUC, MLE, F1 and the best MNE solver's)."""
    rows = []
    for fname in runs:
        data = json.loads(Path(fname).read_text())
        cfg, summ = data["config"], data["summary"]
        if name not in cfg.get("deep", []):
            continue
        cap = cfg.get("cap", "31 channels")
        if cfg.get("time_course", "half-sine") == "erp":
            cap += ", ERP time courses"
        for kind, label in (("single", "single"), ("multi", "1-10")):
            mets = summ[kind][name]
            base = {m: v for m, v in summ[kind].items()
                    if m not in cfg.get("deep", [])}
            best_auc = max(base, key=lambda m: base[m]["auc"]["median"])
            best_mle = min(base, key=lambda m: base[m]["mle"]["median"])
            f1 = mets.get("f1", {}).get("median")
            best_f1 = max(base, key=lambda m: base[m].get("f1", {}).get("median", 0))
            rows.append([
                cap, label, f"{cfg['n_samples']}",
                f"{mets['auc']['median']:.3f} ({best_auc} "
                f"{base[best_auc]['auc']['median']:.3f})",
                f"{mets['mle']['median']:.1f} ({best_mle} "
                f"{base[best_mle]['mle']['median']:.1f})",
                "-" if f1 is None else f"{f1:.2f} ({best_f1} "
                f"{base[best_f1]['f1']['median']:.2f})",
            ])
    return rows


def _speed(fname):
    """Return the section of speed, memory and first use (bench_apply.py's JSON)."""
    res = json.loads(Path(fname).read_text())
    machine = res["machine"]
    lines = [
        "Speed and memory", "================", "",
        f"Measured with ``{machine['command']}`` on {machine['cpu']}, "
        f"{machine['versions']} ({machine['date']}). An evoked of 1000 samples at "
        "250 Hz (31 EEG channels; 306 MEG channels for the any-sensor model) is "
        "inverted with ``apply_deep_inverse`` (best of repeated calls, the model "
        "bound) and with MNE's ``make_inverse_operator`` + ``apply_inverse`` "
        "(dSPM, fixed orientation) on the same data in the same run; the ratio "
        "is ours over MNE's. The peak memory of that call is the growth of the "
        "resident set; for a 64-channel Raw at 250 Hz at the default "
        "``buffer_size``, the memory beyond the returned estimate and the "
        "throughput of ``apply_deep_inverse_raw`` as a multiple of real time.", "",
        ".. list-table::", "   :header-rows: 1", "",
        "   * - model", "     - evoked (s)", "     - dSPM path (s)",
        "     - ratio", "     - peak memory (MB)",
        "     - Raw: beyond the estimate (MB)", "     - Raw: x real time",
    ]
    for name, r in res.items():
        if name in ("machine", "first_use"):
            continue
        raw = r.get("raw") or {}
        lines += [f"   * - {name}", f"     - {r['ours_s']:.3f}",
                  f"     - {r['mne_dspm_s']:.3f}", f"     - {r['ratio']:.2f}",
                  f"     - {r['peak_mb']:.0f}",
                  f"     - {raw['beyond_mb']:.0f}" if raw else "     - ",
                  f"     - {raw['real_time']:.1f}" if raw else "     - "]
    first = res.get("first_use")
    if first:
        lines += [
            "", "First use on an empty cache (a new process, a new ``MNE_DATA``): a "
            f"new EEG cap's forward in {first['eeg_forward_s']:.1f} s and its first "
            f"any-cap estimate in {first['eeg_first_apply_s']:.1f} s more; a new MEG "
            f"head position's forward in {first['meg_forward_s']:.1f} s and its "
            f"first any-sensor estimate in {first['meg_first_apply_s']:.1f} s more "
            "(see :func:`mne_deepinverse.datasets.make_template_forward`)."]
    return lines + [""]


def write_model_zoo(rst_fname, benchmark_runs=(), speed=None):
    """Write the model zoo page from the shipped model cards.

    Parameters
    ----------
    rst_fname : path-like
        The page to write.
    benchmark_runs : list of path-like
        ``benchmark.json`` files of full benchmark runs; a model's rows come
        from the runs it took part in.
    speed : path-like | None
        The JSON of ``benchmarks/bench_apply.py`` (speed, memory, first use).

    Returns
    -------
    rst_fname : pathlib.Path
        The page.
    """
    registry = _read_registry()
    lines = [
        "Model zoo", "=========", "",
        "The pretrained models that ship with the package, generated from their "
        "model cards (the metadata of each ONNX file) and from the benchmark runs "
        "of :doc:`benchmark_results` (do not edit by hand). Each file is verified "
        "against its sha256 hash before it is read. Apply one with "
        "``apply_deep_inverse(evoked, fwd, model=NAME)``; what they assume is on "
        ":doc:`limitations`.", "",
    ]
    for name, entry in PRETRAINED.items():
        path = fetch_pretrained_file(entry["model"])
        card = read_deep_inverse_model(path).card
        src = (f"{card['n_sources']} sources, {card['src_kind']} source space of "
               f"``{card['subject']}``, fixed orientation")
        forward = ("``read_pretrained_forward(\"convdip\")``" if entry["forward"]
                   else "the user's template forward (``make_template_forward``)")
        lines += [
            name, "-" * len(name), "", f"{get_backend(card['backend']).summary}.", "",
            f"- **sensors**: {_sensors(card)}",
            f"- **input**: {_input(card)}",
            f"- **source space**: {src}; forward: {forward}",
            f"- **hyper-parameters**: ``{json.dumps(card.get('hyper_params'))}``",
            f"- **training**: {_training(card)}",
            f"- **validation** (simulated, the training generator): "
            f"{_validation(card)}",
            f"- **file**: ``{entry['model']}``, {path.stat().st_size / 1e6:.2f} MB, "
            f"``{registry[entry['model']]}``; card: ``{entry['card']}``",
            "",
        ]
        rows = _benchmarks(name, benchmark_runs)
        if rows:
            lines += [
                "Benchmark (inverse-crime-free AGM test data, medians; in brackets "
                "the best MNE solver on that metric):", "",
                ".. list-table::", "   :header-rows: 1", "",
                "   * - sensors", "     - set", "     - n", "     - AUC",
                "     - MLE (mm)", "     - F1",
            ]
            for row in rows:
                lines.append(f"   * - {row[0]}")
                lines += [f"     - {cell}" for cell in row[1:]]
            lines.append("")
        else:
            lines += ["No full benchmark run of this model is on "
                      ":doc:`benchmark_results`.", ""]
    if speed is not None:
        lines += _speed(speed)
    lines += _synthesizers(registry)
    rst_fname = Path(rst_fname)
    rst_fname.write_text("\n".join(lines) + "\n")
    return rst_fname


def _duration(seconds):
    """Return a duration in words (s below two minutes, else min)."""
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _synthesizers(registry):
    """Return the section of the BOLD synthesizers (not inverse models)."""
    from mne_deepinverse._registry import SYNTHESIZERS
    from mne_deepinverse.fmri._deep import load_synthesizer

    lines = ["BOLD synthesizers", "=================", "",
             "Networks that predict the fMRI BOLD signal of the template's regions "
             "from EEG (:func:`mne_deepinverse.fmri.synthesize_bold` with "
             "``method=\"deep\"``); their benchmark is on :doc:`fmri`.", ""]
    for name, entry in SYNTHESIZERS.items():
        card = load_synthesizer(name).card
        spec, tr, val = card["bold"], card["training"], card["validation"]
        path = fetch_pretrained_file(entry["model"])
        bands = ", ".join(f"{lo:g}-{hi:g}" for lo, hi in spec["bands"])
        feats = [f"log band power ({bands} Hz)"] if bands else []
        feats += ["the slow potential (bin means)"] if spec.get("slow") else []
        lines += [
            name, "-" * len(name), "", f"{card['summary']}.", "",
            f"- **input**: {' and '.join(feats)} of any EEG cap of "
            f"{spec['cap']['n_channels'][0]}-{spec['cap']['n_channels'][1]} channels "
            f"on a grid of {spec['n_pixels']} virtual electrodes, {spec['n_bins']} "
            f"bins of {spec['bin_s']:g} s before each frame",
            f"- **output**: BOLD signal change (%, relative to the recording's "
            f"mean) of {spec['n_regions']} regions "
            f"of the template ({len(spec['labels'])} sources)",
            f"- **training**: {tr['data']}; {tr['epochs']} epochs, "
            f"{tr['samples_seen']} pairs, {_duration(tr['train_time_s'])} on "
            f"{tr['machine']} ({tr['date']})",
            f"- **validation** (simulated, the training generator): RMSE "
            f"{val['rmse_pct']:.3f} %, median correlation "
            f"{val['median_r_varying_regions']:.3f} over the regions whose BOLD "
            "varies",
            f"- **file**: ``{entry['model']}``, {path.stat().st_size / 1e6:.2f} MB, "
            f"``{registry[entry['model']]}``; card: ``{entry['card']}``", ""]
    return lines
