"""The activation explorer: the engine's activation functions and their derivatives on
one chart, and a layer's pre-activations drawn over its activation curve.

Everything is computed with the engine's own functions (``engine.ACTIVATIONS``):
``f(u) = forward(u)`` and ``f'(u) = backward(u, f(u), 1)``, the backward pass with an
incoming gradient of 1. Two entries are not plain elementwise engine functions:

* ``softmax`` is row-wise; it is drawn as the 2-class softmax of ``(u, 0)``, i.e. its
  first output (which equals ``sigmoid(u)``), with ``f'(u) = ∂a₀/∂u₀`` from
  ``backward`` with the incoming gradient ``(1, 0)``. Its legend says so. A softmax
  layer's pre-activations are histogrammed, but get no zones: a unit's slope depends
  on the other units of its row.
* ``binary_step`` (not an engine activation, for reference) is the Heaviside step,
  1 for ``u >= 0`` and 0 below; its derivative is 0, undefined (a gap) at ``u = 0``.

Zones of an activation (:func:`zone_codes`, :func:`zone_shares`), per value ``u``:

=========== ========================================================================
zone        rule
=========== ========================================================================
dead        ``f'(u) = 0`` exactly, for the activations that have such a side (ReLU's
            ``u <= 0``; the binary step everywhere): no gradient passes.
saturated   tanh: ``|tanh(u)| > engine.health.TANH_SATURATION``; sigmoid:
            ``σ(u) < SIGMOID_SATURATION`` or ``> 1 - SIGMOID_SATURATION`` (the
            engine's health thresholds, on the outputs). Every other activation:
            ``|f'(u)| < SATURATION_SLOPE`` (5%) of its largest ``|f'|`` (ELU's far
            negative tail, the flat parts of swish and GELU; Leaky ReLU's negative
            side, slope 0.01, counts as saturated: it passes 1% of the gradient).
linear      the rest: the near-linear middle, where the gradient passes.
=========== ========================================================================

:func:`zone_shares` also counts, for ReLU-like activations and a ``z`` of samples ×
units, the units dead on every sample (the rule of ``engine.health``'s
``dead_fraction``: a ReLU unit whose output is 0 for every probe sample).

:func:`pre_activations` gives every layer's pre-activations for a batch: the engine
has no public helper for them, so it runs ``model.layer_outputs`` and reads what each
layer's forward kept for its backward (``_u`` of a Dense or Conv2D layer, ``_Z`` of a
SimpleRNN, masked steps left out).
"""
from __future__ import annotations

import functools
import math
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from engine import ACTIVATIONS
from engine.health import SIGMOID_SATURATION, TANH_SATURATION
from engine.layers import ActivatedLayer
from engine.recurrent import Bidirectional, SimpleRNN

from .runs import RUN_PALETTE
from .style import MUTED_COLOR, WHITE_AXIS, base_layout, muted, plain

BINARY_STEP = "binary_step"
SOFTMAX = "softmax"
FUNCTIONS: tuple[str, ...] = tuple(ACTIVATIONS) + (BINARY_STEP,)
LABELS = {**{name: a.label for name, a in ACTIVATIONS.items()}, BINARY_STEP: "Binary step"}
LEGENDS = {**LABELS, SOFTMAX: "Softmax (2 classes: 1st output of softmax(u, 0))",
           BINARY_STEP: "Binary step (reference)"}
COLORS = {name: RUN_PALETTE[i % len(RUN_PALETTE)] for i, name in enumerate(FUNCTIONS)}

SATURATION_SLOPE = 0.05             # |f'| below this share of its largest is saturated (no engine rule)
LINEAR, SATURATED, DEAD, NOT_FINITE = 0, 1, 2, -1
ZONES = ("linear", "saturated", "dead")
ZONE_COLORS = {"linear": "#16a34a", "saturated": "#d97706", "dead": "#64748b"}
ZONE_OPACITY = {"linear": 0.07, "saturated": 0.13, "dead": 0.16}

