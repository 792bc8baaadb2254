"""Decision regions: what a trained network predicts over its input plane (2 features)
or along its input line (1 feature, regression), as plain figure dicts (rebuilt on
every snapshot, so no ``go.Figure`` validation)."""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import numpy as np

from engine.datasets import Standardizer

from .snapshots import model_from_snapshot, task_of
from .style import FONT, fmt


# -- decision regions -------------------------------------------------------------------
# What a trained network predicts over its input plane (2 features), or along its
# input line (1 feature, regression): for the dashboard's "Decision regions" panel.
# Figures are plain dicts (no go.Figure validation: they are rebuilt on every snapshot).

REGION_COLORS = ("#2563eb", "#ea580c", "#059669", "#9333ea", "#dc2626", "#0891b2", "#ca8a04",
                 "#db2777", "#4f46e5", "#65a30d")
REGION_GRID = 80
CURVE_POINTS = 200
REGION_PAD = 0.08           # the plotted range reaches this share of the data's span past the points
REGION_PLOT_HEIGHT = 390    # px of the plot area; its width follows the data (equal units on both axes)
REGION_MAX_ASPECT = 1.75    # widest plot area, as a multiple of its height
REGION_MAX_SPAN_RATIO = 4.0  # spans differing more than this get no equal units (e.g. a CSV of mixed units)
REGION_MARGIN = {"l": 56, "r": 118, "t": 44, "b": 48}   # the legend sits in the right margin
REGION_WIDE = int(REGION_PLOT_HEIGHT * REGION_MAX_ASPECT) + REGION_MARGIN["l"] + REGION_MARGIN["r"]
REGION_LIGHT, REGION_FULL = 0.94, 0.55  # how much white the region colour has at low / full confidence


def _mix_white(color: str, share: float) -> str:
    """``color`` (#rrggbb) mixed with ``share`` white (a negative share: black), as #rrggbb."""
    rgb = [int(color[i:i + 2], 16) for i in (1, 3, 5)]
    end = 255 if share >= 0 else 0
    return "#" + "".join(f"{round(c + (end - c) * abs(share)):02x}" for c in rgb)


def region_color(k: int) -> str:
    """The colour of class ``k`` in the decision-region figures."""
    return REGION_COLORS[k % len(REGION_COLORS)]




def _standardize(standardizer: Any, X: np.ndarray) -> np.ndarray:
    """X in the model's input units: ``standardizer`` is an ``engine.datasets.Standardizer``,
    its ``to_dict()`` form, or None (the model takes X as it is)."""
    if standardizer is None:
        return np.asarray(X, dtype=np.float32)
    if isinstance(standardizer, Mapping):
        standardizer = Standardizer.from_dict(standardizer)
    return standardizer.transform(X)


def regions_note(snapshot: Optional[Mapping[str, Any]]) -> Optional[str]:
    """Why the decision-region figure cannot be drawn for this snapshot, or None when it can."""
    if not snapshot or not snapshot.get("layers"):
        return "No model yet: build a network and start training to see what it predicts."
    shape = snapshot.get("input_shape") or []
    n = int(np.prod(shape)) if shape else 0
    task = (snapshot.get("dataset") or {}).get("task") or task_of(snapshot)
    if len(shape) != 1 or n > 2:
        return (f"Decision regions are drawn for data sets with 1 or 2 input features; this one has {n:,}. "
                "Choose moons, circles, xor, spiral, blobs, sine or a 2-column CSV to see them.")
    if n == 1 and task == "classification":
        return "Decision regions need 2 input features; this classifier has 1."
    return None


