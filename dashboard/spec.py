"""The model spec: one plain-data description of a run that every part reads the same way.

The form produces it (:func:`check`), the training job builds the model from it
(:func:`build_model`), model files keep it (``model.save(..., metadata={"spec": ...})``),
snapshots carry it, and a loaded file gives the form back (:func:`form_from_spec`)::

    {"version": 1,
     "data": {"name": "digits", "params": {}, "val_fraction": 0.2,
              "text": {"max_tokens": 2000, "sequence_length": 48}},   # text data only
     "model": {"input_shape": [8, 8, 1],                               # Sequential.get_config()
               "layers": [{"type": "Conv2D", "config": {...}}, ..., {"type": "Dense", ...}],
               "loss": "cce", "optimizer": "adam", "optimizer_params": {...},
               "l1": 0.0, "l2": 0.0, "dtype": "float32", "seed": 0},
     "network_init": {"init": "xavier", "init_params": {}},           # the form's default
     "training": {"learning_rate": 0.003, "batch_size": 32, "epochs": 15}}

The last layer is the output layer: a Dense whose units follow from the data and the loss.

The form's choices come from the engine's tables: ``LAYERS`` and each layer class's
``settings``, ``ACTIVATIONS``, ``INITIALIZERS`` (with ``INIT_SETTINGS``), ``OPTIMIZERS``
(each with its ``settings``), ``LOSSES`` and ``datasets.DATASETS``. The rules are the
engine's too: a row is checked by building its layer on the shape the row above gives
(with zero initialisers, so a large layer costs nothing to check), and its message is
the engine's. What is checked here and only here: the limits of what this server
trains (:data:`LIMITS`), and how a stack meets its data (text needs an Embedding first;
the output layer needs flat features).

Form values (:func:`check`'s input) are the raw values of the fields, keyed by name::

    {"dataset": "digits", "data": {"n_samples": 300, ...}, "val_percent": 20,
     "max_tokens": 2000, "sequence_length": 48,
     "layers": [{"type": "Conv2D", "settings": {"filters": 8, "kernel_size": "3", ...}}, ...],
     "output_activation": "softmax", "loss": "cce",
     "init": "xavier", "init_params": {"low": -0.1, ...}, "init_seed": None,
     "optimizer": "adam", "optimizer_params": {"beta1": 0.9, ...},
     "learning_rate": 0.01, "batch_size": 32, "epochs": 30, "l1": 0, "l2": 0}

Error keys name the field: ``"dataset"``, ``"csv"``, ``"data.<param>"``, ``"val_percent"``,
``"max_tokens"``, ``"sequence_length"``, ``"layers"`` (the stack), ``"layers.<i>"`` (row i),
``"output"`` (the output row), ``"loss"``, ``"output_activation"``, ``"init"``,
``"init.<param>"``, ``"init_seed"``, ``"optimizer"``, ``"optimizer.<param>"``,
``"learning_rate"``, ``"batch_size"``, ``"epochs"``, ``"l1"``, ``"l2"``.
"""
from __future__ import annotations

import functools
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from engine import ACTIVATIONS, INITIALIZERS, LAYERS, LOSSES, OPTIMIZERS, Sequential, datasets
from engine.initializers import INIT_SETTINGS, check_init
from engine.settings import Setting

from . import data as data_mod

SPEC_VERSION = 1
NETWORK_INIT = "network"        # a row's initialiser value meaning "the network's choice"
MAX_LAYERS = 20
MAX_PARAMS = 25_000_000
# What this server trains, per layer setting (the engine itself has no upper bounds).
LIMITS: dict[str, int] = {"units": 4096, "filters": 512, "kernel_size": 15, "pool_size": 15, "strides": 15,
                          "output_dim": 1024, "input_dim": 100_000}
RECURRENT_UNITS = 1024
SEED_MAX = 2**32 - 1

