"""Layers for sequences: Embedding, Dropout, SimpleRNN, LSTM and Bidirectional.

Shapes (batch axis first, as Keras):

* ``Embedding``: token ids ``(batch, steps)`` -> vectors ``(batch, steps, dim)``;
* ``SimpleRNN`` / ``LSTM``: ``(batch, steps, features)`` -> ``(batch, units)``,
  or ``(batch, steps, units)`` with ``return_sequences=True``;
* ``Bidirectional(rnn)``: as the wrapped layer, with ``2 * units`` features
  for ``merge_mode="concat"``;
* ``Dropout``: any shape, unchanged.

The recurrent layers keep Keras' weight layout - ``W`` ``(features, k * units)``,
``U`` ``(units, k * units)``, ``b`` ``(k * units,)`` with ``k = 1`` (SimpleRNN) or
``k = 4`` (LSTM, gates in the order input, forget, cell, output) - so Keras
weights load unchanged. Backward is full backpropagation through time.

Masks: ``Embedding(mask_zero=True)`` marks the padding id 0; a recurrent layer
that gets the mask ``(batch, steps)`` leaves its state unchanged on a masked
step and outputs that carried state there, as Keras does.

Internally the recurrent layers work time-major, ``(steps, batch, units)``, so
each step reads and writes one contiguous block.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from .activations import ACTIVATIONS, get_activation
from .checks import flag as _flag, positive_int as _positive_int, seed as _seed
from .initializers import check_init, initialize
from .layers import LAYERS, Layer, register_layer
from . import settings as _s


# ---------------------------------------------------------------- Embedding


@register_layer
class Embedding(Layer):
    """A lookup table: ``y[n, t] = W[ids[n, t]]``.

    ``W`` has shape ``(input_dim, output_dim)`` (vocabulary size, vector size).
    Input ids arrive as floats (the model casts its inputs) and are turned back
    into integers; an id outside ``[0, input_dim)`` raises ValueError. With
    ``mask_zero`` id 0 is padding and the layer emits the mask ``ids != 0``.
    The default init is Keras' ``U(-0.05, 0.05)``.
    """

    param_names = ("W",)
    regularized = ("W",)
    takes = "tokens"
    settings = (_s.Setting("input_dim", "int", 1000, "Vocabulary size",
                           "Token ids the table holds (padding and unknown included)", minimum=2),
                _s.Setting("output_dim", "int", 32, "Embedding size", "Length of each word's vector", minimum=1),
                _s.Setting("mask_zero", "bool", True, "Mask padding",
                           "Id 0 is padding: the recurrent layers after it skip those steps"))

    def __init__(self, input_dim: int, output_dim: int, mask_zero: bool = False, init: str = "uniform",
                 init_params: Optional[dict] = None, name: Optional[str] = None):
        super().__init__(name)
        self.input_dim = _positive_int(input_dim, "input_dim")
        self.output_dim = _positive_int(output_dim, "output_dim")
        self.mask_zero = _flag(mask_zero, "mask_zero")
        if self.mask_zero and self.input_dim < 2:
            raise ValueError(f"input_dim must be at least 2 with mask_zero=True (id 0 is padding), got {input_dim}")
        if init == "uniform" and init_params is None:
            init_params = {"low": -0.05, "high": 0.05}
        self.init = init
        self.init_params = check_init(init, init_params)
        self._ids: Optional[np.ndarray] = None

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def build(self, input_shape, rng, dtype):
        if len(input_shape) < 1:
            raise ValueError(f"Embedding needs token ids (steps,) per sample; it gets {tuple(input_shape)}")
        self._add_param("W", initialize(self.init, (self.input_dim, self.output_dim), self.input_dim,
                                        self.output_dim, rng, self.init_params, dtype))
        return super().build(input_shape, rng, dtype)

    def _token_ids(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        ids = x.astype(np.int64)
        if not np.issubdtype(x.dtype, np.integer) and not np.array_equal(ids, x):
            raise ValueError("Embedding input must hold whole-number token ids")
        if ids.size and (ids.min() < 0 or ids.max() >= self.input_dim):
            raise ValueError(f"Embedding token ids must lie in [0, {self.input_dim}) for input_dim={self.input_dim} "
                             f"(got {ids.min()}..{ids.max()})")
        return ids

    def forward(self, x, training=True):
        self._ids = self._token_ids(x)
        return self.W[self._ids]

    def backward(self, grad, need_input_grad=True):
        """Scatter-add each output gradient row into the row of its id."""
        ids = self._ids.reshape(-1)
        g = grad.reshape(-1, self.output_dim)
        self.grad_W[...] = 0
        np.add.at(self.grad_W, ids, g)
        # Ids are not differentiable: a layer below gets zeros.
        return np.zeros(self._ids.shape, dtype=grad.dtype) if need_input_grad else None

    def output_mask(self, mask):
        return (self._ids != 0) if self.mask_zero else mask

    def set_keras_weights(self, arrays):
        super().set_keras_weights(arrays)

    def get_config(self):
        return {"input_dim": self.input_dim, "output_dim": self.output_dim, "mask_zero": self.mask_zero,
                "init": self.init, "init_params": self.init_params, "name": self.name}

    def describe(self):
        return f"Embedding({self.input_dim}, {self.output_dim}{', mask_zero' if self.mask_zero else ''})"


# ---------------------------------------------------------------- Dropout


@register_layer
class Dropout(Layer):
    """Inverted dropout: in training each value is zeroed with probability
    ``rate`` and the survivors are scaled by ``1 / (1 - rate)``; at inference
    (``training=False``) the layer is the identity. Its own generator draws the
    masks: the same ``seed`` gives the same masks (``seed=None`` takes one from
    the model's generator when the model is built)."""

    settings = (_s.Setting("rate", "float", 0.5, "Rate", "Share of the values zeroed in training", minimum=0,
                           maximum=1),)

    def __init__(self, rate: float, seed: Optional[int] = None, name: Optional[str] = None):
        super().__init__(name)
        if (isinstance(rate, bool) or not isinstance(rate, (int, float, np.floating, np.integer))
                or not 0 <= rate < 1):
            raise ValueError(f"rate must be a number in [0, 1) (got {rate!r})")
        self.rate = float(rate)
        self.seed = _seed(seed)
        self._seed_used = self.seed
        self._rng = np.random.default_rng(self.seed)
        self._keep: Optional[np.ndarray] = None

    def build(self, input_shape, rng, dtype):
        if self.seed is None:
            self._seed_used = int(rng.integers(2**63))
            self._rng = np.random.default_rng(self._seed_used)
        return super().build(input_shape, rng, dtype)

    def reseed(self, seed: Optional[int] = None) -> None:
        """Restart the mask generator (from ``seed``, or from the layer's own seed)."""
        seed = _seed(seed)
        self._rng = np.random.default_rng(self._seed_used if seed is None else seed)

    def forward(self, x, training=True):
        if not training or self.rate == 0:
            self._keep = None
            return x
        keep = self._rng.random(x.shape) >= self.rate
        self._keep = keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - self.rate))
        return x * self._keep

    def backward(self, grad, need_input_grad=True):
        if not need_input_grad:
            return None
        return grad if self._keep is None else grad * self._keep

    def get_config(self):
        return {"rate": self.rate, "seed": self.seed, "name": self.name}

    def describe(self):
        return f"Dropout({self.rate:g})"


