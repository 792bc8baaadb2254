"""Tests for engine.recurrent and engine.text: finite differences, PyTorch and
Keras parity, masks, errors, and a model that learns NusaX-Sentiment."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from engine.layers import Dense
from engine.model import Sequential
from engine.recurrent import LSTM, Bidirectional, Dropout, Embedding, SimpleRNN
from engine.text import NUSAX_LABELS, TextVectorizer, load_nusax, read_nusax_csv, tokenize

NUSAX = Path(__file__).resolve().parents[2] / "shared" / "data" / "nusax_sentiment_id"


# ---------------------------------------------------------------- helpers


def _loss(model, X, Y):
    for layer in model.layers:
        if isinstance(layer, Dropout):
            layer.reseed()                      # the same dropout mask on every pass
    model.forward(X, training=True)
    return model.backward(Y)


def assert_gradients_match(model, X, Y, eps=1e-6, per_param=25, seed=0):
    """Central differences on (a sample of) every parameter entry, perturbed
    through the layers' public attributes, against the analytic gradients."""
    rng = np.random.default_rng(seed)
    _loss(model, X, Y)
    analytic = {(i, n): getattr(layer, "grad_" + n).copy()
                for i, layer in enumerate(model.layers) for n in layer.param_names}
    assert analytic, "the model has no parameters"
    for (i, name), grad in analytic.items():
        value = getattr(model.layers[i], name)
        flat = [np.unravel_index(k, value.shape) for k in
                rng.choice(value.size, size=min(per_param, value.size), replace=False)]
        num, ana = [], []
        for idx in flat:
            old = value[idx]
            value[idx] = old + eps
            up = _loss(model, X, Y)
            value[idx] = old - eps
            down = _loss(model, X, Y)
            value[idx] = old
            num.append((up - down) / (2 * eps))
            ana.append(grad[idx])
        num, ana = np.array(num), np.array(ana)
        rel = np.linalg.norm(num - ana) / max(np.linalg.norm(num) + np.linalg.norm(ana), 1e-12)
        assert rel < 1e-6, f"layer {i} {name}: relative error {rel:.2e}\nnumeric {num}\nanalytic {ana}"
        assert np.linalg.norm(ana) > 0 or name == "b", f"layer {i} {name}: gradient is all zero"


def _randomize(model, rng, scale=0.5):
    """Larger random weights than the initialisers give, so that every
    gradient is far above the finite-difference noise."""
    for layer in model.layers:
        for name in layer.param_names:
            setattr(layer, name, rng.normal(0, scale, getattr(layer, name).shape))


def _ids(rng, n, steps, vocab, pad_from=None):
    """Random token ids in 1..vocab-1, with post-padding (id 0) from ``pad_from[r]`` on."""
    X = rng.integers(1, vocab, size=(n, steps))
    if pad_from is not None:
        for r, p in enumerate(pad_from):
            X[r, p:] = 0
    return X


def _rnn(kind, units, **kw):
    return SimpleRNN(units, **kw) if kind == "rnn" else LSTM(units, **kw)


# ---------------------------------------------------------------- finite differences


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_recurrent_gradients_by_finite_differences(kind, return_sequences, go_backwards):
    # Dense below the RNN: its grad_W depends on the RNN's input gradient too.
    rng = np.random.default_rng(1)
    model = Sequential([Dense(4, activation="tanh"), _rnn(kind, 5, return_sequences=return_sequences,
                                                          go_backwards=go_backwards),
                        Dense(2)], input_shape=(6, 3), loss="mse", dtype="float64", seed=2)
    model.layers[1].b = rng.normal(0, 0.3, model.layers[1].b.shape)
    X = rng.normal(size=(4, 6, 3))
    Y = rng.normal(size=(4,) + model.output_shape)
    assert_gradients_match(model, X, Y)


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_embedding_rnn_gradients_with_mask(kind, return_sequences):
    rng = np.random.default_rng(3)
    model = Sequential([Embedding(9, 4, mask_zero=True), _rnn(kind, 5, return_sequences=return_sequences),
                        Dense(3, activation="softmax")], input_shape=(7,), loss="cce", dtype="float64", seed=4)
    X = _ids(rng, 5, 7, 9, pad_from=[7, 4, 2, 6, 1])
    X[0, 3] = 0                                           # a masked step in the middle too
    Y = rng.integers(0, 3, size=(5,) + model.output_shape[:-1])
    assert_gradients_match(model, X, Y)
    # Padding rows of the embedding get no gradient from masked steps alone: id 0
    # only appears at masked steps, and a masked step's vector is never read.
    assert np.all(model.layers[0].grad_W[0] == 0)


