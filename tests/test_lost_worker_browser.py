"""Celery mode when the workers go: a real redis-server, a real ``celery -A app:celery_app
worker`` and the dashboard in front of them.

- With no worker running, Train says so and the page stays free (a task sent then would
  wait in Redis for good).
- A worker's pool child killed mid-run (what the kernel's out-of-memory killer picks): the
  run is marked failed within a few seconds with a message that says what happened, its
  record too; the worker's new pool child trains the next Train, which continues the
  model the lost run saved.
- The whole worker killed mid-run: the run is marked failed the same way, and the next
  Train says no worker is running.

Isolation: a Redis database number of this module's own on the session's redis-server,
and a SQLite database of its own that the server and the worker share.
"""
from __future__ import annotations

import io
import json
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
from conftest import START_TIMEOUT_S, CeleryWorker, app_env, running_app

REDIS_DB = 9


@pytest.fixture(scope="module")
def cluster(redis_url, tmp_path_factory):
    """The dashboard in Celery mode with no worker yet; yields (url, env for a worker)."""
    import redis

    url = redis_url.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    redis.Redis.from_url(url).flushdb()
    folder = tmp_path_factory.mktemp("lost-worker")
    database = f"sqlite:///{folder / 'runs.sqlite'}"
    worker_env = app_env(folder / "worker-state", REDIS_URL=url, BACKPROP_DATABASE_URL=database)
    with running_app(folder / "app", REDIS_URL=url, BACKPROP_DATABASE_URL=database) as page_url:
        yield page_url, worker_env, folder, url, database


@pytest.fixture
def worker(cluster):
    _, env, folder, _, _ = cluster
    started = CeleryWorker(f"w{time.monotonic_ns()}", folder, env)
    try:
        started.wait_ready(time.monotonic() + START_TIMEOUT_S)
        yield started
    finally:
        started.stop()


@pytest.fixture
def run_cache(cluster, monkeypatch):
    """The run cache and records in this process, as the server sees them."""
    _, _, _, url, database = cluster
    monkeypatch.setenv("BACKPROP_DATABASE_URL", database)
    store.init_app(Flask("lost-worker-test"), url)
    records.init()
    yield
    records.close()


def _session(page) -> str:
    return json.loads(page.evaluate("() => sessionStorage.getItem('session-id')"))


def _start_long_run(page, url: str) -> tuple[str, int, int]:
    """Train a run of many epochs until it has saved its model once; (session, run id, epochs saved)."""
    open_dashboard(page, url)
    set_field(page, "epochs", 10_000)
    page.click("#train-button")
    session = _session(page)
    deadline = time.monotonic() + 90
    while store.get_model(session) is None:
        assert time.monotonic() < deadline, "the running job never saved its model"
        time.sleep(0.2)
    saved = Sequential.load(io.BytesIO(store.get_model(session)["bytes"])).epochs_trained
    assert saved >= 1
    return session, store.get_live(session)["run_id"], saved


def _expect_lost(page, run_id: int, killed_at: float) -> None:
    expect(status(page)).to_contain_text("The training job stopped without a word", timeout=30_000)
    assert time.monotonic() - killed_at < jobs.DEAD_S + 10
    expect(status(page)).to_have_class(re.compile(r"\bstatus-failed\b"))
    expect(status(page)).to_contain_text("Train continues it")
    row = records.get_run(run_id)
    assert row["state"] == "failed" and "stopped without a word" in row["message"]
    expect(page.locator("#train-button")).to_be_enabled()


def test_with_no_worker_train_says_so_and_the_page_stays_free(page, cluster):
    url = cluster[0]
    open_dashboard(page, url)
    page.click("#train-button")
    expect(status(page)).to_contain_text("No Celery worker is running", timeout=15_000)
    expect(status(page)).to_contain_text("celery -A app:celery_app worker")
    expect(status(page)).to_have_class(re.compile(r"\bstatus-error\b"))
    expect(page.locator("#train-button")).to_have_text("Train")
    expect(page.locator("#train-button")).to_be_enabled()
    expect(page.locator("#stop-button")).to_be_disabled()


def test_a_killed_pool_child_fails_the_run_and_the_worker_trains_the_next(page, cluster, worker, run_cache):
    url = cluster[0]
    session, run_id, saved = _start_long_run(page, url)
    children = psutil.Process(worker.proc.pid).children(recursive=True)
    assert children, "the worker has no pool child"
    killed_at = time.monotonic()
    for child in children:
        child.send_signal(signal.SIGKILL)
    _expect_lost(page, run_id, killed_at)
    set_field(page, "epochs", 3)
    page.click("#train-button")
    expect(status(page)).to_contain_text("Trained 3 epochs", timeout=RUN_TIMEOUT_MS)
    after = Sequential.load(io.BytesIO(store.get_model(session)["bytes"]))
    assert after.epochs_trained >= saved + 3          # it continued what the lost run had saved
    assert worker.proc.poll() is None                 # the worker itself lived on


def test_a_killed_worker_fails_the_run_and_train_then_says_no_worker(page, cluster, worker, run_cache):
    url = cluster[0]
    _, run_id, _ = _start_long_run(page, url)
    group = [psutil.Process(worker.proc.pid), *psutil.Process(worker.proc.pid).children(recursive=True)]
    killed_at = time.monotonic()
    for proc in group:
        proc.send_signal(signal.SIGKILL)
    _expect_lost(page, run_id, killed_at)
    page.click("#train-button")
    expect(status(page)).to_contain_text("No Celery worker is running", timeout=15_000)
    expect(page.locator("#train-button")).to_be_enabled()
