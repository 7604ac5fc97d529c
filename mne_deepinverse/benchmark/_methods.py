# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""How each method of the benchmark is applied to a test evoked.

MNE's methods are set up per test sample as an expert would, with settings
chosen on a validation set (:class:`_Baselines`, :data:`TUNING_GRID`);
the deep models are loaded, matched to the cap and applied by
:class:`_DeepModels`, the one place that calls the models' API.
"""

import importlib.util
import time

import mne
import numpy as np
from mne.utils import _validate_type, logger, warn

from .._registry import PRETRAINED
from ..baselines import apply_baseline, make_baseline_operator

#: The settings of MNE's methods chosen on the validation set, per method:
#: the values tried (``snr``: ``lambda2 = 1 / snr**2``; ``depth``: depth
#: weighting, which eLORETA ignores; ``reg``: LCMV's regularisation;
#: ``alpha``: the sparse solvers' regularisation, MxNE's in percent of its
#: largest useful value; ``n_dipoles``: TRAP-MUSIC's). MNE's defaults are
#: among them, and the ranges reach far enough on both sides that the best
#: setting lies inside them on the documented runs (on the 31-channel cap,
#: a first grid that stopped at ``snr=1``, ``reg=0.5`` and ``alpha=60`` put
#: the single-source optimum on its edge: heavier regularisation localises
#: single sources better). The dipole fit has nothing to tune.
TUNING_GRID = {
    "eLORETA": dict(snr=(0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)),
    "MNE": dict(snr=(0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0),
                depth=(0.3, 0.5, 0.8, 1.0)),
    "dSPM": dict(snr=(0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0),
                 depth=(0.3, 0.5, 0.8, 1.0)),
    "sLORETA": dict(snr=(0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0),
                    depth=(0.3, 0.5, 0.8, 1.0)),
    "LCMV": dict(reg=(0.01, 0.05, 0.1, 0.5, 1.0, 2.0, 5.0)),
    "MxNE": dict(alpha=(10.0, 20.0, 30.0, 45.0, 60.0, 75.0, 90.0)),
    "irMxNE": dict(alpha=(5.0, 10.0, 20.0, 30.0, 45.0, 60.0)),
    "gamma-MAP": dict(alpha=(0.05, 0.2, 0.5, 1.0, 2.0, 5.0)),
    "TRAP-MUSIC": dict(n_dipoles=(1, 2, 3, 5, 7)),
    "dipole": {},
}
#: The settings of a method when nothing was tuned (MNE's defaults).
DEFAULT_SETTINGS = {
    "eLORETA": dict(snr=3.0), "MNE": dict(snr=3.0, depth=0.8),
    "dSPM": dict(snr=3.0, depth=0.8), "sLORETA": dict(snr=3.0, depth=0.8),
    "LCMV": dict(reg=0.05), "MxNE": dict(alpha=30.0), "irMxNE": dict(alpha=30.0),
    "gamma-MAP": dict(alpha=0.2), "TRAP-MUSIC": dict(n_dipoles=1), "dipole": {},
}
_MINIMUM_NORM = ("eLORETA", "MNE", "dSPM", "sLORETA")
#: Methods run on the single-source set only: one dipole cannot explain
#: several sources (and a fit takes seconds).
SINGLE_ONLY = ("dipole",)


def _grid(method):
    """Every combination of a method's tuned settings (a list of dicts)."""
    import itertools

    grid = TUNING_GRID[method]
    return [dict(zip(grid, values, strict=True))
            for values in itertools.product(*grid.values())]


