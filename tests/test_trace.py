"""engine.trace.trace_sample: one sample's forward values and gradients.

References, each computed without the trace: the engine's public API run on the
sample alone (``layer_outputs``, ``forward``/``backward``, ``grad_*``), PyTorch
autograd in float64 (dense stacks: z, a, dL/da, dL/dz, dL/dW, dL/db, dL/dg, dL/dx)
and central finite differences (conv and recurrent stacks). Then: the model is
left as it was, and bad arguments raise ValueErrors that say what is wanted."""
from __future__ import annotations

import numpy as np
import pytest

from engine import (LSTM, AvgPool2D, Bidirectional, Conv2D, Dense, Dropout, Embedding, FFNN, Flatten,
                    GlobalAvgPool2D, MaxPool2D, Sequential, SimpleRNN)
from engine.trace import trace_sample
from helpers import relative_error

torch = pytest.importorskip("torch", reason="torch==2.13.0 is in requirements-test.txt")
import torch.nn.functional as F  # noqa: E402

TORCH_ACT = {
    "linear": lambda z: z, "relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
    "softmax": lambda z: torch.softmax(z, dim=-1), "leaky_relu": lambda z: F.leaky_relu(z, 0.01),
    "elu": F.elu, "swish": F.silu, "gelu": F.gelu,
}
TOL = 1e-9


