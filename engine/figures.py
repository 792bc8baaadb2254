"""Figure builders: a model snapshot in, a Plotly figure or Cytoscape elements out.

Shared by scripts (``model.plot_weight_distribution``, ``model.graph_elements``)
and the dashboard, so both draw the same pictures. Every function is pure: it
reads the plain-data snapshot of ``Sequential.snapshot()`` and never the model.
Plotly is imported inside the functions that need it.

Numbering used everywhere here:

* ``layer_index`` - position in ``snapshot["layers"]`` (0-based, as in the engine);
  titles call it "Layer <layer_index + 1>".
* ``layer_position`` - a column of the network graph: 0 is the input, ``p >= 1``
  is the output of ``snapshot["layers"][p - 1]``, so column ``p`` is "Layer p".

Graph element ids (the contract with the dashboard and its browser tests):

* neuron ``n{p}-{i}``: neuron ``i`` of column ``p``;
* bias node ``bias{p}``: the constant 1 feeding column ``p`` (drawn in column ``p - 1``);
* weight edge ``w{p}-{i}-{j}``: from ``n{p-1}-{i}`` to ``n{p}-{j}``, i.e. ``W[i, j]`` of
  ``snapshot["layers"][p - 1]``;
* bias edge ``b{p}-{j}``: from ``bias{p}`` to ``n{p}-{j}``, i.e. ``b[j]``;
* column title ``title{p}``.
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np

KINDS = {"params": "weights", "grads": "gradients"}
KIND_COLORS = {"params": "#2563eb", "grads": "#d97706"}

# Graph layout (Cytoscape model coordinates).
COLUMN_GAP = 210
ROW_GAP = 36
TITLE_GAP = 46
POSITIVE_COLOR = "#2563eb"
NEGATIVE_COLOR = "#ea580c"
ZERO_COLOR = "#94a3b8"

DEFAULT_NEURONS_PER_LAYER = 16
DEFAULT_EDGES_PER_PAIR = 256
DEFAULT_MAX_ELEMENTS = 5000
MAX_NEURONS_PER_LAYER = 128
# Class of the edges whose label ("w = ...\ndL/dw = ...") is shown; toggled in the browser.
LABELLED_CLASS = "labelled"

NeuronChoice = Union[int, Sequence[int]]


# -- names -------------------------------------------------------------------
def _activation_label(name: Optional[str]) -> Optional[str]:
    if not name:
        return None
    try:
        from .activations import ACTIVATIONS
        return ACTIVATIONS[name].label
    except (ImportError, KeyError):
        return str(name)


def layer_label(snapshot: Mapping[str, Any], layer_index: int) -> str:
    """``"Layer 1 (Dense 64, ReLU)"`` for ``snapshot["layers"][0]``."""
    layer = snapshot["layers"][layer_index]
    config = layer.get("config", {})
    parts = [layer["type"]]
    units = config.get("units")
    if units is not None:
        parts[0] += f" {units}"
    act = _activation_label(config.get("activation"))
    if act:
        parts.append(act)
    if config.get("rmsnorm"):
        parts.append("RMSNorm")
    return f"Layer {layer_index + 1} ({', '.join(parts)})"


def kernel_name(arrays: Mapping[str, Any]) -> Optional[str]:
    """The weight ("W"-like) array of a layer: the first parameter with 2+ axes.
    Biases and gains (1-D) are not weights."""
    for name, value in arrays.items():
        if np.ndim(value) >= 2:
            return name
    return None


def _fmt(x: float) -> str:
    return f"{x:.4g}"


# -- histograms ----------------------------------------------------------------
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
    line = (f"mean {_fmt(entry['mean'])} · std {_fmt(entry['std'])} · "
            f"[{_fmt(entry['min'])}, {_fmt(entry['max'])}] · "
            f"n = {entry['count']:,} · {entry['zero_fraction']:.0%} zero")
    if entry["nonfinite"]:
        line += f" · {entry['nonfinite']:,} not finite"
    return line


# plotly_white's look, spelled out: a figure built as a plain dict (not a go.Figure)
# cannot name a template, and plotly.js knows none by name. Fixed margins instead of
# the template's automargin, which costs every redraw an extra layout pass.
_WHITE_AXIS = {"gridcolor": "#EBF0F8", "linecolor": "#EBF0F8", "zerolinecolor": "#EBF0F8", "zerolinewidth": 2,
               "ticks": ""}


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
        layout[f"xaxis{suffix}"] = {**_WHITE_AXIS, "anchor": f"y{suffix}", "domain": [0.0, 1.0]}
        layout[f"yaxis{suffix}"] = {**_WHITE_AXIS, "anchor": f"x{suffix}", "domain": [max(lo, 0.0), hi]}
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
        font={"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12, "color": "#2a3f5f"},
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


# -- network graph -------------------------------------------------------------------
def _columns(snapshot: Mapping[str, Any]) -> list[dict]:
    """One entry per graph column: size, title and kind; ``layer`` for columns >= 1."""
    in_shape = snapshot["input_shape"]
    if len(in_shape) != 1:
        raise ValueError(f"the network graph draws dense networks with flat inputs (input shape {in_shape})")
    layers = snapshot["layers"]
    cols = [{"position": 0, "size": int(in_shape[0]), "kind": "input", "title": "Input", "layer": None}]
    for k, layer in enumerate(layers):
        out_shape = layer["output_shape"]
        if len(out_shape) != 1:
            raise ValueError(f"the network graph draws dense networks ({layer_label(snapshot, k)} "
                             f"outputs shape {out_shape})")
        cols.append({"position": k + 1, "size": int(out_shape[0]), "layer": layer,
                     "kind": "output" if k == len(layers) - 1 else "hidden",
                     "title": layer_label(snapshot, k)})
    return cols


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
                             f"b = {_fmt(w)}\ndL/db = {_fmt(dw)}")
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
                         f"w = {_fmt(w)}\ndL/dw = {_fmt(dw)}")
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
    font = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"
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
        out["activation"] = _activation_label(layer.get("config", {}).get("activation"))
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


# -- decision regions -------------------------------------------------------------------
# What a trained network predicts over its input plane (2 features), or along its
# input line (1 feature, regression): for the dashboard's "Decision regions" panel.
# Figures are plain dicts (no go.Figure validation: they are rebuilt on every snapshot).

REGION_COLORS = ("#2563eb", "#ea580c", "#059669", "#9333ea", "#dc2626", "#0891b2", "#ca8a04",
                 "#db2777", "#4f46e5", "#65a30d")
REGION_GRID = 80
CURVE_POINTS = 200
REGION_PAD = 0.08           # the plotted range reaches this share of the data's span past the points
REGION_PLOT_HEIGHT = 390    # px of the plot area; its width follows the data (equal units on both axes)
REGION_MAX_ASPECT = 1.75    # widest plot area, as a multiple of its height
REGION_MAX_SPAN_RATIO = 4.0  # spans differing more than this get no equal units (e.g. a CSV of mixed units)
REGION_MARGIN = {"l": 56, "r": 118, "t": 44, "b": 48}   # the legend sits in the right margin
REGION_WIDE = int(REGION_PLOT_HEIGHT * REGION_MAX_ASPECT) + REGION_MARGIN["l"] + REGION_MARGIN["r"]
REGION_LIGHT, REGION_FULL = 0.94, 0.55  # how much white the region colour has at low / full confidence


def _mix_white(color: str, share: float) -> str:
    """``color`` (#rrggbb) mixed with ``share`` white (a negative share: black), as #rrggbb."""
    rgb = [int(color[i:i + 2], 16) for i in (1, 3, 5)]
    end = 255 if share >= 0 else 0
    return "#" + "".join(f"{round(c + (end - c) * abs(share)):02x}" for c in rgb)


def region_color(k: int) -> str:
    """The colour of class ``k`` in the decision-region figures."""
    return REGION_COLORS[k % len(REGION_COLORS)]


def model_from_snapshot(snapshot: Mapping[str, Any]):
    """A new engine ``Sequential`` with the snapshot's layers and parameters, for
    ``predict`` (building one costs well under a millisecond for the dashboard's nets)."""
    from .model import Sequential, layers_from_config

    layers = snapshot["layers"]
    dtype = "float64" if any(np.asarray(a).dtype == np.float64 for l in layers
                             for a in l.get("params", {}).values()) else "float32"
    built = layers_from_config(layers)
    model = Sequential(built, tuple(snapshot["input_shape"]), loss=snapshot.get("loss") or "mse",
                       dtype=dtype, seed=0)
    for layer, entry in zip(model.layers, layers):
        for name in layer.param_names:
            setattr(layer, name, entry["params"][name])
    return model


def _standardize(standardizer: Any, X: np.ndarray) -> np.ndarray:
    """X in the model's input units: ``standardizer`` is an ``engine.datasets.Standardizer``,
    its ``to_dict()`` form, or None (the model takes X as it is)."""
    if standardizer is None:
        return np.asarray(X, dtype=np.float32)
    if isinstance(standardizer, Mapping):
        from .datasets import Standardizer
        standardizer = Standardizer.from_dict(standardizer)
    return standardizer.transform(X)


def regions_note(snapshot: Optional[Mapping[str, Any]]) -> Optional[str]:
    """Why the decision-region figure cannot be drawn for this snapshot, or None when it can."""
    if not snapshot or not snapshot.get("layers"):
        return "No model yet: build a network and start training to see what it predicts."
    shape = snapshot.get("input_shape") or []
    n = int(np.prod(shape)) if shape else 0
    task = (snapshot.get("dataset") or {}).get("task") or _task_of(snapshot)
    if len(shape) != 1 or n > 2:
        return (f"Decision regions are drawn for data sets with 1 or 2 input features; this one has {n:,}. "
                "Choose moons, circles, xor, spiral, blobs, sine or a 2-column CSV to see them.")
    if n == 1 and task == "classification":
        return "Decision regions need 2 input features; this classifier has 1."
    return None


def _task_of(snapshot: Mapping[str, Any]) -> str:
    return "classification" if snapshot.get("loss") in ("cce", "bce") else "regression"


def _class_scores(P: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(predicted class, confidence in [0, 1], number of classes) from output rows P."""
    P = np.asarray(P, dtype=np.float64)
    if P.shape[1] == 1:                      # one sigmoid unit: P(class 1)
        p1 = np.clip(P[:, 0], 0.0, 1.0)
        return (p1 >= 0.5).astype(np.int64), np.maximum(p1, 1.0 - p1), 2
    k = P.shape[1]
    pred = P.argmax(axis=1)
    return pred, np.clip(P[np.arange(len(P)), pred], 0.0, 1.0), k


def _region_colorscale(n_classes: int) -> list:
    """A colorscale for z = class + shade (shade in [0, 1)): one band per class,
    from a pale tint (unsure) to a strong tint (sure)."""
    scale = []
    for k in range(n_classes):
        color = region_color(k)
        scale.append([k / n_classes, _mix_white(color, REGION_LIGHT)])
        scale.append([(k + 1) / n_classes, _mix_white(color, REGION_FULL)])
    return scale


def _padded_range(values: np.ndarray) -> tuple[float, float]:
    lo, hi = float(np.min(values)), float(np.max(values))
    span = hi - lo if hi > lo else max(abs(lo), 1.0)
    return lo - REGION_PAD * span, hi + REGION_PAD * span


def _as_2d(X: Any) -> np.ndarray:
    return np.asarray(X, dtype=np.float64).reshape(len(X), -1) if X is not None else np.zeros((0, 0))


def _note_figure(text: str, title: str = "Decision regions") -> dict[str, Any]:
    return {"data": [], "layout": {
        "title": {"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 14}},
        "template": "plotly_white", "height": 260, "margin": {"l": 20, "r": 20, "t": 40, "b": 20},
        "xaxis": {"visible": False}, "yaxis": {"visible": False},
        "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
        "annotations": [{"text": text, "showarrow": False, "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5,
                         "font": {"color": "#64748b", "size": 13}}]}}


def _equal_aspect(x_range: tuple[float, float], y_range: tuple[float, float]) -> tuple[tuple, tuple, Optional[int]]:
    """Ranges widened so that one unit is as long on both axes in a plot area of fixed
    height and a width between 1 and ``REGION_MAX_ASPECT`` times it, and the figure's
    width (None, and the ranges unchanged, when the spans differ too much to share units:
    the figure then takes :data:`REGION_WIDE` px).
    Done here rather than with Plotly's ``scaleanchor``, which keeps stale ranges across
    ``Plotly.react`` updates of a figure whose data change."""
    sx, sy = x_range[1] - x_range[0], y_range[1] - y_range[0]
    if not (sx > 0 and sy > 0) or max(sx, sy) > REGION_MAX_SPAN_RATIO * min(sx, sy):
        return x_range, y_range, None
    aspect = min(max(sx / sy, 1.0), REGION_MAX_ASPECT)      # plot width / plot height
    if sx / sy < aspect:
        grow = (sy * aspect - sx) / 2
        x_range = (x_range[0] - grow, x_range[1] + grow)
    elif sx / sy > aspect:
        grow = (sx / aspect - sy) / 2
        y_range = (y_range[0] - grow, y_range[1] + grow)
    margin = REGION_MARGIN
    return x_range, y_range, int(round(REGION_PLOT_HEIGHT * aspect)) + margin["l"] + margin["r"]


def _regions_layout(title: str, x_title: str, y_title: str, x_range, y_range) -> dict[str, Any]:
    return {
        "title": {"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 14}},
        "template": "plotly_white", "height": REGION_PLOT_HEIGHT + REGION_MARGIN["t"] + REGION_MARGIN["b"],
        "margin": dict(REGION_MARGIN),
        "xaxis": {"title": {"text": x_title}, "range": list(x_range), "showgrid": False, "zeroline": False,
                  "constrain": "domain", "mirror": True, "showline": True, "linecolor": "#cbd5e1", "ticks": "outside"},
        "yaxis": {"title": {"text": y_title}, "range": list(y_range), "showgrid": False, "zeroline": False,
                  "constrain": "domain", "mirror": True, "showline": True, "linecolor": "#cbd5e1", "ticks": "outside"},
        "legend": {"orientation": "v", "y": 1, "yanchor": "top", "x": 1.02, "xanchor": "left",
                   "font": {"size": 12}, "itemclick": "toggle", "tracegroupgap": 2},
        "hovermode": "closest",
        # a user's zoom survives the live refreshes of a run, not a change of data (new ranges)
        "uirevision": f"regions:{x_title}:{y_title}:{_fmt(x_range[0])}:{_fmt(x_range[1])}:{_fmt(y_range[0])}:"
                      f"{_fmt(y_range[1])}",
        "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "#ffffff",
        "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12},
    }


def decision_regions_data(snapshot: Mapping[str, Any], X_range: Sequence[float], Y_range: Sequence[float],
                          grid: int = REGION_GRID, standardizer: Any = None) -> dict[str, Any]:
    """The network's predictions on a ``grid`` x ``grid`` lattice over the plane.

    ``X_range`` / ``Y_range`` are (low, high) in the data's original units; the
    lattice is standardised with ``standardizer`` (as training did) before
    ``predict``. Returns ``x`` (grid,), ``y`` (grid,), ``outputs`` (grid, grid, k)
    with row i at ``y[i]`` and column j at ``x[j]``, and for classifiers ``pred`` and
    ``confidence`` (grid, grid) and ``n_classes``."""
    if not isinstance(grid, (int, np.integer)) or grid < 2:
        raise ValueError(f"grid must be an integer of at least 2 (got {grid!r})")
    xs = np.linspace(float(X_range[0]), float(X_range[1]), grid)
    ys = np.linspace(float(Y_range[0]), float(Y_range[1]), grid)
    gx, gy = np.meshgrid(xs, ys)
    plane = np.column_stack([gx.ravel(), gy.ravel()])
    model = model_from_snapshot(snapshot)
    P = model.predict(_standardize(standardizer, plane))
    out: dict[str, Any] = {"x": xs, "y": ys, "outputs": P.reshape(grid, grid, -1)}
    if _task_of(snapshot) == "classification" or (snapshot.get("dataset") or {}).get("task") == "classification":
        pred, conf, k = _class_scores(P)
        out.update(pred=pred.reshape(grid, grid), confidence=conf.reshape(grid, grid), n_classes=k)
    return out


def _class_names(snapshot: Mapping[str, Any], n: int) -> list[str]:
    names = list((snapshot.get("dataset") or {}).get("class_names") or [])
    return [str(names[k]) if k < len(names) else str(k) for k in range(n)]


def _feature_names(snapshot: Mapping[str, Any], n: int) -> list[str]:
    names = list((snapshot.get("dataset") or {}).get("feature_names") or [])
    return [str(names[k]) if k < len(names) else f"x{k + 1}" for k in range(n)]


def decision_regions_figure(snapshot: Mapping[str, Any], X_train: Any, y_train: Any, X_val: Any = None,
                            y_val: Any = None, grid: int = REGION_GRID, standardizer: Any = None) -> dict[str, Any]:
    """Plotly figure (a plain dict) of what the network predicts over its input space.

    * 2 features, classification: a heatmap of the predicted class on a ``grid`` x
      ``grid`` lattice (a colour per class, paler where the network is less sure),
      with the training points filled and the validation points hollow.
    * 2 features, regression: a heatmap of the predicted value, points coloured by
      their target on the same scale.
    * 1 feature, regression: the fitted curve over the points.
    * anything else: a figure with a note (see :func:`regions_note`).

    ``X_*`` are in the data's original units (as loaded); ``y_*`` are class indices
    (classification) or targets (regression). ``standardizer`` maps original units to
    the model's inputs: the ``engine.datasets.Standardizer`` fitted for training (or its
    ``to_dict()``), or None when the model was trained on raw inputs. Axes show
    original units.
    """
    note = regions_note(snapshot)
    if note:
        return _note_figure(note)
    X_train = _as_2d(X_train)
    X_val = _as_2d(X_val) if X_val is not None and len(X_val) else np.zeros((0, X_train.shape[1]))
    y_train = np.asarray(y_train)
    y_val = np.asarray(y_val) if y_val is not None else np.zeros((0,))
    n_in = int(snapshot["input_shape"][0])
    if X_train.shape[1] != n_in or (len(X_val) and X_val.shape[1] != n_in):
        return _note_figure(f"The data points have {X_train.shape[1]} features but the network takes {n_in}.")
    if len(X_train) == 0:
        return _note_figure("No training points to draw.")
    features = _feature_names(snapshot, n_in)
    X_all = np.vstack([X_train, X_val])
    if n_in == 1:
        return _curve_figure(snapshot, X_train, y_train, X_val, y_val, standardizer, features[0], X_all)
    x_range, y_range = _padded_range(X_all[:, 0]), _padded_range(X_all[:, 1])
    x_range, y_range, width = _equal_aspect(x_range, y_range)
    data = decision_regions_data(snapshot, x_range, y_range, grid, standardizer)
    xs, ys = np.round(data["x"], 6).tolist(), np.round(data["y"], 6).tolist()
    hover_xy = f"{features[0]} %{{x:.3g}}, {features[1]} %{{y:.3g}}"
    if "pred" in data:
        k = data["n_classes"]
        names = _class_names(snapshot, k)
        # shade 0 at chance level (1/k), 1 when sure; z = class + shade picks a band of the colorscale
        shade = np.clip((data["confidence"] - 1.0 / k) / (1.0 - 1.0 / k), 0.0, 0.999)
        z = np.round(data["pred"] + shade, 3)
        traces: list[dict[str, Any]] = [{
            "type": "heatmap", "x": xs, "y": ys, "z": z.tolist(), "zmin": 0, "zmax": k, "zsmooth": "fast",
            "colorscale": _region_colorscale(k), "showscale": False, "name": "prediction",
            "text": [[names[c] for c in row] for row in data["pred"].tolist()],
            "customdata": np.round(100 * data["confidence"]).astype(int).tolist(),
            "hovertemplate": hover_xy + "<br>predicted class %{text} (%{customdata}%)<extra></extra>",
        }]
        y_train, y_val = y_train.reshape(-1).astype(int), y_val.reshape(-1).astype(int)
        for c in range(k):
            rows = y_train == c
            traces.append(_points(X_train[rows], f"class {names[c]}", region_color(c), True, f"class {c}",
                                  hover_xy + f"<br>class {names[c]}, training<extra></extra>"))
        for c in range(k):
            rows = y_val == c
            if rows.any():
                traces.append(_points(X_val[rows], "validation", region_color(c), False, "validation",
                                      hover_xy + f"<br>class {names[c]}, validation<extra></extra>",
                                      show_legend=False))
        if len(X_val):   # one legend entry (grey) for the hollow markers of every class
            traces.append({"type": "scatter", "mode": "markers", "name": "validation", "legendgroup": "validation",
                           "x": [None], "y": [None], "hoverinfo": "skip",
                           "marker": {"size": 8, "symbol": "circle-open", "color": "#475569",
                                      "line": {"width": 2, "color": "#475569"}}})
        title = "Predicted class over the input plane"
    else:
        target = np.asarray(data["outputs"][:, :, 0], dtype=np.float64)
        t_train = np.asarray(y_train, dtype=np.float64).reshape(len(X_train), -1)[:, 0]
        t_val = np.asarray(y_val, dtype=np.float64).reshape(len(X_val), -1)[:, 0] if len(X_val) else np.zeros(0)
        lo = float(min(target.min(), t_train.min(), t_val.min() if len(t_val) else np.inf))
        hi = float(max(target.max(), t_train.max(), t_val.max() if len(t_val) else -np.inf))
        coloraxis = {"colorscale": "RdBu", "reversescale": True, "cmin": lo, "cmax": hi if hi > lo else lo + 1,
                     "colorbar": {"title": {"text": "y", "side": "right"}, "thickness": 12, "len": 0.8}}
        traces = [{"type": "heatmap", "x": xs, "y": ys, "z": np.round(target, 4).tolist(), "coloraxis": "coloraxis",
                   "zsmooth": "fast", "opacity": 0.75, "name": "prediction",
                   "hovertemplate": hover_xy + "<br>predicted %{z:.4g}<extra></extra>"}]
        for X, t, filled, label in ((X_train, t_train, True, "training"), (X_val, t_val, False, "validation")):
            if len(X):
                marker: dict[str, Any] = {"size": 7, "color": np.round(t, 5).tolist(), "coloraxis": "coloraxis",
                                          "line": {"width": 1.5 if not filled else 0.8,
                                                   "color": "#334155" if not filled else "#ffffff"}}
                if not filled:
                    marker.update(symbol="circle-open", line={"width": 2, "color": np.round(t, 5).tolist()})
                traces.append({"type": "scatter", "mode": "markers", "name": label, "x": X[:, 0].tolist(),
                               "y": X[:, 1].tolist(), "marker": marker, "customdata": np.round(t, 4).tolist(),
                               "hovertemplate": hover_xy + f"<br>target %{{customdata:.4g}}, {label}<extra></extra>"})
        title = "Predicted value over the input plane"
    layout = _regions_layout(title, features[0], features[1], x_range, y_range)
    layout["width"] = width or REGION_WIDE
    if "pred" not in data:
        layout["coloraxis"] = coloraxis
    return {"data": traces, "layout": layout}


def _points(X: np.ndarray, name: str, color: str, filled: bool, group: str, hover: str,
            show_legend: bool = True) -> dict[str, Any]:
    """A scatter of 2-D points: filled (training) or hollow (validation) markers."""
    dark = _mix_white(color, -0.3)
    if filled:
        marker = {"size": 7, "color": color, "line": {"width": 1, "color": "#ffffff"}}
    else:
        marker = {"size": 8, "symbol": "circle-open", "color": dark, "line": {"width": 2, "color": dark}}
    return {"type": "scatter", "mode": "markers", "name": name, "legendgroup": group, "showlegend": show_legend,
            "x": np.round(X[:, 0], 5).tolist(), "y": np.round(X[:, 1], 5).tolist(), "marker": marker,
            "hovertemplate": hover}


def _curve_figure(snapshot: Mapping[str, Any], X_train: np.ndarray, y_train: Any, X_val: np.ndarray, y_val: Any,
                  standardizer: Any, feature: str, X_all: np.ndarray) -> dict[str, Any]:
    """1 input feature, regression: the fitted curve (first output) over the data."""
    x_range = _padded_range(X_all[:, 0])
    xs = np.linspace(x_range[0], x_range[1], CURVE_POINTS)
    model = model_from_snapshot(snapshot)
    P = np.asarray(model.predict(_standardize(standardizer, xs[:, None])), dtype=np.float64).reshape(len(xs), -1)
    t_train = np.asarray(y_train, dtype=np.float64).reshape(len(X_train), -1)[:, 0]
    traces: list[dict[str, Any]] = [{
        "type": "scatter", "mode": "markers", "name": "training", "x": np.round(X_train[:, 0], 5).tolist(),
        "y": np.round(t_train, 5).tolist(), "marker": {"size": 6, "color": "#2563eb", "opacity": 0.75,
                                                       "line": {"width": 0.5, "color": "#ffffff"}},
        "hovertemplate": f"{feature} %{{x:.3g}}<br>y %{{y:.4g}}, training<extra></extra>"}]
    if len(X_val):
        t_val = np.asarray(y_val, dtype=np.float64).reshape(len(X_val), -1)[:, 0]
        traces.append({"type": "scatter", "mode": "markers", "name": "validation",
                       "x": np.round(X_val[:, 0], 5).tolist(), "y": np.round(t_val, 5).tolist(),
                       "marker": {"size": 7, "symbol": "circle-open", "color": "#ea580c",
                                  "line": {"width": 1.8, "color": "#ea580c"}},
                       "hovertemplate": f"{feature} %{{x:.3g}}<br>y %{{y:.4g}}, validation<extra></extra>"})
    traces.append({"type": "scatter", "mode": "lines", "name": "network", "x": np.round(xs, 5).tolist(),
                   "y": np.round(P[:, 0], 5).tolist(), "line": {"color": "#0f172a", "width": 3},
                   "hovertemplate": f"{feature} %{{x:.3g}}<br>predicted %{{y:.4g}}<extra></extra>"})
    ys = np.concatenate([t_train, P[:, 0][np.isfinite(P[:, 0])]])
    layout = _regions_layout("Fitted curve over the data", feature, "y", x_range, _padded_range(ys))
    layout["width"] = REGION_WIDE
    return {"data": traces, "layout": layout}