# The form's own numbers: (label, kind, default, help, low, high, low_open).
FIELDS: dict[str, tuple[str, str, Any, str, float, float, bool]] = {
    "val_percent": ("Validation %", "float", 20, "Share of the rows held out for validation", 0, 90, False),
    "max_tokens": ("Vocabulary size", "int", 2000, "Most frequent words kept (padding and unknown included)",
                   3, 100_000, False),
    "sequence_length": ("Sequence length", "int", 48, "Tokens per text: longer ones are cut, shorter padded",
                        1, 512, False),
    "learning_rate": ("Learning rate", "float", 0.01, "Step size of each update (up to 1000, so that too large a step can be seen to fail)", 0, 1000, True),
    "batch_size": ("Batch size", "int", 32, "Samples per update", 1, 100_000, False),
    "epochs": ("Epochs", "int", 30, "Passes over the training data", 1, 10_000, False),
    "l1": ("L1", "float", 0, "L1 penalty on the weights", 0, 10, False),
    "l2": ("L2", "float", 0, "L2 penalty on the weights", 0, 10, False),
    "init_seed": ("Init seed", "int", None, "Empty: a new random start each time", 0, SEED_MAX, False),
}


# -- reading raw values ----------------------------------------------------------------------
def fmt(x: float) -> str:
    return f"{x:,}" if isinstance(x, int) else f"{x:g}"


def number(value: Any, kind: str, required: bool = True) -> tuple[Optional[float], Optional[str]]:
    """(value, None) or (None, message) for one numeric field."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return (None, "Enter a number") if required else (None, None)
    if isinstance(value, bool):
        return None, "Enter a number"
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None, "Enter a number"
    if not math.isfinite(x):
        return None, "Enter a finite number"
    if kind == "int":
        if not x.is_integer():
            return None, "Enter a whole number"
        return int(x), None
    return x, None


_PAIR = re.compile(r"^\s*(\d+)\s*(?:[x×*,\s]\s*(\d+))?\s*$")


def pair(value: Any) -> tuple[Any, Optional[str]]:
    """A size as a person types it: ``3``, ``"3"``, ``"3x2"``, ``"3, 2"`` or ``[3, 2]`` ->
    ``3`` or ``[3, 2]``; (None, message) otherwise."""
    if isinstance(value, (list, tuple)) and len(value) == 2:
        value = f"{value[0]}x{value[1]}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(int(value)) if float(value).is_integer() else str(value)
    m = _PAIR.match(value) if isinstance(value, str) else None
    if not m:
        return None, "Enter a size like 3 or 3x2"
    a = int(m.group(1))
    b = int(m.group(2)) if m.group(2) is not None else None
    return (a if b is None or b == a else [a, b]), None


def pair_text(value: Any) -> Any:
    """The inverse of :func:`pair` for the form: ``[3, 3]`` -> ``"3"``, ``[3, 2]`` -> ``"3x2"``."""
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return str(value[0]) if value[0] == value[1] else f"{value[0]}x{value[1]}"
    return value if value is None else str(value)


def _in_range(x: float, low: float, high: float, low_open: bool = False) -> Optional[str]:
    if low_open and not x > low:
        return f"Must be greater than {fmt(low)}"
    if not low <= x <= high:
        return f"Must be between {fmt(low)} and {fmt(high)}"
    return None


def field_number(form: dict, errors: dict, name: str) -> Optional[float]:
    """A :data:`FIELDS` number from the form, or None with ``errors[name]`` set."""
    _, kind, _, _, low, high, low_open = FIELDS[name]
    x, msg = number(form.get(name), kind, required=name != "init_seed")
    if msg is None and x is not None:
        msg = _in_range(x, low, high, low_open)
    if msg:
        errors[name] = msg
        return None
    return x


def _engine_field(message: str, names: list[str]) -> Optional[str]:
    """Which setting an engine message is about: the engine starts each with the
    argument's name (``"filters must be ..."``, ``"optimizer_params eps must ..."``)."""
    for name in names:
        for prefix in (f"{name} ", f"optimizer_params {name} ", f"init_params {name} "):
            if message.startswith(prefix):
                return name
    return None


# -- one row of the stack ------------------------------------------------------------------------
def settings_of(kind: str, inner: Optional[str] = None) -> list[Setting]:
    """The settings a row of this layer type shows (a wrapper's, then its inner layer's)."""
    out = []
    for s in LAYERS[kind].settings:
        out.append(s)
        if s.kind == "layer":
            chosen = inner if inner in s.choices else s.default
            out.extend(settings_of(chosen))
    return out


def _limit(kind: str, name: str) -> Optional[int]:
    if name == "units" and LAYERS[kind].takes == "sequence":
        return RECURRENT_UNITS
    return LIMITS.get(name)


