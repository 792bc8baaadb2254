"""Pause, Step, Resume and live settings of a training job (dashboard.control), run in
this process: the job in a thread, the page's side through the run cache as the page's
callbacks write it."""
from __future__ import annotations

import io
import threading
import time

import numpy as np
import pytest

from dashboard import control, jobs, presets, spec as spec_mod, store
from engine import Sequential

SESSION = "5c" * 16
pytestmark = pytest.mark.usefixtures("shared_data")


def _spec(**form_values):
    form = presets.preset_form("dense")
    form.update(init_seed=3, optimizer="sgd", **form_values)
    return spec_mod.check(form).spec


class Job:
    """``jobs.run`` in a thread, as the Train button's background callback runs it."""

    def __init__(self, spec, start_paused=False):
        self.result, self.progress = [], []
        self.thread = threading.Thread(target=lambda: self.result.append(
            jobs.run(self.progress.append, SESSION, spec, start_paused=start_paused)))
        self.thread.start()

    def wait(self, condition, timeout=30.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            live = store.get_live(SESSION) or {}
            if condition(live):
                return live
            time.sleep(0.005)
        raise AssertionError(f"the job never got there: {store.get_live(SESSION)}")

    def model_file(self, timeout=30.0) -> dict:
        """The tab's model file (a halted job writes it just after it publishes the halt)."""
        deadline = time.monotonic() + timeout
        while (stored := store.get_model(SESSION)) is None:
            assert time.monotonic() < deadline, "the halted job never wrote its model file"
            time.sleep(0.005)
        return stored

    def end(self, timeout=60.0) -> dict:
        self.thread.join(timeout)
        assert not self.thread.is_alive()
        return self.result[0][0]


def _params(session):
    return [{k: np.array(v) for k, v in layer["params"].items()} for layer in store.get_snapshot(session)["layers"]]


def test_step_trains_exactly_one_batch_at_the_new_rate_and_resume_finishes(job_state):
    spec = _spec(epochs=4, learning_rate=0.01)
    job = Job(spec, start_paused=True)
    live = job.wait(lambda l: l.get("paused"))
    assert live["batches_done"] == 1 and live["message"].startswith("Paused after epoch 1, batch 1 of")
    before = _params(SESSION)
    model_file = Sequential.load(io.BytesIO(job.model_file()["bytes"]))
    np.testing.assert_array_equal(model_file.layers[0].W, before[0]["W"])
    store.update_control(SESSION, learning_rate=0.25)
    for k in (2, 3):
        store.update_control(SESSION, steps=store.get_control(SESSION).get("steps", 0) + 1)
        live = job.wait(lambda l, k=k: l.get("paused") and l["batches_done"] == k)
        time.sleep(0.1)                                   # no further batch runs while it is halted
        assert store.get_live(SESSION)["batches_done"] == k
        after = _params(SESSION)
        grads = [layer["grads"] for layer in store.get_snapshot(SESSION)["layers"]]
        for old, new, g in zip(before, after, grads):
            np.testing.assert_allclose(new["W"] - old["W"], -0.25 * g["W"], atol=1e-7)
        kept = store.get_step(SESSION)
        assert kept["batches_done"] == k and kept["learning_rate"] == 0.25
        np.testing.assert_array_equal(kept["before"]["0"]["W"], before[0]["W"])
        before = after
    assert live["learning_rate"] == 0.25
    store.update_control(SESSION, paused=False)
    final = job.end()
    assert final["state"] == "done" and "learning rate 0.01 → 0.25 at batch 1" in final["message"]
    model = Sequential.load(io.BytesIO(store.get_model(SESSION)["bytes"]))
    assert model.epochs_trained == 4
    changes = store.get_live(SESSION)["changes"]
    assert [(c["name"], c["old"], c["new"], c["batch"]) for c in changes] == [("learning_rate", 0.01, 0.25, 1)]
    n_batches = final["batches"]
    assert changes[0]["x"] == pytest.approx(1 / n_batches, abs=1e-4)


def test_pause_while_running_then_stop_while_halted(job_state):
    job = Job(_spec(epochs=5000))
    job.wait(lambda l: l.get("batches_done", 0) > 20)
    store.update_control(SESSION, paused=True)
    live = job.wait(lambda l: l.get("paused"))
    halted = live["batches_done"]
    time.sleep(0.2)
    assert store.get_live(SESSION)["batches_done"] == halted
    store.request_stop(SESSION)
    final = job.end()
    assert final["state"] == "stopped"
    assert store.get_snapshot(SESSION)["batches_done"] == halted


def test_l1_and_l2_change_from_the_next_batch_and_bad_values_are_ignored(job_state):
    job = Job(_spec(epochs=3), start_paused=True)
    job.wait(lambda l: l.get("paused"))
    store.update_control(SESSION, l2=0.5, l1=-1, learning_rate=float("nan"))
    store.update_control(SESSION, steps=1)
    live = job.wait(lambda l: l.get("paused") and l["batches_done"] == 2)
    assert live["l2"] == 0.5 and live["l1"] == 0.0 and live["learning_rate"] == spec_lr()
    store.update_control(SESSION, paused=False)
    job.end()
    assert [c["name"] for c in store.get_live(SESSION)["changes"]] == ["l2"]


def spec_lr():
    return _spec()["training"]["learning_rate"]


def test_slow_motion_waits_between_batches(job_state):
    store.update_control(SESSION, delay_s=0.1)
    started = time.perf_counter()
    job = Job(_spec(epochs=1))
    final = job.end()
    assert final["state"] == "done"
    assert time.perf_counter() - started >= 0.1 * final["batches"]


@pytest.mark.parametrize("name,value,ok", [("learning_rate", 0.5, True), ("learning_rate", 0, False),
                                           ("learning_rate", 1001, False), ("l1", 0, True), ("l2", 10, True),
                                           ("l2", 10.5, False), ("l1", True, False), ("l1", "0.1", False),
                                           ("momentum", 0.5, False), ("learning_rate", float("inf"), False)])
def test_settings_follow_the_form_rules(name, value, ok):
    assert control.valid_setting(name, value) is ok
