"""The architecture panel: the network's layers as a chain (``viz.architecture``);
clicking a layer chooses it (``ids.SELECTED_LAYER``) for the panels below."""
from __future__ import annotations

from typing import Any, Optional

import dash
import dash_cytoscape as cyto
from dash import ClientsideFunction, Input, Output, State, dcc, html

from viz.architecture import ROW_LENGTH, architecture_elements, architecture_stylesheet, architecture_summary

from .. import ids, store
from .common import same

GRAPH = "architecture-graph"
SUMMARY = "architecture-summary"
NO_MODEL = "No model yet: build a network and press Train (or load a model) to see its layers here."


def layout() -> html.Section:
    return html.Section(className="card panel arch-panel", **{"data-panel": "architecture"}, children=[
        html.Div(className="panel-header", children=[
            html.H3("Architecture", className="panel-title"),
            html.Span("each layer with its output shape and parameters · click a layer to inspect it below",
                      className="panel-hint"),
        ]),
        dcc.Store(id=ids.SELECTED_LAYER, data=None),
        cyto.Cytoscape(id=GRAPH, elements=[], stylesheet=architecture_stylesheet(),
                       layout={"name": "preset", "fit": True, "padding": 16}, autoRefreshLayout=False,
                       userZoomingEnabled=False, userPanningEnabled=False, boxSelectionEnabled=False,
                       autoungrabify=True, style={"width": "100%", "height": "150px"}, className="arch-canvas"),
        html.Div(NO_MODEL, id=SUMMARY, className="panel-note"),
    ])


def refresh_architecture(version: Optional[dict], chosen: Optional[int], current_layout: Optional[dict],
                         current_elements: Optional[list] = None, current_summary: Any = None):
    """Elements, summary line, layout and size; each sent only when it changed (a run
    changes none of them, a new stack or a new choice does)."""
    snapshot = store.snapshot_for(version)
    if snapshot is None:
        return same([], current_elements), same(NO_MODEL, current_summary), dash.no_update, dash.no_update
    elements = architecture_elements(snapshot, chosen if isinstance(chosen, int) else None)
    graph_layout = {"name": "preset", "fit": True, "padding": 16, "n": len(snapshot["layers"])}
    rows = -(-(len(snapshot["layers"]) + 1) // ROW_LENGTH)
    summary = architecture_summary(snapshot)
    if isinstance(chosen, int) and 0 <= chosen < len(snapshot["layers"]):
        summary += f" · layer {chosen + 1} chosen"
    return (same(elements, current_elements), same(summary, current_summary), same(graph_layout, current_layout),
            {"width": "100%", "height": f"{50 + 70 * rows}px"} if graph_layout != current_layout else dash.no_update)


dash.callback(
    Output(GRAPH, "elements"), Output(SUMMARY, "children"), Output(GRAPH, "layout"), Output(GRAPH, "style"),
    Input(ids.panel_version("architecture"), "data"), Input(ids.SELECTED_LAYER, "data"),
    State(GRAPH, "layout"), State(GRAPH, "elements"), State(SUMMARY, "children"),
)(refresh_architecture)

# A tap on a layer chooses it; on the input node, clears the choice.
dash.clientside_callback(
    ClientsideFunction("backprop", "chooseLayer"),
    Output(ids.SELECTED_LAYER, "data"), Input(GRAPH, "tapNodeData"), prevent_initial_call=True,
)
