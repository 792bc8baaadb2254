"""viz.trace: the network graph in trace and step mode, the step table and the readout.

The main case is a 2-2-1 network small enough to work out by hand:

    x = [2, 1], W1 = [[0.5, -1], [0.25, 2]], b1 = [0.1, -0.2], ReLU
    z1 = [2·0.5 + 1·0.25 + 0.1, 2·(-1) + 1·2 - 0.2] = [1.35, -0.2], a1 = [1.35, 0]
    W2 = [[2], [0.5]], b2 = [-0.5], linear: z2 = a2 = 1.35·2 + 0·0.5 - 0.5 = 2.2
    mse with y = 1: L = 1.2² = 1.44, dL/da2 = dL/dz2 = 2·1.2 = 2.4
    dL/dW2 = a1ᵀ·2.4 = [[3.24], [0]], dL/db2 = 2.4
    dL/da1 = 2.4·W2ᵀ = [4.8, 1.2], dL/dz1 = [4.8, 0] (ReLU is flat at -0.2)
    dL/dW1 = xᵀ·dL/dz1 = [[9.6, 0], [4.8, 0]], dL/db1 = [4.8, 0], dL/dx = dL/dz1·W1ᵀ = [2.4, 1.2]
"""
from __future__ import annotations

import copy

import numpy as np
import pytest

from engine import Conv2D, Dense, Dropout, FFNN, Flatten, Sequential
from engine.trace import trace_sample
from viz.network import graph_stylesheet, graph_view
from viz.trace import readout, step_elements, step_table, trace_elements, trace_stylesheet

X = np.array([2.0, 1.0])
Y = 1.0


def hand_model(optimizer="sgd", optimizer_params=None):
    model = Sequential([Dense(2, "relu"), Dense(1, "linear")], (2,), loss="mse", dtype="float64",
                       optimizer=optimizer, optimizer_params=optimizer_params)
    model.layers[0].W = [[0.5, -1.0], [0.25, 2.0]]
    model.layers[0].b = [0.1, -0.2]
    model.layers[1].W = [[2.0], [0.5]]
    model.layers[1].b = [-0.5]
    return model


@pytest.fixture
def hand():
    model = hand_model()
    snapshot = model.snapshot()
    snapshot["dataset"] = {"feature_names": ["height", "weight"], "class_names": ["score"]}
    return model, snapshot, graph_view(snapshot)["elements"], trace_sample(model, X, Y)


def by_id(elements):
    return {e["data"]["id"]: e for e in elements}


def test_forward_labels_and_strengths_by_hand(hand):
    _, snapshot, elements, trace = hand
    original = copy.deepcopy(elements)
    el = by_id(trace_elements(elements, snapshot, trace, "forward"))
    assert elements == original, "the given elements must not change"
    assert el["n0-0"]["data"]["label"] == "height = 2"
    assert el["n0-1"]["data"]["label"] == "weight = 1"
    assert el["n1-0"]["data"]["label"] == "z = 1.35\na = 1.35"
    assert el["n1-1"]["data"]["label"] == "z = -0.2\na = 0"
    assert el["n2-0"]["data"]["label"] == "z = 2.2\na = 2.2"
    assert el["w1-0-0"]["data"]["label"] == "w·a = 1\nw = 0.5"
    assert el["w1-1-0"]["data"]["label"] == "w·a = 0.25\nw = 0.25"
    assert el["w1-0-1"]["data"]["label"] == "w·a = -2\nw = -1"
    assert el["w1-1-1"]["data"]["label"] == "w·a = 2\nw = 2"
    assert el["w2-0-0"]["data"]["label"] == "w·a = 2.7\nw = 2"
    assert el["w2-1-0"]["data"]["label"] == "w·a = 0\nw = 0.5"
    assert el["b1-0"]["data"]["label"] == "b = 0.1"
    assert el["b2-0"]["data"]["label"] == "b = -0.5"
    # |contribution| over the largest in the layer pair: 2 between input and layer 1, 2.7 after it.
    strengths = {"w1-0-0": 0.5, "w1-1-0": 0.125, "w1-0-1": 1.0, "w1-1-1": 1.0, "b1-0": 0.05, "b1-1": 0.1,
                 "w2-0-0": 1.0, "w2-1-0": 0.0, "b2-0": 0.5 / 2.7}
    for eid, strength in strengths.items():
        assert el[eid]["data"]["strength"] == pytest.approx(strength, abs=1e-12), eid
    assert el["w1-0-1"]["data"]["sign"] == -1 and el["w1-0-0"]["data"]["sign"] == 1
    assert el["w2-1-0"]["data"]["sign"] == 0
    assert el["n1-1"]["data"]["sign"] == 0 and el["n1-0"]["data"]["sign"] == 1
    for eid in ("n0-0", "n1-0", "n2-0", "w1-0-0", "b2-0", "bias1"):
        assert "traced" in el[eid]["classes"].split()
    assert "neuron" in el["n1-0"]["classes"].split(), "the graph's own classes stay"
    assert el["title1"] == by_id(original)["title1"]