# ---------------------------------------------------------------- recurrent layers


class _Recurrent(Layer):
    """What SimpleRNN and LSTM share: arguments, shapes, masks, time-major
    layout, the gradient matmuls after the time loop.

    A subclass sets ``gates`` (blocks of ``units`` columns in W, U, b) and
    implements ``_scan(XW, M)`` (forward over time) and ``_scan_back(dH)``
    (backward over time from the gradients ``dH`` of every output, or None
    when only the last output ``dh_last`` was used; returns ``dZ``, the gradient of the pre-activations
    ``z_t = x_t W + h_{t-1} U + b`` for every step).
    """

    param_names = ("W", "U", "b")
    regularized = ("W", "U")
    takes = "sequence"
    gates = 1

    def __init__(self, units: int, return_sequences: bool = False, go_backwards: bool = False,
                 init: str = "xavier", recurrent_init: str = "orthogonal", init_params: Optional[dict] = None,
                 recurrent_init_params: Optional[dict] = None, name: Optional[str] = None):
        super().__init__(name)
        self.units = _positive_int(units, "units")
        self.return_sequences = _flag(return_sequences, "return_sequences")
        self.go_backwards = _flag(go_backwards, "go_backwards")
        self.init = init
        self.init_params = check_init(init, init_params)
        self.recurrent_init = recurrent_init
        self.recurrent_init_params = check_init(recurrent_init, recurrent_init_params, "recurrent_init")

    def compute_output_shape(self, input_shape):
        steps = input_shape[0]
        return (steps, self.units) if self.return_sequences else (self.units,)

    def build(self, input_shape, rng, dtype):
        if len(input_shape) != 2:
            raise ValueError(f"{type(self).__name__} needs a sequence (steps, features) per sample; "
                             f"it gets {tuple(input_shape)}")
        n_in, n = int(input_shape[1]), self.units * self.gates
        self._add_param("W", initialize(self.init, (n_in, n), n_in, n, rng, self.init_params, dtype))
        self._add_param("U", initialize(self.recurrent_init, (self.units, n), self.units, n, rng,
                                        self.recurrent_init_params, dtype))
        self._add_param("b", self._initial_bias(dtype))
        return super().build(input_shape, rng, dtype)

    def _initial_bias(self, dtype):
        return np.zeros(self.units * self.gates, dtype=dtype)

    # -- forward ----------------------------------------------------------
    def forward(self, x, training=True):
        if x.ndim != 3:
            raise ValueError(f"{type(self).__name__} expects input of shape (batch, steps, features) "
                             f"(got {x.shape})")
        xs = x.transpose(1, 0, 2)                      # (T, B, in), time-major
        mask = self.mask
        if self.go_backwards:
            xs = xs[::-1]
        M = None
        if mask is not None:
            M = np.asarray(mask, dtype=bool).T         # (T, B)
            if self.go_backwards:
                M = M[::-1]
            M = None if M.all() else M[:, :, None]     # (T, B, 1) for broadcasting
        T, B, n_in = xs.shape
        self._xs = np.ascontiguousarray(xs, dtype=self.W.dtype).reshape(T * B, n_in)
        XW = (self._xs @ self.W).reshape(T, B, -1)
        XW += self.b
        self._M = M
        H = self._scan(XW, M)                          # (T + 1, B, units), H[0] = 0
        self._H = H
        if self.return_sequences:
            return H[1:].transpose(1, 0, 2)
        return H[-1]

    def output_mask(self, mask):
        return mask if self.return_sequences else None

    # -- backward ---------------------------------------------------------
    def backward(self, grad, need_input_grad=True):
        T, B = self._H.shape[0] - 1, self._H.shape[1]
        if self.return_sequences:
            dH, dh_last = grad.transpose(1, 0, 2), np.zeros((B, self.units), dtype=grad.dtype)
        else:
            dH, dh_last = None, np.array(grad, dtype=self.W.dtype)   # only the last output is used
        dZ = self._scan_back(dH, dh_last)              # (T, B, gates * units)
        dZ2 = dZ.reshape(T * B, -1)
        np.matmul(self._H[:-1].reshape(T * B, self.units).T, dZ2, out=self.grad_U)
        np.matmul(self._xs.T, dZ2, out=self.grad_W)
        dZ2.sum(axis=0, out=self.grad_b)
        if not need_input_grad:
            return None
        dx = (dZ2 @ self.W.T).reshape(T, B, -1)
        if self.go_backwards:
            dx = dx[::-1]
        return dx.transpose(1, 0, 2)

    def sequence_states(self) -> dict[str, np.ndarray]:
        """The states of the last forward pass at every step, in the input's time
        order: ``{"h": (batch, steps, units)}`` (LSTM adds its gates ``"i"``, ``"f"``,
        ``"o"`` and the cell ``"c"``). On masked steps the carried state is shown."""
        if getattr(self, "_H", None) is None:
            raise ValueError(f"{type(self).__name__}.sequence_states needs a forward pass first")
        return {name: self._input_order(values) for name, values in self._states().items()}

    def _states(self) -> dict[str, np.ndarray]:
        return {"h": self._H[1:]}

    def _input_order(self, values: np.ndarray) -> np.ndarray:
        """Time-major ``(steps, batch, units)`` in processing order -> ``(batch, steps, units)``
        in the input's order."""
        if self.go_backwards:
            values = values[::-1]
        return np.array(values.transpose(1, 0, 2))      # a copy: the layer's own arrays stay its own

    def _scan(self, XW, M):
        raise NotImplementedError

    def _scan_back(self, dH, dh_last):
        raise NotImplementedError

    def get_config(self):
        return {"units": self.units, "return_sequences": self.return_sequences,
                "go_backwards": self.go_backwards, "init": self.init, "init_params": self.init_params,
                "recurrent_init": self.recurrent_init, "recurrent_init_params": self.recurrent_init_params,
                "name": self.name}

    def _describe_flags(self) -> str:
        flags = [f for f, on in (("return_sequences", self.return_sequences),
                                 ("go_backwards", self.go_backwards)) if on]
        return "".join(", " + f for f in flags)


