"""The network graph in trace mode: one sample's values and gradients on the neurons and edges.

Every function is pure. The inputs are the Cytoscape elements of
:func:`viz.network.graph_view` (ids and data as documented there), the snapshot
they were drawn from, and the trace of one sample (``engine.trace.trace_sample``);
the outputs are new element dicts (the given ones are never changed), extra
stylesheet rules, the rows of a step table and the readout of the loss.

* :func:`trace_elements` ``mode="forward"``: a neuron shows ``z = …`` / ``a = …``
  (an input ``x = …``, or its feature name and value), a weight edge its
  contribution ``w·a = …`` to the next neuron's weighted sum and ``w = …``, a bias
  edge ``b = …``; edge width follows the |contribution| relative to the largest
  shown in its layer pair. ``mode="backward"``: neurons show ``dL/da`` / ``dL/dz``
  (inputs ``dL/dx``), edges this sample's ``dL/dw`` / ``dL/db``, width by |gradient|.
  With RMSNorm, ``z`` is the normalised pre-activation, not the sum of the edges.
* :func:`step_elements`: after one optimiser step, each edge shows
  ``w before → after``, ``Δ`` and ``−lr·dL/dw`` (the batch gradient); width by |Δ|.
* :func:`step_table`: the dense part's largest |Δ|, with a note on why Δ is or
  is not ``−lr·g`` for the optimiser used.
* :func:`readout`: the loss, its formula and output against target per unit.

Classes added: ``traced`` (trace mode) and ``stepped`` (step mode); data added:
``value`` (the quantity shown), and ``sign``/``strength`` follow it.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import numpy as np

from engine.losses import LOSSES
from engine.optimizers import OPTIMIZERS

from .network import columns
from .snapshots import layer_label, task_of
from .style import fmt

MODES = ("forward", "backward")
TRACED_CLASS = "traced"
STEPPED_CLASS = "stepped"
# Traced neurons: wide enough for "dL/dz = -0.0001234" on each of two lines.
TRACED_NODE_WIDTH = 104
TRACED_NODE_HEIGHT = 30


# -- helpers ----------------------------------------------------------------------------------------
def _fmt(x: float) -> str:
    """``viz.style.fmt``, with -0.0 shown as 0."""
    return fmt(float(x) + 0.0)


def _copy(element: Mapping[str, Any]) -> dict:
    """A new element dict whose ``data`` and ``position`` are new dicts too."""
    return {k: (dict(v) if isinstance(v, dict) else v) for k, v in element.items()}


def _add_class(element: dict, name: str) -> None:
    classes = str(element.get("classes", "")).split()
    if name not in classes:
        classes.append(name)
    element["classes"] = " ".join(classes)


def _sign(value: float) -> int:
    return (value > 0) - (value < 0)


def _is_neuron(data: Mapping[str, Any]) -> bool:
    return "layer_position" in data and "index" in data and str(data.get("id", "")).startswith("n")


def _is_edge(data: Mapping[str, Any]) -> bool:
    return data.get("kind") in ("weight", "bias") and "target_layer" in data and "source" in data


def _set_strengths(edges: list[dict], magnitude_key: str = "value") -> None:
    """``strength`` = |value| over the largest |value| among the edges of the same layer pair."""
    biggest: dict[tuple, float] = {}
    for e in edges:
        key = (e["data"]["source_layer"], e["data"]["target_layer"])
        biggest[key] = max(biggest.get(key, 0.0), abs(e["data"][magnitude_key]))
    for e in edges:
        top = biggest[(e["data"]["source_layer"], e["data"]["target_layer"])]
        e["data"]["strength"] = abs(e["data"][magnitude_key]) / top if top else 0.0


def _column_layers(snapshot: Mapping[str, Any]) -> list[Optional[int]]:
    return [c["layer_index"] for c in columns(snapshot)]


def _check_trace(trace: Mapping[str, Any], snapshot: Mapping[str, Any]) -> list[Optional[int]]:
    """The columns' layer indices, after checking that ``trace`` is of the snapshot's model."""
    if not isinstance(trace, Mapping) or "layers" not in trace:
        raise ValueError("trace must be the dict engine.trace.trace_sample returns")
    layers = snapshot["layers"]
    if len(trace["layers"]) != len(layers) or any(t["type"] != l["type"] for t, l in zip(trace["layers"], layers)):
        raise ValueError(f"trace does not belong to this snapshot: it has layers "
                         f"{[t['type'] for t in trace['layers']]}, the snapshot {[l['type'] for l in layers]}")
    cols = columns(snapshot)
    for c in cols[1:]:
        a = np.asarray(trace["layers"][c["layer_index"]]["a"])
        if a.shape != (c["size"],):
            raise ValueError(f"trace does not belong to this snapshot: layer {c['layer_index']} has output shape "
                             f"{a.shape} in the trace, ({c['size']},) in the snapshot")
    return [c["layer_index"] for c in cols]


def _entry(mapping: Mapping[Any, Any], k: int) -> Optional[Mapping[str, Any]]:
    """``mapping[k]`` with an int or a str key (JSON turns keys into strings)."""
    if k in mapping:
        return mapping[k]
    return mapping.get(str(k))


# -- trace mode ---------------------------------------------------------------------------------------
def trace_elements(elements: Sequence[Mapping[str, Any]], snapshot: Mapping[str, Any],
                   trace: Mapping[str, Any], mode: str) -> list[dict]:
    """The graph's elements with one sample's forward values (``mode="forward"``) or
    gradients (``mode="backward"``) as labels; see the module docstring."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)} (got {mode!r})")
    col_layer = _check_trace(trace, snapshot)
    layers = trace["layers"]
    first = layers[col_layer[1]]
    forward = mode == "forward"
    out: list[dict] = []
    edges: list[dict] = []
    for element in elements:
        el = _copy(element)
        data = el.get("data", {})
        if _is_neuron(data):
            p, i = int(data["layer_position"]), int(data["index"])
            if p == 0:
                value = float((first["input"] if forward else first["dL_dinput"])[i])
                name = data.get("name")
                what = ("x" if name is None else str(name)) if forward else "dL/dx"
                data["label"] = f"{what} = {_fmt(value)}"
            else:
                t = layers[col_layer[p]]
                if forward:
                    value = float(t["a"][i])
                    data["label"] = f"z = {_fmt(float(t['z'][i]))}\na = {_fmt(value)}"
                else:
                    value = float(t["dL_dz"][i])
                    data["label"] = f"dL/da = {_fmt(float(t['dL_da'][i]))}\ndL/dz = {_fmt(value)}"
            data["value"], data["sign"] = value, _sign(value)
            _add_class(el, TRACED_CLASS)
        elif _is_edge(data):
            p, j = int(data["target_layer"]), int(data["to"])
            t = layers[col_layer[p]]
            if data["kind"] == "weight":
                i = int(data["from"])
                w = float(np.asarray(t["params"]["W"])[i, j])
                if forward:
                    value = w * float(t["input"][i])
                    data["label"] = f"w·a = {_fmt(value)}\nw = {_fmt(w)}"
                else:
                    value = float(np.asarray(t["grads"]["W"])[i, j])
                    data["label"] = f"dL/dw = {_fmt(value)}"
            else:
                value = float(np.asarray(t["params" if forward else "grads"]["b"])[j])
                data["label"] = f"b = {_fmt(value)}" if forward else f"dL/db = {_fmt(value)}"
            data["value"], data["sign"] = value, _sign(value)
            _add_class(el, TRACED_CLASS)
            edges.append(el)
        elif data.get("kind") == "bias":
            _add_class(el, TRACED_CLASS)
        out.append(el)
    _set_strengths(edges)
    return out


