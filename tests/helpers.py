"""Shared test helpers: finite differences and paths to the shared data."""
from __future__ import annotations

from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """||a - b|| / max(||a|| + ||b||, tiny): 0 for equal arrays."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300))


def numeric_gradients(model, X, Y, eps: float = 1e-6) -> dict[tuple[int, str], np.ndarray]:
    """Central finite differences of the model's loss (regularisation included)
    for every parameter of every layer, perturbing the public attributes."""
    out = {}
    for i, layer in enumerate(model.layers):
        for name in layer.param_names:
            values = getattr(layer, name)
            grad = np.zeros(values.shape)
            for idx in np.ndindex(values.shape):
                old = values[idx]
                values[idx] = old + eps
                model.forward(X)
                up = model.backward(Y)
                values[idx] = old - eps
                model.forward(X)
                down = model.backward(Y)
                values[idx] = old
                grad[idx] = (up - down) / (2 * eps)
            out[(i, name)] = grad
    return out


def analytic_gradients(model, X, Y) -> dict[tuple[int, str], np.ndarray]:
    model.forward(X)
    model.backward(Y)
    return {(i, name): np.array(getattr(layer, "grad_" + name))
            for i, layer in enumerate(model.layers) for name in layer.param_names}


def row(kind: str, **settings) -> dict:
    """One row of the form's layer stack (``dashboard.spec`` form values)."""
    return {"type": kind, "settings": settings}
