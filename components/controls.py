"""The form: data set, network and training settings, validated as the user types.

``validate_form(form, facts)`` is the one place where the rules live: it takes
the raw form values and returns ``(config, errors)`` - a plain config dict when
everything is valid (else None) and one message per field that breaks a rule.
``ffnn_kwargs(config, n_inputs, n_outputs)`` turns a config into the engine's
``FFNN`` arguments. The callbacks at the bottom only move values between the
page and these functions; the valid config lands in the ``CONFIG`` store that
the training panel reads.
"""
from __future__ import annotations

import base64
import csv
import functools
import io
import math
from typing import Any, Optional

import dash
from dash import ALL, Input, Output, Patch, State, ctx, dcc, html, no_update

from engine import ACTIVATIONS, datasets

from . import ids, runs

# -- ids ---------------------------------------------------------------------------
CONFIG = "form-config"            # dcc.Store: the validated config, or None while the form is invalid
CSV_META = "csv-meta"             # dcc.Store: facts about the uploaded CSV and its label column
ADOPT = "form-adopt"              # dcc.Store: a loaded model's architecture for the form to take on
DATASET = "ctl-dataset"
DATASET_HELP = "ctl-dataset-help"
CSV_SECTION = "ctl-csv-section"
CSV_UPLOAD = "ctl-csv-upload"
CSV_LABEL = "ctl-csv-label"
CSV_FILENAME = "ctl-csv-filename"
LAYERS_DIV = "ctl-layers"
ADD_LAYER = "ctl-add-layer"
LAYER_ROW = "ctl-layer-row"        # pattern-matching types: {"type": LAYER_..., "index": n}
LAYER_NEURONS = "ctl-layer-neurons"
LAYER_ACTIVATION = "ctl-layer-activation"
LAYER_REMOVE = "ctl-layer-remove"
LAYER_ERROR = "ctl-layer-error"
IO_INFO = "ctl-io-info"
OUTPUT_ACTIVATION = "ctl-output-activation"
LOSS = "ctl-loss"
INIT = "ctl-init"
OPTIMIZER = "ctl-optimizer"
RMSNORM = "ctl-rmsnorm"
FORM_STATUS = "ctl-form-status"

MAX_HIDDEN_LAYERS = 10
MAX_NEURONS = 1024

# Numeric fields: (label, kind, default, help). Their ids are "ctl-<name>", their
# messages "ctl-<name>-error".
NUMBER_FIELDS: dict[str, tuple[str, str, Any, str]] = {
    "n_samples": ("Samples", "int", 300, "How many points to generate"),
    "noise": ("Noise", "float", 0.1, "Standard deviation of the noise"),
    "n_classes": ("Classes", "int", 3, "Number of classes"),
    "factor": ("Inner radius", "float", 0.5, "Radius of the inner circle"),
    "n_features": ("Features", "int", 3, "Number of input features"),
    "data_seed": ("Data seed", "int", 0, "The same seed gives the same data"),
    "val_percent": ("Validation %", "float", 20, "Share of the rows held out for validation"),
    "learning_rate": ("Learning rate", "float", 0.01, "Step size of each update"),
    "batch_size": ("Batch size", "int", 32, "Samples per update"),
    "epochs": ("Epochs", "int", 30, "Passes over the training data"),
    "l1": ("L1", "float", 0, "L1 penalty on the weights"),
    "l2": ("L2", "float", 0, "L2 penalty on the weights"),
    "init_low": ("Low", "float", -0.1, "Lower bound of U(low, high)"),
    "init_high": ("High", "float", 0.1, "Upper bound of U(low, high)"),
    "init_mean": ("Mean", "float", 0.0, "Mean of N(mean, variance)"),
    "init_variance": ("Variance", "float", 0.01, "Variance of N(mean, variance)"),
    "init_gain": ("Gain", "float", 1.0, "Scale of the orthogonal matrix"),
    "init_seed": ("Init seed", "int", None, "Empty: a new random start each time"),
    "momentum": ("Momentum", "float", 0.0, "0 is plain SGD"),
    "beta1": ("Beta 1", "float", 0.9, "Decay of the mean of the gradients"),
    "beta2": ("Beta 2", "float", 0.999, "Decay of the mean of the squared gradients"),
    "eps": ("Epsilon", "float", 1e-8, "Keeps the division finite"),
}
DATA_PARAM_FIELDS = {"n_samples": "n_samples", "noise": "noise", "n_classes": "n_classes",
                     "factor": "factor", "n_features": "n_features", "data_seed": "seed"}