def test_backward_labels_and_strengths_by_hand(hand):
    _, snapshot, elements, trace = hand
    el = by_id(trace_elements(elements, snapshot, trace, "backward"))
    assert el["n2-0"]["data"]["label"] == "dL/da = 2.4\ndL/dz = 2.4"
    assert el["n1-0"]["data"]["label"] == "dL/da = 4.8\ndL/dz = 4.8"
    assert el["n1-1"]["data"]["label"] == "dL/da = 1.2\ndL/dz = 0"
    assert el["n0-0"]["data"]["label"] == "dL/dx = 2.4"
    assert el["n0-1"]["data"]["label"] == "dL/dx = 1.2"
    labels = {"w1-0-0": "dL/dw = 9.6", "w1-1-0": "dL/dw = 4.8", "w1-0-1": "dL/dw = 0", "w1-1-1": "dL/dw = 0",
              "b1-0": "dL/db = 4.8", "b1-1": "dL/db = 0", "w2-0-0": "dL/dw = 3.24", "w2-1-0": "dL/dw = 0",
              "b2-0": "dL/db = 2.4"}
    for eid, label in labels.items():
        assert el[eid]["data"]["label"] == label, eid
    strengths = {"w1-0-0": 1.0, "w1-1-0": 0.5, "w1-0-1": 0.0, "b1-0": 0.5, "w2-0-0": 1.0, "b2-0": 2.4 / 3.24,
                 "w2-1-0": 0.0}
    for eid, strength in strengths.items():
        assert el[eid]["data"]["strength"] == pytest.approx(strength, abs=1e-12), eid
    assert el["w1-0-0"]["data"]["sign"] == 1 and el["w1-0-1"]["data"]["sign"] == 0


def test_input_without_feature_names_shows_x(hand):
    _, snapshot, _, trace = hand
    del snapshot["dataset"]
    el = by_id(trace_elements(graph_view(snapshot)["elements"], snapshot, trace, "forward"))
    assert el["n0-0"]["data"]["label"] == "x = 2"


def test_the_dense_part_after_a_cnn_and_a_dropout():
    """Column 0 is the Flatten output; the Dense after a Dropout reads the Dropout's (identity) output."""
    model = Sequential([Conv2D(2, 2, activation="tanh"), Flatten(), Dense(3, "relu"), Dropout(0.5),
                        Dense(2, "softmax")], (3, 3, 1), loss="cce", dtype="float64", seed=1)
    x = np.random.default_rng(0).normal(size=(3, 3, 1))
    trace = trace_sample(model, x, 1)
    snapshot = model.snapshot()
    el = by_id(trace_elements(graph_view(snapshot)["elements"], snapshot, trace, "forward"))
    flat = trace["layers"][1]["a"]
    for i in range(8):
        assert el[f"n0-{i}"]["data"]["label"] == f"x = {flat[i]:.4g}"
    a1, W = trace["layers"][2]["a"], model.layers[4].W
    assert el["w2-1-0"]["data"]["label"] == f"w·a = {W[1, 0] * a1[1]:.4g}\nw = {W[1, 0]:.4g}"
    back = by_id(trace_elements(graph_view(snapshot)["elements"], snapshot, trace, "backward"))
    assert back["n0-3"]["data"]["label"] == f"dL/dx = {trace['layers'][2]['dL_dinput'][3]:.4g}"


def test_bad_mode_and_a_trace_of_another_model(hand):
    _, snapshot, elements, trace = hand
    with pytest.raises(ValueError, match="mode must be one of forward, backward"):
        trace_elements(elements, snapshot, trace, "sideways")
    other = trace_sample(FFNN([2, 3, 1], ["relu", "linear"], dtype="float64"), X, Y)
    with pytest.raises(ValueError, match="trace does not belong to this snapshot"):
        trace_elements(elements, snapshot, other, "forward")


