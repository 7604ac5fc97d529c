# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.

import ast
from pathlib import Path

import mne
import numpy as np
import pytest

import mne_deepinverse
from mne_deepinverse import DeepInverse, apply_deep_inverse, read_deep_inverse
from mne_deepinverse.simulation import simulate_patch_evoked, simulate_samples

torch = pytest.importorskip("torch")

from mne_deepinverse._backend_inputs import (  # noqa: E402
    backend_inputs,
    linear_kernels,
    sphere_positions,
)
from mne_deepinverse._preprocessing import normalise_torch as normalise_eeg  # noqa: E402
from mne_deepinverse.backends import get_backend  # noqa: E402
from mne_deepinverse.backends._resample import (  # noqa: E402
    knn_table,
    multilinear_table,
)
from mne_deepinverse.backends.losses import cosine_mse, cosine_wmse  # noqa: E402
from mne_deepinverse.backends.unet import DEFAULTS, sphere_image_tables  # noqa: E402
from mne_deepinverse.backends.vnet import voxel_tables  # noqa: E402

BRIEF = dict(n_epochs=2, samples_per_epoch=768, batch_size=64, n_val=100,
             learning_rate=3e-3, progress=False, fp16=False)


def test_tables():
    """Gather tables: weights sum to one, exact on grid points and planes."""
    rng = np.random.default_rng(0)
    pts = rng.uniform(-1, 1, (50, 3))
    idx, w, inside = knn_table(pts, pts[:5] + 1e-9, 3, max_distance=0.1)
    np.testing.assert_allclose(w.sum(1), 1, rtol=1e-6)
    assert inside.all() and (w[:, 0] > 0.99).all()  # a query on a point
    np.testing.assert_array_equal(idx[:, 0], np.arange(5))
    _, w, inside = knn_table(pts, np.array([[10.0, 0, 0]]), 3, max_distance=0.1)
    assert not inside[0] and (w == 0).all()
    # multilinear interpolation reproduces a linear function in the interior
    shape = (4, 5, 6)
    grid = np.stack(np.meshgrid(*map(np.arange, shape), indexing="ij"), -1)
    values = (grid @ [1.0, -2.0, 0.5]).ravel()
    coords = rng.uniform(0, 3, (30, 3))
    idx, w = multilinear_table(coords, shape)
    np.testing.assert_allclose((values[idx] * w).sum(1), coords @ [1.0, -2.0, 0.5],
                               rtol=1e-5, atol=1e-5)
    # periodic axis: halfway between the last and the first column
    idx, w = multilinear_table(np.array([[0.0, 4.5]]), (1, 5), wrap=(1,))
    per_index = np.bincount(idx[0], weights=w[0], minlength=5)
    np.testing.assert_allclose(per_index, [0.5, 0, 0, 0, 0.5], atol=1e-7)


def test_sphere_images(fwd):
    """Latitude/longitude images of the template keep smooth maps."""
    hemi_pos = sphere_positions(fwd)
    assert [len(p) for p in hemi_pos] == [2562, 2562]
    np.testing.assert_allclose(np.linalg.norm(hemi_pos[0], axis=1), 1, rtol=1e-6)
    (to_idx, to_w), (from_idx, from_w) = sphere_image_tables(hemi_pos, (32, 64))
    assert to_idx.shape == (2 * 32 * 64, 3) and from_idx.shape == (5124, 4)
    assert to_idx[: 32 * 64].max() < 2562 <= to_idx[32 * 64:].min()  # lh | rh
    # a smooth function on the sphere survives the round trip
    vals = np.concatenate([p[:, 2] + 0.5 * p[:, 0] for p in hemi_pos])
    image = (vals[to_idx] * to_w).sum(1)
    back = (image[from_idx] * from_w).sum(1)
    assert np.abs(back - vals).max() < 0.15
    assert np.corrcoef(back, vals)[0, 1] > 0.99
    # neighbouring pixels hold neighbouring sources: the mean cortical distance
    # between the sources of adjacent pixels (along longitude) is small
    pos = fwd["source_rr"]
    near = to_idx[:, 0].reshape(2, 32, 64)
    dist = np.linalg.norm(pos[near[:, 8:24, 1:]] - pos[near[:, 8:24, :-1]], axis=-1)
    assert np.median(dist) < 0.012  # m


def test_unet_needs_surface(sphere_fwd):
    with pytest.raises(ValueError, match="needs a surface source space.*vnet"):
        backend_inputs(get_backend("unet"), sphere_fwd, {})


