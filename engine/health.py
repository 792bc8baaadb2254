"""Training health, per layer: a few numbers that say whether learning works, and
plain-words alerts when they say it does not.

The training job calls :func:`layer_health` at every snapshot and keeps the results
as a time series; :func:`alerts` reads that series. NumPy only, and cheap: one
inference pass over a small probe batch plus a few norms.

Statistics of one layer (:func:`layer_health`), ``None`` where a statistic does not
apply:

================== ==================================================================
key                rule
================== ==================================================================
grad_norm          L2 norm of the layer's kernel gradient (``grad_W``: the first
                   parameter with 2+ axes, as :func:`viz.snapshots.kernel_name`); the
                   gradient the last ``backward`` left, L1/L2 penalty included.
weight_norm        L2 norm of the kernel.
update_ratio       ``log10(||update|| / ||W||)`` of the kernel, ``update`` being the
                   kernel's last change ``W_after - W_before`` (see
                   :func:`update_capture`); ``-inf`` for an update of exactly 0, None
                   without an update or when ``W`` is all zero. About -3 (the update
                   is a thousandth of the weights) is the usual rule of thumb.
act_mean, act_std  mean and standard deviation of every value of the layer's output
                   on the probe batch (inference mode), for layers with parameters.
dead_fraction      ReLU layers only: the share of units (the last axis of the output:
                   neurons, or channels of a convolution) whose output is 0 for EVERY
                   probe sample (and every position). Such a unit gets no gradient and
                   cannot recover. Leaky ReLU and ELU are not counted: their negative
                   side is never exactly 0 and still passes a gradient.
saturated_fraction tanh: the share of output values (units x samples) with
                   ``|a| > 0.97`` (slope ``1 - a^2`` below 0.06); sigmoid: with
                   ``a < 0.03`` or ``a > 0.97`` (slope below 0.03, an eighth of its
                   largest). Other activations: None.
near_zero_fraction the share of output values with ``|a| < 1e-3``, for layers with
                   parameters.
symmetric          Dense layers of 2+ units: True when every column of ``W`` equals
                   the first (within the tolerance below, relative to ``max|W|``) and
                   every unit's output equals the first unit's on every probe sample
                   (relative to ``max|a|``): all units compute the same thing, as after
                   a zero (or constant) initialisation, and get the same gradient, so
                   they stay equal. The tolerance is ``max(1e-12, 1000 * eps)`` of the
                   model's float type (1e-12 for float64, 1.2e-4 for float32, whose
                   rounding makes equal columns drift apart by about 1e-6 in a few
                   hundred steps).
================== ==================================================================

Each dict also has ``layer`` (index), ``type`` (class name), ``activation`` (name or
None), ``units`` (size of the output's last axis) and ``samples`` (probe size).
Values are Python floats; an exploding run gives ``inf``/``nan`` norms.
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Optional, Sequence

import numpy as np

# -- statistic thresholds ------------------------------------------------------------
TANH_SATURATION = 0.97            # |a| above this is saturated for tanh
SIGMOID_SATURATION = 0.03         # a below this or above 1 - this is saturated for sigmoid
NEAR_ZERO = 1e-3                  # |a| below this counts as near zero
SYMMETRY_RTOL = 1e-12             # relative tolerance for "equal" units ...
SYMMETRY_EPS_FACTOR = 1000        # ... at least this many machine epsilons of the model's dtype
UPDATE_RATIO_BAND = (-3.5, -2.5)  # the rule-of-thumb band around log10 ratio -3 (for the charts)

# -- alert rules and thresholds ------------------------------------------------------
DEAD_UNITS = "dead_units"
VANISHING = "vanishing_gradients"
EXPLODING = "exploding_gradients"
STALLED_UPDATES = "stalled_updates"
LARGE_UPDATES = "large_updates"
SATURATION = "saturation"
SYMMETRY = "symmetry"
RULES = (DEAD_UNITS, VANISHING, EXPLODING, STALLED_UPDATES, LARGE_UPDATES, SATURATION, SYMMETRY)

DEAD_FRACTION_ALERT = 0.5         # dead_fraction >= this at the latest record
VANISHING_RATIO = 1e3             # largest / smallest layer grad_norm >= this at the latest record
EXPLODING_GROWTH = 1e3            # a layer's grad_norm / its smallest earlier value >= this
UPDATE_RATIO_LOW = -5.0           # update_ratio below this ...
UPDATE_RATIO_HIGH = -1.0          # ... or above this ...
UPDATE_RATIO_RECORDS = 5          # ... in each of the last this many records
SATURATED_FRACTION_ALERT = 0.5    # saturated_fraction >= this at the latest record
SYMMETRY_MIN_STEPS = 2            # symmetric at a latest record whose step is at least this

SEVERITY_ORDER = {"error": 0, "warning": 1}


# -- per-layer statistics ----------------------------------------------------------------

def kernel_param(layer: Any) -> Optional[str]:
    """The name of the layer's kernel: its first parameter with 2+ axes (None: no kernel)."""
    for name in getattr(layer, "param_names", ()):
        if np.ndim(getattr(layer, name)) >= 2:
            return name
    return None