INIT_PARAM_FIELDS = {"uniform": ["init_low", "init_high"], "normal": ["init_mean", "init_variance"],
                     "orthogonal": ["init_gain"]}
OPTIMIZER_PARAM_FIELDS = {"sgd": ["momentum"], "adam": ["beta1", "beta2", "eps"]}


def field_id(name: str) -> str:
    return f"ctl-{name}"


def error_id(name: str) -> str:
    return f"ctl-{name}-error"


def wrapper_id(name: str) -> str:
    return f"ctl-{name}-field"


CSV_OPTION = "csv"
INIT_LABELS = {"xavier": "Xavier (Glorot)", "he": "He", "uniform": "Uniform", "normal": "Normal",
               "orthogonal": "Orthogonal", "zeros": "Zeros"}
LOSS_LABELS = {"cce": "Categorical cross-entropy", "bce": "Binary cross-entropy", "mse": "Mean squared error"}
OPTIMIZER_LABELS = {"adam": "Adam", "sgd": "SGD (momentum)"}
DATASET_LABELS = {"moons": "Moons", "circles": "Circles", "xor": "XOR", "spiral": "Spiral", "blobs": "Blobs",
                  "linear": "Linear (regression)", "sine": "Sine (regression)", "digits": "Digits 8x8",
                  "iris": "Iris", "wine": "Wine", "breast_cancer": "Breast cancer", "mnist": "MNIST"}
DEFAULT_LAYERS = [{"neurons": 8, "activation": "tanh"}, {"neurons": 8, "activation": "tanh"}]
DEFAULTS = {"dataset": "moons", "output_activation": "softmax", "loss": "cce", "init": "xavier",
            "optimizer": "adam", "rmsnorm": False, "layers": DEFAULT_LAYERS,
            **{name: spec[2] for name, spec in NUMBER_FIELDS.items()}}


# -- data set facts ------------------------------------------------------------------------
@functools.lru_cache(maxsize=64)
def _builtin_facts(name: str, params: tuple) -> dict[str, Any]:
    if name == "mnist":  # known shape; loading 60000 images just to count them is wasteful
        return {"task": "classification", "n_features": 784, "n_classes": 10, "n_targets": 1,
                "class_names": [str(d) for d in range(10)], "feature_names": []}
    ds = datasets.load(name, **dict(params))
    return {"task": ds.task, "n_features": ds.n_features, "n_classes": ds.n_classes,
            "n_targets": 1 if ds.task == "classification" else int(ds.y.shape[1]),
            "class_names": list(ds.class_names), "feature_names": list(ds.feature_names)}


def dataset_facts(dataset: dict, csv_meta: Optional[dict] = None) -> dict[str, Any]:
    """task, n_features, n_classes, n_targets, class/feature names of a config's data set."""
    if dataset["name"] == CSV_OPTION:
        return {k: csv_meta[k] for k in ("task", "n_features", "n_classes", "n_targets", "class_names",
                                         "feature_names")}
    params = dict(dataset.get("params", {}))
    if "n_samples" in params:  # only the shapes matter here: a few samples will do
        params["n_samples"] = 10
    return _builtin_facts(dataset["name"], tuple(sorted(params.items())))


def output_size(facts: dict, loss: str) -> int:
    """Output units: one per class (a single sigmoid unit for 2 classes with bce), or one per target."""
    if facts["task"] != "classification":
        return facts["n_targets"]
    if loss == "bce" and facts["n_classes"] == 2:
        return 1
    return facts["n_classes"]


def dataset_key(dataset: dict) -> str:
    """A string naming a data set and its parameters (a model continues only on the same key)."""
    if dataset["name"] == CSV_OPTION:
        return f"csv:{dataset.get('filename')}:{dataset.get('label')}"
    return dataset["name"] + ":" + ",".join(f"{k}={v}" for k, v in sorted(dataset.get("params", {}).items()))


