"""The loss and accuracy figure builders (viz.charts), the charts panel's choice of live
state, the batch trace and the validation metrics of a run (dashboard.jobs)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from dashboard.jobs import FROM_RUN_CACHE, BatchTrace, metrics, metrics_text
from engine import FFNN
from viz.charts import accuracy_figure, loss_figure


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


def test_batch_trace_halves_to_every_other_kept_batch():
    trace = BatchTrace(limit=4)
    for k in range(1, 6):
        trace.add(k, float(k))
    assert trace.to_dict() == {"x": [2.0, 4.0], "y": [2.0, 4.0], "stride": 2}
    for k in range(6, 10):
        trace.add(k, float(k))       # from now on only every second batch is kept
    assert trace.x == [2.0, 4.0, 6.0, 8.0]


# -- the charts panel -------------------------------------------------------------------------
SESSION = "ab" * 16


def test_the_charts_draw_the_run_caches_live_state_when_the_page_says_so(monkeypatch):
    from dashboard import store
    from dashboard.panels import charts

    stored = live(6)
    monkeypatch.setattr(store, "get_live", lambda session_id: stored if session_id == SESSION else None)
    progress = {"state": "running", "message": "epoch 3", "charts": FROM_RUN_CACHE}
    version = {"session": SESSION, "version": 1}
    assert charts.charts_live(version, progress) is stored
    assert list(traces(loss_figure(charts.charts_live(version, progress)))["training"]["x"]) == list(range(1, 7))
    # the page's own live state (a loaded model, Reset) is drawn as it is
    own = live(2)
    assert charts.charts_live(version, own) is own
    # nothing in the run cache (yet): the page's
    assert charts.charts_live({"session": "cd" * 16, "version": 1}, progress) is progress
    assert charts.charts_live(None, progress) is progress
    assert charts.charts_live(version, None) is None


# -- validation metrics ------------------------------------------------------------------------------
def hand_metrics(truth, pred, n_classes):
    accuracy = float(np.mean(truth == pred))
    f1 = []
    for c in range(n_classes):
        tp = np.sum((pred == c) & (truth == c))
        fp = np.sum((pred == c) & (truth != c))
        fn = np.sum((pred != c) & (truth == c))
        f1.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return accuracy, float(np.mean(f1))


@pytest.mark.parametrize("sizes, activations, loss", [([2, 3], ["softmax"], "cce"), ([2, 1], ["sigmoid"], "bce")])
def test_metrics_are_accuracy_and_macro_f1(sizes, activations, loss):
    rng = np.random.default_rng(3)
    model = FFNN(sizes, activations, loss=loss, init_params={"seed": 2})
    X = rng.normal(size=(50, 2)).astype(np.float32)
    n_classes = max(sizes[-1], 2)
    y = rng.integers(0, n_classes, size=50)
    P = model.predict(X)
    pred = (P[:, 0] >= 0.5).astype(int) if P.shape[1] == 1 else P.argmax(axis=1)
    accuracy, macro_f1 = hand_metrics(y, pred, n_classes)
    m = metrics(model, X, y)
    assert m["n"] == 50
    assert m["accuracy"] == pytest.approx(accuracy)
    assert m["macro_f1"] == pytest.approx(macro_f1)
    assert metrics_text(m) == (f"Validation (50 samples): accuracy {100 * accuracy:.2f}%, "
                               f"macro F1 {macro_f1:.4f}.")


def test_no_metrics_for_a_regressor_or_no_samples():
    assert metrics(FFNN([2, 1], ["linear"], loss="mse"), np.zeros((4, 2)), np.zeros(4)) == {}
    assert metrics(FFNN([2, 2], ["softmax"], loss="cce"), np.zeros((0, 2)), np.zeros(0)) == {}
    assert metrics_text({}) == ""