def _norm(a: np.ndarray) -> float:
    """L2 norm without overflowing float32 squares (inf/nan only when ``a`` holds them)."""
    v = np.ravel(a)
    if v.size == 0:
        return 0.0
    s = float(np.dot(v, v))
    if math.isfinite(s):
        return math.sqrt(s)
    m = float(np.max(np.abs(v)))
    if not math.isfinite(m):
        return m
    if m == 0.0:
        return 0.0
    w = v.astype(np.float64) / m
    return m * math.sqrt(float(np.dot(w, w)))


def _activation_name(layer: Any) -> Optional[str]:
    try:
        name = layer.get_config().get("activation")
    except Exception:
        name = getattr(layer, "activation", None)
    return name if isinstance(name, str) else None


def symmetry_tolerance(dtype: Any) -> float:
    """The relative tolerance :func:`layer_health` calls units equal within."""
    try:
        eps = float(np.finfo(np.dtype(dtype)).eps)
    except (TypeError, ValueError):
        eps = float(np.finfo(np.float64).eps)
    return max(SYMMETRY_RTOL, SYMMETRY_EPS_FACTOR * eps)


def _columns_equal(M: np.ndarray, rtol: float) -> bool:
    """Every column of the 2-D ``M`` equals its first within ``rtol * max|M|``."""
    if M.shape[1] < 2:
        return False
    scale = float(np.max(np.abs(M))) if M.size else 0.0
    if not math.isfinite(scale):
        return False
    tol = rtol * scale
    first = M[:, :1]
    if float(np.max(np.abs(M[:, 1:2] - first))) > tol:      # cheap early exit
        return False
    return float(np.max(np.abs(M - first))) <= tol