# -- validation ---------------------------------------------------------------------------
def _fmt(x: float) -> str:
    return f"{x:g}"


def _number(value: Any, kind: str, required: bool = True) -> tuple[Optional[float], Optional[str]]:
    """(value, None) or (None, message) for one numeric field."""
    if value is None or value == "":
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


def _in_range(x: float, low: float, high: float) -> Optional[str]:
    return None if low <= x <= high else f"Must be between {_fmt(low)} and {_fmt(high)}"


def _check_number(form: dict, errors: dict, name: str, rule=None, required: bool = True):
    kind = NUMBER_FIELDS[name][1]
    x, msg = _number(form.get(name), kind, required)
    if msg is None and x is not None and rule is not None:
        msg = rule(x)
    if msg:
        errors[name] = msg
        return None
    return x


def _at_least(low: float):
    return lambda x: None if x >= low else f"Must be at least {_fmt(low)}"


def _greater_than(low: float):
    return lambda x: None if x > low else f"Must be greater than {_fmt(low)}"


def _between(low: float, high: float):
    return lambda x: _in_range(x, low, high)


def _unit_interval(x: float) -> Optional[str]:
    return None if 0 <= x < 1 else "Must be at least 0 and less than 1"


def validate_form(form: dict, csv_meta: Optional[dict] = None) -> tuple[Optional[dict], dict[str, str]]:
    """Check every rule. Returns (config, errors): config is None unless errors is empty.

    ``form`` holds the raw values keyed like :data:`DEFAULTS` (``layers`` is a list of
    ``{"neurons", "activation"}``); ``errors`` maps a field name (``"layers.<i>"`` for
    a hidden layer, ``"csv"`` for the upload) to the message shown beside it.
    """
    errors: dict[str, str] = {}
    name = form.get("dataset")
    dataset: dict[str, Any] = {"name": name}
    facts = None
    if name == CSV_OPTION:
        if not csv_meta or not csv_meta.get("filename"):
            errors["csv"] = "Upload a CSV file with a header row"
        elif csv_meta.get("error"):
            errors["csv"] = csv_meta["error"]
        elif not csv_meta.get("label"):
            errors["csv"] = "Choose the label column"
        else:
            dataset.update(filename=csv_meta["filename"], label=csv_meta["label"])
            facts = csv_meta
    elif name in datasets.DATASETS:
        specs = datasets.DATASETS[name]["params"]
        params = {}
        for field, pname in DATA_PARAM_FIELDS.items():
            if pname in specs:
                spec = specs[pname]
                value = _check_number(form, errors, field, _between(spec["min"], spec["max"]))
                if value is not None:
                    params[pname] = value
        if name == "mnist":
            params = {"download": not datasets.mnist_available()}
        dataset["params"] = params
        if not any(f in errors for f in DATA_PARAM_FIELDS):
            try:
                facts = dataset_facts(dataset)
            except (ValueError, ImportError, datasets.DatasetUnavailableError) as exc:
                errors["dataset"] = str(exc)
    else:
        errors["dataset"] = "Choose a data set"
    val = _check_number(form, errors, "val_percent", _between(0, 90))

    layers = form.get("layers") or []
    if len(layers) > MAX_HIDDEN_LAYERS:
        errors["layers"] = f"At most {MAX_HIDDEN_LAYERS} hidden layers"
    hidden, hidden_acts = [], []
    for i, layer in enumerate(layers):
        n, msg = _number(layer.get("neurons"), "int")
        if msg is None and not 1 <= n <= MAX_NEURONS:
            msg = f"Neurons must be between 1 and {MAX_NEURONS}"
        act = layer.get("activation")
        if msg is None and (act not in ACTIVATIONS or act == "softmax"):
            msg = "Choose an activation"
        if msg:
            errors[f"layers.{i}"] = msg
        else:
            hidden.append(n)
            hidden_acts.append(act)

    loss, out_act = form.get("loss"), form.get("output_activation")
    if loss not in LOSS_LABELS:
        errors["loss"] = "Choose a loss"
    elif facts is not None and facts["task"] == "regression" and loss != "mse":
        errors["loss"] = "Regression data needs the mean squared error loss"
    if out_act not in ACTIVATIONS:
        errors["output_activation"] = "Choose an activation"
    elif loss == "cce" and out_act != "softmax":
        errors["output_activation"] = "Categorical cross-entropy needs a softmax output"
    elif loss == "bce" and out_act != "sigmoid":
        errors["output_activation"] = "Binary cross-entropy needs a sigmoid output"

    init = form.get("init")
    init_params: dict[str, Any] = {}
    if init not in INIT_LABELS:
        errors["init"] = "Choose an initialisation"
    elif init == "uniform":
        low = _check_number(form, errors, "init_low")
        high = _check_number(form, errors, "init_high")
        if low is not None and high is not None and not low < high:
            errors["init_high"] = "High must be greater than low"
        init_params = {"low": low, "high": high}
    elif init == "normal":
        init_params = {"mean": _check_number(form, errors, "init_mean"),
                       "variance": _check_number(form, errors, "init_variance", _at_least(0))}
    elif init == "orthogonal":
        init_params = {"gain": _check_number(form, errors, "init_gain", _greater_than(0))}
    seed = _check_number(form, errors, "init_seed", _at_least(0), required=False)
    if seed is not None:
        init_params["seed"] = seed

    optimizer = form.get("optimizer")
    optimizer_params: dict[str, Any] = {}
    if optimizer == "sgd":
        optimizer_params = {"momentum": _check_number(form, errors, "momentum", _unit_interval)}
    elif optimizer == "adam":
        optimizer_params = {"beta1": _check_number(form, errors, "beta1", _unit_interval),
                            "beta2": _check_number(form, errors, "beta2", _unit_interval),
                            "eps": _check_number(form, errors, "eps", _greater_than(0))}
    else:
        errors["optimizer"] = "Choose an optimiser"

    lr = _check_number(form, errors, "learning_rate", lambda x: _greater_than(0)(x) or _in_range(x, 0, 10))
    batch = _check_number(form, errors, "batch_size", _between(1, 100_000))
    epochs = _check_number(form, errors, "epochs", _between(1, 10_000))
    l1 = _check_number(form, errors, "l1", lambda x: _at_least(0)(x) or _in_range(x, 0, 10))
    l2 = _check_number(form, errors, "l2", lambda x: _at_least(0)(x) or _in_range(x, 0, 10))

    if errors:
        return None, errors
    config = {
        "dataset": dataset,
        "val_fraction": val / 100.0,
        "model": {"hidden": hidden, "activations": hidden_acts, "output_activation": out_act, "loss": loss,
                  "init": init, "init_params": init_params, "optimizer": optimizer,
                  "optimizer_params": optimizer_params, "l1": l1, "l2": l2, "rmsnorm": bool(form.get("rmsnorm"))},
        "training": {"learning_rate": lr, "batch_size": batch, "epochs": epochs},
        "io": {"n_inputs": facts["n_features"], "n_outputs": output_size(facts, loss), "task": facts["task"]},
    }
    return config, {}


