"""What the dashboard benchmark's parts share: the engine's standalone baseline on the
data and model the dashboard builds for a form, the app in its embedded mode, and the
browser side (pages, the form, in-page timers, the network timing of callbacks).

The baseline takes the job's own path (``dashboard/jobs.py``): ``dashboard.spec.check``
of the form values -> ``spec.build_model`` and ``dashboard.data.prepare`` -> ``model.fit``
with the spec's batch size, learning rate and validation data.
"""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable, Optional

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("BACKPROP_DATA_DIR", str(ROOT.parent / "shared" / "data"))

import numpy as np  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
VIEWPORT = {"width": 1440, "height": 1000}

# Preset keys (dashboard.presets.PRESETS) and the labels the page shows for them.
DENSE_PRESET, CNN_PRESET, TEXT_PRESET = "dense", "cnn", "text"


# -- numbers -----------------------------------------------------------------------------------
def pct(values, q) -> float:
    return float(np.percentile(values, q)) if len(values) else float("nan")


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def cpu_model() -> str:
    """lscpu's "Model name" (or /proc/cpuinfo's), e.g. "AMD EPYC"."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            if line.strip().startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def numpy_info() -> str:
    from engine import blas_info
    return f"NumPy {np.__version__}, BLAS {blas_info()}"


# -- the forms -----------------------------------------------------------------------------------
def preset_label(key: str) -> str:
    from dashboard import presets
    return presets.PRESETS[key][0]


def dataset_label(name: str) -> str:
    """The data set select's option label for a data set (``"MNIST (file found)"``)."""
    from dashboard import data
    return next(o["label"] for o in data.data_options() if o["value"] == name)


def form_values(preset: str, dataset: Optional[str] = None, units: Optional[list[int]] = None,
                **fields: Any) -> dict:
    """A preset's form values with the changes a user makes in the page: another data
    set, the units of the first Dense rows, and number fields (``epochs=...``)."""
    from dashboard import presets
    form = presets.preset_form(preset)
    if dataset is not None and dataset != form["dataset"]:
        form["dataset"], form["data"] = dataset, {}
    if units:
        dense = [row for row in form["layers"] if row["type"] == "Dense"]
        for row, n in zip(dense, units):
            row["settings"]["units"] = n
    form.update(fields)
    return form


def checked_spec(form: dict) -> dict:
    from dashboard import spec
    checked = spec.check(form)
    if checked.spec is None:
        raise ValueError(f"the form does not check: {checked.errors}")
    return checked.spec


# -- the engine alone -------------------------------------------------------------------------------
def prepared_for(spec: dict):
    """The run's arrays as the job prepares them."""
    from dashboard import data
    return data.prepare(spec, data.load(spec["data"]))


def timed_fit(spec: dict, prepared, budget_s: float) -> dict:
    """``model.fit`` of a new model of ``spec`` on the prepared arrays, stopped at the
    first batch after ``budget_s``: samples trained per second (each epoch's validation
    pass included, as in the job)."""
    from dashboard import spec as spec_mod
    model = spec_mod.build_model(spec)
    tr = spec["training"]
    bs, n = int(tr["batch_size"]), len(prepared.X_train)
    count = {"samples": 0, "epochs": 0}
    start = [0.0]

    def on_event(m, logs):
        if logs["event"] == "batch":
            count["samples"] += min(bs, n - (logs["batch"] - 1) * bs)
            if time.perf_counter() - start[0] >= budget_s:
                m.stop_training = True
        else:
            count["epochs"] += 1

    start[0] = time.perf_counter()
    model.fit(prepared.X_train, prepared.Y_train, batch_size=bs, learning_rate=tr["learning_rate"],
              epochs=1_000_000, verbose=0, validation_data=prepared.validation, shuffle=True, seed=None,
              callbacks=[on_event])
    dt = time.perf_counter() - start[0]
    return {"samples_per_s": count["samples"] / dt, "seconds": dt, "epochs": count["epochs"],
            "samples": count["samples"]}


