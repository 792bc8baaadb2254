"""Tests for engine.health (per-layer training health and its alerts) and viz.health
(the small-multiples figure): every statistic against a direct NumPy computation on a
real engine model, every alert rule on a real run that should raise it (and a healthy
run that raises none), and the figure's traces, band and plain JSON."""
from __future__ import annotations

import json
import math
import timeit

import numpy as np
import pytest

from engine import FFNN, Conv2D, Dense, Flatten, MaxPool2D, Sequential
from engine import health as H
from engine.health import alerts, describe_model, layer_health, update_capture
from viz.health import CHARTS, alerts_markup, health_figure
from viz.runs import RUN_PALETTE

STAT_KEYS = {"layer", "type", "activation", "units", "samples", "grad_norm", "weight_norm", "update_ratio",
             "act_mean", "act_std", "dead_fraction", "saturated_fraction", "near_zero_fraction", "symmetric"}
ALERT_KEYS = {"rule", "layer", "severity", "title", "evidence", "suggestion", "threshold", "step"}


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits
    d = load_digits()
    return (d.data / 16.0).astype(np.float32), d.target.astype(np.int64)


def train(model, X, y, learning_rate, epochs=1, every=3, batch_size=100):
    """Fit with a batch callback that records layer_health (with the update of one
    step, captured with update_capture) every ``every`` batches, as the job does."""
    series, probe, capture, state = [], X[:256], update_capture(model), {"n": 0}

    def on_batch(m, logs):
        if logs["event"] != "batch":
            return
        state["n"] += 1
        if capture.armed:
            series.append({"step": state["n"], "epoch": state["n"] / logs["batches"],
                           "layers": layer_health(m, probe, capture.after())})
        elif state["n"] % every == 0:
            capture.before()

    model.fit(X, y, batch_size=batch_size, learning_rate=learning_rate, epochs=epochs, verbose=0,
              callbacks=[on_batch])
    return series


def rules(found):
    return {a["rule"] for a in found}


# -- the statistics, against NumPy -------------------------------------------------------

def manual_outputs(model, X):
    """The layers' outputs of a Dense model, recomputed in float64 from W and b."""
    acts = {"relu": lambda u: np.maximum(u, 0), "tanh": np.tanh, "sigmoid": lambda u: 1 / (1 + np.exp(-u)),
            "linear": lambda u: u,
            "softmax": lambda u: np.exp(u - u.max(1, keepdims=True)) / np.exp(u - u.max(1, keepdims=True)).sum(1, keepdims=True)}
    out, a = [], np.asarray(X, dtype=np.float64)
    for layer in model.layers:
        a = acts[layer.activation](a @ np.asarray(layer.W, np.float64) + np.asarray(layer.b, np.float64))
        out.append(a)
    return out


@pytest.fixture
def mixed_model():
    """relu -> tanh -> sigmoid -> softmax, float64, with gradients from one backward,
    three relu units killed and large tanh/sigmoid weights so some outputs saturate."""
    rng = np.random.default_rng(3)
    model = FFNN([6, 8, 7, 5, 3], ["relu", "tanh", "sigmoid", "softmax"], loss="cce", dtype="float64",
                 init_params={"seed": 1})
    model.layers[0].b = np.array([-1e3, -1e3, -1e3, 0, 0, 0, 0.1, 0.2])
    model.layers[1].W = model.layers[1].W * 6
    model.layers[2].W = model.layers[2].W * 8
    X = rng.normal(size=(40, 6))
    model.forward(X)
    model.backward(rng.integers(0, 3, 40))
    return model, rng.normal(size=(25, 6))


