"""Running searches: a search's trials trained, recorded and watched.

A search is recorded first (``dashboard.records``: the search, then one run per trial
as it starts), then its trials run:

* embedded, one after another in one background job (:func:`run_all`): the machine's
  cores are better spent on one trial at a time than on two that share them;
* in Celery mode, one task per trial (:data:`TRIAL_TASK`, registered by ``app.py``),
  so each worker trains one trial at a time and the trials spread over the workers.

Either way every trial ends as a record (done, stopped, diverged or failed; a trial
whose settings break a rule of the form is recorded as failed with the rule, and one
that Stop search kept from starting as stopped), and the search ends itself when its
last trial does (:func:`finish_if_complete`). :func:`status` is what the page shows:
trials done of total, the running ones with their live loss, an estimate of the time
left.

From a script, :func:`search` does all of it in the calling process and returns the
runs as rows; they are in the dashboard's Experiments section afterwards::

    from dashboard import searches
    rows = searches.search("dense", {"learning_rate": {"kind": "log", "low": 1e-3, "high": 1e-1, "n": 3}})
"""
from __future__ import annotations

import copy
import logging
import math
import time
from datetime import datetime, timezone
from typing import Any, Callable, Optional

from . import experiments, jobs, presets, records, store, workers
from . import spec as spec_mod

log = logging.getLogger(__name__)

TRIAL_TASK = "backprop.trial"
NOT_RUN = "Not run: the search was stopped first."
JOB_START_S = 600            # an embedded search whose job never started by then is stopped


SHORT_NAMES = {"learning_rate": "lr", "batch_size": "batch", "activation": "", "output_activation": "out",
               "val_percent": "val %", "init_seed": "seed", "optimizer": "", "init": "init"}


def trial_name(trial: int, params: dict) -> str:
    """``"Trial 3: lr 0.03 · relu"``: a trial named by what it varied."""
    parts = []
    for field, value in params.items():
        label = SHORT_NAMES.get(field, field.split(".")[-1])
        text = f"{value:g}" if isinstance(value, float) else str(value)
        parts.append(f"{label} {text}".strip())
    return f"Trial {trial + 1}: " + " · ".join(parts) if parts else f"Trial {trial + 1}"


# -- making a search ---------------------------------------------------------------------------------
def create(base_form: dict, space: dict, *, strategy: str = "grid", n_trials: Optional[int] = None,
           seed: int = 0, name: Optional[str] = None, csv_meta: Optional[dict] = None,
           session_id: Optional[str] = None) -> tuple[int, list[dict]]:
    """Record a search of ``space`` around the form values ``base_form``; returns its id
    and the trials to run (``experiments.trials`` entries whose spec is set). Trials whose
    settings break a rule are recorded as failed at once. ValueError for a bad space."""
    space = experiments.check_space(space)
    planned = experiments.trials(base_form, space, strategy, n_trials, seed, csv_meta)
    base = spec_mod.check(base_form, csv_meta).spec
    search_id = records.start_search({"form": base_form, "spec": base}, space, strategy=strategy,
                                     n_trials=len(planned), seed=seed if strategy == "random" else None, name=name)
    store.clear_search_stop(search_id)      # a flag left by an older database's search of this id
    return search_id, _record_rule_breakers(search_id, planned, base or {}, session_id)


def _record_rule_breakers(search_id: int, planned: list[dict], base: dict, session_id: Optional[str]) -> list[dict]:
    runnable = []
    for entry in planned:
        if entry["spec"] is not None:
            runnable.append(entry)
            continue
        run_id = records.start_run(base, session=session_id, dataset=(base.get("data") or {}).get("name"),
                                   params=entry["params"], search_id=search_id, trial=entry["trial"],
                                   name=trial_name(entry["trial"], entry["params"]))
        records.finish_run(run_id, state="failed", message=f"Not run: {entry['error']}")
    if not runnable:
        finish_if_complete(search_id)
    return runnable


def create_retrain(run_ids: list[int], *, metric: str, k: int, epochs: int,
                   session_id: Optional[str] = None) -> tuple[int, list[dict]]:
    """**Retrain best**: the best ``k`` of these runs by ``metric`` trained again from
    scratch with ``epochs`` epochs, as a search of their own."""
    from viz.runs import best_runs   # ranks by the metric's direction (loss: lower is better)

    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 20:
        raise ValueError(f"k: retrain 1 to 20 runs (got {k!r})")
    low, high = spec_mod.FIELDS["epochs"][4], spec_mod.FIELDS["epochs"][5]
    if isinstance(epochs, bool) or not isinstance(epochs, int) or not low <= epochs <= high:
        raise ValueError(f"epochs: a whole number from {low} to {high:,} (got {epochs!r})")
    candidates = [run for run in (records.get_run(i) for i in run_ids) if run is not None
                  and run["state"] in ("done", "stopped") and run["spec"].get("training")]
    best = best_runs(candidates, metric, k)
    if not best:
        raise ValueError(f"metric: none of these runs has {metric} (choose runs that finished, or another metric)")
    planned = []
    for position, run in enumerate(best):
        trial_spec = copy.deepcopy(run["spec"])
        trial_spec["training"]["epochs"] = epochs
        planned.append({"trial": position, "spec": trial_spec, "error": None,
                        "params": {**(run.get("params") or {}), "retrain_of": run["id"], "epochs": epochs}})
    search_id = records.start_search({"runs": [run["id"] for run in best]},
                                     {"retrain": {"metric": metric, "k": k, "epochs": epochs}},
                                     strategy="retrain", n_trials=len(planned),
                                     name=f"Retrain best {len(best)} by {metric}")
    store.clear_search_stop(search_id)
    return search_id, planned