def standalone(form: dict, budget_s: float = 5.0) -> dict:
    """The engine's own throughput on the data and model the dashboard builds for this
    form, with NumPy's default BLAS threads and with one thread; the faster is the
    baseline. Also what the job would choose (``jobs.blas_threads``)."""
    from threadpoolctl import threadpool_limits

    from dashboard import jobs, spec as spec_mod
    spec = checked_spec(form)
    t = time.perf_counter()
    prepared = prepared_for(spec)
    prepare_s = time.perf_counter() - t
    n_train = len(prepared.X_train)
    bs = int(spec["training"]["batch_size"])
    out: dict[str, Any] = {"n_train": n_train, "prepare_s": prepare_s, "batch_size": bs,
                           "job_threads": jobs.blas_threads(spec_mod.build_model(spec), bs)}
    timed_fit(spec, prepared, min(1.0, budget_s / 4))  # warm-up: caches, BLAS threads, allocator
    for label, threads in (("default threads", None), ("1 BLAS thread", 1)):
        if threads:
            with threadpool_limits(limits=threads, user_api="blas"):
                out[label] = timed_fit(spec, prepared, budget_s)
        else:
            out[label] = timed_fit(spec, prepared, budget_s)
    out["best"] = max(out["default threads"]["samples_per_s"], out["1 BLAS thread"]["samples_per_s"])
    out["epoch_s"] = n_train / out["best"]
    return out


# -- the app ------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class App:
    """``python app.py`` in its embedded mode, on a free port, with its own state folder."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        env = dict(os.environ)
        env.pop("REDIS_URL", None)
        env.update(BACKPROP_STATE_DIR=str(folder / "state"), HOST="127.0.0.1", PORT=str(self.port),
                   PYTHONUNBUFFERED="1")
        self.log = open(folder / "app.log", "wb")
        self.proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the app exited: see {folder / 'app.log'}")
            try:
                with urllib.request.urlopen(self.url, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def live(self, session: str) -> dict:
        """The run's latest live state from the run cache (what the job last published)."""
        from dashboard import store
        if not hasattr(self, "_server"):
            import flask
            os.environ["BACKPROP_STATE_DIR"] = str(self.folder / "state")
            self._server = flask.Flask("bench")
            store.init_app(self._server)
        with self._server.app_context():
            return store.get_live(session) or {}

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