def row_config(kind: str, settings: dict, network_init: tuple[str, dict],
               blanks: Optional[dict] = None) -> tuple[dict, dict[str, str]]:
    """The engine config of one row from its raw settings, and a message per bad setting.

    ``network_init`` is the form's (initialiser, params) for rows whose initialiser is
    :data:`NETWORK_INIT`; ``blanks`` gives values for settings left empty (the data's
    vocabulary for an Embedding)."""
    blanks = blanks or {}
    config: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for s in LAYERS[kind].settings:
        raw = settings.get(s.name, NETWORK_INIT if s.kind == "init" else s.default)
        if s.kind in ("layer", "init", "activation", "choice"):
            raw = _choice_value(raw)
        empty = raw is None or (isinstance(raw, str) and not raw.strip())
        if empty and s.name in blanks:
            raw, empty = blanks[s.name], False
        value: Any = None
        msg = None
        if s.kind == "layer":
            inner = raw if raw in s.choices else s.default
            inner_config, inner_errors = row_config(inner, settings, network_init, blanks)
            config["layer"] = {"type": inner, "config": inner_config}
            errors.update(inner_errors)
            continue
        if s.kind == "init":
            name = NETWORK_INIT if empty else raw
            if name == NETWORK_INIT:
                config["init"], config["init_params"] = network_init[0], dict(network_init[1])
            elif name in INITIALIZERS:
                same = name == network_init[0]
                config["init"], config["init_params"] = name, dict(network_init[1]) if same else {}
            else:
                errors[s.name] = "Choose an initialiser"
            continue
        if empty and s.optional:
            continue          # the constructor's own default (e.g. strides = the pool size)
        if s.kind in ("int", "float"):
            value, msg = number(raw, s.kind)
        elif s.kind == "pair":
            value, msg = pair(raw)
        elif s.kind == "bool":
            value = bool(raw)
        elif s.kind == "activation":
            if raw not in ACTIVATIONS or raw == "softmax":
                msg = "Choose an activation"
            value = raw
        elif s.kind == "choice":
            if raw not in s.choices:
                msg = f"Choose one of {', '.join(map(str, s.choices))}"
            value = raw
        limit = _limit(kind, s.name)
        if msg is None and limit is not None and value is not None:
            largest = max(value) if isinstance(value, list) else value
            if largest > limit:
                msg = f"Must be at most {limit:,} here"
        if msg:
            errors[s.name] = msg
        else:
            config[s.name] = value
    return config, errors


def _zero_init(config: dict) -> dict:
    """The config with zero initialisers: shapes and parameter counts do not depend on
    the initialiser, and zeros cost nothing to draw."""
    out = dict(config)
    for key in ("init", "recurrent_init"):
        if key in out:
            out[key] = "zeros"
            out[key + "_params"] = {}
    if isinstance(out.get("layer"), dict):
        out["layer"] = {**out["layer"], "config": _zero_init(out["layer"]["config"])}
    return out


@functools.lru_cache(maxsize=1024)
def _built(kind: str, config_json: str, shape: tuple[int, ...]) -> tuple[Optional[tuple[int, ...]], int,
                                                                           Optional[str]]:
    """(output shape, parameter count, None) of a layer built on ``shape``, or (None, 0, message)."""
    try:
        layer = LAYERS[kind].from_config(_zero_init(json.loads(config_json)))
        out = layer.build(shape, np.random.default_rng(0), np.float32)
    except (ValueError, TypeError) as exc:
        return None, 0, str(exc)
    return tuple(int(n) for n in out), int(layer.n_params), None


def build_shape(kind: str, config: dict, shape: tuple[int, ...]) -> tuple[Optional[tuple[int, ...]], int,
                                                                         Optional[str]]:
    """What a layer of this config gives on input ``shape``: (output shape, params, error)."""
    return _built(kind, json.dumps(config, sort_keys=True), tuple(int(n) for n in shape))


def shape_text(shape: Optional[tuple]) -> str:
    """``(8, 8, 1)``, ``(64,)``: a sample's shape as Keras prints it."""
    return "?" if shape is None else str(tuple(int(n) for n in shape))


