"""The run cache: what a browser tab's training run shares with the panels.

One module-level ``flask_caching.Cache`` (filesystem by default, Redis when
``REDIS_URL`` is set), initialised by ``app.py`` with :func:`init_app`. Every
key carries the tab's session id (the ``dashboard.ids.SESSION`` store), so two
tabs never see each other's runs. The training job (a separate process or a
Celery worker) writes here; the page's callbacks read.

Per session:

* ``snapshot`` - the latest snapshot (``docs/architecture.md``: ``model.snapshot()``
  plus ``version``, ``status``, ``dataset`` and ``spec``); :func:`get_snapshot` /
  :func:`put_snapshot`. A web process keeps the last one it read per session, so the
  panels that redraw for one version unpickle it once.
* ``stop``     - the Stop flag the training job polls (:func:`request_stop`).
* ``model``    - the current model as the engine's ``.npz`` bytes, with the data
  set key and the loss history it was trained with (:func:`get_model`).
* ``csv``      - the bytes of the CSV the user uploaded (:func:`put_csv`).
* ``live``     - the run's latest live state (progress, history, batch trace, metrics;
  :func:`get_live`): the charts read it, and a page that lost track of its run.
* ``timeline`` - the run's histograms, percentile bands and health at every snapshot
  (``dashboard.timeline``), and ``frame:<n>`` the parameters kept for scrubbing back.
* ``probe``    - the samples the panels draw for this run (``dashboard.data``: points
  for decision regions, images, sentences, the vocabulary); :func:`put_probe`.
"""
from __future__ import annotations

import errno
import logging
import os
import re
import shutil
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Optional

from flask_caching import Cache

log = logging.getLogger(__name__)
cache = Cache()
_memo: dict[str, dict] = {}          # session -> the last snapshot this process read
_memo_lock = threading.Lock()
MEMO_SESSIONS = 32

# Entries live a day after their last write; a tab idle longer starts afresh.
TIMEOUT_S = 24 * 3600
_SESSION_RE = re.compile(r"^[0-9a-f]{32}$")


def state_dir() -> Path:
    """Where the embedded caches live: $BACKPROP_STATE_DIR or ./.cache/backprop-studio."""
    base = os.environ.get("BACKPROP_STATE_DIR") or os.path.join(os.getcwd(), ".cache", "backprop-studio")
    path = Path(base).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_config(redis_url: Optional[str] = None) -> dict[str, Any]:
    """flask-caching settings: Redis when a URL is given, else a filesystem cache."""
    common = {"CACHE_DEFAULT_TIMEOUT": TIMEOUT_S, "CACHE_KEY_PREFIX": "bps:"}
    if redis_url:
        return {**common, "CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": redis_url}
    return {**common, "CACHE_TYPE": "FileSystemCache", "CACHE_DIR": str(state_dir() / "runs"),
            "CACHE_THRESHOLD": 5000}


def init_app(server: Any, redis_url: Optional[str] = None) -> None:
    """Bind the run cache to the Flask server (call once, at import of app.py)."""
    cache.init_app(server, cache_config(redis_url))


def ensure_ready() -> None:
    """Bind the run cache to a Flask app of its own when no server did (scripts, notebooks)."""
    if getattr(cache, "app", None) is None:
        from flask import Flask
        init_app(Flask("backprop-studio"), os.environ.get("REDIS_URL") or None)


# -- writing, and what the page says when the disk will not take it ---------------------------
# A Train needs room for its run's files (snapshots, the timeline's frames, model files) in the
# state folder; below this much free space ($BACKPROP_MIN_FREE_MB, default 64) it is refused
# before it starts.
MIN_FREE_ENV = "BACKPROP_MIN_FREE_MB"
MIN_FREE_MB = 64.0
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO}


class StorageError(RuntimeError):
    """The run cache, or the disk under it, would not take a write; the text says which
    and what to do. What was stored before is as it was (every write replaces a whole entry)."""


