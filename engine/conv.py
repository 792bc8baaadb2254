"""Convolution and pooling layers on images stored as NHWC arrays.

A batch of images has shape ``(batch, height, width, channels)``; every layer
here takes the shape of one image ``(height, width, channels)`` in ``build``.

* ``Conv2D``: ``W`` has shape ``(kh, kw, in_channels, filters)`` and ``b``
  ``(filters,)``, exactly as Keras stores them, so Keras weights load as they are.
* ``MaxPool2D``, ``AvgPool2D``: a window of ``pool_size`` moved by ``strides``.
* ``GlobalMaxPool2D``, ``GlobalAvgPool2D``: one value per channel.
* ``Flatten``: ``(batch, h, w, c) -> (batch, h*w*c)`` in row-major (Keras) order.

Padding follows Keras/TensorFlow. ``"valid"``: no padding, output size
``floor((n - k) / s) + 1``. ``"same"``: output size ``ceil(n / s)``; the input
is padded by ``total = max((out - 1) * s + k - n, 0)`` rows, ``total // 2`` on
top and the rest (one more, when ``total`` is odd) at the bottom; likewise for
columns (left / right).

How the convolution is computed (im2col). Every output pixel is the dot product
of one ``kh x kw x C`` patch of the (padded) input with each filter. Copying all
patches of the batch into the rows of one matrix ``cols`` of shape
``(batch * out_h * out_w, kh * kw * C)`` turns the whole layer into a single
matrix product ``cols @ W.reshape(kh * kw * C, filters)``. The backward pass is
two more products, ``cols.T @ grad`` for ``W`` and ``grad @ W.T`` for the
patches, whose gradients are then added back onto the pixels they came from
(col2im: one strided addition per kernel offset, ``kh * kw`` in all).
The batch is processed a few images at a time (``CHUNK_BYTES`` of patches):
the patch matrix is then still in the CPU cache when the product reads it, and
memory stays small; backward rebuilds the patches rather than keeping them.
"""
from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .activations import ACTIVATIONS
from .initializers import BIAS_LIKE_WEIGHTS, check_init, initialize
from .checks import is_int as _is_int
from .layers import ActivatedLayer, Layer, register_layer
from . import settings as _s

PADDINGS = ("valid", "same")
# Conv2D works through the batch in pieces whose patch matrix has about this size.
CHUNK_BYTES = 1 << 21


# -- argument checks and geometry ----------------------------------------------
def _pair(value: Any, argument: str) -> tuple[int, int]:
    """``3 -> (3, 3)``, ``(3, 2) -> (3, 2)``; anything else is a ValueError."""
    if _is_int(value) and value > 0:
        return int(value), int(value)
    if (isinstance(value, (tuple, list)) and len(value) == 2
            and all(_is_int(v) and v > 0 for v in value)):
        return int(value[0]), int(value[1])
    raise ValueError(f"{argument} must be a positive integer or a pair of them (got {value!r})")


def _check_padding(padding: Any) -> str:
    if padding not in PADDINGS:
        raise ValueError(f"padding must be 'valid' or 'same' (got {padding!r})")
    return padding


def _image_shape(layer: Layer, input_shape: tuple[int, ...]) -> tuple[int, int, int]:
    if len(input_shape) != 3:
        raise ValueError(f"{type(layer).__name__} needs an image (height, width, channels) per sample; "
                         f"it gets {tuple(input_shape)}")
    return tuple(int(n) for n in input_shape)  # type: ignore[return-value]


def _check_batch(layer: Layer, x: np.ndarray) -> None:
    if x.ndim != 4:
        raise ValueError(f"{type(layer).__name__} expects a batch of shape (batch, height, width, channels) "
                         f"(got an array of shape {x.shape})")


