"""The network panel: a Cytoscape graph of the live model's dense part (``viz.network``:
every Dense layer on flat inputs at the end of the stack), what it shows, the choice
of neurons per layer and a neuron detail panel.

Conventions (for other panels and for browser tests):

* The graph is the ``dash_cytoscape.Cytoscape`` with id ``GRAPH``; its element
  ids follow ``viz.network`` (edge ``w{p}-{i}-{j}``: ``W[i, j]`` of layer p,
  bias edge ``b{p}-{j}``, neuron ``n{p}-{i}``; p = 0 is the input column).
* Clicking an edge toggles its label ("w = ...\\ndL/dw = ..." of the latest batch)
  in the browser, with no server round trip: ``assets/graph.js`` toggles the
  class ``viz.network.LABELLED_CLASS`` on the edge, and puts it back on an
  edge that returns after a refresh. Labels follow each refresh (they read
  ``data(label)``). The labelled ids are mirrored in the store ``LABELLED_EDGES``.
* ``EDGE_LABEL_READOUT`` (a hidden ``html.Pre``) holds, as JSON, the last edge
  toggled: ``{"id", "shown", "label", "w", "dw", "labelled": [ids]}``.
* ``assets/graph.js`` also defines ``window.backpropGraph.edgePoint(edgeId)``:
  page coordinates where a mouse click hits that edge (for tests).
"""
from __future__ import annotations

import json
import re
from typing import Any, Optional

import dash
import dash_cytoscape as cyto
from dash import ClientsideFunction, Input, Output, State, dcc, html

from viz import network as graph
from viz import trace as trace_viz

from .. import ids, store
from . import trace as trace_panel
from .health import run_alerts

GRAPH = "network-graph"
SUMMARY = "network-graph-summary"
LAYER_SELECT = "network-graph-layer"
NEURON_INDICES = "network-graph-neuron-indices"
SHOW_INDICES = "network-graph-show-indices"
STRONGEST_K = "network-graph-strongest-k"
SHOW_STRONGEST = "network-graph-show-strongest"
RESET_NEURONS = "network-graph-reset-neurons"
EDGES_PER_PAIR = "network-graph-edges-per-pair"
CHOICE_MESSAGE = "network-graph-choice-message"
NEURON_CHOICE = "network-graph-neuron-choice"
LABELLED_EDGES = "network-graph-labelled-edges"
EDGE_LABEL_READOUT = "edge-label-readout"
NEURON_PANEL = "network-graph-neuron-panel"
# Pause/Resume and Step beside the graph, so that a person stepping can watch it
# (dashboard.panels.training handles them as its own Pause and Step).
GRAPH_PAUSE = "network-graph-pause"
GRAPH_STEP = "network-graph-step"

EDGE_LABEL_FIELD = "label"
GRAPH_HEIGHT = 520
TOP_INCOMING = 10
NO_MODEL = "No model yet: build a network and start training to see it here."