def test_embedding_gradient_accumulates_repeated_ids():
    emb = Embedding(5, 2)
    Sequential([emb], input_shape=(4,), dtype="float64")
    emb.forward(np.array([[1, 3, 1, 1], [0, 3, 4, 1]], dtype=np.float64))
    g = np.arange(16, dtype=np.float64).reshape(2, 4, 2)
    emb.backward(g)
    expected = np.zeros((5, 2))
    expected[0] = g[1, 0]
    expected[1] = g[0, 0] + g[0, 2] + g[0, 3] + g[1, 3]
    expected[3] = g[0, 1] + g[1, 1]
    expected[4] = g[1, 2]
    np.testing.assert_array_equal(emb.grad_W, expected)


@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("merge_mode", ["concat", "sum", "ave", "mul"])
def test_bidirectional_gradients(return_sequences, merge_mode):
    rng = np.random.default_rng(5)
    layers = [Embedding(8, 3, mask_zero=True),
              Bidirectional(LSTM(4, return_sequences=return_sequences), merge_mode=merge_mode)]
    if return_sequences:
        layers.append(Bidirectional(SimpleRNN(3)))
    layers.append(Dense(2))
    model = Sequential(layers, input_shape=(6,), loss="mse", dtype="float64", seed=6)
    _randomize(model, rng)
    X = _ids(rng, 4, 6, 8, pad_from=[6, 3, 5, 2])
    Y = rng.normal(size=(4, 2))
    assert_gradients_match(model, X, Y)


def test_dropout_gradients_with_a_fixed_mask():
    rng = np.random.default_rng(7)
    model = Sequential([Embedding(10, 4), Dropout(0.5, seed=11), LSTM(5, return_sequences=True),
                        Dropout(0.3, seed=12), LSTM(3), Dense(2, activation="softmax")],
                       input_shape=(5,), loss="cce", dtype="float64", seed=8)
    X = _ids(rng, 4, 5, 10)
    Y = rng.integers(0, 2, size=4)
    assert_gradients_match(model, X, Y)


# ---------------------------------------------------------------- layer behaviour


def test_bidirectional_params_are_the_inner_layers_and_live_in_the_flat_buffer():
    bi = Bidirectional(LSTM(4))
    model = Sequential([bi, Dense(1)], input_shape=(3, 2), dtype="float64", seed=0)
    assert bi.param_names == ("forward_W", "forward_U", "forward_b", "backward_W", "backward_U", "backward_b")
    assert bi.regularized == ("forward_W", "forward_U", "backward_W", "backward_U")
    assert bi.forward_layer.W is bi.forward_W and bi.backward_layer.grad_U is bi.grad_backward_U
    assert not bi.forward_layer.go_backwards and bi.backward_layer.go_backwards
    for name in bi.param_names:
        assert np.shares_memory(getattr(bi, name), model._flat_params)
        assert np.shares_memory(getattr(bi, "grad_" + name), model._flat_grads)
    assert not np.allclose(bi.forward_W, bi.backward_W)       # independently initialised
    bi.forward_b = np.arange(16.0)                             # assignment copies into the view
    np.testing.assert_array_equal(bi.forward_layer.b, np.arange(16.0))
    assert bi.n_params == 2 * (2 * 16 + 4 * 16 + 16)
    assert model.output_shape == (1,)
    assert Bidirectional(LSTM(4, return_sequences=True)).compute_output_shape((3, 2)) == (3, 8)


