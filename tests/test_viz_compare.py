"""Tests for viz.compare: the weights and gradients of recorded runs side by side,
one row per layer with weights and one column per run, at one epoch.

The runs are real engine models trained for a few epochs; a callback records the
per-epoch histograms the way the dashboard does, and keeps the raw snapshots so the
tests can bin the weights again with ``np.histogram`` and compare."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from engine import Conv2D, Dense, Dropout, Flatten, Sequential
from viz.compare import MAX_INSIDE_RUNS, ROW_PX, common_epochs, frame_at, inside_histograms
from viz.distributions import histogram_data
from viz.runs import run_colors

BINS = 30


def five(v):
    """v to five significant digits, worked out through text."""
    return float(f"{v:.5g}")


def assert_rounded(got, expected):
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g == pytest.approx(five(e), rel=1e-12, abs=1e-300)


def dense_layers():
    """Two layers with weights around a Dropout (which has none)."""
    return [Dense(8, activation="relu"), Dropout(0.5, seed=0), Dense(3, activation="softmax")]


def trained_run(rid, seed, epochs=4, keep=None, layers=None, input_shape=(4,), lr=0.1, name=None):
    """A run record with ``inside`` frames for the epochs in ``keep`` (all by default),
    and {epoch: snapshot} of the model at the end of those epochs."""
    model = Sequential(layers() if layers else dense_layers(), input_shape, loss="cce", dtype="float64",
                       seed=seed)
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(60, *input_shape))
    y = np.arange(60) % 3
    frames, raw = [], {}

    def on_epoch(m, logs):
        if logs["event"] != "epoch" or (keep is not None and logs["epoch"] not in keep):
            return
        snapshot = m.snapshot()
        raw[logs["epoch"]] = snapshot
        frames.append({"epoch": logs["epoch"], "params": histogram_data(snapshot, None, "params", bins=BINS),
                       "grads": histogram_data(snapshot, None, "grads", bins=BINS)})

    history = model.fit(X, y, batch_size=16, learning_rate=lr, epochs=epochs, verbose=0, callbacks=[on_epoch])
    run = {"id": rid, "name": f"run {rid}" if name is None else name, "state": "done",
           "params": {"learning_rate": lr}, "history": {**history, "first_epoch": 1},
           "metrics": {"loss": history["train_loss"][-1]}, "inside": {"bins": BINS, "frames": frames}}
    return run, raw


def plain_run(rid, inside=None):
    """A run record without histograms (or with the ``inside`` given)."""
    run = {"id": rid, "name": f"run {rid}", "state": "done", "params": {}, "history": {}, "metrics": {}}
    if inside is not None:
        run["inside"] = inside
    return run


def kernel(layer, kind="params"):
    """The layer's weight matrix (its first array with 2+ axes), or its gradient."""
    name = next(n for n, v in layer["params"].items() if np.ndim(v) >= 2)
    return np.asarray(layer[kind][name], dtype=np.float64).ravel()


def weighted_indices(snapshot):
    return [i for i, layer in enumerate(snapshot["layers"]) if any(np.ndim(v) >= 2 for v in layer["params"].values())]


def cells(fig):
    """{(run_id, row): bar trace}."""
    return {(t["meta"]["run_id"], t["meta"]["row"]): t for t in fig["data"]}


def axis(fig, trace, letter):
    """The layout axis a trace is drawn on ("x" -> layout["xaxis"], "x5" -> layout["xaxis5"])."""
    ref = trace[letter + "axis"]
    return fig["layout"][f"{letter}axis{ref[1:]}"]


def title_text(fig):
    return fig["layout"]["title"]["text"]


def note_text(fig):
    return fig["layout"]["annotations"][0]["text"]


def dumps(fig):
    return json.dumps(fig, allow_nan=False)


@pytest.fixture(scope="module")
def three():
    """Three runs of the same model, four epochs each, every epoch recorded."""
    return [trained_run(rid, seed, lr=lr) for rid, seed, lr in [(11, 1, 0.1), (12, 2, 0.5), (13, 3, 0.02)]]


# -- frames -------------------------------------------------------------------------------

