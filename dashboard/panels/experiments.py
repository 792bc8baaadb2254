"""The Experiments section: run a search around the form's network, keep every run,
compare them.

* **Search**: rows of a search space (a field of the form, and its values or a range),
  Grid or Random (seed, trials), a preset of the reports' random search, Run search and
  Stop search. The search is recorded (``dashboard.searches.create``), then trained: in
  one background job embedded, as one Celery task per trial with REDIS_URL. The page
  polls the records while a search runs (trials done of total, the running trials'
  live loss, the time left).
* **Runs**: every recorded run (Train clicks and trials alike) in an AG Grid (sort,
  filter, select, resize); rename, tag, delete, export CSV, Open (the run's model
  becomes the tab's model), Retrain best.
* **Compare**: for the selected runs, loss and accuracy overlaid (``viz.runs``); the
  settings of all runs against a metric in parallel coordinates; for 2-4 of them,
  **Compare inside**: their weight or gradient histograms per layer at the same epoch
  (``viz.compare``) and their decision regions where the data is 2-D.
"""
from __future__ import annotations

import io
import logging
import math
from typing import Any, Optional

import dash
import dash_ag_grid as dag
from dash import ALL, ClientsideFunction, Input, Output, State, dcc, html, no_update
from dash.exceptions import PreventUpdate

from engine import ModelFileError, Sequential, datasets
from viz import compare as compare_figures
from viz import runs as run_figures

from .. import data as data_mod
from .. import experiments, ids, jobs, records, searches, store, workers
from .. import spec as spec_mod
from . import form, regions, training
from .common import GRAPH_CONFIG

log = logging.getLogger(__name__)

# -- ids ----------------------------------------------------------------------------------------------
SPACE = "exp-space"                    # the rows of the search space
ADD_ROW = "exp-add-row"
FIELD, KIND, VALUES, LOW, HIGH, POINTS, REMOVE = ("exp-field", "exp-kind", "exp-values", "exp-low", "exp-high",
                                                  "exp-n", "exp-remove")
STRATEGY = "exp-strategy"
TRIALS = "exp-trials"
SEED = "exp-seed"
NAME = "exp-name"
PRESET = "exp-preset"
RUN = "exp-run"
RUN_PRESS = "exp-run-press"            # dcc.Store: a Run search press with the form's config
STOP = "exp-stop"
COUNT = "exp-count"                    # "4 trials" under the space, as it is edited
MESSAGE = "exp-message"
STATUS = "exp-status"
ACTIVE = "exp-active"                  # dcc.Store: the id of the search the page watches
PLAN = "exp-plan"                      # dcc.Store: a search to train here (embedded mode)
POLL = "exp-poll"                      # dcc.Interval: while a search runs
REFRESH = "exp-refresh"                # dcc.Store: bumped when the runs changed
TABLE = "exp-runs"
TABLE_NOTE = "exp-runs-note"
EXPORT, DOWNLOAD = "exp-export", "exp-download"
DELETE, OPEN = "exp-delete", "exp-open"
RENAME_TEXT, RENAME = "exp-rename-text", "exp-rename"
TAGS_TEXT, TAGS = "exp-tags-text", "exp-tags"
RETRAIN, RETRAIN_METRIC, RETRAIN_K, RETRAIN_EPOCHS = ("exp-retrain", "exp-retrain-metric", "exp-retrain-k",
                                                      "exp-retrain-epochs")
ACTION_MESSAGE = "exp-action-message"
LOSS, ACCURACY, PARCOORDS = "exp-loss", "exp-accuracy", "exp-parcoords"
PARCOORDS_METRIC = "exp-parcoords-metric"
INSIDE, INSIDE_KIND, INSIDE_EPOCH, INSIDE_NOTE = "exp-inside", "exp-inside-kind", "exp-inside-epoch", \
    "exp-inside-note"
INSIDE_REGIONS = "exp-inside-regions"

POLL_MS = 1000
MAX_RUNS_SHOWN = 5000

# Fields a search can vary from this section: (value, label, numeric).
SPACE_FIELDS = [
    ("learning_rate", "Learning rate", True), ("batch_size", "Batch size", True), ("epochs", "Epochs", True),
    ("units", "Hidden units (all Dense rows)", True),
    ("activation", "Hidden activation (all Dense rows)", False),
    ("layers", "Hidden Dense layers (how many)", True), ("l1", "L1", True), ("l2", "L2", True),
    ("optimizer", "Optimiser", False), ("init", "Initialisation", False), ("init_seed", "Init seed", True),
    ("loss", "Loss", False), ("output_activation", "Output activation", False),
    ("val_percent", "Validation %", True),
]
NUMERIC = {value for value, _, numeric in SPACE_FIELDS if numeric}
WHOLE = {"batch_size", "epochs", "units", "layers", "init_seed"}
KIND_LABELS = {"values": "values", "linear": "range (linear)", "log": "range (log)", "int": "whole numbers"}
DEFAULT_ROWS = [{"field": "learning_rate", "kind": "values", "values": "0.003, 0.03"},
                {"field": "activation", "kind": "values", "values": "tanh, relu"}]
