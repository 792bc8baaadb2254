"""The look every figure shares: colours, fonts, number formats and empty frames.

Figures are plain ``{"data", "layout"}`` dicts (a ``go.Figure`` costs the server
about ten times more to build on every refresh, and plotly.js knows no template
by name, so the white look is spelled out here).
"""
from __future__ import annotations

from typing import Any

FONT = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"
TEXT_COLOR = "#2a3f5f"
MUTED_COLOR = "#64748b"

POSITIVE_COLOR = "#2563eb"   # w > 0 (blue)
NEGATIVE_COLOR = "#ea580c"   # w < 0 (orange)
ZERO_COLOR = "#94a3b8"
TRAIN_COLOR = "#2563eb"
VAL_COLOR = "#ea580c"
WEIGHT_COLOR = "#2563eb"
GRADIENT_COLOR = "#d97706"

# A diverging scale for signed values (weights, gradients, activations): orange
# below zero, white at zero, blue above; use with zmid=0 (or zmin=-zmax).
SIGNED_SCALE = [[0.0, NEGATIVE_COLOR], [0.5, "#ffffff"], [1.0, POSITIVE_COLOR]]
# A sequential scale for values in [0, 1] (gates, pixels after scaling).
UNIT_SCALE = [[0.0, "#ffffff"], [1.0, "#0f172a"]]
GRAY_SCALE = [[0.0, "#000000"], [1.0, "#ffffff"]]

WHITE_AXIS = {"gridcolor": "#EBF0F8", "linecolor": "#EBF0F8", "zerolinecolor": "#EBF0F8", "zerolinewidth": 2,
              "ticks": ""}
HIDDEN_AXIS = {"visible": False, "showgrid": False, "zeroline": False}


COLORBAR = {"thickness": 10, "outlinewidth": 0, "tickfont": {"size": 10}, "ypad": 0, "xpad": 4}


def count_text(shown: int, total: int, noun: str) -> str:
    """'16 of 64 filters', 'all 8 filters', '1 filter': what a view shows of a whole."""
    plural = noun if total == 1 else noun + "s"
    if shown < total:
        return f"{shown:,} of {total:,} {plural}"
    return f"1 {noun}" if total == 1 else f"all {total:,} {plural}"


def fmt(x: float) -> str:
    """A value as the panels print it: four significant digits."""
    return f"{x:.4g}"


def muted(text: str, size: int = 11) -> str:
    """Plotly rich text for a grey side remark inside a title."""
    return f"<span style='font-size:{size}px;color:{MUTED_COLOR}'>{text}</span>"


def title(text: str, size: int = 14) -> dict[str, Any]:
    return {"text": text, "x": 0.01, "xanchor": "left", "font": {"size": size}}


def base_layout(heading: str, height: int, **extra: Any) -> dict[str, Any]:
    """A white figure layout with a left-aligned title and fixed margins (no automargin:
    it costs every redraw an extra layout pass)."""
    layout: dict[str, Any] = {
        "title": title(heading), "height": height, "margin": {"l": 52, "r": 16, "t": 44, "b": 40},
        "paper_bgcolor": "white", "plot_bgcolor": "white", "hovermode": "closest",
        "font": {"family": FONT, "size": 12, "color": TEXT_COLOR},
    }
    layout.update(extra)
    return layout


def note_figure(text: str, heading: str = "", height: int = 220) -> dict[str, Any]:
    """An empty frame that says, in one line, why there is nothing to draw."""
    return {"data": [], "layout": base_layout(heading, height, xaxis=dict(HIDDEN_AXIS), yaxis=dict(HIDDEN_AXIS),
                                              annotations=[{"text": text, "showarrow": False, "xref": "paper",
                                                            "yref": "paper", "x": 0.5, "y": 0.5,
                                                            "font": {"color": MUTED_COLOR, "size": 13}}])}


# Where a mosaic has no value (the 1-cell gaps between tiles): the plot background.
GAP_COLOR = "#cbd5e1"


def plain(values: Any, digits: int = 5) -> Any:
    """An array as nested lists of floats rounded to ``digits`` significant digits,
    ready for JSON: NaN and infinities become None."""
    import numpy as np

    a = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(a)
    out = np.where(finite, a, 0.0)
    nonzero = finite & (out != 0)
    exponent = np.zeros(a.shape, dtype=np.int64)
    exponent[nonzero] = digits - 1 - np.floor(np.log10(np.abs(out[nonzero]))).astype(np.int64)
    up = exponent >= 0                       # divide an integer by a power of ten, or multiply
    scale = 10.0 ** np.abs(exponent)         # by one: both give the shortest decimal repr
    out = np.where(up, np.round(out * scale) / scale, np.round(out / scale) * scale)
    if finite.all():
        return out.tolist()
    cells = out.astype(object)
    cells[~finite] = None
    return cells.tolist()