def _randomize(model, seed):
    """Weights and biases away from their initial values (non-zero biases, gains)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        for name in layer.param_names:
            value = getattr(layer, name)
            value[...] = (1.0 if name == "g" else 0.0) + rng.normal(scale=0.6, size=value.shape)


def _target(loss, k, rng, label=True):
    if loss == "cce":
        c = int(rng.integers(k))
        return c if label else np.eye(k)[c]
    if loss == "bce":
        return (rng.uniform(size=k) > 0.5).astype(np.float64)
    return rng.normal(size=k)


def _engine_target(model, y):
    """``y`` as one batch row for the public API."""
    y = np.asarray(y)
    return y.reshape(1) if y.ndim == 0 and model.loss == "cce" else y.reshape((1,) + model.output_shape)


# -- dense stacks against PyTorch ------------------------------------------------------------------
DENSE_CASES = {
    "relu-softmax-cce-l1l2": (lambda: [Dense(5, "relu"), Dense(3, "softmax")], 4, "cce", {"l1": 0.01, "l2": 0.02}),
    "tanh-sigmoid-bce": (lambda: [Dense(6, "tanh"), Dense(5, "tanh"), Dense(2, "sigmoid")], 4, "bce", {"l2": 0.003}),
    "sigmoid-linear-mse": (lambda: [Dense(5, "sigmoid"), Dense(3, "linear")], 4, "mse", {}),
    "rmsnorm-gelu-elu-softmax": (lambda: [Dense(6, "gelu", rmsnorm=True), Dense(5, "elu", rmsnorm=True),
                                          Dense(3, "softmax")], 4, "cce", {"l1": 0.002}),
    "dropout-leaky-swish": (lambda: [Dense(6, "leaky_relu"), Dropout(0.5), Dense(4, "swish"), Dropout(0.3),
                                     Dense(3, "softmax")], 4, "cce", {}),
    "softmax-mse": (lambda: [Dense(5, "tanh"), Dense(3, "softmax")], 4, "mse", {"l2": 0.01}),
    "sigmoid-cce-unfused": (lambda: [Dense(5, "relu"), Dense(3, "sigmoid")], 4, "cce", {}),
    "softmax-bce-unfused": (lambda: [Dense(5, "swish"), Dense(3, "softmax")], 4, "bce", {"l1": 0.01}),
    "single-output-mse": (lambda: [Dense(4, "elu"), Dense(1, "linear")], 3, "mse", {"l1": 0.01, "l2": 0.01}),
}


def dense_model(case, seed=0):
    make, n_in, loss, extra = DENSE_CASES[case]
    model = Sequential(make(), (n_in,), loss=loss, dtype="float64", seed=seed, **extra)
    _randomize(model, seed)
    return model


def torch_reference(model, x, y):
    """The same stack in PyTorch (Dropout as the identity), float64: per layer the
    tensors of its input, z and a with their gradients, and the parameter gradients."""
    h = torch.tensor(x, requires_grad=True)
    h.retain_grad()
    layers, penalty = [], 0.0
    for layer in model.layers:
        if isinstance(layer, Dropout):
            layers.append({"input": h, "a": h, "params": {}})
            continue
        params = {n: torch.tensor(np.array(getattr(layer, n)), requires_grad=True) for n in layer.param_names}
        z = h @ params["W"] + params["b"]
        if layer.rmsnorm:
            z = z / torch.sqrt(torch.mean(z * z) + 1e-8) * params["g"]
        a = TORCH_ACT[layer.activation](z)
        z.retain_grad()
        a.retain_grad()
        layers.append({"input": h, "z": z, "a": a, "params": params})
        penalty = penalty + model.l1 * params["W"].abs().sum() + model.l2 * (params["W"] ** 2).sum()
        h = a
    Y = torch.tensor(y)
    if model.loss == "mse":
        data = F.mse_loss(h, Y)
    elif model.loss == "bce":
        data = F.binary_cross_entropy(h, Y)
    else:
        data = -(Y * torch.log(h)).sum()
    total = data + penalty
    total.backward()
    return data.item(), float(penalty.detach()) if torch.is_tensor(penalty) else penalty, layers


@pytest.mark.parametrize("case", list(DENSE_CASES))
def test_dense_trace_equals_pytorch(case):
    model = dense_model(case)
    rng = np.random.default_rng(1)
    x = rng.normal(size=model.input_shape)
    y = _target(model.loss, model.output_shape[0], rng)
    t = trace_sample(model, x, y)
    y_vec = np.asarray(t["target"])
    data, penalty, ref = torch_reference(model, x, y_vec)
    assert abs(t["data_loss"] - data) <= TOL * max(1, abs(data))
    assert abs(t["penalty"] - penalty) <= TOL * max(1, abs(penalty))
    assert abs(t["value"] - (data + penalty)) <= TOL * max(1, abs(data + penalty))
    for rec, r in zip(t["layers"], ref):
        assert relative_error(rec["input"], r["input"].detach().numpy()) < TOL
        assert relative_error(rec["a"], r["a"].detach().numpy()) < TOL
        assert relative_error(rec["dL_da"], r["a"].grad.numpy()) < TOL, f"layer {rec['index']} dL/da"
        assert relative_error(rec["dL_dinput"], r["input"].grad.numpy()) < TOL, f"layer {rec['index']} dL/dx"
        if "z" in r:
            assert relative_error(rec["z"], r["z"].detach().numpy()) < TOL
            assert relative_error(rec["dL_dz"], r["z"].grad.numpy()) < TOL, f"layer {rec['index']} dL/dz"
        else:
            assert rec["z"] is None and rec["dL_dz"] is None
        assert sorted(rec["grads"]) == sorted(r["params"])
        for name, p in r["params"].items():
            assert relative_error(rec["grads"][name], p.grad.numpy()) < TOL, f"layer {rec['index']} dL/d{name}"
            assert np.array_equal(rec["params"][name], getattr(model.layers[rec["index"]], name))
    assert relative_error(t["output"], ref[-1]["a"].detach().numpy()) < TOL
    assert relative_error(t["dL_doutput"], ref[-1]["a"].grad.numpy()) < TOL
    assert relative_error(t["dL_dlogits"], ref[-1]["z"].grad.numpy()) < TOL


@pytest.mark.parametrize("activation", ["linear", "relu", "sigmoid", "tanh", "softmax", "leaky_relu", "elu",
                                        "swish", "gelu"])
def test_every_hidden_activation_equals_pytorch(activation):
    model = Sequential([Dense(5, activation), Dense(2, "sigmoid")], (3,), loss="bce", dtype="float64", seed=2)
    _randomize(model, 3)
    x, y = np.array([0.3, -1.2, 0.8]), np.array([1.0, 0.0])
    t = trace_sample(model, x, y)
    _, _, ref = torch_reference(model, x, y)
    assert t["layers"][0]["activation"] == activation
    for key, tensor, grad in (("z", "z", False), ("a", "a", False), ("dL_da", "a", True), ("dL_dz", "z", True)):
        expected = ref[0][tensor].grad if grad else ref[0][tensor].detach()
        assert relative_error(t["layers"][0][key], expected.numpy()) < TOL, key
    assert relative_error(t["layers"][0]["grads"]["W"], ref[0]["params"]["W"].grad.numpy()) < TOL


def test_fused_outputs_give_both_gradients():
    """softmax + cce: dL/dz = p − y and dL/dp = −y/p; sigmoid + bce: p − y and (p − y)/(p(1 − p))."""
    model = dense_model("relu-softmax-cce-l1l2")
    t = trace_sample(model, np.array([0.2, -0.4, 1.0, 0.5]), 2)
    p, y = t["output"], t["target"]
    np.testing.assert_array_equal(y, [0.0, 0.0, 1.0])
    np.testing.assert_allclose(t["dL_dlogits"], p - y, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(t["dL_doutput"], -y / p, rtol=1e-12, atol=1e-15)
    assert abs(t["data_loss"] + np.log(p[2])) < 1e-12

    model = Sequential([Dense(3, "tanh"), Dense(1, "sigmoid")], (2,), loss="bce", dtype="float64", seed=0)
    t = trace_sample(model, [0.5, 0.5], 1.0)
    p = t["output"][0]
    np.testing.assert_allclose(t["dL_dlogits"], [p - 1], rtol=1e-12)
    np.testing.assert_allclose(t["dL_doutput"], [(p - 1) / (p * (1 - p))], rtol=1e-10)


# -- the engine's public API on the sample alone -----------------------------------------------------
def conv_model():
    model = Sequential([Conv2D(2, 3, activation="tanh"), MaxPool2D(2), Conv2D(3, 2, padding="same",
                                                                           activation="relu"),
                        AvgPool2D(2, strides=1, padding="same"), Flatten(), Dense(4, "elu"), Dense(3, "softmax")],
                       (7, 7, 1), loss="cce", dtype="float64", seed=0, l2=0.01)
    _randomize(model, 4)
    return model


def conv_gap_model():
    model = Sequential([Conv2D(3, 2, activation="swish"), GlobalAvgPool2D(), Dense(2, "linear")],
                       (5, 4, 2), loss="mse", dtype="float64", seed=0, l1=0.003)
    _randomize(model, 5)
    return model


def rnn_model():
    model = Sequential([LSTM(4, return_sequences=True), SimpleRNN(3), Dense(2, "softmax")], (5, 3),
                       loss="cce", dtype="float64", seed=0, l2=0.005)
    _randomize(model, 6)
    return model


def text_model():
    model = Sequential([Embedding(9, 4, mask_zero=True), Bidirectional(LSTM(3, return_sequences=True)),
                        Dropout(0.4), Bidirectional(SimpleRNN(2), merge_mode="sum"), Dense(1, "sigmoid")],
                       (6,), loss="bce", dtype="float64", seed=0)
    _randomize(model, 7)
    return model


def _sample(model, rng):
    if model.layers[0].takes == "tokens":
        return np.array([3, 1, 7, 2, 0, 0], dtype=np.float64)
    return rng.normal(size=model.input_shape)


STACKS = {"conv": conv_model, "conv-gap": conv_gap_model, "rnn": rnn_model, "text": text_model,
          **{case: (lambda case=case: dense_model(case)) for case in DENSE_CASES}}


def _traced(stack: str, seed: int):
    """A model of ``STACKS``, a random sample and target for it, their trace, and the random
    generator they came from (for what the test draws next)."""
    model = STACKS[stack]()
    rng = np.random.default_rng(seed)
    x = _sample(model, rng)
    y = _target(model.loss, model.output_shape[0], rng)
    return model, x, y, trace_sample(model, x, y), rng


@pytest.mark.parametrize("stack", list(STACKS))
def test_trace_equals_the_public_api_on_the_sample_alone(stack):
    model, x, y, t, _ = _traced(stack, 8)

    outputs = model.layer_outputs(x[None])
    training = any(isinstance(l, (Conv2D, MaxPool2D)) for l in model.layers)   # no Dropout in those stacks
    model.forward(x[None], training=training)
    value = model.backward(_engine_target(model, y))
    assert abs(t["value"] - value) <= 1e-12 * max(1, abs(value))
    assert len(t["layers"]) == len(model.layers)
    for k, (rec, layer, out) in enumerate(zip(t["layers"], model.layers, outputs)):
        assert rec["index"] == k and rec["type"] == type(layer).__name__
        np.testing.assert_allclose(rec["a"], out[0], rtol=1e-12, atol=1e-14)
        assert rec["a"].dtype == np.float64 and rec["a"].shape == layer.output_shape
        assert rec["input"].shape == layer.input_shape
        for name in layer.param_names:
            np.testing.assert_allclose(rec["grads"][name], getattr(layer, "grad_" + name), rtol=1e-12, atol=1e-14,
                                       err_msg=f"layer {k} {name}")
        if k + 1 < len(model.layers):       # the layers chain: one's output is the next one's input
            np.testing.assert_array_equal(rec["a"], t["layers"][k + 1]["input"])
            np.testing.assert_array_equal(rec["dL_da"], t["layers"][k + 1]["dL_dinput"])
        has_z = type(layer).__name__ in ("Dense", "Conv2D")
        assert (rec["z"] is not None) == has_z and (rec["dL_dz"] is not None) == has_z
    np.testing.assert_array_equal(t["output"], t["layers"][-1]["a"])
    np.testing.assert_array_equal(t["dL_doutput"], t["layers"][-1]["dL_da"])


def _total_loss(model, x, y):
    model.forward(x[None], training=False) if not any(isinstance(l, Conv2D) for l in model.layers) \
        else model.forward(x[None], training=True)
    return model.backward(_engine_target(model, y))


@pytest.mark.parametrize("stack", ["conv", "conv-gap", "rnn", "text"])
def test_conv_and_recurrent_gradients_by_finite_differences(stack):
    """dL/dparam for every parameter (a sample of entries) and dL/dx, from the loss alone."""
    model, x, y, t, rng = _traced(stack, 9)
    eps = 1e-6
    for k, layer in enumerate(model.layers):
        for name in layer.param_names:
            values = getattr(layer, name)
            picks = rng.choice(values.size, size=min(6, values.size), replace=False)
            for flat in picks:
                idx = np.unravel_index(flat, values.shape)
                old = values[idx]
                values[idx] = old + eps
                up = _total_loss(model, x, y)
                values[idx] = old - eps
                down = _total_loss(model, x, y)
                values[idx] = old
                numeric = (up - down) / (2 * eps)
                assert abs(numeric - t["layers"][k]["grads"][name][idx]) < 1e-6 * max(1, abs(numeric)), \
                    f"layer {k} {name}{idx}"
    if model.layers[0].takes == "tokens":
        np.testing.assert_array_equal(t["layers"][0]["dL_dinput"], np.zeros(6))
        return
    for flat in rng.choice(x.size, size=min(8, x.size), replace=False):
        idx = np.unravel_index(flat, x.shape)
        xp, xm = x.copy(), x.copy()
        xp[idx] += eps
        xm[idx] -= eps
        numeric = (_total_loss(model, xp, y) - _total_loss(model, xm, y)) / (2 * eps)
        assert abs(numeric - t["layers"][0]["dL_dinput"][idx]) < 1e-6 * max(1, abs(numeric)), f"dL/dx{idx}"


# -- the model is left as it was ------------------------------------------------------------------------
@pytest.mark.parametrize("stack", ["dropout-leaky-swish", "rmsnorm-gelu-elu-softmax", "conv", "rnn", "text"])
def test_tracing_leaves_the_model_as_it_was(stack):
    model, twin = STACKS[stack](), STACKS[stack]()
    rng = np.random.default_rng(10)
    X = np.stack([_sample(model, rng) for _ in range(6)])
    if model.layers[0].takes == "tokens":
        X = rng.integers(0, 9, size=(6, 6)).astype(np.float64)
    Y = np.array([_target(model.loss, model.output_shape[0], rng, label=False) for _ in range(6)])
    for m in (model, twin):
        m.forward(X, training=True)
        m.backward(Y)
    grads = model._flat_grads.copy()
    params = model._flat_params.copy()
    snap = model.snapshot()

    for i in range(3):
        trace_sample(model, X[i], Y[i])

    np.testing.assert_array_equal(model._flat_grads, grads)
    np.testing.assert_array_equal(model._flat_params, params)
    after = model.snapshot()
    for a, b in zip(snap["layers"], after["layers"]):
        for name in a["grads"]:
            np.testing.assert_array_equal(a["grads"][name], b["grads"][name])
    # The layers still hold the batch's forward pass: backward again gives the batch's gradients.
    model.backward(Y)
    np.testing.assert_array_equal(model._flat_grads, grads)
    # Dropout masks come from untouched generators: the next training pass draws the twin's masks.
    np.testing.assert_array_equal(model.forward(X, training=True), twin.forward(X, training=True))


def test_a_failing_trace_leaves_the_model_as_it_was():
    model = text_model()
    X = np.array([[3, 1, 7, 2, 0, 0], [1, 1, 2, 0, 0, 0]], dtype=np.float64)
    model.forward(X)
    model.backward([1.0, 0.0])
    grads = model._flat_grads.copy()
    with pytest.raises(ValueError, match=r"token ids must lie in \[0, 9\)"):
        trace_sample(model, [3, 1, 99, 2, 0, 0], 1.0)
    np.testing.assert_array_equal(model._flat_grads, grads)
    model.backward([1.0, 0.0])
    np.testing.assert_array_equal(model._flat_grads, grads)


def test_float32_models_are_traced_in_float32_and_returned_as_float64():
    m64 = FFNN([3, 4, 2], ["tanh", "softmax"], loss="cce", dtype="float64", init_params={"seed": 1})
    m32 = FFNN([3, 4, 2], ["tanh", "softmax"], loss="cce", dtype="float32", init_params={"seed": 1})
    m32._flat_params[...] = m64._flat_params
    x = np.array([0.1, -0.7, 1.3])
    t32, t64 = trace_sample(m32, x, 1), trace_sample(m64, x, 1)
    for key in ("output", "dL_doutput", "dL_dlogits"):
        assert t32[key].dtype == np.float64
        np.testing.assert_allclose(t32[key], t64[key], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(t32["layers"][0]["grads"]["W"], t64["layers"][0]["grads"]["W"], rtol=1e-4,
                               atol=1e-6)


# -- forms of x and y, formulas --------------------------------------------------------------------------------
def test_equivalent_forms_of_x_and_y_give_the_same_trace():
    model = dense_model("relu-softmax-cce-l1l2")
    x = np.array([0.5, -0.1, 0.2, 0.9])
    ref = trace_sample(model, x, 1)
    for xs, ys in ((x[None], 1), (x.tolist(), np.int64(1)), (x, [1]), (x, np.array([0.0, 1.0, 0.0])),
                   (x, [[0, 1, 0]]), (x, 1.0)):
        t = trace_sample(model, xs, ys)
        assert t["value"] == ref["value"]
        np.testing.assert_array_equal(t["layers"][0]["grads"]["W"], ref["layers"][0]["grads"]["W"])
    single = dense_model("single-output-mse")
    a = trace_sample(single, [1.0, 2.0, 3.0], 0.5)
    for ys in ([0.5], [[0.5]], np.float32(0.5)):
        assert trace_sample(single, [1.0, 2.0, 3.0], ys)["value"] == a["value"]


def test_the_returned_arrays_are_copies():
    model = dense_model("tanh-sigmoid-bce")
    x = np.array([0.5, -0.1, 0.2, 0.9])
    t = trace_sample(model, x, [1.0, 0.0])
    t["layers"][0]["params"]["W"][...] = 0
    t["layers"][0]["grads"]["W"][...] = 0
    t["layers"][0]["input"][...] = 0
    assert np.abs(model.layers[0].W).sum() > 0
    assert trace_sample(model, x, [1.0, 0.0])["layers"][0]["grads"]["W"].any()
    np.testing.assert_array_equal(x, [0.5, -0.1, 0.2, 0.9])


def test_formulas_plug_in_the_sample_numbers():
    model = dense_model("relu-softmax-cce-l1l2")
    t = trace_sample(model, np.array([0.5, -0.1, 0.2, 0.9]), 1)
    p, L, pen = t["output"], t["data_loss"], t["penalty"]
    assert t["formula"]["loss"] == (f"L = −log p[1] = −log {p[1]:.4g} = {L:.4g} + penalty {pen:.4g} "
                                    f"= {L + pen:.4g}").replace("-", "−")
    g = p - t["target"]
    assert t["formula"]["gradient"] == ("dL/dz = p − y = [" + ", ".join(f"{v:.4g}" for v in g) + "]").replace("-", "−")

    model = Sequential([Dense(1, "linear")], (1,), loss="mse", dtype="float64")
    model.layers[0].W = [[2.0]]
    model.layers[0].b = [0.5]
    t = trace_sample(model, [1.0], 3.0)                       # p = 2.5, L = 0.25, dL/dp = -1
    assert t["formula"] == {"loss": "L = (p − y)² = (2.5 − 3)² = 0.25", "gradient": "dL/dp = 2·(p − y) = [−1]"}

    model = Sequential([Dense(1, "sigmoid")], (1,), loss="bce", dtype="float64")
    model.layers[0].W = [[0.0]]
    t = trace_sample(model, [1.0], 0.0)                       # p = 0.5
    assert t["formula"] == {"loss": "L = −log(1 − p) = −log(1 − 0.5) = 0.6931", "gradient": "dL/dz = p − y = [0.5]"}


# -- bad arguments -------------------------------------------------------------------------------------------------
BAD = [
    (lambda m: (m, [1.0, 2.0], 0), r"x must be one sample of shape \(4,\) \(or \(1, 4\) with a batch axis of 1\), "
                                   r"got shape \(2,\)"),
    (lambda m: (m, np.zeros((2, 4)), 0), r"x must be one sample of shape \(4,\).*got shape \(2, 4\)"),
    (lambda m: (m, [1.0, np.nan, 0, 0], 0), r"x must contain only finite numbers"),
    (lambda m: (m, ["a", "b", "c", "d"], 0), r"x must be a numeric array"),
    (lambda m: (m, np.zeros(4), 3), r"y as a class label must be between 0 and 2 for 3 output units \(got 3\)"),
    (lambda m: (m, np.zeros(4), -1), r"y as a class label must be between 0 and 2"),
    (lambda m: (m, np.zeros(4), 1.5), r"y as a class label must be a whole number between 0 and 2"),
    (lambda m: (m, np.zeros(4), True), r"y as a class label must be an integer"),
    (lambda m: (m, np.zeros(4), [0, 1]), r"y must be a class label \(0 to 2\) or a one-hot target of shape \(3,\) "
                                         r"to match the output layer, got shape \(2,\)"),
    (lambda m: (m, np.zeros(4), [0, np.inf, 0]), r"y must contain only finite numbers"),
    (lambda m: ("not a model", np.zeros(4), 0), r"model must be an engine Sequential \(got str\)"),
]


@pytest.mark.parametrize("make,match", BAD)
def test_bad_arguments_raise_value_errors_that_say_the_rule(make, match):
    model = dense_model("relu-softmax-cce-l1l2")
    with pytest.raises(ValueError, match=match):
        trace_sample(*make(model))


def test_bad_targets_for_regression_and_bce():
    with pytest.raises(ValueError, match=r"y must be a target of shape \(3,\) to match the output layer, "
                                         r"got shape \(2,\)"):
        trace_sample(dense_model("sigmoid-linear-mse"), np.zeros(4), [1.0, 2.0])
    with pytest.raises(ValueError, match=r"y must be a target of shape \(1,\) or a number"):
        trace_sample(dense_model("single-output-mse"), np.zeros(3), [1.0, 2.0])
    with pytest.raises(ValueError, match=r"y for loss 'bce' must lie between 0 and 1"):
        trace_sample(dense_model("tanh-sigmoid-bce"), np.zeros(4), [1.0, 2.0])
    with pytest.raises(ValueError, match=r"x must be one sample of shape \(5, 3\)"):
        trace_sample(rnn_model(), np.zeros((3, 5)), 0)
