"""The "Over time" panel: a layer's weights, gradients or activations over the run
(``viz.timeline``: offset view, percentile bands, now vs start), and the **Step** slider
that scrubs the histograms, the network graph and its edge labels back to any kept step.

The run's timeline (``dashboard.timeline``) is in the run cache; this panel redraws it
for every new snapshot version (``ids.panel_version("timeline")``). The slider's right
end is **Live** (the panels follow the run); anywhere else it sets ``ids.STEP`` to the
kept frame at or before that step, and the histograms and the network draw that frame.
"""
from __future__ import annotations

import bisect
from typing import Optional

import dash
from dash import Input, Output, State, dcc, html, no_update

from viz import timeline as figures
from viz.snapshots import layer_label

from .. import ids, store
from .common import GRAPH_CONFIG, HIDDEN, NO_MODEL, VISIBLE, panel, same

LAYER = "timeline-layer"
KIND = "timeline-kind"
VIEW = "timeline-view"
SLIDER = "timeline-slider"
SLIDER_TEXT = "timeline-slider-text"
LIVE = "timeline-live"
GRAPH = "timeline-graph"
NOTE = "timeline-note"
BODY = "timeline-body"

VIEWS = [("offset", "Offset"), ("bands", "Distribution"), ("start", "Now vs start")]


def layout() -> html.Section:
    return panel(
        "timeline", "Over time", "every kept step of the run, on bins fixed per layer; Step scrubs the histograms "
        "and the network back in time", NOTE, BODY,
        html.Div(className="exp-controls", children=[
            html.Label(["Layer", dcc.Dropdown(id=LAYER, options=[], value=None, clearable=False, searchable=False,
                                              style={"width": "260px"})], className="panel-picker"),
            dcc.RadioItems(id=KIND, options=[{"label": "Weights", "value": "params"},
                                             {"label": "Gradients", "value": "grads"},
                                             {"label": "Activations", "value": "acts"}],
                           value="params", inline=True),
            dcc.RadioItems(id=VIEW, options=[{"label": label, "value": v} for v, label in VIEWS],
                           value="offset", inline=True),
        ]),
        html.Div(className="timeline-step", children=[
            html.Span("Step", className="bar-label"),
            html.Div(dcc.Slider(id=SLIDER, min=0, max=0, step=1, value=0, marks=None, updatemode="drag",
                                tooltip={"placement": "bottom", "always_visible": False}),
                     className="timeline-slider"),
            html.Button("Live", id=LIVE, className="btn btn-ghost", n_clicks=0, title="Follow the run again"),
            html.Span(id=SLIDER_TEXT, className="timeline-step-text"),
        ]),
        dcc.Graph(id=GRAPH, figure={"data": [], "layout": {"height": figures.HEIGHT}}, config=GRAPH_CONFIG),
        extra_class="timeline-panel")


def _layer_options(snapshot: dict, timeline: dict) -> list[dict]:
    return [{"label": layer_label(snapshot, entry["layer"]), "value": entry["layer"]}
            for entry in timeline["layers"]]


def _frame_at(timeline: dict, index: int) -> Optional[list]:
    """The kept frame at or before step ``index`` of the timeline: ``[step, serial]``."""
    frames = timeline.get("frames") or []
    if not frames:
        return None
    step = timeline["steps"][index]
    at = bisect.bisect_right([f[0] for f in frames], step) - 1
    return frames[max(at, 0)]


@dash.callback(
    Output(GRAPH, "figure"), Output(NOTE, "children"), Output(NOTE, "style"), Output(BODY, "style"),
    Output(LAYER, "options"), Output(LAYER, "value"), Output(SLIDER, "max"), Output(SLIDER, "value"),
    Output(SLIDER_TEXT, "children"),
    Input(ids.panel_version("timeline"), "data"), Input(LAYER, "value"), Input(KIND, "value"),
    Input(VIEW, "value"), Input(ids.STEP, "data"),
    State(LAYER, "options"), State(SLIDER, "max"), State(NOTE, "children"),
)
def refresh_timeline(version, layer, kind, view, step, options_now, max_now, note_now):
    """The chosen layer's view for the run's timeline; the slider follows the run while Live."""
    snapshot = store.snapshot_for(version)
    timeline = store.get_timeline(version["session"]) if snapshot and version else None
    if not timeline or not timeline["steps"] or not timeline["layers"]:
        note = NO_MODEL if snapshot is None else "This model has no layer with weights to follow."
        return (no_update, same(note, note_now), VISIBLE, HIDDEN, no_update, no_update, no_update, no_update,
                no_update)
    options = _layer_options(snapshot, timeline)
    layers = [o["value"] for o in options]
    if layer not in layers:
        layer = layers[0]
    entry = timeline["layers"][layers.index(layer)]
    last = len(timeline["steps"]) - 1
    index = step.get("index") if step and step.get("session") == version["session"] else None
    if index is not None and not 0 <= index <= last:
        index = None
    shown = last if index is None else index
    title = layer_label(snapshot, layer)
    steps, epochs = timeline["steps"], timeline["epochs"]
    if view == "bands":
        fig = figures.bands_figure(entry, kind, steps, epochs, title, timeline["percentiles"], index)
    elif view == "start":
        fig = figures.now_vs_start_figure(entry, kind, steps, title, shown)
    else:
        fig = figures.offset_figure(entry, kind, steps, epochs, title, index)
    text = (f"step {steps[shown]:,} · epoch {epochs[shown]:.2f} · {last + 1:,} kept"
            + (" · live" if index is None else ""))
    return (fig, "", HIDDEN, VISIBLE, same(options, options_now), layer, same(last, max_now),
            last if index is None else no_update, text)


@dash.callback(
    Output(ids.STEP, "data"),
    Input(SLIDER, "value"), Input(LIVE, "n_clicks"),
    State(SLIDER, "max"), State(ids.panel_version("timeline"), "data"), State(ids.STEP, "data"),
    prevent_initial_call=True,
)
def choose_step(value, _live, last, version, current):
    """The slider moved by the user: that step (Live at its right end, or after Live)."""
    if not version:
        return no_update
    if dash.ctx.triggered_id == LIVE or value is None or value >= (last or 0):
        return None if current is not None else no_update
    timeline = store.get_timeline(version["session"])
    if not timeline or not 0 <= value < len(timeline["steps"]):
        return no_update
    frame = _frame_at(timeline, int(value))
    return {"session": version["session"], "index": int(value), "step": timeline["steps"][int(value)],
            "frame": frame[1] if frame else None}

