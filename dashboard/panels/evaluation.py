"""The Evaluation panel (classifiers): the confusion matrix of the validation split,
per-class precision, recall and F1 with macro F1 (scikit-learn's metrics,
``viz.evaluation``), the samples the model gets wrong - images with their true and
predicted class, or sentences - and, for image inputs, what each first-layer unit looks
for: its incoming weights drawn as an image of the input's shape, live.

The training job keeps the validation split's true and predicted classes and its first
misclassified samples in the run cache (``jobs.evaluation``: at epoch ends, at most every
``jobs.EVALUATE_S``, and at the end); the first-layer weights come from the snapshot.
Misclassified 2-D points are ringed on the decision regions (``panels/regions.py``).
"""
from __future__ import annotations

import math
from typing import Any, Optional

import dash
from dash import Input, Output, State, dcc, html

from viz import evaluation as figures

from .. import ids, store
from .common import GRAPH_CONFIG, HIDDEN, NO_MODEL, VISIBLE, panel, same

CONFUSION = "eval-confusion"
TABLE = "eval-table"
SUMMARY = "eval-summary"
WRONG = "eval-wrong"
WRONG_TEXTS = "eval-wrong-texts"
INPUT_WEIGHTS = "eval-input-weights"
INPUT_WRAP = "eval-input-wrap"
NOTE = "eval-note"
BODY = "eval-body"


def layout() -> html.Section:
    return panel(
        "evaluation", "Evaluation", "validation split: confusion matrix, per-class scores, the samples the model "
        "gets wrong", NOTE, BODY,
        html.Div(id=SUMMARY, className="eval-summary", role="status"),
        html.Div(className="exp-pair", children=[
            dcc.Graph(id=CONFUSION, figure={"data": [], "layout": {"height": 420}}, config=GRAPH_CONFIG),
            html.Div(id=TABLE, className="eval-table"),
        ]),
        dcc.Graph(id=WRONG, figure={"data": [], "layout": {"height": 200}}, config=GRAPH_CONFIG, style=HIDDEN),
        html.Div(id=WRONG_TEXTS, className="eval-texts"),
        html.Div(id=INPUT_WRAP, style=HIDDEN, children=[
            dcc.Graph(id=INPUT_WEIGHTS, figure={"data": [], "layout": {"height": 300}}, config=GRAPH_CONFIG)]),
        extra_class="eval-panel")


def _table(rows: list[dict]) -> html.Table:
    head = html.Tr([html.Th(h) for h in ("Class", "Precision", "Recall", "F1", "Support")])
    body = [html.Tr([html.Td(str(r["class"])), *(html.Td(f"{r[k]:.3f}") for k in ("precision", "recall", "f1")),
                     html.Td(f"{r['support']:,}")], className="eval-average" if r["class"] == "macro average" else None)
            for r in rows]
    return html.Table([html.Thead(head), html.Tbody(body)], className="eval-scores")


def _texts(rows: list[dict]) -> Any:
    if not rows:
        return []
    return html.Div([html.H4("Misclassified sentences"), html.Table([
        html.Thead(html.Tr([html.Th("Sentence"), html.Th("True"), html.Th("Predicted")])),
        html.Tbody([html.Tr([html.Td(r["text"]), html.Td(r["true"]), html.Td(r["predicted"])]) for r in rows]),
    ], className="eval-scores")])


def _first_dense_on_image(snapshot: dict) -> Optional[tuple[Any, list[int]]]:
    """The first layer's kernel when it is a Dense layer that reads an image's pixels
    (through a Flatten, or the image flattened by the data), and the image's shape."""
    image_shape = (snapshot.get("dataset") or {}).get("image_shape")
    if not image_shape:
        return None
    for layer in snapshot["layers"]:
        if layer["type"] == "Flatten":
            continue
        W = layer["params"].get("W") if layer["type"] == "Dense" else None
        if W is None or W.shape[0] != math.prod(image_shape):
            return None
        return W, list(image_shape)
    return None


def refresh_evaluation(version: Optional[dict], note_now: Any = None):
    """Everything the panel shows for the run's latest evaluation and snapshot."""
    snapshot = store.snapshot_for(version)
    found = store.get_evaluation(version["session"]) if snapshot else None
    nothing = [dash.no_update] * 8
    if snapshot is None:
        return [*nothing, same(NO_MODEL, note_now), VISIBLE, HIDDEN]
    if found is None:
        text = ("Evaluation is for classifiers with a validation split: it appears at the end of the first epoch."
                if (snapshot.get("dataset") or {}).get("task", "classification") == "classification" else
                "Evaluation (confusion matrix, per-class scores) is for classifiers; this model is a regressor.")
        return [*nothing, same(text, note_now), VISIBLE, HIDDEN]
    result = figures.evaluate(found["y_true"], found["y_pred"], found["class_names"] or None)
    summary = (f"After epoch {found['epoch']}: accuracy {100 * result['accuracy']:.2f}% · macro F1 "
               f"{result['macro_f1']:.4f} · {result['n']:,} validation samples · "
               f"{int((found['y_true'] != found['y_pred']).sum()):,} misclassified")
    confusion = figures.confusion_figure(result)
    table = _table(figures.per_class_table(result, average_row=True))
    wrong_fig, wrong_style, texts = dash.no_update, HIDDEN, []
    samples = found.get("samples")
    wrong = found["wrong"]
    if samples is not None and len(wrong):
        if isinstance(samples, list):
            texts = _texts(figures.misclassified_texts(samples, found["y_true"][wrong], found["y_pred"][wrong],
                                                       found["class_names"]))
        elif (snapshot.get("dataset") or {}).get("image_shape"):
            shape = snapshot["dataset"]["image_shape"]
            wrong_fig = figures.misclassified_images_figure(
                samples, found["y_true"][wrong], found["y_pred"][wrong], found["class_names"], shape,
                indices=wrong, n_samples=len(found["y_true"]), n_wrong=int((found["y_true"] != found["y_pred"]).sum()))
            wrong_style = VISIBLE
    first = _first_dense_on_image(snapshot)
    weights_fig, weights_style = dash.no_update, HIDDEN
    if first is not None:
        weights_fig = figures.input_weights_figure(first[0], first[1])
        weights_style = VISIBLE
    return [summary, confusion, table, wrong_fig, wrong_style, texts, weights_fig, weights_style,
            same("", note_now), HIDDEN, VISIBLE]


dash.callback(
    Output(SUMMARY, "children"), Output(CONFUSION, "figure"), Output(TABLE, "children"),
    Output(WRONG, "figure"), Output(WRONG, "style"), Output(WRONG_TEXTS, "children"),
    Output(INPUT_WEIGHTS, "figure"), Output(INPUT_WRAP, "style"),
    Output(NOTE, "children"), Output(NOTE, "style"), Output(BODY, "style"),
    Input(ids.panel_version("evaluation"), "data"), State(NOTE, "children"),
)(refresh_evaluation)