def test_common_epochs_and_frame_at_on_thinned_frames():
    a, _ = trained_run(1, 1, epochs=6, keep={1, 2, 4, 6})
    b, _ = trained_run(2, 2, epochs=5, keep={2, 3, 4, 5})
    c, _ = trained_run(3, 3, epochs=6, keep={2, 4, 6})
    assert [f["epoch"] for f in a["inside"]["frames"]] == [1, 2, 4, 6]
    assert common_epochs([a, b, c]) == [2, 4]
    assert common_epochs([a, c]) == [2, 4, 6]
    assert common_epochs([b]) == [2, 3, 4, 5]
    assert common_epochs([]) == []
    assert common_epochs([a, plain_run(9)]) == []                       # a run without frames shares none
    assert common_epochs([a, plain_run(9, {"bins": BINS, "frames": []})]) == []
    frames = a["inside"]["frames"]
    assert frame_at(a, 4) is frames[2]                                   # the frame itself
    assert frame_at(a, 5) is frames[2]                                   # else the last one before it
    assert frame_at(a, 3)["epoch"] == 2
    assert frame_at(a, 100) is frames[-1]
    assert frame_at(a, 1) is frames[0]
    assert frame_at(a, 0) is None
    assert frame_at(b, 1) is None
    assert frame_at(plain_run(9), 3) is None


def test_frames_out_of_order_are_read_in_epoch_order():
    a, _ = trained_run(1, 1, epochs=3)
    shuffled = dict(a, inside={"bins": BINS, "frames": a["inside"]["frames"][::-1]})
    assert frame_at(shuffled, 2)["epoch"] == 2
    assert common_epochs([shuffled, a]) == [1, 2, 3]


# -- the grid -----------------------------------------------------------------------------

def test_one_row_per_layer_with_weights_and_one_column_per_run(three):
    runs = [run for run, _ in three]
    fig = inside_histograms(runs)
    snapshot = three[0][1][4]
    weighted = weighted_indices(snapshot)
    assert weighted == [0, 2]                                             # the Dropout adds no row
    assert len(fig["data"]) == len(weighted) * len(runs)
    assert set(cells(fig)) == {(run["id"], r) for run in runs for r in range(len(weighted))}
    assert fig["layout"]["meta"]["layers"] == ["Layer 1 (Dense 8, ReLU)", "Layer 3 (Dense 3, Softmax)"]
    headings = [a["text"] for a in fig["layout"]["annotations"]]
    assert "Layer 1 (Dense 8, ReLU)" in headings and "Layer 3 (Dense 3, Softmax)" in headings
    assert not any("Dropout" in h for h in headings)
    colors = run_colors(3)
    for r in range(len(weighted)):
        row = [cells(fig)[(run["id"], r)] for run in runs]
        lefts = [axis(fig, t, "x")["domain"][0] for t in row]
        assert lefts == sorted(lefts) and len(set(lefts)) == 3                 # columns in the runs' order
        assert len({tuple(axis(fig, t, "y")["domain"]) for t in row}) == 1    # one band per row
        for k, t in enumerate(row):
            assert t["type"] == "bar"
            assert t["marker"]["color"] == colors[k]
            assert t["meta"]["layer"] == weighted[r]
            assert t["name"] == f"#{runs[k]['id']} run {runs[k]['id']}"
    top = [axis(fig, cells(fig)[(11, r)], "y")["domain"][1] for r in range(2)]
    assert top[0] > top[1]                                                 # the first layer on top
    for k, run in enumerate(runs):                                         # column headings in run colours
        heading = next(a for a in fig["layout"]["annotations"] if f"#{run['id']} run {run['id']}" in a["text"])
        assert heading["font"]["color"] == colors[k]
    assert title_text(fig).startswith("Weights per layer at epoch 4")
    dumps(fig)


def test_axes_are_laid_out_by_hand_without_overlap(three):
    fig = inside_histograms([run for run, _ in three])
    layout = fig["layout"]
    names = sorted(k for k in layout if k.startswith("xaxis"))
    assert len(names) == 6 and "xaxis" in names and "xaxis6" in names
    boxes = []
    for name in names:
        s = name[5:]
        x, y = layout[name], layout["yaxis" + s]
        assert x["anchor"] == "y" + s and y["anchor"] == "x" + s
        assert 0 <= x["domain"][0] < x["domain"][1] <= 1 and 0 <= y["domain"][0] < y["domain"][1] <= 1
        boxes.append((x["domain"], y["domain"]))
    for i, (ax, ay) in enumerate(boxes):
        for bx, by in boxes[i + 1:]:
            assert ax[1] <= bx[0] or bx[1] <= ax[0] or ay[1] <= by[0] or by[1] <= ay[0]