def storage_failure(exc: BaseException) -> Optional[str]:
    """A sentence for an exception that comes from a disk or store that refuses writes (full,
    read-only, over quota, an I/O error, Redis out of memory), else None. Looks down the
    exception's chain (SQLAlchemy and Dash wrap what they catch)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, StorageError):
            return str(exc)
        if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
            return _cannot_save(exc.strerror or str(exc))
        text = str(exc)
        if isinstance(exc, sqlite3.OperationalError) and ("disk is full" in text or "readonly" in text
                                                          or "disk I/O error" in text):
            return _cannot_save(text)
        if type(exc).__name__ in ("ResponseError", "OutOfMemoryError") and "OOM" in text:
            return _cannot_save(f"Redis is out of memory ({text})")
        exc = getattr(exc, "orig", None) or exc.__cause__ or exc.__context__
    return None


def _cannot_save(reason: str) -> str:
    where = state_dir()
    try:
        free = f"; {shutil.disk_usage(where).free / 2**20:,.1f} MB free there"
    except OSError:
        free = ""
    return (f"The server could not save its files: {reason} (under {where}{free}). Nothing was "
            f"overwritten: what was saved before is as it was. Free some space, then try again.")


def space_problem() -> Optional[str]:
    """A sentence when the state folder has too little room for a run, else None."""
    where = state_dir()
    try:
        free = shutil.disk_usage(where).free
    except OSError as exc:
        return _cannot_save(exc.strerror or str(exc))
    try:
        needed = float(os.environ.get(MIN_FREE_ENV) or MIN_FREE_MB)
    except ValueError:
        needed = MIN_FREE_MB
    if free >= needed * 2**20:
        return None
    return (f"The server could not save a run's files: only {free / 2**20:,.1f} MB are free under {where}, and a "
            f"run needs {needed:g} MB. Free some space there, then press Train again.")


def _put(key: str, value: Any, timeout: Optional[int] = None) -> None:
    """Store ``value`` under ``key`` or raise StorageError. (The filesystem cache writes a
    temporary file and renames it over the old entry, and answers False when that fails.)"""
    try:
        done = cache.set(key, value) if timeout is None else cache.set(key, value, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - a store that refuses writes gets its own message
        why = storage_failure(exc)
        if why is None:
            raise
        raise StorageError(why) from exc
    if done is False:
        _sweep_partial_writes()
        raise StorageError(_cannot_save("the write failed (the server's log says why)"))


def _sweep_partial_writes() -> None:
    """Remove the temporary files failed filesystem-cache writes left (older than a minute:
    a younger one may be a write still going on in another process)."""
    folder = state_dir() / "runs"
    cutoff = time.time() - 60
    for path in folder.glob("*.__wz_cache"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except OSError:
            pass


def valid_session(session_id: Any) -> bool:
    """True for a session id as the page makes them (32 lowercase hex digits)."""
    return isinstance(session_id, str) and bool(_SESSION_RE.match(session_id))


def _key(kind: str, session_id: str) -> str:
    if not valid_session(session_id):
        raise ValueError(f"session id must be 32 hex digits (got {session_id!r})")
    return f"{kind}:{session_id}"


def new_version() -> int:
    """A version number later than any made before (milliseconds since the epoch)."""
    return time.time_ns() // 1_000_000


# -- snapshots ------------------------------------------------------------------
def get_snapshot(session_id: str, version: Optional[int] = None) -> Optional[dict]:
    """The latest snapshot of this tab's model, or None when there is none. With
    ``version`` (the one the page was told about), a snapshot of that version this
    process already read is returned without reading the cache again."""
    if not valid_session(session_id):
        return None
    if version is not None:
        with _memo_lock:
            kept = _memo.get(session_id)
        if kept is not None and kept.get("version") == version:
            return kept
    snapshot = cache.get(_key("snapshot", session_id))
    if snapshot is not None:
        with _memo_lock:
            _memo[session_id] = snapshot
            while len(_memo) > MEMO_SESSIONS:
                _memo.pop(next(iter(_memo)))
    return snapshot


def snapshot_for(version: Optional[dict], step: Optional[dict] = None) -> Optional[dict]:
    """The snapshot a ``SNAPSHOT_VERSION`` store value points at (``{"session", "version"}``);
    with ``step`` (the ``ids.STEP`` store: a kept frame of the run), the same snapshot with
    that frame's parameters and gradients - the model as it was at that step."""
    if not version or not version.get("session"):
        return None
    snapshot = get_snapshot(version["session"], version.get("version"))
    if snapshot is None or not step or step.get("session") != version["session"] or step.get("frame") is None:
        return snapshot
    frame = get_frame(version["session"], step["frame"])
    if frame is None or len(frame["layers"]) != len(snapshot["layers"]):
        return snapshot
    layers = [{**layer, "params": kept["params"], "grads": kept["grads"]}
              for layer, kept in zip(snapshot["layers"], frame["layers"])]
    return {**snapshot, "layers": layers, "step": frame["step"]}


