# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Source estimates for whole BIDS datasets, on one machine or a Dask cluster.

Recordings are found and read with mne-bids, inverted on the template (the
forward made per recording from its electrodes or sensors), and written as
BIDS derivatives in ``derivatives/mne-deepinverse``. Recordings run in
parallel through joblib: local processes (``n_jobs``) or the workers of a
Dask cluster (``client``, joblib's Dask backend).
"""

import hashlib
import json
import time
import traceback
from pathlib import Path

import mne
import numpy as np
from mne.utils import _check_option, _validate_type, logger, verbose

from ._version import __version__

#: The derivative's folder name under ``derivatives/`` (the pipeline's name).
DERIVATIVE_NAME = "mne-deepinverse"
#: What is written per recording: one estimate per condition of the evoked
#: responses, or the continuous recording in splits of ``buffer_size``.
OUTPUTS = ("evoked", "epochs", "raw")
#: Extensions of the recordings looked for (those mne-bids reads).
_EXTENSIONS = (".fif", ".vhdr", ".edf", ".bdf", ".set", ".con", ".sqd", ".ds")


@verbose
def process_bids(root, *, model="anycap", datatype="eeg", subjects=None,
                 sessions=None, tasks=None, runs=None, output="evoked",
                 event_id=None, tmin=-0.2, tmax=0.5, l_freq=0.1, h_freq=40.0,
                 buffer_size=10_000, overwrite=False, n_jobs=1, client=None,
                 verbose=None):
    """Compute source estimates for the recordings of a BIDS dataset.

    Every recording that matches is read with
    :func:`mne_bids.read_raw_bids` (its montage from the electrodes file,
    its events from the events file), filtered from ``l_freq`` to
    ``h_freq`` Hz, given an average-reference projector (EEG), and inverted
    on the template with a forward made for its sensors
    (:func:`~mne_deepinverse.datasets.make_template_forward`; cached, so a
    cap shared by recordings is computed once). With ``output="evoked"``,
    epochs from ``tmin`` to ``tmax`` around each event give one evoked per
    condition (and the noise covariance of their pre-stimulus baselines,
    ``method="shrunk"``, for models that read one); with
    ``output="epochs"``, the same epochs give one estimate each (for
    single-trial analyses: a file per epoch); with ``output="raw"``,
    the continuous data are inverted in splits of ``buffer_size`` samples.

    The estimates go to ``ROOT/derivatives/mne-deepinverse`` with BIDS
    names (``sub-XX[_ses-YY]_task-ZZ[_run-NN]_desc-CONDITION_stc.h5``,
    ``..._desc-CONDITIONEpochNNN_stc.h5`` for epochs, numbered in the
    order of the events, or ``..._split-NN_stc.h5`` for raw data), each
    with a JSON sidecar (the
    model, its hash, the settings, the channels); the folder gets a
    ``dataset_description.json`` (``GeneratedBy``). A recording whose
    outputs exist is skipped unless ``overwrite``; one that fails is
    reported and the others go on.

    Parameters
    ----------
    root : path-like
        The BIDS dataset's root.
    model : str
        A pretrained model's name (e.g. ``"anycap"`` for any EEG cap,
        ``"anysensor"`` for MEG and EEG+MEG) or a saved model file.
    datatype : "eeg" | "meg"
        The recordings' BIDS datatype (``"meg"``: MEG and any EEG in them).
    subjects, sessions, tasks, runs : None | str | list of str
        Which recordings (None: all).
    output : "evoked" | "epochs" | "raw"
        What is inverted (:data:`OUTPUTS`).
    event_id : None | list of str
        Conditions (event descriptions in the events file) to average or
        to cut epochs of; None: all. Not with ``output="raw"``.
    tmin, tmax : float
        The epochs' window (s) around each event; ``tmin < 0`` gives the
        baseline of the noise covariance.
    l_freq, h_freq : float | None
        Band-pass edges (Hz) of :meth:`mne.io.Raw.filter`.
    buffer_size : int
        Samples per split with ``output="raw"``.
    overwrite : bool
        Compute recordings whose outputs exist again.
    n_jobs : int
        Recordings processed at once in local processes (joblib).
    client : None | str | instance of distributed.Client
        A Dask cluster: its client, or its scheduler's address (e.g.
        ``"tcp://10.0.0.1:8786"``); the recordings then run on its workers
        through joblib's Dask backend (``n_jobs`` is ignored). The workers
        must have the dataset's root at the same path (a shared file
        system).
    %(verbose)s

    Returns
    -------
    report : list of dict
        Per recording: ``recording`` (its path), ``status`` (``"done"``,
        ``"skipped"`` or ``"failed"``), ``outputs`` (the files written or
        found), ``error`` (the message, for failures), ``seconds``.
    """
    from mne_bids import find_matching_paths

    root = Path(root)
    if not (root / "dataset_description.json").is_file():
        raise FileNotFoundError(
            f"{root} is not a BIDS dataset (no dataset_description.json). Pass "
            "the dataset's root folder.")
    _check_option("datatype", datatype, ("eeg", "meg"))
    _check_option("output", output, OUTPUTS)
    _validate_type(model, ("path-like",), "model")
    if event_id is not None and output == "raw":
        raise ValueError("event_id selects conditions of events; it needs "
                         "output='evoked' or output='epochs'.")
    if output != "raw" and not tmin < tmax:
        raise ValueError(f"tmin must be before tmax, got {tmin} and {tmax}.")
    paths = find_matching_paths(
        root, subjects=subjects, sessions=sessions, tasks=tasks, runs=runs,
        datatypes=datatype, suffixes=datatype, extensions=list(_EXTENSIONS),
        ignore_json=True)
    paths = [p for p in paths if "derivatives" not in Path(p.fpath).parts]
    if not paths:
        raise ValueError(
            f"No {datatype} recording in {root} matches subjects={subjects}, "
            f"sessions={sessions}, tasks={tasks}, runs={runs}.")
    deriv = root / "derivatives" / DERIVATIVE_NAME
    _write_description(deriv, root)
    settings = dict(model=str(model), output=output, event_id=event_id,
                    tmin=tmin, tmax=tmax, l_freq=l_freq, h_freq=h_freq,
                    buffer_size=int(buffer_size), overwrite=bool(overwrite),
                    deriv=str(deriv), datatype=datatype,
                    log_level=mne.get_config("MNE_LOGGING_LEVEL", "warning"))
    logger.info(f"{len(paths)} recording(s) in {root}; estimates go to {deriv}")
    report = _run_all(paths, settings, n_jobs, client)
    for rec in report:
        msg = f"{rec['recording']}: {rec['status']}"
        if rec["status"] == "failed":
            logger.warning(f"{msg} ({rec['error'].splitlines()[-1]})")
        else:
            logger.info(f"{msg} ({len(rec['outputs'])} file(s))")
    return report


def _run_all(paths, settings, n_jobs, client):
    """Process every recording through joblib (local or Dask)."""
    from joblib import Parallel, delayed, parallel_config

    jobs = [delayed(_process_recording)(p, settings) for p in paths]
    if client is None:
        return Parallel(n_jobs=n_jobs)(jobs)
    from distributed import Client

    own = isinstance(client, str)
    client = Client(client) if own else client
    _validate_type(client, Client, "client")
    try:
        with client.as_current(), parallel_config(backend="dask"):
            return Parallel()(jobs)
    finally:
        if own:
            client.close()


def _process_recording(bids_path, settings):
    """Invert one recording and write its derivatives; never raise."""
    t0 = time.perf_counter()
    rec = dict(recording=str(bids_path.fpath), status="failed", outputs=[],
               error=None)
    try:
        with mne.utils.use_log_level(settings["log_level"]):
            rec["status"], rec["outputs"] = _invert_recording(bids_path, settings)
    except Exception:  # one recording's failure must not stop the others
        rec["error"] = traceback.format_exc(limit=3)
    rec["outputs"] = [str(f) for f in rec["outputs"]]
    rec["seconds"] = time.perf_counter() - t0
    return rec


def _invert_recording(bids_path, settings):
    """Return ("done" | "skipped", files) for one recording."""
    from mne_bids import read_raw_bids

    from ._inverse import (
        apply_deep_inverse,
        apply_deep_inverse_epochs,
        apply_deep_inverse_raw,
    )
    from ._load import load_model
    from .datasets import make_template_forward

    out = _out_path(bids_path, settings)
    pattern = out.basename  # evoked: desc-*; raw: every split
    if settings["output"] == "raw":
        pattern = pattern.replace("_stc.h5", "_split-*_stc.h5")
    folder = out.fpath.parent
    done = sorted(folder.glob(pattern)) if folder.exists() else []
    if done and not settings["overwrite"]:
        return "skipped", done
    for f in done:  # recomputed: stale splits or conditions go
        f.unlink()
        f.with_suffix(".json").unlink(missing_ok=True)
    model = load_model(settings["model"])
    raw = read_raw_bids(bids_path, verbose=False).load_data()
    types = ("eeg",) if settings["datatype"] == "eeg" else ("meg", "eeg")
    raw.pick([t for t in types if t in raw])
    if "eeg" in raw:
        raw.set_eeg_reference("average", projection=True, verbose=False)
    raw.filter(settings["l_freq"], settings["h_freq"], verbose=False)
    fwd = make_template_forward(raw.info)
    files = []
    if settings["output"] == "raw":
        if model.reads_noise_cov:
            raise ValueError(f"The model {settings['model']!r} needs a noise "
                             "covariance, which comes from the events' "
                             "baselines: use output='evoked' or 'epochs'.")
        gen = apply_deep_inverse_raw(raw, fwd, model,
                                     buffer_size=settings["buffer_size"],
                                     return_generator=True)
        for ii, stc in enumerate(gen, 1):
            fname = out.copy().update(split=f"{ii:02d}").fpath
            files += _save(stc, fname, settings, model, raw, dict(split=ii))
        return "done", files
    events, ids = mne.events_from_annotations(raw, verbose=False)
    if settings["event_id"] is not None:
        missing = sorted(set(settings["event_id"]) - set(ids))
        if missing:
            raise ValueError(f"No event(s) {missing} in the events file; it has "
                             f"{sorted(ids)}.")
        ids = {k: ids[k] for k in settings["event_id"]}
    if not ids:
        raise ValueError("The recording has no events to average; use "
                         "output='raw'.")
    epochs = mne.Epochs(raw, events, ids, settings["tmin"], settings["tmax"],
                        baseline=(None, 0) if settings["tmin"] < 0 else None,
                        preload=True, verbose=False)
    noise_cov = None
    if model.reads_noise_cov:
        noise_cov = mne.compute_covariance(epochs, tmax=0.0, method="shrunk",
                                           verbose=False)
    for cond in ids:
        if not len(epochs[cond]):
            continue
        if settings["output"] == "epochs":
            sel = epochs[cond]
            gen = apply_deep_inverse_epochs(sel, fwd, model, noise_cov=noise_cov,
                                            return_generator=True)
            onsets = sel.events[:, 0]
            for ii, (stc, sample) in enumerate(zip(gen, onsets, strict=True), 1):
                fname = out.copy().update(
                    description=f"{_desc(cond)}Epoch{ii:03d}").fpath
                files += _save(stc, fname, settings, model, raw, dict(
                    condition=cond, epoch=ii,
                    onset=float((sample - raw.first_samp) / raw.info["sfreq"])))
            continue
        evoked = epochs[cond].average()
        stc = apply_deep_inverse(evoked, fwd, model, noise_cov=noise_cov)
        fname = out.copy().update(description=_desc(cond)).fpath
        files += _save(stc, fname, settings, model, raw, dict(
            condition=cond, n_epochs=evoked.nave))
    return "done", files


def _out_path(bids_path, settings):
    """Return the derivative BIDSPath of a recording (no description or split)."""
    out = bids_path.copy().update(root=settings["deriv"], suffix="stc",
                                  extension=".h5", check=False)
    return out.update(description=None if settings["output"] == "raw" else "*")


def _desc(condition):
    """Return a condition's name as a BIDS ``desc`` value (letters, digits)."""
    desc = "".join(c for c in condition.title() if c.isalnum())
    return desc or "condition"


