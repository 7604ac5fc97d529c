# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""The input pre-processing is the same in numpy, torch and ONNX."""

import numpy as np
import pytest

from mne_deepinverse._preprocessing import (
    normalise_numpy,
    normalise_torch,
    onnx_nodes,
)


def test_preprocessing_identical_in_numpy_torch_onnx():
    pytest.importorskip("torch")
    pytest.importorskip("onnx")

    rng = np.random.default_rng(0)
    X = rng.normal(0, 1e-5, (64, 31)).astype(np.float32)
    X[1] *= -1  # both polarities
    X[2] = 0.0  # a flat sample (peak below EPS) stays zero
    X[3] = X[4] + 3e-6  # an offset is removed by the reference
    ref = normalise_numpy(X.astype(np.float64))
    # x and -x give the same input (division by the signed peak)
    np.testing.assert_allclose(normalise_numpy(-X), normalise_numpy(X), rtol=1e-6)
    assert not ref[2].any() and np.isfinite(ref).all()
    assert np.allclose(np.abs(ref[3:]).max(axis=1), 1.0)
    np.testing.assert_allclose(ref[3], ref[4], rtol=1e-4)
    out_torch, out_onnx, ref_onnx = _torch_and_onnx(X)
    np.testing.assert_allclose(out_torch, ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out_onnx, ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ref_onnx, X - X.mean(axis=1, keepdims=True),
                               rtol=1e-5, atol=1e-12)

    # windows (n, n_times, n_channels): reference per time sample, one peak
    # per window, so the relative amplitudes of the samples survive
    W = X[4:].reshape(10, 6, 31)
    W[0] = 0.0
    ref_w = normalise_numpy(W.astype(np.float64))
    assert not ref_w[0].any()
    np.testing.assert_allclose(ref_w.sum(axis=2), 0.0, atol=1e-12)
    np.testing.assert_allclose(np.abs(ref_w[1:]).max(axis=(1, 2)), 1.0)
    Wr = W - W.mean(axis=2, keepdims=True)
    ratio = ref_w[1:] / np.where(Wr[1:] == 0, 1, Wr[1:])
    np.testing.assert_allclose(ratio, ratio[:, :1, :1] * np.ones_like(ratio),
                               rtol=1e-4)
    np.testing.assert_allclose(normalise_numpy(-W), ref_w, rtol=1e-5, atol=1e-7)
    out_torch, out_onnx, ref_onnx = _torch_and_onnx(W)
    np.testing.assert_allclose(out_torch, ref_w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out_onnx, ref_w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ref_onnx, Wr, rtol=1e-5, atol=1e-12)


def _torch_and_onnx(X):
    """Network input in torch and ONNX, and the ONNX referenced EEG."""
    import onnx
    import onnxruntime as ort
    import torch
    from onnx import TensorProto, helper

    out_torch = normalise_torch(torch.as_tensor(X)).numpy()
    window = X.ndim == 3
    nodes, inits = onnx_nodes("eeg", "eeg_ref", "h0", window=window)
    shape = ["n", *X.shape[1:]]
    graph = helper.make_graph(
        nodes, "pre",
        [helper.make_tensor_value_info("eeg", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("h0", TensorProto.FLOAT, shape),
         helper.make_tensor_value_info("eeg_ref", TensorProto.FLOAT, shape)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    sess = ort.InferenceSession(model.SerializeToString(),
                                providers=["CPUExecutionProvider"])
    out_onnx, ref_onnx = sess.run(None, {"eeg": np.ascontiguousarray(X)})
    return out_torch, out_onnx, ref_onnx
