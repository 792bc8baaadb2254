"""Searches in Celery mode, end to end: a real redis-server, a real PostgreSQL server and
two real Celery worker processes (``celery -A app:celery_app worker --concurrency=1``),
each training one trial at a time.

The test process plays the web server's part: it records the search
(``searches.create``), sends one ``backprop.trial`` task per trial (``searches.dispatch``
on a Celery app of its own: sending by name needs no registered task) and watches
``searches.status``; the workers train and record the trials in the same database.

Isolation: this module's processes use a Redis database number of their own on the
session's redis-server (broker, results and run cache alike), so a worker started by
another module (``conftest.celery_worker``, which records into its own SQLite) never
takes these tasks, and run-cache keys by record id (``search-stop:<id>``) never meet
another module's; and a PostgreSQL database of their own, made for this module.
"""
from __future__ import annotations

import io
import re
import time
import uuid

import pytest
import sqlalchemy as sa

from conftest import START_TIMEOUT_S, CeleryWorker, app_env
from dashboard import experiments, presets, records, searches, store
from engine import Sequential

pytestmark = pytest.mark.usefixtures("shared_data")

GRID = {"learning_rate": {"kind": "values", "values": [0.01, 0.1]},
        "activation": {"kind": "values", "values": ["tanh", "relu"]}}
WORKERS = ("w1", "w2")
REDIS_DB = 7               # this module's Redis database on the session's server
SEARCH_TIMEOUT_S = 120
STOP_TIMEOUT_S = 30
# "Task backprop.trial[<uuid>] succeeded in 0.31s: 12" (the trial task returns the run's id).
SUCCEEDED = re.compile(rf"Task {re.escape(searches.TRIAL_TASK)}\[[0-9a-f-]+\] succeeded in [0-9.e-]+s: (\d+)")


def dense_form(**values) -> dict:
    form = presets.preset_form("dense")
    form.update(values)
    return form


# -- the processes ---------------------------------------------------------------------------------
class Worker(CeleryWorker):
    def run_ids(self) -> set[int]:
        """The runs this worker's trial tasks trained (their return values)."""
        return {int(m) for m in SUCCEEDED.findall(self.text())}


@pytest.fixture(scope="module")
def cluster(redis_url, postgres_url, tmp_path_factory):
    """A fresh PostgreSQL database and two Celery workers (``--concurrency=1`` each) that
    record into it and use this module's Redis database. Yields a dict with ``redis``
    (URL), ``db`` (URL), ``workers`` and ``sender`` (a Celery app that sends tasks)."""
    import celery
    import redis

    redis_module_url = redis_url.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    redis.Redis.from_url(redis_module_url).flushdb()    # nothing left from an earlier session
    name = f"t_search_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    db_url = sa.engine.make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    records.init(db_url)                 # the tables, before the workers race to make them
    records.close()
    folder = tmp_path_factory.mktemp("search-celery")
    workers: list[Worker] = []
    sender = celery.Celery("search-tests", broker=redis_module_url, backend=redis_module_url)
    try:
        for worker_name in WORKERS:
            env = app_env(folder / f"state-{worker_name}", REDIS_URL=redis_module_url,
                          BACKPROP_DATABASE_URL=db_url, OPENBLAS_NUM_THREADS="1")
            workers.append(Worker(worker_name, folder, env))
        deadline = time.monotonic() + START_TIMEOUT_S
        for worker in workers:
            worker.wait_ready(deadline)
        yield {"redis": redis_module_url, "db": db_url, "workers": workers, "sender": sender}
    finally:
        for worker in workers:
            worker.stop()
        sender.close()
        records.close()
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


@pytest.fixture
def db(cluster):
    """This process on the workers' database and run cache; on failure, what the workers
    logged during the test is printed (pytest shows it for failed tests only)."""
    from flask import Flask

    store.init_app(Flask("search-celery-test"), cluster["redis"])
    records.init(cluster["db"])
    offsets = {w.name: len(w.text()) for w in cluster["workers"]}
    yield cluster
    records.close()
    for worker in cluster["workers"]:
        print(f"----- worker {worker.name} log during the test (alive: {worker.proc.poll() is None}) -----")
        print(worker.text()[offsets[worker.name]:][-20_000:])


def run_search(cluster, form: dict, space: dict, name: str) -> tuple[int, list[dict]]:
    search_id, planned = searches.create(form, space, name=name)
    searches.dispatch(cluster["sender"], search_id, planned)
    return search_id, planned


def wait_search(search_id: int, timeout_s: float) -> tuple[dict, float]:
    """Poll ``searches.status`` until the search is no longer running: (status, seconds)."""
    started = time.monotonic()
    while True:
        found = searches.status(search_id)
        assert found is not None, f"search {search_id} is not recorded"
        if found["state"] != "running":
            return found, time.monotonic() - started
        if time.monotonic() - started > timeout_s:
            pytest.fail(f"search {search_id} still running after {timeout_s} s: {searches.status_text(found)}")
        time.sleep(0.1)


def trials_of(search_id: int) -> list[dict]:
    return sorted(records.list_runs(search_id=search_id), key=lambda run: run["trial"])


