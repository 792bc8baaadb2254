"""What the server says when its disk or run cache refuses a write: the fault named in a
sentence (looked for down the exception chain, as SQLAlchemy and Dash wrap it), a write
the filesystem cache answered False for raised instead of passed over, and any other
fault left alone (the alert line names it by its type)."""
from __future__ import annotations

import errno
import os
import sqlite3

import pytest
import sqlalchemy.exc
from flask import Flask

from dashboard import store
from dashboard.panels import alerts


@pytest.fixture
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("BACKPROP_STATE_DIR", str(tmp_path))
    store.init_app(Flask("storage-test"))
    return tmp_path


def test_a_full_disk_is_named_down_the_exception_chain(state):
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert "No space left on device" in store.storage_failure(full)
    wrapped = sqlalchemy.exc.OperationalError("INSERT ...", {}, sqlite3.OperationalError("database or disk is full"))
    assert "database or disk is full" in store.storage_failure(wrapped)
    try:
        try:
            raise full
        except OSError as inner:
            raise RuntimeError("while saving") from inner
    except RuntimeError as outer:
        assert "No space left" in store.storage_failure(outer)
    assert str(state) in store.storage_failure(full)               # where it could not write
    assert store.storage_failure(ValueError("units must be at least 1")) is None
    assert store.storage_failure(OSError(errno.ENOENT, "No such file")) is None


def test_a_write_the_cache_refused_raises_and_leaves_the_old_entry(state, monkeypatch):
    store.put_csv("a" * 32, b"x,y\n1,2\n", "old.csv")
    monkeypatch.setattr(store.cache, "set", lambda *a, **k: False)
    with pytest.raises(store.StorageError, match="could not save"):
        store.put_csv("a" * 32, b"x,y\n3,4\n", "new.csv")
    monkeypatch.undo()
    assert store.get_csv("a" * 32)["filename"] == "old.csv"


def test_space_below_the_floor_refuses_a_run(state, monkeypatch):
    free_mb = os.statvfs(state).f_bavail * os.statvfs(state).f_frsize / 2**20
    monkeypatch.setenv(store.MIN_FREE_ENV, str(free_mb * 2))
    assert "MB are free" in store.space_problem()
    monkeypatch.setenv(store.MIN_FREE_ENV, "1")
    assert store.space_problem() is None


def test_the_alert_names_an_unforeseen_fault_by_its_type():
    assert "KeyError" in alerts.alert_text(KeyError("layers")) and "Nothing was changed" in alerts.alert_text(
        KeyError("layers"))
    assert "No space left" in alerts.alert_text(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
