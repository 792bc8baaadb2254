"""The form: a preset, the data set, the layer stack and the training settings.

Every choice comes from the engine's tables (``dashboard.spec`` says which), so a
new layer type, activation, initialiser or optimiser setting appears here with no
edit of this module. The callbacks only move values between the page and
``dashboard.spec``:

* ``check_form`` - on every change: ``spec.check`` of the form's values; the spec
  (or None) lands in the ``CONFIG`` store the Train button reads; each row shows its
  output shape and parameter count, or the rule it breaks;
* ``edit_stack`` - adds, removes, moves a row, or changes its type (a row is redrawn
  with the new type's settings, keeping the values of settings both types have);
* ``apply_form`` - fills the whole form from a preset, or from a loaded model file's
  spec (the ``ADOPT`` store, written by the training panel).

Stack rows use pattern-matching ids ``{"type": ..., "row": n}`` (settings add
``"name"``); a row's ``n`` never changes, its place in the page is its place in
the stack.
"""
from __future__ import annotations

import base64
from typing import Any, Callable, Optional

import dash
from dash import ALL, ClientsideFunction, Input, Output, Patch, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from engine import ACTIVATIONS, INITIALIZERS, LAYERS, LOSSES, OPTIMIZERS, datasets
from engine.initializers import INIT_SETTINGS

from .. import data as data_mod
from .. import ids, presets, spec, store

VISIBLE, HIDDEN = {}, {"display": "none"}

# -- ids -------------------------------------------------------------------------------------------
CONFIG = "form-config"            # dcc.Store: the spec, or None while the form is invalid
CSV_META = "csv-meta"             # dcc.Store: facts about the uploaded CSV and its label column
ADOPT = "form-adopt"              # dcc.Store: {"form": form values, "version"}: a loaded model's form
PRESET = "ctl-preset"
PRESET_NOTE = "ctl-preset-note"
DATASET = "ctl-dataset"
DATASET_HELP = "ctl-dataset-help"
TEXT_FIELDS = "ctl-text-fields"
VAL_FIELDS = "ctl-val-fields"
CSV_SECTION = "ctl-csv-section"
CSV_UPLOAD = "ctl-csv-upload"
MAX_CSV_BYTES = 20_000_000        # a CSV upload's limit, in the box and on the server (assets/uploads.js)
CSV_LABEL = "ctl-csv-label"
CSV_FILENAME = "ctl-csv-filename"
INPUT_ROW = "stack-input"
INPUT_SHAPE = "stack-input-shape"
MESSAGES = "form-messages"        # dcc.Store: {component id: text} of every message and size line
STACK = "stack-rows"
ADD_TYPE = "stack-add-type"
ADD = "stack-add"
ADD_NOTE = "stack-add-note"       # why "+ Add layer" added nothing
OUTPUT_ROW = "stack-output"
OUTPUT_SHAPE = "stack-output-shape"
TOTAL = "stack-total"
LOSS = "ctl-loss"
OUTPUT_ACTIVATION = "ctl-output_activation"
INIT = "ctl-init"
OPTIMIZER = "ctl-optimizer"
FORM_STATUS = "ctl-form-status"
# pattern-matching types of the stack rows
ROW, KIND, TYPE, SETTING, INNER = "stack-row", "stack-kind", "stack-type", "stack-setting", "stack-inner"
UP, DOWN, REMOVE, SHAPE, ROW_ERROR = "stack-up", "stack-down", "stack-remove", "stack-shape", "stack-error"


def field_id(name: str) -> str:
    return f"ctl-{name}"


def error_id(name: str) -> str:
    return f"ctl-{name}-error"


# Param blocks: the fields of the current choice of a select - a data set's parameters,
# an initialiser's, an optimiser's - drawn when the choice changes. Only the chosen
# one's fields are in the page: every component costs the renderer on every update.
def _data_fields(name: Any) -> list[tuple]:
    info = datasets.DATASETS.get(name) or {}
    return [(p, d.get("label", p), d["type"], d["default"], d.get("help", ""))
            for p, d in info.get("params", {}).items() if d["type"] in ("int", "float")]


