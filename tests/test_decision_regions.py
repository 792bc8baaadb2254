"""The decision-regions figure (viz.regions) and its panel (dashboard.panels.regions),
drawn from a model trained on the arrays dashboard.data prepares and from the run's
probe, as a training job leaves them."""
from __future__ import annotations

import time

import dash
import numpy as np
import pytest

from dashboard import data, presets, spec
from dashboard.panels import regions as panel
from engine import FFNN, datasets
from viz import regions as R
from viz.snapshots import model_from_snapshot


def dense_form(dataset, units, activation, loss, output_activation, **changes):
    values = presets.preset_form("dense")
    values.update(dataset=dataset, loss=loss, output_activation=output_activation, init_seed=1,
                  layers=[{"type": "Dense", "settings": {"units": n, "activation": activation}} for n in units])
    values.update(changes)
    return values


def trained(dataset, units, activation, loss, output_activation, epochs=60, **changes):
    """(model, snapshot, points): a model trained as a run of this form would be, its
    snapshot with the data set's summary, and the probe's points."""
    result = spec.check(dense_form(dataset, units, activation, loss, output_activation, **changes))
    assert result.errors == {}
    s = result.spec
    ds = data.load(s["data"])
    prepared = data.prepare(s, ds)
    model = spec.build_model(s)
    model.fit(prepared.X_train, prepared.Y_train, epochs=epochs, batch_size=32, learning_rate=0.01, verbose=0,
              seed=0)
    snapshot = model.snapshot()
    snapshot["dataset"] = prepared.summary
    return model, snapshot, prepared.probe


def points_of(probe):
    return {**probe["points"], "name": probe["name"]}


def figure_of(snapshot, probe, grid=R.REGION_GRID):
    points = probe["points"]
    return R.decision_regions_figure(snapshot, points["X_train"], points["y_train"], points["X_val"],
                                     points["y_val"], grid=grid, standardizer=points["standardizer"])


@pytest.fixture(scope="module")
def moons():
    return trained("moons", [8, 8], "relu", "cce", "softmax")


@pytest.fixture(scope="module")
def spiral():
    return trained("spiral", [32, 32], "tanh", "cce", "softmax", epochs=150, data={"n_classes": 3})


def test_grid_predictions_equal_model_predict(moons):
    model, snapshot, probe = moons
    scaler = datasets.Standardizer.from_dict(probe["points"]["standardizer"])
    x_range, y_range = (-1.5, 2.5), (-1.0, 1.5)
    out = R.decision_regions_data(snapshot, x_range, y_range, grid=80, standardizer=scaler)
    xs, ys = np.linspace(*x_range, 80), np.linspace(*y_range, 80)
    np.testing.assert_allclose(out["x"], xs)
    np.testing.assert_allclose(out["y"], ys)
    # the whole grid, row i at y[i], column j at x[j]
    gx, gy = np.meshgrid(xs, ys)
    expected = model.predict(scaler.transform(np.column_stack([gx.ravel(), gy.ravel()]))).reshape(80, 80, 2)
    np.testing.assert_allclose(out["outputs"], expected, rtol=1e-5, atol=1e-6)
    # two cells by hand: (row 10, column 70) and (row 55, column 3)
    for i, j in ((10, 70), (55, 3)):
        p = model.predict(scaler.transform(np.array([[xs[j], ys[i]]])))[0]
        np.testing.assert_allclose(out["outputs"][i, j], p, rtol=1e-5, atol=1e-6)
        assert out["pred"][i, j] == int(np.argmax(p))
        assert out["confidence"][i, j] == pytest.approx(float(np.max(p)), rel=1e-5)
    # the standardiser may come as its to_dict() form too
    again = R.decision_regions_data(snapshot, x_range, y_range, grid=80, standardizer=probe["points"]["standardizer"])
    np.testing.assert_array_equal(again["outputs"], out["outputs"])


def test_the_figure_heatmap_matches_the_predicted_classes(moons):
    model, snapshot, probe = moons
    fig = figure_of(snapshot, probe)
    heat = fig["data"][0]
    assert heat["type"] == "heatmap" and len(heat["z"]) == 80 and len(heat["z"][0]) == 80
    z = np.array(heat["z"])
    scaler = datasets.Standardizer.from_dict(probe["points"]["standardizer"])
    for i, j in ((0, 0), (40, 40), (79, 12)):
        p = model.predict(scaler.transform(np.array([[heat["x"][j], heat["y"][i]]])))[0]
        assert int(np.floor(z[i, j])) == int(np.argmax(p))
        assert heat["text"][i][j] == str(int(np.argmax(p)))
    assert {int(c) for c in np.unique(np.floor(z))} == {0, 1}
    assert heat["zmin"] == 0 and heat["zmax"] == 2


