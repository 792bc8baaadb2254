"""Tests for viz.architecture: the layer chain drawn from a model snapshot."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine import (LAYERS, LSTM, AvgPool2D, Bidirectional, Conv2D, Dense, Dropout, Embedding, Flatten,
                    GlobalAvgPool2D, GlobalMaxPool2D, MaxPool2D, Sequential, SimpleRNN)
from viz import architecture
from viz.architecture import (COLUMN_GAP, GROUP_COLORS, ROW_GAP, ROW_LENGTH, architecture_elements,
                              architecture_stylesheet, architecture_summary, layer_group)

# How each engine layer type is coloured, written out by hand.
EXPECTED_GROUPS = {"Dense": "dense", "Conv2D": "conv", "MaxPool2D": "pool", "AvgPool2D": "pool",
                   "GlobalMaxPool2D": "pool", "GlobalAvgPool2D": "pool", "Flatten": "shape", "Dropout": "shape",
                   "Embedding": "embedding", "SimpleRNN": "recurrent", "LSTM": "recurrent",
                   "Bidirectional": "recurrent"}


def _cnn():
    """Ten layers: the chain needs a second row."""
    return Sequential([Conv2D(4, 3, activation="relu"), MaxPool2D(2), Conv2D(6, (2, 2), padding="same"),
                       AvgPool2D(2, strides=1), Conv2D(3, 1), GlobalMaxPool2D(), Dense(8, activation="relu"),
                       Dropout(0.25), Dense(5, activation="tanh"), Dense(2, activation="softmax")],
                      (10, 10, 3), loss="cce", seed=0)


def _split(elements):
    nodes = [e for e in elements if "source" not in e["data"]]
    edges = [e for e in elements if "source" in e["data"]]
    return nodes, edges


def _shape_text(shape):
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def test_one_node_per_layer_plus_the_input_joined_in_order():
    model = _cnn()
    nodes, edges = _split(architecture_elements(model.snapshot()))
    assert len(nodes) == len(model.layers) + 1
    assert nodes[0]["data"]["id"] == "Lin" and nodes[0]["data"]["layer_index"] is None
    assert [n["data"]["layer_index"] for n in nodes[1:]] == list(range(len(model.layers)))
    ids = [n["data"]["id"] for n in nodes]
    assert len(set(ids)) == len(ids)
    assert len(edges) == len(model.layers)
    pairs = [(e["data"]["source"], e["data"]["target"]) for e in edges]
    assert pairs == list(zip(ids[:-1], ids[1:]))
    assert len({e["data"]["id"] for e in edges} | set(ids)) == len(edges) + len(ids)


def test_labels_hold_the_output_shape_and_the_parameter_count():
    model = _cnn()
    nodes, _ = _split(architecture_elements(model.snapshot()))
    assert "(10, 10, 3)" in nodes[0]["data"]["label"]
    hand_counts = [3 * 3 * 3 * 4 + 4, 0, 2 * 2 * 4 * 6 + 6, 0, 1 * 1 * 6 * 3 + 3, 0, 3 * 8 + 8, 0, 8 * 5 + 5,
                   5 * 2 + 2]
    for k, (node, layer) in enumerate(zip(nodes[1:], model.layers)):
        label, data = node["data"]["label"], node["data"]
        assert label.startswith(f"{k + 1}. {type(layer).__name__}")
        assert _shape_text(layer.output_shape) in label, label
        assert data["params"] == layer.n_params == hand_counts[k]
        if layer.n_params:
            assert f"{layer.n_params:,} params" in label
        else:
            assert "params" not in label
        assert data["type"] == type(layer).__name__
    shapes = [_shape_text(layer.output_shape) for layer in model.layers]
    assert shapes[:6] == ["(8, 8, 4)", "(4, 4, 4)", "(4, 4, 6)", "(3, 3, 6)", "(3, 3, 3)", "(3,)"]


def test_large_counts_and_shapes_have_thousands_separators():
    model = Sequential([Flatten(), Dense(1200)], (40, 40, 1), seed=0)
    nodes, _ = _split(architecture_elements(model.snapshot()))
    assert "1,921,200 params" in nodes[2]["data"]["label"]     # 1600 * 1200 + 1200
    assert nodes[2]["data"]["params"] == 1600 * 1200 + 1200


@pytest.mark.parametrize("chosen", [None, 0, 3, 9])
def test_the_chosen_class_is_on_exactly_the_chosen_node(chosen):
    model = _cnn()
    nodes, edges = _split(architecture_elements(model.snapshot(), chosen))
    marked = [n["data"]["layer_index"] for n in nodes if "chosen" in n.get("classes", "").split()]
    assert marked == ([] if chosen is None else [chosen])
    assert not any("chosen" in e.get("classes", "") for e in edges)


def test_a_chosen_index_outside_the_model_marks_nothing():
    nodes, _ = _split(architecture_elements(_cnn().snapshot(), 10))
    assert not any("chosen" in n.get("classes", "").split() for n in nodes)


def test_the_last_layer_is_the_output():
    nodes, _ = _split(architecture_elements(_cnn().snapshot()))
    outputs = [n["data"]["id"] for n in nodes if "output" in n.get("classes", "").split()]
    assert outputs == [nodes[-1]["data"]["id"]]


def test_every_engine_layer_type_has_its_colour_group():
    assert set(EXPECTED_GROUPS) == set(LAYERS), "a layer type was added: give it a group here"
    for layer_type, group in EXPECTED_GROUPS.items():
        assert layer_group(layer_type) == group, layer_type
        assert group in GROUP_COLORS


def _every_kind_models():
    image = Sequential([Conv2D(2, 3), MaxPool2D(2), AvgPool2D(1), GlobalAvgPool2D(), Dense(3)], (7, 7, 1), seed=0)
    image2 = Sequential([Conv2D(2, 3), GlobalMaxPool2D(), Dropout(0.5), Dense(2)], (5, 5, 1), seed=0)
    flat = Sequential([Conv2D(2, 3), Flatten(), Dense(2)], (5, 5, 1), seed=0)
    text = Sequential([Embedding(30, 4, mask_zero=True), Bidirectional(SimpleRNN(3, return_sequences=True)),
                       LSTM(2), Dense(2)], (6,), seed=0)
    return [image, image2, flat, text]


@pytest.mark.parametrize("model", _every_kind_models(), ids=["image", "global", "flatten", "text"])
def test_nodes_carry_the_group_of_their_layer_type_as_data_and_class(model):
    nodes, _ = _split(architecture_elements(model.snapshot()))
    assert nodes[0]["data"]["group"] == "input"
    for node, layer in zip(nodes[1:], model.layers):
        group = EXPECTED_GROUPS[type(layer).__name__]
        assert node["data"]["group"] == group
        assert group in node["classes"].split()
        assert node["data"]["params"] == layer.n_params


def test_recurrent_parameter_counts():
    model = _every_kind_models()[3]
    nodes, _ = _split(architecture_elements(model.snapshot()))
    # Bidirectional SimpleRNN(3) on 4 features: 2 x (4*3 + 3*3 + 3); LSTM(2) on 6: 4*2*(6 + 2) + 4*2.
    assert nodes[2]["data"]["params"] == 2 * (4 * 3 + 3 * 3 + 3)
    assert nodes[3]["data"]["params"] == 4 * 2 * (6 + 2) + 4 * 2
    assert nodes[1]["data"]["params"] == 30 * 4


def test_positions_snake_onto_the_next_row():
    model = _cnn()
    nodes, _ = _split(architecture_elements(model.snapshot()))
    assert len(nodes) > ROW_LENGTH + 1
    pos = [(n["position"]["x"], n["position"]["y"]) for n in nodes]
    first, second = pos[:ROW_LENGTH], pos[ROW_LENGTH:2 * ROW_LENGTH]
    assert {y for _, y in first} == {0}
    assert [x for x, _ in first] == [k * COLUMN_GAP for k in range(ROW_LENGTH)]
    assert {y for _, y in second} == {ROW_GAP}
    # The second row starts under the end of the first and runs back to the left.
    assert second[0][0] == first[-1][0]
    assert [x for x, _ in second] == [first[-1][0] - k * COLUMN_GAP for k in range(len(second))]
    # Consecutive nodes are neighbours: no edge spans the drawing.
    for (x0, y0), (x1, y1) in zip(pos, pos[1:]):
        assert (abs(x1 - x0), abs(y1 - y0)) in {(COLUMN_GAP, 0), (0, ROW_GAP)}
    assert len(set(pos)) == len(pos)


def test_a_long_stack_turns_again_on_the_third_row():
    layers = [Dense(3) for _ in range(2 * ROW_LENGTH + 2)]
    nodes, _ = _split(architecture_elements(Sequential(layers, (3,), seed=0).snapshot()))
    pos = [(n["position"]["x"], n["position"]["y"]) for n in nodes]
    third = pos[2 * ROW_LENGTH:]
    assert {y for _, y in third} == {2 * ROW_GAP}
    assert third[0][0] == pos[2 * ROW_LENGTH - 1][0] == 0
    assert [x for x, _ in third] == [k * COLUMN_GAP for k in range(len(third))]


@pytest.mark.parametrize("model", [_cnn()] + _every_kind_models(), ids=["cnn", "image", "global", "flatten", "text"])
def test_the_summary_totals_the_models_parameters(model):
    n = len(model.layers)
    assert architecture_summary(model.snapshot()) == f"{n} layers · {model.n_params:,} parameters"
    nodes, _ = _split(architecture_elements(model.snapshot()))
    assert sum(node["data"]["params"] for node in nodes[1:]) == model.n_params


def test_the_summary_of_one_layer():
    model = Sequential([Dense(1200)], (1000,), seed=0)
    assert architecture_summary(model.snapshot()) == "1 layer · 1,201,200 parameters"


def test_elements_are_json_able():
    for model in [_cnn()] + _every_kind_models():
        json.dumps(architecture_elements(model.snapshot(), 1), allow_nan=False)
        json.dumps(architecture_stylesheet(), allow_nan=False)


def test_the_stylesheet_colours_every_group():
    selectors = {rule["selector"] for rule in architecture_stylesheet()}
    for group in GROUP_COLORS:
        assert f"node.{group}" in selectors
    assert "node.chosen" in selectors
    for group in set(EXPECTED_GROUPS.values()) | {"input"}:
        assert group in GROUP_COLORS


def test_a_snapshot_keeps_its_drawing_after_training():
    """The snapshot's parameter copies, not the live model, are what the graph counts."""
    model = _cnn()
    snap = model.snapshot()
    before = architecture_elements(snap, 2)
    X = np.random.default_rng(0).normal(size=(4, 10, 10, 3))
    model.fit(X, np.array([0, 1, 0, 1]), epochs=1, batch_size=2, verbose=0)
    assert architecture_elements(snap, 2) == before
    assert architecture.architecture_summary(snap) == architecture_summary(model.snapshot())
