"""Every wrong argument raises a ValueError that names the argument and the rule."""
import numpy as np
import pytest

from engine import FFNN, Sequential
from engine.layers import Dense


def ok(**over):
    kw = dict(layer_sizes=[2, 3, 2], activations=["relu", "softmax"], loss="cce")
    kw.update(over)
    return kw


@pytest.mark.parametrize("over,message", [
    (dict(activations=["relu", "softplus"]), r"activations\[1\] must be one of .*softmax.* \(got 'softplus'\)"),
    (dict(activations=["relu"]), r"activations must give one activation per layer after the input \(2\), got 1"),
    (dict(loss="hinge"), r"loss must be one of mse, bce, cce \(got 'hinge'\)"),
    (dict(init="glorot"), r"init must be one of zeros, uniform, normal, xavier, he.* \(got 'glorot'\)"),
    (dict(init="uniform", init_params={"low": 1, "high": 0}), r"low must be less than high"),
    (dict(init="normal", init_params={"variance": -1}), r"variance must be at least 0"),
    (dict(init="normal", init_params={"std": 1}), r"init_params for 'normal' accepts .*mean.* \(got unknown std\)"),
    (dict(init_params={"seed": -3}), r"seed must be a non-negative integer"),
    (dict(optimizer="rmsprop"), r"optimizer must be one of sgd, adam \(got 'rmsprop'\)"),
    (dict(optimizer="adam", optimizer_params={"beta1": 1.5}), r"beta1 must be in \[0, 1\)"),
    (dict(optimizer="sgd", optimizer_params={"nesterov": True}), r"accepts momentum \(got unknown nesterov\)"),
    (dict(layer_sizes=[2, -3, 2]), r"layer_sizes\[1\] must be a positive integer \(got -3\)"),
    (dict(layer_sizes=[2]), r"layer_sizes must list at least an input and an output size"),
    (dict(l1=-0.1), r"l1 must be a number of at least 0 \(got -0.1\)"),
    (dict(l2=float("nan")), r"l2 must be a number of at least 0"),
    (dict(dtype="float16"), r"dtype must be one of float32, float64"),
])
def test_constructor_rules(over, message):
    with pytest.raises(ValueError, match=message):
        FFNN(**ok(**over))


X = np.zeros((4, 2), np.float32)
y = np.array([0, 1, 1, 0])


@pytest.mark.parametrize("args,kwargs,message", [
    ((np.zeros((4, 3)), y), {}, r"X must have shape \(n_samples, 2\) to match the input layer \(got \(4, 3\)\)"),
    ((X, y[:3]), {}, r"Y must have one row per sample of X \(4\), got 3"),
    ((X, np.array([0, 1, 2, 0])), {}, r"Y labels must be between 0 and 1 for 2 output units"),
    ((X, np.zeros((4, 3))), {}, r"Y must have shape \(n_samples, 2\) \(one-hot\) or \(n_samples,\) integer labels"),
    ((np.array([[0, np.nan]] * 4), y), {}, r"X must contain only finite numbers \(found nan at index \(0, 1\)\)"),
    ((np.array([["a", "b"]] * 4), y), {}, r"X must be a numeric array"),
    ((X, np.array([0.5, 1, 1, 0])), {}, r"Y as class labels must be whole numbers"),
    ((X, y), {"batch_size": 0}, r"batch_size must be a positive integer \(got 0\)"),
    ((X, y), {"learning_rate": -1}, r"learning_rate must be a number greater than 0 \(got -1\)"),
    ((X, y), {"epochs": -2}, r"epochs must be a non-negative integer \(got -2\)"),
    ((X, y), {"verbose": 2}, r"verbose must be 0 \(silent\) or 1 \(progress bar\)"),
    ((X, y), {"validation_data": (X,)}, r"validation_data must be a pair"),
    ((X, y), {"validation_data": (np.zeros((2, 5)), y[:2])}, r"validation_data X must have shape"),
    ((X, y), {"error_threshold": -1}, r"error_threshold must be None or a number of at least 0"),
    ((X, y), {"callbacks": [3]}, r"callbacks\[0\] must be callable"),
    ((X, y), {"seed": "x"}, r"seed must be a non-negative integer or None"),
])
def test_fit_rules(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        FFNN(**ok()).fit(*args, **{"verbose": 0, **kwargs})


def test_bce_targets_must_be_probabilities():
    m = FFNN([2, 1], ["sigmoid"], loss="bce")
    with pytest.raises(ValueError, match="Y for loss 'bce' must lie between 0 and 1"):
        m.fit(X, np.array([0, 2, 1, 0]), verbose=0)


def test_backward_before_forward_is_explained():
    with pytest.raises(ValueError, match=r"backward needs a forward pass first"):
        FFNN(**ok()).backward(y)


def test_step_learning_rate_rule():
    with pytest.raises(ValueError, match=r"learning_rate must be a number greater than 0 \(got 0\)"):
        FFNN(**ok()).step(0)


def test_assigning_weights_of_the_wrong_shape_is_refused():
    m = FFNN(**ok())
    with pytest.raises(ValueError, match=r"Dense.W must have shape \(2, 3\) \(got \(3, 3\)\)"):
        m.layers[0].W = np.zeros((3, 3))
    m.layers[0].W = np.ones((2, 3))
    assert m.layers[0].W.sum() == 6 and m._flat_params[:6].sum() == 6


def test_sequential_rules():
    with pytest.raises(ValueError, match="layers must be a non-empty list"):
        Sequential([], input_shape=(2,))
    with pytest.raises(ValueError, match=r"input_shape must be a tuple of positive integers"):
        Sequential([Dense(2)], input_shape=(0,))
    with pytest.raises(ValueError, match=r"units must be a positive integer \(got 0\)"):
        Dense(0)
    with pytest.raises(ValueError, match=r"layers\[1\] must be a layer"):
        Sequential([Dense(2), "dense"], input_shape=(2,))


def test_plot_layer_index_rule():
    import viz

    with pytest.raises(ValueError, match=r"layers must hold layer indices from 0 to 1 \(got 5\)"):
        viz.plot_weight_distribution(FFNN(**ok()), [5])
    with pytest.raises(ValueError, match=r"layers must hold layer indices from 0 to 1 \(got True\)"):
        viz.plot_gradient_distribution(FFNN(**ok()), [True])
