"""Train, Stop, Reset, the progress bars and status, and the model files: Save, Load
a saved model, Load Keras weights.

Train runs ``dashboard.jobs.run`` in a Dash background callback (a subprocess with
the embedded DiskcacheManager, a Celery task with REDIS_URL); its progress outputs
carry the run's live state and snapshot versions to the page.

Loading a file (the engine's ``.npz``, or Keras weights for the stack in the form)
stores it as the tab's model, so Train continues it; the form adopts a loaded file's
spec (``ADOPT``), and when its data set is known the page shows its validation
metrics (accuracy and macro F1 for classifiers) and the samples the panels draw.
"""
from __future__ import annotations

import base64
import io
import logging
import os
import tempfile
import time
import traceback
from typing import Callable, Optional

import dash
from dash import ClientsideFunction, Input, Output, State, dcc, html, no_update
from dash.exceptions import PreventUpdate

from engine import KerasWeightsError, ModelFileError, Sequential, datasets, load_keras_weights

from .. import data as data_mod
from .. import control, ids, jobs, records, spec as spec_mod, store, workers
from . import charts, form, network, trace

log = logging.getLogger(__name__)

# -- ids ------------------------------------------------------------------------------
LIVE = "train-live"              # dcc.Store: the run's live state (dashboard.jobs.live)
RESULT = "train-result"          # dcc.Store: when the last run ended. Everything the page shows goes through
                                 # the progress outputs: the renderer holds back callbacks downstream of a
                                 # running callback's own outputs, so LIVE and LATEST must not be one.
LATEST = "snapshot-latest"       # dcc.Store: the run's newest snapshot version; assets/refresh.js forwards it to
                                 # ids.SNAPSHOT_VERSION (the panels' trigger) at a pace the browser keeps up with
TRAIN = "train-button"
TRAIN_PRESS = "train-press"      # dcc.Store: a Train press with the form's config, once the form has checked it
TRAIN_GO = "train-go"            # dcc.Store: set when a Train press may send its job (a worker will run it)
STOP = "stop-button"
PAUSE = "pause-button"           # Pause while a run trains, Resume while it is paused
STEP = "step-button"             # one batch: halts a running run, steps a paused one, starts one halted
SLOW = "slow-motion"             # dcc.Dropdown: seconds of pause after every batch
START_HALTED = "train-start-halted"  # dcc.Store: set by Step with no run on; the browser then presses Train
CONTROL_NOTE = "train-control-note"
RESET = "reset-button"
RUN_FIELDSET = "train-fieldset"  # disabled while a run is on: Train, Reset, Save, Load
WATCH = "train-watch"            # dcc.Interval: looks for a run whose progress stopped arriving
RESYNC = "train-resync"          # dcc.Store: set when the page should re-read the run's state
STATUS = "train-status"
STOP_NOTE = "train-stop-note"
METRICS = "train-metrics"
EPOCH_BAR = "train-epoch-bar"
EPOCH_TEXT = "train-epoch-text"
BATCH_BAR = "train-batch-bar"
BATCH_TEXT = "train-batch-text"
SAVE = "model-save"
DOWNLOAD = "model-download"
LOAD = "model-load"
KERAS = "keras-load"
MODEL_MESSAGE = "model-message"