def put_snapshot(session_id: str, snapshot: dict) -> int:
    """Store a snapshot for this tab; returns its version (set when missing)."""
    snapshot.setdefault("version", new_version())
    _put(_key("snapshot", session_id), snapshot)
    return snapshot["version"]


def clear(session_id: str) -> None:
    """Forget this tab's model and snapshot (Reset)."""
    cache.delete_many(*(_key(kind, session_id) for kind in ("snapshot", "model", "stop", "live", "probe",
                                                             "timeline", "evaluation", "control", "last-step")))
    with _memo_lock:
        _memo.pop(session_id, None)


# -- the Stop flag ------------------------------------------------------------------
def request_stop(session_id: str) -> None:
    """Raise the Stop flag; its value is when it was raised (time.time())."""
    _put(_key("stop", session_id), time.time(), timeout=600)


def stop_requested(session_id: str) -> Optional[float]:
    """When Stop was asked for (time.time()), or None."""
    return cache.get(_key("stop", session_id))


def clear_stop(session_id: str) -> None:
    cache.delete(_key("stop", session_id))


# -- the run's controls (Pause, Step, live settings) and its last step --------------
def set_control(session_id: str, control: dict) -> None:
    """Replace this tab's run controls (the job does, when a run starts)."""
    _put(_key("control", session_id), dict(control), timeout=TIMEOUT_S)


def update_control(session_id: str, **changes: Any) -> dict:
    """Change some of this tab's run controls (``paused``, ``steps``, ``learning_rate``,
    ``l1``, ``l2``, ``delay_s``); the page does, and the job reads them after every batch.
    Returns the controls as they are now."""
    control = {**(cache.get(_key("control", session_id)) or {}), **changes}
    _put(_key("control", session_id), control, timeout=TIMEOUT_S)
    return control


def get_control(session_id: str) -> dict:
    if not valid_session(session_id):
        return {}
    return cache.get(_key("control", session_id)) or {}


def put_step(session_id: str, step: dict) -> None:
    """The run's last single step (Step while paused): the dense parameters before it and
    the batch count after it (``dashboard.control``)."""
    _put(_key("last-step", session_id), step)


def get_step(session_id: str) -> Optional[dict]:
    if not valid_session(session_id):
        return None
    return cache.get(_key("last-step", session_id))


# -- the training job's heartbeat -------------------------------------------------------
def beat_run(session_id: str) -> None:
    """The tab's training job is alive (it says so every ``dashboard.jobs.BEAT_S``)."""
    _put(_key("run-beat", session_id), time.time(), timeout=TIMEOUT_S)


def run_beat(session_id: str) -> Optional[float]:
    """When the tab's training job last said it is alive (time.time()), or None."""
    if not valid_session(session_id):
        return None
    return cache.get(_key("run-beat", session_id))


def mark_server_stopping(pid: int) -> None:
    """The server process ``pid`` is exiting: the jobs it started stop (embedded mode)."""
    _put(f"server-stopping:{int(pid)}", time.time(), timeout=600)


def server_stopping(pid: int) -> bool:
    return cache.get(f"server-stopping:{int(pid)}") is not None


# -- the current model --------------------------------------------------------------
def put_model(session_id: str, model_bytes: bytes, dataset_key: Optional[str], history: dict,
              filename: str = "backprop-studio-model.npz") -> None:
    """Keep this tab's model file, the data set it was trained on (None: any data
    set of matching size, e.g. after loading a file) and its loss history."""
    _put(_key("model", session_id), {"bytes": model_bytes, "dataset_key": dataset_key,
                                          "history": history, "filename": filename})


def get_model(session_id: str) -> Optional[dict]:
    """``{"bytes", "dataset_key", "history", "filename"}`` or None."""
    if not valid_session(session_id):
        return None
    return cache.get(_key("model", session_id))


# -- the live state ------------------------------------------------------------------
def put_live(session_id: str, live: dict) -> None:
    _put(_key("live", session_id), live)


