"""Tests for viz.runs: recorded runs compared in one chart (loss and accuracy overlays,
parallel coordinates) and the helpers that pick and name them."""
from __future__ import annotations

import json
import math
import re
import time

import pytest

from viz.runs import (MAX_OVERLAY_RUNS, accuracy_overlay, best_runs, loss_overlay, metric_label,
                      parallel_coordinates, run_colors)


def five(v):
    """v to five significant digits, worked out through text."""
    return float(f"{v:.5g}")


def assert_rounded(got, expected):
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        if e is None or not math.isfinite(e):
            assert g is None
        else:
            assert g == pytest.approx(five(e), rel=1e-12, abs=1e-300)


def record(rid, n=5, first_epoch=1, classifier=True, val=True, params=None, metrics=None, state="done",
           name=None):
    """A run record whose curves are easy to recompute: loss 1/(e+rid+2), accuracy rising."""
    history = {"train_loss": [1.0 / (e + rid + 2) for e in range(n)],
               "val_loss": [1.3 / (e + rid + 2) for e in range(n)] if val else [],
               "train_accuracy": [], "val_accuracy": [], "first_epoch": first_epoch}
    if classifier:
        history["train_accuracy"] = [0.5 + 0.4 * e / max(n, 1) + rid / 1000 for e in range(n)]
        history["val_accuracy"] = [0.45 + 0.4 * e / max(n, 1) + rid / 1000 for e in range(n)] if val else []
    return {"id": rid, "name": f"run {rid}" if name is None else name, "state": state,
            "params": dict(params or {}), "history": history,
            "metrics": dict(metrics if metrics is not None else {"loss": 0.1, "val_loss": 0.2}),
            "wall_time_s": 1.0, "epochs": n}


def by_run(fig):
    """{(run_id, curve): trace}."""
    return {(t["meta"]["run_id"], t["meta"]["curve"]): t for t in fig["data"]}


def title_text(fig):
    return fig["layout"]["title"]["text"]


def dumps(fig):
    return json.dumps(fig, allow_nan=False)


# -- colours ------------------------------------------------------------------------------

def test_run_colors_are_distinct_hex_colours_that_cycle_after_ten():
    colors = run_colors(25)
    assert len(colors) == 25
    assert all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in colors)
    assert len(set(colors[:10])) == 10
    assert colors[10:20] == colors[:10] and colors[20:] == colors[:5]
    assert run_colors(3) == colors[:3]          # colour k does not depend on how many are asked for
    assert run_colors(0) == [] and run_colors(-2) == []


def test_each_line_has_the_colour_of_its_position_in_the_selection():
    runs = [record(i) for i in (4, 9, 2)]
    palette = run_colors(3)
    fig = loss_overlay(runs)
    for k, run in enumerate(runs):
        for curve in ("train_loss", "val_loss"):
            assert by_run(fig)[(run["id"], curve)]["line"]["color"] == palette[k]
    # run 4 keeps colour 0 when more runs join the selection
    bigger = loss_overlay(runs + [record(7), record(8)])
    assert by_run(bigger)[(4, "train_loss")]["line"]["color"] == palette[0]
    # a run with nothing drawn still holds its colour, so the runs after it keep theirs
    empty = record(5, n=0)
    fig = loss_overlay([runs[0], empty, runs[1]])
    assert by_run(fig)[(9, "val_loss")]["line"]["color"] == run_colors(3)[2]


# -- loss overlay ----------------------------------------------------------------------

def test_one_line_per_run_and_curve_with_the_history_as_y():
    runs = [record(1, n=6), record(2, n=4, first_epoch=11), record(3, n=7, val=False)]
    fig = loss_overlay(runs)
    t = by_run(fig)
    assert len(fig["data"]) == 5
    assert set(t) == {(1, "train_loss"), (1, "val_loss"), (2, "train_loss"), (2, "val_loss"), (3, "train_loss")}
    for run in runs:
        h = run["history"]
        for curve in ("train_loss", "val_loss"):
            if not h[curve]:
                continue
            trace = t[(run["id"], curve)]
            assert trace["type"] == "scatter"
            assert trace["x"] == list(range(h["first_epoch"], h["first_epoch"] + len(h[curve])))
            assert_rounded(trace["y"], h[curve])
    assert t[(2, "train_loss")]["x"][0] == 11
    assert title_text(fig).startswith("Loss of 3 runs")
    assert fig["layout"]["xaxis"]["title"]["text"] == "epoch"
    dumps(fig)


def test_y_values_are_rounded_and_not_finite_values_become_null():
    run = record(1, n=4)
    run["history"]["train_loss"] = [0.123456789, float("nan"), float("inf"), None]
    run["history"]["val_loss"] = [1234567.89, 2e-7 / 3, 0.0, -1.0]
    t = by_run(loss_overlay([run, record(2)]))
    assert t[(1, "train_loss")]["y"] == [0.12346, None, None, None]
    assert_rounded(t[(1, "val_loss")]["y"], [1234567.89, 2e-7 / 3, 0.0, -1.0])
    assert t[(1, "val_loss")]["y"][0] == 1234600.0