def layer_health(model: Any, X_probe: Any, update: Optional[Mapping[int, np.ndarray]] = None,
                 outputs: Optional[Sequence[np.ndarray]] = None) -> list[dict]:
    """One dict of health statistics per layer of ``model`` (see the module docstring
    for every key and its rule), from the layers' current kernels and gradients and
    one inference pass over ``X_probe`` (``model.layer_outputs``).

    ``update`` maps a layer index to the kernel's last change ``W_after - W_before``
    (what :func:`update_capture` gives); layers it leaves out get ``update_ratio`` None.
    ``outputs``: ``model.layer_outputs(X_probe)`` when the caller already has them.

    Call it between training steps (e.g. in a ``fit`` batch callback): the inference
    pass overwrites what the layers kept for ``backward``, which the next training
    step computes afresh.
    """
    update = update or {}
    with np.errstate(all="ignore"):
        if outputs is None:
            outputs = model.layer_outputs(X_probe)
        n = int(outputs[0].shape[0]) if outputs else 0
        rtol = symmetry_tolerance(getattr(model, "dtype", np.float64))
        out = []
        for i, (layer, a) in enumerate(zip(model.layers, outputs)):
            act = _activation_name(layer)
            units = int(a.shape[-1]) if a.ndim >= 1 else 1
            entry: dict[str, Any] = {
                "layer": i, "type": type(layer).__name__, "activation": act, "units": units, "samples": n,
                "grad_norm": None, "weight_norm": None, "update_ratio": None, "act_mean": None, "act_std": None,
                "dead_fraction": None, "saturated_fraction": None, "near_zero_fraction": None, "symmetric": None,
            }
            kernel = kernel_param(layer)
            W = None
            if kernel is not None:
                W = getattr(layer, kernel)
                entry["weight_norm"] = _norm(W)
                entry["grad_norm"] = _norm(getattr(layer, "grad_" + kernel))
                du = update.get(i)
                if du is not None and entry["weight_norm"] > 0:
                    un = _norm(np.asarray(du))
                    wn = entry["weight_norm"]
                    if un == 0.0:
                        entry["update_ratio"] = -math.inf
                    elif math.isfinite(un) and math.isfinite(wn):
                        entry["update_ratio"] = math.log10(un / wn)
                    else:
                        entry["update_ratio"] = math.nan
            if getattr(layer, "param_names", ()) and a.size and np.issubdtype(a.dtype, np.floating):
                entry["act_mean"] = float(np.mean(a, dtype=np.float64))
                entry["act_std"] = float(np.std(a, dtype=np.float64))
                absa = np.abs(a)
                entry["near_zero_fraction"] = float(np.count_nonzero(absa < NEAR_ZERO)) / a.size
                if act == "relu":
                    fired = np.max(a.reshape(-1, units), axis=0) > 0
                    entry["dead_fraction"] = float(units - np.count_nonzero(fired)) / units
                elif act == "tanh":
                    entry["saturated_fraction"] = float(np.count_nonzero(absa > TANH_SATURATION)) / a.size
                elif act == "sigmoid":
                    off = np.abs(a - 0.5) > 0.5 - SIGMOID_SATURATION
                    entry["saturated_fraction"] = float(np.count_nonzero(off)) / a.size
                if type(layer).__name__ == "Dense" and units >= 2 and W is not None:
                    entry["symmetric"] = bool(_columns_equal(np.asarray(W).reshape(-1, units), rtol)
                                              and _columns_equal(a.reshape(-1, units), rtol))
            out.append(entry)
    return out


class UpdateCapture:
    """Captures one optimiser step's change of every kernel.

    ``before()`` copies the kernels (into buffers reused from call to call);
    ``after()`` returns ``{layer index: W_now - W_at_before}`` (new arrays) and
    disarms. In a ``fit`` batch callback: call ``before()`` at one batch, and at the
    next batch ``after()`` gives exactly that batch's step, ready for
    ``layer_health(model, X_probe, update=capture.after())``.
    """

    def __init__(self, model: Any):
        self.model = model
        self._saved: dict[int, np.ndarray] = {}
        self.armed = False

    def _kernels(self) -> list[tuple[int, np.ndarray]]:
        out = []
        for i, layer in enumerate(self.model.layers):
            name = kernel_param(layer)
            if name is not None:
                out.append((i, getattr(layer, name)))
        return out

    def before(self) -> None:
        """Copy every kernel as it is now."""
        for i, W in self._kernels():
            buf = self._saved.get(i)
            if buf is None or buf.shape != W.shape or buf.dtype != W.dtype:
                buf = self._saved[i] = np.empty_like(W)
            np.copyto(buf, W)
        self.armed = True

    def after(self) -> dict[int, np.ndarray]:
        """``{layer index: W_now - W_at_before}`` for every layer with a kernel."""
        if not self.armed:
            raise RuntimeError("update_capture: call before() first, then after() once the step is taken")
        self.armed = False
        return {i: np.subtract(W, self._saved[i]) for i, W in self._kernels() if i in self._saved}


