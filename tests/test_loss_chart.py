"""The loss and accuracy figure builders and the batch trace (no browser)."""
from __future__ import annotations

import math

from components.loss_chart import BatchTrace, accuracy_figure, loss_figure


def traces(fig):
    return {t["name"]: t for t in fig["data"]}


def live(n=5, classifier=True, first_epoch=1, val=True):
    history = {"train_loss": [1.0 / (e + 1) for e in range(n)], "first_epoch": first_epoch,
               "val_loss": [1.2 / (e + 1) for e in range(n)] if val else []}
    if classifier:
        history.update(train_accuracy=[0.5 + e / (2 * n) for e in range(n)],
                       val_accuracy=[0.45 + e / (2 * n) for e in range(n)] if val else [])
    return {"history": history, "batch_trace": {"x": [0.5, 1.0, 1.5], "y": [0.9, 0.8, 0.7]}}


def test_no_run_gives_an_empty_chart_with_a_hint():
    fig = loss_figure(None)
    assert fig["data"] == []
    assert "Press Train" in fig["layout"]["annotations"][0]["text"]


def test_one_training_and_one_validation_point_per_epoch():
    fig = loss_figure(live(7))
    t = traces(fig)
    assert list(t["training"]["x"]) == list(range(1, 8))
    assert list(t["validation"]["x"]) == list(range(1, 8))
    assert list(t["training"]["y"]) == [1.0 / (e + 1) for e in range(7)]


def test_the_batch_trace_is_drawn_under_the_epoch_lines():
    fig = loss_figure(live(3))
    assert [t["name"] for t in fig["data"]] == ["batch", "training", "validation"]
    assert fig["data"][0]["x"] == [0.5, 1.0, 1.5]


def test_no_validation_trace_without_validation_data():
    assert "validation" not in traces(loss_figure(live(4, val=False)))


def test_a_continued_model_counts_epochs_from_where_it_was():
    fig = loss_figure(live(3, first_epoch=11))
    assert list(traces(fig)["training"]["x"]) == [11, 12, 13]


def test_nan_and_infinite_losses_become_gaps():
    data = live(3)
    data["history"]["train_loss"] = [1.0, math.nan, math.inf]
    assert list(traces(loss_figure(data))["training"]["y"]) == [1.0, None, None]


def test_the_figures_are_valid_plotly_figures():
    import plotly.graph_objects as go

    for fig in (loss_figure(live(5)), accuracy_figure(live(5)), loss_figure(None), accuracy_figure(None)):
        go.Figure(fig)  # raises on any invalid property


def test_markers_only_while_epochs_can_be_told_apart():
    assert "markers" in traces(loss_figure(live(10)))["training"]["mode"]
    assert traces(loss_figure(live(500)))["training"]["mode"] == "lines"


def test_accuracy_in_percent_for_classifiers():
    fig = accuracy_figure(live(4))
    t = traces(fig)
    assert list(t["training"]["y"]) == [100 * (0.5 + e / 8) for e in range(4)]
    assert len(t["validation"]["y"]) == 4


def test_regression_has_no_accuracy():
    fig = accuracy_figure(live(4, classifier=False))
    assert fig["data"] == []
    assert "classification" in fig["layout"]["annotations"][0]["text"]


def test_batch_trace_stays_short_and_even():
    trace = BatchTrace(limit=100)
    for k in range(1, 10_001):
        trace.add(k / 10, 1.0 / k)
    assert len(trace.x) <= 100
    steps = {round(b - a, 4) for a, b in zip(trace.x, trace.x[1:])}
    assert len(steps) == 1, "points stay evenly spaced"
    assert trace.x[-1] > 900, "the trace reaches the end of the run"


def test_batch_trace_keeps_every_batch_of_a_short_run():
    trace = BatchTrace(limit=100)
    for k in range(50):
        trace.add(k, k * 2.0)
    assert trace.to_dict() == {"x": [float(k) for k in range(50)], "y": [k * 2.0 for k in range(50)], "stride": 1}