def _setting_fields(settings) -> list[tuple]:
    return [(s.name, s.label, s.kind, s.default, s.help) for s in settings]


def _init_fields(name: Any) -> list[tuple]:
    return _setting_fields(INIT_SETTINGS[name][1] if name in INIT_SETTINGS else ())


def _optimizer_fields(name: Any) -> list[tuple]:
    return _setting_fields(OPTIMIZERS[name].settings if name in OPTIMIZERS else ())


# block -> (the select whose choice it follows, the form values' key, fields of a choice, error prefix)
BLOCKS: dict[str, tuple[str, str, Callable[[Any], list[tuple]], str]] = {
    "data": (DATASET, "data", _data_fields, "data"),
    "init": (INIT, "init_params", _init_fields, "init"),
    "opt": (OPTIMIZER, "optimizer_params", _optimizer_fields, "optimizer"),
}


def block_id(block: str) -> str:
    return f"ctl-{block}-params"


def block_for_id(block: str) -> str:
    """dcc.Store: the choice a block's fields were drawn for."""
    return f"ctl-{block}-params-for"


def param_type(block: str) -> str:
    """The pattern-matching type of a block's inputs: ``{"type": ..., "name": param}``."""
    return f"{block}-param"


def param_error_type(block: str) -> str:
    return f"{block}-param-error"


def block_children(block: str, choice: Any, values: Optional[dict] = None) -> list[html.Div]:
    """The number fields of one choice, holding ``values`` (else the defaults)."""
    values = values or {}
    return [html.Div([
        html.Label(label, className="field-label", title=help_text or None),
        dcc.Input(id={"type": param_type(block), "name": name}, type="number", value=values.get(name, default),
                  step="any", debounce=False, className="field-input"),
        html.Div(id={"type": param_error_type(block), "name": name}, className="field-error", role="alert"),
    ], className="field") for name, label, _, default, help_text in BLOCKS[block][2](choice)]


def param_block(block: str, choice: Any, values: Optional[dict] = None) -> list:
    return [html.Div(block_children(block, choice, values), id=block_id(block), className="field-grid"),
            dcc.Store(id=block_for_id(block), data=choice)]


NUMBERS = list(spec.FIELDS)          # ctl-<name>
SELECTS = {"dataset": DATASET, "loss": LOSS, "output_activation": OUTPUT_ACTIVATION, "init": INIT,
           "optimizer": OPTIMIZER}


def _options(pairs) -> list[dict]:
    return [{"label": label, "value": value} for value, label in pairs]


def activation_options(output: bool = False) -> list[dict]:
    return [{"label": a.label, "value": n} for n, a in ACTIVATIONS.items() if output or n != "softmax"]


def init_options(network: bool = False) -> list[dict]:
    out = [{"label": "Network's", "value": spec.NETWORK_INIT}] if network else []
    return out + [{"label": INIT_SETTINGS.get(n, (n,))[0], "value": n} for n in INITIALIZERS]


# -- small components ------------------------------------------------------------------------------
def _label(text: str, for_id: Any = None, help_text: str = "") -> html.Label:
    return html.Label(text, htmlFor=for_id if isinstance(for_id, str) else None, className="field-label",
                      title=help_text or None)


def number_field(component_id: str, label: str, value: Any, help_text: str = "", error: Optional[str] = None,
                 wrapper: Optional[str] = None, placeholder: Optional[str] = None) -> html.Div:
    return html.Div([
        _label(label, component_id, help_text),
        dcc.Input(id=component_id, type="number", value=value, step="any", debounce=False,
                  className="field-input", placeholder=placeholder),
        html.Div(id=error or f"{component_id}-error", className="field-error", role="alert"),
    ], id=wrapper or f"{component_id}-field", className="field")


def select_field(component_id: str, label: str, options: list, value: Any, error_key: str) -> html.Div:
    return html.Div([
        _label(label, component_id),
        dcc.Dropdown(id=component_id, options=options, value=value, clearable=False, searchable=False,
                     className="field-select"),
        html.Div(id=error_id(error_key), className="field-error", role="alert"),
    ], className="field")


