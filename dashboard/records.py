"""Experiment records: every run and every search, kept in a database.

Unlike the run cache (``dashboard.store``), these records are meant to last: a run
survives a server restart and a page reload, can be renamed, tagged, deleted,
compared (:func:`runs_table`, :func:`runs_csv`) and reopened (its model file).

The database is ``$BACKPROP_DATABASE_URL`` when set (any SQLAlchemy URL, e.g.
``postgresql+psycopg2://user@host:5432/backprop``), else SQLite at
``dashboard.store.state_dir() / "runs.sqlite"``. The web server, training job
processes and Celery workers may all use it at once:

* SQLite runs in WAL mode (readers never wait for a writer) with a busy timeout, and
  every write is one short ``BEGIN IMMEDIATE`` transaction, so concurrent writers
  queue for the lock instead of failing;
* a process forked from one that already used the database (a training job) opens
  connections of its own instead of sharing its parent's.

Everything goes in and out as plain data: timestamps are ISO strings in UTC
(``"2025-01-31T09:15:02.123456+00:00"``), JSON columns are Python data (numbers that
are not finite are stored as null), a run's model is the engine's ``.npz`` bytes.
A bad argument raises ValueError naming it and its rule; a run or search id that is
not there gives None (reads), False or 0 (changes).
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import numbers
import os
import threading
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Optional

import sqlalchemy as sa

from . import store

URL_ENV = "BACKPROP_DATABASE_URL"
SQLITE_FILE = "runs.sqlite"
BUSY_TIMEOUT_S = 30

RUN_STATES = ("running", "done", "stopped", "diverged", "failed")
SEARCH_STATES = ("running", "done", "stopped")
STRATEGIES = ("grid", "random", "retrain")
MAX_NAME = 200
MAX_TAG = 40
MAX_TAGS = 20
MAX_TEXT = 10_000       # message, session, dataset and its label
MAX_ID = 2**31 - 1      # ids are 32-bit integers on every backend
MAX_SEED = 2**63 - 1
STALE_MESSAGE = "The run stopped reporting: its process ended (or the server restarted) before it finished."

metadata = sa.MetaData()


class UTCDateTime(sa.types.TypeDecorator):
    """A timezone-aware UTC datetime on every backend (SQLite keeps no time zone)."""
    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            value = value.astimezone(timezone.utc)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


searches = sa.Table(
    "searches", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("name", sa.String(MAX_NAME), nullable=False),
    sa.Column("base_spec", sa.JSON, nullable=False),
    sa.Column("space", sa.JSON, nullable=False),
    sa.Column("strategy", sa.String(16), nullable=False),
    sa.Column("seed", sa.BigInteger),
    sa.Column("n_trials", sa.Integer, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
)

runs = sa.Table(
    "runs", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("session", sa.Text),
    sa.Column("name", sa.String(MAX_NAME), nullable=False),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("dataset", sa.Text),
    sa.Column("dataset_label", sa.Text),
    sa.Column("spec", sa.JSON, nullable=False),
    sa.Column("seed", sa.BigInteger),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("history", sa.JSON, nullable=False),
    sa.Column("metrics", sa.JSON, nullable=False),
    sa.Column("inside", sa.JSON),        # per-epoch weight and gradient histograms (dashboard.jobs.Inside)
    sa.Column("wall_time_s", sa.Float),
    sa.Column("epochs", sa.Integer),
    sa.Column("model", sa.LargeBinary),
    sa.Column("search_id", sa.Integer, sa.ForeignKey("searches.id", ondelete="SET NULL")),
    sa.Column("trial", sa.Integer),
    sa.Index("ix_runs_search_id", "search_id"),
    sa.Index("ix_runs_state_updated_at", "state", "updated_at"),
)

_engine: Optional[sa.Engine] = None
_engine_pid: Optional[int] = None
_lock = threading.Lock()


# -- the engine -------------------------------------------------------------------------------------
def default_url() -> str:
    """``$BACKPROP_DATABASE_URL``, else SQLite in the state folder."""
    return os.environ.get(URL_ENV) or f"sqlite:///{store.state_dir() / SQLITE_FILE}"


def _sqlite_setup(engine: sa.Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # The driver's own transaction handling off: the "begin" hook below says how each begins.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection):
        # Writes take the write lock up front: a transaction that read first and then tries
        # to write can fail at once in WAL mode, where waiting for the lock cannot help.
        immediate = connection.get_execution_options().get("write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def init(url: Optional[str] = None) -> sa.Engine:
    """Open the database (``url``, else :func:`default_url`) and create the tables that are
    missing. Replaces this process's engine: call it again to start afresh."""
    global _engine, _engine_pid
    if url is not None and (not isinstance(url, str) or not url.strip()):
        raise ValueError(f"url must be a database URL such as sqlite:///runs.sqlite (got {url!r})")
    try:
        parsed = sa.engine.make_url(url or default_url())
    except sa.exc.ArgumentError as exc:
        raise ValueError(f"url is not a database URL: {exc}") from None
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if parsed.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": BUSY_TIMEOUT_S}
        if parsed.database in (None, "", ":memory:"):
            kwargs["poolclass"] = sa.pool.StaticPool   # one in-memory database, not one per connection
    engine = sa.create_engine(parsed, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        _sqlite_setup(engine)
    with _db_lock, engine.connect() as conn:
        conn = conn.execution_options(write=True)
        with conn.begin():
            if engine.dialect.name == "postgresql":
                # Processes starting together create the tables one at a time.
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(7427361)"))
            metadata.create_all(conn)
    with _lock:
        old, _engine, _engine_pid = _engine, engine, os.getpid()
    if old is not None:
        old.dispose()
    return engine


def close() -> None:
    """Close this process's connections; the next call opens the database again."""
    global _engine
    with _lock:
        old, _engine = _engine, None
    if old is not None:
        old.dispose()


def engine() -> sa.Engine:
    """This process's engine (opened on first use)."""
    global _engine_pid
    with _lock:
        current = _engine
        if current is not None and _engine_pid != os.getpid():
            # Inherited through a fork: leave the parent's connections to the parent.
            current.dispose(close=False)
            _engine_pid = os.getpid()
    return current if current is not None else init()


# Every use of the database in this process holds this lock, and so does a fork (a training
# job is forked from the web process while its threads answer the page): SQLite's own lock
# bookkeeping, copied into the child mid-transaction, would leave the child's database
# "locked" for good. With the lock, a fork happens only between two uses.
_db_lock = threading.RLock()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_db_lock.acquire, after_in_parent=_db_lock.release,
                        after_in_child=_db_lock.release)


