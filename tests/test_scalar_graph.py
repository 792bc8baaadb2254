"""The scalar autograd of engine.scalar against PyTorch (float64) and hand-worked
numbers, its computation graph of a network's loss against the engine's own
forward/backward and finite differences, and the Cytoscape drawing of viz.compgraph."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from engine import ACTIVATIONS, FFNN, Conv2D, Dense, Dropout, Flatten, Sequential
from engine.scalar import Value, network_graph
from viz import compgraph as CG
from viz.style import fmt


# -- Value ---------------------------------------------------------------------------------
def test_micrograd_readme_example():
    """micrograd's README expression: g = 24.7041, dg/da = 138.8338, dg/db = 645.5773."""
    a, b = Value(-4.0), Value(2.0)
    c = a + b
    d = a * b + b ** 3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e ** 2
    g = f / 2.0
    g += 10.0 / f
    g.backward()
    assert f"{g.data:.4f}" == "24.7041"
    assert f"{a.grad:.4f}" == "138.8338"
    assert f"{b.grad:.4f}" == "645.5773"


def test_hand_worked_expression_and_reuse():
    # L = (a*b + c) * f with a=2, b=-3, c=10, f=-2: d = 4, L = -8.
    a, b, c, f = Value(2.0), Value(-3.0), Value(10.0), Value(-2.0)
    d = a * b + c
    L = d * f
    L.backward()
    assert (d.data, L.data) == (4.0, -8.0)
    assert (a.grad, b.grad, c.grad, f.grad, d.grad) == (6.0, -4.0, -2.0, 4.0, -2.0)
    # A value used twice adds both paths; a second backward starts from zero again.
    x = Value(3.0)
    y = x * x + x
    y.backward()
    y.backward()
    assert x.grad == 7.0


UNARY = [
    ("exp", lambda v: v.exp(), torch.exp, [-1.3, 0.4, 2.0]),
    ("log", lambda v: v.log(), torch.log, [0.2, 1.0, 3.5]),
    ("tanh", lambda v: v.tanh(), torch.tanh, [-2.0, 0.3, 1.1]),
    ("sigmoid", lambda v: v.sigmoid(), torch.sigmoid, [-3.0, 0.0, 0.7]),
    ("relu", lambda v: v.relu(), torch.relu, [-1.5, 0.8]),
    ("leaky_relu", lambda v: v.leaky_relu(0.01), lambda t: torch.nn.functional.leaky_relu(t, 0.01), [-1.5, 0.8]),
    ("elu", lambda v: v.elu(1.0), lambda t: torch.nn.functional.elu(t, 1.0), [-1.5, -0.2, 0.8]),
    ("swish", lambda v: v.swish(), torch.nn.functional.silu, [-2.5, -0.3, 1.7]),
    ("gelu", lambda v: v.gelu(), torch.nn.functional.gelu, [-2.5, -0.3, 1.7]),
    ("abs", lambda v: v.abs(), torch.abs, [-1.5, 0.8]),
    ("neg", lambda v: -v, torch.neg, [-1.5, 0.8]),
    ("pow", lambda v: v ** 3, lambda t: t ** 3, [-1.5, 0.8]),
    ("pow-frac", lambda v: v ** -0.5, lambda t: t ** -0.5, [0.3, 2.0]),
    ("add-const", lambda v: 2.5 + v, lambda t: 2.5 + t, [-1.5]),
    ("sub-const", lambda v: v - 2.5, lambda t: t - 2.5, [-1.5]),
    ("rsub-const", lambda v: 1 - v, lambda t: 1 - t, [0.3]),
    ("mul-const", lambda v: v * -0.5, lambda t: t * -0.5, [1.5]),
    ("div-const", lambda v: v / 4, lambda t: t / 4, [1.5]),
    ("rdiv-const", lambda v: 3 / v, lambda t: 3 / t, [-0.7, 1.5]),
]


@pytest.mark.parametrize("name,op,torch_op,points", UNARY, ids=[u[0] for u in UNARY])
def test_unary_ops_match_torch(name, op, torch_op, points):
    for x in points:
        v = Value(x)
        out = op(v)
        out.backward()
        t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        ref = torch_op(t)
        ref.backward()
        assert out.data == pytest.approx(ref.item(), rel=1e-14, abs=1e-15), (name, x)
        assert v.grad == pytest.approx(t.grad.item(), rel=1e-12, abs=1e-15), (name, x)