# -- in the page ----------------------------------------------------------------------------------------
# In every page, before the app's scripts:
# * when the Train button became enabled, and the last pointerdown (the user's click);
# * __bps.watch(graph, pattern): times, on every frame, when a graph's title matches;
# * __bps.hookRefresh(graphs): logs each snapshot version the refresh gate forwards to
#   the panels and each redraw (Plotly's plotly_react / plotly_afterplot) of these graphs.
INIT_SCRIPT = r"""
(() => {
    const t = window.__bps = {armed: null, forwards: [], redraws: {}};
    const check = () => {
        const b = document.getElementById('train-button');
        if (!t.trainEnabled && b && !b.disabled) { t.trainEnabled = performance.now(); }
    };
    new MutationObserver(check).observe(document, {subtree: true, childList: true, attributes: true});
    document.addEventListener('pointerdown', () => { t.pointerdown = performance.now(); }, true);
    t.longtasks = [];
    try {
        new PerformanceObserver(list => {
            for (const e of list.getEntries()) { t.longtasks.push({t: e.startTime, d: e.duration}); }
        }).observe({type: 'longtask'});
    } catch (e) { /* no Long Tasks API */ }

    const plot = id => document.querySelector('#' + id + ' .js-plotly-plot');
    t.title = id => {
        const g = plot(id);
        return g && g.layout ? JSON.stringify(g.layout.title || '') : null;
    };
    t.watch = (id, pattern) => {
        const re = new RegExp(pattern);
        const w = t.watched = {id: id, done: null, before: t.title(id)};
        const frame = () => {
            if (t.watched !== w) { return; }
            const title = t.title(id);
            if (title !== null && re.test(title)) { w.done = performance.now(); w.title = title; return; }
            requestAnimationFrame(frame);
        };
        requestAnimationFrame(frame);
    };
    // Each graph's redraws, in page time (attached again if the graph div is replaced).
    t.hookGraphs = ids => {
        for (const id of ids) {
            const g = plot(id);
            if (!g || g.__bpsHooked || !g.on) { continue; }
            g.__bpsHooked = true;
            const log = t.redraws[id] = t.redraws[id] || [];
            g.on('plotly_react', () => log.push({t: performance.now(), kind: 'react', title: t.title(id)}));
            g.on('plotly_afterplot', () => log.push({t: performance.now(), kind: 'afterplot', title: t.title(id)}));
        }
    };
    // How long Plotly itself takes to draw each figure (Plotly.react, until its promise resolves).
    t.plotly = [];
    t.hookPlotly = () => {
        const P = window.Plotly;
        if (!P || P.__bpsHooked) { return; }
        P.__bpsHooked = true;
        for (const name of ['react', 'newPlot']) {
            const fn = P[name];
            P[name] = function (gd) {
                const el = typeof gd === 'string' ? document.getElementById(gd) : gd;
                const host = el && el.closest ? el.closest('[id]') : null;
                const rec = {id: host ? host.id : '?', fn: name, t0: performance.now(), sync: null, t1: null};
                t.plotly.push(rec);
                const out = fn.apply(this, arguments);
                rec.sync = performance.now();
                Promise.resolve(out).then(() => { rec.t1 = performance.now(); }, () => { rec.t1 = performance.now(); });
                return out;
            };
        }
    };
    // The versions forwarded to "snapshot-version": by the gate's own return, or by its timer (set_props).
    t.hookRefresh = ids => {
        t.hookPlotly();
        t.hookGraphs(ids);
        if (!t.__refreshHooked) {
            t.__refreshHooked = true;
            const R = window.backpropRefresh, C = window.dash_clientside;
            const gate = R.gate;
            R.gate = function () {
                const v = gate.apply(this, arguments);
                if (v && v !== C.no_update && v.version) { t.forwards.push({t: performance.now(), v: v.version}); }
                return v;
            };
            const setProps = C.set_props;
            C.set_props = function (id, props) {
                if (id === 'snapshot-version' && props && props.data && props.data.version) {
                    t.forwards.push({t: performance.now(), v: props.data.version});
                }
                return setProps.apply(this, arguments);
            };
        }
        if (!t.__graphTimer) { t.__graphTimer = setInterval(() => t.hookGraphs(ids), 200); }
    };
})();
"""


def new_page(browser):
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(INIT_SCRIPT)
    page = context.new_page()
    return context, page


def open_dashboard(page, url: str) -> None:
    from playwright.sync_api import expect
    page.goto(url)
    expect(page.locator("#train-button")).to_be_enabled(timeout=60_000)


def choose(page, dropdown_id: str, option: str) -> None:
    page.click(f"#{dropdown_id}")
    page.get_by_role("option", name=option, exact=True).and_(page.locator(".dash-dropdown-option")).click()


def set_field(page, name: str, value: Any) -> None:
    page.fill(f"#ctl-{name}", str(value))


def stack_rows(page):
    return page.locator("#stack-rows > .stack-row")


def use_preset(page, key: str) -> None:
    """Choose a preset in "Start from", as a user would, and wait for the form to show it."""
    from playwright.sync_api import expect
    label = preset_label(key)
    choose(page, "ctl-preset", label)
    expect(page.locator("#ctl-preset-note")).to_contain_text(label)


