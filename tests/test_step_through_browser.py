"""Backpropagation step by step, in the browser: Pause, a new learning rate, Step, Resume;
one sample traced on the network graph against the engine's own forward and backward on
that sample alone; the step view against the optimiser's change; the computation graph
of a tiny network; the activation explorer's curves against the engine's functions.

The test reads the run cache of its own app (the same state folder) for the model the
page shows, and recomputes everything from it with the engine's public API."""
from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest
from flask import Flask
from playwright.sync_api import expect

from dashboard import store
from engine import ACTIVATIONS, Sequential
from viz.snapshots import model_from_snapshot

from browser import RUN_TIMEOUT_MS, choose, look_at, open_dashboard, set_field, stack_rows, status
from conftest import running_app

NUMBER = r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """The dashboard, and the test's view of its run cache."""
    folder = tmp_path_factory.mktemp("step-through")
    with running_app(folder) as url:
        yield url, folder / "state"


@pytest.fixture
def cache(app, monkeypatch):
    monkeypatch.setenv("BACKPROP_STATE_DIR", str(app[1]))
    store.init_app(Flask("step-through-test"))
    return store


def session_of(page) -> str:
    return json.loads(page.evaluate("() => sessionStorage.getItem('session-id')"))


def settle(page) -> None:
    """The page has drawn its panels once (Step right after loading waits for nothing)."""
    look_at(page, "network")
    expect(page.locator("#network-graph-summary")).to_contain_text("No model yet", timeout=30_000)


def press(page, button: str) -> None:
    page.evaluate("() => window.scrollTo(0, 0)")
    page.click(f"#{button}")


def halted_at(page) -> tuple[int, int]:
    text = status(page).inner_text()
    m = re.search(r"after epoch (\d+), batch (\d+) of", text)
    assert m, text
    return int(m.group(1)), int(m.group(2))


def wait_halted(page, text: str) -> None:
    expect(page.locator("#pause-button")).to_have_text("Resume", timeout=RUN_TIMEOUT_MS)
    expect(status(page)).to_contain_text(text, timeout=RUN_TIMEOUT_MS)


