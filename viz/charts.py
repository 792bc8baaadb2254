"""Loss and accuracy over training, as plain figure dicts.

Both builders take a *live* dict::

    {"history": {"train_loss": [...], "val_loss": [...],            # one value per epoch,
                 "train_accuracy": [...], "val_accuracy": [...],    # accuracy for classifiers
                 "first_epoch": 1},
     "batch_trace": {"x": [...], "y": [...]},                       # x: epochs as a fraction
     "changes": [{"x": 2.375, "text": "learning rate 0.01 → 0.1"}]}  # settings changed during the run
"""
from __future__ import annotations

from typing import Any, Optional

from .style import TRAIN_COLOR, VAL_COLOR

BATCH_COLOR = "rgba(37, 99, 235, 0.25)"
CHANGE_COLOR = "#b45309"
# A per-epoch line draws at most this many points (every k-th epoch and the last): a chart a
# few hundred pixels wide shows no more, and a 10,000-epoch run would otherwise send and redraw
# 40,000 numbers every refresh.
MAX_EPOCH_POINTS = 2000


def _mode(n: int) -> str:
    """Markers at epoch ends while they can be told apart, a plain line after that."""
    return "lines+markers" if n <= 60 else "lines"


def _finite(values: list) -> list:
    return [v if isinstance(v, (int, float)) and v == v and abs(v) != float("inf") else None for v in values]


def _base_layout(title: str, y_title: str, empty_text: Optional[str]) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "title": {"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 14}},
        "template": "plotly_white",
        "margin": {"l": 52, "r": 16, "t": 40, "b": 40},
        "height": 300,
        "xaxis": {"title": {"text": "epoch"}, "rangemode": "tozero", "gridcolor": "#eef0f4"},
        "yaxis": {"title": {"text": y_title}, "gridcolor": "#eef0f4", "rangemode": "tozero"},
        "legend": {"orientation": "h", "y": 1.12, "x": 1, "xanchor": "right"},
        "hovermode": "x unified",
        "uirevision": "keep",
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
    }
    if empty_text:
        layout["annotations"] = [{"text": empty_text, "showarrow": False, "xref": "paper", "yref": "paper",
                                  "x": 0.5, "y": 0.5, "font": {"color": "#8a8fa3", "size": 13}}]
        layout["xaxis"].update(showticklabels=False, zeroline=False)
        layout["yaxis"].update(showticklabels=False, zeroline=False)
    return layout


def _epochs(first: int, values: list) -> tuple[list, list]:
    """Epoch numbers and values of a per-epoch series, thinned to MAX_EPOCH_POINTS (every
    k-th epoch from the first, and always the last)."""
    n = len(values)
    step = max(1, -(-n // MAX_EPOCH_POINTS))
    keep = list(range(0, n, step))
    if keep and keep[-1] != n - 1:
        keep.append(n - 1)
    return [first + i for i in keep], [values[i] for i in keep]


def _line(x: list, y: list, name: str, color: str, hover: str) -> dict[str, Any]:
    return {"type": "scatter", "x": x, "y": y, "mode": _mode(len(y)), "name": name,
            "line": {"color": color, "width": 2.5}, "marker": {"size": 5}, "hovertemplate": hover}


def loss_figure(live: Optional[dict]) -> dict[str, Any]:
    """Training and validation loss per epoch (markers at epoch ends) over the
    faint per-batch trace. An empty chart with a hint when nothing has run."""
    history = (live or {}).get("history") or {}
    train = history.get("train_loss") or []
    val = history.get("val_loss") or []
    trace = (live or {}).get("batch_trace") or {}
    empty = not train and not trace.get("y")
    layout = _base_layout("Loss", "loss", "Press Train to see the loss fall" if empty else None)
    data: list[dict[str, Any]] = []
    if trace.get("y"):
        # SVG, not WebGL: 1000 points draw in a few ms, a WebGL trace costs ~90 ms a redraw without a GPU
        data.append({"type": "scatter", "x": trace["x"], "y": _finite(trace["y"]), "mode": "lines",
                     "name": "batch", "line": {"color": BATCH_COLOR, "width": 1}, "hoverinfo": "skip"})
    first = int(history.get("first_epoch", 1))
    if train:
        x, y = _epochs(first, train)
        data.append(_line(x, _finite(y), "training", TRAIN_COLOR, "%{y:.4g}"))
    if val:
        x, y = _epochs(first, val)
        data.append(_line(x, _finite(y), "validation", VAL_COLOR, "%{y:.4g}"))
    _mark_changes(layout, (live or {}).get("changes") or [])
    return {"data": data, "layout": layout}


def _mark_changes(layout: dict[str, Any], changes: list[dict]) -> None:
    """A dashed vertical line where each setting changed during the run, labelled with
    the change (labels of changes close together are stacked)."""
    if not changes:
        return
    layout["shapes"] = [{"type": "line", "xref": "x", "yref": "paper", "x0": c["x"], "x1": c["x"], "y0": 0, "y1": 1,
                         "line": {"color": CHANGE_COLOR, "width": 1.5, "dash": "dash"}} for c in changes]
    layout.setdefault("annotations", []).extend(
        {"x": c["x"], "xref": "x", "y": 1 - 0.09 * (k % 4), "yref": "paper", "text": c["text"], "showarrow": False,
         "xanchor": "left", "yanchor": "top", "xshift": 3, "font": {"size": 10, "color": CHANGE_COLOR},
         "bgcolor": "rgba(255,255,255,0.8)"} for k, c in enumerate(changes))


def accuracy_figure(live: Optional[dict]) -> dict[str, Any]:
    """Training and validation accuracy per epoch, in percent (classifiers only)."""
    history = (live or {}).get("history") or {}
    train = history.get("train_accuracy") or []
    val = history.get("val_accuracy") or []
    layout = _base_layout("Accuracy", "accuracy %", None if train else "Accuracy appears here for classification")
    if not train:
        return {"data": [], "layout": layout}
    layout["yaxis"].update(range=[0, 101], rangemode="normal")
    first = int(history.get("first_epoch", 1))
    x, y = _epochs(first, train)
    data = [_line(x, [100 * a for a in y], "training", TRAIN_COLOR, "%{y:.1f}%")]
    if val:
        x, y = _epochs(first, val)
        data.append(_line(x, [100 * a for a in y], "validation", VAL_COLOR, "%{y:.1f}%"))
    return {"data": data, "layout": layout}
