"""Scalar autograd and the computation graph of a small network's loss, in the
spirit of Karpathy's micrograd.

:class:`Value` is one number that remembers how it was made: the operation
(``op``), its inputs and, for each input, the local derivative of the result
with respect to that input. ``backward()`` visits the graph in reverse
topological order and applies the chain rule, so every ``Value`` the result
depends on ends up with ``grad`` = d(result)/d(value).

A number (not a ``Value``) given to a binary operation is a constant: it is not
a node of the graph but part of the operation's label, as micrograd draws
``**2`` (``a * 0.5`` is the op ``*`` labelled ``*0.5``; ``1 - a`` is ``-``
labelled ``1-``).

:func:`network_graph` writes the whole loss of a small dense ``Sequential`` for
one sample with ``Value`` objects -- every weighted input, sum, activation, loss
term and penalty term -- runs ``backward()`` and returns the graph as plain data
for ``viz.compgraph``. It uses only the model's weights and configuration, never
the engine's own forward or backward, so its numbers are an independent check
of the engine's gradients.
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Optional, Sequence, Union

import numpy as np

from .activations import ELU_ALPHA, LEAKY_SLOPE
from .checks import is_int
from .layers import Dense
from .losses import LOG_FLOOR
from .recurrent import Dropout

Number = Union[int, float]
DEFAULT_MAX_PARAMS = 40
_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _const(c: float) -> str:
    """A constant as an op label shows it: ``0.5``, ``2``, ``0.001``."""
    return f"{c:g}"


def _sigmoid(x: float) -> float:
    # 0.5 * (1 + tanh(x / 2)) equals 1 / (1 + exp(-x)) and never overflows.
    return 0.5 * (1.0 + math.tanh(0.5 * x))


class Value:
    """A scalar in an expression graph.

    ``data`` is the number, ``grad`` the derivative of the last ``backward()``'s
    root with respect to it, ``op`` the operation that made it (``""`` for a
    leaf), ``op_label`` how a drawing names that operation (the op and any
    constant: ``"**2"``, ``"*0.5"``), ``inputs`` the Values it was made from and
    ``label`` an optional name (``"w[1][0,2]"``).
    """

    __slots__ = ("data", "grad", "op", "op_label", "inputs", "label", "_local")

    def __init__(self, data: Number, label: str = "", op: str = "", inputs: Sequence["Value"] = (),
                 local: Sequence[float] = (), op_label: Optional[str] = None):
        self.data = float(data)
        self.grad = 0.0
        self.op = op
        self.op_label = op if op_label is None else op_label
        self.inputs = tuple(inputs)
        self.label = label
        self._local = tuple(float(d) for d in local)   # d self / d inputs[i]

    def __repr__(self) -> str:
        name = f"{self.label!r}, " if self.label else ""
        return f"Value({name}data={self.data:.6g}, grad={self.grad:.6g})"

    # -- arithmetic -----------------------------------------------------------
    def __add__(self, other: Union["Value", Number]) -> "Value":
        if isinstance(other, Value):
            return Value(self.data + other.data, op="+", inputs=(self, other), local=(1.0, 1.0))
        c = float(other)
        shown = f"+{_const(c)}" if c >= 0 else f"-{_const(-c)}"
        return Value(self.data + c, op="+", inputs=(self,), local=(1.0,), op_label=shown)

    def __radd__(self, other: Number) -> "Value":
        return self + other

    def __mul__(self, other: Union["Value", Number]) -> "Value":
        if isinstance(other, Value):
            return Value(self.data * other.data, op="*", inputs=(self, other), local=(other.data, self.data))
        c = float(other)
        return Value(self.data * c, op="*", inputs=(self,), local=(c,), op_label=f"*{_const(c)}")

    def __rmul__(self, other: Number) -> "Value":
        return self * other

    def __sub__(self, other: Union["Value", Number]) -> "Value":
        if isinstance(other, Value):
            return Value(self.data - other.data, op="-", inputs=(self, other), local=(1.0, -1.0))
        c = float(other)
        return Value(self.data - c, op="-", inputs=(self,), local=(1.0,), op_label=f"-{_const(c)}")

    def __rsub__(self, other: Number) -> "Value":
        c = float(other)
        return Value(c - self.data, op="-", inputs=(self,), local=(-1.0,), op_label=f"{_const(c)}-")

    def __truediv__(self, other: Union["Value", Number]) -> "Value":
        if isinstance(other, Value):
            b = other.data
            return Value(self.data / b, op="/", inputs=(self, other), local=(1.0 / b, -self.data / (b * b)))
        c = float(other)
        return Value(self.data / c, op="/", inputs=(self,), local=(1.0 / c,), op_label=f"/{_const(c)}")

    def __rtruediv__(self, other: Number) -> "Value":
        c, x = float(other), self.data
        return Value(c / x, op="/", inputs=(self,), local=(-c / (x * x),), op_label=f"{_const(c)}/")

    def __pow__(self, exponent: Number) -> "Value":
        if isinstance(exponent, Value) or not isinstance(exponent, (int, float, np.integer, np.floating)):
            raise TypeError("Value ** k takes a number k as the exponent")
        k, x = float(exponent), self.data
        return Value(x ** k, op="**", inputs=(self,), local=(k * x ** (k - 1),), op_label=f"**{_const(k)}")

    def __neg__(self) -> "Value":
        return Value(-self.data, op="neg", inputs=(self,), local=(-1.0,))

    # -- functions ------------------------------------------------------------
    def exp(self) -> "Value":
        e = math.exp(self.data)
        return Value(e, op="exp", inputs=(self,), local=(e,))

    def log(self, floor: Optional[float] = None) -> "Value":
        """Natural log. With ``floor`` the result is ``max(log x, floor)`` (0 included,
        whose log is -inf), as the engine and PyTorch's BCELoss clamp it; where the
        floor applies the derivative is 0."""
        x = self.data
        if x < 0 or (x == 0 and floor is None):
            raise ValueError(f"log needs a positive number (got {x})")
        if floor is not None and (x == 0 or math.log(x) < floor):
            return Value(floor, op="log", inputs=(self,), local=(0.0,))
        return Value(math.log(x), op="log", inputs=(self,), local=(1.0 / x,))

    def abs(self) -> "Value":
        x = self.data
        return Value(abs(x), op="abs", inputs=(self,), local=(float((x > 0) - (x < 0)),))

    def tanh(self) -> "Value":
        t = math.tanh(self.data)
        return Value(t, op="tanh", inputs=(self,), local=(1.0 - t * t,))

    def sigmoid(self) -> "Value":
        s = _sigmoid(self.data)
        return Value(s, op="sigmoid", inputs=(self,), local=(s * (1.0 - s),))

    def relu(self) -> "Value":
        x = self.data
        return Value(x if x > 0 else 0.0, op="relu", inputs=(self,), local=(1.0 if x > 0 else 0.0,))

    def leaky_relu(self, slope: float = LEAKY_SLOPE) -> "Value":
        x = self.data
        return Value(x if x > 0 else slope * x, op="leaky_relu", inputs=(self,),
                     local=(1.0 if x > 0 else slope,))

    def elu(self, alpha: float = ELU_ALPHA) -> "Value":
        x = self.data
        if x > 0:
            return Value(x, op="elu", inputs=(self,), local=(1.0,))
        return Value(alpha * math.expm1(x), op="elu", inputs=(self,), local=(alpha * math.exp(x),))

    def swish(self) -> "Value":
        """``x * sigmoid(x)`` (also called SiLU) as one operation."""
        x = self.data
        s = _sigmoid(x)
        return Value(x * s, op="swish", inputs=(self,), local=(s + x * s * (1.0 - s),))

    def gelu(self) -> "Value":
        """The exact GELU ``x * Phi(x)`` (Phi: the standard normal CDF) as one operation."""
        x = self.data
        cdf = 0.5 * (1.0 + math.erf(x / _SQRT2))
        pdf = math.exp(-0.5 * x * x) * _INV_SQRT_2PI
        return Value(x * cdf, op="gelu", inputs=(self,), local=(cdf + x * pdf,))

    @staticmethod
    def sum(values: Iterable["Value"], label: str = "") -> "Value":
        """One n-ary ``+`` node adding every value (a single value is returned as is)."""
        values = list(values)
        if not values:
            raise ValueError("Value.sum needs at least one value")
        if len(values) == 1:
            return values[0]
        total = math.fsum(v.data for v in values)
        return Value(total, label=label, op="+", inputs=values, local=[1.0] * len(values))

    # -- backpropagation ---------------------------------------------------------
    def topological_order(self) -> list["Value"]:
        """Every Value this one depends on (itself last), each after its inputs."""
        order: list[Value] = []
        seen: set[int] = set()
        stack: list[tuple[Value, bool]] = [(self, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            for child in reversed(node.inputs):
                if id(child) not in seen:
                    stack.append((child, False))
        return order

    def backward(self) -> None:
        """Set ``grad`` of every Value in this one's graph to d(self)/d(value):
        the grads are reset to 0, ``self.grad`` to 1, then the chain rule runs
        from the root to the leaves (a value used twice adds both paths)."""
        order = self.topological_order()
        for node in order:
            node.grad = 0.0
        self.grad = 1.0
        for node in reversed(order):
            for child, local in zip(node.inputs, node._local):
                child.grad += local * node.grad


# -- a network's loss as a graph of Values -----------------------------------------------
def _activate(name: str, z: list[Value], p: int) -> list[Value]:
    """The activation ``name`` of a layer's sums ``z`` (scalar-wise; softmax from
    exp, one n-ary ``+`` and ``/``)."""
    if name == "linear":
        return list(z)
    if name == "softmax":
        try:
            e = [v.exp() for v in z]
        except OverflowError:
            raise ValueError(f"layer {p}'s softmax inputs are too large to exponentiate "
                             f"(largest {max(v.data for v in z):.4g})") from None
        total = Value.sum(e, label=f"Σe{p}")
        return [ek / total for ek in e]
    unary = {"relu": Value.relu, "sigmoid": Value.sigmoid, "tanh": Value.tanh,
             "leaky_relu": lambda v: v.leaky_relu(LEAKY_SLOPE), "elu": lambda v: v.elu(ELU_ALPHA),
             "swish": Value.swish, "gelu": Value.gelu}
    if name not in unary:
        raise ValueError(f"the computation graph cannot draw the activation {name!r}")
    return [unary[name](v) for v in z]


def _check_model(model: Any, max_params: int) -> list[tuple[int, Dense]]:
    """The (layer index, Dense) pairs of a drawable model; ValueError naming the rule otherwise."""
    if not is_int(max_params) or max_params < 1:
        raise ValueError(f"max_params must be a positive integer (got {max_params!r})")
    layers = getattr(model, "layers", None)
    if not isinstance(layers, list) or not hasattr(model, "input_shape") or not hasattr(model, "loss"):
        raise ValueError(f"network_graph needs an engine Sequential model (got {type(model).__name__})")
    rule = "the computation graph is drawn for networks of Dense layers (without RMSNorm) and Dropout only"
    dense = []
    for i, layer in enumerate(layers):
        if isinstance(layer, Dropout):
            continue
        if not isinstance(layer, Dense):
            raise ValueError(f"{rule}; layers[{i}] is {type(layer).__name__}")
        if layer.rmsnorm:
            raise ValueError(f"{rule}; layers[{i}] is Dense with RMSNorm")
        dense.append((i, layer))
    if not dense:
        raise ValueError(f"{rule}; this model has no Dense layer")
    if len(model.input_shape) != 1:
        raise ValueError(f"the computation graph is drawn for flat inputs; this model takes samples "
                         f"of shape {tuple(model.input_shape)}")
    if model.n_params > max_params:
        raise ValueError(f"the computation graph is drawn for networks of up to {max_params} weights and "
                         f"biases; this one has {model.n_params}")
    return dense


def _loss_value(loss: str, outputs: list[Value], targets: list[Value]) -> Value:
    """The model's loss for one sample, with the engine's mean reduction: mse and
    bce average over the outputs, cce sums over the classes of the one row."""
    n = len(outputs)
    if loss == "mse":
        terms = [(a - t) ** 2 for a, t in zip(outputs, targets)]
        total = Value.sum(terms)
        return total / n if n > 1 else total
    if loss == "bce":
        terms = [t * a.log(LOG_FLOOR) + (1 - t) * (1 - a).log(LOG_FLOOR) for a, t in zip(outputs, targets)]
        total = Value.sum(terms)
        return -(total / n if n > 1 else total)
    if loss == "cce":
        return -Value.sum(t * a.log(LOG_FLOOR) for a, t in zip(outputs, targets))
    raise ValueError(f"the computation graph cannot draw the loss {loss!r}")


def network_graph(model: Any, x: Any, y: Any, max_params: int = DEFAULT_MAX_PARAMS) -> dict[str, Any]:
    """The scalar computation graph of ``model``'s loss for one sample, after ``backward()``.

    ``model`` is an ``engine.Sequential`` of Dense layers (no RMSNorm) and Dropout
    (the identity, as at inference) with at most ``max_params`` parameters; ``x``
    one sample of shape ``model.input_shape``; ``y`` its target (a class label or
    a one-hot row for "cce", the output vector -- or a number for one output --
    otherwise). The current weights are read, in float64.

    The loss is the model's, reduced as the engine reduces a batch of one (mse and
    bce: mean over the outputs; cce: ``-sum_k y_k log p_k``), always written from the
    output probabilities (``log`` clamped at -100 like the engine's), plus
    ``l1 * sum|W| + l2 * sum W^2`` over the weight matrices when the model has a
    penalty. Every weighted sum ``z = sum_i x_i w_ij + b_j`` (and each other sum
    of many terms) is one n-ary ``+`` node.

    Returns ``{"nodes", "edges", "loss", "n_params"}``. Nodes come in topological
    order; each is a dict with

    * ``id``: ``"v{k}"`` for the k-th value, ``"op{k}"`` for the operation that made
      it -- the same for every model of the same architecture;
    * ``kind``: ``"value"`` or ``"op"``;
    * ``label``: the value's name (``"x0"``, ``"w[1][0,2]"`` = ``W[0, 2]`` of the
      first Dense layer, ``"b[1][2]"``, ``"z1_0"``, ``"a1_0"``, ``"y0"``, ``"L"``;
      ``""`` for unnamed intermediates) or, for an op, how it is drawn
      (``"+"``, ``"tanh"``, ``"**2"``, ``"*0.5"``);
    * ``op``: the operation (``"+"``, ``"*"``, ``"-"``, ``"/"``, ``"**"``, ``"neg"``,
      ``"exp"``, ``"log"``, ``"abs"`` or an activation name) for op nodes, None for values;
    * ``value``: the value (for an op, the value it makes);
    * ``grad``: dL/d(value) for value nodes, None for op nodes;
    * ``depth``: the longest path from a leaf (leaves 0, edges count one each);
    * ``role``: ``"input"``, ``"param"``, ``"target"`` (leaves), ``"hidden"``,
      ``"output"`` (the last Dense layer's activations) or ``"loss"`` (L and every
      step of the loss and penalty); an op has its result's role;
    * ``param``: for parameter nodes ``{"layer": index into model.layers, "name":
      "W" or "b", "index": [i, j] or [j]}``, else None.

    ``edges`` are ``{"source", "target"}`` ids, value -> op -> value. ``loss`` is
    L's value, ``n_params`` the model's parameter count.

    ValueError when the model has another layer type, RMSNorm, inputs that are
    not flat or more than ``max_params`` parameters (the message names the rule).
    """
    dense = _check_model(model, max_params)
    x = np.asarray(x)
    if x.shape != tuple(model.input_shape):
        raise ValueError(f"x must be one sample of shape {tuple(model.input_shape)} (got {x.shape})")
    if x.dtype == object or not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise ValueError(f"x must be numeric (got dtype {x.dtype})")
    x = x.astype(np.float64)
    if not np.isfinite(x).all():
        raise ValueError("x must contain only finite numbers")
    target = model._check_targets(np.asarray(y)[None], 1, "y")[0].astype(np.float64)

    roles: dict[int, str] = {}
    params: dict[int, dict] = {}
    acts = [Value(float(v), label=f"x{i}") for i, v in enumerate(x)]
    for v in acts:
        roles[id(v)] = "input"
    weights: list[Value] = []
    for p, (li, layer) in enumerate(dense, start=1):
        W = np.asarray(layer.W, dtype=np.float64)
        b = np.asarray(layer.b, dtype=np.float64)
        n_in, units = W.shape
        wv = [[Value(W[i, j], label=f"w[{p}][{i},{j}]") for j in range(units)] for i in range(n_in)]
        for i in range(n_in):
            for j in range(units):
                roles[id(wv[i][j])] = "param"
                params[id(wv[i][j])] = {"layer": li, "name": "W", "index": [i, j]}
                weights.append(wv[i][j])
        linear = layer.activation == "linear"
        z = []
        for j in range(units):
            terms = [acts[i] * wv[i][j] for i in range(n_in)]
            if layer.use_bias:
                bj = Value(b[j], label=f"b[{p}][{j}]")
                roles[id(bj)] = "param"
                params[id(bj)] = {"layer": li, "name": "b", "index": [j]}
                terms.append(bj)
            zj = Value.sum(terms)
            zj.label = f"a{p}_{j}" if linear else f"z{p}_{j}"
            z.append(zj)
        acts = _activate(layer.activation, z, p)
        if not linear:
            for j, a in enumerate(acts):
                a.label = f"a{p}_{j}"
    outputs = acts
    network = {id(v) for out in outputs for v in out.topological_order()}
    for v in outputs:
        roles[id(v)] = "output"

    targets = [Value(float(t), label=f"y{k}") for k, t in enumerate(target)]
    for t in targets:
        roles[id(t)] = "target"
    L = _loss_value(model.loss, outputs, targets)
    if model.l1 or model.l2:
        L.label = "data loss"
        parts = []
        if model.l1:
            parts.append(Value.sum((w.abs() for w in weights), label="Σ|w|") * model.l1)
        if model.l2:
            parts.append(Value.sum((w ** 2 for w in weights), label="Σw²") * model.l2)
        penalty = parts[0] if len(parts) == 1 else parts[0] + parts[1]
        penalty.label = "penalty"
        L = L + penalty
    L.label = "L"
    L.backward()

    order = L.topological_order()
    depth: dict[int, int] = {}
    nodes: list[dict] = []
    edges: list[dict] = []
    index = {id(v): k for k, v in enumerate(order)}
    for k, v in enumerate(order):
        role = roles.get(id(v)) or ("hidden" if id(v) in network else "loss")
        if v.inputs:
            op_depth = max(depth[id(c)] for c in v.inputs) + 1
            depth[id(v)] = op_depth + 1
            nodes.append({"id": f"op{k}", "kind": "op", "label": v.op_label, "op": v.op, "value": v.data,
                          "grad": None, "depth": op_depth, "role": role, "param": None})
            seen = set()
            for c in v.inputs:
                if id(c) not in seen:
                    seen.add(id(c))
                    edges.append({"source": f"v{index[id(c)]}", "target": f"op{k}"})
            edges.append({"source": f"op{k}", "target": f"v{k}"})
        else:
            depth[id(v)] = 0
        nodes.append({"id": f"v{k}", "kind": "value", "label": v.label, "op": None, "value": v.data,
                      "grad": v.grad, "depth": depth[id(v)], "role": role, "param": params.get(id(v))})
    return {"nodes": nodes, "edges": edges, "loss": L.data, "n_params": int(model.n_params)}