def _section(title: str, *children: Any, extra_class: str = "") -> html.Section:
    return html.Section([html.H3(title, className="card-title"), *children],
                        className=f"card form-card {extra_class}".strip())


# -- the stack rows ---------------------------------------------------------------------------------
def layer_type_options() -> list[dict]:
    out = []
    for name, cls in LAYERS.items():
        doc = (cls.__doc__ or "").strip().splitlines()
        out.append({"label": name, "value": name, "title": doc[0] if doc else name})
    return out


def _setting_control(row: int, s, value: Any) -> html.Div:
    cid = {"type": SETTING, "row": row, "name": s.name}
    if s.kind == "layer":
        control = dcc.Dropdown(id={"type": INNER, "row": row}, options=_options((c, c) for c in s.choices),
                               value=value if value in s.choices else s.default, clearable=False,
                               searchable=False, className="stack-select")
    elif s.kind in ("int", "float"):
        placeholder = "from the data" if s.name == "input_dim" else ("pool size" if s.optional else None)
        control = dcc.Input(id=cid, type="number", value=value, step="any", className="field-input",
                            placeholder=placeholder, debounce=False)
    elif s.kind == "pair":
        control = dcc.Input(id=cid, type="text", value=spec.pair_text(value), className="field-input",
                            placeholder="as the pool" if s.optional else "3 or 3x2", debounce=False)
    elif s.kind == "bool":
        control = dcc.Checklist(id=cid, options=[{"label": " " + s.label, "value": "on"}],
                                value=["on"] if value else [], className="checkbox stack-check")
        return html.Div(control, className="stack-setting stack-setting-bool", title=s.help)
    else:
        options = {"activation": activation_options(), "init": init_options(network=True),
                   "choice": _options((c, c) for c in s.choices)}[s.kind]
        control = dcc.Dropdown(id=cid, options=options, value=value, clearable=False, searchable=False,
                               className="stack-select")
    return html.Div([html.Span(s.label, className="stack-setting-label", title=s.help), control],
                    className="stack-setting")


def row_component(row: int, kind: str, settings: Optional[dict] = None) -> html.Div:
    """One stack row: its type, its settings, move and remove buttons, what it gives."""
    settings = dict(settings or {})
    inner = settings.get("layer")
    controls = []
    for s in spec.settings_of(kind, inner):
        value = settings.get(s.name, spec.NETWORK_INIT if s.kind == "init" else s.default)
        if s.name == "input_dim" and "input_dim" not in settings:
            value = None
        controls.append(_setting_control(row, s, value))
    inner_kind = next((settings.get(s.name, s.default) for s in LAYERS[kind].settings if s.kind == "layer"), None)
    return html.Div([
        dcc.Store(id={"type": KIND, "row": row}, data={"type": kind, "inner": inner_kind}),
        html.Div([
            html.Span(className="stack-number"),
            dcc.Dropdown(id={"type": TYPE, "row": row}, options=layer_type_options(), value=kind, clearable=False,
                         searchable=False, className="stack-type"),
            html.Span(className="stack-gap"),
            html.Button("↑", id={"type": UP, "row": row}, className="btn-icon", title="Move up", n_clicks=0),
            html.Button("↓", id={"type": DOWN, "row": row}, className="btn-icon", title="Move down", n_clicks=0),
            html.Button("×", id={"type": REMOVE, "row": row}, className="btn-icon", title="Remove this layer",
                        n_clicks=0),
        ], className="stack-head"),
        html.Div(controls, className="stack-settings") if controls else None,
        html.Div(id={"type": SHAPE, "row": row}, className="stack-shape"),
        html.Div(id={"type": ROW_ERROR, "row": row}, className="field-error stack-error", role="alert"),
    ], id={"type": ROW, "row": row}, className="stack-row")


def stack_children(rows: list[dict], first_id: int = 0) -> list[html.Div]:
    return [row_component(first_id + i, r["type"], r.get("settings")) for i, r in enumerate(rows)]


# -- layout ----------------------------------------------------------------------------------------------
def _number(name: str, values: dict) -> html.Div:
    label, _, default, help_text, *_ = spec.FIELDS[name]
    return number_field(field_id(name), label, values.get(name, default), help_text, error=error_id(name),
                        placeholder="random" if name == "init_seed" else None)


