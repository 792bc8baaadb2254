"""A reload finds the tab as it left it: its model in the panels, the form set to its
network, and a run still on re-attached (its progress followed, Stop working)."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from browser import RUN_TIMEOUT_MS, look_at, open_dashboard, set_field, stack_rows, status


def test_a_reload_shows_the_model_and_its_form(page, app_server):
    open_dashboard(page, app_server)
    page.click("#stack-add")
    expect(stack_rows(page)).to_have_count(3)
    set_field(page, "epochs", 5)
    page.click("#train-button")
    expect(status(page)).to_contain_text("Trained 5 epochs", timeout=RUN_TIMEOUT_MS)
    page.reload()
    open_dashboard(page, app_server)
    expect(stack_rows(page)).to_have_count(3, timeout=30_000)
    look_at(page, "network")
    expect(page.locator("#network-graph-summary")).to_contain_text("Input →", timeout=30_000)
    expect(status(page)).to_contain_text("Trained 5 epochs")


def test_a_reload_reattaches_to_a_run_in_progress(page, app_server):
    open_dashboard(page, app_server)
    set_field(page, "epochs", 10_000)
    page.click("#train-button")
    expect(status(page)).to_contain_text("training", timeout=RUN_TIMEOUT_MS)
    page.reload()
    open_dashboard(page, app_server)
    expect(status(page)).to_contain_text("training", timeout=30_000)
    expect(page.locator("#stop-button")).to_be_enabled(timeout=30_000)
    first = page.locator("#train-epoch-text").inner_text()
    page.wait_for_function("t => document.getElementById('train-epoch-text').innerText !== t", arg=first,
                           timeout=30_000)                      # it follows the run
    page.click("#stop-button")
    expect(status(page)).to_have_class(re.compile(r"\bstatus-stopped\b"), timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#train-button")).to_have_text("Train")
