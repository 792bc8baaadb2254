"""Activation functions and their derivatives, keyed by the names the form uses.

Each entry of ``ACTIVATIONS`` is an :class:`Activation` with

* ``forward(u) -> a``: elementwise (or row-wise, for softmax) on an array of any
  shape whose last axis holds the units;
* ``backward(u, a, grad_a) -> grad_u``: the chain rule through the activation,
  given its input ``u``, its output ``a`` and the gradient of the loss with
  respect to ``a``.

Adding an activation is one pair of functions and one table line.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

LEAKY_SLOPE = 0.01
ELU_ALPHA = 1.0


@dataclass(frozen=True)
class Activation:
    name: str
    forward: Callable[[np.ndarray], np.ndarray]
    backward: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
    label: str


def _linear(u):
    return u


def _linear_grad(u, a, grad_a):
    return grad_a


def _relu(u):
    return np.maximum(u, 0, dtype=u.dtype)


def _relu_grad(u, a, grad_a):
    return grad_a * (u > 0)


def _sigmoid(u):
    # 0.5 * (1 + tanh(u / 2)) equals 1 / (1 + exp(-u)) and never overflows.
    a = np.multiply(u, 0.5, dtype=u.dtype)
    np.tanh(a, out=a)
    a += 1
    a *= 0.5
    return a


def _sigmoid_grad(u, a, grad_a):
    return grad_a * a * (1 - a)


def _tanh(u):
    return np.tanh(u)


def _tanh_grad(u, a, grad_a):
    return grad_a * (1 - a * a)


def _softmax(u):
    a = u - u.max(axis=-1, keepdims=True)
    np.exp(a, out=a)
    a /= a.sum(axis=-1, keepdims=True)
    return a


def _softmax_grad(u, a, grad_a):
    return a * (grad_a - (grad_a * a).sum(axis=-1, keepdims=True))


def _leaky_relu(u):
    return np.where(u > 0, u, LEAKY_SLOPE * u).astype(u.dtype, copy=False)


def _leaky_relu_grad(u, a, grad_a):
    return grad_a * np.where(u > 0, 1.0, LEAKY_SLOPE).astype(u.dtype, copy=False)


def _elu(u):
    return np.where(u > 0, u, ELU_ALPHA * np.expm1(np.minimum(u, 0))).astype(u.dtype, copy=False)


def _elu_grad(u, a, grad_a):
    return grad_a * np.where(u > 0, 1.0, a + ELU_ALPHA).astype(u.dtype, copy=False)


def _swish(u):
    return u * _sigmoid(u)


def _swish_grad(u, a, grad_a):
    s = _sigmoid(u)
    return grad_a * (s * (1 + u * (1 - s)))


# Coefficients of the piecewise rational approximations of erf published with
# Sun's fdlibm (s_erf.c, 1993), lowest degree first. The denominators' constant
# term, 1, is left out of their tables.
_ERF_TINY_P = (1.28379167095512558561e-01, -3.25042107247001499370e-01,
               -2.84817495755985104766e-02, -5.77027029648944159157e-03,
               -2.37630166566501626084e-05)
_ERF_TINY_Q = (3.97917223959155352819e-01, 6.50222499887672944485e-02,
               5.08130628187576562776e-03, 1.32494738004321644526e-04,
               -3.96022827877536812320e-06)
_ERF_ONE_P = (-2.36211856075265944077e-03, 4.14856118683748331666e-01,
              -3.72207876035701323847e-01, 3.18346619901161753674e-01,
              -1.10894694282396677476e-01, 3.54783043256182359371e-02,
              -2.16637559486879084300e-03)
_ERF_ONE_Q = (1.06420880400844228286e-01, 5.40397917702171048937e-01,
              7.18286544141962662868e-02, 1.26171219808761642112e-01,
              1.36370839120290507362e-02, 1.19844998467991074170e-02)
_ERFC_MID_P = (-9.86494403484714822705e-03, -6.93858572707181764372e-01,
               -1.05586262253232909814e+01, -6.23753324503260060396e+01,
               -1.62396669462573470355e+02, -1.84605092906711035994e+02,
               -8.12874355063065934246e+01, -9.81432934416914548592e+00)
_ERFC_MID_Q = (1.96512716674392571292e+01, 1.37657754143519042600e+02,
               4.34565877475229228821e+02, 6.45387271733267880336e+02,
               4.29008140027567833386e+02, 1.08635005541779435134e+02,
               6.57024977031928170135e+00, -6.04244152148580987438e-02)
_ERFC_FAR_P = (-9.86494292470009928597e-03, -7.99283237680523006574e-01,
               -1.77579549177547519889e+01, -1.60636384855821916062e+02,
               -6.37566443368389627722e+02, -1.02509513161107724954e+03,
               -4.83519191608651397019e+02)
_ERFC_FAR_Q = (3.03380607434824582924e+01, 3.25792512996573918826e+02,
               1.53672958608443695994e+03, 3.19985821950859553908e+03,
               2.55305040643316442583e+03, 4.74528541206955367215e+02,
               -2.24409524465858183362e+01)
_ERF_AT_ONE = 8.45062911510467529297e-01   # erf(1) rounded to 24 bits


def _polyval(z, coeffs):
    """c0 + c1 z + c2 z^2 + ... by Horner's rule, updating one array in place."""
    acc = z * coeffs[-1]
    acc += coeffs[-2]
    for c in coeffs[-3::-1]:
        acc *= z
        acc += c
    return acc