# -- layout ----------------------------------------------------------------------
def layout() -> html.Div:
    return html.Section(className="graph-panel", **{"data-panel": "network"}, children=[
        html.Div(className="graph-header", children=[
            html.H3("Network", className="graph-title"),
            html.Div(className="graph-run-controls", children=[
                html.Button("Pause", id=GRAPH_PAUSE, n_clicks=0, className="btn btn-ghost btn-small", disabled=True,
                            title="Halt the run after its current batch (Resume goes on)"),
                html.Button("Step", id=GRAPH_STEP, n_clicks=0, className="btn btn-ghost btn-small",
                            title="Train one batch, then halt"),
            ]),
            html.Div(className="graph-legend", children=[
                html.Span(className="graph-swatch graph-swatch-pos"), "positive w",
                html.Span(className="graph-swatch graph-swatch-neg"), "negative w",
                html.Span(className="graph-swatch graph-swatch-bias"), "bias",
                html.Span("width ∝ |w| within each layer pair · click an edge for w and dL/dw, "
                          "a neuron for its details", className="graph-hint"),
            ]),
        ]),
        html.Div(className="graph-body", children=[
            cyto.Cytoscape(
                id=GRAPH, className="graph-canvas", elements=[], stylesheet=graph.graph_stylesheet() + trace_viz.trace_stylesheet(),
                layout={"name": "preset", "fit": True, "padding": 24}, autoRefreshLayout=False,
                minZoom=0.1, maxZoom=4, boxSelectionEnabled=False, responsive=True,
                style={"width": "100%", "height": f"{GRAPH_HEIGHT}px"},
            ),
            html.Aside(id=NEURON_PANEL, className="graph-neuron-panel",
                       children=html.P("Click a neuron to see its bias, gradient and incoming weights.",
                                       className="graph-muted")),
        ]),
        html.Ul(id=SUMMARY, className="graph-summary", children=[html.Li(NO_MODEL)]),
        html.Div(className="graph-controls", children=[
            html.Label(["Layer", dcc.Dropdown(id=LAYER_SELECT, options=[], value=None, clearable=False,
                                              placeholder="layer", className="graph-layer-select")]),
            html.Label(["Neurons", dcc.Input(id=NEURON_INDICES, type="text", placeholder="e.g. 0-9, 42",
                                             debounce=True, className="graph-input")]),
            html.Button("Show these", id=SHOW_INDICES, n_clicks=0, className="graph-button"),
            html.Label(["Strongest", dcc.Input(id=STRONGEST_K, type="number", min=1,
                                               max=graph.MAX_NEURONS_PER_LAYER, step=1,
                                               value=graph.DEFAULT_NEURONS_PER_LAYER,
                                               className="graph-input graph-input-number")]),
            html.Button("Show strongest", id=SHOW_STRONGEST, n_clicks=0, className="graph-button"),
            html.Button("Reset all layers", id=RESET_NEURONS, n_clicks=0,
                        className="graph-button graph-button-quiet"),
            html.Label(["Edges per layer pair", dcc.Input(id=EDGES_PER_PAIR, type="number", min=0, max=5000,
                                                          step=1, value=graph.DEFAULT_EDGES_PER_PAIR,
                                                          debounce=True,
                                                          className="graph-input graph-input-number")]),
            html.Span(id=CHOICE_MESSAGE, className="graph-message"),
        ]),
        dcc.Store(id=NEURON_CHOICE, data={}),
        dcc.Store(id=LABELLED_EDGES, data=[]),
        html.Pre(id=EDGE_LABEL_READOUT, className="graph-readout", children="{}"),
    ])


# -- server callbacks ------------------------------------------------------------------
def _layer_options(snapshot: dict) -> list[dict]:
    return [{"label": f"{c['title']} ({c['size']:,})", "value": c["position"]} for c in graph.columns(snapshot)]


def refresh_graph(version: Optional[dict], choice: Optional[dict], edges_per_pair: Any,
                  current_layout: Optional[dict] = None, current_options: Optional[list] = None,
                  labelled: Optional[list] = None, step: Optional[dict] = None, trace: Optional[dict] = None):
    """Elements, summary, layer options, layout and the pinned neuron choice for
    the latest snapshot.

    The neurons shown are pinned in the ``NEURON_CHOICE`` store the first time
    they are picked (``{"sizes": column sizes, "layers": {"p": [indices]}}``), so
    the graph does not reshuffle while training changes which neurons are the
    most important; a model of other sizes, or "Reset all layers", picks afresh.

    The layout is sent only when it differs from ``current_layout`` (the graph's):
    Cytoscape re-runs (and re-fits) it whenever it receives one, which would cost a
    relayout per refresh and undo the user's zoom and pan. The layer options, too,
    only when they differ from ``current_options``. Edges the user labelled
    (``labelled``, the ``LABELLED_EDGES`` store) keep their label class. With ``step``
    (the Step slider's ``ids.STEP``) the graph is the model at that step of the run.
    """
    snapshot = store.snapshot_for(version, step)
    if snapshot is None:
        return [], [html.Li(NO_MODEL)], [], dash.no_update, dash.no_update
    note = graph.dense_part_note(snapshot)
    if note:
        return [], [html.Li(note)], [], dash.no_update, dash.no_update
    edges = int(edges_per_pair) if isinstance(edges_per_pair, (int, float)) and edges_per_pair >= 0 \
        else graph.DEFAULT_EDGES_PER_PAIR
    sizes = _column_sizes(snapshot)
    try:
        view = graph.graph_view(snapshot, max_edges_per_pair=edges, neurons=_valid_choice(sizes, choice))
    except ValueError as exc:
        return [], [html.Li(str(exc))], _layer_options(snapshot), dash.no_update, dash.no_update
    pinned = {"sizes": sizes, "layers": {str(p): idx for p, idx in view["shown"].items()}}
    # The layout re-runs (and re-fits) only when the set of shown neurons changes.
    key = json.dumps(view["shown"], sort_keys=True)
    graph_layout = {"name": "preset", "fit": True, "padding": 24, "shown": key}
    options = _layer_options(snapshot)
    keep = set(labelled or ())
    for element in view["elements"]:
        if element["data"]["id"] in keep:
            element["classes"] += " " + graph.LABELLED_CLASS
    summary = [html.Li(s) for s in view["summary"]]
    try:
        found = trace_panel.traced(version, step, trace)
    except ValueError:
        found = None          # the trace panel says why
    if found is not None:
        mode = trace.get("mode", "forward")
        view["elements"] = trace_panel.traced_elements(view["elements"], found, mode)
        what = trace_panel.SHOWN[trace_panel.shown_mode(found, mode)]
        summary.insert(0, html.Li(f"Tracing {found['name']}: {what}.", className="graph-traced"))
    summary[:0] = [html.Li(f"⚠ {alert['title']} (Training health)", className="graph-alert")
                   for alert in run_alerts(version["session"], snapshot)]
    if snapshot.get("step") is not None:
        summary.insert(0, html.Li(f"The model at step {snapshot['step']:,} of the run (the Step slider in Over "
                                  f"time; Live follows the run again).", className="graph-scrubbed"))
    return (view["elements"], summary,
            options if options != current_options else dash.no_update,
            graph_layout if graph_layout != current_layout else dash.no_update,
            pinned if pinned != choice else dash.no_update)


