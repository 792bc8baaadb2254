"""Tests for engine.conv (convolution, pooling, flatten) and engine.keras_io.

* finite differences: every gradient (input, W, b) of every layer, float64;
* PyTorch: outputs and gradients of the same operations, float64, 1e-9 relative;
* Keras 3 (torch backend): 'same' padding rules, and whole-model predictions
  after loading a .weights.h5 / .keras file;
* training: a small CNN learns scikit-learn's 8x8 digits.
"""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from engine.conv import AvgPool2D, Conv2D, Flatten, GlobalAvgPool2D, GlobalMaxPool2D, MaxPool2D
from engine.keras_io import KerasWeightsError, load_keras_weights, read_keras_weights
from engine.layers import Dense
from engine.model import Sequential

EPS = 1e-6
FD_TOL = 1e-6
TORCH_RTOL = 1e-9


# -- helpers ------------------------------------------------------------------------
def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    scale = np.linalg.norm(a) + np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / scale) if scale > 0 else 0.0


def numeric_grad(f, arr: np.ndarray) -> np.ndarray:
    """Central differences of the scalar ``f()`` with respect to every entry of
    ``arr``, perturbing ``arr`` in place (it may be a parameter view)."""
    g = np.zeros(arr.shape)
    for idx in np.ndindex(arr.shape):
        old = arr[idx]
        arr[idx] = old + EPS
        up = f()
        arr[idx] = old - EPS
        down = f()
        arr[idx] = old
        g[idx] = (up - down) / (2 * EPS)
    return g


def built(layer, input_shape, seed=0):
    layer.build(tuple(input_shape), np.random.default_rng(seed), np.float64)
    return layer


def check_layer_gradients(layer, input_shape, batch=2, seed=0):
    """Loss ``sum(R * layer(x))``: its analytic gradients (input and every
    parameter) against central differences."""
    rng = np.random.default_rng(seed)
    built(layer, input_shape, seed)
    x = rng.normal(size=(batch,) + tuple(input_shape))
    out = layer.forward(x, training=True)
    R = rng.normal(size=out.shape)
    gx = layer.backward(R)
    analytic = {"x": gx, **{n: getattr(layer, "grad_" + n).copy() for n in layer.param_names}}

    def loss():
        return float(np.sum(R * layer.forward(x, training=True)))

    numeric = {"x": numeric_grad(loss, x)}
    for n in layer.param_names:
        numeric[n] = numeric_grad(loss, getattr(layer, n))
    for key in analytic:
        assert analytic[key].shape == numeric[key].shape, key
        assert np.abs(numeric[key]).max() > 0 or key == "b", f"{key}: the numeric gradient is all zero"
        err = rel_error(analytic[key], numeric[key])
        assert err < FD_TOL, f"{type(layer).__name__} gradient wrt {key}: relative error {err:.2e}"
    return out


def check_model_gradients(model, X, Y):
    """Every parameter of a Sequential model (float64) against central differences
    of the model's loss; parameters are perturbed through the public attributes."""
    model.forward(X)
    model.backward(Y)
    analytic = [(i, n, getattr(l, "grad_" + n).copy()) for i, l in enumerate(model.layers) for n in l.param_names]

    def loss():
        model.forward(X)
        return model.backward(Y)

    for i, name, g in analytic:
        num = numeric_grad(loss, getattr(model.layers[i], name))
        err = rel_error(g, num)
        assert err < FD_TOL, f"layer {i} ({type(model.layers[i]).__name__}) grad_{name}: relative error {err:.2e}"


# -- arguments and shapes -------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, message", [
    ({"filters": 0, "kernel_size": 3}, "filters must be a positive integer (got 0)"),
    ({"filters": 2.5, "kernel_size": 3}, "filters must be a positive integer"),
    ({"filters": 4, "kernel_size": 0}, "kernel_size must be a positive integer or a pair of them (got 0)"),
    ({"filters": 4, "kernel_size": (3, 3, 3)}, "kernel_size must be a positive integer or a pair of them"),
    ({"filters": 4, "kernel_size": True}, "kernel_size must be a positive integer or a pair of them (got True)"),
    ({"filters": 4, "kernel_size": 3, "strides": (1, 0)}, "strides must be a positive integer or a pair of them"),
    ({"filters": 4, "kernel_size": 3, "padding": "full"}, "padding must be 'valid' or 'same' (got 'full')"),
    ({"filters": 4, "kernel_size": 3, "activation": "cube"}, "activation must be one of"),
    ({"filters": 4, "kernel_size": 3, "init": "magic"}, "init must be one of"),
])
def test_conv_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Conv2D(**kwargs)


