"""Pause, Step, Resume, slow motion and live settings of a training run.

The page writes the tab's run controls to the run cache (``store.update_control``):

* ``paused``: the job halts after its current batch and waits, keeping the run - its
  model, optimiser state and place in the epoch - alive;
* ``steps``: a counter; each Step while paused runs exactly one more batch, after which
  the job halts again (and keeps the parameters before it: ``store.put_step``);
* ``learning_rate``, ``l1``, ``l2``: applied from the next batch, while paused or
  running; each change is a mark on the loss chart (``RunControl.changes``);
* ``delay_s``: slow motion, a pause after every batch so a person can watch the graph move;
* ``start_halted``: when Step asked for a run with none on (the next run halts after its
  first batch).

``RunControl.after_batch`` is called by the job after every batch (``dashboard.jobs.Fit``).
It reads the controls at most every ``POLL_S`` while the run goes at full speed, and
every ``HALTED_POLL_S`` while halted. What ends a run (Stop, or the job's server gone) ends
a halted one too: the job's own ``stop_asked`` is asked while it waits.
"""
from __future__ import annotations

import math
import time
from typing import Any, Callable, Optional

import numpy as np

from . import spec as spec_mod
from . import store

POLL_S = 0.05            # how often the controls are read while the run trains
HALTED_POLL_S = 0.01     # ... and while it is halted (the job has nothing else to do)
# The live settings, as the loss chart's marks name them; their rules are the form's
# (dashboard.spec.FIELDS).
SETTINGS = {"learning_rate": "learning rate", "l1": "L1", "l2": "L2"}
MAX_DELAY_S = 5.0
START_HALTED_S = 60.0    # a Step with no run on starts a halted run if Train follows within this time
HALT_MAX_S = 3600.0      # a run halted this long with nobody resuming it stops (its page is gone)
SLOW_MOTION_S = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0)   # the choices the page offers


def valid_setting(name: str, value: Any) -> bool:
    """True when ``value`` is a number the form would accept for setting ``name``."""
    if name not in SETTINGS or isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    errors: dict = {}
    return spec_mod.field_number({name: value}, errors, name) is not None


def delay_of(control: dict) -> float:
    value = control.get("delay_s", 0.0)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return 0.0
    return min(max(float(value), 0.0), MAX_DELAY_S)


class RunControl:
    """The controls of one run, as its job sees them.

    ``on_pause(fit, logs, stepped)`` is called when the run halts (the job publishes
    the paused state: snapshot, model file, progress); ``stepped`` is True when it
    halts after a single Step. ``position(fit, logs)`` gives the run's place in
    fractional epochs, where the loss chart marks a change. ``stop_asked()`` is the job's
    own test of whether the run must end (when, as time.time(), or None)."""

    def __init__(self, session_id: str, model: Any, on_pause: Callable[[Any, dict, bool], None],
                 position: Callable[[Any, dict], float], stop_asked: Callable[[], Optional[float]],
                 start_paused: bool = False):
        self.session_id, self.model = session_id, model
        self.on_pause, self.position, self.stop_asked = on_pause, position, stop_asked
        previous = store.get_control(session_id)
        # Step with no run on asks for a run that halts after its first batch, then presses Train.
        asked = previous.get("start_halted")
        start_paused = start_paused or (isinstance(asked, (int, float)) and 0 <= time.time() - asked < START_HALTED_S)
        store.set_control(session_id, {"paused": bool(start_paused), "steps": 0,
                                       "delay_s": delay_of(previous)})
        self.steps_seen = 0
        self.halt_next = bool(start_paused)   # halt after the next batch (Step from idle, or a Step granted)
        self.paused = False
        self.paused_at: Optional[float] = None  # when the last halt began (the job takes it off its run time)
        self.changes: list[dict] = []          # [{"x", "batch", "name", "old", "new", "text"}]
        self._read_at = 0.0
        self._control: dict = {}
        self._delay = 0.0                      # slow motion, as last read

    # -- what the page asked for -------------------------------------------------------
    def _read(self) -> dict:
        self._read_at = time.perf_counter()
        self._control = store.get_control(self.session_id)
        self._delay = delay_of(self._control)
        return self._control

    def _apply_settings(self, control: dict, fit: Any, logs: dict) -> None:
        for name, label in SETTINGS.items():
            if name not in control:
                continue
            new = control[name]
            current = self.model.learning_rate if name == "learning_rate" else getattr(self.model, name)
            if not valid_setting(name, new) or current is None or float(new) == float(current):
                continue
            self.changes.append({"x": round(float(self.position(fit, logs)), 4), "batch": int(fit.batches_done),
                                 "name": name, "old": float(current), "new": float(new),
                                 "text": f"{label} {current:g} → {new:g}"})
            if name == "learning_rate":
                self.model.learning_rate = float(new)
                fit.learning_rate = float(new)
            else:
                setattr(self.model, name, float(new))

    def _stop_seen(self, fit: Any) -> bool:
        asked = self.stop_asked()
        if asked is None and self.paused_at is not None and time.perf_counter() - self.paused_at > HALT_MAX_S:
            asked = time.time()               # halted for so long that nobody is there to resume it
        if asked is None:
            return False
        self.model.stop_training = True
        fit.stopped = max(time.time() - asked, 0.0)
        return True

    # -- after every batch ------------------------------------------------------------------
    def after_batch(self, fit: Any, logs: dict) -> None:
        """Apply new settings, halt when asked (until Resume, Step or Stop), then slow down
        when slow motion is on."""
        halt = self.halt_next
        if halt or time.perf_counter() - self._read_at >= POLL_S:
            control = self._read()
            self._apply_settings(control, fit, logs)
            halt = halt or bool(control.get("paused"))
        if halt:
            self._halt(fit, logs, stepped=self.halt_next and self.steps_seen > 0)
            return
        delay = self._delay
        if not delay:
            return
        ends = time.perf_counter() + delay
        while time.perf_counter() < ends:
            time.sleep(min(POLL_S, max(ends - time.perf_counter(), 0.0)))
            control = self._read()
            self._apply_settings(control, fit, logs)
            if control.get("paused") or self._stop_seen(fit):
                if control.get("paused"):
                    self._halt(fit, logs, stepped=False)
                return

    def _halt(self, fit: Any, logs: dict, stepped: bool) -> None:
        self.halt_next = False
        self.paused = True
        self.paused_at = time.perf_counter()
        control = self._read()
        if not stepped:
            self.steps_seen = int(control.get("steps") or 0)    # Steps asked before the halt do not count
        self.on_pause(fit, logs, stepped)
        while True:
            if self._stop_seen(fit):
                break
            control = self._read()
            self._apply_settings(control, fit, logs)
            if not control.get("paused"):
                break
            steps = int(control.get("steps") or 0)
            if steps > self.steps_seen:
                self.steps_seen += 1
                self.halt_next = True
                self._keep_before(fit)
                break
            time.sleep(HALTED_POLL_S)
        self.paused = False

    def _keep_before(self, fit: Any) -> None:
        """The parameters before a single Step, for the page to show each one's change."""
        before = {str(k): {name: np.array(getattr(layer, name)) for name in layer.param_names}
                  for k, layer in enumerate(self.model.layers) if layer.param_names}
        store.put_step(self.session_id, {
            "before": before, "batches_done": int(fit.batches_done) + 1,
            "learning_rate": float(self.model.learning_rate), "optimizer": self.model.optimizer_name,
            "optimizer_params": dict(self.model.optimizer_params or {}), "l1": self.model.l1, "l2": self.model.l2})