METRICS = [("val_accuracy", "validation accuracy"), ("macro_f1", "macro F1"), ("val_loss", "validation loss"),
           ("loss", "training loss"), ("accuracy", "training accuracy"), ("wall_time_s", "wall time")]
COLUMN_LABELS = {"id": "#", "name": "Name", "state": "State", "dataset": "Data", "created_at": "Started",
                 "wall_time_s": "Wall time (s)", "epochs": "Epochs", "search_id": "Search", "tags": "Tags",
                 "message": "Message"}


# -- layout -------------------------------------------------------------------------------------------------
def _space_row(i: int, row: dict) -> html.Div:
    field = row.get("field")
    kinds = list(KIND_LABELS) if field in NUMERIC else ["values"]
    kind = row.get("kind") if row.get("kind") in kinds else "values"
    ranged = kind != "values"
    return html.Div(className="space-row", children=[
        dcc.Dropdown(id={"type": FIELD, "index": i}, options=[{"label": l, "value": v} for v, l, _ in SPACE_FIELDS],
                     value=field, clearable=False, className="space-field"),
        dcc.Dropdown(id={"type": KIND, "index": i}, options=[{"label": KIND_LABELS[k], "value": k} for k in kinds],
                     value=kind, clearable=False, searchable=False, className="space-kind"),
        dcc.Input(id={"type": VALUES, "index": i}, value=row.get("values", ""), debounce=True,
                  placeholder="comma-separated, e.g. 0.001, 0.01", className="space-values",
                  style={"display": "none"} if ranged else {}),
        html.Span(className="space-range", style={} if ranged else {"display": "none"}, children=[
            dcc.Input(id={"type": LOW, "index": i}, type="number", value=row.get("low"), placeholder="low",
                      debounce=True, className="space-number"),
            html.Span("to"),
            dcc.Input(id={"type": HIGH, "index": i}, type="number", value=row.get("high"), placeholder="high",
                      debounce=True, className="space-number"),
            dcc.Input(id={"type": POINTS, "index": i}, type="number", value=row.get("n"), placeholder="points",
                      debounce=True, className="space-number"),
        ]),
        html.Button("×", id={"type": REMOVE, "index": i}, className="btn btn-ghost btn-icon", n_clicks=0,
                    title="Remove this field from the search"),
    ])


def _metric_options() -> list[dict]:
    return [{"label": label, "value": value} for value, label in METRICS]


