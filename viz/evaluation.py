"""How well a classifier does, class by class, and where it goes wrong, as plain
figure dicts and table rows (ready for JSON: floats rounded with ``plain``, nothing
that is not finite).

* :func:`predictions` - the predicted classes from a model's outputs (one sigmoid
  column: threshold 0.5, as the decision-region figure does; else the argmax);
* :func:`evaluate` - the confusion matrix (every class, also one without samples),
  per-class precision, recall, F1 and support, macro F1 and accuracy (scikit-learn);
* :func:`confusion_figure`, :func:`per_class_table` - that result drawn and tabulated;
* :func:`misclassified_images_figure`, :func:`misclassified_texts`,
  :func:`misclassified_points_trace` - the samples it got wrong, for image, text and
  2-D point data (the trace is appended to the decision-regions figure's ``data``);
* :func:`input_weights_figure` - what each first-layer unit looks for in an image:
  its incoming weights drawn in the input's shape.
"""
from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import numpy as np

from .conv import _rgb_255
from .style import GAP_COLOR, GRAY_SCALE, SIGNED_SCALE, base_layout, count_text, muted, note_figure, plain

CONFUSION_TEXT_UP_TO = 20       # classes whose confusion cells still get their count written in
# The diagonal: the share of a class got right (pale blue at 0, deep blue at 1).
CORRECT_SCALE = [[0.0, "#eff6ff"], [0.5, "#93c5fd"], [1.0, "#1d4ed8"]]
# Off the diagonal: the share of a class sent to another; only cells with a count are drawn, and
# even one mistake in a big class is tinted (the scale is steep near 0).
CONFUSED_SCALE = [[0.0, "#fdebd8"], [0.2, "#f9a66c"], [0.5, "#ea580c"], [1.0, "#7c2d12"]]
DIAGONAL_LINE = "#0f172a"
RING_COLOR = "#0f172a"
TILES_PER_ROW = 8
TILE_TITLE_PX = 18
NOMINAL_WIDTH_PX = 860
TEXT_MAX_CHARS = 300            # a misclassified sentence longer than this is cut (with an ellipsis)


# ---------------------------------------------------------------- predictions and metrics

def predictions(P: Any) -> np.ndarray:
    """Predicted class indices (int64) from a model's outputs ``P`` (n, k): with one
    column (a sigmoid unit, P(class 1)) class 1 where P >= 0.5; otherwise the column
    of the largest output. A 1-D ``P`` is taken as that one column."""
    P = np.asarray(P, dtype=np.float64)
    if P.ndim == 1:
        P = P[:, None]
    if P.ndim != 2:
        raise ValueError(f"outputs must have shape (samples, units), got {P.shape}")
    if P.shape[1] == 1:
        return (P[:, 0] >= 0.5).astype(np.int64)
    if P.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    if P.shape[1] == 0:
        raise ValueError("outputs have no columns")
    return np.argmax(np.where(np.isnan(P), -np.inf, P), axis=1).astype(np.int64)


def _labels(y: Any, what: str) -> np.ndarray:
    a = np.asarray(y)
    if a.ndim > 1:
        if a.ndim == 2 and a.shape[1] == 1:
            a = a[:, 0]
        else:
            raise ValueError(f"{what} must be class indices, one per sample (got shape {a.shape})")
    a = a.reshape(-1)
    if a.size and not np.all(np.isfinite(a.astype(np.float64))):
        raise ValueError(f"{what} has values that are not finite")
    out = a.astype(np.int64)
    if a.size and not np.array_equal(out, a.astype(np.float64)):
        raise ValueError(f"{what} must be whole class indices")
    return out


def _names(class_names: Optional[Sequence[Any]], *labels: np.ndarray) -> list[str]:
    if class_names is not None and len(class_names):
        return [str(c) for c in class_names]
    top = max((int(a.max()) for a in labels if a.size), default=-1)
    return [str(k) for k in range(max(top + 1, 1))]


