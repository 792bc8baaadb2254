"""Recorded training runs side by side ("Experiments"), as plain figure dicts.

Every builder takes a list of *run records*::

    {"id": 12, "name": "lr 0.01 · relu", "state": "done",   # running, stopped, diverged, failed
     "params": {"learning_rate": 0.01, "activation": "relu"},   # what a search varied ({} for a plain run)
     "history": {"train_loss": [...], "val_loss": [...],        # one value per epoch, any list may be
                 "train_accuracy": [...], "val_accuracy": [...],  # empty; accuracy for classifiers only
                 "first_epoch": 1},
     "metrics": {"loss": 0.12, "val_loss": 0.15, "accuracy": 0.97, "val_accuracy": 0.95, "macro_f1": 0.94},
     "wall_time_s": 12.3, "epochs": 30}

and returns ``{"data": [...], "layout": {...}}`` ready for JSON (floats rounded to
five significant digits, values that are not finite as null).

* :func:`loss_overlay`, :func:`accuracy_overlay`: one line per run and curve (training
  solid, validation dashed) in the run's colour, at most :data:`MAX_OVERLAY_RUNS` runs;
* :func:`parallel_coordinates`: one axis per varied setting plus the metric, one line
  per run coloured by the metric;
* :func:`run_colors`, :func:`metric_label`, :func:`best_runs`: the helpers the
  Experiments page shares with them.

Run ``k`` of a selection always gets colour ``k`` (the palette cycles after ten), also
when runs before it have nothing to draw yet, so a line keeps its colour as runs report.
"""
from __future__ import annotations

import json
import math
import numbers
from typing import Any, Iterable, Mapping, Optional, Sequence

import numpy as np

from .style import COLORBAR, MUTED_COLOR, WHITE_AXIS, base_layout, count_text, muted, note_figure, \
    plain

# Ten hues that read on white, the dashboard's blue and orange first.
RUN_PALETTE = ("#2563eb", "#ea580c", "#059669", "#9333ea", "#dc2626", "#0891b2", "#ca8a04",
               "#db2777", "#4f46e5", "#65a30d")
# A sequential scale for a metric (light yellow to dark violet, like viridis reversed in lightness).
METRIC_SCALE = [[0.0, "#fde725"], [0.25, "#5ec962"], [0.5, "#21918c"], [0.75, "#3b528b"], [1.0, "#440154"]]

MAX_OVERLAY_RUNS = 20
MARKERS_UP_TO = 20          # epochs a line shows markers for; longer lines are plain lines
MAX_NAMED = 6               # runs named one by one in a note before "and 3 more"
LOG_SPAN = 100.0            # a positive setting whose max / min exceeds this gets a log10 axis
OVERLAY_HEIGHT = 360
PARCOORDS_HEIGHT = 400
MISSING_TEXT = "none"       # the category of a run that did not set a setting

_ACRONYMS = {"f1": "F1", "mse": "MSE", "mae": "MAE", "rmse": "RMSE", "auc": "AUC", "roc": "ROC", "r2": "R²",
             "lr": "LR"}
_LABELS = {"loss": "training loss", "accuracy": "training accuracy", "wall_time_s": "wall time (s)",
           "epochs": "epochs"}
_LOWER_IS_BETTER = ("loss", "error", "mse", "mae", "rmse", "time", "epochs")
_KEPT_STATES = ("done", "stopped")


# -- helpers ---------------------------------------------------------------------------

def run_colors(n: int) -> list[str]:
    """``n`` colours for ``n`` runs: run ``k`` gets palette colour ``k % 10``."""
    return [RUN_PALETTE[k % len(RUN_PALETTE)] for k in range(max(int(n), 0))]


def metric_label(key: str) -> str:
    """How a metric or history key reads in a title: "val_accuracy" -> "validation
    accuracy", "macro_f1" -> "macro F1", "train_loss" -> "training loss"."""
    key = str(key)
    if key in _LABELS:
        return _LABELS[key]
    words = [w for w in key.split("_") if w]
    prefix = ""
    if words and words[0] in ("val", "validation"):
        prefix, words = "validation ", words[1:]
    elif words and words[0] in ("train", "training"):
        prefix, words = "training ", words[1:]
    body = " ".join(_ACRONYMS.get(w.lower(), w) for w in words)
    return (prefix + body).strip() or key


