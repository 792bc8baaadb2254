"""The decision-regions figure (engine.figures) and its panel (components.decision_regions)."""
from __future__ import annotations

import numpy as np
import pytest

from components import decision_regions as panel
from components import training
from engine import FFNN, datasets
from engine import figures as F

CONFIG = {"val_fraction": 0.2}


def prepared(name: str, **params):
    """Data set, the points training stores for the panel, and the standardised training arrays."""
    ds = datasets.load(name, **params)
    points = training.plot_points(ds, CONFIG, name)
    split, scaler = training.split_and_scaler(ds, CONFIG)
    return ds, points, scaler.transform(split.X_train), split.y_train


def trained(name: str, sizes, activations, loss: str, epochs: int = 60, **params):
    ds, points, X, y = prepared(name, **params)
    model = FFNN(sizes, activations, loss=loss, optimizer="adam", init_params={"seed": 1})
    target = y if ds.task == "regression" or loss == "cce" else y.reshape(-1, 1).astype(np.float32)
    model.fit(X, target, epochs=epochs, batch_size=32, learning_rate=0.01, verbose=0, seed=0)
    snapshot = model.snapshot()
    snapshot["dataset"] = training.dataset_summary(ds.name, {
        "task": ds.task, "class_names": ds.class_names, "feature_names": ds.feature_names})
    return model, snapshot, points


def figure_of(snapshot, points, grid=F.REGION_GRID):
    return F.decision_regions_figure(snapshot, points["X_train"], points["y_train"], points["X_val"],
                                     points["y_val"], grid=grid, standardizer=points["standardizer"])


@pytest.fixture(scope="module")
def moons():
    return trained("moons", [2, 8, 8, 2], ["relu", "relu", "softmax"], "cce")


@pytest.fixture(scope="module")
def spiral():
    return trained("spiral", [2, 32, 32, 3], ["tanh", "tanh", "softmax"], "cce", epochs=150, n_classes=3)


def test_grid_predictions_equal_model_predict(moons):
    model, snapshot, points = moons
    scaler = datasets.Standardizer.from_dict(points["standardizer"])
    x_range, y_range = (-1.5, 2.5), (-1.0, 1.5)
    data = F.decision_regions_data(snapshot, x_range, y_range, grid=80, standardizer=scaler)
    xs, ys = np.linspace(*x_range, 80), np.linspace(*y_range, 80)
    np.testing.assert_allclose(data["x"], xs)
    np.testing.assert_allclose(data["y"], ys)
    # the whole grid, row i at y[i], column j at x[j]
    gx, gy = np.meshgrid(xs, ys)
    expected = model.predict(scaler.transform(np.column_stack([gx.ravel(), gy.ravel()]))).reshape(80, 80, 2)
    np.testing.assert_allclose(data["outputs"], expected, rtol=1e-5, atol=1e-6)
    # two cells by hand: (row 10, column 70) and (row 55, column 3)
    for i, j in ((10, 70), (55, 3)):
        p = model.predict(scaler.transform(np.array([[xs[j], ys[i]]])))[0]
        np.testing.assert_allclose(data["outputs"][i, j], p, rtol=1e-5, atol=1e-6)
        assert data["pred"][i, j] == int(np.argmax(p))
        assert data["confidence"][i, j] == pytest.approx(float(np.max(p)), rel=1e-5)


def test_the_figure_heatmap_matches_the_predicted_classes(moons):
    model, snapshot, points = moons
    fig = figure_of(snapshot, points)
    heat = fig["data"][0]
    assert heat["type"] == "heatmap" and len(heat["z"]) == 80 and len(heat["z"][0]) == 80
    z = np.array(heat["z"])
    scaler = datasets.Standardizer.from_dict(points["standardizer"])
    for i, j in ((0, 0), (40, 40), (79, 12)):
        p = model.predict(scaler.transform(np.array([[heat["x"][j], heat["y"][i]]])))[0]
        assert int(np.floor(z[i, j])) == int(np.argmax(p))
        assert heat["text"][i][j] == str(int(np.argmax(p)))
    # a trained moons net gets most training points right: the point's cell has its class
    assert {int(c) for c in np.unique(np.floor(z))} == {0, 1}
    assert heat["zmin"] == 0 and heat["zmax"] == 2