def _class_scores(P: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(predicted class, confidence in [0, 1], number of classes) from output rows P."""
    P = np.asarray(P, dtype=np.float64)
    if P.shape[1] == 1:                      # one sigmoid unit: P(class 1)
        p1 = np.clip(P[:, 0], 0.0, 1.0)
        return (p1 >= 0.5).astype(np.int64), np.maximum(p1, 1.0 - p1), 2
    k = P.shape[1]
    pred = P.argmax(axis=1)
    return pred, np.clip(P[np.arange(len(P)), pred], 0.0, 1.0), k


def _region_colorscale(n_classes: int) -> list:
    """A colorscale for z = class + shade (shade in [0, 1)): one band per class,
    from a pale tint (unsure) to a strong tint (sure)."""
    scale = []
    for k in range(n_classes):
        color = region_color(k)
        scale.append([k / n_classes, _mix_white(color, REGION_LIGHT)])
        scale.append([(k + 1) / n_classes, _mix_white(color, REGION_FULL)])
    return scale


def _padded_range(values: np.ndarray) -> tuple[float, float]:
    lo, hi = float(np.min(values)), float(np.max(values))
    span = hi - lo if hi > lo else max(abs(lo), 1.0)
    return lo - REGION_PAD * span, hi + REGION_PAD * span


def _as_2d(X: Any) -> np.ndarray:
    return np.asarray(X, dtype=np.float64).reshape(len(X), -1) if X is not None else np.zeros((0, 0))


def _note_figure(text: str, title: str = "Decision regions") -> dict[str, Any]:
    return {"data": [], "layout": {
        "title": {"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 14}},
        "template": "plotly_white", "height": 260, "margin": {"l": 20, "r": 20, "t": 40, "b": 20},
        "xaxis": {"visible": False}, "yaxis": {"visible": False},
        "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
        "annotations": [{"text": text, "showarrow": False, "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5,
                         "font": {"color": "#64748b", "size": 13}}]}}


def _equal_aspect(x_range: tuple[float, float], y_range: tuple[float, float]) -> tuple[tuple, tuple, Optional[int]]:
    """Ranges widened so that one unit is as long on both axes in a plot area of fixed
    height and a width between 1 and ``REGION_MAX_ASPECT`` times it, and the figure's
    width (None, and the ranges unchanged, when the spans differ too much to share units:
    the figure then takes :data:`REGION_WIDE` px).
    Done here rather than with Plotly's ``scaleanchor``, which keeps stale ranges across
    ``Plotly.react`` updates of a figure whose data change."""
    sx, sy = x_range[1] - x_range[0], y_range[1] - y_range[0]
    if not (sx > 0 and sy > 0) or max(sx, sy) > REGION_MAX_SPAN_RATIO * min(sx, sy):
        return x_range, y_range, None
    aspect = min(max(sx / sy, 1.0), REGION_MAX_ASPECT)      # plot width / plot height
    if sx / sy < aspect:
        grow = (sy * aspect - sx) / 2
        x_range = (x_range[0] - grow, x_range[1] + grow)
    elif sx / sy > aspect:
        grow = (sx / aspect - sy) / 2
        y_range = (y_range[0] - grow, y_range[1] + grow)
    margin = REGION_MARGIN
    return x_range, y_range, int(round(REGION_PLOT_HEIGHT * aspect)) + margin["l"] + margin["r"]


def _regions_layout(title: str, x_title: str, y_title: str, x_range, y_range) -> dict[str, Any]:
    return {
        "title": {"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 14}},
        "template": "plotly_white", "height": REGION_PLOT_HEIGHT + REGION_MARGIN["t"] + REGION_MARGIN["b"],
        "margin": dict(REGION_MARGIN),
        "xaxis": {"title": {"text": x_title}, "range": list(x_range), "showgrid": False, "zeroline": False,
                  "constrain": "domain", "mirror": True, "showline": True, "linecolor": "#cbd5e1", "ticks": "outside"},
        "yaxis": {"title": {"text": y_title}, "range": list(y_range), "showgrid": False, "zeroline": False,
                  "constrain": "domain", "mirror": True, "showline": True, "linecolor": "#cbd5e1", "ticks": "outside"},
        "legend": {"orientation": "v", "y": 1, "yanchor": "top", "x": 1.02, "xanchor": "left",
                   "font": {"size": 12}, "itemclick": "toggle", "tracegroupgap": 2},
        "hovermode": "closest",
        # a user's zoom survives the live refreshes of a run, not a change of data (new ranges)
        "uirevision": f"regions:{x_title}:{y_title}:{fmt(x_range[0])}:{fmt(x_range[1])}:{fmt(y_range[0])}:"
                      f"{fmt(y_range[1])}",
        "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "#ffffff",
        "font": {"family": FONT, "size": 12},
    }


def decision_regions_data(snapshot: Mapping[str, Any], X_range: Sequence[float], Y_range: Sequence[float],
                          grid: int = REGION_GRID, standardizer: Any = None) -> dict[str, Any]:
    """The network's predictions on a ``grid`` x ``grid`` lattice over the plane.

    ``X_range`` / ``Y_range`` are (low, high) in the data's original units; the
    lattice is standardised with ``standardizer`` (as training did) before
    ``predict``. Returns ``x`` (grid,), ``y`` (grid,), ``outputs`` (grid, grid, k)
    with row i at ``y[i]`` and column j at ``x[j]``, and for classifiers ``pred`` and
    ``confidence`` (grid, grid) and ``n_classes``."""
    if not isinstance(grid, (int, np.integer)) or grid < 2:
        raise ValueError(f"grid must be an integer of at least 2 (got {grid!r})")
    xs = np.linspace(float(X_range[0]), float(X_range[1]), grid)
    ys = np.linspace(float(Y_range[0]), float(Y_range[1]), grid)
    gx, gy = np.meshgrid(xs, ys)
    plane = np.column_stack([gx.ravel(), gy.ravel()])
    model = model_from_snapshot(snapshot)
    P = model.predict(_standardize(standardizer, plane))
    out: dict[str, Any] = {"x": xs, "y": ys, "outputs": P.reshape(grid, grid, -1)}
    if task_of(snapshot) == "classification" or (snapshot.get("dataset") or {}).get("task") == "classification":
        pred, conf, k = _class_scores(P)
        out.update(pred=pred.reshape(grid, grid), confidence=conf.reshape(grid, grid), n_classes=k)
    return out


def _class_names(snapshot: Mapping[str, Any], n: int) -> list[str]:
    names = list((snapshot.get("dataset") or {}).get("class_names") or [])
    return [str(names[k]) if k < len(names) else str(k) for k in range(n)]


def _feature_names(snapshot: Mapping[str, Any], n: int) -> list[str]:
    names = list((snapshot.get("dataset") or {}).get("feature_names") or [])
    return [str(names[k]) if k < len(names) else f"x{k + 1}" for k in range(n)]


def decision_regions_figure(snapshot: Mapping[str, Any], X_train: Any, y_train: Any, X_val: Any = None,
                            y_val: Any = None, grid: int = REGION_GRID, standardizer: Any = None) -> dict[str, Any]:
    """Plotly figure (a plain dict) of what the network predicts over its input space.

    * 2 features, classification: a heatmap of the predicted class on a ``grid`` x
      ``grid`` lattice (a colour per class, paler where the network is less sure),
      with the training points filled and the validation points hollow.
    * 2 features, regression: a heatmap of the predicted value, points coloured by
      their target on the same scale.
    * 1 feature, regression: the fitted curve over the points.
    * anything else: a figure with a note (see :func:`regions_note`).

    ``X_*`` are in the data's original units (as loaded); ``y_*`` are class indices
    (classification) or targets (regression). ``standardizer`` maps original units to
    the model's inputs: the ``engine.datasets.Standardizer`` fitted for training (or its
    ``to_dict()``), or None when the model was trained on raw inputs. Axes show
    original units.
    """
    note = regions_note(snapshot)
    if note:
        return _note_figure(note)
    X_train = _as_2d(X_train)
    X_val = _as_2d(X_val) if X_val is not None and len(X_val) else np.zeros((0, X_train.shape[1]))
    y_train = np.asarray(y_train)
    y_val = np.asarray(y_val) if y_val is not None else np.zeros((0,))
    n_in = int(snapshot["input_shape"][0])
    if X_train.shape[1] != n_in or (len(X_val) and X_val.shape[1] != n_in):
        return _note_figure(f"The data points have {X_train.shape[1]} features but the network takes {n_in}.")
    if len(X_train) == 0:
        return _note_figure("No training points to draw.")
    features = _feature_names(snapshot, n_in)
    X_all = np.vstack([X_train, X_val])
    if n_in == 1:
        return _curve_figure(snapshot, X_train, y_train, X_val, y_val, standardizer, features[0], X_all)
    x_range, y_range = _padded_range(X_all[:, 0]), _padded_range(X_all[:, 1])
    x_range, y_range, width = _equal_aspect(x_range, y_range)
    data = decision_regions_data(snapshot, x_range, y_range, grid, standardizer)
    xs, ys = np.round(data["x"], 6).tolist(), np.round(data["y"], 6).tolist()
    hover_xy = f"{features[0]} %{{x:.3g}}, {features[1]} %{{y:.3g}}"
    if "pred" in data:
        k = data["n_classes"]
        names = _class_names(snapshot, k)
        # shade 0 at chance level (1/k), 1 when sure; z = class + shade picks a band of the colorscale
        shade = np.clip((data["confidence"] - 1.0 / k) / (1.0 - 1.0 / k), 0.0, 0.999)
        z = np.round(data["pred"] + shade, 3)
        traces: list[dict[str, Any]] = [{
            "type": "heatmap", "x": xs, "y": ys, "z": z.tolist(), "zmin": 0, "zmax": k, "zsmooth": "fast",
            "colorscale": _region_colorscale(k), "showscale": False, "name": "prediction",
            "text": [[names[c] for c in row] for row in data["pred"].tolist()],
            "customdata": np.round(100 * data["confidence"]).astype(int).tolist(),
            "hovertemplate": hover_xy + "<br>predicted class %{text} (%{customdata}%)<extra></extra>",
        }]
        y_train, y_val = y_train.reshape(-1).astype(int), y_val.reshape(-1).astype(int)
        for c in range(k):
            rows = y_train == c
            traces.append(_points(X_train[rows], f"class {names[c]}", region_color(c), True, f"class {c}",
                                  hover_xy + f"<br>class {names[c]}, training<extra></extra>"))
        for c in range(k):
            rows = y_val == c
            if rows.any():
                traces.append(_points(X_val[rows], "validation", region_color(c), False, "validation",
                                      hover_xy + f"<br>class {names[c]}, validation<extra></extra>",
                                      show_legend=False))
        if len(X_val):   # one legend entry (grey) for the hollow markers of every class
            traces.append({"type": "scatter", "mode": "markers", "name": "validation", "legendgroup": "validation",
                           "x": [None], "y": [None], "hoverinfo": "skip",
                           "marker": {"size": 8, "symbol": "circle-open", "color": "#475569",
                                      "line": {"width": 2, "color": "#475569"}}})
        title = "Predicted class over the input plane"
    else:
        target = np.asarray(data["outputs"][:, :, 0], dtype=np.float64)
        t_train = np.asarray(y_train, dtype=np.float64).reshape(len(X_train), -1)[:, 0]
        t_val = np.asarray(y_val, dtype=np.float64).reshape(len(X_val), -1)[:, 0] if len(X_val) else np.zeros(0)
        lo = float(min(target.min(), t_train.min(), t_val.min() if len(t_val) else np.inf))
        hi = float(max(target.max(), t_train.max(), t_val.max() if len(t_val) else -np.inf))
        coloraxis = {"colorscale": "RdBu", "reversescale": True, "cmin": lo, "cmax": hi if hi > lo else lo + 1,
                     "colorbar": {"title": {"text": "y", "side": "right"}, "thickness": 12, "len": 0.8}}
        traces = [{"type": "heatmap", "x": xs, "y": ys, "z": np.round(target, 4).tolist(), "coloraxis": "coloraxis",
                   "zsmooth": "fast", "opacity": 0.75, "name": "prediction",
                   "hovertemplate": hover_xy + "<br>predicted %{z:.4g}<extra></extra>"}]
        for X, t, filled, label in ((X_train, t_train, True, "training"), (X_val, t_val, False, "validation")):
            if len(X):
                marker: dict[str, Any] = {"size": 7, "color": np.round(t, 5).tolist(), "coloraxis": "coloraxis",
                                          "line": {"width": 1.5 if not filled else 0.8,
                                                   "color": "#334155" if not filled else "#ffffff"}}
                if not filled:
                    marker.update(symbol="circle-open", line={"width": 2, "color": np.round(t, 5).tolist()})
                traces.append({"type": "scatter", "mode": "markers", "name": label, "x": X[:, 0].tolist(),
                               "y": X[:, 1].tolist(), "marker": marker, "customdata": np.round(t, 4).tolist(),
                               "hovertemplate": hover_xy + f"<br>target %{{customdata:.4g}}, {label}<extra></extra>"})
        title = "Predicted value over the input plane"
    layout = _regions_layout(title, features[0], features[1], x_range, y_range)
    layout["width"] = width or REGION_WIDE
    if "pred" not in data:
        layout["coloraxis"] = coloraxis
    return {"data": traces, "layout": layout}


def _points(X: np.ndarray, name: str, color: str, filled: bool, group: str, hover: str,
            show_legend: bool = True) -> dict[str, Any]:
    """A scatter of 2-D points: filled (training) or hollow (validation) markers."""
    dark = _mix_white(color, -0.3)
    if filled:
        marker = {"size": 7, "color": color, "line": {"width": 1, "color": "#ffffff"}}
    else:
        marker = {"size": 8, "symbol": "circle-open", "color": dark, "line": {"width": 2, "color": dark}}
    return {"type": "scatter", "mode": "markers", "name": name, "legendgroup": group, "showlegend": show_legend,
            "x": np.round(X[:, 0], 5).tolist(), "y": np.round(X[:, 1], 5).tolist(), "marker": marker,
            "hovertemplate": hover}


def _curve_figure(snapshot: Mapping[str, Any], X_train: np.ndarray, y_train: Any, X_val: np.ndarray, y_val: Any,
                  standardizer: Any, feature: str, X_all: np.ndarray) -> dict[str, Any]:
    """1 input feature, regression: the fitted curve (first output) over the data."""
    x_range = _padded_range(X_all[:, 0])
    xs = np.linspace(x_range[0], x_range[1], CURVE_POINTS)
    model = model_from_snapshot(snapshot)
    P = np.asarray(model.predict(_standardize(standardizer, xs[:, None])), dtype=np.float64).reshape(len(xs), -1)
    t_train = np.asarray(y_train, dtype=np.float64).reshape(len(X_train), -1)[:, 0]
    traces: list[dict[str, Any]] = [{
        "type": "scatter", "mode": "markers", "name": "training", "x": np.round(X_train[:, 0], 5).tolist(),
        "y": np.round(t_train, 5).tolist(), "marker": {"size": 6, "color": "#2563eb", "opacity": 0.75,
                                                       "line": {"width": 0.5, "color": "#ffffff"}},
        "hovertemplate": f"{feature} %{{x:.3g}}<br>y %{{y:.4g}}, training<extra></extra>"}]
    if len(X_val):
        t_val = np.asarray(y_val, dtype=np.float64).reshape(len(X_val), -1)[:, 0]
        traces.append({"type": "scatter", "mode": "markers", "name": "validation",
                       "x": np.round(X_val[:, 0], 5).tolist(), "y": np.round(t_val, 5).tolist(),
                       "marker": {"size": 7, "symbol": "circle-open", "color": "#ea580c",
                                  "line": {"width": 1.8, "color": "#ea580c"}},
                       "hovertemplate": f"{feature} %{{x:.3g}}<br>y %{{y:.4g}}, validation<extra></extra>"})
    traces.append({"type": "scatter", "mode": "lines", "name": "network", "x": np.round(xs, 5).tolist(),
                   "y": np.round(P[:, 0], 5).tolist(), "line": {"color": "#0f172a", "width": 3},
                   "hovertemplate": f"{feature} %{{x:.3g}}<br>predicted %{{y:.4g}}<extra></extra>"})
    ys = np.concatenate([t_train, P[:, 0][np.isfinite(P[:, 0])]])
    layout = _regions_layout("Fitted curve over the data", feature, "y", x_range, _padded_range(ys))
    layout["width"] = REGION_WIDE
    return {"data": traces, "layout": layout}
