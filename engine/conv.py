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
matrix product ``cols @ W.reshape(kh * kw * C, filters)``. A last column of ones
in ``cols`` and the bias as a last row of the kernel matrix make the same
product add the bias. The backward pass is one more product, ``dL/du^T @ cols``,
for ``W`` (and, from the column of ones, for ``b``), and one for the input:

* stride 1 and 'same' padding: the input gradient is itself a convolution of
  the same size, of ``dL/du`` (padded by ``k - 1 - pad``) with the kernel turned
  by 180 degrees and its channel axes swapped, so it is computed like the forward
  pass and each pixel is written once;
* otherwise ``dL/du @ W.T`` gives every patch's gradient, which is added back
  onto the pixels the patch came from (col2im: one strided addition per kernel
  offset, ``kh * kw`` in all).

In NHWC one kernel row of a patch (``kw`` pixels, all channels) is one
contiguous run of the padded image, so a patch matrix is a single strided copy.
The batch is processed a few images at a time (``CHUNK_BYTES`` of patches):
the patch matrix is then still in the CPU cache when the product reads it (the
ReLU and its gradient run on the piece while it is there too), and memory stays
small; backward rebuilds the patches rather than keeping them. The patch
matrices live in work arrays that the layer reuses from batch to batch.

Pooling with windows that tile the image (e.g. 2x2, stride 2, even sizes) is
done on a reshaped view of the input, without gathering windows one offset at a
time; other pools take the general path (one strided view per window offset).
"""
from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .activations import ACTIVATIONS
from .initializers import BIAS_LIKE_WEIGHTS, check_init, initialize
from .checks import is_int as _is_int
from .layers import ActivatedLayer, Layer, register_layer
from . import settings as _s

PADDINGS = ("valid", "same")
# Conv2D works through the batch in pieces whose patch matrix has about this size:
# small enough to stay in the CPU's last-level cache, large enough that the matrix
# products are few (each one is a start and a wait for BLAS's threads, which costs
# most when other programs share the cores).
CHUNK_BYTES = 1 << 22


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


def _bordered(shape: tuple[int, ...], pads: tuple[int, int, int, int], dtype: Any,
              value: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """A new C-contiguous array for a batch of ``shape`` (n, h, w, c) with a border of
    ``pads`` (top, bottom, left, right) set to ``value``, and the view of its inside
    (left for the caller to fill: writing only the border saves a pass over it all)."""
    n, h, w, c = shape
    top, bottom, left, right = pads
    out = np.empty((n, h + top + bottom, w + left + right, c), dtype)
    out[:, :top] = value
    out[:, top + h:] = value
    out[:, top:top + h, :left] = value
    out[:, top:top + h, left + w:] = value
    return out, out[:, top:top + h, left:left + w]


class _Scratch:
    """Work arrays a layer reuses from one call to the next. They hold nothing the
    layer keeps (every call writes what it then reads, and the arrays a pass keeps
    or returns are new ones), so reusing them changes no result; it saves
    allocating large arrays, and the operating system mapping their memory in
    afresh, for every batch."""

    def __init__(self):
        self._arrays: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: Any) -> tuple[np.ndarray, bool]:
        """A C-contiguous array of ``shape`` that stays ``name``'s, and whether it is
        new (uninitialised); otherwise it holds what the last user of ``name`` left."""
        size = math.prod(shape)
        arr = self._arrays.get(name)
        new = arr is None or arr.dtype != dtype or arr.size < size
        if new:
            arr = self._arrays[name] = np.empty(size, dtype)
        return arr[:size].reshape(shape), new


def _patch_matrices(xp: np.ndarray, kernel: tuple[int, int], strides: tuple[int, int],
                    out_hw: tuple[int, int], scratch: _Scratch, name: str, ones: bool = False):
    """Yield ``(images, cols)`` for pieces of the C-contiguous batch ``xp`` whose patch
    matrix has about ``CHUNK_BYTES``: ``cols`` holds every ``kernel``-sized patch of
    ``xp[images]`` (moved by ``strides``, ``out_hw`` of them per image) as one row,
    ``(len(images) * out_h * out_w, kh * kw * c)``, each row ordered ``(p, q, c)``
    like a kernel's first three axes; with ``ones`` a last column of ones follows
    (it multiplies the bias row of a kernel matrix). ``cols`` is the work array
    ``name`` of ``scratch``, reused from piece to piece: it is only valid until the
    next one."""
    (kh, kw), (sh, sw), (oh, ow) = kernel, strides, out_hw
    n, hp, wp, c = xp.shape
    e = xp.itemsize
    k = kh * kw * c
    row = k + 1 if ones else k                                     # values per patch row
    per = max(1, min(n, CHUNK_BYTES // max(1, oh * ow * row * e)))
    # One work array per row length: the copies below never write the column of
    # ones, so it is set only when the array is new.
    buf, new = scratch.get(f"{name} {row}", (per * oh * ow, row), xp.dtype)
    if ones and new:
        buf[:, k] = 1
    # Kernel row p of the patch at output (y, x) is xp[y*sh + p, x*sw : x*sw + kw, :], one
    # contiguous run of kw * c values in NHWC; so a view (images, out_h, out_w, kh, kw * c)
    # over the images and one copy of it into the same axes of the buffer make the matrix.
    # (Strides from the shapes: NumPy may report any stride for an axis of length 1.)
    shape = (per, oh, ow, kh, kw * c)
    image_view = (hp * wp * c * e, sh * wp * c * e, sw * c * e, wp * c * e, e)
    target = as_strided(buf, shape, (oh * ow * row * e, ow * row * e, row * e, kw * c * e, e))
    for i in range(0, n, per):
        m = min(per, n - i)
        windows = as_strided(xp[i:i + m], (m,) + shape[1:], image_view, writeable=False)
        np.copyto(target[:m], windows)
        yield slice(i, i + m), buf[:m * oh * ow]


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
        """``x`` with the 'same' padding around it, C-contiguous (``x`` itself when
        it already is and there is no padding)."""
        if not self._padded:
            return np.ascontiguousarray(x)
        xp, inside = _bordered(x.shape, (self.pad_top, self.pad_bottom, self.pad_left, self.pad_right),
                               x.dtype, value)
        inside[...] = x
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
        self._scratch = _Scratch()

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

    def _patches(self, xp: np.ndarray):
        """The patch matrices of the padded batch ``xp``, piece by piece (``_patch_matrices``),
        with a column of ones for the bias when the layer has one."""
        return _patch_matrices(xp, self.kernel_size, self.strides, (self.out_h, self.out_w),
                               self._scratch, "patches", ones=self.use_bias)

    def _kernel_matrix(self) -> np.ndarray:
        """``W`` as a ``(kh*kw*c, filters)`` matrix, with ``b`` as one more row when the
        layer has a bias: the products then add the bias (and, backward, sum its
        gradient) on their own, which saves a pass over the output each way."""
        W = self.W.reshape(-1, self.filters)
        return np.concatenate([W, self.b[None, :]]) if self.use_bias else W

    def forward(self, x, training=True):
        _check_batch(self, x)
        xp = self._pad(x)                                         # (n, h + pads, w + pads, c)
        F = self.filters
        W = self._kernel_matrix()
        u = np.empty((x.shape[0], self.out_h, self.out_w, F), dtype=np.result_type(xp, W))
        # ReLU runs on each piece while it is still in the cache. In inference nothing
        # needs u afterwards, so the ReLU overwrites it instead of filling a new array.
        relu = self.activation == "relu"
        a = np.empty_like(u) if relu and training else u
        for s, cols in self._patches(xp):
            us = u[s].reshape(-1, F)                              # (images*out_h*out_w, filters), a view
            np.matmul(cols, W, out=us)
            if relu:
                np.maximum(us, 0, out=a[s].reshape(-1, F))
        self._xp = xp if training else None
        if not relu:
            return self.activate(u)
        self._u, self._a = (u, a) if training else (None, None)
        return a

    def _grad_u(self, grad: np.ndarray, s: slice, from_preactivation: bool) -> np.ndarray:
        """dL/du for the images ``s``, as a C-contiguous ``(rows, filters)`` matrix.
        Every activation acts on each pixel on its own, so a piece of the batch can
        go through it alone (and stays in the cache for the products that follow)."""
        g = grad[s] if from_preactivation else self.act.backward(self._u[s], self._a[s], grad[s])
        return np.ascontiguousarray(g).reshape(-1, self.filters)

    @property
    def _grad_by_convolution(self) -> bool:
        """With stride 1 the input gradient is itself a convolution (see
        ``_input_grad_by_convolution``); 'same' padding keeps it the size of the
        forward one. Other geometries add the patch gradients back (col2im)."""
        return self.strides == (1, 1) and self.padding == "same"

    def backward(self, grad, need_input_grad=True, from_preactivation=False):
        if self._xp is None:
            raise ValueError("Conv2D.backward needs a forward pass with training=True first")
        xp, F = self._xp, self.filters
        kh, kw = self.kernel_size
        oh, ow = self.out_h, self.out_w
        W = self.W.reshape(-1, F)
        k = W.shape[0]
        gW = self.grad_W.reshape(-1, F)                           # views: filled in place
        gW[...] = 0
        self.grad_b[...] = 0
        dtype = np.result_type(grad, W)
        by_convolution = need_input_grad and self._grad_by_convolution
        if by_convolution:
            # dL/du with the border the transposed convolution needs, filled piece by piece.
            gup, gu_inside = _bordered((xp.shape[0], oh, ow, F), (kh - 1 - self.pad_top, kh - 1 - self.pad_bottom,
                                                                  kw - 1 - self.pad_left, kw - 1 - self.pad_right),
                                       dtype)
        elif need_input_grad:
            gxp = np.zeros(xp.shape, dtype=dtype)
        for s, cols in self._patches(xp):                         # patches rebuilt: cheaper than keeping them
            g = self._grad_u(grad, s, from_preactivation)         # (rows, F)
            # dL/dW = patches^T . dL/du, computed as its transpose (BLAS is faster that way
            # round); the column of ones gives dL/db, the column sums of dL/du.
            gWb = g.T @ cols                                      # (F, kh*kw*c [+ 1])
            gW += gWb[:, :k].T
            if self.use_bias:
                self.grad_b += gWb[:, k]
            if by_convolution:
                gu_inside[s] = g.reshape(-1, oh, ow, F)
            elif need_input_grad:
                gcols = np.matmul(g, W.T, out=self._scratch.get("grad_cols", (len(g), k), dtype)[0])
                gcols = gcols.reshape(-1, oh, ow, kh, kw, xp.shape[3])
                # col2im: every patch entry adds its gradient back onto the pixel it was copied from.
                gs = gxp[s]
                for p in range(kh):
                    for q in range(kw):
                        gs[self._at(p, q)] += gcols[:, :, :, p, q, :]
        if by_convolution:
            return self._input_grad_by_convolution(gup, dtype)
        return self._unpad(gxp) if need_input_grad else None

    def _input_grad_by_convolution(self, gup: np.ndarray, dtype: Any) -> np.ndarray:
        """dL/dx for stride 1 from dL/du padded by ``k - 1 - pad`` on each side (``gup``):
        ``dx[n, i, j, c] = sum_{p, q, f} gup[n, i + p, j + q, f] * W[kh-1-p, kw-1-q, c, f]``,
        a 'valid' convolution with the kernel turned by 180 degrees and its channel axes
        swapped. It writes every input pixel once, where col2im adds ``kh * kw`` times."""
        h, w, c = self.input_shape
        W_turned = self.W[::-1, ::-1].transpose(0, 1, 3, 2).reshape(-1, c)   # (kh*kw*filters, c), a copy
        gx = np.empty((gup.shape[0], h, w, c), dtype)
        for s, cols in _patch_matrices(gup, self.kernel_size, (1, 1), (h, w), self._scratch, "grad_patches"):
            np.matmul(cols, W_turned, out=gx[s].reshape(-1, c))
        return gx

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

    def build(self, input_shape, rng, dtype):
        out = super().build(input_shape, rng, dtype)
        (ph, pw), (h, w) = self.pool_size, self.input_shape[:2]
        # Windows side by side that cover the image exactly (e.g. 2x2, stride 2, even sizes):
        # the pool is then a reduction over axes of a reshaped view (see _tiled_forward).
        self._tiled = (self.strides == self.pool_size and not self._padded and h % ph == 0 and w % pw == 0)
        return out

    def forward(self, x, training=True):
        _check_batch(self, x)
        if self._tiled:
            xp, out = x, self._tiled_forward(x)
        else:
            xp = self._pad(x, -np.inf)
            out = None
            for i, j in self._offsets():
                if out is None:
                    out = xp[self._at(i, j)].copy()
                else:
                    np.maximum(out, xp[self._at(i, j)], out=out)
        self._xp, self._out = (xp, out) if training else (None, None)
        return out

    def _tiled_forward(self, x: np.ndarray) -> np.ndarray:
        n, h, w, c = x.shape
        (ph, pw), oh, ow = self.pool_size, self.out_h, self.out_w
        # First the ph image rows of each window row (long contiguous runs of w * c values) ...
        rows = x.reshape(n, oh, ph, w * c)
        m = _maximum([rows[:, :, i] for i in range(ph)])             # (n, oh, w * c)
        # ... then the pw pixels of each window within that row.
        cols = m.reshape(n, oh, ow, pw, c)
        return _maximum([cols[:, :, :, j] for j in range(pw)])      # (n, oh, ow, c)

    def backward(self, grad, need_input_grad=True):
        if not need_input_grad:
            return None
        if self._xp is None:
            raise ValueError("MaxPool2D.backward needs a forward pass with training=True first")
        if self._tiled:
            return self._tiled_backward(grad)
        gxp = np.zeros(self._xp.shape, dtype=grad.dtype)
        taken = np.zeros(self._out.shape, dtype=bool)       # outputs whose maximum is already routed
        hit = np.empty_like(taken)
        for i, j in self._offsets():
            np.equal(self._xp[self._at(i, j)], self._out, out=hit)
            hit &= ~taken
            taken |= hit
            gxp[self._at(i, j)] += grad * hit
        return self._unpad(gxp)

    def _tiled_backward(self, grad: np.ndarray) -> np.ndarray:
        x = self._xp
        n, h, w, c = x.shape
        (ph, pw), oh, ow = self.pool_size, self.out_h, self.out_w
        # Every input pixel with the axes (n, oh, ph, ow, pw, c): window, then place in the window.
        shape6 = (n, oh, ph, ow, pw, c)
        hit = x.reshape(shape6) == self._out[:, :, None, :, None, :]     # the pixels equal to their window's max
        # Ties: only the first maximum in row-major window order keeps its mark (as PyTorch).
        offsets = self._offsets()
        taken = hit[:, :, 0, :, 0].copy()
        for k, (i, j) in enumerate(offsets[1:], start=2):
            mark = hit[:, :, i, :, j]
            np.greater(mark, taken, out=mark)                   # a maximum here, and none before it
            if k < len(offsets):
                np.logical_or(taken, mark, out=taken)
        gx = np.empty(x.shape, dtype=grad.dtype)
        np.multiply(hit, grad[:, :, None, :, None, :], out=gx.reshape(shape6))
        return gx


def _maximum(views: list[np.ndarray]) -> np.ndarray:
    """Elementwise maximum of same-shape arrays, as a new array."""
    if len(views) == 1:
        return views[0].copy()
    out = np.maximum(views[0], views[1])
    for v in views[2:]:
        np.maximum(out, v, out=out)
    return out


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