POLL_MS = 300        # how often the page asks for progress
HALT_WAIT_S = 2.0    # Pause and Step wait this long for the job to halt, then leave it to the progress poll
STALE_MS = 3000      # a running run with no news for this long is re-read (assets/clientside.js: watch)
KERAS_SUFFIXES = (".weights.h5", ".keras")
MAX_MODEL_UPLOAD = 100_000_000   # bytes a model or Keras file may have (assets/uploads.js says the same)


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
                            disabled=False),
                html.Button("Reset", id=RESET, className="btn btn-ghost", n_clicks=0,
                            title="Forget the trained model; the next Train starts afresh"),
                html.Span(className="toolbar-gap"),
                html.Button("Save model", id=SAVE, className="btn btn-ghost", n_clicks=0),
                dcc.Upload(id=LOAD, children=html.Span("Load model"), className="btn btn-ghost upload-button",
                           accept=".npz", max_size=MAX_MODEL_UPLOAD),
                dcc.Upload(id=KERAS, children=html.Span("Load Keras weights"),
                           className="btn btn-ghost upload-button", accept=".h5,.keras", max_size=MAX_MODEL_UPLOAD),
            ], id=RUN_FIELDSET, className="toolbar-fieldset"),
            html.Div([
                html.Button("Pause", id=PAUSE, className="btn btn-ghost", n_clicks=0, disabled=True,
                            title="Halt after the current batch, keeping the run and its optimiser state"),
                html.Button("Step", id=STEP, className="btn btn-ghost", n_clicks=0,
                            title="Train one batch, then halt (starts a run when none is on)"),
                html.Button("Stop", id=STOP, className="btn btn-danger", n_clicks=0, disabled=True),
                html.Label([html.Span("Slow motion", className="slow-label"),
                            dcc.Dropdown(id=SLOW, options=[{"label": "off" if d == 0 else f"{d:g} s a batch", "value": d}
                                                           for d in control.SLOW_MOTION_S],
                                         value=0.0, clearable=False, searchable=False, className="slow-select")],
                           className="slow-motion", title="A pause after every batch, to watch the graph move")
            ], className="run-controls"),
        ], className="toolbar"),
        dcc.Store(id=START_HALTED), dcc.Store(id=TRAIN_PRESS), dcc.Store(id=TRAIN_GO),
        html.Div([_bar(EPOCH_BAR, EPOCH_TEXT, "Epoch"), _bar(BATCH_BAR, BATCH_TEXT, "Batch")], className="bars"),
        html.Div([html.Div(id=STATUS, className="status", role="status"),
                  html.Div(id=STOP_NOTE, className="status-note")], className="status-row"),
        html.Div(id=CONTROL_NOTE, className="status-note control-note", role="status"),
        html.Div(id=METRICS, className="metrics", role="status"),
        html.Div(id=MODEL_MESSAGE, className="model-message", role="status"),
        charts.layout(),
    ], className="card training-card")


# -- callbacks ------------------------------------------------------------------------------------
def _same_snapshot(session_id: str) -> dict:
    """A SNAPSHOT_VERSION value that makes the panels re-read whatever snapshot is there.
    (Progress outputs cannot carry no_update.)"""
    return {"session": session_id, "version": store.new_version()}


# Train needs a valid spec.
dash.clientside_callback(ClientsideFunction("backprop", "trainDisabled"), Output(TRAIN, "disabled"),
                         Input(form.CONFIG, "data"))


# A Train press takes the form's config with it. The config is an Input here, not a State:
# Dash holds a callback back while another one that writes one of its Inputs is on its way,
# but not for its States, so a press right after typing would otherwise read the config
# from before the typed value was checked (and train, say, 30 epochs instead of 2000).
# A change of the config alone does nothing (assets/clientside.js: pressed).
dash.clientside_callback(ClientsideFunction("backprop", "pressed"), Output(TRAIN_PRESS, "data"),
                         Input(TRAIN, "n_clicks"), Input(form.CONFIG, "data"), prevent_initial_call=True)


@dash.callback(Output(TRAIN_GO, "data"), Output(LIVE, "data", allow_duplicate=True),
               Input(TRAIN_PRESS, "data"), prevent_initial_call=True)
def send(press):
    """A Train press sends its job only when something will run it (in Celery mode, a
    worker answers) and there is room for its files; else the page says why, and stays
    free. The job trains the config the press carries: the form's, with every value typed
    before the press checked."""
    if not isinstance(press, dict) or not press.get("n"):
        raise PreventUpdate
    spec = press.get("config")
    if not spec:
        return no_update, jobs.live("error", "Fix the fields marked in red first.")
    why = store.space_problem() or workers.missing()
    if why:
        return no_update, jobs.live("error", why)
    return {"at": time.time(), "spec": spec}, no_update


