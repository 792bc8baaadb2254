"""Loading a hostile or broken model file: it is refused with a one-line reason before
anything large is inflated or allocated, and training explains weights that cannot work."""
import io
import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

from engine import (FFNN, LSTM, AvgPool2D, Bidirectional, Conv2D, Dense, Dropout, Embedding, Flatten,
                    GlobalAvgPool2D, MaxPool2D, ModelFileError, Sequential, SimpleRNN, TrainingDivergedWarning)
from engine import model as model_mod

REPO = str(Path(__file__).resolve().parents[1])


def small_model(**extra):
    return FFNN([4, 6, 3], ["relu", "softmax"], loss="cce", init_params={"seed": 0}, optimizer="adam", **extra)


def saved(model=None) -> bytes:
    buffer = io.BytesIO()
    (model or small_model()).save(buffer)
    return buffer.getvalue()


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def header_only(shape, descr="<f4") -> bytes:
    """An npy header declaring ``shape`` with none of its data."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def rewrite(data: bytes, replace=None, meta=None) -> bytes:
    """The model file ``data`` with members replaced or added (name -> npy bytes) and/or its
    header changed by ``meta(dict) -> dict or str``."""
    replace = dict(replace or {})
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == "meta.npy" and meta is not None:
                new = meta(json.loads(np.load(io.BytesIO(body)).tobytes()))
                text = new if isinstance(new, str) else json.dumps(new)
                body = npy(np.frombuffer(text.encode(), np.uint8))
            dst.writestr(info.filename, replace.pop(info.filename, body))
        for name, body in replace.items():
            dst.writestr(name, body)
    return out.getvalue()


def refusal(data: bytes) -> str:
    with pytest.raises(ModelFileError) as caught:
        Sequential.load(io.BytesIO(data))
    message = str(caught.value)
    assert "\n" not in message
    return message


def load_in_subprocess(path) -> tuple[str, int]:
    """Load ``path`` in a fresh interpreter (its address space capped at 3 GB, so a loader that
    allocates what the file asks for fails fast); the refusal and its peak RSS in bytes."""
    code = textwrap.dedent(f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
        sys.path.insert(0, {REPO!r})
        from engine import ModelFileError, Sequential
        try:
            Sequential.load({str(path)!r})
            print("LOADED")
        except ModelFileError as exc:
            print("REFUSED", exc)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:    # ru_maxrss keeps the forking test process's own peak across exec; VmHWM does not
            with open("/proc/self/status") as status:
                peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
        except OSError:
            pass
        print(peak)
    """)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 0 and len(lines) == 2, done.stdout + done.stderr
    return lines[0], int(lines[1]) * 1024      # both are in kilobytes on Linux


