"""The activation explorer panel: the engine's activation functions (and the binary
step, for reference) with their derivatives on one chart, and, for a chosen layer, the
distribution of its units' pre-activations drawn over its activation curve, with the
saturated, dead and near-linear zones shaded and their shares (``viz.activations``).

Where things come from:

* the model: the snapshot the panel's version points at (``store.snapshot_for``, at
  the Step slider's step when one is chosen), rebuilt with
  ``viz.snapshots.model_from_snapshot`` as the other panels do, so the chart follows a
  run live; without a snapshot, the tab's model file (``store.get_model``, the engine's
  ``.npz`` bytes, ``Sequential.load``);
* the inputs: the run's probe samples (``store.get_probe``: ``samples["inputs"]``, the
  validation samples the panels draw, already scaled as training scales them), when
  they fit the model's input and come from its data set;
* the pre-activations: ``viz.activations.pre_activations`` (one inference pass).

The function checklist starts with sigmoid, tanh and ReLU; each time the model's hidden
activations change (a new architecture, a loaded file) they are ticked too. The layer
dropdown lists the layers with an activation and follows a layer chosen in the
architecture graph. Without a model the chart shows the curves and a short note.
"""
from __future__ import annotations

import io
from typing import Any, Optional

import dash
from dash import Input, Output, State, ctx, dcc, html
from dash.exceptions import MissingCallbackContextException

from engine import Sequential
from viz import activations as figures
from viz.snapshots import layer_label, model_from_snapshot

from .. import ids, store
from .common import GRAPH_CONFIG, NO_MODEL, choose, picker, same

FUNCTION_LIST = "act-functions"
LAYER = "act-layer"
GRAPH = "act-graph"
NOTE = "act-note"
DEFAULTED = "act-defaulted"     # dcc.Store: the hidden activations the checklist was last ticked for

DEFAULT_FUNCTIONS = ("relu", "sigmoid", "tanh")      # in FUNCTIONS order, as the checklist keeps them
HINT = "each function solid, its derivative dashed; a layer's pre-activations on probe samples, over its curve"
NO_MODEL_NOTE = NO_MODEL + " Meanwhile the chart shows the functions alone."
NO_PROBE = ("Press Train to see this model's pre-activations: they come from probe samples of the data it "
            "trains on.")
NO_LAYER = "No layer of this network has an activation function: the chart shows the functions alone."


CHECKLIST_LABELS = {**figures.LABELS, "softmax": "Softmax (2 classes)", figures.BINARY_STEP: "Binary step (reference)"}


def function_options() -> list[dict]:
    return [{"label": CHECKLIST_LABELS[name], "value": name} for name in figures.FUNCTIONS]


def layout() -> html.Section:
    return html.Section(className="card panel activations-panel", **{"data-panel": "activations"}, children=[
        html.Div(className="panel-header", children=[html.H3("Activation explorer", className="panel-title"),
                                                      html.Span(HINT, className="panel-hint")]),
        html.Div(NO_MODEL_NOTE, id=NOTE, className="panel-note"),
        html.Div(className="panel-controls", children=[
            html.Div(className="act-functions-wrap", children=[
                html.Span("Functions", className="act-functions-label"),
                dcc.Checklist(id=FUNCTION_LIST, options=function_options(), value=list(DEFAULT_FUNCTIONS),
                              inline=True, className="act-functions"),
            ]),
            picker("Layer", LAYER, 300),
        ]),
        dcc.Graph(id=GRAPH, figure=figures.explorer_figure(figures.FUNCTIONS, DEFAULT_FUNCTIONS),
                  config=GRAPH_CONFIG),
        dcc.Store(id=DEFAULTED),
    ])


# -- the model and its inputs ------------------------------------------------------------

def current_model(version: Optional[dict], step: Optional[dict] = None) -> tuple[Optional[Sequential], dict]:
    """The tab's model and what to check its probe against: ``{"dataset": name or None,
    "dataset_key": key or None, "step": the Step slider's step or None}``."""
    snapshot = store.snapshot_for(version, step)
    if snapshot is not None:
        return model_from_snapshot(snapshot), {"dataset": (snapshot.get("dataset") or {}).get("name"),
                                               "dataset_key": None, "step": snapshot.get("step")}
    stored = store.get_model(version["session"]) if version and version.get("session") else None
    if stored is None:
        return None, {}
    return Sequential.load(io.BytesIO(stored["bytes"])), {"dataset": None, "dataset_key": stored.get("dataset_key"),
                                                          "step": None}