@dash.callback(
    Output(RESULT, "data"),
    Input(TRAIN_GO, "data"), State(ids.SESSION, "data"),
    background=True,
    progress=[Output(LIVE, "data"), Output(LATEST, "data")],
    # Pause is not among these: it is enabled by the run's first progress (progress below), when
    # the job has its controls and a press can halt it, not while the job is still starting.
    running=[(Output(RUN_FIELDSET, "disabled"), True, False), (Output(STOP, "disabled"), False, True),
             (Output(TRAIN, "children"), "Training…", "Train")],
    interval=POLL_MS,
    prevent_initial_call=True,
)
def train(set_progress, go, session_id):
    """The Train button, once ``send`` let it go with the form's config as it was at the press
    (Step presses Train when no run is on, asking the run to halt after its first batch): run
    the engine in the background, reporting as it goes."""
    if not go:
        raise PreventUpdate
    spec = go.get("spec") if isinstance(go, dict) else None
    if not store.valid_session(session_id):
        set_progress([jobs.live("error", "The page has no session yet; reload it."), None])
    elif not spec:
        set_progress([jobs.live("error", "Fix the fields marked in red first."), _same_snapshot(session_id)])
    else:
        try:
            spec = spec_mod.recheck(spec, _csv_meta(session_id, spec))
            set_progress(list(jobs.run(set_progress, session_id, spec)))
        except (ValueError, ModelFileError, datasets.DatasetUnavailableError) as exc:
            set_progress([jobs.live("error", str(exc)), _same_snapshot(session_id)])
        except Exception as exc:  # the page shows a message, the log keeps the traceback
            log.error("training failed:\n%s", traceback.format_exc())
            why = store.storage_failure(exc)
            set_progress([jobs.live("error", f"Training stopped: {why}" if why else
                                    f"Training failed: {type(exc).__name__}: {exc}"), _same_snapshot(session_id)])
    return time.time()


@dash.callback(Output(STOP_NOTE, "children"), Input(STOP, "n_clicks"), State(ids.SESSION, "data"),
               prevent_initial_call=True)
def stop(n_clicks, session_id):
    """Raise the Stop flag; the job sees it within STOP_CHECK_S and halts after that batch."""
    if not n_clicks or not store.valid_session(session_id):
        raise PreventUpdate
    store.request_stop(session_id)
    return "Stopping…"


def _csv_meta(session_id: str, spec: dict) -> Optional[dict]:
    """What the server knows of the tab's uploaded CSV, for a CSV spec (else None)."""
    data = spec.get("data") if isinstance(spec, dict) else None
    if not isinstance(data, dict) or data.get("name") != data_mod.CSV_OPTION:
        return None
    stored = store.get_csv(session_id)
    if stored is None:
        return {"filename": data.get("filename"), "error": "Upload the CSV again (it is no longer on the server)"}
    return form.csv_facts(stored["bytes"], stored["filename"], data.get("label"))


def _run_on(session_id: str) -> Optional[dict]:
    """The tab's live state when a run is on (training or halted), else None."""
    live = store.get_live(session_id)
    return live if live and live.get("state") == "running" else None


def _halted_state(session_id: str, done: Callable[[dict], bool]):
    """The run's live state and snapshot version once ``done(live)`` holds (the job halted,
    or stepped), for the page to show at once rather than at its next progress poll;
    no_update for both when the job takes longer than ``HALT_WAIT_S``."""
    deadline = time.monotonic() + HALT_WAIT_S
    while time.monotonic() < deadline:
        live = store.get_live(session_id)
        if live and (done(live) or live.get("state") != "running"):
            shown = jobs.page_live(live)
            # The job's own version of the halted snapshot: when its progress brings the same
            # one, the refresh gate sees nothing new and the panels do not redraw twice.
            version = live.get("snapshot_version")
            return shown, ({"session": session_id, "version": version} if version else _same_snapshot(session_id))
        time.sleep(0.01)
    return no_update, no_update


CONTROL_OUTPUTS = (Output(CONTROL_NOTE, "children", allow_duplicate=True),
                   Output(LIVE, "data", allow_duplicate=True),
                   Output(ids.SNAPSHOT_VERSION, "data", allow_duplicate=True))


@dash.callback(*CONTROL_OUTPUTS, Input(PAUSE, "n_clicks"), Input(network.GRAPH_PAUSE, "n_clicks"),
               State(ids.SESSION, "data"), prevent_initial_call=True)
def pause(n_clicks, graph_clicks, session_id):
    """Pause a training run after its current batch; Resume a halted one."""
    if not (n_clicks or graph_clicks) or not store.valid_session(session_id):
        raise PreventUpdate
    live = _run_on(session_id)
    if live is None:
        return "No run is on: Train starts one, Step trains one batch.", no_update, no_update
    if live.get("paused"):
        store.update_control(session_id, paused=False)
        return "Resumed.", no_update, no_update
    store.update_control(session_id, paused=True)
    return ("Paused.", *_halted_state(session_id, lambda now: bool(now.get("paused"))))


