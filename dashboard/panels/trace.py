"""Trace one sample: push one sample through the tab's model and read every forward value
and every gradient for it, on the network graph (``viz.trace``), in a readout of the
loss and its formula, and - for a network of at most ``engine.scalar.DEFAULT_MAX_PARAMS``
weights and biases - in a computation graph of every scalar operation (``viz.compgraph``).

The sample is chosen by its number among the validation samples the panels draw (the
run's probe), or by clicking a point on the decision regions (training or validation).
The choice lives in the store ``ids.TRACE``: ``{"session", "split": "val"|"train",
"index", "mode": "forward"|"backward"|"step"}``, or None (no trace). The network panel
reads it too and labels its graph (``traced_elements``).

The values come from the engine itself: ``engine.trace.trace_sample`` on a model built
from the snapshot the page shows (``viz.snapshots.model_from_snapshot``), so a traced
graph during a run is the model of that snapshot, and with the Step slider of "Over
time", the model at that step. The step view shows the last single Step of a halted run
(``store.get_step``): each weight before and after it, and ``−lr·dL/dw``.
"""
from __future__ import annotations

from typing import Any, Optional

import dash
import dash_cytoscape as cyto
import numpy as np
from dash import Input, Output, State, dcc, html, no_update
from dash.exceptions import PreventUpdate

from engine import scalar
from engine.datasets import Standardizer
from engine.trace import trace_sample
from viz import compgraph, trace as trace_viz
from viz.snapshots import model_from_snapshot
from viz.style import fmt

from .. import ids, store
from . import regions

SAMPLE = "trace-sample-index"
TRACE_BUTTON = "trace-button"
CLEAR = "trace-clear"
MODE = "trace-mode"
MESSAGE = "trace-message"
READOUT = "trace-readout"
COMPUTE_GRAPH = "compute-graph"
COMPUTE_NOTE = "compute-graph-note"
COMPUTE_WRAP = "compute-graph-wrap"
COMPUTE_CANVAS = "compute-graph-canvas"

MODES = [{"label": "Forward: z, a, w·a", "value": "forward"},
         {"label": "Backward: dL/da, dL/dz, dL/dw", "value": "backward"},
         {"label": "Step: before → after", "value": "step"}]
COMPUTE_HEIGHT = 380


def layout() -> html.Section:
    return html.Section(className="card trace-panel", **{"data-panel": "trace"}, children=[
        html.H3("Trace one sample", className="panel-title"),
        html.P("One sample through the network: every neuron's pre-activation z and activation a and every "
               "edge's contribution w·a; then backwards, dL/da and dL/dz on the neurons and dL/dw on the edges, "
               "for that sample alone. Choose a validation sample by its number, or click a point on the "
               "decision regions. Pause and Step to see each weight move.", className="panel-hint"),
        html.Div(className="trace-controls", children=[
            html.Label(["Sample", dcc.Input(id=SAMPLE, type="number", min=0, step=1, value=0,
                                            className="graph-input graph-input-number")]),
            html.Button("Trace", id=TRACE_BUTTON, n_clicks=0, className="btn btn-primary"),
            dcc.RadioItems(id=MODE, options=MODES, value="forward", inline=True, className="trace-mode"),
            html.Button("Stop tracing", id=CLEAR, n_clicks=0, className="btn btn-ghost"),
        ]),
        html.Div(id=MESSAGE, className="trace-message", role="status"),
        html.Div(id=READOUT, className="trace-readout"),
        html.Div(id=COMPUTE_WRAP, style={"display": "none"}, children=[
            html.H4("Computation graph", className="panel-subtitle"),
            html.P(id=COMPUTE_NOTE, className="panel-hint"),
            html.Div(id=COMPUTE_CANVAS, children=cyto.Cytoscape(
                id=COMPUTE_GRAPH, elements=[], stylesheet=compgraph.graph_stylesheet(),
                layout={"name": "preset", "fit": True, "padding": 16}, minZoom=0.05, maxZoom=3,
                boxSelectionEnabled=False, autoRefreshLayout=False,
                style={"width": "100%", "height": f"{COMPUTE_HEIGHT}px"}, className="compute-canvas")),
        ]),
    ])


# -- the sample and its trace ------------------------------------------------------------
def sample_of(probe: Optional[dict], split: str, index: int) -> tuple[np.ndarray, Any, str]:
    """The model input, target and a name of sample ``index`` of ``split``; ValueError
    with what the page can offer when there is no such sample."""
    if not probe:
        raise ValueError("No samples yet: train (or Step) first, so the run's samples are known.")
    points = probe.get("points")
    if split == "train" and points is None:
        raise ValueError("Only validation samples can be traced for this data set.")
    if points is not None and split in ("train", "val"):
        X, y = points[f"X_{split}"], points[f"y_{split}"]
        if not 0 <= index < len(X):
            raise ValueError(f"Sample: a whole number from 0 to {len(X) - 1} (the {split_name(split)} samples).")
        x = Standardizer.from_dict(points["standardizer"]).transform(np.asarray(X[index:index + 1], np.float64))[0]
        return x, np.asarray(y)[index], f"{split_name(split)} sample {index}"
    samples = probe.get("samples") or {}
    inputs = samples.get("inputs")
    if inputs is None or not len(inputs):
        raise ValueError("This data set has no samples to trace.")
    if not 0 <= index < len(inputs):
        raise ValueError(f"Sample: a whole number from 0 to {len(inputs) - 1} (the validation samples the "
                         f"panels draw).")
    return np.asarray(inputs[index]), samples["labels"][index], f"validation sample {index}"


