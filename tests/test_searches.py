"""Searches run in this process (embedded mode and the script API): every trial recorded
once with what it varied, diverging and rule-breaking trials marked so, Stop search,
Retrain best, and a Train run's record."""
from __future__ import annotations

import io
import math
import time

import numpy as np
import pytest
from flask import Flask

from dashboard import experiments, jobs, presets, records, searches, store, workers
from dashboard import spec as spec_mod
from engine import Sequential

pytestmark = pytest.mark.usefixtures("shared_data")

GRID = {"learning_rate": {"kind": "values", "values": [0.01, 0.1]},
        "activation": {"kind": "values", "values": ["tanh", "relu"]}}


@pytest.fixture
def db(tmp_path, monkeypatch):
    """A fresh SQLite database and run cache in a state folder of the test's own."""
    monkeypatch.setenv("BACKPROP_STATE_DIR", str(tmp_path))
    monkeypatch.delenv(records.URL_ENV, raising=False)
    store.init_app(Flask("test"))
    records.init()
    yield records
    records.close()


def small_form(**values):
    form = presets.preset_form("dense")
    form.update({"epochs": 5, **values})
    return form


def test_a_grid_search_records_every_trial_once_with_its_settings(db):
    rows = searches.search(small_form(), GRID)
    assert len(rows) == 4
    runs = db.list_runs(newest_first=False)
    assert sorted(run["trial"] for run in runs) == [0, 1, 2, 3]
    assert [run["params"] for run in sorted(runs, key=lambda r: r["trial"])] == \
        experiments.combinations(GRID)
    search = db.list_searches()[0]
    assert search["state"] == "done" and search["n_trials"] == 4
    for run in runs:
        assert run["state"] == "done", run["message"]
        assert run["search_id"] == search["id"] and run["epochs"] == 5 and run["wall_time_s"] > 0
        assert run["spec"]["training"]["learning_rate"] == run["params"]["learning_rate"]
        assert {layer["config"]["activation"] for layer in run["spec"]["model"]["layers"][:-1]} == \
            {run["params"]["activation"]}
        history = run["history"]
        assert len(history["train_loss"]) == len(history["val_loss"]) == 5
        # The final metrics are the history's last epoch, and the validation ones are
        # scikit-learn's on the model file the run kept.
        assert run["metrics"]["loss"] == pytest.approx(history["train_loss"][-1])
        assert run["metrics"]["val_loss"] == pytest.approx(history["val_loss"][-1])
        full = db.get_run(run["id"], with_model=True, with_inside=True)
        model = Sequential.load(io.BytesIO(full["model"]))
        assert model.epochs_trained == 5
        prepared = jobs.load_prepared(run["spec"], None)
        again = jobs.metrics(model, prepared.validation[0], prepared.y_val)
        assert run["metrics"]["val_accuracy"] == pytest.approx(again["accuracy"])
        assert run["metrics"]["macro_f1"] == pytest.approx(again["macro_f1"])
        assert run["name"].startswith(f"Trial {run['trial'] + 1}: lr ")
        # One histogram frame per epoch, the last one the kept model's weights.
        frames = full["inside"]["frames"]
        assert [f["epoch"] for f in frames] == [1, 2, 3, 4, 5]
        last = frames[-1]["params"][0]
        counts, _ = np.histogram(model.layers[0].W.ravel(), bins=np.array(last["edges"]))
        assert last["counts"] == counts.tolist()
    # The rows are the runs table: the varied settings and the metrics as columns.
    assert {row["params.learning_rate"] for row in rows} == {0.01, 0.1}
    assert all(0 <= row["metrics.val_accuracy"] <= 1 for row in rows)


def test_a_diverging_trial_is_marked_and_the_search_goes_on(db):
    space = {"learning_rate": {"kind": "values", "values": [100.0, 0.01]}}
    searches.search(small_form(), space)
    by_rate = {run["params"]["learning_rate"]: run for run in db.list_runs()}
    assert by_rate[100.0]["state"] == "diverged"
    assert "Diverged" in by_rate[100.0]["message"] and "here 100" in by_rate[100.0]["message"]
    history = by_rate[100.0]["history"]["train_loss"]
    assert history[-1] > jobs.DIVERGED_FACTOR * 0.5     # far above a two-class guess (ln 2 = 0.69)
    assert by_rate[0.01]["state"] == "done"
    assert db.list_searches()[0]["state"] == "done"


def test_a_rise_among_losses_already_near_zero_is_not_divergence():
    # A continued model at 3e-8 that drifts to 8e-7 has learned nothing worse; one at 0.3 that
    # ends at 4 has diverged, and so has one at 1e-8 that ends far above the floor.
    assert not jobs.diverged(2.98e-08, 8.027e-07)
    assert not jobs.diverged(0.01645, 0.177)     # a loaded text model's first epoch under a fresh Adam
    assert not jobs.diverged(1e-6, jobs.DIVERGED_FACTOR * jobs.DIVERGED_FLOOR)
    assert jobs.diverged(1e-8, 1.01 * jobs.DIVERGED_FACTOR * jobs.DIVERGED_FLOOR)
    assert jobs.diverged(0.3, 4.0)
    assert not jobs.diverged(0.3, 2.9)


