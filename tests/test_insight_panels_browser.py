"""The insight panels in a real browser, read back as numbers: the Evaluation panel
(confusion matrix, per-class scores, misclassified digits, first-layer weights) checked
against the validation metrics the page states and the saved model, the misclassified
rings on the decision regions, and the Training health alerts of a zero-initialised, a
healthy and a saturating network, with the network graph's summary repeating them.

One tab does every run, as a person trying one network after another would: Reset
before each Train (so that it starts a new model), the form set to what the run needs.
Every wait names something only that run can show (its epoch count, its last step),
so nothing a panel kept from the run before passes for this one's."""
from __future__ import annotations

import re

import numpy as np
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from browser import RUN_TIMEOUT_MS, choose, graph_weights, look_at, open_dashboard, set_field, stack_rows, status
from dashboard.panels.health import HEALTHY
from engine import Sequential, datasets

pytestmark = pytest.mark.browser

PANEL_TIMEOUT_MS = 30_000
METRICS = re.compile(r"Validation \(([\d,]+) samples\): accuracy ([\d.]+)%, macro F1 ([\d.]+)")
SUMMARY = re.compile(r"After epoch (\d+): accuracy ([\d.]+)% · macro F1 ([\d.]+) · ([\d,]+) validation samples · "
                     r"([\d,]+) misclassified")
TILE_TITLE = re.compile(r"^true (\S+) → pred (\S+)$")
SATURATED = re.compile(r"^Layer (\d+): (\d+)% of sigmoid outputs are saturated$")

# The dense playground preset as the form shows it (dashboard/presets.py), and what each run changes.
DEFAULTS = {"dataset": "Moons", "init": "Xavier (Glorot)", "activation": "Tanh", "optimizer": "Adam",
            "learning_rate": 0.01}
DIGITS = {"dataset": "Digits 8×8", "epochs": 5}
ZEROS = {"dataset": "Digits 8×8", "init": "Zeros", "epochs": 10}
MOONS_BRIEF = {"epochs": 2}
MOONS_HEALTHY = {"epochs": 30}
SIGMOID = {"activation": "Sigmoid", "optimizer": "SGD (momentum)", "learning_rate": 50, "epochs": 12}


# -- the form and the run ------------------------------------------------------------------------
def pick(page, dropdown_id: str, option: str) -> None:
    """Choose ``option`` in a form dropdown unless it shows it already."""
    if page.locator(f"#{dropdown_id}-value").inner_text().strip() != option:
        choose(page, dropdown_id, option)
    expect(page.locator(f"#{dropdown_id}-value")).to_have_text(option)


def set_row_choice(page, row: int, setting: str, option: str) -> None:
    """Choose ``option`` in the dropdown of a stack row's setting (e.g. its Activation)."""
    box = stack_rows(page).nth(row).locator(".stack-setting").filter(
        has=page.locator(".stack-setting-label", has_text=re.compile(rf"^{setting}$")))
    value = box.locator(".dash-dropdown-value")
    if value.inner_text().strip() != option:
        box.locator("button.dash-dropdown").click()
        page.get_by_role("option", name=option, exact=True).and_(page.locator(".dash-dropdown-option")).click()
    expect(value).to_have_text(option)


def configure(page, epochs: int, **changes) -> None:
    """The dense playground's form with ``changes``, set field by field."""
    want = {**DEFAULTS, **changes}
    pick(page, "ctl-dataset", want["dataset"])
    expect(page.locator("#stack-input")).to_contain_text("(64,)" if want["dataset"] == "Digits 8×8" else "(2,)")
    pick(page, "ctl-init", want["init"])
    for row in (0, 1):
        set_row_choice(page, row, "Activation", want["activation"])
    pick(page, "ctl-optimizer", want["optimizer"])
    set_field(page, "learning_rate", want["learning_rate"])
    set_field(page, "epochs", epochs)
    expect(page.locator("#train-button")).to_be_enabled()