def split_name(split: str) -> str:
    return "training" if split == "train" else "validation"


def traced(version: Optional[dict], step: Optional[dict], choice: Optional[dict]) -> Optional[dict]:
    """``{"snapshot", "trace", "model", "x", "y", "name", "step"}`` for the page's trace
    choice, or None when there is none. ``step`` is the last single Step's record when
    the snapshot is the model right after it. ValueError when it cannot be traced."""
    if not choice or not version or choice.get("session") != version.get("session"):
        return None
    snapshot = store.snapshot_for(version, step)
    if snapshot is None:
        raise ValueError("No model yet: train or load one, then trace a sample.")
    x, y, name = sample_of(store.get_probe(version["session"]), choice.get("split", "val"), int(choice["index"]))
    model = model_from_snapshot(snapshot)
    model.l1, model.l2 = float(snapshot.get("l1") or 0.0), float(snapshot.get("l2") or 0.0)
    if tuple(model.input_shape) != tuple(np.shape(x)):
        raise ValueError(f"The samples have shape {tuple(np.shape(x))} but the model takes {model.input_shape}: "
                         f"train the model on this data set first.")
    last = store.get_step(version["session"])
    after_step = (last is not None and snapshot.get("step") is None
                  and last.get("batches_done") == snapshot.get("batches_done"))
    return {"snapshot": snapshot, "trace": trace_sample(model, x, y), "model": model, "x": x, "y": y, "name": name,
            "step": last if after_step else None}


SHOWN = {"forward": "z and a on the neurons, w·a on the edges",
         "backward": "dL/da and dL/dz on the neurons, dL/dw on the edges",
         "step": "each weight before and after the last Step"}


def shown_mode(found: dict, mode: str) -> str:
    """What the graph shows for the chosen ``mode``: the step view only right after a Step
    (else the forward values), a key of ``SHOWN``."""
    if mode == "step":
        return "step" if found["step"] is not None else "forward"
    return "backward" if mode == "backward" else "forward"


def traced_elements(elements: list[dict], found: dict, mode: str) -> list[dict]:
    """The network graph's elements in trace (or step) mode; an edge shows its numbers
    when clicked, as in the graph of weights."""
    shown = shown_mode(found, mode)
    if shown == "step":
        step = found["step"]
        before = {int(k): v for k, v in step["before"].items()}
        return trace_viz.step_elements(elements, found["snapshot"], before, step["learning_rate"],
                                       step["optimizer"])
    return trace_viz.trace_elements(elements, found["snapshot"], found["trace"], shown)


# -- callbacks ---------------------------------------------------------------------------------
def _nearest_point(probe: Optional[dict], x: float, y: float) -> Optional[tuple[str, int]]:
    points = (probe or {}).get("points")
    if points is None:
        return None
    best = None
    for split in ("train", "val"):
        X = np.asarray(points[f"X_{split}"], dtype=np.float64)
        if not len(X):
            continue
        d = np.hypot(X[:, 0] - x, X[:, 1] - y)
        i = int(np.argmin(d))
        if best is None or d[i] < best[0]:
            best = (float(d[i]), split, i)
    return None if best is None or best[0] > 1e-3 * (1 + abs(x) + abs(y)) else (best[1], best[2])


@dash.callback(
    Output(ids.TRACE, "data"), Output(MESSAGE, "children"), Output(SAMPLE, "value"),
    Input(TRACE_BUTTON, "n_clicks"), Input(SAMPLE, "n_submit"), Input(regions.GRAPH, "clickData"),
    Input(CLEAR, "n_clicks"), Input(MODE, "value"),
    State(SAMPLE, "value"), State(ids.TRACE, "data"), State(ids.SESSION, "data"),
    prevent_initial_call=True,
)
def choose(_trace, _submit, click, _clear, mode, index, current, session_id):
    """The sample to trace: by number, by a click on the decision regions; or no trace."""
    if not store.valid_session(session_id):
        raise PreventUpdate
    trigger = dash.ctx.triggered_id
    if trigger == CLEAR:
        return None, "Not tracing: the graph shows the weights again.", no_update
    if trigger == MODE:
        if not current or current.get("mode") == mode:      # (Step sets both the mode and the trace)
            raise PreventUpdate
        return {**current, "mode": mode}, no_update, no_update
    if trigger == regions.GRAPH:
        point = (click or {}).get("points") or [{}]
        found = _nearest_point(store.get_probe(session_id), point[0].get("x", np.nan), point[0].get("y", np.nan))
        if found is None:
            raise PreventUpdate          # a click on the background, not on a sample
        split, i = found
        return ({"session": session_id, "split": split, "index": i, "mode": mode},
                f"Tracing {split_name(split)} sample {i} (clicked on the decision regions).",
                i if split == "val" else no_update)
    if isinstance(index, bool) or not isinstance(index, (int, float)) or index != int(index) or index < 0:
        return no_update, "Sample: a whole number of at least 0.", no_update
    return {"session": session_id, "split": "val", "index": int(index), "mode": mode}, "", no_update


