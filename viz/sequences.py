"""A recurrent layer over one sentence: its hidden state (and, for an LSTM, its gates)
at every token, one heatmap per quantity, stacked on a shared token axis."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from .style import COLORBAR, SIGNED_SCALE, UNIT_SCALE, base_layout, count_text, muted, note_figure, plain

MAX_TOKENS = 60
PANEL_TITLE_PX = 24


def is_gate(name: str) -> bool:
    """Gates (sigmoid outputs, in [0, 1]) are the entries whose name contains 'gate'."""
    return "gate" in name.lower()


def step_labels(tokens: Sequence[str]) -> list[str]:
    """The x categories: unique even when a word repeats, and what the hover shows."""
    return [f"step {t}: {tok}" for t, tok in enumerate(tokens)]


def _scale(name: str, values: np.ndarray) -> tuple[list, float, float]:
    if is_gate(name):
        return UNIT_SCALE, 0.0, 1.0
    finite = np.abs(values[np.isfinite(values)])
    m = float(finite.max()) if finite.size else 0.0
    m = 1.0 if m <= 1.0 else m          # tanh range; a cell state may go beyond it
    return SIGNED_SCALE, -m, m


def hidden_state_figure(tokens: Sequence[str], states: Mapping[str, Any], max_units: int = 32,
                        title: str = "Hidden state over time", max_tokens: int = MAX_TOKENS) -> dict[str, Any]:
    """``tokens``: the T words of one sample (padding removed); ``states``: name -> array
    (T, units), e.g. ``{"hidden state h": ..., "input gate i": ...}``. One heatmap per entry,
    x = the tokens, y = the first ``max_units`` units."""
    tokens = [str(t) for t in (tokens or [])]
    if not tokens:
        return note_figure("This sample has no tokens.", title)
    entries: list[tuple[str, np.ndarray]] = []
    for name, values in (states or {}).items():
        a = np.asarray(values, dtype=np.float64)
        if a.ndim == 1:
            a = a[:, None]
        if a.ndim != 2 or a.shape[0] != len(tokens):
            raise ValueError(f"state {name!r} has shape {np.shape(values)}; expected ({len(tokens)}, units)")
        entries.append((str(name), a))
    if not entries or all(a.shape[1] == 0 for _, a in entries):
        return note_figure("No recurrent state was recorded for this sample.", title)

    T_all = len(tokens)
    T = max(1, min(T_all, int(max_tokens)))
    shown_tokens = tokens[:T]
    xs = step_labels(shown_tokens)
    units_all = max(a.shape[1] for _, a in entries)
    units_shown = max(1, min(units_all, int(max_units)))
    token_part = f"{T:,} tokens" if T == T_all else f"first {T:,} of {T_all:,} tokens"
    heading = f"{title} · {token_part} · {count_text(units_shown, units_all, 'unit')}"

    panel_px = []
    for _, a in entries:
        u = max(1, min(a.shape[1], units_shown))
        panel_px.append(int(np.clip(4 * u, 56, 220)))
    rotate = T > 12 or sum(len(t) for t in shown_tokens) > 70
    longest = max((len(t) for t in shown_tokens), default=1)
    bottom = int(np.clip(20 + (6 * longest * 0.75 if rotate else 16), 36, 130))
    margin = {"l": 52, "r": 64, "t": 44, "b": bottom}
    plot_h = sum(p + PANEL_TITLE_PX for p in panel_px)
    height = plot_h + margin["t"] + margin["b"]

    data, annotations, axes = [], [], {}
    y = 1.0
    n = len(entries)
    for k, ((name, a), px) in enumerate(zip(entries, panel_px), start=1):
        top = y - PANEL_TITLE_PX / plot_h
        low = max(top - px / plot_h, 0.0)
        y = low
        suffix = "" if k == 1 else str(k)
        u_total = a.shape[1]
        u = max(1, min(u_total, units_shown))
        z = a[:T, :u].T                                   # (units, steps): a unit per row
        scale, lo, hi = _scale(name, a[:T, :u])
        data.append({"type": "heatmap", "name": name, "z": plain(z), "x": xs, "y": list(range(u)),
                     "xaxis": "x", "yaxis": "y" + suffix, "colorscale": scale, "zmin": lo, "zmax": hi,
                     "hoverongaps": False,
                     "hovertemplate": f"%{{x}}<br>unit %{{y}}<br>value %{{z:.3f}}<extra>{name}</extra>",
                     "colorbar": dict(COLORBAR, x=1.01, xanchor="left", y=round((low + top) / 2, 4), yanchor="middle",
                                      len=round(top - low, 4), lenmode="fraction")})
        if scale is SIGNED_SCALE:
            data[-1]["zmid"] = 0
        axes["yaxis" + suffix] = {"domain": [round(low, 4), round(top, 4)], "anchor": "x", "autorange": "reversed",
                                  "title": {"text": "unit", "standoff": 4, "font": {"size": 11}},
                                  "showgrid": False, "zeroline": False, "ticks": "", "tickfont": {"size": 10}}
        note = f"{u:,} of {u_total:,} units" if u < u_total else ""
        annotations.append({"text": name + (" " + muted(note) if note else ""), "showarrow": False,
                            "xref": "paper", "yref": "paper", "x": 0.0, "y": round(top, 4), "xanchor": "left",
                            "yanchor": "bottom", "font": {"size": 12}})
    axes["xaxis"] = {"type": "category", "anchor": "y" + ("" if n == 1 else str(n)), "tickmode": "array",
                     "tickvals": xs, "ticktext": shown_tokens, "tickangle": -50 if rotate else 0,
                     "showgrid": False, "zeroline": False, "ticks": "", "tickfont": {"size": 11 if T <= 30 else 9}}
    layout = base_layout(heading, height, margin=margin, annotations=annotations, **axes)
    return {"data": data, "layout": layout}