@register_layer
class SimpleRNN(_Recurrent):
    """Elman recurrent layer: ``h_t = act(x_t W + h_{t-1} U + b)``, ``h_0 = 0``.

    ``W`` ``(features, units)``, ``U`` ``(units, units)``, ``b`` ``(units,)``.
    Backward, from the last step down: ``dz_t = act'(z_t) * (dy_t + dh_t)``,
    ``dh_{t-1} = dz_t U^T``; then ``dW = sum x_t^T dz_t``, ``dU = sum h_{t-1}^T dz_t``.
    """

    gates = 1
    settings = (_s.units(16), _s.activation("tanh"), _s.return_sequences(), _s.init())

    def __init__(self, units: int, activation: str = "tanh", return_sequences: bool = False,
                 go_backwards: bool = False, init: str = "xavier", recurrent_init: str = "orthogonal",
                 init_params: Optional[dict] = None, recurrent_init_params: Optional[dict] = None,
                 name: Optional[str] = None):
        super().__init__(units, return_sequences, go_backwards, init, recurrent_init, init_params,
                         recurrent_init_params, name)
        self.act = get_activation(activation)
        self.activation = activation

    def _scan(self, XW, M):
        T, B, n = XW.shape
        H = np.zeros((T + 1, B, n), dtype=XW.dtype)
        self._Hnew = H if M is None else np.empty_like(H)   # unmasked outputs act(z_t)
        for t in range(T):
            z = XW[t]
            z += H[t] @ self.U                            # XW now holds z_t
            self._Hnew[t + 1] = self.act.forward(z)
            if M is not None:
                np.copyto(H[t + 1], np.where(M[t], self._Hnew[t + 1], H[t]))
        self._Z = XW
        return H

    def _scan_back(self, dH, dh_last):
        T = self._Z.shape[0]
        dZ = np.empty_like(self._Z)
        dh = dh_last
        M = self._M
        for t in range(T - 1, -1, -1):
            if dH is not None:
                dh = dh + dH[t]
            if M is None:
                dnew, carry = dh, None
            else:
                dnew, carry = dh * M[t], dh * ~M[t]
            dZ[t] = self.act.backward(self._Z[t], self._Hnew[t + 1], dnew)
            dh = dZ[t] @ self.U.T
            if carry is not None:
                dh += carry
        return dZ

    def get_config(self):
        return {**super().get_config(), "activation": self.activation}

    def describe(self):
        return f"SimpleRNN({self.units}, {ACTIVATIONS[self.activation].label}{self._describe_flags()})"


