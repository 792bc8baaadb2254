"""What the browser tests share: opening the page, filling the form, waiting for what
a user would see (a status, a message, a chart's points, a graph's edges), never
for a fixed time."""
from __future__ import annotations

import json

from playwright.sync_api import expect

RUN_TIMEOUT_MS = 90_000


def open_dashboard(page, url: str) -> None:
    page.goto(url)
    expect(page.locator("#train-button")).to_be_enabled(timeout=30_000)


def set_field(page, name: str, value) -> None:
    page.fill(f"#ctl-{name}", str(value))


def choose(page, dropdown_id: str, option: str) -> None:
    """Pick ``option`` in a dropdown (a dropdown's own options: a checklist's items have the
    option role too)."""
    page.click(f"#{dropdown_id}")
    page.get_by_role("option", name=option, exact=True).and_(page.locator(".dash-dropdown-option")).click()


def stack_rows(page):
    """The rows of the layer stack (the output row is not one of them)."""
    return page.locator("#stack-rows > .stack-row")


def look_at(page, panel: str) -> None:
    """Scroll a panel ("conv", "network", ...: its data-panel name) into view, as a user
    would: panels out of view skip a run's refreshes (assets/visibility.js) and redraw
    when they come into view."""
    page.locator(f"[data-panel={panel}]").scroll_into_view_if_needed()


def status(page):
    return page.locator("#train-status")


def training_points(page) -> int:
    return page.evaluate("""() => {
        const g = document.querySelector('#loss-graph .js-plotly-plot');
        const t = ((g && g.data) || []).find(t => t.name === 'training');
        return t ? t.x.length : 0;
    }""")


def wait_for_points(page, n: int) -> None:
    page.wait_for_function("""n => {
        const g = document.querySelector('#loss-graph .js-plotly-plot');
        const t = ((g && g.data) || []).find(t => t.name === 'training');
        return t && t.x.length === n;
    }""", arg=n, timeout=RUN_TIMEOUT_MS)


def graph_weights(page) -> dict[str, float]:
    """Edge id -> w of every edge the network graph draws."""
    return page.evaluate("""() => {
        const cy = window.backpropGraph && window.backpropGraph.cy();
        const out = {};
        if (cy) { cy.edges().forEach(e => { out[e.id()] = e.data('w'); }); }
        return out;
    }""")


def wait_for_graph(page, edge_id: str) -> None:
    look_at(page, "network")
    page.wait_for_function("id => window.backpropGraph && window.backpropGraph.edgePoint(id)", arg=edge_id,
                           timeout=RUN_TIMEOUT_MS)




def click_edge(page, edge_id: str) -> dict:
    """Click an edge as a user would; return the graph's readout of it."""
    page.locator("#network-graph").scroll_into_view_if_needed()
    wait_for_graph(page, edge_id)
    point = page.evaluate("id => window.backpropGraph.edgePoint(id)", edge_id)
    assert point, f"no point on {edge_id} is clear of other edges"
    page.mouse.click(point["x"], point["y"])
    page.wait_for_function("id => { try { const r = JSON.parse(document.getElementById('edge-label-readout')"
                           ".textContent); return r.id === id && r.shown; } catch (e) { return false; } }",
                           arg=edge_id)
    return json.loads(page.locator("#edge-label-readout").text_content())
