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
    torch = pytest.importorskip("torch")
    onnx = pytest.importorskip("onnx")
    import onnxruntime as ort
    from onnx import TensorProto, helper

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
    out_torch = normalise_torch(torch.as_tensor(X)).numpy()
    nodes, inits = onnx_nodes("eeg", "eeg_ref", "h0")
    graph = helper.make_graph(
        nodes, "pre",
        [helper.make_tensor_value_info("eeg", TensorProto.FLOAT, ["n", 31])],
        [helper.make_tensor_value_info("h0", TensorProto.FLOAT, ["n", 31]),
         helper.make_tensor_value_info("eeg_ref", TensorProto.FLOAT, ["n", 31])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    sess = ort.InferenceSession(model.SerializeToString(),
                                providers=["CPUExecutionProvider"])
    out_onnx, ref_onnx = sess.run(None, {"eeg": X})
    np.testing.assert_allclose(out_torch, ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out_onnx, ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ref_onnx, X - X.mean(axis=1, keepdims=True),
                               rtol=1e-5, atol=1e-12)