def get_live(session_id: str) -> Optional[dict]:
    if not valid_session(session_id):
        return None
    return cache.get(_key("live", session_id))


# -- the samples the panels draw ---------------------------------------------------
def put_probe(session_id: str, probe: dict) -> None:
    """``dashboard.data.Prepared.probe`` of the tab's run."""
    _put(_key("probe", session_id), probe)


def get_probe(session_id: str) -> Optional[dict]:
    if not valid_session(session_id):
        return None
    return cache.get(_key("probe", session_id))


# -- the user's CSV -----------------------------------------------------------------
def put_csv(session_id: str, data: bytes, filename: str) -> None:
    _put(_key("csv", session_id), {"bytes": data, "filename": filename})


def get_csv(session_id: str) -> Optional[dict]:
    if not valid_session(session_id):
        return None
    return cache.get(_key("csv", session_id))


# -- a search's trials ------------------------------------------------------------------
# Keyed by the records' ids (dashboard.records), not by a tab: a search's trials run on
# any worker and are watched from any tab.
def _record_key(kind: str, record_id: Any) -> str:
    if isinstance(record_id, bool) or not isinstance(record_id, int) or record_id < 1:
        raise ValueError(f"{kind} id must be a whole number of at least 1 (got {record_id!r})")
    return f"{kind}:{record_id}"


def put_run_progress(run_id: int, progress: dict) -> None:
    """A trial's latest progress (epoch, batch, loss, elapsed), for the Experiments section."""
    _put(_record_key("run-progress", run_id), progress, timeout=3600)


def get_run_progress(run_ids: list[int]) -> dict[int, dict]:
    """The progress of those of ``run_ids`` that are training now."""
    if not run_ids:
        return {}
    found = cache.get_many(*(_record_key("run-progress", i) for i in run_ids))
    return {i: p for i, p in zip(run_ids, found) if p is not None}


def clear_run_progress(run_id: int) -> None:
    cache.delete(_record_key("run-progress", run_id))


def request_search_stop(search_id: int) -> None:
    """Stop search: the running trials end after their batch, the waiting ones do not start."""
    _put(_record_key("search-stop", search_id), time.time(), timeout=TIMEOUT_S)


def beat_search(search_id: int) -> None:
    """The embedded job that runs a search's trials is alive (it says so between trials)."""
    _put(_record_key("search-beat", search_id), time.time(), timeout=TIMEOUT_S)


def search_beat(search_id: int) -> Optional[float]:
    """When the search's embedded job last said it was alive (time.time()), or None."""
    return cache.get(_record_key("search-beat", search_id))


def clear_search_stop(search_id: int) -> None:
    cache.delete(_record_key("search-stop", search_id))


def search_stop_requested(search_id: int) -> Optional[float]:
    return cache.get(_record_key("search-stop", search_id))


# -- the run's timeline (dashboard.timeline) ---------------------------------------
def put_timeline(session_id: str, timeline: dict) -> None:
    """The tab's run's timeline (``Timeline.to_dict``): histograms and bands of every step."""
    _put(_key("timeline", session_id), timeline)


def get_timeline(session_id: str) -> Optional[dict]:
    if not valid_session(session_id):
        return None
    return cache.get(_key("timeline", session_id))


def _frame_key(session_id: str, serial: int) -> str:
    return f"{_key('frame', session_id)}:{int(serial)}"


def put_frame(session_id: str, serial: int, frame: dict) -> None:
    """One kept frame of the run (the parameters and gradients at a step)."""
    _put(_frame_key(session_id, serial), frame)


def get_frame(session_id: str, serial: int) -> Optional[dict]:
    if not valid_session(session_id):
        return None
    return cache.get(_frame_key(session_id, serial))


def drop_frame(session_id: str, serial: int) -> None:
    cache.delete(_frame_key(session_id, serial))


# -- the run's evaluation (dashboard.jobs.evaluation) -----------------------------
def put_evaluation(session_id: str, found: dict) -> None:
    """The validation split's true and predicted classes, and misclassified samples."""
    _put(_key("evaluation", session_id), found)


def get_evaluation(session_id: str) -> Optional[dict]:
    if not valid_session(session_id):
        return None
    return cache.get(_key("evaluation", session_id))
