"""The figure builders of viz.network and viz.distributions (pure functions of a
snapshot) and the network and histogram panels' callbacks, called directly with the
run cache (dashboard.store) replaced by a dict."""

from __future__ import annotations

import json
import re
import types

import dash
import numpy as np
import pytest

import viz
from engine import FFNN, LSTM, Conv2D, Dense, Dropout, Embedding, Flatten, Sequential
from viz import distributions as D
from viz import network as G


def dense_snapshot(sizes, weights, biases=None, grad_w=None, grad_b=None, activations=None):
    """A snapshot of a dense net with the given arrays, as ``model.snapshot()`` makes it."""
    n = len(sizes) - 1
    activations = activations or ["tanh"] * (n - 1) + ["sigmoid"]
    layers = []
    for k in range(n):
        W = np.asarray(weights[k], dtype=np.float32)
        b = np.asarray(biases[k] if biases else np.zeros(sizes[k + 1]), dtype=np.float32)
        gW = np.asarray(grad_w[k] if grad_w else np.zeros_like(W), dtype=np.float32)
        gb = np.asarray(grad_b[k] if grad_b else np.zeros_like(b), dtype=np.float32)
        layers.append({"type": "Dense",
                       "config": {"units": sizes[k + 1], "activation": activations[k], "use_bias": True},
                       "input_shape": [sizes[k]], "output_shape": [sizes[k + 1]],
                       "params": {"W": W, "b": b}, "grads": {"W": gW, "b": gb}})
    return {"input_shape": [sizes[0]], "loss": "mse", "layers": layers, "epochs_trained": 0}


W1 = [[0.5, -0.25, 0.0], [1.0, 2.0, -3.0]]          # 2 -> 3
W2 = [[0.1], [-0.2], [0.3]]                          # 3 -> 1
B1, B2 = [0.01, -0.02, 0.03], [0.5]
GW1 = [[-0.001, 0.002, -0.003], [0.004, -0.005, 0.006]]
GW2 = [[0.07], [-0.08], [0.09]]
GB1, GB2 = [0.1, 0.2, 0.3], [-0.4]


@pytest.fixture
def small():
    return dense_snapshot([2, 3, 1], [W1, W2], [B1, B2], [GW1, GW2], [GB1, GB2])


def trained_snapshot(sizes, activations, steps=1, seed=0):
    rng = np.random.default_rng(seed)
    model = FFNN(sizes, activations, loss="mse")
    X = rng.normal(size=(32, sizes[0])).astype(np.float32)
    Y = rng.normal(size=(32, sizes[-1])).astype(np.float32)
    model.fit(X, Y, batch_size=16, epochs=steps, verbose=0)
    return model.snapshot()


def by_id(elements):
    return {e["data"]["id"]: e for e in elements}


# -- histograms ------------------------------------------------------------------------
def test_histogram_counts_equal_numpy_histogram():
    snap = trained_snapshot([5, 7, 3], ["relu", "linear"])
    for kind in ("params", "grads"):
        data = D.histogram_data(snap, [0, 1], kind, bins=12)
        for d, layer in zip(data, snap["layers"]):
            counts, edges = np.histogram(np.asarray(layer[kind]["W"], dtype=np.float64).ravel(), bins=12)
            assert d["counts"] == counts.tolist()
            np.testing.assert_allclose(d["edges"], edges)


def test_histogram_stats_are_of_the_weight_matrix_only(small):
    (d,) = D.histogram_data(small, [0], "params", bins=4)
    values = np.asarray(W1, dtype=np.float32).astype(np.float64).ravel()
    assert d["array"] == "W" and d["count"] == 6  # the 3 biases are left out
    assert sum(d["counts"]) == 6
    assert d["mean"] == pytest.approx(values.mean())
    assert d["std"] == pytest.approx(values.std())
    assert (d["min"], d["max"]) == (-3.0, 2.0)
    assert d["zero_fraction"] == pytest.approx(1 / 6)
    assert d["title"] == "Layer 1 (Dense 3, Tanh)"


def test_histogram_of_gradients_reads_the_weight_gradients(small):
    (d,) = D.histogram_data(small, [1], "grads", bins=3)
    assert d["count"] == 3
    assert (d["min"], d["max"]) == (pytest.approx(-0.08), pytest.approx(0.09))


