"""The special-case paths of engine.conv against the general ones (and PyTorch).

Conv2D and MaxPool2D take shortcuts for common geometries; the general code
stays for the rest. These tests run both on the same inputs, on odd shapes, so
that neither path can drift from the other:

* MaxPool2D with windows that tile the image (pool = strides, sizes divisible,
  no padding) works on a reshaped view; the general path gathers one window
  offset at a time. Ties must go to the first maximum in row-major order either way.
* Conv2D with stride 1 and 'same' padding computes its input gradient as a
  convolution of the output gradient with the turned kernel; otherwise the patch
  gradients are added back (col2im).
* Conv2D processes the batch in pieces of ``CHUNK_BYTES`` of patches: one image
  per piece must give what one piece for the whole batch gives.
* Conv2D with ReLU writes the activation in place in inference mode only.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import engine.conv as conv
from engine.conv import Conv2D, Flatten, MaxPool2D
from engine.layers import Dense
from engine.model import Sequential

TORCH_RTOL = 1e-9


def built(layer, input_shape, seed=0, dtype=np.float64):
    layer.build(tuple(input_shape), np.random.default_rng(seed), dtype)
    return layer


def tie_rich(rng, shape):
    """Small integers, so that most pooling windows hold their maximum more than once;
    with some negative values and exact zeros as after a ReLU."""
    return np.maximum(rng.integers(-2, 3, size=shape), 0).astype(np.float64) + (rng.random(shape) < 0.2) * 0.5


# -- max pooling: tiled path vs general path ------------------------------------------------
@pytest.mark.parametrize("pool, input_shape", [
    (2, (6, 4, 3)),
    (2, (2, 2, 1)),
    ((2, 3), (4, 9, 2)),
    ((3, 1), (6, 5, 4)),
    (3, (9, 6, 1)),
    (1, (3, 4, 2)),
])
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("ties", [False, True])
def test_tiled_max_pool_matches_general_path(pool, input_shape, padding, ties):
    rng = np.random.default_rng(11)
    fast = built(MaxPool2D(pool, padding=padding), input_shape)
    general = built(MaxPool2D(pool, padding=padding), input_shape)
    assert fast._tiled                              # every shape here is tiled by its windows
    general._tiled = False
    x = tie_rich(rng, (3,) + input_shape) if ties else rng.normal(size=(3,) + input_shape)
    y_fast, y_general = fast.forward(x), general.forward(x)
    np.testing.assert_array_equal(y_fast, y_general)
    g = rng.normal(size=y_fast.shape)
    np.testing.assert_array_equal(fast.backward(g), general.backward(g))
    assert fast.backward(g, need_input_grad=False) is None


@pytest.mark.parametrize("pool, strides, padding, input_shape, tiled", [
    (2, None, "valid", (5, 4, 2), False),          # 5 rows: the last one is left out, not tiled
    (2, None, "same", (5, 5, 1), False),           # padded
    (2, 1, "valid", (4, 4, 1), False),             # overlapping windows
    (2, None, "same", (4, 6, 2), True),            # 'same' without any padding is tiled
])
def test_which_pools_are_tiled(pool, strides, padding, input_shape, tiled):
    assert built(MaxPool2D(pool, strides=strides, padding=padding), input_shape)._tiled is tiled


def test_tiled_max_pool_ties_like_torch():
    TF = torch.nn.functional
    rng = np.random.default_rng(12)
    x = tie_rich(rng, (4, 6, 8, 3))
    layer = built(MaxPool2D(2), (6, 8, 3))
    assert layer._tiled
    y = layer.forward(x)
    g = rng.normal(size=y.shape)
    gx = layer.backward(g)
    xt = torch.tensor(x.transpose(0, 3, 1, 2).copy(), requires_grad=True)
    yt = TF.max_pool2d(xt, 2, 2)
    yt.backward(torch.tensor(g.transpose(0, 3, 1, 2).copy()))
    np.testing.assert_array_equal(y, yt.detach().numpy().transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(gx, xt.grad.numpy().transpose(0, 2, 3, 1))


def test_tiled_max_pool_float32_and_non_contiguous_input():
    rng = np.random.default_rng(13)
    base = rng.normal(size=(2, 4, 6, 5)).astype(np.float32)
    x = base[:, :, :, 1:4]                          # not C-contiguous
    fast = built(MaxPool2D(2), (4, 6, 3), dtype=np.float32)
    general = built(MaxPool2D(2), (4, 6, 3), dtype=np.float32)
    general._tiled = False
    y = fast.forward(x)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, general.forward(x))
    g = rng.normal(size=y.shape).astype(np.float32)
    gx = fast.backward(g)
    assert gx.dtype == np.float32
    np.testing.assert_array_equal(gx, general.backward(g))


# -- convolution: input gradient by convolution vs col2im -----------------------------------
def conv_pair(kwargs, input_shape, seed=0):
    a = built(Conv2D(**kwargs), input_shape, seed)
    b = built(Conv2D(**kwargs), input_shape, seed)
    np.testing.assert_array_equal(a.W, b.W)
    b.b = a.b = np.random.default_rng(seed + 1).normal(size=a.b.shape)
    return a, b


@pytest.mark.parametrize("kernel, input_shape", [
    (3, (5, 7, 2)),
    ((2, 3), (4, 4, 1)),           # even kernel height: one more padding row at the bottom
    ((4, 1), (6, 3, 3)),
    (4, (3, 5, 2)),                # kernel larger than the image
    (1, (3, 4, 5)),
])
@pytest.mark.parametrize("activation", ["relu", "tanh", "linear"])
def test_input_gradient_by_convolution_matches_col2im(monkeypatch, kernel, input_shape, activation):
    rng = np.random.default_rng(21)
    fast, general = conv_pair({"filters": 3, "kernel_size": kernel, "padding": "same",
                               "activation": activation}, input_shape)
    assert fast._grad_by_convolution
    x = rng.normal(size=(3,) + input_shape)
    y = fast.forward(x)
    np.testing.assert_array_equal(y, general.forward(x))
    g = rng.normal(size=y.shape)
    gx_fast = fast.backward(g)
    monkeypatch.setattr(Conv2D, "_grad_by_convolution", property(lambda self: False))
    gx_general = general.backward(g)
    assert gx_fast.shape == gx_general.shape == x.shape
    np.testing.assert_allclose(gx_fast, gx_general, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fast.grad_W, general.grad_W, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fast.grad_b, general.grad_b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kwargs, by_convolution", [
    ({"kernel_size": 3, "padding": "same"}, True),
    ({"kernel_size": 3}, False),
    ({"kernel_size": 3, "padding": "same", "strides": 2}, False),
    ({"kernel_size": 2, "padding": "same", "strides": (1, 2)}, False),
])
def test_which_convolutions_take_the_gradient_by_convolution(kwargs, by_convolution):
    assert built(Conv2D(2, **kwargs), (6, 6, 2))._grad_by_convolution is by_convolution


def test_input_gradient_by_convolution_like_torch():
    TF = torch.nn.functional
    rng = np.random.default_rng(22)
    layer = built(Conv2D(4, (4, 3), padding="same", activation="relu"), (7, 6, 3))
    layer.b = rng.normal(size=4)
    x = rng.normal(size=(2, 7, 6, 3))
    y = layer.forward(x)
    g = rng.normal(size=y.shape)
    gx = layer.backward(g)
    xt = torch.tensor(x.transpose(0, 3, 1, 2).copy(), requires_grad=True)
    Wt = torch.tensor(layer.W.transpose(3, 2, 0, 1).copy(), requires_grad=True)
    bt = torch.tensor(layer.b.copy(), requires_grad=True)
    pads = (layer.pad_left, layer.pad_right, layer.pad_top, layer.pad_bottom)
    yt = torch.relu(TF.conv2d(TF.pad(xt, pads), Wt, bt))
    yt.backward(torch.tensor(g.transpose(0, 3, 1, 2).copy()))
    for ours, ref in ((y, yt.detach().numpy().transpose(0, 2, 3, 1)), (gx, xt.grad.numpy().transpose(0, 2, 3, 1)),
                      (layer.grad_W, Wt.grad.numpy().transpose(2, 3, 1, 0)), (layer.grad_b, bt.grad.numpy())):
        np.testing.assert_allclose(ours, ref, rtol=TORCH_RTOL, atol=TORCH_RTOL * np.abs(ref).max())


# -- convolution: pieces of the batch, layouts, inference ------------------------------------
@pytest.mark.parametrize("kwargs", [
    {"kernel_size": 3, "padding": "same", "activation": "relu"},
    {"kernel_size": (2, 3), "strides": (2, 1), "activation": "tanh"},
    {"kernel_size": 3, "padding": "same", "activation": "sigmoid", "use_bias": False},
])
def test_one_image_per_piece_matches_one_piece(monkeypatch, kwargs):
    rng = np.random.default_rng(31)
    whole, pieces = conv_pair({"filters": 3, **kwargs}, (6, 5, 2))
    x = rng.normal(size=(5, 6, 5, 2))
    y = whole.forward(x)
    g = rng.normal(size=y.shape)
    gx = whole.backward(g)
    monkeypatch.setattr(conv, "CHUNK_BYTES", 1)          # every image a piece of its own
    np.testing.assert_allclose(pieces.forward(x), y, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(pieces.backward(g), gx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(pieces.grad_W, whole.grad_W, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(pieces.grad_b, whole.grad_b, rtol=1e-12, atol=1e-12)


def test_conv_input_layouts():
    """A non-contiguous batch, and one with a single channel and image (axes of
    length 1 may carry any stride), give the results of a contiguous copy."""
    rng = np.random.default_rng(32)
    for shape, x in [((5, 4, 3), rng.normal(size=(2, 4, 5, 3)).transpose(0, 2, 1, 3)),
                     ((5, 4, 1), rng.normal(size=(1, 5, 8, 1))[:, :, ::2]),
                     ((5, 4, 1), rng.normal(size=(1, 5, 4, 3))[..., 1:2])]:
        for padding in ("same", "valid"):
            a, b = conv_pair({"filters": 2, "kernel_size": 3, "padding": padding}, shape)
            y = a.forward(x)
            np.testing.assert_array_equal(y, b.forward(np.ascontiguousarray(x)))
            g = rng.normal(size=y.shape)
            np.testing.assert_array_equal(a.backward(g), b.backward(g))
            np.testing.assert_array_equal(a.grad_W, b.grad_W)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_inference_forward_matches_training_forward(activation):
    rng = np.random.default_rng(33)
    layer = built(Conv2D(3, 3, padding="same", activation=activation), (5, 5, 2))
    layer.b = rng.normal(size=3)
    x = rng.normal(size=(4, 5, 5, 2))
    y_train = layer.forward(x, training=True).copy()
    u = layer._u.copy()
    assert (u < 0).any()                                # the pre-activation is kept as it was
    np.testing.assert_array_equal(layer.forward(x, training=False), y_train)
    y = layer.forward(x, training=True)
    np.testing.assert_array_equal(y, y_train)
    np.testing.assert_array_equal(layer._u, u)
    # The output of one forward pass is not changed by the next one.
    y2 = layer.forward(-x, training=False)
    np.testing.assert_array_equal(y, y_train)
    assert not np.array_equal(y2, y_train)


def test_first_layer_computes_no_input_gradient(monkeypatch):
    """The model asks layer 0 for no input gradient; Conv2D then skips that product."""
    rng = np.random.default_rng(34)
    m = Sequential([Conv2D(4, 3, padding="same", activation="relu"), MaxPool2D(2), Flatten(),
                    Dense(3, activation="softmax")], input_shape=(6, 6, 2), loss="cce", seed=3)
    calls = []
    original = Conv2D.backward

    def spy(self, grad, need_input_grad=True, **kwargs):
        out = original(self, grad, need_input_grad=need_input_grad, **kwargs)
        calls.append((need_input_grad, out))
        return out

    monkeypatch.setattr(Conv2D, "backward", spy)
    m.forward(rng.normal(size=(2, 6, 6, 2)))
    m.backward(rng.integers(0, 3, 2))
    assert calls == [(False, None)]


def test_work_arrays_reused_across_batch_sizes():
    """Conv2D keeps its patch buffers from call to call; batches of other sizes
    (smaller, then larger than any before) must not see what earlier ones left."""
    rng = np.random.default_rng(35)
    kwargs = {"filters": 3, "kernel_size": 3, "padding": "same", "activation": "relu"}
    reused = built(Conv2D(**kwargs), (5, 4, 2))
    for batch in (4, 1, 6, 2):
        fresh = built(Conv2D(**kwargs), (5, 4, 2))
        fresh.b = reused.b = rng.normal(size=3)
        x = rng.normal(size=(batch, 5, 4, 2))
        y = reused.forward(x)
        np.testing.assert_array_equal(y, fresh.forward(x))
        g = rng.normal(size=y.shape)
        np.testing.assert_array_equal(reused.backward(g), fresh.backward(g))
        np.testing.assert_array_equal(reused.grad_W, fresh.grad_W)
        np.testing.assert_array_equal(reused.grad_b, fresh.grad_b)


def test_results_are_not_work_arrays():
    """What forward and backward return (and keep for backward) is new memory, so a
    later call leaves earlier results alone (the trace relies on this)."""
    rng = np.random.default_rng(36)
    layer = built(Conv2D(3, 3, padding="same", activation="relu"), (5, 4, 2))
    x = rng.normal(size=(2, 5, 4, 2))
    y = layer.forward(x)
    u = layer._u
    gx = layer.backward(np.ones_like(y))
    kept = y.copy(), u.copy(), gx.copy()
    layer.forward(-2 * x)
    layer.backward(-np.ones_like(y))
    for before, now in zip(kept, (y, u, gx)):
        np.testing.assert_array_equal(before, now)