def _column_sizes(snapshot: dict) -> list[int]:
    return [c["size"] for c in graph.columns(snapshot)]


def _valid_choice(sizes: list[int], choice: Optional[dict]) -> dict[int, Any]:
    """The stored choice when it was made for a model of these sizes, minus bad entries."""
    if not choice or choice.get("sizes") != sizes:
        return {}
    out = {}
    for key, value in choice.get("layers", {}).items():
        p = int(key)
        if not 0 <= p < len(sizes):
            continue
        if isinstance(value, list):
            value = [i for i in value if isinstance(i, int) and 0 <= i < sizes[p]]
            if not value:
                continue
        out[p] = value
    return out


_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+))?\s*$")


def parse_indices(text: str, size: int) -> list[int]:
    """``"0-9, 42"`` -> ``[0, ..., 9, 42]``; ValueError with a readable message."""
    out: set[int] = set()
    for part in (text or "").split(","):
        if not part.strip():
            continue
        m = _RANGE.match(part)
        if not m:
            raise ValueError(f"“{part.strip()}” is not an index or a range like 0-9")
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) is not None else lo
        if lo > hi:
            lo, hi = hi, lo
        if hi >= size:
            raise ValueError(f"this layer has neurons 0 to {size - 1}; {hi} is out of range")
        if hi - lo >= graph.MAX_NEURONS_PER_LAYER:
            raise ValueError(f"at most {graph.MAX_NEURONS_PER_LAYER} neurons per layer")
        out.update(range(lo, hi + 1))
    if not out:
        raise ValueError("type neuron indices, e.g. 0-9, 42")
    if len(out) > graph.MAX_NEURONS_PER_LAYER:
        raise ValueError(f"at most {graph.MAX_NEURONS_PER_LAYER} neurons per layer")
    return sorted(out)


def update_choice(_indices_clicks, _strongest_clicks, _reset_clicks, _submit, layer, text, k,
                  choice, version):
    """The user's choice of neurons for one layer: indices, the strongest k, or reset."""
    return apply_choice(dash.ctx.triggered_id, layer, text, k, choice, version)


def apply_choice(trigger: str, layer: Optional[int], text: Optional[str], k: Any,
                 choice: Optional[dict], version: Optional[dict]):
    """The new neuron choice and a message, after the button ``trigger`` was pressed."""
    if trigger == RESET_NEURONS:
        return {}, ""
    if layer is None:
        return dash.no_update, "Choose a layer first."
    snapshot = store.snapshot_for(version)
    if snapshot is None:
        return dash.no_update, "No model yet."
    sizes = _column_sizes(snapshot)
    if not 0 <= layer < len(sizes):
        return dash.no_update, "That layer no longer exists."
    layers = {str(p): v for p, v in _valid_choice(sizes, choice).items()}
    if trigger == SHOW_STRONGEST:
        if not isinstance(k, (int, float)) or k < 1 or k != int(k):
            return dash.no_update, f"Strongest: a whole number from 1 to {graph.MAX_NEURONS_PER_LAYER}."
        layers[str(layer)] = min(int(k), graph.MAX_NEURONS_PER_LAYER)
    else:
        try:
            layers[str(layer)] = parse_indices(text, sizes[layer])
        except ValueError as exc:
            return dash.no_update, str(exc)
    return {"sizes": sizes, "layers": layers}, ""


def _fmt(x: Optional[float]) -> str:
    return "–" if x is None else f"{x:.4g}"


