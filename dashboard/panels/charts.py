"""The live loss and accuracy charts (figures: ``viz.charts``).

A training job keeps the run's live state - history and batch trace included - in
the run cache (``store.put_live``) and sends the page (the training panel's
``LIVE`` store) only its progress, marked ``"charts": jobs.FROM_RUN_CACHE``: the
history grows with the run and only the charts need it. Other live states (a loaded
model, Reset) carry their own. The charts redraw when the panels' snapshot version
changes (:func:`register`), at the panels' pace, not the job's.
"""
from __future__ import annotations

from typing import Optional

import dash
from dash import Input, Output, State, dcc, html

from viz.charts import accuracy_figure, loss_figure

from .. import jobs, store

LOSS_GRAPH = "loss-graph"
ACCURACY_GRAPH = "accuracy-graph"
ACCURACY_WRAP = "accuracy-wrap"
GRAPH_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}


def layout() -> html.Div:
    return html.Div([
        html.Div(dcc.Graph(id=LOSS_GRAPH, figure=loss_figure(None), config=GRAPH_CONFIG), className="chart"),
        html.Div(dcc.Graph(id=ACCURACY_GRAPH, figure=accuracy_figure(None), config=GRAPH_CONFIG), id=ACCURACY_WRAP,
                 className="chart"),
    ], className="charts", **{"data-panel": "charts"})


def charts_live(version: Optional[dict], live: Optional[dict]) -> Optional[dict]:
    """The live dict to draw: the page's own, or - when it says ``charts: FROM_RUN_CACHE`` -
    the run's latest live state in the run cache."""
    if live and live.get("charts") == jobs.FROM_RUN_CACHE and version and version.get("session"):
        stored = store.get_live(version["session"])
        if stored is not None:
            return stored
    return live


def register(live_store: str, trigger: str) -> None:
    """Redraw both charts whenever the ``trigger`` store changes (the panels' snapshot
    version)."""
    @dash.callback(Output(LOSS_GRAPH, "figure"), Output(ACCURACY_GRAPH, "figure"), Input(trigger, "data"),
                   State(live_store, "data"), prevent_initial_call=True)
    def draw_charts(version, live):
        live = charts_live(version, live)
        return loss_figure(live), accuracy_figure(live)
