"""Insight over time in a real browser: after a run, the Step slider scrubs the network
graph and its edge labels back to step 0 - the initial model's weights, exactly - and Live
brings the trained weights back."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from browser import RUN_TIMEOUT_MS, click_edge, graph_weights, look_at, open_dashboard, set_field, status
from dashboard import presets
from dashboard import spec as spec_mod

SEED = 7


def test_scrubbing_to_step_0_shows_the_initial_weights_exactly(page, app_server):
    open_dashboard(page, app_server)
    set_field(page, "init_seed", SEED)
    set_field(page, "epochs", 60)
    page.click("#train-button")
    expect(status(page)).to_have_class(re.compile(r"\bstatus-done\b"), timeout=RUN_TIMEOUT_MS)
    look_at(page, "network")
    page.wait_for_function("() => window.backpropGraph && window.backpropGraph.cy() && "
                           "window.backpropGraph.cy().edges().length > 0", timeout=RUN_TIMEOUT_MS)
    trained = graph_weights(page)

    look_at(page, "timeline")
    expect(page.locator("#timeline-slider-text")).to_contain_text("live", timeout=RUN_TIMEOUT_MS)
    kept = int(re.search(r"([\d,]+) kept", page.locator("#timeline-slider-text").inner_text()).group(1)
               .replace(",", ""))
    assert kept >= 3
    page.locator("#timeline-slider [role=slider]").first.focus()
    page.keyboard.press("Home")
    expect(page.locator("#timeline-slider-text")).to_contain_text("step 0 ·")
    expect(page.locator("#timeline-graph .gtitle")).to_contain_text("Weights over time")

    look_at(page, "network")
    expect(page.locator(".graph-scrubbed")).to_contain_text("step 0 of the run", timeout=20_000)
    form = presets.preset_form("dense")
    form.update(init_seed=SEED, epochs=60)
    initial = spec_mod.build_model(spec_mod.check(form).spec)
    page.wait_for_function("w => { const cy = window.backpropGraph.cy(); const e = cy.getElementById('w1-0-0');"
                           " return e && e.data('w') === w; }", arg=float(initial.layers[0].W[0, 0]),
                           timeout=20_000)
    shown = graph_weights(page)
    weight_edges = {eid: w for eid, w in shown.items() if eid.startswith("w")}
    assert len(weight_edges) == 16 + 64 + 16
    for eid, w in weight_edges.items():
        p, i, j = (int(v) for v in eid[1:].split("-"))
        assert w == float(initial.layers[p - 1].W[i, j]), eid       # the initial model, exactly
    assert any(shown[eid] != trained[eid] for eid in weight_edges)
    # The clicked edge's label is the initial weight too.
    readout = click_edge(page, "w2-3-5")
    assert readout["w"] == float(initial.layers[1].W[3, 5])

    look_at(page, "timeline")
    page.click("#timeline-live")
    expect(page.locator("#timeline-slider-text")).to_contain_text("live")
    look_at(page, "network")
    expect(page.locator(".graph-scrubbed")).to_have_count(0, timeout=20_000)
    # Live: the trained model again, not the initial one.
    page.wait_for_function("w => window.backpropGraph.cy().getElementById('w1-0-0').data('w') !== w",
                           arg=float(initial.layers[0].W[0, 0]), timeout=20_000)
    back = graph_weights(page)
    assert sum(back[eid] != float(initial.layers[p - 1].W[i, j])
               for eid in weight_edges for p, i, j in [tuple(int(v) for v in eid[1:].split("-"))]) > 80
