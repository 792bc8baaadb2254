"""Loss functions with PyTorch's mean reduction, keyed by name.

Shapes: ``P`` (predictions) and ``Y`` (targets) are both ``(batch, outputs)``.

* ``mse``: mean over all elements of ``(y - p)^2``
* ``bce``: mean over all elements of ``-(y log p + (1 - y) log(1 - p))``
* ``cce``: mean over the batch of ``-sum_k y_k log p_k``

``value``/``grad`` work on probabilities. Where the output activation and the
loss belong together (sigmoid + bce, softmax + cce), ``fused_value`` and
``fused_grad`` work on the activation's input ``u`` instead: the log is taken
of a log-sum-exp, never of a probability that has rounded to 0, so a confident
wrong prediction gives a large finite loss rather than NaN.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

# PyTorch's BCELoss clamps each log at -100; so do we where no fusion applies.
LOG_FLOOR = -100.0


def _rows(P):
    """The number of distributions in P: every axis but the last (the classes)."""
    return P.size // P.shape[-1]


def _safe_log(p):
    with np.errstate(divide="ignore"):
        return np.maximum(np.log(p), LOG_FLOOR)


def _mse(P, Y):
    d = P - Y
    return float(np.mean(d * d))


def _mse_grad(P, Y):
    return (2.0 / P.size) * (P - Y)


def _bce(P, Y):
    return float(-np.mean(Y * _safe_log(P) + (1 - Y) * _safe_log(1 - P)))


def _bce_grad(P, Y):
    eps = np.finfo(P.dtype).tiny
    return (P - Y) / np.maximum(P * (1 - P), eps) / P.size


def _bce_from_logits(U, Y):
    # max(u, 0) - u*y + log(1 + exp(-|u|)) is -(y log s(u) + (1-y) log(1-s(u))).
    return float(np.mean(np.maximum(U, 0) - U * Y + np.log1p(np.exp(-np.abs(U)))))


def _bce_logit_grad(P, Y):
    return (P - Y) / P.size


def _cce(P, Y):
    return float(-np.sum(Y * _safe_log(P)) / _rows(P))


def _cce_grad(P, Y):
    eps = np.finfo(P.dtype).tiny
    return -Y / np.maximum(P, eps) / _rows(P)


def _cce_from_logits(U, Y):
    m = U.max(axis=-1, keepdims=True)
    log_z = m + np.log(np.exp(U - m).sum(axis=-1, keepdims=True))
    return float(-np.sum(Y * (U - log_z)) / _rows(U))


def _cce_logit_grad(P, Y):
    return (P - Y) / _rows(P)


@dataclass(frozen=True)
class Loss:
    name: str
    value: Callable[[np.ndarray, np.ndarray], float]
    grad: Callable[[np.ndarray, np.ndarray], np.ndarray]
    label: str
    fused_activation: Optional[str] = None
    fused_value: Optional[Callable[[np.ndarray, np.ndarray], float]] = None
    fused_grad: Optional[Callable[[np.ndarray, np.ndarray], np.ndarray]] = None
    classification: bool = False


LOSSES: dict[str, Loss] = {
    "mse": Loss("mse", _mse, _mse_grad, "Mean squared error"),
    "bce": Loss("bce", _bce, _bce_grad, "Binary cross-entropy", "sigmoid",
                _bce_from_logits, _bce_logit_grad, classification=True),
    "cce": Loss("cce", _cce, _cce_grad, "Categorical cross-entropy", "softmax",
                _cce_from_logits, _cce_logit_grad, classification=True),
}


def get_loss(name: str) -> Loss:
    if not isinstance(name, str) or name not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)} (got {name!r})")
    return LOSSES[name]