def test_every_statistic_matches_a_direct_numpy_computation(mixed_model):
    model, probe = mixed_model
    update = {i: np.random.default_rng(i).normal(size=l.W.shape) * 1e-3 for i, l in enumerate(model.layers)}
    got = layer_health(model, probe, update)
    outs = manual_outputs(model, probe)
    assert len(got) == 4
    for i, (entry, layer, a) in enumerate(zip(got, model.layers, outs)):
        assert set(entry) == STAT_KEYS
        assert entry["layer"] == i and entry["type"] == "Dense" and entry["activation"] == layer.activation
        assert entry["units"] == layer.units and entry["samples"] == 25
        assert entry["grad_norm"] == pytest.approx(np.sqrt((layer.grad_W ** 2).sum()), rel=1e-12)
        assert entry["weight_norm"] == pytest.approx(np.sqrt((layer.W ** 2).sum()), rel=1e-12)
        ratio = math.log10(np.sqrt((update[i] ** 2).sum()) / np.sqrt((layer.W ** 2).sum()))
        assert entry["update_ratio"] == pytest.approx(ratio, rel=1e-12)
        assert entry["act_mean"] == pytest.approx(a.mean(), rel=1e-9, abs=1e-12)
        assert entry["act_std"] == pytest.approx(a.std(), rel=1e-9)
        assert entry["near_zero_fraction"] == pytest.approx(np.mean(np.abs(a) < 1e-3), abs=1e-12)
        assert entry["symmetric"] is False
        assert all(type(entry[k]) is float for k in ("grad_norm", "weight_norm", "update_ratio", "act_mean",
                                                     "act_std", "near_zero_fraction"))
    relu, tanh, sigm, soft = got
    dead = np.all(outs[0] == 0, axis=0).mean()
    assert relu["dead_fraction"] == pytest.approx(dead) and relu["dead_fraction"] >= 3 / 8
    assert tanh["saturated_fraction"] == pytest.approx(np.mean(np.abs(outs[1]) > 0.97))
    assert sigm["saturated_fraction"] == pytest.approx(np.mean((outs[2] < 0.03) | (outs[2] > 0.97)))
    assert 0 < tanh["saturated_fraction"] < 1 and 0 < sigm["saturated_fraction"] < 1
    # each statistic only where it applies
    assert relu["saturated_fraction"] is None and soft["saturated_fraction"] is None
    assert tanh["dead_fraction"] is sigm["dead_fraction"] is soft["dead_fraction"] is None


def test_update_ratio_is_none_without_an_update_or_with_zero_weights_and_minus_inf_for_no_change(mixed_model):
    model, probe = mixed_model
    assert all(e["update_ratio"] is None for e in layer_health(model, probe))
    got = layer_health(model, probe, {1: np.zeros_like(model.layers[1].W)})
    assert got[1]["update_ratio"] == -math.inf
    assert got[0]["update_ratio"] is None and got[2]["update_ratio"] is None
    model.layers[0].W = np.zeros_like(model.layers[0].W)
    assert layer_health(model, probe, {0: np.ones_like(model.layers[0].W)})[0]["update_ratio"] is None


def test_dead_units_count_units_silent_for_every_sample_including_conv_channels():
    rng = np.random.default_rng(0)
    model = Sequential([Conv2D(4, 3, activation="relu"), MaxPool2D(2), Flatten(), Dense(3, activation="relu")],
                       input_shape=(6, 6, 1), loss="mse", dtype="float64", seed=0)
    conv = model.layers[0]
    conv.b = np.array([-1e3, 0.0, -1e3, 0.0])      # channels 0 and 2 never fire
    X = rng.normal(size=(12, 6, 6, 1))
    got = layer_health(model, X)
    outs = model.layer_outputs(X)
    assert got[0]["dead_fraction"] == pytest.approx(np.all(outs[0].reshape(-1, 4) == 0, axis=0).mean())
    assert got[0]["dead_fraction"] >= 0.5 and got[0]["units"] == 4
    assert got[0]["grad_norm"] == 0.0 and got[0]["symmetric"] is None      # no backward yet; not Dense
    for pool_or_flatten in got[1:3]:
        assert all(pool_or_flatten[k] is None for k in STAT_KEYS - {"layer", "type", "activation", "units",
                                                                    "samples"})
    # one sample where the last Dense unit fires is enough to make it alive
    dense = model.layers[3]
    dense.b = np.array([-1e3, -1e3, 0.0])
    a = model.layer_outputs(X)[3]
    assert layer_health(model, X)[3]["dead_fraction"] == pytest.approx(np.all(a == 0, axis=0).mean())