def test_bars_are_the_counts_at_the_bin_centres(three):
    runs = [run for run, _ in three]
    fig = inside_histograms(runs, epoch=3)
    for run, raw in three:
        snapshot = raw[3]
        for r, index in enumerate(weighted_indices(snapshot)):
            counts, edges = np.histogram(kernel(snapshot["layers"][index]), bins=BINS)
            t = cells(fig)[(run["id"], r)]
            assert t["y"] == counts.tolist()
            assert sum(t["y"]) == kernel(snapshot["layers"][index]).size
            assert_rounded(t["x"], (edges[:-1] + edges[1:]) / 2)
            assert_rounded(t["width"], np.diff(edges))
            assert_rounded([lo for lo, _ in t["customdata"]], edges[:-1])
            assert_rounded([hi for _, hi in t["customdata"]], edges[1:])
            assert t["meta"]["epoch"] == 3
    assert title_text(fig).startswith("Weights per layer at epoch 3")


def test_gradients_are_the_gradient_histograms(three):
    runs = [run for run, _ in three]
    fig = inside_histograms(runs, kind="grads")
    for run, raw in three:
        snapshot = raw[4]
        for r, index in enumerate(weighted_indices(snapshot)):
            grad = kernel(snapshot["layers"][index], "grads")
            counts, edges = np.histogram(grad, bins=BINS)
            t = cells(fig)[(run["id"], r)]
            assert t["y"] == counts.tolist()
            assert_rounded(t["x"], (edges[:-1] + edges[1:]) / 2)
        weights = cells(inside_histograms(runs))[(run["id"], 0)]
        assert weights["x"] != cells(fig)[(run["id"], 0)]["x"]
    assert title_text(fig).startswith("Gradients per layer at epoch 4")
    bottom = axis(fig, cells(fig)[(11, 1)], "x")                          # the x title sits under the last row
    assert bottom["title"]["text"] == "dL/dw"
    assert axis(inside_histograms(runs), cells(fig)[(11, 1)], "x")["title"]["text"] == "weight value"
    assert "title" not in axis(fig, cells(fig)[(11, 0)], "x")
    with pytest.raises(ValueError):
        inside_histograms(runs, kind="activations")


def test_the_x_range_is_shared_per_row_and_covers_every_run(three):
    runs = [run for run, _ in three]
    fig = inside_histograms(runs)
    ranges = []
    for r, index in enumerate(weighted_indices(three[0][1][4])):
        row = [cells(fig)[(run["id"], r)] for run in runs]
        row_ranges = {tuple(axis(fig, t, "x")["range"]) for t in row}
        assert len(row_ranges) == 1
        lo, hi = row_ranges.pop()
        all_edges = [np.histogram(kernel(raw[4]["layers"][index]), bins=BINS)[1] for _, raw in three]
        assert lo <= min(e[0] for e in all_edges) and hi >= max(e[-1] for e in all_edges)
        assert hi - lo <= 1.2 * (max(e[-1] for e in all_edges) - min(e[0] for e in all_edges))
        first = row[0]["xaxis"]
        assert all(axis(fig, t, "x").get("matches") == first for t in row[1:])   # zooms together
        ranges.append((lo, hi))
    assert ranges[0] != ranges[1]                                         # each layer its own range
    own = [(t["customdata"][0][0], t["customdata"][-1][1]) for t in (cells(fig)[(run["id"], 0)] for run in runs)]
    assert len(set(own)) == 3                                            # the runs' own ranges differ,
    lo, hi = ranges[0]
    assert sum(a > lo + 0.02 * (hi - lo) or b < hi - 0.02 * (hi - lo) for a, b in own) >= 2   # yet share one


def test_hover_names_the_run_the_layer_and_the_bin(three):
    fig = inside_histograms([run for run, _ in three], epoch=2)
    t = cells(fig)[(12, 1)]
    hover = t["hovertemplate"]
    assert hover.startswith("#12 · epoch 2 · Layer 3 (Dense 3, Softmax)")
    assert "%{customdata[0]" in hover and "%{customdata[1]" in hover and "%{y:,} weights" in hover
    assert "gradients" in cells(inside_histograms([run for run, _ in three], kind="grads"))[(12, 1)]["hovertemplate"]


# -- which epoch ----------------------------------------------------------------------------

def thinned():
    a = trained_run(1, 1, epochs=6, keep={1, 2, 4, 6})
    b = trained_run(2, 2, epochs=5, keep={2, 3, 4, 5})
    return a, b


def test_no_epoch_means_the_latest_epoch_every_run_has():
    (a, raw_a), (b, raw_b) = thinned()
    fig = inside_histograms([a, b])
    assert fig["layout"]["meta"]["epoch"] == 4 and fig["layout"]["meta"]["epochs"] == [4, 4]
    assert title_text(fig).startswith("Weights per layer at epoch 4")
    for run, raw in ((a, raw_a), (b, raw_b)):
        counts, _ = np.histogram(kernel(raw[4]["layers"][0]), bins=BINS)
        assert cells(fig)[(run["id"], 0)]["y"] == counts.tolist()
        later = np.histogram(kernel(raw[max(raw)]["layers"][0]), bins=BINS)[0]
        assert cells(fig)[(run["id"], 0)]["y"] != later.tolist()         # not the run's last frame