# -- the tests ----------------------------------------------------------------------------------------
def test_a_grid_spreads_over_both_workers_and_records_every_trial_once(db):
    form = dense_form(epochs=5, dataset="moons", data={})
    search_id, planned = run_search(db, form, GRID, "grid on two workers")
    assert len(planned) == 4
    found, _ = wait_search(search_id, SEARCH_TIMEOUT_S)
    assert found["state"] == "done"
    assert records.get_search(search_id)["state"] == "done"
    assert found["total"] == found["finished"] == 4 and found["by_state"] == {"done": 4}
    assert found["running"] == []

    runs = trials_of(search_id)
    assert len(runs) == 4 and all(run["search_id"] == search_id for run in runs)
    assert [run["trial"] for run in runs] == [0, 1, 2, 3]         # each trial recorded exactly once
    assert [run["params"] for run in runs] == experiments.combinations(GRID)
    assert [(run["params"]["learning_rate"], run["params"]["activation"]) for run in runs] == \
        [(0.01, "tanh"), (0.01, "relu"), (0.1, "tanh"), (0.1, "relu")]
    for run in runs:
        assert run["state"] == "done", run["message"]
        assert run["message"].startswith("Trained 5 epochs"), run["message"]
        assert run["dataset"] == "moons" and run["epochs"] == 5 and run["wall_time_s"] > 0
        assert run["name"] == searches.trial_name(run["trial"], run["params"])
        # the spec each worker trained is the trial's, not the base's
        spec = run["spec"]
        assert spec["training"]["learning_rate"] == run["params"]["learning_rate"]
        assert spec["training"]["epochs"] == 5
        assert {layer["config"]["activation"] for layer in spec["model"]["layers"][:-1]} == \
            {run["params"]["activation"]}
        assert len(run["history"]["train_loss"]) == len(run["history"]["val_loss"]) == 5
        assert 0.0 <= run["metrics"]["val_accuracy"] <= 1.0
        assert 0.0 <= run["metrics"]["macro_f1"] <= 1.0
        assert run["metrics"]["loss"] == pytest.approx(run["history"]["train_loss"][-1])
        assert run["has_model"] is True
        model = Sequential.load(io.BytesIO(records.get_run(run["id"], with_model=True)["model"]))
        assert model.epochs_trained == 5
        assert [layer.get_config().get("activation") for layer in model.layers[:-1]] == \
            [run["params"]["activation"]] * 2

    # Every trial ran on one of the two workers (its task returned the run's id), and
    # both took some: one trial at a time each, none reserved while the other sat idle.
    ids = {run["id"] for run in runs}
    by_worker = {w.name: w.run_ids() & ids for w in db["workers"]}
    assert set().union(*by_worker.values()) == ids, by_worker
    assert not (by_worker["w1"] & by_worker["w2"]), by_worker
    assert all(by_worker[name] for name in WORKERS), f"a worker trained no trial: {by_worker}"


def test_a_trial_with_a_huge_learning_rate_is_recorded_as_diverged(db):
    form = dense_form(epochs=20)
    assert form["optimizer"] == "adam"
    space = {"learning_rate": {"kind": "values", "values": [100.0, 0.01]}}
    search_id, _ = run_search(db, form, space, "diverging")
    found, _ = wait_search(search_id, SEARCH_TIMEOUT_S)
    assert found["state"] == "done" and found["by_state"] == {"diverged": 1, "done": 1}
    huge, fine = trials_of(search_id)
    assert huge["params"] == {"learning_rate": 100.0} and fine["params"] == {"learning_rate": 0.01}
    assert huge["state"] == "diverged", huge["message"]
    assert "Diverged" in huge["message"] and "100" in huge["message"]
    assert huge["metrics"]["loss"] > 10 * fine["metrics"]["loss"]
    assert fine["state"] == "done", fine["message"]
    assert "Diverged" not in fine["message"]


def test_stop_search_ends_the_running_trials_and_skips_the_rest(db):
    epochs = 1000                       # ~5 s a trial here: long enough to be stopped midway
    space = {"learning_rate": {"kind": "values", "values": [0.001, 0.002, 0.003, 0.004, 0.005, 0.006]}}
    search_id, planned = run_search(db, dense_form(epochs=epochs), space, "stopped")
    assert len(planned) == 6
    deadline = time.monotonic() + SEARCH_TIMEOUT_S
    while True:
        found = searches.status(search_id)
        reporting = [trial for trial in found["running"] if "epoch" in trial]
        if reporting:
            break
        assert found["state"] == "running" and found["finished"] == 0, searches.status_text(found)
        assert time.monotonic() < deadline, "no trial reported progress"
        time.sleep(0.02)
    first = reporting[0]
    searches.stop(search_id)
    stopped_at = time.monotonic()
    found, _ = wait_search(search_id, STOP_TIMEOUT_S)
    assert time.monotonic() - stopped_at < STOP_TIMEOUT_S
    assert found["state"] == "stopped" and records.get_search(search_id)["state"] == "stopped"

    runs = trials_of(search_id)
    assert [run["trial"] for run in runs] == [0, 1, 2, 3, 4, 5]   # every trial has one record
    assert {run["state"] for run in runs} == {"stopped"}, [(r["trial"], r["state"], r["message"]) for r in runs]
    started = [run for run in runs if run["message"] != searches.NOT_RUN]
    not_run = [run for run in runs if run["message"] == searches.NOT_RUN]
    # at most one trial per worker had started; the one that reported progress among them
    assert 1 <= len(started) <= len(WORKERS), [(r["trial"], r["message"]) for r in runs]
    assert first["run_id"] in {run["id"] for run in started}
    assert len(not_run) == 6 - len(started)
    for run in started:
        assert run["message"].startswith("Stopped by you."), run["message"]
        assert run["epochs"] is not None and run["epochs"] < epochs
        assert run["has_model"] is True
    for run in not_run:
        assert run["has_model"] is False and run["epochs"] is None and run["history"] == {}
        assert run["params"] == {"learning_rate": space["learning_rate"]["values"][run["trial"]]}