def layout() -> html.Div:
    """The form (left column) and the stores it fills."""
    values = presets.preset_form(presets.DEFAULT)
    checked = spec.check(values)
    preset = _section(
        "Start from",
        html.Div([
            dcc.Dropdown(id=PRESET, options=presets.options(), value=None, placeholder="Preset…", clearable=False,
                         searchable=False, className="field-select"),
            html.Div(id=PRESET_NOTE, className="field-help"),
        ], className="field"),
    )
    data = _section(
        "Data",
        html.Div([
            _label("Data set", DATASET),
            dcc.Dropdown(id=DATASET, options=data_mod.data_options(), value=values["dataset"], clearable=False,
                         className="field-select"),
            html.Div(id=DATASET_HELP, className="field-help"),
            html.Div(id=error_id("dataset"), className="field-error", role="alert"),
        ], className="field"),
        html.Div([
            dcc.Upload(id=CSV_UPLOAD, children=html.Div(["Drop a CSV here or ", html.A("choose a file")]),
                       className="upload", accept=".csv,text/csv", max_size=MAX_CSV_BYTES),
            html.Div(id=CSV_FILENAME, className="field-help"),
            _label("Label column", CSV_LABEL),
            dcc.Dropdown(id=CSV_LABEL, options=[], value=None, clearable=False, className="field-select",
                         placeholder="Upload a file first"),
            html.Div(id=error_id("csv"), className="field-error", role="alert"),
        ], id=CSV_SECTION, className="csv-section", style=HIDDEN),
        *param_block("data", values["dataset"], values.get("data")),
        html.Div([_number("max_tokens", values), _number("sequence_length", values)], id=TEXT_FIELDS,
                 className="field-grid", style=HIDDEN),
        html.Div([_number("val_percent", values)], id=VAL_FIELDS, className="field-grid"),
    )
    network = _section(
        "Network",
        html.Div([html.Span("Input", className="stack-output-name"),
                  html.Span(id=INPUT_SHAPE, className="stack-input-shape",
                            title="One sample, as the first layer gets it")], id=INPUT_ROW, className="stack-io"),
        html.Div(stack_children(values["layers"]), id=STACK, className="stack"),
        html.Div(id=error_id("layers"), className="field-error", role="alert"),
        html.Div([
            dcc.Dropdown(id=ADD_TYPE, options=layer_type_options(), value="Dense", clearable=False, searchable=False,
                         className="stack-type"),
            html.Button("+ Add layer", id=ADD, className="btn btn-ghost", n_clicks=0),
            html.Span(id=ADD_NOTE, className="field-error", role="status"),
        ], className="stack-add"),
        html.Div([
            html.Div([html.Span("Output", className="stack-output-name")], className="stack-head"),
            html.Div([
                html.Div([html.Span("Activation", className="stack-setting-label"),
                          dcc.Dropdown(id=OUTPUT_ACTIVATION, options=activation_options(output=True),
                                       value=values["output_activation"], clearable=False, searchable=False,
                                       className="stack-select")], className="stack-setting"),
            ], className="stack-settings"),
            html.Div(id=OUTPUT_SHAPE, className="stack-shape"),
            html.Div(id=error_id("output_activation"), className="field-error", role="alert"),
            html.Div(id=error_id("output"), className="field-error", role="alert"),
        ], id=OUTPUT_ROW, className="stack-row stack-row-output"),
        html.Div(id=TOTAL, className="stack-total"),
        select_field(LOSS, "Loss", _options((n, l.label) for n, l in LOSSES.items()), values["loss"], "loss"),
        select_field(INIT, "Weight initialisation", init_options(), values["init"], "init"),
        *param_block("init", values["init"], values.get("init_params")),
        html.Div([_number("init_seed", values)], className="field-grid"),
    )
    training = _section(
        "Training",
        select_field(OPTIMIZER, "Optimiser", _options((n, c.label or n) for n, c in OPTIMIZERS.items()),
                     values["optimizer"], "optimizer"),
        *param_block("opt", values["optimizer"], values.get("optimizer_params")),
        html.Div([_number(n, values) for n in ("learning_rate", "batch_size", "epochs", "l1", "l2")],
                 className="field-grid"),
    )
    return html.Div([
        dcc.Store(id=CONFIG, data=checked.spec), dcc.Store(id=CSV_META), dcc.Store(id=ADOPT), dcc.Store(id=MESSAGES),
        preset, data, network, training,
        html.Div(id=FORM_STATUS, className="form-status", role="status"),
    ], className="form")