def ffnn_kwargs(config: dict, n_inputs: int, n_outputs: int) -> dict[str, Any]:
    """The engine's FFNN arguments for a validated config and the data's sizes."""
    m = config["model"]
    return {"layer_sizes": [int(n_inputs), *m["hidden"], int(n_outputs)],
            "activations": [*m["activations"], m["output_activation"]],
            "loss": m["loss"], "init": m["init"], "init_params": dict(m["init_params"]),
            "optimizer": m["optimizer"], "optimizer_params": dict(m["optimizer_params"]),
            "l1": m["l1"], "l2": m["l2"], "rmsnorm": m["rmsnorm"]}


def form_from_model_config(model_config: dict) -> dict[str, Any]:
    """The form values that rebuild a saved FFNN's architecture (the inverse of ffnn_kwargs)."""
    acts = list(model_config["activations"])
    sizes = list(model_config["layer_sizes"])
    form: dict[str, Any] = {
        "layers": [{"neurons": n, "activation": a} for n, a in zip(sizes[1:-1], acts[:-1])],
        "output_activation": acts[-1], "loss": model_config["loss"], "init": model_config["init"],
        "optimizer": model_config["optimizer"], "l1": model_config["l1"], "l2": model_config["l2"],
        "rmsnorm": bool(model_config.get("rmsnorm")),
    }
    init_params = dict(model_config.get("init_params") or {})
    form["init_seed"] = init_params.pop("seed", None)
    for key, value in init_params.items():
        form[f"init_{key}"] = value
    form.update(model_config.get("optimizer_params") or {})
    return form