@pytest.mark.parametrize("cls", [MaxPool2D, AvgPool2D])
def test_pool_arguments(cls):
    with pytest.raises(ValueError, match=r"pool_size must be a positive integer or a pair of them \(got -1\)"):
        cls(-1)
    with pytest.raises(ValueError, match=r"strides must be a positive integer or a pair of them \(got 0\)"):
        cls(2, strides=0)
    with pytest.raises(ValueError, match=r"padding must be 'valid' or 'same' \(got 'SAME'\)"):
        cls(2, padding="SAME")


@pytest.mark.parametrize("layer", [Conv2D(2, 3), MaxPool2D(), AvgPool2D(), GlobalMaxPool2D(), GlobalAvgPool2D()])
def test_input_rank_is_checked(layer):
    name = type(layer).__name__
    with pytest.raises(ValueError, match=rf"layers\[0\] \({name}\) cannot take input of shape \(784,\): "
                                         rf"{name} needs an image \(height, width, channels\) per sample; it gets \(784,\)"):
        Sequential([layer, Flatten(), Dense(2)], input_shape=(784,))
    built(layer, (6, 6, 2))
    with pytest.raises(ValueError, match=rf"{name} expects a batch of shape \(batch, height, width, channels\) "
                                         r"\(got an array of shape \(6, 6, 2\)\)"):
        layer.forward(np.zeros((6, 6, 2)))


def test_too_small_input_for_valid_padding():
    with pytest.raises(ValueError, match=r"Conv2D with kernel_size 5x5 and padding 'valid' needs an image of "
                                         r"at least 5x5; it gets 4x8"):
        Sequential([Conv2D(2, 5), Flatten(), Dense(1)], input_shape=(4, 8, 1))
    with pytest.raises(ValueError, match=r"MaxPool2D with pool_size 3x3 .* it gets 2x2"):
        Sequential([MaxPool2D(3), Flatten(), Dense(1)], input_shape=(2, 2, 1))
    # 'same' pads instead.
    m = Sequential([Conv2D(2, 5, padding="same"), MaxPool2D(3, padding="same"), Flatten(), Dense(1)],
                   input_shape=(2, 2, 1))
    assert m.layers[0].output_shape == (2, 2, 2) and m.layers[1].output_shape == (1, 1, 2)


@pytest.mark.parametrize("h, k, s, padding, out, before, after", [
    (8, 3, 1, "valid", 6, 0, 0),
    (8, 3, 2, "valid", 3, 0, 0),
    (8, 3, 1, "same", 8, 1, 1),
    (8, 4, 1, "same", 8, 1, 2),     # odd total: the extra row at the bottom
    (8, 3, 2, "same", 4, 0, 1),     # stride 2: total 1 goes bottom/right
    (7, 3, 2, "same", 4, 1, 1),
    (9, 2, 3, "same", 3, 0, 0),
    (5, 1, 2, "valid", 3, 0, 0),
])
def test_same_and_valid_geometry(h, k, s, padding, out, before, after):
    layer = built(Conv2D(1, (k, 1), strides=(s, 1), padding=padding), (h, 3, 1))
    assert layer.output_shape == (out, 3, 1)
    assert (layer.pad_top, layer.pad_bottom) == (before, after)