def test_three_class_spiral_has_three_regions_and_colours(spiral):
    _, snapshot, points = spiral
    fig = figure_of(snapshot, points)
    heat = fig["data"][0]
    classes = np.floor(np.array(heat["z"])).astype(int)
    assert set(np.unique(classes)) == {0, 1, 2}
    assert min((classes == c).mean() for c in range(3)) > 0.1     # every class owns a real part of the plane
    # one colour band per class in the colorscale
    scale = heat["colorscale"]
    assert len(scale) == 6 and [s[0] for s in scale] == pytest.approx([0, 1 / 3, 1 / 3, 2 / 3, 2 / 3, 1])
    band_colours = {F.region_color(k) for k in range(3)}
    assert len(band_colours) == 3
    # training points: one trace per class, in its class colour; validation: hollow markers
    train = [t for t in fig["data"][1:] if t["name"].startswith("class ")]
    assert [t["marker"]["color"] for t in train] == [F.region_color(k) for k in range(3)]
    val = [t for t in fig["data"] if t["name"] == "validation" and t["x"] != [None]]
    assert len(val) == 3 and all(t["marker"]["symbol"] == "circle-open" for t in val)
    assert not any(t["showlegend"] for t in val)
    assert [t["name"] for t in fig["data"][1:] if t.get("showlegend", True)] == ["class 0", "class 1", "class 2",
                                                                              "validation"]
    assert sum(len(t["x"]) for t in train) == len(points["X_train"])
    assert sum(len(t["x"]) for t in val) == len(points["X_val"])


def test_axes_are_in_original_units_through_the_standardiser(moons):
    _, snapshot, points = moons
    fig = figure_of(snapshot, points)
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
    snap_raw = F.decision_regions_data(snapshot, (0.5, 0.5), (0.25, 0.25), grid=2, standardizer=None)
    snap_std = F.decision_regions_data(snapshot, (0.5, 0.5), (0.25, 0.25), grid=2, standardizer=scaler)
    model = F.model_from_snapshot(snapshot)
    np.testing.assert_allclose(snap_std["outputs"][0, 0], model.predict(scaler.transform([[0.5, 0.25]]))[0],
                               rtol=1e-5)
    np.testing.assert_allclose(snap_raw["outputs"][0, 0], model.predict(np.array([[0.5, 0.25]]))[0], rtol=1e-5)


def test_points_use_the_same_split_and_standardiser_as_training():
    ds = datasets.load("circles")
    points = training.plot_points(ds, CONFIG, "circles")
    facts = {"task": ds.task, "n_classes": ds.n_classes}
    X_train, _, (X_val, _) = training.prepare_arrays(ds, facts, {**CONFIG, "model": {"loss": "cce"}}, 2)
    scaler = datasets.Standardizer.from_dict(points["standardizer"])
    np.testing.assert_allclose(scaler.transform(points["X_train"]), X_train, rtol=1e-6)
    np.testing.assert_allclose(scaler.transform(points["X_val"]), X_val, rtol=1e-6)


def test_more_than_two_features_gives_a_note():
    snapshot = FFNN([4, 8, 3], ["relu", "softmax"], loss="cce").snapshot()
    snapshot["dataset"] = {"name": "iris", "task": "classification", "class_names": [], "feature_names": []}
    note = F.regions_note(snapshot)
    assert note and "2 input features" in note and "4" in note
    fig = F.decision_regions_figure(snapshot, np.zeros((5, 4)), np.zeros(5, dtype=int))
    assert fig["data"] == [] and "4" in fig["layout"]["annotations"][0]["text"]
    figure, text, _ = panel.regions_view(snapshot, None)
    assert figure is None and text == note


def test_sine_shows_the_fitted_curve_over_the_data():
    model, snapshot, points = trained("sine", [1, 16, 16, 1], ["tanh", "tanh", "linear"], "mse", epochs=80)
    fig = figure_of(snapshot, points)
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
    assert panel.regions_view(snapshot, points)[2] == panel.CAPTION_CURVE


