"""The layer interface and the dense layer.

A layer is one small class with ``forward`` and ``backward`` side by side:

* ``build(input_shape, rng, dtype) -> output_shape`` creates the parameters
  from the shape of one sample (batch axis excluded);
* ``forward(x, training) -> y`` computes the batch output and keeps what
  ``backward`` needs;
* ``backward(grad_y, need_input_grad=True) -> grad_x`` applies the chain rule
  for the last ``forward``, filling ``grad_<name>`` for each parameter, and
  returns the gradient with respect to the input (``None`` when not needed);
* ``get_config()`` describes the layer as plain data; ``LAYERS[type]`` and
  ``from_config`` rebuild it;
* ``settings`` (a class attribute) lists the constructor arguments a person may
  set, as plain data a form is built from (``engine.settings``).

Parameters are attributes named in ``param_names`` (``W``, ``b``, ...), their
gradients ``grad_W``, ``grad_b``, ... . Once a model is built they are views
into the model's flat buffers; assigning ``layer.W = array`` copies into the
view (same shape required), so the optimiser keeps seeing every value.
"""
from __future__ import annotations

from typing import Any, ClassVar, Optional

import numpy as np

from .activations import ACTIVATIONS, get_activation
from .checks import positive_int
from .initializers import BIAS_LIKE_WEIGHTS, check_init, initialize
from . import settings as _s

LAYERS: dict[str, type["Layer"]] = {}

RMS_EPS = 1e-8


def register_layer(cls: type["Layer"]) -> type["Layer"]:
    """Class decorator: make a layer type loadable from a saved file."""
    LAYERS[cls.__name__] = cls
    return cls


class Layer:
    param_names: ClassVar[tuple[str, ...]] = ()
    settings: ClassVar[tuple[_s.Setting, ...]] = ()
    # What one input sample must be: "image" (height, width, channels), "sequence"
    # (steps, features), "tokens" (steps,) of integer ids, or None for any shape.
    takes: ClassVar[Optional[str]] = None
    # Parameters that L1/L2 regularisation applies to (weight matrices, not biases).
    regularized: ClassVar[tuple[str, ...]] = ()

    def __init__(self, name: Optional[str] = None):
        object.__setattr__(self, "_views", {})
        self.name = name
        self.mask: Optional[np.ndarray] = None
        self.built = False
        self.input_shape: tuple[int, ...] | None = None
        self.output_shape: tuple[int, ...] | None = None

    # -- parameters -------------------------------------------------------
    def __setattr__(self, key: str, value: Any) -> None:
        view = self.__dict__.get("_views", {}).get(key)
        if view is None:
            object.__setattr__(self, key, value)
            return
        arr = np.asarray(value)
        if arr.shape != view.shape:
            raise ValueError(f"{type(self).__name__}.{key} must have shape {view.shape} (got {arr.shape})")
        view[...] = arr

    def parameters(self) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """``(name, value, gradient)`` for every parameter."""
        return [(n, getattr(self, n), getattr(self, "grad_" + n)) for n in self.param_names]

    def bind(self, name: str, value: np.ndarray, grad: np.ndarray) -> None:
        """Make ``self.<name>`` and ``self.grad_<name>`` the given views."""
        self._views.pop(name, None)
        self._views.pop("grad_" + name, None)
        object.__setattr__(self, name, value)
        object.__setattr__(self, "grad_" + name, grad)
        self._views[name] = value
        self._views["grad_" + name] = grad

    def _add_param(self, name: str, value: np.ndarray) -> None:
        object.__setattr__(self, name, value)
        object.__setattr__(self, "grad_" + name, np.zeros_like(value))

    # -- interface ----------------------------------------------------------
    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator, dtype: Any) -> tuple[int, ...]:
        self.input_shape = tuple(input_shape)
        self.output_shape = self.compute_output_shape(self.input_shape)
        self.built = True
        return self.output_shape

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return input_shape

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad: np.ndarray, need_input_grad: bool = True) -> Optional[np.ndarray]:
        raise NotImplementedError

    def output_mask(self, mask: Optional[np.ndarray]) -> Optional[np.ndarray]:
        """The padding mask ``(batch, steps)`` that follows this layer's last
        forward (``None``: no mask). Layers pass the incoming one through by
        default; ``Embedding(mask_zero=True)`` makes one, a sequence-reducing RNN
        drops it. A layer reads the incoming mask from ``self.mask``."""
        return mask

    def set_keras_weights(self, arrays: list[np.ndarray]) -> None:
        """Copy weights saved by the equivalent Keras layer, in Keras' order."""
        if len(arrays) != len(self.param_names):
            raise ValueError(f"{type(self).__name__} expects {len(self.param_names)} Keras arrays "
                             f"({', '.join(self.param_names)}), got {len(arrays)}")
        for name, arr in zip(self.param_names, arrays):
            setattr(self, name, arr)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Layer":
        return cls(**config)

    @property
    def n_params(self) -> int:
        return sum(getattr(self, n).size for n in self.param_names)

    def describe(self) -> str:
        """One line for ``summary()``."""
        return type(self).__name__