def test_trace_stylesheet_makes_room_for_two_lines():
    rules = {r["selector"]: r["style"] for r in trace_stylesheet()}
    style = rules["node.neuron.traced"]
    assert style["shape"] == "round-rectangle" and style["text-wrap"] == "wrap"
    assert style["width"] >= 100 and style["height"] >= 24
    assert style["label"] == "data(label)"
    assert not {r["selector"] for r in graph_stylesheet()} & set(rules)


# -- step mode ----------------------------------------------------------------------------------------------
def _one_step(model, lr):
    before = {k: {n: np.array(getattr(layer, n)) for n in layer.param_names} for k, layer in enumerate(model.layers)}
    model.forward(X[None])
    model.backward(np.array([[Y]]))
    model.step(lr)
    return before, model.snapshot()


def test_sgd_step_labels_by_hand():
    model = hand_model()
    before, after = _one_step(model, 0.1)
    elements = graph_view(after)["elements"]
    el = by_id(step_elements(elements, after, before, 0.1, "sgd"))
    assert el["w2-0-0"]["data"]["label"] == "w 2 → 1.676\nΔ = -0.324\n−lr·dL/dw = -0.324"
    assert el["w1-0-0"]["data"]["label"] == "w 0.5 → -0.46\nΔ = -0.96\n−lr·dL/dw = -0.96"
    assert el["w1-0-1"]["data"]["label"] == "w -1 → -1\nΔ = 0\n−lr·dL/dw = 0"
    assert el["b1-0"]["data"]["label"] == "b 0.1 → -0.38\nΔ = -0.48\n−lr·dL/db = -0.48"
    assert el["b2-0"]["data"]["label"] == "b -0.5 → -0.74\nΔ = -0.24\n−lr·dL/db = -0.24"
    assert el["w1-0-0"]["data"]["strength"] == 1.0
    assert el["w1-1-0"]["data"]["strength"] == pytest.approx(0.5)
    assert el["b1-0"]["data"]["strength"] == pytest.approx(0.5)
    assert el["w2-0-0"]["data"]["sign"] == -1
    assert "stepped" in el["w2-0-0"]["classes"].split()
    for eid in ("w1-0-0", "w1-1-0", "w2-0-0", "b1-0", "b2-0"):
        d = el[eid]["data"]
        assert d["delta"] == pytest.approx(d["lr_grad"], abs=1e-15)

    rows = step_table(after, before, 0.1, "sgd", {"momentum": 0.0}, limit=3)
    assert [r["name"] for r in rows] == ["W[0, 0]", "W[1, 0]", "b[0]"] or \
        [r["name"] for r in rows] == ["W[0, 0]", "b[0]", "W[1, 0]"]
    top = rows[0]
    assert top["layer"] == "Layer 1 (Dense 2, ReLU)" and top["layer_index"] == 0
    assert top["before"] == 0.5 and top["after"] == pytest.approx(-0.46) and top["delta"] == pytest.approx(-0.96)
    assert top["minus_lr_g"] == pytest.approx(-0.96) and top["equal"]
    assert "Δ = −lr·g exactly" in top["note"] and "L1/L2" in top["note"]
    assert len(step_table(after, before, 0.1, "sgd", limit=12)) == 9      # all 6 + 3 parameters


def test_sgd_note_when_the_gradient_is_not_the_one_stepped_on():
    model = hand_model()
    before, after = _one_step(model, 0.1)
    rows = step_table(after, before, 0.05, "sgd", limit=1)            # a learning rate it was not stepped with
    assert not rows[0]["equal"] and "not the one that was stepped on" in rows[0]["note"]