def test_symmetric_is_true_only_when_all_units_have_equal_weights_and_outputs():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(10, 5))
    zeros = FFNN([5, 4, 2], ["sigmoid", "softmax"], init="zeros", dtype="float64")
    got = layer_health(zeros, X)
    assert got[0]["symmetric"] is True and got[1]["symmetric"] is True      # all zero: every unit equal
    model = FFNN([5, 4, 2], ["tanh", "softmax"], dtype="float64", init_params={"seed": 0})
    assert [e["symmetric"] for e in layer_health(model, X)] == [False, False]
    column = rng.normal(size=(5, 1))
    model.layers[0].W = np.repeat(column, 4, axis=1)
    assert layer_health(model, X)[0]["symmetric"] is True
    model.layers[0].b = np.array([0.0, 0.0, 0.0, 0.5])          # equal columns, but one unit shifted
    assert layer_health(model, X)[0]["symmetric"] is False
    model.layers[0].b = np.zeros(4)
    W = np.repeat(column, 4, axis=1)
    W[2, 3] += 1e-9 * np.abs(W).max()                           # beyond 1e-12 relative: units differ
    model.layers[0].W = W
    assert layer_health(model, X)[0]["symmetric"] is False
    one_unit = FFNN([5, 1], ["linear"], init="zeros")
    assert layer_health(one_unit, X)[0]["symmetric"] is None
    assert H.symmetry_tolerance(np.float64) == 1e-12
    assert H.symmetry_tolerance(np.float32) == pytest.approx(1000 * np.finfo(np.float32).eps)


def test_norms_do_not_overflow_float32_and_report_non_finite_values():
    model = FFNN([3, 2], ["linear"], dtype="float32")
    model.layers[0].W = np.full((3, 2), 1e25, dtype=np.float32)     # squares overflow float32
    entry = layer_health(model, np.ones((2, 3)))[0]
    assert entry["weight_norm"] == pytest.approx(1e25 * math.sqrt(6), rel=1e-6)
    model.layers[0].grad_W[...] = np.inf
    assert layer_health(model, np.ones((2, 3)))[0]["grad_norm"] == math.inf


# -- update_capture ------------------------------------------------------------------------

@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_update_capture_gives_exactly_the_change_of_one_step(optimizer):
    rng = np.random.default_rng(2)
    model = FFNN([6, 5, 4, 3], ["relu", "tanh", "softmax"], loss="cce", optimizer=optimizer)
    X, y = rng.normal(size=(16, 6)).astype(np.float32), rng.integers(0, 3, 16)
    capture = update_capture(model)
    with pytest.raises(RuntimeError, match="before"):
        capture.after()
    for _ in range(2):                                 # twice: the buffers are reused
        model.forward(X)
        model.backward(y)
        capture.before()
        before = [np.array(l.W) for l in model.layers]
        model.step(0.05)
        update = capture.after()
        assert sorted(update) == [0, 1, 2]
        for i, layer in enumerate(model.layers):
            assert update[i].dtype == layer.W.dtype
            np.testing.assert_array_equal(update[i], layer.W - before[i])
            assert np.abs(update[i]).max() > 0
            assert not np.shares_memory(update[i], layer.W)
    assert not capture.armed
    with pytest.raises(RuntimeError):
        capture.after()


def test_update_capture_skips_layers_without_a_kernel():
    model = Sequential([Conv2D(2, 3), Flatten(), Dense(2)], input_shape=(5, 5, 1), seed=0)
    capture = update_capture(model)
    capture.before()
    assert sorted(capture.after()) == [0, 2]


# -- alerts on real runs ------------------------------------------------------------------------

def test_a_healthy_tanh_run_raises_no_alert(digits):
    X, y = digits
    model = FFNN([64, 64, 32, 10], ["tanh", "tanh", "softmax"], loss="cce", init="xavier",
                 init_params={"seed": 0}, optimizer="adam")
    series = train(model, X, y, 1e-3, epochs=5)
    assert len(series) >= 20
    assert alerts(series, describe_model(model, 1e-3)) == []
    assert model.evaluate(X, y)["accuracy"] > 0.8