def test_three_class_spiral_has_three_regions_and_colours(spiral):
    _, snapshot, probe = spiral
    points = probe["points"]
    fig = figure_of(snapshot, probe)
    heat = fig["data"][0]
    classes = np.floor(np.array(heat["z"])).astype(int)
    assert set(np.unique(classes)) == {0, 1, 2}
    assert min((classes == c).mean() for c in range(3)) > 0.1     # every class owns a real part of the plane
    # one colour band per class in the colorscale
    scale = heat["colorscale"]
    assert len(scale) == 6 and [s[0] for s in scale] == pytest.approx([0, 1 / 3, 1 / 3, 2 / 3, 2 / 3, 1])
    assert len({R.region_color(k) for k in range(3)}) == 3
    # training points: one trace per class, in its class colour; validation: hollow markers
    train = [t for t in fig["data"][1:] if t["name"].startswith("class ")]
    assert [t["marker"]["color"] for t in train] == [R.region_color(k) for k in range(3)]
    val = [t for t in fig["data"] if t["name"] == "validation" and t["x"] != [None]]
    assert len(val) == 3 and all(t["marker"]["symbol"] == "circle-open" for t in val)
    assert not any(t["showlegend"] for t in val)
    assert [t["name"] for t in fig["data"][1:] if t.get("showlegend", True)] == ["class 0", "class 1", "class 2",
                                                                              "validation"]
    assert sum(len(t["x"]) for t in train) == len(points["X_train"])
    assert sum(len(t["x"]) for t in val) == len(points["X_val"])


def test_axes_are_in_original_units_through_the_standardiser(moons):
    _, snapshot, probe = moons
    points = probe["points"]
    fig = figure_of(snapshot, probe)
    X = np.vstack([points["X_train"], points["X_val"]])
    heat = fig["data"][0]
    # the grid spans the raw data (plus padding), not the standardised values
    assert heat["x"][0] < X[:, 0].min() < X[:, 0].max() < heat["x"][-1]
    assert heat["y"][0] < X[:, 1].min() < X[:, 1].max() < heat["y"][-1]
    assert fig["layout"]["xaxis"]["range"] == pytest.approx([heat["x"][0], heat["x"][-1]])
    # one unit is as long on both axes (the figure's width is chosen for that)
    lay = fig["layout"]
    plot_w = lay["width"] - lay["margin"]["l"] - lay["margin"]["r"]
    plot_h = lay["height"] - lay["margin"]["t"] - lay["margin"]["b"]
    (x0, x1), (y0, y1) = lay["xaxis"]["range"], lay["yaxis"]["range"]
    assert plot_w / (x1 - x0) == pytest.approx(plot_h / (y1 - y0), rel=0.01)
    # a training point is drawn at its raw coordinates
    first = fig["data"][1]
    rows = points["y_train"] == 0
    assert first["x"][0] == pytest.approx(float(points["X_train"][rows][0, 0]), abs=1e-5)
    assert first["y"][0] == pytest.approx(float(points["X_train"][rows][0, 1]), abs=1e-5)
    # the standardiser really is applied: a point predicted through the grid equals the
    # model on the standardised point, and differs from the model on the raw point
    scaler = datasets.Standardizer.from_dict(points["standardizer"])
    assert not np.allclose(scaler.mean, 0) or not np.allclose(scaler.std, 1)
    raw = R.decision_regions_data(snapshot, (0.5, 0.5), (0.25, 0.25), grid=2, standardizer=None)
    std = R.decision_regions_data(snapshot, (0.5, 0.5), (0.25, 0.25), grid=2, standardizer=scaler)
    model = model_from_snapshot(snapshot)
    np.testing.assert_allclose(std["outputs"][0, 0], model.predict(scaler.transform([[0.5, 0.25]]))[0], rtol=1e-5)
    np.testing.assert_allclose(raw["outputs"][0, 0], model.predict(np.array([[0.5, 0.25]]))[0], rtol=1e-5)
    assert not np.allclose(std["outputs"][0, 0], raw["outputs"][0, 0])


