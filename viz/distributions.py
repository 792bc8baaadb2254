"""Histograms of each layer's weights and of their gradients.

``histogram_data`` bins on the server (``np.histogram``); ``distribution_spec``
draws one histogram per chosen layer as a plain figure dict (the dashboard's);
``distribution_figure`` wraps it in a ``go.Figure`` for scripts and notebooks.
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from .snapshots import kernel_name, layer_label
from .style import FONT, GRADIENT_COLOR, WEIGHT_COLOR, WHITE_AXIS, fmt

KINDS = {"params": "weights", "grads": "gradients"}
KIND_COLORS = {"params": WEIGHT_COLOR, "grads": GRADIENT_COLOR}


def histogram_data(snapshot: Mapping[str, Any], layer_indices: Optional[Sequence[int]], kind: str,
                   bins: int = 50) -> list[dict]:
    """Per-layer histogram of the weight matrices (``kind="params"``) or of their
    gradients (``kind="grads"``), binned here with ``np.histogram``.

    One dict per requested layer: ``layer``, ``title``, ``array`` (the parameter
    name, e.g. ``"W"``), ``edges`` (bins + 1 floats), ``counts`` (bins ints) and
    the stats ``count``, ``mean``, ``std``, ``min``, ``max``, ``zero_fraction``,
    ``nonfinite`` (values left out of the bins). A layer with no weight matrix
    gets ``edges = counts = None`` and a ``note``. Biases and gains are excluded.
    ``layer_indices=None`` means every layer.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)} (got {kind!r})")
    if not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ValueError(f"bins must be a positive integer (got {bins!r})")
    layers = snapshot["layers"]
    if layer_indices is None:
        layer_indices = range(len(layers))
    out = []
    for idx in layer_indices:
        if not 0 <= idx < len(layers):
            raise ValueError(f"layer index {idx} is out of range (the model has {len(layers)} layers)")
        layer = layers[idx]
        entry: dict[str, Any] = {"layer": int(idx), "title": layer_label(snapshot, idx), "kind": kind,
                                 "array": None, "edges": None, "counts": None, "note": None}
        name = kernel_name(layer.get("params", {}))
        arrays = layer.get(kind, {})
        if name is None or name not in arrays:
            entry["note"] = "no weights"
            out.append(entry)
            continue
        values = np.asarray(arrays[name], dtype=np.float64).ravel()
        finite = values[np.isfinite(values)]
        counts, edges = np.histogram(finite, bins=int(bins))
        entry.update(
            array=name, edges=edges.tolist(), counts=counts.tolist(), count=int(values.size),
            nonfinite=int(values.size - finite.size),
            mean=float(finite.mean()) if finite.size else math.nan,
            std=float(finite.std()) if finite.size else math.nan,
            min=float(finite.min()) if finite.size else math.nan,
            max=float(finite.max()) if finite.size else math.nan,
            zero_fraction=float(np.count_nonzero(finite == 0) / values.size) if values.size else 0.0,
        )
        out.append(entry)
    return out


def _stats_line(entry: Mapping[str, Any]) -> str:
    line = (f"mean {fmt(entry['mean'])} · std {fmt(entry['std'])} · "
            f"[{fmt(entry['min'])}, {fmt(entry['max'])}] · "
            f"n = {entry['count']:,} · {entry['zero_fraction']:.0%} zero")
    if entry["nonfinite"]:
        line += f" · {entry['nonfinite']:,} not finite"
    return line


# plotly_white's look, spelled out: a figure built as a plain dict (not a go.Figure)