@dash.callback(*CONTROL_OUTPUTS, Output(START_HALTED, "data"), Output(ids.TRACE, "data", allow_duplicate=True),
               Output(trace.MODE, "value"),
               Input(STEP, "n_clicks"), Input(network.GRAPH_STEP, "n_clicks"), State(ids.SESSION, "data"),
               State(form.CONFIG, "data"), State(ids.TRACE, "data"), prevent_initial_call=True)
def step(n_clicks, graph_clicks, session_id, spec, traced):
    """Step: train one batch. A halted run trains its next batch and halts again; a
    running one halts after its current batch; with no run on, a run starts and halts
    after its first batch. The page shows the step as soon as the job has made it; a
    traced sample switches to the step view (each weight before and after)."""
    if not (n_clicks or graph_clicks) or not store.valid_session(session_id):
        raise PreventUpdate
    unchanged = (no_update, no_update)
    live = _run_on(session_id)
    if live is None:
        if not spec:
            return "Fix the fields marked in red first.", no_update, no_update, no_update, *unchanged
        store.update_control(session_id, start_halted=time.time())
        return "Starting a run that halts after one batch…", no_update, no_update, time.time(), *unchanged
    if not live.get("paused"):
        store.update_control(session_id, paused=True)
        return ("Paused.", *_halted_state(session_id, lambda now: bool(now.get("paused"))), no_update, *unchanged)
    done = int(live.get("batches_done") or 0)
    steps = int(store.get_control(session_id).get("steps") or 0) + 1
    store.update_control(session_id, steps=steps)
    shown = _halted_state(session_id, lambda now: bool(now.get("paused")) and now.get("batches_done", 0) > done)
    step_view = ({**traced, "mode": "step"}, "step") if traced and traced.get("session") == session_id \
        else unchanged
    return (f"Trained batch {done + 1} of the run.", *shown, no_update, *step_view)


@dash.callback(Output(CONTROL_NOTE, "children", allow_duplicate=True), Input(form.CONFIG, "data"),
               Input(SLOW, "value"), State(ids.SESSION, "data"), prevent_initial_call=True)
def live_settings(spec, delay, session_id):
    """While a run is on, a new learning rate, L1 or L2 in the form (and the slow-motion
    pause) apply from its next batch; the loss chart marks where."""
    if not store.valid_session(session_id):
        raise PreventUpdate
    if dash.ctx.triggered_id == SLOW:
        delay = float(delay) if delay in control.SLOW_MOTION_S else 0.0
        store.update_control(session_id, delay_s=delay)
        return f"Slow motion: {delay:g} s after every batch." if delay else "Slow motion off."
    live = _run_on(session_id)
    if live is None or not spec:
        raise PreventUpdate
    settings = {"learning_rate": spec["training"]["learning_rate"], "l1": spec["model"].get("l1", 0.0),
                "l2": spec["model"].get("l2", 0.0)}
    settings = {k: v for k, v in settings.items() if control.valid_setting(k, v)}
    store.update_control(session_id, **settings)      # the job applies what differs from the run's own
    changed = {k: v for k, v in settings.items() if live.get(k) is not None and float(live[k]) != float(v)}
    if not changed:
        raise PreventUpdate
    words = ", ".join(f"{control.SETTINGS[k]} {v:g}" for k, v in changed.items())
    return f"{words[0].upper()}{words[1:]}: applies to this run from its next batch."


@dash.callback(Output(LIVE, "data", allow_duplicate=True), Output(ids.SNAPSHOT_VERSION, "data", allow_duplicate=True),
               Input(RESET, "n_clicks"), State(ids.SESSION, "data"), prevent_initial_call=True)
def reset(n_clicks, session_id):
    """Forget this tab's model: the next Train builds a new one."""
    if not n_clicks or not store.valid_session(session_id):
        raise PreventUpdate
    store.clear(session_id)
    return (jobs.live("idle", "Reset. The next Train starts a new model."),
            {"session": session_id, "version": store.new_version()})


