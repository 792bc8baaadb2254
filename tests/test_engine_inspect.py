"""Tests for looking into a model: its configuration as plain data, metadata kept
in saved files, every layer's output and the recurrent layers' per-step states,
checked against forward passes and recurrences written out here in NumPy (and
one LSTM against PyTorch)."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest

from engine import (FFNN, LSTM, AvgPool2D, Bidirectional, Conv2D, Dense, Dropout, Embedding, Flatten, MaxPool2D,
                    ModelFileError, Sequential, SimpleRNN)

TOL = 1e-10


# ---------------------------------------------------------------- models and references


def _cnn(dtype="float64", seed=1):
    return Sequential([Conv2D(4, 3, activation="relu", padding="valid"), MaxPool2D(2),
                       Conv2D(3, (2, 2), strides=1, padding="same", activation="tanh"), AvgPool2D(2, strides=1),
                       Flatten(), Dense(5, activation="relu"), Dense(3, activation="softmax")],
                      (8, 8, 2), loss="cce", optimizer="adam", optimizer_params={"beta1": 0.8}, dtype=dtype,
                      seed=seed)


def _text_model(seed=2, mask_zero=True):
    return Sequential([Embedding(20, 4, mask_zero=mask_zero), Bidirectional(LSTM(3, return_sequences=False)),
                       Dense(2, activation="softmax")], (6,), loss="cce", optimizer="sgd",
                      optimizer_params={"momentum": 0.5}, dtype="float64", seed=seed)


def _randomize(layer, rng, scale=0.6):
    for name in layer.param_names:
        setattr(layer, name, rng.normal(0, scale, getattr(layer, name).shape))


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _conv_valid(x, W, b, stride=1):
    """Direct convolution (cross-correlation, as Keras) of NHWC x with W (kh, kw, c_in, c_out)."""
    n, h, w, _ = x.shape
    kh, kw, _, c_out = W.shape
    oh, ow = (h - kh) // stride + 1, (w - kw) // stride + 1
    out = np.zeros((n, oh, ow, c_out))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :]
            out[:, i, j, :] = np.tensordot(patch, W, axes=([1, 2, 3], [0, 1, 2])) + b
    return out


def _pool(x, k, stride, reduce):
    n, h, w, c = x.shape
    oh, ow = (h - k) // stride + 1, (w - k) // stride + 1
    out = np.zeros((n, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            out[:, i, j, :] = reduce(x[:, i * stride:i * stride + k, j * stride:j * stride + k, :], axis=(1, 2))
    return out


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _rnn_reference(x, W, U, b, mask=None, backwards=False):
    """``h_t = tanh(x_t W + h_{t-1} U + b)``; a masked step keeps the previous state.
    States come back indexed by input step."""
    B, T, _ = x.shape
    units = U.shape[0]
    h = np.zeros((B, units))
    H = np.zeros((B, T, units))
    for t in (range(T - 1, -1, -1) if backwards else range(T)):
        new = np.tanh(x[:, t] @ W + h @ U + b)
        if mask is not None:
            new = np.where(mask[:, t:t + 1], new, h)
        h = new
        H[:, t] = h
    return {"h": H}


def _lstm_reference(x, W, U, b, mask=None, backwards=False):
    """Keras' LSTM, gate blocks i, f, c, o: ``c_t = f c_{t-1} + i g``, ``h_t = o tanh(c_t)``.
    States and gates come back indexed by input step."""
    B, T, _ = x.shape
    n = U.shape[0]
    h, c = np.zeros((B, n)), np.zeros((B, n))
    out = {k: np.zeros((B, T, n)) for k in ("h", "c", "i", "f", "o")}
    for t in (range(T - 1, -1, -1) if backwards else range(T)):
        z = x[:, t] @ W + h @ U + b
        i, f, g, o = (_sigmoid(z[:, :n]), _sigmoid(z[:, n:2 * n]), np.tanh(z[:, 2 * n:3 * n]),
                      _sigmoid(z[:, 3 * n:]))
        c_new = f * c + i * g
        h_new = o * np.tanh(c_new)
        if mask is not None:
            keep = mask[:, t:t + 1]
            c_new, h_new = np.where(keep, c_new, c), np.where(keep, h_new, h)
        h, c = h_new, c_new
        for key, value in (("h", h), ("c", c), ("i", i), ("f", f), ("o", o)):
            out[key][:, t] = value
    return out


REFERENCES = {"SimpleRNN": _rnn_reference, "LSTM": _lstm_reference}


def _make_rnn(kind, units, **kwargs):
    return SimpleRNN(units, **kwargs) if kind == "SimpleRNN" else LSTM(units, **kwargs)


def _assert_states(states, expected, keys):
    assert set(states) == set(keys)
    for key in keys:
        assert states[key].shape == expected[key].shape, key
        err = np.max(np.abs(states[key] - expected[key]))
        assert err < TOL, f"{key}: largest difference {err:.2e}"


# ---------------------------------------------------------------- get_config / from_config


def _normalised(config):
    return json.loads(json.dumps(config, allow_nan=False))


def test_cnn_config_is_plain_data_and_rebuilds_the_same_model():
    model = _cnn()
    config = model.get_config()
    text = json.dumps(config, allow_nan=False)
    assert [l["type"] for l in config["layers"]] == ["Conv2D", "MaxPool2D", "Conv2D", "AvgPool2D", "Flatten",
                                                      "Dense", "Dense"]
    assert config["input_shape"] == [8, 8, 2]
    assert config["loss"] == "cce" and config["optimizer"] == "adam" and config["dtype"] == "float64"
    assert config["optimizer_params"] == {"beta1": 0.8, "beta2": 0.999, "eps": 1e-8}
    assert config["layers"][0]["config"]["filters"] == 4
    assert config["seed"] == 1
    again = Sequential.from_config(config)
    assert type(again) is Sequential
    assert again.get_config() == config
    assert again.n_params == model.n_params
    from_text = Sequential.from_config(json.loads(text))
    assert _normalised(from_text.get_config()) == _normalised(config)
    assert from_text.output_shape == (3,)


def test_text_model_config_rebuilds_the_same_model():
    model = _text_model()
    config = model.get_config()
    json.dumps(config, allow_nan=False)
    bi = config["layers"][1]
    assert bi["type"] == "Bidirectional"
    assert bi["config"]["layer"]["type"] == "LSTM" and bi["config"]["layer"]["config"]["units"] == 3
    assert config["layers"][0]["config"]["mask_zero"] is True
    again = Sequential.from_config(json.loads(json.dumps(config)))
    assert _normalised(again.get_config()) == _normalised(config)
    assert again.get_config() == config
    # 2 directions x (4 * 3 * (4 + 3) + 4 * 3) for the LSTM, 20 * 4 for the table, 6 * 2 + 2 for Dense.
    assert again.n_params == 2 * (4 * 3 * (4 + 3) + 4 * 3) + 20 * 4 + 6 * 2 + 2


def test_ffnn_config_is_a_layer_list_but_its_file_keeps_layer_sizes(tmp_path):
    model = FFNN([3, 5, 2], ["relu", "sigmoid"], loss="bce", init="he", optimizer="adam")
    config = model.get_config()
    json.dumps(config, allow_nan=False)
    assert "layer_sizes" not in config
    assert [(l["type"], l["config"]["units"], l["config"]["activation"]) for l in config["layers"]] == \
        [("Dense", 5, "relu"), ("Dense", 2, "sigmoid")]
    assert config["input_shape"] == [3] and config["loss"] == "bce"
    again = Sequential.from_config(config)
    assert type(again) is Sequential
    assert again.get_config() == config
    assert again.n_params == 3 * 5 + 5 + 5 * 2 + 2

    path = tmp_path / "ffnn.npz"
    model.save(path)
    with np.load(path) as data:
        meta = json.loads(data["meta"].tobytes().decode("utf-8"))
    assert meta["class"] == "FFNN"
    assert meta["model"]["layer_sizes"] == [3, 5, 2] and "layers" not in meta["model"]
    loaded = Sequential.load(path)
    assert type(loaded) is FFNN and loaded.layer_sizes == [3, 5, 2]
    assert loaded.get_config() == config


def test_from_config_of_a_hand_written_config():
    config = {"input_shape": [6, 6, 1],
              "layers": [{"type": "Conv2D", "config": {"filters": 2, "kernel_size": [3, 3], "activation": "relu"}},
                         {"type": "Flatten", "config": {}},
                         {"type": "Dense", "config": {"units": 4}}]}
    model = Sequential.from_config(config)
    assert [l.output_shape for l in model.layers] == [(4, 4, 2), (32,), (4,)]
    assert model.n_params == 3 * 3 * 1 * 2 + 2 + 32 * 4 + 4
    assert model.loss == "mse" and model.optimizer_name == "sgd" and model.dtype == np.float32


@pytest.mark.parametrize("config", [None, [], "layers", 3, (("layers", []),)])
def test_from_config_refuses_what_is_not_a_dict(config):
    with pytest.raises(ValueError, match="dict"):
        Sequential.from_config(config)


def test_from_config_names_what_is_missing():
    with pytest.raises(ValueError, match="layers"):
        Sequential.from_config({"input_shape": [3]})
    with pytest.raises(ValueError, match="input_shape"):
        Sequential.from_config({"layers": [{"type": "Dense", "config": {"units": 2}}]})


def test_from_config_refuses_an_unknown_layer_type():
    with pytest.raises(ValueError, match="NoSuchLayer"):
        Sequential.from_config({"input_shape": [3], "layers": [{"type": "NoSuchLayer", "config": {}}]})


# ---------------------------------------------------------------- metadata in saved files


METADATA = {"dataset": {"name": "moons", "noise": 0.2, "classes": ["a", "b"], "split": [0.7, 0.15, 0.15]},
            "preprocessing": [{"step": "standardise", "mean": [0.5, -1.25], "std": [1.0, 2.0]}],
            "vocabulary": {"<pad>": 0, "<unk>": 1, "baik": 2}, "flag": True, "nothing": None, "count": 3,
            "note": "ünïcödé ✓"}


def test_metadata_round_trip(tmp_path):
    model = _cnn(dtype="float32")
    path = tmp_path / "m.npz"
    model.save(path, metadata=METADATA)
    loaded = Sequential.load(path)
    assert loaded.metadata == METADATA
    assert loaded.metadata is not METADATA


def test_metadata_round_trip_through_a_file_object():
    model = _text_model()
    buffer = io.BytesIO()
    model.save(buffer, metadata=METADATA)
    buffer.seek(0)
    assert Sequential.load(buffer).metadata == METADATA


def test_a_loaded_models_metadata_is_kept_on_the_next_save(tmp_path):
    model = FFNN([2, 3, 1])
    model.save(tmp_path / "a.npz", metadata={"run": 1})
    loaded = Sequential.load(tmp_path / "a.npz")
    loaded.save(tmp_path / "b.npz")
    assert Sequential.load(tmp_path / "b.npz").metadata == {"run": 1}


def test_a_new_model_has_empty_metadata(tmp_path):
    model = FFNN([2, 3, 1])
    assert model.metadata == {}
    model.save(tmp_path / "m.npz")
    assert Sequential.load(tmp_path / "m.npz").metadata == {}


@pytest.mark.parametrize("bad", [{"x": np.arange(3)}, {"x": float("nan")}, {"x": {"y": [1.0, math.inf]}},
                                 {"x": np.int64(3)}, {"x": {1, 2}}, {"x": object()}])
def test_metadata_that_is_not_json_raises_before_writing(tmp_path, bad):
    model = FFNN([2, 3, 1])
    path = tmp_path / "m.npz"
    with pytest.raises(ValueError, match="metadata"):
        model.save(path, metadata=bad)
    assert not path.exists()
    buffer = io.BytesIO()
    with pytest.raises(ValueError, match="metadata"):
        model.save(buffer, metadata=bad)
    assert buffer.getvalue() == b""


def _rewrite_meta(path, change):
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(arrays["meta"].tobytes().decode("utf-8"))
    change(meta)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def test_a_file_without_metadata_loads_with_an_empty_dict(tmp_path):
    path = tmp_path / "old.npz"
    _text_model().save(path, metadata={"will": "go"})
    _rewrite_meta(path, lambda meta: meta.pop("metadata"))
    with np.load(path) as data:
        assert "metadata" not in json.loads(data["meta"].tobytes().decode("utf-8"))
    assert Sequential.load(path).metadata == {}


def test_a_file_with_null_metadata_loads_with_an_empty_dict(tmp_path):
    path = tmp_path / "null.npz"
    FFNN([2, 3, 1]).save(path, metadata={"will": "go"})
    _rewrite_meta(path, lambda meta: meta.update(metadata=None))
    assert Sequential.load(path).metadata == {}


@pytest.mark.parametrize("bad", [[1, 2], "text", 3, [], "", 0, False])
def test_metadata_that_is_not_a_dict_in_a_file_is_refused(tmp_path, bad):
    path = tmp_path / "hand.npz"
    FFNN([2, 3, 1]).save(path)

    def change(meta):
        meta["metadata"] = bad

    _rewrite_meta(path, change)
    with pytest.raises(ModelFileError, match="metadata"):
        Sequential.load(path)


# ---------------------------------------------------------------- layer_outputs


def test_layer_outputs_equal_a_forward_pass_written_out():
    model = _cnn()
    rng = np.random.default_rng(5)
    for layer in model.layers:
        _randomize(layer, rng, 0.4)
    X = rng.normal(size=(3, 8, 8, 2))
    outputs = model.layer_outputs(X)
    assert len(outputs) == len(model.layers)

    x = X
    for k, layer in enumerate(model.layers):
        x = layer.forward(x, training=False)
        np.testing.assert_allclose(outputs[k], x, rtol=0, atol=TOL)

    conv1, _, conv2, _, _, dense1, dense2 = model.layers
    a1 = np.maximum(_conv_valid(X, conv1.W, conv1.b), 0)
    p1 = _pool(a1, 2, 2, np.max)
    a2 = np.tanh(_conv_valid(np.pad(p1, ((0, 0), (0, 1), (0, 1), (0, 0))), conv2.W, conv2.b))  # "same", 2x2
    p2 = _pool(a2, 2, 1, np.mean)
    f = p2.reshape(3, -1)
    d1 = np.maximum(f @ dense1.W + dense1.b, 0)
    d2 = _softmax(d1 @ dense2.W + dense2.b)
    for k, expected in enumerate([a1, p1, a2, p2, f, d1, d2]):
        assert outputs[k].shape == expected.shape, k
        np.testing.assert_allclose(outputs[k], expected, rtol=0, atol=TOL, err_msg=f"layer {k}")


def test_layer_outputs_are_in_inference_mode():
    model = Sequential([Dense(6, activation="relu"), Dropout(0.5, seed=0), Dense(2)], (4,), dtype="float64",
                       seed=3)
    X = np.random.default_rng(0).normal(size=(50, 4))
    outputs = model.layer_outputs(X)
    np.testing.assert_array_equal(outputs[1], outputs[0])
    assert np.count_nonzero(outputs[0]) > 0
    dense = model.layers[2]
    np.testing.assert_allclose(outputs[2], outputs[0] @ dense.W + dense.b, rtol=0, atol=TOL)
    trained = model.forward(X, training=True)                 # training mode does drop values
    assert not np.allclose(trained, outputs[2])


def test_layer_outputs_are_copies():
    model = Sequential([Conv2D(3, 3, activation="relu"), Flatten(), Dropout(0.3), Dense(4)], (6, 6, 2),
                       dtype="float64", seed=1)
    X = np.random.default_rng(1).normal(size=(2, 6, 6, 2))
    first = model.layer_outputs(X)
    for a in range(len(first)):                               # Flatten and Dropout could hand back their input
        for b in range(a + 1, len(first)):
            assert not np.shares_memory(first[a], first[b]), (a, b)
    kept = [o.copy() for o in first]
    for o in first:
        o[...] = 12345.0
    second = model.layer_outputs(X)
    for a, b in zip(second, kept):
        np.testing.assert_array_equal(a, b)
    assert all(not np.shares_memory(a, b) for a, b in zip(first, second))


def test_changing_layer_outputs_leaves_the_layers_state_alone():
    model = Sequential([Embedding(10, 3), LSTM(4, return_sequences=True)], (5,), dtype="float64", seed=2)
    ids = np.array([[1, 2, 3, 4, 5], [6, 7, 8, 9, 1]])
    table = np.array(model.layers[0].W)
    outputs = model.layer_outputs(ids)
    lstm = model.layers[1]
    h = lstm.sequence_states()["h"].copy()
    np.testing.assert_allclose(outputs[1], h, rtol=0, atol=TOL)
    for o in outputs:
        o[...] = -7.0
    np.testing.assert_array_equal(lstm.sequence_states()["h"], h)
    np.testing.assert_array_equal(model.layers[0].W, table)


def test_layer_outputs_pass_the_padding_mask_on():
    model = Sequential([Embedding(10, 3, mask_zero=True), LSTM(4, return_sequences=True)], (5,),
                       dtype="float64", seed=4)
    rng = np.random.default_rng(2)
    for layer in model.layers:
        _randomize(layer, rng)
    ids = np.array([[3, 5, 0, 0, 0], [0, 0, 2, 7, 9]])
    emb, seq = model.layer_outputs(ids)
    lstm = model.layers[1]
    np.testing.assert_array_equal(emb, model.layers[0].W[ids])
    expected = _lstm_reference(emb, lstm.W, lstm.U, lstm.b, mask=ids != 0)["h"]
    np.testing.assert_allclose(seq, expected, rtol=0, atol=TOL)


def test_layer_outputs_check_their_input():
    with pytest.raises(ValueError, match="shape"):
        _cnn().layer_outputs(np.zeros((2, 8, 8, 3)))


# ---------------------------------------------------------------- sequence_states


def _rnn_model(kind, units, T, F, seed, **kwargs):
    layer = _make_rnn(kind, units, **kwargs)
    Sequential([layer], (T, F), dtype="float64", seed=seed)
    _randomize(layer, np.random.default_rng(seed + 100))
    return layer


@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM"])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_sequence_states_follow_the_recurrence(kind, go_backwards, return_sequences):
    B, T, F, units = 3, 6, 4, 5
    layer = _rnn_model(kind, units, T, F, 7, go_backwards=go_backwards, return_sequences=return_sequences)
    x = np.random.default_rng(8).normal(size=(B, T, F))
    y = layer.forward(x, training=False)
    states = layer.sequence_states()
    expected = REFERENCES[kind](x, layer.W, layer.U, layer.b, backwards=go_backwards)
    keys = ("h",) if kind == "SimpleRNN" else ("h", "c", "i", "f", "o")
    _assert_states(states, expected, keys)
    if return_sequences:
        # The output runs in processing order (Keras: go_backwards reverses it); the states in input order.
        in_processing_order = expected["h"][:, ::-1] if go_backwards else expected["h"]
        np.testing.assert_allclose(y, in_processing_order, rtol=0, atol=TOL)
    else:
        last = 0 if go_backwards else T - 1                   # the step processed last
        np.testing.assert_allclose(y, states["h"][:, last], rtol=0, atol=TOL)


def test_sequence_states_last_h_is_the_output():
    for kind in ("SimpleRNN", "LSTM"):
        layer = _rnn_model(kind, 4, 5, 3, 9)
        x = np.random.default_rng(1).normal(size=(2, 5, 3))
        y = layer.forward(x, training=False)
        np.testing.assert_array_equal(layer.sequence_states()["h"][:, -1], y)


def test_lstm_gates_lie_between_zero_and_one():
    layer = _rnn_model("LSTM", 4, 5, 3, 10)
    layer.forward(np.random.default_rng(2).normal(0, 3, size=(4, 5, 3)), training=False)
    states = layer.sequence_states()
    for key in ("i", "f", "o"):
        assert ((states[key] > 0) & (states[key] < 1)).all(), key
    assert (np.abs(states["h"]) < 1).all()


@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM"])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_padding_steps_carry_the_previous_state(kind, go_backwards):
    emb = Embedding(12, 3, mask_zero=True)
    rnn = _make_rnn(kind, 4, return_sequences=True, go_backwards=go_backwards)
    model = Sequential([emb, rnn], (6,), dtype="float64", seed=11)
    rng = np.random.default_rng(12)
    _randomize(emb, rng)
    _randomize(rnn, rng)
    ids = np.array([[4, 7, 2, 0, 0, 0],          # padded at the end
                    [0, 0, 5, 9, 1, 3],          # padded at the start
                    [6, 0, 8, 0, 11, 2]])        # holes in the middle
    model.layer_outputs(ids)
    states = rnn.sequence_states()
    mask = ids != 0
    expected = REFERENCES[kind](emb.W[ids], rnn.W, rnn.U, rnn.b, mask=mask, backwards=go_backwards)
    _assert_states({k: states[k] for k in ("h", "c") if k in states}, expected,
                   ("h",) if kind == "SimpleRNN" else ("h", "c"))
    # What the carry means, stated directly: a padding step repeats the state of the step
    # processed before it (zero before any real token).
    step = 1 if go_backwards else -1                          # towards the step processed before
    for n in range(ids.shape[0]):
        for t in range(ids.shape[1]):
            if mask[n, t]:
                continue
            prev = t + step
            before = states["h"][n, prev] if 0 <= prev < ids.shape[1] else np.zeros(4)
            np.testing.assert_array_equal(states["h"][n, t], before)


def test_bidirectional_states_are_both_directions_in_input_order():
    B, T, F, units = 2, 5, 3, 4
    for kind in ("SimpleRNN", "LSTM"):
        layer = Bidirectional(_make_rnn(kind, units, return_sequences=True))
        Sequential([layer], (T, F), dtype="float64", seed=13)
        rng = np.random.default_rng(14)
        _randomize(layer.forward_layer, rng)
        _randomize(layer.backward_layer, rng)
        x = rng.normal(size=(B, T, F))
        y = layer.forward(x, training=False)
        states = layer.sequence_states()
        ref = REFERENCES[kind]
        fw = ref(x, layer.forward_layer.W, layer.forward_layer.U, layer.forward_layer.b)
        bw = ref(x, layer.backward_layer.W, layer.backward_layer.U, layer.backward_layer.b, backwards=True)
        keys = ("h",) if kind == "SimpleRNN" else ("h", "c", "i", "f", "o")
        expected = {f"forward {k}": fw[k] for k in keys} | {f"backward {k}": bw[k] for k in keys}
        _assert_states(states, expected, list(expected))
        np.testing.assert_allclose(y, np.concatenate([fw["h"], bw["h"]], axis=-1), rtol=0, atol=TOL)


def test_bidirectional_states_in_a_text_model_with_padding():
    model = _text_model()
    rng = np.random.default_rng(15)
    for layer in model.layers:
        _randomize(layer, rng)
    ids = np.array([[3, 8, 1, 0, 0, 0], [0, 0, 0, 4, 19, 2]])
    outputs = model.layer_outputs(ids)
    bi = model.layers[1]
    states = bi.sequence_states()
    x = model.layers[0].W[ids]
    mask = ids != 0
    fw = _lstm_reference(x, bi.forward_layer.W, bi.forward_layer.U, bi.forward_layer.b, mask=mask)
    bw = _lstm_reference(x, bi.backward_layer.W, bi.backward_layer.U, bi.backward_layer.b, mask=mask,
                         backwards=True)
    for k in ("h", "c"):
        np.testing.assert_allclose(states[f"forward {k}"], fw[k], rtol=0, atol=TOL)
        np.testing.assert_allclose(states[f"backward {k}"], bw[k], rtol=0, atol=TOL)
    # Without return_sequences the output is the forward state after the last step and
    # the backward state after the first.
    np.testing.assert_allclose(outputs[1], np.concatenate([fw["h"][:, -1], bw["h"][:, 0]], axis=-1),
                               rtol=0, atol=TOL)


def test_sequence_states_need_a_forward_pass():
    for layer in (SimpleRNN(3), LSTM(3), Bidirectional(LSTM(3))):
        with pytest.raises(ValueError, match="forward"):
            layer.sequence_states()
        Sequential([layer], (4, 2), seed=0)                   # built, but still no forward
        with pytest.raises(ValueError, match="forward"):
            layer.sequence_states()


def test_sequence_states_follow_the_latest_forward():
    layer = _rnn_model("LSTM", 3, 4, 2, 16)
    rng = np.random.default_rng(17)
    layer.forward(rng.normal(size=(2, 4, 2)), training=False)
    x = rng.normal(size=(5, 4, 2))
    layer.forward(x, training=False)
    h = layer.sequence_states()["h"]
    assert h.shape == (5, 4, 3)
    np.testing.assert_allclose(h, _lstm_reference(x, layer.W, layer.U, layer.b)["h"], rtol=0, atol=TOL)


def test_lstm_states_match_pytorch():
    torch = pytest.importorskip("torch")
    B, T, F, units = 3, 7, 4, 5
    layer = _rnn_model("LSTM", units, T, F, 18, return_sequences=True)
    x = np.random.default_rng(19).normal(size=(B, T, F))
    layer.forward(x, training=False)
    states = layer.sequence_states()

    net = torch.nn.LSTM(F, units, batch_first=True).double()
    with torch.no_grad():
        # PyTorch's gate blocks are i, f, g, o: the same order as Keras' i, f, c, o.
        net.weight_ih_l0.copy_(torch.from_numpy(np.ascontiguousarray(layer.W.T)))
        net.weight_hh_l0.copy_(torch.from_numpy(np.ascontiguousarray(layer.U.T)))
        net.bias_ih_l0.copy_(torch.from_numpy(np.array(layer.b)))
        net.bias_hh_l0.zero_()
        out, (h_n, c_n) = net(torch.from_numpy(x))
    np.testing.assert_allclose(states["h"], out.numpy(), rtol=0, atol=TOL)
    np.testing.assert_allclose(states["h"][:, -1], h_n[0].numpy(), rtol=0, atol=TOL)
    np.testing.assert_allclose(states["c"][:, -1], c_n[0].numpy(), rtol=0, atol=TOL)
    # The cell state at every step, from PyTorch one step at a time.
    h = torch.zeros(1, B, units, dtype=torch.float64)
    c = torch.zeros(1, B, units, dtype=torch.float64)
    with torch.no_grad():
        for t in range(T):
            _, (h, c) = net(torch.from_numpy(x[:, t:t + 1]), (h, c))
            np.testing.assert_allclose(states["c"][:, t], c[0].numpy(), rtol=0, atol=TOL)
            np.testing.assert_allclose(states["h"][:, t], h[0].numpy(), rtol=0, atol=TOL)