def layout() -> html.Section:
    return html.Section(className="card experiments-card", **{"data-panel": "experiments"}, children=[
        dcc.Store(id=ACTIVE, storage_type="session"), dcc.Store(id=PLAN), dcc.Store(id=RUN_PRESS),
        dcc.Store(id=REFRESH),
        dcc.Interval(id=POLL, interval=POLL_MS, disabled=True), dcc.Download(id=DOWNLOAD),
        html.Div(className="panel-header", children=[
            html.H3("Experiments", className="panel-title"),
            html.Span("Search around the network in the form, keep every run, compare them - inside too.",
                      className="panel-hint")]),
        html.Div(className="exp-search", children=[
            html.H4("Search"),
            html.P("The base is the form as it stands; each row varies one of its fields.", className="exp-help"),
            html.Div(id=SPACE, children=[_space_row(i, row) for i, row in enumerate(DEFAULT_ROWS)]),
            html.Div(className="exp-controls", children=[
                html.Button("+ Add field", id=ADD_ROW, className="btn btn-ghost", n_clicks=0),
                html.Button("Reports' random search", id=PRESET, className="btn btn-ghost", n_clicks=0,
                            title="Hidden size {400, 500, 600}, layers {1, 2, 3}, epochs 3-8, batch {100, 300, 600}, "
                                  "learning rate log 1e-4..1e-1, activation {ReLU, Leaky ReLU, Sigmoid}: random, 10 trials, "
                                  "on the form's data set (the Reference MLP preset puts MNIST in the form)"),
                dcc.RadioItems(id=STRATEGY, options=[{"label": "Grid", "value": "grid"},
                                                     {"label": "Random", "value": "random"}],
                               value="grid", inline=True, className="exp-strategy"),
                html.Label(["Trials", dcc.Input(id=TRIALS, type="number", value=10, min=1,
                                                max=experiments.MAX_TRIALS, step=1, className="space-number")],
                           className="exp-inline"),
                html.Label(["Seed", dcc.Input(id=SEED, type="number", value=0, min=0, step=1,
                                              className="space-number")], className="exp-inline"),
                html.Label(["Name", dcc.Input(id=NAME, type="text", placeholder="optional", maxLength=200,
                                              className="exp-name")], className="exp-inline"),
            ]),
            html.Div(className="exp-controls", children=[
                html.Button("Run search", id=RUN, className="btn btn-primary", n_clicks=0),
                html.Button("Stop search", id=STOP, className="btn btn-danger", n_clicks=0, disabled=True),
                html.Span(id=COUNT, className="exp-count"),
            ]),
            html.Div(id=MESSAGE, className="exp-message", role="alert"),
            html.Div(id=STATUS, className="exp-status", role="status"),
        ]),
        html.Div(className="exp-runs", children=[
            html.H4("Runs"),
            html.Div(id=TABLE_NOTE, className="exp-help"),
            dag.AgGrid(id=TABLE, rowData=[], columnDefs=[], getRowId="params.data.row_id",
                       defaultColDef={"sortable": True, "filter": True, "resizable": True, "floatingFilter": True,
                                      "minWidth": 90},
                       dashGridOptions={"rowSelection": {"mode": "multiRow", "checkboxes": True,
                                                         "headerCheckbox": True, "enableClickSelection": False},
                                        "animateRows": False, "tooltipShowDelay": 300,
                                        "suppressFieldDotNotation": True,  # "metrics.loss" is one key
                                        "selectionColumnDef": {"pinned": "left", "width": 50}},
                       columnSize="autoSize", style={"height": "360px"}, className="ag-theme-quartz"),
            html.Div(className="exp-controls", children=[
                html.Button("Export CSV", id=EXPORT, className="btn btn-ghost", n_clicks=0),
                html.Button("Open", id=OPEN, className="btn btn-ghost", n_clicks=0,
                            title="Load the selected run's model into the panels above (Train continues it)"),
                html.Button("Delete", id=DELETE, className="btn btn-ghost", n_clicks=0),
                dcc.Input(id=RENAME_TEXT, type="text", placeholder="new name", maxLength=records.MAX_NAME,
                          className="exp-name"),
                html.Button("Rename", id=RENAME, className="btn btn-ghost", n_clicks=0),
                dcc.Input(id=TAGS_TEXT, type="text", placeholder="tags, comma-separated", className="exp-name"),
                html.Button("Set tags", id=TAGS, className="btn btn-ghost", n_clicks=0),
            ]),
            html.Div(className="exp-controls", children=[
                html.Button("Retrain best", id=RETRAIN, className="btn btn-ghost", n_clicks=0,
                            title="Train the best k of the selected runs (all runs when none is selected) again "
                                  "from scratch with more epochs"),
                dcc.Input(id=RETRAIN_K, type="number", value=3, min=1, max=20, step=1, className="space-number"),
                html.Span("by"),
                dcc.Dropdown(id=RETRAIN_METRIC, options=_metric_options(), value="val_accuracy", clearable=False,
                             searchable=False, style={"width": "200px"}),
                html.Span("with"),
                dcc.Input(id=RETRAIN_EPOCHS, type="number", value=20, min=1, step=1, className="space-number"),
                html.Span("epochs"),
            ]),
            html.Div(id=ACTION_MESSAGE, className="exp-message", role="status"),
        ]),
        html.Div(className="exp-compare", children=[
            html.H4("Compare"),
            html.P("Select 2 to 20 runs in the table to overlay their curves; 2 to 4 to compare inside.",
                   className="exp-help"),
            html.Div(className="exp-pair", children=[
                dcc.Graph(id=LOSS, figure=run_figures.loss_overlay([]), config=GRAPH_CONFIG),
                dcc.Graph(id=ACCURACY, figure=run_figures.accuracy_overlay([]), config=GRAPH_CONFIG),
            ]),
            html.Label(["Colour by", dcc.Dropdown(id=PARCOORDS_METRIC, options=_metric_options(),
                                                  value="val_accuracy", clearable=False, searchable=False,
                                                  style={"width": "220px"})], className="panel-picker"),
            dcc.Graph(id=PARCOORDS, figure=run_figures.parallel_coordinates([]), config=GRAPH_CONFIG),
            html.H4("Compare inside"),
            html.Div(className="exp-controls", children=[
                dcc.RadioItems(id=INSIDE_KIND, options=[{"label": "Weights", "value": "params"},
                                                        {"label": "Gradients", "value": "grads"}],
                               value="params", inline=True),
                html.Div(dcc.Slider(id=INSIDE_EPOCH, min=1, max=1, step=1, value=None, marks=None,
                                    tooltip={"placement": "bottom", "always_visible": False}),
                         className="exp-slider", title="Epoch"),
            ]),
            html.Div(id=INSIDE_NOTE, className="exp-help"),
            dcc.Graph(id=INSIDE, figure=compare_figures.inside_histograms([]), config=GRAPH_CONFIG),
            html.Div(id=INSIDE_REGIONS, className="exp-regions"),
        ]),
    ])


