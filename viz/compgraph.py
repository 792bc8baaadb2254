"""The computation graph of a small network's loss, drawn like micrograd's ``draw_dot``.

Every function is pure: it reads the plain-data graph of
``engine.scalar.network_graph`` (every scalar value and every operation of one
sample's loss, with values and gradients) and returns Cytoscape elements, a
stylesheet or a sentence.

Layout (preset positions, left to right):

* x follows ``depth`` (the longest path from a leaf), one column per step, so
  every edge points right; a leaf (input, parameter, target) is drawn one column
  left of the deepest operation that uses it (a weight next to its weighted
  input, not at the far left), and whatever it feeds moves right with it;
* an operation sits level with the value it makes, so op -> value is a
  horizontal line; the values of one column are spread evenly and ordered by
  the mean height of their neighbours (a few sweeps left to right and back),
  so lines cross little; the penalty's terms (L1/L2) go below the network.

Element ids are the graph's own (``v{k}`` for values, ``op{k}`` for operations,
``{source}-{target}`` for edges): the same for every model of one architecture,
so a page can diff them when the weights change.
"""
from __future__ import annotations

from typing import Any, Mapping

from .style import FONT, NEGATIVE_COLOR, POSITIVE_COLOR, ZERO_COLOR, fmt

# Layout (Cytoscape model coordinates): values sit in every other column.
COLUMN_GAP = 100
ROW_GAP = 66
SWEEPS = 4
VALUE_WIDTH = 124
VALUE_HEIGHT = 48
OP_SIZE = 28

ROLE_COLORS = {"input": "#f1f5f9", "param": "#fef3c7", "hidden": "#ecfdf5", "output": "#f5f3ff",
               "loss": "#fee2e2", "target": "#f8fafc"}


def value_label(node: Mapping[str, Any]) -> str:
    """micrograd's ``label | data 0.1234 | grad -0.0567``, one part a line (two lines
    for an unnamed value)."""
    lines = [node["label"]] if node.get("label") else []
    lines.append(f"data {fmt(node['value'] + 0.0)}")   # + 0.0: no "-0"
    lines.append(f"grad {fmt(node['grad'] + 0.0)}")
    return "\n".join(lines)