def _lower_is_better(metric: str) -> bool:
    return any(word in str(metric).lower() for word in _LOWER_IS_BETTER)


def _number(value: Any) -> Optional[float]:
    """A finite float, or None for anything else (None, NaN, inf, text, bool)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def metric_value(run: Mapping[str, Any], metric: str) -> Optional[float]:
    """The run's value of ``metric`` (from its ``metrics``, else a top-level number
    such as ``wall_time_s``), or None when it has none that is finite."""
    metrics = run.get("metrics") or {}
    if metric in metrics:
        return _number(metrics[metric])
    return _number(run.get(metric))


def _id_key(run: Mapping[str, Any]) -> tuple:
    rid = run.get("id")
    return (0, rid) if isinstance(rid, numbers.Real) and not isinstance(rid, bool) else (1, str(rid))


def best_runs(runs: Sequence[Mapping[str, Any]], metric: str, k: int,
              higher_is_better: Optional[bool] = None) -> list[dict]:
    """The ``k`` best runs by ``metric``, best first. Losses (and errors, times) are
    lower-is-better, everything else higher-is-better, unless ``higher_is_better``
    says. Runs without a finite value, or not ``done``/``stopped``, are left out;
    equal values keep the lower id first."""
    if higher_is_better is None:
        higher_is_better = not _lower_is_better(metric)
    scored = []
    for run in runs or ():
        if run.get("state") not in _KEPT_STATES:
            continue
        value = metric_value(run, metric)
        if value is not None:
            scored.append((-value if higher_is_better else value, _id_key(run), run))
    scored.sort(key=lambda s: (s[0], s[1]))
    return [s[2] for s in scored[:max(int(k), 0)]]


def _escape(text: str) -> str:
    """Plotly reads names as a little HTML: show a run's name as typed."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def run_label(run: Mapping[str, Any]) -> str:
    """'#12 lr 0.01 · relu' (the legend entry of a run)."""
    name = str(run.get("name") or "").strip()
    return f"#{run.get('id')}" + (f" {name}" if name else "")


def _named(ids: Sequence[Any], singular: str, plural: str) -> str:
    """'#7 has no epochs yet', '#7, #9 have ...', '#1, ..., #6 and 3 more have ...'."""
    tags = [f"#{i}" for i in ids]
    if len(tags) > MAX_NAMED:
        text = ", ".join(tags[:MAX_NAMED]) + f" and {len(tags) - MAX_NAMED} more"
    else:
        text = ", ".join(tags)
    return f"{text} {singular if len(tags) == 1 else plural}"


def _heading(text: str, notes: Iterable[str]) -> str:
    notes = [n for n in notes if n]
    return text + (" · " + muted(" · ".join(notes)) if notes else "")


def _runs_text(n: int) -> str:
    return f"{n} run" if n == 1 else f"{n} runs"


# -- loss and accuracy overlays ----------------------------------------------------------

def _curve_text(key: str) -> str:
    """'val_loss' -> 'val loss' (the short form a hover box has room for)."""
    return str(key).replace("_", " ")


def _is_validation(key: str) -> bool:
    return str(key).startswith("val")


def _first_epoch(history: Mapping[str, Any]) -> int:
    first = history.get("first_epoch", 1)
    try:
        return int(first)
    except (TypeError, ValueError):
        return 1