# The run's snapshot versions reach the panels (and the charts) through this gate:
# at most every max(1 s, 4x the browser's last redraw time), never while the user
# is in the middle of doing something (see assets/refresh.js); the run's last one
# (done, stopped, failed) at once.
dash.clientside_callback(
    ClientsideFunction("backprop", "gate"),
    Output(ids.SNAPSHOT_VERSION, "data", allow_duplicate=True),
    Input(LATEST, "data"), State(ids.SNAPSHOT_VERSION, "data"), State(LIVE, "data"),
    prevent_initial_call=True,
)


# Progress bars, the status line and the Pause button, drawn in the browser from the live
# state (no server round trip while the server is busy with the other panels). One callback
# for all of them: each callback run costs the renderer a few passes over the whole page's
# components, twice a second while a run trains. Values that did not change are not sent
# again. The Pause button reads Resume while the run is halted, and is enabled only while a
# run is on (the job publishes its first progress once its controls are set: a press before
# that would find no run to halt).
dash.clientside_callback(
    ClientsideFunction("backprop", "progress"),
    Output(STATUS, "children"), Output(STATUS, "className"),
    Output(EPOCH_BAR, "style"), Output(EPOCH_TEXT, "children"),
    Output(BATCH_BAR, "style"), Output(BATCH_TEXT, "children"),
    Output(STOP_NOTE, "children", allow_duplicate=True), Output(METRICS, "children"),
    Output(PAUSE, "children"), Output(PAUSE, "className"), Output(network.GRAPH_PAUSE, "children"),
    Output(network.GRAPH_PAUSE, "disabled"), Output(PAUSE, "disabled"),
    Output(CONTROL_NOTE, "children", allow_duplicate=True),
    Input(LIVE, "data"), prevent_initial_call=True,
)


# Step with no run on presses Train as a user would (a run started from a callback's output
# would leave the renderer holding back the panels' callbacks until it ends).
dash.clientside_callback(ClientsideFunction("backprop", "pressTrain"), Output(START_HALTED, "id"),
                         Input(START_HALTED, "data"), prevent_initial_call=True)


# If a run's progress stops arriving (a lost poll ends the renderer's polling for
# good), read the run's state from the run cache instead, until it ends.
dash.clientside_callback(
    ClientsideFunction("backprop", "watch"),
    Output(RESYNC, "data"), Input(WATCH, "n_intervals"), State(LIVE, "data"), prevent_initial_call=True,
)


@dash.callback(
    Output(LIVE, "data", allow_duplicate=True), Output(ids.SNAPSHOT_VERSION, "data", allow_duplicate=True),
    Output(RUN_FIELDSET, "disabled"), Output(STOP, "disabled"), Output(TRAIN, "children"),
    Input(RESYNC, "data"), State(ids.SESSION, "data"), prevent_initial_call=True,
)
def resync(_, session_id):
    """The run's latest state from the run cache (and the buttons to match it). A run
    whose job stopped saying it is alive (killed, out of memory, its worker gone) is
    marked failed, with what it kept."""
    live = store.get_live(session_id)
    if not live:
        raise PreventUpdate
    running = live.get("state") == "running"
    beat = store.run_beat(session_id)
    if running and (beat is None or time.time() - beat > jobs.DEAD_S):
        live = _lost(session_id, live, beat)
        running = False
    elif running and live.get("paused"):
        raise PreventUpdate          # halted and alive: the page shows it already
    live = {**live, "resynced": time.time()}
    return (live, _same_snapshot(session_id), running, not running, "Training…" if running else "Train")


def _lost(session_id: str, live: dict, beat: Optional[float]) -> dict:
    """Mark the tab's run failed: its job has been silent for longer than DEAD_S."""
    silent = f"{time.time() - beat:.0f} s" if beat else "ever since it started"
    stored = store.get_model(session_id)
    kept = (f" The model keeps what was saved during the run ({stored['filename']}); Train continues it."
            if stored else " Nothing of it was saved.")
    message = (f"The training job stopped without a word (its process ended: killed, out of memory, or its worker "
               f"went away); it has been silent for {silent}.{kept}")
    disk = store.space_problem()
    if disk:
        message += f" {disk}"
    lost = {**{k: v for k, v in live.items() if k not in ("paused",)}, "state": "failed", "message": message}
    try:
        store.put_live(session_id, lost)
    except store.StorageError:
        log.warning("could not store the lost run's state for session %s", session_id)
    run_id = live.get("run_id")
    if run_id is not None:
        try:
            records.finish_run(int(run_id), state="failed", message=message, history=live.get("history"))
        except Exception:  # noqa: BLE001 - the page must still be freed
            log.exception("could not mark run %s failed", run_id)
    return jobs.page_live(lost)