# -- the search space --------------------------------------------------------------------------------------
def _rows_from(fields, kinds, values, lows, highs, points) -> list[dict]:
    return [{"field": f, "kind": k, "values": v, "low": lo, "high": hi, "n": n}
            for f, k, v, lo, hi, n in zip(fields, kinds, values, lows, highs, points)]


def _parse_value(field: str, text: str) -> Any:
    text = text.strip()
    if field not in NUMERIC:
        return text
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"{field}: {text!r} is not a number") from None
    if field in WHOLE:
        if not number.is_integer():
            raise ValueError(f"{field}: {text!r} is not a whole number")
        return int(number)
    return number


def space_from_rows(rows: list[dict]) -> dict[str, dict]:
    """The search space the rows describe (ValueError naming the field and the rule)."""
    space: dict[str, dict] = {}
    for row in rows:
        field, kind = row.get("field"), row.get("kind") or "values"
        if not field:
            continue
        if field in space:
            raise ValueError(f"{field}: it is in the search twice; keep one row per field")
        if kind == "values":
            parts = [p for p in str(row.get("values") or "").split(",") if p.strip()]
            if not parts:
                raise ValueError(f"{field}: enter its values, separated by commas")
            space[field] = {"kind": "values", "values": [_parse_value(field, p) for p in parts]}
        else:
            dim = {"kind": kind, "low": row.get("low"), "high": row.get("high")}
            if row.get("n") not in (None, ""):
                n = row["n"]
                dim["n"] = int(n) if isinstance(n, (int, float)) and float(n).is_integer() else n
            space[field] = dim
    if not space:
        raise ValueError("Add a field to search over (+ Add field)")
    return experiments.check_space(space)


def base_form(config: dict) -> dict:
    """The form values of the spec in the form (the search's base)."""
    data = config.get("data") or {}
    base = {"dataset": data.get("name"), "data": dict(data.get("params") or {}),
            "val_percent": round(100 * data.get("val_fraction", 0.2), 6)}
    return spec_mod.form_from_spec(config, base)


@dash.callback(
    Output(SPACE, "children"), Output(STRATEGY, "value"), Output(TRIALS, "value"),
    Input(ADD_ROW, "n_clicks"), Input({"type": REMOVE, "index": ALL}, "n_clicks"), Input(PRESET, "n_clicks"),
    Input({"type": FIELD, "index": ALL}, "value"), Input({"type": KIND, "index": ALL}, "value"),
    State({"type": VALUES, "index": ALL}, "value"), State({"type": LOW, "index": ALL}, "value"),
    State({"type": HIGH, "index": ALL}, "value"), State({"type": POINTS, "index": ALL}, "value"),
    prevent_initial_call=True,
)
def edit_space(_add, removes, _preset, fields, kinds, values, lows, highs, points):
    """+ Add field, ×, the preset, and a row whose field or kind changed (its inputs follow)."""
    trigger = dash.ctx.triggered_id
    rows = _rows_from(fields, kinds, values, lows, highs, points)
    strategy = trials = no_update
    if trigger == ADD_ROW:
        used = {row["field"] for row in rows}
        free = next((v for v, _, _ in SPACE_FIELDS if v not in used), "learning_rate")
        rows.append({"field": free, "kind": "values", "values": ""})
    elif trigger == PRESET:
        rows = []
        for field, dim in experiments.REPORT_SPACE.items():
            row = {"field": field, "kind": dim["kind"]}
            if dim["kind"] == "values":
                row["values"] = ", ".join(str(v) for v in dim["values"])
            else:
                row.update(low=dim["low"], high=dim["high"])
            rows.append(row)
        strategy, trials = "random", 10
    elif isinstance(trigger, dict) and trigger.get("type") == REMOVE:
        if not any(removes):
            raise PreventUpdate
        rows.pop(trigger["index"])
    elif isinstance(trigger, dict) and trigger.get("type") == FIELD:
        row = rows[trigger["index"]]
        if row["field"] not in NUMERIC:
            row["kind"] = "values"
    return [_space_row(i, row) for i, row in enumerate(rows)], strategy, trials


@dash.callback(
    Output(COUNT, "children"),
    Input({"type": FIELD, "index": ALL}, "value"), Input({"type": KIND, "index": ALL}, "value"),
    Input({"type": VALUES, "index": ALL}, "value"), Input({"type": LOW, "index": ALL}, "value"),
    Input({"type": HIGH, "index": ALL}, "value"), Input({"type": POINTS, "index": ALL}, "value"),
    Input(STRATEGY, "value"), Input(TRIALS, "value"),
)
def count_trials(fields, kinds, values, lows, highs, points, strategy, n_trials):
    """How many trials the search will run, or what is wrong with it."""
    why = workers.missing("Run search")
    if why:
        return why, no_update, no_update
    try:
        space = space_from_rows(_rows_from(fields, kinds, values, lows, highs, points))
        n = len(experiments.combinations(space, strategy, n_trials if strategy == "random" else None,
                                         0))
    except ValueError as exc:
        return str(exc)
    return f"{n} trial{'s' if n != 1 else ''}"