# -- the whole form ---------------------------------------------------------------------------------
@dataclass
class Checked:
    """What :func:`check` found: the spec (None while anything is wrong), a message per
    field, and what each row gives (``rows[i] = {"shape", "params"}``; ``output`` likewise)."""

    spec: Optional[dict]
    errors: dict[str, str]
    rows: list[dict] = field(default_factory=list)
    output: dict = field(default_factory=dict)
    input_shape: Optional[tuple] = None
    total_params: Optional[int] = None
    facts: Optional[dict] = None

    def first_error(self) -> Optional[str]:
        """The first field's message with the field's name: ``"Epochs: Must be between 1 and
        10,000"`` (None when every rule holds)."""
        if not self.errors:
            return None
        name, message = next(iter(self.errors.items()))
        label = FIELDS[name][0] if name in FIELDS else name
        return f"{label[:1].upper()}{label[1:]}: {message}"


def _data_part(form: dict, csv_meta: Optional[dict], errors: dict) -> tuple[dict, Optional[dict]]:
    name = form.get("dataset")
    data: dict[str, Any] = {"name": name}
    facts = None
    if name == data_mod.CSV_OPTION:
        if not csv_meta or not csv_meta.get("filename"):
            errors["csv"] = "Upload a CSV file with a header row"
        elif csv_meta.get("error"):
            errors["csv"] = csv_meta["error"]
        elif not csv_meta.get("label"):
            errors["csv"] = "Choose the label column"
        else:
            data.update(filename=csv_meta["filename"], label=csv_meta["label"])
            facts = data_mod.facts(data, csv_meta)
        return data, facts
    if name not in datasets.DATASETS:
        errors["dataset"] = "Choose a data set"
        return data, None
    info = datasets.DATASETS[name]
    raw = form.get("data") or {}
    params = {}
    for pname, p in info["params"].items():
        if p["type"] not in ("int", "float"):
            continue
        x, msg = number(raw.get(pname, p["default"]), p["type"])
        if msg is None:
            msg = _in_range(x, p["min"], p["max"])
        if msg:
            errors[f"data.{pname}"] = msg
        else:
            params[pname] = x
    data["params"] = params
    if info.get("kind") == data_mod.TEXT:
        text = {k: field_number(form, errors, k) for k in ("max_tokens", "sequence_length")}
        data["text"] = text
    if any(k.startswith("data.") or k in ("max_tokens", "sequence_length") for k in errors):
        return data, None
    try:
        facts = data_mod.facts(data)
    except (ValueError, ImportError, OSError, datasets.DatasetUnavailableError) as exc:
        errors["dataset"] = str(exc)
    return data, facts


def _engine_params(settings, raw: dict, prefix: str, errors: dict, build) -> dict[str, Any]:
    """The numbers of an engine part's settings, checked by building the part
    (``build(params)``); messages go under ``"<prefix>.<setting>"`` (or ``prefix``)."""
    params: dict[str, Any] = {}
    for s in settings:
        x, msg = number(raw.get(s.name, s.default), s.kind)
        if msg:
            errors[f"{prefix}.{s.name}"] = msg
        else:
            params[s.name] = x
    if not any(k.startswith(prefix + ".") for k in errors):
        try:
            build(params)
        except ValueError as exc:
            where = _engine_field(str(exc), [s.name for s in settings])
            errors[f"{prefix}.{where}" if where else prefix] = str(exc)
    return params


def _network_init(form: dict, errors: dict) -> tuple[str, dict]:
    init = form.get("init")
    if init not in INITIALIZERS:
        errors["init"] = "Choose an initialiser"
        return "xavier", {}
    params = _engine_params(INIT_SETTINGS[init][1], form.get("init_params") or {}, "init", errors,
                            lambda p: check_init(init, p))
    if any(k == "init" or k.startswith("init.") for k in errors):
        return "xavier", {}       # the rows are checked as if it were valid: one message, beside the field
    return init, params


def _optimizer(form: dict, errors: dict) -> tuple[Optional[str], dict]:
    name = form.get("optimizer")
    if name not in OPTIMIZERS:
        errors["optimizer"] = "Choose an optimiser"
        return None, {}
    cls = OPTIMIZERS[name]
    return name, _engine_params(cls.settings, form.get("optimizer_params") or {}, "optimizer", errors,
                                lambda p: cls(**p))