BINARY = [("+", lambda a, b: a + b), ("-", lambda a, b: a - b), ("*", lambda a, b: a * b),
          ("/", lambda a, b: a / b)]


@pytest.mark.parametrize("name,op", BINARY, ids=[b[0] for b in BINARY])
def test_binary_ops_match_torch(name, op):
    for x, y in [(1.5, -0.4), (-2.0, 3.0)]:
        a, b = Value(x), Value(y)
        out = op(a, b)
        out.backward()
        ta = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        tb = torch.tensor(y, dtype=torch.float64, requires_grad=True)
        ref = op(ta, tb)
        ref.backward()
        assert out.op == name and len(out.inputs) == 2
        assert out.data == pytest.approx(ref.item(), rel=1e-15)
        assert (a.grad, b.grad) == pytest.approx((ta.grad.item(), tb.grad.item()), rel=1e-14)


def test_sum_is_one_node_and_matches_torch():
    xs = [Value(v) for v in (0.5, -1.0, 2.0, 0.25)]
    s = Value.sum(xs, label="s")
    out = s * s.tanh()
    out.backward()
    assert s.op == "+" and len(s.inputs) == 4 and s.label == "s"
    ts = torch.tensor([0.5, -1.0, 2.0, 0.25], dtype=torch.float64, requires_grad=True)
    tsum = ts.sum()
    ref = tsum * torch.tanh(tsum)
    ref.backward()
    assert out.data == pytest.approx(ref.item(), rel=1e-15)
    assert [x.grad for x in xs] == pytest.approx(ts.grad.tolist(), rel=1e-13)
    assert Value.sum([xs[0]]) is xs[0]


def test_constants_are_labels_not_nodes_and_bad_input_raises():
    v = Value(2.0)
    assert (v ** 2).op_label == "**2" and (v * 0.5).op_label == "*0.5" and (1 - v).op_label == "1-"
    assert len((v * 0.5).inputs) == 1
    with pytest.raises(TypeError):
        v ** Value(2.0)
    with pytest.raises(ValueError, match="positive"):
        Value(-1.0).log()
    floored = Value(0.0).log(floor=-100.0)
    floored.backward()
    assert floored.data == -100.0 and floored.inputs[0].grad == 0.0


# -- the graph of a network's loss ---------------------------------------------------------------
def _model(layers, n_in, loss, l1=0.0, l2=0.0, seed=0):
    model = Sequential(layers, (n_in,), loss=loss, l1=l1, l2=l2, dtype="float64", seed=seed)
    rng = np.random.default_rng(seed + 1)
    for layer in model.layers:
        if isinstance(layer, Dense):   # non-zero biases, so that their nodes carry something
            layer.b = rng.normal(scale=0.5, size=layer.b.shape)
    return model


def _engine_loss(model, x, y):
    model.forward(x[None], training=False)
    return model.backward(np.asarray(y)[None])


CASES = {
    "2-3-1 tanh/sigmoid mse": (lambda: [Dense(3, "tanh"), Dense(1, "sigmoid")], 2, "mse", {}, 0.3),
    "2-3-1 tanh/sigmoid bce": (lambda: [Dense(3, "tanh"), Dense(1, "sigmoid")], 2, "bce", {}, 1.0),
    "2-3-2 relu/softmax cce": (lambda: [Dense(3, "relu"), Dense(2, "softmax")], 2, "cce", {}, 1),
    "2-3-2 relu/softmax cce one-hot": (lambda: [Dense(3, "relu"), Dense(2, "softmax")], 2, "cce", {}, [1.0, 0.0]),
    "3-4-2 mse two outputs": (lambda: [Dense(4, "tanh"), Dense(2, "linear")], 3, "mse", {}, [0.5, -1.0]),
    "2-3-2 sigmoid bce two outputs": (lambda: [Dense(3, "elu"), Dense(2, "sigmoid")], 2, "bce", {}, [0.2, 0.9]),
    "softmax bce (not fused)": (lambda: [Dense(3, "tanh"), Dense(2, "softmax")], 2, "bce", {}, [0.0, 1.0]),
    "sigmoid cce (not fused)": (lambda: [Dense(3, "tanh"), Dense(3, "sigmoid")], 2, "cce", {}, 2),
    "L1": (lambda: [Dense(3, "tanh"), Dense(1, "sigmoid")], 2, "mse", {"l1": 0.01}, 0.3),
    "L2": (lambda: [Dense(3, "relu"), Dense(2, "softmax")], 2, "cce", {"l2": 0.02}, 0),
    "L1 and L2": (lambda: [Dense(3, "tanh"), Dense(1, "sigmoid")], 2, "bce", {"l1": 0.01, "l2": 0.02}, 0.0),
    "Dropout": (lambda: [Dropout(0.5), Dense(3, "tanh"), Dropout(0.3), Dense(1, "sigmoid")], 2, "mse", {}, 0.7),
    "no bias": (lambda: [Dense(3, "tanh", use_bias=False), Dense(1, "linear")], 2, "mse", {}, -0.4),
    "three Dense layers": (lambda: [Dense(3, "gelu"), Dense(2, "swish"), Dense(2, "softmax")], 2, "cce", {"l2": 0.01}, 0),
}
for _name in sorted(ACTIVATIONS):
    CASES[f"hidden {_name}"] = (lambda a=_name: [Dense(3, a), Dense(2, "linear")], 2, "mse", {}, [0.4, -0.6])
    CASES[f"output {_name}"] = (lambda a=_name: [Dense(3, "tanh"), Dense(2, a)], 2, "mse", {}, [0.4, -0.6])