def test_training_is_solid_and_validation_dashed():
    fig = loss_overlay([record(1), record(2)])
    for (rid, curve), trace in by_run(fig).items():
        assert trace["line"]["dash"] == ("dash" if curve == "val_loss" else "solid")
    assert "dashed: validation" in title_text(fig)


def test_legend_entries_are_grouped_per_run():
    runs = [record(12, name="lr 0.01 · relu"), record(3, name="lr 0.1 · tanh"), record(5, name="")]
    fig = loss_overlay(runs)
    t = by_run(fig)
    groups = {}
    for (rid, curve), trace in t.items():
        groups.setdefault(rid, set()).add(trace["legendgroup"])
    assert all(len(g) == 1 for g in groups.values())
    assert len({next(iter(g)) for g in groups.values()}) == 3
    for run in runs:
        pair = [t[(run["id"], "train_loss")], t[(run["id"], "val_loss")]]
        assert sum(bool(tr["showlegend"]) for tr in pair) == 1      # one legend entry per run
    assert t[(12, "train_loss")]["name"] == "#12 lr 0.01 · relu"
    assert t[(12, "val_loss")]["name"] == "#12 lr 0.01 · relu"
    assert t[(5, "train_loss")]["name"] == "#5"
    hover = t[(12, "val_loss")]["hovertemplate"]
    assert hover.startswith("#12 · epoch %{x} · val loss %{y")
    assert "train loss" in t[(12, "train_loss")]["hovertemplate"]
    uids = [tr["uid"] for tr in fig["data"]]
    assert len(set(uids)) == len(uids)


def test_at_most_twenty_runs_are_drawn_and_the_title_says_so():
    runs = [record(i, n=3) for i in range(1, 26)]
    fig = loss_overlay(runs)
    assert MAX_OVERLAY_RUNS == 20
    assert len(fig["data"]) == 40
    assert sorted({t["meta"]["run_id"] for t in fig["data"]}) == list(range(1, 21))
    assert "20 of 25 runs" in title_text(fig)
    assert title_text(fig).startswith("Loss of 20 runs")
    assert fig["layout"]["meta"]["total"] == 25 and fig["layout"]["meta"]["shown"] == 20
    # exactly twenty: no note
    fig = loss_overlay(runs[:20])
    assert len(fig["data"]) == 40 and " of 20 runs" not in title_text(fig).split("·", 1)[-1]


def test_no_runs_gives_a_note_and_one_run_a_plain_chart():
    fig = loss_overlay([])
    assert fig["data"] == []
    assert fig["layout"]["annotations"][0]["text"]
    dumps(fig)
    fig = loss_overlay([record(4, n=3)])
    assert len(fig["data"]) == 2
    assert title_text(fig).startswith("Loss of 1 run")
    assert "1 runs" not in title_text(fig)
    assert by_run(fig)[(4, "train_loss")]["line"]["color"] == run_colors(1)[0]


def test_a_run_without_epochs_is_named_in_the_subtitle():
    runs = [record(1), record(7, n=0), record(2)]
    runs[1]["history"] = {}
    fig = loss_overlay(runs)
    assert {t["meta"]["run_id"] for t in fig["data"]} == {1, 2}
    assert "#7 has no epochs yet" in title_text(fig)
    assert title_text(fig).startswith("Loss of 2 runs")
    assert fig["layout"]["meta"]["no_epochs"] == [7]
    fig = loss_overlay([record(7, n=0), record(8, n=0)])
    assert fig["data"] == []
    assert "#7, #8 have no epochs yet" in fig["layout"]["annotations"][0]["text"]
    dumps(fig)


def test_which_picks_the_curves():
    fig = loss_overlay([record(1), record(2)], which=("val_loss",), title="Validation loss")
    assert {c for _, c in by_run(fig)} == {"val_loss"}
    assert len(fig["data"]) == 2 and all(t["showlegend"] for t in fig["data"])
    assert title_text(fig).startswith("Validation loss of 2 runs")


# -- accuracy overlay --------------------------------------------------------------------

