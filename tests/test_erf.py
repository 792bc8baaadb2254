"""The vectorised erf in engine.activations against math.erf (the C library's erf)
and against values of erf known to 25 digits, and GELU built on it against PyTorch.

Both math.erf and ours are within one ulp of the exact value, so they are compared
at one ulp: a wrong coefficient or a wrong interval shows up as many ulps."""
import math

import numpy as np
import pytest

from engine.activations import ACTIVATIONS, erf

_math_erf = np.frompyfunc(math.erf, 1, 1)
BOUNDS = np.array([0.84375, 1.25, 1 / 0.35, 6.0])      # where the approximation changes


def reference(x):
    return np.asarray(_math_erf(np.asarray(x, dtype=np.float64)), dtype=np.float64)


def ulp_error(x):
    """|ours - math.erf| in units of the last place of math.erf's value."""
    want = reference(x)
    return np.abs(erf(x) - want) / np.spacing(np.abs(want))


def test_points_cover_the_whole_line():
    rng = np.random.default_rng(20240607)
    sign = rng.choice([-1.0, 1.0], size=100_000)
    x = np.concatenate([
        np.linspace(-7.0, 7.0, 200_001),                          # dense grid
        rng.uniform(-1e-8, 1e-8, 20_000),                         # near 0
        np.exp(rng.uniform(math.log(1e-320), math.log(1e-8), 20_000)) * sign[:20_000],
        rng.uniform(0.5, 6.0, 100_000) * sign,                    # the erfc-based intervals
        rng.uniform(6.0, 30.0, 20_000) * sign[:20_000],           # erf is +-1 there
        rng.normal(size=50_000) * rng.choice([0.3, 1.0, 3.0, 100.0], size=50_000),
        np.concatenate([np.nextafter(BOUNDS, 0), BOUNDS, np.nextafter(BOUNDS, 10)]) * [[1], [-1]],
    ], axis=None)
    assert x.size >= 400_000
    err = ulp_error(x)
    worst = int(np.argmax(err))
    assert err.max() <= 1.0, f"{err.max()} ulp at x={x[worst]!r}"
    rel = np.abs(erf(x) - reference(x)) / np.abs(reference(x)).clip(np.finfo(float).tiny)
    assert rel.max() <= 2.3e-16


def test_tiny_arguments_follow_the_slope_at_zero():
    x = np.array([1e-8, -3e-12, 2.5e-200, 5e-324, -5e-324])
    got = erf(x)
    assert np.all(np.abs(got - 2 / math.sqrt(math.pi) * x) <= np.spacing(np.abs(got)))
    assert np.array_equal(np.sign(got), np.sign(x))


@pytest.mark.parametrize("x,value", [               # erf to 25 digits, rounded to double
    (1e-10, 1.128379167095512573892398e-10),
    (0.5, 0.5204998778130465376827467),
    (1.0, 0.8427007929497148693412206),
    (2.0, 0.9953222650189527341620693),
    (3.0, 0.9999779095030014145586272),
    (4.5, 0.9999999998033839558457113),
    (5.5, 0.999999999999992642152082),
])
def test_known_values(x, value):
    for s in (1.0, -1.0):
        got = erf(np.array([s * x]))[0]
        assert abs(got - s * value) <= np.spacing(value)


def test_special_values():
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 6.0, -6.0, 1e308, -1e308])
    got = erf(x)
    assert got[0] == 0.0 and not np.signbit(got[0])
    assert got[1] == 0.0 and np.signbit(got[1])
    assert got[2] == 1.0 and got[3] == -1.0
    assert np.isnan(got[4])
    assert np.array_equal(got[5:], [1.0, -1.0, 1.0, -1.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(), (0,), (7,), (3, 4, 5)])
def test_dtype_and_shape_are_kept(dtype, shape):
    rng = np.random.default_rng(1)
    x = (rng.normal(size=shape) * 2).astype(dtype)
    got = erf(x)
    assert isinstance(got, np.ndarray) and got.dtype == dtype and got.shape == shape
    want = reference(x).astype(dtype)     # float32: both rounded from float64 values
    assert np.all(np.abs(got - want) <= np.spacing(np.abs(want)))


def test_float32_over_a_grid():
    x = np.linspace(-7, 7, 100_001, dtype=np.float32)
    got = erf(x)
    want = reference(x).astype(np.float32)
    assert got.dtype == np.float32
    assert np.all(np.abs(got - want) <= np.spacing(np.abs(want)))


import torch  # noqa: E402  (torch==2.13.0 is in requirements-test.txt)
import torch.nn.functional as F  # noqa: E402


def _gelu_points():
    rng = np.random.default_rng(7)
    return np.concatenate([np.linspace(-12.0, 12.0, 20_001), rng.normal(size=20_000) * 3,
                           [0.0, -0.0, 1e-300, -1e-300, 40.0, -40.0]])


def test_gelu_forward_and_backward_equal_pytorch():
    gelu = ACTIVATIONS["gelu"]
    u = _gelu_points()
    grad_out = np.random.default_rng(8).normal(size=u.shape)
    a = gelu.forward(u)
    grad_u = gelu.backward(u, a, grad_out)

    t = torch.tensor(u, dtype=torch.float64, requires_grad=True)
    ref = F.gelu(t, approximate="none")
    ref.backward(torch.from_numpy(grad_out))
    ref_a, ref_grad = ref.detach().numpy(), t.grad.numpy()

    assert a.dtype == np.float64 and grad_u.dtype == np.float64
    assert np.all(np.abs(a - ref_a) <= 1e-15 * np.maximum(1.0, np.abs(ref_a)))
    assert np.all(np.abs(grad_u - ref_grad) <= 1e-15 * np.maximum(1.0, np.abs(ref_grad)))


def test_gelu_float32_stays_float32_and_equals_pytorch():
    gelu = ACTIVATIONS["gelu"]
    u = _gelu_points().astype(np.float32)
    grad_out = np.random.default_rng(9).normal(size=u.shape).astype(np.float32)
    a = gelu.forward(u)
    grad_u = gelu.backward(u, a, grad_out)
    assert a.dtype == np.float32 and grad_u.dtype == np.float32

    t = torch.tensor(u, requires_grad=True)
    ref = F.gelu(t, approximate="none")
    ref.backward(torch.from_numpy(grad_out))
    assert np.allclose(a, ref.detach().numpy(), rtol=1e-6, atol=1e-6)
    assert np.allclose(grad_u, t.grad.numpy(), rtol=1e-6, atol=1e-6)
