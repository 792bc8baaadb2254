"""Train, Stop, Reset, the progress bars, and saving and loading model files.

Training is a Dash background callback (a subprocess with the embedded
DiskcacheManager, a Celery task with REDIS_URL). Inside it the engine's ``fit``
runs with one callback that, after every batch,

* records the batch loss for the chart,
* looks at the Stop flag in the run cache (at most every ``STOP_CHECK_S``) and
  sets ``model.stop_training`` when it is up, and
* every ``PUBLISH_S`` writes a fresh snapshot to the run cache and sends the
  live state (history, progress) and ``{"session", "version"}`` to the page
  through the callback's ``progress`` outputs.

When the run ends the model file goes to the run cache, so the next Train
continues it (same architecture and data) and Save downloads it.
"""
from __future__ import annotations

import base64
import io
import logging
import contextlib
import math
import os
import time
import traceback
from typing import Any

import dash
import numpy as np
from dash import Input, Output, State, dcc, html, no_update
from dash.exceptions import PreventUpdate

from engine import FFNN, ModelFileError, datasets

from . import controls, ids, loss_chart, runs

log = logging.getLogger(__name__)

# -- ids ------------------------------------------------------------------------------
LIVE = "train-live"              # dcc.Store: the run's live state (see loss_chart for its history part)
RESULT = "train-result"          # dcc.Store: when the last run ended. Everything the page shows goes through
                                 # the progress outputs: the renderer holds back callbacks downstream of a
                                 # running callback's own outputs, so LIVE and LATEST must not be one.
LATEST = "snapshot-latest"       # dcc.Store: the run's newest snapshot version; assets/refresh.js forwards it to
                                 # ids.SNAPSHOT_VERSION (the panels' trigger) at a pace the browser keeps up with
TRAIN = "train-button"
STOP = "stop-button"
RESET = "reset-button"
RUN_FIELDSET = "train-fieldset"  # disabled while a run is on: Train, Reset, Save, Load
WATCH = "train-watch"            # dcc.Interval: looks for a run whose progress stopped arriving
RESYNC = "train-resync"          # dcc.Store: set when the page should re-read the run's state
STATUS = "train-status"
STOP_NOTE = "train-stop-note"
EPOCH_BAR = "train-epoch-bar"
EPOCH_TEXT = "train-epoch-text"
BATCH_BAR = "train-batch-bar"
BATCH_TEXT = "train-batch-text"
SAVE = "model-save"
DOWNLOAD = "model-download"
LOAD = "model-load"
MODEL_MESSAGE = "model-message"

PUBLISH_S = 0.5      # snapshot + progress at most this often (each one redraws every panel)
STOP_CHECK_S = 0.05  # how often the job looks at the Stop flag
POLL_MS = 300        # how often the page asks for progress
STALE_MS = 3000      # a running run with no news for this long is re-read from the run cache


# -- data ----------------------------------------------------------------------------------
def load_data(config: dict, session_id: str) -> tuple[datasets.Dataset, dict]:
    """The data set a config names (CSV bytes come from the run cache) and its facts."""
    spec = config["dataset"]
    if spec["name"] == controls.CSV_OPTION:
        stored = runs.get_csv(session_id)
        if stored is None:
            raise ValueError("The uploaded CSV is no longer on the server; upload it again.")
        ds = datasets.load_csv(stored["bytes"], spec["label"], name=stored["filename"])
    else:
        ds = datasets.load(spec["name"], **spec.get("params", {}))
    facts = {"task": ds.task, "n_features": ds.n_features, "n_classes": ds.n_classes,
             "n_targets": 1 if ds.task == "classification" else int(ds.y.shape[1]),
             "class_names": list(ds.class_names), "feature_names": list(ds.feature_names)}
    return ds, facts


def prepare_targets(y: np.ndarray, facts: dict, loss: str, n_outputs: int) -> np.ndarray:
    """Targets in the form the loss wants: class indices (cce), a 0/1 column (bce
    with one output), one-hot rows (bce, mse on classes) or the values (regression)."""
    if facts["task"] != "classification":
        return y.astype(np.float32)
    if loss == "cce":
        return y
    if n_outputs == 1:
        return y.reshape(-1, 1).astype(np.float32)
    return datasets.one_hot(y, facts["n_classes"])