def test_the_probe_points_use_the_same_split_and_standardiser_as_training():
    result = spec.check(dense_form("circles", [4], "tanh", "cce", "softmax"))
    s = result.spec
    ds = data.load(s["data"])
    prepared = data.prepare(s, ds)
    points = prepared.probe["points"]
    scaler = datasets.Standardizer.from_dict(points["standardizer"])
    np.testing.assert_allclose(scaler.transform(points["X_train"]), prepared.X_train, rtol=1e-6)
    np.testing.assert_allclose(scaler.transform(points["X_val"]), prepared.validation[0], rtol=1e-6)
    np.testing.assert_array_equal(points["y_val"], prepared.y_val)


def test_more_than_two_features_gives_a_note():
    snapshot = FFNN([4, 8, 3], ["relu", "softmax"], loss="cce").snapshot()
    snapshot["dataset"] = {"name": "iris", "task": "classification", "class_names": [], "feature_names": []}
    note = R.regions_note(snapshot)
    assert note and "2 input features" in note and "4" in note
    fig = R.decision_regions_figure(snapshot, np.zeros((5, 4)), np.zeros(5, dtype=int))
    assert fig["data"] == [] and "4" in fig["layout"]["annotations"][0]["text"]
    figure, text, caption = panel.regions_view(snapshot, None)
    assert figure is None and text == note and caption == panel.CAPTION_IDLE


def test_an_image_model_gives_a_note():
    snapshot = FFNN([64, 3], ["softmax"], loss="cce").snapshot()
    snapshot["input_shape"] = [8, 8, 1]
    assert "64" in R.regions_note(snapshot)
    assert R.regions_note(None).startswith("No model yet")
    one = FFNN([1, 2], ["softmax"], loss="cce").snapshot()
    assert R.regions_note(one) == "Decision regions need 2 input features; this classifier has 1."


def test_sine_shows_the_fitted_curve_over_the_data():
    model, snapshot, probe = trained("sine", [16, 16], "tanh", "mse", "linear", epochs=80)
    points = probe["points"]
    fig = figure_of(snapshot, probe)
    names = [t["name"] for t in fig["data"]]
    assert names == ["training", "validation", "network"]
    curve = fig["data"][2]
    xs = np.array(curve["x"])
    assert xs.min() < points["X_train"].min() and xs.max() > points["X_train"].max()   # original units
    scaler = datasets.Standardizer.from_dict(points["standardizer"])
    expected = model.predict(scaler.transform(xs[:, None].astype(np.float32)))[:, 0]
    np.testing.assert_allclose(curve["y"], expected, atol=1e-4)
    inside = np.abs(xs) < 2.5
    assert np.abs(np.array(curve["y"])[inside] - np.sin(xs[inside])).mean() < 0.2        # it learned the sine
    assert fig["data"][1]["marker"]["symbol"] == "circle-open"
    assert panel.regions_view(snapshot, points_of(probe))[2] == panel.CAPTION_CURVE


def test_binary_sigmoid_output_gives_two_regions():
    _, snapshot, probe = trained("xor", [8], "tanh", "bce", "sigmoid", epochs=80)
    assert snapshot["layers"][-1]["config"]["units"] == 1
    fig = figure_of(snapshot, probe, grid=40)
    z = np.floor(np.array(fig["data"][0]["z"]))
    assert set(np.unique(z)) == {0, 1} and fig["data"][0]["zmax"] == 2


@pytest.fixture
def fake_store(monkeypatch):
    """dashboard.store's snapshot and probe readers over two dicts."""
    from dashboard import store

    snapshots, probes = {}, {}
    monkeypatch.setattr(store, "snapshot_for",
                        lambda version: snapshots.get(version["session"]) if version and version.get("session")
                        else None)
    monkeypatch.setattr(store, "get_probe", lambda session_id: probes.get(session_id))
    monkeypatch.setattr(store, "get_evaluation", lambda session_id: None)     # no misclassified rings
    return snapshots, probes


FIRST_PAGE = ("No model yet: build a network and start training to see what it predicts.", panel.CAPTION_IDLE,
              {"display": "none"})       # the note, caption and graph style the page starts with