def test_output_shapes_and_param_counts():
    m = Sequential([Conv2D(32, 3, padding="same", activation="relu"), MaxPool2D(2),
                    Conv2D(64, (3, 2), strides=2), AvgPool2D(2, strides=1, padding="same"), GlobalMaxPool2D(),
                    Dense(10, activation="softmax")], input_shape=(32, 32, 3), loss="cce")
    assert [l.output_shape for l in m.layers] == [(32, 32, 32), (16, 16, 32), (7, 8, 64), (7, 8, 64), (64,), (10,)]
    assert m.layers[0].n_params == 3 * 3 * 3 * 32 + 32
    assert m.layers[2].n_params == 3 * 2 * 32 * 64 + 64
    assert m.n_params == 896 + 12352 + 650
    assert m.layers[0].describe() == "Conv2D(32, 3x3, same, ReLU)"
    assert m.layers[2].describe() == "Conv2D(64, 3x2, stride 2x2, valid, Linear)"
    assert m.layers[3].describe() == "AvgPool2D(2x2, stride 1x1, same)"
    assert "Conv2D(32, 3x3, same, ReLU)" in m.summary(print_fn=None)


def test_conv_initialisation_is_glorot_uniform_with_receptive_field():
    layer = built(Conv2D(40, (3, 5)), (10, 10, 20))
    limit = np.sqrt(6.0 / (3 * 5 * 20 + 3 * 5 * 40))
    assert layer.W.shape == (3, 5, 20, 40) and layer.b.shape == (40,)
    assert np.abs(layer.W).max() <= limit and np.abs(layer.W).max() > 0.95 * limit
    assert abs(layer.W.std() - limit / np.sqrt(3)) < 0.02 * limit
    assert np.all(layer.b == 0)
    assert layer.W.dtype == np.float64


def test_conv_known_values():
    """A 3x3 image, a 2x2 kernel of ones with bias 1: each output is a window sum plus one."""
    layer = built(Conv2D(1, 2), (3, 3, 1))
    layer.W = np.ones((2, 2, 1, 1))
    layer.b = np.array([1.0])
    x = np.arange(9.0).reshape(1, 3, 3, 1)
    np.testing.assert_array_equal(layer.forward(x)[0, :, :, 0], [[0 + 1 + 3 + 4 + 1, 1 + 2 + 4 + 5 + 1],
                                                                 [3 + 4 + 6 + 7 + 1, 4 + 5 + 7 + 8 + 1]])
    pool = built(MaxPool2D(2, strides=1), (3, 3, 1))
    np.testing.assert_array_equal(pool.forward(x)[0, :, :, 0], [[4, 5], [7, 8]])
    avg = built(AvgPool2D(2, padding="same"), (3, 3, 1))    # windows at the edge average fewer pixels
    np.testing.assert_allclose(avg.forward(x)[0, :, :, 0], [[2, 3.5], [6.5, 8]])
    flat = Flatten()
    np.testing.assert_array_equal(flat.forward(x), np.arange(9.0)[None])


# -- finite differences ------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, input_shape", [
    ({"filters": 3, "kernel_size": 3}, (6, 5, 2)),
    ({"filters": 3, "kernel_size": (2, 3), "padding": "same"}, (5, 6, 2)),
    ({"filters": 2, "kernel_size": (3, 2), "strides": 2}, (7, 6, 3)),
    ({"filters": 2, "kernel_size": (3, 2), "strides": 2, "padding": "same"}, (6, 7, 2)),
    ({"filters": 2, "kernel_size": 4, "strides": (2, 3), "padding": "same", "activation": "tanh"}, (7, 8, 2)),
    ({"filters": 3, "kernel_size": (1, 3), "activation": "sigmoid"}, (4, 5, 2)),
    ({"filters": 2, "kernel_size": 2, "activation": "relu", "use_bias": False}, (4, 4, 2)),
])
def test_conv_gradients_finite_differences(kwargs, input_shape):
    layer = Conv2D(**kwargs)
    check_layer_gradients(layer, input_shape)
    if not layer.use_bias:
        assert np.all(layer.grad_b == 0)