class ActivatedLayer(Layer):
    """A layer whose output is ``activation(u)``; the model may start its
    backward pass at ``u`` (``from_preactivation=True``) when the loss is fused
    with the activation (softmax + cce, sigmoid + bce)."""

    def __init__(self, activation: str = "linear", name: Optional[str] = None):
        super().__init__(name)
        self.act = get_activation(activation)
        self.activation = activation
        self._u: Optional[np.ndarray] = None
        self._a: Optional[np.ndarray] = None

    def activate(self, u: np.ndarray) -> np.ndarray:
        self._u = u
        self._a = self.act.forward(u)
        return self._a

    def activation_backward(self, grad: np.ndarray, from_preactivation: bool) -> np.ndarray:
        if from_preactivation:
            return grad
        return self.act.backward(self._u, self._a, grad)


@register_layer
class Dense(ActivatedLayer):
    """Fully connected layer: ``z = x @ W + b``, optional RMSNorm, then the activation.

    ``W`` has shape ``(n_in, units)``, ``b`` ``(units,)``; with ``rmsnorm`` a
    learnable gain ``g`` ``(units,)`` (initialised to ones) scales
    ``z / sqrt(mean(z^2, last axis) + 1e-8)`` before the activation.
    """

    param_names = ("W", "b")
    regularized = ("W",)
    settings = (_s.units(), _s.activation("relu"), _s.init(),
                _s.Setting("rmsnorm", "bool", False, "RMSNorm",
                           "Normalise the weighted sums by their root mean square, with a learned gain"))

    def __init__(self, units: int, activation: str = "linear", init: str = "xavier",
                 init_params: Optional[dict] = None, use_bias: bool = True,
                 rmsnorm: bool = False, name: Optional[str] = None):
        super().__init__(activation, name)
        self.units = positive_int(units, "units")
        self.init = init
        self.init_params = check_init(init, init_params)
        self.use_bias = bool(use_bias)
        self.rmsnorm = bool(rmsnorm)
        if self.rmsnorm:
            self.param_names = ("W", "b", "g")

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def build(self, input_shape, rng, dtype):
        n_in = int(input_shape[-1])
        self._add_param("W", initialize(self.init, (n_in, self.units), n_in, self.units, rng,
                                        self.init_params, dtype))
        if self.use_bias and self.init in BIAS_LIKE_WEIGHTS:
            b = initialize(self.init, (self.units,), n_in, self.units, rng, self.init_params, dtype)
        else:
            b = np.zeros(self.units, dtype=dtype)
        self._add_param("b", b)
        if self.rmsnorm:
            self._add_param("g", np.ones(self.units, dtype=dtype))
        return super().build(input_shape, rng, dtype)

    def forward(self, x, training=True):
        self._x = x
        z = x @ self.W
        if self.use_bias:
            z += self.b
        if self.rmsnorm:
            self._r = np.sqrt(np.mean(z * z, axis=-1, keepdims=True) + RMS_EPS)
            self._zn = z / self._r
            z = self._zn * self.g
        return self.activate(z)

    def backward(self, grad, need_input_grad=True, from_preactivation=False):
        gz = self.activation_backward(grad, from_preactivation)
        if self.rmsnorm:
            zn = self._zn
            self.grad_g[...] = np.einsum("...k,...k->k", gz, zn) if gz.ndim > 2 else (gz * zn).sum(axis=0)
            gzn = gz * self.g
            gz = (gzn - zn * np.mean(gzn * zn, axis=-1, keepdims=True)) / self._r
        x2 = self._x.reshape(-1, self._x.shape[-1])
        g2 = gz.reshape(-1, self.units)
        np.matmul(x2.T, g2, out=self.grad_W)
        if self.use_bias:
            g2.sum(axis=0, out=self.grad_b)
        else:
            self.grad_b[...] = 0
        return gz @ self.W.T if need_input_grad else None

    def set_keras_weights(self, arrays):
        if self.rmsnorm:
            raise ValueError("Keras has no Dense layer with RMSNorm to load from")
        if not self.use_bias:
            arrays = list(arrays) + [np.zeros(self.units)]
        super().set_keras_weights(arrays)

    def get_config(self):
        return {"units": self.units, "activation": self.activation, "init": self.init,
                "init_params": self.init_params, "use_bias": self.use_bias,
                "rmsnorm": self.rmsnorm, "name": self.name}

    def describe(self):
        extra = ", RMSNorm" if self.rmsnorm else ""
        return f"Dense({self.units}, {ACTIVATIONS[self.activation].label}{extra})"
