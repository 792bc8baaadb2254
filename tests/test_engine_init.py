"""Initialisers: zeros, uniform, normal, Xavier and He give what their definitions say."""
import numpy as np
import pytest

from engine import FFNN


def weights(init, params=None, sizes=(400, 300, 10)):
    return FFNN(list(sizes), ["relu", "softmax"], loss="cce", init=init, init_params=params or {},
                dtype="float64").layers[0]


def test_zeros_are_zero():
    layer = weights("zeros")
    assert not layer.W.any() and not layer.b.any()


def test_uniform_stays_in_bounds_and_repeats_with_its_seed():
    a = weights("uniform", {"low": -0.3, "high": 0.7, "seed": 5})
    assert a.W.min() >= -0.3 and a.W.max() < 0.7
    assert a.W.min() < -0.29 and a.W.max() > 0.69  # it fills the interval
    assert abs(a.W.mean() - 0.2) < 0.01
    b = weights("uniform", {"low": -0.3, "high": 0.7, "seed": 5})
    c = weights("uniform", {"low": -0.3, "high": 0.7, "seed": 6})
    assert np.array_equal(a.W, b.W) and np.array_equal(a.b, b.b)
    assert not np.array_equal(a.W, c.W)


def test_normal_matches_mean_and_variance():
    layer = weights("normal", {"mean": 0.5, "variance": 0.04, "seed": 1})
    n = layer.W.size
    # Sample mean within 5 standard errors; sample variance within 5 of its standard errors.
    assert abs(layer.W.mean() - 0.5) < 5 * np.sqrt(0.04 / n)
    assert abs(layer.W.var() - 0.04) < 5 * 0.04 * np.sqrt(2 / n)


@pytest.mark.parametrize("init,variance", [
    ("xavier", lambda fan_in, fan_out: 2 / (fan_in + fan_out)),  # Glorot & Bengio (2010)
    ("he", lambda fan_in, fan_out: 2 / fan_in),                   # He et al. (2015)
])
def test_scaled_initialisers_have_their_papers_variance(init, variance):
    layer = weights(init, {"seed": 3})
    expected = variance(400, 300)
    assert abs(layer.W.mean()) < 5 * np.sqrt(expected / layer.W.size)
    assert abs(layer.W.var() / expected - 1) < 0.02
    assert not layer.b.any()


def test_xavier_is_uniform_within_its_limit():
    layer = weights("xavier", {"seed": 3})
    limit = np.sqrt(6 / 700)
    assert layer.W.max() <= limit and layer.W.min() >= -limit and layer.W.max() > 0.99 * limit