def test_an_epoch_between_frames_takes_the_last_frame_before_it():
    (a, raw_a), (b, raw_b) = thinned()
    fig = inside_histograms([a, b], epoch=5)
    assert fig["layout"]["meta"]["epochs"] == [4, 5]
    counts, _ = np.histogram(kernel(raw_a[4]["layers"][2]), bins=BINS)
    assert cells(fig)[(1, 1)]["y"] == counts.tolist()
    assert cells(fig)[(1, 1)]["meta"]["epoch"] == 4
    heading_a = next(x["text"] for x in fig["layout"]["annotations"] if "#1 run 1" in x["text"])
    heading_b = next(x["text"] for x in fig["layout"]["annotations"] if "#2 run 2" in x["text"])
    assert "epoch 4" in heading_a and "epoch" not in heading_b          # only a frame from elsewhere says so


def test_a_run_without_a_frame_by_the_epoch_has_empty_cells_and_is_named():
    (a, raw_a), (b, _) = thinned()
    fig = inside_histograms([a, b], epoch=1)
    assert {rid for rid, _ in cells(fig)} == {1}
    assert fig["layout"]["meta"]["no_frame"] == [2]
    assert "#2 has none by epoch 1" in title_text(fig)
    assert sum("nothing by epoch 1" in x["text"] for x in fig["layout"]["annotations"]) == 2
    counts, _ = np.histogram(kernel(raw_a[1]["layers"][0]), bins=BINS)
    assert cells(fig)[(1, 0)]["y"] == counts.tolist()
    assert cells(fig)[(1, 0)]["marker"]["color"] == run_colors(2)[0]
    fig = inside_histograms([a, b], epoch=0)
    assert fig["data"] == [] and "at or before epoch 0" in note_text(fig)
    dumps(fig)


def test_without_a_common_epoch_each_run_shows_its_latest():
    a, raw_a = trained_run(1, 1, epochs=2)
    b, raw_b = trained_run(2, 2, epochs=3, keep={3})
    fig = inside_histograms([a, b])
    assert fig["layout"]["meta"]["epoch"] is None and fig["layout"]["meta"]["epochs"] == [2, 3]
    assert "each run's latest epoch" in title_text(fig)
    assert cells(fig)[(2, 0)]["y"] == np.histogram(kernel(raw_b[3]["layers"][0]), bins=BINS)[0].tolist()
    assert cells(fig)[(1, 0)]["y"] == np.histogram(kernel(raw_a[2]["layers"][0]), bins=BINS)[0].tolist()


# -- selections --------------------------------------------------------------------------

def test_at_most_four_runs_are_drawn_and_the_subtitle_says_so():
    runs = [trained_run(rid, rid, epochs=1)[0] for rid in range(1, 7)]
    fig = inside_histograms(runs)
    assert MAX_INSIDE_RUNS == 4
    assert sorted({rid for rid, _ in cells(fig)}) == [1, 2, 3, 4]
    assert len(fig["data"]) == 2 * 4
    assert "4 of 6 runs: the first 4 are drawn" in title_text(fig)
    assert fig["layout"]["meta"]["shown"] == 4 and fig["layout"]["meta"]["total"] == 6
    for k, rid in enumerate([1, 2, 3, 4]):
        assert cells(fig)[(rid, 0)]["marker"]["color"] == run_colors(4)[k]
    exactly = inside_histograms(runs[:4])
    assert "the first" not in title_text(exactly) and len(exactly["data"]) == 8


def test_runs_without_histograms_are_named_and_keep_their_column():
    (a, _), (b, _) = trained_run(1, 1, epochs=2), trained_run(2, 2, epochs=2)
    runs = [a, plain_run(7), b, plain_run(8, {"bins": BINS, "frames": []})]
    fig = inside_histograms(runs)
    assert {rid for rid, _ in cells(fig)} == {1, 2}
    assert "#7, #8 have no recorded histograms" in title_text(fig)
    assert fig["layout"]["meta"]["no_inside"] == [7, 8]
    assert cells(fig)[(2, 0)]["marker"]["color"] == run_colors(4)[2]        # colour by position, as in runs
    assert sum(x["text"] == "not recorded" for x in fig["layout"]["annotations"]) == 2 * 2
    dumps(fig)
    fig = inside_histograms([plain_run(7), plain_run(8)])
    assert fig["data"] == []
    assert "#7, #8 have no recorded histograms" in note_text(fig)
    dumps(fig)