LO, HI, POINTS = -6.0, 6.0, 601
MAX_POINTS = 4001                   # a wider range (a layer's large pre-activations) gets more points, up to this
Y_RANGE = [-1.5, 3.0]
HISTOGRAM_COLOR = "#94a3b8"
HEIGHT = 480
MARGIN = {"l": 56, "r": 64, "t": 74, "b": 96}    # the legend sits under the x axis
HEADING = "Activation functions and their derivatives"
SLOPE_GRID = (-20.0, 20.0, 40001)   # where an activation's largest slope is looked for


def check_names(names: Optional[Sequence[str]]) -> list[str]:
    """``names`` as a list of known functions (``None``: all of ``FUNCTIONS``)."""
    if names is None:
        return list(FUNCTIONS)
    if isinstance(names, str):
        names = [names]
    out = []
    for name in names:
        if name not in FUNCTIONS:
            raise ValueError(f"activation must be one of {', '.join(FUNCTIONS)} (got {name!r})")
        if name not in out:
            out.append(name)
    return out


def grid(lo: float = LO, hi: float = HI, n: int = POINTS) -> np.ndarray:
    """``n`` evenly spaced points from ``lo`` to ``hi`` (float64), the one nearest 0
    made exactly 0 when rounding missed it (so kinks and steps at 0 are drawn at 0)."""
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"lo must be below hi, both finite (got {lo!r}, {hi!r})")
    if not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n must be a whole number of at least 2 (got {n!r})")
    x = np.linspace(float(lo), float(hi), int(n))
    x[np.abs(x) < 1e-9 * (hi - lo)] = 0.0
    return x