# -- reading the form -------------------------------------------------------------------------------------


def _by_id(items: list[dict]) -> list[tuple[dict, Any]]:
    return [(item["id"], item.get("value")) for item in items]


def rows_from(type_items: list[dict], setting_items: list[dict], inner_items: list[dict]) -> list[dict]:
    """Stack rows (in page order) from the pattern-matching inputs' ``{"id", "value"}`` lists."""
    settings: dict[int, dict] = {}
    for cid, value in _by_id(setting_items):
        kind = _type_of(type_items, cid["row"])
        known = kind if isinstance(kind, str) and kind in spec.LAYERS else "Dense"   # spec.check names a bad type
        s = next((x for x in spec.settings_of(known, None) if x.name == cid["name"]), None)
        if s is not None and s.kind == "bool":
            value = bool(value)
        settings.setdefault(cid["row"], {})[cid["name"]] = value
    for cid, value in _by_id(inner_items):
        settings.setdefault(cid["row"], {})["layer"] = value
    return [{"type": value, "settings": settings.get(cid["row"], {}), "row": cid["row"]}
            for cid, value in _by_id(type_items)]


def _type_of(type_items: list[dict], row: int) -> Optional[str]:
    return next((value for cid, value in _by_id(type_items) if cid["row"] == row), None)


# -- callbacks ---------------------------------------------------------------------------------------------------
@dash.callback(
    Output(DATASET_HELP, "children"), Output(CSV_SECTION, "style"), Output(TEXT_FIELDS, "style"),
    Output(VAL_FIELDS, "style"), Input(DATASET, "value"),
)
def show_relevant_fields(dataset):
    """The chosen data set's description and the fields it needs (CSV upload, text settings,
    the validation share unless it has a split of its own)."""
    info = datasets.DATASETS.get(dataset)
    if dataset == data_mod.CSV_OPTION:
        help_text = "Numbers in columns, a header row; one column is the label."
    elif info is None:
        help_text = ""
    else:
        help_text = info["description"]
        download = datasets.download_info(dataset)
        if download and not download["available"]:
            help_text += (f" Not on disk yet: it is downloaded ({download['size']}) from {download['url']} on "
                          f"first use, or put it at {download['path']}.")
        if info.get("kind") == data_mod.TEXT:
            help_text += " Its own validation split is used."
    text = VISIBLE if info and info.get("kind") == data_mod.TEXT else HIDDEN
    own_split = HIDDEN if info and info.get("kind") == data_mod.TEXT else VISIBLE
    return help_text, VISIBLE if dataset == data_mod.CSV_OPTION else HIDDEN, text, own_split


def _register_block(block: str) -> None:
    """Draw a block's fields (at their defaults) when its select's choice changes."""
    @dash.callback(Output(block_id(block), "children"), Output(block_for_id(block), "data"),
                   Input(BLOCKS[block][0], "value"), State(block_for_id(block), "data"), prevent_initial_call=True)
    def draw_block(choice, drawn_for):
        if choice == drawn_for:        # already drawn for it (a preset or a loaded file filled it in)
            raise PreventUpdate
        return block_children(block, choice), choice


for _block in BLOCKS:
    _register_block(_block)


def csv_facts(data: bytes, filename: str, label: str) -> dict[str, Any]:
    """What the form needs to know about a CSV with this label column (or an error)."""
    meta: dict[str, Any] = {"filename": filename, "label": label}
    try:
        ds = datasets.load_csv(data, label)
    except (ValueError, UnicodeDecodeError) as exc:
        return {**meta, "error": f"This CSV cannot be used: {exc}"}
    return {**meta, "error": None, "task": ds.task, "n_features": ds.n_features, "n_classes": ds.n_classes,
            "n_targets": 1 if ds.task == "classification" else int(ds.y.shape[1]),
            "class_names": list(ds.class_names), "feature_names": list(ds.feature_names),
            "dialect": ds.meta.get("dialect", "")}