def test_binary_sigmoid_output_gives_two_regions():
    _, snapshot, points = trained("xor", [2, 8, 1], ["tanh", "sigmoid"], "bce", epochs=80)
    fig = figure_of(snapshot, points, grid=40)
    z = np.floor(np.array(fig["data"][0]["z"]))
    assert set(np.unique(z)) == {0, 1} and fig["data"][0]["zmax"] == 2


def test_callback_with_a_fake_snapshot(monkeypatch, moons):
    _, snapshot, points = moons
    from components import runs
    session = "ab" * 16
    monkeypatch.setattr(runs, "get_snapshot", lambda s: {**snapshot, "version": 7} if s == session else None)
    monkeypatch.setattr(runs, "get_points", lambda s: points if s == session else None)
    figure, note, caption, style = panel.refresh_regions({"session": session, "version": 7})
    assert note is None and style == {"display": "block"} and caption == panel.CAPTION_CLASSES
    assert figure["data"][0]["type"] == "heatmap"
    assert "after 60 epochs" in figure["layout"]["title"]["text"]
    # no run yet: a note, no chart
    figure, note, caption, style = panel.refresh_regions({"session": "cd" * 16, "version": 1})
    assert note and style == {"display": "none"}
    # points of another data set: a note instead of a wrong picture
    monkeypatch.setattr(runs, "get_points", lambda s: {**points, "name": "circles"})
    figure, note, _, style = panel.refresh_regions({"session": session, "version": 8})
    assert note == panel.NO_POINTS and style == {"display": "none"}


def test_callback_is_fast_for_moons_8_8(monkeypatch, moons):
    import time
    _, snapshot, points = moons
    from components import runs
    monkeypatch.setattr(runs, "get_snapshot", lambda s: snapshot)
    monkeypatch.setattr(runs, "get_points", lambda s: points)
    panel.refresh_regions({"session": "ab" * 16})
    start = time.perf_counter()
    for _ in range(10):
        panel.refresh_regions({"session": "ab" * 16})
    assert (time.perf_counter() - start) / 10 < 0.05


def test_the_figure_is_a_valid_plotly_figure(moons, spiral):
    import plotly.graph_objects as go
    for _, snapshot, points in (moons, spiral):
        go.Figure(figure_of(snapshot, points))
    _, snapshot, points = trained("sine", [1, 8, 1], ["tanh", "linear"], "mse", epochs=2)
    go.Figure(figure_of(snapshot, points))


def test_two_feature_regression_shows_predicted_values():
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, (200, 2)).astype(np.float32) * np.array([1.0, 10.0], dtype=np.float32)
    y = (X[:, :1] + X[:, 1:] / 10).astype(np.float32)
    scaler = datasets.Standardizer().fit(X[:160])
    model = FFNN([2, 8, 1], ["tanh", "linear"], loss="mse", optimizer="adam")
    model.fit(scaler.transform(X[:160]), y[:160], epochs=40, learning_rate=0.01, verbose=0)
    snapshot = model.snapshot()
    snapshot["dataset"] = {"name": "mine.csv", "task": "regression", "class_names": [], "feature_names": ["a", "b"]}
    fig = F.decision_regions_figure(snapshot, X[:160], y[:160], X[160:], y[160:], grid=30, standardizer=scaler)
    heat = fig["data"][0]
    assert heat["coloraxis"] == "coloraxis" and "coloraxis" in fig["layout"]
    i, j = 7, 21
    expected = model.predict(scaler.transform(np.array([[heat["x"][j], heat["y"][i]]])))[0, 0]
    assert heat["z"][i][j] == pytest.approx(float(expected), abs=1e-3)
    assert [t["name"] for t in fig["data"][1:]] == ["training", "validation"]
    assert fig["layout"]["xaxis"]["title"]["text"] == "a"
    assert fig["layout"]["width"] == F.REGION_WIDE               # spans 4 vs 40: no equal units
    assert fig["layout"]["xaxis"]["range"] == pytest.approx([heat["x"][0], heat["x"][-1]])
    import plotly.graph_objects as go
    go.Figure(fig)