def test_histogram_layer_without_weights_has_a_note(small):
    small["layers"].append({"type": "Dropout", "config": {"rate": 0.5}, "input_shape": [1],
                            "output_shape": [1], "params": {}, "grads": {}})
    data = D.histogram_data(small, [2], "params")
    assert data[0]["counts"] is None and data[0]["note"] == "no weights"


def test_histogram_rejects_bad_arguments(small):
    with pytest.raises(ValueError, match="kind"):
        D.histogram_data(small, [0], "biases")
    with pytest.raises(ValueError, match="out of range"):
        D.histogram_data(small, [5], "params")


def test_distribution_figure_has_one_bar_trace_per_layer_with_server_bins(small):
    fig = D.distribution_figure(small, [0, 1], "params", bins=5)
    assert [t.type for t in fig.data] == ["bar", "bar"]
    data = D.histogram_data(small, [0, 1], "params", bins=5)
    for trace, d in zip(fig.data, data):
        edges = np.asarray(d["edges"])
        np.testing.assert_allclose(trace.x, (edges[:-1] + edges[1:]) / 2)
        np.testing.assert_allclose(trace.width, np.diff(edges))
        assert list(trace.y) == d["counts"]
    titles = [a.text for a in fig.layout.annotations]
    assert titles[0].startswith("Layer 1 (Dense 3, Tanh): weights")
    assert titles[1].startswith("Layer 2 (Dense 1, Sigmoid): weights")
    assert "biases excluded" in fig.layout.title.text
    assert fig.layout.xaxis.title.text == "weight value"


def test_gradient_figure_titles_and_axis(small):
    fig = D.distribution_figure(small, [1], "grads")
    assert len(fig.data) == 1
    assert fig.layout.annotations[0].text.startswith("Layer 2 (Dense 1, Sigmoid): gradients")
    assert fig.layout.xaxis.title.text == "dL/dw"


def test_distribution_figure_skips_layers_without_weights_with_a_note(small):
    small["layers"].append({"type": "Dropout", "config": {"rate": 0.25}, "input_shape": [1], "output_shape": [1],
                            "params": {}, "grads": {}})
    fig = D.distribution_figure(small, [0, 2], "params")
    assert len(fig.data) == 1
    assert any("Skipped (no weights): Layer 3 (Dropout 0.25)" in a.text for a in fig.layout.annotations)


def test_the_model_helpers_draw_the_models_snapshot():
    model = FFNN([3, 4, 2], ["relu", "linear"])
    weights = viz.plot_weight_distribution(model)
    assert len(weights.data) == 2
    assert [a.text.split(":")[0] for a in weights.layout.annotations[:2]] == ["Layer 1 (Dense 4, ReLU)",
                                                                              "Layer 2 (Dense 2, Linear)"]
    np.testing.assert_array_equal(weights.data[0].y, np.histogram(model.layers[0].W.astype(np.float64), 50)[0])
    grads = viz.plot_gradient_distribution(model, [1])
    assert len(grads.data) == 1 and grads.layout.xaxis.title.text == "dL/dw"
    assert viz.graph_elements(model) == G.graph_elements(model.snapshot())
    assert len(viz.graph_elements(model, neurons_per_layer=2)) < len(viz.graph_elements(model))


# -- graph elements ------------------------------------------------------------------
def test_small_net_element_counts_are_exact(small):
    elements = G.graph_elements(small)
    classes = [e.get("classes", "") for e in elements]
    assert sum(c.startswith("neuron") for c in classes) == 6          # 2 + 3 + 1
    assert classes.count("bias") == 2                                  # one per layer
    assert classes.count("layer-title") == 3                           # one per column
    assert classes.count("weight") == 2 * 3 + 3 * 1
    assert classes.count("bias-edge") == 3 + 1
    assert len(elements) == 6 + 2 + 3 + 9 + 4


def test_edge_data_equals_the_snapshot_weight_and_gradient(small):
    edges = [e for e in G.graph_elements(small) if e.get("classes") == "weight"]
    for e in edges:
        d = e["data"]
        p, i, j = map(int, re.fullmatch(r"w(\d+)-(\d+)-(\d+)", d["id"]).groups())
        layer = small["layers"][p - 1]
        assert (d["source"], d["target"]) == (f"n{p-1}-{i}", f"n{p}-{j}")
        assert (d["from"], d["to"], d["source_layer"], d["target_layer"]) == (i, j, p - 1, p)
        assert d["w"] == float(layer["params"]["W"][i, j])
        assert d["dw"] == float(layer["grads"]["W"][i, j])
        assert d["weight_abs"] == abs(d["w"])
        assert d["sign"] == int(np.sign(d["w"]))
        assert d["label"] == f"w = {d['w']:.4g}\ndL/dw = {d['dw']:.4g}"
    e = by_id(edges)["w1-1-2"]["data"]
    assert e["label"] == "w = -3\ndL/dw = 0.006"
    assert e["strength"] == 1.0  # the largest |w| of its layer pair