def trace_stylesheet() -> list[dict]:
    """Cytoscape rules for the ``traced`` class, to append to
    :func:`viz.network.graph_stylesheet`: neurons become round rectangles wide enough
    for two lines of values, tinted by the sign of the value shown. Edges need no rule
    of their own: the graph's stylesheet already maps ``strength`` and ``sign``, which
    trace and step mode set from the quantity shown."""
    return [
        {"selector": f"node.neuron.{TRACED_CLASS}",
         "style": {"shape": "round-rectangle", "width": TRACED_NODE_WIDTH, "height": TRACED_NODE_HEIGHT,
                   "label": "data(label)", "text-wrap": "wrap", "text-max-width": TRACED_NODE_WIDTH - 4,
                   "text-halign": "center", "text-valign": "center", "text-margin-x": 0,
                   "font-size": 9, "line-height": 1.25, "border-width": 1.5}},
        {"selector": f"node.neuron.{TRACED_CLASS}[sign > 0]", "style": {"background-color": "#dbeafe"}},
        {"selector": f"node.neuron.{TRACED_CLASS}[sign < 0]", "style": {"background-color": "#ffedd5"}},
    ]


# -- step mode ------------------------------------------------------------------------------------------
def _check_step(snapshot_after: Mapping[str, Any], before: Mapping[Any, Any], learning_rate: Any,
                optimizer: Any) -> None:
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float, np.integer, np.floating)) \
            or not learning_rate > 0 or not np.isfinite(learning_rate):
        raise ValueError(f"learning_rate must be a number greater than 0 (got {learning_rate!r})")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)} (got {optimizer!r})")
    if not isinstance(before, Mapping):
        raise ValueError("before must map layer indices to {parameter name: array before the step}")
    for k in _column_layers(snapshot_after)[1:]:
        entry = _entry(before, k)
        layer = snapshot_after["layers"][k]
        if entry is None:
            raise ValueError(f"before has no parameters of layer {k} ({layer['type']}), which the graph draws")
        for name, value in layer["params"].items():
            if name in entry and np.shape(entry[name]) != np.shape(value):
                raise ValueError(f"before[{k}][{name!r}] has shape {np.shape(entry[name])}, the layer's "
                                 f"{name} has shape {np.shape(value)}")


