# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""The real-data check suite: where each method puts known responses.

On the MNE "sample" recording (auditory tones to the left and right ear,
checkerboards in the left and right visual hemifield; 60 EEG, 306 MEG
channels) every shipped model and MNE's methods invert the evoked response
at its peak, on the template head, from EEG, MEG and EEG+MEG. Nothing here is
a ground truth; the references are

* the expected anatomy: the auditory N100/N100m in both superior temporal
  planes (Heschl's gyrus at about (-47, -22, 8) and (48, -20, 8) mm on the
  template, close to MNI305), the early visual response in the occipital
  lobe contralateral to the stimulated hemifield;
* single-dipole fits (:func:`mne.fit_dipole`, the template's BEM) to the
  MEG sensors over each temporal lobe (auditory) or the contralateral
  occipital lobe (visual), at the same peak, with the same noise covariance;
* for EEG, the same methods with MNE's standard positions of the cap
  (``mgh60``) instead of the digitised ones: a map that moves by centimetres
  with the electrode positions is not to be trusted.

Lobes are read from the template's coordinates with a coarse rule
(:func:`lobe`): the central sulcus, the Sylvian fissure and the
parieto-occipital boundary as planes.
"""

import json
from pathlib import Path

import mne
import numpy as np
from mne.utils import ProgressBar, _validate_type, logger

from .._registry import (
    PRETRAINED,
    REAL_DATA_METHODS,
    REAL_DATA_MODELS,
    REAL_DATA_SENSORS,
)

#: The conditions: event code, the window of the peak (s), the response.
CONDITIONS = {
    "auditory/left": dict(event=1, window=(0.08, 0.13), response="auditory"),
    "auditory/right": dict(event=2, window=(0.08, 0.13), response="auditory"),
    "visual/left": dict(event=3, window=(0.12, 0.20), response="visual",
                        contra="rh"),
    "visual/right": dict(event=4, window=(0.12, 0.20), response="visual",
                         contra="lh"),
}

#: Expected positions on the template (mm): Heschl's gyri; early visual cortex.
ANATOMY = {
    "auditory": {"lh": (-47.0, -22.0, 8.0), "rh": (48.0, -20.0, 8.0)},
    "visual": {"lh": (-20.0, -90.0, 5.0), "rh": (20.0, -90.0, 5.0)},
}

#: Expected lobe of each response.
EXPECTED_LOBE = dict(auditory="temporal", visual="occipital")

#: Neuromag sensor selections the reference dipoles are fitted to.
SELECTIONS = {
    ("auditory", "lh"): "Left-temporal", ("auditory", "rh"): "Right-temporal",
    ("visual", "lh"): "Left-occipital", ("visual", "rh"): "Right-occipital",
}

SENSOR_SETS = REAL_DATA_SENSORS
EEG_MODELS = REAL_DATA_MODELS
MNE_METHODS = REAL_DATA_METHODS
#: A maximum this close (mm) to Heschl's gyrus is in the superior temporal region.
NEAR_MM = 20.0
#: The targets of the issue: distance (mm) between montages, and to dipoles.
TARGET_MM = 10.0


def lobe(xyz):
    """Return the lobe of a point on the template (mm, MNI305-like).

    A coarse rule, from landmark planes: occipital behind y = -72 mm (-82 mm
    above z = 45 mm); temporal below the Sylvian fissure (z < 15 - 0.3 (y +
    20) mm, lateral of |x| = 25 mm, behind y = 20 mm) unless in the insula,
    deeper than |x| = 40 mm between y = -35 and 25 mm, z = -5 and 22 mm
    (checked first); frontal in
    front of the central sulcus (y > -10 - 0.5 (z - 30) mm); parietal
    otherwise.
    """
    x, y, z = (float(v) for v in xyz)
    if y < (-82.0 if z >= 45 else -72.0):
        return "occipital"
    if abs(x) < 40 and -35 < y < 25 and -5 < z < 22:
        return "insula"
    if abs(x) > 25 and y < 20 and z < 15 - 0.3 * (y + 20):
        return "temporal"
    if y > -10 - 0.5 * (z - 30):
        return "frontal"
    return "parietal"


def _load(fname, decim=2):
    """Epochs of the four conditions (EEG average reference as a projector)."""
    raw = mne.io.read_raw_fif(fname, preload=True, verbose=False)
    events = mne.find_events(raw, stim_channel="STI 014", verbose=False)
    # the recording's known bad channels (as MNE's tutorials mark them)
    raw.info["bads"] = sorted({*raw.info["bads"], "MEG 2443", "EEG 053"})
    raw.pick(["meg", "eeg", "eog"], exclude="bads").filter(1.0, 40.0, verbose=False)
    raw.set_eeg_reference("average", projection=True, verbose=False)
    epochs = mne.Epochs(
        raw, events, {k: v["event"] for k, v in CONDITIONS.items()},
        tmin=-0.2, tmax=0.5, baseline=(None, 0), decim=decim, preload=True,
        reject=dict(grad=6000e-13, mag=5e-12, eeg=150e-6, eog=250e-6),
        verbose=False).pick(["meg", "eeg"])
    return epochs


def _pick(inst, sensors):
    picks = dict(eeg=dict(meg=False, eeg=True), meg=dict(meg=True, eeg=False))
    picks["meg+eeg"] = dict(meg=True, eeg=True)
    return inst.copy().pick(mne.pick_types(inst.info, **picks[sensors]))


def _standard_montage(info):
    """MNE's mgh60 positions (on fsaverage) under the recording's channel names."""
    std = mne.channels.make_standard_montage("mgh60")
    pos = std.get_positions()
    ch_pos = {f"EEG {name[3:]}": rr for name, rr in pos["ch_pos"].items()}
    ch_pos = {ch: ch_pos[ch] for ch in info["ch_names"] if ch in ch_pos}
    # on fsaverage (MRI coordinates): to head coordinates by its fiducials
    return mne.channels.make_dig_montage(
        ch_pos=ch_pos, nasion=pos["nasion"], lpa=pos["lpa"], rpa=pos["rpa"],
        coord_frame=pos["coord_frame"])


def _peak(evoked, cov, window):
    """Time of the largest whitened field power in ``window``."""
    white = mne.whiten_evoked(evoked, cov, verbose=False)
    gfp = np.sum(white.data**2, axis=0)
    sel = (evoked.times >= window[0]) & (evoked.times <= window[1])
    return float(evoked.times[sel][np.argmax(gfp[sel])])


class _Maps:
    """Maxima of maps on a forward's sources, in template MRI coordinates (mm)."""

    def __init__(self, fwd):
        from ..datasets import get_template_trans

        self.rr = mne.transforms.apply_trans(get_template_trans(),
                                             fwd["source_rr"]) * 1e3
        self.n_lh = len(fwd["src"][0]["vertno"])

    def maxima(self, values):
        """Global and per-hemisphere maxima of ``|values|`` (n_sources,)."""
        values = np.abs(values)
        out = dict(max=self.rr[np.argmax(values)].tolist())
        out["max_hemi"] = "lh" if np.argmax(values) < self.n_lh else "rh"
        for hemi, sl in (("lh", slice(0, self.n_lh)), ("rh", slice(self.n_lh, None))):
            best = sl.start + int(np.argmax(values[sl]))
            out[hemi] = self.rr[best].tolist()
            out[f"{hemi}_share"] = float(values[best] / values.max())
        return out


def _dipoles(evoked_meg, cov, t_peak, response, bem, trans):
    """Fit the reference dipoles (template MRI mm, GOF %) per hemisphere to MEG."""
    out = {}
    # the projectors applied first: a sensor selection would cut them
    evoked_meg = evoked_meg.copy().crop(t_peak, t_peak).apply_proj()
    info = evoked_meg.info.copy()
    with info._unlock():
        info["projs"] = []
    evoked_meg = mne.EvokedArray(evoked_meg.data, info, tmin=t_peak,
                                 nave=evoked_meg.nave, verbose=False)
    cov = cov.copy()
    cov["projs"] = []
    for hemi in ("lh", "rh"):
        names = mne.read_vectorview_selection(SELECTIONS[(response, hemi)],
                                              info=evoked_meg.info)
        ev = evoked_meg.copy().pick(names)
        dip = mne.fit_dipole(ev, cov, bem, trans, verbose=False)[0]
        out[hemi] = dict(pos=(mne.transforms.apply_trans(trans, dip.pos[0])
                              * 1e3).tolist(), gof=float(dip.gof[0]))
    return out


def _score(maps, response, dipoles, contra):
    """Lobes, hemispheres and distances of a method's maxima."""
    row = dict(maps)
    row["max_lobe"] = lobe(maps["max"])
    for hemi in ("lh", "rh"):
        row[f"{hemi}_lobe"] = lobe(maps[hemi])
        row[f"{hemi}_to_anatomy"] = float(np.linalg.norm(
            np.subtract(maps[hemi], ANATOMY[response][hemi])))
        if dipoles is not None:
            row[f"{hemi}_to_dipole"] = float(np.linalg.norm(
                np.subtract(maps[hemi], dipoles[hemi]["pos"])))
    want = EXPECTED_LOBE[response]
    if response == "auditory":  # both maxima in the temporal lobe or near A1
        row["as_expected"] = all(
            row[f"{h}_lobe"] == want or row[f"{h}_to_anatomy"] <= NEAR_MM
            for h in ("lh", "rh"))
    else:
        row["as_expected"] = bool(row["max_hemi"] == contra
                                  and row["max_lobe"] == want)
    return row


def _estimates(evoked, cov, fwd, fwd_free, sensors, models, methods, bem, t_peak,
               window):
    """Return {method: (stc, gof at the peak or None, forward)} for an evoked."""
    from .._fit import goodness_of_fit
    from .._inverse import apply_deep_inverse
    from ..baselines import apply_baseline
    from ..datasets import read_pretrained_forward

    out = {}
    it = int(np.argmin(np.abs(evoked.times - t_peak)))
    for name in models:
        spec = PRETRAINED[name]
        reads_meg = "MEG" in spec.get("accepts", "")
        if sensors != "eeg" and not reads_meg:
            continue
        # models with a noise covariance of their own binding get the data's
        use_cov = cov if reads_meg else None
        if spec["forward"] is None:  # any cap: the data's own forward
            f = fwd
            stc = apply_deep_inverse(evoked, f, name, noise_cov=use_cov)
            gof = goodness_of_fit(evoked, stc, f, noise_cov=use_cov)
        else:  # the fixed-cap models interpolate the EEG onto their 31 channels
            f = read_pretrained_forward(name)
            stc, res = apply_deep_inverse(evoked, f, name, return_residual=True)
            # what the model read: the interpolated data, its fit plus residual
            read = mne.apply_forward(f, stc, res.info, verbose=False)
            read.data += res.data
            gof = goodness_of_fit(read, stc, f)
        out[name] = (stc, float(gof[it]), f)
    cropped = evoked.copy().crop(*window)
    for method in methods:
        if method == "dipole":
            stc = apply_baseline(evoked.copy().crop(t_peak, t_peak), fwd_free,
                                 method, noise_cov=cov, bem=bem)
        elif method == "MxNE":
            stc = apply_baseline(cropped, fwd_free, method, noise_cov=cov)
        else:
            stc = apply_baseline(evoked, fwd_free, method, noise_cov=cov)
        out[method] = (stc, None, fwd_free)
    return out


def run_real_data(fname=None, *, models=EEG_MODELS, methods=MNE_METHODS,
                  sensors=SENSOR_SETS, conditions=tuple(CONDITIONS), out_dir=None,
                  progress=True):
    """Run the real-data check suite on the MNE "sample" recording.

    Parameters
    ----------
    fname : path-like | None
        The recording (default: :func:`~mne_deepinverse.datasets.find_sample_raw`).
    models : list of str
        Shipped models (each runs where it applies: the any-sensor model on
        MEG too).
    methods : list of str
        MNE's methods (:func:`~mne_deepinverse.baselines.apply_baseline`).
    sensors : list of str
        ``"eeg"``, ``"meg"``, ``"meg+eeg"``.
    conditions : list of str
        Keys of :data:`CONDITIONS`.
    out_dir : path-like | None
        Where ``real_data.json`` and ``real_data.rst`` go (None: not saved).
    progress : bool
        Show a progress bar.

    Returns
    -------
    result : dict
        ``rows`` (one per condition, sensor set, montage and method), the
        ``dipoles`` and ``peaks`` per condition, ``stability`` (EEG: distance
        between the maxima with digitised and standard positions) and
        ``n_trials``.
    """
    from ..datasets import (
        find_sample_raw,
        get_template_trans,
        make_template_bem,
        make_template_forward,
    )

    fname = find_sample_raw() if fname is None else Path(fname)
    _validate_type(progress, bool, "progress")
    epochs = _load(fname)
    trans = get_template_trans()
    bem = make_template_bem()
    fwds = {}

    def forward(key, info, fixed):
        if (key, fixed) not in fwds:
            logger.info(f"    Template forward: {key}")
            fwds[(key, fixed)] = make_template_forward(info, fixed=fixed,
                                                       verbose=False)
        return fwds[(key, fixed)]

    # one noise covariance per sensor set, from the baselines of all trials
    covs = {s: mne.compute_covariance(_pick(epochs, s), tmax=0.0, method="shrunk",
                                      verbose=False) for s in {*sensors, "meg"}}
    rows, dipoles, peaks, n_trials = [], {}, {}, {}
    jobs = [(c, s) for c in conditions for s in sensors]
    for cond, sens in ProgressBar(jobs, mesg="Real-data suite",
                                  which_tqdm=None if progress else "off"):
        spec = CONDITIONS[cond]
        ep = _pick(epochs[cond], sens)
        n_trials[cond] = len(ep)
        evoked = ep.average()
        cov = covs[sens]
        t_peak = peaks.setdefault((cond, sens), _peak(evoked, cov, spec["window"]))
        if cond not in dipoles:
            ep_meg, cov_meg = _pick(epochs[cond], "meg"), covs["meg"]
            t_meg = _peak(ep_meg.average(), cov_meg, spec["window"])
            dipoles[cond] = _dipoles(ep_meg.average(), cov_meg, t_meg,
                                     spec["response"], bem, trans)
        montages = [("digitised", evoked)]
        if sens == "eeg":
            montages.append(("standard", evoked.copy().set_montage(
                _standard_montage(evoked.info))))
        for montage, ev in montages:
            key = f"{sens}-{montage}"
            fwd = forward(key, ev.info, True)
            fwd_free = forward(key, ev.info, False)
            est = _estimates(ev, cov, fwd, fwd_free, sens, models, methods, bem,
                             t_peak, spec["window"])
            for method, (stc, gof, f) in est.items():
                it = int(np.argmin(np.abs(stc.times - t_peak)))
                maps = _Maps(f).maxima(stc.data[:, it] if stc.data.shape[1] > 1
                                       else stc.data[:, 0])
                row = dict(condition=cond, sensors=sens, montage=montage,
                           method=method, t_peak_ms=round(1e3 * t_peak),
                           gof=gof, **_score(maps, spec["response"],
                                             dipoles[cond], spec.get("contra")))
                rows.append(row)
    result = dict(rows=rows, n_trials=n_trials,
                  dipoles=dipoles, peaks={f"{c} {s}": round(1e3 * t)
                                          for (c, s), t in peaks.items()},
                  stability=_stability(rows), recording=fname.name)
    if out_dir is not None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "real_data.json").write_text(json.dumps(result, indent=1) + "\n")
        (out_dir / "real_data.rst").write_text(format_real_data(result))
    return result