def neuron_panel(tap: Optional[dict], version: Optional[dict], step: Optional[dict] = None):
    """The detail panel of the last clicked neuron, refreshed with every snapshot."""
    if not tap or "layer_position" not in tap:
        return dash.no_update
    if tap.get("kind") == "bias":
        return html.P(f"The bias node feeds Layer {tap['layer_position']}: a constant 1 whose weights are "
                      "the biases. Click a neuron to see its own.", className="graph-muted")
    snapshot = store.snapshot_for(version, step)
    if snapshot is None:
        return html.P(NO_MODEL, className="graph-muted")
    try:
        d = graph.neuron_details(snapshot, int(tap["layer_position"]), int(tap["index"]))
    except ValueError:
        return html.P("That neuron is no longer in the model.", className="graph-muted")
    p = d["layer_position"]
    name = d["title"]
    rows = [("neuron", f"{d['index']}")] + ([("name", d["name"])] if d["name"] else [])
    if p > 0:
        rows += [("activation", d["activation"] or "–"), ("bias b", _fmt(d["bias"])),
                 ("dL/db", _fmt(d["bias_grad"]))]
        if "gain" in d:
            rows += [("RMSNorm gain", _fmt(d["gain"])), ("dL/dgain", _fmt(d.get("gain_grad")))]
    children = [html.H4(name, className="graph-panel-title"),
                html.Table(className="graph-kv", children=[html.Tr([html.Th(k), html.Td(v)]) for k, v in rows])]
    if d["incoming_w"] is not None:
        w, dw = d["incoming_w"], d["incoming_dw"] or [None] * len(d["incoming_w"])
        order = sorted(range(len(w)), key=lambda i: -abs(w[i]))[:TOP_INCOMING]
        children += [
            html.H5(f"Incoming weights ({len(w):,})" if len(order) == len(w) else
                    f"Incoming weights: strongest {len(order)} of {len(w):,}", className="graph-panel-sub"),
            html.Table(className="graph-weights", children=[
                html.Thead(html.Tr([html.Th("from"), html.Th("w"), html.Th("dL/dw")])),
                html.Tbody([html.Tr([html.Td(str(i)), html.Td(_fmt(w[i]), className=_sign_class(w[i])),
                                     html.Td(_fmt(dw[i]))]) for i in order]),
            ]),
        ]
    elif d["outgoing_w"] is not None:
        w = d["outgoing_w"]
        children.append(html.P(f"An input: no bias or activation. It feeds {len(w):,} neurons of Layer 1 "
                               f"(largest |w| {max(abs(x) for x in w):.4g}).", className="graph-muted"))
    return children


def _sign_class(x: float) -> str:
    return "graph-pos" if x > 0 else "graph-neg" if x < 0 else ""


dash.callback(
    Output(GRAPH, "elements"), Output(SUMMARY, "children"), Output(LAYER_SELECT, "options"),
    Output(GRAPH, "layout"), Output(NEURON_CHOICE, "data"),
    Input(ids.panel_version("network"), "data"), Input(NEURON_CHOICE, "data"), Input(EDGES_PER_PAIR, "value"),
    State(GRAPH, "layout"), State(LAYER_SELECT, "options"), State(LABELLED_EDGES, "data"),
    Input(ids.STEP, "data"), Input(ids.TRACE, "data"),
)(refresh_graph)

dash.callback(
    Output(NEURON_CHOICE, "data", allow_duplicate=True), Output(CHOICE_MESSAGE, "children"),
    Input(SHOW_INDICES, "n_clicks"), Input(SHOW_STRONGEST, "n_clicks"), Input(RESET_NEURONS, "n_clicks"),
    Input(NEURON_INDICES, "n_submit"),
    State(LAYER_SELECT, "value"), State(NEURON_INDICES, "value"), State(STRONGEST_K, "value"),
    State(NEURON_CHOICE, "data"), State(ids.panel_version("network"), "data"),
    prevent_initial_call=True,
)(update_choice)

dash.callback(
    Output(NEURON_PANEL, "children"),
    Input(GRAPH, "tapNodeData"), Input(ids.panel_version("network"), "data"), Input(ids.STEP, "data"),
)(neuron_panel)

# The label itself is toggled by assets/graph.js (a Cytoscape tap listener adds or
# removes the class graph.LABELLED_CLASS: no server round trip, no restyle of the
# whole graph). This callback, also in the browser, mirrors the result into the
# LABELLED_EDGES store and the EDGE_LABEL_READOUT. Only the tap is an Input: a
# callback that also listened to the elements would wait for every refresh.
dash.clientside_callback(
    ClientsideFunction("backprop", "edgeReadout"),
    Output(LABELLED_EDGES, "data"), Output(EDGE_LABEL_READOUT, "children"),
    Input(GRAPH, "tapEdgeData"),
    prevent_initial_call=True,
)