def step_elements(elements: Sequence[Mapping[str, Any]], snapshot_after: Mapping[str, Any],
                  before: Mapping[Any, Mapping[str, Any]], learning_rate: float, optimizer: str) -> list[dict]:
    """The graph's elements after one optimiser step: each weight and bias edge shows
    ``w 0.512 → 0.498``, ``Δ = -0.014`` and ``−lr·dL/dw = -0.014`` (lr times the batch
    gradient kept in ``snapshot_after``); class ``stepped``, ``strength`` by |Δ|.
    ``before`` maps a layer index to ``{"W": array, "b": array, ...}`` before the step."""
    _check_step(snapshot_after, before, learning_rate, optimizer)
    col_layer = _column_layers(snapshot_after)
    lr = float(learning_rate)
    out, edges = [], []
    for element in elements:
        el = _copy(element)
        data = el.get("data", {})
        if _is_edge(data):
            k = col_layer[int(data["target_layer"])]
            layer, old = snapshot_after["layers"][k], _entry(before, k)
            j = int(data["to"])
            name, index, sym = ("W", (int(data["from"]), j), "w") if data["kind"] == "weight" else ("b", (j,), "b")
            if name not in old:
                raise ValueError(f"before[{k}] has no {name!r}")
            was = float(np.asarray(old[name])[index])
            now = float(np.asarray(layer["params"][name])[index])
            g = float(np.asarray(layer["grads"][name])[index])
            delta, lr_g = now - was + 0.0, -lr * g + 0.0      # + 0.0: no "-0" in the labels
            data["label"] = f"{sym} {_fmt(was)} → {_fmt(now)}\nΔ = {_fmt(delta)}\n−lr·dL/d{sym} = {_fmt(lr_g)}"
            data.update(before=was, after=now, delta=delta, value=delta, sign=_sign(delta), lr_grad=lr_g)
            _add_class(el, STEPPED_CLASS)
            edges.append(el)
        out.append(el)
    _set_strengths(edges)
    return out


