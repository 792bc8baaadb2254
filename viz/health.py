"""Training health over time, per layer, as small multiples (a plain figure dict).

Takes the time series the training job keeps of :func:`engine.health.layer_health`::

    series = [{"step": 120, "epoch": 1.5, "layers": [layer_health dicts]}, ...]

* :func:`health_figure`: one small chart per statistic (gradient norm on a log axis,
  update : weight ratio with the rule-of-thumb band around 1e-3, activation mean,
  activation std, dead %, saturated %, near-zero %), x = step, one line per layer;
  layer ``k`` always has colour ``k`` of :data:`viz.runs.RUN_PALETTE` and one legend
  entry that shows or hides its lines in every chart. A statistic no layer has is
  left out; an empty series gives a note figure.
* :func:`alerts_markup`: :func:`engine.health.alerts` as plain dicts a panel renders.
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from engine.health import DEAD_FRACTION_ALERT, SATURATED_FRACTION_ALERT, UPDATE_RATIO_BAND

from .runs import RUN_PALETTE, _escape
from .style import MUTED_COLOR, WHITE_AXIS, base_layout, muted, note_figure, plain

# (key, chart title, y axis kind): "log" (positive values, log axis), "linear", "percent"
CHARTS = (
    ("grad_norm", "gradient norm ‖∇W‖", "log"),
    ("update_ratio", "update : weight ratio, log10", "linear"),
    ("act_mean", "activation mean", "linear"),
    ("act_std", "activation std", "linear"),
    ("dead_fraction", "dead ReLU units %", "percent"),
    ("saturated_fraction", "saturated tanh/sigmoid outputs %", "percent"),
    ("near_zero_fraction", "near-zero outputs % (|a| < 0.001)", "percent"),
)
ALERT_LINES = {"dead_fraction": DEAD_FRACTION_ALERT, "saturated_fraction": SATURATED_FRACTION_ALERT}
BAND_COLOR = "#16a34a"
BAND_LABEL = "≈1e-3, rule of thumb"
HEADING = "Training health"
COLUMNS = 3
ROW_PX = 190                 # pixels per row of charts, its title included
ROW_HEAD_PX = 26             # the chart title above each chart
ROW_TICKS_PX = 26            # the x tick labels under each chart
COLUMN_GAP = 0.07            # between two columns, as a share of the plot width
MARGIN = {"l": 56, "r": 16, "t": 84, "b": 40}
NOTE_HEIGHT = 220
MAX_POINTS = 600             # a longer series is thinned evenly (the latest record always kept)


def _number(value: Any) -> float:
    if value is None or isinstance(value, bool):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _thin(series: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    if len(series) <= MAX_POINTS:
        return list(series)
    keep = np.unique(np.linspace(0, len(series) - 1, MAX_POINTS).round().astype(int))
    return [series[k] for k in keep]


def _layers_of(record: Mapping[str, Any]) -> dict[int, Mapping[str, Any]]:
    out = {}
    for k, entry in enumerate(record.get("layers") or ()):
        if isinstance(entry, Mapping):
            idx = entry.get("layer", k)
            out[int(idx) if isinstance(idx, (int, np.integer)) and not isinstance(idx, bool) else k] = entry
    return out


def _title_of(layer_titles: Optional[Sequence[Any]], i: int) -> str:
    if layer_titles is not None and i < len(layer_titles) and layer_titles[i]:
        return str(layer_titles[i])
    return f"Layer {i + 1}"


def health_figure(series: Sequence[Mapping[str, Any]], layer_titles: Optional[Sequence[str]] = None,
                  columns: int = COLUMNS, heading: str = HEADING) -> dict[str, Any]:
    """Small multiples of the layers' health statistics over training steps.

    ``layer_titles[i]`` names layer ``i`` in the legend (e.g. ``viz.snapshots.layer_label``);
    missing ones read "Layer i+1". One trace per layer and chart, ``meta = {"stat", "layer"}``;
    the update-ratio chart carries the shaded band ``engine.health.UPDATE_RATIO_BAND`` (a
    layout shape with ``name = "update_ratio_band"``), the percent charts a dotted line at
    their alert threshold. Values that are missing or not finite are gaps in the lines
    (and values <= 0 on the log axis)."""
    records = [r for r in (series or ()) if isinstance(r, Mapping) and r.get("layers")]
    if not records:
        return note_figure("Training health appears here once training has taken a few steps",
                           heading, NOTE_HEIGHT)
    total = len(records)
    records = _thin(records)
    steps = [_number(r.get("step")) for r in records]
    epochs = [_number(r.get("epoch")) for r in records]
    per = [_layers_of(r) for r in records]
    layer_ids = sorted({i for p in per for i in p})

    charts = []
    for key, label, kind in CHARTS:
        lines = {}
        for i in layer_ids:
            ys = np.array([_number(p.get(i, {}).get(key)) for p in per], dtype=np.float64)
            if np.isnan(ys).all():
                continue
            lines[i] = ys
        if lines:
            charts.append((key, label, kind, lines))
    if not charts:
        return note_figure("None of the layers has health statistics to draw", heading, NOTE_HEIGHT)

    columns = max(1, min(int(columns), len(charts)))
    rows = math.ceil(len(charts) / columns)
    plot_px = rows * ROW_PX
    height = plot_px + MARGIN["t"] + MARGIN["b"]
    width = (1.0 - COLUMN_GAP * (columns - 1)) / columns
    x_plain = plain(steps)
    e_plain = plain(epochs)
    customdata = [[e] for e in e_plain]

    data: list[dict[str, Any]] = []
    layout_axes: dict[str, Any] = {}
    annotations: list[dict[str, Any]] = []
    shapes: list[dict[str, Any]] = []
    legend_shown: set[int] = set()
    for c, (key, label, kind, lines) in enumerate(charts):
        row, col = divmod(c, columns)
        x0 = col * (width + COLUMN_GAP)
        x1 = x0 + width
        top = 1.0 - (row * ROW_PX + ROW_HEAD_PX) / plot_px
        bottom = 1.0 - ((row + 1) * ROW_PX - ROW_TICKS_PX) / plot_px
        suffix = "" if c == 0 else str(c + 1)
        xname, yname = "xaxis" + suffix, "yaxis" + suffix
        xref, yref = "x" + suffix, "y" + suffix
        yaxis: dict[str, Any] = {**WHITE_AXIS, "domain": [max(bottom, 0.0), min(top, 1.0)], "anchor": xref,
                                 "tickfont": {"size": 10}}
        xaxis: dict[str, Any] = {**WHITE_AXIS, "domain": [x0, x1], "anchor": yref, "tickfont": {"size": 10}}
        if c:
            xaxis["matches"] = "x"
        if row == rows - 1 or c + columns >= len(charts):
            xaxis["title"] = {"text": "step", "font": {"size": 11}, "standoff": 4}
        value_fmt = "%{y:.3g}"
        if kind == "log":
            yaxis["type"] = "log"
            yaxis["exponentformat"] = "power"
        elif kind == "percent":
            yaxis["range"] = [-3, 103]
            yaxis["ticksuffix"] = "%"
            value_fmt = "%{y:.1f}%"
        all_values = []
        for i, ys in lines.items():
            ys = ys.copy()
            if kind == "log":
                ys[~(ys > 0)] = np.nan
            elif kind == "percent":
                ys = ys * 100.0
            all_values.append(ys[np.isfinite(ys)])
            title = _escape(_title_of(layer_titles, i))
            color = RUN_PALETTE[i % len(RUN_PALETTE)]
            data.append({
                "type": "scatter", "mode": "lines", "x": x_plain, "y": plain(ys), "xaxis": xref, "yaxis": yref,
                "name": title, "legendgroup": f"layer-{i}", "showlegend": i not in legend_shown,
                "line": {"color": color, "width": 1.8}, "customdata": customdata,
                "hovertemplate": f"{title} · step %{{x}} · epoch %{{customdata[0]:.2f}}<br>"
                                 f"{label}: {value_fmt}<extra></extra>",
                "uid": f"health-{key}-{i}", "meta": {"stat": key, "layer": i},
            })
            legend_shown.add(i)
        if key == "update_ratio":
            lo, hi = UPDATE_RATIO_BAND
            values = np.concatenate(all_values) if all_values else np.zeros(0)
            vmin = min(float(values.min()), lo) if values.size else lo
            vmax = max(float(values.max()), hi) if values.size else hi
            pad = 0.08 * (vmax - vmin) or 0.5
            yaxis["range"] = plain([vmin - pad, vmax + pad])
            shapes.append({"type": "rect", "name": "update_ratio_band", "xref": "paper", "yref": yref,
                           "x0": x0, "x1": x1, "y0": lo, "y1": hi, "fillcolor": BAND_COLOR, "opacity": 0.12,
                           "line": {"width": 0}, "layer": "below"})
            annotations.append({"text": BAND_LABEL, "xref": "paper", "yref": yref, "x": x1, "y": lo,
                                "xanchor": "right", "yanchor": "bottom", "showarrow": False,
                                "font": {"size": 10, "color": BAND_COLOR}, "name": "update_ratio_band"})
        if key in ALERT_LINES:
            level = 100.0 * ALERT_LINES[key]
            shapes.append({"type": "line", "name": f"{key}_alert", "xref": "paper", "yref": yref, "x0": x0,
                           "x1": x1, "y0": level, "y1": level,
                           "line": {"color": MUTED_COLOR, "width": 1, "dash": "dot"}, "layer": "below"})
            annotations.append({"text": "alert", "xref": "paper", "yref": yref, "x": x1, "y": level,
                                "xanchor": "right", "yanchor": "bottom", "showarrow": False,
                                "font": {"size": 9, "color": MUTED_COLOR}})
        annotations.append({"text": label, "xref": "paper", "yref": "paper", "x": x0,
                            "y": min(top, 1.0), "xanchor": "left", "yanchor": "bottom", "showarrow": False,
                            "font": {"size": 12}, "name": f"title-{key}"})
        layout_axes[xname] = xaxis
        layout_axes[yname] = yaxis

    note = f"{total} records, {len(records)} drawn" if total > len(records) else f"{total} records"
    last_step = steps[-1]
    if math.isfinite(last_step):
        note += f" · step {last_step:.0f}"
    meta = {"charts": [c[0] for c in charts], "layers": layer_ids, "records": total, "drawn": len(records)}
    layout = base_layout(f"{heading} · " + muted(note), height, margin=dict(MARGIN), hovermode="closest",
                         legend={"orientation": "h", "x": 0, "y": 1.0 + 4.0 / plot_px, "yanchor": "bottom",
                                 "font": {"size": 11}, "itemclick": "toggle", "itemdoubleclick": "toggleothers"},
                         annotations=annotations, shapes=shapes, uirevision="health", meta=meta,
                         **layout_axes)
    return {"data": data, "layout": layout}


def alerts_markup(alerts: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The alerts as plain dicts for a panel: ``{"severity", "title", "evidence",
    "suggestion", "threshold", "rule", "layer", "class_name"}`` with ``class_name``
    ``"health-alert health-alert-<severity>"``, all text as given (escape it when
    writing HTML by hand; Dash components escape it themselves)."""
    out = []
    for a in alerts or ():
        severity = str(a.get("severity") or "warning")
        out.append({"severity": severity, "title": str(a.get("title") or ""),
                    "evidence": str(a.get("evidence") or ""), "suggestion": str(a.get("suggestion") or ""),
                    "threshold": str(a.get("threshold") or ""), "rule": str(a.get("rule") or ""),
                    "layer": a.get("layer") if isinstance(a.get("layer"), int) else None,
                    "class_name": f"health-alert health-alert-{severity}"})
    return out
