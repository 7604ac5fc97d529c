# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""DeepInverse as a scikit-learn estimator: sklearn's checks, Pipeline, pickle."""

import pickle
import warnings

import mne
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from mne_deepinverse import DeepInverse, read_deep_inverse
from mne_deepinverse.datasets import CONVDIP_CH_NAMES, make_template_info
from mne_deepinverse.simulation import simulate_samples

pytest.importorskip("torch")

SMALL = dict(n_epochs=1, samples_per_epoch=256, batch_size=64, n_val=64,
             hyper_params=dict(n_dense=32), progress=False, fp16=False)


def _small_forward(n_sources=100):
    """Return a fixed-orientation sphere forward (31 EEG channels)."""
    info = make_template_info(CONVDIP_CH_NAMES)
    sphere = mne.make_sphere_model("auto", "auto", info, verbose=False)
    rr = np.random.default_rng(0).normal(size=(n_sources, 3))
    rr /= np.linalg.norm(rr, axis=1, keepdims=True)
    src = mne.setup_volume_source_space(
        pos=dict(rr=rr * 0.06 + sphere["r0"], nn=rr.copy()), sphere=sphere,
        verbose=False)
    fwd = mne.make_forward_solution(info, None, src, sphere, meg=False, verbose=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mne.convert_forward_solution(fwd, surf_ori=True, force_fixed=True,
                                            verbose=False)


# scikit-learn's checks feed random X with 1-10 features; DeepInverse reads the
# forward's channels (31 here), so every check that fits or predicts on such X
# meets the channel check first. Listed like MNE's own expected failures.
_CHANNELS = ("X must have one column per channel of the forward (31 here); the "
             "check's X has {n} features")
_FITS = (
    "check_dict_unchanged", "check_dont_overwrite_parameters", "check_dtype_object",
    "check_estimators_dtypes", "check_estimators_fit_returns_self",
    "check_estimators_overwrite_params", "check_estimators_pickle",
    "check_f_contiguous_array_estimator", "check_fit2d_predict1d",
    "check_fit_check_is_fitted", "check_fit_idempotent", "check_fit_score_takes_y",
    "check_methods_sample_order_invariance", "check_methods_subset_invariance",
    "check_n_features_in", "check_n_features_in_after_fitting",
    "check_pipeline_consistency", "check_readonly_memmap_input",
    "check_transformer_data_not_an_array", "check_transformer_general",
    "check_transformer_preserve_dtypes",
)
EXPECTED_FAILURES = {name: _CHANNELS.format(n="another number of")
                     for name in _FITS} | {
    "check_positive_only_tag_during_fit": _CHANNELS.format(n="3") + " (negative "
    "values are fine: EEG is signed)",
    "check_estimators_nan_inf": _CHANNELS.format(n="10") + ", refused before its "
    "values are read (NaN and inf are refused too, with the channels named: "
    "tests/test_estimator.py::test_fit_checks)",
    "check_fit2d_1feature": _CHANNELS.format(n="1") + " (the message names the "
    "channels needed, not '1 feature')",
}


@parametrize_with_checks([DeepInverse(_small_forward(), random_state=0, **SMALL)],
                         expected_failed_checks=lambda est: EXPECTED_FAILURES)
def test_sklearn_compatible(estimator, check):
    """Run scikit-learn's estimator checks (expected failures: see above)."""
    check(estimator)


@pytest.fixture(scope="module")
def small_fwd():
    return _small_forward()


@pytest.fixture(scope="module")
def fitted(small_fwd):
    return DeepInverse(small_fwd, random_state=0, **SMALL).fit()


def test_features_and_transform(fitted, small_fwd):
    """n_features_in_, feature_names_in_ and transform for epochs and samples."""
    from sklearn.frozen import FrozenEstimator
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline

    assert fitted.n_features_in_ == 31
    assert list(fitted.feature_names_in_) == small_fwd["info"]["ch_names"]
    assert not hasattr(DeepInverse(small_fwd), "n_features_in_")
    X, Y = simulate_samples(small_fwd, 40, random_state=1)
    np.testing.assert_array_equal(fitted.transform(X), fitted.predict(X))
    # epochs (n_epochs, n_channels, n_times), the mne.decoding layout
    epochs = X.reshape(8, 5, 31).transpose(0, 2, 1)
    out = fitted.transform(epochs)
    assert out.shape == (8, 100, 5)
    np.testing.assert_allclose(out[3, :, 2], fitted.predict(X[17:18])[0], rtol=1e-5)
    # source-space decoding: a frozen (pre-trained) estimator in a Pipeline
    rng = np.random.default_rng(2)
    labels = np.repeat([0, 1], 20)
    data = np.stack([simulate_samples(small_fwd, 4, random_state=int(s))[0].T
                     for s in rng.integers(0, 1000, 40)])
    data[labels == 1] *= 3  # stronger sources in class 1
    pipe = make_pipeline(FrozenEstimator(fitted), mne.decoding.Vectorizer(),
                         LogisticRegression(max_iter=1000))
    onnx = fitted.onnx_
    scores = cross_val_score(pipe, data, labels, cv=2)
    assert scores.shape == (2,)
    assert fitted.onnx_ is onnx  # not retrained
    with pytest.raises(ValueError, match="Expected 2D array"):
        fitted.transform(X[0])


def test_pickle_without_torch(fitted, small_fwd, tmp_path, run_without_torch):
    """A pickled fitted estimator loads and predicts in a process without torch."""
    assert hasattr(fitted, "net_")
    fname = tmp_path / "est.pkl"
    fname.write_bytes(pickle.dumps(fitted))
    assert not hasattr(pickle.loads(fname.read_bytes()), "net_")
    X, _ = simulate_samples(small_fwd, 10, random_state=6)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "ref.npy", fitted.predict(X))
    run_without_torch(f"""import pickle
import numpy as np
with open(r"{fname}", "rb") as fid:
    est = pickle.load(fid)
pred = est.predict(np.load(r"{tmp_path / 'X.npy'}"))
np.testing.assert_array_equal(pred, np.load(r"{tmp_path / 'ref.npy'}"))
""")


def test_read_restores_recipe(fitted, small_fwd, tmp_path):
    """clone(read_deep_inverse(f)).fit() trains the same model again."""
    fname = tmp_path / "model.onnx"
    fitted.save(fname)
    read = read_deep_inverse(fname)
    params, read_params = fitted.get_params(), read.get_params()
    for name in ("model", "n_epochs", "samples_per_epoch", "batch_size",
                 "learning_rate", "loss", "patience", "n_val", "fp16",
                 "random_state", "hyper_params"):
        assert read_params[name] == params[name], name
    again = clone(read).set_params(fwd=small_fwd).fit()
    X, _ = simulate_samples(small_fwd, 20, random_state=3)
    np.testing.assert_array_equal(again.predict(X), fitted.predict(X))
    with pytest.raises(ValueError, match="noise_cov=cov"):
        DeepInverse(small_fwd, simulation=dict(noise_cov=None), **SMALL).fit()


def test_torch_global_rng_untouched(small_fwd):
    """Seeding a fit neither reads nor changes torch's global RNG state."""
    import torch

    torch.manual_seed(123)
    state = torch.get_rng_state()
    est = DeepInverse(small_fwd, random_state=0, **SMALL).fit()
    assert torch.equal(torch.get_rng_state(), state)
    torch.manual_seed(7)  # another global state: the same model
    again = DeepInverse(small_fwd, random_state=0, **SMALL).fit()
    X, _ = simulate_samples(small_fwd, 5, random_state=3)
    np.testing.assert_array_equal(est.predict(X), again.predict(X))
