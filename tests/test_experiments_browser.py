"""The Experiments section in a real browser: a 2x2 grid (learning rate x hidden
activation) on moons, its runs in the table, two of them compared, and the runs still
there after the server restarts."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from browser import RUN_TIMEOUT_MS, look_at, open_dashboard
from conftest import running_app

ROWS = "#exp-runs .ag-center-cols-container [row-index]"


def table_rows(page) -> list[dict]:
    """The runs table's rows as the grid holds them."""
    return page.evaluate("""() => {
        const out = [];
        dash_ag_grid.getApi('exp-runs').forEachNodeAfterFilterAndSort(n => out.push(n.data));
        return out;
    }""")


def rendered_rows(page) -> int:
    return page.locator(ROWS).count()


def select_rows(page, n: int) -> None:
    """Tick the first n rows' boxes, as a user does."""
    for k in range(n):
        box = page.locator(f"{ROWS}[row-index='{k}'] .ag-selection-checkbox input").first
        if not box.count():
            box = page.locator(f"#exp-runs [row-index='{k}'] .ag-selection-checkbox input").first
        box.check()


def loss_traces(page) -> list[dict]:
    return page.evaluate("""() => {
        const g = document.querySelector('#exp-loss .js-plotly-plot');
        return ((g && g.data) || []).map(t => ({name: t.name, y: t.y, dash: (t.line || {}).dash || 'solid',
                                                run_id: (t.meta || {}).run_id}));
    }""")


def set_space_values(page, index: int, text: str) -> None:
    box = page.locator(f"#exp-space .space-row >> nth={index}").locator(".space-values input")
    box.fill(text)
    box.press("Enter")


@pytest.fixture
def server_folder(tmp_path):
    return tmp_path / "app"


@pytest.fixture
def context(browser):
    """A browser window wide enough for the runs table and its compare charts."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    yield context
    context.close()


def search_with_epochs(page, url: str, epochs: int) -> None:
    """Open the dashboard, set the form's epochs and go to the Experiments section."""
    open_dashboard(page, url)
    page.fill("#ctl-epochs", str(epochs))
    page.fill("#ctl-init_seed", "0")          # the same trials every time
    look_at(page, "experiments")


def test_a_grid_search_fills_the_table_compares_and_survives_a_restart(server_folder, context):
    page = context.new_page()
    with running_app(server_folder) as url:
        search_with_epochs(page, url, 15)
        # The section's default is a 2 x 2 grid over learning rate and hidden activation.
        set_space_values(page, 0, "0.003, 0.03")
        set_space_values(page, 1, "tanh, relu")
        expect(page.locator("#exp-count")).to_have_text("4 trials")
        page.click("#exp-run")
        expect(page.locator("#exp-status")).to_contain_text("4 of 4 trials finished · done",
                                                            timeout=RUN_TIMEOUT_MS)
        expect(page.locator(ROWS)).to_have_count(4, timeout=20_000)
        rows = table_rows(page)
        assert sorted((r["params.learning_rate"], r["params.activation"]) for r in rows) == \
            [(0.003, "relu"), (0.003, "tanh"), (0.03, "relu"), (0.03, "tanh")]
        assert all(r["state"] == "done" and 0 <= r["metrics.val_accuracy"] <= 1 for r in rows), rows
        # The accuracy the table shows is the one the grid holds, formatted.
        page.evaluate("() => dash_ag_grid.getApi('exp-runs').ensureColumnVisible('metrics.val_accuracy')")
        first = page.locator(f"{ROWS}[row-index='0'] [col-id='metrics.val_accuracy']")
        expect(first).to_have_text(re.compile(r"^0\.\d+$|^1$"))
        assert float(first.inner_text()) == pytest.approx(rows[0]["metrics.val_accuracy"], abs=1e-4)

        select_rows(page, 2)
        page.wait_for_function("() => { const g = document.querySelector('#exp-loss .js-plotly-plot');"
                               " return g && g.data && g.data.length === 4; }", timeout=20_000)
        traces = loss_traces(page)
        chosen = {r["id"] for r in rows[:2]}
        assert len(traces) == 4
        assert sorted(t["dash"] for t in traces) == ["dash", "dash", "solid", "solid"]
        assert all(len(t["y"]) == 15 for t in traces)
        assert {t["run_id"] for t in traces} == chosen

        # Compare inside: both runs' weight histograms, a column each, at the last common epoch.
        look_at(page, "experiments")
        page.locator("#exp-inside").scroll_into_view_if_needed()
        expect(page.locator("#exp-inside .gtitle").first).to_contain_text("at epoch 15", timeout=20_000)
        expect(page.locator("#exp-inside-regions .js-plotly-plot")).to_have_count(2, timeout=20_000)

    with running_app(server_folder) as url:
        page = context.new_page()
        open_dashboard(page, url)
        look_at(page, "experiments")
        expect(page.locator(ROWS)).to_have_count(4, timeout=20_000)
        again = table_rows(page)
        assert {r["id"]: r["metrics.val_accuracy"] for r in again} == \
            {r["id"]: r["metrics.val_accuracy"] for r in rows}
        expect(page.locator("#exp-status")).to_contain_text("4 of 4 trials finished · done")


def test_rename_tag_delete_and_open_runs(server_folder, context):
    page = context.new_page()
    with running_app(server_folder) as url:
        search_with_epochs(page, url, 3)
        page.click("#exp-run")
        expect(page.locator("#exp-status")).to_contain_text("· done", timeout=RUN_TIMEOUT_MS)
        expect(page.locator(ROWS)).to_have_count(4, timeout=20_000)
        select_rows(page, 1)
        target = table_rows(page)[0]["id"]
        page.fill("#exp-rename-text", "my best run")
        page.click("#exp-rename")
        expect(page.locator("#exp-action-message")).to_have_text(f"Renamed run #{target}.")
        page.fill("#exp-tags-text", "keep, moons")
        page.click("#exp-tags")
        expect(page.locator("#exp-action-message")).to_contain_text("Tagged 1 run: keep, moons")
        page.wait_for_function("id => { const out = []; dash_ag_grid.getApi('exp-runs').forEachNode("
                               "n => out.push(n.data)); const r = out.find(d => d.id === id);"
                               " return r && r.name === 'my best run' && r.tags === 'keep, moons'; }",
                               arg=target, timeout=20_000)
        # A tag too long is refused with the rule, and nothing changes.
        page.fill("#exp-tags-text", "x" * 60)
        page.click("#exp-tags")
        expect(page.locator("#exp-action-message")).to_contain_text("each tag must be a string of 1 to 40")
        page.click("#exp-delete")
        expect(page.locator("#exp-action-message")).to_have_text("Deleted 1 run.")
        expect(page.locator(ROWS)).to_have_count(3, timeout=20_000)
        assert target not in {r["id"] for r in table_rows(page)}

        # Open: a run's model becomes the tab's model; the form takes its settings.
        page.evaluate("() => dash_ag_grid.getApi('exp-runs').deselectAll()")
        select_rows(page, 1)
        opened = table_rows(page)[0]
        page.click("#exp-open")
        expect(page.locator("#exp-action-message")).to_contain_text(f"Opened run #{opened['id']}")
        expect(page.locator("#exp-action-message")).to_contain_text("3 epochs trained")
        expect(page.locator("#ctl-learning_rate")).to_have_value(f"{opened['params.learning_rate']:g}")
        look_at(page, "network")
        page.wait_for_function("() => window.backpropGraph && window.backpropGraph.cy() && "
                               "window.backpropGraph.cy().edges().length > 0", timeout=20_000)