def distribution_spec(snapshot: Mapping[str, Any], layer_indices: Optional[Sequence[int]], kind: str,
                      bins: int = 50) -> dict[str, Any]:
    """:func:`distribution_figure` as a plain ``{"data", "layout"}`` dict, for the
    dashboard: no plotly import and no validation (a ``go.Figure`` with subplots
    costs ~100x more to build than this dict)."""
    data = histogram_data(snapshot, layer_indices, kind, bins)
    shown = [d for d in data if d["counts"] is not None]
    skipped = [d for d in data if d["counts"] is None]
    what = KINDS[kind]
    heading = ("Weights" if kind == "params" else "Gradients of the latest batch")
    heading += " <span style='font-size:11px;color:#64748b'>(weight matrices only, biases excluded)</span>"
    rows = max(len(shown), 1)
    height = 130 + 250 * rows
    # Row domains as plotly.subplots.make_subplots(rows, cols=1, vertical_spacing) lays them out.
    spacing = min(105 / (height - 130), 0.3) if rows > 1 else 0.0
    row_height = (1 - spacing * (rows - 1)) / rows
    domains = [(1 - r * (row_height + spacing) - row_height, 1 - r * (row_height + spacing)) for r in range(rows)]
    x_label = "weight value" if kind == "params" else "dL/dw"
    traces: list[dict] = []
    annotations: list[dict] = []
    layout: dict[str, Any] = {}
    for row, (lo, hi) in enumerate(domains, start=1):
        suffix = "" if row == 1 else str(row)
        layout[f"xaxis{suffix}"] = {**WHITE_AXIS, "anchor": f"y{suffix}", "domain": [0.0, 1.0]}
        layout[f"yaxis{suffix}"] = {**WHITE_AXIS, "anchor": f"x{suffix}", "domain": [max(lo, 0.0), hi]}
    for row, d in enumerate(shown, start=1):
        suffix = "" if row == 1 else str(row)
        stats = _stats_line(d)
        if kind == "grads" and d["max"] == 0 and d["min"] == 0:
            stats = "all 0: no batch trained yet · " + stats
        annotations.append({"text": f"{d['title']}: {what}<br><span style='font-size:11px;color:#64748b'>"
                                    f"{stats}</span>",
                            "font": {"size": 16}, "showarrow": False, "x": 0.5, "xanchor": "center",
                            "xref": "paper", "y": domains[row - 1][1], "yanchor": "bottom", "yref": "paper"})
        edges = np.asarray(d["edges"])
        traces.append({
            "type": "bar", "x": ((edges[:-1] + edges[1:]) / 2).tolist(), "y": d["counts"],
            "width": np.diff(edges).tolist(), "name": d["title"], "showlegend": False,
            "xaxis": f"x{suffix}", "yaxis": f"y{suffix}",
            "marker": {"color": KIND_COLORS[kind], "line": {"width": 0}},
            "customdata": np.stack([edges[:-1], edges[1:]], axis=1).tolist(),
            "hovertemplate": "[%{customdata[0]:.4g}, %{customdata[1]:.4g}): %{y:,} values<extra></extra>",
        })
        layout[f"xaxis{suffix}"]["title"] = {"text": x_label, "standoff": 4}
        layout[f"yaxis{suffix}"]["title"] = {"text": "count", "standoff": 15}
    notes = []
    if skipped:
        notes.append("Skipped (no weights): " + ", ".join(d["title"] for d in skipped))
    if not shown:
        notes.insert(0, "No layer with weights selected.")
    if notes:
        annotations.append({"text": "<br>".join(notes), "xref": "paper", "yref": "paper", "x": 0.5,
                            "y": 0.5 if not shown else 0, "yshift": 0 if not shown else -48, "xanchor": "center",
                            "yanchor": "middle" if not shown else "top", "showarrow": False,
                            "font": {"size": 12, "color": "#64748b"}})
        if not shown:
            layout["xaxis"]["visible"] = False
            layout["yaxis"]["visible"] = False
    layout.update(
        title={"text": heading, "x": 0.01, "xanchor": "left", "y": 1, "yref": "container", "yanchor": "top",
               "pad": {"t": 12}, "font": {"size": 15}},
        annotations=annotations, bargap=0, height=height, hovermode="closest", hoverlabel={"align": "left"},
        paper_bgcolor="white", plot_bgcolor="white",
        uirevision=f"{kind}:{[d['layer'] for d in data]}",
        margin={"l": 60, "r": 20, "t": 100, "b": 50 + (30 if skipped and shown else 0)},
        font={"family": FONT, "size": 12, "color": "#2a3f5f"},
    )
    return {"data": traces, "layout": layout}


def distribution_figure(snapshot: Mapping[str, Any], layer_indices: Optional[Sequence[int]], kind: str,
                        bins: int = 50):
    """Plotly figure: one histogram per chosen layer of its weights (``"params"``)
    or weight gradients (``"grads"``), bars from :func:`histogram_data`.
    Layers without weights are skipped and named in a note under the plots.
    (A ``go.Figure`` of :func:`distribution_spec`.)"""
    import plotly.graph_objects as go

    return go.Figure(distribution_spec(snapshot, layer_indices, kind, bins))