@pytest.mark.parametrize("layer, input_shape", [
    (MaxPool2D(2), (6, 6, 2)),
    (MaxPool2D(3, strides=2), (7, 8, 2)),
    (MaxPool2D((2, 3), strides=1), (5, 6, 2)),
    (MaxPool2D(3, strides=2, padding="same"), (6, 7, 2)),
    (MaxPool2D(2, padding="same"), (5, 5, 1)),
    (AvgPool2D(2), (6, 6, 2)),
    (AvgPool2D(3, strides=2), (7, 8, 2)),
    (AvgPool2D((2, 3), strides=1), (5, 6, 2)),
    (AvgPool2D(3, strides=2, padding="same"), (6, 7, 2)),
    (AvgPool2D(2, strides=(1, 2), padding="same"), (5, 5, 1)),
    (GlobalMaxPool2D(), (4, 5, 3)),
    (GlobalAvgPool2D(), (4, 5, 3)),
    (Flatten(), (3, 4, 2)),
])
def test_pool_and_flatten_gradients_finite_differences(layer, input_shape):
    check_layer_gradients(layer, input_shape)


@pytest.mark.parametrize("layers", [
    lambda: [Conv2D(3, 3, activation="tanh"), Flatten(), Dense(3)],
    lambda: [Conv2D(2, (2, 3), strides=2, padding="same", activation="tanh"),
             Conv2D(3, 2, padding="same", activation="sigmoid"), MaxPool2D(2, strides=1), Flatten(), Dense(3)],
    lambda: [Conv2D(3, 3, padding="same", activation="tanh"), AvgPool2D(3, strides=2, padding="same"),
             Conv2D(2, (1, 2), activation="tanh"), GlobalAvgPool2D(), Dense(3)],
    lambda: [Conv2D(2, 2, activation="tanh"), MaxPool2D(2, padding="same"), Conv2D(3, 2, strides=2, padding="same"),
             GlobalMaxPool2D(), Dense(3)],
])
def test_model_gradients_finite_differences(layers):
    """The chain through every layer's input gradient: the first layer's W only
    gets a correct gradient if every later layer passes the right one back."""
    rng = np.random.default_rng(3)
    m = Sequential(layers(), input_shape=(7, 6, 2), loss="mse", dtype="float64", seed=1)
    X = rng.normal(size=(3, 7, 6, 2))
    Y = rng.normal(size=(3, 3))
    check_model_gradients(m, X, Y)


def test_softmax_cce_model_gradients():
    rng = np.random.default_rng(4)
    m = Sequential([Conv2D(3, 3, padding="same", activation="relu"), MaxPool2D(2), Flatten(),
                    Dense(4, activation="softmax")], input_shape=(6, 6, 1), loss="cce", dtype="float64", seed=2)
    X = rng.normal(size=(4, 6, 6, 1))
    check_model_gradients(m, X, rng.integers(0, 4, 4))


# -- PyTorch parity -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def to_torch(x):
    """NHWC numpy -> NCHW torch leaf tensor that records its gradient."""
    import torch

    return torch.tensor(np.ascontiguousarray(x.transpose(0, 3, 1, 2)), dtype=torch.float64, requires_grad=True)


def nhwc(t):
    return t.detach().numpy().transpose(0, 2, 3, 1)


def tf_pad(layer):
    """F.pad's (left, right, top, bottom) for TensorFlow's 'same' padding."""
    return (layer.pad_left, layer.pad_right, layer.pad_top, layer.pad_bottom)


