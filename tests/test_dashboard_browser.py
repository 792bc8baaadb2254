"""The user's journey through the dashboard in headless Chromium.

Every wait waits for something the user would see (a status, a message, a
chart's points, a graph's edges), never for a fixed time.
"""
from __future__ import annotations

import re
import time

import numpy as np
import pytest
from playwright.sync_api import expect

from browser import (RUN_TIMEOUT_MS, choose, click_edge, graph_weights, look_at, open_dashboard, set_field, stack_rows,
                     status, training_points, wait_for_graph, wait_for_points)
from engine import Sequential

pytestmark = pytest.mark.browser

EPOCHS = 12


def file_weight(model: Sequential, edge_id: str) -> float:
    """``w{p}-{i}-{j}`` is W[i, j] of the p-th dense layer (p = 1 is the first)."""
    p, i, j = map(int, edge_id[1:].split("-"))
    return float(model.layers[p - 1].W[i, j])


def journey(page, url: str, tmp_path) -> None:
    open_dashboard(page, url)

    # Two hidden layers: add a third row, remove it again, and resize the first.
    rows = stack_rows(page)
    expect(rows).to_have_count(2)
    page.click("#stack-add")
    expect(rows).to_have_count(3)
    rows.nth(2).locator("button[title='Remove this layer']").click()
    expect(rows).to_have_count(2)
    rows.nth(0).locator("input[type=number]").first.fill("6")
    expect(page.locator("#stack-input")).to_contain_text("(2,)")
    expect(rows.nth(0).locator(".stack-shape")).to_have_text("→ (6,) · 18 params")
    expect(rows.nth(1).locator(".stack-shape")).to_have_text("→ (8,) · 56 params")

    # A bad value: its message beside the field, and Train disabled until it is fixed.
    set_field(page, "learning_rate", "-1")
    expect(page.locator("#ctl-learning_rate-error")).to_have_text("Must be greater than 0")
    expect(page.locator("#train-button")).to_be_disabled()
    set_field(page, "learning_rate", "0.01")
    expect(page.locator("#ctl-learning_rate-error")).to_have_text("")
    expect(page.locator("#train-button")).to_be_enabled()

    # Train on moons for EPOCHS epochs: one loss point per epoch.
    set_field(page, "epochs", EPOCHS)
    page.click("#train-button")
    expect(status(page)).to_have_class(re.compile(r"\bstatus-done\b"), timeout=RUN_TIMEOUT_MS)
    wait_for_points(page, EPOCHS)
    assert training_points(page) == EPOCHS
    expect(page.locator("#train-epoch-text")).to_have_text(f"{EPOCHS} / {EPOCHS}")

    # Save: the downloaded file is the engine's model, the graph shows its weights.
    with page.expect_download() as download:
        page.click("#model-save")
    saved = tmp_path / "model.npz"
    download.value.save_as(saved)
    model = Sequential.load(saved)
    assert [layer.W.shape for layer in model.layers] == [(2, 6), (6, 8), (8, 2)]
    assert model.epochs_trained == EPOCHS
    edge = "w2-3-5"
    readout = click_edge(page, edge)
    assert readout["w"] == pytest.approx(file_weight(model, edge), rel=1e-6, abs=1e-12)
    assert readout["label"].startswith(f"w = {file_weight(model, edge):.4g}")

    # Stop a long run midway: it halts soon and keeps what it learned.
    set_field(page, "epochs", 10000)
    page.click("#train-button")
    expect(status(page)).to_have_class(re.compile(r"\bstatus-running\b"), timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#stop-button")).to_be_enabled()
    page.wait_for_function("() => /^([2-9]|\\d{2,}) \\//.test(document.getElementById('train-epoch-text')"
                           ".textContent)", timeout=RUN_TIMEOUT_MS)
    clicked = time.monotonic()
    page.click("#stop-button")
    expect(status(page)).to_have_class(re.compile(r"\bstatus-stopped\b"), timeout=10_000)
    stop_seconds = time.monotonic() - clicked
    print(f"Stop took effect on the page after {stop_seconds:.2f} s")
    assert stop_seconds < 3
    expect(status(page)).to_contain_text("Stopped by you")
    expect(page.locator("#train-button")).to_be_enabled()
    # the charts follow the status with the run's last snapshot version (a server round trip later)
    page.wait_for_function("""n => {
        const g = document.querySelector('#loss-graph .js-plotly-plot');
        const t = ((g && g.data) || []).find(t => t.name === 'training');
        return t && t.x.length > n;
    }""", arg=EPOCHS, timeout=10_000)
    assert EPOCHS < training_points(page) < EPOCHS + 10000

    # Load the saved file: the graph shows exactly the saved weights again.
    page.click("#reset-button")
    expect(status(page)).to_contain_text("Reset")
    page.locator("#model-load input[type=file]").set_input_files(str(saved))
    expect(page.locator("#model-message")).to_contain_text("Loaded model.npz", timeout=30_000)
    expect(page.locator("#model-message")).to_contain_text(f"{EPOCHS} epochs trained")
    look_at(page, "network")
    page.wait_for_function("w => { const cy = window.backpropGraph && window.backpropGraph.cy();"
                           " return cy && cy.getElementById('w2-3-5').data('w') === w; }",
                           arg=file_weight(model, edge), timeout=30_000)
    drawn = graph_weights(page)
    weights = {e: w for e, w in drawn.items() if e.startswith("w")}
    assert len(weights) == 2 * 6 + 6 * 8 + 8 * 2
    for edge_id, w in weights.items():
        assert w == pytest.approx(file_weight(model, edge_id), rel=1e-6, abs=1e-12), edge_id
    other = "w1-1-4"
    readout = click_edge(page, other)
    assert readout["w"] == pytest.approx(file_weight(model, other), rel=1e-6, abs=1e-12)


def test_user_journey_embedded(page, app_server, tmp_path):
    journey(page, app_server, tmp_path)


def test_user_journey_celery(page, celery_app_server, tmp_path):
    journey(page, celery_app_server, tmp_path)
    expect(page.locator(".mode-badge")).to_have_text("Celery + Redis")


def test_bad_model_file_gets_a_clear_message(page, app_server, tmp_path):
    open_dashboard(page, app_server)
    bad = tmp_path / "notes.npz"
    bad.write_bytes(b"these are not the weights you are looking for")
    page.locator("#model-load input[type=file]").set_input_files(str(bad))
    expect(page.locator("#model-message")).to_contain_text("Could not load notes.npz")
    expect(page.locator("#model-message")).to_contain_text("not a Backprop Studio model file")


def test_nan_loss_stops_the_run_and_names_the_learning_rate(page, app_server):
    open_dashboard(page, app_server)
    choose(page, "ctl-loss", "Mean squared error")
    choose(page, "ctl-output_activation", "Linear")
    choose(page, "ctl-optimizer", "SGD (momentum)")
    set_field(page, "learning_rate", "10")
    set_field(page, "epochs", "200")
    expect(page.locator("#train-button")).to_be_enabled()
    page.click("#train-button")
    expect(status(page)).to_have_class(re.compile(r"\bstatus-diverged\b"), timeout=RUN_TIMEOUT_MS)
    expect(status(page)).to_contain_text("learning rate")
    expect(status(page)).to_contain_text("10")


def test_two_tabs_train_separate_models(browser, app_server):
    tabs = []
    for _ in range(2):
        context = browser.new_context(viewport={"width": 1440, "height": 1000})
        tabs.append((context, context.new_page()))
    try:
        (_, a), (_, b) = tabs
        open_dashboard(a, app_server)
        open_dashboard(b, app_server)
        stack_rows(a).nth(0).locator("input[type=number]").first.fill("5")
        set_field(a, "epochs", 400)
        stack_rows(b).nth(1).locator("button[title='Remove this layer']").click()
        expect(stack_rows(b)).to_have_count(1)
        set_field(b, "epochs", 300)
        session_a = a.evaluate("() => sessionStorage.getItem('session-id')")
        session_b = b.evaluate("() => sessionStorage.getItem('session-id')")
        assert session_a and session_b and session_a != session_b
        a.click("#train-button")
        b.click("#train-button")
        for tab, epochs in ((a, 400), (b, 300)):
            expect(status(tab)).to_have_class(re.compile(r"\bstatus-done\b"), timeout=RUN_TIMEOUT_MS)
            wait_for_points(tab, epochs)
        wait_for_graph(a, "w2-4-7")
        wait_for_graph(b, "w2-7-1")
        edges_a, edges_b = graph_weights(a), graph_weights(b)
        assert sum(e.startswith("w") for e in edges_a) == 2 * 5 + 5 * 8 + 8 * 2
        assert sum(e.startswith("w") for e in edges_b) == 2 * 8 + 8 * 2
    finally:
        for context, _ in tabs:
            context.close()


def test_page_stays_responsive_while_training(page, app_server):
    """An unrelated callback (typing in the form) still answers during a run, every time
    (bench/bench_dashboard.py measures the page's latencies, from the click to the figure)."""
    open_dashboard(page, app_server)
    set_field(page, "epochs", 10000)
    page.click("#train-button")
    expect(status(page)).to_have_class(re.compile(r"\bstatus-running\b"), timeout=RUN_TIMEOUT_MS)
    latencies = []
    for i in range(20):
        value = f"0.0{i % 9 + 1}"
        started = time.monotonic()
        set_field(page, "l2", "-1" if i % 2 == 0 else value)
        expected = "Must be between 0 and 10" if i % 2 == 0 else ""
        # polled on every animation frame (expect() polls at growing intervals, up to 1 s)
        page.wait_for_function("t => document.getElementById('ctl-l2-error').textContent === t", arg=expected,
                               timeout=10_000)
        latencies.append(time.monotonic() - started)
    page.click("#stop-button")
    expect(status(page)).to_have_class(re.compile(r"\bstatus-stopped\b"), timeout=10_000)
    # Every answer arrived (each within the wait above); how fast is bench/bench_dashboard.py's to say.
    assert len(latencies) == 20
    print(f"form validation round trip during training: p95 {float(np.percentile(latencies, 95)) * 1000:.0f} ms")