X = np.array([0.7, -1.3])


def _build(case):
    layers, n_in, loss, reg, y = CASES[case]
    model = _model(layers(), n_in, loss, **reg)
    x = np.linspace(-1.1, 0.9, n_in) if n_in != 2 else X
    return model, x, y


@pytest.mark.parametrize("case", sorted(CASES))
def test_graph_matches_engine_loss_and_gradients(case):
    model, x, y = _build(case)
    graph = network_graph(model, x, y)
    loss = _engine_loss(model, x, y)
    assert graph["loss"] == pytest.approx(loss, rel=1e-10, abs=1e-12)
    assert graph["n_params"] == model.n_params
    params = [n for n in graph["nodes"] if n["role"] == "param"]
    seen = set()
    for n in params:
        p = n["param"]
        layer = model.layers[p["layer"]]
        idx = tuple(p["index"])
        expected = getattr(layer, "grad_" + p["name"])[idx]
        assert n["grad"] == pytest.approx(expected, rel=1e-10, abs=1e-10), n["label"]
        assert n["value"] == getattr(layer, p["name"])[idx]
        seen.add((p["layer"], p["name"], idx))
    # Every weight has a node, and every bias of a layer with biases.
    expected_params = sum(l.W.size + (l.b.size if l.use_bias else 0)
                          for l in model.layers if isinstance(l, Dense))
    assert len(seen) == len(params) == expected_params


@pytest.mark.parametrize("case", ["2-3-1 tanh/sigmoid mse", "2-3-2 relu/softmax cce", "L1 and L2", "Dropout",
                                  "hidden gelu", "output softmax"])
def test_input_gradients_match_finite_differences(case):
    model, x, y = _build(case)
    graph = network_graph(model, x, y)
    inputs = {n["label"]: n for n in graph["nodes"] if n["role"] == "input"}
    assert sorted(inputs) == [f"x{i}" for i in range(x.size)]
    eps = 1e-6
    for i in range(x.size):
        up, down = x.copy(), x.copy()
        up[i] += eps
        down[i] -= eps
        numeric = (_engine_loss(model, up, y) - _engine_loss(model, down, y)) / (2 * eps)
        assert inputs[f"x{i}"]["grad"] == pytest.approx(numeric, rel=1e-6, abs=1e-8)
        assert inputs[f"x{i}"]["value"] == x[i]


