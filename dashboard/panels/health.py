"""The Training health panel: per layer, live, the statistics that tell a healthy run
from a sick one (``engine.health``: gradient norm, update:data ratio, activation mean
and spread, dead ReLU units, saturated tanh/sigmoid units, near-zero activations) as
small charts over the run (``viz.health``), and plain-words alerts beside them - each
with its evidence, a suggestion, and the rule and threshold that raised it.

The statistics are kept with every step of the run's timeline (``dashboard.timeline``)
on a fixed probe batch, and the training job words the alerts (``engine.health.alerts``)
each time it stores the timeline; this panel redraws both for every new snapshot version.
"""
from __future__ import annotations

from typing import Any, Optional

import dash
from dash import Input, Output, State, dcc, html

from viz import health as figures
from viz.snapshots import layer_label

from .. import ids, store
from .common import GRAPH_CONFIG, HIDDEN, NO_MODEL, VISIBLE, panel, same

GRAPH = "health-graph"
ALERTS = "health-alerts"
NOTE = "health-note"
BODY = "health-body"
HEALTHY = "No alert: gradients, updates and activations are within every rule's threshold."


def layout() -> html.Section:
    return panel(
        "health", "Training health", "per layer, on a fixed probe batch of training samples, at every kept step",
        NOTE, BODY,
        html.Div(id=ALERTS, className="health-alerts", role="status"),
        dcc.Graph(id=GRAPH, figure={"data": [], "layout": {"height": 420}}, config=GRAPH_CONFIG),
        extra_class="health-panel")


def run_alerts(session_id: str, snapshot: Optional[dict]) -> list[dict]:
    """The alerts of the tab's run, as the training job last worded them (empty when it
    kept no health yet)."""
    timeline = store.get_timeline(session_id) if snapshot else None
    return (timeline or {}).get("alerts") or []


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
    found = figures.alerts_markup(timeline.get("alerts") or [])
    alerts = [_alert(a) for a in found] or [html.Div(HEALTHY, className="health-ok")]
    return figures.health_figure(series, titles), alerts, same("", note_now), HIDDEN, VISIBLE


dash.callback(
    Output(GRAPH, "figure"), Output(ALERTS, "children"), Output(NOTE, "children"), Output(NOTE, "style"),
    Output(BODY, "style"),
    Input(ids.panel_version("health"), "data"), State(NOTE, "children"),
)(refresh_health)
