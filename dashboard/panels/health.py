"""The Training health panel: per layer, live, the statistics that tell a healthy run
from a sick one (``engine.health``: gradient norm, update:data ratio, activation mean
and spread, dead ReLU units, saturated tanh/sigmoid units, near-zero activations) as
small charts over the run (``viz.health``), and plain-words alerts beside them - each
with its evidence, a suggestion, and the rule and threshold that raised it.

The statistics are kept with every step of the run's timeline (``dashboard.timeline``)
on a fixed probe batch; this panel redraws them for every new snapshot version.
"""
from __future__ import annotations

from typing import Any, Optional

import dash
from dash import Input, Output, State, dcc, html

from engine import health
from viz import health as figures
from viz.snapshots import layer_label

from .. import ids, store
from .common import GRAPH_CONFIG, HIDDEN, NO_MODEL, VISIBLE, same

GRAPH = "health-graph"
ALERTS = "health-alerts"
NOTE = "health-note"
BODY = "health-body"
HEALTHY = "No alert: gradients, updates and activations are within every rule's threshold."


def layout() -> html.Section:
    return html.Section(className="card panel health-panel", **{"data-panel": "health"}, children=[
        html.Div(className="panel-header", children=[
            html.H3("Training health", className="panel-title"),
            html.Span("per layer, on a fixed probe batch of training samples, at every kept step",
                      className="panel-hint")]),
        html.Div(NO_MODEL, id=NOTE, className="panel-note"),
        html.Div(id=BODY, className="panel-body health-body", style=HIDDEN, children=[
            html.Div(id=ALERTS, className="health-alerts", role="status"),
            dcc.Graph(id=GRAPH, figure={"data": [], "layout": {"height": 420}}, config=GRAPH_CONFIG),
        ]),
    ])


def model_info(snapshot: dict) -> dict[str, Any]:
    """What the alerts word their messages with (``engine.health.describe_model``'s form),
    from the snapshot: the layers' names, initialisers, activations and sizes."""
    spec = snapshot.get("spec") or {}
    layers = snapshot["layers"]
    return {"layer_names": [f"Layer {k + 1}" for k in range(len(layers))],
            "inits": [(layer.get("config") or {}).get("init") for layer in layers],
            "activations": [(layer.get("config") or {}).get("activation") for layer in layers],
            "units": [int(layer["output_shape"][-1]) if layer.get("output_shape") else None for layer in layers],
            "learning_rate": (spec.get("training") or {}).get("learning_rate"),
            "optimizer": (spec.get("model") or {}).get("optimizer")}


def run_alerts(session_id: str, snapshot: Optional[dict]) -> list[dict]:
    """The alerts of the tab's run (empty when it kept no health yet)."""
    timeline = store.get_timeline(session_id) if snapshot else None
    series = (timeline or {}).get("health") or []
    return health.alerts(series, model_info(snapshot)) if series else []


def _alert(alert: dict) -> html.Div:
    return html.Div(className=alert["class_name"], children=[
        html.Strong(alert["title"]),
        html.Div(alert["evidence"], className="health-evidence"),
        html.Div(alert["suggestion"], className="health-suggestion"),
        html.Div(f"Rule {alert['rule']}: {alert['threshold']}", className="health-rule"),
    ])


def refresh_health(version: Optional[dict], note_now: Any = None):
    snapshot = store.snapshot_for(version)
    timeline = store.get_timeline(version["session"]) if snapshot else None
    series = (timeline or {}).get("health") or []
    if not series:
        return dash.no_update, dash.no_update, same(NO_MODEL if snapshot is None else
                                                    "Health appears once the run keeps its first step.",
                                                    note_now), VISIBLE, HIDDEN
    titles = [layer_label(snapshot, k) for k in range(len(snapshot["layers"]))]
    found = figures.alerts_markup(health.alerts(series, model_info(snapshot)))
    alerts = [_alert(a) for a in found] or [html.Div(HEALTHY, className="health-ok")]
    return figures.health_figure(series, titles), alerts, same("", note_now), HIDDEN, VISIBLE


dash.callback(
    Output(GRAPH, "figure"), Output(ALERTS, "children"), Output(NOTE, "children"), Output(NOTE, "style"),
    Output(BODY, "style"),
    Input(ids.panel_version("health"), "data"), State(NOTE, "children"),
)(refresh_health)