def train_until_finished(page, states: str = "done") -> None:
    """Train, and wait for the run's end and the validation metrics that follow it."""
    page.click("#train-button")
    expect(status(page)).to_have_class(re.compile(rf"\bstatus-({states})\b"), timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#train-metrics")).to_contain_text("Validation (", timeout=RUN_TIMEOUT_MS)


class Tab:
    """The module's browser tab and the run its model comes from."""

    def __init__(self, page):
        self.page, self.run = page, None

    def trained(self, name: str, settings: dict, states: str = "done"):
        """The tab with a model fresh from run ``name`` (trained now unless it is the tab's last)."""
        if self.run != name:
            self.run = None
            page = self.page
            page.click("#reset-button")
            expect(status(page)).to_have_class(re.compile(r"\bstatus-idle\b"))
            expect(page.locator("#train-metrics")).to_have_text("")
            configure(page, **settings)
            train_until_finished(page, states)
            self.run = name
        return self.page


@pytest.fixture(scope="module")
def tab(browser, app_server):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1440, "height": 1000})
    try:
        page = context.new_page()
        open_dashboard(page, app_server)
        yield Tab(page)
    finally:
        context.close()


def saved_model(page, folder) -> Sequential:
    """The tab's model as Save model downloads it."""
    with page.expect_download() as download:
        page.click("#model-save")
    path = folder / "model.npz"
    download.value.save_as(path)
    return Sequential.load(path)


# -- what the page shows -----------------------------------------------------------------------
def stated_metrics(page) -> tuple[int, float, float]:
    """(validation samples, accuracy %, macro F1) as #train-metrics states them."""
    text = page.locator("#train-metrics").inner_text()
    found = METRICS.search(text)
    assert found, f"no validation metrics in {text!r}"
    return int(found.group(1).replace(",", "")), float(found.group(2)), float(found.group(3))


def figure(page, graph_id: str) -> dict:
    """The figure a dcc.Graph drew: {"data": traces, "layout": layout}."""
    return page.evaluate("""id => {
        const g = document.querySelector('#' + id + ' .js-plotly-plot');
        return g && g.data ? JSON.parse(JSON.stringify({data: g.data, layout: g.layout})) : {data: [], layout: {}};
    }""", graph_id)


def wait_for_js(page, script: str, arg, what: str, describe) -> None:
    """page.wait_for_function, failing with what the page shows instead of a bare timeout."""
    try:
        page.wait_for_function(script, arg=arg, timeout=PANEL_TIMEOUT_MS)
    except PlaywrightTimeout:
        pytest.fail(f"{what}; the page shows {describe()!r}")


def epoch_summary(page, epochs: int) -> dict:
    """The Evaluation panel's summary line once it is about the run's last epoch."""
    look_at(page, "evaluation")
    summary = page.locator("#eval-summary")
    expect(summary).to_contain_text(f"After epoch {epochs}:", timeout=PANEL_TIMEOUT_MS)
    found = SUMMARY.search(summary.inner_text())
    assert found, f"unexpected summary {summary.inner_text()!r}"
    return {"epoch": int(found.group(1)), "accuracy": float(found.group(2)), "macro_f1": float(found.group(3)),
            "n": int(found.group(4).replace(",", "")), "wrong": int(found.group(5).replace(",", ""))}


def final_step(page, epochs: int) -> int:
    """The run's last step as the page tells it: epochs x the batches of an epoch (the
    Batch bar reads "k / k" at the end), or, for a run the engine stopped because the
    numbers stopped being finite, the last finite step before the batch the status names."""
    text = page.locator("#train-batch-text").inner_text()
    found = re.fullmatch(r"(\d+) / (\d+)", text.strip())
    assert found and found.group(1) == found.group(2), f"the batch bar reads {text!r} at the end of the run"
    batches = int(found.group(2))
    stopped = re.search(r"Training stopped at epoch (\d+), batch (\d+):", status(page).inner_text())
    if stopped:
        return (int(stopped.group(1)) - 1) * batches + int(stopped.group(2)) - 1
    return epochs * batches


