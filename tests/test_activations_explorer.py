"""The activation explorer (viz.activations, dashboard.panels.activations): every curve
and derivative against a formula written here and against finite differences of the
engine's forward, the binary step, the zone shares on hand-made pre-activations (with
engine.health's thresholds), the figure, and the panel's callback on a real run cache
whose histogram holds exactly the layer's pre-activations recomputed with the engine."""
from __future__ import annotations

import io
import json
import math

import dash
import numpy as np
import pytest
from flask import Flask

from engine import ACTIVATIONS, Dense, Sequential, SimpleRNN
from engine.health import SIGMOID_SATURATION, TANH_SATURATION
from viz import activations as A

pytestmark = pytest.mark.usefixtures("shared_data")


# -- the curves, against formulas written here ------------------------------------------

def _sigmoid(u):
    return 1.0 / (1.0 + np.exp(-u))


def _phi(u):                                   # standard normal cdf, with math.erf
    return np.array([0.5 * (1.0 + math.erf(v / math.sqrt(2.0))) for v in u])


FORMULAS = {   # name: (f, f')
    "linear": (lambda u: u, lambda u: np.ones_like(u)),
    "relu": (lambda u: np.where(u > 0, u, 0.0), lambda u: np.where(u > 0, 1.0, 0.0)),
    "sigmoid": (_sigmoid, lambda u: _sigmoid(u) * (1 - _sigmoid(u))),
    "tanh": (lambda u: np.array([math.tanh(v) for v in u]),
             lambda u: 1 - np.array([math.tanh(v) for v in u]) ** 2),
    # 2 classes: the first output of softmax(u, 0) = e^u / (e^u + e^0)
    "softmax": (lambda u: np.exp(u) / (np.exp(u) + 1.0),
                lambda u: np.exp(u) / (np.exp(u) + 1.0) * (1.0 - np.exp(u) / (np.exp(u) + 1.0))),
    "leaky_relu": (lambda u: np.where(u > 0, u, 0.01 * u), lambda u: np.where(u > 0, 1.0, 0.01)),
    "elu": (lambda u: np.where(u > 0, u, np.exp(u) - 1.0), lambda u: np.where(u > 0, 1.0, np.exp(u))),
    "swish": (lambda u: u * _sigmoid(u), lambda u: _sigmoid(u) + u * _sigmoid(u) * (1 - _sigmoid(u))),
    "gelu": (lambda u: u * _phi(u), lambda u: _phi(u) + u * np.exp(-u * u / 2) / math.sqrt(2 * math.pi)),
}
KINKS = {"relu", "leaky_relu"}                 # no derivative at 0: finite differences skip it