def _axis_geometry(n: int, k: int, s: int, padding: str) -> tuple[int, int, int]:
    """``(out, pad_before, pad_after)`` along one axis of size ``n`` for a
    window ``k`` moved by ``s`` (Keras/TensorFlow rule, see the module docstring)."""
    if padding == "same":
        out = -(-n // s)
        total = max((out - 1) * s + k - n, 0)
        return out, total // 2, total - total // 2
    return (n - k) // s + 1, 0, 0


class _Window:
    """The geometry a windowed layer (convolution or pooling) shares: window
    ``(kh, kw)``, strides ``(sh, sw)``, padding and the resulting output size."""

    takes = "image"

    def _set_geometry(self, layer: Layer, input_shape, window, strides, padding, what) -> tuple[int, int, int]:
        h, w, c = _image_shape(layer, input_shape)
        (kh, kw), (sh, sw) = window, strides
        if padding == "valid" and (h < kh or w < kw):
            raise ValueError(f"{type(layer).__name__} with {what} {kh}x{kw} and padding 'valid' needs an image "
                             f"of at least {kh}x{kw}; it gets {h}x{w}")
        self.out_h, self.pad_top, self.pad_bottom = _axis_geometry(h, kh, sh, padding)
        self.out_w, self.pad_left, self.pad_right = _axis_geometry(w, kw, sw, padding)
        return h, w, c

    @property
    def _padded(self) -> bool:
        return bool(self.pad_top or self.pad_bottom or self.pad_left or self.pad_right)

    def _pad(self, x: np.ndarray, value: float = 0.0) -> np.ndarray:
        """``x`` with the 'same' padding around it (``x`` itself when there is none)."""
        if not self._padded:
            return x
        n, h, w, c = x.shape
        xp = np.empty((n, h + self.pad_top + self.pad_bottom, w + self.pad_left + self.pad_right, c), x.dtype)
        xp.fill(value)
        xp[:, self.pad_top:self.pad_top + h, self.pad_left:self.pad_left + w] = x
        return xp

    def _unpad(self, gp: np.ndarray) -> np.ndarray:
        """The part of a padded-input gradient that belongs to the real input."""
        if not self._padded:
            return gp
        h, w = self.input_shape[0], self.input_shape[1]
        return gp[:, self.pad_top:self.pad_top + h, self.pad_left:self.pad_left + w]

    def _at(self, i: int, j: int) -> tuple[slice, slice, slice, slice]:
        """Index of the input pixels that the window's offset ``(i, j)`` sees at
        every output position: ``xp[self._at(i, j)]`` has shape ``(n, out_h, out_w, c)``."""
        sh, sw = self.strides
        return (slice(None), slice(i, i + sh * (self.out_h - 1) + 1, sh),
                slice(j, j + sw * (self.out_w - 1) + 1, sw), slice(None))


# -- convolution ------------------------------------------------------------------
@register_layer
class Conv2D(_Window, ActivatedLayer):
    """2-D convolution (cross-correlation, as in Keras and PyTorch) of NHWC images.

    ``y[n, i, j, f] = act(b[f] + sum_{p, q, c} xp[n, i*sh + p, j*sw + q, c] * W[p, q, c, f])``
    where ``xp`` is the padded input. Shapes: input ``(batch, h, w, in_channels)``,
    output ``(batch, out_h, out_w, filters)``, ``W`` ``(kh, kw, in_channels, filters)``,
    ``b`` ``(filters,)``.
    """

    param_names = ("W", "b")
    regularized = ("W",)
    settings = (_s.Setting("filters", "int", 8, "Filters", "Kernels in the layer: one output channel each",
                           minimum=1),
                _s.Setting("kernel_size", "pair", 3, "Kernel size", "Height and width of each kernel, e.g. 3 or 3x2"),
                _s.Setting("strides", "pair", 1, "Strides", "How far the kernel moves between outputs"),
                _s.padding(), _s.activation("relu"), _s.init())

    def __init__(self, filters: int, kernel_size: Any, strides: Any = 1, padding: str = "valid",
                 activation: str = "linear", init: str = "xavier", init_params: Optional[dict] = None,
                 use_bias: bool = True, name: Optional[str] = None):
        super().__init__(activation, name)
        if not _is_int(filters) or filters < 1:
            raise ValueError(f"filters must be a positive integer (got {filters!r})")
        self.filters = int(filters)
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.strides = _pair(strides, "strides")
        self.padding = _check_padding(padding)
        self.init = init
        self.init_params = check_init(init, init_params)
        self.use_bias = bool(use_bias)

    def compute_output_shape(self, input_shape):
        return (self.out_h, self.out_w, self.filters)

    def build(self, input_shape, rng, dtype):
        h, w, c = self._set_geometry(self, input_shape, self.kernel_size, self.strides, self.padding,
                                     "kernel_size")
        kh, kw = self.kernel_size
        # As Keras: the receptive field multiplies both fans.
        fan_in, fan_out = kh * kw * c, kh * kw * self.filters
        self._add_param("W", initialize(self.init, (kh, kw, c, self.filters), fan_in, fan_out, rng,
                                        self.init_params, dtype))
        if self.use_bias and self.init in BIAS_LIKE_WEIGHTS:
            b = initialize(self.init, (self.filters,), fan_in, fan_out, rng, self.init_params, dtype)
        else:
            b = np.zeros(self.filters, dtype=dtype)
        self._add_param("b", b)
        return super().build(input_shape, rng, dtype)

    def _im2col(self, xp: np.ndarray) -> np.ndarray:
        """All patches of the padded images ``xp`` as rows: ``(n * out_h * out_w, kh * kw * c)``,
        each row ordered ``(p, q, c)`` like ``W``'s first three axes."""
        kh, kw = self.kernel_size
        sh, sw = self.strides
        # (n, H', W', c, kh, kw) view of every window, subsampled by the strides ...
        windows = sliding_window_view(xp, (kh, kw), axis=(1, 2))[:, ::sh, ::sw][:, :self.out_h, :self.out_w]
        # ... reordered to (n, out_h, out_w, kh, kw, c); the reshape makes the one copy.
        return windows.transpose(0, 1, 2, 4, 5, 3).reshape(-1, kh * kw * xp.shape[3])

    def _chunks(self, n: int, itemsize: int):
        """Slices of the batch whose patch matrix stays small (about ``CHUNK_BYTES``),
        so that it is still in the cache when the matrix products read it."""
        kh, kw = self.kernel_size
        row_bytes = kh * kw * self.input_shape[2] * itemsize
        per_image = max(1, CHUNK_BYTES // (self.out_h * self.out_w * row_bytes))
        return [slice(i, min(i + per_image, n)) for i in range(0, n, per_image)]

    def forward(self, x, training=True):
        _check_batch(self, x)
        xp = self._pad(x)                                         # (n, h + pads, w + pads, c)
        W = self.W.reshape(-1, self.filters)                      # (kh*kw*c, filters)
        u = np.empty((x.shape[0], self.out_h, self.out_w, self.filters), dtype=np.result_type(xp, W))
        for s in self._chunks(x.shape[0], xp.itemsize):
            us = u[s].reshape(-1, self.filters)                   # (images*out_h*out_w, filters), a view
            np.matmul(self._im2col(xp[s]), W, out=us)
            if self.use_bias:
                us += self.b
        self._xp = xp if training else None
        return self.activate(u)

    def backward(self, grad, need_input_grad=True, from_preactivation=False):
        if self._xp is None:
            raise ValueError("Conv2D.backward needs a forward pass with training=True first")
        xp, F = self._xp, self.filters
        gu = np.ascontiguousarray(self.activation_backward(grad, from_preactivation))   # (n, out_h, out_w, F)
        W = self.W.reshape(-1, F)
        gW = self.grad_W.reshape(-1, F)                           # a view: filled in place
        gW[...] = 0
        gxp = np.zeros(xp.shape, dtype=gu.dtype) if need_input_grad else None
        kh, kw = self.kernel_size
        for s in self._chunks(xp.shape[0], xp.itemsize):
            cols = self._im2col(xp[s])                            # recomputed: cheaper than keeping it
            g = gu[s].reshape(-1, F)
            gW += cols.T @ g                                      # dL/dW = patches^T . dL/du
            if need_input_grad:
                gcols = (g @ W.T).reshape(-1, self.out_h, self.out_w, kh, kw, xp.shape[3])
                # col2im: every patch entry adds its gradient back onto the pixel it was copied from.
                gs = gxp[s]
                for p in range(kh):
                    for q in range(kw):
                        gs[self._at(p, q)] += gcols[:, :, :, p, q, :]
        if self.use_bias:
            gu.reshape(-1, F).sum(axis=0, out=self.grad_b)
        else:
            self.grad_b[...] = 0
        return self._unpad(gxp) if need_input_grad else None

    def set_keras_weights(self, arrays):
        if not self.use_bias:
            arrays = list(arrays) + [np.zeros(self.filters)]
        super().set_keras_weights(arrays)

    def get_config(self):
        return {"filters": self.filters, "kernel_size": list(self.kernel_size), "strides": list(self.strides),
                "padding": self.padding, "activation": self.activation, "init": self.init,
                "init_params": self.init_params, "use_bias": self.use_bias, "name": self.name}

    def describe(self):
        kh, kw = self.kernel_size
        stride = f", stride {self.strides[0]}x{self.strides[1]}" if self.strides != (1, 1) else ""
        return (f"Conv2D({self.filters}, {kh}x{kw}{stride}, {self.padding}, "
                f"{ACTIVATIONS[self.activation].label})")


# -- pooling ----------------------------------------------------------------------
class _Pool2D(_Window, Layer):
    """Shared arguments of the pooling layers: a ``pool_size`` window moved by
    ``strides`` (default: ``pool_size``, windows side by side)."""

    keras_class_name = ""
    settings = (_s.Setting("pool_size", "pair", 2, "Pool size", "Height and width of each window, e.g. 2"),
                _s.Setting("strides", "pair", None, "Strides", "Empty: the pool size (windows side by side)",
                           optional=True),
                _s.padding())

    def __init__(self, pool_size: Any = 2, strides: Any = None, padding: str = "valid",
                 name: Optional[str] = None):
        super().__init__(name)
        self.pool_size = _pair(pool_size, "pool_size")
        self.strides = self.pool_size if strides is None else _pair(strides, "strides")
        self.padding = _check_padding(padding)

    def build(self, input_shape, rng, dtype):
        self._set_geometry(self, input_shape, self.pool_size, self.strides, self.padding, "pool_size")
        return super().build(input_shape, rng, dtype)

    def compute_output_shape(self, input_shape):
        return (self.out_h, self.out_w, input_shape[2])

    def _offsets(self):
        ph, pw = self.pool_size
        return [(i, j) for i in range(ph) for j in range(pw)]

    def get_config(self):
        return {"pool_size": list(self.pool_size), "strides": list(self.strides), "padding": self.padding,
                "name": self.name}

    def describe(self):
        (ph, pw), (sh, sw) = self.pool_size, self.strides
        stride = f", stride {sh}x{sw}" if (sh, sw) != (ph, pw) else ""
        pad = ", same" if self.padding == "same" else ""
        return f"{type(self).__name__}({ph}x{pw}{stride}{pad})"


@register_layer
class MaxPool2D(_Pool2D):
    """The largest value of each window, per channel. Padding ('same') never wins.

    Backward sends each output's gradient to the input pixel that held the
    maximum (the first one in row-major window order on ties, as PyTorch)."""

    keras_class_name = "MaxPooling2D"

    def forward(self, x, training=True):
        _check_batch(self, x)
        xp = self._pad(x, -np.inf)
        out = None
        for i, j in self._offsets():
            if out is None:
                out = xp[self._at(i, j)].copy()
            else:
                np.maximum(out, xp[self._at(i, j)], out=out)
        self._xp, self._out = (xp, out) if training else (None, None)
        return out

    def backward(self, grad, need_input_grad=True):
        if not need_input_grad:
            return None
        if self._xp is None:
            raise ValueError("MaxPool2D.backward needs a forward pass with training=True first")
        gxp = np.zeros(self._xp.shape, dtype=grad.dtype)
        taken = np.zeros(self._out.shape, dtype=bool)       # outputs whose maximum is already routed
        hit = np.empty_like(taken)
        for i, j in self._offsets():
            np.equal(self._xp[self._at(i, j)], self._out, out=hit)
            hit &= ~taken
            taken |= hit
            gxp[self._at(i, j)] += grad * hit
        return self._unpad(gxp)


@register_layer
class AvgPool2D(_Pool2D):
    """The mean of each window, per channel. With 'same' padding the padded
    cells are left out of the mean (as Keras/TensorFlow)."""

    keras_class_name = "AveragePooling2D"

    def build(self, input_shape, rng, dtype):
        out = super().build(input_shape, rng, dtype)
        # How many real (not padding) pixels each window covers: (out_h, out_w, 1).
        h, w = self.input_shape[0], self.input_shape[1]
        ones = self._pad(np.ones((1, h, w, 1)))
        count = sum(ones[self._at(i, j)] for i, j in self._offsets())[0]
        self._scale = (1.0 / count).astype(dtype)
        return out

    def forward(self, x, training=True):
        _check_batch(self, x)
        xp = self._pad(x)
        self._xp_shape = xp.shape
        total = xp[self._at(0, 0)].copy()
        for i, j in self._offsets()[1:]:
            total += xp[self._at(i, j)]
        total *= self._scale
        return total

    def backward(self, grad, need_input_grad=True):
        if not need_input_grad:
            return None
        g = grad * self._scale
        gxp = np.zeros(self._xp_shape, dtype=grad.dtype)
        for i, j in self._offsets():
            gxp[self._at(i, j)] += g
        return self._unpad(gxp)


class _GlobalPool2D(Layer):
    takes = "image"

    def build(self, input_shape, rng, dtype):
        _image_shape(self, input_shape)
        return super().build(input_shape, rng, dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[2],)


@register_layer
class GlobalMaxPool2D(_GlobalPool2D):
    """``(batch, h, w, c) -> (batch, c)``: the largest value of each channel."""

    keras_class_name = "GlobalMaxPooling2D"

    def forward(self, x, training=True):
        _check_batch(self, x)
        flat = x.reshape(x.shape[0], -1, x.shape[3])                    # (n, h*w, c)
        self._where = flat.argmax(axis=1)[:, None, :]                   # (n, 1, c), first maximum
        self._x_shape = x.shape
        return np.take_along_axis(flat, self._where, axis=1)[:, 0, :]

    def backward(self, grad, need_input_grad=True):
        if not need_input_grad:
            return None
        n, h, w, c = self._x_shape
        gx = np.zeros((n, h * w, c), dtype=grad.dtype)
        np.put_along_axis(gx, self._where, grad[:, None, :], axis=1)
        return gx.reshape(self._x_shape)


@register_layer
class GlobalAvgPool2D(_GlobalPool2D):
    """``(batch, h, w, c) -> (batch, c)``: the mean of each channel."""

    keras_class_name = "GlobalAveragePooling2D"

    def forward(self, x, training=True):
        _check_batch(self, x)
        self._x_shape = x.shape
        return x.mean(axis=(1, 2))

    def backward(self, grad, need_input_grad=True):
        if not need_input_grad:
            return None
        n, h, w, c = self._x_shape
        g = grad * (1.0 / (h * w))
        return np.broadcast_to(g[:, None, None, :], self._x_shape).copy()


@register_layer
class Flatten(Layer):
    """``(batch, d1, d2, ...) -> (batch, d1 * d2 * ...)`` in row-major order, so a
    following Dense sees pixels as Keras' Flatten orders them (h, then w, then c)."""

    def compute_output_shape(self, input_shape):
        return (int(math.prod(input_shape)),)

    def forward(self, x, training=True):
        self._x_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, grad, need_input_grad=True):
        return grad.reshape(self._x_shape) if need_input_grad else None

    def describe(self):
        return f"Flatten({self.output_shape[0] if self.output_shape else ''})"


__all__ = ["AvgPool2D", "Conv2D", "Flatten", "GlobalAvgPool2D", "GlobalMaxPool2D", "MaxPool2D"]