def wait_for_health_at(page, step: int) -> None:
    """The health panel drawn for the run's last step (its heading ends "· step N")."""
    look_at(page, "health")
    expect(page.locator("#health-body")).to_be_visible(timeout=PANEL_TIMEOUT_MS)
    wait_for_js(page, """s => { const g = document.querySelector('#health-graph .js-plotly-plot');
                               const t = g && g.layout && g.layout.title;
                               return !!t && new RegExp('step ' + s + '(<|$)').test(t.text || t); }""", step,
                f"the health chart never reached step {step}",
                lambda: figure(page, "health-graph")["layout"].get("title"))


def health_alerts(page) -> list[dict]:
    return page.evaluate("""() => Array.from(document.querySelectorAll('#health-alerts .health-alert')).map(a => ({
        cls: a.className, title: a.querySelector('strong').textContent,
        evidence: a.querySelector('.health-evidence').textContent,
        rule: a.querySelector('.health-rule').textContent}))""")


def last_health_value(page, stat: str, layer: int) -> float:
    traces = [t for t in figure(page, "health-graph")["data"] if t.get("meta") == {"stat": stat, "layer": layer}]
    assert len(traces) == 1, f"no single {stat} line for layer index {layer}"
    return traces[0]["y"][-1]


def graph_alerts(page) -> list[str]:
    return page.locator("#network-graph-summary .graph-alert").all_inner_texts()


def wait_for_graph_alerts(page, alerts: list[dict]) -> None:
    """The network graph's summary with a "⚠ <title> (Training health)" line for each
    of the health panel's alerts (in any order) and no other."""
    look_at(page, "network")
    wanted = sorted(f"⚠ {a['title']} (Training health)" for a in alerts)
    wait_for_js(page, """wanted => JSON.stringify(Array.from(
                             document.querySelectorAll('#network-graph-summary .graph-alert'),
                             li => li.textContent).sort()) === JSON.stringify(wanted)""", wanted,
                f"the network graph's summary does not repeat the alerts {wanted}", lambda: graph_alerts(page))


def wait_for_graph_of(page, model: Sequential) -> None:
    """The network graph drawing ``model``: every weight edge's w is its kernel's, exactly."""
    look_at(page, "network")
    kernels = [np.asarray(layer.W, dtype=float).tolist() for layer in model.layers if hasattr(layer, "W")]
    wait_for_js(page, """ws => {
        const cy = window.backpropGraph && window.backpropGraph.cy();
        const edges = cy ? cy.edges().filter(e => /^w\\d+-\\d+-\\d+$/.test(e.id())) : [];
        return edges.length > 0 && edges.every(e => {
            const [p, i, j] = e.id().slice(1).split('-').map(Number);
            return ws[p - 1][i][j] === e.data('w'); });
    }""", kernels, "the network graph does not draw the saved model", lambda: graph_weights(page))


def first_layer_edges(page) -> dict[tuple[int, int], float]:
    """(input, unit) -> w of the first layer's edges the network graph draws."""
    out = {}
    for eid, w in graph_weights(page).items():
        found = re.fullmatch(r"w1-(\d+)-(\d+)", eid)
        if found:
            out[int(found.group(1)), int(found.group(2))] = w
    return out


def confusion_counts(fig: dict) -> np.ndarray:
    """The confusion matrix's counts as the figure writes them in its cells (the
    "correct" trace on the diagonal, "confused" off it)."""
    traces = {t["name"]: t for t in fig["data"]}
    assert set(traces) == {"correct", "confused"}, list(traces)
    k = len(traces["correct"]["text"])
    cm = np.zeros((k, k), dtype=np.int64)
    for name, trace in traces.items():
        for i, row in enumerate(trace["text"]):
            for j, cell in enumerate(row):
                if cell != "":
                    assert (i == j) == (name == "correct"), f"{name} trace writes cell ({i}, {j})"
                    cm[i, j] += int(cell)
    return cm


