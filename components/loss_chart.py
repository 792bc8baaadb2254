"""The live loss and accuracy charts.

The charts draw a *live* dict::

    {"history": {"train_loss": [...], "val_loss": [...],            # one value per epoch,
                 "train_accuracy": [...], "val_accuracy": [...]},   # accuracy for classifiers
     "batch_trace": {"x": [...], "y": [...]},                       # x: epochs as a fraction
     ...}

A training job keeps it in the run cache (``components.runs.put_live``) and sends the
page (the ``LIVE`` store of ``components.training``) only its progress, marked
``"charts": FROM_RUN_CACHE`` - the history grows with the run and the page has no use
for it but the charts; other live dicts (a loaded model, Reset) carry their own.
The charts redraw when the panels' snapshot version changes (:func:`register`).

:func:`loss_figure` and :func:`accuracy_figure` turn it into Plotly figures as
plain dicts (pure functions, tested without a browser; plain dicts because
building ``go.Figure`` objects costs the server ~10x more on every update); :class:`BatchTrace` keeps the per-batch
trace short however long a run is.
"""
from __future__ import annotations

import importlib
from typing import Any, Optional

import dash
from dash import Input, Output, State, dcc, html

LOSS_GRAPH = "loss-graph"
ACCURACY_GRAPH = "accuracy-graph"
ACCURACY_WRAP = "accuracy-wrap"

TRAIN_COLOR = "#2563eb"
VAL_COLOR = "#ea580c"
BATCH_COLOR = "rgba(37, 99, 235, 0.25)"
MAX_BATCH_POINTS = 1000
# A live dict's "charts" value when its history is in the run cache, not in the dict.
FROM_RUN_CACHE = "run-cache"


class BatchTrace:
    """Per-batch losses at fractional-epoch positions, at most ``limit`` points:
    when full, every other point is dropped and only every ``stride``-th batch
    is kept from then on, so the trace stays even over the whole run. Meant for
    one run (a new one starts a new trace)."""

    def __init__(self, limit: int = MAX_BATCH_POINTS, x: Optional[list] = None, y: Optional[list] = None,
                 stride: int = 1):
        self.limit = limit
        self.x: list[float] = list(x or [])
        self.y: list[float] = list(y or [])
        self.stride = stride
        self._count = 0

    def add(self, x: float, y: float) -> None:
        self._count += 1
        if self._count % self.stride:
            return
        self.x.append(round(float(x), 4))
        self.y.append(float(y))
        if len(self.x) > self.limit:
            # kept batches are numbers stride, 2*stride, ...: keep the multiples of 2*stride
            self.x, self.y = self.x[1::2], self.y[1::2]
            self.stride *= 2

    def to_dict(self) -> dict[str, Any]:
        return {"x": self.x, "y": self.y, "stride": self.stride}


def _mode(n: int) -> str:
    """Markers at epoch ends while they can be told apart, a plain line after that."""
    return "lines+markers" if n <= 60 else "lines"


def _finite(values: list) -> list:
    return [v if isinstance(v, (int, float)) and v == v and abs(v) != float("inf") else None for v in values]


def _base_layout(title: str, y_title: str, empty_text: Optional[str]) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "title": {"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 14}},
        "template": "plotly_white",
        "margin": {"l": 52, "r": 16, "t": 40, "b": 40},
        "height": 300,
        "xaxis": {"title": {"text": "epoch"}, "rangemode": "tozero", "gridcolor": "#eef0f4"},
        "yaxis": {"title": {"text": y_title}, "gridcolor": "#eef0f4", "rangemode": "tozero"},
        "legend": {"orientation": "h", "y": 1.12, "x": 1, "xanchor": "right"},
        "hovermode": "x unified",
        "uirevision": "keep",
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
    }
    if empty_text:
        layout["annotations"] = [{"text": empty_text, "showarrow": False, "xref": "paper", "yref": "paper",
                                  "x": 0.5, "y": 0.5, "font": {"color": "#8a8fa3", "size": 13}}]
        layout["xaxis"].update(showticklabels=False, zeroline=False)
        layout["yaxis"].update(showticklabels=False, zeroline=False)
    return layout