def test_lstm_initialisation_follows_keras():
    lstm = LSTM(6)
    Sequential([lstm], input_shape=(4, 3), dtype="float64", seed=0)
    np.testing.assert_array_equal(lstm.b, np.r_[np.zeros(6), np.ones(6), np.zeros(12)])
    assert lstm.W.shape == (3, 24) and lstm.U.shape == (6, 24)
    np.testing.assert_allclose(lstm.U @ lstm.U.T, np.eye(6), atol=1e-12)     # orthogonal rows
    assert np.abs(lstm.W).max() <= np.sqrt(6 / (3 + 24))
    emb = Embedding(50, 8)
    Sequential([emb], input_shape=(2,), seed=0)
    assert np.abs(emb.W).max() <= 0.05 and np.abs(emb.W).max() > 0.04


def test_masked_steps_carry_the_state_forward():
    rng = np.random.default_rng(0)
    emb, rnn = Embedding(6, 3, mask_zero=True), LSTM(4, return_sequences=True)
    model = Sequential([emb, rnn], input_shape=(5,), dtype="float64", seed=1)
    X = np.array([[1, 2, 0, 3, 0], [4, 5, 1, 0, 0]])
    Y = model.predict(X)
    np.testing.assert_array_equal(Y[0, 2], Y[0, 1])
    np.testing.assert_array_equal(Y[0, 4], Y[0, 3])
    np.testing.assert_array_equal(Y[1, 3], Y[1, 2])
    np.testing.assert_array_equal(Y[1, 4], Y[1, 2])
    # The unmasked steps equal a run over the sequence without the padding.
    short = Sequential([Embedding(6, 3), LSTM(4, return_sequences=True)], input_shape=(3,), dtype="float64")
    short.layers[0].W, short.layers[1].W, short.layers[1].U, short.layers[1].b = emb.W, rnn.W, rnn.U, rnn.b
    np.testing.assert_allclose(short.predict(np.array([[1, 2, 3]]))[0], Y[0, [0, 1, 3]], rtol=1e-12)
    # A sequence-reducing RNN drops the mask; return_sequences keeps it.
    assert rnn.output_mask(emb.output_mask(None)) is not None
    assert LSTM(2).output_mask(np.ones((1, 2), bool)) is None


def test_dropout_masks_scale_and_inference():
    x = np.ones((200, 50))
    d = Dropout(0.25, seed=3)
    Sequential([d], input_shape=(50,), dtype="float64")
    y = d.forward(x, training=True)
    assert set(np.unique(y)) == {0.0, 1 / 0.75}
    assert abs((y == 0).mean() - 0.25) < 0.02
    np.testing.assert_array_equal(d.backward(np.full_like(x, 2.0)), 2 * y)
    np.testing.assert_array_equal(d.forward(x, training=False), x)
    d2 = Dropout(0.25, seed=3)
    Sequential([d2], input_shape=(50,), dtype="float64")
    np.testing.assert_array_equal(d2.forward(x, training=True), y)
    assert not np.array_equal(d.forward(x, training=True), y)        # a new mask per pass
    d.reseed()
    np.testing.assert_array_equal(d.forward(x, training=True), y)


def test_embedding_rejects_bad_ids():
    model = Sequential([Embedding(5, 2)], input_shape=(3,), dtype="float64")
    with pytest.raises(ValueError, match=r"\[0, 5\)"):
        model.predict(np.array([[1, 5, 2]]))
    with pytest.raises(ValueError, match=r"\[0, 5\)"):
        model.predict(np.array([[1, -1, 2]]))
    with pytest.raises(ValueError, match="whole-number"):
        model.predict(np.array([[1, 1.5, 2]]))
    np.testing.assert_array_equal(model.predict(np.array([[4, 0, 1]]))[0], model.layers[0].W[[4, 0, 1]])


