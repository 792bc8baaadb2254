"""Searches: many runs of one base configuration, each with some of its settings varied.

A search space maps a *field* of the form to the values it takes::

    {"learning_rate": {"kind": "log", "low": 1e-4, "high": 1e-1, "n": 4},
     "activation":    {"kind": "values", "values": ["relu", "leaky_relu", "sigmoid"]},
     "epochs":        {"kind": "int", "low": 3, "high": 8},
     "units":         {"kind": "values", "values": [400, 500, 600]}}

Kinds: ``values`` (a list), ``linear`` and ``log`` (a range of numbers; a grid takes
``n`` points of it, evenly spaced or evenly spaced in log), ``int`` (whole numbers
from ``low`` to ``high``; a grid takes ``n`` of them, evenly spread, all of them when
``n`` is left out). ``grid`` tries every combination; ``random`` draws ``n_trials``
combinations from a seeded generator (``values`` uniformly, ``linear`` uniformly,
``log`` log-uniformly, ``int`` uniformly), so a seed gives the same trials.

Fields are names of form values (``dashboard.spec``):

* the form's own numbers and choices: ``learning_rate``, ``batch_size``, ``epochs``,
  ``l1``, ``l2``, ``val_percent``, ``init``, ``init_seed``, ``optimizer``, ``loss``,
  ``output_activation``;
* ``optimizer_params.<name>``, ``init_params.<name>``, ``data.<name>``;
* the hidden stack as a whole: ``layers`` (how many hidden Dense layers: the first one
  is repeated, or the last ones dropped), ``units`` and ``activation`` (every hidden
  Dense layer's);
* one row's setting: ``layers.<i>.<setting>`` (e.g. ``layers.0.filters``).

:func:`trials` turns a base form and a space into the trials' form values and the
settings each varied; ``dashboard.spec.check`` then makes each a spec (a trial whose
values break a rule is reported, not run).
"""
from __future__ import annotations

import copy
import itertools
import math
import re
from typing import Any, Optional

import numpy as np

from . import spec as spec_mod

STRATEGIES = ("grid", "random")
KINDS = ("values", "linear", "log", "int")
GRID_POINTS = 3              # points of a range in a grid when ``n`` is not given
MAX_TRIALS = 500
FORM_FIELDS = ("learning_rate", "batch_size", "epochs", "l1", "l2", "val_percent", "init", "init_seed",
               "optimizer", "loss", "output_activation")
_PREFIXED = re.compile(r"^(optimizer_params|init_params|data)\.(\w+)$")
_ROW = re.compile(r"^layers\.(\d+)\.(\w+)$")


# -- the space -----------------------------------------------------------------------------------------
def check_field(name: Any) -> str:
    """A field name a search may vary (see the module docstring), or ValueError."""
    if not isinstance(name, str) or not (name in FORM_FIELDS or name in ("layers", "units", "activation")
                                         or _PREFIXED.match(name) or _ROW.match(name)):
        raise ValueError(f"field {name!r} is not one a search can vary: use one of {', '.join(FORM_FIELDS)}, "
                         f"layers, units, activation, optimizer_params.<name>, init_params.<name>, data.<name> "
                         f"or layers.<i>.<setting>")
    return name


def _finite(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number (got {value!r})")
    return float(value)


def check_space(space: Any) -> dict[str, dict]:
    """The space with every rule checked (ValueError naming the field and the rule)."""
    if not isinstance(space, dict) or not space:
        raise ValueError("space must map at least one field to its values")
    out = {}
    for name, dim in space.items():
        check_field(name)
        if not isinstance(dim, dict) or dim.get("kind") not in KINDS:
            raise ValueError(f"{name}: kind must be one of {', '.join(KINDS)} (got {dim!r})")
        kind = dim["kind"]
        if kind == "values":
            values = dim.get("values")
            if not isinstance(values, list) or not values:
                raise ValueError(f"{name}: values must be a non-empty list")
            out[name] = {"kind": kind, "values": list(values)}
            continue
        low, high = _finite(dim.get("low"), f"{name}: low"), _finite(dim.get("high"), f"{name}: high")
        if not low <= high:
            raise ValueError(f"{name}: low must not be greater than high (got {low:g} > {high:g})")
        if kind == "log" and not low > 0:
            raise ValueError(f"{name}: a log range needs low greater than 0 (got {low:g})")
        if kind == "int" and not (low.is_integer() and high.is_integer()):
            raise ValueError(f"{name}: an int range needs whole numbers (got {low:g}..{high:g})")
        n = dim.get("n")
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 100):
            raise ValueError(f"{name}: n must be a whole number from 1 to 100 (got {n!r})")
        out[name] = {"kind": kind, "low": low, "high": high, **({"n": n} if n is not None else {})}
    return out


def _points(dim: dict) -> list:
    """The values a grid takes of one dimension."""
    kind = dim["kind"]
    if kind == "values":
        return list(dim["values"])
    low, high = dim["low"], dim["high"]
    if kind == "int":
        whole = list(range(int(low), int(high) + 1))
        n = dim.get("n")
        if n is None or n >= len(whole):
            return whole
        return sorted({whole[round(i)] for i in np.linspace(0, len(whole) - 1, n)})
    n = dim.get("n", GRID_POINTS)
    if n == 1 or low == high:
        return [low]
    points = np.geomspace(low, high, n) if kind == "log" else np.linspace(low, high, n)
    return [float(f"{p:.6g}") for p in points]


