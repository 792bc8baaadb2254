"""The optimisers' fused kernels (engine.fused, with Numba) against their NumPy path:
the same parameters and state, bit for bit, after many steps; the switch; and the
PyTorch parity of the NumPy path, which the default run (fused) no longer takes."""
from __future__ import annotations

import numpy as np
import pytest

import engine
from engine import FFNN, fused
from engine.optimizers import make_optimizer

import test_engine_torch

import numba  # noqa: F401  (requirements-test.txt installs it: these tests need the kernels)


@pytest.fixture
def accelerator():
    """Switch the kernels on or off for one test, and back to the default after it."""
    yield engine.use_accelerator
    fused._choice = None


def _run(name, params, dtype, use, steps=40, shape=(3001,), lr=1e-3):
    """Parameters and optimiser state after ``steps`` updates from seeded gradients."""
    fused._choice = None
    engine.use_accelerator(use)
    rng = np.random.default_rng(7)
    p = rng.normal(size=shape).astype(dtype)
    opt = make_optimizer(name, params)
    for t in range(steps):
        g = (rng.normal(size=shape) * 10.0 ** rng.integers(-6, 3)).astype(dtype)
        if t % 7 == 3:
            g[::5] = 0            # zero gradients: V may stay 0, the division falls on eps alone
        opt.step([(p, g)], lr)
    return p, opt.state_dict()


CASES = [("adam", {}), ("adam", {"beta1": 0.5, "beta2": 0.9, "eps": 1e-3}), ("sgd", {"momentum": 0.9}),
         ("sgd", {})]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,params", CASES)
def test_fused_equals_numpy_bit_for_bit(accelerator, name, params, dtype):
    p_numpy, s_numpy = _run(name, params, dtype, False)
    p_fused, s_fused = _run(name, params, dtype, True)
    assert p_fused.dtype == dtype
    np.testing.assert_array_equal(p_fused, p_numpy)
    for key, value in s_numpy.items():
        if isinstance(value, list):
            for a, b in zip(value, s_fused[key]):
                np.testing.assert_array_equal(b, a)
        else:
            assert s_fused[key] == value
    # the comparison is of parameters that moved
    start = np.random.default_rng(7).normal(size=(3001,)).astype(dtype)
    assert np.abs(p_numpy - start).max() > 1e-3


def test_strided_and_2d_arrays_match_too(accelerator):
    """A 2-D array is run flat; a strided view falls back to NumPy; both give NumPy's answer."""
    a, _ = _run("adam", {}, np.float32, False, shape=(40, 75))
    b, _ = _run("adam", {}, np.float32, True, shape=(40, 75))
    np.testing.assert_array_equal(a, b)
    engine.use_accelerator(True)
    base = np.random.default_rng(1).normal(size=(50, 8))
    p = base.copy()
    view = p[:, ::2]
    g = np.ones_like(view)
    make_optimizer("sgd").step([(view, g)], 0.5)
    np.testing.assert_array_equal(p[:, ::2], base[:, ::2] - 0.5)
    np.testing.assert_array_equal(p[:, 1::2], base[:, 1::2])


def test_training_is_identical_with_and_without_kernels(accelerator):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 6)).astype(np.float32)
    y = rng.integers(0, 3, 300)
    weights = []
    for use in (False, True):
        engine.use_accelerator(use)
        model = FFNN([6, 16, 3], ["relu", "softmax"], loss="cce", init="he", init_params={"seed": 0},
                     optimizer="adam", l2=1e-3)
        history = model.fit(X, y, batch_size=32, learning_rate=0.01, epochs=5, verbose=0, seed=0)
        weights.append(([layer.W.copy() for layer in model.layers], history["train_loss"]))
    for a, b in zip(weights[0][0], weights[1][0]):
        np.testing.assert_array_equal(a, b)
    assert weights[0][1] == weights[1][1]
    assert weights[0][1][-1] < weights[0][1][0]


@pytest.mark.parametrize("optimizer,params,lr", [("sgd", {"momentum": 0.9}, 0.05), ("sgd", {}, 0.1),
                                                 ("adam", {}, 0.01)])
def test_numpy_path_keeps_pytorch_parity(accelerator, optimizer, params, lr):
    engine.use_accelerator(False)
    assert fused.kernel("adam", np.float64) is None
    test_engine_torch.test_twenty_steps_equal_pytorch(optimizer, params, lr)


def test_switch(accelerator, monkeypatch):
    fused._choice = None
    monkeypatch.setenv(fused.ENV, "numpy")
    assert fused.kernel("adam", np.float32) is None
    assert "switched off" in fused.active()
    monkeypatch.setenv(fused.ENV, "auto")
    assert fused.kernel("adam", np.float32) is not None
    assert fused.kernel("adam", np.int64) is None
    assert fused.active().startswith("Numba")
    monkeypatch.setenv(fused.ENV, "fast")
    with pytest.raises(ValueError, match="BACKPROP_ACCELERATOR must be one of auto, numba, numpy"):
        fused.choice()
    with pytest.raises(ValueError, match="use_accelerator takes True, False or one of"):
        engine.use_accelerator("gpu")