def _line(x: list, y: list, name: str, color: str, hover: str) -> dict[str, Any]:
    return {"type": "scatter", "x": x, "y": y, "mode": _mode(len(y)), "name": name,
            "line": {"color": color, "width": 2.5}, "marker": {"size": 5}, "hovertemplate": hover}


def loss_figure(live: Optional[dict]) -> dict[str, Any]:
    """Training and validation loss per epoch (markers at epoch ends) over the
    faint per-batch trace. An empty chart with a hint when nothing has run."""
    history = (live or {}).get("history") or {}
    train = history.get("train_loss") or []
    val = history.get("val_loss") or []
    trace = (live or {}).get("batch_trace") or {}
    empty = not train and not trace.get("y")
    layout = _base_layout("Loss", "loss", "Press Train to see the loss fall" if empty else None)
    data: list[dict[str, Any]] = []
    if trace.get("y"):
        # SVG, not WebGL: 1000 points draw in a few ms, a WebGL trace costs ~90 ms a redraw without a GPU
        data.append({"type": "scatter", "x": trace["x"], "y": _finite(trace["y"]), "mode": "lines",
                     "name": "batch", "line": {"color": BATCH_COLOR, "width": 1}, "hoverinfo": "skip"})
    first = int(history.get("first_epoch", 1))
    if train:
        data.append(_line(list(range(first, first + len(train))), _finite(train), "training", TRAIN_COLOR,
                          "%{y:.4g}"))
    if val:
        data.append(_line(list(range(first, first + len(val))), _finite(val), "validation", VAL_COLOR,
                          "%{y:.4g}"))
    return {"data": data, "layout": layout}


def accuracy_figure(live: Optional[dict]) -> dict[str, Any]:
    """Training and validation accuracy per epoch, in percent (classifiers only)."""
    history = (live or {}).get("history") or {}
    train = history.get("train_accuracy") or []
    val = history.get("val_accuracy") or []
    layout = _base_layout("Accuracy", "accuracy %", None if train else "Accuracy appears here for classification")
    if not train:
        return {"data": [], "layout": layout}
    layout["yaxis"].update(range=[0, 101], rangemode="normal")
    first = int(history.get("first_epoch", 1))
    data = [_line(list(range(first, first + len(train))), [100 * a for a in train], "training", TRAIN_COLOR,
                  "%{y:.1f}%")]
    if val:
        data.append(_line(list(range(first, first + len(val))), [100 * a for a in val], "validation", VAL_COLOR,
                          "%{y:.1f}%"))
    return {"data": data, "layout": layout}


def layout() -> html.Div:
    config = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}
    return html.Div([
        html.Div(dcc.Graph(id=LOSS_GRAPH, figure=loss_figure(None), config=config), className="chart"),
        html.Div(dcc.Graph(id=ACCURACY_GRAPH, figure=accuracy_figure(None), config=config), id=ACCURACY_WRAP,
                 className="chart"),
    ], className="charts")


def charts_live(version: Optional[dict], live: Optional[dict]) -> Optional[dict]:
    """The live dict to draw: the page's own, or - when it says ``charts: FROM_RUN_CACHE``
    (a training run's progress, which leaves its growing history out) - the run's
    latest live state in the run cache (``components.runs.get_live``)."""
    if live and live.get("charts") == FROM_RUN_CACHE and version and version.get("session"):
        runs = importlib.import_module("components.runs")
        stored = runs.get_live(version["session"])
        if stored is not None:
            return stored
    return live


def register(live_store: str, trigger: str) -> None:
    """Redraw both charts whenever the ``trigger`` store changes (the panels' snapshot
    version: the charts keep the panels' pace, not the job's)."""
    @dash.callback(Output(LOSS_GRAPH, "figure"), Output(ACCURACY_GRAPH, "figure"), Input(trigger, "data"),
                   State(live_store, "data"), prevent_initial_call=True)
    def draw_charts(version, live):
        live = charts_live(version, live)
        return loss_figure(live), accuracy_figure(live)