@register_layer
class LSTM(_Recurrent):
    """Long short-term memory (Hochreiter & Schmidhuber 1997), Keras' defaults.

    ``z_t = x_t W + h_{t-1} U + b`` split in four blocks of ``units`` columns:
    ``i = sigmoid(z_i)``, ``f = sigmoid(z_f)``, ``g = tanh(z_c)``, ``o = sigmoid(z_o)``;
    ``c_t = f c_{t-1} + i g``, ``h_t = o tanh(c_t)``; ``h_0 = c_0 = 0``.
    ``W`` ``(features, 4 units)``, ``U`` ``(units, 4 units)``, ``b`` ``(4 units,)``;
    the forget-gate bias starts at 1 (Keras' ``unit_forget_bias``).

    Speed: ``x_t W + b`` for all steps is one matmul before the loop. Since
    ``sigmoid(z) = (1 + tanh(z / 2)) / 2``, every gate comes from a single
    ``tanh`` over the four blocks: the sigmoid columns are halved before it
    and mapped to ``(1 + t) / 2`` after it.
    """

    gates = 4
    settings = (_s.units(32), _s.return_sequences(), _s.init())

    def __init__(self, units: int, return_sequences: bool = False, go_backwards: bool = False,
                 init: str = "xavier", recurrent_init: str = "orthogonal", init_params: Optional[dict] = None,
                 recurrent_init_params: Optional[dict] = None, unit_forget_bias: bool = True,
                 name: Optional[str] = None):
        super().__init__(units, return_sequences, go_backwards, init, recurrent_init, init_params,
                         recurrent_init_params, name)
        self.unit_forget_bias = _flag(unit_forget_bias, "unit_forget_bias")

    def _initial_bias(self, dtype):
        b = np.zeros(4 * self.units, dtype=dtype)
        if self.unit_forget_bias:
            b[self.units:2 * self.units] = 1
        return b

    def _gate_scale(self, dtype):
        """Column factors: 1/2 for the sigmoid gates (i, f, o), 1 for the cell (tanh)."""
        n = self.units
        s = np.full(4 * n, 0.5, dtype=dtype)
        s[2 * n:3 * n] = 1
        return s, 0.5 - 0.5 * (s == 1).astype(dtype)     # scale and offset (0.5, 0.5, 0, 0.5)

    def _scan(self, XW, M):
        T, B, n4 = XW.shape
        n = n4 // 4
        dt = XW.dtype
        s, off = self._gate_scale(dt)
        XW *= s                                            # pre-scale the sigmoid columns
        Us = self.U * s
        G = XW                                             # becomes the gates [i, f, g, o] in place
        H = np.zeros((T + 1, B, n), dtype=dt)              # states h (carried past masked steps)
        C = np.zeros((T + 1, B, n), dtype=dt)              # states c
        TC = np.empty((T, B, n), dtype=dt)                 # tanh of the new cell value
        h_new = np.empty((B, n), dtype=dt)
        c_new = np.empty((B, n), dtype=dt)
        tmp = np.empty((B, n4), dtype=dt)
        for t in range(T):
            g = G[t]
            np.matmul(H[t], Us, out=tmp)
            g += tmp
            np.tanh(g, out=g)
            g *= s
            g += off
            i, f, c, o = g[:, :n], g[:, n:2 * n], g[:, 2 * n:3 * n], g[:, 3 * n:]
            np.multiply(f, C[t], out=c_new)
            c_new += i * c
            np.tanh(c_new, out=TC[t])
            if M is None:
                C[t + 1] = c_new
                np.multiply(o, TC[t], out=H[t + 1])
            else:
                np.multiply(o, TC[t], out=h_new)
                np.copyto(C[t + 1], np.where(M[t], c_new, C[t]))
                np.copyto(H[t + 1], np.where(M[t], h_new, H[t]))
        self._G, self._C, self._TC = G, C, TC
        return H

    def _scan_back(self, dH, dh_last):
        G, C, TC, M = self._G, self._C, self._TC, self._M
        T, B, n = TC.shape
        # Derivatives of the gates wrt their pre-activations, for all steps at once.
        D = G * (1 - G)
        D[:, :, 2 * n:3 * n] = 1 - G[:, :, 2 * n:3 * n] ** 2
        K = G[:, :, 3 * n:] * (1 - TC * TC)                # d c_t / d h_t path: o (1 - tanh^2 c)
        dZ = np.empty_like(G)
        dh = dh_last                                        # d h_t, updated in place
        dc = np.zeros((B, n), dtype=G.dtype)                # d c_t
        Ut = np.ascontiguousarray(self.U.T)
        for t in range(T - 1, -1, -1):
            if dH is not None:
                dh += dH[t]
            if M is not None:
                m = M[t]
                dh_carry, dc_carry = dh * ~m, dc * ~m
                dh *= m
                dc *= m
            g, dz = G[t], dZ[t]
            np.multiply(dh, TC[t], out=dz[:, 3 * n:])       # d o
            dh *= K[t]
            dc += dh                                        # d c_t
            np.multiply(dc, g[:, 2 * n:3 * n], out=dz[:, :n])        # d i
            np.multiply(dc, C[t], out=dz[:, n:2 * n])                # d f
            np.multiply(dc, g[:, :n], out=dz[:, 2 * n:3 * n])        # d g
            dc *= g[:, n:2 * n]                             # d c_{t-1}
            dz *= D[t]
            np.matmul(dz, Ut, out=dh)                       # d h_{t-1}
            if M is not None:
                dh += dh_carry
                dc += dc_carry
        return dZ

    def _states(self):
        n = self.units
        return {"h": self._H[1:], "c": self._C[1:], "i": self._G[:, :, :n], "f": self._G[:, :, n:2 * n],
                "o": self._G[:, :, 3 * n:]}

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}

    def describe(self):
        return f"LSTM({self.units}{self._describe_flags()})"