def update_capture(model: Any) -> UpdateCapture:
    """An :class:`UpdateCapture` for ``model``: ``.before()`` then, after a step, ``.after()``."""
    return UpdateCapture(model)


def describe_model(model: Any, learning_rate: Optional[float] = None) -> dict[str, Any]:
    """The ``model_info`` :func:`alerts` words its messages with::

        {"layer_names": ["Layer 1", ...], "inits": ["xavier", None, ...],
         "activations": ["tanh", None, ...], "units": [64, ...], "learning_rate": 0.01,
         "optimizer": "adam"}
    """
    layers = list(model.layers)
    return {"layer_names": [f"Layer {i + 1}" for i in range(len(layers))],
            "inits": [getattr(l, "init", None) if isinstance(getattr(l, "init", None), str) else None
                      for l in layers],
            "activations": [_activation_name(l) for l in layers],
            "units": [int(l.output_shape[-1]) if getattr(l, "output_shape", None) else None for l in layers],
            "learning_rate": None if learning_rate is None else float(learning_rate),
            "optimizer": getattr(model, "optimizer_name", None)}


# -- alerts ----------------------------------------------------------------------------------

def _num(value: Any) -> Optional[float]:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _pct(x: float) -> str:
    p = 100.0 * x
    return f"{p:.0f}%" if p >= 1 or p == 0 else f"{p:.1g}%"


def _g(x: float) -> str:
    return f"{x:.3g}"


def _layer_stats(record: Mapping[str, Any]) -> dict[int, Mapping[str, Any]]:
    out = {}
    for k, entry in enumerate(record.get("layers") or ()):
        if isinstance(entry, Mapping):
            idx = entry.get("layer", k)
            out[int(idx) if isinstance(idx, (int, np.integer)) else k] = entry
    return out