def assert_close(ours, ref, what):
    ref = np.asarray(ref)
    assert ours.shape == ref.shape, f"{what}: shape {ours.shape} vs {ref.shape}"
    np.testing.assert_allclose(ours, ref, rtol=TORCH_RTOL, atol=TORCH_RTOL * np.abs(ref).max(), err_msg=what)


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("strides", [1, 2, (2, 3)])
@pytest.mark.parametrize("kernel, activation", [(3, "relu"), ((2, 3), "tanh"), ((4, 1), "linear"), (1, "sigmoid")])
def test_conv_matches_torch(torch, padding, strides, kernel, activation):
    TF = torch.nn.functional
    rng = np.random.default_rng(5)
    layer = built(Conv2D(5, kernel, strides=strides, padding=padding, activation=activation), (9, 10, 3))
    layer.b = rng.normal(size=5)
    x = rng.normal(size=(4, 9, 10, 3))
    y = layer.forward(x)
    g = rng.normal(size=y.shape)
    gx = layer.backward(g)

    xt = to_torch(x)
    Wt = torch.tensor(layer.W.transpose(3, 2, 0, 1).copy(), requires_grad=True)    # (out, in, kh, kw)
    bt = torch.tensor(layer.b.copy(), requires_grad=True)
    xin = TF.pad(xt, tf_pad(layer)) if padding == "same" else xt
    act = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "linear": lambda t: t}[activation]
    yt = act(TF.conv2d(xin, Wt, bt, stride=layer.strides))
    yt.backward(torch.tensor(g.transpose(0, 3, 1, 2).copy()))
    assert_close(y, nhwc(yt), "output")
    assert_close(gx, nhwc(xt.grad), "grad x")
    assert_close(layer.grad_W, Wt.grad.numpy().transpose(2, 3, 1, 0), "grad W")
    assert_close(layer.grad_b, bt.grad.numpy(), "grad b")


@pytest.mark.parametrize("pool, strides, padding", [
    (2, None, "valid"), (3, 2, "valid"), ((2, 3), 1, "valid"), ((3, 2), (1, 2), "valid"),
    (2, None, "same"), (3, 2, "same"), (3, 1, "same"), ((2, 3), (2, 1), "same"),
])
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling_matches_torch(torch, kind, pool, strides, padding):
    TF = torch.nn.functional
    rng = np.random.default_rng(6)
    layer = built((MaxPool2D if kind == "max" else AvgPool2D)(pool, strides=strides, padding=padding), (9, 8, 3))
    x = rng.normal(size=(3, 9, 8, 3))
    y = layer.forward(x)
    g = rng.normal(size=y.shape)
    gx = layer.backward(g)

    xt = to_torch(x)
    k, s = layer.pool_size, layer.strides
    if kind == "max":
        xin = TF.pad(xt, tf_pad(layer), value=-np.inf) if padding == "same" else xt
        yt = TF.max_pool2d(xin, k, s)
    elif padding == "same":
        # TensorFlow averages over the real pixels only: window sum / window count.
        sums = TF.avg_pool2d(TF.pad(xt, tf_pad(layer)), k, s, divisor_override=1)
        ones = torch.ones((1, 1) + x.shape[1:3], dtype=torch.float64)
        yt = sums / TF.avg_pool2d(TF.pad(ones, tf_pad(layer)), k, s, divisor_override=1)
    else:
        yt = TF.avg_pool2d(xt, k, s)
    yt.backward(torch.tensor(g.transpose(0, 3, 1, 2).copy()))
    assert_close(y, nhwc(yt), "output")
    assert_close(gx, nhwc(xt.grad), "grad x")


def test_max_pool_ties_go_to_the_first_maximum_like_torch(torch):
    TF = torch.nn.functional
    x = np.zeros((1, 4, 4, 1))
    x[0, 1:3, 1:3, 0] = 1.0        # every 2x2 window (stride 1) overlapping the middle has ties
    layer = built(MaxPool2D(2, strides=1), (4, 4, 1))
    layer.forward(x)
    gx = layer.backward(np.ones((1, 3, 3, 1)))
    xt = to_torch(x)
    TF.max_pool2d(xt, 2, 1).backward(torch.ones((1, 1, 3, 3), dtype=torch.float64))
    np.testing.assert_array_equal(gx, nhwc(xt.grad))


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_global_pooling_matches_torch(torch, kind):
    TF = torch.nn.functional
    rng = np.random.default_rng(7)
    layer = built(GlobalMaxPool2D() if kind == "max" else GlobalAvgPool2D(), (5, 6, 4))
    x = rng.normal(size=(3, 5, 6, 4))
    y = layer.forward(x)
    g = rng.normal(size=y.shape)
    gx = layer.backward(g)
    xt = to_torch(x)
    yt = xt.amax(dim=(2, 3)) if kind == "max" else xt.mean(dim=(2, 3))
    yt.backward(torch.tensor(g))
    assert_close(y, yt.detach().numpy(), "output")
    assert_close(gx, nhwc(xt.grad), "grad x")