# -- layout ----------------------------------------------------------------------------------
def _options(labels: dict[str, str]) -> list[dict]:
    return [{"label": label, "value": value} for value, label in labels.items()]


def dataset_options() -> list[dict]:
    options = []
    for name in datasets.DATASETS:
        label = DATASET_LABELS.get(name, name)
        if name == "mnist":
            label += " (file found)" if datasets.mnist_available() else " (downloads 11 MB on first use)"
        options.append({"label": label, "value": name})
    options.append({"label": "Your CSV file…", "value": CSV_OPTION})
    return options


def _hidden_activation_options() -> list[dict]:
    return [{"label": a.label, "value": name} for name, a in ACTIVATIONS.items() if name != "softmax"]


def _number_field(name: str, **input_props: Any) -> html.Div:
    label, kind, default, help_text = NUMBER_FIELDS[name]
    return html.Div([
        html.Label(label, htmlFor=field_id(name), className="field-label", title=help_text),
        dcc.Input(id=field_id(name), type="number", value=default, step="any", debounce=False,
                  className="field-input", persistence=True, persistence_type="session",
                  placeholder="random" if name == "init_seed" else None, **input_props),
        html.Div(id=error_id(name), className="field-error", role="alert"),
    ], id=wrapper_id(name), className="field")


def _select_field(name: str, component_id: str, label: str, options: list, value: Any) -> html.Div:
    return html.Div([
        html.Label(label, htmlFor=component_id, className="field-label"),
        dcc.Dropdown(id=component_id, options=options, value=value, clearable=False, searchable=False,
                     className="field-select", persistence=True, persistence_type="session"),
        html.Div(id=error_id(name), className="field-error", role="alert"),
    ], className="field")


def layer_row(index: int, neurons: Any = 8, activation: str = "tanh") -> html.Div:
    """One hidden layer: neurons, activation, remove button and its message."""
    return html.Div([
        html.Span(className="layer-number"),
        dcc.Input(id={"type": LAYER_NEURONS, "index": index}, type="number", value=neurons, step="any",
                  className="field-input layer-neurons", placeholder="neurons"),
        dcc.Dropdown(id={"type": LAYER_ACTIVATION, "index": index}, options=_hidden_activation_options(),
                     value=activation, clearable=False, searchable=False, className="layer-activation"),
        html.Button("×", id={"type": LAYER_REMOVE, "index": index}, className="btn-icon",
                    title="Remove this layer", n_clicks=0),
        html.Div(id={"type": LAYER_ERROR, "index": index}, className="field-error layer-error", role="alert"),
    ], id={"type": LAYER_ROW, "index": index}, className="layer-row")


def _section(title: str, *children: Any) -> html.Section:
    return html.Section([html.H3(title, className="card-title"), *children], className="card form-card")


# The config of the form as the layout draws it, marked "seeded": the page can train
# from its first frame instead of waiting for check_form's first answer. A tab whose
# form restores edited values (persistence) must wait for that answer all the same:
# the Train button's callback (components.training) checks for them.
SEEDED = "seeded"


@functools.lru_cache(maxsize=1)
def _default_config() -> Optional[dict]:
    config, _ = validate_form({**DEFAULTS, "layers": [dict(layer) for layer in DEFAULT_LAYERS]})
    return config


def default_config() -> Optional[dict]:
    config = _default_config()
    return None if config is None else {**config, SEEDED: True}