def test_bias_edges_carry_b_and_its_gradient(small):
    els = by_id(G.graph_elements(small))
    e = els["b1-2"]["data"]
    assert (e["source"], e["target"]) == ("bias1", "n1-2")
    assert e["w"] == pytest.approx(0.03) and e["dw"] == pytest.approx(0.3)
    assert e["label"] == "b = 0.03\ndL/db = 0.3"
    assert els["b2-0"]["data"]["w"] == 0.5 and els["b2-0"]["data"]["dw"] == pytest.approx(-0.4)


def test_preset_positions_x_by_column_y_by_rank(small):
    els = by_id(G.graph_elements(small))
    assert els["n0-0"]["position"]["x"] == 0
    assert els["n1-0"]["position"]["x"] == G.COLUMN_GAP
    assert els["n2-0"]["position"]["x"] == 2 * G.COLUMN_GAP
    ys = [els[f"n1-{i}"]["position"]["y"] for i in range(3)]
    assert ys == [-G.ROW_GAP, 0, G.ROW_GAP]


def test_top_k_keeps_the_largest_magnitudes(small):
    els = G.graph_elements(small, max_edges_per_pair=2)
    kept = {e["data"]["id"] for e in els if e.get("classes") == "weight"}
    # layer 1: |w| 3 and 2; layer 2: |w| 0.3 and 0.2
    assert kept == {"w1-1-2", "w1-1-1", "w2-2-0", "w2-1-0"}
    summary = G.graph_summary(small, max_edges_per_pair=2)
    assert summary[0] == ("Input → Layer 1 (Dense 3, Tanh): all 2 inputs, all 3 neurons; "
                          "the 2 strongest of the 6 edges between them (6 in the layer).")


def test_big_net_stays_under_the_element_budget_and_says_what_it_shows():
    rng = np.random.default_rng(1)
    snap = dense_snapshot([784, 500, 10], [rng.normal(size=(784, 500)), rng.normal(size=(500, 10))],
                          activations=["relu", "softmax"])
    view = G.graph_view(snap)
    assert len(view["elements"]) <= 5000
    assert view["summary"] == [
        "Input → Layer 1 (Dense 500, ReLU): 16 of 784 inputs, 16 of 500 neurons; "
        "all 256 edges between them (392,000 in the layer).",
        "Layer 1 (Dense 500, ReLU) → Layer 2 (Dense 10, Softmax): 16 of 500 neurons, all 10 neurons; "
        "all 160 edges between them (5,000 in the layer).",
    ]
    assert [len(v) for v in view["shown"].values()] == [16, 16, 10]

    wide = G.graph_view(snap, neurons={0: 128, 1: 128}, max_edges_per_pair=5000)
    assert len(wide["elements"]) <= 5000
    weights = sum(e.get("classes") == "weight" for e in wide["elements"])
    first = re.search(r"the ([\d,]+) strongest of the 16,384 edges", wide["summary"][0])
    second = re.search(r"all 1,280 edges", wide["summary"][1])
    assert first and second
    assert int(first.group(1).replace(",", "")) + 1280 == weights


def test_max_elements_is_a_hard_cap():
    rng = np.random.default_rng(2)
    snap = dense_snapshot([64, 64, 64, 4], [rng.normal(size=(64, 64)), rng.normal(size=(64, 64)),
                                            rng.normal(size=(64, 4))])
    for cap in (300, 1000, 5000):
        els = G.graph_elements(snap, max_elements=cap, neurons={0: 64, 1: 64, 2: 64})
        assert len(els) <= cap