def _draw(dim: dict, rng: np.random.Generator) -> Any:
    kind = dim["kind"]
    if kind == "values":
        return dim["values"][int(rng.integers(len(dim["values"])))]
    low, high = dim["low"], dim["high"]
    if kind == "int":
        return int(rng.integers(int(low), int(high) + 1))
    if kind == "log":
        return float(f"{math.exp(rng.uniform(math.log(low), math.log(high))):.6g}")
    return float(f"{rng.uniform(low, high):.6g}")


def combinations(space: dict, strategy: str = "grid", n_trials: Optional[int] = None,
                 seed: int = 0) -> list[dict[str, Any]]:
    """The settings of every trial: ``[{"learning_rate": 0.01, "activation": "relu"}, ...]``."""
    space = check_space(space)
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)} (got {strategy!r})")
    if strategy == "grid":
        names = list(space)
        grid = [dict(zip(names, values)) for values in itertools.product(*(_points(space[n]) for n in names))]
        if len(grid) > MAX_TRIALS:
            raise ValueError(f"the grid has {len(grid):,} trials: at most {MAX_TRIALS} (use fewer points, or "
                             f"random search)")
        return grid[:n_trials] if n_trials else grid
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or not 1 <= n_trials <= MAX_TRIALS:
        raise ValueError(f"n_trials must be a whole number from 1 to {MAX_TRIALS} for random search "
                         f"(got {n_trials!r})")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative whole number (got {seed!r})")
    rng = np.random.default_rng(seed)
    return [{name: _draw(dim, rng) for name, dim in space.items()} for _ in range(n_trials)]


# -- a trial's form ---------------------------------------------------------------------------------------
def _hidden_dense(form: dict) -> list[dict]:
    return [row for row in form["layers"] if row.get("type") == "Dense"]


def apply(form: dict, settings: dict[str, Any]) -> dict:
    """A copy of the form values with each of ``settings`` set (see the module docstring)."""
    out = copy.deepcopy(form)
    out.setdefault("layers", [])
    # The layer count first, so that units and activation reach every layer it makes.
    for name in sorted(settings, key=lambda n: n != "layers"):
        value = settings[name]
        check_field(name)
        if name in FORM_FIELDS:
            out[name] = value
        elif name == "layers":
            count = int(value)
            if count < 0:
                raise ValueError(f"layers must be at least 0 (got {value!r})")
            dense = _hidden_dense(out)
            others = [row for row in out["layers"] if row.get("type") != "Dense"]
            if others:
                raise ValueError("layers (a count of hidden Dense layers) works for stacks of Dense layers only; "
                                 "vary layers.<i>.<setting> instead")
            template = dense[0] if dense else {"type": "Dense", "settings": {}}
            out["layers"] = (dense + [copy.deepcopy(template) for _ in range(count - len(dense))])[:count]
        elif name in ("units", "activation"):
            for row in _hidden_dense(out):
                row.setdefault("settings", {})[name] = value
        elif _PREFIXED.match(name):
            group, key = _PREFIXED.match(name).groups()
            out.setdefault(group, {})[key] = value
        else:
            index, key = _ROW.match(name).groups()
            index = int(index)
            if not 0 <= index < len(out["layers"]):
                raise ValueError(f"{name}: the stack has {len(out['layers'])} rows")
            out["layers"][index].setdefault("settings", {})[key] = value
    return out


def trials(base_form: dict, space: dict, strategy: str = "grid", n_trials: Optional[int] = None,
           seed: int = 0, csv_meta: Optional[dict] = None) -> list[dict[str, Any]]:
    """Each trial of a search: ``{"trial": k, "params": settings, "spec": spec or None,
    "error": message or None}``. A trial whose settings break a rule of the form keeps
    its message and is not run."""
    out = []
    for k, settings in enumerate(combinations(space, strategy, n_trials, seed)):
        entry: dict[str, Any] = {"trial": k, "params": settings, "spec": None, "error": None}
        try:
            checked = spec_mod.check(apply(base_form, settings), csv_meta)
        except ValueError as exc:
            entry["error"] = str(exc)
        else:
            if checked.spec is None:
                entry["error"] = "; ".join(f"{key}: {msg}" for key, msg in checked.errors.items())
            else:
                entry["spec"] = checked.spec
        out.append(entry)
    return out


# The reports' randomized search over the reference MLP (SEEDS.md, section C).
REPORT_SPACE: dict[str, dict] = {
    "units": {"kind": "values", "values": [400, 500, 600]},
    "layers": {"kind": "values", "values": [1, 2, 3]},
    "epochs": {"kind": "int", "low": 3, "high": 8},
    "batch_size": {"kind": "values", "values": [100, 300, 600]},
    "learning_rate": {"kind": "log", "low": 1e-4, "high": 1e-1},
    "activation": {"kind": "values", "values": ["relu", "leaky_relu", "sigmoid"]},
}