def test_graph_structure_names_roles_and_depths():
    model, x, y = _build("L1")
    graph = network_graph(model, x, y)
    nodes = {n["id"]: n for n in graph["nodes"]}
    assert len(nodes) == len(graph["nodes"])
    labels = [n["label"] for n in graph["nodes"] if n["kind"] == "value"]
    for name in ("x0", "x1", "w[1][0,2]", "b[1][2]", "z1_0", "a1_2", "w[2][2,0]", "z2_0", "a2_0", "y0", "L"):
        assert labels.count(name) == 1, name
    by_label = {n["label"]: n for n in graph["nodes"] if n["kind"] == "value"}
    assert by_label["a2_0"]["role"] == "output" and by_label["a1_0"]["role"] == "hidden"
    assert by_label["y0"]["role"] == "target" and by_label["L"]["role"] == "loss"
    assert by_label["L"]["grad"] == 1.0 and by_label["L"]["value"] == graph["loss"]
    preds: dict[str, list[str]] = {nid: [] for nid in nodes}
    for e in graph["edges"]:
        assert nodes[e["source"]]["kind"] != nodes[e["target"]]["kind"]   # value -> op -> value
        preds[e["target"]].append(e["source"])
    for nid, n in nodes.items():
        if preds[nid]:
            assert n["depth"] == max(nodes[p]["depth"] for p in preds[nid]) + 1
        else:
            assert n["depth"] == 0 and n["kind"] == "value" and n["role"] in ("input", "param", "target")
        if n["kind"] == "op":
            assert n["grad"] is None and n["op"] and len(preds[nid]) >= 1
    sums = [n for n in graph["nodes"] if n["kind"] == "op" and n["op"] == "+" and len(preds[n["id"]]) == 3]
    assert len(sums) >= 3   # z1_j = x0*w + x1*w + b as one n-ary +
    # The sink is L; every value but L feeds an op.
    sources = {e["source"] for e in graph["edges"]}
    assert [nid for nid in nodes if nid not in sources] == [by_label["L"]["id"]]


def test_ids_are_stable_for_one_architecture():
    a = network_graph(_model([Dense(3, "tanh"), Dense(1, "sigmoid")], 2, "mse", seed=1), X, 0.3)
    b = network_graph(_model([Dense(3, "tanh"), Dense(1, "sigmoid")], 2, "mse", seed=7), -X, 0.9)
    assert [(n["id"], n["label"], n["op"]) for n in a["nodes"]] == [(n["id"], n["label"], n["op"]) for n in b["nodes"]]
    assert a["edges"] == b["edges"]
    assert a["loss"] != b["loss"]
    ea, eb = CG.graph_elements(a), CG.graph_elements(b)
    assert [e.get("position") for e in ea] == [e.get("position") for e in eb]


def test_too_many_parameters_raise_with_the_rule():
    model = FFNN([4, 8, 1], ["tanh", "sigmoid"], dtype="float64")
    with pytest.raises(ValueError, match=r"networks of up to 40 weights and biases; this one has 49"):
        network_graph(model, np.zeros(4), 0.5)
    small = FFNN([2, 3, 1], ["tanh", "sigmoid"], dtype="float64")
    with pytest.raises(ValueError, match=r"up to 10 weights and biases; this one has 13"):
        network_graph(small, X, 0.5, max_params=10)
    assert network_graph(small, X, 0.5, max_params=13)["n_params"] == 13


def test_unsupported_layers_raise_with_the_rule():
    conv = Sequential([Conv2D(1, 2, activation="relu"), Flatten(), Dense(1, "sigmoid")], (3, 3, 1),
                      loss="bce", dtype="float64")
    assert conv.n_params <= 40
    with pytest.raises(ValueError, match=r"Dense layers .*and Dropout only; layers\[0\] is Conv2D"):
        network_graph(conv, np.zeros((3, 3, 1)), 1.0)
    rms = FFNN([2, 3, 1], ["tanh", "linear"], rmsnorm=True, dtype="float64")
    with pytest.raises(ValueError, match=r"without RMSNorm.*layers\[0\] is Dense with RMSNorm"):
        network_graph(rms, X, 0.5)
    with pytest.raises(ValueError, match="one sample of shape"):
        network_graph(FFNN([2, 3, 1], dtype="float64"), np.zeros((1, 2)), 0.5)


# -- the drawing ---------------------------------------------------------------------------------
def _elements(case="L1 and L2"):
    model, x, y = _build(case)
    graph = network_graph(model, x, y)
    return graph, CG.graph_elements(graph)