# -- Keras parity ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def keras():
    os.environ["KERAS_BACKEND"] = "torch"
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip(f"keras was already imported with the {keras.backend.backend()} backend")
    return keras


def keras_default_cnn(keras):
    L = keras.layers
    return keras.Sequential([keras.Input((32, 32, 3)), L.Conv2D(32, 3, padding="same", activation="relu"),
                             L.MaxPooling2D(2), L.Conv2D(64, 3, padding="same", activation="relu"),
                             L.MaxPooling2D(2), L.Flatten(), L.Dense(64, activation="relu"),
                             L.Dense(10, activation="softmax")])


def engine_default_cnn():
    return Sequential([Conv2D(32, 3, padding="same", activation="relu"), MaxPool2D(2),
                       Conv2D(64, 3, padding="same", activation="relu"), MaxPool2D(2), Flatten(),
                       Dense(64, activation="relu"), Dense(10, activation="softmax")],
                      input_shape=(32, 32, 3), loss="cce", seed=123)


def randomize_keras_weights(model, seed):
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.2, size=w.shape).astype("float32") for w in model.get_weights()])


@pytest.mark.parametrize("suffix", [".weights.h5", ".keras"])
def test_keras_default_cnn_predictions(keras, tmp_path, suffix):
    km = keras_default_cnn(keras)
    randomize_keras_weights(km, 0)      # biases too, so that they are checked
    path = tmp_path / f"m{suffix}"
    km.save_weights(path) if suffix == ".weights.h5" else km.save(path)
    X = np.random.default_rng(1).random((40, 32, 32, 3), dtype=np.float32)
    expected = np.asarray(km.predict(X, verbose=0))

    ours = engine_default_cnn()
    assert load_keras_weights(ours, path) is ours
    np.testing.assert_array_equal(ours.layers[0].W, km.layers[0].get_weights()[0])
    np.testing.assert_array_equal(ours.layers[6].b, km.layers[-1].get_weights()[1])
    P = ours.predict(X)
    assert P.dtype == np.float32
    np.testing.assert_allclose(P, expected, atol=1e-5, rtol=0)
    assert (P.argmax(1) == expected.argmax(1)).all()


def test_keras_layers_with_extra_parameter_free_layers_and_no_bias(keras, tmp_path):
    """A .keras file whose model has layers ours lacks (Dropout) and a Conv2D
    without bias; float64 engine model."""
    L = keras.layers
    km = keras.Sequential([keras.Input((9, 8, 2)), L.Conv2D(4, (3, 2), strides=2, padding="same", use_bias=False),
                           L.Dropout(0.3), L.AveragePooling2D(2),
                           L.Conv2D(3, 2, activation="tanh"), L.GlobalMaxPooling2D(), L.Dense(3)])
    randomize_keras_weights(km, 2)
    km.save(tmp_path / "m.keras")
    ours = Sequential([Conv2D(4, (3, 2), strides=2, padding="same", use_bias=False),
                       AvgPool2D(2), Conv2D(3, 2, activation="tanh"), GlobalMaxPool2D(), Dense(3)],
                      input_shape=(9, 8, 2), dtype="float64")
    load_keras_weights(ours, tmp_path / "m.keras")
    X = np.random.default_rng(3).normal(size=(5, 9, 8, 2)).astype(np.float32)
    np.testing.assert_allclose(ours.predict(X), np.asarray(km.predict(X, verbose=0)), atol=1e-5)