def evaluate(y_true: Any, y_pred: Any, class_names: Optional[Sequence[Any]]) -> dict[str, Any]:
    """Scores of predictions ``y_pred`` against ``y_true`` (class indices 0..k-1, k =
    ``len(class_names)``; None names the classes "0".."k-1" from the largest label).

    Returns a JSON-ready dict (exact values, not rounded)::

        {"class_names": [...], "n_classes": k, "n": n,
         "confusion": [[int]*k]*k,           # row: true class, column: predicted class
         "precision": [...], "recall": [...], "f1": [...], "support": [...],   # per class
         "macro_f1": float, "accuracy": float}

    Every class has its row and column, also one without samples. Scikit-learn's rules
    (``labels=range(k)``, ``zero_division=0``): a class never predicted has precision 0,
    one without samples recall 0, and such classes count in the macro F1 with their F1.
    With no samples at all, ``accuracy`` and ``macro_f1`` are None. A label outside
    0..k-1 raises ValueError (scikit-learn would silently drop the sample)."""
    from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

    t, p = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} labels, y_pred {p.size}")
    names = _names(class_names, t, p)
    k = len(names)
    for a, what in ((t, "y_true"), (p, "y_pred")):
        if a.size and (a.min() < 0 or a.max() >= k):
            raise ValueError(f"{what} has class {int(a.min() if a.min() < 0 else a.max())}, "
                             f"but there are {k} classes (0..{k - 1})")
    n = int(t.size)
    result: dict[str, Any] = {"class_names": names, "n_classes": k, "n": n}
    if n == 0:
        zeros = [0.0] * k
        result.update(confusion=[[0] * k for _ in range(k)], precision=list(zeros), recall=list(zeros),
                      f1=list(zeros), support=[0] * k, macro_f1=None, accuracy=None)
        return result
    labels = list(range(k))
    cm = confusion_matrix(t, p, labels=labels)
    precision, recall, f1, support = precision_recall_fscore_support(t, p, labels=labels, zero_division=0)
    macro = f1_score(t, p, labels=labels, average="macro", zero_division=0)
    result.update(confusion=[[int(v) for v in row] for row in cm],
                  precision=[float(v) for v in precision], recall=[float(v) for v in recall],
                  f1=[float(v) for v in f1], support=[int(v) for v in support],
                  macro_f1=float(macro), accuracy=float(np.trace(cm)) / n)
    return result


def per_class_table(result: dict[str, Any], digits: int = 3, average_row: bool = False) -> list[dict[str, Any]]:
    """One row per class for a table: ``{"class", "precision", "recall", "f1", "support"}``,
    the scores rounded to ``digits`` decimals. ``average_row`` adds a last row
    ``{"class": "macro average", ...}`` (the unweighted mean of the class scores, its
    support the number of samples)."""
    rows = []
    for k, name in enumerate(result["class_names"]):
        rows.append({"class": str(name), "precision": round(float(result["precision"][k]), digits),
                     "recall": round(float(result["recall"][k]), digits),
                     "f1": round(float(result["f1"][k]), digits), "support": int(result["support"][k])})
    if average_row and rows:
        rows.append({"class": "macro average",
                     "precision": round(float(np.mean(result["precision"])), digits),
                     "recall": round(float(np.mean(result["recall"])), digits),
                     "f1": round(float(np.mean(result["f1"])), digits), "support": int(result["n"])})
    return rows


# ---------------------------------------------------------------- confusion matrix