# -- running its trials --------------------------------------------------------------------------------
def run_trial(search_id: int, entry: dict, session_id: Optional[str] = None) -> Optional[int]:
    """One trial (an ``experiments.trials`` entry): trained and recorded, or recorded as
    stopped when Stop search came first. Ends the search when it was the last."""
    if store.search_stop_requested(search_id) is not None:
        run_id = records.start_run(entry["spec"], session=session_id, dataset=entry["spec"]["data"]["name"],
                                   params=entry["params"], search_id=search_id, trial=entry["trial"],
                                   name=trial_name(entry["trial"], entry["params"]))
        records.finish_run(run_id, state="stopped", message=NOT_RUN)
    else:
        run_id = jobs.run_trial(entry["spec"], search_id=search_id, trial=entry["trial"], params=entry["params"],
                                session_id=session_id, name=trial_name(entry["trial"], entry["params"]))
    finish_if_complete(search_id)
    return run_id


def run_all(search_id: int, planned: list[dict], session_id: Optional[str] = None,
            on_trial: Optional[Callable[[int], None]] = None) -> None:
    """The trials one after another in this process (embedded mode, and scripts)."""
    for entry in planned:
        store.beat_search(search_id)
        run_id = run_trial(search_id, entry, session_id)
        if on_trial is not None and run_id is not None:
            on_trial(run_id)


def dispatch(app: Any, search_id: int, planned: list[dict], session_id: Optional[str] = None) -> None:
    """The trials as Celery tasks, one each: idle workers take them as they come."""
    for entry in planned:
        app.send_task(TRIAL_TASK, kwargs={"search_id": search_id, "entry": entry, "session_id": session_id})




def celery_app() -> Any:
    """The Celery app trials are sent to (None when embedded: they run in a background job)."""
    return workers.celery_app()


def register_task(app: Any) -> None:
    """Teach a Celery app the trial task and send this process's trials to it (``app.py``
    calls it at import, so the web server and its workers know it)."""
    workers.use(app)
    # One trial at a time per worker process: a trial takes minutes, so a worker must not
    # reserve the next one while another worker sits idle.
    app.conf.worker_prefetch_multiplier = 1
    app.conf.task_acks_late = True

    @app.task(name=TRIAL_TASK)
    def trial_task(search_id: int, entry: dict, session_id: Optional[str] = None) -> Optional[int]:
        return run_trial(search_id, entry, session_id)


def stop(search_id: int) -> None:
    """Stop search: running trials end after their batch; those not started are not run."""
    store.request_search_stop(search_id)
    finish_if_complete(search_id)


def finish_if_complete(search_id: int) -> bool:
    """End the search (done, or stopped after Stop search) when every trial has ended."""
    search = records.get_search(search_id)
    if search is None or search["state"] != "running":
        return False
    trials = records.list_runs(search_id=search_id)
    if len(trials) < search["n_trials"] or any(run["state"] == "running" for run in trials):
        return False
    stopped = store.search_stop_requested(search_id) is not None
    return records.finish_search(search_id, "stopped" if stopped else "done")


# -- watching it -----------------------------------------------------------------------------------------
def status(search_id: int) -> Optional[dict]:
    """What the page shows of a search: ``{"id", "name", "state", "total", "finished",
    "by_state", "running": [{"run_id", "trial", "name", "epoch", "epochs", "loss", ...}],
    "waiting", "eta_s"}`` (``waiting``: trials no worker has taken yet; ``eta_s`` None until
    a trial has finished), or None. Trials that stopped reporting for ``jobs.STALE_S`` are
    marked failed here (their process is gone)."""
    search = records.get_search(search_id)
    if search is None:
        return None
    if search["state"] == "running":
        # A trial whose process died stops reporting: mark it failed, so the search can end.
        if records.mark_stale_running(jobs.STALE_S):
            finish_if_complete(search_id)
            search = records.get_search(search_id)
    trials = records.list_runs(search_id=search_id, newest_first=False)
    if search["state"] == "running" and _job_lost(search, trials):
        records.finish_search(search_id, "stopped")
        search = records.get_search(search_id)
    by_state: dict[str, int] = {}
    for run in trials:
        by_state[run["state"]] = by_state.get(run["state"], 0) + 1
    running = [run for run in trials if run["state"] == "running"]
    progress = store.get_run_progress([run["id"] for run in running])
    live = [{"run_id": run["id"], "trial": run["trial"], "name": run["name"], **progress.get(run["id"], {})}
            for run in running]
    finished = len(trials) - len(running)
    trained = [run["wall_time_s"] for run in trials
               if run["state"] != "running" and run["wall_time_s"] and run["message"] != NOT_RUN]
    eta = None
    if search["state"] == "running" and trained:
        mean = sum(trained) / len(trained)
        left = search["n_trials"] - finished
        at_once = max(len(running), 1)
        # The running trials are partly done: count what they have left by their epochs.
        running_left = sum(1 - min(p.get("epoch", 0) / max(p.get("epochs", 1), 1), 1) for p in live)
        eta = mean * (max(left - len(running), 0) + running_left) / at_once
    return {"id": search["id"], "name": search["name"], "state": search["state"], "total": search["n_trials"],
            "finished": finished, "by_state": by_state, "running": live,
            "waiting": max(search["n_trials"] - len(trials), 0),
            "eta_s": None if eta is None or not math.isfinite(eta) else eta}