def _values(values: Any) -> np.ndarray:
    """A history list as a float array (None, and anything else that is not a number, as NaN)."""
    if not isinstance(values, (list, tuple, np.ndarray)) or len(values) == 0:
        return np.zeros(0)
    try:
        return np.asarray(values, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        return np.asarray([_number(v) if _number(v) is not None else math.nan for v in values], dtype=np.float64)


def _overlay(runs: Sequence[Mapping[str, Any]], which: Sequence[str], heading: str, percent: bool) -> dict[str, Any]:
    runs = list(runs or ())
    which = tuple(which)
    y_title = "accuracy %" if percent else "loss"
    if not runs:
        return note_figure("Pick runs to compare their curves", heading, OVERLAY_HEIGHT)
    total = len(runs)
    shown = runs[:MAX_OVERLAY_RUNS]
    colors = run_colors(len(shown))
    data: list[dict[str, Any]] = []
    drawn, no_epochs, no_curve = [], [], []
    for k, run in enumerate(shown):
        history = run.get("history") or {}
        first = _first_epoch(history)
        label = _escape(run_label(run))
        group = f"run-{run.get('id')}"
        curves = [(key, _values(history.get(key))) for key in which]
        curves = [(key, ys) for key, ys in curves if ys.size]
        if not curves:
            epochs = any(_values(history.get(key)).size for key in ("train_loss", "val_loss", "train_accuracy",
                                                                 "val_accuracy"))
            (no_curve if epochs else no_epochs).append(run.get("id"))
            continue
        drawn.append(run.get("id"))
        for j, (key, ys) in enumerate(curves):
            n = len(ys)
            y = plain(ys * 100.0 if percent else ys)
            x = list(range(first, first + n))
            value = "%{y:.1f}%" if percent else "%{y:.3g}"
            data.append({
                "type": "scatter", "x": x, "y": y, "name": label, "legendgroup": group, "showlegend": j == 0,
                "mode": "lines+markers" if n <= MARKERS_UP_TO else "lines",
                "line": {"color": colors[k], "width": 2, "dash": "dash" if _is_validation(key) else "solid"},
                "marker": {"size": 4, "color": colors[k]},
                "hovertemplate": f"#{run.get('id')} · epoch %{{x}} · {_curve_text(key)} {value}<extra></extra>",
                "uid": f"{group}-{key}",
                "meta": {"run_id": run.get("id"), "curve": key, "color_index": k, "state": run.get("state")},
            })
    notes = []
    if total > len(shown):
        notes.append(f"{count_text(len(shown), total, 'run')}: the first {len(shown)} are drawn")
    if no_epochs:
        notes.append(_named(no_epochs, "has no epochs yet", "have no epochs yet"))
    if no_curve:
        what = "accuracy" if percent else " or ".join(_curve_text(key) for key in which)
        notes.append(_named(no_curve, f"has no {what}", f"have no {what}"))
    meta = {"run_ids": drawn, "no_epochs": no_epochs, "no_curve": no_curve, "total": total,
            "shown": len(shown), "curves": list(which)}
    if not data:
        figure = note_figure(" · ".join(notes) or "Nothing to draw yet", heading, OVERLAY_HEIGHT)
        figure["layout"]["meta"] = meta
        return figure
    styles = []
    if any(not _is_validation(key) for key in which):
        styles.append("solid: training")
    if any(_is_validation(key) for key in which):
        styles.append("dashed: validation")
    layout = base_layout(
        _heading(f"{heading} of {_runs_text(len(drawn))}", [", ".join(styles)] + notes), OVERLAY_HEIGHT,
        xaxis={**WHITE_AXIS, "title": {"text": "epoch"}},
        yaxis={**WHITE_AXIS, "title": {"text": y_title},
               **({"range": [0, 101]} if percent else {"rangemode": "tozero"})},
        legend={"font": {"size": 11}, "tracegroupgap": 0, "itemclick": "toggle", "itemdoubleclick": "toggleothers"},
        uirevision="runs", meta=meta)
    return {"data": data, "layout": layout}


def loss_overlay(runs: Sequence[Mapping[str, Any]], which: Sequence[str] = ("train_loss", "val_loss"),
                 title: str = "Loss") -> dict[str, Any]:
    """The loss curves of up to 20 runs in one chart: one line per run and curve in
    the run's colour (training solid, validation dashed), one legend entry per run
    that shows or hides both its lines. Runs without epochs are named in the title."""
    return _overlay(runs, which, title, percent=False)


def accuracy_overlay(runs: Sequence[Mapping[str, Any]], title: str = "Accuracy") -> dict[str, Any]:
    """The training and validation accuracy (percent) of up to 20 runs, like
    :func:`loss_overlay`; runs without accuracy (regressions) are named and skipped."""
    return _overlay(runs, ("train_accuracy", "val_accuracy"), title, percent=True)


# -- parallel coordinates ----------------------------------------------------------------

_MISSING = object()


def _setting(value: Any) -> Any:
    """A setting as an axis takes it: a finite float, text, or _MISSING."""
    if value is None:
        return _MISSING
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, numbers.Real):
        number = _number(value)
        return _MISSING if number is None else number
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return str(value)


def _category_key(value: Any) -> tuple:
    if value is _MISSING:
        return (2, 0.0, "")
    if isinstance(value, float):
        return (0, value, "")
    return (1, 0.0, value.lower())