@contextlib.contextmanager
def _read():
    with _db_lock, engine().connect() as conn:
        yield conn


@contextlib.contextmanager
def _write():
    """A write transaction: ``with _write() as conn, conn.begin(): ...`` commits at the end."""
    with _db_lock, engine().connect() as conn:
        yield conn.execution_options(write=True)


def _now() -> datetime:
    return datetime.now(timezone.utc)


# -- checking arguments -------------------------------------------------------------------------------
def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _id(value: Any, what: str = "run_id") -> Optional[int]:
    """The id as an int, None when no row can have it (then it is simply not found)."""
    if not _is_int(value):
        raise ValueError(f"{what} must be a whole number (got {value!r})")
    value = int(value)
    return value if 1 <= value <= MAX_ID else None


def _optional_int(value: Any, what: str, low: int, high: int) -> Optional[int]:
    if value is None:
        return None
    if not _is_int(value) or not low <= value <= high:
        raise ValueError(f"{what} must be a whole number from {low} to {high:,}, or None (got {value!r})")
    return int(value)


def _optional_text(value: Any, what: str) -> Optional[str]:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT or "\x00" in value:
        raise ValueError(f"{what} must be a string of at most {MAX_TEXT:,} characters without NUL characters, "
                         f"or None (got {value!r:.80})")
    return value


