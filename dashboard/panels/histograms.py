"""The distributions panel: per-layer histograms of the weights and of their
gradients from the latest batch, for the layers chosen in a multi-select.

Bins are computed on the server (``viz.distributions.histogram_data``) from the
cached snapshot; a change of selection only rebuilds the two figures, as plain
dicts (``viz.distributions.distribution_spec``: building ``go.Figure`` subplots cost
~100 ms a figure, which the page waited for on every refresh). Choosing a layer in
the architecture graph shows that layer.
"""
from __future__ import annotations

from typing import Optional

import dash
from dash import Input, Output, State, ctx, dcc, html

from viz.distributions import distribution_spec
from viz.snapshots import kernel_name, layer_label

from .. import ids, store

LAYER_SELECT = "hist-layer-select"
WEIGHTS_GRAPH = "hist-weights-graph"
GRADS_GRAPH = "hist-grads-graph"

BINS = 50
GRAPH_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}


def layout() -> html.Section:
    return html.Section(className="hist-panel", **{"data-panel": "histograms"}, children=[
        html.Div(className="hist-header", children=[
            html.H3("Weights and gradients", className="hist-title"),
            html.Span("per layer, weight matrices only (biases excluded); gradients of the latest batch",
                      className="graph-hint"),
        ]),
        html.Div(className="hist-controls", children=[
            html.Label(["Layers", dcc.Dropdown(id=LAYER_SELECT, options=[], value=None, multi=True,
                                               placeholder="all layers with weights",
                                               className="hist-layer-select")]),
        ]),
        html.Div(className="hist-graphs", children=[
            dcc.Graph(id=WEIGHTS_GRAPH, figure=_empty_figure("params"), config=GRAPH_CONFIG),
            dcc.Graph(id=GRADS_GRAPH, figure=_empty_figure("grads"), config=GRAPH_CONFIG),
        ]),
    ])


def _empty_figure(kind: str, text: str = "No model yet: build a network and start training.") -> dict:
    """A blank figure with a message (a plain dict, like every figure this panel sends)."""
    title = "Weights" if kind == "params" else "Gradients of the latest batch"
    return {"data": [], "layout": {
        "title": {"text": title, "x": 0.01, "font": {"size": 15}}, "height": 340,
        "margin": {"l": 40, "r": 20, "t": 60, "b": 40}, "paper_bgcolor": "white", "plot_bgcolor": "white",
        "font": {"color": "#2a3f5f"}, "xaxis": {"visible": False}, "yaxis": {"visible": False},
        "annotations": [{"text": text, "showarrow": False, "xref": "paper", "yref": "paper",
                         "x": 0.5, "y": 0.5, "font": {"color": "#64748b", "size": 13}}]}}


def _options(snapshot: dict) -> list[dict]:
    out = []
    for k, layer in enumerate(snapshot["layers"]):
        has_weights = kernel_name(layer.get("params", {})) is not None
        label = layer_label(snapshot, k) + ("" if has_weights else " - no weights")
        out.append({"label": label, "value": k, "disabled": not has_weights})
    return out


def refresh_histograms(version: Optional[dict], layers: Optional[list], selected: Optional[int] = None,
                       current_options: Optional[list] = None, step: Optional[dict] = None):
    """Weight figure, gradient figure, layer options and choice for the latest snapshot
    (the options only when they differ from ``current_options``: re-sending them
    re-renders the dropdown, perhaps open under the user's pointer). With ``step`` (the
    Step slider's ``ids.STEP``) the histograms are the model's at that step of the run."""
    snapshot = store.snapshot_for(version, step)
    if snapshot is None:
        return (_empty_figure("params"), _empty_figure("grads"), [] if current_options != [] else dash.no_update,
                dash.no_update)
    options = _options(snapshot)
    sent = options if options != current_options else dash.no_update
    chose = dash.no_update
    if ctx.triggered_id == ids.SELECTED_LAYER and isinstance(selected, int) and selected < len(options) \
            and not options[selected]["disabled"]:
        layers = chose = [selected]
    if layers is None:
        chosen = [o["value"] for o in options if not o["disabled"]]
    else:
        chosen = [int(i) for i in layers if 0 <= int(i) < len(options)]
    if not chosen:
        text = "Choose one or more layers above."
        return _empty_figure("params", text), _empty_figure("grads", text), sent, chose
    weights = distribution_spec(snapshot, chosen, "params", bins=BINS)
    grads = distribution_spec(snapshot, chosen, "grads", bins=BINS)
    if snapshot.get("step") is not None:
        for fig in (weights, grads):
            fig["layout"]["title"]["text"] += f" · at step {snapshot['step']:,} (Step slider; Live follows the run)"
    return weights, grads, sent, chose


dash.callback(
    Output(WEIGHTS_GRAPH, "figure"), Output(GRADS_GRAPH, "figure"), Output(LAYER_SELECT, "options"),
    Output(LAYER_SELECT, "value"),
    Input(ids.panel_version("histograms"), "data"), Input(LAYER_SELECT, "value"), Input(ids.SELECTED_LAYER, "data"),
    State(LAYER_SELECT, "options"), Input(ids.STEP, "data"),
)(refresh_histograms)
