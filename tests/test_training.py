# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""The one training path: TrainingData (an IterableDataset) and fit_network."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from mne_deepinverse.training import TrainingData, fit_network  # noqa: E402


def _draw(n, rng):
    X = rng.standard_normal((n, 4)).astype(np.float32)
    Y = np.abs(X @ rng.standard_normal((4, 6))).astype(np.float32) + 0.1
    return X, Y


def _data(seed=0, steps=6):
    rng = np.random.default_rng(99)
    X_val, Y_val = _draw(16, rng)
    return TrainingData(_draw, X_val, Y_val, steps_per_epoch=steps, batch_size=8,
                        seed=seed, source_pos=rng.uniform(size=(6, 3)))


def _batches(data, epoch):
    data.set_epoch(epoch)
    return [x for x, _ in data]


def test_training_data_streams():
    """Per-epoch streams: the same seed and epoch give the same batches,
    whichever epochs ran before; other epochs and seeds give others."""
    data = _data()
    assert len(data) == 6
    first = _batches(data, 0)
    assert len(first) == 6 and first[0].shape == (8, 4)
    _batches(data, 3)
    again = _batches(data, 0)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(_batches(data, 1)[0], first[0])
    assert not np.allclose(_batches(_data(seed=1), 0)[0], first[0])
    # data-loader workers share the epoch's batches, each from its own stream
    loader = torch.utils.data.DataLoader(data, batch_size=None, num_workers=2)
    data.set_epoch(0)
    assert sum(1 for _ in loader) == 6
    with pytest.raises(ValueError, match="steps_per_epoch must be >= 1"):
        TrainingData(_draw, None, None, steps_per_epoch=0, batch_size=8, seed=0,
                     source_pos=np.zeros((6, 3)))
    with pytest.raises(TypeError, match="draw must be callable"):
        TrainingData(None, None, None, steps_per_epoch=1, batch_size=8, seed=0,
                     source_pos=np.zeros((6, 3)))


def test_training_data_from_arrays():
    """Given arrays: a tenth held out, batches from the rest."""
    X = np.arange(200, dtype=np.float32).reshape(100, 2)
    Y = X.copy()
    data = TrainingData.from_arrays(X, Y, n_val=50, batch_size=8, seeds=(0, 1),
                                    source_pos=np.zeros((2, 3)))
    assert len(data.X_val) == 10 and data.source == "given arrays"
    assert len(data) == 90 // 8
    held = set(data.X_val[:, 0])
    for x in _batches(data, 0):
        assert not held & set(x[:, 0])


def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.ReLU())


def test_fit_network_reproducible():
    """The same seed gives the same network; the record says what ran."""
    nets = []
    for _ in range(2):
        net = _net()
        record = fit_network(net, _data(), n_epochs=3, learning_rate=1e-2,
                             loss="cosine_mse", patience=5, seed=0, progress=False,
                             normalise_input=False)
        nets.append(net)
    for a, b in zip(nets[0].parameters(), nets[1].parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert record["epochs"] == 3 and record["samples_seen"] == 3 * 6 * 8
    assert len(record["history"]["val_loss"]) == 3
    assert "torch" in record["machine"]


def _ddp_worker(rank, world, init, out):
    """Train the small network in one process of a 2-process gloo group."""
    torch.distributed.init_process_group("gloo", init_method=init, rank=rank,
                                         world_size=world)
    try:
        net = _net()
        record = fit_network(net, _data(steps=7), n_epochs=2, learning_rate=1e-2,
                             loss="cosine_mse", patience=5, seed=0, progress=False,
                             normalise_input=False, strategy="ddp")
        torch.save(dict(state=net.state_dict(), seen=record["samples_seen"]),
                   f"{out}-{rank}.pt")
    finally:
        torch.distributed.destroy_process_group()


def test_fit_network_ddp(tmp_path):
    """Data-parallel training over two CPU processes (gloo): each draws its
    share of every batch, both end with the same network."""
    if not torch.distributed.is_available():
        pytest.skip("torch.distributed is not available")
    with pytest.raises(ValueError, match="no.*initialised|none is initialised"):
        fit_network(_net(), _data(), n_epochs=1, learning_rate=1e-2,
                    loss="cosine_mse", patience=5, seed=0, progress=False,
                    strategy="ddp")
    with pytest.raises(ValueError, match="Invalid value for the 'strategy'"):
        fit_network(_net(), _data(), n_epochs=1, learning_rate=1e-2,
                    loss="cosine_mse", patience=5, seed=0, strategy="horovod")
    init = (tmp_path / "init").as_uri()
    out = str(tmp_path / "state")
    torch.multiprocessing.spawn(_ddp_worker, args=(2, init, out), nprocs=2)
    states = [torch.load(f"{out}-{rank}.pt") for rank in range(2)]
    for key, value in states[0]["state"].items():
        torch.testing.assert_close(value, states[1]["state"][key], rtol=0, atol=0)
    # 7 steps per epoch, each process half of every batch of 8, 2 epochs
    assert states[0]["seen"] == states[1]["seen"] == 2 * 7 * 8
    # the trained network differs from the untrained one
    assert not torch.equal(states[0]["state"]["0.weight"], _net()[0].weight)


def _net_dropout():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Dropout(0.2),
                               torch.nn.ReLU())


def test_fit_network_resumes(tmp_path, monkeypatch):
    """A stopped training resumes from its checkpoint to the same network."""
    kw = dict(n_epochs=4, learning_rate=1e-2, loss="cosine_mse", patience=10,
              seed=0, progress=False, normalise_input=False)
    whole = _net_dropout()
    rec_whole = fit_network(whole, _data(), **kw)
    fname = tmp_path / "train.pt"
    net = _net_dropout()
    data = _data()
    set_epoch = data.set_epoch

    def stop_in_third(epoch):  # as if the machine went down in epoch 3
        if epoch == 2:
            raise KeyboardInterrupt
        set_epoch(epoch)

    monkeypatch.setattr(data, "set_epoch", stop_in_third)
    with pytest.raises(KeyboardInterrupt):
        fit_network(net, data, checkpoint=fname, **kw)
    assert fname.is_file()
    state = torch.load(fname, weights_only=True)
    assert len(state["history"]["val_loss"]) == 2
    # another training's state is refused
    with pytest.raises(ValueError, match="of another training.*learning_rate"):
        fit_network(_net_dropout(), _data(), checkpoint=fname,
                    **{**kw, "learning_rate": 1e-3})
    resumed = _net_dropout()  # a fresh process: the network from scratch
    rec = fit_network(resumed, _data(), checkpoint=fname, **kw)
    for a, b in zip(whole.parameters(), resumed.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert rec["history"] == rec_whole["history"]
    assert rec["samples_seen"] == rec_whole["samples_seen"] == 4 * 6 * 8
    assert not fname.exists()  # removed once training ended
    fname.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot be read"):
        fit_network(_net_dropout(), _data(), checkpoint=fname, **kw)