@pytest.mark.parametrize("h, w", [(8, 8), (7, 9)])
@pytest.mark.parametrize("make", [
    lambda L: (L.Conv2D(3, (3, 4), strides=2, padding="same", dtype="float64"),
               Conv2D(3, (3, 4), strides=2, padding="same")),
    lambda L: (L.Conv2D(2, 2, strides=(1, 3), padding="same", dtype="float64"),
               Conv2D(2, 2, strides=(1, 3), padding="same")),
    lambda L: (L.MaxPooling2D(3, strides=2, padding="same", dtype="float64"), MaxPool2D(3, strides=2, padding="same")),
    # Keras' torch backend pads unevenly padded average pooling by replicating the
    # edge (TensorFlow leaves the padding out of the mean; so do we, see
    # test_pooling_matches_torch), so compare only evenly padded windows here.
    lambda L: (L.AveragePooling2D(3, strides=1, padding="same", dtype="float64"),
               AvgPool2D(3, strides=1, padding="same")),
    lambda L: (L.AveragePooling2D((5, 3), strides=1, padding="same", dtype="float64"),
               AvgPool2D((5, 3), strides=1, padding="same")),
])
def test_same_padding_matches_keras(keras, make, h, w):
    """TensorFlow's 'same' rule: extra padding at the bottom/right; average
    pooling leaves the padding out of the mean."""
    klayer, ours = make(keras.layers)
    x = np.random.default_rng(8).normal(size=(2, h, w, 2))
    expected = np.asarray(klayer(x).detach().cpu().numpy())
    built(ours, (h, w, 2))
    if ours.param_names:
        kW, kb = klayer.get_weights()
        ours.W, ours.b = kW, np.random.default_rng(9).normal(size=kb.shape)
        klayer.set_weights([kW, ours.b])
        expected = np.asarray(klayer(x).detach().cpu().numpy())
    np.testing.assert_allclose(ours.forward(x), expected, rtol=1e-12, atol=1e-12)


def test_keras_load_errors_name_layer_and_shapes(keras, tmp_path):
    km = keras_default_cnn(keras)
    km.save_weights(tmp_path / "m.weights.h5")
    km.save(tmp_path / "m.keras")
    wrong = Sequential([Conv2D(32, 3, padding="same", activation="relu"), MaxPool2D(2),
                        Conv2D(64, 5, padding="same", activation="relu"), MaxPool2D(2), Flatten(),
                        Dense(64, activation="relu"), Dense(10, activation="softmax")],
                       input_shape=(32, 32, 3), loss="cce", seed=0)
    before = [np.array(getattr(l, n)) for l in wrong.layers for n in l.param_names]
    for name in ("m.weights.h5", "m.keras"):
        with pytest.raises(KerasWeightsError, match=r"layer 2 \(Conv2D\) does not match Keras layer 'layers/conv2d_1'.*"
                                                    r"expected shapes \[\(5, 5, 32, 64\), \(64,\)\].*"
                                                    r"found \[\(3, 3, 32, 64\), \(64,\)\]"):
            load_keras_weights(wrong, tmp_path / name)
        after = [getattr(l, n) for l in wrong.layers for n in l.param_names]
        assert all(np.array_equal(a, b) for a, b in zip(before, after)), "a failed load must change nothing"

    fewer = Sequential([Conv2D(32, 3, padding="same"), Flatten(), Dense(10)], input_shape=(32, 32, 3))
    with pytest.raises(KerasWeightsError, match=r"holds weights for Keras layers the model does not have: "
                                                r"layers/conv2d_1, layers/dense_1"):
        load_keras_weights(fewer, tmp_path / "m.weights.h5")
    with pytest.raises(KerasWeightsError, match=r"has 4 layers with weights \(Conv2D, Conv2D, Dense, Dense\), "
                                                r"the model has 2 \(Conv2D, Dense\)"):
        load_keras_weights(fewer, tmp_path / "m.keras")
    more = Sequential([Conv2D(32, 3, padding="same"), Conv2D(64, 3, padding="same"), Conv2D(8, 3), Flatten(),
                       Dense(10)], input_shape=(32, 32, 3))
    with pytest.raises(KerasWeightsError, match=r"layer 2 \(Conv2D\) expects Keras weights in group "
                                                r"'layers/conv2d_2', which the file does not have"):
        load_keras_weights(more, tmp_path / "m.weights.h5")

    (tmp_path / "junk.weights.h5").write_bytes(b"not hdf5 at all")
    with pytest.raises(KerasWeightsError, match="is not an HDF5 weights file"):
        load_keras_weights(wrong, tmp_path / "junk.weights.h5")
    with pytest.raises(KerasWeightsError, match="no such file"):
        load_keras_weights(wrong, tmp_path / "missing.keras")