@dash.callback(
    Output(CSV_LABEL, "options"), Output(CSV_LABEL, "value"), Output(CSV_META, "data"),
    Output(CSV_FILENAME, "children"),
    Input(CSV_UPLOAD, "contents"), Input(CSV_LABEL, "value"),
    State(CSV_UPLOAD, "filename"), State(ids.SESSION, "data"),
    prevent_initial_call=True,
)
def read_csv(contents, label, filename, session_id):
    """Keep an uploaded CSV in the run cache, offer its columns, describe the chosen label."""
    if not store.valid_session(session_id):
        return no_update, no_update, {"filename": filename, "error": "The page is still starting; try again."}, ""
    if ctx.triggered_id == CSV_UPLOAD:
        if isinstance(contents, str) and len(contents) * 3 // 4 > MAX_CSV_BYTES + 1000:   # posted past the box
            return [], None, {"filename": filename, "error": f"The CSV is larger than the {MAX_CSV_BYTES // 10**6} MB "
                                                             f"an upload may have."}, filename
        try:
            data = base64.b64decode(contents.split(",", 1)[1])
        except (AttributeError, IndexError, ValueError):
            return [], None, {"filename": filename, "error": "The file could not be read."}, filename
        try:
            header = datasets.csv_columns(data)     # in whatever dialect the file is written
        except (ValueError, UnicodeDecodeError) as exc:
            return [], None, {"filename": filename, "error": f"This CSV cannot be used: {exc}"}, filename
        if len(header) < 2:
            return [], None, {"filename": filename, "error": "The CSV needs a header row with at least two "
                                                             "columns (features and a label)."}, filename
        try:
            store.put_csv(session_id, data, filename or "data.csv")
        except store.StorageError as exc:
            return [], None, {"filename": filename, "error": f"The CSV was not kept: {exc}"}, filename
        label = header[-1]
        options = [{"label": h, "value": h} for h in header]
    else:
        options = no_update
    stored = store.get_csv(session_id)
    if stored is None:
        return options, label, {"error": "Upload the CSV again (it is no longer on the server)."}, no_update
    meta = csv_facts(stored["bytes"], stored["filename"], label)
    read = f" {meta['dialect']}" if meta.get("dialect") else ""
    return options, label, meta, f"{stored['filename']} ({len(stored['bytes']):,} bytes).{read}"


