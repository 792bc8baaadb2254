"""The server refuses a request larger than the page ever sends (413) before it reads the
body, and a CSV posted past the upload box's limit is refused without being kept."""
from __future__ import annotations

import base64
import http.client
import json
import urllib.parse

from flask import Flask

import app as app_module
from dashboard import store
from dashboard.panels import form


def test_an_oversized_body_is_refused_before_it_is_read(app_server):
    url = urllib.parse.urlparse(app_server)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    conn.putrequest("POST", "/_dash-update-component")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(app_module.MAX_REQUEST_BYTES + 1))
    conn.endheaders()
    conn.send(b"{" + b" " * 1000)          # a little of the promised body: the answer must not wait for the rest
    response = conn.getresponse()
    assert response.status == 413
    conn.close()


def test_a_csv_posted_past_the_box_is_refused_and_not_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("BACKPROP_STATE_DIR", str(tmp_path))
    store.init_app(Flask("limits-test"))
    session = "a1" * 16
    big = base64.b64encode(b"a,b,label\n" + b"1,2,0\n" * (form.MAX_CSV_BYTES // 3)).decode()
    with app_module.server.test_request_context(
            "/_dash-update-component", method="POST",
            data=json.dumps({"output": "x", "outputs": [], "inputs": [], "changedPropIds": [
                f"{form.CSV_UPLOAD}.contents"]})):
        from dash._callback_context import context_value
        from dash._utils import AttributeDict
        token = context_value.set(AttributeDict(triggered_inputs=[{"prop_id": f"{form.CSV_UPLOAD}.contents",
                                                                   "value": "x"}]))
        try:
            out = form.read_csv(f"data:text/csv;base64,{big}", None, "big.csv", session)
        finally:
            context_value.reset(token)
    assert "larger than the 20 MB" in out[2]["error"]
    assert store.get_csv(session) is None