def _output_rules(loss: Any, out_act: Any, facts: Optional[dict], errors: dict) -> None:
    if loss not in LOSSES:
        errors["loss"] = "Choose a loss"
    elif facts is not None and facts["task"] == "regression" and LOSSES[loss].classification:
        errors["loss"] = "Regression data needs the mean squared error loss"
    if out_act not in ACTIVATIONS:
        errors["output_activation"] = "Choose an activation"
    elif loss in LOSSES and LOSSES[loss].fused_activation and out_act != LOSSES[loss].fused_activation:
        errors["output_activation"] = (f"{LOSSES[loss].label} needs a "
                                       f"{ACTIVATIONS[LOSSES[loss].fused_activation].label.lower()} output")


def _choice_value(value: Any) -> Any:
    """A choice as the rules can look it up: a list or a mapping where a name belongs (a
    request that did not come from the page) becomes a name no choice has."""
    return value if isinstance(value, (str, int, float, bool, type(None))) else f"<{type(value).__name__}>"


CHOICE_KEYS = ("dataset", "output_activation", "loss", "init", "optimizer")


def check(form: dict, csv_meta: Optional[dict] = None) -> Checked:
    """Check every rule of the form and build the spec (see the module docstring)."""
    errors: dict[str, str] = {}
    form = {**form, **{k: _choice_value(form.get(k)) for k in CHOICE_KEYS if k in form}}
    if isinstance(form.get("layers"), list):
        form["layers"] = [{**row, "type": _choice_value(row.get("type")), "inner": _choice_value(row.get("inner"))}
                          if isinstance(row, dict) else {} for row in form["layers"]]
    data, facts = _data_part(form, csv_meta, errors)
    val = field_number(form, errors, "val_percent")
    if val is not None:
        data["val_fraction"] = val / 100.0
    network_init = _network_init(form, errors)
    seed = field_number(form, errors, "init_seed")
    optimizer, optimizer_params = _optimizer(form, errors)
    loss, out_act = form.get("loss"), form.get("output_activation")
    _output_rules(loss, out_act, facts, errors)
    training = {k: field_number(form, errors, k) for k in ("learning_rate", "batch_size", "epochs")}
    l1, l2 = field_number(form, errors, "l1"), field_number(form, errors, "l2")

    rows_in = form.get("layers") or []
    if len(rows_in) > MAX_LAYERS:
        errors["layers"] = f"At most {MAX_LAYERS} layers here"
    # An Embedding left without a vocabulary follows the data's (while the data are not
    # known yet, the engine's default stands in: the data's own field has the message).
    embedding_default = next(s.default for s in LAYERS["Embedding"].settings if s.name == "input_dim") \
        if "Embedding" in LAYERS else None
    blanks = {"input_dim": facts["vocab_size"] if facts and facts.get("vocab_size") else embedding_default}
    configs = []
    for i, row in enumerate(rows_in):
        kind = row.get("type")
        if kind not in LAYERS:
            errors[f"layers.{i}"] = "Choose a layer type"
            configs.append(None)
            continue
        config, row_errors = row_config(kind, row.get("settings") or {}, network_init, blanks)
        if not row_errors:
            try:
                config = LAYERS[kind].from_config(config).get_config()   # the engine's full form
            except (ValueError, TypeError) as exc:
                where = _engine_field(str(exc), [s.name for s in settings_of(kind, (config.get("layer") or {})
                                                                                 .get("type"))])
                row_errors[where or ""] = str(exc)
        if row_errors:
            labels = {s.name: s.label for s in settings_of(kind, (config.get("layer") or {}).get("type"))}
            name, msg = next(iter(row_errors.items()))
            errors[f"layers.{i}"] = f"{labels[name]}: {msg}" if name in labels and not msg.startswith(name) else msg
            configs.append(None)
        else:
            configs.append({"type": kind, "config": config})

    checked = Checked(None, errors, facts=facts)
    types = [r.get("type") for r in rows_in]
    if facts is not None:
        shape: Optional[tuple] = data_mod.input_shape(facts, types)
        checked.input_shape = shape
    else:
        shape = None
    total = 0
    for i, layer in enumerate(configs):
        info: dict[str, Any] = {"shape": None, "params": None}
        checked.rows.append(info)
        if shape is None or layer is None:
            shape = None
            continue
        msg = _data_rule(facts, i, layer["type"], shape)
        if msg is None:
            if layer["type"] == "Embedding" and facts.get("vocab_size") and \
                    layer["config"]["input_dim"] < facts["vocab_size"]:
                msg = (f"Vocabulary size: must be at least the data's {facts['vocab_size']:,} token ids "
                       f"(leave it empty to follow the data)")
        if msg is None:
            out, n_params, msg = build_shape(layer["type"], layer["config"], shape)
        if msg:
            errors.setdefault(f"layers.{i}", msg)
            shape = None
            continue
        info.update(shape=out, params=n_params)
        total += n_params
        shape = out
    if facts is not None and shape is not None and not rows_in and facts["kind"] == data_mod.TEXT:
        errors["layers"] = "Text needs an Embedding layer first: it turns token ids into vectors"
        shape = None

    output = None
    init_ok = not any(k == "init" or k.startswith("init.") for k in errors)
    if facts is not None and loss in LOSSES and out_act in ACTIVATIONS and init_ok:
        units = data_mod.output_units(facts, loss)
        output = {"type": "Dense", "config": LAYERS["Dense"](units, activation=out_act, init=network_init[0],
                                                             init_params=dict(network_init[1])).get_config()}
        checked.output = {"units": units, "shape": None, "params": None}
        if shape is not None:
            if len(shape) != 1:
                errors["output"] = (f"The output layer needs flat features; it gets {shape_text(shape)}: "
                                    + ("end with a recurrent layer that does not return sequences"
                                       if len(shape) == 2 else "add Flatten or a global pooling layer"))
            else:
                out, n_params, msg = build_shape("Dense", output["config"], shape)
                if msg:
                    errors["output"] = msg
                else:
                    checked.output.update(shape=out, params=n_params)
                    total += n_params
    if not errors and total > MAX_PARAMS:
        errors["layers"] = f"{total:,} parameters: at most {MAX_PARAMS:,} here"
    checked.total_params = total if not any(k.startswith("layers") or k == "output" for k in errors) else None
    if errors:
        return checked
    checked.spec = {
        "version": SPEC_VERSION,
        "data": data,
        "model": {"input_shape": list(checked.input_shape), "layers": [*configs, output], "loss": loss,
                  "optimizer": optimizer, "optimizer_params": optimizer_params, "l1": l1, "l2": l2,
                  "dtype": "float32", "seed": seed},
        "network_init": {"init": network_init[0], "init_params": network_init[1]},
        "training": training,
    }
    return checked


