"""The convolution panel: a Conv2D layer's kernels and their gradients, and one
sample's feature maps through every convolution and pooling layer, live
(figures: ``viz.conv``).

The kernels come from the snapshot. The feature maps come from running the
snapshot's model on the chosen sample (one of the run's probe samples,
``dashboard.data``) with ``Sequential.layer_outputs``.
"""
from __future__ import annotations

from typing import Any, Optional

import dash
import numpy as np
from dash import Input, Output, State, ctx, dcc, html

from viz.conv import feature_maps_figure, kernels_figure
from viz.snapshots import layer_label, layer_summary, model_from_snapshot

from .. import ids, store
from .common import (GRAPH_CONFIG, HIDDEN, NO_MODEL, VISIBLE, choose, layer_indices, layer_options, panel, picker,
                     same, sample_options)

NOTE = "conv-note"
BODY = "conv-body"
LAYER = "conv-layer"
KERNELS = "conv-kernels"
SAMPLE = "conv-sample"
MAPS = "conv-maps"
MAPS_NOTE = "conv-maps-note"
NOT_CONV = ("This network has no convolution: kernels and feature maps appear here for networks with Conv2D "
            "layers (try the preset “CNN (conv-pool ×2)”).")


def layout() -> html.Section:
    return panel(
        "conv", "Convolution", "kernels (weights, gradients of the latest batch) and a sample's feature maps, live",
        NOTE, BODY,
        html.Div([picker("Layer", LAYER, 300)], className="panel-controls"),
        dcc.Graph(id=KERNELS, figure={"data": [], "layout": {"height": 240}}, config=GRAPH_CONFIG),
        html.Div([picker("Sample", SAMPLE, 300)], className="panel-controls"),
        html.Div(id=MAPS_NOTE, className="panel-note"),
        dcc.Graph(id=MAPS, figure={"data": [], "layout": {"height": 240}}, config=GRAPH_CONFIG),
        extra_class="conv-panel",
    )


def _is_conv(layer: dict) -> bool:
    return layer["type"] == "Conv2D"


def _is_image_layer(layer: dict) -> bool:
    return len(layer["output_shape"]) == 3


def refresh_kernels(version: Optional[dict], selected: Any, current: Any, options: Optional[list], note: Any,
                    style: Any):
    """Note, body style, layer options and value, kernels figure (what the page already
    shows is not sent again)."""
    snapshot = store.snapshot_for(version)
    convs = layer_indices(snapshot, _is_conv) if snapshot else []
    if not convs:
        return (same(NOT_CONV if snapshot else NO_MODEL, note), same(HIDDEN, style), same([], options),
                same(None, current), dash.no_update)
    k = choose(convs, selected, current, ctx.triggered_id == ids.SELECTED_LAYER)
    layer = snapshot["layers"][k]
    figure = kernels_figure(layer["params"]["W"], layer["grads"].get("W"),
                            title=f"{layer_label(snapshot, k)}: kernels")
    return (same("", note), same(VISIBLE, style), same(layer_options(snapshot, convs), options), same(k, current),
            figure)


def feature_maps(snapshot: dict, probe: dict, sample: int) -> dict:
    """The feature-maps figure of probe sample ``sample`` for this snapshot."""
    samples = probe["samples"]
    model = model_from_snapshot(snapshot)
    outputs = model.layer_outputs(samples["inputs"][sample:sample + 1])
    layers = [(f"{k + 1}. {layer_summary(snapshot['layers'][k])}", outputs[k][0])
              for k in layer_indices(snapshot, _is_image_layer)]
    image = samples.get("images")
    picture = np.asarray(image[sample]) if image is not None else np.asarray(samples["inputs"][sample])
    names = probe.get("class_names") or []
    y = samples["labels"][sample]
    title = f"Feature maps of sample #{sample} (class {names[y] if isinstance(y, int) and y < len(names) else y})"
    return feature_maps_figure(picture, layers, title=title)


def refresh_maps(version: Optional[dict], sample: Any, options: Optional[list], note: Any):
    """Sample options and value, a note and the feature-maps figure."""
    snapshot = store.snapshot_for(version)
    if snapshot is None or not layer_indices(snapshot, _is_conv):
        return same([], options), same(None, sample), same("", note), dash.no_update
    probe = store.get_probe(version["session"])
    new_options = sample_options(probe)
    if not new_options or len(snapshot["input_shape"]) != 3 or \
            list((probe or {}).get("input_shape") or []) != list(snapshot["input_shape"]):
        return (same(new_options, options), same(None, sample),
                same("Press Train to pick a sample of this data and see its feature maps.", note), dash.no_update)
    chosen = sample if sample in range(len(new_options)) else 0
    return same(new_options, options), same(chosen, sample), same("", note), feature_maps(snapshot, probe, chosen)


dash.callback(
    Output(NOTE, "children"), Output(BODY, "style"), Output(LAYER, "options"), Output(LAYER, "value"),
    Output(KERNELS, "figure"),
    Input(ids.panel_version("conv"), "data"), Input(ids.SELECTED_LAYER, "data"), Input(LAYER, "value"),
    State(LAYER, "options"), State(NOTE, "children"), State(BODY, "style"),
)(refresh_kernels)

dash.callback(
    Output(SAMPLE, "options"), Output(SAMPLE, "value"), Output(MAPS_NOTE, "children"), Output(MAPS, "figure"),
    Input(ids.panel_version("conv"), "data"), Input(SAMPLE, "value"), State(SAMPLE, "options"),
    State(MAPS_NOTE, "children"),
)(refresh_maps)