def _name(value: Any, what: str = "name") -> str:
    if not isinstance(value, str) or not 1 <= len(value.strip()) <= MAX_NAME or "\x00" in value:
        raise ValueError(f"{what} must have 1 to {MAX_NAME} characters besides leading and trailing spaces, "
                         f"and no NUL characters (got {value!r:.80})")
    return value.strip()


def _choice(value: Any, what: str, choices: tuple[str, ...]) -> str:
    if value not in choices or not isinstance(value, str):
        raise ValueError(f"{what} must be one of {', '.join(choices)} (got {value!r})")
    return value


def _json(value: Any, what: str) -> Any:
    """Plain JSON data: NumPy numbers and arrays as Python's, tuples as lists, numbers
    that are not finite as None. ValueError for anything else."""
    kind = type(value)
    if kind is float:               # the common case first (a history is thousands of floats)
        return value if math.isfinite(value) else None
    if value is None or kind is int or isinstance(value, (str, bool)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        return value if math.isfinite(value) else None
    if hasattr(value, "tolist") and hasattr(value, "dtype"):      # a NumPy array or scalar
        return _json(value.tolist(), what)
    if isinstance(value, (list, tuple)):
        return [_json(item, what) for item in value]
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{what} must be JSON data: its keys must be strings (got {key!r})")
            out[key] = _json(item, what)
        return out
    raise ValueError(f"{what} must be JSON data (numbers, strings, lists, dicts): got a {type(value).__name__}")


def _json_dict(value: Any, what: str, default: Optional[dict] = None) -> dict:
    """A dict of JSON data; ``default`` (when given) stands for None."""
    if value is None and default is not None:
        return default
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be a dict (got {type(value).__name__})")
    return _json(value, what)


def check_tags(tags: Any) -> list[str]:
    """The tags, stripped: a list of at most MAX_TAGS distinct non-empty strings of at most
    MAX_TAG characters each. ValueError otherwise."""
    if not isinstance(tags, (list, tuple)):
        raise ValueError(f"tags must be a list of strings (got {type(tags).__name__})")
    if len(tags) > MAX_TAGS:
        raise ValueError(f"tags: at most {MAX_TAGS} tags (got {len(tags)})")
    out: list[str] = []
    for tag in tags:
        if not isinstance(tag, str) or not 1 <= len(tag.strip()) <= MAX_TAG or "\x00" in tag:
            raise ValueError(f"tags: each tag must be a string of 1 to {MAX_TAG} characters besides leading and "
                             f"trailing spaces (got {tag!r:.80})")
        if tag.strip() in out:
            raise ValueError(f"tags: each tag only once (got {tag.strip()!r} twice)")
        out.append(tag.strip())
    return out


def _paging(limit: Any, offset: Any, newest_first: Any) -> None:
    if limit is not None and (not _is_int(limit) or limit < 1):
        raise ValueError(f"limit must be a whole number of at least 1, or None (got {limit!r})")
    if not _is_int(offset) or offset < 0:
        raise ValueError(f"offset must be a whole number of at least 0 (got {offset!r})")
    if not isinstance(newest_first, bool):
        raise ValueError(f"newest_first must be True or False (got {newest_first!r})")


# -- rows as dicts --------------------------------------------------------------------------------------
_RUN_COLUMNS = [c for c in runs.c if c.name not in ("model", "inside")]


def _row_dict(row: Any) -> dict:
    out = dict(row._mapping)
    for key, value in out.items():
        if isinstance(value, datetime):
            out[key] = value.isoformat()
    if "model" in out and out["model"] is not None:
        out["model"] = bytes(out["model"])
    if "has_model" in out:
        out["has_model"] = bool(out["has_model"])
    return out


def _run_select(with_model: bool = False, with_inside: bool = False, with_history: bool = True) -> sa.Select:
    columns = [*(c for c in _RUN_COLUMNS if with_history or c.name != "history"),
               runs.c.model.is_not(None).label("has_model")]
    return sa.select(*columns, *([runs.c.model] if with_model else []), *([runs.c.inside] if with_inside else []))


# -- runs -------------------------------------------------------------------------------------------
def start_run(spec: dict, *, session: Optional[str] = None, name: Optional[str] = None,
              dataset: Optional[str] = None, dataset_label: Optional[str] = None, seed: Optional[int] = None,
              params: Optional[dict] = None, search_id: Optional[int] = None,
              trial: Optional[int] = None) -> int:
    """Record a run that starts now (state ``running``); returns its id. Without a name it is
    called ``Run <id>`` (``Search <search_id> trial <trial>`` for a search's trial)."""
    values = {
        "spec": _json_dict(spec, "spec"),
        "session": _optional_text(session, "session"),
        "dataset": _optional_text(dataset, "dataset"),
        "dataset_label": _optional_text(dataset_label, "dataset_label"),
        "seed": _optional_int(seed, "seed", 0, MAX_SEED),
        "params": _json_dict(params, "params", {}),
        "trial": _optional_int(trial, "trial", 0, MAX_ID),
    }
    if name is not None:
        name = _name(name)
    if search_id is not None:
        search_id = _id(search_id, "search_id")
        if search_id is None or get_search(search_id) is None:
            raise ValueError("search_id must be the id of a recorded search (it is not)")
    now = _now()
    with _write() as conn, conn.begin():
        run_id = conn.execute(runs.insert().values(
            **values, created_at=now, updated_at=now, name=name or "run", tags=[], state="running", message="",
            history={}, metrics={}, search_id=search_id).returning(runs.c.id)).scalar_one()
        if name is None:
            default = f"Search {search_id} trial {trial}" if search_id is not None and trial is not None \
                else f"Run {run_id}"
            conn.execute(runs.update().where(runs.c.id == run_id).values(name=default))
    return int(run_id)


def _run_progress(history: Any, metrics: Any, wall_time_s: Any, epochs: Any) -> dict:
    values: dict[str, Any] = {}
    if history is not None:
        values["history"] = _json_dict(history, "history")
    if metrics is not None:
        values["metrics"] = _json_dict(metrics, "metrics")
    if wall_time_s is not None:
        if isinstance(wall_time_s, bool) or not isinstance(wall_time_s, numbers.Real) \
                or not math.isfinite(wall_time_s) or wall_time_s < 0:
            raise ValueError(f"wall_time_s must be a finite number of seconds, at least 0 (got {wall_time_s!r})")
        values["wall_time_s"] = float(wall_time_s)
    if epochs is not None:
        values["epochs"] = _optional_int(epochs, "epochs", 0, MAX_ID)
    return values


def update_run(run_id: int, *, history: Optional[dict] = None, metrics: Optional[dict] = None,
               wall_time_s: Optional[float] = None, epochs: Optional[int] = None) -> bool:
    """A running run's progress (only what is given) and the time it was last heard from,
    which :func:`mark_stale_running` goes by. False when it is not there or not running."""
    values = _run_progress(history, metrics, wall_time_s, epochs)
    run_id = _id(run_id)
    if run_id is None:
        return False
    with _write() as conn, conn.begin():
        done = conn.execute(runs.update().where(runs.c.id == run_id, runs.c.state == "running")
                            .values(**values, updated_at=_now()))
    return done.rowcount > 0


def finish_run(run_id: int, *, state: str, message: str = "", history: Optional[dict] = None,
               metrics: Optional[dict] = None, wall_time_s: Optional[float] = None,
               epochs: Optional[int] = None, model: Optional[bytes] = None,
               inside: Optional[dict] = None) -> bool:
    """Record a run's end: its state, a sentence about it, and whatever else is given
    (what is None stays as it was). False when the run is not there."""
    _choice(state, "state", RUN_STATES)
    _optional_text(message, "message")
    if message is None:
        raise ValueError("message must be a string (got None)")
    values = _run_progress(history, metrics, wall_time_s, epochs)
    if model is not None:
        if not isinstance(model, (bytes, bytearray, memoryview)):
            raise ValueError(f"model must be the model file's bytes, or None (got {type(model).__name__})")
        values["model"] = bytes(model)
    if inside is not None:
        values["inside"] = _json_dict(inside, "inside")
    run_id = _id(run_id)
    if run_id is None:
        return False
    now = _now()
    with _write() as conn, conn.begin():
        done = conn.execute(runs.update().where(runs.c.id == run_id).values(
            **values, state=state, message=message, updated_at=now,
            finished_at=None if state == "running" else now))
    return done.rowcount > 0


def get_run(run_id: int, with_model: bool = False, with_inside: bool = False) -> Optional[dict]:
    """The run as a dict (``has_model``; the model's bytes as ``model`` with ``with_model``;
    its per-epoch histograms as ``inside`` with ``with_inside``), or None."""
    run_id = _id(run_id)
    for flag, value in (("with_model", with_model), ("with_inside", with_inside)):
        if not isinstance(value, bool):
            raise ValueError(f"{flag} must be True or False (got {value!r})")
    if run_id is None:
        return None
    with _read() as conn:
        row = conn.execute(_run_select(with_model, with_inside).where(runs.c.id == run_id)).first()
    return _row_dict(row) if row is not None else None


def list_runs(*, search_id: Optional[int] = None, limit: Optional[int] = None, offset: int = 0,
              newest_first: bool = True, with_history: bool = True) -> list[dict]:
    """Runs (all, or one search's), newest first unless told otherwise; never the model's
    bytes (``has_model`` says whether there is one); without their per-epoch history
    when ``with_history`` is False (a table of many runs does not need it)."""
    _paging(limit, offset, newest_first)
    if not isinstance(with_history, bool):
        raise ValueError(f"with_history must be True or False (got {with_history!r})")
    query = _run_select(with_history=with_history)
    if search_id is not None:
        search_id = _id(search_id, "search_id")
        if search_id is None:
            return []
        query = query.where(runs.c.search_id == search_id)
    query = query.order_by(runs.c.id.desc() if newest_first else runs.c.id.asc()).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    with _read() as conn:
        return [_row_dict(row) for row in conn.execute(query)]


def get_runs(ids: Iterable[int]) -> list[dict]:
    """These runs (with their history, without model or histograms) in the order asked
    for; ids that are not there are left out. One query for all of them."""
    wanted = [i for i in (_id(value) for value in _ids_list(ids)) if i is not None]
    if not wanted:
        return []
    with _read() as conn:
        found = {row.id: _row_dict(row) for row in conn.execute(_run_select().where(runs.c.id.in_(wanted)))}
    return [found[i] for i in wanted if i in found]


def _ids_list(ids: Any) -> list:
    if isinstance(ids, (str, bytes, dict)) or not isinstance(ids, Iterable):
        raise ValueError(f"ids must be a list of whole numbers (got {ids!r:.80})")
    return list(ids)


def rename_run(run_id: int, name: str) -> bool:
    """Give the run a new name (1 to MAX_NAME characters, stripped). False when it is not there."""
    name = _name(name)
    return _set(run_id, name=name)


def set_tags(run_id: int, tags: list[str]) -> bool:
    """Replace the run's tags (:func:`check_tags`). False when it is not there."""
    return _set(run_id, tags=check_tags(tags))


def _set(run_id: Any, **values: Any) -> bool:
    run_id = _id(run_id)
    if run_id is None:
        return False
    with _write() as conn, conn.begin():
        return conn.execute(runs.update().where(runs.c.id == run_id).values(**values)).rowcount > 0


def _ids(ids: Any, what: str) -> list[int]:
    return sorted({i for i in (_id(value, what) for value in _ids_list(ids)) if i is not None})


def delete_runs(ids: Iterable[int]) -> int:
    """Delete these runs; returns how many there were."""
    found = _ids(ids, "ids")
    deleted = 0
    with _write() as conn, conn.begin():
        for start in range(0, len(found), 500):
            deleted += conn.execute(runs.delete().where(runs.c.id.in_(found[start:start + 500]))).rowcount
    return deleted


def mark_stale_running(older_than_s: float) -> int:
    """Runs still ``running`` that nobody updated for ``older_than_s`` seconds become
    ``failed`` (their process is gone); returns how many. For a server's start."""
    if isinstance(older_than_s, bool) or not isinstance(older_than_s, numbers.Real) \
            or not math.isfinite(older_than_s) or older_than_s < 0:
        raise ValueError(f"older_than_s must be a finite number of seconds, at least 0 (got {older_than_s!r})")
    now = _now()
    with _write() as conn, conn.begin():
        return conn.execute(runs.update().where(
            runs.c.state == "running", runs.c.updated_at <= now - timedelta(seconds=float(older_than_s))).values(
            state="failed", message=STALE_MESSAGE, finished_at=now, updated_at=now)).rowcount


# -- searches ---------------------------------------------------------------------------------------------
def start_search(base_spec: dict, space: dict, *, strategy: str = "grid", n_trials: int,
                 seed: Optional[int] = None, name: Optional[str] = None) -> int:
    """Record a search that starts now (state ``running``); returns its id. Without a
    name it is called ``Search <id>``."""
    values = {"base_spec": _json_dict(base_spec, "base_spec"), "space": _json_dict(space, "space"),
              "strategy": _choice(strategy, "strategy", STRATEGIES),
              "seed": _optional_int(seed, "seed", 0, MAX_SEED)}
    if not _is_int(n_trials) or not 1 <= n_trials <= MAX_ID:
        raise ValueError(f"n_trials must be a whole number of at least 1 (got {n_trials!r})")
    if name is not None:
        name = _name(name)
    with _write() as conn, conn.begin():
        search_id = conn.execute(searches.insert().values(
            **values, n_trials=int(n_trials), name=name or "search", state="running",
            created_at=_now()).returning(searches.c.id)).scalar_one()
        if name is None:
            conn.execute(searches.update().where(searches.c.id == search_id).values(name=f"Search {search_id}"))
    return int(search_id)


def finish_search(search_id: int, state: str) -> bool:
    """Set the search's state (``done``, ``stopped``; ``running``). False when it is not there."""
    _choice(state, "state", SEARCH_STATES)
    search_id = _id(search_id, "search_id")
    if search_id is None:
        return False
    with _write() as conn, conn.begin():
        return conn.execute(searches.update().where(searches.c.id == search_id).values(state=state)).rowcount > 0


def get_search(search_id: int) -> Optional[dict]:
    search_id = _id(search_id, "search_id")
    if search_id is None:
        return None
    with _read() as conn:
        row = conn.execute(sa.select(searches).where(searches.c.id == search_id)).first()
    return _row_dict(row) if row is not None else None


def list_searches(*, limit: Optional[int] = None, offset: int = 0, newest_first: bool = True) -> list[dict]:
    _paging(limit, offset, newest_first)
    query = sa.select(searches).order_by(searches.c.id.desc() if newest_first else searches.c.id.asc())
    query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    with _read() as conn:
        return [_row_dict(row) for row in conn.execute(query)]


def delete_search(search_id: int, *, with_runs: bool = False) -> bool:
    """Delete a search; its trials go too with ``with_runs``, else they stay as runs of no
    search. False when it is not there."""
    search_id = _id(search_id, "search_id")
    if not isinstance(with_runs, bool):
        raise ValueError(f"with_runs must be True or False (got {with_runs!r})")
    if search_id is None:
        return False
    with _write() as conn, conn.begin():
        trials = runs.c.search_id == search_id
        if with_runs:
            conn.execute(runs.delete().where(trials))
        else:
            conn.execute(runs.update().where(trials).values(search_id=None))
        return conn.execute(searches.delete().where(searches.c.id == search_id)).rowcount > 0


# -- comparing runs ------------------------------------------------------------------------------------------
BASE_COLUMNS = ("id", "name", "state", "dataset", "created_at", "wall_time_s", "epochs")
METRIC_ORDER = ("loss", "val_loss", "accuracy", "val_accuracy", "macro_f1")


def _uniform(values: list) -> Any:
    """One value when all are the same, else them joined with "-" (e.g. ``"64-32"``)."""
    if not values:
        return None
    return values[0] if all(v == values[0] for v in values) else "-".join(str(v) for v in values)


def _hidden(spec: dict, key: str) -> Any:
    layers = ((spec.get("model") or {}).get("layers") or [])[:-1]
    return _uniform([layer["config"][key] for layer in layers
                     if isinstance(layer, dict) and key in (layer.get("config") or {})])


# Settings read from a spec, named as a search names the fields it varies.
SPEC_FIELDS: dict[str, Any] = {
    "learning_rate": lambda s: (s.get("training") or {}).get("learning_rate"),
    "batch_size": lambda s: (s.get("training") or {}).get("batch_size"),
    "epochs": lambda s: (s.get("training") or {}).get("epochs"),
    "optimizer": lambda s: (s.get("model") or {}).get("optimizer"),
    "loss": lambda s: (s.get("model") or {}).get("loss"),
    "layers": lambda s: max(len((s.get("model") or {}).get("layers") or []) - 1, 0) if s.get("model") else None,
    "units": lambda s: _hidden(s, "units"),
    "activation": lambda s: _hidden(s, "activation"),
}


def _cell(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float)):
        return value
    return json.dumps(value)