def split_and_scaler(ds: datasets.Dataset, config: dict) -> tuple[datasets.Split, datasets.Standardizer]:
    """The run's train/validation split and the Standardizer fitted on its training part."""
    split = datasets.train_val_test_split(ds, val_fraction=config["val_fraction"], test_fraction=0.0, seed=0)
    return split, datasets.Standardizer().fit(split.X_train)


def plot_points(ds: datasets.Dataset, config: dict, key: str) -> dict:
    """The run's training and validation points in original units and its standardiser
    (``to_dict()``): what the decision-regions panel draws (``runs.put_points``)."""
    split, scaler = split_and_scaler(ds, config)
    return {"dataset_key": key, "name": ds.name, "X_train": split.X_train, "y_train": split.y_train,
            "X_val": split.X_val, "y_val": split.y_val, "standardizer": scaler.to_dict()}


def prepare_arrays(ds: datasets.Dataset, facts: dict, config: dict, n_outputs: int) -> tuple:
    """Standardised (X_train, Y_train, validation_data or None)."""
    split, scaler = split_and_scaler(ds, config)
    loss = config["model"]["loss"]
    X_train = scaler.transform(split.X_train)
    Y_train = prepare_targets(split.y_train, facts, loss, n_outputs)
    val = None
    if len(split.X_val):
        val = (scaler.transform(split.X_val), prepare_targets(split.y_val, facts, loss, n_outputs))
    return X_train, Y_train, val


def _plain(value: Any) -> Any:
    """Numbers as floats, containers recursively: for comparing configs read back from files."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        return float(value)
    return value


def same_architecture(model_config: dict, kwargs: dict) -> bool:
    """True when a model built from ``kwargs`` would be the model described by ``model_config``."""
    return all(_plain(model_config.get(k)) == _plain(v) for k, v in kwargs.items())


def dataset_summary(name: str, facts: dict) -> dict:
    """The ``dataset`` entry of a snapshot: what the graph needs to label inputs and outputs."""
    return {"name": name, "task": facts.get("task"), "class_names": facts.get("class_names", []),
            "feature_names": facts.get("feature_names", [])}


def empty_history(classifier: bool) -> dict:
    history: dict[str, Any] = {"train_loss": [], "val_loss": [], "first_epoch": 1}
    if classifier:
        history.update(train_accuracy=[], val_accuracy=[])
    return history


def _join_history(before: dict, run: dict) -> dict:
    out = dict(before)
    for key in ("train_loss", "val_loss", "train_accuracy", "val_accuracy"):
        if key in run:
            out[key] = list(before.get(key, [])) + list(run[key])
    return out


# -- the training job ------------------------------------------------------------------------
def _same_snapshot(session_id: str) -> dict:
    """A SNAPSHOT_VERSION value that makes the panels re-read whatever snapshot is there.
    (Progress outputs cannot carry no_update.)"""
    return {"session": session_id, "version": runs.new_version()}


def _live(state: str, message: str, **extra: Any) -> dict:
    return {"state": state, "message": message, **extra}


# Per-batch matrix work (batch x fan-in x fan-out of the widest layer) below which the
# job multiplies on one BLAS thread: for such small products OpenBLAS's threads cost
# more than they save, and with the page's server and browser on the same cores a
# second thread mostly waits for a core (digits 64-64 ran up to 6x slower on 2).
BLAS_ONE_THREAD_WORK = 10_000_000


def blas_threads(layer_sizes: list[int], batch_size: int) -> int:
    """BLAS threads for the training job: one for small networks, else all cores but
    one (left to the server and the browser)."""
    work = batch_size * max((a * b for a, b in zip(layer_sizes[:-1], layer_sizes[1:])), default=0)
    return 1 if work < BLAS_ONE_THREAD_WORK else max(1, (os.cpu_count() or 1) - 1)


def _blas_limit(threads: int):
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: without it NumPy keeps its own thread count
        return contextlib.nullcontext()
    return threadpool_limits(limits=threads, user_api="blas")


# The training job's niceness. The page's own work is small and bursty (the refresh
# gate keeps redraws to about a third of the browser's main thread) but it is what the
# user waits for; the job wants one core for as long as it runs. At nice 0 the two
# share the cores evenly and every click answers ~1.5x slower while a run trains; at a
# higher niceness the page's bursts go first and the job still gets the core the page
# leaves free almost all the time.
JOB_NICENESS = 10


def _yield_to_the_page() -> None:
    """Raise this job process's niceness to JOB_NICENESS (never lower it: that needs privileges)."""
    try:
        if os.getpriority(os.PRIO_PROCESS, 0) < JOB_NICENESS:
            os.setpriority(os.PRIO_PROCESS, 0, JOB_NICENESS)
    except (AttributeError, OSError):  # not on this platform, or not allowed: run as is
        pass