def test_pause_new_rate_step_resume(page, app, cache):
    url, _ = app
    open_dashboard(page, url)
    settle(page)
    choose(page, "ctl-optimizer", "SGD (momentum)")
    set_field(page, "epochs", 2000)
    set_field(page, "learning_rate", 0.01)
    press(page, "train-button")
    expect(page.locator("#pause-button")).to_be_enabled(timeout=RUN_TIMEOUT_MS)
    press(page, "pause-button")
    wait_halted(page, "Paused after")
    session = session_of(page)
    before = cache.get_snapshot(session)
    epoch, batch = halted_at(page)
    live = cache.get_live(session)
    assert live["paused"] and live["batches_done"] == before["batches_done"]
    # the model file holds the halted run's progress
    kept = None
    for _ in range(400):                    # the job writes the model file just after it publishes the halt
        stored = cache.get_model(session)
        if stored is not None:
            kept = Sequential.load(io.BytesIO(stored["bytes"]))
            break
        page.wait_for_timeout(25)
    assert kept is not None, "the halted run's model file never came"
    for layer, entry in zip(kept.layers, before["layers"]):
        np.testing.assert_array_equal(layer.W, entry["params"]["W"])

    set_field(page, "learning_rate", 0.5)
    page.keyboard.press("Tab")
    expect(page.locator("#train-control-note")).to_contain_text("Learning rate 0.5: applies to this run",
                                                               timeout=RUN_TIMEOUT_MS)
    press(page, "step-button")
    expect(status(page)).to_contain_text("Stepped one batch", timeout=RUN_TIMEOUT_MS)
    after = cache.get_snapshot(session)
    assert after["batches_done"] == before["batches_done"] + 1          # exactly one batch
    n_batches = cache.get_live(session)["batches"]
    assert halted_at(page) == ((epoch, batch + 1) if batch < n_batches else (epoch + 1, 1))
    expect(page.locator("#train-batch-text")).to_have_text(f"{halted_at(page)[1]} / {n_batches}")
    assert after["learning_rate"] == 0.5
    for old, new in zip(before["layers"], after["layers"]):               # plain SGD at the new rate
        for name in ("W", "b"):
            np.testing.assert_allclose(new["params"][name] - old["params"][name], -0.5 * new["grads"][name],
                                       atol=2e-7)

    # The step view: the page's table against the change the optimiser made
    look_at(page, "trace")
    page.fill("#trace-sample-index", "0")
    page.click("#trace-button")
    page.get_by_text("Step: before → after").click()
    table = page.locator(".trace-step-table")
    expect(table).to_be_visible(timeout=RUN_TIMEOUT_MS)
    first = table.locator("tbody tr").first.locator("td").all_inner_texts()
    layer_no, name = int(re.search(r"Layer (\d+)", first[0]).group(1)), first[1]
    param, index = name[0], tuple(map(int, re.findall(r"\d+", name)))
    old_w = before["layers"][layer_no - 1]["params"][param][index]
    new_w = after["layers"][layer_no - 1]["params"][param][index]
    assert float(first[2]) == pytest.approx(old_w, rel=1e-3)
    assert float(first[3]) == pytest.approx(new_w, rel=1e-3)
    assert float(first[4]) == pytest.approx(new_w - old_w, rel=1e-3, abs=1e-6)
    assert float(first[5]) == pytest.approx(-0.5 * after["layers"][layer_no - 1]["grads"][param][index],
                                            rel=1e-3, abs=1e-6)
    deltas = [abs(n["params"][k] - o["params"][k]).max() for o, n in zip(before["layers"], after["layers"])
              for k in ("W", "b")]
    assert abs(new_w - old_w) == pytest.approx(max(deltas), rel=1e-3)  # the largest change comes first
    expect(page.locator(".trace-note")).to_contain_text("SGD")

    press(page, "pause-button")                                              # Resume
    expect(page.locator("#train-control-note")).to_have_text("Resumed.")
    expect(status(page)).to_contain_text("Trained 2000 epochs", timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#train-control-note")).to_have_text("")             # the run it spoke of is over
    expect(status(page)).to_contain_text("learning rate 0.01 → 0.5 at batch")
    final = Sequential.load(io.BytesIO(cache.get_model(session)["bytes"]))
    assert final.epochs_trained == 2000
    look_at(page, "charts")
    page.wait_for_function("""() => {
        const g = document.querySelector('#loss-graph .js-plotly-plot');
        return g && (g.layout.annotations || []).some(a => a.text === 'learning rate 0.01 → 0.5');
    }""", timeout=RUN_TIMEOUT_MS)


def _labels(page) -> dict[str, str]:
    return page.evaluate("""() => {
        const out = {};
        window.backpropGraph.cy().elements().forEach(e => { out[e.id()] = e.data('label'); });
        return out;
    }""")


def _value(label: str, name: str) -> float:
    m = re.search(re.escape(name) + r"\s*=\s*(" + NUMBER + ")", label.replace("−", "-"))
    assert m, (name, label)
    return float(m.group(1))


def test_a_traced_sample_equals_the_engine_on_that_sample_alone(page, app, cache):
    url, _ = app
    open_dashboard(page, url)
    settle(page)
    press(page, "step-button")                      # no run on: a run that halts after one batch
    wait_halted(page, "Paused after epoch 1, batch 1")
    session = session_of(page)
    look_at(page, "trace")
    page.fill("#trace-sample-index", "3")
    page.click("#trace-button")
    look_at(page, "network")
    expect(page.locator("#network-graph-summary")).to_contain_text("Tracing validation sample 3",
                                                                   timeout=RUN_TIMEOUT_MS)
    snapshot = cache.get_snapshot(session)
    samples = cache.get_probe(session)["samples"]
    x, y = np.asarray(samples["inputs"][3]), int(samples["labels"][3])
    model = model_from_snapshot(snapshot)
    outputs = model.layer_outputs(x[None])
    labels = _labels(page)
    inputs = [x] + [o[0] for o in outputs[:-1]]
    for p, (layer, a_in, a_out) in enumerate(zip(model.layers, inputs, outputs), start=1):
        z = a_in @ layer.W + layer.b
        for j in range(layer.units):
            assert _value(labels[f"n{p}-{j}"], "z") == pytest.approx(z[j], rel=2e-3, abs=1e-4)
            assert _value(labels[f"n{p}-{j}"], "a") == pytest.approx(a_out[0, j], rel=2e-3, abs=1e-4)
        for i in range(len(a_in)):
            for j in range(layer.units):
                label = labels.get(f"w{p}-{i}-{j}")
                if label is not None:
                    assert _value(label, "w·a") == pytest.approx(layer.W[i, j] * a_in[i], rel=2e-3, abs=1e-4)
    # the backward half: the engine's backward on this one sample
    look_at(page, "trace")
    page.get_by_text("Backward: dL/da, dL/dz, dL/dw").click()
    look_at(page, "network")
    page.wait_for_function("() => window.backpropGraph.cy().getElementById('n1-0').data('label').includes('dL/dz')",
                           timeout=RUN_TIMEOUT_MS)
    labels = _labels(page)
    model.forward(x[None], training=False)
    loss = model.backward(np.asarray([y]))
    for p, layer in enumerate(model.layers, start=1):
        for i in range(layer.W.shape[0]):
            for j in range(layer.units):
                label = labels.get(f"w{p}-{i}-{j}")
                if label is not None:
                    assert _value(label, "dL/dw") == pytest.approx(layer.grad_W[i, j], rel=2e-3, abs=1e-5)
    look_at(page, "trace")
    expect(page.locator(".trace-formulas")).to_contain_text(f"{loss:.4g}")
    expect(page.locator("#compute-graph-note")).to_contain_text("up to 40 weights and biases; this one has 114")
    # Step while tracing: the graph switches to the step view, each weight's change on its edge
    look_at(page, "network")
    page.click("#network-graph-step")
    page.wait_for_function("() => (window.backpropGraph.cy().getElementById('w1-0-0').data('label') || '')"
                           ".includes('Δ')", timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#trace-mode input[value=step]")).to_be_checked()
    after = cache.get_snapshot(session)
    assert after["batches_done"] == snapshot["batches_done"] + 1
    label = _labels(page)["w1-0-0"]
    change = after["layers"][0]["params"]["W"][0, 0] - snapshot["layers"][0]["params"]["W"][0, 0]
    assert _value(label, "Δ") == pytest.approx(change, rel=2e-3, abs=1e-7)
    press(page, "stop-button")
    expect(status(page)).to_contain_text("Stopped by you", timeout=RUN_TIMEOUT_MS)


def test_the_computation_graph_of_a_tiny_network(page, app, cache):
    url, _ = app
    open_dashboard(page, url)
    settle(page)
    rows = stack_rows(page)
    rows.nth(1).locator("button[title='Remove this layer']").click()
    expect(rows).to_have_count(1)
    rows.nth(0).locator("input[type=number]").first.fill("3")
    expect(page.locator("#train-button")).to_be_enabled()
    press(page, "step-button")
    wait_halted(page, "Paused after epoch 1, batch 1")
    session = session_of(page)
    look_at(page, "trace")
    page.fill("#trace-sample-index", "5")
    page.click("#trace-button")
    expect(page.locator("#compute-graph-note")).to_contain_text("for 17 weights and biases", timeout=RUN_TIMEOUT_MS)
    nodes = page.evaluate("""() => {
        const cy = document.getElementById('compute-graph')._cyreg.cy;
        return cy.nodes().map(n => n.data());
    }""")
    model = model_from_snapshot(cache.get_snapshot(session))
    samples = cache.get_probe(session)["samples"]
    x, y = np.asarray(samples["inputs"][5]), int(samples["labels"][5])
    model.forward(x[None], training=False)
    loss = model.backward(np.asarray([y]))
    top = next(n for n in nodes if n.get("role") == "loss" and n.get("name") == "L")
    assert top["value"] == pytest.approx(loss, rel=1e-5)
    params = [n for n in nodes if n.get("role") == "param"]
    assert len(params) == 17
    for n in params:
        layer = model.layers[n["layer"]]
        grad = getattr(layer, "grad_" + n["param"])[tuple(n["index"])]
        assert n["grad"] == pytest.approx(float(grad), rel=1e-4, abs=1e-7)
    press(page, "stop-button")


def test_the_activation_explorer_draws_the_engines_functions(page, app):
    url, _ = app
    open_dashboard(page, url)
    look_at(page, "activations")
    page.wait_for_function("() => { const g = document.querySelector('#act-graph .js-plotly-plot');"
                           " return g && g.data && g.data.length >= 6; }", timeout=RUN_TIMEOUT_MS)
    traces = page.evaluate("() => document.querySelector('#act-graph .js-plotly-plot').data"
                           ".map(t => ({name: t.name, x: t.x, y: t.y, dash: (t.line || {}).dash}))")
    for name in ("tanh", "sigmoid", "relu"):
        act = ACTIVATIONS[name]
        curve = next(t for t in traces if t["name"] and t["name"].lower().startswith(act.label.lower())
                     and t["dash"] != "dash")
        slope = next(t for t in traces if t["name"] and act.label.lower() in t["name"].lower() and t["dash"] == "dash")
        u = np.asarray(curve["x"], dtype=np.float64)
        a = act.forward(u)
        np.testing.assert_allclose(curve["y"], a, rtol=1e-4, atol=1e-5)       # drawn to 5 significant digits
        np.testing.assert_allclose(slope["y"], act.backward(u, a, np.ones_like(u)), rtol=1e-4, atol=1e-5)