def test_a_healthy_relu_run_raises_no_alert(digits):
    X, y = digits
    model = FFNN([64, 64, 32, 10], ["relu", "relu", "softmax"], loss="cce", init="xavier",
                 init_params={"seed": 0}, optimizer="adam")
    series = train(model, X, y, 1e-3, epochs=5)
    assert alerts(series, describe_model(model, 1e-3)) == []
    last = series[-1]["layers"]
    assert -4 < last[0]["update_ratio"] < -2


def test_zero_initialisation_raises_the_symmetry_alert(digits):
    X, y = digits
    model = FFNN([64, 32, 10], ["sigmoid", "softmax"], loss="cce", init="zeros", optimizer="sgd")
    series = train(model, X, y, 0.5, epochs=1)
    found = alerts(series, describe_model(model, 0.5))
    sym = [a for a in found if a["rule"] == "symmetry"]
    assert [a["layer"] for a in sym] == [0]
    assert sym[0]["severity"] == "error"
    assert sym[0]["title"] == "Layer 1: all 32 units are equal"
    assert "all 32 units of layer 1" in sym[0]["evidence"]
    assert "zero initialisation" in sym[0]["suggestion"] and "Xavier or He" in sym[0]["suggestion"]
    assert found[0]["rule"] == "symmetry"                   # errors come first
    # the rule waits for two steps
    early = [{"step": 1, "epoch": 0.05, "layers": layer_health(FFNN([64, 32, 10], ["sigmoid", "softmax"],
                                                                       init="zeros"), X[:50])}]
    assert "symmetry" not in rules(alerts(early))


def test_a_far_too_large_learning_rate_saturates_a_sigmoid_network(digits):
    X, y = digits
    model = FFNN([64, 32, 10], ["sigmoid", "softmax"], loss="cce", optimizer="sgd", init_params={"seed": 0})
    series = train(model, X, y, 50.0, epochs=2)
    found = alerts(series, describe_model(model, 50.0))
    assert rules(found) & {"saturation", "dead_units"}
    sat = [a for a in found if a["rule"] == "saturation"][0]
    assert sat["layer"] == 0 and sat["title"].startswith("Layer 1: ") and "sigmoid outputs are saturated" in sat["title"]
    assert "(now 50)" in sat["suggestion"]
    assert "0.03" in sat["threshold"] and "0.97" in sat["threshold"] and "50%" in sat["threshold"]


def test_very_negative_relu_biases_raise_dead_units(digits):
    X, y = digits
    model = FFNN([64, 32, 10], ["relu", "softmax"], loss="cce", optimizer="adam", init_params={"seed": 0})
    model.layers[0].b = np.full(32, -100.0, dtype=np.float32)
    series = train(model, X, y, 1e-3, epochs=1)
    dead = [a for a in alerts(series) if a["rule"] == "dead_units"]
    assert len(dead) == 1 and dead[0]["layer"] == 0
    assert dead[0]["title"] == "Layer 1: 100% of ReLU units never fire"
    assert "32 of 32 units" in dead[0]["evidence"] and "256 probe samples" in dead[0]["evidence"]
    assert "Leaky ReLU" in dead[0]["suggestion"] and "50%" in dead[0]["threshold"]


# -- alert rules on made-up series ---------------------------------------------------------------

def rec(step, *layers):
    """A record whose layers hold only the given statistics (the rest None)."""
    out = []
    for i, stats in enumerate(layers):
        entry = {k: None for k in STAT_KEYS}
        entry.update(layer=i, type="Dense", activation="tanh", units=10, samples=100)
        entry.update(stats)
        out.append(entry)
    return {"step": step, "epoch": step / 10, "layers": out}


