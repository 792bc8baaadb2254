"""The recurrent layers' inner layout (one slab per LSTM gate in their own order,
inputs with a column of ones, work arrays kept between calls) on shapes the other
tests do not reach: PyTorch parity on odd sizes and in float32, results that stay
put across later calls, and masks against the trimmed sequences."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.model import Sequential
from engine.recurrent import LSTM, Bidirectional, SimpleRNN

ODD_SHAPES = [(1, 1, 1, 1), (2, 9, 3, 7), (5, 4, 1, 2), (1, 13, 6, 3), (3, 2, 5, 11)]   # (B, T, F, units)


def _layer(kind, units, T, F, dtype="float64", seed=0, **kwargs):
    layer = (LSTM if kind == "lstm" else SimpleRNN)(units, **kwargs)
    Sequential([layer], input_shape=(T, F), dtype=dtype, seed=seed)
    rng = np.random.default_rng(seed + 50)
    for name in layer.param_names:                 # weights larger than the initialisers give
        setattr(layer, name, rng.normal(0, 0.6, getattr(layer, name).shape))
    return layer


def _torch_net(kind, layer, dtype):
    klass = torch.nn.RNN if kind == "rnn" else torch.nn.LSTM
    net = klass(layer.W.shape[0], layer.units, batch_first=True).to(dtype)
    with torch.no_grad():
        net.weight_ih_l0.copy_(torch.from_numpy(layer.W.T.copy()))
        net.weight_hh_l0.copy_(torch.from_numpy(layer.U.T.copy()))
        net.bias_ih_l0.copy_(torch.from_numpy(layer.b.copy()))
        net.bias_hh_l0.zero_()
    return net


def _rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def _inputs(seed, B, T, F, units, return_sequences, dtype):
    """Seeded inputs (B, T, F) and the gradient flowing in at the outputs."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(B, T, F)).astype(dtype)
    G = rng.normal(size=(B, T, units) if return_sequences else (B, units)).astype(dtype)
    return x, G


def _against_torch(kind, layer, x, G, return_sequences, go_backwards, dtype):
    """Our output, input gradient and parameter gradients next to torch's, as pairs."""
    y = layer.forward(x)
    dx = layer.backward(G)
    net = _torch_net(kind, layer, dtype)
    xin = x[:, ::-1].copy() if go_backwards else x
    xt = torch.tensor(xin, requires_grad=True)
    out, _ = net(xt)
    yt = out if return_sequences else out[:, -1]
    (yt * torch.from_numpy(G)).sum().backward()
    dxt = xt.grad.numpy()
    if go_backwards:
        dxt = dxt[:, ::-1]
    return [("y", y, yt.detach().numpy()), ("dx", dx, dxt),
            ("W", layer.grad_W, net.weight_ih_l0.grad.numpy().T),
            ("U", layer.grad_U, net.weight_hh_l0.grad.numpy().T),
            ("b", layer.grad_b, net.bias_ih_l0.grad.numpy())]


@pytest.mark.parametrize("kind", ["lstm", "rnn"])
@pytest.mark.parametrize("shape", ODD_SHAPES)
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_odd_shapes_match_pytorch(kind, shape, return_sequences, go_backwards):
    B, T, F, units = shape
    layer = _layer(kind, units, T, F, return_sequences=return_sequences, go_backwards=go_backwards, seed=B + T)
    x, G = _inputs(T * 7 + F, B, T, F, units, return_sequences, np.float64)
    for name, ours, theirs in _against_torch(kind, layer, x, G, return_sequences, go_backwards, torch.float64):
        assert ours.shape == theirs.shape, name
        assert _rel(ours, theirs) < 1e-9, name


@pytest.mark.parametrize("kind", ["lstm", "rnn"])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_float32_matches_pytorch(kind, return_sequences):
    B, T, F, units = 6, 30, 5, 17
    layer = _layer(kind, units, T, F, dtype="float32", seed=3, return_sequences=return_sequences)
    for name in layer.param_names:                 # moderate weights: float32 rounding stays small
        setattr(layer, name, getattr(layer, name) * 0.5)
    x, G = _inputs(4, B, T, F, units, return_sequences, np.float32)
    for name, ours, theirs in _against_torch(kind, layer, x, G, return_sequences, False, torch.float32):
        assert ours.dtype == np.float32, name
        assert _rel(ours, theirs) < 2e-4, name