def test_adam_and_momentum_notes():
    model = hand_model("adam")
    before, after = _one_step(model, 0.1)
    rows = step_table(after, before, 0.1, "adam", {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8})
    top = rows[0]
    # Adam's first step is about −lr·sign(g) for every weight with a gradient.
    assert top["delta"] == pytest.approx(-0.1, rel=1e-6) and not top["equal"]
    assert "Adam scales each step by its running averages: Δ = −lr·m̂/(√v̂+ε)" in top["note"]
    el = by_id(step_elements(graph_view(after)["elements"], after, before, 0.1, "adam"))
    assert el["w2-0-0"]["data"]["label"] == "w 2 → 1.9\nΔ = -0.1\n−lr·dL/dw = -0.324"

    model = hand_model("sgd", {"momentum": 0.9})
    _one_step(model, 0.1)
    before, after = _one_step(model, 0.1)
    rows = step_table(after, before, 0.1, "sgd", {"momentum": 0.9})
    assert not rows[0]["equal"] and "momentum adds the previous steps' velocity" in rows[0]["note"]


def test_step_arguments_are_checked():
    model = hand_model()
    before, after = _one_step(model, 0.1)
    elements = graph_view(after)["elements"]
    with pytest.raises(ValueError, match="learning_rate must be a number greater than 0"):
        step_elements(elements, after, before, 0, "sgd")
    with pytest.raises(ValueError, match="optimizer must be one of sgd, adam"):
        step_table(after, before, 0.1, "lbfgs", {})
    with pytest.raises(ValueError, match=r"before has no parameters of layer 1 \(Dense\)"):
        step_elements(elements, after, {0: before[0]}, 0.1, "sgd")
    with pytest.raises(ValueError, match=r"before\[0\]\['W'\] has shape \(3,\)"):
        step_table(after, {0: {"W": np.zeros(3)}, 1: before[1]}, 0.1, "sgd")
    with pytest.raises(ValueError, match="limit must be a positive integer"):
        step_table(after, before, 0.1, "sgd", limit=0)
    # JSON-stored before (string keys, lists) works the same.
    stored = {str(k): {n: v.tolist() for n, v in p.items()} for k, p in before.items()}
    assert step_table(after, stored, 0.1, "sgd") == step_table(after, before, 0.1, "sgd")


# -- the readout ------------------------------------------------------------------------------------------------
def test_readout_of_a_classifier():
    model = FFNN([2, 4, 3], ["tanh", "softmax"], loss="cce", dtype="float64", init_params={"seed": 3})
    snapshot = model.snapshot()
    snapshot["dataset"] = {"class_names": ["cat", "dog", "owl"], "task": "classification"}
    trace = trace_sample(model, [0.3, -0.8], 2)
    r = readout(trace, snapshot)
    p = trace["output"]
    assert r["loss"] == "cce" and r["loss_label"] == "Categorical cross-entropy"
    assert r["lines"] == [trace["formula"]["loss"], trace["formula"]["gradient"]]
    assert r["lines"][0].startswith("L = −log p[2] = −log ")
    assert [u["name"] for u in r["units"]] == ["cat", "dog", "owl"]
    assert [u["output"] for u in r["units"]] == p.tolist()
    assert [u["target"] for u in r["units"]] == [0.0, 0.0, 1.0]
    assert r["units"][2]["dL_dz"] == pytest.approx(p[2] - 1)
    best = int(np.argmax(p))
    assert r["predicted"] == {"index": best, "name": ["cat", "dog", "owl"][best], "score": float(p[best])}
    assert r["actual"] == {"index": 2, "name": "owl"} and r["correct"] == (best == 2)
    assert r["value"] == trace["value"] and r["task"] == "classification"


def test_readout_of_a_binary_and_a_regression_model(hand):
    model = Sequential([Dense(1, "sigmoid")], (1,), loss="bce", dtype="float64")
    model.layers[0].W = [[2.0]]
    snapshot = model.snapshot()
    snapshot["dataset"] = {"class_names": ["ham", "spam"]}
    r = readout(trace_sample(model, [1.0], 0.0), snapshot)          # p = sigmoid(2) = 0.88
    assert r["units"][0]["name"] == "spam"
    assert r["predicted"]["index"] == 1 and r["predicted"]["name"] == "spam"
    assert r["actual"] == {"index": 0, "name": "ham"} and r["correct"] is False

    _, snapshot, _, trace = hand
    del snapshot["dataset"]
    r = readout(trace, snapshot)
    assert r["task"] == "regression" and r["predicted"] is None and r["correct"] is None
    assert r["units"] == [{"index": 0, "name": None, "output": pytest.approx(2.2), "target": 1.0,
                           "dL_doutput": pytest.approx(2.4), "dL_dz": pytest.approx(2.4)}]
    assert r["lines"][0] == "L = (p − y)² = (2.2 − 1)² = 1.44"