def duration_text(seconds: float) -> str:
    """``"0.04 s"``, ``"3.2 s"``, ``"2 min 5 s"``."""
    if seconds < 1:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


def run_training(set_progress, session_id: str, config: dict) -> tuple[dict, Any]:
    """Train this tab's model as ``config`` says. Returns the final (live, snapshot version)."""
    started = time.perf_counter()  # the run as the user waits for it: data, model, training, saving
    runs.clear_stop(session_id)
    try:
        ds, facts = load_data(config, session_id)
    except datasets.DatasetUnavailableError as exc:
        return _live("error", str(exc)), _same_snapshot(session_id)
    n_inputs, n_outputs = facts["n_features"], controls.output_size(facts, config["model"]["loss"])
    kwargs = controls.ffnn_kwargs(config, n_inputs, n_outputs)
    key = controls.dataset_key(config["dataset"])

    stored = runs.get_model(session_id)
    model, history, note = None, None, "New model"
    if stored is not None and stored["dataset_key"] in (None, key):
        previous = FFNN.load(io.BytesIO(stored["bytes"]))
        if same_architecture(previous.config, kwargs):
            model, history = previous, stored["history"] or empty_history(previous.is_classifier)
            history.setdefault("first_epoch", previous.epochs_trained + 1)
            note = f"Continuing from epoch {previous.epochs_trained}"
    if model is None:
        model = FFNN(**kwargs)
        history = empty_history(model.is_classifier)
    X_train, Y_train, val = prepare_arrays(ds, facts, config, n_outputs)
    if facts["n_features"] <= 2:  # small: drawn by components.decision_regions
        runs.put_points(session_id, plot_points(ds, config, key))
    summary = dataset_summary(ds.name, facts)
    training = config["training"]
    epochs, batch_size = int(training["epochs"]), int(training["batch_size"])
    n_batches = math.ceil(len(X_train) / batch_size)
    offset = model.epochs_trained
    trace = loss_chart.BatchTrace()
    clock = {"start": time.perf_counter(), "published": 0.0, "stop_checked": 0.0, "samples": 0}
    stop: dict[str, Any] = {"requested": False}

    def publish(state: str, message: str, run_history: dict, epoch: int, batch: int) -> dict:
        snapshot = model.snapshot()
        snapshot.update(version=runs.new_version(), status=state, dataset=summary)
        version = runs.put_snapshot(session_id, snapshot)
        elapsed = time.perf_counter() - clock["start"]
        # The page gets the progress; the charts' history and batch trace (which grow
        # with the run) stay in the run cache, where the charts' callback reads them.
        live = _live(state, message, epoch=epoch, epochs=epochs, batch=batch, batches=n_batches,
                     epochs_trained=model.epochs_trained, elapsed=elapsed,
                     samples_per_s=clock["samples"] / elapsed if elapsed > 0 else 0.0,
                     charts=loss_chart.FROM_RUN_CACHE)
        runs.put_live(session_id, {**live, "history": _join_history(history, run_history),
                                   "batch_trace": trace.to_dict()})
        return live, {"session": session_id, "version": version}

    def on_event(m, logs):
        now = time.perf_counter()
        if logs["event"] == "batch":
            clock["samples"] += batch_size
            trace.add(offset + logs["epoch"] - 1 + logs["batch"] / logs["batches"], logs["loss"])
        if now - clock["stop_checked"] >= STOP_CHECK_S:
            clock["stop_checked"] = now
            asked = runs.stop_requested(session_id)
            if asked is not None:
                m.stop_training = True
                stop["requested"] = True
                stop["latency_s"] = max(time.time() - asked, 0.0)
        if now - clock["published"] >= PUBLISH_S:
            clock["published"] = now
            set_progress(publish("running", f"{note}: training", logs["history"], logs["epoch"], logs["batch"]))

    set_progress(publish("running", f"{note}: starting", {}, 0, 0))
    _yield_to_the_page()
    with _blas_limit(blas_threads(model.layer_sizes, batch_size)):
        run_history = model.fit(X_train, Y_train, batch_size=batch_size, learning_rate=training["learning_rate"],
                                epochs=epochs, verbose=0, validation_data=val, shuffle=True, seed=None,
                                callbacks=[on_event])
    reason = run_history.get("stop_reason")
    full = _join_history(history, run_history)
    buffer = io.BytesIO()
    model.save(buffer)
    runs.put_model(session_id, buffer.getvalue(), key, full,
                   filename=f"backprop-studio-{ds.name}-e{model.epochs_trained}.npz")
    elapsed = time.perf_counter() - started
    if stop["requested"]:
        state, message = "stopped", f"Stopped by you. {reason} The model keeps what it learned."
    elif reason:
        state, message = "diverged", reason
    else:
        done = len(run_history["train_loss"])
        state, message = "done", f"Trained {done} epoch{'s' if done != 1 else ''} in {duration_text(elapsed)}."
    live, version = publish(state, message, run_history, len(run_history["train_loss"]), n_batches)
    if stop["requested"]:
        live["stop_latency_s"] = stop["latency_s"]
        log.info("stop flag seen %.3f s after it was raised", stop["latency_s"])
    runs.clear_stop(session_id)
    return live, version