def test_build(fwd, sphere_fwd):
    """Every backend builds from a card's meta and its inputs' arrays alone."""
    from mne_deepinverse._utils import _eeg_gain

    assert backend_inputs(get_backend("convdip"), fwd, {}) == {}
    for name, fwd_, hyper in (
        ("convdip", sphere_fwd, {}),
        ("vnet", sphere_fwd, dict(grid=16)),
        ("unet", fwd, dict(channels=(4, 4, 4))),
    ):
        n_ch = len(_eeg_gain(fwd_)[1])
        n_src = fwd_["nsource"]
        meta = dict(n_sources=n_src, source_rr=fwd_["source_rr"].tolist(),
                    ch_pos2d=np.random.default_rng(0).uniform(size=(n_ch, 2)))
        inputs = backend_inputs(get_backend(name), fwd_, hyper)
        net = get_backend(name).build(meta, hyper, **inputs).eval()
        with torch.no_grad():
            out = net(torch.randn(3, n_ch))
        assert out.shape == (3, n_src) and (out >= 0).all()
    assert set(inputs) == {"kernels", "sphere_pos"}
    assert inputs["kernels"].shape == (3, n_src, n_ch)
    with pytest.raises(TypeError, match="kernel"):
        get_backend("vnet").build(meta, dict(grid=16))


def _package_imports():
    """Map every module of the package to the names it imports (absolute)."""
    root = Path(mne_deepinverse.__file__).parent
    imports = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
            package = parts
        else:
            package = parts[:-1]
        names = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                module = ".".join(base + (node.module or "").split(".")).strip(".")
                names.add(module)
                names.update(f"{module}.{alias.name}" for alias in node.names)
        imports[".".join(parts)] = names
    return imports


#: module (or package prefix) -> package modules it must not import
LAYERS = {
    "backends": ("baselines", "simulation", "datasets", "agm", "benchmark",
                 "estimator", "_inverse", "training"),
    "simulation": ("backends", "baselines", "datasets", "estimator"),
    "baselines": ("backends", "simulation", "estimator"),
    # the haemodynamics need no networks, training or apply path
    "fmri._haemodynamics": ("backends", "training", "estimator", "_inverse",
                            "_model", "benchmark", "datasets"),
    # the apply path: the fitted model and what it runs on never reach
    # training code, networks, simulation or the estimator
    "_inverse": ("estimator", "backends", "simulation", "_export",
                 "_backend_inputs", "benchmark", "agm", "training"),
    # training knows networks, data and export, never the apply wrappers
    "training": ("_inverse", "benchmark", "estimator", "agm"),
    "_model": ("estimator", "backends", "simulation", "_export", "_inverse",
               "datasets", "baselines"),
    "_bindings": ("estimator", "backends", "simulation", "_export", "_model",
                  "_inverse", "datasets", "_load"),
    "_card": ("estimator", "backends", "simulation", "_export", "_model",
              "_inverse", "datasets", "_bindings", "_onnx", "_load"),
    "_onnx": ("estimator", "backends", "simulation", "_export", "_model"),
    "_preprocessing": ("estimator", "backends", "simulation", "_model", "_onnx"),
    "_checks": ("estimator", "backends", "simulation", "_model", "_inverse"),
    "scaling": ("estimator", "backends", "simulation", "_model", "_inverse"),
    "_utils": ("estimator", "backends", "simulation", "_model", "_inverse",
               "datasets", "baselines"),
}


def test_layers():
    """A lower module never imports an upper one (STYLE.md, "Layers")."""
    imports = _package_imports()
    # the parser resolves relative imports
    assert "mne_deepinverse.backends._resample" in imports[
        "mne_deepinverse.backends.unet"]
    assert "mne_deepinverse._utils" in imports["mne_deepinverse.simulation._patches"]
    bad = []
    for lower, uppers in LAYERS.items():
        lower = f"mne_deepinverse.{lower}"
        modules = [m for m in imports if m == lower or m.startswith(lower + ".")]
        assert modules, lower
        for module in modules:
            for upper in uppers:
                upper = f"mne_deepinverse.{upper}"
                bad += [(module, name) for name in sorted(imports[module])
                        if name == upper or name.startswith(upper + ".")]
    assert not bad, f"Imports across layers: {bad}"


def test_voxel_tables(fwd):
    pos = fwd["source_rr"]
    (to_idx, to_w), (from_idx, from_w), mask, size = voxel_tables(pos, 24)
    assert to_idx.shape == (24**3, 4) and from_idx.shape == (5124, 8)
    assert 0.004 < size < 0.009 and 0.05 < mask.mean() < 0.6
    # every source reads back from voxels of the mask (mostly)
    assert mask.ravel()[from_idx].mean() > 0.9
    vals = pos[:, 0] * 10
    back = ((vals[to_idx] * to_w).sum(1)[from_idx] * from_w).sum(1)
    inside = (mask.ravel()[from_idx] > 0).all(axis=1)
    assert np.corrcoef(back[inside], vals[inside])[0, 1] > 0.99


def test_linear_kernels(fwd):
    """sLORETA kernels localise noise-free point sources exactly."""
    kern = linear_kernels(fwd, ["MNE", "dSPM", "sLORETA"])
    assert kern.shape == (3, 5124, 31) and kern.dtype == np.float32
    np.testing.assert_allclose(np.abs(kern).max(axis=(1, 2)), 1, rtol=1e-6)
    gain = fwd["sol"]["data"]
    gain = gain - gain.mean(axis=0)
    idx = np.random.default_rng(0).choice(5124, 20, replace=False)
    est = np.abs(kern[2] @ gain[:, idx])
    np.testing.assert_array_equal(est.argmax(axis=0), idx)


