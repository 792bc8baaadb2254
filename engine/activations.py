"""Activation functions and their derivatives, keyed by the names the form uses.

Each entry of ``ACTIVATIONS`` is an :class:`Activation` with

* ``forward(u) -> a``: elementwise (or row-wise, for softmax) on an array of any
  shape whose last axis holds the units;
* ``backward(u, a, grad_a) -> grad_u``: the chain rule through the activation,
  given its input ``u``, its output ``a`` and the gradient of the loss with
  respect to ``a``.

Adding an activation is one pair of functions and one table line.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

LEAKY_SLOPE = 0.01
ELU_ALPHA = 1.0


@dataclass(frozen=True)
class Activation:
    name: str
    forward: Callable[[np.ndarray], np.ndarray]
    backward: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
    label: str


def _linear(u):
    return u


def _linear_grad(u, a, grad_a):
    return grad_a


def _relu(u):
    return np.maximum(u, 0, dtype=u.dtype)


def _relu_grad(u, a, grad_a):
    return grad_a * (u > 0)


def _sigmoid(u):
    # 0.5 * (1 + tanh(u / 2)) equals 1 / (1 + exp(-u)) and never overflows.
    a = np.multiply(u, 0.5, dtype=u.dtype)
    np.tanh(a, out=a)
    a += 1
    a *= 0.5
    return a


def _sigmoid_grad(u, a, grad_a):
    return grad_a * a * (1 - a)


def _tanh(u):
    return np.tanh(u)


def _tanh_grad(u, a, grad_a):
    return grad_a * (1 - a * a)


def _softmax(u):
    a = u - u.max(axis=-1, keepdims=True)
    np.exp(a, out=a)
    a /= a.sum(axis=-1, keepdims=True)
    return a


def _softmax_grad(u, a, grad_a):
    return a * (grad_a - (grad_a * a).sum(axis=-1, keepdims=True))


def _leaky_relu(u):
    return np.where(u > 0, u, LEAKY_SLOPE * u).astype(u.dtype, copy=False)


def _leaky_relu_grad(u, a, grad_a):
    return grad_a * np.where(u > 0, 1.0, LEAKY_SLOPE).astype(u.dtype, copy=False)


def _elu(u):
    return np.where(u > 0, u, ELU_ALPHA * np.expm1(np.minimum(u, 0))).astype(u.dtype, copy=False)


def _elu_grad(u, a, grad_a):
    return grad_a * np.where(u > 0, 1.0, a + ELU_ALPHA).astype(u.dtype, copy=False)


def _swish(u):
    return u * _sigmoid(u)


def _swish_grad(u, a, grad_a):
    s = _sigmoid(u)
    return grad_a * (s * (1 + u * (1 - s)))


_erf = np.frompyfunc(math.erf, 1, 1)


def erf(x: np.ndarray) -> np.ndarray:
    """The error function to double precision (NumPy has none of its own)."""
    return _erf(x).astype(x.dtype, copy=False)


def _gelu(u):
    return 0.5 * u * (1 + erf(u / math.sqrt(2)))


def _gelu_grad(u, a, grad_a):
    cdf = 0.5 * (1 + erf(u / math.sqrt(2)))
    pdf = np.exp(-0.5 * u * u) / math.sqrt(2 * math.pi)
    return grad_a * (cdf + u * pdf)


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("linear", _linear, _linear_grad, "Linear"),
        Activation("relu", _relu, _relu_grad, "ReLU"),
        Activation("sigmoid", _sigmoid, _sigmoid_grad, "Sigmoid"),
        Activation("tanh", _tanh, _tanh_grad, "Tanh"),
        Activation("softmax", _softmax, _softmax_grad, "Softmax"),
        Activation("leaky_relu", _leaky_relu, _leaky_relu_grad, "Leaky ReLU"),
        Activation("elu", _elu, _elu_grad, "ELU"),
        Activation("swish", _swish, _swish_grad, "Swish"),
        Activation("gelu", _gelu, _gelu_grad, "GELU"),
    )
}


def get_activation(name: str, argument: str = "activation") -> Activation:
    """Look an activation up by name; a ValueError names the argument and the choices."""
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(
            f"{argument} must be one of {', '.join(ACTIVATIONS)} (got {name!r})"
        )
    return ACTIVATIONS[name]