# ---------------------------------------------------------------- Bidirectional


@register_layer
class Bidirectional(Layer):
    """Runs a copy of a recurrent layer forward in time and another over the
    reversed sequence, and merges their outputs (``concat`` on the last axis,
    or ``sum``, ``ave``, ``mul``). With ``return_sequences`` the backward
    outputs are re-reversed so that step ``t`` of both halves belongs to input
    step ``t`` (as Keras).

    The parameters are the two inner layers': ``forward_W``, ``forward_U``,
    ``forward_b``, ``backward_W``, ... are the same arrays as
    ``forward_layer.W``, ``backward_layer.W``, ... .
    """

    MERGE_MODES = ("concat", "sum", "ave", "mul")
    takes = "sequence"
    settings = (_s.Setting("layer", "layer", "LSTM", "Recurrent layer", "The layer run forwards and backwards",
                           choices=("SimpleRNN", "LSTM")),
                _s.Setting("merge_mode", "choice", "concat", "Merge",
                           "How the two directions' outputs combine", choices=MERGE_MODES))

    def __init__(self, layer: Layer, merge_mode: str = "concat", name: Optional[str] = None):
        super().__init__(name)
        if not isinstance(layer, _Recurrent):
            raise ValueError(f"layer must be a SimpleRNN or LSTM layer (got {type(layer).__name__})")
        if layer.built:
            raise ValueError("layer must not be built yet (give Bidirectional a fresh layer)")
        if merge_mode not in self.MERGE_MODES:
            raise ValueError(f"merge_mode must be one of {', '.join(self.MERGE_MODES)} (got {merge_mode!r})")
        self.merge_mode = merge_mode
        self.layer = layer
        config = layer.get_config()
        kind = type(layer)
        self.forward_layer = kind.from_config({**config, "name": f"forward_{config['name'] or kind.__name__.lower()}"})
        self.backward_layer = kind.from_config({**config, "go_backwards": not layer.go_backwards,
                                                "name": f"backward_{config['name'] or kind.__name__.lower()}"})
        self.return_sequences = layer.return_sequences
        self.param_names = tuple(f"{side}_{p}" for side in ("forward", "backward") for p in layer.param_names)
        self.regularized = tuple(f"{side}_{p}" for side in ("forward", "backward") for p in layer.regularized)

    def _inner(self, name: str) -> tuple[Layer, str]:
        side, _, param = name.partition("_")
        return (self.forward_layer if side == "forward" else self.backward_layer), param

    def compute_output_shape(self, input_shape):
        out = self.forward_layer.compute_output_shape(input_shape)
        if self.merge_mode == "concat":
            out = out[:-1] + (2 * out[-1],)
        return out

    def build(self, input_shape, rng, dtype):
        if len(input_shape) != 2:
            raise ValueError(f"Bidirectional needs a sequence (steps, features) per sample; "
                             f"it gets {tuple(input_shape)}")
        self.forward_layer.build(input_shape, rng, dtype)
        self.backward_layer.build(input_shape, rng, dtype)
        for name in self.param_names:
            inner, param = self._inner(name)
            object.__setattr__(self, name, getattr(inner, param))
            object.__setattr__(self, "grad_" + name, getattr(inner, "grad_" + param))
        return super().build(input_shape, rng, dtype)

    def bind(self, name, value, grad):
        super().bind(name, value, grad)
        inner, param = self._inner(name)
        inner.bind(param, value, grad)

    def forward(self, x, training=True):
        self.forward_layer.mask = self.mask
        self.backward_layer.mask = self.mask
        yf = self.forward_layer.forward(x, training)
        yb = self.backward_layer.forward(x, training)
        if self.return_sequences:
            yb = yb[:, ::-1]
        self._yf, self._yb = yf, yb
        if self.merge_mode == "concat":
            return np.concatenate([yf, yb], axis=-1)
        if self.merge_mode == "sum":
            return yf + yb
        if self.merge_mode == "ave":
            return (yf + yb) * yf.dtype.type(0.5)
        return yf * yb

    def backward(self, grad, need_input_grad=True):
        if self.merge_mode == "concat":
            n = self._yf.shape[-1]
            gf, gb = grad[..., :n], grad[..., n:]
        elif self.merge_mode == "sum":
            gf = gb = grad
        elif self.merge_mode == "ave":
            gf = gb = grad * grad.dtype.type(0.5)
        else:
            gf, gb = grad * self._yb, grad * self._yf
        if self.return_sequences:
            gb = gb[:, ::-1]
        dxf = self.forward_layer.backward(gf, need_input_grad)
        dxb = self.backward_layer.backward(gb, need_input_grad)
        return dxf + dxb if need_input_grad else None

    def output_mask(self, mask):
        return mask if self.return_sequences else None

    def sequence_states(self) -> dict[str, np.ndarray]:
        """Both directions' states (see ``LSTM.sequence_states``), in the input's time
        order, named ``"forward h"``, ``"backward h"``, ... ."""
        out = {}
        for side, layer in (("forward", self.forward_layer), ("backward", self.backward_layer)):
            out.update({f"{side} {k}": v for k, v in layer.sequence_states().items()})
        return out

    def set_keras_weights(self, arrays):
        """Keras' order: the forward layer's arrays, then the backward layer's."""
        k = len(self.forward_layer.param_names)
        if len(arrays) != 2 * k:
            raise ValueError(f"Bidirectional expects {2 * k} Keras arrays ({', '.join(self.param_names)}), "
                             f"got {len(arrays)}")
        self.forward_layer.set_keras_weights(list(arrays[:k]))
        self.backward_layer.set_keras_weights(list(arrays[k:]))

    def get_config(self):
        return {"layer": {"type": type(self.layer).__name__, "config": self.layer.get_config()},
                "merge_mode": self.merge_mode, "name": self.name}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        spec = config.pop("layer")
        if not isinstance(spec, dict) or spec.get("type") not in LAYERS:
            raise ValueError(f"Bidirectional config has an unknown inner layer {spec!r}")
        return cls(LAYERS[spec["type"]].from_config(dict(spec["config"])), **config)

    def describe(self):
        return f"Bidirectional({self.layer.describe()}, {self.merge_mode})"
