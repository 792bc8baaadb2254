"""Optimisers, as PyTorch defines them.

An optimiser sees only (parameter, gradient) pairs of arrays and updates the
parameters in place; it knows nothing about layers. The model hands it the
flat buffers that hold every parameter and every gradient, so an update is a
handful of whole-array operations however many layers there are.

* SGD: ``v = momentum * v + g; w -= lr * v`` (plain ``w -= lr * g`` without momentum)
* Adam (Kingma & Ba 2015, bias-corrected, as ``torch.optim.Adam``):
  ``m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
  w -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``
"""
from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .checks import finite_number

Pairs = Sequence[tuple[np.ndarray, np.ndarray]]

# Work on pieces that stay in the core's cache while every pass runs over them.
CHUNK = 1 << 15


# Updates of at least this many values are split between two threads (NumPy
# releases the GIL inside its loops, so the halves run on two cores at once).
PARALLEL_MIN = 1 << 17
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _chunks(start: int, stop: int):
    for s in range(start, stop, CHUNK):
        yield slice(s, min(s + CHUNK, stop))


def _for_each_chunk(n: int, update: Callable[[slice, np.ndarray], None], dtype: Any) -> None:
    """Call ``update(piece, scratch)`` over cache-sized pieces of ``range(n)``,
    the second half on a helper thread when the update is large."""
    global _pool

    def run(start: int, stop: int) -> None:
        scratch = np.empty(min(CHUNK, stop - start), dtype=dtype)
        for piece in _chunks(start, stop):
            update(piece, scratch[: piece.stop - piece.start])

    if n < PARALLEL_MIN or (os.cpu_count() or 1) < 2:
        run(0, n)
        return
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="optimizer")
    half = (n // 2 // CHUNK + 1) * CHUNK
    future = _pool.submit(run, half, n)
    run(0, half)
    future.result()


class Optimizer:
    name = ""
    defaults: dict[str, float] = {}

    def __init__(self, **params: Any):
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            raise ValueError(
                f"optimizer_params for {self.name!r} accepts {', '.join(self.defaults) or 'nothing'} "
                f"(got unknown {', '.join(unknown)})"
            )
        self.params = {**self.defaults, **params}
        for key, value in self.params.items():
            finite_number(value, f"optimizer_params {key}")
        self._check()
        self.state: dict[str, Any] = {}

    def _check(self) -> None:
        pass

    def step(self, pairs: Pairs, learning_rate: float) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """Arrays and numbers that restore this optimiser exactly."""
        return dict(self.state)

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.state = dict(state)


class SGD(Optimizer):
    name = "sgd"
    defaults = {"momentum": 0.0}

    def _check(self):
        if not 0 <= self.params["momentum"] < 1:
            raise ValueError(f"optimizer_params momentum must be in [0, 1) (got {self.params['momentum']})")

    def step(self, pairs: Pairs, learning_rate: float) -> None:
        momentum = self.params["momentum"]
        if momentum == 0:
            for p, g in pairs:
                p -= learning_rate * g
            return
        if "velocity" not in self.state:
            self.state["velocity"] = [np.zeros_like(p) for p, _ in pairs]
        for (p, g), v in zip(pairs, self.state["velocity"]):
            v *= momentum
            v += g
            p -= learning_rate * v


class Adam(Optimizer):
    name = "adam"
    defaults = {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8}

    def _check(self):
        for key in ("beta1", "beta2"):
            if not 0 <= self.params[key] < 1:
                raise ValueError(f"optimizer_params {key} must be in [0, 1) (got {self.params[key]})")
        if not self.params["eps"] > 0:
            raise ValueError(f"optimizer_params eps must be greater than 0 (got {self.params['eps']})")

    def step(self, pairs: Pairs, learning_rate: float) -> None:
        b1, b2, eps = self.params["beta1"], self.params["beta2"], self.params["eps"]
        if "m" not in self.state:
            self.state.update(t=0, m=[np.zeros_like(p) for p, _ in pairs],
                              v=[np.zeros_like(p) for p, _ in pairs])
        self.state["t"] += 1
        t = self.state["t"]
        step_size = learning_rate / (1 - b1 ** t)
        root_bc2 = math.sqrt(1 - b2 ** t)
        # w -= step * m / (sqrt(v)/root_bc2 + eps), rewritten as
        # w -= m / (sqrt(v) * c + e) with c = 1/(root_bc2*step), e = eps/step.
        c = 1.0 / (root_bc2 * step_size)
        e = eps / step_size
        for (p, g), m, v in zip(pairs, self.state["m"], self.state["v"]):
            pf, gf, mf, vf = p.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1)

            def update(s: slice, tmp: np.ndarray) -> None:
                gs, ms, vs = gf[s], mf[s], vf[s]
                ms *= b1
                np.multiply(gs, 1 - b1, out=tmp)
                ms += tmp
                vs *= b2
                np.multiply(gs, gs, out=tmp)
                tmp *= 1 - b2
                vs += tmp
                np.sqrt(vs, out=tmp)
                tmp *= c
                tmp += e
                np.divide(ms, tmp, out=tmp)
                pf[s] -= tmp

            _for_each_chunk(pf.size, update, p.dtype)


OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "adam": Adam}


def make_optimizer(name: Any, params: Mapping[str, Any] | None = None) -> Optimizer:
    if not isinstance(name, str) or name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)} (got {name!r})")
    if params is not None and not isinstance(params, Mapping):
        raise ValueError(f"optimizer_params must be a dict (got {type(params).__name__})")
    return OPTIMIZERS[name](**dict(params or {}))
