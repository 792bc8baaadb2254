"""The network graph: neurons and weighted edges of a network's dense part, for Cytoscape.

Every function is pure: it reads a snapshot (``viz.snapshots``) and returns
Cytoscape elements, a stylesheet or the details of one neuron.

The graph draws the *dense part* of a stack: the longest run of Dense layers (with
Dropout between them, drawn as nothing: it changes no weight) at the end of the
stack whose inputs are flat. A dense network is all dense part; a CNN's is what
follows its Flatten or global pooling; a text model's, what follows its last
recurrent layer.

Numbering: a *column* (``layer_position``) ``p`` of the graph is 0 for the dense
part's input and ``p >= 1`` for the output of its ``p``-th Dense layer.

Graph element ids (the contract with the dashboard and its browser tests):

* neuron ``n{p}-{i}``: neuron ``i`` of column ``p``;
* bias node ``bias{p}``: the constant 1 feeding column ``p`` (drawn in column ``p - 1``);
* weight edge ``w{p}-{i}-{j}``: from ``n{p-1}-{i}`` to ``n{p}-{j}``, i.e. ``W[i, j]`` of
  the Dense layer of column ``p``;
* bias edge ``b{p}-{j}``: from ``bias{p}`` to ``n{p}-{j}``, i.e. ``b[j]``;
* column title ``title{p}``.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np

from .snapshots import activation_label, kernel_name, layer_label
from .style import FONT, NEGATIVE_COLOR, POSITIVE_COLOR, ZERO_COLOR, fmt

# Graph layout (Cytoscape model coordinates).
COLUMN_GAP = 210
ROW_GAP = 36
TITLE_GAP = 46

DEFAULT_NEURONS_PER_LAYER = 16
DEFAULT_EDGES_PER_PAIR = 256
DEFAULT_MAX_ELEMENTS = 5000
MAX_NEURONS_PER_LAYER = 128
# Class of the edges whose label ("w = ...\ndL/dw = ...") is shown; toggled in the browser.
LABELLED_CLASS = "labelled"

NeuronChoice = Union[int, Sequence[int]]


def dense_part(snapshot: Mapping[str, Any]) -> Optional[int]:
    """Index of the first Dense layer of the stack's dense part (see the module
    docstring), or None when the stack does not end in Dense layers on flat inputs."""
    layers = snapshot["layers"]
    k = len(layers) - 1
    while k >= 0 and layers[k]["type"] in ("Dense", "Dropout") and len(layers[k]["input_shape"]) == 1:
        k -= 1
    start = k + 1
    while start < len(layers) and layers[start]["type"] == "Dropout":
        start += 1
    return start if start < len(layers) else None


def dense_part_note(snapshot: Mapping[str, Any]) -> Optional[str]:
    """Why a snapshot has no neuron graph, or None when it has one."""
    if dense_part(snapshot) is not None:
        return None
    last = snapshot["layers"][-1]
    return (f"No dense layers on flat inputs at the end of this stack (it ends with {last['type']} of output "
            f"shape {tuple(last['output_shape'])}), so there are no neurons and edges to draw.")


def _columns(snapshot: Mapping[str, Any]) -> list[dict]:
    """One entry per graph column: size, title, kind and ``layer_index`` (None for the
    input column); ``layer`` for columns >= 1."""
    start = dense_part(snapshot)
    if start is None:
        raise ValueError(dense_part_note(snapshot))
    layers = snapshot["layers"]
    first = layers[start]
    in_title = "Input" if start == 0 else f"{layer_label(snapshot, start - 1)} output"
    cols = [{"position": 0, "size": int(first["input_shape"][0]), "kind": "input", "title": in_title,
             "layer": None, "layer_index": None, "named": start == 0}]
    dense = [k for k in range(start, len(layers)) if layers[k]["type"] == "Dense"]
    for p, k in enumerate(dense, start=1):
        layer = layers[k]
        cols.append({"position": p, "size": int(layer["output_shape"][0]), "layer": layer, "layer_index": k,
                     "kind": "output" if k == len(layers) - 1 else "hidden", "title": layer_label(snapshot, k)})
    return cols


def columns(snapshot: Mapping[str, Any]) -> list[dict]:
    """The graph's columns: ``position``, ``size``, ``title``, ``kind`` and ``layer_index``
    (None for the input column). ValueError when the stack has no dense part."""
    return [{k: c[k] for k in ("position", "size", "title", "kind", "layer_index")} for c in _columns(snapshot)]


def _kernel(column: Mapping[str, Any]) -> Optional[np.ndarray]:
    layer = column.get("layer")
    if not layer:
        return None
    name = kernel_name(layer.get("params", {}))
    return None if name is None else np.asarray(layer["params"][name])


def _has_bias(column: Mapping[str, Any]) -> bool:
    layer = column.get("layer")
    return bool(layer and "b" in layer.get("params", {}) and layer.get("config", {}).get("use_bias", True))


def _importance(cols: list[dict], p: int) -> np.ndarray:
    """Score of each neuron of column ``p``: the norm of its incoming plus its
    outgoing weights, each relative to the largest in the column."""
    score = np.zeros(cols[p]["size"])
    W_in = _kernel(cols[p])
    if W_in is not None:
        n = np.linalg.norm(np.asarray(W_in, dtype=np.float64), axis=0)
        score += n / (n.max() or 1.0)
    if p + 1 < len(cols):
        W_out = _kernel(cols[p + 1])
        if W_out is not None:
            n = np.linalg.norm(np.asarray(W_out, dtype=np.float64), axis=1)
            score += n / (n.max() or 1.0)
    return score


def _choose_neurons(cols: list[dict], neurons: Optional[Mapping[Any, NeuronChoice]],
                    neurons_per_layer: int) -> list[np.ndarray]:
    """Sorted neuron indices shown per column. ``neurons[p]`` is a list of indices
    or an int k (the k most important); other columns show the
    ``neurons_per_layer`` most important (all when the layer is that small)."""
    neurons = {int(k): v for k, v in (neurons or {}).items()}
    for p in neurons:
        if not 0 <= p < len(cols):
            raise ValueError(f"neurons: layer position {p} is out of range (0 to {len(cols) - 1})")
    chosen = []
    for col in cols:
        p, size = col["position"], col["size"]
        choice = neurons.get(p, neurons_per_layer)
        if isinstance(choice, (int, np.integer)) and not isinstance(choice, bool):
            k = max(1, min(int(choice), size, MAX_NEURONS_PER_LAYER))
            if k >= size:
                idx = np.arange(size)
            else:
                order = np.argsort(-_importance(cols, p), kind="stable")
                idx = np.sort(order[:k])
        else:
            idx = np.unique(np.asarray([int(i) for i in choice], dtype=np.int64))
            bad = idx[(idx < 0) | (idx >= size)]
            if bad.size:
                raise ValueError(f"neurons[{p}]: index {int(bad[0])} is out of range (0 to {size - 1})")
            if idx.size == 0:
                idx = np.arange(min(size, neurons_per_layer))
            idx = idx[:MAX_NEURONS_PER_LAYER]
        chosen.append(idx)
    return chosen


def _neuron_names(snapshot: Mapping[str, Any], cols: list[dict]) -> list[Optional[list[str]]]:
    """Feature names for the input column and class names for the output column,
    from the snapshot's optional ``dataset`` entry, when their counts match."""
    dataset = snapshot.get("dataset") or {}
    names: list[Optional[list[str]]] = [None] * len(cols)
    for p, key in ((0, "feature_names"), (len(cols) - 1, "class_names")):
        if p == 0 and not cols[0]["named"]:
            continue
        if p == len(cols) - 1 and cols[p]["kind"] != "output":
            continue
        given = dataset.get(key) or []
        if len(given) == cols[p]["size"]:
            names[p] = [str(n) for n in given]
    return names