def _data_rule(facts: dict, i: int, kind: str, shape: tuple) -> Optional[str]:
    """How a stack must meet its data, beyond the shapes: token ids go into an Embedding
    first, and only token ids go into an Embedding."""
    takes = LAYERS[kind].takes
    if facts["kind"] == data_mod.TEXT and i == 0 and takes != "tokens":
        return "Text needs an Embedding layer first: it turns token ids into vectors"
    if takes == "tokens" and not (facts["kind"] == data_mod.TEXT and i == 0):
        return f"Embedding needs token ids (text data, as the first layer); it gets {shape_text(shape)}"
    return None


# -- spec <-> model ------------------------------------------------------------------------------------
def build_model(spec: dict) -> Sequential:
    """A new engine model (fresh weights) as the spec describes it."""
    return Sequential.from_config(spec["model"])


def architecture(spec_or_config: dict) -> dict:
    """What makes two models the same network: input shape, layers, loss, optimiser,
    regularisation (a run continues the stored model only when these agree)."""
    model = spec_or_config.get("model", spec_or_config)
    keys = ("input_shape", "layers", "loss", "optimizer", "optimizer_params", "l1", "l2")
    return json.loads(json.dumps({k: model.get(k) for k in keys}, sort_keys=True, default=float),
                      parse_float=float, parse_int=float)


def same_architecture(a: dict, b: dict) -> bool:
    return architecture(a) == architecture(b)


def spec_from_model(model: Sequential) -> dict:
    """The spec a model file carries (``model.metadata["spec"]``), or one made from the
    model itself (no data part) for files saved by scripts."""
    stored = model.metadata.get("spec") if isinstance(model.metadata, dict) else None
    config = model.get_config()
    if isinstance(stored, dict) and isinstance(stored.get("model"), dict) and same_architecture(stored, config):
        return stored
    # the network's initialiser: the first layer whose initialiser is a form setting (not an Embedding's)
    first = next((l["config"] for l in config["layers"] if "init" in l["config"] and l["type"] in LAYERS
                  and any(s.kind == "init" for s in LAYERS[l["type"]].settings)), {})
    return {"version": SPEC_VERSION, "data": None, "model": config,
            "network_init": {"init": first.get("init", "xavier"), "init_params": dict(first.get("init_params") or {})},
            "training": None}