def test_accuracy_is_drawn_in_percent_and_runs_without_it_are_named():
    runs = [record(1, n=5), record(2, n=5, classifier=False), record(3, n=8, first_epoch=3)]
    fig = accuracy_overlay(runs)
    t = by_run(fig)
    assert set(t) == {(1, "train_accuracy"), (1, "val_accuracy"), (3, "train_accuracy"), (3, "val_accuracy")}
    for run in (runs[0], runs[2]):
        h = run["history"]
        for curve in ("train_accuracy", "val_accuracy"):
            trace = t[(run["id"], curve)]
            assert trace["x"] == list(range(h["first_epoch"], h["first_epoch"] + len(h[curve])))
            assert_rounded(trace["y"], [100 * a for a in h[curve]])
            assert trace["line"]["dash"] == ("dash" if curve == "val_accuracy" else "solid")
    assert max(max(tr["y"]) for tr in fig["data"]) > 1         # percent, not a fraction
    assert fig["layout"]["yaxis"]["range"] == [0, 101]
    assert "#2 has no accuracy" in title_text(fig)
    assert title_text(fig).startswith("Accuracy of 2 runs")
    assert "%" in t[(1, "val_accuracy")]["hovertemplate"]
    assert t[(3, "val_accuracy")]["line"]["color"] == run_colors(3)[2]
    dumps(fig)


def test_accuracy_of_regressions_only_is_a_note():
    fig = accuracy_overlay([record(1, classifier=False), record(2, classifier=False)])
    assert fig["data"] == []
    assert "#1, #2 have no accuracy" in fig["layout"]["annotations"][0]["text"]
    assert accuracy_overlay([])["data"] == []


# -- parallel coordinates ------------------------------------------------------------------

def search_runs():
    lrs = [0.0001, 0.001, 0.01, 0.1, 0.03]
    acts = ["tanh", "relu", "sigmoid", "relu", "tanh"]
    units = [8, 16, 32, 16, 8]
    accs = [0.81, 0.9, 0.95, 0.7, 0.88]
    return [record(i + 1, params={"learning_rate": lr, "activation": a, "units": u},
                   metrics={"val_accuracy": acc, "val_loss": 1 - acc})
            for i, (lr, a, u, acc) in enumerate(zip(lrs, acts, units, accs))]


def dims(fig):
    return {d["label"]: d for d in fig["data"][0]["dimensions"]}


def test_parcoords_has_one_axis_per_setting_and_the_metric_last():
    runs = search_runs()
    fig = parallel_coordinates(runs)
    trace = fig["data"][0]
    assert trace["type"] == "parcoords"
    labels = [d["label"] for d in trace["dimensions"]]
    assert labels == ["log10 learning_rate", "activation", "units", "validation accuracy"]
    d = dims(fig)
    assert_rounded(d["log10 learning_rate"]["values"], [math.log10(r["params"]["learning_rate"]) for r in runs])
    assert d["log10 learning_rate"]["values"][:4] == pytest.approx([-4, -3, -2, -1])
    assert d["units"]["values"] == [8, 16, 32, 16, 8]
    assert d["validation accuracy"]["values"] == [0.81, 0.9, 0.95, 0.7, 0.88]
    assert trace["meta"]["run_ids"] == [1, 2, 3, 4, 5]
    dumps(fig)


def test_categories_are_numbered_and_named_on_their_axis():
    runs = search_runs()
    act = dims(parallel_coordinates(runs))["activation"]
    names = act["ticktext"]
    assert sorted(names) == ["relu", "sigmoid", "tanh"] and len(names) == 3
    assert act["tickvals"] == [0, 1, 2]
    for run, v in zip(runs, act["values"]):
        assert names[int(v)] == run["params"]["activation"]
        assert v == int(v)


def test_a_narrow_range_stays_linear_and_a_missing_setting_is_its_own_category():
    runs = [record(i + 1, params={"learning_rate": lr}, metrics={"val_accuracy": 0.5 + i / 10})
            for i, lr in enumerate([0.01, 0.05, 0.5])]             # 1.7 decades
    d = dims(parallel_coordinates(runs))
    assert d["learning_rate"]["values"] == [0.01, 0.05, 0.5]
    runs[2]["params"]["optimizer"] = "adam"
    d = dims(parallel_coordinates(runs))
    opt = d["optimizer"]
    assert [opt["ticktext"][int(v)] for v in opt["values"]] == ["none", "none", "adam"]


def test_line_colour_is_the_metric_with_a_colour_bar():
    runs = search_runs()
    fig = parallel_coordinates(runs, metric="val_loss")
    line = fig["data"][0]["line"]
    assert_rounded(line["color"], [r["metrics"]["val_loss"] for r in runs])
    assert line["showscale"] is True and line["colorscale"]
    assert line["colorbar"]["title"]["text"] == "validation loss"
    assert dims(fig)["validation loss"]["values"] == line["color"]
    assert title_text(fig).startswith("Settings and validation loss of 5 runs")


