"""Stopping the server while a run trains: the job stops with it (it never outlives the
server, and never holds the server's port), so a new server starts on the same port at
once and the tab's model keeps what the run learned. Both servers the README names:
``python app.py`` and gunicorn (two workers, threads), each stopped with SIGTERM."""
from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from flask import Flask
from playwright.sync_api import expect

from dashboard import store
from engine import Sequential

from browser import open_dashboard, set_field, status
from conftest import REPO, _wait_for_http, app_env, free_port


SERVERS = {
    "python app.py": lambda port: [sys.executable, "app.py"],
    # the README's production command, on a test port
    "gunicorn": lambda port: [sys.executable, "-m", "gunicorn", "--workers", "2", "--threads", "8",
                              "--bind", f"127.0.0.1:{port}", "app:server"],
}


def _start(folder, port, server):
    log = open(folder / f"app-{time.monotonic_ns()}.log", "wb")
    env = app_env(folder / "state", HOST="127.0.0.1", PORT=str(port))
    proc = subprocess.Popen(SERVERS[server](port), cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    _wait_for_http(f"http://127.0.0.1:{port}/", proc, Path(log.name))
    return proc


@pytest.mark.parametrize("server_kind, stop_signal", [("python app.py", signal.SIGTERM),
                                                       ("python app.py", signal.SIGINT),     # Ctrl+C
                                                       ("gunicorn", signal.SIGTERM)])
def test_a_restart_during_a_run_comes_up_on_the_same_port(page, tmp_path, monkeypatch, server_kind, stop_signal):
    port = free_port()
    server = _start(tmp_path, port, server_kind)
    again = None
    try:
        open_dashboard(page, f"http://127.0.0.1:{port}/")
        set_field(page, "epochs", 10_000)
        page.click("#train-button")
        expect(status(page)).to_contain_text("training", timeout=60_000)
        time.sleep(6)                                   # long enough for a model file during the run
        session = json.loads(page.evaluate("() => sessionStorage.getItem('session-id')"))
        job_processes = psutil.Process(server.pid).children(recursive=True)
        assert job_processes, "no training job process"
        server.send_signal(stop_signal)
        server.wait(timeout=20)
        if stop_signal == signal.SIGINT or server_kind == "gunicorn":
            assert server.returncode == 0, server.returncode    # an orderly exit
        gone, alive = psutil.wait_procs(job_processes, timeout=15)
        assert not alive, f"the job outlived its server: {alive}"
        started = time.monotonic()
        again = _start(tmp_path, port, server_kind)     # the same port, at once
        assert time.monotonic() - started < 30
        monkeypatch.setenv("BACKPROP_STATE_DIR", str(tmp_path / "state"))
        store.init_app(Flask("restart-test"))
        stored = store.get_model(session)
        assert stored is not None and Sequential.load(io.BytesIO(stored["bytes"])).epochs_trained >= 1
        live = store.get_live(session)
        assert live["state"] == "stopped" and "server that started it stopped" in live["message"], live
    finally:
        for proc in (server, again):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=20)
