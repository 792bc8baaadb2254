"""The page's alert line: what the server says when a request fails in a way no panel
foresaw. Every callback's exception reaches ``on_callback_error`` (``Dash(on_error=...)``),
so the browser gets an answer and a sentence instead of an HTTP 500 and silence: a disk
or store that refuses writes is named as such (``dashboard.store.storage_failure``); any
other fault is named by its type, and the log keeps the traceback. Nothing on the page
changes besides the alert: the form, the model and the panels stay as they were.
"""
from __future__ import annotations

import logging
import time

import dash
from dash import Input, Output, dcc, html

from .. import store

log = logging.getLogger(__name__)

ALERT = "server-alert"            # the alert line (hidden while empty)
ALERT_TEXT = "server-alert-text"
ALERT_CLOSE = "server-alert-close"
ALERT_AT = "server-alert-at"      # dcc.Store: when the alert was last raised (tests read it)


def layout() -> html.Div:
    return html.Div([
        html.Span(id=ALERT_TEXT, className="server-alert-text"),
        html.Button("Dismiss", id=ALERT_CLOSE, className="btn btn-ghost server-alert-close", n_clicks=0),
        dcc.Store(id=ALERT_AT),
    ], id=ALERT, className="server-alert", role="alert", hidden=True)


def alert_text(exc: BaseException) -> str:
    """The sentence the page shows for an exception no callback caught."""
    why = store.storage_failure(exc)
    if why:
        return why
    return (f"The server could not answer that ({type(exc).__name__}: {exc}). Nothing was changed; the "
            f"server's log has the details.")


def on_callback_error(exc: Exception) -> None:
    """Dash's app-wide callback error handler: show the alert, leave the outputs alone."""
    log.error("a callback failed", exc_info=exc)
    dash.set_props(ALERT_TEXT, {"children": alert_text(exc)})
    dash.set_props(ALERT, {"hidden": False})
    dash.set_props(ALERT_AT, {"data": time.time()})
    return None


@dash.callback(Output(ALERT, "hidden"), Input(ALERT_CLOSE, "n_clicks"), prevent_initial_call=True)
def dismiss(n_clicks):
    return True