@pytest.mark.parametrize("kind", ["lstm", "rnn"])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_results_stay_put_across_later_calls(kind, return_sequences):
    """Outputs and input gradients are the caller's: later calls, of the same or of
    other batch sizes, leave them alone and give what a fresh layer gives."""
    T, F, units = 5, 3, 4
    layer = _layer(kind, units, T, F, return_sequences=return_sequences, seed=8)
    fresh = _layer(kind, units, T, F, return_sequences=return_sequences, seed=8)
    rng = np.random.default_rng(9)
    out_shape = (T, units) if return_sequences else (units,)
    kept = []
    for B in (4, 4, 2, 7, 4):
        x = rng.normal(size=(B, T, F))
        G = rng.normal(size=(B,) + out_shape)
        y = layer.forward(x)
        dx = layer.backward(G)
        kept.append((y, y.copy(), dx, dx.copy()))
        y_ref = fresh.forward(x)
        dx_ref = fresh.backward(G)
        np.testing.assert_array_equal(y, y_ref)
        np.testing.assert_array_equal(dx, dx_ref)
        for p in layer.param_names:
            np.testing.assert_array_equal(getattr(layer, "grad_" + p), getattr(fresh, "grad_" + p))
        fresh = _layer(kind, units, T, F, return_sequences=return_sequences, seed=8)
    for y, y_copy, dx, dx_copy in kept:
        np.testing.assert_array_equal(y, y_copy)
        np.testing.assert_array_equal(dx, dx_copy)


def test_bidirectional_lstm_outputs_stay_put():
    layer = Bidirectional(LSTM(3, return_sequences=True))
    Sequential([layer], input_shape=(4, 2), dtype="float64", seed=1)
    rng = np.random.default_rng(2)
    first = layer.forward(rng.normal(size=(3, 4, 2)))
    kept = first.copy()
    layer.backward(rng.normal(size=first.shape))
    layer.forward(rng.normal(size=(3, 4, 2)))
    np.testing.assert_array_equal(first, kept)


@pytest.mark.parametrize("kind", ["lstm", "rnn"])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_post_padding_mask_equals_the_trimmed_sequences(kind, return_sequences, go_backwards):
    """With the padding at the end (and no gradient at padded outputs), each sample
    behaves as its real steps run alone: same outputs, input gradients and, summed
    over the samples, the same parameter gradients."""
    T, F, units = 6, 3, 5
    lengths = [6, 1, 3, 4]
    layer = _layer(kind, units, T, F, return_sequences=return_sequences, go_backwards=go_backwards, seed=12)
    rng = np.random.default_rng(13)
    x = rng.normal(size=(len(lengths), T, F))
    mask = np.arange(T)[None, :] < np.array(lengths)[:, None]
    G = rng.normal(size=(len(lengths), T, units) if return_sequences else (len(lengths), units))
    if return_sequences:
        G[~mask] = 0
    layer.mask = mask
    y = layer.forward(x)
    dx = layer.backward(G)
    grads = {p: getattr(layer, "grad_" + p).copy() for p in layer.param_names}
    layer.mask = None

    summed = {p: np.zeros_like(g) for p, g in grads.items()}
    for n, L in enumerate(lengths):
        alone = _layer(kind, units, L, F, return_sequences=return_sequences, go_backwards=go_backwards, seed=12)
        for p in layer.param_names:
            setattr(alone, p, getattr(layer, p))
        ya = alone.forward(x[n:n + 1, :L])
        if return_sequences:
            # In processing order: go_backwards runs the padded steps first, so the
            # real ones are the last L outputs.
            real = slice(T - L, T) if go_backwards else slice(0, L)
            np.testing.assert_allclose(y[n:n + 1, real], ya, rtol=0, atol=1e-12)
            dxa = alone.backward(G[n:n + 1, real])
        else:
            np.testing.assert_allclose(y[n:n + 1], ya, rtol=0, atol=1e-12)
            dxa = alone.backward(G[n:n + 1])
        np.testing.assert_allclose(dx[n:n + 1, :L], dxa, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(dx[n, L:], 0)
        for p in summed:
            summed[p] += getattr(alone, "grad_" + p)
    for p in grads:
        np.testing.assert_allclose(grads[p], summed[p], rtol=0, atol=1e-11)