def _escape(text: str) -> str:
    """Plotly reads names as a little HTML: show a class name as it is."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _short(text: str, limit: int = 14) -> str:
    text = str(text)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _cell_font(k: int) -> int:
    return 14 if k <= 5 else 12 if k <= 10 else 10 if k <= 15 else 9


def row_shares(confusion: Sequence[Sequence[int]]) -> np.ndarray:
    """Each row of the confusion matrix divided by its sum (the share of the true class
    predicted as each class); a row without samples is all 0."""
    cm = np.asarray(confusion, dtype=np.float64)
    totals = cm.sum(axis=1, keepdims=True)
    return np.divide(cm, totals, out=np.zeros_like(cm), where=totals > 0)


def confusion_figure(result: dict[str, Any], title: str = "Confusion matrix (validation)") -> dict[str, Any]:
    """The confusion matrix of :func:`evaluate`'s ``result``: rows are the true class
    (top to bottom), columns the predicted class, each cell coloured by its share of
    the true class's samples (so a small class reads as well as a big one) - blue on
    the diagonal (right), orange off it (confused), the diagonal cells outlined - with
    the count written in (up to :data:`CONFUSION_TEXT_UP_TO` classes; beyond, the hover
    tells). Two heatmap traces: ``"correct"`` (the diagonal, None elsewhere) and
    ``"confused"`` (the off-diagonal cells with a count; empty cells are None, left
    blank on the white background); x and y are class indices, ticks the class names."""
    names = [str(c) for c in result["class_names"]]
    k, n = len(names), int(result["n"])
    if n == 0 or k == 0:
        return note_figure("No samples to evaluate: the confusion matrix needs labelled validation samples.",
                           title)
    cm = np.asarray(result["confusion"], dtype=np.int64)
    share = row_shares(cm)
    totals = cm.sum(axis=1)
    diagonal = np.eye(k, dtype=bool)
    write = k <= CONFUSION_TEXT_UP_TO
    labels = [_escape(c) for c in names]

    data = []
    for name, part, scale in (("correct", diagonal, CORRECT_SCALE), ("confused", ~diagonal & (cm > 0),
                                                                      CONFUSED_SCALE)):
        z = np.where(part, share, np.nan)
        text = [[str(int(cm[i, j])) if part[i, j] else "" for j in range(k)] for i in range(k)]
        hover = [[(f"true {labels[i]}, predicted {labels[j]}<br>{int(cm[i, j]):,} of {int(totals[i]):,} "
                   f"({100 * share[i, j]:.1f}%)" if totals[i] else
                   f"true {labels[i]}, predicted {labels[j]}<br>no samples of {labels[i]}") if part[i, j] else ""
                  for j in range(k)] for i in range(k)]
        trace = {"type": "heatmap", "name": name, "x": list(range(k)), "y": list(range(k)), "z": plain(z),
                 "zmin": 0, "zmax": 1, "colorscale": scale, "showscale": False, "hoverongaps": False,
                 "xgap": 1 if k <= 50 else 0, "ygap": 1 if k <= 50 else 0,
                 "text": text, "hovertext": hover, "hovertemplate": "%{hovertext}<extra></extra>"}
        if write:
            trace["texttemplate"] = "%{text}"
            trace["textfont"] = {"size": _cell_font(k)}
        data.append(trace)

    # the diagonal's cells outlined in one path
    path = " ".join(f"M{i - 0.5},{i - 0.5}H{i + 0.5}V{i + 0.5}H{i - 0.5}Z" for i in range(k))
    shapes = [{"type": "path", "path": path, "xref": "x", "yref": "y", "line": {"color": DIAGONAL_LINE,
               "width": 1.5 if k <= 30 else 0.8}, "fillcolor": "rgba(0,0,0,0)", "layer": "above"}]

    step = max(1, math.ceil(k / 30))              # at most ~30 tick labels an axis
    ticks = list(range(0, k, step))
    ticktext = [_escape(_short(names[i])) for i in ticks]
    tick_size = 12 if k <= 10 else 10 if k <= 30 else 9
    longest = max(len(_short(names[i])) for i in ticks)
    side = int(np.clip(34 * k, 220, 620))           # px of the (square) plot area
    margin = {"l": int(np.clip(36 + 7 * longest, 60, 160)), "r": 16, "t": 64,
              "b": int(np.clip(40 + (6 * longest if k > 6 else 0), 56, 150))}
    common = {"tickmode": "array", "tickvals": ticks, "ticktext": ticktext, "tickfont": {"size": tick_size},
              "showgrid": False, "zeroline": False, "showline": False, "ticks": "", "constrain": "domain",
              "range": [-0.5, k - 0.5]}
    xaxis = dict(common, title={"text": "predicted class"}, tickangle=-45 if k > 6 else 0, side="bottom",
                 constraintoward="left")
    yaxis = dict(common, title={"text": "true class"}, range=[k - 0.5, -0.5], scaleanchor="x", scaleratio=1)

    accuracy, macro = result.get("accuracy"), result.get("macro_f1")
    facts = [f"accuracy {100 * accuracy:.1f}%" if accuracy is not None else "",
             f"macro F1 {macro:.3f}" if macro is not None else "", f"n = {n:,}"]
    colour = "colour: share of the true class, blue right, orange confused"
    if not write:
        colour += "; counts in the hover"
    absent = [labels[i] for i in range(k) if totals[i] == 0]
    heading = (f"{title} · " + muted(" · ".join(f for f in facts if f)) + "<br>" +
               muted(colour + (f" · {len(absent)} class{'es' if len(absent) != 1 else ''} without samples"
                               if absent else ""), 10))
    layout = base_layout(heading, side + margin["t"] + margin["b"], margin=margin, xaxis=xaxis, yaxis=yaxis,
                         shapes=shapes, uirevision=f"confusion:{k}",
                         meta={"n": n, "n_classes": k, "accuracy": accuracy, "macro_f1": macro})
    return {"data": data, "layout": layout}


# ---------------------------------------------------------------- misclassified samples

def _misclassified(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t, p = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} labels, y_pred {p.size}")
    return t, p, np.flatnonzero(t != p)


def _name(names: Sequence[str], k: int) -> str:
    return str(names[k]) if 0 <= k < len(names) else str(k)


def _tile_grid(n: int, aspect: float, per_row: int = TILES_PER_ROW, max_tile_px: int = 96,
               margin: Optional[dict] = None) -> tuple[list[tuple[tuple[float, float], tuple[float, float]]], int,
                                                      dict]:
    """Domains (x, y) of ``n`` tiles ``per_row`` a row with a title strip above each,
    ``aspect`` = height / width of a tile, and the figure's height."""
    margin = margin or {"l": 12, "r": 12, "t": 64, "b": 8}
    cols = max(1, min(n, per_row))
    rows = -(-n // cols)
    plot_w = NOMINAL_WIDTH_PX - margin["l"] - margin["r"]
    tile_w = min(plot_w / per_row * 0.86, max_tile_px)
    tile_h = tile_w * aspect
    row_px = tile_h + TILE_TITLE_PX
    plot_h = rows * row_px + 4
    height = int(round(plot_h + margin["t"] + margin["b"]))
    cell = 1.0 / per_row if n >= per_row else min(1.0 / per_row, 1.0 / cols)
    domains = []
    for i in range(n):
        r, c = divmod(i, cols)
        x0 = c * cell + (cell - tile_w / plot_w) / 2
        top = 1.0 - (r * row_px + TILE_TITLE_PX) / plot_h
        domains.append(((round(max(x0, 0.0), 4), round(min(x0 + tile_w / plot_w, 1.0), 4)),
                        (round(max(top - tile_h / plot_h, 0.0), 4), round(top, 4))))
    return domains, height, margin


def _tile_axes(x_domain, y_domain, xa: str, ya: str) -> tuple[dict, dict]:
    common = {"showticklabels": False, "showgrid": False, "zeroline": False, "showline": False, "ticks": "",
              "constrain": "domain"}
    x = dict(common, domain=list(x_domain), anchor=ya, constraintoward="center")
    y = dict(common, domain=list(y_domain), anchor=xa, autorange="reversed", scaleanchor=xa, scaleratio=1,
             constraintoward="top")
    return x, y


def _tile_title(text: str, x_domain, y_top: float, size: int = 10) -> dict[str, Any]:
    return {"text": text, "showarrow": False, "xref": "paper", "yref": "paper",
            "x": round((x_domain[0] + x_domain[1]) / 2, 4), "y": round(y_top, 4), "xanchor": "center",
            "yanchor": "bottom", "font": {"size": size}}


def _axis_names(i: int) -> tuple[str, str, str]:
    """Trace axis ids and the layout key suffix of tile ``i`` (0 -> x, y, '')."""
    suffix = "" if i == 0 else str(i + 1)
    return "x" + suffix, "y" + suffix, suffix


def _image_stack(images: Any, n: int, image_shape: Sequence[int]) -> np.ndarray:
    """The images as (n, h, w, c) float64."""
    shape = tuple(int(s) for s in image_shape)
    if len(shape) == 2:
        shape = shape + (1,)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"image_shape must be (height, width) or (height, width, channels), got {image_shape}")
    a = np.asarray(images, dtype=np.float64)
    if a.shape[0] != n:
        raise ValueError(f"there are {a.shape[0]} images but {n} labels")
    if int(np.prod(a.shape[1:])) != int(np.prod(shape)):
        raise ValueError(f"images of shape {a.shape[1:]} do not have shape {tuple(image_shape)}")
    return a.reshape((n,) + shape)