class _Baselines:
    """MNE's methods, set up per test sample as an expert would.

    The noise covariance comes from the evoked's baseline (the runner
    estimates it with ``method="shrunk"``); LCMV gets a data covariance from
    the trials' active window; the sparse solvers and TRAP-MUSIC fit the
    active window of the evoked, the dipole fit its peak sample (on the
    template's BEM). Each method runs with ``settings[method]`` (see
    :data:`TUNING_GRID`; missing: :data:`DEFAULT_SETTINGS`).
    """

    def __init__(self, fwd_free, fwd_fixed, methods, active=(0.0, 0.1)):
        self.fwd_free, self.fwd_fixed, self.methods = fwd_free, fwd_fixed, methods
        self.active = active
        self._bem = None
        if "dipole" in methods and importlib.util.find_spec("numba") is None:
            warn("numba is not installed: MNE's dipole fits check the BEM "
                 "surface in pure numpy and take about 30 times longer "
                 "(10 s instead of 0.3 s per fit). Install it with "
                 "pip install \"mne-deepinverse[benchmark]\" (or pip install "
                 "numba).")

    @property
    def bem(self):
        """The BEM of the inversion forward (the template's), read once."""
        if self._bem is None:
            from ..datasets import make_template_bem

            self._bem = make_template_bem()
        return self._bem

    def apply(self, evoked, epochs, t_peak, noise_cov, t_cov, settings=None,
              kind="single"):
        """Return maps at ``t_peak`` and times (s, covariances and operators in)."""
        settings = settings or {}
        out, times = {}, {}
        operators = {}  # minimum-norm operators of this evoked, by depth
        for method in self.methods:
            if kind != "single" and method in SINGLE_ONLY:
                continue
            params = settings.get(method, DEFAULT_SETTINGS[method])
            for _, est_map, seconds in self.run(method, [params], evoked, epochs,
                                                t_peak, noise_cov, operators):
                out[method] = est_map
                times[method] = t_cov + seconds
        return out, times

    def run(self, method, grid, evoked, epochs, t_peak, noise_cov, operators=None):
        """Yield ``(params, map at t_peak, seconds)`` for each settings of ``grid``.

        Work shared by several settings (an operator per depth, LCMV's data
        covariance) is done once and counted in each setting's time. The
        minimum-norm methods share one operator per depth (eLORETA, dSPM,
        sLORETA and MNE differ only when it is applied): pass the same dict
        ``operators`` for every method run on one evoked.
        """
        operators = {} if operators is None else operators
        import warnings

        ev_peak = evoked.copy().crop(evoked.times[t_peak], evoked.times[t_peak])
        with mne.utils.use_log_level("error"), warnings.catch_warnings():
            # (MNE's convergence and "no active source" notes: part of the result)
            warnings.simplefilter("ignore")
            if method in _MINIMUM_NORM:
                yield from self._minimum_norm(method, grid, evoked, ev_peak,
                                              noise_cov, operators)
            elif method == "LCMV":
                yield from self._lcmv(grid, evoked, epochs, ev_peak, noise_cov)
            else:
                yield from self._fitted(method, grid, evoked, t_peak, ev_peak,
                                        noise_cov)

    def _minimum_norm(self, method, grid, evoked, ev_peak, noise_cov, operators):
        by_depth = {}
        for params in grid:  # eLORETA ignores depth: one operator
            depth = 0.8 if method == "eLORETA" else params["depth"]
            by_depth.setdefault(depth, []).append(params)
        for depth, group in by_depth.items():
            if depth not in operators:
                t0 = time.perf_counter()
                inv = make_baseline_operator(evoked.info, self.fwd_free, method,
                                             noise_cov=noise_cov, depth=depth)
                operators[depth] = inv, time.perf_counter() - t0
            inv, t_inv = operators[depth]
            for params in group:
                t0 = time.perf_counter()
                stc = apply_baseline(ev_peak, self.fwd_free, method, operator=inv,
                                     snr=params["snr"])
                yield params, stc.data[:, 0], t_inv + time.perf_counter() - t0

    def _lcmv(self, grid, evoked, epochs, ev_peak, noise_cov):
        t0 = time.perf_counter()
        data_cov = mne.compute_covariance(epochs, tmin=self.active[0],
                                          tmax=self.active[1], verbose=False)
        t_cov = time.perf_counter() - t0
        for params in grid:
            t0 = time.perf_counter()
            filters = make_baseline_operator(evoked.info, self.fwd_fixed, "LCMV",
                                             noise_cov=noise_cov, data_cov=data_cov,
                                             reg=params["reg"])
            stc = apply_baseline(ev_peak, self.fwd_fixed, "LCMV", operator=filters)
            yield params, stc.data[:, 0], t_cov + time.perf_counter() - t0

    def _fitted(self, method, grid, evoked, t_peak, ev_peak, noise_cov):
        """Run the sparse solvers and TRAP-MUSIC (active window), dipole (peak)."""
        window = evoked.copy().crop(*self.active)
        at = int(np.argmin(np.abs(window.times - evoked.times[t_peak])))
        for params in grid:
            t0 = time.perf_counter()
            if method == "dipole":
                stc = apply_baseline(ev_peak, self.fwd_free, method,
                                     noise_cov=noise_cov, bem=self.bem)
                est_map = stc.data[:, 0]
            else:
                stc = apply_baseline(window, self.fwd_free, method,
                                     noise_cov=noise_cov, **params)
                est_map = stc.data[:, at]
            yield params, est_map, time.perf_counter() - t0


def _load_deep_models(models, *, check=True):
    """Load the deep models and check them against the pretrained forward.

    Returns a dict {name: DeepInverseModel} and the (fixed) pretrained
    forward. With ``check=False`` (a benchmark on another cap) the models are
    only loaded: they are checked against the cap's forward instead.
    """
    from .._load import load_model
    from ..datasets import read_pretrained_forward

    _validate_type(models, (list, tuple, None), "models")
    if models is None:
        models = tuple(PRETRAINED)
    fwd = read_pretrained_forward("convdip")
    deep = {}
    for model in models:
        est = load_model(model)
        if check:
            est.bind(fwd)  # raises if the forward is not the model's
        name = model if str(model) in PRETRAINED else est.backend
        base, k = name, 1
        while name in deep:  # two models of one backend: keep both
            k += 1
            name = f"{base}-{k}"
        deep[name] = est
    return deep, fwd


def _first_sentence(text):
    return text.split(". ")[0].rstrip(".")


