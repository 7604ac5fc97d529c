# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""The model card: what a trained model reads, where its sources are, its record.

A model file is one ONNX graph whose metadata holds the card as JSON
(:data:`CARD_KEY`). :class:`ModelCard` is the card's one owner: it is
validated once, when it is read (:meth:`ModelCard.from_json`), and then
offers typed views of what varies between models:

- :class:`InputSpec`: one time sample, or a window of ``n_times`` samples at
  ``sfreq`` Hz;
- :class:`SensorSpec`: how the model meets the sensors: ``"fixed"`` channels
  (with their positions, types, noise covariance and projectors),
  ``"any_cap"`` (any EEG cap, interpolated onto the model's scalp grid) or
  ``"any_sensor"`` (any EEG cap and MEG array, linear kernels computed for
  the forward at apply time);
- :class:`SourceSpec`: the source space (type, subject, vertices, positions,
  one orientation per source, normal to the cortex).

The stored layout is format 2 (format 1 cards lack ``input`` and read one
time sample): the cards of the shipped models are read unchanged, and
``ModelCard.from_dict(d).to_dict() == d``. A card is immutable; a changed
card is a new one (:meth:`ModelCard.replace`).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import mne
import numpy as np
from mne.utils import _validate_type

from ._preprocessing import DESCRIPTION as _PREPROCESSING
from ._registry import PRETRAINED
from ._sensors import Sensors, sensor_gain, sensor_positions_head
from ._utils import _gain_fingerprint, _make_info

CARD_KEY = "mne_deepinverse_model_card"
#: Format 2 adds the card's ``input`` (format 1 cards read one time sample).
FORMAT_VERSION = 2
# what every model card holds (the apply path and the checks read them)
CARD_KEYS = ("format_version", "backend", "ch_names", "ch_pos", "n_sources",
             "vertices", "subject", "src_kind", "source_rr", "gain_fingerprint")
#: What an any-cap model's ``cap`` entry holds (``kind="any"``).
CAP_KEYS = ("kind", "origin", "grid_shape", "theta_max_deg", "alpha",
            "n_channels", "max_gap_deg")
#: What an any-sensor model's ``any_sensors`` entry holds.
ANY_SENSOR_KEYS = ("kernels", "lambda2")
#: What a model reads: one time sample (every sample is inverted on its own)
#: or a window of ``n_times`` samples at ``sfreq`` Hz.
INPUT_KINDS = ("sample", "window")
#: Most time samples a graph runs on at once when its card does not say.
ROWS_PER_CALL = 256
#: The longest window (samples) a model card may declare.
_MAX_WINDOW = 100_000
#: How a model meets the sensors of the data.
SENSOR_KINDS = ("fixed", "any_cap", "any_sensor")
#: How every model's amplitudes are fitted (its card's pre-processing).
RESCALING = "least squares (closed form, Brent-checked)"
_CORRUPT = (": the file is corrupted or was not written by mne-deepinverse. Save "
            "it again with DeepInverse.save or reinstall the pretrained models.")


def _corrupt(what):
    return RuntimeError(what + _CORRUPT)


@dataclass(frozen=True)
class InputSpec:
    """What a network reads: one time sample, or a window of samples.

    Parameters
    ----------
    kind : "sample" | "window"
        One time sample (every sample is inverted on its own) or windows.
    n_times : int | None
        Samples per window (windows only).
    sfreq : float | None
        Sampling rate of the windows in Hz (windows only).
    """

    kind: str = "sample"
    n_times: int | None = None
    sfreq: float | None = None

    @classmethod
    def from_dict(cls, entry):
        """Read the card's ``input`` entry (None: one time sample)."""
        entry = dict(entry or {"kind": "sample"})
        kind = entry.get("kind")
        if kind not in INPUT_KINDS:
            raise RuntimeError(
                f"The model card's input kind {kind!r} is not one of "
                f"{INPUT_KINDS}: the file is corrupted or needs a newer "
                "mne-deepinverse."
            )
        if kind == "sample":
            return cls()
        try:
            n_times, sfreq = int(entry["n_times"]), float(entry["sfreq"])
        except (KeyError, TypeError, ValueError):
            raise _corrupt(f"The model card's window input {entry} lacks a valid "
                           "n_times or sfreq") from None
        if not (1 <= n_times <= _MAX_WINDOW and 0 < sfreq < np.inf):
            raise _corrupt(f"The model card's window input {entry} is invalid "
                           f"(n_times must be 1-{_MAX_WINDOW}, sfreq positive)")
        return cls("window", n_times, sfreq)

    def to_dict(self):
        """Return the card's ``input`` entry."""
        if self.kind == "sample":
            return dict(kind="sample")
        return dict(kind="window", n_times=self.n_times, sfreq=self.sfreq)

    @property
    def is_window(self):
        """Whether the network reads windows (bool)."""
        return self.kind == "window"

    def describe(self):
        """Return the input in words."""
        if not self.is_window:
            return "one time sample"
        return f"windows of {self.n_times} samples at {self.sfreq:g} Hz"


@dataclass(frozen=True, eq=False)
class SensorSpec:
    """How a model meets the sensors: its channels, or the caps it accepts.

    Parameters
    ----------
    kind : "fixed" | "any_cap" | "any_sensor"
        Fixed channels; any EEG cap (through the ``cap`` grid); any EEG cap
        and MEG array (kernels computed for the forward at apply time).
    ch_names : tuple of str
        The channels of a fixed-channel model (empty otherwise).
    ch_types : tuple of str
        Their types.
    ch_pos : array, shape (n_channels, 3)
        Their positions in head coordinates (m; MEG through the forward's
        ``dev_head_t``).
    noise_cov : dict | None
        The card's noise covariance entry of a whitened fixed-channel model.
    projs : tuple of dict
        Its projectors (the EEG average reference included).
    comp_grade : int
        The CTF compensation grade of the forward.
    gain_fingerprint : array
        A fingerprint of the (average-referenced or whitened) gain, to check
        that a forward is the one the model was trained on.
    cap : dict | None
        An any-cap model's grid (:data:`CAP_KEYS`).
    any_sensors : dict | None
        An any-sensor model's kernels and regularisation
        (:data:`ANY_SENSOR_KEYS`) and its training configurations.
    """

    kind: str
    ch_names: tuple = ()
    ch_types: tuple = ()
    ch_pos: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    noise_cov: dict | None = None
    projs: tuple = ()
    comp_grade: int = 0
    gain_fingerprint: np.ndarray = field(default_factory=lambda: np.zeros(0))
    cap: dict | None = None
    any_sensors: dict | None = None

    @classmethod
    def from_card(cls, card):
        """Read the sensor entries of a card dict (format 1 and 2)."""
        if "cap" in card:
            cap = card["cap"]
            missing = [key for key in CAP_KEYS
                       if not isinstance(cap, dict) or key not in cap]
            if missing or cap["kind"] != "any":
                raise _corrupt(f"The model card's cap entry is invalid (lacks "
                               f"{missing} or is not kind 'any')")
            return cls("any_cap", cap=copy.deepcopy(cap))
        if "any_sensors" in card:
            entry = card["any_sensors"]
            missing = [key for key in ANY_SENSOR_KEYS
                       if not isinstance(entry, dict) or key not in entry]
            if missing:
                raise _corrupt(f"The model card's any_sensors entry lacks {missing}")
            return cls("any_sensor", any_sensors=copy.deepcopy(entry))
        names = card["ch_names"]
        if not isinstance(names, list) or not names or not all(
                isinstance(ch, str) for ch in names):
            raise _corrupt("The model card's ch_names are not a list of channel "
                           "names")
        pos = np.asarray(card["ch_pos"], dtype=np.float64)
        if pos.shape != (len(names), 3):
            raise _corrupt(f"The model card has {len(names)} channels but "
                           f"ch_pos of shape {pos.shape}")
        entry = card.get("sensors")
        if entry is None:  # average-referenced EEG
            types, noise_cov, projs, grade = ("eeg",) * len(names), None, (), 0
        else:
            types = tuple(entry["ch_types"])
            noise_cov = copy.deepcopy(entry.get("noise_cov"))
            projs = tuple(copy.deepcopy(entry.get("projs", ())))
            grade = int(entry.get("comp_grade", 0))
            if len(types) != len(names):
                raise _corrupt(f"The model card has {len(names)} channels but "
                               f"{len(types)} channel types")
        fingerprint = np.asarray(card["gain_fingerprint"], dtype=np.float64)
        if not np.isfinite(pos).all() or not np.isfinite(fingerprint).all() or (
                not fingerprint.any()):
            raise _corrupt("The model card's channel positions or gain "
                           "fingerprint are not finite (or all zero)")
        return cls("fixed", tuple(names), types, pos, noise_cov, projs, grade,
                   fingerprint)

    @property
    def whitened(self):
        """Whether a fixed-channel model whitens its data (bool)."""
        return self.noise_cov is not None

    @property
    def reads_forward(self):
        """Whether the model learns its channels from the forward (bool)."""
        return self.kind != "fixed"

    def describe(self):
        """Return the sensors in words, e.g. "31 EEG channels"."""
        if self.kind == "any_cap":
            low, high = self.cap["n_channels"]
            return f"any cap of {low}-{high} EEG channels"
        if self.kind == "any_sensor":
            return "any EEG cap and MEG array"
        names = dict(mag="mag", grad="grad", eeg="EEG")
        return " + ".join(f"{self.ch_types.count(t)} {name}"
                          for t, name in names.items() if t in self.ch_types
                          ) + " channels"


@dataclass(frozen=True, eq=False)
class SourceSpec:
    """The source space of a model's output.

    Parameters
    ----------
    src_type : str
        MNE's source-space type (``"surface"``, ``"volume"``, ``"mixed"``,
        ``"discrete"``).
    subject : str
        The FreeSurfer subject.
    vertices : list of array of int
        The vertices of every source space (hemisphere).
    positions : array, shape (n_sources, 3)
        Source positions (m, MRI coordinates).
    n_orient : int
        Orientations per source (1: fixed, normal to the cortex).
    """

    src_type: str
    subject: str | None
    vertices: tuple
    positions: np.ndarray
    n_orient: int = 1

    @classmethod
    def from_card(cls, card):
        """Read the source entries of a card dict."""
        vertices = tuple(np.asarray(v, dtype=np.int64) for v in card["vertices"])
        pos = np.asarray(card["source_rr"], dtype=np.float64)
        n = int(card["n_sources"])
        if sum(len(v) for v in vertices) != n or pos.shape != (n, 3):
            raise _corrupt(f"The model card's {n} sources do not match its "
                           f"vertices ({sum(len(v) for v in vertices)}) or "
                           f"positions {pos.shape}")
        return cls(str(card["src_kind"]), card["subject"], vertices, pos)

    @property
    def n_sources(self):
        """Number of sources (int)."""
        return int(sum(len(v) for v in self.vertices))

    def matches(self, src):
        """Whether an :class:`mne.SourceSpaces` has these vertices (bool)."""
        return len(src) == len(self.vertices) and all(
            np.array_equal(s["vertno"], v)
            for s, v in zip(src, self.vertices, strict=True))

    def make_stc(self, data, tmin, tstep):
        """Return a SourceEstimate of ``data`` (n_sources, n_times), MNE's way."""
        from mne.source_estimate import _make_stc

        return _make_stc(data, [v.copy() for v in self.vertices], tmin=tmin,
                         tstep=tstep, subject=self.subject, src_type=self.src_type)


class ModelCard(Mapping):
    """The model card: a validated, immutable record of a trained model.

    Read one with :meth:`from_json` (as stored in a model file) or
    :meth:`from_dict`; its typed views are :attr:`input`, :attr:`sensors`
    and :attr:`source`. It is also a read-only mapping of the stored entries
    (``card["validation"]``, ``"cap" in card``); values are copies.

    Parameters
    ----------
    entries : dict
        The stored card (format 1 or 2).
    """

    __slots__ = ("_entries", "_input", "_sensors", "_source")

    def __init__(self, entries):
        if not isinstance(entries, dict):
            raise _corrupt(f"The model card is a JSON {type(entries).__name__}, "
                           "not an object")
        version = entries.get("format_version", 0)
        if isinstance(version, int) and version > FORMAT_VERSION:
            raise RuntimeError(
                f"The model was written by a newer mne-deepinverse (format "
                f"{version}); upgrade the package."
            )
        missing = [key for key in CARD_KEYS if key not in entries]
        if missing:
            raise _corrupt(f"The model card lacks the keys {missing}")
        entries = copy.deepcopy(entries)
        object.__setattr__(self, "_entries", entries)
        object.__setattr__(self, "_input", InputSpec.from_dict(entries.get("input")))
        object.__setattr__(self, "_sensors", SensorSpec.from_card(entries))
        object.__setattr__(self, "_source", SourceSpec.from_card(entries))

    def __setattr__(self, name, value):
        raise AttributeError("A ModelCard is immutable; use card.replace(...).")

    # --- reading and writing ---------------------------------------------------
    @classmethod
    def from_dict(cls, entries):
        """Return the card of a dict (validated).

        Parameters
        ----------
        entries : dict
            The stored card (format 1 or 2).

        Returns
        -------
        card : ModelCard
            The card.
        """
        return cls(entries)

    @classmethod
    def from_json(cls, text):
        """Return the card of its JSON text (validated).

        Parameters
        ----------
        text : str
            The card as stored in a model file.

        Returns
        -------
        card : ModelCard
            The card.
        """
        try:
            entries = json.loads(text)
        except json.JSONDecodeError as exc:
            raise _corrupt(f"The model card is not valid JSON ({exc})") from None
        return cls(entries)

    def to_dict(self):
        """Return the stored card.

        Returns
        -------
        entries : dict
            A new dict of the stored entries.
        """
        return copy.deepcopy(self._entries)

    def to_json(self):
        """Return the card as stored in a model file.

        Returns
        -------
        text : str
            The card as JSON.
        """
        return json.dumps(self._entries)

    def replace(self, **entries):
        """Return a new card with some entries replaced (validated).

        Parameters
        ----------
        **entries
            The entries to set (e.g. ``validation=dict(...)``).

        Returns
        -------
        card : ModelCard
            The new card; this one is unchanged.
        """
        return type(self)({**self._entries, **copy.deepcopy(entries)})

    # --- the mapping of stored entries ----------------------------------------------
    def __getitem__(self, key):
        return copy.deepcopy(self._entries[key])

    def __iter__(self):
        return iter(self._entries)

    def __len__(self):
        return len(self._entries)

    def __contains__(self, key):
        return key in self._entries

    def __repr__(self):
        return (f"<ModelCard | {self.backend}, {self.sensors.describe()}, "
                f"{self.source.n_sources} sources, input: "
                f"{self.input.describe()}>")

    def __reduce__(self):
        return (type(self), (self._entries,))

    # --- typed views -----------------------------------------------------------
    @property
    def backend(self):
        """Name of the network backend (str)."""
        return self._entries["backend"]

    @property
    def input(self):
        """What the network reads (:class:`InputSpec`)."""
        return self._input

    @property
    def sensors(self):
        """How the model meets the sensors (:class:`SensorSpec`)."""
        return self._sensors

    @property
    def source(self):
        """The source space (:class:`SourceSpec`)."""
        return self._source

    @property
    def rows_per_call(self):
        """Most time samples the graph runs on at once when applied (int).

        From the card's ``apply`` entry (written by the backend's spec at
        export); cards written before it take the shipped model's value of
        their backend, else :data:`ROWS_PER_CALL`.
        """
        rows = (self.get("apply") or {}).get("rows_per_call")
        if rows is None:
            rows = PRETRAINED.get(self.backend, {}).get("rows_per_call",
                                                        ROWS_PER_CALL)
        return int(rows)

    @property
    def format_version(self):
        """The card's format (int; 1: cards without ``input``)."""
        return int(self._entries["format_version"])

    @property
    def hyper_params(self):
        """The backend's hyper-parameters (dict, a copy)."""
        return self.get("hyper_params") or {}

    @property
    def preprocessing(self):
        """The pre-processing in words: reference, normalisation, rescaling (dict)."""
        return self.get("preprocessing") or {}

    @property
    def simulation(self):
        """The parameters of the training data's simulator (dict)."""
        return self.get("simulation") or {}

    @property
    def training(self):
        """The training record: data, loss, epochs, time, machine, recipe (dict)."""
        return self.get("training") or {}

    @property
    def validation(self):
        """The validation metrics on simulated held-out data (dict)."""
        return self.get("validation") or {}

    # --- text --------------------------------------------------------------------
    def to_markdown(self, *, name=None, summary=None, notes=()):
        """Return the human-readable model card (markdown), from the card alone.

        What is written follows the card's typed views and entries (how the
        model meets the sensors, what it reads, its training and validation
        record), never the backend's name.

        Parameters
        ----------
        name : str | None
            The model's name, in the title and the benchmark command (a
            pretrained name or a model file). None: the backend's name.
        summary : str | None
            What the network is, in one sentence (the backend spec's
            ``summary``), written under the title.
        notes : iterable of str
            What the card does not hold (e.g. a training script's wall time),
            one list item each, after the card's own.

        Returns
        -------
        text : str
            The markdown card, ending in a newline.
        """
        _validate_type(name, (str, None), "name")
        _validate_type(summary, (str, None), "summary")
        notes = list(notes)
        for note in notes:
            _validate_type(note, str, "each note")
        name = self.backend if name is None else name
        lines = [f"# Model card: {name}", ""]
        if summary:
            lines += [summary.rstrip(".") + ".", ""]
        lines += [
            f"- backend: `{self.backend}`, hyper-parameters: `{self.hyper_params}`",
            f"- sensors: {_md_sensors(self.sensors)}",
            f"- sources: {_md_sources(self.source)}",
        ]
        if "preprocessing" in self:
            lines.append(f"- pre-processing: {self['preprocessing']}")
        lines.append(f"- input: {_md_input(self)}")
        if "simulation" in self:
            lines.append(f"- simulation: `{json.dumps(self['simulation'])}`")
        lines += _md_training(self) + _md_validation(self)
        lines += [f"- {note}" for note in notes]
        lines += ["", "Inverse-crime-free accuracy against MNE's solvers: run "
                  f"{_md_benchmark(self, name)}."]
        return "\n".join(lines) + "\n"


def _md_sensors(sensors):
    """Describe the sensors of a model card (markdown)."""
    if sensors.kind == "any_cap":
        cap = sensors.cap
        grid = " x ".join(str(n) for n in cap["grid_shape"])
        return (f"{sensors.describe()}, interpolated onto a {grid} grid of "
                f"virtual electrodes; cap entry: `{json.dumps(cap)}`")
    if sensors.kind == "any_sensor":
        configs = sensors.any_sensors.get("configs", [])
        return (f"{sensors.describe()}; trained over {len(configs)} sensor "
                f"configurations: {'; '.join(configs)}")
    text = f"{sensors.describe()} ({' '.join(sensors.ch_names)})"
    if sensors.whitened:
        text += ", whitened (the card's noise covariance and projectors)"
    return text


def _md_sources(source):
    """Describe the source space of a model card (markdown)."""
    # an icosahedral subdivision of an fsaverage-like subject: the first
    # 10 * 4 ** k + 2 vertices of every hemisphere
    counts = {len(v) for v in source.vertices}
    spacing = source.src_type
    if source.src_type == "surface" and len(counts) == 1:
        n = counts.pop()
        k = int(round(np.log((n - 2) / 10) / np.log(4))) if n > 2 else -1
        if k >= 0 and 10 * 4**k + 2 == n and all(
                np.array_equal(v, np.arange(n)) for v in source.vertices):
            spacing = f"ico{k}"
    orient = "fixed orientation" if source.n_orient == 1 else "free orientation"
    return f"{source.n_sources} on `{source.subject}` ({spacing}), {orient}"


def _md_input(card):
    """Describe what a model reads and where its outputs live (markdown)."""
    text = card.input.describe()
    if "regions" in card:
        text += (f"; outputs per region of a {card['regions']['n_regions']}-region "
                 "parcellation, mapped onto the sources")
    return text


def _md_training(card):
    """Return the training record of a model card (markdown list items)."""
    tr = card.get("training")
    if not tr:
        return []
    lines = [f"- training: loss `{tr.get('loss')}`, batch {tr.get('batch_size')}, "
             f"Adam {tr.get('learning_rate')}, seed {tr.get('random_state')}"]
    if "caps" in tr:
        lines.append(f"- caps: `{json.dumps(tr['caps'])}`")
    if "samples_seen" in tr:
        seen = "windows" if card.input.is_window else "samples"
        lines.append(
            f"- {seen} seen: {tr['samples_seen']:,}; epochs: {tr.get('epochs')}; "
            f"training time: {tr.get('train_time_s', float('nan')) / 60:.1f} min "
            f"on {tr.get('machine')}, {tr.get('date')}")
    return lines


def _md_scores(scores, nmse=True):
    """Format median validation scores (markdown)."""
    text = f"AUC {scores['auc']:.3f}, MLE {scores['mle']:.1f} mm"
    if nmse and "nmse" in scores:
        text += f", nMSE {scores['nmse']:.4f}"
    return text


def _md_validation(card):
    """Return the validation record of a model card (markdown list items).

    The medians over all validation data, and per sensor configuration
    (``per_config``) or per cap (``caps``) where the card has them.
    """
    val = card.get("validation")
    if not val:
        return []
    if "per_config" in val:
        groups, per = [(v["sensors"], v) for v in val["per_config"]], "configuration"
    elif "caps" in val:
        groups, per = list(val["caps"].items()), "cap"
    else:
        groups, per = [], ""
    rows = "windows at their peak" if card.input.is_window else "samples"
    n = val.get("n_samples")
    what = ["simulated", val.get("sources", "same generator")]
    if n is not None:
        what.append(f"{n} {rows}" + (" per cap" if per == "cap" else ""))
    what = ", ".join(what) + ", medians"
    held_out = (card.get("training") or {}).get("caps", {}).get("held_out")
    if per == "cap" and held_out:
        what += f"; {' and '.join(held_out)} never seen in training"
    line = f"- validation ({what})"
    if "auc" in val:
        line += f": {_md_scores(val)}" + (f"; per {per}:" if per else "")
    elif per:
        line += f", per {per}:"
    return [line] + [f"  - {label}: {_md_scores(scores, nmse=False)}"
                     for label, scores in groups]


def _md_benchmark(card, name):
    """Return the benchmark command that compares a model with MNE's solvers."""
    command = f"mne-deepinverse benchmark --models {name}"
    if card.input.is_window:
        command += " --time-course erp"
    sensors = card.sensors
    if sensors.kind == "any_cap":
        # a cap it was validated on and never saw in training
        caps = (card.get("validation") or {}).get("caps", {})
        held_out = (card.get("training") or {}).get("caps", {}).get("held_out", ())
        unseen = [cap for cap in caps if cap in held_out]
        if unseen:
            command += f" --montage {unseen[0]}"
    elif sensors.kind == "any_sensor":
        # the benchmark's --sensors choices among the training configurations
        choices = []
        for config in sensors.any_sensors.get("configs", []):
            meg = "mag" in config or "grad" in config
            choice = ("meg+eeg" if "EEG" in config else "meg") if meg else "eeg"
            if choice not in choices:
                choices.append(choice)
        if choices:
            command += f" --sensors {choices[0]}"
            if len(choices) > 1:
                return (f"`{command}` (or "
                        f"{', '.join(f'`{c}`' for c in choices[1:])})")
    return f"`{command}`"


def forward_entries(fwd, sensors=None):
    """Return the card entries of a forward (sensors, sources), JSON-serialisable.

    ``sensors`` (:class:`~mne_deepinverse._sensors.Sensors`) default to the
    forward's without a noise covariance.

    Channel positions are in head coordinates (MEG sensors through the
    forward's ``dev_head_t``); 2-D positions from MNE's EEG layout (EEG only)
    or its topomap projection of every sensor.
    """
    from mne._fiff.compensator import get_current_comp
    from mne.channels.layout import _find_topomap_coords

    if sensors is None:
        sensors = Sensors.from_forward(fwd)
    gain, ch_names, ch_types = sensor_gain(fwd)
    info = _make_info(fwd, ch_names, 100.0)
    picks = np.arange(len(ch_names))
    if set(ch_types) == {"eeg"}:
        layout = mne.channels.make_eeg_layout(info)
        pos2d = layout.pos[:, :2] + layout.pos[:, 2:] / 2
    else:
        pos2d = _find_topomap_coords(info, picks, ignore_overlap=True)
    src = fwd["src"]
    meta = dict(
        ch_names=ch_names,
        ch_pos=np.round(sensor_positions_head(info, picks), 6).tolist(),
        ch_pos2d=np.round(pos2d, 6).tolist(),
        n_sources=int(gain.shape[1]),
        vertices=[s["vertno"].tolist() for s in src],
        subject=src._subject,
        src_kind=src.kind,
        source_rr=np.round(fwd["source_rr"], 5).tolist(),
        gain_fingerprint=_gain_fingerprint(sensors.pre_gain(gain)),
    )
    entry = sensors.to_card()
    if entry is not None:
        entry["comp_grade"] = int(get_current_comp(fwd["info"]) or 0)
        meta["sensors"] = entry
    return meta


def make_card(backend, entries, *, hyper_params, simulation, training,
              preprocessing=None, validation=None, **extra):
    """Return a new model card: the one place where cards are written.

    Parameters
    ----------
    backend : str
        The backend's name.
    entries : dict
        The forward's card entries (:func:`forward_entries`: sensors and
        sources), with the model's ``input``.
    hyper_params : dict
        The hyper-parameters stored with the model.
    simulation : dict
        The parameters of the training data's simulator.
    training : dict
        The training record.
    preprocessing : dict | None
        Entries added to (or replacing those of) the standard pre-processing
        description (e.g. ``reference`` for a whitener).
    validation : dict | None
        The validation metrics (usually added once the model is exported:
        :meth:`ModelCard.replace`).
    **extra
        Further entries of a sensor kind or an output (``cap``,
        ``any_sensors``, ``regions``).

    Returns
    -------
    card : ModelCard
        The card (format :data:`FORMAT_VERSION`), validated.
    """
    card = dict(
        format="mne-deepinverse", format_version=FORMAT_VERSION, backend=backend,
        hyper_params=hyper_params,
        preprocessing=dict(_PREPROCESSING, rescaling=RESCALING,
                           **(preprocessing or {})),
        **entries, simulation=simulation, training=training, **extra)
    if validation is not None:
        card["validation"] = validation
    return ModelCard(card)
