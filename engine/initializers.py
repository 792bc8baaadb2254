"""Weight initialisers, keyed by the names the form uses.

Every initialiser fills an array of ``shape`` whose fan-in and fan-out the
layer gives (for a dense kernel ``(n_in, n_out)`` they are ``n_in`` and
``n_out``; a convolution kernel multiplies in its receptive field).

=========== ============================================ =================
name        distribution                                 parameters
=========== ============================================ =================
zeros       0                                            -
uniform     U(low, high)                                 low, high, seed
normal      N(mean, variance)                            mean, variance, seed
xavier      U(-a, a), a = sqrt(6 / (fan_in + fan_out)),  seed
            so Var = 2 / (fan_in + fan_out) (Glorot & Bengio 2010)
he          N(0, 2 / fan_in) (He et al. 2015)            seed
orthogonal  a random orthogonal matrix (Saxe et al.)     gain, seed
=========== ============================================ =================
"""
from __future__ import annotations

import math
from typing import Any, Callable, Mapping

import numpy as np

from .checks import finite_number, seed as check_seed
from .settings import Setting

# Label and the parameters a person may set (besides ``seed``), per initialiser.
INIT_SETTINGS: dict[str, tuple[str, tuple[Setting, ...]]] = {
    "xavier": ("Xavier (Glorot)", ()),
    "he": ("He", ()),
    "uniform": ("Uniform", (Setting("low", "float", -0.1, "Low", "Lower bound of U(low, high)"),
                            Setting("high", "float", 0.1, "High", "Upper bound of U(low, high)"))),
    "normal": ("Normal", (Setting("mean", "float", 0.0, "Mean", "Mean of N(mean, variance)"),
                          Setting("variance", "float", 0.01, "Variance", "Variance of N(mean, variance)",
                                  minimum=0))),
    "orthogonal": ("Orthogonal", (Setting("gain", "float", 1.0, "Gain", "Scale of the orthogonal matrix"),)),
    "zeros": ("Zeros", ()),
}
DEFAULT_PARAMS: dict[str, dict[str, float]] = {
    name: {s.name: s.default for s in settings} for name, (_, settings) in INIT_SETTINGS.items()}

# The initialisers that fill biases with the same distribution as the weights
# (as the report's module did); the scaled ones start biases at zero.
BIAS_LIKE_WEIGHTS = ("uniform", "normal")


def _zeros(shape, fan_in, fan_out, rng, p):
    return np.zeros(shape)


def _uniform(shape, fan_in, fan_out, rng, p):
    return rng.uniform(p["low"], p["high"], size=shape)


def _normal(shape, fan_in, fan_out, rng, p):
    return rng.normal(p["mean"], math.sqrt(p["variance"]), size=shape)


def _xavier(shape, fan_in, fan_out, rng, p):
    a = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-a, a, size=shape)


def _he(shape, fan_in, fan_out, rng, p):
    return rng.normal(0.0, math.sqrt(2.0 / fan_in), size=shape)


def _orthogonal(shape, fan_in, fan_out, rng, p):
    rows = int(np.prod(shape[:-1]))
    cols = shape[-1]
    a = rng.normal(0.0, 1.0, size=(max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return p["gain"] * q[:rows, :cols].reshape(shape)


INITIALIZERS: dict[str, Callable[..., np.ndarray]] = {
    "zeros": _zeros,
    "uniform": _uniform,
    "normal": _normal,
    "xavier": _xavier,
    "he": _he,
    "orthogonal": _orthogonal,
}


def check_init(name: Any, params: Mapping[str, Any] | None, argument: str = "init") -> dict:
    """Validate an initialiser name and its parameters; return the full parameter dict."""
    if not isinstance(name, str) or name not in INITIALIZERS:
        raise ValueError(f"{argument} must be one of {', '.join(INITIALIZERS)} (got {name!r})")
    params = dict(params or {})
    allowed = set(DEFAULT_PARAMS[name]) | {"seed"}
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ValueError(
            f"{argument}_params for {name!r} accepts {', '.join(sorted(allowed))} "
            f"(got unknown {', '.join(unknown)})"
        )
    full = {**DEFAULT_PARAMS[name], **params}
    for key, value in full.items():
        if key == "seed":
            check_seed(value, f"{argument}_params seed")
        else:
            finite_number(value, f"{argument}_params {key}")
    if name == "uniform" and not full["low"] < full["high"]:
        raise ValueError(f"{argument}_params low must be less than high (got low={full['low']}, high={full['high']})")
    if name == "normal" and not full["variance"] >= 0:
        raise ValueError(f"{argument}_params variance must be at least 0 (got {full['variance']})")
    return full


def initialize(name: str, shape: tuple[int, ...], fan_in: int, fan_out: int,
               rng: np.random.Generator, params: Mapping[str, Any] | None = None,
               dtype: Any = np.float32) -> np.ndarray:
    """Draw an array of ``shape`` from the named initialiser."""
    full = check_init(name, params)
    return INITIALIZERS[name](tuple(shape), fan_in, fan_out, rng, full).astype(dtype)