# -- 1. Evaluation on digits ---------------------------------------------------------------------
def test_evaluation_panel_on_digits_matches_the_validation_metrics(tab, tmp_path):
    page = tab.trained("digits", DIGITS)
    epochs = DIGITS["epochs"]
    n, accuracy, macro_f1 = stated_metrics(page)
    assert n == 359                                    # 20% of the 1,797 digits

    summary = epoch_summary(page, epochs)
    assert (summary["n"], summary["accuracy"], summary["macro_f1"]) == (n, accuracy, macro_f1)

    # the confusion matrix (drawn for this evaluation): counts written in the cells, shares as the colours
    wait_for_js(page, """([n, f1]) => { const g = document.querySelector('#eval-confusion .js-plotly-plot');
                                     const m = g && g.layout && g.layout.meta;
                                     return !!m && m.n === n && Math.abs(m.macro_f1 - f1) <= 5e-5 + 1e-9; }""",
                [n, macro_f1], "the confusion matrix is not this evaluation's",
                lambda: figure(page, "eval-confusion")["layout"].get("meta"))
    fig = figure(page, "eval-confusion")
    cm = confusion_counts(fig)
    assert cm.shape == (10, 10)
    assert cm.sum() == n
    diagonal = int(np.trace(cm))
    assert abs(100 * diagonal / n - accuracy) <= 0.005 + 1e-9
    assert n - diagonal == summary["wrong"] > 0
    shares = cm / cm.sum(axis=1, keepdims=True)
    traces = {t["name"]: t for t in fig["data"]}
    for i in range(10):
        assert traces["correct"]["z"][i][i] == pytest.approx(shares[i, i], rel=1e-4, abs=1e-9)
        for j in range(10):
            if i != j and cm[i, j]:
                assert traces["confused"]["z"][i][j] == pytest.approx(shares[i, j], rel=1e-4, abs=1e-9)
            elif i != j:
                assert traces["confused"]["z"][i][j] is None
    assert fig["layout"]["meta"]["n"] == n

    # per-class table: 10 classes and the macro average, each score what the counts give
    rows = page.locator("#eval-table table tbody tr")
    expect(rows).to_have_count(11)
    cells = [r.locator("td").all_inner_texts() for r in rows.all()]
    assert [c[0] for c in cells] == [str(k) for k in range(10)] + ["macro average"]
    support, predicted = cm.sum(axis=1), cm.sum(axis=0)
    f1s = []
    for k in range(10):
        precision = cm[k, k] / predicted[k] if predicted[k] else 0.0
        recall = cm[k, k] / support[k]
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        f1s.append(f1)
        assert [float(v) for v in cells[k][1:4]] == pytest.approx([precision, recall, f1], abs=5e-4 + 1e-9), k
        assert int(cells[k][4].replace(",", "")) == support[k]
    assert abs(float(cells[10][3]) - macro_f1) <= 5e-4 + 5e-5 + 1e-9     # table: 3 decimals, metrics: 4
    assert abs(float(np.mean(f1s)) - macro_f1) <= 5e-5 + 1e-9            # the counts' macro F1
    assert int(cells[10][4].replace(",", "")) == n

    # the misclassified digits: the first 24 of them, each a picture of its true class
    expect(page.locator("#eval-wrong")).to_be_visible()
    wrong = figure(page, "eval-wrong")
    shown = min(24, summary["wrong"])
    assert len(wrong["data"]) == shown
    titles = [a["text"] for a in wrong["layout"]["annotations"]]
    assert len(titles) == shown
    digits = datasets.load("digits")
    images = digits.X.reshape(len(digits.X), -1)
    labels = np.asarray(digits.y).reshape(-1)
    for title, trace in zip(titles, wrong["data"]):
        found = TILE_TITLE.match(title)
        assert found, title
        true, pred = found.groups()
        assert true != pred
        assert (int(true), int(pred)) == (trace["meta"]["true"], trace["meta"]["pred"])
        same = np.flatnonzero((images == np.asarray(trace["z"], dtype=float).reshape(-1)).all(axis=1))
        assert same.size == 1, f"{title}: its picture is not one digits sample"
        assert str(labels[same[0]]) == true, f"{title}: the picture is a {labels[same[0]]}"

    # first-layer weights: unit j's picture is W[:, j] in 8x8, W as Save model has it ...
    expect(page.locator("#eval-input-wrap")).to_be_visible()
    tiles = figure(page, "eval-input-weights")["data"]
    assert [t["name"] for t in tiles] == [f"unit {j}" for j in range(8)]
    pictures = np.asarray([t["z"] for t in tiles], dtype=float)
    W = np.asarray(saved_model(page, tmp_path).layers[0].W, dtype=float)
    assert W.shape == (64, 8)
    np.testing.assert_allclose(pictures, W.T.reshape(8, 8, 8), rtol=1e-4, atol=1e-12)
    # ... and as the network graph's edges into unit j have it (16 of the 64 inputs drawn,
    # with all their edges to the 8 units)
    look_at(page, "network")
    wait_for_js(page, """z => {
        const cy = window.backpropGraph && window.backpropGraph.cy();
        const edges = cy ? cy.edges().filter(e => /^w1-\\d+-\\d+$/.test(e.id())) : [];
        return edges.length === 16 * 8 && edges.every(e => {
            const [i, j] = e.id().slice(3).split('-').map(Number), w = e.data('w');
            return Math.abs(z[j][Math.floor(i / 8)][i % 8] - w) <= 1e-4 * Math.abs(w) + 1e-12; });
    }""", pictures.tolist(), "the weight pictures do not match the graph's first-layer edges",
                lambda: first_layer_edges(page))
    edges = first_layer_edges(page)
    assert len(edges) == 16 * 8
    for (i, j), w in edges.items():
        assert w == W[i, j], (i, j)
        assert pictures[j, i // 8, i % 8] == pytest.approx(w, rel=1e-4, abs=1e-12), (i, j)


def test_misclassified_heading_counts_every_mistake_of_the_split(tab):
    page = tab.trained("digits", DIGITS)
    summary = epoch_summary(page, DIGITS["epochs"])
    expect(page.locator("#eval-wrong")).to_be_visible()
    layout = figure(page, "eval-wrong")["layout"]
    shown, total, n = min(24, summary["wrong"]), summary["wrong"], summary["n"]
    counted = f"all {total:,} mistakes" if shown == total else f"{shown:,} of {total:,} mistakes"
    assert f"{counted} in {n:,} samples ({100 * total / n:.1f}%)" in layout["title"]["text"]
    assert (layout["meta"]["total"], layout["meta"]["n"]) == (total, n)


# -- 2. Misclassified points on moons ------------------------------------------------------------
def test_regions_ring_the_misclassified_validation_points(tab):
    page = tab.trained("moons-brief", MOONS_BRIEF)
    epochs = MOONS_BRIEF["epochs"]
    n, accuracy, _ = stated_metrics(page)
    summary = epoch_summary(page, epochs)
    wrong = summary["wrong"]
    assert summary["n"] == n
    assert wrong == n - round(accuracy * n / 100) > 0

    look_at(page, "regions")
    wait_for_js(page, """([m, after]) => { const g = document.querySelector('#regions-graph .js-plotly-plot');
                               const t = g && g.data && g.data.find(t => t.name === 'misclassified');
                               return !!t && t.x.length === m && g.layout.title.text.includes(after); }""",
                [wrong, f"after {epochs} epochs"], f"the regions do not ring the {wrong} misclassified points",
                lambda: [(t["name"], len(t.get("x") or [])) for t in figure(page, "regions-graph")["data"]])
    fig = figure(page, "regions-graph")
    rings = [t for t in fig["data"] if t["name"] == "misclassified"]
    assert len(rings) == 1
    ring = rings[0]
    assert len(ring["y"]) == len(ring["text"]) == ring["meta"]["count"] == wrong
    # every ring sits on a validation point (hollow marker) of the true class its hover names
    by_class = {}
    for t in fig["data"]:
        if t["name"] == "validation" and t["x"] != [None]:
            cls = re.search(r"class (\S+), validation", t["hovertemplate"]).group(1)
            by_class[cls] = np.column_stack([t["x"], t["y"]]).astype(float)
    assert sum(len(p) for p in by_class.values()) == n
    for x, y, text in zip(ring["x"], ring["y"], ring["text"]):
        true, pred = re.fullmatch(r"true (\S+), predicted (\S+)", text).groups()
        assert true != pred
        nearest = np.abs(by_class[true] - [x, y]).max(axis=1).min()
        assert nearest <= 1e-4 * max(1.0, abs(x), abs(y)), f"no validation point of class {true} at ({x}, {y})"


# -- 3. Training health --------------------------------------------------------------------------
def test_zero_initialisation_raises_the_equal_units_alert(tab):
    page = tab.trained("zeros", ZEROS)
    step = final_step(page, ZEROS["epochs"])
    wait_for_health_at(page, step)
    alerts = health_alerts(page)
    equal = [a for a in alerts if a["title"] == "Layer 1: all 8 units are equal"]
    assert len(equal) == 1, [a["title"] for a in alerts]
    assert equal[0]["cls"] == "health-alert health-alert-error"
    assert f"after {step} steps" in equal[0]["evidence"]
    assert equal[0]["rule"].startswith("Rule symmetry:")
    assert page.locator("#health-alerts .health-ok").count() == 0

    # the first-layer weight pictures say the same: all 8 units look for the same thing
    epoch_summary(page, ZEROS["epochs"])
    expect(page.locator("#eval-input-wrap")).to_be_visible()
    tiles = figure(page, "eval-input-weights")["data"]
    assert len(tiles) == 8
    assert all(t["z"] == tiles[0]["z"] for t in tiles)

    # and the network graph's summary has a warning line for each alert
    wait_for_graph_alerts(page, alerts)
    assert "⚠ Layer 1: all 8 units are equal (Training health)" in graph_alerts(page)


def test_graph_summary_lists_the_alerts_in_the_health_panels_order(tab):
    page = tab.trained("zeros", ZEROS)
    wait_for_health_at(page, final_step(page, ZEROS["epochs"]))
    alerts = health_alerts(page)
    assert [a["title"] for a in alerts] == ["Layer 1: all 8 units are equal", "Layer 2: all 8 units are equal"]
    wait_for_graph_alerts(page, alerts)
    assert graph_alerts(page) == [f"⚠ {a['title']} (Training health)" for a in alerts]


def test_a_healthy_run_has_no_alert(tab, tmp_path):
    page = tab.trained("moons-healthy", MOONS_HEALTHY)
    _, accuracy, _ = stated_metrics(page)
    assert accuracy >= 80
    wait_for_health_at(page, final_step(page, MOONS_HEALTHY["epochs"]))
    expect(page.locator("#health-alerts .health-ok")).to_have_text(HEALTHY)
    expect(page.locator("#health-alerts .health-alert")).to_have_count(0)
    for layer in (0, 1):                               # the tanh layers stay well below the alert line
        assert last_health_value(page, "saturated_fraction", layer) < 50
    # the network graph, drawing the trained model, has no warning line either
    wait_for_graph_of(page, saved_model(page, tmp_path))
    assert graph_alerts(page) == []


def test_sigmoid_with_a_huge_learning_rate_saturates(tab):
    page = tab.trained("sigmoid", SIGMOID, states="done|diverged")
    wait_for_health_at(page, final_step(page, SIGMOID["epochs"]))
    alerts = health_alerts(page)
    saturated = {}
    for a in alerts:
        found = SATURATED.match(a["title"])
        if found:
            assert a["cls"] == "health-alert health-alert-warning"
            assert a["rule"] == "Rule saturation: saturated_fraction >= 50% (a < 0.03 or a > 0.97)"
            saturated[int(found.group(1))] = int(found.group(2))
    assert 2 in saturated, [a["title"] for a in alerts]
    for layer, pct in saturated.items():
        assert pct >= 50
        # the chart's latest point is the share the alert names
        assert abs(last_health_value(page, "saturated_fraction", layer - 1) - pct) <= 0.5
    assert page.locator("#health-alerts .health-ok").count() == 0
    wait_for_graph_alerts(page, alerts)