def test_user_chosen_neurons_are_the_ones_shown(small):
    els = by_id(G.graph_elements(small, neurons={1: [2, 0]}))
    assert {k for k in els if k.startswith("n1-")} == {"n1-0", "n1-2"}
    assert "w1-0-1" not in els and "w1-0-2" in els
    assert "3 neurons" in G.graph_summary(small, neurons={1: [2, 0]})[0]
    assert "2 of 3 neurons" in G.graph_summary(small, neurons={1: [2, 0]})[0]
    with pytest.raises(ValueError, match="out of range"):
        G.graph_elements(small, neurons={1: [3]})
    with pytest.raises(ValueError, match="position"):
        G.graph_elements(small, neurons={7: [0]})


def test_default_choice_keeps_the_most_important_neurons():
    W = np.full((40, 2), 0.01)
    W[33] = [5.0, -5.0]  # input 33 has by far the strongest outgoing weights
    snap = dense_snapshot([40, 2, 1], [W, [[1.0], [1.0]]])
    shown = G.graph_view(snap, neurons_per_layer=3)["shown"]
    assert 33 in shown[0] and len(shown[0]) == 3
    assert G.graph_view(snap, neurons={0: 1})["shown"][0] == [33]


def test_names_from_the_dataset_label_inputs_and_outputs(small):
    small["dataset"] = {"feature_names": ["height", "weight"], "class_names": ["sick"]}
    els = by_id(G.graph_elements(small))
    assert els["n0-1"]["data"]["name"] == "weight"
    assert els["n2-0"]["data"]["name"] == "sick"
    assert "name" not in els["n1-0"]["data"]


def test_stylesheet_maps_from_data_fields_never_per_element(small):
    sheet = G.graph_stylesheet()
    selectors = [r["selector"] for r in sheet]
    assert not any("#" in s or "[id" in s for s in selectors)
    edge = next(r["style"] for r in sheet if r["selector"] == "edge")
    assert edge["width"].startswith("mapData(strength")
    assert edge["curve-style"] == "haystack"
    assert "edge[sign > 0]" in selectors and "edge[sign < 0]" in selectors
    assert json.loads(json.dumps(sheet)) == sheet
    labelled = next(r["style"] for r in sheet if r["selector"] == f"edge.{G.LABELLED_CLASS}")
    assert labelled["label"] == "data(label)"


def test_neuron_details(small):
    d = G.neuron_details(small, 1, 2)
    assert d["title"] == "Layer 1 (Dense 3, Tanh)" and d["activation"] == "Tanh"
    assert d["bias"] == pytest.approx(0.03) and d["bias_grad"] == pytest.approx(0.3)
    assert d["incoming_w"] == pytest.approx([0.0, -3.0])
    assert d["incoming_dw"] == pytest.approx([-0.003, 0.006])
    assert d["outgoing_w"] == pytest.approx([0.3])
    inp = G.neuron_details(small, 0, 1)
    assert inp["bias"] is None and inp["incoming_w"] is None
    assert inp["outgoing_w"] == pytest.approx([1.0, 2.0, -3.0])
    out = G.neuron_details(small, 2, 0)
    assert out["outgoing_w"] is None and out["activation"] == "Sigmoid"
    with pytest.raises(ValueError):
        G.neuron_details(small, 1, 3)


def test_a_stack_that_does_not_end_in_dense_layers_has_no_graph():
    snap = Sequential([Conv2D(2, 3), Flatten()], input_shape=(5, 5, 1)).snapshot()
    note = G.dense_part_note(snap)
    assert note and "Flatten" in note and "(18,)" in note
    with pytest.raises(ValueError, match="No dense layers"):
        G.graph_elements(snap)
    with pytest.raises(ValueError, match="No dense layers"):
        G.neuron_details(snap, 0, 0)
    assert G.dense_part(snap) is None


def test_the_graph_of_a_cnn_is_its_dense_part_after_flatten():
    model = Sequential([Conv2D(2, 3), Flatten(), Dense(4, activation="relu"), Dropout(0.5),
                        Dense(3, activation="softmax")], input_shape=(5, 5, 1), loss="cce")
    snap = model.snapshot()
    assert G.dense_part(snap) == 2
    cols = G.columns(snap)
    assert [(c["position"], c["size"], c["kind"], c["layer_index"]) for c in cols] == [
        (0, 18, "input", None), (1, 4, "hidden", 2), (2, 3, "output", 4)]
    assert cols[0]["title"] == "Layer 2 (Flatten) output"
    assert cols[2]["title"] == "Layer 5 (Dense 3, Softmax)"
    els = by_id(G.graph_elements(snap, neurons={0: 18}))
    assert len([k for k in els if k.startswith("n0-")]) == 18
    W = model.layers[2].W
    i, j = 17, 3
    assert els[f"w1-{i}-{j}"]["data"]["w"] == float(W[i, j])
    assert els["w2-3-1"]["data"]["w"] == float(model.layers[4].W[3, 1])   # Dropout draws as nothing
    assert "name" not in els["n0-0"]["data"]         # a CNN's flat features are not the data's features
    d = G.neuron_details(snap, 2, 1)
    assert d["incoming_w"] == pytest.approx(model.layers[4].W[:, 1].astype(float).tolist())


