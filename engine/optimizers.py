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
from typing import Any, Mapping, Sequence

import numpy as np

from . import fused
from .checks import finite_number
from .settings import Setting

Pairs = Sequence[tuple[np.ndarray, np.ndarray]]


def _fused(name: str, *arrays: np.ndarray):
    """The fused kernel for these arrays and their 1-D views, or (None, arrays) when the
    NumPy path runs them (no Numba, switched off, mixed dtypes or a strided array)."""
    dtype = arrays[0].dtype
    run = fused.kernel(name, dtype)
    if run is None or any(a.dtype != dtype or not a.flags.c_contiguous for a in arrays):
        return None, arrays
    return run, tuple(a.reshape(-1) for a in arrays)


class Optimizer:
    """Base class. ``settings`` lists the parameters a person may set (see
    ``engine.settings``); ``defaults`` follows from them."""

    name = ""
    label = ""
    settings: tuple[Setting, ...] = ()
    defaults: dict[str, float] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.defaults = {s.name: s.default for s in cls.settings}

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
    label = "SGD (momentum)"
    settings = (Setting("momentum", "float", 0.0, "Momentum", "0 is plain SGD", minimum=0, maximum=1),)

    def _check(self):
        if not 0 <= self.params["momentum"] < 1:
            raise ValueError(f"optimizer_params momentum must be in [0, 1) (got {self.params['momentum']})")

    def step(self, pairs: Pairs, learning_rate: float) -> None:
        momentum = self.params["momentum"]
        if momentum == 0:
            for p, g in pairs:
                run, (p1, g1) = _fused("sgd", p, g)
                if run is not None:
                    run(p1, g1, p.dtype.type(learning_rate))
                else:
                    p -= learning_rate * g
            return
        if "velocity" not in self.state:
            self.state["velocity"] = [np.zeros_like(p) for p, _ in pairs]
        for (p, g), v in zip(pairs, self.state["velocity"]):
            run, (p1, g1, v1) = _fused("sgd_momentum", p, g, v)
            if run is not None:
                run(p1, g1, v1, p.dtype.type(momentum), p.dtype.type(learning_rate))
                continue
            v *= momentum
            v += g
            p -= learning_rate * v


class Adam(Optimizer):
    """Adam with PyTorch's update. The state keeps the moments scaled as
    ``M = m / (1 - beta1)`` and ``V = v / (1 - beta2)``, which turns each
    moment update into a multiply and an add and the whole step into ten
    in-place passes over the parameters (one, with the fused kernel)."""

    name = "adam"
    label = "Adam"
    settings = (
        Setting("beta1", "float", 0.9, "Beta 1", "Decay of the mean of the gradients", minimum=0, maximum=1),
        Setting("beta2", "float", 0.999, "Beta 2", "Decay of the mean of the squared gradients", minimum=0,
                maximum=1),
        Setting("eps", "float", 1e-8, "Epsilon", "Keeps the division finite", minimum=0),
    )

    def _check(self):
        for key in ("beta1", "beta2"):
            if not 0 <= self.params[key] < 1:
                raise ValueError(f"optimizer_params {key} must be in [0, 1) (got {self.params[key]})")
        if not self.params["eps"] > 0:
            raise ValueError(f"optimizer_params eps must be greater than 0 (got {self.params['eps']})")

    def step(self, pairs: Pairs, learning_rate: float) -> None:
        b1, b2, eps = self.params["beta1"], self.params["beta2"], self.params["eps"]
        if "M" not in self.state:
            self.state.update(t=0, M=[np.zeros_like(p) for p, _ in pairs],
                              V=[np.zeros_like(p) for p, _ in pairs],
                              scratch=[np.empty_like(p) for p, _ in pairs])
        self.state["t"] += 1
        t = self.state["t"]
        # w -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps) with m = (1-b1) M and
        # v = (1-b2) V is w -= M / (c*sqrt(V) + e) for these c and e:
        s = learning_rate * (1 - b1) / (1 - b1 ** t)
        c = math.sqrt((1 - b2) / (1 - b2 ** t)) / s
        e = eps / s
        for (p, g), M, V, tmp in zip(pairs, self.state["M"], self.state["V"], self.state["scratch"]):
            run, flat = _fused("adam", p, g, M, V)
            if run is not None:
                # NumPy casts a Python float to the arrays' dtype; the kernel is given the same numbers.
                run(*flat, *(p.dtype.type(x) for x in (b1, b2, c, e)))
                continue
            M *= b1
            M += g
            V *= b2
            np.multiply(g, g, out=tmp)
            V += tmp
            np.sqrt(V, out=tmp)
            tmp *= c
            tmp += e
            np.divide(M, tmp, out=tmp)
            p -= tmp

    def state_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.state.items() if k != "scratch"}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.state = dict(state)
        if "M" in self.state:
            self.state["scratch"] = [np.empty_like(m) for m in self.state["M"]]


OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "adam": Adam}


def make_optimizer(name: Any, params: Mapping[str, Any] | None = None) -> Optimizer:
    if not isinstance(name, str) or name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)} (got {name!r})")
    if params is not None and not isinstance(params, Mapping):
        raise ValueError(f"optimizer_params must be a dict (got {type(params).__name__})")
    return OPTIMIZERS[name](**dict(params or {}))