def _rational(z, p, q):
    """p(z) / (1 + z q(z))."""
    num = _polyval(z, p)
    den = _polyval(z, q)
    den *= z
    den += 1.0
    num /= den
    return num


def _erfc_large(a, p, q):
    """erfc(a) for 1.25 <= a < 6, as exp(-a^2 - 0.5625 + R(z)) / a with z = 1/a^2.

    a^2 is split as hi^2 - (hi - a)(hi + a), where hi is ``a`` with the low 32
    bits of its mantissa cleared: hi^2 is then exact and the small remainder goes
    into a second exponential, so the rounding error of a*a never reaches exp.
    """
    z = a * a
    np.reciprocal(z, out=z)
    r = _rational(z, p, q)
    hi = (a.view(np.uint64) & np.uint64(0xFFFFFFFF00000000)).view(np.float64)
    big = hi * hi
    big += 0.5625
    np.negative(big, out=big)
    np.exp(big, out=big)
    small = hi - a
    small *= hi + a
    small += r
    np.exp(small, out=small)
    big *= small
    big /= a
    return big


def erf(x: np.ndarray) -> np.ndarray:
    """The error function, vectorised, to double precision (NumPy has no erf).

    The approximation is fdlibm's: with a = |x|,

    * a < 0.84375:         erf(a) = a + a * R(a^2);
    * 0.84375 <= a < 1.25: erf(a) = erf(1) + R(a - 1), erf(1) rounded to 24 bits;
    * 1.25 <= a < 6:       erf(a) = 1 - erfc(a), erfc from a rational fit R(1/a^2)
                           of log(a * erfc(a)) + a^2 (one on each side of 1/0.35);
    * a >= 6:              erf(a) = 1, as erfc(6) < 2.2e-17 is under half an ulp of 1;

    each R a ratio of polynomials, and erf(-x) = -erf(x). Special values: -0.0
    gives -0.0, +-inf gives +-1, nan gives nan. Against ``math.erf`` it is within
    1 ulp (relative error <= 2.3e-16) over the whole real line, subnormals
    included; tests/test_erf.py checks it.

    Each interval's elements are picked out by index, computed in float64 and put
    back, so no element goes through a formula meant for another interval. The
    result has the input's shape and, for floating input, its dtype (float32 is
    rounded once from the float64 value); other input gives float64.
    """
    x = np.asarray(x)
    dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.dtype(np.float64)
    flat = x.astype(np.float64, copy=False).ravel()
    a = np.abs(flat)
    out = np.ones_like(a)                   # stays 1 for a >= 6 and for +-inf

    i = np.flatnonzero(a < 0.84375)
    t = a[i]
    r = _rational(t * t, _ERF_TINY_P, _ERF_TINY_Q)
    r *= t
    r += t
    out[i] = r

    i = np.flatnonzero((a >= 0.84375) & (a < 1.25))
    s = a[i]
    s -= 1.0
    r = _rational(s, _ERF_ONE_P, _ERF_ONE_Q)
    r += _ERF_AT_ONE
    out[i] = r

    for lo, hi, p, q in ((1.25, 1 / 0.35, _ERFC_MID_P, _ERFC_MID_Q),
                         (1 / 0.35, 6.0, _ERFC_FAR_P, _ERFC_FAR_Q)):
        i = np.flatnonzero((a >= lo) & (a < hi))
        out[i] = 1.0 - _erfc_large(a[i], p, q)

    out[np.flatnonzero(np.isnan(a))] = np.nan
    np.copysign(out, flat, out=out)         # odd function; keeps the sign of -0.0
    return out.reshape(x.shape).astype(dtype, copy=False)


def _gelu(u):
    return 0.5 * u * (1 + erf(u / math.sqrt(2)))


def _gelu_grad(u, a, grad_a):
    cdf = 0.5 * (1 + erf(u / math.sqrt(2)))
    pdf = np.exp(-0.5 * u * u) / math.sqrt(2 * math.pi)
    return grad_a * (cdf + u * pdf)


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("linear", _linear, _linear_grad, "Linear"),
        Activation("relu", _relu, _relu_grad, "ReLU"),
        Activation("sigmoid", _sigmoid, _sigmoid_grad, "Sigmoid"),
        Activation("tanh", _tanh, _tanh_grad, "Tanh"),
        Activation("softmax", _softmax, _softmax_grad, "Softmax"),
        Activation("leaky_relu", _leaky_relu, _leaky_relu_grad, "Leaky ReLU"),
        Activation("elu", _elu, _elu_grad, "ELU"),
        Activation("swish", _swish, _swish_grad, "Swish"),
        Activation("gelu", _gelu, _gelu_grad, "GELU"),
    )
}


def get_activation(name: str, argument: str = "activation") -> Activation:
    """Look an activation up by name; a ValueError names the argument and the choices."""
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(
            f"{argument} must be one of {', '.join(ACTIVATIONS)} (got {name!r})"
        )
    return ACTIVATIONS[name]