@dash.callback(
    Output(STACK, "children"),
    Input(ADD, "n_clicks"), Input({"type": REMOVE, "row": ALL}, "n_clicks"),
    Input({"type": UP, "row": ALL}, "n_clicks"), Input({"type": DOWN, "row": ALL}, "n_clicks"),
    Input({"type": TYPE, "row": ALL}, "value"), Input({"type": INNER, "row": ALL}, "value"),
    State(ADD_TYPE, "value"), State({"type": KIND, "row": ALL}, "data"),
    State({"type": SETTING, "row": ALL, "name": ALL}, "value"),
    prevent_initial_call=True,
)
def edit_stack(_add, _removes, _ups, _downs, _types, _inners, add_type, _kinds, _settings):
    """Add, remove, move a row, or redraw it for its new type (see the module docstring)."""
    trigger = ctx.triggered_id
    kinds = [(item["id"]["row"], item["value"]) for item in ctx.states_list[1]]
    order = [row for row, _ in kinds]
    settings: dict[int, dict] = {}
    for item in ctx.states_list[2]:
        settings.setdefault(item["id"]["row"], {})[item["id"]["name"]] = item.get("value")
    inner_values = {item["id"]["row"]: item.get("value") for item in ctx.inputs_list[5]}
    for row, value in inner_values.items():
        settings.setdefault(row, {})["layer"] = value
    patch = Patch()
    if trigger == ADD:
        if len(order) >= spec.MAX_LAYERS:
            dash.set_props(ADD_NOTE, {"children": f"At most {spec.MAX_LAYERS} layers here: remove one to add "
                                                  f"another."})
            return no_update
        if add_type not in LAYERS:
            dash.set_props(ADD_NOTE, {"children": "Choose the type of layer to add."})
            return no_update
        patch.append(row_component(max(order, default=-1) + 1, add_type))
        if len(order) + 1 == spec.MAX_LAYERS:
            dash.set_props(ADD_NOTE, {"children": f"{spec.MAX_LAYERS} layers: the most this form takes."})
        return patch
    if not isinstance(trigger, dict) or trigger.get("row") not in order:
        raise PreventUpdate
    row, pos = trigger["row"], order.index(trigger["row"])
    kind = dict(kinds)[row]
    if trigger["type"] in (REMOVE, UP, DOWN) and not ctx.triggered[0]["value"]:
        raise PreventUpdate
    if trigger["type"] == REMOVE:
        del patch[pos]
        if len(order) >= spec.MAX_LAYERS:
            dash.set_props(ADD_NOTE, {"children": ""})
        return patch
    if trigger["type"] in (UP, DOWN):
        other = pos - 1 if trigger["type"] == UP else pos + 1
        if not 0 <= other < len(order):
            raise PreventUpdate
        a, b = order[pos], order[other]
        kind_of = dict(kinds)
        patch[other] = row_component(a, kind_of[a]["type"], _row_values(settings.get(a, {}), kind_of[a]))
        patch[pos] = row_component(b, kind_of[b]["type"], _row_values(settings.get(b, {}), kind_of[b]))
        return patch
    new_type = ctx.triggered[0]["value"]
    if trigger["type"] == TYPE:
        if new_type == kind["type"] or new_type not in LAYERS:
            raise PreventUpdate
        kept = {k: v for k, v in settings.get(row, {}).items()
                if any(s.name == k for s in spec.settings_of(new_type, None)) and k != "layer"}
        patch[pos] = row_component(row, new_type, kept)
        return patch
    if trigger["type"] == INNER:
        if new_type == kind.get("inner"):
            raise PreventUpdate
        patch[pos] = row_component(row, kind["type"], {**settings.get(row, {}), "layer": new_type})
        return patch
    raise PreventUpdate


def _row_values(values: dict, kind: dict) -> dict:
    """A row's settings as its controls hold them (checklists hold lists)."""
    out = {k: (bool(v) if isinstance(v, list) else v) for k, v in values.items()}
    if kind.get("inner"):
        out.setdefault("layer", kind["inner"])
    if kind["type"] == "Embedding" and out.get("input_dim") in (None, ""):
        out.pop("input_dim", None)
    return out


# Fields apply_form sets, in its outputs' order.
_VALUE_FIELDS = [*SELECTS.values(), *(field_id(n) for n in NUMBERS)]


def form_values(form: dict) -> list:
    """The values of :data:`_VALUE_FIELDS` that show ``form`` (no_update where it is silent)."""
    return [form.get(k, no_update) for k in SELECTS] + [form.get(n, no_update) for n in NUMBERS]


def block_outputs(form: dict) -> list:
    """Each block's fields and the choice they are for, as ``form`` has them."""
    out = []
    for block, (_, key, _, _) in BLOCKS.items():
        choice = form.get({"data": "dataset", "init": "init", "opt": "optimizer"}[block])
        out += [block_children(block, choice, form.get(key)), choice]
    return out


@dash.callback(
    Output(STACK, "children", allow_duplicate=True),
    [Output(cid, "value") for cid in _VALUE_FIELDS],
    [o for block in BLOCKS for o in (Output(block_id(block), "children", allow_duplicate=True),
                                     Output(block_for_id(block), "data", allow_duplicate=True))],
    Output(PRESET, "value"), Output(PRESET_NOTE, "children"),
    Input(PRESET, "value"), Input(ADOPT, "data"),
    State({"type": KIND, "row": ALL}, "id"),
    prevent_initial_call=True,
)
def apply_form(preset, adopt, rows):
    """Fill the whole form from a preset or from a loaded model's spec."""
    if ctx.triggered_id == PRESET:
        if preset not in presets.PRESETS:
            raise PreventUpdate
        form = presets.preset_form(preset)
        note = f"Filled in “{presets.PRESETS[preset][0]}”: change anything you like."
    elif adopt and adopt.get("form"):
        form, note = adopt["form"], no_update
    else:
        raise PreventUpdate
    first = max((r["row"] for r in rows), default=-1) + 1     # fresh ids: no stale value is reused
    return [stack_children(form.get("layers") or [], first), *form_values(form), *block_outputs(form), None, note]


