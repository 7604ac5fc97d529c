# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.

import json

import mne
import numpy as np
import pytest

pytest.importorskip("mne_bids")

from mne_bids import BIDSPath, get_bids_path_from_fname, write_raw_bids  # noqa: E402

from mne_deepinverse.__main__ import main  # noqa: E402
from mne_deepinverse.bids import DERIVATIVE_NAME, process_bids  # noqa: E402


@pytest.fixture(scope="module")
def bids_root(tmp_path_factory, fwd):
    """A small EEG BIDS dataset: two recordings and a corrupt third."""
    from mne_deepinverse.datasets import CONVDIP_CH_NAMES, make_template_info
    from mne_deepinverse.simulation import simulate_patch_evoked

    root = tmp_path_factory.mktemp("bids") / "ds"
    for sub in ("01", "02", "03"):
        rng = np.random.default_rng(int(sub))
        evoked, _ = simulate_patch_evoked(fwd, n_patches=1, random_state=rng,
                                          sfreq=100.0, tmin=-0.2, tmax=0.5)
        info = make_template_info(CONVDIP_CH_NAMES, sfreq=100.0)
        data = rng.standard_normal((len(info.ch_names), 6000)) * 1e-6  # 60 s
        onsets = np.arange(100, 5900, 100)
        for onset in onsets:
            data[:, onset - 20: onset + 51] += evoked.data * 3
        raw = mne.io.RawArray(data, info, verbose=False)
        raw.set_annotations(mne.Annotations(
            onsets / 100.0, 0.0, ["auditory/left", "visual"] * (len(onsets) // 2)))
        bids_path = BIDSPath(subject=sub, task="oddball", datatype="eeg", root=root)
        write_raw_bids(raw, bids_path, allow_preload=True, format="BrainVision",
                       verbose=False)
    # the third recording's header is corrupt
    (root / "sub-03" / "eeg" / "sub-03_task-oddball_eeg.vhdr").write_text("garbage")
    return root


def _status(report):
    return {rec["recording"].split("/")[-1][:6]: rec["status"] for rec in report}


def test_process_bids(bids_root):
    """Derivatives with BIDS names, skipped on re-run, a failure reported."""
    report = process_bids(bids_root, model="anycap")
    assert _status(report) == {"sub-01": "done", "sub-02": "done",
                               "sub-03": "failed"}
    failed = [rec for rec in report if rec["status"] == "failed"][0]
    assert "sub-03" in failed["recording"] and failed["error"]
    deriv = bids_root / "derivatives" / DERIVATIVE_NAME
    desc = json.loads((deriv / "dataset_description.json").read_text())
    assert desc["DatasetType"] == "derivative"
    assert desc["GeneratedBy"][0]["Name"] == "mne-deepinverse"
    files = sorted((deriv / "sub-01" / "eeg").glob("*_stc.h5"))
    assert [f.name for f in files] == [
        "sub-01_task-oddball_desc-AuditoryLeft_stc.h5",
        "sub-01_task-oddball_desc-Visual_stc.h5"]
    for fname in files:  # BIDS names that mne-bids parses back
        path = get_bids_path_from_fname(fname, check=False)
        assert (path.subject, path.task, path.suffix, path.extension) == (
            "01", "oddball", "stc", ".h5")
    stc = mne.read_source_estimate(files[0])
    assert stc.subject == "fsaverage5" and stc.data.shape == (5124, 71)
    assert stc.tmin == pytest.approx(-0.2)
    side = json.loads(files[0].with_suffix(".json").read_text())
    assert side["Model"] == "anycap" and len(side["ModelSHA256"]) == 64
    assert side["condition"] == "auditory/left" and side["n_epochs"] == 29
    assert side["Channels"][:2] == ["Fp1", "F3"]  # the CONVDIP_CH_NAMES order
    # a re-run skips what is done (and tries the failed one again)
    again = process_bids(bids_root, model="anycap")
    assert _status(again) == {"sub-01": "skipped", "sub-02": "skipped",
                              "sub-03": "failed"}
    # the continuous data, in splits, for one subject
    raw_rep = process_bids(bids_root, model="anycap", output="raw", subjects="01",
                           buffer_size=4000)
    assert [rec["status"] for rec in raw_rep] == ["done"]
    names = sorted(f.name for f in (deriv / "sub-01" / "eeg").glob("*split*.h5"))
    assert names == ["sub-01_task-oddball_split-01_stc.h5",
                     "sub-01_task-oddball_split-02_stc.h5"]
    split = mne.read_source_estimate(deriv / "sub-01" / "eeg" / names[1])
    assert split.tmin == pytest.approx(40.0) and split.data.shape[1] == 2000
    # one estimate per epoch, for one condition
    ep_rep = process_bids(bids_root, model="anycap", output="epochs",
                          subjects="02", event_id=["visual"], overwrite=True)
    assert [rec["status"] for rec in ep_rep] == ["done"]
    files = sorted((deriv / "sub-02" / "eeg").glob("*Epoch*_stc.h5"))
    assert len(files) == 29 and files[0].name == (
        "sub-02_task-oddball_desc-VisualEpoch001_stc.h5")
    side = json.loads(files[1].with_suffix(".json").read_text())
    assert side["condition"] == "visual" and side["epoch"] == 2
    assert side["onset"] == pytest.approx(4.0)  # events at 1, 2, 3 ... s
    stc = mne.read_source_estimate(files[1])
    assert stc.data.shape == (5124, 71)
    assert stc.tmin == pytest.approx(-0.2)
    assert not np.allclose(stc.data, mne.read_source_estimate(files[0]).data,
                           rtol=1e-3, atol=0)


def test_process_bids_dask(bids_root):
    """The recordings run on the workers of a Dask cluster (and the CLI)."""
    distributed = pytest.importorskip("distributed")

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1,
                                  processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            report = process_bids(bids_root, model="anycap", subjects=["01", "02"],
                                  overwrite=True, client=client)
            assert _status(report) == {"sub-01": "done", "sub-02": "done"}
            workers = set(client.run(lambda: __import__("os").getpid()).values())
            assert len(workers) == 2
        # the command line, through the scheduler's address
        assert main(["bids", str(bids_root), "--subjects", "02", "--scheduler",
                     cluster.scheduler_address]) == 0


@pytest.mark.parametrize("kwargs, match", [
    (dict(root="nope"), "is not a BIDS dataset"),
    (dict(subjects="99"), "No eeg recording in"),
    (dict(output="raw", event_id=["visual"]), "event_id selects conditions"),
    (dict(output="epochs", tmin=0.5, tmax=0.1), "tmin must be before tmax"),
    (dict(tmin=0.5, tmax=0.1), "tmin must be before tmax"),
    (dict(output="trials"), "Invalid value for the 'output' parameter"),
])
def test_process_bids_errors(bids_root, tmp_path, kwargs, match):
    root = tmp_path / kwargs.pop("root") if "root" in kwargs else bids_root
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        process_bids(root, **kwargs)


def test_process_bids_unknown_event(bids_root):
    """An event the files lack is reported per recording."""
    report = process_bids(bids_root, subjects="01", event_id=["tone"],
                          overwrite=True)
    assert report[0]["status"] == "failed"
    assert "No event(s) ['tone'] in the events file" in report[0]["error"]
