"""Parity with PyTorch (CPU, float64) on the same weights: gradients within 1e-9
relative, and 20 optimiser steps (SGD with momentum, Adam) within 1e-6."""
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch==2.13.0 is in requirements-test.txt")
import torch.nn.functional as F  # noqa: E402

from engine import FFNN  # noqa: E402
from helpers import relative_error  # noqa: E402

TORCH_ACT = {
    "linear": lambda z: z, "relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
    "softmax": lambda z: torch.softmax(z, dim=-1), "leaky_relu": lambda z: F.leaky_relu(z, 0.01),
    "elu": F.elu, "swish": F.silu, "gelu": F.gelu,
}


def torch_forward(model, X, rmsnorm):
    """The same network in PyTorch, reading our weights (float64, requires_grad)."""
    params = []
    a = torch.from_numpy(X)
    for i, layer in enumerate(model.layers):
        W = torch.tensor(np.array(layer.W), requires_grad=True)
        b = torch.tensor(np.array(layer.b), requires_grad=True)
        params.append((W, b))
        z = a @ W + b
        if rmsnorm and i < len(model.layers) - 1:
            g = torch.tensor(np.array(layer.g), requires_grad=True)
            params[-1] = (W, b, g)
            z = z / torch.sqrt(torch.mean(z * z, dim=-1, keepdim=True) + 1e-8) * g
        a = TORCH_ACT[layer.activation](z)
    return a, params


def torch_loss(P, Y, loss, params, l1, l2):
    if loss == "mse":
        value = F.mse_loss(P, Y)
    elif loss == "bce":
        value = F.binary_cross_entropy(P, Y)
    else:
        value = -(Y * torch.log(P)).sum(dim=-1).mean()
    for p in params:
        value = value + l1 * p[0].abs().sum() + l2 * (p[0] ** 2).sum()
    return value


CASES = [
    ([5, 7, 6, 3], ["relu", "tanh", "softmax"], "cce", {}),
    ([5, 7, 6, 3], ["leaky_relu", "elu", "softmax"], "cce", {"l1": 0.001, "l2": 0.01}),
    ([5, 8, 2], ["swish", "sigmoid"], "bce", {"l2": 0.003}),
    ([5, 8, 6, 2], ["gelu", "sigmoid", "linear"], "mse", {"rmsnorm": True}),
    ([5, 6, 6, 3], ["tanh", "relu", "softmax"], "cce", {"rmsnorm": True, "l1": 0.002}),
]


@pytest.mark.parametrize("sizes,acts,loss,extra", CASES)
def test_gradients_equal_pytorch(sizes, acts, loss, extra):
    rng = np.random.default_rng(0)
    model = FFNN(sizes, acts, loss=loss, init="he", init_params={"seed": 4}, dtype="float64", **extra)
    X = rng.normal(size=(16, sizes[0]))
    Y = _targets(loss, sizes[-1], rng)
    model.forward(X)
    ours = model.backward(Y)
    P, params = torch_forward(model, X, extra.get("rmsnorm", False))
    ref = torch_loss(P, torch.from_numpy(Y), loss, params, extra.get("l1", 0.0), extra.get("l2", 0.0))
    ref.backward()
    assert abs(ours - ref.item()) <= 1e-12 * max(1.0, abs(ref.item()))
    for layer, p in zip(model.layers, params):
        assert relative_error(layer.grad_W, p[0].grad.numpy()) < 1e-9
        assert relative_error(layer.grad_b, p[1].grad.numpy()) < 1e-9
        if len(p) == 3:
            assert relative_error(layer.grad_g, p[2].grad.numpy()) < 1e-9


def _targets(loss, k, rng):
    if loss == "mse":
        return rng.normal(size=(16, k))
    if loss == "bce":
        return (rng.uniform(size=(16, k)) > 0.5).astype(np.float64)
    return np.eye(k)[rng.integers(0, k, 16)]


@pytest.mark.parametrize("optimizer,params,lr", [
    ("sgd", {"momentum": 0.9}, 0.05),
    ("sgd", {}, 0.1),
    ("adam", {}, 0.01),
    ("adam", {"beta1": 0.8, "beta2": 0.99, "eps": 1e-6}, 0.003),
])
def test_twenty_steps_equal_pytorch(optimizer, params, lr):
    rng = np.random.default_rng(1)
    model = FFNN([4, 10, 3], ["tanh", "softmax"], loss="cce", init="xavier", init_params={"seed": 2},
                 optimizer=optimizer, optimizer_params=params, l2=0.001, dtype="float64")
    X = rng.normal(size=(32, 4))
    Y = np.eye(3)[rng.integers(0, 3, 32)]
    _, tparams = torch_forward(model, X, False)
    flat = [p for group in tparams for p in group]
    if optimizer == "sgd":
        opt = torch.optim.SGD(flat, lr=lr, momentum=params.get("momentum", 0.0))
    else:
        opt = torch.optim.Adam(flat, lr=lr, betas=(params.get("beta1", 0.9), params.get("beta2", 0.999)),
                               eps=params.get("eps", 1e-8))
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
    for step in range(20):
        batch = slice((step % 4) * 8, (step % 4) * 8 + 8)
        model.forward(X[batch])
        model.backward(Y[batch])
        model.step(lr)
        opt.zero_grad()
        a = Xt[batch]
        for i, (W, b) in enumerate(tparams):
            z = a @ W + b
            a = torch.tanh(z) if i == 0 else torch.softmax(z, dim=-1)
        torch_loss(a, Yt[batch], "cce", tparams, 0.0, 0.001).backward()
        opt.step()
    for layer, (W, b) in zip(model.layers, tparams):
        np.testing.assert_allclose(layer.W, W.detach().numpy(), rtol=0, atol=1e-6)
        np.testing.assert_allclose(layer.b, b.detach().numpy(), rtol=0, atol=1e-6)
    # The weights moved: the comparison is not of two untouched copies.
    assert np.abs(model.layers[0].W - _initial_w()).max() > 1e-3


def _initial_w():
    return FFNN([4, 10, 3], ["tanh", "softmax"], loss="cce", init="xavier", init_params={"seed": 2},
                dtype="float64").layers[0].W