@pytest.fixture(scope="module")
def zip_bomb(tmp_path_factory):
    """A real model's file plus a member param/9/W.npy of 1 GiB of zeros (a few MB deflated),
    written in chunks so that the test itself stays small."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.npz"
    path.write_bytes(saved())
    n = (1 << 30) // 4
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        with z.open("param/9/W.npy", "w", force_zip64=True) as fh:
            fh.write(header_only((n,)))
            chunk = bytes(16 << 20)
            for _ in range(n * 4 // len(chunk)):
                fh.write(chunk)
    assert path.stat().st_size < 16 << 20
    return path


def test_zip_bomb_is_refused_without_inflating_it(zip_bomb):
    outcome, peak = load_in_subprocess(zip_bomb)
    assert outcome.startswith("REFUSED") and "member param/9/W is not a parameter of this model" in outcome
    assert peak < 300 << 20, f"peak RSS {peak / 2**20:.0f} MB"


def sequential_file() -> bytes:
    return saved(Sequential([Dense(6, "relu"), Dense(3, "softmax")], (4,), loss="cce", seed=0))


def with_model(**changes):
    return lambda meta: {**meta, "model": {**meta["model"], **changes}}


def first_layer(**config):
    def change(meta):
        meta["model"]["layers"][0]["config"].update(config)
        return meta
    return change


THREE = ["relu", "relu", "softmax"]


@pytest.mark.parametrize("base,change,message", [
    (saved, with_model(layer_sizes=[2, 10**9, 3]), "declares over 1,000,000,000 parameters"),
    (sequential_file, first_layer(units=10**9),
     "declares over 1,000,000,000 parameters (5,000,000,000 up to layer 0, Dense)"),
    (saved, with_model(layer_sizes=[4, 40000, 40000, 3], activations=THREE),
     "declares over 1,000,000,000 parameters"),
    (saved, with_model(layer_sizes=[4, 20000, 20000, 3], activations=THREE),
     "weights and gradients take 3,201,440,024 bytes, more than the 2,147,483,648 a model file may hold"),
    (sequential_file, with_model(input_shape=[10**8]), "takes samples of shape (100000000,), more than 10,000,000"),
], ids=["ffnn-huge-layer", "dense-1e9-units", "total-over-cap", "over-file-bytes", "huge-input"])
def test_huge_model_configs_are_refused_before_building(tmp_path, base, change, message):
    path = tmp_path / "huge.npz"
    path.write_bytes(rewrite(base(), meta=change))
    outcome, peak = load_in_subprocess(path)
    assert outcome.startswith("REFUSED") and message in outcome, outcome
    assert peak < 300 << 20


def test_array_headers_declaring_huge_shapes_are_refused_unread():
    data = saved()
    for shape, descr in (((100000, 100000), "<f4"), ((10**6, 10**6), "<f8")):   # 40 GB, 8 TB
        message = refusal(rewrite(data, {"param/0/W.npy": header_only(shape, descr)}))
        assert f"member param/0/W has shape {shape}: the layer needs (4, 6)" in message
    message = refusal(rewrite(data, {"opt/M/0.npy": header_only((10**12,))}))
    assert "member opt/M/0 has shape (1000000000000,): the optimiser state needs (51,)" in message


def test_integer_weights_are_named_as_such():
    message = refusal(rewrite(saved(), {"param/0/W.npy": npy(np.zeros((4, 6), np.int64))}))
    assert message.endswith("member param/0/W holds int64 numbers; weights must be floating point")


def test_unknown_members_are_refused_by_name():
    message = refusal(rewrite(saved(), {"junk.npy": npy(np.zeros(3))}))
    assert "it holds a member 'junk.npy', which is not part of a model file" in message
    message = refusal(rewrite(saved(), {"param/7/W.npy": npy(np.zeros(3, np.float32))}))
    assert "member param/7/W is not a parameter of this model" in message


def test_a_member_that_declares_more_bytes_than_its_array_is_refused():
    body = npy(np.zeros((4, 6), np.float32)) + bytes(1000)
    message = refusal(rewrite(saved(), {"param/0/W.npy": body}))
    assert "member param/0/W declares 1,224 bytes; its shape (4, 6) of float32 takes 224" in message


@pytest.mark.parametrize("depth", [100, 100_000])
def test_deeply_nested_metadata_is_refused(depth):
    message = refusal(rewrite(saved(), meta=lambda meta: json.dumps(meta)[:-1] + ', "deep": '
                              + "[" * depth + "]" * depth + "}"))
    assert message.endswith("its header meta nests lists or dicts deeper than 64 levels")


def test_nesting_within_the_limit_loads():
    model = Sequential.load(io.BytesIO(rewrite(saved(), meta=lambda meta: {
        **meta, "metadata": {"deep": json.loads("[" * 60 + "]" * 60)}})))
    assert isinstance(model.metadata["deep"], list)


def test_a_header_over_16_mb_is_refused():
    message = refusal(rewrite(saved(), meta=lambda meta: {**meta, "metadata": {"pad": "x" * (17 << 20)}}))
    assert "its header meta has 17,8" in message and "more than the 16,777,216 allowed" in message


@pytest.mark.parametrize("value", ["Infinity", "-Infinity", "NaN", "-1", "2.5", "\"3\"", "true", "1e400"])
def test_bad_epochs_trained_is_refused_by_name(value):
    message = refusal(rewrite(saved(), meta=lambda meta: json.dumps({**meta, "epochs_trained": "@"}).replace(
        '"@"', value)))
    assert "its epochs_trained is " in message and "not a non-negative integer" in message


def test_bad_optimizer_numbers_are_refused_by_name():
    model = small_model()
    model.fit(np.zeros((8, 4), np.float32), np.zeros(8, int), epochs=1, verbose=0)
    message = refusal(rewrite(saved(model), meta=lambda meta: {**meta, "optimizer_state": {"t": "many"}}))
    assert "its optimizer_state 't' is 'many', not a finite number" in message


def every_layer_type():
    return [
        small_model(rmsnorm=True),
        FFNN([3, 5, 5, 2], "tanh", rmsnorm=True, dtype="float64"),
        Sequential([Conv2D(4, 3, padding="same", activation="relu"), MaxPool2D(2), Conv2D(3, (2, 3), strides=2),
                    AvgPool2D(2, padding="same"), Flatten(), Dropout(0.2), Dense(5, rmsnorm=True), Dense(2)],
                   (9, 10, 2), seed=1),
        Sequential([Conv2D(2, 3), GlobalAvgPool2D(), Dense(1, "sigmoid")], (6, 6, 1), loss="bce", seed=2),
        Sequential([Embedding(20, 4, mask_zero=True), Bidirectional(LSTM(3, return_sequences=True)),
                    SimpleRNN(5), Dense(2, "softmax")], (7,), loss="cce", optimizer="sgd",
                   optimizer_params={"momentum": 0.5}, seed=3),
        Sequential([SimpleRNN(4, return_sequences=True), Bidirectional(SimpleRNN(2), merge_mode="sum"), Dense(1)],
                   (5, 3), seed=4),
    ]


@pytest.mark.parametrize("index", range(6))
def test_planned_shapes_match_built_models_and_files_round_trip(index):
    model = every_layer_type()[index]
    plan, itemsize = model_mod._planned_params(type(model), model._model_config())
    built = {f"{i}/{n}": getattr(l, n).shape for i, l in enumerate(model.layers) for n in l.param_names}
    assert plan == built and itemsize == model.dtype.itemsize
    rng = np.random.default_rng(0)
    model._flat_params[...] = rng.normal(size=model.n_params)
    model._flat_grads[...] = rng.normal(size=model.n_params)
    loaded = Sequential.load(io.BytesIO(saved(model)))
    assert type(loaded) is type(model) and loaded.get_config() == model.get_config()
    assert np.array_equal(loaded._flat_params, model._flat_params)
    assert np.array_equal(loaded._flat_grads, model._flat_grads)


# -- training on weights that cannot work ------------------------------------------------------
def blobs():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 4)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(int)


def stop_reason(model, **fit):
    with pytest.warns(TrainingDivergedWarning):
        return model.fit(*blobs(), **{"batch_size": 10, "epochs": 2, "verbose": 0, **fit})["stop_reason"]


def test_huge_initial_weights_are_blamed_not_the_learning_rate():
    model = FFNN([4, 8, 2], ["relu", "softmax"], loss="cce", dtype="float64", init_params={"seed": 0})
    model.layers[0].W = np.full((4, 8), 1e300)
    message = stop_reason(model, learning_rate=1e-6)
    assert message.startswith("Training stopped at epoch 1, batch 1: the ")
    assert "before any update: the weights or the inputs are too large to compute with" in message
    assert "A learning rate too large" not in message and "last finite step" not in message


@pytest.mark.parametrize("trained", [False, True])
def test_loaded_nan_weights_are_named(trained):
    model = small_model()
    if trained:
        model.fit(*blobs(), epochs=1, verbose=0)
    model.layers[1].b[0] = np.nan
    loaded = Sequential.load(io.BytesIO(saved(model)))
    message = stop_reason(loaded, learning_rate=0.01)
    assert "epoch 1, batch 1" in message and "the weights are not finite (NaN or infinite)" in message
    assert "A learning rate too large" not in message


def test_a_step_taken_earlier_in_epoch_one_still_blames_the_learning_rate():
    model = FFNN([4, 8, 1], ["relu", "linear"], loss="mse", optimizer="sgd", init_params={"seed": 0})

    def stop(m, logs):
        m.stop_training = True

    X, y = blobs()
    model.fit(X, y * 1e3, batch_size=10, learning_rate=1e30, epochs=1, verbose=0, callbacks=[stop])
    assert model.epochs_trained == 0 and np.isfinite(model._flat_params).all()
    message = stop_reason(model, learning_rate=1e-3)
    assert "epoch 1, batch 1" in message and "learning rate" in message and "before any update" not in message


def test_members_inflating_past_the_cap_are_refused_from_the_zip_directory(monkeypatch):
    data = saved()
    monkeypatch.setattr(model_mod, "MAX_MODEL_FILE_BYTES", 1000)
    message = refusal(data)
    assert "its members inflate to " in message and "more than the 1,000 a model file may hold" in message