def test_runs_without_the_metric_are_left_out_and_counted():
    runs = search_runs()
    del runs[1]["metrics"]["val_accuracy"]
    runs[3]["metrics"]["val_accuracy"] = float("nan")
    fig = parallel_coordinates(runs, title="Search 3")
    trace = fig["data"][0]
    assert trace["meta"]["run_ids"] == [1, 3, 5]
    assert trace["line"]["color"] == [0.81, 0.95, 0.88]
    assert all(len(d["values"]) == 3 for d in trace["dimensions"])
    assert title_text(fig).startswith("Search 3 of 3 runs")
    assert "2 runs without validation accuracy left out" in title_text(fig)
    assert fig["layout"]["meta"]["left_out"] == [2, 4]
    dumps(fig)


def test_runs_that_varied_nothing_or_have_no_metric_give_a_note():
    fig = parallel_coordinates([record(1, metrics={"val_accuracy": 0.9}), record(2, metrics={"val_accuracy": 0.8})])
    assert fig["data"] == []
    assert "search varies settings" in fig["layout"]["annotations"][0]["text"]
    fig = parallel_coordinates([record(1, params={"units": 4}, metrics={})])
    assert fig["data"] == [] and fig["layout"]["annotations"][0]["text"]
    assert parallel_coordinates([])["data"] == []


def test_setting_axes_keep_their_order_when_the_selection_is_resorted():
    runs = search_runs()
    a = [d["label"] for d in parallel_coordinates(runs)["data"][0]["dimensions"]]
    b = [d["label"] for d in parallel_coordinates(runs[::-1])["data"][0]["dimensions"]]
    assert a == b


# -- names and best runs ---------------------------------------------------------------

def test_metric_labels():
    assert metric_label("val_accuracy") == "validation accuracy"
    assert metric_label("val_loss") == "validation loss"
    assert metric_label("macro_f1") == "macro F1"
    assert metric_label("train_loss") == "training loss"
    assert metric_label("loss") == "training loss"
    assert metric_label("accuracy") == "training accuracy"
    assert metric_label("learning_rate") == "learning rate"


def test_best_runs_by_loss_and_accuracy():
    def run(rid, state="done", **metrics):
        return {"id": rid, "state": state, "metrics": metrics}

    runs = [run(5, val_loss=0.3, val_accuracy=0.9), run(2, val_loss=0.1, val_accuracy=0.8),
            run(9, val_loss=0.2, val_accuracy=0.95), run(4, "stopped", val_loss=0.15, val_accuracy=0.85),
            run(1, "running", val_loss=0.01, val_accuracy=0.99), run(3, "diverged", val_loss=0.0),
            run(6, "failed", val_accuracy=1.0), run(7), run(8, val_loss=float("nan"), val_accuracy=None)]
    assert [r["id"] for r in best_runs(runs, "val_loss", 3)] == [2, 4, 9]
    assert [r["id"] for r in best_runs(runs, "val_accuracy", 10)] == [9, 5, 4, 2]
    assert [r["id"] for r in best_runs(runs, "val_accuracy", 2, higher_is_better=False)] == [2, 4]
    assert best_runs(runs, "val_loss", 0) == []
    assert best_runs(runs, "macro_f1", 3) == []
    assert best_runs(runs, "val_loss", 1)[0] is runs[1]           # the records themselves


def test_best_runs_ties_keep_the_earlier_id_first():
    runs = [{"id": rid, "state": "done", "metrics": {"macro_f1": f1}}
            for rid, f1 in [(8, 0.9), (3, 0.9), (5, 0.7), (1, 0.7), (2, 0.95)]]
    assert [r["id"] for r in best_runs(runs, "macro_f1", 5)] == [2, 3, 8, 1, 5]
    assert [r["id"] for r in best_runs(runs, "macro_f1", 5, higher_is_better=False)] == [1, 5, 3, 8, 2]


# -- JSON and speed ----------------------------------------------------------------------

def test_every_figure_is_plain_json():
    runs = search_runs() + [record(30, n=0)]
    runs[0]["history"]["val_loss"][2] = float("inf")
    for fig in (loss_overlay(runs), accuracy_overlay(runs), parallel_coordinates(runs),
                parallel_coordinates(runs, "macro_f1"), loss_overlay([]), accuracy_overlay([]),
                parallel_coordinates([])):
        text = dumps(fig)
        assert json.loads(text) == fig


def test_twenty_runs_of_a_hundred_epochs_build_quickly():
    runs = [record(i, n=100, params={"learning_rate": 10 ** -(i % 5), "activation": ["relu", "tanh"][i % 2]},
                   metrics={"val_accuracy": 0.5 + i / 50}) for i in range(1, 21)]
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        loss = loss_overlay(runs)
        accuracy_overlay(runs)
        parallel_coordinates(runs)
        timings.append(time.perf_counter() - start)
    assert len(loss["data"]) == 40 and all(len(t["y"]) == 100 for t in loss["data"])
    assert all(t["mode"] == "lines" and t["type"] == "scatter" for t in loss["data"])
    assert min(timings) < 0.05