def _stability(rows):
    """Distance (mm) between EEG maxima with digitised and standard positions."""
    by = {(r["condition"], r["method"], r["montage"]): r for r in rows
          if r["sensors"] == "eeg"}
    out = []
    for (cond, method, montage), row in by.items():
        other = by.get((cond, method, "standard"))
        if montage != "digitised" or other is None:
            continue
        out.append(dict(condition=cond, method=method, **{
            key: float(np.linalg.norm(np.subtract(row[key], other[key])))
            for key in ("max", "lh", "rh")}))
    return out


def _mm(xyz):
    return "({:.0f}, {:.0f}, {:.0f})".format(*xyz)


def format_real_data(result):
    """Return the suite's tables as reStructuredText."""
    lines = []
    for sens in SENSOR_SETS:
        rows = [r for r in result["rows"] if r["sensors"] == sens
                and r["montage"] == "digitised"]
        if not rows:
            continue
        title = dict(eeg="EEG (digitised positions)", meg="MEG",
                     **{"meg+eeg": "EEG + MEG"})[sens]
        lines += [title, "~" * len(title), "",
                  ".. list-table::", "   :header-rows: 1", "",
                  "   * - condition", "     - method", "     - peak (ms)",
                  "     - global maximum (mm), lobe", "     - left maximum, lobe",
                  "     - right maximum, lobe", "     - to dipoles L / R (mm)",
                  "     - GOF (%)", "     - as expected"]
        for r in rows:
            # visual: only the contralateral selection sees the response
            contra = CONDITIONS[r["condition"]].get("contra")
            dip = " / ".join(
                "n/a" if contra not in (None, hemi) else f"{r[f'{hemi}_to_dipole']:.0f}"
                for hemi in ("lh", "rh")) if "lh_to_dipole" in r else ""
            lines += [f"   * - {r['condition']}", f"     - {r['method']}",
                      f"     - {r['t_peak_ms']}",
                      f"     - {_mm(r['max'])} {r['max_hemi']} {r['max_lobe']}",
                      f"     - {_mm(r['lh'])} {r['lh_lobe']}",
                      f"     - {_mm(r['rh'])} {r['rh_lobe']}",
                      f"     - {dip}",
                      "     - " + ("" if r["gof"] is None else f"{r['gof']:.0f}"),
                      f"     - {'yes' if r['as_expected'] else 'no'}"]
        lines.append("")
    if result["stability"]:
        title = "EEG: digitised vs standard (mgh60) positions"
        lines += [title, "~" * len(title), "", ".. list-table::",
                  "   :header-rows: 1", "", "   * - condition", "     - method",
                  "     - global maximum moved (mm)", "     - left (mm)",
                  "     - right (mm)"]
        for r in result["stability"]:
            lines += [f"   * - {r['condition']}", f"     - {r['method']}",
                      f"     - {r['max']:.0f}", f"     - {r['lh']:.0f}",
                      f"     - {r['rh']:.0f}"]
        lines.append("")
    return "\n".join(lines)
