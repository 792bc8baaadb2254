"""Saving and loading: an exact round trip, continued training equal to
uninterrupted training, and clear errors for files that are not models."""
import io
import json
import zipfile

import numpy as np
import pytest

from engine import FFNN, ModelFileError, Sequential


def make(optimizer="adam", **extra):
    return FFNN([4, 6, 5, 3], ["tanh", "relu", "softmax"], loss="cce", init="he", init_params={"seed": 0},
                optimizer=optimizer, optimizer_params={"momentum": 0.9} if optimizer == "sgd" else {},
                l1=1e-4, l2=1e-3, **extra)


def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 4)).astype(np.float32)
    return X, (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)


def test_round_trip_is_exact(tmp_path):
    X, y = data()
    model = make(rmsnorm=True)
    model.fit(X, y, batch_size=16, learning_rate=0.01, epochs=2, verbose=0)
    path = tmp_path / "m.npz"
    model.save(path)
    loaded = FFNN.load(path)
    assert type(loaded) is FFNN and loaded.config == model.config
    for a, b in zip(model.layers, loaded.layers):
        for name in a.param_names:
            assert np.array_equal(getattr(a, name), getattr(b, name))
            assert np.array_equal(getattr(a, "grad_" + name), getattr(b, "grad_" + name))
    assert np.array_equal(model.predict(X), loaded.predict(X))
    assert loaded.epochs_trained == 2


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_continued_training_equals_uninterrupted(tmp_path, optimizer):
    X, y = data()
    straight = make(optimizer)
    straight.fit(X, y, batch_size=16, learning_rate=0.01, epochs=3, verbose=0, seed=5)
    first = make(optimizer)
    first.fit(X, y, batch_size=16, learning_rate=0.01, epochs=1, verbose=0, seed=5)
    buffer = io.BytesIO()
    first.save(buffer)
    buffer.seek(0)
    resumed = Sequential.load(buffer)
    resumed.fit(X, y, batch_size=16, learning_rate=0.01, epochs=2, verbose=0, seed=5)
    for a, b in zip(straight.layers, resumed.layers):
        assert np.array_equal(a.W, b.W) and np.array_equal(a.b, b.b)
    fresh = make(optimizer)
    fresh.fit(X, y, batch_size=16, learning_rate=0.01, epochs=2, verbose=0, seed=5)
    assert not np.array_equal(fresh.layers[0].W, resumed.layers[0].W)


def test_garbage_file_is_rejected_clearly(tmp_path):
    path = tmp_path / "junk.npz"
    path.write_bytes(b"not a model at all")
    with pytest.raises(ModelFileError, match="is not a Backprop Studio model file"):
        FFNN.load(path)


def test_truncated_file_is_rejected(tmp_path):
    path = tmp_path / "m.npz"
    make().save(path)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(ModelFileError):
        FFNN.load(path)


def test_foreign_npz_is_rejected(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, weights=np.ones(3))
    with pytest.raises(ModelFileError, match="not a usable Backprop Studio model"):
        FFNN.load(path)


def test_pickled_content_is_never_executed(tmp_path):
    path = tmp_path / "evil.npz"
    marker = tmp_path / "executed"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    np.savez(path, meta=np.array([Evil()], dtype=object))
    with pytest.raises(ModelFileError):
        FFNN.load(path)
    assert not marker.exists()


def test_wrong_shapes_in_file_are_named(tmp_path):
    path = tmp_path / "m.npz"
    make().save(path)
    with np.load(path) as f:
        arrays = dict(f)
    arrays["param/0/W"] = np.zeros((2, 2), np.float32)
    np.savez(path, **arrays)
    with pytest.raises(ModelFileError, match=r"param/0/W has shape \(2, 2\)"):
        FFNN.load(path)


def test_header_from_another_program_is_rejected(tmp_path):
    path = tmp_path / "m.npz"
    meta = json.dumps({"format": "something-else"}).encode()
    np.savez(path, meta=np.frombuffer(meta, np.uint8))
    with pytest.raises(ModelFileError, match="backprop-studio-model"):
        FFNN.load(path)


def test_saved_file_is_a_plain_npz(tmp_path):
    path = tmp_path / "m.npz"
    model = make()
    model.fit(*data(), epochs=1, verbose=0)
    model.save(path)
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
    assert {"meta.npy", "param/0/W.npy", "grad/0/W.npy", "opt/M/0.npy"} <= names