def function_values(name: str, u: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(f(u), f'(u))`` elementwise, for an array ``u`` of any shape, from the
    engine's ``forward`` and ``backward`` (see the module docstring for softmax and
    the binary step)."""
    check_names([name])
    u = np.asarray(u, dtype=np.float64)
    if name == BINARY_STEP:
        f = np.where(u >= 0, 1.0, 0.0)
        df = np.where(u == 0, np.nan, 0.0)
        return f, df
    act = ACTIVATIONS[name]
    with np.errstate(all="ignore"):
        if name == SOFTMAX:
            flat = u.reshape(-1)
            pairs = np.stack([flat, np.zeros_like(flat)], axis=-1)
            a = act.forward(pairs)
            first = np.zeros_like(pairs)
            first[:, 0] = 1.0
            df = act.backward(pairs, a, first)[:, 0]
            return a[:, 0].reshape(u.shape), df.reshape(u.shape)
        flat = np.ascontiguousarray(u.reshape(-1))
        a = np.asarray(act.forward(flat), dtype=np.float64)
        df = np.asarray(act.backward(flat, a, np.ones_like(flat)), dtype=np.float64)
        return a.reshape(u.shape), df.reshape(u.shape)


def curves(names: Optional[Sequence[str]] = None, lo: float = LO, hi: float = HI,
           n: int = POINTS) -> dict[str, dict[str, Any]]:
    """``{name: {"label", "legend", "x", "f", "df"}}`` for each function of ``names``
    (``None``: every engine activation and the binary step, in ``FUNCTIONS`` order) on
    the grid :func:`grid` ``(lo, hi, n)``; ``f`` and ``df`` are float64 arrays
    (``df`` NaN where the derivative is undefined)."""
    x = grid(lo, hi, n)
    out = {}
    for name in check_names(names):
        f, df = function_values(name, x)
        out[name] = {"label": LABELS[name], "legend": LEGENDS[name], "x": x, "f": f, "df": df}
    return out


# -- zones -----------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def max_slope(name: str) -> float:
    """The activation's largest ``|f'|`` (searched on ``SLOPE_GRID``)."""
    _, df = function_values(name, np.linspace(*SLOPE_GRID))
    return float(np.nanmax(np.abs(df))) if np.isfinite(df).any() else 0.0


@functools.lru_cache(maxsize=None)
def has_dead_zone(name: str) -> bool:
    """True for the activations whose derivative is exactly 0 on a whole side (ReLU,
    the binary step): there a unit passes no gradient at all."""
    _, df = function_values(name, grid())
    return bool(np.any(np.nan_to_num(df, nan=0.0) == 0))


def zone_rule(name: str) -> str:
    """The rule :func:`zone_codes` applies to ``name``, in words."""
    check_names([name])
    if name == SOFTMAX:
        return "softmax is row-wise: a unit's slope depends on the others, so no zones"
    if name == BINARY_STEP:
        return "dead everywhere: f′(u) = 0 (undefined at 0)"
    if name == "linear":
        return "linear everywhere: f′(u) = 1"
    if name == "tanh":
        saturated = f"saturated where |tanh(u)| > {TANH_SATURATION:g}"
    elif name == "sigmoid":
        saturated = f"saturated where σ(u) < {SIGMOID_SATURATION:g} or > {1 - SIGMOID_SATURATION:g}"
    else:
        saturated = f"saturated where |f′(u)| < {SATURATION_SLOPE:g} × its largest ({max_slope(name):.3g})"
    dead = "dead where f′(u) = 0; " if has_dead_zone(name) else ""
    return dead + saturated


def zone_codes(name: str, u: Any) -> Optional[np.ndarray]:
    """Per value of ``u`` (any shape): ``LINEAR``, ``SATURATED`` or ``DEAD`` (int8;
    ``NOT_FINITE`` for NaN and infinities) by the rules of the module docstring;
    None for softmax (no zones)."""
    check_names([name])
    if name == SOFTMAX:
        return None
    u = np.asarray(u, dtype=np.float64)
    finite = np.isfinite(u)
    a, df = function_values(name, np.where(finite, u, 0.0))
    codes = np.full(u.shape, LINEAR, dtype=np.int8)
    if name == "tanh":
        codes[np.abs(a) > TANH_SATURATION] = SATURATED
    elif name == "sigmoid":
        codes[np.abs(a - 0.5) > 0.5 - SIGMOID_SATURATION] = SATURATED
    else:
        slope = np.abs(np.nan_to_num(df, nan=0.0))
        codes[slope < SATURATION_SLOPE * max_slope(name)] = SATURATED
        if has_dead_zone(name):
            codes[slope == 0] = DEAD
    codes[~finite] = NOT_FINITE
    return codes


def zone_shares(activation: str, z: Any) -> dict[str, Any]:
    """The shares of the pre-activations ``z`` (1-D, or samples × ... × units) in each
    zone of ``activation``::

        {"activation", "rule", "values" (finite values counted), "non_finite",
         "linear", "saturated", "dead" (shares of the finite values, or None for
         softmax and for no values), "units", "dead_units" (for an activation with a
         dead zone and a z of 2+ axes: the units, last axis, dead on every sample;
         else None)}
    """
    z = np.asarray(z, dtype=np.float64)
    codes = zone_codes(activation, z)
    finite = np.isfinite(z)
    n = int(np.count_nonzero(finite))
    out: dict[str, Any] = {"activation": activation, "rule": zone_rule(activation), "values": n,
                           "non_finite": int(z.size - n), "linear": None, "saturated": None, "dead": None,
                           "units": int(z.shape[-1]) if z.ndim >= 2 else None, "dead_units": None}
    if codes is None or n == 0:
        return out
    for code, zone in enumerate(ZONES):
        out[zone] = float(np.count_nonzero(codes == code)) / n
    if z.ndim >= 2 and has_dead_zone(activation) and z.shape[-1] > 0:
        per_unit = codes.reshape(-1, z.shape[-1])
        out["dead_units"] = int(np.count_nonzero(np.all(per_unit == DEAD, axis=0)))
    return out


def _pct(share: float) -> str:
    return f"{100.0 * share:.0f}%"


def shares_text(shares: Mapping[str, Any]) -> str:
    """``"73% of pre-activations in the linear part, 20% saturated, 7% dead"`` (plus the
    units dead on every sample, for ReLU-like activations); the rule's words when there
    are no shares (softmax)."""
    if shares.get("linear") is None:
        return str(shares.get("rule") or "no finite pre-activations")
    text = (f"{_pct(shares['linear'])} of pre-activations in the linear part, {_pct(shares['saturated'])} "
            f"saturated, {_pct(shares['dead'])} dead")
    if shares.get("dead_units") is not None:
        text += f" · {shares['dead_units']} of {shares['units']} units dead on every sample"
    if shares.get("non_finite"):
        text += f" · {shares['non_finite']:,} not finite, left out"
    return text


def zone_runs(name: str, x: np.ndarray) -> list[tuple[str, float, float]]:
    """``(zone, x0, x1)`` for each run of one zone along the sorted grid ``x`` (the
    boundaries halfway between grid points); empty for softmax."""
    codes = zone_codes(name, x)
    if codes is None or len(x) == 0:
        return []
    cuts = np.flatnonzero(np.diff(codes)) + 1
    starts = np.concatenate([[0], cuts])
    ends = np.concatenate([cuts, [len(x)]]) - 1
    runs = []
    for i, j in zip(starts, ends):
        if codes[i] == NOT_FINITE:
            continue
        x0 = x[0] if i == 0 else 0.5 * (x[i - 1] + x[i])
        x1 = x[-1] if j == len(x) - 1 else 0.5 * (x[j] + x[j + 1])
        runs.append((ZONES[codes[i]], float(x0), float(x1)))
    return runs


# -- pre-activations -------------------------------------------------------------------

def layer_activation(layer: Any) -> Optional[str]:
    """The activation a layer applies to its pre-activations (Dense, Conv2D, SimpleRNN,
    a Bidirectional SimpleRNN), or None (pooling, LSTM's fixed gates, ...)."""
    if isinstance(layer, Bidirectional):
        inner = layer.forward_layer
        return inner.activation if isinstance(inner, SimpleRNN) else None
    if isinstance(layer, (ActivatedLayer, SimpleRNN)):
        name = getattr(layer, "activation", None)
        return name if isinstance(name, str) else None
    return None


def _kept_pre_activation(layer: Any) -> Optional[np.ndarray]:
    if isinstance(layer, ActivatedLayer):
        return None if layer._u is None else np.array(layer._u)
    if isinstance(layer, SimpleRNN):
        Z, M = layer._Z, layer._M                      # (steps, batch, units), time-major
        if M is None:
            return np.array(Z.transpose(1, 0, 2))
        return np.array(Z[M[..., 0]])                  # (unmasked steps, units)
    if isinstance(layer, Bidirectional) and isinstance(layer.forward_layer, SimpleRNN):
        forward, backward = (_kept_pre_activation(l) for l in (layer.forward_layer, layer.backward_layer))
        return np.concatenate([forward, backward], axis=-1)
    return None


def pre_activations(model: Any, X: Any) -> list[Optional[np.ndarray]]:
    """Every layer's pre-activations for the batch ``X`` in inference mode (copies):
    what enters its activation, ``(batch, ..., units)`` (a SimpleRNN's ``(batch,
    steps, units)``, or ``(unmasked steps, units)`` with a padding mask); None for a
    layer without an activation (:func:`layer_activation`)."""
    model.layer_outputs(X)
    return [_kept_pre_activation(layer) if layer_activation(layer) else None for layer in model.layers]


# -- the figure --------------------------------------------------------------------------

def _bins(n: int) -> int:
    """Rice's rule, 10 to 60 bins."""
    return int(min(60, max(10, round(2 * n ** (1 / 3)))))


def histogram(z: Any) -> Optional[dict[str, Any]]:
    """``{"edges", "counts", "values", "non_finite"}`` of the finite values of ``z``
    (``np.histogram``, Rice's number of bins over their range), or None without any."""
    z = np.asarray(z, dtype=np.float64).reshape(-1)
    finite = z[np.isfinite(z)]
    if finite.size == 0:
        return None
    lo, hi = float(finite.min()), float(finite.max())
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(finite, bins=_bins(finite.size), range=(lo, hi))
    return {"edges": edges, "counts": counts, "values": int(finite.size), "non_finite": int(z.size - finite.size)}


def _x_range(hist: Optional[Mapping[str, Any]]) -> tuple[float, float, int]:
    if hist is None:
        return LO, HI, POINTS
    lo, hi = float(hist["edges"][0]), float(hist["edges"][-1])
    pad = 0.04 * (hi - lo)
    lo, hi = min(LO, lo - pad), max(HI, hi + pad)
    step = (HI - LO) / (POINTS - 1)
    n = int(min(MAX_POINTS, max(POINTS, math.ceil((hi - lo) / step) + 1)))
    return lo, hi, n


def _curve_traces(name: str, curve: Mapping[str, Any], emphasis: bool, yaxis: str) -> list[dict[str, Any]]:
    color, label = COLORS[name], LABELS[name]
    width = 3.2 if emphasis else 1.8
    x = plain(curve["x"])
    line_shape = "hv" if name == BINARY_STEP else "linear"
    common = {"type": "scatter", "mode": "lines", "x": x, "legendgroup": name, "yaxis": yaxis}
    return [
        {**common, "y": plain(curve["f"]), "name": curve["legend"], "showlegend": True,
         "line": {"color": color, "width": width, "shape": line_shape},
         "hovertemplate": f"{label}: f(%{{x:.3g}}) = %{{y:.4g}}<extra></extra>",
         "uid": f"act-{name}-f", "meta": {"function": name, "curve": "f"}},
        {**common, "y": plain(curve["df"]), "name": f"{label}′", "showlegend": False,
         "line": {"color": color, "width": max(1.4, width - 0.6), "dash": "dash"},
         "hovertemplate": f"{label}: f′(%{{x:.3g}}) = %{{y:.4g}}<extra></extra>",
         "uid": f"act-{name}-df", "meta": {"function": name, "curve": "df"}},
    ]


def _histogram_trace(hist: Mapping[str, Any], title: str) -> dict[str, Any]:
    edges, counts = hist["edges"], hist["counts"]
    total = max(1, hist["values"])
    share = 100.0 * counts / total
    return {"type": "bar", "x": plain(0.5 * (edges[:-1] + edges[1:])), "y": counts.tolist(),
            "width": plain(np.diff(edges)), "yaxis": "y", "name": "pre-activations", "showlegend": True,
            "marker": {"color": HISTOGRAM_COLOR, "line": {"width": 0}}, "opacity": 0.55,
            "customdata": [[float(a), float(b), float(p)] for a, b, p in
                           zip(plain(edges[:-1]), plain(edges[1:]), plain(share))],
            "hovertemplate": "u in [%{customdata[0]:.3g}, %{customdata[1]:.3g}]: %{y} values "
                             "(%{customdata[2]:.1f}%)<extra>" + title + "</extra>",
            "uid": "act-histogram",
            "meta": {"edges": edges.tolist(), "counts": counts.tolist(), "values": hist["values"],
                     "non_finite": hist["non_finite"]}}


def explorer_figure(names: Optional[Sequence[str]], selected: Optional[Sequence[str]] = None,
                    layer: Optional[Mapping[str, Any]] = None) -> dict[str, Any]:
    """The explorer chart as a plain figure dict.

    ``names``: the functions the explorer offers (``None``: ``FUNCTIONS``);
    ``selected``: those drawn, in ``names`` order (``None``: all of ``names``), each as
    its curve (solid) and derivative (dashed, same colour; one legend entry toggles
    both). Colours are fixed per function (``COLORS``), whatever is drawn.

    ``layer`` (optional): ``{"title", "activation", "z"}`` with ``z`` the layer's
    pre-activations (1-D, or samples × ... × units), and optionally ``"samples"`` (how
    many probe samples gave them). Then the chart also holds a histogram of ``z``: bars
    counted on a second y axis, on the right, drawn under the curves (plotly draws an
    overlaying axis's traces above the base axis's, so the bars take the base axis ``y``
    and the curves ``y2``; without a layer the curves are on ``y``); the layer's
    activation curve is drawn thick
    (added when not selected), its zones shaded (layout shapes named
    ``"zone-<zone>"``) and the shares (:func:`shares_text`) under the title. The x
    range widens to hold every value of ``z``. ``layout.meta`` has ``functions`` (drawn),
    and with a layer ``activation``, ``shares`` (:func:`zone_shares`) and ``zones``
    (``[zone, x0, x1]`` runs).
    """
    offered = check_names(names)
    chosen = offered if selected is None else [n for n in offered if n in set(check_names(selected))]
    activation = None
    hist = shares = None
    if layer is not None:
        activation = str(layer["activation"])
        check_names([activation])
        z = np.asarray(layer["z"])
        hist = histogram(z)
        shares = zone_shares(activation, z)
        if activation not in chosen:
            chosen = chosen + [activation]
    lo, hi, n = _x_range(hist)
    drawn = curves(chosen, lo, hi, n)

    curve_axis = "y" if hist is None else "y2"
    data: list[dict[str, Any]] = []
    if hist is not None:
        data.append(_histogram_trace(hist, str(layer["title"])))
    for name in chosen:
        data.extend(_curve_traces(name, drawn[name], emphasis=name == activation, yaxis=curve_axis))

    shapes: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    runs: list[tuple[str, float, float]] = []
    if activation is not None:
        runs = zone_runs(activation, drawn[activation]["x"])
        for zone, x0, x1 in runs:
            shapes.append({"type": "rect", "name": f"zone-{zone}", "xref": "x", "yref": "paper", "x0": x0,
                           "x1": x1, "y0": 0, "y1": 1, "fillcolor": ZONE_COLORS[zone],
                           "opacity": ZONE_OPACITY[zone], "line": {"width": 0}, "layer": "below"})
            if (x1 - x0) >= 0.06 * (hi - lo):
                annotations.append({"text": zone, "xref": "x", "yref": "paper", "x": 0.5 * (x0 + x1), "y": 1.0,
                                    "yanchor": "top", "showarrow": False, "name": f"zone-{zone}",
                                    "font": {"size": 11, "color": ZONE_COLORS[zone]}})
    if not chosen:
        annotations.append({"text": "Tick one or more functions above.", "showarrow": False, "xref": "paper",
                            "yref": "paper", "x": 0.5, "y": 0.5, "font": {"color": MUTED_COLOR, "size": 13}})

    if layer is None:
        heading = HEADING + " · " + muted("solid f(u), dashed f′(u)")
    else:
        samples = layer.get("samples")
        where = f" of {samples} probe samples" if samples else ""
        heading = (f"{layer['title']}: pre-activations{where} over its {LABELS[activation]}<br>"
                   + muted(shares_text(shares), 12))
    x_axis = {**WHITE_AXIS, "range": plain([lo, hi]), "zeroline": True, "zerolinecolor": "#cbd5e1",
              "title": {"text": "u (pre-activation)", "standoff": 6}}
    curve_y = {**WHITE_AXIS, "range": list(Y_RANGE), "zeroline": True, "zerolinecolor": "#cbd5e1",
               "tickmode": "linear", "tick0": 0, "dtick": 1,    # an overlaying axis would sync its ticks
               "title": {"text": "f(u) solid · f′(u) dashed", "standoff": 4}}
    if hist is None:
        axes: dict[str, Any] = {"xaxis": x_axis, "yaxis": curve_y}
    else:   # the bars on the base axis (drawn right), the curves overlaying it: plotly draws them above
        axes = {"xaxis": x_axis,
                "yaxis": {"side": "right", "showgrid": False, "zeroline": False, "rangemode": "tozero",
                          "range": [0, 1.6 * float(hist["counts"].max())], "tickfont": {"size": 10},
                          "tickformat": "~s", "title": {"text": "pre-activations (count)", "standoff": 4}},
                "yaxis2": {**curve_y, "overlaying": "y", "side": "left"}}
    margin = {**MARGIN, "t": MARGIN["t"] + (10 if layer is not None else 0)}
    layout = base_layout(
        heading, HEIGHT, margin=margin, hovermode="closest", shapes=shapes, annotations=annotations,
        legend={"orientation": "h", "x": 0, "y": -0.14, "yanchor": "top", "font": {"size": 11},
                "itemclick": "toggle", "itemdoubleclick": "toggleothers"},
        uirevision="activations",
        meta={"functions": chosen, "activation": activation, "shares": shares,
              "zones": [list(r) for r in runs]},
        **axes)
    return {"data": data, "layout": layout}