def _step_note(optimizer: str, params: Mapping[str, Any], equal: bool) -> str:
    """Why Δ is (or is not) −lr·g for this optimiser."""
    if optimizer == "sgd" and not params.get("momentum"):
        if equal:
            return "SGD: Δ = −lr·g exactly (L1/L2, when on, are inside g)"
        return ("SGD should give Δ = −lr·g, but it does not here: the snapshot's gradient is not the one "
                "that was stepped on")
    if optimizer == "sgd":
        return (f"momentum adds the previous steps' velocity: Δ = −lr·v with v = {params['momentum']:g}·v + g, "
                f"so Δ ≠ −lr·g")
    if optimizer == "adam":
        b1, b2, eps = params.get("beta1", 0.9), params.get("beta2", 0.999), params.get("eps", 1e-8)
        return (f"Adam scales each step by its running averages: Δ = −lr·m̂/(√v̂+ε) "
                f"(β1 = {b1:g}, β2 = {b2:g}, ε = {eps:g}), so Δ ≠ −lr·g")
    if optimizer == "rmsprop":
        return "RMSprop scales each step by the running mean of g²: Δ = −lr·g/(√v+ε), so Δ ≠ −lr·g"
    return f"{optimizer} has its own update rule: Δ is not −lr·g"


def _param_name(name: str, index: tuple[int, ...]) -> str:
    return f"{name}[{', '.join(str(int(i)) for i in index)}]"


def step_table(snapshot_after: Mapping[str, Any], before: Mapping[Any, Mapping[str, Any]], learning_rate: float,
               optimizer: str, optimizer_params: Optional[Mapping[str, Any]] = None, limit: int = 12) -> list[dict]:
    """Rows for the ``limit`` largest |Δ| parameters of the dense part (weights, biases,
    RMSNorm gains), largest first: ``{"layer": title, "layer_index", "name": "W[3, 1]",
    "before", "after", "delta", "minus_lr_g", "equal": Δ == −lr·g (to rounding), "note"}``."""
    _check_step(snapshot_after, before, learning_rate, optimizer)
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1:
        raise ValueError(f"limit must be a positive integer (got {limit!r})")
    if optimizer_params is not None and not isinstance(optimizer_params, Mapping):
        raise ValueError(f"optimizer_params must be a dict (got {type(optimizer_params).__name__})")
    params = {**OPTIMIZERS[optimizer].defaults, **dict(optimizer_params or {})}
    lr = float(learning_rate)
    candidates = []
    for k in _column_layers(snapshot_after)[1:]:
        layer, old = snapshot_after["layers"][k], _entry(before, k)
        for name, value in layer["params"].items():
            if name not in old:
                continue
            after = np.asarray(value, dtype=np.float64)
            was = np.asarray(old[name], dtype=np.float64)
            grad = np.asarray(layer["grads"][name], dtype=np.float64)
            delta = (after - was).ravel()
            take = min(limit, delta.size)
            top = np.argpartition(-np.abs(delta), take - 1)[:take] if take < delta.size else np.arange(delta.size)
            # A step is exact to the rounding of the stored values.
            eps = float(np.finfo(np.result_type(np.asarray(value).dtype, np.float32)).eps)
            for f in top.tolist():
                index = np.unravel_index(f, after.shape)
                d, lg = float(delta[f]) + 0.0, -lr * float(grad[index]) + 0.0
                tol = 4 * eps * max(abs(float(was[index])), abs(float(after[index])), abs(lg)) + 1e-12
                candidates.append({"layer": layer_label(snapshot_after, k), "layer_index": k,
                                   "name": _param_name(name, index), "before": float(was[index]),
                                   "after": float(after[index]), "delta": d, "minus_lr_g": lg,
                                   "equal": abs(d - lg) <= tol})
    candidates.sort(key=lambda r: -abs(r["delta"]))
    rows = candidates[:limit]
    for r in rows:
        r["note"] = _step_note(optimizer, params, r["equal"])
    return rows