def test_a_text_models_graph_follows_its_last_recurrent_layer():
    model = Sequential([Embedding(20, 4), LSTM(5), Dense(3, activation="softmax")], input_shape=(6,), loss="cce")
    cols = G.columns(model.snapshot())
    assert [c["size"] for c in cols] == [5, 3]
    assert cols[0]["title"].startswith("Layer 2 (LSTM 5") and cols[0]["title"].endswith("output")


# -- the panels' callbacks, called directly with a fake run cache ---------------------
SESSION = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def fake_store(monkeypatch, small):
    """dashboard.store's readers replaced by an in-memory run cache holding ``small``."""
    from dashboard import store

    snapshots = {SESSION: small}

    def snapshot_for(version, step=None):
        if not version or not version.get("session"):
            return None
        return snapshots.get(version["session"])

    monkeypatch.setattr(store, "snapshot_for", snapshot_for)
    monkeypatch.setattr(store, "get_snapshot", lambda session_id, version=None: snapshots.get(session_id))
    monkeypatch.setattr(store, "get_timeline", lambda session_id: None)      # no run: no health alerts
    return snapshots


def version(n=1):
    return {"session": SESSION, "version": n}


def test_graph_refresh_callback_draws_the_snapshot(fake_store, small):
    from dashboard.panels import network as ng
    elements, summary, options, layout, pinned = ng.refresh_graph(version(), {}, 256)
    assert elements == G.graph_elements(small)
    assert [li.children for li in summary] == G.graph_summary(small)
    assert [o["value"] for o in options] == [0, 1, 2]
    assert options[1]["label"] == "Layer 1 (Dense 3, Tanh) (3)"
    assert layout["name"] == "preset"
    assert pinned == {"sizes": [2, 3, 1], "layers": {"0": [0, 1], "1": [0, 1, 2], "2": [0]}}
    # the page already has this layout and these options: neither is sent again
    again_elements, _, again_options, again_layout, repinned = ng.refresh_graph(version(2), pinned, 256, layout,
                                                                                  options)
    assert again_elements == elements
    assert again_options is dash.no_update
    assert again_layout is dash.no_update           # same neurons: the layout (and the user's zoom) is left alone
    assert repinned is dash.no_update
    # without the page's layout it is sent, and it is the same one
    assert ng.refresh_graph(version(2), pinned, 256)[3] == layout
    # other neurons: a new layout
    *_, other, _ = ng.refresh_graph(version(3), {"sizes": [2, 3, 1], "layers": {"1": [0]}}, 256, layout, options)
    assert other is not dash.no_update and other != layout


def test_edges_per_pair_follows_the_input_and_a_bad_value_is_the_default(fake_store, small):
    from dashboard.panels import network as ng
    elements, *_ = ng.refresh_graph(version(), {}, 2)
    assert elements == G.graph_elements(small, max_edges_per_pair=2)
    for bad in (None, -1, "x"):
        elements, *_ = ng.refresh_graph(version(), {}, bad)
        assert elements == G.graph_elements(small, max_edges_per_pair=G.DEFAULT_EDGES_PER_PAIR)


def test_default_neurons_stay_pinned_while_training_changes_importance(fake_store):
    from dashboard.panels import network as ng
    W = np.full((40, 2), 0.01)
    W[33] = [5.0, -5.0]
    fake_store[SESSION] = dense_snapshot([40, 2, 1], [W, [[1.0], [1.0]]])
    *_, pinned = ng.refresh_graph(version(1), {}, 256)
    assert 33 in pinned["layers"]["0"]
    W2 = np.full((40, 2), 0.01)
    W2[20] = [9.0, 9.0]  # training made input 20 the strongest
    fake_store[SESSION] = dense_snapshot([40, 2, 1], [W2, [[1.0], [1.0]]])
    elements, *_, again = ng.refresh_graph(version(2), pinned, 256)
    assert again is dash.no_update
    assert "n0-33" in {e["data"]["id"] for e in elements} and "n0-20" not in {e["data"]["id"] for e in elements}
    *_, fresh = ng.refresh_graph(version(3), {}, 256)  # "Reset all layers" picks afresh
    assert 20 in fresh["layers"]["0"]


