"""Every activation with every loss it makes sense with, with L1, L2 and RMSNorm
on and off: backpropagated gradients equal central finite differences (float64)."""
import itertools

import numpy as np
import pytest

from engine import ACTIVATIONS, FFNN
from helpers import analytic_gradients, numeric_gradients, relative_error

# Output activation and loss pairs that make sense together (the fused pairs and the unfused ones).
OUTPUT_LOSS = [("linear", "mse"), ("tanh", "mse"), ("sigmoid", "mse"), ("softmax", "mse"),
               ("sigmoid", "bce"), ("softmax", "bce"), ("softmax", "cce"), ("sigmoid", "cce")]
REGULARISATION = [dict(l1=0.0, l2=0.0, rmsnorm=False), dict(l1=0.01, l2=0.0, rmsnorm=False),
                  dict(l1=0.0, l2=0.02, rmsnorm=False), dict(l1=0.01, l2=0.02, rmsnorm=True),
                  dict(l1=0.0, l2=0.0, rmsnorm=True)]


def _data(loss, n_out, rng):
    X = rng.normal(size=(6, 3))
    if loss == "mse":
        return X, rng.normal(size=(6, n_out))
    if loss == "bce":
        return X, rng.uniform(size=(6, n_out))
    return X, rng.integers(0, n_out, size=6)


@pytest.mark.parametrize("hidden", sorted(ACTIVATIONS))
@pytest.mark.parametrize("output,loss", OUTPUT_LOSS)
def test_gradients_match_finite_differences(hidden, output, loss):
    rng = np.random.default_rng(abs(hash((hidden, output, loss))) % 2**32)
    for reg in REGULARISATION:
        model = FFNN([3, 4, 3], [hidden, output], loss=loss, init="normal",
                     init_params={"variance": 0.5, "seed": 1}, dtype="float64", **reg)
        X, Y = _data(loss, 3, rng)
        analytic = analytic_gradients(model, X, Y)
        numeric = numeric_gradients(model, X, Y)
        for key in analytic:
            err = relative_error(analytic[key], numeric[key])
            assert err < 1e-6, f"{hidden}/{output}/{loss} {reg} layer {key}: relative error {err:.2e}"


def test_gradient_check_catches_a_wrong_derivative(monkeypatch):
    """The check itself can fail: break tanh's derivative and it must notice."""
    from engine import activations
    broken = activations.Activation("tanh", activations._tanh, lambda u, a, g: g * (1 - a), "Tanh")
    monkeypatch.setitem(activations.ACTIVATIONS, "tanh", broken)
    model = FFNN([3, 4, 2], ["tanh", "linear"], loss="mse", init_params={"seed": 0}, dtype="float64")
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    analytic, numeric = analytic_gradients(model, X, Y), numeric_gradients(model, X, Y)
    assert relative_error(analytic[(0, "W")], numeric[(0, "W")]) > 1e-3


def test_deeper_network_with_every_hidden_activation():
    rng = np.random.default_rng(7)
    acts = sorted(a for a in ACTIVATIONS if a != "softmax")
    sizes = [3] + [4] * len(acts) + [3]
    model = FFNN(sizes, acts + ["softmax"], loss="cce", init="normal",
                 init_params={"variance": 0.6, "seed": 3}, l2=0.01, rmsnorm=True, dtype="float64")
    X, y = rng.normal(size=(5, 3)), rng.integers(0, 3, 5)
    # Eight layers make the first gradients small (~1e-5); a wider step keeps
    # the finite difference's rounding error below the tolerance.
    analytic, numeric = analytic_gradients(model, X, y), numeric_gradients(model, X, y, eps=1e-4)
    for key in analytic:
        assert relative_error(analytic[key], numeric[key]) < 1e-6, key


@pytest.mark.parametrize("output,loss", [("softmax", "cce"), ("sigmoid", "bce")])
def test_confident_wrong_predictions_stay_finite(output, loss):
    model = FFNN([2, 2], [output], loss=loss, init="zeros", dtype="float32")
    model.layers[0].W = np.array([[400.0, -400.0], [0.0, 0.0]])
    X = np.array([[1.0, 0.0]])
    Y = np.array([1]) if loss == "cce" else np.array([[0.0, 1.0]])
    model.forward(X)
    value = model.backward(Y)
    assert np.isfinite(value) and value > 100
    assert np.all(np.isfinite(model.layers[0].grad_W))