# -- the readout --------------------------------------------------------------------------------------------
def _unit_names(snapshot: Mapping[str, Any], k: int) -> Optional[list[str]]:
    names = list((snapshot.get("dataset") or {}).get("class_names") or [])
    if len(names) == k:
        return [str(n) for n in names]
    if k == 1 and len(names) == 2:       # one sigmoid unit: the probability of the second class
        return [str(names[1])]
    return None


def readout(trace: Mapping[str, Any], snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """What the page shows beside the traced graph::

        {"loss": "cce", "loss_label": "Categorical cross-entropy", "value", "data_loss", "penalty",
         "lines": [loss formula, gradient formula],
         "units": [{"index", "name", "output", "target", "dL_doutput", "dL_dz"}, ...],
         "task": "classification" | "regression",
         "predicted": {"index", "name", "score"} | None, "actual": {"index", "name"} | None,
         "correct": bool | None}

    ``name`` is the class name from ``snapshot["dataset"]["class_names"]`` when the
    counts match (or None); ``predicted`` is the arg-max unit (a single unit: class 1
    when its output is above 0.5), for classification only."""
    if not isinstance(trace, Mapping) or "output" not in trace:
        raise ValueError("trace must be the dict engine.trace.trace_sample returns")
    p = np.asarray(trace["output"], dtype=np.float64)
    y = np.asarray(trace["target"], dtype=np.float64)
    g = np.asarray(trace["dL_doutput"], dtype=np.float64)
    dz = trace.get("dL_dlogits")
    dz = None if dz is None else np.asarray(dz, dtype=np.float64)
    flat = p.ravel()
    k = flat.size
    names = _unit_names(snapshot, k) if p.ndim == 1 else None
    units = [{"index": i, "name": names[i] if names else None, "output": float(flat[i]),
              "target": float(y.ravel()[i]), "dL_doutput": float(g.ravel()[i]),
              "dL_dz": None if dz is None else float(dz.ravel()[i])} for i in range(k)]
    loss = trace["loss"]
    task = task_of({**snapshot, "loss": snapshot.get("loss") or loss})
    predicted = actual = correct = None
    if task == "classification" and p.ndim == 1:
        all_names = [str(n) for n in ((snapshot.get("dataset") or {}).get("class_names") or [])]
        if k == 1:
            pi, ai, score = int(flat[0] > 0.5), int(y[0] > 0.5), float(flat[0])
        else:
            pi, ai = int(flat.argmax()), int(y.argmax())
            score = float(flat[pi])
        n_classes = 2 if k == 1 else k
        name_of = (lambda i: all_names[i]) if len(all_names) == n_classes else (lambda i: None)
        predicted = {"index": pi, "name": name_of(pi), "score": score}
        actual = {"index": ai, "name": name_of(ai)}
        correct = pi == ai
    return {"loss": loss, "loss_label": LOSSES[loss].label if loss in LOSSES else str(loss),
            "value": float(trace["value"]), "data_loss": float(trace["data_loss"]),
            "penalty": float(trace["penalty"]),
            "lines": [trace["formula"]["loss"], trace["formula"]["gradient"]],
            "units": units, "task": task, "predicted": predicted, "actual": actual, "correct": correct}


__all__ = ["MODES", "STEPPED_CLASS", "TRACED_CLASS", "readout", "step_elements", "step_table",
           "trace_elements", "trace_stylesheet"]