def alerts(series: Sequence[Mapping[str, Any]], model_info: Optional[Mapping[str, Any]] = None) -> list[dict]:
    """Plain-words alerts from a time series of :func:`layer_health` results.

    ``series``: ``[{"step": int, "epoch": float, "layers": [layer_health dicts]}, ...]``
    in time order. ``model_info`` (optional, see :func:`describe_model`) lends layer
    names, initialisers and the learning rate to the messages.

    Each alert is ``{"rule", "layer", "severity" ("error" | "warning"), "title",
    "evidence", "suggestion", "threshold", "step"}``, errors first, then by layer.
    The rules (module constants hold the thresholds):

    * ``dead_units``: a ReLU layer's ``dead_fraction >= 0.5`` at the latest record.
    * ``vanishing_gradients``: largest / smallest ``grad_norm`` over the layers with a
      finite one ``>= 1e3`` at the latest record (a layer with exactly 0 while another
      has more counts); ``layer`` is the one with the smallest.
    * ``exploding_gradients``: a ``grad_norm`` or ``weight_norm`` not finite at the
      latest record (error), or a layer's latest ``grad_norm`` ``>= 1e3`` times its
      smallest positive value in the earlier records (warning, the layer that grew most).
    * ``stalled_updates`` / ``large_updates``: ``update_ratio < -5`` / ``> -1`` in each
      of the last 5 records (all 5 must have one).
    * ``saturation``: a tanh or sigmoid layer's ``saturated_fraction >= 0.5`` at the
      latest record.
    * ``symmetry``: a Dense layer ``symmetric`` at the latest record, once the model
      has taken at least 2 steps (``step >= 2``).
    """
    series = [r for r in (series or ()) if isinstance(r, Mapping)]
    if not series:
        return []
    info = model_info or {}
    names = list(info.get("layer_names") or ())
    inits = list(info.get("inits") or ())
    lr = _num(info.get("learning_rate"))
    lr_text = f" (now {lr:g})" if lr is not None else ""

    def name(i: int) -> str:
        return str(names[i]) if i < len(names) and names[i] else f"Layer {i + 1}"

    latest = series[-1]
    step = latest.get("step")
    at = f" at step {step}" if step is not None else ""
    stats = _layer_stats(latest)
    found: list[dict] = []

    def add(rule: str, layer: Optional[int], severity: str, title: str, evidence: str, suggestion: str,
            threshold: str) -> None:
        found.append({"rule": rule, "layer": layer, "severity": severity, "title": title, "evidence": evidence,
                      "suggestion": suggestion, "threshold": threshold, "step": step})

    # dead units
    for i, s in sorted(stats.items()):
        dead = _num(s.get("dead_fraction"))
        if s.get("activation") == "relu" and dead is not None and dead >= DEAD_FRACTION_ALERT:
            units = int(s.get("units") or 0)
            n_dead = int(round(dead * units))
            add(DEAD_UNITS, i, "warning", f"{name(i)}: {_pct(dead)} of ReLU units never fire",
                f"{n_dead} of {units} units output 0 for every one of the {s.get('samples')} probe samples{at}; "
                f"a unit that never fires gets no gradient and cannot recover.",
                "try a smaller learning rate, He initialisation, or Leaky ReLU",
                f"dead_fraction >= {_pct(DEAD_FRACTION_ALERT)} (dead: output 0 for every probe sample)")

    # vanishing gradients
    grads = {i: _num(s.get("grad_norm")) for i, s in stats.items()}
    finite = {i: g for i, g in grads.items() if g is not None and math.isfinite(g)}
    if len(finite) >= 2:
        hi_i = max(finite, key=lambda i: finite[i])
        lo_i = min(finite, key=lambda i: finite[i])
        hi, lo = finite[hi_i], finite[lo_i]
        if hi > 0 and (lo == 0 or hi / lo >= VANISHING_RATIO):
            threshold = f"largest / smallest layer gradient norm >= {VANISHING_RATIO:g}"
            suggestion = "use ReLU (or Leaky ReLU) in the hidden layers, He initialisation, or fewer layers"
            if lo == 0:
                add(VANISHING, lo_i, "warning", f"{name(lo_i)} receives no gradient",
                    f"its gradient norm is 0 while {name(hi_i)}'s is {_g(hi)}{at}", suggestion, threshold)
            else:
                add(VANISHING, lo_i, "warning",
                    f"Vanishing gradients: {name(lo_i)} gets {hi / lo:,.0f}× less gradient than {name(hi_i)}",
                    f"gradient norm {_g(lo)} in {name(lo_i)} vs {_g(hi)} in {name(hi_i)}{at}", suggestion,
                    threshold)

    # exploding gradients
    broken = sorted(i for i, s in stats.items()
                    if any(v is not None and not math.isfinite(v)
                           for v in (_num(s.get("grad_norm")), _num(s.get("weight_norm")))))
    if broken:
        which = ", ".join(name(i) for i in broken)
        add(EXPLODING, broken[0], "error", "Gradients exploded: the numbers are no longer finite",
            f"gradient or weight norm is infinite or NaN in {which}{at}",
            f"use a much smaller learning rate{lr_text}, and scale the inputs (e.g. to 0..1)",
            "a gradient or weight norm that is not finite")
    elif len(series) >= 2:
        earlier = [_layer_stats(r) for r in series[:-1]]
        worst = None
        for i, g in finite.items():
            past = [_num(e.get(i, {}).get("grad_norm")) for e in earlier]
            past = [p for p in past if p is not None and math.isfinite(p) and p > 0]
            if not past or g <= 0:
                continue
            growth = g / min(past)
            if growth >= EXPLODING_GROWTH and (worst is None or growth > worst[1]):
                worst = (i, growth, min(past), g)
        if worst is not None:
            i, growth, low, g = worst
            add(EXPLODING, i, "warning", f"{name(i)}: gradient norm grew {growth:,.0f}× during training",
                f"from {_g(low)} to {_g(g)}{at}",
                f"use a smaller learning rate{lr_text}, and scale the inputs (e.g. to 0..1)",
                f"grad_norm >= {EXPLODING_GROWTH:g} × its smallest earlier value, or not finite")

    # update ratio, over the last records
    window = series[-UPDATE_RATIO_RECORDS:]
    if len(window) == UPDATE_RATIO_RECORDS:
        per = [_layer_stats(r) for r in window]
        for i in sorted(stats):
            ratios = [_num(p.get(i, {}).get("update_ratio")) for p in per]
            if any(r is None or math.isnan(r) for r in ratios):
                continue
            last = ratios[-1]
            shown = "0" if last == -math.inf else f"1e{last:.1f}"
            if all(r < UPDATE_RATIO_LOW for r in ratios):
                add(STALLED_UPDATES, i, "warning", f"{name(i)}: the weights have almost stopped changing",
                    f"each step changes the weights by about {shown} of their size "
                    f"(log10 ratio {max(ratios):.1f} or less over the last {UPDATE_RATIO_RECORDS} records{at})",
                    f"try a larger learning rate{lr_text}; if the loss has flattened, training may simply be done",
                    f"update_ratio (log10 ||update|| / ||W||) < {UPDATE_RATIO_LOW:g} in each of the last "
                    f"{UPDATE_RATIO_RECORDS} records")
            elif all(r > UPDATE_RATIO_HIGH for r in ratios):
                add(LARGE_UPDATES, i, "warning", f"{name(i)}: every step changes the weights a lot",
                    f"each step changes the weights by about {_pct(10 ** last)} of their size "
                    f"(log10 ratio {min(ratios):.1f} or more over the last {UPDATE_RATIO_RECORDS} records{at}); "
                    f"about 0.1% is typical",
                    f"try a smaller learning rate{lr_text}",
                    f"update_ratio (log10 ||update|| / ||W||) > {UPDATE_RATIO_HIGH:g} in each of the last "
                    f"{UPDATE_RATIO_RECORDS} records")

    # saturation
    for i, s in sorted(stats.items()):
        sat = _num(s.get("saturated_fraction"))
        act = s.get("activation")
        if act in ("tanh", "sigmoid") and sat is not None and sat >= SATURATED_FRACTION_ALERT:
            rule_text = (f"|a| > {TANH_SATURATION:g}" if act == "tanh"
                         else f"a < {SIGMOID_SATURATION:g} or a > {1 - SIGMOID_SATURATION:g}")
            add(SATURATION, i, "warning", f"{name(i)}: {_pct(sat)} of {act} outputs are saturated",
                f"{rule_text} for {_pct(sat)} of the {s.get('samples')} × {s.get('units')} probe values{at}; "
                f"there the {act} is flat and passes almost no gradient",
                f"try a smaller learning rate{lr_text}, scale the inputs (e.g. to 0..1), or Xavier initialisation",
                f"saturated_fraction >= {_pct(SATURATED_FRACTION_ALERT)} ({rule_text})")

    # symmetry never broken
    if isinstance(step, (int, float)) and not isinstance(step, bool) and step >= SYMMETRY_MIN_STEPS:
        for i, s in sorted(stats.items()):
            if s.get("symmetric") is True:
                units = s.get("units")
                init = inits[i] if i < len(inits) else None
                if init == "zeros":
                    why = "with zero initialisation the units never become different"
                else:
                    why = "units that start equal get equal gradients and never become different"
                add(SYMMETRY, i, "error", f"{name(i)}: all {units} units are equal",
                    f"all {units} units of {name(i).lower() if name(i).startswith('Layer') else name(i)} have "
                    f"the same weights and give the same output on every probe sample after {step} steps: "
                    f"the layer works like a single unit",
                    f"{why}; use Xavier or He initialisation",
                    f"every column of W and every unit's output equal within a relative "
                    f"{SYMMETRY_RTOL:g} (float64) or 1000 machine epsilons (float32), after >= "
                    f"{SYMMETRY_MIN_STEPS} steps")

    found.sort(key=lambda a: (SEVERITY_ORDER.get(a["severity"], 9),
                              -1 if a["layer"] is None else a["layer"], RULES.index(a["rule"])))
    return found