def _category_text(value: Any) -> str:
    if value is _MISSING:
        return MISSING_TEXT
    if isinstance(value, float):
        return f"{value:.4g}"
    return _escape(value)


def _dimension(key: str, values: list) -> dict[str, Any]:
    numbers_only = all(isinstance(v, float) for v in values)
    if numbers_only:
        a = np.asarray(values, dtype=np.float64)
        lo, hi = float(a.min()), float(a.max())
        if lo > 0 and hi / lo > LOG_SPAN:
            a, label = np.log10(a), f"log10 {key}"
            lo, hi = float(a.min()), float(a.max())
        else:
            label = key
        dim = {"label": _escape(label), "values": plain(a)}
        if lo == hi:
            pad = abs(lo) * 0.1 or 1.0
            dim["range"] = plain([lo - pad, hi + pad])
        return dim
    categories = sorted(set(values), key=_category_key)
    index = {c: i for i, c in enumerate(categories)}
    k = len(categories)
    return {"label": _escape(key), "values": [float(index[v]) for v in values],
            "tickvals": [float(i) for i in range(k)], "ticktext": [_category_text(c) for c in categories],
            "range": [0.0, float(k - 1)] if k > 1 else [-1.0, 1.0]}


def _setting_keys(runs: Sequence[Mapping[str, Any]]) -> list[str]:
    """The union of the runs' setting names, in the order the lowest-numbered run
    lists them (then the next run's new ones), so the axes do not move when the
    selection is re-sorted."""
    keys: dict[str, None] = {}
    for run in sorted(runs, key=_id_key):
        for key in (run.get("params") or {}):
            keys.setdefault(str(key), None)
    return list(keys)


def parallel_coordinates(runs: Sequence[Mapping[str, Any]], metric: str = "val_accuracy",
                         title: Optional[str] = None) -> dict[str, Any]:
    """One axis per setting the runs varied (the union of their ``params``) and the
    metric last; one line per run, coloured by the metric. A setting spanning more
    than two decades is drawn as log10; text settings are categories named on their
    axis (a run that did not set a setting is the category "none"). Runs without the
    metric are left out and counted in the title."""
    label = metric_label(metric)
    heading = title or f"Settings and {label}"
    runs = list(runs or ())
    if not runs:
        return note_figure("Pick runs to compare their settings", heading, PARCOORDS_HEIGHT)
    kept = [(run, metric_value(run, metric)) for run in runs]
    missing = [run.get("id") for run, value in kept if value is None]
    kept = [(run, value) for run, value in kept if value is not None]
    left_out = f"{_runs_text(len(missing))} without {label} left out" if missing else ""
    meta = {"run_ids": [run.get("id") for run, _ in kept], "left_out": missing, "metric": metric}
    if not kept:
        figure = note_figure(f"None of the {_runs_text(len(runs))} has a {label} yet", heading, PARCOORDS_HEIGHT)
        figure["layout"]["meta"] = meta
        return figure
    keys = _setting_keys([run for run, _ in kept])
    if not keys:
        figure = note_figure("These runs varied no settings: a search varies settings (learning rate, units, "
                             "activation ...) and this chart lines them up against the result",
                             heading, PARCOORDS_HEIGHT)
        figure["layout"]["meta"] = meta
        return figure
    dimensions = []
    for key in keys:
        values = [_setting((run.get("params") or {}).get(key)) for run, _ in kept]
        dimensions.append(_dimension(key, values))
    scores = plain([value for _, value in kept])
    dimensions.append({"label": _escape(label), "values": scores})
    meta["dimensions"] = [d["label"] for d in dimensions]
    trace = {
        "type": "parcoords", "dimensions": dimensions,
        "line": {"color": scores, "colorscale": METRIC_SCALE, "reversescale": _lower_is_better(metric),
                 "showscale": True, "colorbar": {**COLORBAR, "title": {"text": label, "side": "right"}}},
        "labelfont": {"size": 12}, "tickfont": {"size": 10}, "rangefont": {"size": 9, "color": MUTED_COLOR},
        "labelangle": 0, "meta": meta,
    }
    layout = base_layout(_heading(f"{heading} of {_runs_text(len(kept))}", [left_out]), PARCOORDS_HEIGHT,
                         margin={"l": 60, "r": 40, "t": 90, "b": 30}, meta=meta)
    return {"data": [trace], "layout": layout}