def layout() -> html.Div:
    """The form (left column) and the stores it fills."""
    data = _section(
        "Data",
        html.Div([
            html.Label("Data set", htmlFor=DATASET, className="field-label"),
            dcc.Dropdown(id=DATASET, options=dataset_options(), value=DEFAULTS["dataset"], clearable=False,
                         className="field-select", persistence=True, persistence_type="session"),
            html.Div(id=DATASET_HELP, className="field-help"),
            html.Div(id=error_id("dataset"), className="field-error", role="alert"),
        ], className="field"),
        html.Div([
            dcc.Upload(id=CSV_UPLOAD, children=html.Div(["Drop a CSV here or ", html.A("choose a file")]),
                       className="upload", accept=".csv,text/csv", max_size=20_000_000),
            html.Div(id=CSV_FILENAME, className="field-help"),
            html.Label("Label column", htmlFor=CSV_LABEL, className="field-label"),
            dcc.Dropdown(id=CSV_LABEL, options=[], value=None, clearable=False, className="field-select",
                         placeholder="Upload a file first"),
            html.Div(id=error_id("csv"), className="field-error", role="alert"),
        ], id=CSV_SECTION, className="csv-section", style={"display": "none"}),
        html.Div([_number_field(f) for f in DATA_PARAM_FIELDS], className="field-grid"),
        html.Div([_number_field("val_percent")], className="field-grid"),
    )
    network = _section(
        "Network",
        html.Div(id=IO_INFO, className="io-info"),
        html.Div([layer_row(i, **layer) for i, layer in enumerate(DEFAULT_LAYERS)], id=LAYERS_DIV,
                 className="layers"),
        html.Div(id=error_id("layers"), className="field-error", role="alert"),
        html.Button("+ Add hidden layer", id=ADD_LAYER, className="btn btn-ghost", n_clicks=0),
        _select_field("loss", LOSS, "Loss", _options(LOSS_LABELS), DEFAULTS["loss"]),
        _select_field("output_activation", OUTPUT_ACTIVATION, "Output activation",
                      [{"label": a.label, "value": n} for n, a in ACTIVATIONS.items()],
                      DEFAULTS["output_activation"]),
        _select_field("init", INIT, "Weight initialisation", _options(INIT_LABELS), DEFAULTS["init"]),
        html.Div([_number_field(f) for f in ("init_low", "init_high", "init_mean", "init_variance",
                                              "init_gain", "init_seed")], className="field-grid"),
        dcc.Checklist(id=RMSNORM, options=[{"label": " RMSNorm on hidden layers", "value": "on"}], value=[],
                      className="checkbox", persistence=True, persistence_type="session"),
    )
    training = _section(
        "Training",
        _select_field("optimizer", OPTIMIZER, "Optimiser", _options(OPTIMIZER_LABELS), DEFAULTS["optimizer"]),
        html.Div([_number_field(f) for f in ("momentum", "beta1", "beta2", "eps")], className="field-grid"),
        html.Div([_number_field(f) for f in ("learning_rate", "batch_size", "epochs", "l1", "l2")],
                 className="field-grid"),
    )
    return html.Div([
        dcc.Store(id=CONFIG, data=default_config()), dcc.Store(id=CSV_META), dcc.Store(id=ADOPT),
        data, network, training,
        html.Div(id=FORM_STATUS, className="form-status", role="status"),
    ], className="form")


# -- callbacks ----------------------------------------------------------------------------------
VISIBLE, HIDDEN = {}, {"display": "none"}


@dash.callback(
    Output(DATASET_HELP, "children"),
    Output(CSV_SECTION, "style"),
    [Output(wrapper_id(f), "style") for f in DATA_PARAM_FIELDS],
    [Output(wrapper_id(f), "style") for f in ("init_low", "init_high", "init_mean", "init_variance", "init_gain")],
    [Output(wrapper_id(f), "style") for f in ("momentum", "beta1", "beta2", "eps")],
    Input(DATASET, "value"), Input(INIT, "value"), Input(OPTIMIZER, "value"),
)
def show_relevant_fields(dataset, init, optimizer):
    """Show only the parameters of the chosen data set, initialisation and optimiser."""
    info = datasets.DATASETS.get(dataset)
    if dataset == CSV_OPTION:
        help_text = "Numbers in columns, a header row; one column is the label."
    elif info is None:
        help_text = ""
    else:
        help_text = info["description"]
        if dataset == "mnist" and not datasets.mnist_available():
            help_text += (f" Not on disk yet: it is downloaded from {datasets.MNIST_URL} on first use "
                          f"(or put mnist.npz at {datasets.mnist_path()}).")
    params = info["params"] if info else {}
    data_styles = [VISIBLE if pname in params and dataset != "mnist" else HIDDEN
                   for pname in DATA_PARAM_FIELDS.values()]
    shown_init = INIT_PARAM_FIELDS.get(init, [])
    init_styles = [VISIBLE if f in shown_init else HIDDEN
                   for f in ("init_low", "init_high", "init_mean", "init_variance", "init_gain")]
    shown_opt = OPTIMIZER_PARAM_FIELDS.get(optimizer, [])
    opt_styles = [VISIBLE if f in shown_opt else HIDDEN for f in ("momentum", "beta1", "beta2", "eps")]
    return [help_text, VISIBLE if dataset == CSV_OPTION else HIDDEN, *data_styles, *init_styles, *opt_styles]


