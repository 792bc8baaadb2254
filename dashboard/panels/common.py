"""What the inspection panels share: their frame, the choice of a layer, the choice of
a sample, and the one-line note a panel shows when it does not apply."""
from __future__ import annotations

from typing import Any, Callable, Optional

import dash
from dash import dcc, html

from viz.snapshots import layer_label

GRAPH_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}
VISIBLE, HIDDEN = {}, {"display": "none"}
NO_MODEL = "No model yet: build a network and press Train (or load a model)."


def panel(name: str, title: str, hint: str, note_id: str, body_id: str, *body: Any,
          extra_class: str = "") -> html.Section:
    """A card with a title, a hint, a one-line note (shown when the panel does not
    apply) and a body (shown when it does). ``name`` is one of ``ids.PANELS``: the page
    tells whether it is on screen by its ``data-panel`` attribute."""
    return html.Section(className=f"card panel {extra_class}".strip(), **{"data-panel": name}, children=[
        html.Div(className="panel-header", children=[html.H3(title, className="panel-title"),
                                                      html.Span(hint, className="panel-hint")]),
        html.Div(NO_MODEL, id=note_id, className="panel-note"),
        html.Div(list(body), id=body_id, className="panel-body", style=HIDDEN),
    ])


def picker(label: str, component_id: str, width: int = 260) -> html.Label:
    return html.Label([label, dcc.Dropdown(id=component_id, options=[], value=None, clearable=False,
                                           searchable=False, style={"width": f"{width}px"})],
                      className="panel-picker")


def layer_indices(snapshot: dict, keep: Callable[[dict], bool]) -> list[int]:
    return [k for k, layer in enumerate(snapshot["layers"]) if keep(layer)]


def layer_options(snapshot: dict, indices: list[int]) -> list[dict]:
    return [{"label": layer_label(snapshot, k), "value": k} for k in indices]


def choose(indices: list[int], selected: Any, current: Any, selection_changed: bool) -> Optional[int]:
    """The layer a panel shows: the one chosen in the architecture graph when it just
    changed to a layer of this kind, else the panel's own choice, else the first."""
    if selection_changed and selected in indices:
        return selected
    if current in indices:
        return current
    if selected in indices:
        return selected
    return indices[0] if indices else None


def sample_options(probe: Optional[dict]) -> list[dict]:
    """``"#3 · class 7"`` (or the start of a sentence) for each probe sample."""
    samples = (probe or {}).get("samples") or {}
    labels = samples.get("labels") or []
    names = (probe or {}).get("class_names") or []
    texts = samples.get("texts")
    out = []
    for i, y in enumerate(labels):
        label = f"#{i} · {names[y] if isinstance(y, int) and 0 <= y < len(names) else y}"
        if texts:
            text = texts[i]
            label += f" · {text[:48]}{'…' if len(text) > 48 else ''}"
        out.append({"label": label, "value": i})
    return out


def same(new: Any, current: Any) -> Any:
    """``new``, or ``dash.no_update`` when the page already has it (re-sending a
    dropdown's options re-renders it, perhaps open under the user's pointer)."""
    return dash.no_update if new == current else new

