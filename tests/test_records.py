"""Experiment records (dashboard.records), on SQLite and on a real PostgreSQL server.

Every test that takes ``db`` runs once per backend, each time on a database of its own.
"""
from __future__ import annotations

import csv
import io
import multiprocessing
import os
import uuid
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
import sqlalchemy as sa

from dashboard import records

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path):
    """The URL of an empty database (no tables yet) on one backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/runs.sqlite"
        return
    server = request.getfixturevalue("postgres_url")
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield sa.engine.make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        records.close()
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


@pytest.fixture
def db(db_url, monkeypatch):
    """dashboard.records opened (from $BACKPROP_DATABASE_URL) on an empty database."""
    monkeypatch.setenv(records.URL_ENV, db_url)
    records.init()
    yield records
    records.close()


def make_spec(learning_rate=0.01, activation="tanh", units=(8, 8), batch_size=32, epochs=10,
              optimizer="adam", loss="cce") -> dict:
    """A model spec as dashboard.spec makes them (moons, a Dense stack, a softmax output)."""
    hidden = [{"type": "Dense", "config": {"units": u, "activation": activation, "init": "xavier",
                                           "init_params": {}, "use_bias": True, "rmsnorm": False, "name": None}}
              for u in units]
    output = {"type": "Dense", "config": {"units": 2, "activation": "softmax", "init": "xavier", "init_params": {},
                                          "use_bias": True, "rmsnorm": False, "name": None}}
    return {"version": 1, "data": {"name": "moons", "params": {"n_samples": 300, "noise": 0.1, "seed": 0},
                                   "val_fraction": 0.2},
            "model": {"input_shape": [2], "layers": hidden + [output], "loss": loss, "optimizer": optimizer,
                      "optimizer_params": {"beta1": 0.9, "beta2": 0.999, "eps": 1e-08}, "l1": 0.0, "l2": 0.0,
                      "dtype": "float32", "seed": None},
            "network_init": {"init": "xavier", "init_params": {}},
            "training": {"learning_rate": learning_rate, "batch_size": batch_size, "epochs": epochs}}


HISTORY = {"train_loss": [0.69, 0.5, 0.31], "val_loss": [0.7, 0.52, 0.4], "train_accuracy": [0.5, 0.75, 0.9],
           "val_accuracy": [0.45, 0.7, 0.85], "first_epoch": 1}
SESSION = "0123456789abcdef0123456789abcdef"


def utc(text: str) -> datetime:
    when = datetime.fromisoformat(text)
    assert when.utcoffset() == timedelta(0), text
    return when


# -- runs ------------------------------------------------------------------------------------------
def test_a_run_is_recorded_as_started(db):
    before = datetime.now(timezone.utc)
    spec = make_spec()
    run_id = db.start_run(spec, session=SESSION, dataset="moons:n_samples=300", dataset_label="Moons", seed=7)
    run = db.get_run(run_id)
    assert isinstance(run_id, int) and run["id"] == run_id
    assert run["name"] == f"Run {run_id}"
    assert run["state"] == "running" and run["message"] == "" and run["finished_at"] is None
    assert run["session"] == SESSION and run["seed"] == 7
    assert (run["dataset"], run["dataset_label"]) == ("moons:n_samples=300", "Moons")
    assert run["spec"] == spec
    assert run["params"] == {} and run["history"] == {} and run["metrics"] == {} and run["tags"] == []
    assert run["search_id"] is None and run["trial"] is None
    assert run["wall_time_s"] is None and run["epochs"] is None
    assert run["has_model"] is False and "model" not in run
    assert before - timedelta(seconds=1) <= utc(run["created_at"]) <= datetime.now(timezone.utc)
    assert db.get_run(run_id + 1) is None


def test_finishing_a_run_keeps_what_it_ran(db):
    run_id = db.start_run(make_spec(), name="  first try  ")
    assert db.get_run(run_id)["name"] == "first try"
    metrics = {"loss": 0.31, "val_loss": 0.4, "accuracy": 0.9, "val_accuracy": 0.85, "macro_f1": 0.84}
    assert db.finish_run(run_id, state="done", message="Trained 3 epochs in 1.2 s.", history=HISTORY,
                         metrics=metrics, wall_time_s=1.25, epochs=3) is True
    run = db.get_run(run_id)
    assert run["state"] == "done" and run["message"] == "Trained 3 epochs in 1.2 s."
    assert run["history"] == HISTORY and run["metrics"] == metrics
    assert run["wall_time_s"] == 1.25 and run["epochs"] == 3
    assert utc(run["created_at"]) <= utc(run["finished_at"])
    # what a later call leaves out stays as it was
    assert db.finish_run(run_id, state="stopped", message="again") is True
    again = db.get_run(run_id)
    assert again["state"] == "stopped" and again["history"] == HISTORY and again["metrics"] == metrics
    assert again["epochs"] == 3
    assert db.finish_run(run_id + 100, state="done") is False


def test_json_values_keep_their_types(db):
    spec = make_spec()
    spec["extra"] = {"int": 3, "float": 1.0, "small": 1e-08, "big": 2**40, "true": True, "false": False,
                     "none": None, "text": "éλ😀 \"quoted\"", "nested": [[1, 2.5], {"a": [None, "x"]}], "empty": {}}
    params = {"learning_rate": 0.01, "layers.0.activation": "relu", "units": 16, "use_bias": False}
    run_id = db.start_run(spec, params=params)
    db.finish_run(run_id, state="diverged", metrics={"loss": float("nan"), "val_loss": float("inf"), "n": 60},
                  history={"train_loss": [np.float32(0.5), np.float64(0.25)], "epochs": np.arange(3)})
    run = db.get_run(run_id)
    extra = run["spec"]["extra"]
    assert extra == spec["extra"]
    for key, kind in [("int", int), ("float", float), ("small", float), ("big", int), ("true", bool),
                      ("text", str), ("nested", list), ("empty", dict)]:
        assert type(extra[key]) is kind, key
    assert type(run["spec"]["training"]["learning_rate"]) is float and type(run["spec"]["training"]["epochs"]) is int
    assert run["params"] == params and type(run["params"]["units"]) is int
    assert type(run["params"]["use_bias"]) is bool
    # numbers that are not finite are stored as null; NumPy values as Python's
    assert run["metrics"] == {"loss": None, "val_loss": None, "n": 60}
    assert run["history"] == {"train_loss": [0.5, 0.25], "epochs": [0, 1, 2]}
    assert type(run["history"]["epochs"][0]) is int


def test_a_model_file_round_trips(db):
    blob = np.random.default_rng(0).integers(0, 256, 300_000, dtype=np.uint8).tobytes() + b"\x00\xff"
    run_id = db.start_run(make_spec())
    other = db.start_run(make_spec())
    db.finish_run(run_id, state="done", model=blob)
    db.finish_run(other, state="done")
    stored = db.get_run(run_id, with_model=True)
    assert type(stored["model"]) is bytes and stored["model"] == blob and stored["has_model"] is True
    assert db.get_run(other, with_model=True)["model"] is None
    assert "model" not in db.get_run(run_id)
    listed = {run["id"]: run for run in db.list_runs()}
    assert all("model" not in run for run in listed.values())
    assert listed[run_id]["has_model"] is True and listed[other]["has_model"] is False


def test_runs_survive_a_new_engine(db, db_url):
    first = db.engine()
    run_id = db.start_run(make_spec(learning_rate=0.2), name="kept", params={"learning_rate": 0.2})
    db.finish_run(run_id, state="done", history=HISTORY, model=b"npz bytes", epochs=3)
    written = db.get_run(run_id, with_model=True)
    assert db.init() is not first        # as after a server restart: a new engine, new connections
    assert db.get_run(run_id, with_model=True) == written
    db.close()                           # and opened again on first use
    assert db.get_run(run_id, with_model=True) == written
    assert [run["id"] for run in db.list_runs()] == [run_id]
    assert db.engine().url.render_as_string(hide_password=False) == db_url


def test_the_default_database_is_sqlite_in_the_state_folder(tmp_path, monkeypatch):
    monkeypatch.delenv(records.URL_ENV, raising=False)
    monkeypatch.setenv("BACKPROP_STATE_DIR", str(tmp_path / "state"))
    try:
        assert records.default_url() == f"sqlite:///{tmp_path / 'state' / 'runs.sqlite'}"
        records.init()
        run_id = records.start_run(make_spec())
        assert (tmp_path / "state" / "runs.sqlite").is_file()
        with records.engine().connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == records.BUSY_TIMEOUT_S * 1000
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert records.get_run(run_id)["state"] == "running"
    finally:
        records.close()


def test_list_order_and_paging(db):
    ids = [db.start_run(make_spec(), name=f"run {k}") for k in range(7)]
    assert ids == sorted(ids) and len(set(ids)) == 7
    assert [r["id"] for r in db.list_runs()] == ids[::-1]
    assert [r["id"] for r in db.list_runs(newest_first=False)] == ids
    assert [r["id"] for r in db.list_runs(limit=3)] == ids[::-1][:3]
    assert [r["id"] for r in db.list_runs(limit=3, offset=3)] == ids[::-1][3:6]
    assert [r["id"] for r in db.list_runs(limit=3, offset=6)] == ids[:1]
    assert db.list_runs(offset=7) == []
    assert [r["name"] for r in db.list_runs(newest_first=False, offset=5)] == ["run 5", "run 6"]


def test_rename_rules(db):
    run_id = db.start_run(make_spec())
    assert db.rename_run(run_id, "  lr sweep, best  ") is True
    assert db.get_run(run_id)["name"] == "lr sweep, best"
    assert db.rename_run(run_id, "x" * 200) is True
    assert db.get_run(run_id)["name"] == "x" * 200
    for bad in ["", "   ", "x" * 201, None, 5, "a\x00b"]:
        with pytest.raises(ValueError, match="name must have 1 to 200 characters"):
            db.rename_run(run_id, bad)
    assert db.get_run(run_id)["name"] == "x" * 200
    assert db.rename_run(run_id + 1, "nobody") is False
    assert db.rename_run(2**40, "nobody") is False       # beyond any id: not there, not a database error
    with pytest.raises(ValueError, match="run_id must be a whole number"):
        db.rename_run("1", "name")


def test_tag_rules(db):
    run_id = db.start_run(make_spec())
    assert db.set_tags(run_id, ["baseline", "  relu ", "ü" * 40]) is True
    assert db.get_run(run_id)["tags"] == ["baseline", "relu", "ü" * 40]
    assert db.set_tags(run_id, [f"t{k}" for k in range(20)]) is True
    assert db.get_run(run_id)["tags"] == [f"t{k}" for k in range(20)]
    cases = [([f"t{k}" for k in range(21)], "at most 20 tags"),
             (["a", "b", " a"], "each tag only once"),
             (["x" * 41], "1 to 40 characters"),
             ([""], "1 to 40 characters"),
             (["  "], "1 to 40 characters"),
             ([3], "1 to 40 characters"),
             ("baseline", "tags must be a list"),
             (None, "tags must be a list")]
    for bad, message in cases:
        with pytest.raises(ValueError, match=message):
            db.set_tags(run_id, bad)
    assert db.get_run(run_id)["tags"] == [f"t{k}" for k in range(20)]
    assert db.set_tags(run_id, []) is True and db.get_run(run_id)["tags"] == []
    assert db.set_tags(run_id + 1, ["a"]) is False


def test_delete_runs(db):
    ids = [db.start_run(make_spec()) for _ in range(5)]
    assert db.delete_runs([ids[1], ids[3], ids[3], 10_000, 2**40, 0, -1]) == 2
    assert [r["id"] for r in db.list_runs(newest_first=False)] == [ids[0], ids[2], ids[4]]
    assert db.get_run(ids[1]) is None
    assert db.delete_runs([]) == 0 and db.delete_runs([ids[1]]) == 0
    assert db.delete_runs((i for i in ids)) == 3 and db.list_runs() == []
    for bad in [None, 3, "1,2", [1, "2"], [1.0]]:
        with pytest.raises(ValueError, match="ids must be"):
            db.delete_runs(bad)


def test_run_states(db):
    run_id = db.start_run(make_spec())
    for bad in ["finished", "", None, "DONE"]:
        with pytest.raises(ValueError, match="state must be one of running, done, stopped, diverged, failed"):
            db.finish_run(run_id, state=bad)
    for state in records.RUN_STATES:
        assert db.finish_run(run_id, state=state) is True
        run = db.get_run(run_id)
        assert run["state"] == state and (run["finished_at"] is None) == (state == "running")


BAD_ARGUMENTS = [
    ("start_run", (None,), {}, "spec must be a dict"),
    ("start_run", ([1, 2],), {}, "spec must be a dict"),
    ("start_run", ({"a": object()},), {}, "spec must be JSON data"),
    ("start_run", ({1: "a"},), {}, "spec must be JSON data: its keys must be strings"),
    ("start_run", ({},), {"params": "lr=0.1"}, "params must be a dict"),
    ("start_run", ({},), {"seed": -1}, "seed must be a whole number from 0"),
    ("start_run", ({},), {"seed": 2**63}, "seed must be a whole number from 0"),
    ("start_run", ({},), {"seed": 1.5}, "seed must be a whole number"),
    ("start_run", ({},), {"trial": -1}, "trial must be a whole number from 0"),
    ("start_run", ({},), {"session": 12}, "session must be a string"),
    ("start_run", ({},), {"dataset": "a\x00b"}, "dataset must be a string"),
    ("start_run", ({},), {"dataset_label": ["x"]}, "dataset_label must be a string"),
    ("start_run", ({},), {"name": ""}, "name must have 1 to 200 characters"),
    ("start_run", ({},), {"search_id": 999}, "search_id must be the id of a recorded search"),
    ("start_run", ({},), {"search_id": "1"}, "search_id must be a whole number"),
    ("finish_run", (1,), {"state": "done", "message": None}, "message must be a string"),
    ("finish_run", (1,), {"state": "done", "message": "x" * 10_001}, "message must be a string of at most"),
    ("finish_run", (1,), {"state": "done", "wall_time_s": -1}, "wall_time_s must be a finite number"),
    ("finish_run", (1,), {"state": "done", "wall_time_s": float("nan")}, "wall_time_s must be a finite number"),
    ("finish_run", (1,), {"state": "done", "epochs": 2.5}, "epochs must be a whole number"),
    ("finish_run", (1,), {"state": "done", "history": [0.5]}, "history must be a dict"),
    ("finish_run", (1,), {"state": "done", "metrics": {"f": {1, 2}}}, "metrics must be JSON data"),
    ("finish_run", (1,), {"state": "done", "model": "not bytes"}, "model must be the model file's bytes"),
    ("finish_run", (None,), {"state": "done"}, "run_id must be a whole number"),
    ("update_run", (1,), {"epochs": -3}, "epochs must be a whole number from 0"),
    ("get_run", (True,), {}, "run_id must be a whole number"),
    ("get_run", (1,), {"with_model": "yes"}, "with_model must be True or False"),
    ("list_runs", (), {"limit": 0}, "limit must be a whole number of at least 1"),
    ("list_runs", (), {"offset": -1}, "offset must be a whole number of at least 0"),
    ("list_runs", (), {"newest_first": 1}, "newest_first must be True or False"),
    ("list_runs", (), {"search_id": 1.5}, "search_id must be a whole number"),
    ("mark_stale_running", (-1,), {}, "older_than_s must be a finite number"),
    ("mark_stale_running", ("60",), {}, "older_than_s must be a finite number"),
    ("start_search", ({}, {}), {"strategy": "bayes", "n_trials": 3}, "strategy must be one of grid, random"),
    ("start_search", ({}, {}), {"n_trials": 0}, "n_trials must be a whole number of at least 1"),
    ("start_search", ({}, None), {"n_trials": 1}, "space must be a dict"),
    ("start_search", ({}, {}), {"n_trials": 1, "seed": -2}, "seed must be a whole number from 0"),
    ("finish_search", (1, "failed"), {}, "state must be one of running, done, stopped"),
    ("get_search", ("x",), {}, "search_id must be a whole number"),
    ("list_searches", (), {"limit": -5}, "limit must be a whole number of at least 1"),
    ("delete_search", (1,), {"with_runs": None}, "with_runs must be True or False"),
    ("runs_table", ("runs",), {}, "runs must be a list of run dicts"),
    ("runs_table", ([{"name": "no id"}],), {}, "runs must be a list of run dicts"),
    ("runs_csv", (None,), {}, "runs must be a list of run dicts"),
    ("init", ("",), {}, "url must be a database URL"),
    ("init", ("not a url",), {}, "url is not a database URL"),
]


@pytest.mark.parametrize("function, args, kwargs, message", BAD_ARGUMENTS,
                         ids=[f"{f}-{m[:30]}" for f, _, _, m in BAD_ARGUMENTS])
def test_a_bad_argument_is_a_value_error_naming_it(db, function, args, kwargs, message):
    run_id = db.start_run(make_spec())
    before = db.get_run(run_id)
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        getattr(db, function)(*args, **kwargs)
    assert db.get_run(run_id) == before and len(db.list_runs()) == 1


def test_ids_no_run_can_have_are_not_found(db):
    run_id = db.start_run(make_spec())
    for missing in [0, -5, 2**31, 2**40, np.int64(2**45)]:
        assert db.get_run(missing) is None
        assert db.finish_run(missing, state="done") is False
        assert db.update_run(missing, epochs=1) is False
        assert db.set_tags(missing, ["a"]) is False
        assert db.get_search(missing) is None and db.finish_search(missing, "done") is False
        assert db.list_runs(search_id=missing) == []
    assert db.get_run(np.int64(run_id))["id"] == run_id


def test_progress_and_stale_runs(db):
    old, fresh, finished = (db.start_run(make_spec()) for _ in range(3))
    db.finish_run(finished, state="done")
    # the first two last reported two minutes ago
    with db.engine().begin() as conn:
        conn.execute(sa.update(records.runs).where(records.runs.c.id.in_([old, fresh, finished]))
                     .values(updated_at=datetime.now(timezone.utc) - timedelta(minutes=2)))
    assert db.update_run(fresh, epochs=2, history={"train_loss": [0.6, 0.5]}, wall_time_s=3.5) is True
    assert db.update_run(finished, epochs=9) is False         # only a running run makes progress
    assert db.get_run(finished)["epochs"] is None
    assert db.mark_stale_running(60) == 1
    stale = db.get_run(old)
    assert stale["state"] == "failed" and stale["message"] == records.STALE_MESSAGE
    assert stale["finished_at"] is not None
    alive = db.get_run(fresh)
    assert alive["state"] == "running" and alive["epochs"] == 2 and alive["history"] == {"train_loss": [0.6, 0.5]}
    assert alive["wall_time_s"] == 3.5
    assert db.get_run(finished)["state"] == "done"
    assert db.mark_stale_running(60) == 0
    assert db.mark_stale_running(0) == 1 and db.get_run(fresh)["state"] == "failed"


# -- searches ---------------------------------------------------------------------------------------
SPACE = {"learning_rate": {"kind": "values", "values": [0.01, 0.1]},
         "activation": {"kind": "values", "values": ["relu", "tanh"]}}


def test_searches_and_their_trials(db):
    base = make_spec()
    search_id = db.start_search(base, SPACE, strategy="grid", n_trials=4)
    other = db.start_search(base, {"units": {"kind": "int", "low": 4, "high": 8}}, strategy="random",
                            n_trials=3, seed=5, name="units, random")
    search = db.get_search(search_id)
    assert search["name"] == f"Search {search_id}" and search["state"] == "running"
    assert search["base_spec"] == base and search["space"] == SPACE
    assert (search["strategy"], search["n_trials"], search["seed"]) == ("grid", 4, None)
    utc(search["created_at"])
    assert db.get_search(other)["name"] == "units, random" and db.get_search(other)["seed"] == 5
    assert [s["id"] for s in db.list_searches()] == [other, search_id]
    assert [s["id"] for s in db.list_searches(newest_first=False, limit=1)] == [search_id]
    assert [s["id"] for s in db.list_searches(offset=1)] == [search_id]

    trials = [db.start_run(make_spec(learning_rate=0.01), search_id=search_id, trial=k,
                           params={"learning_rate": 0.01, "activation": "relu"}) for k in range(3)]
    loose = db.start_run(base)
    assert db.get_run(trials[1])["name"] == f"Search {search_id} trial 1"
    assert db.get_run(trials[1])["search_id"] == search_id and db.get_run(trials[1])["trial"] == 1
    assert [r["id"] for r in db.list_runs(search_id=search_id, newest_first=False)] == trials
    assert db.list_runs(search_id=other) == []
    assert db.finish_search(search_id, "stopped") is True and db.get_search(search_id)["state"] == "stopped"
    assert db.finish_search(search_id + 100, "done") is False

    # deleting a search keeps its trials as runs of no search, unless asked
    assert db.delete_search(search_id) is True and db.get_search(search_id) is None
    assert [db.get_run(t)["search_id"] for t in trials] == [None, None, None]
    assert db.delete_search(search_id) is False
    trial = db.start_run(base, search_id=other, trial=0)
    assert db.delete_search(other, with_runs=True) is True
    assert db.get_run(trial) is None
    assert {r["id"] for r in db.list_runs()} == {*trials, loose}


def test_deleting_a_search_in_the_database_sets_its_runs_free(db):
    search_id = db.start_search(make_spec(), SPACE, n_trials=4)
    run_id = db.start_run(make_spec(), search_id=search_id, trial=0)
    with db.engine().begin() as conn:        # the foreign key's own rule, without delete_search
        conn.execute(sa.delete(records.searches).where(records.searches.c.id == search_id))
    assert db.get_run(run_id)["search_id"] is None


# -- comparing runs ----------------------------------------------------------------------------------
def grid_runs(db) -> tuple[int, list[int]]:
    """A 2x2 grid over learning rate x activation, finished, with metrics."""
    search_id = db.start_search(make_spec(), SPACE, n_trials=4)
    metrics = [{"loss": 0.5, "val_accuracy": 0.8, "macro_f1": 0.79},
               {"loss": 0.4, "val_accuracy": 0.85, "macro_f1": 0.84},
               {"loss": 0.3, "val_accuracy": 0.9, "macro_f1": 0.9},
               {"loss": 0.2, "val_accuracy": 0.95}]
    ids = []
    for k, (lr, act) in enumerate([(0.01, "relu"), (0.01, "tanh"), (0.1, "relu"), (0.1, "tanh")]):
        run_id = db.start_run(make_spec(learning_rate=lr, activation=act), search_id=search_id, trial=k,
                              dataset="moons", params={"learning_rate": lr, "activation": act})
        db.finish_run(run_id, state="done", metrics=metrics[k], wall_time_s=1.5 + k, epochs=10)
        ids.append(run_id)
    return search_id, ids


def test_runs_table_of_a_grid(db):
    search_id, ids = grid_runs(db)
    runs = db.list_runs(search_id=search_id, newest_first=False)
    columns, rows = records.runs_table(runs)
    assert columns == ["id", "name", "state", "dataset", "created_at", "wall_time_s", "epochs",
                       "metrics.loss", "metrics.val_accuracy", "metrics.macro_f1",
                       "params.learning_rate", "params.activation"]
    expected = [
        [ids[0], f"Search {search_id} trial 0", "done", "moons", 1.5, 10, 0.5, 0.8, 0.79, 0.01, "relu"],
        [ids[1], f"Search {search_id} trial 1", "done", "moons", 2.5, 10, 0.4, 0.85, 0.84, 0.01, "tanh"],
        [ids[2], f"Search {search_id} trial 2", "done", "moons", 3.5, 10, 0.3, 0.9, 0.9, 0.1, "relu"],
        [ids[3], f"Search {search_id} trial 3", "done", "moons", 4.5, 10, 0.2, 0.95, None, 0.1, "tanh"],
    ]
    without_time = [c for c in columns if c != "created_at"]
    assert [[row[c] for c in without_time] for row in rows] == expected
    assert [row["created_at"] for row in rows] == [run["created_at"] for run in runs]
    # the columns do not depend on the runs' order
    assert records.runs_table(runs[::-1])[0] == columns
    assert [row["id"] for row in records.runs_table(runs[::-1])[1]] == ids[::-1]


def test_runs_table_shows_the_spec_fields_that_differ():
    def run(run_id, spec, params=None, metrics=None):
        return {"id": run_id, "name": f"r{run_id}", "state": "done", "dataset": "moons", "spec": spec,
                "params": params or {}, "metrics": metrics or {}, "created_at": "2025-01-01T00:00:00+00:00",
                "wall_time_s": None, "epochs": None}

    same = [run(1, make_spec()), run(2, make_spec())]
    columns, rows = records.runs_table(same)
    assert columns == list(records.BASE_COLUMNS)          # nothing differs: no settings, no metrics
    assert [row["id"] for row in rows] == [1, 2]

    runs = [run(1, make_spec(units=(16, 16), batch_size=32), metrics={"accuracy": 0.5, "n": 60, "auc": 0.7}),
            run(2, make_spec(units=(32, 8), batch_size=64, optimizer="sgd")),
            run(3, make_spec(units=(8,), batch_size=32), params={"optimizer_params.beta1": 0.8,
                                                                 "layers.0.kernel_size": [3, 3]})]
    columns, rows = records.runs_table(runs)
    assert columns == [*records.BASE_COLUMNS, "metrics.accuracy", "metrics.auc", "metrics.n",
                       "params.batch_size", "params.optimizer", "params.layers", "params.units",
                       "params.layers.0.kernel_size", "params.optimizer_params.beta1"]
    table = [[row[c] for c in columns[len(records.BASE_COLUMNS):]] for row in rows]
    assert table == [[0.5, 0.7, 60, 32, "adam", 2, 16, None, None],
                     [None, None, None, 64, "sgd", 2, "32-8", None, None],
                     [None, None, None, 32, "adam", 1, 8, "[3, 3]", 0.8]]
    assert records.runs_table([]) == (list(records.BASE_COLUMNS), [])


def test_runs_csv_round_trip(db):
    search_id, ids = grid_runs(db)
    db.rename_run(ids[0], 'best, so far "really"\nsecond line')
    runs = db.list_runs(search_id=search_id)
    columns, rows = records.runs_table(runs)
    text = records.runs_csv(runs)
    parsed = list(csv.reader(io.StringIO(text, newline="")))
    assert parsed[0] == columns
    assert len(parsed) == 1 + len(runs)
    for line, row in zip(parsed[1:], rows):
        assert line == ["" if row[c] is None else str(row[c]) for c in columns]
    by_id = {int(line[0]): dict(zip(columns, line)) for line in parsed[1:]}
    assert by_id[ids[0]]["name"] == 'best, so far "really"\nsecond line'
    assert float(by_id[ids[2]]["params.learning_rate"]) == 0.1 and by_id[ids[2]]["params.activation"] == "relu"
    assert float(by_id[ids[1]]["metrics.val_accuracy"]) == 0.85 and by_id[ids[3]]["metrics.macro_f1"] == ""
    assert datetime.fromisoformat(by_id[ids[3]]["created_at"]) == datetime.fromisoformat(
        db.get_run(ids[3])["created_at"])


# -- several processes at once ---------------------------------------------------------------------------
RUNS_PER_WRITER = 25
WRITERS = 4


def _write_runs(url: str, writer: int, go) -> None:
    """One writer process: opens the database and records its runs, start to finish."""
    os.environ[records.URL_ENV] = url
    go.wait(60)
    for k in range(RUNS_PER_WRITER):
        run_id = records.start_run(make_spec(), name=f"w{writer}-{k}", params={"writer": writer, "k": k})
        records.update_run(run_id, epochs=1)
        records.finish_run(run_id, state=records.RUN_STATES[k % 5], message=f"{writer}/{k}",
                           metrics={"loss": k / 10}, epochs=k, model=bytes([writer, k]) * 100)


def test_concurrent_writers(db_url):
    """Four processes write at once to a database none of them has opened before."""
    ctx = multiprocessing.get_context("spawn")
    go = ctx.Event()
    writers = [ctx.Process(target=_write_runs, args=(db_url, w, go)) for w in range(WRITERS)]
    for p in writers:
        p.start()
    go.set()
    for p in writers:
        p.join(120)
    assert [p.exitcode for p in writers] == [0] * WRITERS
    try:
        records.init(db_url)
        found = records.list_runs()
        assert len(found) == WRITERS * RUNS_PER_WRITER
        assert len({r["id"] for r in found}) == len(found)
        by_name = {r["name"]: r for r in found}
        for w in range(WRITERS):
            for k in range(RUNS_PER_WRITER):
                run = by_name[f"w{w}-{k}"]
                assert run["state"] == records.RUN_STATES[k % 5] and run["message"] == f"{w}/{k}"
                assert run["params"] == {"writer": w, "k": k} and run["epochs"] == k and run["has_model"]
        sample = by_name["w3-7"]
        assert records.get_run(sample["id"], with_model=True)["model"] == bytes([3, 7]) * 100
    finally:
        records.close()


def test_get_runs_keeps_the_order_asked_and_list_runs_can_leave_out_histories(db):
    ids = [db.start_run(make_spec(), name=f"r{k}") for k in range(3)]
    db.finish_run(ids[1], state="done", history={"train_loss": [0.5, 0.4]})
    got = db.get_runs([ids[2], 10**6, ids[0], ids[1]])
    assert [r["id"] for r in got] == [ids[2], ids[0], ids[1]]
    assert got[2]["history"] == {"train_loss": [0.5, 0.4]}
    light = db.list_runs(with_history=False)
    assert [r["id"] for r in light] == ids[::-1] and all("history" not in r for r in light)
    assert db.get_runs([]) == []
    with pytest.raises(ValueError, match="ids must be a list"):
        db.get_runs("1")