def _csv_header(data: bytes) -> list[str]:
    text = data.decode("utf-8-sig", errors="replace")
    first = next(csv.reader(io.StringIO(text)), [])
    return [c.strip() for c in first if c.strip()]


def csv_facts(data: bytes, filename: str, label: str) -> dict[str, Any]:
    """What the form needs to know about a CSV with this label column (or an error)."""
    meta: dict[str, Any] = {"filename": filename, "label": label}
    try:
        ds = datasets.load_csv(data, label)
    except (ValueError, UnicodeDecodeError) as exc:
        return {**meta, "error": f"This CSV cannot be used: {exc}"}
    return {**meta, "error": None, "task": ds.task, "n_features": ds.n_features, "n_classes": ds.n_classes,
            "n_targets": 1 if ds.task == "classification" else int(ds.y.shape[1]),
            "class_names": list(ds.class_names), "feature_names": list(ds.feature_names)}


@dash.callback(
    Output(CSV_LABEL, "options"), Output(CSV_LABEL, "value"), Output(CSV_META, "data"),
    Output(CSV_FILENAME, "children"),
    Input(CSV_UPLOAD, "contents"), Input(CSV_LABEL, "value"),
    State(CSV_UPLOAD, "filename"), State(ids.SESSION, "data"),
    prevent_initial_call=True,
)
def read_csv(contents, label, filename, session_id):
    """Keep an uploaded CSV in the run cache, offer its columns, describe the chosen label."""
    if not runs.valid_session(session_id):
        return no_update, no_update, {"filename": filename, "error": "The page is still starting; try again."}, ""
    if ctx.triggered_id == CSV_UPLOAD:
        try:
            data = base64.b64decode(contents.split(",", 1)[1])
        except (AttributeError, IndexError, ValueError):
            return [], None, {"filename": filename, "error": "The file could not be read."}, filename
        header = _csv_header(data)
        if len(header) < 2:
            return [], None, {"filename": filename, "error": "The CSV needs a header row with at least two "
                                                             "columns (features and a label)."}, filename
        runs.put_csv(session_id, data, filename or "data.csv")
        label = header[-1]
        options = [{"label": h, "value": h} for h in header]
    else:
        options = no_update
    stored = runs.get_csv(session_id)
    if stored is None:
        return options, label, {"error": "Upload the CSV again (it is no longer on the server)."}, no_update
    meta = csv_facts(stored["bytes"], stored["filename"], label)
    return options, label, meta, f"{stored['filename']} ({len(stored['bytes']):,} bytes)"