# -- layout -------------------------------------------------------------------------------------
def _bar(bar_id: str, text_id: str, label: str) -> html.Div:
    return html.Div([
        html.Div([html.Span(label, className="bar-label"), html.Span(id=text_id, className="bar-text")],
                 className="bar-head"),
        html.Div(html.Div(id=bar_id, className="bar-fill", style={"width": "0%"}), className="bar-track"),
    ], className="bar")


def layout() -> html.Div:
    """Buttons, progress, status, the charts, and the model file controls."""
    return html.Div([
        dcc.Store(id=LIVE), dcc.Store(id=RESULT), dcc.Store(id=RESYNC), dcc.Store(id=LATEST),
        dcc.Interval(id=WATCH, interval=STALE_MS // 2),
        dcc.Download(id=DOWNLOAD),
        html.Div([
            html.Fieldset([
                html.Button("Train", id=TRAIN, className="btn btn-primary", n_clicks=0,
                            disabled=controls.default_config() is None),
                html.Button("Reset", id=RESET, className="btn btn-ghost", n_clicks=0,
                            title="Forget the trained model; the next Train starts afresh"),
                html.Span(className="toolbar-gap"),
                html.Button("Save model", id=SAVE, className="btn btn-ghost", n_clicks=0),
                dcc.Upload(id=LOAD, children=html.Span("Load model"), className="btn btn-ghost upload-button",
                           accept=".npz", max_size=200_000_000),
            ], id=RUN_FIELDSET, className="toolbar-fieldset"),
            html.Button("Stop", id=STOP, className="btn btn-danger", n_clicks=0, disabled=True),
        ], className="toolbar"),
        html.Div([_bar(EPOCH_BAR, EPOCH_TEXT, "Epoch"), _bar(BATCH_BAR, BATCH_TEXT, "Batch")], className="bars"),
        html.Div([html.Div(id=STATUS, className="status", role="status"),
                  html.Div(id=STOP_NOTE, className="status-note")], className="status-row"),
        html.Div(id=MODEL_MESSAGE, className="model-message", role="status"),
        loss_chart.layout(),
    ], className="card training-card")


# -- callbacks ------------------------------------------------------------------------------------
# Train needs a valid config. The layout's own (seeded) config stands for the form's
# defaults, so it does not count while the tab restores edited form values.
dash.clientside_callback(
    """function(config) {
        if (!config) { return true; }
        if (config.%s) {
            const restored = Object.keys(window.sessionStorage || {}).some(k => k.indexOf('_dash_persistence.') === 0);
            return restored;
        }
        return false;
    }""" % controls.SEEDED,
    Output(TRAIN, "disabled"), Input(controls.CONFIG, "data"),
)


@dash.callback(
    Output(RESULT, "data"),
    Input(TRAIN, "n_clicks"), State(ids.SESSION, "data"), State(controls.CONFIG, "data"),
    background=True,
    progress=[Output(LIVE, "data"), Output(LATEST, "data")],
    running=[(Output(RUN_FIELDSET, "disabled"), True, False), (Output(STOP, "disabled"), False, True),
             (Output(TRAIN, "children"), "Training…", "Train")],
    interval=POLL_MS,
    prevent_initial_call=True,
)
def train(set_progress, n_clicks, session_id, config):
    """The Train button: run the engine in the background, reporting as it goes."""
    if not n_clicks:
        raise PreventUpdate
    if not runs.valid_session(session_id):
        set_progress([_live("error", "The page has no session yet; reload it."), None])
    elif not config:
        set_progress([_live("error", "Fix the fields marked in red first."), _same_snapshot(session_id)])
    else:
        try:
            set_progress(list(run_training(set_progress, session_id, config)))
        except (ValueError, ModelFileError) as exc:
            set_progress([_live("error", str(exc)), _same_snapshot(session_id)])
        except Exception as exc:  # the page shows a message, the log keeps the traceback
            log.error("training failed:\n%s", traceback.format_exc())
            set_progress([_live("error", f"Training failed: {type(exc).__name__}: {exc}"),
                          _same_snapshot(session_id)])
    return time.time()


@dash.callback(Output(STOP_NOTE, "children"), Input(STOP, "n_clicks"), State(ids.SESSION, "data"),
               prevent_initial_call=True)
def stop(n_clicks, session_id):
    """Raise the Stop flag; the job sees it within STOP_CHECK_S and halts after that batch."""
    if not n_clicks or not runs.valid_session(session_id):
        raise PreventUpdate
    runs.request_stop(session_id)
    return "Stopping…"


@dash.callback(Output(LIVE, "data", allow_duplicate=True), Output(ids.SNAPSHOT_VERSION, "data", allow_duplicate=True),
               Input(RESET, "n_clicks"), State(ids.SESSION, "data"), prevent_initial_call=True)
def reset(n_clicks, session_id):
    """Forget this tab's model: the next Train builds a new one."""
    if not n_clicks or not runs.valid_session(session_id):
        raise PreventUpdate
    runs.clear(session_id)
    return (_live("idle", "Reset. The next Train starts a new model."),
            {"session": session_id, "version": runs.new_version()})


# The run's snapshot versions reach the panels (and the charts) through this gate:
# at most every max(0.5 s, 3x the browser's last redraw time), never while the user
# is in the middle of doing something (see assets/refresh.js); the run's last one
# (done, stopped, failed) at once.
dash.clientside_callback(
    """function(latest, current, live) {
        return window.backpropRefresh.gate(latest, current, !live || live.state !== 'running');
    }""",
    Output(ids.SNAPSHOT_VERSION, "data", allow_duplicate=True),
    Input(LATEST, "data"), State(ids.SNAPSHOT_VERSION, "data"), State(LIVE, "data"),
    prevent_initial_call=True,
)


# Progress bars and the status line, drawn in the browser from the live state
# (no server round trip while the server is busy with the other panels). Values
# that did not change are not sent again: every output set costs the renderer a
# pass over the whole page's components.
dash.clientside_callback(
    """function(live) {
        const NU = window.dash_clientside.no_update;
        window.backpropLiveSeen = Date.now();
        if (!live) { return [NU, NU, NU, NU, NU, NU, NU]; }
        const last = window.backpropLiveShown = window.backpropLiveShown || {};
        const changed = (k, v) => {
            const key = JSON.stringify(v);
            if (last[k] === key) { return NU; }
            last[k] = key;
            return v;
        };
        const state = live.state || 'idle';
        const epoch = live.epoch || 0, epochs = live.epochs || 0;
        const batch = live.batch || 0, batches = live.batches || 0;
        const running = state === 'running';
        const pct = (part, whole) => whole ? (100 * Math.min(Math.max(part / whole, 0), 1)).toFixed(1) + '%' : '0%';
        let message = live.message || '';
        if (running && epochs) {
            const speed = Math.round(live.samples_per_s || 0).toLocaleString('en-US');
            message += ' · epoch ' + epoch + ' of ' + epochs + ' · ' + speed + ' samples/s';
        }
        const inEpoch = running && batches && batch !== batches;
        const overall = (inEpoch ? Math.max(epoch - 1, 0) + batch / batches : epoch);
        return [changed('status', message), changed('class', 'status status-' + state),
                changed('epochBar', {width: pct(overall, epochs)}), changed('epochText', epochs ? epoch + ' / ' + epochs : ''),
                changed('batchBar', {width: pct(batch, batches)}), changed('batchText', batches ? batch + ' / ' + batches : ''),
                running ? NU : ''];
    }""",
    Output(STATUS, "children"), Output(STATUS, "className"),
    Output(EPOCH_BAR, "style"), Output(EPOCH_TEXT, "children"),
    Output(BATCH_BAR, "style"), Output(BATCH_TEXT, "children"),
    Output(STOP_NOTE, "children", allow_duplicate=True),
    Input(LIVE, "data"), prevent_initial_call=True,
)


# If a run's progress stops arriving (a lost poll ends the renderer's polling for
# good), read the run's state from the run cache instead, until it ends.
dash.clientside_callback(
    """function(n, live) {
        const NU = window.dash_clientside.no_update;
        const seen = window.backpropLiveSeen || Date.now();
        return (live && live.state === 'running' && Date.now() - seen > %d) ? Date.now() : NU;
    }""" % STALE_MS,
    Output(RESYNC, "data"), Input(WATCH, "n_intervals"), State(LIVE, "data"), prevent_initial_call=True,
)


@dash.callback(
    Output(LIVE, "data", allow_duplicate=True), Output(ids.SNAPSHOT_VERSION, "data", allow_duplicate=True),
    Output(RUN_FIELDSET, "disabled"), Output(STOP, "disabled"), Output(TRAIN, "children"),
    Input(RESYNC, "data"), State(ids.SESSION, "data"), prevent_initial_call=True,
)
def resync(_, session_id):
    """The run's latest state from the run cache (and the buttons to match it)."""
    live = runs.get_live(session_id)
    if not live:
        raise PreventUpdate
    live = {**live, "resynced": time.time()}
    running = live.get("state") == "running"
    return (live, _same_snapshot(session_id), running, not running, "Training…" if running else "Train")


@dash.callback(
    Output(DOWNLOAD, "data"), Output(MODEL_MESSAGE, "children"), Output(LOAD, "contents"),
    Output(LIVE, "data", allow_duplicate=True), Output(ids.SNAPSHOT_VERSION, "data", allow_duplicate=True),
    Output(controls.ADOPT, "data"),
    Input(SAVE, "n_clicks"), Input(LOAD, "contents"),
    State(LOAD, "filename"), State(ids.SESSION, "data"), State(controls.CONFIG, "data"),
    prevent_initial_call=True,
)
def model_file(save_clicks, contents, filename, session_id, config):
    """Save: download this tab's model file. Load: inspect an uploaded one and adopt its architecture."""
    nothing = [no_update] * 6
    if not runs.valid_session(session_id):
        raise PreventUpdate
    if dash.ctx.triggered_id == SAVE:
        stored = runs.get_model(session_id)
        if stored is None:
            return [no_update, "Train or load a model first, then save it.", *nothing[2:]]
        return [dcc.send_bytes(stored["bytes"], stored["filename"]), f"Saved {stored['filename']}.", *nothing[2:]]
    if not contents:
        raise PreventUpdate
    try:
        data = base64.b64decode(contents.split(",", 1)[1])
        model = FFNN.load(io.BytesIO(data))
    except ModelFileError as exc:
        return [no_update, f"Could not load {filename}: {exc}", None, *nothing[3:]]
    except (ValueError, IndexError, AttributeError) as exc:
        return [no_update, f"Could not load {filename}: it is not a Backprop Studio model file ({exc}).", None,
                *nothing[3:]]
    history = empty_history(model.is_classifier)
    history["first_epoch"] = model.epochs_trained + 1
    runs.put_model(session_id, data, None, history, filename=filename or "model.npz")
    facts = {}
    if config and [config["io"]["n_inputs"], config["io"]["n_outputs"]] == [model.layer_sizes[0],
                                                                            model.layer_sizes[-1]]:
        try:
            facts = controls.dataset_facts(config["dataset"])
        except Exception:  # a CSV's facts need its upload; labels are optional
            facts = {}
    snapshot = model.snapshot()
    snapshot.update(version=runs.new_version(), status="loaded",
                    dataset=dataset_summary(config["dataset"]["name"] if facts else "", facts))
    version = runs.put_snapshot(session_id, snapshot)
    sizes = " → ".join(map(str, model.layer_sizes))
    message = f"Loaded {filename}: {sizes}, {model.epochs_trained} epochs trained. Train continues it."
    if not facts:
        message += (f" It takes {model.layer_sizes[0]} inputs and gives {model.layer_sizes[-1]} outputs: "
                    "choose a data set of that size to continue training it.")
    live = _live("loaded", message, history=history, epochs_trained=model.epochs_trained)
    adopt = {"form": controls.form_from_model_config(model.config), "version": version}
    return [no_update, message, None, live, {"session": session_id, "version": version}, adopt]


loss_chart.register(LIVE, ids.SNAPSHOT_VERSION)
