# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""The markdown model card: one renderer (``ModelCard.to_markdown``) for all.

The shipped ``pretrained/<name>.md`` files start with what the training tools
write (``to_markdown`` of the model's card, the backend's summary and the
tool's notes); hand-written sections (benchmarks, design) may follow.
"""

import re
import sys
from pathlib import Path

import numpy as np
import pytest

from mne_deepinverse._card import ModelCard
from mne_deepinverse._load import load_model
from mne_deepinverse._registry import PRETRAINED
from mne_deepinverse.backends import get_backend
from mne_deepinverse.datasets import pretrained_dir

TOOLS = Path(__file__).resolve().parents[1] / "tools"
sys.path.insert(0, str(TOOLS))
import train_anysensor  # noqa: E402
import train_pretrained  # noqa: E402

sys.path.remove(str(TOOLS))


def _notes(name, committed):
    """The notes the model's training tool passes (its wall time as committed)."""
    if name == "anycap":  # tools/train_anycap.py: the card says it all
        return ()
    wall = float(re.search(r"- script wall time: ([\d.]+) min", committed)[1]) * 60
    if name == "anysensor":
        return train_anysensor.card_notes(wall)
    return train_pretrained.card_notes(name, wall)


@pytest.mark.parametrize("name", sorted(PRETRAINED))
def test_shipped_markdown_cards(name):
    """Every shipped card renders to the committed markdown, with its numbers."""
    card = load_model(name).card
    committed = (pretrained_dir() / PRETRAINED[name]["card"]).read_text()
    text = card.to_markdown(name=name, summary=get_backend(card.backend).summary,
                            notes=_notes(name, committed))
    # the committed file is the rendered card, then hand-written sections
    assert committed.startswith(text)
    rest = committed[len(text):]
    assert rest == "" or rest.startswith("\n")
    assert text.startswith(f"# Model card: {name}\n\n{get_backend(name).summary}.")
    # the key numbers of the card
    tr, val = card["training"], card["validation"]
    assert f" seen: {tr['samples_seen']:,}; epochs: {tr['epochs']};" in text
    assert f"training time: {tr['train_time_s'] / 60:.1f} min" in text
    scores = [val] if "auc" in val else []
    scores += list(val.get("caps", {}).values()) + val.get("per_config", [])
    assert scores
    for score in scores:
        assert f"AUC {score['auc']:.3f}, MLE {score['mle']:.1f} mm" in text
    assert "- sources: 5124 on `fsaverage5` (ico4), fixed orientation" in text
    kind = card.sensors.kind
    if kind == "fixed":
        assert f"31 EEG channels ({' '.join(card['ch_names'])})" in text
    elif kind == "any_cap":
        assert "- sensors: any cap of 16-256 EEG channels" in text
        assert "--montage biosemi64" in text  # validated, never seen in training
    else:
        configs = card["any_sensors"]["configs"]
        assert f"trained over {len(configs)} sensor configurations: " \
               f"{'; '.join(configs)}" in text
        for config in configs:
            assert f"  - {config}: AUC" in text
        assert "--sensors meg` (or `meg+eeg`, `eeg`)" in text
    window = card.input.is_window
    assert ("windows of 128 samples at 250 Hz" in text) == window
    assert ("--time-course erp" in text) == window
    assert ("1000-region parcellation" in text) == window


def test_markdown_card_of_any_model():
    """A bare card renders (no record, another source space); arguments checked."""
    full = load_model("convdip").card
    entries = {k: v for k, v in full.items()
               if k not in ("training", "validation", "simulation", "preprocessing",
                            "hyper_params")}
    rr = np.asarray(full["source_rr"])
    entries.update(vertices=[list(range(1, 11)), list(range(1, 11))], n_sources=20,
                   source_rr=rr[:20].tolist())
    card = ModelCard.from_dict(entries)
    text = card.to_markdown(notes=["made by hand"])
    assert text.startswith("# Model card: convdip\n\n- backend: `convdip`, "
                           "hyper-parameters: `{}`\n")
    assert "- sources: 20 on `fsaverage5` (surface), fixed orientation\n" in text
    assert "- input: one time sample\n- made by hand\n\n" in text
    for what in ("training", "validation", "seen", "simulation", "pre-processing"):
        assert f"- {what}" not in text
    assert text.endswith("run `mne-deepinverse benchmark --models convdip`.\n")
    assert card.to_markdown(name="mine.onnx", summary="A net.").startswith(
        "# Model card: mine.onnx\n\nA net.\n\n")
    with pytest.raises(TypeError, match="name must be an instance of str"):
        card.to_markdown(name=1)
    with pytest.raises(TypeError, match="each note must be an instance of str"):
        card.to_markdown(notes=[1])