# -- spec -> form --------------------------------------------------------------------------------------
def row_settings(layer: dict, network_init: dict) -> dict[str, Any]:
    """The raw setting values of a form row for one engine layer config."""
    kind, config = layer["type"], layer.get("config", {})
    out: dict[str, Any] = {}
    for s in LAYERS[kind].settings:
        if s.kind == "layer":
            inner = config.get("layer", {})
            out[s.name] = inner.get("type", s.default)
            out.update(row_settings({"type": out[s.name], "config": inner.get("config", {})}, network_init))
        elif s.kind == "init":
            same = (config.get("init") == network_init.get("init")
                    and dict(config.get("init_params") or {}) == dict(network_init.get("init_params") or {}))
            out[s.name] = NETWORK_INIT if same else config.get("init", NETWORK_INIT)
        elif s.kind == "pair":
            out[s.name] = pair_text(config.get(s.name, s.default))
        else:
            out[s.name] = config.get(s.name, s.default)
    if kind == "Embedding":
        out["input_dim"] = None     # follow the data's vocabulary
    return out


def form_from_spec(spec: dict, base: Optional[dict] = None) -> dict[str, Any]:
    """Form values that rebuild ``spec`` (the inverse of :func:`check`). Parts the
    spec lacks (a file saved by a script has no data part) keep ``base``'s values."""
    form: dict[str, Any] = json.loads(json.dumps(base or {}))
    model = spec["model"]
    network_init = spec.get("network_init") or {"init": "xavier", "init_params": {}}
    layers = model["layers"]
    output = layers[-1]
    form["layers"] = [{"type": l["type"], "settings": row_settings(l, network_init)} for l in layers[:-1]]
    form["output_activation"] = output["config"].get("activation", "linear")
    form["loss"] = model["loss"]
    form["init"] = network_init["init"]
    form["init_params"] = dict(network_init.get("init_params") or {})
    form["init_seed"] = model.get("seed")
    form["optimizer"] = model["optimizer"]
    form["optimizer_params"] = dict(model.get("optimizer_params") or {})
    form["l1"], form["l2"] = model.get("l1", 0), model.get("l2", 0)
    data = spec.get("data")
    if data and data.get("name") in datasets.DATASETS:
        form["dataset"] = data["name"]
        form["data"] = dict(data.get("params") or {})
        form["val_percent"] = round(100 * data.get("val_fraction", 0.2), 6)
        for key, value in (data.get("text") or {}).items():
            form[key] = value
    elif data and data.get("name") == data_mod.CSV_OPTION:
        form["dataset"] = data_mod.CSV_OPTION
        form["val_percent"] = round(100 * data.get("val_fraction", 0.2), 6)
    if spec.get("training"):
        form.update(spec["training"])
    return form


def recheck(spec: Any, csv_meta: Optional[dict] = None) -> dict:
    """The spec a page asks the server to train, checked again with the form's own rules
    (the page's copy is the browser's and may have been changed there): the form that
    rebuilds it must pass :func:`check` and give back the very same spec. ValueError,
    naming the field and its rule, when it does not. ``csv_meta`` describes the tab's
    uploaded CSV for a CSV spec (``dashboard.panels.form.csv_facts``)."""
    reload = "reload the page and press Train again"
    if not isinstance(spec, dict) or not isinstance(spec.get("model"), dict) \
            or not isinstance(spec.get("training"), dict) or not isinstance(spec.get("data"), dict):
        raise ValueError(f"The settings the page sent are not a model spec: {reload}.")
    try:
        form = form_from_spec(spec)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise ValueError(f"The settings the page sent are not a model spec ({type(exc).__name__}: {exc}): "
                         f"{reload}.") from None
    checked = check(form, csv_meta)
    if checked.spec is None:
        raise ValueError(f"{checked.first_error()}. The server checks every setting with the form's rules.")
    # As JSON has them (the browser's copy went through JSON: 0.0 came back as 0, which == keeps equal).
    if json.loads(json.dumps(checked.spec)) != json.loads(json.dumps(spec)):
        raise ValueError(f"The settings the page sent differ from what the form's rules give: {reload}.")
    return checked.spec