def probe_inputs(model: Sequential, probe: Optional[dict], source: dict) -> Optional[Any]:
    """The probe samples as model inputs, or None when there are none or they do not
    belong to this model (another data set, another input shape)."""
    inputs = ((probe or {}).get("samples") or {}).get("inputs")
    if inputs is None or len(inputs) == 0 or tuple(inputs.shape[1:]) != tuple(model.input_shape):
        return None
    if source.get("dataset") and probe.get("name") and source["dataset"] != probe["name"]:
        return None
    if source.get("dataset_key") and probe.get("dataset_key") and source["dataset_key"] != probe["dataset_key"]:
        return None
    return inputs


def layer_titles(model: Sequential) -> list[str]:
    """``"Layer 1 (Dense 8, Tanh)"`` for each layer, as the other panels name them."""
    described = {"layers": [{"type": type(l).__name__, "config": l.get_config()} for l in model.layers]}
    return [layer_label(described, k) for k in range(len(model.layers))]


def hidden_activations(model: Sequential) -> list[str]:
    """The activations of the model's layers before the output layer, in order, once each."""
    out = []
    for layer in model.layers[:-1]:
        name = figures.layer_activation(layer)
        if name and name not in out:
            out.append(name)
    return out


def _ticked(checked: Optional[list], extra: list[str]) -> list[str]:
    chosen = set(DEFAULT_FUNCTIONS if checked is None else checked) | set(extra)
    return [name for name in figures.FUNCTIONS if name in chosen]


def _triggered() -> Any:
    try:
        return ctx.triggered_id
    except MissingCallbackContextException:       # called directly (tests, scripts)
        return None


# -- the callback ------------------------------------------------------------------------------

def refresh_activations(version: Optional[dict], checked: Optional[list], current: Any,
                        selected: Any = None, step: Optional[dict] = None, options_now: Optional[list] = None,
                        defaulted: Optional[list] = None, note_now: Any = None):
    """Figure, note, the checklist's value, the layer options and value, and the
    activations the checklist was ticked for (what the page already shows is not sent
    again)."""
    model, source = current_model(version, step)
    if model is None:
        ticked = _ticked(checked, [])
        return (figures.explorer_figure(figures.FUNCTIONS, ticked), same(NO_MODEL_NOTE, note_now),
                same(ticked, checked), same([], options_now), same(None, current), dash.no_update)

    hidden = hidden_activations(model)
    ticked, new_defaulted = checked, dash.no_update
    if defaulted != hidden or checked is None:
        ticked, new_defaulted = _ticked(checked, hidden), hidden
    indices = [k for k, l in enumerate(model.layers) if figures.layer_activation(l)]
    titles = layer_titles(model)
    options = [{"label": titles[k], "value": k} for k in indices]
    k = choose(indices, selected, current, _triggered() == ids.SELECTED_LAYER)

    layer, note = None, ""
    inputs = probe_inputs(model, store.get_probe(version["session"]), source) if k is not None else None
    if k is None:
        note = NO_LAYER
    elif inputs is None:
        note = NO_PROBE
    else:
        z = figures.pre_activations(model, inputs)[k]
        title = titles[k] + (f" at step {source['step']:,}" if source.get("step") is not None else "")
        layer = {"title": title, "activation": figures.layer_activation(model.layers[k]), "z": z,
                 "samples": len(inputs)}
    figure = figures.explorer_figure(figures.FUNCTIONS, ticked or [], layer)
    return (figure, same(note, note_now), same(ticked, checked), same(options, options_now), same(k, current),
            new_defaulted)


dash.callback(
    Output(GRAPH, "figure"), Output(NOTE, "children"), Output(FUNCTION_LIST, "value"), Output(LAYER, "options"),
    Output(LAYER, "value"), Output(DEFAULTED, "data"),
    Input(ids.panel_version("activations"), "data"), Input(FUNCTION_LIST, "value"), Input(LAYER, "value"),
    Input(ids.SELECTED_LAYER, "data"), Input(ids.STEP, "data"),
    State(LAYER, "options"), State(DEFAULTED, "data"), State(NOTE, "children"),
)(refresh_activations)