def _setting(run: dict, field: str) -> Any:
    params = run.get("params") or {}
    if field in params:
        return params[field]
    if field in SPEC_FIELDS and isinstance(run.get("spec"), dict):
        try:
            return SPEC_FIELDS[field](run["spec"])
        except (AttributeError, KeyError, TypeError):
            return None
    return None


def runs_table(runs_: list[dict]) -> tuple[list[str], list[dict]]:
    """The runs side by side: ``(columns, rows)``, a row a dict keyed by column.

    Columns, in this order: ``BASE_COLUMNS``; ``metrics.<name>`` for every metric any
    run has (``METRIC_ORDER`` first, then the rest by name); ``params.<field>`` for
    every setting any run's ``params`` varied and every ``SPEC_FIELDS`` setting whose
    value differs between the runs (``SPEC_FIELDS`` order first, then the rest by name).
    A run's setting is its ``params`` value, else read from its spec. Values that are
    lists or dicts are JSON text; what a run does not have is None."""
    if not isinstance(runs_, (list, tuple)) or not all(isinstance(r, dict) and "id" in r for r in runs_):
        raise ValueError("runs must be a list of run dicts (as list_runs gives them)")
    metric_names = {k for r in runs_ for k in (r.get("metrics") or {})}
    metric_cols = [m for m in METRIC_ORDER if m in metric_names] + sorted(metric_names - set(METRIC_ORDER))
    varied = {k for r in runs_ for k in (r.get("params") or {})}
    for field in SPEC_FIELDS:
        if len({json.dumps(_setting(r, field), sort_keys=True) for r in runs_}) > 1:
            varied.add(field)
    setting_cols = [f for f in SPEC_FIELDS if f in varied] + sorted(varied - set(SPEC_FIELDS))
    columns = [*BASE_COLUMNS, *(f"metrics.{m}" for m in metric_cols), *(f"params.{f}" for f in setting_cols)]
    rows = []
    for run in runs_:
        row = {c: _cell(run.get(c)) for c in BASE_COLUMNS}
        row.update({f"metrics.{m}": _cell((run.get("metrics") or {}).get(m)) for m in metric_cols})
        row.update({f"params.{f}": _cell(_setting(run, f)) for f in setting_cols})
        rows.append(row)
    return columns, rows


def runs_csv(runs_: list[dict]) -> str:
    """:func:`runs_table` as CSV text (a header row; None as an empty cell)."""
    columns, rows = runs_table(runs_)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row[c] is None else row[c] for c in columns])
    return out.getvalue()