def configure(page, preset: str, dataset: Optional[str] = None, units: Optional[list[int]] = None,
              input_text: Optional[str] = None, **fields: Any) -> None:
    """Fill the form as :func:`form_values` describes it: the preset, then the data set,
    the Dense rows' units and the number fields; wait until Train is enabled."""
    from playwright.sync_api import expect
    from dashboard import presets
    use_preset(page, preset)
    if dataset is not None and dataset != presets.PRESETS[preset][1]["dataset"]:
        choose(page, "ctl-dataset", dataset_label(dataset))
    if input_text:
        expect(page.locator("#stack-input")).to_contain_text(input_text, timeout=60_000)
    rows = stack_rows(page)
    if units:
        dense = [i for i, row in enumerate(presets.PRESETS[preset][1]["layers"]) if row["type"] == "Dense"]
        for i, n in zip(dense, units):
            rows.nth(i).locator("input[type=number]").first.fill(str(n))
        for i, n in zip(dense, units):
            expect(rows.nth(i).locator("input[type=number]").first).to_have_value(str(n))
            expect(rows.nth(i).locator(".stack-shape")).to_contain_text(f"({n},)")
    for name, value in fields.items():
        set_field(page, name, value)
    for name, value in fields.items():
        expect(page.locator(f"#ctl-{name}")).to_have_value(str(value))
    expect(page.locator("#train-button")).to_be_enabled(timeout=30_000)


def session_of(page) -> str:
    return page.evaluate("() => JSON.parse(sessionStorage.getItem('session-id'))")


def status_class(page) -> str:
    return page.locator("#train-status").get_attribute("class") or ""


def wait_status(page, state: str, timeout_ms: int = 120_000) -> None:
    from playwright.sync_api import expect
    expect(page.locator("#train-status")).to_have_class(re.compile(rf"\bstatus-{state}\b"), timeout=timeout_ms)


def look_at(page, panel: str) -> None:
    """Scroll a panel into view: panels out of view skip a run's refreshes."""
    page.locator(f"[data-panel={panel}]").scroll_into_view_if_needed()


def stop_run(page, timeout_ms: int = 60_000, calls: Optional["Callbacks"] = None) -> Optional[float]:
    """Press Stop; seconds until the page says the run stopped (None: it had ended).
    With ``calls``, ``calls.stop_answer_s`` is set to when the Stop callback answered."""
    if "status-running" not in status_class(page):
        return None
    t = time.monotonic()
    wall = time.time() * 1000
    page.click("#stop-button")
    wait_status(page, "(stopped|done)", timeout_ms)
    took = time.monotonic() - t
    if calls is not None:
        time.sleep(0.05)
        answered = [e for e in calls.entries if "stop-button.n_clicks" in e["changed"] and e["start"] >= wall - 50]
        calls.stop_answer_s = (answered[0]["done"] - wall) / 1000 if answered else None
    return took


def time_origin(page) -> float:
    """The page's performance.timeOrigin (ms since the Unix epoch)."""
    return page.evaluate("() => performance.timeOrigin")


class Callbacks:
    """Every ``_dash-update-component`` request of a page with the browser's network
    timing: ``start`` (ms since the epoch), ``sent`` / ``done`` (request start and
    response end, ms since the epoch), the changed inputs and the outputs."""

    def __init__(self, page):
        self.entries: list[dict] = []
        page.on("requestfinished", self._finished)

    def _finished(self, request) -> None:
        if "_dash-update-component" not in request.url:
            return
        try:
            body = json.loads(request.post_data or "{}")
            t = request.timing
        except Exception:
            return
        start = t.get("startTime", -1)
        if start is None or start < 0 or t.get("responseEnd", -1) < 0:
            return
        sent = start + max(t.get("requestStart", 0), 0)
        self.entries.append({"start": start, "sent": sent, "done": start + t["responseEnd"],
                             "server_ms": t["responseEnd"] - max(t.get("requestStart", 0), 0),
                             "changed": body.get("changedPropIds", []), "output": body.get("output", "")})

    def mark(self) -> int:
        return len(self.entries)

    def since(self, mark: int, changed: Optional[str] = None) -> list[dict]:
        out = self.entries[mark:]
        return [e for e in out if changed is None or changed in e["changed"]]

    def for_change(self, prop: str, t0: float, t1: float) -> Optional[dict]:
        """The request a change of ``prop`` sent between t0 and t1 (ms since the epoch)."""
        found = [e for e in self.entries if prop in e["changed"] and t0 - 5 <= e["start"] <= t1]
        return found[0] if found else None


def wait_until(predicate: Callable[[], Any], timeout_s: float, step_s: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            return value
        time.sleep(step_s)
