"""The sequence panel: a recurrent layer's hidden state over the tokens of a chosen
sentence (and an LSTM's input, forget and output gates), and the embedding matrix
projected to 2-D with its most frequent words labelled, live (figures:
``viz.sequences``, ``viz.embeddings``).

States come from running the snapshot's model on the chosen probe sample
(``Sequential.layer_outputs``) and reading the layer's ``sequence_states()``; the
words come from the run's vocabulary (the probe).
"""
from __future__ import annotations

from typing import Any, Optional

import dash
import numpy as np
from dash import Input, Output, State, ctx, dcc, html

from engine import LAYERS
from viz.embeddings import embedding_figure
from viz.sequences import hidden_state_figure
from viz.snapshots import layer_label, model_from_snapshot

from .. import ids, store
from .common import (GRAPH_CONFIG, HIDDEN, NO_MODEL, VISIBLE, choose, layer_indices, layer_options, panel, picker,
                     same, sample_options)

NOTE = "seq-note"
BODY = "seq-body"
LAYER = "seq-layer"
SAMPLE = "seq-sample"
STATES = "seq-states"
STATES_NOTE = "seq-states-note"
EMBEDDINGS = "seq-embeddings"
EMBEDDINGS_DRAWN = "seq-embeddings-drawn"     # dcc.Store: the session, epoch and status the figure shows
NOT_RECURRENT = ("This network has no recurrent or embedding layer: hidden states and embeddings appear here for "
                 "text models (try the preset “Text LSTM (embedding, BiLSTM)”).")
# Which of a layer's states are drawn, with their names on the chart.
STATE_NAMES = {"h": "hidden state h", "i": "input gate i", "f": "forget gate f", "o": "output gate o"}


def layout() -> html.Section:
    return panel(
        "sequences", "Sequences", "a recurrent layer's state over a sentence's tokens, and the embeddings, live",
        NOTE, BODY,
        html.Div([picker("Layer", LAYER, 300), picker("Sentence", SAMPLE, 420)], className="panel-controls"),
        html.Div(id=STATES_NOTE, className="panel-note"),
        dcc.Graph(id=STATES, figure={"data": [], "layout": {"height": 240}}, config=GRAPH_CONFIG),
        dcc.Graph(id=EMBEDDINGS, figure={"data": [], "layout": {"height": 240}}, config=GRAPH_CONFIG),
        dcc.Store(id=EMBEDDINGS_DRAWN),
        extra_class="seq-panel",
    )


def _is_recurrent(layer: dict) -> bool:
    return getattr(LAYERS.get(layer["type"]), "takes", None) == "sequence"


def _drawn_states(states: dict[str, np.ndarray], n_tokens: int) -> dict[str, np.ndarray]:
    """The states to draw for one sample (batch row 0), its first ``n_tokens`` steps,
    named for the chart; a bidirectional layer's gates for its forward half only."""
    out = {}
    for key, values in states.items():
        side, _, part = key.rpartition(" ")
        if part not in STATE_NAMES or (side == "backward" and part != "h"):
            continue
        name = (side + " " if side else "") + STATE_NAMES[part]
        out[name] = values[0, :n_tokens]
    return out


def hidden_states(snapshot: dict, probe: dict, k: int, sample: int) -> dict:
    """The hidden-state figure of recurrent layer ``k`` for probe sample ``sample``."""
    samples = probe["samples"]
    model = model_from_snapshot(snapshot)
    model.layer_outputs(samples["inputs"][sample:sample + 1])
    tokens = samples["tokens"][sample]
    states = _drawn_states(model.layers[k].sequence_states(), len(tokens))
    return hidden_state_figure(tokens, states, title=f"{layer_label(snapshot, k)} on sentence #{sample}")


def refresh_states(version: Optional[dict], selected: Any, current: Any, sample: Any, layer_opts: Optional[list],
                   sample_opts: Optional[list], note: Any, style: Any, states_note: Any):
    """Note, body style, layer options and value, sentence options and value, a note and
    the figure (what the page already shows is not sent again)."""
    snapshot = store.snapshot_for(version)
    recurrent = layer_indices(snapshot, _is_recurrent) if snapshot else []
    has_embedding = bool(snapshot) and bool(layer_indices(snapshot, lambda l: l["type"] == "Embedding"))
    if not recurrent and not has_embedding:
        return (same(NOT_RECURRENT if snapshot else NO_MODEL, note), same(HIDDEN, style), same([], layer_opts),
                same(None, current), same([], sample_opts), same(None, sample), same("", states_note),
                dash.no_update)
    k = choose(recurrent, selected, current, ctx.triggered_id == ids.SELECTED_LAYER)
    probe = store.get_probe(version["session"])
    new_samples = sample_options(probe)
    chosen = sample if sample in range(len(new_samples)) else (0 if new_samples else None)
    base = [same("", note), same(VISIBLE, style), same(layer_options(snapshot, recurrent), layer_opts),
            same(k, current), same(new_samples, sample_opts), same(chosen, sample)]
    if k is None:
        return [*base, same("No recurrent layer: only the embeddings are drawn.", states_note),
                {"data": [], "layout": {"height": 10}}]
    if chosen is None or "tokens" not in (probe.get("samples") or {}) or \
            list(probe.get("input_shape") or []) != list(snapshot["input_shape"]):
        return [*base, same("Press Train to pick a sentence of this data and see its hidden states.", states_note),
                dash.no_update]
    return [*base, same("", states_note), hidden_states(snapshot, probe, k, chosen)]


def refresh_embeddings(version: Optional[dict], drawn: Optional[str] = None):
    """The embeddings figure, and what it was drawn for: during a run it is redrawn once
    an epoch (a projection that jumps twice a second shows nothing), at a run's end at once."""
    snapshot = store.snapshot_for(version)
    if snapshot is None:
        return dash.no_update, dash.no_update
    found = layer_indices(snapshot, lambda l: l["type"] == "Embedding")
    if not found:
        return dash.no_update, dash.no_update
    key = f"{version['session']}:{snapshot.get('epochs_trained')}:{snapshot.get('status')}"
    if key == drawn:
        return dash.no_update, dash.no_update
    probe = store.get_probe(version["session"]) or {}
    words = probe.get("vocabulary")
    W = snapshot["layers"][found[0]]["params"]["W"]
    if not words or len(words) != len(W):
        words = ["", "[UNK]"] + [f"id {i}" for i in range(2, len(W))]
    return embedding_figure(W, words, title=f"{layer_label(snapshot, found[0])}: embeddings"), key


dash.callback(
    Output(NOTE, "children"), Output(BODY, "style"), Output(LAYER, "options"), Output(LAYER, "value"),
    Output(SAMPLE, "options"), Output(SAMPLE, "value"), Output(STATES_NOTE, "children"), Output(STATES, "figure"),
    Input(ids.panel_version("sequences"), "data"), Input(ids.SELECTED_LAYER, "data"), Input(LAYER, "value"),
    Input(SAMPLE, "value"), State(LAYER, "options"), State(SAMPLE, "options"), State(NOTE, "children"),
    State(BODY, "style"), State(STATES_NOTE, "children"),
)(refresh_states)

dash.callback(Output(EMBEDDINGS, "figure"), Output(EMBEDDINGS_DRAWN, "data"),
              Input(ids.panel_version("sequences"), "data"), State(EMBEDDINGS_DRAWN, "data"))(refresh_embeddings)