def misclassified_images_figure(images: Any, y_true: Any, y_pred: Any, class_names: Optional[Sequence[Any]],
                                image_shape: Sequence[int], max_items: int = 24,
                                title: str = "Misclassified samples", indices: Optional[Sequence[int]] = None,
                                n_samples: Optional[int] = None, n_wrong: Optional[int] = None) -> dict[str, Any]:
    """A grid of the first ``max_items`` images the model got wrong, in sample order,
    each titled "true 3 → pred 8" (class names).

    ``images`` (n, ...) are the samples as loaded (e.g. ``probe["samples"]["images"]``),
    each reshaped to ``image_shape``: (h, w) or (h, w, 1) is drawn as a grey heatmap,
    every tile on one grey scale from the lowest to the highest shown value; 3 (or 4:
    alpha dropped) channels as an RGB ``image`` trace (values in [0, 1] times 255,
    values in [0, 255] as they are, anything else stretched over the shown images);
    any other channel count as the mean of its channels. One trace per tile (axes x,
    x2, ...); ``layout.meta.indices`` lists the samples shown. No mistake: a note.

    When ``images`` are a subset of a split (the mistakes a run kept), ``indices`` says
    where each sits in the split, ``n_samples`` and ``n_wrong`` how many samples and
    mistakes the split has: the heading, hovers and meta then speak of the split."""
    t, p, wrong = _misclassified(y_true, y_pred)
    names = _names(class_names, t, p)
    stack = _image_stack(images, t.size, image_shape)
    if t.size == 0:
        return note_figure("No samples to look at.", title)
    if wrong.size == 0:
        return note_figure(f"No mistakes: all {t.size:,} samples are classified correctly.", title)
    shown = wrong[:max(1, int(max_items))]
    h, w, c = stack.shape[1:]
    picked = stack[shown]
    rgb = c in (3, 4)
    if rgb:
        pixels = _rgb_255(picked[..., :3])
    else:
        grey = picked[..., 0] if c == 1 else picked.mean(axis=3)
        finite = grey[np.isfinite(grey)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if hi <= lo:
            hi = lo + 1.0
    domains, height, margin = _tile_grid(len(shown), h / w)
    data, annotations, axes = [], [], {}
    for i, index in enumerate(shown):
        xa, ya, suffix = _axis_names(i)
        label = f"true {_escape(_name(names, t[index]))} → pred {_escape(_name(names, p[index]))}"
        sample = int(indices[index]) if indices is not None else int(index)
        hover = f"sample {sample}<br>{label}<br>row %{{y}}, column %{{x}}"
        if rgb:
            trace = {"type": "image", "z": pixels[i].tolist(), "colormodel": "rgb",
                     "hovertemplate": hover + "<br>RGB %{z}<extra></extra>"}
        else:
            trace = {"type": "heatmap", "z": plain(grey[i]), "colorscale": GRAY_SCALE, "zmin": lo, "zmax": hi,
                     "showscale": False, "hoverongaps": False,
                     "hovertemplate": hover + "<br>value %{z:.4g}<extra></extra>"}
        trace.update(name=f"sample {sample}", xaxis=xa, yaxis=ya,
                     meta={"index": sample, "true": int(t[index]), "pred": int(p[index])})
        data.append(trace)
        (x_domain, y_domain) = domains[i]
        axes["xaxis" + suffix], axes["yaxis" + suffix] = _tile_axes(x_domain, y_domain, xa, ya)
        annotations.append(_tile_title(label, x_domain, y_domain[1]))
    what = f"{h}×{w}" + (" RGB" if rgb else "" if c == 1 else f", mean of {c} channels")
    total = int(n_wrong) if n_wrong is not None else int(wrong.size)
    n = int(n_samples) if n_samples is not None else int(t.size)
    heading = (f"{title} · " + muted(f"{count_text(len(shown), total, 'mistake')} in {n:,} samples "
                                     f"({100 * total / n:.1f}%) · {what}"))
    at = [int(indices[i]) if indices is not None else int(i) for i in shown]
    layout = base_layout(heading, height, margin=margin, annotations=annotations, showlegend=False,
                         plot_bgcolor="white", meta={"indices": at, "total": total, "n": n}, **axes)
    return {"data": data, "layout": layout}


def misclassified_texts(texts: Sequence[Any], y_true: Any, y_pred: Any, class_names: Optional[Sequence[Any]],
                        max_items: int = 20) -> list[dict[str, Any]]:
    """The first ``max_items`` sentences the model got wrong, in sample order, as table
    rows ``{"index", "text", "true", "predicted"}`` (class names; ``index`` the sample's
    position; a text longer than 300 characters is cut with "…"). [] when none."""
    t, p, wrong = _misclassified(y_true, y_pred)
    texts = list(texts)
    if len(texts) != t.size:
        raise ValueError(f"there are {len(texts)} texts but {t.size} labels")
    names = _names(class_names, t, p)
    rows = []
    for index in wrong[:max(0, int(max_items))]:
        text = str(texts[index])
        if len(text) > TEXT_MAX_CHARS:
            text = text[:TEXT_MAX_CHARS - 1] + "…"
        rows.append({"index": int(index), "text": text, "true": _name(names, t[index]),
                     "predicted": _name(names, p[index])})
    return rows


def misclassified_points_trace(X2: Any, y_true: Any, y_pred: Any,
                               class_names: Optional[Sequence[Any]] = None) -> dict[str, Any]:
    """A scatter trace of rings (open circles with a thick dark outline) around the 2-D
    points the model got wrong, to append to the decision-regions figure's ``data``.

    ``X2`` (n, 2) in the figure's units (the data as loaded, e.g.
    ``probe["points"]["X_val"]``), ``y_true`` / ``y_pred`` their classes; the hover
    reads "true a, predicted b". Named "misclassified" (one legend entry, so the rings
    can be hidden); ``meta.count`` is how many there are (the trace is empty when
    there are none, and still safe to append)."""
    t, p, wrong = _misclassified(y_true, y_pred)
    X = np.asarray(X2, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] != t.size or X.shape[1] < 2:
        raise ValueError(f"X2 must have shape ({t.size}, 2), got {X.shape}")
    names = _names(class_names, t, p)
    text = [f"true {_escape(_name(names, t[i]))}, predicted {_escape(_name(names, p[i]))}" for i in wrong]
    return {"type": "scatter", "mode": "markers", "name": "misclassified", "legendgroup": "misclassified",
            "showlegend": True, "x": plain(X[wrong, 0]), "y": plain(X[wrong, 1]), "text": text,
            "customdata": [int(i) for i in wrong],
            "marker": {"symbol": "circle-open", "size": 14, "color": RING_COLOR,
                       "line": {"width": 2.5, "color": RING_COLOR}},
            "hovertemplate": "%{text}<extra>misclassified</extra>",
            "meta": {"count": int(wrong.size), "n": int(t.size)}}


# ---------------------------------------------------------------- first-layer weights

def _symmetric_max(values: np.ndarray) -> float:
    finite = np.abs(values[np.isfinite(values)])
    m = float(finite.max()) if finite.size else 0.0
    return m if m > 0 else 1.0


def unit_image(W: Any, j: int, image_shape: Sequence[int]) -> np.ndarray:
    """Column ``j`` of ``W`` (n_inputs, n_units) as a (h, w) picture: the weights in the
    input's row-major order (h, w, c), the channels averaged when there are several."""
    W = np.asarray(W, dtype=np.float64)
    shape = tuple(int(s) for s in image_shape)
    img = W[:, j].reshape(shape)
    return img.mean(axis=2) if img.ndim == 3 else img


def input_weights_figure(W: Any, image_shape: Sequence[int], units: Optional[Sequence[int]] = None,
                         max_units: int = 64, title: str = "First-layer weights per unit") -> dict[str, Any]:
    """What each first-layer unit looks for: column j of ``W`` (n_inputs, n_units), the
    weights into unit j, drawn as an image of the input's ``image_shape`` ((h, w) or
    (h, w, c), flattened row-major, as Flatten does) in a grid, unit number above.

    Every unit has its own diverging scale symmetric about 0 (orange < 0, white 0,
    blue > 0, ``zmid`` 0), so a unit with small weights still shows its pattern.
    With several channels (RGB) the picture is the mean of the channels' weights:
    the unit's response to a grey change of brightness (divided by the channel count).
    Shows the first ``max_units`` units, or those of ``units`` (at most ``max_units``
    of them, in the order given); the subtitle says how many of how many. One heatmap
    trace per unit (axes x, x2, ...), its ``meta.unit`` the unit's index."""
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2:
        raise ValueError(f"W must have shape (n_inputs, n_units), got {W.shape}")
    shape = tuple(int(s) for s in image_shape)
    if len(shape) not in (2, 3) or int(np.prod(shape)) != W.shape[0]:
        raise ValueError(f"W has {W.shape[0]} inputs, which is not an image of shape {tuple(image_shape)}")
    total = W.shape[1]
    if total == 0:
        return note_figure("The layer has no units.", title)
    limit = max(1, int(max_units))
    if units is None:
        chosen = list(range(min(total, limit)))
    else:
        chosen = [int(u) for u in units]
        bad = [u for u in chosen if not 0 <= u < total]
        if bad:
            raise ValueError(f"unit {bad[0]} does not exist: the layer has {total} units (0..{total - 1})")
        if not chosen:
            return note_figure("No units picked.", title)
        chosen = chosen[:limit]
    h, w = shape[0], shape[1]
    channels = shape[2] if len(shape) == 3 else 1
    domains, height, margin = _tile_grid(len(chosen), h / w)
    data, annotations, axes = [], [], {}
    for i, unit in enumerate(chosen):
        img = unit_image(W, unit, shape)
        m = _symmetric_max(img)
        xa, ya, suffix = _axis_names(i)
        data.append({"type": "heatmap", "name": f"unit {unit}", "z": plain(img), "colorscale": SIGNED_SCALE,
                     "zmin": -m, "zmax": m, "zmid": 0, "showscale": False, "hoverongaps": False,
                     "xaxis": xa, "yaxis": ya, "meta": {"unit": unit, "max_abs": plain(m)},
                     "hovertemplate": f"unit {unit} · row %{{y}}, column %{{x}}<br>weight %{{z:.4g}}"
                                      f"<extra>±{m:.3g}</extra>"})
        x_domain, y_domain = domains[i]
        axes["xaxis" + suffix], axes["yaxis" + suffix] = _tile_axes(x_domain, y_domain, xa, ya)
        annotations.append(_tile_title(f"unit {unit}", x_domain, y_domain[1]))
    picked = "picked " if units is not None else ""
    what = f"{h}×{w}" + (f", mean of {channels} channels" if channels > 1 else "")
    shown_text = count_text(len(chosen), total, "unit")
    if units is None and len(chosen) < total:
        shown_text += f" (the first {len(chosen)})"
    elif units is not None and len(chosen) < len(units):
        shown_text += f" (the first {len(chosen)} of {len(units)} picked)"
    heading = (f"{title} · " + muted(f"{picked}{shown_text} · {what}") + "<br>" +
               muted("each unit on its own scale: orange &lt; 0, white 0, blue &gt; 0", 10))
    layout = base_layout(heading, height, margin=margin, annotations=annotations, showlegend=False,
                         plot_bgcolor=GAP_COLOR, meta={"units": chosen, "total": total}, **axes)
    return {"data": data, "layout": layout}


__all__ = ["CONFUSION_TEXT_UP_TO", "confusion_figure", "evaluate", "input_weights_figure",
           "misclassified_images_figure", "misclassified_points_trace", "misclassified_texts", "per_class_table",
           "predictions", "row_shares", "unit_image"]