# -- running it ------------------------------------------------------------------------------------------
def _whole(value: Any, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not float(value).is_integer() \
            or not low <= value <= high:
        raise ValueError(f"{what}: a whole number from {low} to {high:,}")
    return int(value)


# Run search takes the form's config with it once the form has checked every value typed
# before the press (as Train does: assets/clientside.js, pressed).
dash.clientside_callback(ClientsideFunction("backprop", "pressed"), Output(RUN_PRESS, "data"),
                         Input(RUN, "n_clicks"), Input(form.CONFIG, "data"), prevent_initial_call=True)


@dash.callback(
    Output(MESSAGE, "children"), Output(ACTIVE, "data"), Output(PLAN, "data"),
    Input(RUN_PRESS, "data"),
    State({"type": FIELD, "index": ALL}, "value"), State({"type": KIND, "index": ALL}, "value"),
    State({"type": VALUES, "index": ALL}, "value"), State({"type": LOW, "index": ALL}, "value"),
    State({"type": HIGH, "index": ALL}, "value"), State({"type": POINTS, "index": ALL}, "value"),
    State(STRATEGY, "value"), State(TRIALS, "value"), State(SEED, "value"), State(NAME, "value"),
    State(form.CSV_META, "data"), State(ids.SESSION, "data"), State(ACTIVE, "data"),
    prevent_initial_call=True,
)
def run_search(press, fields, kinds, values, lows, highs, points, strategy, n_trials, seed, name,
               csv_meta, session_id, active):
    """Run search (``press``: the clicks and the form's config): record the search and its
    trials, then start them (Celery: one task each; embedded: the background job below)."""
    if not isinstance(press, dict) or not press.get("n") or not store.valid_session(session_id):
        raise PreventUpdate
    config = press.get("config")
    if not config:
        return "Fix the fields marked in red in the form first: the search starts from it.", no_update, no_update
    if active:
        running = records.get_search(active)
        if running is not None and running["state"] == "running":
            return f"{running['name']} is still running: stop it or wait for it first.", no_update, no_update
    why = workers.missing("Run search")
    if why:
        return why, no_update, no_update
    try:
        space = space_from_rows(_rows_from(fields, kinds, values, lows, highs, points))
        trials = _whole(n_trials, "Trials", 1, experiments.MAX_TRIALS) if strategy == "random" else None
        seed = _whole(seed if seed is not None else 0, "Seed", 0, spec_mod.SEED_MAX)
        search_id, planned = searches.create(base_form(config), space, strategy=strategy, n_trials=trials,
                                             seed=seed, name=(name or "").strip() or None, csv_meta=csv_meta,
                                             session_id=session_id)
    except ValueError as exc:
        return str(exc), no_update, no_update
    return _start(search_id, planned, session_id)


def _start(search_id: int, planned: list[dict], session_id: str) -> tuple[str, int, Any]:
    if not planned:
        return "No trial of this search can run: each breaks a rule of the form (see the table).", search_id, \
            no_update
    if searches.celery_app() is not None:
        searches.dispatch(searches.celery_app(), search_id, planned, session_id)
        return "", search_id, no_update
    return "", search_id, {"search_id": search_id, "trials": planned, "session": session_id}


@dash.callback(
    Output(REFRESH, "data", allow_duplicate=True),
    Input(PLAN, "data"),
    background=True,
    running=[(Output(RUN, "disabled"), True, False)],
    prevent_initial_call=True,
)
def train_search(plan):
    """Embedded mode: the search's trials, one after another, in one background job."""
    if not plan:
        raise PreventUpdate
    jobs._yield_to_the_page()
    searches.run_all(plan["search_id"], plan["trials"], plan.get("session"))
    return plan["search_id"]


@dash.callback(Output(MESSAGE, "children", allow_duplicate=True), Input(STOP, "n_clicks"), State(ACTIVE, "data"),
               prevent_initial_call=True)
def stop_search(n_clicks, active):
    if not n_clicks or not active:
        raise PreventUpdate
    searches.stop(active)
    return "Stopping: the running trials end after their batch; the rest are not run."


@dash.callback(
    Output(STATUS, "children"), Output(POLL, "disabled"), Output(STOP, "disabled"),
    Output(REFRESH, "data", allow_duplicate=True),
    Input(ACTIVE, "data"), Input(POLL, "n_intervals"), State(REFRESH, "data"),
    prevent_initial_call="initial_duplicate",
)
def watch_search(active, _n, refreshed):
    """Trials done of total, the running ones' live loss, the time left; the runs table
    follows while the search runs, and once more when it ends."""
    if not active:
        search = next(iter(records.list_searches(limit=1)), None)
        if search is None:
            return "", True, True, no_update
        active = search["id"]
    found = searches.status(active)
    if found is None:
        return "", True, True, no_update
    running = found["state"] == "running"
    now = {"search": active, "finished": found["finished"], "state": found["state"]}
    # The runs table follows a running search, and once more when it ends (not on a page load).
    follow = running or (refreshed.get("state") == "running" if isinstance(refreshed, dict) else False)
    return searches.status_text(found), not running, not running, now if follow and now != refreshed else no_update


# -- the runs table ----------------------------------------------------------------------------------------
def _column(key: str) -> dict:
    if key.startswith("metrics."):
        metric = key.split(".", 1)[1]
        header = run_figures.metric_label(metric)
        col = {"field": key, "headerName": header[:1].upper() + header[1:], "filter": "agNumberColumnFilter",
               "valueFormatter": {"function": "significant(params.value, 4)"}}
        return col
    if key.startswith("params."):
        field = key.split(".", 1)[1]
        label = next((l for v, l, _ in SPACE_FIELDS if v == field), field)
        return {"field": key, "headerName": label.split(" (")[0], "headerTooltip": label}
    col = {"field": key, "headerName": COLUMN_LABELS.get(key, key)}
    if key == "id":
        col.update(width=80, filter="agNumberColumnFilter", sort="desc", pinned="left")
    elif key == "name":
        col.update(pinned="left", editable=False, tooltipField="name")
    elif key in ("wall_time_s", "epochs", "search_id"):
        col["filter"] = "agNumberColumnFilter"
        if key == "wall_time_s":
            col["valueFormatter"] = {"function": "significant(params.value, 3)"}
    elif key == "created_at":
        col["valueFormatter"] = {"function": "timestamp(params.value)"}
    elif key == "message":
        col.update(tooltipField="message", width=260)
    return col


def table_rows(runs: list[dict]) -> tuple[list[dict], list[dict]]:
    """(column definitions, rows) of the runs table."""
    columns, rows = records.runs_table(runs)
    for run, row in zip(runs, rows):
        row.update(row_id=str(run["id"]), search_id=run.get("search_id"), tags=", ".join(run.get("tags") or []),
                   message=run.get("message") or "")
    settings = [c for c in columns if c.startswith("params.")]
    numbers = [c for c in columns if c.startswith("metrics.")]
    keys = ["id", "name", "state", *settings, *numbers, "wall_time_s", "epochs", "dataset", "search_id", "tags",
            "created_at", "message"]
    return [_column(key) for key in keys], rows


@dash.callback(
    Output(TABLE, "rowData"), Output(TABLE, "columnDefs"), Output(TABLE_NOTE, "children"),
    Input(REFRESH, "data"), Input(training.RESULT, "data"), State(TABLE, "columnDefs"), State(TABLE, "rowData"),
)
def refresh_table(_refresh, _trained, columns_now, rows_now):
    """Every recorded run, newest first."""
    try:
        runs = records.list_runs(limit=MAX_RUNS_SHOWN, with_history=False)
    except Exception as exc:  # noqa: BLE001 - a database that cannot be read is said, not raised
        log.exception("could not read the runs")
        return no_update, no_update, f"The runs cannot be read from the database: {type(exc).__name__}: {exc}"
    if not runs:
        return [], [], "No runs yet: every Train and every trial of a search is recorded here."
    columns, rows = table_rows(runs)
    note = (f"{len(runs):,} run{'s' if len(runs) != 1 else ''} recorded"
            + (f" (the newest {MAX_RUNS_SHOWN:,} shown)" if len(runs) >= MAX_RUNS_SHOWN else "")
            + f" in {records.engine().url.get_backend_name()}.")
    return (no_update if rows == rows_now else rows), (no_update if columns == columns_now else columns), note


def _selected_ids(selected: Optional[list]) -> list[int]:
    return [row["id"] for row in (selected or []) if isinstance(row, dict) and isinstance(row.get("id"), int)]


@dash.callback(Output(DOWNLOAD, "data"), Output(ACTION_MESSAGE, "children"), Input(EXPORT, "n_clicks"),
               State(TABLE, "selectedRows"), prevent_initial_call=True)
def export_csv(n_clicks, selected):
    """The selected runs (all of them when none is selected) as CSV."""
    if not n_clicks:
        raise PreventUpdate
    chosen = set(_selected_ids(selected))
    runs = [run for run in records.list_runs(newest_first=False) if not chosen or run["id"] in chosen]
    if not runs:
        return no_update, "No runs to export yet."
    return dcc.send_string(records.runs_csv(runs), "backprop-studio-runs.csv"), \
        f"Exported {len(runs)} run{'s' if len(runs) != 1 else ''}."


@dash.callback(
    Output(ACTION_MESSAGE, "children", allow_duplicate=True), Output(REFRESH, "data", allow_duplicate=True),
    Input(DELETE, "n_clicks"), Input(RENAME, "n_clicks"), Input(TAGS, "n_clicks"),
    State(TABLE, "selectedRows"), State(RENAME_TEXT, "value"), State(TAGS_TEXT, "value"),
    prevent_initial_call=True,
)
def change_runs(_delete, _rename, _tags, selected, new_name, tags_text):
    """Delete the selected runs; rename one; set the selected runs' tags."""
    trigger = dash.ctx.triggered_id
    chosen = _selected_ids(selected)
    if not chosen:
        return "Select runs in the table first (the boxes on the left).", no_update
    try:
        if trigger == DELETE:
            n = records.delete_runs(chosen)
            return f"Deleted {n} run{'s' if n != 1 else ''}.", {"deleted": chosen}
        if trigger == RENAME:
            if len(chosen) != 1:
                return "Select one run to rename.", no_update
            records.rename_run(chosen[0], new_name or "")
            return f"Renamed run #{chosen[0]}.", {"renamed": chosen[0], "name": new_name}
        tags = [t for t in (tags_text or "").split(",") if t.strip()]
        checked = records.check_tags(tags)
        for run_id in chosen:
            records.set_tags(run_id, checked)
        return f"Tagged {len(chosen)} run{'s' if len(chosen) != 1 else ''}: {', '.join(checked) or 'no tags'}.", \
            {"tagged": chosen, "tags": checked}
    except ValueError as exc:
        return str(exc), no_update


@dash.callback(
    Output(ACTION_MESSAGE, "children", allow_duplicate=True), Output(ACTIVE, "data", allow_duplicate=True),
    Output(PLAN, "data", allow_duplicate=True),
    Input(RETRAIN, "n_clicks"), State(TABLE, "selectedRows"), State(RETRAIN_METRIC, "value"),
    State(RETRAIN_K, "value"), State(RETRAIN_EPOCHS, "value"), State(ids.SESSION, "data"), State(ACTIVE, "data"),
    prevent_initial_call=True,
)
def retrain_best(n_clicks, selected, metric, k, epochs, session_id, active):
    """The best k runs (of the selection, else of all) trained again with more epochs."""
    if not n_clicks or not store.valid_session(session_id):
        raise PreventUpdate
    if active:
        running = records.get_search(active)
        if running is not None and running["state"] == "running":
            return f"{running['name']} is still running: stop it or wait for it first.", no_update, no_update
    chosen = _selected_ids(selected) or [run["id"] for run in records.list_runs(limit=MAX_RUNS_SHOWN)]
    try:
        k = _whole(k, "k", 1, 20)
        epochs = _whole(epochs, "Epochs", 1, int(spec_mod.FIELDS["epochs"][5]))
        search_id, planned = searches.create_retrain(chosen, metric=metric, k=k, epochs=epochs,
                                                     session_id=session_id)
    except ValueError as exc:
        return str(exc), no_update, no_update
    message, search_id, plan = _start(search_id, planned, session_id)
    return message or f"Retraining {len(planned)} run{'s' if len(planned) != 1 else ''} with {epochs} epochs.", \
        search_id, plan


@dash.callback(
    Output(ACTION_MESSAGE, "children", allow_duplicate=True),
    Output(training.LIVE, "data", allow_duplicate=True), Output(ids.SNAPSHOT_VERSION, "data", allow_duplicate=True),
    Output(form.ADOPT, "data", allow_duplicate=True),
    Input(OPEN, "n_clicks"), State(TABLE, "selectedRows"), State(ids.SESSION, "data"), State(form.ADOPT, "data"),
    prevent_initial_call=True,
)
def open_run(n_clicks, selected, session_id, adopted):
    """Open: the selected run's model becomes this tab's model, and the form takes its spec."""
    if not n_clicks or not store.valid_session(session_id):
        raise PreventUpdate
    chosen = _selected_ids(selected)
    if len(chosen) != 1:
        return "Select one run to open.", no_update, no_update, no_update
    run = records.get_run(chosen[0], with_model=True)
    if run is None or not run.get("model"):
        return f"Run #{chosen[0]} has no model file (it failed, or was deleted).", no_update, no_update, no_update
    try:
        model = Sequential.load(io.BytesIO(run["model"]))
        model_spec = run["spec"]
        key = data_mod.dataset_key(model_spec["data"])
        history = run["history"] or jobs.empty_history(model.is_classifier)
        live, version, metrics = training.adopt_model(session_id, model, model_spec,
                                                      f"backprop-studio-run{run['id']}.npz", key, history, "loaded")
    except (ModelFileError, ValueError, OSError, KeyError, datasets.DatasetUnavailableError) as exc:
        return f"Could not open run #{run['id']}: {exc}", no_update, no_update, no_update
    message = f"Opened run #{run['id']} ({run['name']}): {model.epochs_trained} epochs trained. {metrics} " \
              f"Train continues it."
    live["message"] = message
    base = spec_mod.form_from_spec(model_spec, (adopted or {}).get("form"))
    return message, live, version, {"form": base, "version": version["version"]}


# -- comparing ------------------------------------------------------------------------------------------------
@dash.callback(
    Output(LOSS, "figure"), Output(ACCURACY, "figure"),
    Input(TABLE, "selectedRows"), Input(REFRESH, "data"),
)
def overlays(selected, _refresh):
    """Training and validation loss, and accuracy, of the selected runs."""
    runs = records.get_runs(_selected_ids(selected)[:run_figures.MAX_OVERLAY_RUNS + 1])
    return run_figures.loss_overlay(runs), run_figures.accuracy_overlay(runs)


@dash.callback(Output(PARCOORDS, "figure"), Input(TABLE, "rowData"), Input(PARCOORDS_METRIC, "value"))
def settings_chart(_rows, metric):
    """Every run's settings against the chosen metric."""
    return run_figures.parallel_coordinates(records.list_runs(limit=MAX_RUNS_SHOWN, newest_first=False,
                                                              with_history=False), metric or "val_accuracy")


@dash.callback(
    Output(INSIDE_EPOCH, "min"), Output(INSIDE_EPOCH, "max"), Output(INSIDE_EPOCH, "value"),
    Output(INSIDE_EPOCH, "marks"), Output(INSIDE_NOTE, "children"), Output(INSIDE_REGIONS, "children"),
    Input(TABLE, "selectedRows"), State(ids.SESSION, "data"),
)
def inside_runs(selected, session_id):
    """The epochs the selected runs share (the slider) and their decision regions."""
    chosen = _selected_ids(selected)
    if not 2 <= len(chosen) <= compare_figures.MAX_INSIDE_RUNS:
        return 1, 1, None, None, "Select 2 to 4 runs to compare what happened inside them.", []
    runs = [run for run in (records.get_run(i, with_inside=True) for i in chosen) if run is not None]
    epochs = compare_figures.common_epochs(runs)
    note = (f"Epochs all {len(runs)} runs kept: {epochs[0]} to {epochs[-1]}." if epochs else
            "These runs share no recorded epoch: the latest of each is shown.")
    marks = {e: str(e) for e in (epochs[:: max(1, math.ceil(len(epochs) / 10))] if epochs else [])}
    low, high = (epochs[0], epochs[-1]) if epochs else (1, 1)
    return low, high, high if epochs else None, marks, note, _regions_side_by_side(chosen, session_id)


def _regions_side_by_side(chosen: list[int], session_id: Optional[str]) -> list:
    """Each run's final decision regions, where its data is 2-D."""
    out = []
    for run_id in chosen:
        run = records.get_run(run_id, with_model=True)
        if run is None or not run.get("model") or not run["spec"].get("data"):
            continue
        try:
            model = Sequential.load(io.BytesIO(run["model"]))
            if len(model.input_shape) != 1 or int(model.input_shape[0]) != 2:
                return []
            prepared = jobs.load_prepared(run["spec"], session_id or "")
            snapshot = model.snapshot()
            snapshot.update(dataset=prepared.summary, spec=run["spec"])
            points = {**prepared.probe["points"], "name": prepared.summary["name"]}
            fig, note, _ = regions.regions_view(snapshot, points)
        except (ModelFileError, ValueError, OSError, KeyError, datasets.DatasetUnavailableError) as exc:
            out.append(html.Div(f"#{run_id}: {exc}", className="exp-help"))
            continue
        if fig is None:
            out.append(html.Div(f"#{run_id}: {note}", className="exp-help"))
            continue
        fig["layout"]["title"]["text"] = run_figures.run_label(run)
        fig["layout"]["height"] = 320
        out.append(dcc.Graph(figure=fig, config=GRAPH_CONFIG, className="exp-region"))
    return out


@dash.callback(Output(INSIDE, "figure"), Input(TABLE, "selectedRows"), Input(INSIDE_KIND, "value"),
               Input(INSIDE_EPOCH, "value"))
def inside_histograms(selected, kind, epoch):
    """The selected runs' histograms per layer, side by side, at the chosen epoch."""
    chosen = _selected_ids(selected)[:compare_figures.MAX_INSIDE_RUNS + 1]
    runs = [run for run in (records.get_run(i, with_inside=True) for i in chosen) if run is not None]
    return compare_figures.inside_histograms(runs, epoch, kind or "params")
