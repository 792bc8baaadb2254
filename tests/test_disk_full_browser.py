"""A server whose disk fills up: the page says so in a sentence (no HTTP 500, no silence,
no misleading "Upload a CSV file with a header row"), Train is refused before it starts
and leaves the page free, the tab's saved model is as it was, and once space is freed
everything works again.

The disk: a real filesystem that fills, a 32 MB tmpfs mounted for the test as the app's
state folder (the test runs as root, as CI does) and filled with a file.
"""
from __future__ import annotations

import io
import json
import os
import re
import subprocess

import pytest
from flask import Flask
from playwright.sync_api import expect

from dashboard import store
from engine import Sequential

from browser import RUN_TIMEOUT_MS, choose, open_dashboard, set_field, status
from conftest import running_app

FS_MB = 32


class Disk:
    """The app's state folder on a tmpfs of its own, and a way to fill it and free it again."""

    def __init__(self, folder):
        self.state = folder / "state"
        self.state.mkdir(parents=True)
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={FS_MB}m", "tmpfs", str(self.state)],
                                 capture_output=True, text=True)
        assert mounted.returncode == 0, f"could not mount a tmpfs for the full disk (root needed): {mounted.stderr}"

    def fill(self) -> None:
        with open(self.state / "filler", "wb") as out:
            try:
                while True:
                    out.write(b"\0" * 2**16)
                    out.flush()
            except OSError:
                pass
        assert os.statvfs(self.state).f_bavail == 0

    def free(self) -> None:
        (self.state / "filler").unlink()

    def close(self) -> None:
        subprocess.run(["umount", "-l", str(self.state)], capture_output=True)


@pytest.fixture
def disk(tmp_path, monkeypatch):
    made = Disk(tmp_path)
    try:
        with running_app(tmp_path, BACKPROP_MIN_FREE_MB="4") as url:
            monkeypatch.setenv("BACKPROP_STATE_DIR", str(made.state))
            store.init_app(Flask("disk-full-test"))
            yield made, url
    finally:
        made.close()


def _said(page) -> str:
    """What the page says about the server: the status line and the alert line."""
    return page.locator("#train-status").inner_text() + " " + page.locator("#server-alert").inner_text()


def test_a_full_disk_is_named_on_the_page_and_nothing_is_lost(page, disk, tmp_path):
    made, url = disk
    open_dashboard(page, url)
    set_field(page, "epochs", 3)
    page.click("#train-button")
    expect(status(page)).to_contain_text("Trained 3 epochs", timeout=RUN_TIMEOUT_MS)
    session = json.loads(page.evaluate("() => sessionStorage.getItem('session-id')"))
    saved = store.get_model(session)["bytes"]

    made.fill()
    # Train: refused with a sentence about the disk, and the page stays free.
    page.click("#train-button")
    page.wait_for_function("""() => /could not save/.test(document.getElementById('train-status').innerText
                                   + document.getElementById('server-alert').innerText)""", timeout=30_000)
    expect(page.locator("#train-button")).to_have_text("Train", timeout=30_000)
    expect(page.locator("#train-button")).to_be_enabled()
    said = _said(page)
    assert "could not save" in said and "0.0 MB are free" in said, said
    # A CSV upload: the reason is the disk, not the file.
    csv = tmp_path / "points.csv"
    csv.write_text("a,b,label\n" + "".join(f"{i},{i % 7},{i % 2}\n" for i in range(200)))
    choose(page, "ctl-dataset", "Your CSV file…")
    page.locator("#ctl-csv-upload input[type=file]").set_input_files(str(csv))
    expect(page.locator("#ctl-csv-error")).to_contain_text("could not save", timeout=30_000)
    expect(page.locator("#ctl-csv-error")).not_to_contain_text("header row")
    # Nothing half-written: the tab's model is the one the last run saved.
    assert store.get_model(session)["bytes"] == saved
    assert Sequential.load(io.BytesIO(saved)).epochs_trained == 3

    made.free()
    choose(page, "ctl-dataset", "Moons")
    page.click("#train-button")
    expect(status(page)).to_contain_text("Trained 3 epochs", timeout=RUN_TIMEOUT_MS)
    assert Sequential.load(io.BytesIO(store.get_model(session)["bytes"])).epochs_trained == 6
    assert re.search(r'" 500 ', (tmp_path / "app.log").read_text(errors="replace")) is None   # never a 500
