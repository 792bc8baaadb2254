"""A training job whose process is killed mid-run (as the kernel's out-of-memory killer or
a user's `kill -9` would) leaves no page stuck: within a few seconds the run is marked
failed with a message that says what happened, its record too, Train works again and the
model keeps the epochs it finished (the job saves its model file during the run)."""
from __future__ import annotations

import io
import json
import os
import re
import signal
import time

import psutil
import pytest
from flask import Flask
from playwright.sync_api import expect

from dashboard import jobs, records, store
from engine import Sequential

from browser import RUN_TIMEOUT_MS, open_dashboard, set_field, status
from conftest import running_app


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lost-job")
    with running_app(folder) as url:
        yield url, folder / "state"


def _app_process(state_dir) -> psutil.Process:
    for child in psutil.Process(os.getpid()).children():
        try:
            if "app.py" in " ".join(child.cmdline()) and child.environ().get("BACKPROP_STATE_DIR") == str(state_dir):
                return child
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    raise AssertionError("the app's process was not found")


def test_a_killed_job_is_marked_failed_and_train_works_again(page, app, monkeypatch):
    url, state_dir = app
    monkeypatch.setenv("BACKPROP_STATE_DIR", str(state_dir))
    store.init_app(Flask("lost-job-test"))
    open_dashboard(page, url)
    set_field(page, "epochs", 10_000)
    page.click("#train-button")
    session = json.loads(page.evaluate("() => sessionStorage.getItem('session-id')"))
    # wait until the run has saved its model file once (every MODEL_SAVE_S at an epoch end)
    deadline = time.monotonic() + 60
    while store.get_model(session) is None:
        assert time.monotonic() < deadline, "the running job never saved its model"
        time.sleep(0.2)
    run_id = store.get_live(session)["run_id"]
    before = Sequential.load(io.BytesIO(store.get_model(session)["bytes"])).epochs_trained
    assert before >= 1
    jobs_now = _app_process(state_dir).children(recursive=True)
    assert jobs_now, "no training job process"
    killed_at = time.monotonic()
    for proc in jobs_now:
        proc.send_signal(signal.SIGKILL)
    expect(status(page)).to_contain_text("The training job stopped without a word", timeout=30_000)
    took = time.monotonic() - killed_at
    assert took < jobs.DEAD_S + 10, took
    expect(status(page)).to_have_class(re.compile(r"\bstatus-failed\b"))
    expect(status(page)).to_contain_text("Train continues it")
    records.init()
    try:
        row = records.get_run(run_id)
        assert row["state"] == "failed" and "stopped without a word" in row["message"]
    finally:
        records.close()
    expect(page.locator("#train-button")).to_be_enabled()
    set_field(page, "epochs", 3)
    page.click("#train-button")
    expect(status(page)).to_contain_text("Trained 3 epochs", timeout=RUN_TIMEOUT_MS)
    after = Sequential.load(io.BytesIO(store.get_model(session)["bytes"]))
    assert after.epochs_trained >= before + 3          # it continued what the lost run had saved
