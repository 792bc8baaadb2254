"""The decision-regions panel: what the network predicts over its input space, live.

For a data set of 2 features (moons, circles, xor, spiral, blobs, a 2-column CSV)
the panel shows the predicted class on an 80 x 80 grid over the plane (a colour
per class, paler where the network is less sure) under the training points
(filled) and validation points (hollow); for 1 feature and a regression target
(``sine``) the fitted curve over the points; for more features a short note.

Where things come from:

* the network: the latest snapshot in the run cache (``store.snapshot_for``),
  rebuilt and run by ``viz.regions.decision_regions_figure``;
* the points and the standardiser: the run's probe (``store.get_probe``, written by
  the training job at the start of a run: ``dashboard.data.prepare`` makes it with
  the same split and the same fitted ``Standardizer`` training uses), so the grid is
  mapped into the model's inputs exactly as the training data were, and the axes are
  in original units.

Refreshed on every new snapshot (``ids.panel_version("regions")``); the whole callback
takes a few milliseconds for the dashboard's small nets.
"""
from __future__ import annotations

from typing import Any, Optional

import dash
from dash import Input, Output, State, dcc, html

from viz import evaluation as evaluation_figures
from viz import regions as figure_builders
from viz.snapshots import task_of

from .. import ids, store
from .common import same

GRAPH = "regions-graph"
GRAPH_WRAP = "regions-graph-wrap"
NOTE = "regions-note"
CAPTION = "regions-caption"

GRID = figure_builders.REGION_GRID
GRAPH_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d", "autoScale2d"]}

CAPTION_CLASSES = ("Predicted class over the input plane: a colour per class, paler where the network is "
                   "less sure. Points: training (filled) and validation (hollow). Axes in the data's units.")
CAPTION_VALUES = ("Predicted value over the input plane (colour scale on the right). Points coloured by their "
                  "target: training (filled) and validation (hollow). Axes in the data's units.")
CAPTION_CURVE = ("The network's fitted curve (black) over the data. Points: training (filled) and "
                 "validation (hollow). Axes in the data's units.")
CAPTION_IDLE = "What the network predicts over its inputs, for data sets with 1 or 2 input features."
NO_POINTS = ("Train on this data set to see its points and regions here (a loaded model shows them "
             "once Train continues it).")


def layout() -> html.Section:
    return html.Section(className="regions-panel", **{"data-panel": "regions"}, children=[
        html.Div(className="regions-header", children=[
            html.H3("Decision regions", className="regions-title"),
            html.Span(CAPTION_IDLE, id=CAPTION, className="regions-caption"),
        ]),
        html.Div(id=NOTE, className="regions-note", role="note",
                 children="No model yet: build a network and start training to see what it predicts."),
        html.Div(id=GRAPH_WRAP, className="regions-graph", style={"display": "none"}, children=[
            dcc.Graph(id=GRAPH, figure={"data": [], "layout": {"height": 460}}, config=GRAPH_CONFIG),
        ]),
    ])


def _caption(snapshot: dict) -> str:
    task = (snapshot.get("dataset") or {}).get("task") or task_of(snapshot)
    if int(snapshot["input_shape"][0]) == 1:
        return CAPTION_CURVE
    return CAPTION_CLASSES if task == "classification" else CAPTION_VALUES


def regions_view(snapshot: Optional[dict], points: Optional[dict]) -> tuple[Optional[dict], Optional[str], str]:
    """(figure or None, note or None, caption) for a snapshot and the run's points."""
    note = figure_builders.regions_note(snapshot)
    if note:
        return None, note, CAPTION_IDLE
    name = (snapshot.get("dataset") or {}).get("name")
    n_in = int(snapshot["input_shape"][0])
    if (points is None or (name and points.get("name") != name)
            or int(points["X_train"].reshape(len(points["X_train"]), -1).shape[1]) != n_in):
        return None, NO_POINTS, _caption(snapshot)
    fig = figure_builders.decision_regions_figure(snapshot, points["X_train"], points["y_train"], points.get("X_val"),
                                          points.get("y_val"), grid=GRID, standardizer=points["standardizer"])
    epochs = snapshot.get("epochs_trained")
    if epochs is not None:
        fig["layout"]["title"]["text"] += f" <span style='font-size:12px;color:#64748b'>· after {epochs} " \
                                          f"epoch{'' if epochs == 1 else 's'}</span>"
    return fig, None, _caption(snapshot)


def ring_misclassified(fig: dict, points: dict, found: Optional[dict]) -> None:
    """Ring the validation points the model gets wrong (the run's latest evaluation)."""
    X_val = points.get("X_val") if points else None
    if not found or X_val is None or len(X_val) != len(found["y_true"]) or X_val.shape[1] != 2:
        return
    if (found["y_true"] != found["y_pred"]).any():
        fig["data"].append(evaluation_figures.misclassified_points_trace(
            X_val, found["y_true"], found["y_pred"], found.get("class_names")))


def refresh_regions(version: Optional[dict], note_now: Any = None, caption_now: Any = None,
                    style_now: Any = None) -> tuple[Any, Any, Any, Any]:
    """Figure, note, caption and the graph's style for the latest snapshot (what the
    page already shows is not sent again)."""
    snapshot = store.snapshot_for(version)
    probe = store.get_probe(version["session"]) if snapshot else None
    points = {**probe["points"], "name": probe["name"]} if probe and "points" in probe else None
    fig, note, caption = regions_view(snapshot, points)
    if fig is not None:
        ring_misclassified(fig, points, store.get_evaluation(version["session"]))
    style = {"display": "none"} if fig is None else {"display": "block"}
    return (dash.no_update if fig is None else fig, same(note, note_now), same(caption, caption_now),
            same(style, style_now))


dash.callback(
    Output(GRAPH, "figure"), Output(NOTE, "children"), Output(CAPTION, "children"), Output(GRAPH_WRAP, "style"),
    Input(ids.panel_version("regions"), "data"), State(NOTE, "children"), State(CAPTION, "children"),
    State(GRAPH_WRAP, "style"),
)(refresh_regions)