@pytest.mark.parametrize("make, match", [
    (lambda: LSTM(0), "units must be a positive integer"),
    (lambda: SimpleRNN(3.5), "units must be a positive integer"),
    (lambda: LSTM(3, return_sequences="yes"), "return_sequences must be True or False"),
    (lambda: LSTM(3, go_backwards=1), "go_backwards must be True or False"),
    (lambda: SimpleRNN(3, activation="cube"), "activation must be one of"),
    (lambda: LSTM(3, init="glorot"), "init must be one of"),
    (lambda: LSTM(3, recurrent_init="glorot"), "recurrent_init must be one of"),
    (lambda: LSTM(3, unit_forget_bias=None), "unit_forget_bias must be True or False"),
    (lambda: Embedding(0, 3), "input_dim must be a positive integer"),
    (lambda: Embedding(10, -1), "output_dim must be a positive integer"),
    (lambda: Embedding(1, 3, mask_zero=True), "input_dim must be at least 2"),
    (lambda: Embedding(10, 3, mask_zero="no"), "mask_zero must be True or False"),
    (lambda: Dropout(1.0), r"rate must be a number in \[0, 1\)"),
    (lambda: Dropout(-0.1), r"rate must be a number in \[0, 1\)"),
    (lambda: Dropout(0.5, seed=-1), "seed must be a non-negative integer"),
    (lambda: Bidirectional(Dense(3)), "layer must be a SimpleRNN or LSTM"),
    (lambda: Bidirectional(LSTM(3), merge_mode="max"), "merge_mode must be one of"),
    (lambda: TextVectorizer(sequence_length=0), "sequence_length must be a positive integer"),
    (lambda: TextVectorizer(max_tokens=2), "max_tokens must be None or an integer of at least 3"),
])
def test_wrong_arguments_raise_value_errors_naming_them(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("layer, shape, match", [
    (lambda: LSTM(3), (5,), r"LSTM needs a sequence \(steps, features\)"),
    (lambda: SimpleRNN(3), (5, 2, 2), r"SimpleRNN needs a sequence \(steps, features\)"),
    (lambda: Bidirectional(LSTM(3)), (5,), r"Bidirectional needs a sequence \(steps, features\)"),
])
def test_input_rank_mismatch_names_layer_and_shape(layer, shape, match):
    with pytest.raises(ValueError, match=match):
        Sequential([layer()], input_shape=shape)
    # Embedding -> LSTM -> LSTM: the second LSTM gets (units,) and says so.
    with pytest.raises(ValueError, match=r"layers\[2\] \(LSTM\).*needs a sequence \(steps, features\)"):
        Sequential([Embedding(5, 2), LSTM(3), LSTM(3)], input_shape=(4,))


def test_save_and_load_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    model = Sequential([Embedding(7, 3, mask_zero=True), Bidirectional(LSTM(4, return_sequences=True)),
                        Dropout(0.2, seed=1), Bidirectional(SimpleRNN(2, activation="relu"), merge_mode="sum"),
                        Dense(3, activation="softmax")], input_shape=(5,), loss="cce", optimizer="adam", seed=0)
    X = _ids(rng, 6, 5, 7, pad_from=[5, 2, 3, 4, 1, 5])
    model.fit(X, rng.integers(0, 3, 6), epochs=2, batch_size=3, verbose=0)
    model.save(tmp_path / "m.npz")
    loaded = Sequential.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert [l.describe() for l in loaded.layers] == [l.describe() for l in model.layers]
    assert loaded.layers[3].describe() == "Bidirectional(SimpleRNN(2, ReLU), sum)"
    json.dumps([l.get_config() for l in model.layers])


# ---------------------------------------------------------------- PyTorch parity


def _rel(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / max(np.max(np.abs(np.asarray(b))), 1e-300))


def _torch_layer(kind, n_in, units, bidirectional, layers):
    """A torch RNN/LSTM with the weights of our layers (Keras layout: W is the
    transposed weight_ih, gate order i, f, c(g), o is torch's; b_hh = 0)."""
    import torch
    klass = torch.nn.RNN if kind == "rnn" else torch.nn.LSTM
    net = klass(n_in, units, batch_first=True, bidirectional=bidirectional).double()
    with torch.no_grad():
        for suffix, layer in zip(("", "_reverse"), layers):
            getattr(net, "weight_ih_l0" + suffix).copy_(torch.from_numpy(layer.W.T.copy()))
            getattr(net, "weight_hh_l0" + suffix).copy_(torch.from_numpy(layer.U.T.copy()))
            getattr(net, "bias_ih_l0" + suffix).copy_(torch.from_numpy(layer.b.copy()))
            getattr(net, "bias_hh_l0" + suffix).zero_()
    return net


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_parity_with_pytorch(kind, return_sequences, bidirectional):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    B, T, F, H = 3, 7, 4, 5
    inner = _rnn(kind, H, return_sequences=return_sequences)
    layer = Bidirectional(inner) if bidirectional else inner
    Sequential([layer], input_shape=(T, F), dtype="float64", seed=3)
    parts = [layer.forward_layer, layer.backward_layer] if bidirectional else [layer]
    for p in parts:
        p.b = rng.normal(0, 0.5, p.b.shape)
    x = rng.normal(size=(B, T, F))
    y = layer.forward(x)
    G = rng.normal(size=y.shape)                     # loss = sum(G * y)
    dx = layer.backward(G)

    net = _torch_layer(kind, F, H, bidirectional, parts)
    xt = torch.tensor(x, requires_grad=True)
    out, _ = net(xt)
    if return_sequences:
        yt = out
    elif bidirectional:
        yt = torch.cat([out[:, -1, :H], out[:, 0, H:]], dim=-1)
    else:
        yt = out[:, -1]
    (yt * torch.from_numpy(G)).sum().backward()

    assert _rel(y, yt.detach().numpy()) < 1e-9
    assert _rel(dx, xt.grad.numpy()) < 1e-9
    for suffix, p in zip(("", "_reverse"), parts):
        assert _rel(p.grad_W, getattr(net, "weight_ih_l0" + suffix).grad.numpy().T) < 1e-9
        assert _rel(p.grad_U, getattr(net, "weight_hh_l0" + suffix).grad.numpy().T) < 1e-9
        assert _rel(p.grad_b, getattr(net, "bias_ih_l0" + suffix).grad.numpy()) < 1e-9


def test_go_backwards_matches_pytorch_on_the_flipped_sequence():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(12)
    layer = LSTM(3, return_sequences=True, go_backwards=True)
    Sequential([layer], input_shape=(6, 2), dtype="float64", seed=0)
    x = rng.normal(size=(2, 6, 2))
    y = layer.forward(x)
    net = _torch_layer("lstm", 2, 3, False, [layer])
    out, _ = net(torch.from_numpy(x[:, ::-1].copy()))
    assert _rel(y, out.detach().numpy()) < 1e-9      # outputs stay in processing order, as Keras


# ---------------------------------------------------------------- Keras parity


def _keras_weight_arrays(path, keras_model):
    """Our reading of a Keras 3 ``.weights.h5``: for each layer with weights, its
    arrays in Keras' order (Bidirectional: forward layer's, then backward's).
    Keras names the groups ``layers/<snake_case class name>[_<k>]`` by position."""
    import re
    import h5py
    out, seen = [], {}
    with h5py.File(path, "r") as f:
        for kl in keras_model.layers:
            base = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", type(kl).__name__)       # keras' to_snake_case
            base = re.sub("([a-z])([A-Z])", r"\1_\2", base).lower()
            k = seen.get(base, 0)
            seen[base] = k + 1
            g = f["layers"][base if k == 0 else f"{base}_{k}"]
            groups = ([g["forward_layer"]["cell"], g["backward_layer"]["cell"]] if "forward_layer" in g
                      else [g["cell"]] if "cell" in g else [g])
            arrays = [np.array(grp["vars"][str(i)]) for grp in groups for i in range(len(grp["vars"]))]
            if arrays:
                out.append(arrays)
    return out


def _load_with_our_reader(model, path, keras_model):
    layers = [layer for layer in model.layers if layer.param_names]
    arrays = _keras_weight_arrays(path, keras_model)
    assert len(arrays) == len(layers)
    for layer, arrs in zip(layers, arrays):
        layer.set_keras_weights(arrs)


def _load_with_keras_io(model, path, keras_model):
    keras_io = pytest.importorskip("engine.keras_io")
    keras_io.load_keras_weights(model, path)


@pytest.mark.parametrize("loader", [_load_with_our_reader, _load_with_keras_io], ids=["h5py", "keras_io"])
@pytest.mark.parametrize("mask_zero", [False, True])
def test_keras_bilstm_text_model_parity(tmp_path, monkeypatch, loader, mask_zero):
    monkeypatch.setenv("KERAS_BACKEND", "torch")          # read when keras is first imported
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("keras was imported earlier with another backend")
    vocab, steps = 30, 9
    km = keras.Sequential([
        keras.Input((steps,), dtype="int32"),
        keras.layers.Embedding(vocab, 16, mask_zero=mask_zero),
        keras.layers.Bidirectional(keras.layers.LSTM(8, return_sequences=True)),
        keras.layers.Dropout(0.5),
        keras.layers.LSTM(8),
        keras.layers.Dense(3, activation="softmax"),
    ])
    rng = np.random.default_rng(0)
    km.set_weights([rng.normal(0, 0.4, w.shape).astype(np.float32) for w in km.get_weights()])
    km.save_weights(tmp_path / "m.weights.h5")
    X = _ids(rng, 6, steps, vocab, pad_from=[9, 5, 3, 8, 1, 9])
    expected = np.asarray(km.predict(X.astype(np.int32), verbose=0))

    ours = Sequential([Embedding(vocab, 16, mask_zero=mask_zero),
                       Bidirectional(LSTM(8, return_sequences=True)), Dropout(0.5),
                       LSTM(8), Dense(3, activation="softmax")], input_shape=(steps,), loss="cce")
    loader(ours, tmp_path / "m.weights.h5", km)
    np.testing.assert_array_equal(ours.layers[1].backward_U, km.layers[1].backward_layer.get_weights()[1])
    got = ours.predict(X)
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    assert np.abs(expected - expected.mean(axis=0)).max() > 1e-3      # the inputs matter


# ---------------------------------------------------------------- text


def test_tokenize_and_vectorizer():
    assert tokenize("Enak banget, harganya MURAH!! kongkow-kongkow 10%") == [
        "enak", "banget", "harganya", "murah", "kongkow", "kongkow", "10"]
    vec = TextVectorizer(sequence_length=4).fit(["b a c a", "a b", "d"])
    assert vec.vocabulary == ["", "[UNK]", "a", "b", "c", "d"]
    np.testing.assert_array_equal(vec.transform(["a zz b", "c c c c c d", ""]),
                                  [[2, 1, 3, 0], [4, 4, 4, 4], [0, 0, 0, 0]])
    small = TextVectorizer(max_tokens=4, sequence_length=3, lowercase=False).fit(["A a a b", "b c b"])
    assert small.vocabulary == ["", "[UNK]", "b", "a"] and small.vocab_size == 4
    np.testing.assert_array_equal(small.transform(["a A c b"]), [[3, 1, 1]])
    again = TextVectorizer.from_dict(json.loads(json.dumps(vec.to_dict())))
    assert again.vocabulary == vec.vocabulary and again.sequence_length == 4
    np.testing.assert_array_equal(again.transform(["d a"]), [[5, 2, 0, 0]])
    assert vec.decode([2, 1, 3, 0]) == "a [UNK] b"
    with pytest.raises(ValueError, match="call fit"):
        TextVectorizer().transform(["a"])
    with pytest.raises(ValueError, match="texts must be a list of strings"):
        vec.fit("just one string")
    with pytest.raises(ValueError, match=r"texts\[1\] must be a string"):
        vec.transform(["a", 3])
    with pytest.raises(ValueError, match="vocabulary must be"):
        TextVectorizer.from_dict({"vocabulary": ["a", "b"]})


def test_read_csv_with_quoted_commas(tmp_path):
    (tmp_path / "train.csv").write_text('id,text,label\n1,"Enak, murah, ramai",positive\n2,biasa saja,neutral\n'
                                        '3,"Dia bilang ""jelek""",negative\n', encoding="utf-8")
    texts, labels = read_nusax_csv(tmp_path / "train.csv")
    assert texts == ["Enak, murah, ramai", "biasa saja", 'Dia bilang "jelek"']
    np.testing.assert_array_equal(labels, [2, 1, 0])
    (tmp_path / "bad.csv").write_text("id,text,label\n1,x,happy\n", encoding="utf-8")
    with pytest.raises(ValueError, match="label must be one of negative, neutral, positive"):
        read_nusax_csv(tmp_path / "bad.csv")


def test_load_nusax_finds_the_folder_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("NUSAX_DIR", raising=False)
    monkeypatch.setenv("BACKPROP_DATA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="NUSAX_DIR"):
        load_nusax()
    folder = tmp_path / "nusax_sentiment_id"
    folder.mkdir()
    for split in ("train", "valid", "test"):
        (folder / f"{split}.csv").write_text(f"id,text,label\n1,{split} text,negative\n", encoding="utf-8")
    assert load_nusax()["valid"][0] == ["valid text"]
    other = tmp_path / "elsewhere"
    other.mkdir()
    for split in ("train", "valid", "test"):
        (other / f"{split}.csv").write_text("id,text,label\n1,x,positive\n", encoding="utf-8")
    monkeypatch.setenv("NUSAX_DIR", str(other))
    assert load_nusax()["train"][1].tolist() == [2]


needs_nusax = pytest.mark.skipif(not (NUSAX / "train.csv").is_file(), reason=f"NusaX data not at {NUSAX}")


@needs_nusax
def test_load_nusax_splits():
    data = load_nusax(NUSAX)
    assert {k: len(v[0]) for k, v in data.items()} == {"train": 500, "valid": 100, "test": 400}
    assert np.bincount(data["train"][1]).tolist() == [192, 119, 189]
    assert np.bincount(data["valid"][1]).tolist() == [38, 24, 38]
    assert NUSAX_LABELS == ("negative", "neutral", "positive")
    assert any("," in t for t in data["test"][0])


@needs_nusax
def test_bilstm_learns_nusax_sentiment():
    from sklearn.metrics import f1_score
    start = time.perf_counter()
    data = load_nusax(NUSAX)
    (train_x, train_y), (test_x, test_y) = data["train"], data["test"]
    vec = TextVectorizer(sequence_length=48).fit(train_x)
    X, Xt = vec.transform(train_x), vec.transform(test_x)
    majority = np.full_like(test_y, np.bincount(train_y).argmax())
    baseline = f1_score(test_y, majority, average="macro")
    assert 0.15 < baseline < 0.2
    model = Sequential([Embedding(vec.vocab_size, 32, mask_zero=True), Bidirectional(LSTM(32)),
                        Dropout(0.3, seed=0), Dense(3, activation="softmax")],
                       input_shape=(48,), loss="cce", optimizer="adam", seed=1)
    history = model.fit(X, train_y, batch_size=32, learning_rate=0.005, epochs=6, verbose=0, seed=1)
    assert history["train_loss"][-1] < 0.3 * history["train_loss"][0]
    f1 = f1_score(test_y, model.predict(Xt).argmax(axis=1), average="macro")
    print(f"NusaX test macro F1: {f1:.3f} (majority baseline {baseline:.3f}), "
          f"{time.perf_counter() - start:.1f} s")
    assert f1 > baseline + 0.35
