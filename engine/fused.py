"""Fused elementwise kernels for the optimisers, when Numba is installed.

NumPy runs an optimiser's update as one whole-array operation after another: Adam is
ten passes over every parameter, each reading and writing arrays the size of the
model. The kernels here do the same arithmetic in one pass per element, in the same
order and the same precision, so their results are bit for bit those of the NumPy
path (``tests/test_fused.py`` holds them to that). They run on one thread, compiled
with NumPy's error model (a division by zero gives inf, as NumPy's does) and without
fast-math, so no operation is reordered or contracted.

Numba is optional. Without it, or with ``BACKPROP_ACCELERATOR=numpy`` in the
environment, or after ``use_accelerator(False)``, the optimisers take the NumPy path.
The first call of a kernel compiles it (about a second, once per dtype); Numba keeps
the compiled code on disk for later processes.
"""
from __future__ import annotations

import os
import threading
from typing import Any, Optional

import numpy as np

ENV = "BACKPROP_ACCELERATOR"
CHOICES = ("auto", "numba", "numpy")

_lock = threading.Lock()
_kernels: Optional[dict[str, Any]] = None
_choice: Optional[str] = None


def _build() -> dict[str, Any]:
    """Compile (or load from Numba's cache) the kernels; an empty dict without Numba."""
    try:
        import numba
    except ImportError:
        return {}
    jit = numba.njit(cache=True, nogil=True, error_model="numpy")

    @jit
    def adam(p, g, M, V, b1, b2, c, e):  # pragma: no cover - compiled
        # As Adam.step's NumPy passes: M = M*b1 + g; V = V*b2 + g*g; p -= M / (sqrt(V)*c + e)
        for i in range(p.shape[0]):
            gi = g[i]
            m = M[i] * b1 + gi
            v = V[i] * b2 + gi * gi
            M[i] = m
            V[i] = v
            p[i] -= m / (np.sqrt(v) * c + e)

    @jit
    def sgd_momentum(p, g, velocity, momentum, lr):  # pragma: no cover - compiled
        for i in range(p.shape[0]):
            v = velocity[i] * momentum + g[i]
            velocity[i] = v
            p[i] -= lr * v

    @jit
    def sgd(p, g, lr):  # pragma: no cover - compiled
        for i in range(p.shape[0]):
            p[i] -= lr * g[i]

    return {"adam": adam, "sgd_momentum": sgd_momentum, "sgd": sgd}


def choice() -> str:
    """``auto`` (Numba when installed), ``numba`` or ``numpy``: the last ``use_accelerator``,
    else the environment's ``BACKPROP_ACCELERATOR``, else ``auto``."""
    if _choice is not None:
        return _choice
    value = os.environ.get(ENV, "auto").strip().lower() or "auto"
    if value not in CHOICES:
        raise ValueError(f"{ENV} must be one of {', '.join(CHOICES)} (got {value!r})")
    return value


def use_accelerator(on: Any = "auto") -> None:
    """``True`` or ``"numba"``: the fused kernels (an error when Numba is missing);
    ``False`` or ``"numpy"``: NumPy only; ``"auto"``: Numba when installed."""
    global _choice
    value = ("numba" if on else "numpy") if isinstance(on, bool) else on
    if value not in CHOICES:
        raise ValueError(f"use_accelerator takes True, False or one of {', '.join(CHOICES)} (got {on!r})")
    if value == "numba" and not _load():
        raise ValueError("use_accelerator('numba') needs Numba: pip install numba")
    _choice = value


def _load() -> dict[str, Any]:
    global _kernels
    if _kernels is None:
        with _lock:
            if _kernels is None:
                _kernels = _build()
    return _kernels


def kernel(name: str, dtype: Any) -> Optional[Any]:
    """The fused kernel ``name`` for arrays of ``dtype``, or None for the NumPy path."""
    if choice() == "numpy" or np.dtype(dtype) not in (np.float32, np.float64):
        return None
    return _load().get(name)


def warm() -> None:
    """Load (or compile) every kernel for float32 and float64 now, so that no training step
    pays for it; a process that starts training jobs calls this once before it forks them."""
    for dtype in (np.float32, np.float64):
        one = np.zeros(1, dtype)
        scalar = dtype(0.5)
        for name, arrays, scalars in (("adam", 4, 4), ("sgd_momentum", 3, 2), ("sgd", 2, 1)):
            run = kernel(name, dtype)
            if run is not None:
                run(*(one.copy() for _ in range(arrays)), *(scalar for _ in range(scalars)))


def active() -> str:
    """What the optimisers run on now, for benchmark reports."""
    if choice() == "numpy":
        return "NumPy (fused kernels switched off)"
    if not _load():
        return "NumPy (Numba not installed)"
    import numba
    return f"Numba {numba.__version__} fused kernels"