def test_vanishing_gradients_rule_compares_the_largest_and_smallest_layer_gradients():
    ok = [rec(5, {"grad_norm": 1e-3}, {"grad_norm": 0.9}, {"grad_norm": 0.5})]
    assert alerts(ok) == []
    bad = [rec(5, {"grad_norm": 2e-4}, {"grad_norm": 0.01}, {"grad_norm": 0.5})]
    (a,) = alerts(bad)
    assert set(a) == ALERT_KEYS
    assert a["rule"] == "vanishing_gradients" == H.VANISHING and a["layer"] == 0 and a["step"] == 5
    assert "2,500×" in a["title"] and "0.0002" in a["evidence"] and "0.5" in a["evidence"]
    assert "He" in a["suggestion"] and "ReLU" in a["suggestion"] and "fewer layers" in a["suggestion"]
    assert ">= 1000" in a["threshold"]
    zero = alerts([rec(5, {"grad_norm": 0.0}, {"grad_norm": 0.3})])
    assert [(a["rule"], a["layer"]) for a in zero] == [("vanishing_gradients", 0)]
    assert alerts([rec(5, {"grad_norm": 0.0}, {"grad_norm": 0.0})]) == []        # nothing learned yet


def test_exploding_gradients_rule_growth_and_non_finite():
    grow = [rec(1, {"grad_norm": 0.1}, {"grad_norm": 0.2}), rec(2, {"grad_norm": 5.0}, {"grad_norm": 3.0}),
            rec(3, {"grad_norm": 150.0}, {"grad_norm": 100.0})]
    (a,) = [a for a in alerts(grow) if a["rule"] == "exploding_gradients"]
    assert a["layer"] == 0 and a["severity"] == "warning" and "1,500×" in a["title"]
    assert alerts(grow[:2]) == []
    nan = grow[:2] + [rec(3, {"grad_norm": math.inf}, {"grad_norm": math.nan})]
    (b,) = alerts(nan, {"learning_rate": 3.0})
    assert b["rule"] == "exploding_gradients" and b["severity"] == "error"
    assert "Layer 1, Layer 2" in b["evidence"] and "(now 3)" in b["suggestion"]
    # Falling gradients are not exploding ones
    assert alerts([rec(1, {"grad_norm": 100.0}), rec(2, {"grad_norm": 0.01})]) == []


def test_update_ratio_rules_need_the_last_five_records():
    stalled = [rec(s, {"update_ratio": -6.0}) for s in range(1, 6)]
    (a,) = alerts(stalled)
    assert a["rule"] == "stalled_updates" and "-5" in a["threshold"] and "5 records" in a["threshold"]
    assert alerts(stalled[:4]) == []
    assert alerts(stalled[:4] + [rec(5, {"update_ratio": -3.0})]) == []
    assert rules(alerts(stalled[:4] + [rec(5, {"update_ratio": -math.inf})])) == {"stalled_updates"}
    assert alerts(stalled[:4] + [rec(5, {"update_ratio": None})]) == []
    large = [rec(s, {"update_ratio": -0.5}) for s in range(1, 8)]
    (b,) = alerts(large, {"learning_rate": 2})
    assert b["rule"] == "large_updates" and "32%" in b["evidence"] and "smaller learning rate (now 2)" in b["suggestion"]
    healthy = [rec(s, {"update_ratio": -3.0}) for s in range(1, 8)]
    assert alerts(healthy) == []


def test_saturation_and_dead_rules_only_look_at_the_right_activations():
    sat = rec(3, {"saturated_fraction": 0.6}, {"saturated_fraction": 0.4})
    assert [(a["rule"], a["layer"]) for a in alerts([sat])] == [("saturation", 0)]
    assert "60%" in alerts([sat])[0]["title"] and "|a| > 0.97" in alerts([sat])[0]["threshold"]
    dead = rec(3, {"activation": "relu", "units": 64, "dead_fraction": 41 / 64})
    (d,) = alerts([dead])
    assert d["title"] == "Layer 1: 64% of ReLU units never fire" and "41 of 64 units" in d["evidence"]
    assert alerts([rec(3, {"activation": "relu", "dead_fraction": 0.49})]) == []