@dash.callback(
    Output(LIVE, "data", allow_duplicate=True), Output(ids.SNAPSHOT_VERSION, "data", allow_duplicate=True),
    Output(form.ADOPT, "data", allow_duplicate=True), Output(RESYNC, "data", allow_duplicate=True),
    Input(ids.SESSION, "data"), State(form.ADOPT, "data"), prevent_initial_call="initial_duplicate",
)
def restore(session_id, adopted):
    """A reloaded tab finds its session as it left it: the model and the panels drawn from
    it, the form set to its network, and a run still on re-attached (the page then follows
    it from the run cache: ``resync``)."""
    if not store.valid_session(session_id):
        raise PreventUpdate
    live, stored = store.get_live(session_id), store.get_model(session_id)
    if live is None and stored is None:
        raise PreventUpdate
    shown = jobs.page_live(live or {})
    adopt = no_update
    if stored is not None:
        try:
            kept = Sequential.load(io.BytesIO(stored["bytes"])).metadata.get("spec")
        except ModelFileError:
            kept = None
        if isinstance(kept, dict):
            version = store.new_version()
            adopt = {"form": spec_mod.form_from_spec(kept, (adopted or {}).get("form")), "version": version}
    running = bool(live) and live.get("state") == "running"
    if not shown:
        shown = jobs.live("loaded", f"{stored['filename']}: the tab's model. Train continues it.")
    return (shown, _same_snapshot(session_id) if store.get_snapshot(session_id) else no_update, adopt,
            time.time() if running else no_update)


# -- model files ---------------------------------------------------------------------------------------
def _decode(contents: str) -> bytes:
    return base64.b64decode(contents.split(",", 1)[1])


def adopt_model(session_id: str, model: Sequential, model_spec: dict, filename: str, key: Optional[str],
                history: dict, status: str) -> tuple[dict, dict, str]:
    """Make ``model`` this tab's model: store its file, a snapshot and (when its data set
    is known) the probe, and measure it on its validation split. Returns the live state,
    the snapshot version and a sentence of metrics (empty when there are none)."""
    summary, found, probe = {}, {}, None
    if model_spec.get("data"):
        prepared = jobs.load_prepared(model_spec, session_id)
        summary, probe = prepared.summary, prepared.probe
        if prepared.validation is not None:
            found = jobs.metrics(model, prepared.validation[0], prepared.y_val)
    store.put_model(session_id, jobs.model_bytes(model, model_spec, history, summary), key, history,
                    filename=filename)
    if probe is not None:
        store.put_probe(session_id, {**probe, "dataset_key": key})
    snapshot = model.snapshot()
    snapshot.update(version=store.new_version(), status=status, dataset=summary, spec=model_spec, l1=model.l1,
                    l2=model.l2)
    version = store.put_snapshot(session_id, snapshot)
    text = jobs.metrics_text(found)
    live = jobs.live(status, "", history=history, epochs_trained=model.epochs_trained, metrics=found)
    return live, {"session": session_id, "version": version}, text


def _architecture_text(model: Sequential) -> str:
    return " → ".join(layer.describe() for layer in model.layers)