def test_keras_load_without_h5py(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)
    m = Sequential([Conv2D(2, 3), Flatten(), Dense(1)], input_shape=(5, 5, 1))
    (tmp_path / "m.weights.h5").write_bytes(b"")
    with pytest.raises(ImportError, match="needs the h5py package"):
        load_keras_weights(m, tmp_path / "m.weights.h5")


def test_keras_array_order_is_get_weights_order(keras, tmp_path):
    """The documented contract for set_keras_weights: each layer receives its
    arrays in keras_layer.get_weights() order, Bidirectional included (forward
    layer first although HDF5 lists backward_layer first)."""
    L = keras.layers
    km = keras.Sequential([keras.Input((5,)), L.Embedding(10, 4), L.Bidirectional(L.LSTM(3, return_sequences=True)),
                           L.Bidirectional(L.SimpleRNN(2)), L.Dropout(0.1), L.Dense(2)])
    randomize_keras_weights(km, 4)
    km.save_weights(tmp_path / "r.weights.h5")
    km.save(tmp_path / "r.keras")
    for name in ("r.weights.h5", "r.keras"):
        classes = ["Embedding", "Bidirectional", "Bidirectional", "Dropout", "Dense"]
        found = read_keras_weights(tmp_path / name, classes if name.endswith(".h5") else None)
        assert [e.class_name for e in found] == classes
        assert [e.group for e in found] == ["layers/embedding", "layers/bidirectional", "layers/bidirectional_1",
                                            "layers/dropout", "layers/dense"]
        for entry, klayer in zip(found, km.layers):
            expected = klayer.get_weights()
            assert len(entry.arrays) == len(expected)
            for a, b in zip(entry.arrays, expected):
                np.testing.assert_array_equal(a, b)
        assert found[1].paths[0] == "forward_layer/cell/vars/0"
        assert found[1].paths[3] == "backward_layer/cell/vars/0"


# -- saving, and learning -------------------------------------------------------------------------
def test_save_and_load_roundtrip(tmp_path):
    m = Sequential([Conv2D(4, (3, 2), strides=(1, 2), padding="same", activation="elu", init="he"),
                    MaxPool2D(2, strides=1, padding="same"), AvgPool2D((1, 2)), Conv2D(3, 2), GlobalAvgPool2D(),
                    Dense(2, activation="softmax")], input_shape=(6, 8, 2), loss="cce", optimizer="adam", seed=0)
    X = np.random.default_rng(0).normal(size=(10, 6, 8, 2))
    y = np.arange(10) % 2
    m.fit(X, y, epochs=2, batch_size=4, learning_rate=0.01, verbose=0)
    m.save(tmp_path / "m.npz")
    back = Sequential.load(tmp_path / "m.npz")
    assert [l.get_config() for l in back.layers] == [l.get_config() for l in m.layers]
    np.testing.assert_array_equal(back.predict(X), m.predict(X))


def test_small_cnn_learns_digits():
    datasets = pytest.importorskip("sklearn.datasets")
    model_selection = pytest.importorskip("sklearn.model_selection")
    digits = datasets.load_digits()
    X = (digits.images / 16.0).reshape(-1, 8, 8, 1).astype(np.float32)
    X_train, X_test, y_train, y_test = model_selection.train_test_split(
        X, digits.target, test_size=0.2, stratify=digits.target, random_state=0)
    model = Sequential([Conv2D(16, 3, padding="same", activation="relu"), MaxPool2D(2),
                        Conv2D(32, 3, padding="same", activation="relu"), MaxPool2D(2), Flatten(),
                        Dense(10, activation="softmax")],
                       input_shape=(8, 8, 1), loss="cce", optimizer="adam", seed=0)
    history = model.fit(X_train, y_train, batch_size=32, learning_rate=3e-3, epochs=12, verbose=0, seed=0)
    assert history["train_loss"][-1] < history["train_loss"][0] / 5
    accuracy = model.evaluate(X_test, y_test)["accuracy"]
    assert accuracy > 0.95, f"test accuracy {accuracy:.3f}"
