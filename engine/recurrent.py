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
each step reads and writes one contiguous block (LSTM keeps one such array per
gate).
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
    """What SimpleRNN and LSTM share: arguments, shapes, masks, the time-major
    layout and the input projection.

    The input of every step gets an extra column of ones, so ``x_t W + b`` for
    all steps is one matmul with ``[W; b]`` and, after the backward loop, the
    gradients of ``W`` and ``b`` are one matmul too.

    A subclass sets ``gates`` (blocks of ``units`` columns in W, U, b) and
    implements ``_scan(xa, T, B, M)`` (the forward pass over time from the
    inputs with ones ``xa`` ``(T * B, features + 1)``; returns the states ``H``
    ``(T + 1, B, units)`` with ``H[0] = 0``) and ``_backprop(dH, dh_last,
    need_input_grad)`` (the backward pass from the gradients ``dH`` of every
    output, or None when only the last output ``dh_last`` was used; fills the
    parameter gradients and returns the time-major input gradient or None).
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
        self._work: dict[str, np.ndarray] = {}

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

    def _scratch(self, name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
        """A work array of the layer's own, kept from one call to the next and
        overwritten on each (its contents are garbage on return). A fresh
        multi-megabyte array costs a page fault per 4 KB page on first write,
        which here takes longer than the arithmetic done on it. Never used for
        what the layer hands out (outputs, input gradients)."""
        buf = self._work.get(name)
        if buf is None or buf.shape != shape or buf.dtype != dtype:
            buf = self._work[name] = np.empty(shape, dtype=dtype)
        return buf

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
        xa = self._scratch("xa", (T, B, n_in + 1), self.W.dtype)
        xa[:, :, :n_in] = xs
        xa[:, :, n_in] = 1                             # the bias' column
        self._xa = xa.reshape(T * B, n_in + 1)
        self._M = M
        H = self._scan(self._xa, T, B, M)              # (T + 1, B, units), H[0] = 0
        self._H = H
        if self.return_sequences:
            return H[1:].transpose(1, 0, 2)
        return H[-1]

    def _weights_with_bias(self) -> np.ndarray:
        """``[W; b]``, ``(features + 1, gates * units)``: the weights of the inputs with ones."""
        return np.concatenate([self.W, self.b[None, :]], axis=0)

    def _set_input_grads(self, dWb: np.ndarray) -> None:
        """Split the gradient of ``[W; b]`` into ``grad_W`` and ``grad_b``."""
        self.grad_W[...] = dWb[:-1]
        self.grad_b[...] = dWb[-1]

    def output_mask(self, mask):
        return mask if self.return_sequences else None

    # -- backward ---------------------------------------------------------
    def backward(self, grad, need_input_grad=True):
        B = self._H.shape[1]
        if self.return_sequences:
            # One contiguous (B, units) block per step for the loop to add.
            dH = self._scratch("dH", (grad.shape[1], B, self.units), self.W.dtype)
            dH[...] = grad.transpose(1, 0, 2)
            dh_last = np.zeros((B, self.units), dtype=self.W.dtype)
        else:
            dH, dh_last = None, np.array(grad, dtype=self.W.dtype)   # only the last output is used
        dx = self._backprop(dH, dh_last, need_input_grad)   # (T, B, in) or None
        if dx is None:
            return None
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

    def _scan(self, xa, T, B, M):
        raise NotImplementedError

    def _backprop(self, dH, dh_last, need_input_grad):
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
    ``dh_{t-1} = dz_t U^T``; then ``dW = sum x_t^T dz_t``, ``dU = sum h_{t-1}^T dz_t``
    (each one matmul over all steps after the loop).
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

    def _scan(self, xa, T, B, M):
        n = self.units
        XW = np.matmul(xa, self._weights_with_bias(), out=self._scratch("Z", (T * B, n), xa.dtype))
        XW = XW.reshape(T, B, n)
        H = np.zeros((T + 1, B, n), dtype=XW.dtype)
        self._Hnew = H if M is None else self._scratch("Hnew", H.shape, H.dtype)   # unmasked act(z_t)
        hu = np.empty((B, n), dtype=XW.dtype)
        for t in range(T):
            z = XW[t]
            z += np.matmul(H[t], self.U, out=hu)          # XW now holds z_t
            self._Hnew[t + 1] = self.act.forward(z)
            if M is not None:
                np.copyto(H[t + 1], np.where(M[t], self._Hnew[t + 1], H[t]))
        self._Z = XW
        return H

    def _backprop(self, dH, dh_last, need_input_grad):
        T, B, n = self._Z.shape
        dZ = self._scratch("dZ", self._Z.shape, self._Z.dtype)
        dh = dh_last
        M = self._M
        Ut = np.ascontiguousarray(self.U.T)
        for t in range(T - 1, -1, -1):
            if dH is not None:
                dh = dh + dH[t]
            if M is None:
                dnew, carry = dh, None
            else:
                dnew, carry = dh * M[t], dh * ~M[t]
            dZ[t] = self.act.backward(self._Z[t], self._Hnew[t + 1], dnew)
            dh = dZ[t] @ Ut
            if carry is not None:
                dh += carry
        dZ2 = dZ.reshape(T * B, n)
        np.matmul(self._H[:-1].reshape(T * B, n).T, dZ2, out=self.grad_U)
        self._set_input_grads(self._xa.T @ dZ2)
        if not need_input_grad:
            return None
        return (dZ2 @ self.W.T).reshape(T, B, -1)

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

    Speed (the time loop runs many small NumPy calls, so each one counts):

    * inside, each gate has a slab of its own, ``(4, steps, batch, units)``, so a
      gate at one step is a contiguous ``(batch, units)`` block - elementwise
      work on column slices of a ``(batch, 4 units)`` row is about three times
      slower;
    * ``[x_t, 1] [W; b]`` for all steps is one matmul before the loop, and the
      gradients of ``U``, ``W``, ``b`` and the input are matmuls over all steps
      after the backward loop;
    * the product with ``U`` at each step is four ``(units, units)`` products,
      one per gate, rather than one ``(units, 4 units)`` product. OpenBLAS runs
      a product of at most 64 x 64 x 64 multiply-adds on the calling thread, so
      with batch 64 and 64 units each gate's product stays there, while the
      wider one would wake another thread - which costs more than it saves at
      this size, and much more on a busy machine;
    * ``sigmoid(z) = (1 + tanh(z / 2)) / 2``, so all four gates come from one
      ``tanh``: the sigmoid gates' weights are halved beforehand and their
      values mapped to ``(1 + t) / 2`` after it.
    """

    gates = 4
    settings = (_s.units(32), _s.return_sequences(), _s.init())
    # The order of the slabs inside: o, i, f, g (Keras keeps i, f, g, o). The three
    # sigmoid gates are then slabs 0:3, one block for their rescaling; slab k holds
    # Keras' gate _ORDER[k].
    _ORDER = (3, 0, 1, 2)

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

    def _to_slabs(self, A: np.ndarray) -> np.ndarray:
        """Keras' columns ``(rows, 4 units)`` -> contiguous slabs ``(4, rows, units)`` (o, i, f, g)."""
        n = self.units
        return np.ascontiguousarray(A.reshape(A.shape[0], 4, n)[:, self._ORDER].transpose(1, 0, 2))

    def _from_slabs(self, S: np.ndarray, out: np.ndarray) -> None:
        """Slabs ``(4, rows, units)`` -> Keras' columns of ``out`` ``(rows, 4 units)``."""
        n = self.units
        for k, gate in enumerate(self._ORDER):
            out[:, gate * n:(gate + 1) * n] = S[k]

    def _scan(self, xa, T, B, M):
        n = self.units
        dt = xa.dtype
        half = dt.type(0.5)
        Wb = self._to_slabs(self._weights_with_bias())    # (4, in + 1, n)
        Us = self._to_slabs(self.U)                        # (4, n, n)
        Wb[:3] *= half                                     # the sigmoid gates take z / 2
        Us[:3] *= half
        # x_t W + b for all steps; becomes the gates in place.
        G = np.matmul(xa, Wb, out=self._scratch("G", (4, T * B, n), dt)).reshape(4, T, B, n)
        H = np.zeros((T + 1, B, n), dtype=dt)              # states h (carried past masked steps)
        C = self._scratch("C", (T + 1, B, n), dt)          # states c
        C[0] = 0
        TC = self._scratch("TC", (T, B, n), dt)            # tanh of the new cell value
        hu = np.empty((4, B, n), dtype=dt)                 # h_{t-1} U, one block per gate
        ig = np.empty((B, n), dtype=dt)
        masked = None if M is None else ~M                 # (T, B, 1): True where the step is padding
        for t in range(T):
            g = G[:, t]                                    # (4, B, n): o, i, f, g of this step
            np.matmul(H[t], Us, out=hu)
            g += hu
            np.tanh(g, out=g)
            sig = g[:3]
            sig *= half
            sig += half
            c_new, h_new = C[t + 1], H[t + 1]
            np.multiply(g[2], C[t], out=c_new)             # f c_{t-1}
            c_new += np.multiply(g[1], g[3], out=ig)       # + i g
            np.tanh(c_new, out=TC[t])
            np.multiply(g[0], TC[t], out=h_new)            # o tanh(c_t)
            if masked is not None:                         # masked rows carry the old state
                np.copyto(c_new, C[t], where=masked[t])
                np.copyto(h_new, H[t], where=masked[t])
        self._G, self._C, self._TC = G, C, TC
        return H

    def _backprop(self, dH, dh_last, need_input_grad):
        G, C, TC, M = self._G, self._C, self._TC, self._M
        _, T, B, n = G.shape
        dt = G.dtype
        # Derivatives of the gates wrt their pre-activations, for all steps at once:
        # s (1 - s) for the sigmoid gates, 1 - g^2 for the cell. The backward loop
        # multiplies them in place, step by step, into the gradients dZ of the
        # pre-activations.
        dZ = self._scratch("dZ", G.shape, dt)
        np.subtract(1, G[:3], out=dZ[:3])
        dZ[:3] *= G[:3]
        np.multiply(G[3], G[3], out=dZ[3])
        np.subtract(1, dZ[3], out=dZ[3])
        K = np.multiply(TC, TC, out=self._scratch("K", TC.shape, dt))   # d c_t / d h_t = o (1 - tanh^2 c_t)
        np.subtract(1, K, out=K)
        K *= G[0]
        Ut = np.ascontiguousarray(self._to_slabs(self.U).transpose(0, 2, 1))   # (4, n, n): U_k^T
        dh = dh_last                                       # d h_t, updated in place
        dc = np.zeros((B, n), dtype=dt)                    # d c_t
        dg = np.empty((4, B, n), dtype=dt)                 # this step's gradients wrt the gates
        dhu = np.empty((4, B, n), dtype=dt)
        if M is not None:
            Mf = M.astype(dt)                              # 1 on real steps, 0 on masked ones
            carry = 1 - Mf
        for t in range(T - 1, -1, -1):
            if dH is not None:
                dh += dH[t]
            if M is not None:
                dh_carry, dc_carry = dh * carry[t], dc * carry[t]
                dh *= Mf[t]
                dc *= Mf[t]
            g = G[:, t]
            np.multiply(dh, TC[t], out=dg[0])              # d o
            dh *= K[t]
            dc += dh                                       # d c_t
            np.multiply(dc, g[3], out=dg[1])               # d i
            np.multiply(dc, C[t], out=dg[2])               # d f
            np.multiply(dc, g[1], out=dg[3])               # d g
            dc *= g[2]                                     # d c_{t-1}
            dz = dZ[:, t]
            dz *= dg                                       # dZ[:, t] now holds d z_t
            np.matmul(dz, Ut, out=dhu)
            np.sum(dhu, axis=0, out=dh)                    # d h_{t-1} = sum over gates of dz_k U_k^T
            if M is not None:
                dh += dh_carry
                dc += dc_carry
        dZ2 = dZ.reshape(4, T * B, n)
        self._from_slabs(np.matmul(self._H[:-1].reshape(T * B, n).T, dZ2), self.grad_U)
        dWb = np.empty((self._xa.shape[1], 4 * n), dtype=dt)
        self._from_slabs(np.matmul(self._xa.T, dZ2), dWb)
        self._set_input_grads(dWb)
        if not need_input_grad:
            return None
        # d x = sum over gates of dZ_k W_k^T
        Wt = self._to_slabs(self.W).transpose(0, 2, 1)     # (4, n, in)
        dx = np.matmul(dZ2[0], Wt[0])
        part = self._scratch("dx part", dx.shape, dt)
        for k in range(1, 4):
            dx += np.matmul(dZ2[k], Wt[k], out=part)
        return dx.reshape(T, B, -1)

    def _states(self):
        o, i, f, _ = self._G                               # the slabs hold o, i, f, g
        return {"h": self._H[1:], "c": self._C[1:], "i": i, "f": f, "o": o}

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