def _job_lost(search: dict, trials: list[dict]) -> bool:
    """Embedded mode: the job that runs the trials one after another is gone (the server
    restarted under it) when no trial runs, some never started, and the job has not said
    it is alive for ``jobs.STALE_S`` - or never did, ``JOB_START_S`` after the search was
    made (a busy machine can take its time to start a job). With Celery, waiting trials
    wait for a free worker."""
    if celery_app() is not None or len(trials) >= search["n_trials"] or any(r["state"] == "running" for r in trials):
        return False
    beat = store.search_beat(search["id"])
    if beat is None:
        age = (datetime.now(timezone.utc) - datetime.fromisoformat(search["created_at"])).total_seconds()
        return age > JOB_START_S
    last = max([datetime.fromisoformat(r["updated_at"]).timestamp() for r in trials] + [beat])
    return time.time() - last > jobs.STALE_S


def status_text(found: Optional[dict]) -> str:
    """``"Search 3: 2 of 4 trials done (1 diverged) · trial 3: epoch 5/20, loss 0.231 · about 40 s left"``."""
    if not found:
        return ""
    states = ", ".join(f"{n} {state}" for state, n in sorted(found["by_state"].items())
                       if state not in ("done", "running"))
    parts = [f"{found['name']}: {found['finished']} of {found['total']} trial{'s' if found['total'] != 1 else ''} "
             f"finished" + (f" ({states})" if states else "")]
    for trial in found["running"]:
        if "epoch" in trial:
            loss = f", loss {trial['loss']:.4g}" if isinstance(trial.get("loss"), (int, float)) else ""
            parts.append(f"trial {trial['trial'] + 1}: epoch {trial['epoch']}/{trial['epochs']}{loss}")
        else:
            parts.append(f"trial {trial['trial'] + 1}: starting")
    if found["state"] == "running" and found.get("waiting") and not found["running"]:
        parts.append(f"{found['waiting']} waiting for a free worker" if celery_app() is not None
                     else f"{found['waiting']} to run, starting")
    if found["state"] == "running":
        parts.append(f"about {jobs.duration_text(found['eta_s'])} left" if found["eta_s"] is not None
                     else "time left: known after the first trial")
    else:
        parts.append(found["state"])
    return " · ".join(parts)


# -- from a script -------------------------------------------------------------------------------------------
def search(base: Any, space: dict, *, strategy: str = "grid", n_trials: Optional[int] = None, seed: int = 0,
           dataset: Optional[str] = None, name: Optional[str] = None, **form_values: Any) -> list[dict]:
    """Run a search in this process and return its runs as rows (``records.runs_table``).

    ``base`` is a preset's name (``dashboard.presets``) or form values; ``dataset`` and any
    other keyword (``epochs=5``, ``learning_rate=0.01``) change the base first. The runs
    are recorded in the same database the dashboard reads (``$BACKPROP_DATABASE_URL``,
    else the state folder's SQLite), so they show in its Experiments section."""
    store.ensure_ready()
    if isinstance(base, str):
        if base not in presets.PRESETS:
            raise ValueError(f"base: a preset ({', '.join(presets.PRESETS)}) or form values (got {base!r})")
        form = presets.preset_form(base)
    elif isinstance(base, dict):
        form = copy.deepcopy(base)
    else:
        raise ValueError(f"base: a preset's name or a dict of form values (got {type(base).__name__})")
    if dataset is not None:
        form.update(dataset=dataset, data={})
    form.update(form_values)
    search_id, planned = create(form, space, strategy=strategy, n_trials=n_trials, seed=seed, name=name)
    started = time.perf_counter()
    run_all(search_id, planned)
    log.info("search %s: %d trials in %.1f s", search_id, len(planned), time.perf_counter() - started)
    return records.runs_table(records.list_runs(search_id=search_id, newest_first=False))[1]