@dash.callback(
    Output(LAYERS_DIV, "children"),
    Output(OUTPUT_ACTIVATION, "value"), Output(LOSS, "value"), Output(INIT, "value"),
    Output(OPTIMIZER, "value"), Output(RMSNORM, "value"),
    [Output(field_id(f), "value") for f in ("l1", "l2", "init_low", "init_high", "init_mean", "init_variance",
                                            "init_gain", "init_seed", "momentum", "beta1", "beta2", "eps")],
    Input(ADD_LAYER, "n_clicks"), Input({"type": LAYER_REMOVE, "index": ALL}, "n_clicks"), Input(ADOPT, "data"),
    State({"type": LAYER_ROW, "index": ALL}, "id"),
    prevent_initial_call=True,
)
def edit_layers(_add, _removes, adopt, rows):
    """Add or remove a hidden layer row, or take on a loaded model's architecture."""
    params = ("l1", "l2", "init_low", "init_high", "init_mean", "init_variance", "init_gain", "init_seed",
              "momentum", "beta1", "beta2", "eps")
    unchanged = [no_update] * (5 + len(params))
    trigger = ctx.triggered_id
    indices = [r["index"] for r in rows]
    if trigger == ADD_LAYER:
        if len(rows) >= MAX_HIDDEN_LAYERS:
            raise dash.exceptions.PreventUpdate
        patch = Patch()
        patch.append(layer_row(max(indices, default=-1) + 1))
        return [patch, *unchanged]
    if isinstance(trigger, dict) and trigger.get("type") == LAYER_REMOVE:
        if not ctx.triggered[0]["value"] or trigger["index"] not in indices:
            raise dash.exceptions.PreventUpdate
        patch = Patch()
        del patch[indices.index(trigger["index"])]
        return [patch, *unchanged]
    if trigger == ADOPT and adopt:
        form = adopt["form"]
        start = max(indices, default=-1) + 1  # fresh ids so no stale value is reused
        children = [layer_row(start + i, layer["neurons"], layer["activation"]) for i, layer in
                    enumerate(form["layers"])]
        values = [form.get(p, no_update) for p in params]
        return [children, form["output_activation"], form["loss"], form["init"], form["optimizer"],
                ["on"] if form["rmsnorm"] else [], *values]
    raise dash.exceptions.PreventUpdate


_VALIDATED = ["dataset", "csv", "layers", "output_activation", "loss", "init", "optimizer", *NUMBER_FIELDS]


@dash.callback(
    Output(CONFIG, "data"),
    [Output(error_id(f), "children") for f in _VALIDATED],
    Output({"type": LAYER_ERROR, "index": ALL}, "children"),
    Output(IO_INFO, "children"),
    Output(FORM_STATUS, "children"),
    Input(DATASET, "value"), Input(CSV_META, "data"),
    Input({"type": LAYER_NEURONS, "index": ALL}, "value"), Input({"type": LAYER_ACTIVATION, "index": ALL}, "value"),
    Input(OUTPUT_ACTIVATION, "value"), Input(LOSS, "value"), Input(INIT, "value"), Input(OPTIMIZER, "value"),
    Input(RMSNORM, "value"),
    [Input(field_id(f), "value") for f in NUMBER_FIELDS],
)
def check_form(dataset, csv_meta, neurons, activations, out_act, loss, init, optimizer, rmsnorm, *numbers):
    """Validate on every change: messages beside fields, the config store, the sizes line."""
    form = {"dataset": dataset, "output_activation": out_act, "loss": loss, "init": init,
            "optimizer": optimizer, "rmsnorm": bool(rmsnorm),
            "layers": [{"neurons": n, "activation": a} for n, a in zip(neurons, activations)],
            **dict(zip(NUMBER_FIELDS, numbers))}
    try:
        config, errors = validate_form(form, csv_meta)
    except Exception as exc:  # a rule should never crash the page; say what went wrong instead
        config, errors = None, {"dataset": f"This combination could not be checked: {exc}"}
    messages = [errors.get(f, "") for f in _VALIDATED]
    layer_messages = [errors.get(f"layers.{i}", "") for i in range(len(neurons))]
    hidden = " → ".join(str(n if n is not None else "?") for n in neurons) or "no hidden layer"
    if config:
        io_info = [html.Span(f"{config['io']['n_inputs']} inputs", className="io-chip"),
                   html.Span(hidden, className="io-hidden"),
                   html.Span(f"{config['io']['n_outputs']} outputs", className="io-chip")]
        status = ""
    else:
        io_info = [html.Span("? inputs", className="io-chip", title="The data set sets the inputs"),
                   html.Span(hidden, className="io-hidden"),
                   html.Span("? outputs", className="io-chip", title="The data set and the loss set the outputs")]
        n = len(errors)
        status = f"{n} field{'s' if n != 1 else ''} to fix before training"
    return [config, *messages, layer_messages, io_info, status]