def test_wmse_loss():
    target = torch.zeros(4, 100)
    target[:, :5] = 1.0
    # predicting nothing costs more with the weighting than without
    zeros = torch.zeros_like(target)
    assert cosine_wmse(zeros, target) > cosine_mse(zeros, target)
    assert float(cosine_wmse(target, target)) < 1e-6
    # a constant map is not a cheap minimum either
    assert cosine_wmse(torch.full_like(target, 0.05), target) > 0.5


def _check_model(est, fwd, n_sources):
    """Not constant, torch == onnxruntime, save/read, apply."""
    X, Y = simulate_samples(fwd, 60, random_state=5)
    _, shapes, proj = est.predict_shape(X)
    assert shapes.shape == (60, n_sources) and (shapes >= 0).all()
    # not a constant map (the all-zero / all-equal collapse): outputs vary
    # across sources and across samples
    assert np.median(np.ptp(shapes, axis=1)) > 0.05
    assert np.abs(np.diff(shapes, axis=0)).max() > 0.05
    with torch.no_grad():
        ref = est.net_(normalise_eeg(torch.as_tensor(X, dtype=torch.float32)))
    np.testing.assert_allclose(shapes, ref.numpy(), rtol=1e-5, atol=1e-5)
    return X, Y


@pytest.fixture(scope="module")
def unet(fwd_free):
    return DeepInverse(fwd_free, "unet", random_state=0, **BRIEF).fit()


def test_unet(unet, fwd, tmp_path):
    X, Y = _check_model(unet, fwd, 5124)
    card = unet.card_
    assert card["backend"] == "unet" and card["training"]["loss"] == "cosine_wmse"
    assert card["hyper_params"]["grid"] == [32, 64]
    assert "subjects_dir" not in card["hyper_params"]
    # briefly trained, it already ranks the active sources above the others
    assert unet.score(X, Y) > 0.6
    fname = tmp_path / "unet.onnx"
    unet.save(fname)
    other = read_deep_inverse(fname)
    np.testing.assert_array_equal(other.predict(X), unet.predict(X))
    evoked, stc_true = simulate_patch_evoked(fwd, n_patches=1, random_state=1)
    stc = apply_deep_inverse(evoked, fwd, unet)
    assert isinstance(stc, mne.SourceEstimate) and stc.data.shape[0] == 5124


def test_unet_vertex_head(fwd_free, fwd):
    """A U-Net with a per-vertex head: exported like the plain one."""
    est = DeepInverse(fwd_free, "unet", random_state=0,
                      hyper_params=dict(vertex_head=8), **BRIEF).fit()
    assert est.card_["hyper_params"]["vertex_head"] == 8
    assert est.net_.vertex[0].in_features == 1 + 3 + 2 * 3
    X, Y = _check_model(est, fwd, 5124)  # torch == onnxruntime
    assert est.score(X, Y) > 0.6
    assert DEFAULTS["vertex_head"] == 0  # per-forward U-Nets: none by default
    with pytest.raises(ValueError, match=r"hyper_params\['vertex_head'\] must be an "
                                         "integer >= 0"):
        DeepInverse(fwd_free, "unet", hyper_params=dict(vertex_head=-1)).fit()


def test_unet_fp16(unet, fwd):
    """Float16 storage of the weights: half the file, the same maps."""
    from mne_deepinverse._onnx import OnnxModel
    from mne_deepinverse._utils import _eeg_gain, _reference
    from mne_deepinverse.backends import export_onnx

    gain_ref = _reference(_eeg_gain(fwd)[0])
    half = export_onnx(get_backend("unet"), unet.net_, gain_ref, unet.card_, fp16=True)
    assert len(half) < 0.7 * len(unet.onnx_)
    X, _ = simulate_samples(fwd, 20, random_state=6)
    a, b = unet.predict_shape(X)[1], OnnxModel(half).run(X)[1]
    assert np.abs(a - b).max() < 0.02
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.999


def test_vnet_discrete(sphere_fwd):
    """The VNet works on a non-surface (discrete) source space."""
    est = DeepInverse(sphere_fwd, "vnet", random_state=0,
                      hyper_params=dict(grid=16), **BRIEF).fit()
    assert est.card_["backend"] == "vnet" and est.card_["hyper_params"]["grid"] == 16
    X, Y = _check_model(est, sphere_fwd, 400)
    assert est.score(X, Y) > 0.6
    # volume source estimate from apply_deep_inverse
    evoked, _ = simulate_patch_evoked(sphere_fwd, n_patches=1, random_state=2)
    stc = apply_deep_inverse(evoked, sphere_fwd, est)
    assert isinstance(stc, mne.VolSourceEstimate)


def test_grid_checks(fwd):
    with pytest.raises(ValueError, match="multiple of 8"):
        DeepInverse(fwd, "vnet", hyper_params=dict(grid=20), **BRIEF).fit()
    with pytest.raises(ValueError, match="divisible by 4"):
        DeepInverse(fwd, "unet", hyper_params=dict(grid=(30, 64)), **BRIEF).fit()
    with pytest.raises(ValueError, match="Allowed values"):
        get_backend("resnet")
