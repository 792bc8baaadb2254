"""A layer's histograms over a run (``dashboard.timeline``'s data), three ways:

* :func:`offset_figure` - the ridgeline (TensorBoard's "offset" view): one histogram per
  kept step, the later ones lower down and darker, at most ``MAX_RIDGES`` of them
  spread evenly over the run;
* :func:`bands_figure` - the distribution view: percentile bands over the steps
  (max, 93, 84, 69, 50, 31, 16, 7, min), every kept step;
* :func:`now_vs_start_figure` - the histogram at a step over the first one.

Every builder takes one layer's entry of the timeline (``layer``), the kind
(``params``, ``grads``, ``acts``) and the timeline's ``steps``/``epochs``; returns a
plain figure dict.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import numpy as np

from .style import GRADIENT_COLOR, WEIGHT_COLOR, WHITE_AXIS, base_layout, muted, note_figure, plain

KIND_NAMES = {"params": "weights", "grads": "gradients", "acts": "activations"}
KIND_COLORS = {"params": WEIGHT_COLOR, "grads": GRADIENT_COLOR, "acts": "#059669"}
MAX_RIDGES = 40
HEIGHT = 380
BAND_SHADES = (0.18, 0.32, 0.5, 0.75)      # opacity of the bands, outermost first


def _rgba(color: str, alpha: float) -> str:
    color = color.lstrip("#")
    r, g, b = (int(color[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha:.3f})"


def _centers(edges: Sequence[float]) -> np.ndarray:
    edges = np.asarray(edges, dtype=np.float64)
    return (edges[:-1] + edges[1:]) / 2


def _x_title(kind: str) -> str:
    return {"params": "weight value", "grads": "gradient value", "acts": "activation value"}[kind]


def ridge_steps(n_steps: int, limit: int = MAX_RIDGES) -> list[int]:
    """Indices of the steps the offset view draws: all of them up to ``limit``, else
    ``limit`` spread evenly, the first and the last among them."""
    if n_steps <= limit:
        return list(range(n_steps))
    return sorted({int(round(i)) for i in np.linspace(0, n_steps - 1, limit)})


def _heading(kind: str, title: str) -> str:
    return f"{KIND_NAMES[kind].capitalize()} over time · {title}"


def _missing(layer: Mapping[str, Any], kind: str) -> Optional[str]:
    entry = layer.get(kind) or {}
    if entry.get("edges") is None or not len(entry.get("counts", [])):
        return {"grads": "No gradients yet: they come with the first batch.",
                "acts": "No activations kept for this run."}.get(kind, "Nothing kept yet.")
    return None


def offset_figure(layer: Mapping[str, Any], kind: str, steps: Sequence[int], epochs: Sequence[float],
                  title: str, selected: Optional[int] = None) -> dict[str, Any]:
    """The ridgeline: a line per drawn step, offset downwards as the run goes on;
    ``selected`` (a step index) is drawn thick and black."""
    note = _missing(layer, kind)
    if note:
        return note_figure(note, _heading(kind, title), HEIGHT)
    entry = layer[kind]
    counts = np.asarray(entry["counts"], dtype=np.float64)
    x = _centers(entry["edges"])
    chosen = ridge_steps(len(counts))
    if selected is not None and 0 <= selected < len(counts) and selected not in chosen:
        chosen = sorted(chosen + [selected])
    peak = max(float(counts[chosen].max()), 1.0)
    gap = 0.35 * peak        # each ridge sits this far below the one before
    traces = []
    for rank, i in enumerate(chosen):
        share = rank / max(len(chosen) - 1, 1)
        base = -rank * gap
        is_selected = i == selected
        color = "#0f172a" if is_selected else _rgba(KIND_COLORS[kind], 0.25 + 0.75 * share)
        traces.append({"type": "scatter", "mode": "lines", "x": plain(x), "y": plain(counts[i] + base),
                       "line": {"color": color, "width": 2.5 if is_selected else 1.2, "shape": "hvh"},
                       "name": f"step {steps[i]}", "showlegend": False,
                       "customdata": plain(counts[i]),
                       "hovertemplate": f"step {steps[i]} · epoch {epochs[i]:.2f}<br>%{{x:.4g}}: "
                                        f"%{{customdata}}<extra></extra>"})
    ticks = [-r * gap for r in range(0, len(chosen), max(1, len(chosen) // 6))]
    labels = [f"step {steps[chosen[round(-t / gap)]]}" for t in ticks]
    subtitle = muted(f"· {len(chosen)} of {len(counts)} kept steps, later ones lower and darker")
    layout = base_layout(f"{_heading(kind, title)} {subtitle}", HEIGHT,
                         margin={"l": 80, "r": 20, "t": 56, "b": 44}, showlegend=False,
                         xaxis={**WHITE_AXIS, "title": {"text": _x_title(kind)}},
                         yaxis={**WHITE_AXIS, "tickvals": plain(ticks), "ticktext": labels, "zeroline": False})
    return {"data": traces, "layout": layout}


def bands_figure(layer: Mapping[str, Any], kind: str, steps: Sequence[int], epochs: Sequence[float],
                 title: str, percentiles: Sequence[float], selected: Optional[int] = None) -> dict[str, Any]:
    """Percentile bands over the run: min-max, 7-93, 16-84, 31-69, and the median line."""
    note = _missing(layer, kind) if kind != "grads" else None
    bands = np.asarray((layer.get(kind) or {}).get("bands", []), dtype=np.float64)
    if note or not len(bands):
        return note_figure(note or "Nothing kept yet.", f"{KIND_NAMES[kind].capitalize()} percentiles · {title}",
                           HEIGHT)
    x = plain(list(steps))
    column = {p: j for j, p in enumerate(percentiles)}
    pairs = [(100, 0), (93, 7), (84, 16), (69, 31)]
    color = KIND_COLORS[kind]
    traces = []
    for (high, low), alpha in zip(pairs, BAND_SHADES):
        traces.append({"type": "scatter", "mode": "lines", "x": x, "y": plain(bands[:, column[low]]),
                       "line": {"width": 0}, "hoverinfo": "skip", "showlegend": False})
        traces.append({"type": "scatter", "mode": "lines", "x": x, "y": plain(bands[:, column[high]]),
                       "line": {"width": 0}, "fill": "tonexty", "fillcolor": _rgba(color, alpha),
                       "name": "min-max" if high == 100 else f"{low}-{high}%",
                       "hovertemplate": f"step %{{x}}<br>{high}%: %{{y:.4g}}<extra></extra>"})
    traces.append({"type": "scatter", "mode": "lines", "x": x, "y": plain(bands[:, column[50]]),
                   "line": {"color": color, "width": 2}, "name": "median",
                   "hovertemplate": "step %{x}<br>median: %{y:.4g}<extra></extra>"})
    shapes = []
    if selected is not None and 0 <= selected < len(steps):
        shapes.append({"type": "line", "xref": "x", "yref": "paper", "x0": steps[selected], "x1": steps[selected],
                       "y0": 0, "y1": 1, "line": {"color": "#0f172a", "width": 1.5, "dash": "dot"}})
    layout = base_layout(f"{KIND_NAMES[kind].capitalize()} percentiles · {title} "
                         f"{muted('· bands: min-max, 7-93, 16-84, 31-69 %; line: median')}", HEIGHT,
                         margin={"l": 60, "r": 20, "t": 56, "b": 44}, shapes=shapes,
                         legend={"orientation": "h", "y": -0.2, "font": {"size": 10}},
                         xaxis={**WHITE_AXIS, "title": {"text": "step (batches trained)"}},
                         yaxis={**WHITE_AXIS, "title": {"text": _x_title(kind)}})
    return {"data": traces, "layout": layout}


def now_vs_start_figure(layer: Mapping[str, Any], kind: str, steps: Sequence[int], title: str,
                        index: Optional[int] = None) -> dict[str, Any]:
    """The histogram at step ``index`` (the newest when None) over the first step's
    (for gradients, the first step that has any)."""
    note = _missing(layer, kind)
    if note:
        return note_figure(note, f"{KIND_NAMES[kind].capitalize()} now vs start · {title}", HEIGHT)
    entry = layer[kind]
    counts = np.asarray(entry["counts"], dtype=np.float64)
    first = next((i for i in range(len(counts)) if counts[i].sum() > 0), 0)
    now = len(counts) - 1 if index is None else max(0, min(int(index), len(counts) - 1))
    x = plain(_centers(entry["edges"]))
    width = float(entry["edges"][1] - entry["edges"][0])
    traces = [
        {"type": "bar", "x": x, "y": plain(counts[first]), "width": width, "name": f"start (step {steps[first]})",
         "marker": {"color": "rgba(148,163,184,0.55)"}, "hovertemplate": "%{x:.4g}: %{y}<extra>start</extra>"},
        {"type": "bar", "x": x, "y": plain(counts[now]), "width": width, "name": f"step {steps[now]}",
         "marker": {"color": _rgba(KIND_COLORS[kind], 0.6)},
         "hovertemplate": "%{x:.4g}: %{y}<extra>now</extra>"},
    ]
    outside = np.asarray(entry.get("outside", []))
    extra = (f" · {int(outside[now])} values beyond the fixed bins, counted in the outer ones"
             if len(outside) and outside[now] else "")
    subtitle = muted(f"· step {steps[now]} over step {steps[first]}{extra}")
    layout = base_layout(f"{KIND_NAMES[kind].capitalize()} now vs start · {title} {subtitle}", HEIGHT,
                         barmode="overlay", bargap=0, margin={"l": 50, "r": 20, "t": 56, "b": 44},
                         legend={"orientation": "h", "y": -0.2, "font": {"size": 10}},
                         xaxis={**WHITE_AXIS, "title": {"text": _x_title(kind)}},
                         yaxis={**WHITE_AXIS, "title": {"text": "count"}, "rangemode": "tozero"})
    return {"data": traces, "layout": layout}