def _links(graph: Mapping[str, Any]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(inputs, consumers) of every node id, from the edges."""
    preds: dict[str, list[str]] = {n["id"]: [] for n in graph["nodes"]}
    succs: dict[str, list[str]] = {n["id"]: [] for n in graph["nodes"]}
    for e in graph["edges"]:
        preds[e["target"]].append(e["source"])
        succs[e["source"]].append(e["target"])
    return preds, succs


def _columns(graph: Mapping[str, Any]) -> dict[str, int]:
    """The layout column of every node (see the module docstring)."""
    nodes = graph["nodes"]
    preds, succs = _links(graph)
    n_depth = {n["id"]: n["depth"] for n in nodes}
    col = dict(n_depth)
    for n in nodes:                                  # leaves next to their deepest use ...
        nid = n["id"]
        if not preds[nid] and succs[nid]:
            col[nid] = max(int(n_depth[s]) for s in succs[nid]) - 1
    for n in sorted(nodes, key=lambda n: n["depth"]):  # ... and what they feed to their right
        nid = n["id"]
        if preds[nid]:
            col[nid] = max(col[p] for p in preds[nid]) + 1
    return col


def _rows(graph: Mapping[str, Any], col: Mapping[str, int]) -> dict[str, float]:
    """The y of every node: values spread per column, ordered by barycentre sweeps;
    each op level with its value."""
    nodes = graph["nodes"]
    preds, succs = _links(graph)
    made_by = {n["id"]: (preds[n["id"]][0] if preds[n["id"]] else None) for n in nodes if n["kind"] == "value"}
    # Neighbouring values: what a value is made from (up) and what it helps make (down).
    up = {v: (preds[op] if op else []) for v, op in made_by.items()}
    down = {v: [w for op in succs[v] for w in succs[op]] for v in made_by}
    # The penalty's terms (loss steps made from parameters alone) go below the network.
    role = {n["id"]: n["role"] for n in nodes}
    penalty: dict[str, bool] = {}
    for n in nodes:                                    # topological order: inputs first
        v = n["id"]
        if n["kind"] == "value":
            penalty[v] = (role[v] == "loss" and bool(up[v])
                          and all(role[u] == "param" or penalty.get(u, False) for u in up[v]))
    columns: dict[int, list[str]] = {}
    for n in nodes:
        if n["kind"] == "value":
            columns.setdefault(col[n["id"]], []).append(n["id"])
    y: dict[str, float] = {}

    def place(ids: list[str]) -> None:
        m = len(ids)
        for r, nid in enumerate(ids):
            y[nid] = (r - (m - 1) / 2) * ROW_GAP

    for c in sorted(columns):
        place(columns[c])
    for sweep in range(SWEEPS):
        left_to_right = sweep % 2 == 0
        for c in sorted(columns, reverse=not left_to_right):
            ids = columns[c]
            rank = {nid: r for r, nid in enumerate(ids)}

            def key(nid: str) -> tuple[bool, float, int]:
                first, second = (up, down) if left_to_right else (down, up)
                near = first[nid] or second[nid]
                centre = sum(y[v] for v in near) / len(near) if near else y[nid]
                return penalty[nid], centre, rank[nid]

            columns[c] = sorted(ids, key=key)
            place(columns[c])
    for n in nodes:
        if n["kind"] == "op":
            y[n["id"]] = y[succs[n["id"]][0]] if succs[n["id"]] else 0.0
    return y


def graph_elements(graph: Mapping[str, Any]) -> list[dict]:
    """Cytoscape elements of ``engine.scalar.network_graph``'s graph, with preset
    positions (see the module docstring).

    * value nodes (class ``value`` and their role, ``root`` for L): ``label`` is
      ``name\\ndata ...\\ngrad ...``; data ``name``, ``value``, ``grad``,
      ``grad_sign`` (-1, 0, 1), ``kind``, ``role``, ``depth``, ``column`` and, for
      parameters, ``layer``, ``param`` ("W"/"b") and ``index``;
    * op nodes (class ``op`` and their result's role): ``label`` is the op as drawn
      (``"+"``, ``"tanh"``, ``"**2"``); data ``op``, ``value`` (their result),
      ``grad`` (None), ``kind``, ``role``, ``depth``, ``column``, ``width``;
    * edges ``{source}-{target}``, value -> op -> value.
    """
    col = _columns(graph)
    y = _rows(graph, col)
    has_out = {e["source"] for e in graph["edges"]}
    elements: list[dict] = []
    for n in graph["nodes"]:
        nid = n["id"]
        data = {"id": nid, "kind": n["kind"], "role": n["role"], "value": float(n["value"]),
                "grad": None if n["grad"] is None else float(n["grad"]), "depth": int(n["depth"]),
                "column": col[nid]}
        classes = [n["kind"], n["role"]]
        if n["kind"] == "value":
            g = data["grad"]
            data.update(label=value_label(n), name=n["label"], grad_sign=(g > 0) - (g < 0))
            param = n.get("param")
            if param:
                data.update(layer=param["layer"], param=param["name"], index=list(param["index"]))
            if nid not in has_out:
                classes.append("root")
        else:
            data.update(label=n["label"], op=n["op"], width=max(OP_SIZE, 7 * len(n["label"]) + 10))
        elements.append({"data": data, "position": {"x": col[nid] * COLUMN_GAP, "y": y[nid]},
                         "classes": " ".join(classes), "grabbable": False})
    for e in graph["edges"]:
        elements.append({"data": {"id": f"{e['source']}-{e['target']}", "source": e["source"],
                                  "target": e["target"]}, "classes": "flow"})
    return elements


def graph_stylesheet() -> list[dict]:
    """Cytoscape stylesheet, mapped only from data fields and classes: value nodes
    are round rectangles coloured by role (parameters amber and bold, L framed
    thick), their border colour is the sign of the gradient (blue > 0, orange < 0,
    grey 0); op nodes are small grey circles showing the op."""
    styles: list[dict] = [
        {"selector": "node", "style": {"font-family": FONT, "label": "data(label)", "text-valign": "center",
                                       "text-halign": "center", "text-wrap": "wrap", "color": "#0f172a",
                                       "z-index": 10}},
        {"selector": "node.value", "style": {"shape": "round-rectangle", "width": VALUE_WIDTH,
                                             "height": VALUE_HEIGHT, "font-size": 9, "line-height": 1.25,
                                             "text-max-width": VALUE_WIDTH - 6, "border-width": 2,
                                             "border-color": ZERO_COLOR, "background-color": "#ffffff"}},
        {"selector": "node.op", "style": {"shape": "ellipse", "width": "data(width)", "height": OP_SIZE,
                                          "font-size": 10, "font-weight": 600, "color": "#334155",
                                          "background-color": "#e2e8f0", "border-width": 1,
                                          "border-color": "#94a3b8"}},
    ]
    for role, colour in ROLE_COLORS.items():
        styles.append({"selector": f"node.value.{role}", "style": {"background-color": colour}})
    styles += [
        {"selector": "node.value.param", "style": {"font-weight": 700, "border-width": 3}},
        {"selector": "node.value.target", "style": {"border-style": "dashed"}},
        {"selector": "node.value[grad_sign > 0]", "style": {"border-color": POSITIVE_COLOR}},
        {"selector": "node.value[grad_sign < 0]", "style": {"border-color": NEGATIVE_COLOR}},
        {"selector": "node.value.root", "style": {"border-width": 4, "font-weight": 700}},
        {"selector": "node.op.loss", "style": {"background-color": "#fecaca"}},
        {"selector": "node:selected", "style": {"overlay-color": "#f59e0b", "overlay-opacity": 0.25}},
        {"selector": "edge", "style": {"curve-style": "bezier", "width": 1, "line-color": "#cbd5e1",
                                       "target-arrow-shape": "triangle", "target-arrow-color": "#cbd5e1",
                                       "arrow-scale": 0.7, "z-index": 1}},
        {"selector": "edge:selected", "style": {"line-color": "#f59e0b", "target-arrow-color": "#f59e0b",
                                                "width": 2}},
    ]
    return styles


def summary(graph: Mapping[str, Any]) -> str:
    """One sentence: "57 values and 31 operations for 9 weights and biases; L = 0.2079"."""
    values = sum(1 for n in graph["nodes"] if n["kind"] == "value")
    ops = len(graph["nodes"]) - values
    return (f"{values:,} values and {ops:,} operations for {graph['n_params']:,} weights and biases; "
            f"L = {fmt(graph['loss'])}")
