"""The architecture graph: a network's layers as a chain of boxes, for Cytoscape.

One node per layer (``L{k}`` for ``snapshot["layers"][k]``) after an input node
(``Lin``), each labelled with its type and settings, output shape and parameter
count; edges join consecutive layers. Node data carries ``layer_index`` (None for
the input) and ``group`` (dense, conv, pool, recurrent, embedding, shape), which
the stylesheet colours. The chosen layer has the class ``chosen``.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

import numpy as np

from engine import LAYERS

from .snapshots import layer_summary
from .style import FONT

ROW_LENGTH = 6          # boxes per row before the chain turns back
COLUMN_GAP = 172
ROW_GAP = 92
GROUP_COLORS = {"input": ("#f1f5f9", "#64748b"), "dense": ("#ecfdf5", "#0f766e"), "conv": ("#eff6ff", "#2563eb"),
                "pool": ("#f0f9ff", "#0891b2"), "recurrent": ("#f5f3ff", "#7c3aed"),
                "embedding": ("#fdf4ff", "#a21caf"), "shape": ("#f8fafc", "#94a3b8")}


def layer_group(layer_type: str) -> str:
    """How a layer type is coloured: by what it takes and whether it has weights."""
    cls = LAYERS.get(layer_type)
    takes = getattr(cls, "takes", None)
    has_weights = bool(getattr(cls, "param_names", ()))
    if takes == "tokens":
        return "embedding"
    if takes == "sequence":
        return "recurrent"
    if takes == "image":
        return "conv" if has_weights else "pool"
    return "dense" if has_weights else "shape"


def _shape(shape: Any) -> str:
    return str(tuple(int(n) for n in shape))


def _n_params(layer: Mapping[str, Any]) -> int:
    return int(sum(np.size(v) for v in layer.get("params", {}).values()))


def _position(i: int) -> dict[str, float]:
    """Left to right, then right to left on the next row (a snake), so long stacks stay wide."""
    row, col = divmod(i, ROW_LENGTH)
    if row % 2:
        col = ROW_LENGTH - 1 - col
    return {"x": col * COLUMN_GAP, "y": row * ROW_GAP}


def architecture_elements(snapshot: Mapping[str, Any], chosen: Optional[int] = None) -> list[dict]:
    """Cytoscape elements of the snapshot's layer chain (see the module docstring)."""
    nodes = [{"data": {"id": "Lin", "label": f"Input\n{_shape(snapshot['input_shape'])}", "layer_index": None,
                       "group": "input"}, "position": _position(0), "classes": "input", "grabbable": False}]
    edges = []
    layers = snapshot["layers"]
    for k, layer in enumerate(layers):
        n = _n_params(layer)
        label = f"{k + 1}. {layer_summary(layer)}\n{_shape(layer['output_shape'])}" + (f" · {n:,} params" if n else "")
        group = layer_group(layer["type"])
        classes = group + (" chosen" if chosen == k else "") + (" output" if k == len(layers) - 1 else "")
        nodes.append({"data": {"id": f"L{k}", "label": label, "layer_index": k, "group": group,
                               "type": layer["type"], "params": n},
                      "position": _position(k + 1), "classes": classes, "grabbable": False})
        edges.append({"data": {"id": f"e{k}", "source": "Lin" if k == 0 else f"L{k - 1}", "target": f"L{k}"}})
    return nodes + edges


def architecture_summary(snapshot: Mapping[str, Any]) -> str:
    """``"8 layers · 3,658 parameters"``."""
    layers = snapshot["layers"]
    total = sum(_n_params(layer) for layer in layers)
    return f"{len(layers)} layer{'s' if len(layers) != 1 else ''} · {total:,} parameters"


def architecture_stylesheet() -> list[dict]:
    style = [
        {"selector": "node", "style": {"shape": "round-rectangle", "width": 150, "height": 54, "label": "data(label)",
                                       "text-wrap": "wrap", "text-max-width": 142, "text-valign": "center",
                                       "text-halign": "center", "font-family": FONT, "font-size": 10.5,
                                       "color": "#0f172a", "border-width": 1.5, "line-height": 1.35}},
        {"selector": "edge", "style": {"width": 1.5, "line-color": "#cbd5e1", "target-arrow-color": "#94a3b8",
                                       "target-arrow-shape": "triangle", "curve-style": "bezier",
                                       "arrow-scale": 0.8}},
        {"selector": "node.chosen", "style": {"border-width": 3.5, "border-color": "#f59e0b"}},
        {"selector": "node:selected", "style": {"border-width": 3.5, "border-color": "#f59e0b"}},
    ]
    for group, (fill, line) in GROUP_COLORS.items():
        style.append({"selector": f"node.{group}", "style": {"background-color": fill, "border-color": line}})
    style.append({"selector": "node.chosen", "style": {"border-width": 3.5, "border-color": "#f59e0b"}})
    return style