def test_every_engine_activation_has_a_formula_here_and_a_curve():
    assert set(FORMULAS) == set(ACTIVATIONS)
    assert list(A.curves()) == list(ACTIVATIONS) + [A.BINARY_STEP] == list(A.FUNCTIONS)


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_curve_and_derivative_equal_the_formulas(name):
    curve = A.curves([name])[name]
    x = curve["x"]
    assert x[0] == -6 and x[-1] == 6 and len(x) == 601 and 0.0 in x
    f, df = FORMULAS[name]
    np.testing.assert_allclose(curve["f"], f(x), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(curve["df"], df(x), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_derivative_equals_finite_differences_of_the_engine_forward(name):
    forward = ACTIVATIONS[name].forward
    if name == "softmax":
        def engine_f(u):
            return forward(np.stack([u, np.zeros_like(u)], axis=-1))[:, 0]
    else:
        engine_f = forward
    curve = A.curves([name], -5, 5, 201)[name]
    x, h = curve["x"], 1e-6
    keep = np.abs(x) > 1e-3 if name in KINKS else np.ones_like(x, dtype=bool)
    numeric = (engine_f(x + h) - engine_f(x - h)) / (2 * h)
    np.testing.assert_allclose(curve["df"][keep], numeric[keep], rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(curve["f"], engine_f(x))          # f is the engine's own forward


def test_binary_step_and_its_undefined_derivative_at_zero():
    curve = A.curves([A.BINARY_STEP], -1, 1, 5)[A.BINARY_STEP]
    np.testing.assert_array_equal(curve["x"], [-1, -0.5, 0, 0.5, 1])
    np.testing.assert_array_equal(curve["f"], [0, 0, 1, 1, 1])
    np.testing.assert_array_equal(curve["df"][[0, 1, 3, 4]], 0)
    assert np.isnan(curve["df"][2])
    with pytest.raises(ValueError, match="activation must be one of"):
        A.curves(["heaviside"])


# -- zones -------------------------------------------------------------------------------

def test_relu_below_zero_is_all_dead_and_units_dead_on_every_sample_are_counted():
    z = -np.abs(np.random.default_rng(0).normal(size=(24, 8))) - 0.1
    shares = A.zone_shares("relu", z)
    assert (shares["dead"], shares["linear"], shares["saturated"]) == (1.0, 0.0, 0.0)
    assert shares["dead_units"] == 8 and shares["units"] == 8 and shares["values"] == 192
    z[:, 3] = 1.0                              # one unit fires on every sample, one on a single sample
    z[5, 6] = 0.5
    shares = A.zone_shares("relu", z)
    assert shares["dead_units"] == 6
    assert shares["linear"] == pytest.approx(25 / 192) and shares["dead"] == pytest.approx(167 / 192)
    assert A.zone_shares("relu", np.zeros(4))["dead"] == 1.0          # f'(0) = 0 in the engine


def test_tanh_and_sigmoid_saturate_at_the_engine_health_thresholds():
    assert A.zone_shares("tanh", np.array([-6.0, -4.5, 4.1, 9.0]))["saturated"] == 1.0
    edge = math.atanh(TANH_SATURATION)
    shares = A.zone_shares("tanh", np.array([0.0, 0.5, edge - 1e-6, edge + 1e-6, -edge - 1e-6, -1.0]))
    assert shares["saturated"] == pytest.approx(2 / 6) and shares["linear"] == pytest.approx(4 / 6)
    assert shares["dead"] == 0.0 and shares["dead_units"] is None
    logit = math.log((1 - SIGMOID_SATURATION) / SIGMOID_SATURATION)
    shares = A.zone_shares("sigmoid", np.array([logit + 1e-6, -logit - 1e-6, logit - 1e-6, 0.0]))
    assert shares["saturated"] == 0.5 and shares["linear"] == 0.5


def test_other_activations_saturate_where_the_slope_is_below_5_percent_of_its_largest():
    assert A.zone_shares("elu", np.array([-5.0, -1.0, 2.0, 0.0]))["saturated"] == 0.25   # e^-5 < 0.05
    assert A.zone_shares("leaky_relu", np.array([-3.0, -0.1, 1.0, 2.0]))["saturated"] == 0.5
    assert A.zone_shares("linear", np.linspace(-50, 50, 11))["linear"] == 1.0
    assert A.zone_shares(A.BINARY_STEP, np.array([[-1.0, 0.0], [2.0, 3.0]]))["dead"] == 1.0
    assert A.max_slope("gelu") == pytest.approx(1.1289, abs=1e-4)
    swish = A.zone_shares("swish", np.array([-10.0, 3.0]))
    assert swish["saturated"] == 0.5 and swish["linear"] == 0.5


def test_softmax_has_no_zones_and_non_finite_values_are_left_out():
    shares = A.zone_shares("softmax", np.ones((3, 2)))
    assert shares["linear"] is None and "row-wise" in A.shares_text(shares)
    shares = A.zone_shares("relu", np.array([np.nan, np.inf, -1.0, 1.0, 2.0, -2.0]))
    assert shares["values"] == 4 and shares["non_finite"] == 2 and shares["dead"] == 0.5


def test_shares_text():
    z = np.concatenate([np.full(73, 0.5), np.full(20, 1e-3 * -1), np.full(7, -2.0)])
    text = A.shares_text({"linear": 0.73, "saturated": 0.2, "dead": 0.07})
    assert text == "73% of pre-activations in the linear part, 20% saturated, 7% dead"
    assert A.shares_text(A.zone_shares("relu", z[:, None])) == (
        "73% of pre-activations in the linear part, 0% saturated, 27% dead · 0 of 1 units dead on every sample")
    assert A.shares_text(A.zone_shares("relu", z)) == (        # 1-D: no unit axis
        "73% of pre-activations in the linear part, 0% saturated, 27% dead")


# -- the figure --------------------------------------------------------------------------

def test_curves_only_figure_draws_the_chosen_functions_solid_and_their_derivatives_dashed():
    fig = A.explorer_figure(None, ["tanh", "relu"])
    json.dumps(fig)
    kinds = [(t["meta"]["function"], t["meta"]["curve"]) for t in fig["data"]]
    assert kinds == [("relu", "f"), ("relu", "df"), ("tanh", "f"), ("tanh", "df")]
    f, df = fig["data"][2], fig["data"][3]
    assert f["line"]["color"] == df["line"]["color"] == A.COLORS["tanh"] and df["line"]["dash"] == "dash"
    assert "dash" not in f["line"] and not fig["layout"]["shapes"] and "yaxis2" not in fig["layout"]
    np.testing.assert_allclose(f["y"], np.tanh(f["x"]), atol=1e-5)
    legend = [t["name"] for t in A.explorer_figure(None, ["softmax"])["data"] if t["showlegend"]]
    assert legend == ["Softmax (2 classes: 1st output of softmax(u, 0))"]
    step = A.explorer_figure(None, [A.BINARY_STEP])["data"][1]["y"]
    assert step.count(None) == 1                # the gap at u = 0


def test_layer_figure_has_the_histogram_zones_and_shares():
    rng = np.random.default_rng(1)
    z = rng.normal(0, 3, size=(24, 16))
    z[0, 0] = 11.0                              # the x range widens to hold it
    fig = A.explorer_figure(A.FUNCTIONS, ["sigmoid"], {"title": "Layer 1 (Dense 16, Tanh)", "activation": "tanh",
                                                       "z": z, "samples": 24})
    json.dumps(fig)
    bars = fig["data"][0]
    assert bars["type"] == "bar" and bars["yaxis"] == "y" and fig["layout"]["yaxis"]["side"] == "right"
    assert fig["layout"]["yaxis2"]["overlaying"] == "y"          # the curves: drawn above the bars
    assert {t["yaxis"] for t in fig["data"][1:]} == {"y2"}
    counts, edges = np.histogram(z, bins=np.asarray(bars["meta"]["edges"]))
    assert bars["y"] == counts.tolist() and sum(bars["y"]) == z.size
    assert bars["meta"]["edges"][0] == z.min() and bars["meta"]["edges"][-1] == z.max()
    assert fig["layout"]["xaxis"]["range"][1] >= 11.0
    assert fig["layout"]["meta"]["functions"] == ["sigmoid", "tanh"]          # the layer's curve is added
    tanh_f = next(t for t in fig["data"] if t.get("meta", {}).get("function") == "tanh")
    assert tanh_f["line"]["width"] > 3
    shares = A.zone_shares("tanh", z)
    assert fig["layout"]["meta"]["shares"] == shares
    assert A.shares_text(shares) in fig["layout"]["title"]["text"]
    zones = {s["name"] for s in fig["layout"]["shapes"]}
    assert zones == {"zone-saturated", "zone-linear"}
    saturated = [s for s in fig["layout"]["shapes"] if s["name"] == "zone-saturated"]
    assert min(s["x1"] for s in saturated) == pytest.approx(-math.atanh(TANH_SATURATION), abs=0.02)


def test_the_figure_is_a_valid_plotly_figure():
    import plotly.graph_objects as go
    go.Figure(A.explorer_figure(None))
    go.Figure(A.explorer_figure(None, [], {"title": "L", "activation": "relu", "z": np.arange(-3.0, 5.0)}))


def test_pre_activations_of_dense_and_recurrent_layers():
    model = Sequential([SimpleRNN(5, activation="tanh", return_sequences=True), SimpleRNN(3, activation="relu"),
                        Dense(2, activation="softmax")], input_shape=(4, 3), loss="cce", dtype="float64", seed=1)
    X = np.random.default_rng(2).normal(size=(6, 4, 3))
    z = A.pre_activations(model, X)
    rnn = model.layers[0]
    h = np.zeros((6, 5))
    for t in range(4):                          # z_t = x_t W + h_{t-1} U + b, by hand
        zt = X[:, t] @ rnn.W + h @ rnn.U + rnn.b
        np.testing.assert_allclose(z[0][:, t], zt, rtol=1e-12, atol=1e-12)
        h = np.tanh(zt)
    out = model.layer_outputs(X)
    np.testing.assert_allclose(z[2], out[1] @ model.layers[2].W + model.layers[2].b, rtol=1e-12)
    assert z[1].shape == (6, 4, 3) and [A.layer_activation(l) for l in model.layers] == ["tanh", "relu", "softmax"]


# -- the panel's callback, on a real run cache ----------------------------------------------

@pytest.fixture
def run_cache(tmp_path, monkeypatch):
    from dashboard import store
    monkeypatch.setenv("BACKPROP_STATE_DIR", str(tmp_path))
    store.init_app(Flask("test"))
    return store


@pytest.fixture(scope="module")
def moons_run():
    """The "dense" preset (moons, tanh 8 - tanh 8 - softmax 2), its probe, and its model
    after a few steps."""
    from dashboard import data, presets, spec as spec_mod
    spec = spec_mod.check(presets.preset_form("dense")).spec
    prepared = data.prepare(spec, data.load(spec["data"]))
    model = spec_mod.build_model(spec)
    model.fit(prepared.X_train, prepared.Y_train, batch_size=32, learning_rate=0.05, epochs=2, verbose=0)
    return spec, prepared, model


def _file(model) -> bytes:
    buffer = io.BytesIO()
    model.save(buffer)
    return buffer.getvalue()


def _engine_z(model, X, k):
    """Layer k's pre-activations recomputed here: its input (the engine's layer
    outputs) times W plus b."""
    x = X if k == 0 else model.layer_outputs(X)[k - 1]
    layer = model.layers[k]
    return x @ layer.W + layer.b


def test_callback_draws_the_stored_models_pre_activations(run_cache, moons_run):
    from dashboard.panels import activations as panel
    store = run_cache
    _, prepared, model = moons_run
    session = "ab" * 16
    store.put_model(session, _file(model), "moons:n_samples=300,noise=0.1,seed=0", {})
    store.put_probe(session, {**prepared.probe, "dataset_key": "moons:n_samples=300,noise=0.1,seed=0"})
    version = {"session": session, "version": 1}
    X = prepared.probe["samples"]["inputs"]
    loaded = Sequential.load(io.BytesIO(_file(model)))

    fig, note, ticked, options, k, defaulted = panel.refresh_activations(version, ["relu", "sigmoid", "tanh"],
                                                                         None)
    assert note == "" and k == 0 and defaulted == ["tanh"]
    assert [o["label"] for o in options] == ["Layer 1 (Dense 8, Tanh)", "Layer 2 (Dense 8, Tanh)",
                                             "Layer 3 (Dense 2, Softmax)"]
    assert ticked is dash.no_update                    # tanh was ticked already
    bars = fig["data"][0]
    z = _engine_z(loaded, X, 0)
    assert sum(bars["y"]) == z.size == 24 * 8
    assert bars["meta"]["edges"][0] == pytest.approx(z.min()) and bars["meta"]["edges"][-1] == pytest.approx(z.max())
    np.testing.assert_array_equal(bars["y"], np.histogram(z, bins=np.asarray(bars["meta"]["edges"]))[0])
    assert fig["layout"]["meta"]["shares"] == pytest.approx(A.zone_shares("tanh", z))
    assert "Layer 1 (Dense 8, Tanh): pre-activations of 24 probe samples" in fig["layout"]["title"]["text"]

    fig2, *_ = panel.refresh_activations(version, ["relu"], 1, None, None, options, ["tanh"], "")
    z2 = _engine_z(loaded, X, 1)
    np.testing.assert_array_equal(fig2["data"][0]["y"], np.histogram(z2, bins=np.asarray(
        fig2["data"][0]["meta"]["edges"]))[0])
    assert fig2["layout"]["meta"]["functions"] == ["relu", "tanh"]      # the user unticked: not ticked again


def test_callback_follows_the_live_snapshot_and_ticks_new_hidden_activations(run_cache, moons_run):
    from dashboard.panels import activations as panel
    from viz.snapshots import model_from_snapshot
    store = run_cache
    _, prepared, model = moons_run
    session = "cd" * 16
    live = Sequential([Dense(6, activation="gelu"), Dense(2, activation="softmax")], input_shape=(2,), loss="cce",
                      seed=4)
    store.put_model(session, _file(model), None, {})                    # an older model: the snapshot wins
    store.put_probe(session, prepared.probe)
    snapshot = live.snapshot()
    snapshot["dataset"] = prepared.summary
    version = {"session": session, "version": store.put_snapshot(session, snapshot)}
    fig, note, ticked, options, k, defaulted = panel.refresh_activations(version, ["relu", "sigmoid", "tanh"],
                                                                         None, None, None, None, ["tanh"])
    assert ticked == ["relu", "sigmoid", "tanh", "gelu"] and defaulted == ["gelu"]
    assert [o["value"] for o in options] == [0, 1] and k == 0
    again = model_from_snapshot(store.get_snapshot(session))
    z = _engine_z(again, prepared.probe["samples"]["inputs"], 0)
    bars = fig["data"][0]
    np.testing.assert_array_equal(bars["y"], np.histogram(z, bins=np.asarray(bars["meta"]["edges"]))[0])
    assert sum(bars["y"]) == z.size == 24 * 6
    # the softmax output layer: histogrammed, no zones
    fig, note, *_ = panel.refresh_activations(version, ["relu"], 1)
    assert fig["data"][0]["type"] == "bar" and not fig["layout"]["shapes"] and "row-wise" in fig["layout"]["title"]["text"]


def test_callback_without_a_model_or_a_probe(run_cache, moons_run):
    from dashboard.panels import activations as panel
    store = run_cache
    _, prepared, model = moons_run
    fig, note, ticked, options, k, _ = panel.refresh_activations({"session": "ef" * 16, "version": 1}, None, None)
    assert note == panel.NO_MODEL_NOTE and ticked == list(panel.DEFAULT_FUNCTIONS)
    assert {t["type"] for t in fig["data"]} == {"scatter"} and len(fig["data"]) == 6
    assert panel.refresh_activations(None, ["tanh"], None)[1] == panel.NO_MODEL_NOTE
    session = "ef" * 16
    store.put_model(session, _file(model), None, {})                    # a loaded model, before Train
    fig, note, *_ = panel.refresh_activations({"session": session, "version": 2}, ["tanh"], None)
    assert note == panel.NO_PROBE and {t["type"] for t in fig["data"]} == {"scatter"}
    store.put_probe(session, {**prepared.probe, "name": "circles"})      # another data set's samples
    store.put_snapshot(session, {**model.snapshot(), "dataset": prepared.summary})
    version = {"session": session, "version": store.get_snapshot(session)["version"]}
    assert panel.refresh_activations(version, ["tanh"], None)[1] == panel.NO_PROBE