def test_callback_with_a_fake_run_cache(fake_store, moons):
    _, snapshot, probe = moons
    snapshots, probes = fake_store
    session = "ab" * 16
    snapshots[session] = {**snapshot, "version": 7}
    probes[session] = probe
    figure, note, caption, style = panel.refresh_regions({"session": session, "version": 7}, *FIRST_PAGE)
    assert note is None and style == {"display": "block"} and caption == panel.CAPTION_CLASSES
    assert figure["data"][0]["type"] == "heatmap"
    assert figure["data"][0]["z"] == figure_of(snapshot, probe)["data"][0]["z"]
    assert "after 60 epochs" in figure["layout"]["title"]["text"]
    # what the page already shows is not sent again: only the new figure
    again = panel.refresh_regions({"session": session, "version": 7}, note, caption, style)
    assert again[0] == figure and all(x is dash.no_update for x in again[1:])
    # no run yet: a note, no chart
    figure, note, caption, style = panel.refresh_regions({"session": "cd" * 16, "version": 1}, None,
                                                         panel.CAPTION_CLASSES, {"display": "block"})
    assert figure is dash.no_update and note == R.regions_note(None)
    assert caption == panel.CAPTION_IDLE and style == {"display": "none"}
    # a snapshot but no probe yet (a loaded model before Train): the points are missing
    probes.clear()
    figure, note, _, style = panel.refresh_regions({"session": session, "version": 8}, None, None,
                                                   {"display": "block"})
    assert figure is dash.no_update and note == panel.NO_POINTS and style == {"display": "none"}
    # a probe of another data set: a note instead of a wrong picture
    probes[session] = {**probe, "name": "circles"}
    figure, note, _, style = panel.refresh_regions({"session": session, "version": 9}, None, None,
                                                   {"display": "block"})
    assert note == panel.NO_POINTS and style == {"display": "none"}
    # a probe without points (an image run): the same note
    probes[session] = {k: v for k, v in probe.items() if k != "points"}
    assert panel.refresh_regions({"session": session, "version": 10}, None)[1] == panel.NO_POINTS


def test_regions_view_checks_the_points_fit_the_network(moons):
    _, snapshot, probe = moons
    points = points_of(probe)
    assert panel.regions_view(snapshot, points)[1] is None
    one_column = {**points, "X_train": points["X_train"][:, :1]}
    assert panel.regions_view(snapshot, one_column)[1] == panel.NO_POINTS


def test_callback_is_fast_for_moons_8_8(fake_store, moons):
    _, snapshot, probe = moons
    snapshots, probes = fake_store
    session = "ab" * 16
    snapshots[session], probes[session] = snapshot, probe
    panel.refresh_regions({"session": session})
    start = time.perf_counter()
    for _ in range(10):
        panel.refresh_regions({"session": session})
    assert (time.perf_counter() - start) / 10 < 0.05


def test_the_figure_is_a_valid_plotly_figure(moons, spiral):
    import plotly.graph_objects as go
    for _, snapshot, probe in (moons, spiral):
        go.Figure(figure_of(snapshot, probe))
    _, snapshot, probe = trained("sine", [8], "tanh", "mse", "linear", epochs=2)
    go.Figure(figure_of(snapshot, probe))


def test_two_feature_regression_shows_predicted_values():
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, (200, 2)).astype(np.float32) * np.array([1.0, 10.0], dtype=np.float32)
    y = (X[:, :1] + X[:, 1:] / 10).astype(np.float32)
    scaler = datasets.Standardizer().fit(X[:160])
    model = FFNN([2, 8, 1], ["tanh", "linear"], loss="mse", optimizer="adam")
    model.fit(scaler.transform(X[:160]), y[:160], epochs=40, learning_rate=0.01, verbose=0)
    snapshot = model.snapshot()
    snapshot["dataset"] = {"name": "mine.csv", "task": "regression", "class_names": [], "feature_names": ["a", "b"]}
    fig = R.decision_regions_figure(snapshot, X[:160], y[:160], X[160:], y[160:], grid=30, standardizer=scaler)
    heat = fig["data"][0]
    assert heat["coloraxis"] == "coloraxis" and "coloraxis" in fig["layout"]
    i, j = 7, 21
    expected = model.predict(scaler.transform(np.array([[heat["x"][j], heat["y"][i]]])))[0, 0]
    assert heat["z"][i][j] == pytest.approx(float(expected), abs=1e-3)
    assert [t["name"] for t in fig["data"][1:]] == ["training", "validation"]
    assert fig["layout"]["xaxis"]["title"]["text"] == "a"
    assert fig["layout"]["width"] == R.REGION_WIDE               # spans 4 vs 40: no equal units
    assert fig["layout"]["xaxis"]["range"] == pytest.approx([heat["x"][0], heat["x"][-1]])
    assert panel.regions_view(snapshot, {"X_train": X[:160], "y_train": y[:160], "X_val": X[160:],
                                         "y_val": y[160:], "standardizer": scaler.to_dict(),
                                         "name": "mine.csv"})[2] == panel.CAPTION_VALUES
    import plotly.graph_objects as go
    go.Figure(fig)