@pytest.mark.parametrize("case", ["L1 and L2", "2-3-2 relu/softmax cce", "Dropout", "three Dense layers"])
def test_elements_positions_run_left_to_right(case):
    graph, elements = _elements(case)
    nodes = [e for e in elements if "source" not in e["data"]]
    edges = [e for e in elements if "source" in e["data"]]
    assert len(nodes) == len(graph["nodes"]) and len(edges) == len(graph["edges"])
    ids = [e["data"]["id"] for e in elements]
    assert len(set(ids)) == len(ids)
    pos = {}
    for e in nodes:
        p = e["position"]
        assert math.isfinite(p["x"]) and math.isfinite(p["y"])
        pos[e["data"]["id"]] = (p["x"], p["y"])
    assert len(set(pos.values())) == len(pos)   # no two nodes on one spot
    for e in edges:
        s, t = e["data"]["source"], e["data"]["target"]
        assert pos[s][0] < pos[t][0], (s, t)
        if s.startswith("op"):
            assert pos[s][1] == pos[t][1]        # an op level with the value it makes
    depth = {e["data"]["id"]: e["data"]["depth"] for e in nodes}
    column = {e["data"]["id"]: e["data"]["column"] for e in nodes}
    for e in edges:
        s, t = e["data"]["source"], e["data"]["target"]
        assert depth[s] < depth[t] and column[s] < column[t]
    # Non-leaves keep the x of their depth; leaves sit just left of an op that uses them.
    for n in graph["nodes"]:
        consumers = [e["data"]["target"] for e in edges if e["data"]["source"] == n["id"]]
        if n["depth"] > 0:
            assert column[n["id"]] >= n["depth"]
        else:
            assert column[n["id"]] == max(column[c] for c in consumers) - 1 or \
                   column[n["id"]] == max(depth[c] for c in consumers) - 1


def test_element_labels_and_data_carry_values():
    graph, elements = _elements()
    by_id = {n["id"]: n for n in graph["nodes"]}
    for e in elements:
        d = e["data"]
        if "source" in d:
            continue
        n = by_id[d["id"]]
        assert d["value"] == n["value"] and d["kind"] == n["kind"] and d["role"] == n["role"]
        assert n["kind"] in e["classes"].split() and n["role"] in e["classes"].split()
        if n["kind"] == "value":
            lines = d["label"].split("\n")
            expected = ([n["label"]] if n["label"] else []) + [f"data {fmt(n['value'] + 0.0)}",
                                                               f"grad {fmt(n['grad'] + 0.0)}"]
            assert lines == expected
            assert d["grad"] == n["grad"] and d["grad_sign"] == (n["grad"] > 0) - (n["grad"] < 0)
            if n["role"] == "param":
                assert (d["layer"], d["param"], d["index"]) == (n["param"]["layer"], n["param"]["name"],
                                                                n["param"]["index"])
        else:
            assert d["label"] == n["label"] and d["op"] == n["op"] and d["grad"] is None
    w = next(e for e in elements if e["data"].get("name") == "w[1][0,1]")
    assert re.fullmatch(r"w\[1\]\[0,1\]\ndata -?[\d.e+-]+\ngrad -?[\d.e+-]+", w["data"]["label"])
    root = [e for e in elements if "root" in e.get("classes", "").split()]
    assert len(root) == 1 and root[0]["data"]["name"] == "L"
    ops = {e["data"]["label"] for e in elements if e["data"].get("kind") == "op"}
    assert {"*", "+", "tanh", "sigmoid", "abs", "**2", "log", "1-"} <= ops


def test_stylesheet_maps_only_data_and_classes():
    sheet = CG.graph_stylesheet()
    selectors = [s["selector"] for s in sheet]
    assert not any("#" in s for s in selectors)
    for s in selectors:
        assert re.fullmatch(r"(node|edge)((\.[a-z-]+)|(\[[a-z_]+ [<>]=? -?\d+\])|(:selected))*", s), s
    assert {"node.value", "node.op", "node.value.param", "node.value[grad_sign > 0]",
            "node.value[grad_sign < 0]"} <= set(selectors)
    for role in ("input", "param", "hidden", "output", "loss", "target"):
        assert f"node.value.{role}" in selectors


def test_summary_sentence():
    model = _model([Dense(3, "tanh"), Dense(1, "sigmoid")], 2, "mse")
    graph = network_graph(model, X, 0.3)
    values = sum(n["kind"] == "value" for n in graph["nodes"])
    ops = sum(n["kind"] == "op" for n in graph["nodes"])
    assert CG.summary(graph) == (f"{values} values and {ops} operations for 13 weights and biases; "
                                 f"L = {fmt(graph['loss'])}")
    # 2 inputs, 9 + 4 parameters, 6 + 3 products, 3 + 1 sums, 3 + 1 activations, y, a - y, its square.
    assert (values, ops) == (2 + 13 + 9 + 4 + 4 + 1 + 2, 9 + 4 + 4 + 2)