def test_a_trial_that_breaks_a_rule_is_recorded_as_failed_with_the_rule(db):
    space = {"units": {"kind": "values", "values": [8, 100_000]}}
    searches.search(small_form(), space)
    by_units = {run["params"]["units"]: run for run in db.list_runs()}
    assert by_units[100_000]["state"] == "failed"
    assert by_units[100_000]["message"].startswith("Not run:") and "Must be at most 4,096" in by_units[100_000]["message"]
    assert by_units[8]["state"] == "done"
    assert db.list_searches()[0]["state"] == "done"


def test_a_failing_trial_is_failed_and_the_next_one_runs(db, monkeypatch):
    real = spec_mod.build_model
    calls = []

    def build(spec):
        calls.append(spec)
        if len(calls) == 1:
            raise RuntimeError("out of memory")
        return real(spec)

    monkeypatch.setattr(spec_mod, "build_model", build)
    searches.search(small_form(), {"learning_rate": {"kind": "values", "values": [0.01, 0.02]}})
    runs = {run["trial"]: run for run in db.list_runs()}
    assert runs[0]["state"] == "failed" and "RuntimeError: out of memory" in runs[0]["message"]
    assert runs[1]["state"] == "done"


def test_stop_search_ends_the_running_trial_and_skips_the_rest(db, monkeypatch):
    search_id, planned = searches.create(small_form(epochs=10_000), GRID)
    seen = []

    def progress(run_id, value):
        seen.append(value)
        if len(seen) == 3:                 # the first trial is training: Stop search
            searches.stop(search_id)

    monkeypatch.setattr(store, "put_run_progress", progress)
    searches.run_all(search_id, planned)
    runs = sorted(db.list_runs(search_id=search_id), key=lambda r: r["trial"])
    assert [run["state"] for run in runs] == ["stopped"] * 4
    assert runs[0]["message"].startswith("Stopped by you") and runs[0]["has_model"]
    assert runs[0]["epochs"] < 10_000
    assert all(run["message"] == searches.NOT_RUN and not run["has_model"] for run in runs[1:])
    assert db.get_search(search_id)["state"] == "stopped"


def test_status_counts_trials_and_estimates_the_time_left(db, monkeypatch):
    search_id, planned = searches.create(small_form(), GRID)
    found = searches.status(search_id)
    assert (found["total"], found["finished"], found["eta_s"], found["state"]) == (4, 0, None, "running")
    assert "0 of 4 trials finished" in searches.status_text(found)
    searches.run_trial(search_id, planned[0])
    searches.run_trial(search_id, planned[1])
    found = searches.status(search_id)
    times = [run["wall_time_s"] for run in db.list_runs(search_id=search_id)]
    assert found["finished"] == 2
    assert found["eta_s"] == pytest.approx(2 * sum(times) / len(times))
    assert "2 of 4 trials finished" in searches.status_text(found) and "left" in searches.status_text(found)
    searches.run_all(search_id, planned[2:])
    found = searches.status(search_id)
    assert (found["state"], found["finished"], found["eta_s"]) == ("done", 4, None)
    assert searches.status_text(found).endswith("done")


def test_retrain_best_trains_the_best_k_again_with_more_epochs(db):
    searches.search(small_form(), GRID)
    runs = db.list_runs()
    ranked = sorted(runs, key=lambda r: (-r["metrics"]["val_accuracy"], r["id"]))
    search_id, planned = searches.create_retrain([r["id"] for r in runs], metric="val_accuracy", k=2, epochs=8)
    assert [entry["params"]["retrain_of"] for entry in planned] == [r["id"] for r in ranked[:2]]
    searches.run_all(search_id, planned)
    again = db.list_runs(search_id=search_id, newest_first=False)
    assert [run["epochs"] for run in again] == [8, 8] and all(run["state"] == "done" for run in again)
    assert db.get_search(search_id)["strategy"] == "retrain"
    with pytest.raises(ValueError, match="k: retrain 1 to 20"):
        searches.create_retrain([runs[0]["id"]], metric="val_accuracy", k=0, epochs=8)
    with pytest.raises(ValueError, match="none of these runs has"):
        searches.create_retrain([runs[0]["id"]], metric="r2", k=1, epochs=8)


