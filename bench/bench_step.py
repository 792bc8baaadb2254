"""Backpropagation step by step: how fast Step and the trace view answer in the page,
against the product targets, on the default network (dense 2-8-8-2 on moons):

(a) Step: with a run halted, a click on Step (the one beside the network graph, so that
    the graph is on screen) until the network graph shows the weights
    after that one batch (every weight edge's ``data('w')`` changed) and the status says
    "Stepped": < 300 ms at the median; the job's own part (the run cache written by the
    page's callback until the job has published the halted state, measured in this
    process on the same network) is printed beside it as the reference;
(b) trace redraw: with a sample traced, switching Forward <-> Backward until every
    neuron's label on the graph shows the new quantity: < 200 ms at the 95th percentile;
    the same graph's plain refresh (Stop tracing <-> Trace, which redraws the elements
    without labels) is the reference.

    python bench/bench_step.py [--clicks 20] [--keep]

Times are measured in the page: ``performance.now()`` at the click's own event and at the
first animation frame after the graph holds the new data. Benchmarks are not tests: this
prints numbers, ratios and targets, and asserts nothing.
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
import threading
import time
from pathlib import Path

from dashboard_common import CHROMIUM, CHROMIUM_ARGS, App, cpu_model, look_at, new_page, numpy_info, \
    open_dashboard, pct, verdict

STEP_TARGET_MS = 300
TRACE_P95_TARGET_MS = 200

# In the page: the time from a click on `button` to the frame after `done()` holds.
WATCH = """([button, doneSource]) => { window.__benchResult = new Promise(resolve => {
    const done = new Function('cy', doneSource);
    const cy = window.backpropGraph.cy();
    let clicked = null;
    document.getElementById(button).addEventListener('click', () => { clicked = performance.now(); },
                                                     {once: true, capture: true});
    const started = performance.now();
    function poll() {
        if (clicked !== null && done(cy)) {
            requestAnimationFrame(() => resolve(performance.now() - clicked));
            return;
        }
        if (performance.now() - started > 15000) { resolve(-1); return; }
        setTimeout(poll, 2);
    }
    poll();
}); }"""


def _click_and_time(page, button: str, done_js: str, click_selector: str) -> float:
    """Milliseconds from a click on ``click_selector`` (whose element, or whose ancestor,
    is ``button``) until ``done_js`` (a function body of ``cy``) is true; -1 on time-out."""
    page.evaluate(WATCH, [button, done_js])
    page.click(click_selector)
    return float(page.evaluate("() => window.__benchResult"))


def weights_js() -> str:
    return "return JSON.stringify(cy.edges('.weight').map(e => e.data('w')));"


def part_a(page, clicks: int) -> list[float]:
    page.evaluate("() => window.scrollTo(0, 0)")
    page.click("#step-button")                          # a run that halts after its first batch
    page.wait_for_function("() => document.getElementById('pause-button').innerText === 'Resume'", timeout=60_000)
    look_at(page, "network")
    page.wait_for_function("() => window.backpropGraph.cy() && window.backpropGraph.cy().edges('.weight').length",
                           timeout=60_000)
    times = []
    for _ in range(clicks):
        before = page.evaluate(f"() => (function (cy) {{ {weights_js()} }})(window.backpropGraph.cy())")
        done = (f"const now = (function () {{ {weights_js()} }})(); "
                f"return now !== {before!r} && document.getElementById('train-status').innerText.includes('Stepped');")
        times.append(_click_and_time(page, "network-graph-step", done, "#network-graph-step"))
        page.wait_for_timeout(150)
    return times


def part_b(page, clicks: int) -> tuple[list[float], list[float]]:
    look_at(page, "trace")
    page.fill("#trace-sample-index", "3")
    page.click("#trace-button")
    page.wait_for_function("() => (window.backpropGraph.cy().getElementById('n1-0').data('label') || '')"
                           ".includes('z =')", timeout=60_000)
    traced, plain = [], []
    labels = {"forward": ("z =", "#trace-mode input[value=forward]"),
              "backward": ("dL/dz", "#trace-mode input[value=backward]")}
    for k in range(clicks):
        mode = "backward" if k % 2 == 0 else "forward"
        word, selector = labels[mode]
        done = f"return cy.nodes('.neuron').every(n => (n.data('label') || '').includes({word!r}) || n.hasClass('input'));"
        look_at(page, "trace")
        traced.append(_click_and_time(page, "trace-mode", done, selector))
        page.wait_for_timeout(150)
    for k in range(clicks):
        stop = k % 2 == 0
        done = ("return cy.nodes('.neuron').every(n => !n.hasClass('traced'));" if stop else
                "return cy.nodes('.neuron').every(n => n.hasClass('traced'));")
        look_at(page, "trace")
        plain.append(_click_and_time(page, "trace-clear" if stop else "trace-button",
                                     done, "#trace-clear" if stop else "#trace-button"))
        page.wait_for_timeout(150)
    return traced, plain


def job_part(clicks: int) -> list[float]:
    """The job's side of a Step in this process: the page's write to the run cache until the
    job has published the halted state after one batch."""
    import flask
    from dashboard import jobs, presets, records, spec as spec_mod, store
    folder = Path(tempfile.mkdtemp(prefix="bench-step-job-"))
    import os
    os.environ["BACKPROP_STATE_DIR"] = str(folder)
    store.init_app(flask.Flask("bench")); records.init()
    spec = spec_mod.check(presets.preset_form("dense")).spec
    session = "be" * 16
    thread = threading.Thread(target=lambda: jobs.run(lambda p: None, session, spec, start_paused=True))
    thread.start()
    while not (store.get_live(session) or {}).get("paused"):
        time.sleep(0.002)
    out = []
    for _ in range(clicks):
        done = store.get_live(session)["batches_done"]
        began = time.perf_counter()
        store.update_control(session, steps=int(store.get_control(session).get("steps") or 0) + 1)
        while not ((live := store.get_live(session) or {}).get("paused") and live["batches_done"] > done):
            time.sleep(0.001)
        out.append(1000 * (time.perf_counter() - began))
    store.request_stop(session)
    thread.join()
    records.close()
    shutil.rmtree(folder, ignore_errors=True)
    return out


def _line(name: str, values: list[float]) -> str:
    ok = [v for v in values if v >= 0]
    failed = len(values) - len(ok)
    return (f"{name}: median {pct(ok, 50):.0f} ms, p95 {pct(ok, 95):.0f} ms, max {max(ok) if ok else float('nan'):.0f}"
            f" ms over {len(ok)} clicks" + (f" ({failed} timed out after 15 s)" if failed else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clicks", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the app's folder")
    args = parser.parse_args()
    print(f"CPU: {cpu_model()}; {numpy_info()}")
    job = job_part(args.clicks)
    folder = Path(tempfile.mkdtemp(prefix="bench-step-"))
    app = App(folder)
    try:
        from playwright.sync_api import sync_playwright
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context, page = new_page(browser)
            open_dashboard(page, app.url)
            look_at(page, "network")
            page.wait_for_timeout(2000)
            steps = part_a(page, args.clicks)
            traced, plain = part_b(page, args.clicks)
            page.evaluate("() => window.scrollTo(0, 0)")
            page.click("#stop-button")
            context.close()
            browser.close()
    finally:
        app.close()
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    print("(a) Step, click to the graph's new weights and the status:")
    print("    " + _line("page", steps))
    print("    " + _line("the job's part alone (reference)", job))
    ok = [v for v in steps if v >= 0]
    print(f"    median / target {pct(ok, 50) / STEP_TARGET_MS:.2f}; page / job's part {pct(ok, 50) / pct(job, 50):.1f}x"
          f" -> {verdict(bool(ok) and pct(ok, 50) < STEP_TARGET_MS)} (target < {STEP_TARGET_MS} ms at the median)")
    print("(b) Trace view, Forward <-> Backward until every neuron shows the new quantity:")
    print("    " + _line("traced redraw", traced))
    print("    " + _line("plain graph redraw, Stop tracing <-> Trace (reference)", plain))
    ok = [v for v in traced if v >= 0]
    ref = [v for v in plain if v >= 0]
    print(f"    p95 / target {pct(ok, 95) / TRACE_P95_TARGET_MS:.2f}; traced / plain {pct(ok, 50) / pct(ref, 50):.2f}x"
          f" at the median -> {verdict(bool(ok) and pct(ok, 95) < TRACE_P95_TARGET_MS)}"
          f" (target < {TRACE_P95_TARGET_MS} ms at p95)")


if __name__ == "__main__":
    main()