def _deep_on_cap(deep, fwd_cap, cap):
    """Pick the channels of the deep models that run on a cap; say why not others.

    A model for one layout runs when the cap has all its channels and its
    forward check passes on the cap's forward restricted to them; a model for
    any cap runs on all the cap's channels when its check of the cap's
    forward passes.
    """
    cap_names = fwd_cap["info"]["ch_names"]
    picks, not_applicable = {}, {}
    for name, est in deep.items():
        any_cap = est.reads_forward
        names = cap_names if any_cap else est.ch_names
        if missing := [ch for ch in names if ch not in cap_names]:
            shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
            reason = (f"the cap lacks {len(missing)} of its {len(est.ch_names)} "
                      f"channels ({shown})")
            detail = f"missing channels {missing}"
        else:
            fwd_model = fwd_cap if any_cap else mne.pick_channels_forward(
                fwd_cap, names, ordered=True, verbose=False)
            try:
                est.bind(fwd_model)
            except ValueError as exc:
                detail = str(exc)
                reason = ("its check of the cap's forward fails: " if any_cap else
                          "its forward check fails on the cap's forward: "
                          ) + _first_sentence(detail)
            else:
                picks[name] = np.array([cap_names.index(ch) for ch in names])
                continue
        not_applicable[name] = reason
        logger.warning(f"{name} is not applicable on {cap}: {detail.rstrip('.')}. "
                       "It is reported as not applicable; the MNE solvers still "
                       "run.")
    return picks, not_applicable


def _apply_deep(model, evoked, picks, fwd, t_peak, noise_cov):
    """Return a deep model's map at ``t_peak``, through the public apply path.

    :func:`~mne_deepinverse.apply_deep_inverse` on the evoked's channels of
    the model, as a user applies it: a model that reads one time sample gets
    the peak sample, a window model the whole evoked (the map at the peak is
    returned). A model that reads the forward gets the cap's forward, an
    any-sensor model also the run's noise covariance.
    """
    import warnings

    from .._inverse import apply_deep_inverse

    ev = evoked.copy().pick([evoked.ch_names[p] for p in picks])
    if not model.card.input.is_window:
        ev = mne.EvokedArray(ev.data[:, [t_peak]], ev.info, tmin=ev.times[t_peak],
                             nave=ev.nave, verbose=False)
        t_peak = 0
    fwd_model = fwd if model.reads_forward else None
    cov = noise_cov if model.reads_noise_cov else None
    # (a short evoked is padded with a warning: said once, by _DeepModels.on_cap)
    with mne.utils.use_log_level("error"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        stc = apply_deep_inverse(ev, fwd_model, model, on_mismatch="ignore",
                                 noise_cov=cov)
    return stc.data[:, t_peak]


class _DeepModels:
    """The deep models of a run, on the cap's channels, applied to test evokeds.

    Parameters
    ----------
    models : dict
        The models that run (name -> DeepInverseModel).
    fwd : instance of Forward
        The cap's fixed forward (the template's, made for the cap).
    picks : dict
        Per model, the indices of its channels among the cap's.
    """

    def __init__(self, models, fwd, picks):
        self.models, self.fwd, self.picks = models, fwd, picks

    @classmethod
    def on_cap(cls, deep, fwd, cap, *, checked, evokeds, time_course):
        """Return the models that run on a cap and those that do not (why).

        ``deep`` comes from :func:`_load_deep_models`; ``checked`` says that
        it checked them against ``fwd`` (the default cap, all its channels).
        Models that read windows longer than the test evokeds are run on the
        evokeds padded by reflection, with a warning here.
        """
        if checked:
            picks = {name: np.arange(len(fwd["info"]["ch_names"])) for name in deep}
            not_applicable = {}
        else:
            picks, not_applicable = _deep_on_cap(deep, fwd, cap)
            deep = {name: est for name, est in deep.items() if name in picks}
        n_evoked = int(round((evokeds["tmax"] - evokeds["tmin"])
                             * evokeds["sfreq"])) + 1
        for name, est in deep.items():
            inp = est.input
            if inp["kind"] == "window" and (
                    n_evoked * inp["sfreq"] / evokeds["sfreq"] < inp["n_times"] - 1):
                logger.warning(
                    f"{name} reads windows of {inp['n_times']} samples at "
                    f"{inp['sfreq']:g} Hz, longer than the {time_course} test "
                    f"evokeds ({n_evoked} samples at {evokeds['sfreq']:g} Hz): they "
                    "are padded by reflection. Use time_course='erp' for evokeds a "
                    "window long.")
        return cls(deep, fwd, picks), not_applicable

    def apply(self, evoked, t_peak, noise_cov):
        """Return the models' maps at ``t_peak`` and their times (s).

        Through the public apply path (:func:`_apply_deep`): models that read
        one sample get the peak sample, window models the whole evoked;
        any-sensor models are bound to the evoked's info and noise covariance
        (in their time; bindings are cached by content).
        """
        maps, times = {}, {}
        for name, est in self.models.items():
            t0 = time.perf_counter()
            maps[name] = _apply_deep(est, evoked, self.picks[name], self.fwd,
                                     t_peak, noise_cov)
            times[name] = time.perf_counter() - t0
        return maps, times