def test_fewer_than_two_runs_give_a_note():
    a, _ = trained_run(1, 1, epochs=1)
    for runs in ([], [a], None):
        fig = inside_histograms(runs)
        assert fig["data"] == []
        assert "Select 2 to 4 runs" in note_text(fig)
        dumps(fig)


def conv_layers():
    return [Conv2D(2, 3, activation="relu"), Flatten(), Dense(3, activation="softmax")]


def deep_layers():
    return [Dense(6, activation="tanh"), Dropout(0.2, seed=1), Dense(5, activation="relu"),
            Dense(3, activation="softmax")]


def test_layers_are_matched_by_position_and_titled_from_the_first_run_that_has_them():
    conv, raw_conv = trained_run(1, 1, epochs=2, layers=conv_layers, input_shape=(5, 5, 1))
    deep, raw_deep = trained_run(2, 2, epochs=2, layers=deep_layers)
    fig = inside_histograms([conv, deep])
    assert fig["layout"]["meta"]["layers"] == ["Layer 1 (Conv2D 2 3×3, ReLU)", "Layer 3 (Dense 3, Softmax)",
                                               "Layer 4 (Dense 3, Softmax)"]
    assert set(cells(fig)) == {(1, 0), (1, 1), (2, 0), (2, 1), (2, 2)}
    assert cells(fig)[(2, 1)]["meta"]["layer"] == 2                      # the deep run's 2nd weighted layer
    counts, _ = np.histogram(kernel(raw_deep[2]["layers"][2]), bins=BINS)
    assert cells(fig)[(2, 1)]["y"] == counts.tolist()
    counts, _ = np.histogram(kernel(raw_conv[2]["layers"][0]), bins=BINS)
    assert cells(fig)[(1, 0)]["y"] == counts.tolist()
    assert sum(x["text"] == "no such layer" for x in fig["layout"]["annotations"]) == 1
    assert "Layer 3 (Dense 5, ReLU)" in cells(fig)[(2, 1)]["hovertemplate"]   # each cell's own layer
    # and the height grows by one row per layer
    two_rows = inside_histograms([conv, conv])
    assert fig["layout"]["height"] - two_rows["layout"]["height"] == ROW_PX
    dumps(fig)


def test_runs_whose_layers_have_no_weights_give_a_note():
    snapshot = {"layers": [{"type": "Flatten", "config": {}, "params": {}, "grads": {}}]}
    frame = {"epoch": 1, "params": histogram_data(snapshot, None, "params", BINS),
             "grads": histogram_data(snapshot, None, "grads", BINS)}
    runs = [plain_run(1, {"bins": BINS, "frames": [frame]}), plain_run(2, {"bins": BINS, "frames": [frame]})]
    fig = inside_histograms(runs)
    assert fig["data"] == [] and "no layer with weights" in note_text(fig)


# -- JSON ---------------------------------------------------------------------------------

def test_values_that_are_not_finite_are_left_out_and_the_figure_is_plain_json():
    W = np.array([[0.5, np.nan, -0.25], [np.inf, 0.125, 1.0]])
    snapshot = {"layers": [{"type": "Dense", "config": {"units": 3}, "params": {"W": W, "b": np.zeros(3)},
                            "grads": {"W": np.full_like(W, np.nan), "b": np.zeros(3)}}]}
    frame = {"epoch": 1, "params": histogram_data(snapshot, None, "params", BINS),
             "grads": histogram_data(snapshot, None, "grads", BINS)}
    a, _ = trained_run(1, 1, epochs=1)
    runs = [a, plain_run(2, {"bins": BINS, "frames": [frame]})]
    for kind in ("params", "grads"):
        fig = inside_histograms(runs, kind=kind)
        text = dumps(fig)
        assert json.loads(text) == fig
        assert "#2 has values that are not finite" in title_text(fig)
    t = cells(inside_histograms(runs))[(2, 0)]
    assert sum(t["y"]) == 4
    assert all(math.isfinite(v) for v in t["x"] + t["width"])


def test_every_figure_is_plain_json(three):
    runs = [run for run, _ in three]
    for fig in (inside_histograms(runs), inside_histograms(runs, kind="grads"), inside_histograms(runs, epoch=1),
                inside_histograms(runs + [plain_run(9)]), inside_histograms([]),
                inside_histograms([plain_run(1), plain_run(2)])):
        text = dumps(fig)
        assert json.loads(text) == fig
