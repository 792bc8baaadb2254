"""Backprop Studio: build a neural network in a form, train it live, look inside.

    python app.py                      # http://127.0.0.1:8050 (HOST, PORT; DEBUG=1)

Embedded by default: training jobs run as Dash background callbacks on a
DiskcacheManager and the run cache is a filesystem cache, both under
$BACKPROP_STATE_DIR (default ./.cache/backprop-studio). With REDIS_URL set the
jobs run on Celery workers and the run cache lives in Redis:

    REDIS_URL=redis://127.0.0.1:6379/0 celery -A app:celery_app worker
    REDIS_URL=redis://127.0.0.1:6379/0 python app.py
"""
from __future__ import annotations

import json
import logging
import os

import dash
from dash import ClientsideFunction, Dash, Input, Output, State, dcc, html

from dashboard import ids, jobs, searches, store
from dashboard.panels import activations, alerts, architecture, conv, evaluation, experiments, form, health, histograms, \
    network, regions, sequences, timeline, trace, training
from engine import fused

REDIS_URL = os.environ.get("REDIS_URL") or None
celery_app = None


# Dash's managers read a job's progress and then delete it in two steps, so a
# progress update written in between is lost - fatal for the last one, which
# carries the end of a run. These read and delete in one step.
class DiskcacheManager(dash.DiskcacheManager):
    def get_progress(self, key):
        return self.handle.pop(self._make_progress_key(key), default=None)


class CeleryManager(dash.CeleryManager):
    def get_progress(self, key):
        pipe = self.handle.backend.client.pipeline(transaction=True)
        pipe.get(self._make_progress_key(key))
        pipe.delete(self._make_progress_key(key))
        data, _ = pipe.execute()
        return json.loads(data) if data else None


if REDIS_URL:
    from celery import Celery

    celery_app = Celery(__name__, broker=REDIS_URL, backend=REDIS_URL)
    background_manager = CeleryManager(celery_app)
    searches.register_task(celery_app)
else:
    import atexit

    import diskcache
    import multiprocess.util  # noqa: F401 - its exit handler (joining the jobs) must run after ours

    background_manager = DiskcacheManager(diskcache.Cache(str(store.state_dir() / "jobs")))
    atexit.register(jobs.stop_own_jobs)

app = Dash(__name__, title="Backprop Studio", background_callback_manager=background_manager,
           update_title=None, suppress_callback_exceptions=False, on_error=alerts.on_callback_error)
server = app.server
# Every request is refused (413) before its body is read past this size: an upload arrives
# base64-encoded inside a callback's JSON, so the largest file a box takes (a 100 MB model)
# needs about 134 MB; anything larger was not sent by the page.
MAX_REQUEST_BYTES = 150_000_000
server.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
store.init_app(server, REDIS_URL)
# The optimisers' fused kernels (when Numba is installed) load once here, before any training
# job forks from this process or from a Celery worker's, so that no job's first step waits for them.
fused.warm()


def header() -> html.Header:
    return html.Header([
        html.Div([
            html.Div("∂", className="logo"),
            html.Div([html.H1("Backprop Studio"),
                      html.P("Build a network, train it live, and look inside.", className="tagline")]),
        ], className="brand"),
        html.Div("Celery + Redis" if REDIS_URL else "embedded", className="mode-badge",
                 title="Where training jobs run"),
    ], className="app-header")


def serve_layout() -> html.Div:
    return html.Div([
        dcc.Store(id=ids.SESSION, storage_type="session"),
        dcc.Store(id=ids.SNAPSHOT_VERSION), *(dcc.Store(id=ids.panel_version(p)) for p in ids.PANELS),
        dcc.Store(id=ids.STEP), dcc.Store(id=ids.TRACE),
        header(),
        alerts.layout(),
        html.Main([
            html.Aside(form.layout(), className="sidebar"),
            html.Div([
                training.layout(),
                architecture.layout(),
                regions.layout(),
                network.layout(),
                trace.layout(),
                conv.layout(),
                sequences.layout(),
                histograms.layout(),
                activations.layout(),
                timeline.layout(),
                health.layout(),
                evaluation.layout(),
                experiments.layout(),
            ], className="workspace"),
        ], className="app-main"),
    ], className="app")


app.layout = serve_layout

# The tab's session id: made in the browser on first load, kept in sessionStorage.
dash.clientside_callback(ClientsideFunction("backprop", "session"), Output(ids.SESSION, "data"),
                         Input(ids.SESSION, "modified_timestamp"), State(ids.SESSION, "data"))


# Every new snapshot version goes to the panels on screen (assets/visibility.js).
dash.clientside_callback(ClientsideFunction("backprop", "deliver"), Output(ids.SNAPSHOT_VERSION, "id"),
                         Input(ids.SNAPSHOT_VERSION, "data"), prevent_initial_call=True)


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    host = os.environ.get("HOST", "127.0.0.1")
    port = os.environ.get("PORT", "8050")
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise SystemExit(f"PORT must be a whole number from 1 to 65535 (got {port!r})")
    app.run(host=host, port=int(port), debug=os.environ.get("DEBUG") == "1")


if __name__ == "__main__":
    main()