def test_graph_refresh_without_a_model(fake_store):
    from dashboard.panels import network as ng
    elements, summary, options, layout, pinned = ng.refresh_graph({"session": "f" * 32, "version": 1}, {}, 256)
    assert elements == [] and options == [] and summary[0].children == ng.NO_MODEL
    assert layout is dash.no_update and pinned is dash.no_update
    assert ng.refresh_graph(None, {}, 256)[0] == []


def test_graph_refresh_of_a_stack_without_a_dense_part_says_why(fake_store):
    from dashboard.panels import network as ng
    fake_store[SESSION] = Sequential([Conv2D(2, 3), Flatten()], input_shape=(5, 5, 1)).snapshot()
    elements, summary, options, *_ = ng.refresh_graph(version(), {}, 256)
    assert elements == [] and options == []
    assert summary[0].children == G.dense_part_note(fake_store[SESSION])


def test_graph_choice_parsing_and_storing(fake_store):
    from dashboard.panels import network as ng
    assert ng.parse_indices("0-2, 5, 4 - 3", 10) == [0, 1, 2, 3, 4, 5]
    with pytest.raises(ValueError, match="out of range"):
        ng.parse_indices("12", 10)
    with pytest.raises(ValueError, match="not an index"):
        ng.parse_indices("a", 10)
    with pytest.raises(ValueError, match="type neuron indices"):
        ng.parse_indices(" , ", 10)
    with pytest.raises(ValueError, match=f"at most {G.MAX_NEURONS_PER_LAYER}"):
        ng.parse_indices(f"0-{G.MAX_NEURONS_PER_LAYER}", 1000)
    choice, msg = ng.apply_choice(ng.SHOW_INDICES, 1, "0, 2", 16, {}, version())
    assert choice == {"sizes": [2, 3, 1], "layers": {"1": [0, 2]}} and msg == ""
    choice, _ = ng.apply_choice(ng.SHOW_STRONGEST, 0, None, 1, choice, version())
    assert choice["layers"] == {"1": [0, 2], "0": 1}
    elements, *_ = ng.refresh_graph(version(), choice, 256)
    assert {e["data"]["id"] for e in elements if e.get("classes", "").startswith("neuron")} == \
        {"n0-1", "n1-0", "n1-2", "n2-0"}
    _, msg = ng.apply_choice(ng.SHOW_INDICES, 1, "9", 16, {}, version())
    assert "out of range" in msg
    _, msg = ng.apply_choice(ng.SHOW_STRONGEST, 1, None, 0, {}, version())
    assert msg.startswith("Strongest: a whole number")
    assert ng.apply_choice(ng.SHOW_INDICES, None, "1", 16, {}, version()) == (dash.no_update, "Choose a layer first.")
    assert ng.apply_choice(ng.SHOW_INDICES, 7, "1", 16, {}, version()) == (dash.no_update,
                                                                            "That layer no longer exists.")
    assert ng.apply_choice(ng.SHOW_INDICES, 1, "1", 16, {}, {"session": "e" * 32}) == (dash.no_update,
                                                                                       "No model yet.")
    assert ng.apply_choice(ng.RESET_NEURONS, None, None, None, choice, version()) == ({}, "")


def test_stale_choice_is_ignored_after_the_model_changes(fake_store):
    from dashboard.panels import network as ng
    elements, *_ = ng.refresh_graph(version(), {"sizes": [2, 3, 1], "layers": {"1": [0, 99], "9": 4}}, 256)
    assert {e["data"]["id"] for e in elements if e.get("classes") == "neuron hidden"} == {"n1-0"}
    elements, *_ = ng.refresh_graph(version(), {"sizes": [2, 5, 1], "layers": {"1": [0]}}, 256)
    assert len([e for e in elements if e.get("classes") == "neuron hidden"]) == 3


def panel_text(children):
    children = children if isinstance(children, list) else [children]
    return json.dumps([c.to_plotly_json() for c in children], default=lambda o: o.to_plotly_json())