def _save(stc, fname, settings, model, raw, extra):
    """Write an estimate and its JSON sidecar; return both files."""
    fname = Path(fname)
    fname.parent.mkdir(parents=True, exist_ok=True)
    stc.save(fname, ftype="h5", overwrite=True, verbose=False)
    sidecar = fname.with_suffix(".json")
    sidecar.write_text(json.dumps(dict(
        Description="Source estimate of mne-deepinverse on the template "
                    "(fsaverage5)",
        Model=settings["model"], ModelBackend=model.backend,
        ModelSHA256=hashlib.sha256(model.onnx).hexdigest(),
        Output=settings["output"],
        HighPass=settings["l_freq"], LowPass=settings["h_freq"],
        EpochWindow=None if settings["output"] == "raw"
        else [settings["tmin"], settings["tmax"]],
        Channels=raw.ch_names, SamplingFrequency=raw.info["sfreq"],
        SourceVertices=int(sum(len(v) for v in stc.vertices)),
        Subject=stc.subject, Version=__version__, **extra,
    ), indent=1, default=_json_default))
    return [fname, sidecar]


def _json_default(obj):
    if isinstance(obj, np.integer | np.floating):
        return obj.item()
    raise TypeError(f"{type(obj)} is not JSON serialisable")


def _write_description(deriv, root):
    """Write the derivative's dataset_description.json (GeneratedBy)."""
    fname = deriv / "dataset_description.json"
    if fname.exists():
        return
    deriv.mkdir(parents=True, exist_ok=True)
    source = json.loads((root / "dataset_description.json").read_text())
    fname.write_text(json.dumps(dict(
        Name=f"{source.get('Name', root.name)}: source estimates (mne-deepinverse)",
        BIDSVersion=source.get("BIDSVersion", "1.9.0"),
        DatasetType="derivative",
        GeneratedBy=[dict(Name="mne-deepinverse", Version=__version__,
                          Description="deep-learning EEG/MEG inverse solutions "
                                      "for MNE-Python")],
        SourceDatasets=[dict(URL=root.resolve().as_uri())],
    ), indent=1))