def test_alerts_use_model_info_names_and_handle_empty_input():
    assert alerts([]) == [] and alerts(None) == []
    info = {"layer_names": ["Hidden", "Out"], "inits": ["xavier", "xavier"]}
    series = [rec(4, {"symmetric": True, "units": 32})]
    (a,) = alerts(series, info)
    assert a["title"] == "Hidden: all 32 units are equal"
    assert "zero initialisation" not in a["suggestion"] and "Xavier or He" in a["suggestion"]
    model = FFNN([3, 4, 2], ["relu", "softmax"], init="zeros", optimizer="adam")
    d = describe_model(model, 0.01)
    assert d == {"layer_names": ["Layer 1", "Layer 2"], "inits": ["zeros", "zeros"],
                 "activations": ["relu", "softmax"], "units": [4, 2], "learning_rate": 0.01, "optimizer": "adam"}
    json.dumps(d)


def test_rule_names_and_thresholds_are_module_constants():
    assert H.RULES == ("dead_units", "vanishing_gradients", "exploding_gradients", "stalled_updates",
                       "large_updates", "saturation", "symmetry")
    assert (H.DEAD_FRACTION_ALERT, H.VANISHING_RATIO, H.EXPLODING_GROWTH) == (0.5, 1e3, 1e3)
    assert (H.UPDATE_RATIO_LOW, H.UPDATE_RATIO_HIGH, H.UPDATE_RATIO_RECORDS) == (-5.0, -1.0, 5)
    assert (H.SATURATED_FRACTION_ALERT, H.SYMMETRY_MIN_STEPS) == (0.5, 2)
    assert H.UPDATE_RATIO_BAND == (-3.5, -2.5)


# -- the figure --------------------------------------------------------------------------------

def traces_by_chart(fig):
    out = {}
    for t in fig["data"]:
        out.setdefault(t["meta"]["stat"], []).append(t)
    return out


@pytest.fixture(scope="module")
def relu_tanh_series(digits):
    X, y = digits
    model = FFNN([64, 32, 16, 10], ["relu", "tanh", "softmax"], loss="cce", optimizer="adam",
                 init_params={"seed": 0})
    return train(model, X, y, 1e-3, epochs=2), model


def test_figure_has_one_trace_per_layer_per_chart_and_the_reference_band(relu_tanh_series):
    series, model = relu_tanh_series
    titles = [f"Layer {i + 1} (Dense {l.units})" for i, l in enumerate(model.layers)]
    fig = health_figure(series, titles)
    json.dumps(fig, allow_nan=False)
    charts = traces_by_chart(fig)
    assert list(charts) == [k for k, _, _ in CHARTS]          # this net has every statistic
    assert fig["layout"]["meta"]["charts"] == list(charts)
    for key, traces in charts.items():
        layers = [t["meta"]["layer"] for t in traces]
        expected = {"dead_fraction": [0], "saturated_fraction": [1]}.get(key, [0, 1, 2])
        assert layers == expected, key
        for t in traces:
            assert len(t["x"]) == len(series) == len(t["y"])
            assert t["x"] == [r["step"] for r in series]
            assert t["line"]["color"] == RUN_PALETTE[t["meta"]["layer"]]
            assert t["name"] == titles[t["meta"]["layer"]]
    # each layer has one legend entry for all its lines
    shown = [t["meta"]["layer"] for t in fig["data"] if t["showlegend"]]
    assert sorted(shown) == [0, 1, 2]
    # values are the series' own
    gn = charts["grad_norm"][1]["y"]
    assert gn[-1] == pytest.approx(series[-1]["layers"][1]["grad_norm"], rel=1e-4)
    dead = charts["dead_fraction"][0]["y"]
    assert dead[-1] == pytest.approx(100 * series[-1]["layers"][0]["dead_fraction"], rel=1e-4, abs=1e-9)
    # the band around 1e-3 on the update-ratio chart, labelled
    band = [s for s in fig["layout"]["shapes"] if s.get("name") == "update_ratio_band"]
    assert len(band) == 1
    yref = charts["update_ratio"][0]["yaxis"]
    assert band[0]["yref"] == yref and (band[0]["y0"], band[0]["y1"]) == (-3.5, -2.5)
    assert any("1e-3" in a["text"] and a.get("yref") == yref for a in fig["layout"]["annotations"])
    lo, hi = fig["layout"]["yaxis" + yref[1:]]["range"]
    assert lo <= -3.5 and hi >= -2.5
    # the gradient chart is logarithmic; the axes sit side by side without overlapping
    gyref = charts["grad_norm"][0]["yaxis"]
    assert fig["layout"]["yaxis" + gyref[1:]]["type"] == "log"
    doms = [(fig["layout"][k]["domain"], fig["layout"]["y" + k[1:]]["domain"])
            for k in fig["layout"] if k.startswith("xaxis")]
    assert len(doms) == len(CHARTS)
    for i, (xa, ya) in enumerate(doms):
        assert 0 <= xa[0] < xa[1] <= 1 and 0 <= ya[0] < ya[1] <= 1
        for xb, yb in doms[i + 1:]:
            assert xa[1] <= xb[0] or xb[1] <= xa[0] or ya[1] <= yb[0] or yb[1] <= ya[0]