def test_neuron_panel_shows_bias_gradient_activation_and_weights(fake_store):
    from dashboard.panels import network as ng
    panel = ng.neuron_panel({"id": "n1-2", "layer_position": 1, "index": 2, "kind": "hidden"}, version())
    text = panel_text(panel)
    for expected in ("Layer 1 (Dense 3, Tanh)", "Tanh", "0.03", "0.3", "-3", "0.006", "Incoming weights (2)"):
        assert expected in text


def test_neuron_panel_for_inputs_bias_nodes_stale_neurons_and_no_model(fake_store):
    from dashboard.panels import network as ng
    text = panel_text(ng.neuron_panel({"id": "n0-1", "layer_position": 0, "index": 1, "kind": "input"}, version()))
    assert "An input" in text and "feeds 3 neurons" in text and "largest |w| 3" in text
    text = panel_text(ng.neuron_panel({"id": "bias1", "layer_position": 1, "kind": "bias"}, version()))
    assert "bias node feeds Layer 1" in text
    text = panel_text(ng.neuron_panel({"id": "n1-9", "layer_position": 1, "index": 9, "kind": "hidden"}, version()))
    assert "no longer in the model" in text
    text = panel_text(ng.neuron_panel({"id": "n1-0", "layer_position": 1, "index": 0}, {"session": "e" * 32}))
    assert ng.NO_MODEL in text
    assert ng.neuron_panel(None, version()) is dash.no_update


@pytest.fixture
def no_trigger(monkeypatch):
    """The histogram callback outside a Dash request: nothing triggered it."""
    from dashboard.panels import histograms as h
    monkeypatch.setattr(h, "ctx", types.SimpleNamespace(triggered_id=None))
    return h


def test_histogram_callback_builds_both_figures(fake_store, small, no_trigger):
    h = no_trigger
    weights, grads, options, chose = h.refresh_histograms(version(), None)
    assert len(weights["data"]) == 2 and len(grads["data"]) == 2
    assert weights == D.distribution_spec(small, [0, 1], "params", bins=h.BINS)
    assert grads == D.distribution_spec(small, [0, 1], "grads", bins=h.BINS)
    assert [o["value"] for o in options] == [0, 1] and chose is dash.no_update
    weights, grads, sent, _ = h.refresh_histograms(version(), [1], None, options)
    assert len(weights["data"]) == 1 and sent is dash.no_update
    assert weights["layout"]["annotations"][0]["text"].startswith("Layer 2 (Dense 1, Sigmoid): weights")
    assert grads["layout"]["annotations"][0]["text"].startswith("Layer 2 (Dense 1, Sigmoid): gradients")
    weights, grads, _, _ = h.refresh_histograms(version(), [])
    assert len(weights["data"]) == 0 and "Choose" in weights["layout"]["annotations"][0]["text"]
    weights, _, options, _ = h.refresh_histograms(None, None)
    assert options == [] and len(weights["data"]) == 0
    assert h.refresh_histograms(None, None, None, [])[2] is dash.no_update


def test_histogram_options_mark_layers_without_weights(fake_store, small, no_trigger):
    h = no_trigger
    small["layers"].append({"type": "Dropout", "config": {"rate": 0.5}, "input_shape": [1], "output_shape": [1],
                            "params": {}, "grads": {}})
    weights, _, options, _ = h.refresh_histograms(version(), None)
    assert [o["disabled"] for o in options] == [False, False, True]
    assert options[2]["label"] == "Layer 3 (Dropout 0.5) - no weights"
    assert len(weights["data"]) == 2            # every layer with weights, the Dropout left out


def test_histograms_follow_the_layer_chosen_in_the_architecture_graph(fake_store, small, monkeypatch):
    from dashboard import ids
    from dashboard.panels import histograms as h
    monkeypatch.setattr(h, "ctx", types.SimpleNamespace(triggered_id=ids.SELECTED_LAYER))
    weights, _, _, chose = h.refresh_histograms(version(), [0, 1], 1)
    assert chose == [1] and len(weights["data"]) == 1
    assert weights["layout"]["annotations"][0]["text"].startswith("Layer 2 (Dense 1, Sigmoid)")
    _, _, _, chose = h.refresh_histograms(version(), [0, 1], 5)      # not a layer of this model
    assert chose is dash.no_update