_MESSAGE_KEYS = ["dataset", "csv", "layers", "output", "loss", "output_activation", "init", "optimizer", *NUMBERS]


@dash.callback(
    Output(CONFIG, "data"), Output(MESSAGES, "data"),
    Output({"type": SHAPE, "row": ALL}, "children"), Output({"type": ROW_ERROR, "row": ALL}, "children"),
    [Output({"type": param_error_type(block), "name": ALL}, "children") for block in BLOCKS],
    Input(DATASET, "value"), Input(CSV_META, "data"),
    Input({"type": TYPE, "row": ALL}, "value"), Input({"type": SETTING, "row": ALL, "name": ALL}, "value"),
    Input({"type": INNER, "row": ALL}, "value"),
    Input(OUTPUT_ACTIVATION, "value"), Input(LOSS, "value"), Input(INIT, "value"), Input(OPTIMIZER, "value"),
    [Input(field_id(n), "value") for n in NUMBERS],
    [Input({"type": param_type(block), "name": ALL}, "value") for block in BLOCKS],
)
def check_form(dataset, csv_meta, _types, _settings, _inners, out_act, loss, init, optimizer, *values):
    """Check the form on every change: the spec, the messages, each row's shape."""
    numbers = dict(zip(NUMBERS, values[:len(NUMBERS)]))
    first_block = 9 + len(NUMBERS)           # where the blocks' inputs start in ctx.inputs_list
    blocks = {block: {item["id"]["name"]: item.get("value") for item in ctx.inputs_list[first_block + i]}
              for i, block in enumerate(BLOCKS)}
    rows = rows_from(ctx.inputs_list[2], ctx.inputs_list[3], ctx.inputs_list[4])
    form = {"dataset": dataset, "output_activation": out_act, "loss": loss, "init": init, "optimizer": optimizer,
            "layers": rows, **numbers,
            **{BLOCKS[block][1]: fields for block, fields in blocks.items()}}
    try:
        checked = spec.check(form, csv_meta)
    except Exception as exc:  # a rule should never crash the page; say what went wrong instead
        checked = spec.Checked(None, {"dataset": f"This combination could not be checked: {exc}"})
    errors = checked.errors
    messages = {error_id(k): errors.get(k, "") for k in _MESSAGE_KEYS}
    block_messages = [[errors.get(f"{BLOCKS[block][3]}.{name}", "") for name in blocks[block]] for block in BLOCKS]
    shapes, row_messages = [], []
    for i in range(len(rows)):
        info = checked.rows[i] if i < len(checked.rows) else {}
        shapes.append(_shape_line(info))
        row_messages.append(errors.get(f"layers.{i}", ""))
    output_line = _shape_line(checked.output)
    if checked.output.get("units") is not None:
        output_line = f"Dense {checked.output['units']} · {output_line}"
    n = len(errors)
    messages.update({
        INPUT_SHAPE: spec.shape_text(checked.input_shape) if checked.input_shape else "?",
        OUTPUT_SHAPE: output_line,
        TOTAL: f"{checked.total_params:,} parameters in all" if checked.total_params is not None else "",
        FORM_STATUS: "" if checked.spec else f"{n} field{'s' if n != 1 else ''} to fix before training",
    })
    return [checked.spec, messages, shapes, row_messages, *block_messages]


# The messages reach the page in the browser, only those that changed (assets/clientside.js).
dash.clientside_callback(ClientsideFunction("backprop", "formMessages"), Output(MESSAGES, "id"),
                         Input(MESSAGES, "data"), prevent_initial_call=True)


def _shape_line(info: dict) -> str:
    if not info or info.get("shape") is None:
        return "→ ?"
    return f"→ {spec.shape_text(info['shape'])} · {info['params']:,} params"