def test_the_script_api_takes_a_preset_and_a_data_set(db):
    rows = searches.search("dense", {"learning_rate": {"kind": "log", "low": 1e-3, "high": 1e-1, "n": 3}},
                           dataset="circles", epochs=3)
    assert [row["params.learning_rate"] for row in sorted(rows, key=lambda r: r["id"])] == [0.001, 0.01, 0.1]
    assert {row["dataset"] for row in rows} == {"circles"}
    with pytest.raises(ValueError, match="base: a preset"):
        searches.search("nope", GRID)


def test_a_train_run_is_recorded_with_its_model(db):
    session = "ab" * 16
    spec = spec_mod.check(small_form()).spec
    live, _ = jobs.run(lambda progress: None, session, spec)
    (run,) = db.list_runs()
    assert live["run_id"] == run["id"]
    assert run["session"] == session and run["state"] == "done" and run["search_id"] is None
    assert run["epochs"] == 5 and run["name"] == f"Run {run['id']}"
    stored = store.get_model(session)
    assert db.get_run(run["id"], with_model=True)["model"] == stored["bytes"]
    assert run["metrics"]["val_accuracy"] == pytest.approx(live["metrics"]["accuracy"])
    # Train again: the model continues, and the record keeps the whole history.
    jobs.run(lambda progress: None, session, spec)
    newest = db.list_runs()[0]
    assert newest["epochs"] == 10 and len(newest["history"]["train_loss"]) == 10


def test_a_train_run_that_fails_is_recorded_as_failed(db):
    spec = spec_mod.check(small_form()).spec
    spec["data"]["name"] = "no-such-data"
    with pytest.raises(Exception):
        jobs.run(lambda progress: None, "cd" * 16, spec)
    (run,) = db.list_runs()
    assert run["state"] == "failed" and run["message"]


def test_inside_keeps_the_first_and_newest_frames_past_its_limit():
    model = Sequential.from_config(spec_mod.check(small_form()).spec["model"])
    inside = jobs.Inside(limit=8)
    for epoch in range(1, 30):
        inside.add(model, epoch)
        assert len(inside.frames) <= 8
        assert inside.frames[0]["epoch"] == 1 and inside.frames[-1]["epoch"] == epoch
    epochs = [f["epoch"] for f in inside.frames]
    assert epochs == sorted(set(epochs))


def test_final_metrics_come_from_the_history_and_the_validation_pass():
    history = {"train_loss": [0.9, 0.4], "val_loss": [1.0, 0.5], "train_accuracy": [0.5, 0.8],
               "val_accuracy": [0.4, 0.7]}
    assert jobs.final_metrics(history, {"accuracy": 0.75, "macro_f1": 0.7, "n": 60}) == \
        {"loss": 0.4, "val_loss": 0.5, "accuracy": 0.8, "val_accuracy": 0.75, "macro_f1": 0.7}
    assert jobs.final_metrics({"train_loss": [2.0], "val_loss": []}, {}) == {"loss": 2.0}
    assert not math.isnan(jobs.final_metrics(history, {})["val_accuracy"])


def test_a_trial_whose_process_died_is_failed_and_the_search_ends(db, monkeypatch):
    search_id, planned = searches.create(small_form(), {"learning_rate": {"kind": "values", "values": [0.01, 0.1]}})
    searches.run_trial(search_id, planned[0])
    # The second trial's process is killed mid-run: its record says running and stays so.
    lost = db.start_run(planned[1]["spec"], search_id=search_id, trial=1, params=planned[1]["params"])
    found = searches.status(search_id)
    assert found["state"] == "running" and [t["run_id"] for t in found["running"]] == [lost]
    monkeypatch.setattr(jobs, "STALE_S", 0.05)
    time.sleep(0.1)
    found = searches.status(search_id)
    assert found["state"] == "done" and found["by_state"] == {"done": 1, "failed": 1}
    assert db.get_run(lost)["message"] == records.STALE_MESSAGE


def test_an_embedded_search_whose_job_is_gone_is_stopped(db, monkeypatch):
    search_id, planned = searches.create(small_form(), GRID)
    searches.run_all(search_id, planned[:1])            # the job ran one trial, then died
    found = searches.status(search_id)
    assert found["state"] == "running" and found["waiting"] == 3
    monkeypatch.setattr(jobs, "STALE_S", 0.05)
    time.sleep(0.1)
    # With Celery the waiting trials wait for a worker ...
    monkeypatch.setattr(workers, "_celery", object())
    assert searches.status(search_id)["state"] == "running"
    assert "3 waiting for a free worker" in searches.status_text(searches.status(search_id))
    # ... embedded, nobody will run them.
    monkeypatch.setattr(workers, "_celery", None)
    assert searches.status(search_id)["state"] == "stopped"
    # A job that has not started yet is given JOB_START_S.
    slow, _ = searches.create(small_form(), GRID)
    assert searches.status(slow)["state"] == "running"
    monkeypatch.setattr(searches, "JOB_START_S", 0.05)
    time.sleep(0.1)
    assert searches.status(slow)["state"] == "stopped"