@dash.callback(
    Output(DOWNLOAD, "data"), Output(MODEL_MESSAGE, "children"), Output(LOAD, "contents"),
    Output(LIVE, "data", allow_duplicate=True), Output(ids.SNAPSHOT_VERSION, "data", allow_duplicate=True),
    Output(form.ADOPT, "data"),
    Input(SAVE, "n_clicks"), Input(LOAD, "contents"),
    State(LOAD, "filename"), State(ids.SESSION, "data"), State(form.CONFIG, "data"), State(form.ADOPT, "data"),
    prevent_initial_call=True,
)
def model_file(save_clicks, contents, filename, session_id, config, adopted):
    """Save: download this tab's model file. Load: read an uploaded one, make it the
    tab's model and have the form take on its spec."""
    nothing = [no_update] * 6
    if not store.valid_session(session_id):
        raise PreventUpdate
    if dash.ctx.triggered_id == SAVE:
        stored = store.get_model(session_id)
        if stored is None:
            return [no_update, "Train or load a model first, then save it.", *nothing[2:]]
        return [dcc.send_bytes(stored["bytes"], stored["filename"]), f"Saved {stored['filename']}.", *nothing[2:]]
    if not contents:
        raise PreventUpdate
    filename = filename or "model.npz"
    try:
        model = Sequential.load(io.BytesIO(_decode(contents)))
    except ModelFileError as exc:
        return [no_update, f"Could not load {filename}: {exc}", None, *nothing[3:]]
    except (ValueError, IndexError, AttributeError) as exc:
        return [no_update, f"Could not load {filename}: it is not a Backprop Studio model file ({exc}).", None,
                *nothing[3:]]
    model_spec = spec_mod.spec_from_model(model)
    history = model.metadata.get("history") if isinstance(model.metadata.get("history"), dict) else None
    history = history or jobs.empty_history(model.is_classifier, model.epochs_trained + 1)
    key = data_mod.dataset_key(model_spec["data"]) if model_spec.get("data") else None
    try:
        live, version, metrics = adopt_model(session_id, model, model_spec, filename, key, history, "loaded")
    except (ValueError, OSError, datasets.DatasetUnavailableError) as exc:
        return [no_update, f"Could not load {filename}: its data set cannot be read ({exc}).", None, *nothing[3:]]
    message = (f"Loaded {filename}: {_architecture_text(model)}, {model.epochs_trained} epochs trained. "
               f"Train continues it.")
    if not model_spec.get("data"):
        message += (f" The file does not say which data it learned from; it takes {model.input_shape} and gives "
                    f"{model.output_shape}: choose a data set of those sizes to continue training it.")
    base = spec_mod.form_from_spec(model_spec, (adopted or {}).get("form"))
    checked = spec_mod.check(base, _csv_meta(session_id, model_spec) if model_spec.get("data") else None)
    if checked.spec is None and model_spec.get("data"):
        message = message.replace("Train continues it.", (
            f"The form cannot train it as it is ({checked.first_error()}), so Train would not continue it; "
            f"Save model and the panels keep it."))
    live["message"] = message
    return [no_update, message, None, live, version, {"form": base, "version": version["version"]}]


def _keras_path(filename: str) -> Optional[str]:
    name = (filename or "").lower()
    return next((suffix for suffix in KERAS_SUFFIXES if name.endswith(suffix)), None)


@dash.callback(
    Output(MODEL_MESSAGE, "children", allow_duplicate=True), Output(KERAS, "contents"),
    Output(LIVE, "data", allow_duplicate=True), Output(ids.SNAPSHOT_VERSION, "data", allow_duplicate=True),
    Input(KERAS, "contents"), State(KERAS, "filename"), State(ids.SESSION, "data"), State(form.CONFIG, "data"),
    prevent_initial_call=True,
)
def keras_weights(contents, filename, session_id, config):
    """Load Keras weights into the stack the form describes, measure it, keep it."""
    if not contents or not store.valid_session(session_id):
        raise PreventUpdate
    suffix = _keras_path(filename)
    if suffix is None:
        return (f"Could not load {filename}: Keras weights come in a .weights.h5 file (model.save_weights) "
                f"or a .keras file (model.save).", None, no_update, no_update)
    if not config:
        return "Fix the fields marked in red first: the weights load into the stack in the form.", None, \
            no_update, no_update
    model = spec_mod.build_model(config)
    handle, path = tempfile.mkstemp(suffix=suffix)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(_decode(contents))
        load_keras_weights(model, path)
    except KerasWeightsError as exc:
        return f"Could not load {filename} into this stack: {exc}", None, no_update, no_update
    except (ValueError, OSError, IndexError) as exc:
        return f"Could not load {filename}: {exc}", None, no_update, no_update
    finally:
        os.unlink(path)
    key = data_mod.dataset_key(config["data"])
    history = jobs.empty_history(model.is_classifier)
    try:
        live, version, metrics = adopt_model(session_id, model, config, "backprop-studio-keras.npz", key, history,
                                             "loaded")
    except (ValueError, OSError, datasets.DatasetUnavailableError) as exc:
        return f"Loaded the weights, but the data set cannot be read: {exc}", None, no_update, no_update
    message = f"Loaded Keras weights from {filename} into {_architecture_text(model)}. {metrics} Train continues it."
    live["message"] = message
    return message, None, live, version


charts.register(LIVE, ids.panel_version("charts"))