def _edge_budget(candidates: list[int], cap: int, budget: int) -> list[int]:
    """Edges per layer pair: at most ``cap`` and the candidates each, at most
    ``budget`` in all, shared evenly (water-filling)."""
    want = [min(c, cap) for c in candidates]
    if sum(want) <= budget:
        return want
    give = [0] * len(want)
    left, open_pairs = max(budget, 0), [i for i, w in enumerate(want) if w > 0]
    while open_pairs and left > 0:
        share = max(left // len(open_pairs), 1)
        for i in list(open_pairs):
            add = min(share, want[i] - give[i], left)
            give[i] += add
            left -= add
            if give[i] == want[i]:
                open_pairs.remove(i)
            if left == 0:
                break
    return give


def _count(col: Mapping[str, Any], shown: int) -> str:
    """``"16 of 784 inputs"``, ``"all 10 neurons"``."""
    size = col["size"]
    noun = ("input" if col["kind"] == "input" else "neuron") + ("" if size == 1 else "s")
    return f"all {size:,} {noun}" if shown == size else f"{shown:,} of {size:,} {noun}"


def graph_view(snapshot: Mapping[str, Any], max_elements: int = DEFAULT_MAX_ELEMENTS,
               max_edges_per_pair: int = DEFAULT_EDGES_PER_PAIR,
               neurons: Optional[Mapping[Any, NeuronChoice]] = None,
               neurons_per_layer: int = DEFAULT_NEURONS_PER_LAYER) -> dict[str, Any]:
    """Elements and their description in one pass: ``{"elements": [...],
    "summary": [sentence per layer pair], "shown": {position: [indices]}}``.
    See :func:`graph_elements` for the arguments."""
    if max_elements < 1 or max_edges_per_pair < 0 or neurons_per_layer < 1:
        raise ValueError("max_elements and neurons_per_layer must be positive, max_edges_per_pair >= 0")
    cols = _columns(snapshot)
    names = _neuron_names(snapshot, cols)
    shown = _choose_neurons(cols, neurons, neurons_per_layer)
    biased = [p for p in range(1, len(cols)) if _has_bias(cols[p])]

    def fixed_count() -> int:
        return (len(cols) + sum(s.size for s in shown) + len(biased)
                + sum(shown[p].size for p in biased))

    # Too many neurons for the budget: halve the largest selections until half is left for edges.
    while fixed_count() > max_elements // 2 and max(s.size for s in shown) > 1:
        big = max(range(len(shown)), key=lambda p: shown[p].size)
        shown[big] = shown[big][: shown[big].size // 2]

    pairs = [p for p in range(1, len(cols)) if _kernel(cols[p]) is not None]
    candidates = [shown[p - 1].size * shown[p].size for p in pairs]
    ks = _edge_budget(candidates, max_edges_per_pair, max_elements - fixed_count())

    # Tall columns get wider gaps, so that the drawing never becomes a thin strip.
    gap = max(COLUMN_GAP, 0.5 * ROW_GAP * max(s.size for s in shown))
    nodes: list[dict] = []
    edges: list[dict] = []
    for col, idx in zip(cols, shown):
        p, m = col["position"], idx.size
        x = p * gap
        top = -(m - 1) / 2 * ROW_GAP
        count = f"{m} of {col['size']:,} shown" if m < col["size"] else f"all {col['size']:,}"
        nodes.append({"data": {"id": f"title{p}", "label": f"{col['title']}\n{count}", "position_": p},
                      "position": {"x": x, "y": top - TITLE_GAP}, "classes": "layer-title",
                      "selectable": False, "grabbable": False})
        b = np.asarray(col["layer"]["params"]["b"]) if _has_bias(col) else None
        gb = np.asarray(col["layer"]["grads"].get("b", np.zeros_like(b))) if b is not None else None
        for r, i in enumerate(idx.tolist()):
            data = {"id": f"n{p}-{i}", "label": str(i), "layer_position": p, "index": i, "kind": col["kind"]}
            if b is not None:
                data["bias"] = float(b[i])
            if names[p] is not None:
                data["name"] = names[p][i]
            nodes.append({"data": data, "position": {"x": x, "y": top + r * ROW_GAP},
                          "classes": f"neuron {col['kind']}", "grabbable": False})
        if b is not None:
            prev = shown[p - 1]
            bx = (p - 1) * gap
            by = (prev.size - 1) / 2 * ROW_GAP + ROW_GAP * 1.3
            nodes.append({"data": {"id": f"bias{p}", "label": "b", "layer_position": p, "kind": "bias"},
                          "position": {"x": bx, "y": by}, "classes": "bias", "grabbable": False})
            biggest = float(np.abs(b[idx]).max()) if idx.size else 0.0
            for i in idx.tolist():
                w, dw = float(b[i]), float(gb[i])
                edge = _edge(f"b{p}-{i}", f"bias{p}", f"n{p}-{i}", w, dw, p, -1, i, "bias",
                             f"b = {fmt(w)}\ndL/db = {fmt(dw)}")
                edge["data"]["strength"] = abs(w) / biggest if biggest else 0.0
                edges.append(edge)

    summary = []
    for p, k in zip(pairs, ks):
        W = _kernel(cols[p])
        G = cols[p]["layer"]["grads"].get(kernel_name(cols[p]["layer"]["params"]))
        G = np.zeros_like(W) if G is None else np.asarray(G)
        src, dst = shown[p - 1], shown[p]
        sub = np.asarray(W[np.ix_(src, dst)], dtype=np.float64)
        mag = np.abs(sub).ravel()
        if k < mag.size:
            top_k = np.argpartition(-mag, k - 1)[:k] if k > 0 else np.zeros(0, dtype=np.int64)
        else:
            top_k = np.arange(mag.size)
        top_k = top_k[np.argsort(mag[top_k], kind="stable")]  # weakest first: strongest drawn on top
        biggest = float(mag.max()) if mag.size else 0.0
        for flat in top_k.tolist():
            r, c = divmod(flat, dst.size)
            i, j = int(src[r]), int(dst[c])
            w, dw = float(W[i, j]), float(G[i, j])
            edge = _edge(f"w{p}-{i}-{j}", f"n{p-1}-{i}", f"n{p}-{j}", w, dw, p, i, j, "weight",
                         f"w = {fmt(w)}\ndL/dw = {fmt(dw)}")
            edge["data"]["strength"] = abs(w) / biggest if biggest else 0.0
            edges.append(edge)
        a, b_ = cols[p - 1], cols[p]
        between = src.size * dst.size
        total = a["size"] * b_["size"]
        which = f"all {between:,} edges between them" if k >= between else \
            f"the {k:,} strongest of the {between:,} edges between them"
        summary.append(
            f"{a['title']} → {b_['title']}: "
            f"{_count(a, src.size)}, {_count(b_, dst.size)}; {which} ({total:,} in the layer).")
    for p in range(1, len(cols)):
        if p not in pairs:
            summary.append(f"{cols[p]['title']}: no weight matrix, no edges drawn.")
    return {"elements": nodes + edges, "summary": summary,
            "shown": {c["position"]: s.tolist() for c, s in zip(cols, shown)}}


def _edge(eid: str, source: str, target: str, w: float, dw: float, p: int, i: int, j: int,
          kind: str, label: str) -> dict:
    return {"data": {"id": eid, "source": source, "target": target, "w": w, "dw": dw,
                     "weight_abs": abs(w), "sign": (w > 0) - (w < 0), "source_layer": p - 1,
                     "target_layer": p, "from": i, "to": j, "kind": kind, "label": label},
            "classes": "bias-edge" if kind == "bias" else "weight"}


def graph_elements(snapshot: Mapping[str, Any], max_elements: int = DEFAULT_MAX_ELEMENTS,
                   max_edges_per_pair: int = DEFAULT_EDGES_PER_PAIR,
                   neurons: Optional[Mapping[Any, NeuronChoice]] = None,
                   neurons_per_layer: int = DEFAULT_NEURONS_PER_LAYER) -> list[dict]:
    """Cytoscape elements of a dense network, with preset positions (x by column,
    y by rank among the shown neurons).

    * nodes: a title per column, the shown neurons, one bias node per layer;
    * edges: per layer pair the ``max_edges_per_pair`` strongest ``|w|`` among
      the shown neurons, plus one bias edge per shown neuron. Edge data: ``w``,
      ``dw`` (latest batch), ``weight_abs``, ``sign``, ``strength`` (``|w|``
      over the largest shown in that pair), ``source_layer``, ``target_layer``,
      ``from``, ``to``, ``kind`` ("weight"/"bias") and ``label``.

    ``neurons`` maps a column (0 = input) to a list of neuron indices or to an
    int k (its k most important); other columns show the ``neurons_per_layer``
    most important. Never more than ``max_elements`` elements.
    """
    return graph_view(snapshot, max_elements, max_edges_per_pair, neurons, neurons_per_layer)["elements"]


def graph_summary(snapshot: Mapping[str, Any], max_elements: int = DEFAULT_MAX_ELEMENTS,
                  max_edges_per_pair: int = DEFAULT_EDGES_PER_PAIR,
                  neurons: Optional[Mapping[Any, NeuronChoice]] = None,
                  neurons_per_layer: int = DEFAULT_NEURONS_PER_LAYER) -> list[str]:
    """One sentence per layer pair saying what :func:`graph_elements` shows, e.g.
    "Input → Layer 1 (Dense 500, ReLU): 16 of 784 inputs, 16 of 500 neurons;
    all 256 edges between them (392,000 in the layer)."."""
    return graph_view(snapshot, max_elements, max_edges_per_pair, neurons, neurons_per_layer)["summary"]


def graph_stylesheet() -> list[dict]:
    """Cytoscape stylesheet: every style is mapped from data fields or classes,
    never from per-element selectors. Edge width follows ``strength`` (|w| relative
    to the largest shown in its layer pair), colour follows ``sign``; edges with
    the class ``LABELLED_CLASS`` show their ``label``."""
    font = FONT
    return [
        {"selector": "node", "style": {"font-family": font, "label": "data(label)", "text-valign": "center",
                                       "text-halign": "center", "font-size": 10, "color": "#0f172a",
                                       "width": 24, "height": 24, "border-width": 2, "background-color": "#ffffff",
                                       "z-index": 10}},
        {"selector": "node.input", "style": {"border-color": "#64748b", "background-color": "#f1f5f9"}},
        {"selector": "node.hidden", "style": {"border-color": "#0f766e", "background-color": "#ecfdf5"}},
        {"selector": "node.output", "style": {"border-color": "#7c3aed", "background-color": "#f5f3ff"}},
        {"selector": "node.bias", "style": {"shape": "round-rectangle", "width": 20, "height": 18,
                                            "border-color": "#94a3b8", "background-color": "#f8fafc",
                                            "color": "#475569", "font-style": "italic"}},
        {"selector": "node.layer-title", "style": {"shape": "rectangle", "width": 1, "height": 1,
                                                   "background-opacity": 0, "border-width": 0,
                                                   "text-wrap": "wrap", "text-max-width": 190, "font-size": 12,
                                                   "font-weight": 600, "color": "#334155", "events": "no",
                                                   "text-valign": "top", "line-height": 1.3}},
        {"selector": "node.input[name]", "style": {"label": "data(name)", "text-halign": "left",
                                                   "text-margin-x": -5, "font-size": 11, "color": "#334155"}},
        {"selector": "node.output[name]", "style": {"label": "data(name)", "text-halign": "right",
                                                    "text-margin-x": 5, "font-size": 11, "color": "#334155"}},
        {"selector": "node:selected", "style": {"border-width": 4, "border-color": "#f59e0b"}},
        {"selector": "edge", "style": {"curve-style": "haystack", "haystack-radius": 0,
                                       "width": "mapData(strength, 0, 1, 0.6, 6)",
                                       "opacity": "mapData(strength, 0, 1, 0.3, 0.9)",
                                       "line-color": ZERO_COLOR, "z-index": 1,
                                       "font-family": font, "font-size": 10, "text-wrap": "wrap",
                                       "color": "#0f172a", "text-background-color": "#ffffff",
                                       "text-background-opacity": 0.92, "text-background-padding": 2,
                                       "text-background-shape": "round-rectangle",
                                       "text-border-opacity": 1, "text-border-width": 1,
                                       "text-border-color": "#cbd5e1"}},
        {"selector": "edge[sign > 0]", "style": {"line-color": POSITIVE_COLOR}},
        {"selector": "edge[sign < 0]", "style": {"line-color": NEGATIVE_COLOR}},
        {"selector": "edge.bias-edge", "style": {"line-style": "dashed", "line-dash-pattern": [4, 3]}},
        {"selector": "edge:selected", "style": {"opacity": 1, "z-index": 5}},
        {"selector": f"edge.{LABELLED_CLASS}", "style": {"label": "data(label)", "opacity": 1, "z-index": 20,
                                                         "text-events": "no"}},
    ]


# -- neuron panel --------------------------------------------------------------------
def neuron_details(snapshot: Mapping[str, Any], layer_position: int, index: int) -> dict[str, Any]:
    """What the neuron panel shows for neuron ``index`` of graph column
    ``layer_position``: ``title``, ``kind``, ``activation``, ``bias``,
    ``bias_grad``, ``gain``/``gain_grad`` (RMSNorm only), ``incoming_w`` and
    ``incoming_dw`` (lists over the previous column, i.e. ``W[:, index]``) and
    ``outgoing_w``/``outgoing_dw`` (``W_next[index, :]``; absent for the output).
    ``name`` is the feature or class name when the snapshot's ``dataset`` gives one.
    For the input column bias, activation and incoming weights are ``None``."""
    cols = _columns(snapshot)
    if not 0 <= layer_position < len(cols):
        raise ValueError(f"layer_position must be between 0 and {len(cols) - 1} (got {layer_position})")
    col = cols[layer_position]
    if not 0 <= index < col["size"]:
        raise ValueError(f"index must be between 0 and {col['size'] - 1} (got {index})")
    out: dict[str, Any] = {"layer_position": layer_position, "index": index, "kind": col["kind"],
                           "title": col["title"], "activation": None, "bias": None, "bias_grad": None,
                           "incoming_w": None, "incoming_dw": None, "outgoing_w": None, "outgoing_dw": None,
                           "name": None}
    names = _neuron_names(snapshot, cols)[layer_position]
    if names is not None:
        out["name"] = names[index]
    layer = col["layer"]
    if layer:
        params, grads = layer.get("params", {}), layer.get("grads", {})
        out["activation"] = activation_label(layer.get("config", {}).get("activation"))
        if _has_bias(col):
            out["bias"] = float(params["b"][index])
            out["bias_grad"] = float(grads["b"][index]) if "b" in grads else None
        if "g" in params:
            out["gain"] = float(params["g"][index])
            out["gain_grad"] = float(grads["g"][index]) if "g" in grads else None
        name = kernel_name(params)
        if name is not None:
            out["incoming_w"] = np.asarray(params[name])[:, index].astype(float).tolist()
            if name in grads:
                out["incoming_dw"] = np.asarray(grads[name])[:, index].astype(float).tolist()
    if layer_position + 1 < len(cols):
        nxt = cols[layer_position + 1]["layer"]
        name = kernel_name(nxt.get("params", {}))
        if name is not None:
            out["outgoing_w"] = np.asarray(nxt["params"][name])[index, :].astype(float).tolist()
            if name in nxt.get("grads", {}):
                out["outgoing_dw"] = np.asarray(nxt["grads"][name])[index, :].astype(float).tolist()
    return out