def test_figure_leaves_out_statistics_no_layer_has_and_gaps_bad_values():
    series = [rec(s, {"grad_norm": g, "update_ratio": -3.0, "act_mean": 0.1, "act_std": 0.5,
                      "near_zero_fraction": 0.0}) for s, g in ((1, 0.5), (2, 0.0), (3, math.nan), (4, math.inf))]
    series[-1]["layers"][0]["update_ratio"] = -math.inf
    fig = health_figure(series, None)
    json.dumps(fig, allow_nan=False)
    charts = traces_by_chart(fig)
    assert set(charts) == {"grad_norm", "update_ratio", "act_mean", "act_std", "near_zero_fraction"}
    assert charts["grad_norm"][0]["y"] == [0.5, None, None, None]       # log axis: 0 is a gap
    assert charts["update_ratio"][0]["y"] == [-3.0, -3.0, -3.0, None]
    assert charts["act_mean"][0]["name"] == "Layer 1"
    assert not [s for s in fig["layout"]["shapes"] if s.get("name", "").endswith("_alert")]


def test_empty_series_gives_a_note_figure():
    for empty in ([], None, [{"step": 1, "epoch": 0.1, "layers": []}]):
        fig = health_figure(empty, [])
        assert fig["data"] == []
        assert "once training" in fig["layout"]["annotations"][0]["text"]


def test_long_series_are_thinned_but_keep_the_latest_record():
    series = [rec(s, {"grad_norm": 1.0 + s}) for s in range(2000)]
    fig = health_figure(series, ["a"])
    (t,) = fig["data"]
    assert len(t["x"]) <= 600 and t["x"][0] == 0 and t["x"][-1] == 1999
    assert fig["layout"]["meta"]["records"] == 2000


def test_alerts_markup_is_plain():
    found = alerts([rec(3, {"saturated_fraction": 0.9})])
    (m,) = alerts_markup(found)
    assert m["class_name"] == "health-alert health-alert-warning" and m["title"] == found[0]["title"]
    json.dumps(m)
    assert alerts_markup([]) == []


# -- cost ------------------------------------------------------------------------------------------

def test_layer_health_adds_little_to_the_probe_pass():
    """784-500-10 with a 256-sample probe: beyond the one inference pass (a matrix
    product the job pays for anyway), the norms, statistics and update capture take a
    few milliseconds. The probe pass is replaced by its cached result to time the rest
    alone, so a busy machine does not make the test flaky."""
    rng = np.random.default_rng(0)
    model = FFNN([784, 500, 10], ["relu", "softmax"], loss="cce", optimizer="adam")
    X = rng.random((256, 784)).astype(np.float32)
    model.forward(X[:100])
    model.backward(rng.integers(0, 10, 100))
    capture = update_capture(model)
    outputs = model.layer_outputs(X)
    expected = layer_health(model, X)
    model.layer_outputs = lambda _X: outputs          # the instance attribute shadows the method

    def health():
        capture.before()
        return layer_health(model, X, capture.after())

    assert [{k: v for k, v in e.items() if k != "update_ratio"} for e in health()] == \
        [{k: v for k, v in e.items() if k != "update_ratio"} for e in expected]
    rest = min(timeit.repeat(health, number=5, repeat=7)) / 5
    assert rest < 0.010, rest