def _units_table(units: list[dict], backward: bool) -> html.Table:
    head = ["unit", "output", "target", "dL/d output", "dL/dz"]
    rows = [html.Tr([html.Td(u["name"] or str(u["index"])), html.Td(fmt(u["output"])), html.Td(fmt(u["target"])),
                     html.Td(fmt(u["dL_doutput"])), html.Td("–" if u.get("dL_dz") is None else fmt(u["dL_dz"]))])
            for u in units]
    return html.Table(className="trace-table", children=[html.Thead(html.Tr([html.Th(h) for h in head])),
                                                          html.Tbody(rows)])


def _step_view(found: dict) -> list:
    step = found["step"]
    if step is None:
        return [html.P("Step view: pause a run and press Step; each weight then shows its value before and after "
                       "that one batch, and −lr·dL/dw.", className="panel-hint")]
    before = {int(k): v for k, v in step["before"].items()}
    rows = trace_viz.step_table(found["snapshot"], before, step["learning_rate"], step["optimizer"],
                                step.get("optimizer_params"))
    note = rows[0]["note"] if rows else ""
    return [
        html.P(f"The last Step trained batch {step['batches_done']} with learning rate {step['learning_rate']:g} "
               f"({step['optimizer']}). The largest changes:", className="trace-step-head"),
        html.Table(className="trace-table trace-step-table", children=[
            html.Thead(html.Tr([html.Th(h) for h in ("layer", "weight", "before", "after", "Δ", "−lr·dL/dw")])),
            html.Tbody([html.Tr([html.Td(r["layer"]), html.Td(r["name"]), html.Td(fmt(r["before"])),
                                 html.Td(fmt(r["after"])), html.Td(fmt(r["delta"])), html.Td(fmt(r["minus_lr_g"]))],
                                className="" if r["equal"] else "trace-differs") for r in rows])]),
        html.P(note, className="trace-note"),
    ]


def readout_children(found: dict, mode: str) -> list:
    r = trace_viz.readout(found["trace"], found["snapshot"])
    head = f"{found['name'][0].upper()}{found['name'][1:]}"
    if r.get("predicted"):
        predicted = r["predicted"]["name"] or str(r["predicted"]["index"])
        actual = (r.get("actual") or {}).get("name") or str((r.get("actual") or {}).get("index", "?"))
        head += f": predicted {predicted}, actually {actual} ({'right' if r['correct'] else 'wrong'})."
    children = [html.P(head, className="trace-head"),
                html.Div([html.Div(line, className="trace-formula") for line in r["lines"]],
                         className="trace-formulas"),
                _units_table(r["units"], mode == "backward")]
    if mode == "step":
        children += _step_view(found)
    return children


@dash.callback(
    Output(READOUT, "children"), Output(COMPUTE_GRAPH, "elements"), Output(COMPUTE_NOTE, "children"),
    Output(COMPUTE_WRAP, "style"), Output(COMPUTE_CANVAS, "style"), Output(COMPUTE_GRAPH, "layout"),
    Output(MESSAGE, "children", allow_duplicate=True),
    Input(ids.TRACE, "data"), Input(ids.panel_version("trace"), "data"), Input(ids.STEP, "data"),
    State(COMPUTE_GRAPH, "layout"), prevent_initial_call=True,
)
def show(choice, version, step, current_layout):
    """The readout and the computation graph of the traced sample."""
    hidden, shown = {"display": "none"}, {"display": "block"}
    if not choice:
        return [], [], "", hidden, hidden, no_update, no_update
    try:
        found = traced(version, step, choice)
    except ValueError as exc:
        return [], [], "", hidden, hidden, no_update, str(exc)
    if found is None:
        return [], [], "", hidden, hidden, no_update, no_update
    mode = choice.get("mode", "forward")
    try:
        expression = scalar.network_graph(found["model"], found["x"], found["y"])
    except ValueError as exc:
        why = str(exc)
        return (readout_children(found, mode), [], f"{why[0].upper()}{why[1:]}: try a network such as 2 → 3 → 2.",
                shown, hidden, no_update, no_update)
    elements = compgraph.graph_elements(expression)
    # A layout of its own for every new graph: Cytoscape fits a preset layout only when it receives one.
    fitted = {"name": "preset", "fit": True, "padding": 16, "graph": len(elements)}
    return (readout_children(found, mode), elements, compgraph.summary(expression), shown, shown,
            fitted if fitted != current_layout else no_update, no_update)
