"""Insight over time: what the run's timeline and training health cost the run, and how
fast the "Over time" panel and its Step slider answer, against the product targets:

(a) telemetry cost: the training job with every telemetry view on (the job as it is:
    timeline steps, health, per-epoch histograms) loses at most 10% of the throughput
    (samples/s) of the same job with them off (``Timeline.add`` and ``Inside.add`` made
    no-ops), on digits 64-32-10 (~10 s runs) and on the MNIST reference MLP (1 epoch);
    in the same run of this script, alternating on/off, >= 3 runs each, medians;
(b) a 1,000-step timeline of a 4-layer network opens in < 1 s: the "Over time" panel's
    server callback for every view and kind (median, p95), and in the browser the time
    from scrolling the panel into view, or from switching its view, until
    ``#timeline-graph`` shows the new figure;
(c) scrubbing: after a real training run in the page (dense on digits), a key press on
    the Step slider (ArrowLeft / Home / End) shows that step's weights on the network
    graph (every weight edge's ``data('w')`` equals the kept frame's W) and "at step"
    in the histograms' title in < 200 ms at the 95th percentile (>= 20 presses).

    python bench/bench_insight.py [--only a,b,c] [--presses 24] [--keep]

(a) runs ``dashboard.jobs.run`` in a fresh Python process per run (its own state folder
and run cache, as the app's forked job has; the job raises its own niceness, which must
not stay on this script), "off" with the two methods patched in that process. (b) writes
the timeline, a snapshot and the probe to the run cache of a state folder before the app
starts on it; the page gets that session id in sessionStorage before it loads (the
``session-id`` store) and is handed the snapshot version the way the refresh gate hands
a run's versions to the panels (``dash_clientside.set_props("snapshot-version", ...)``:
the page has no way of its own to pick up a run it did not start). (c) drives the form,
Train and Stop as a user would.

Benchmarks are not tests: this prints numbers, ratios and targets, and asserts nothing
(a part that fails prints a result line saying so). The machine's cores are shared by
the server, the training job, the browser and this script (and whatever else runs).
"""
from __future__ import annotations

import argparse
import bisect
import cProfile
import json
import os
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from pathlib import Path
from typing import Any, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dashboard_common import (CHROMIUM, CHROMIUM_ARGS, DENSE_PRESET, ROOT, App, Callbacks,  # noqa: E402
                              checked_spec, configure, cpu_model, form_values, look_at, new_page,
                              numpy_info, open_dashboard, pct, prepared_for, session_of,
                              status_class, stop_run, time_origin, timed_fit, verdict, wait_status)

import numpy as np  # noqa: E402

TARGETS = {"telemetry_loss": 0.10, "open_ms": 1000, "scrub_p95_ms": 200}
DATA_DIR = "/work/shared/data"
os.environ.setdefault("BACKPROP_DATA_DIR", DATA_DIR)

DIGITS_UNITS = [64, 32]          # (a), (c): digits 64-32-10
DIGITS_SECONDS = 10.0            # (a): the length of a digits run
RUNS_EACH = 3                    # (a): runs per mode
ORDER = ("on", "off", "off", "on", "on", "off")   # (a): ABBA..., so a drift of the machine cancels
TIMELINE_UNITS = [128, 64, 32]   # (b): 64-128-64-32-10, four Dense layers
TIMELINE_STEPS = 1000            # (b)
SERVER_REPS = 6                  # (b): calls per view and kind (the layer changes each time)
OPEN_PAGES = 6                   # (b): fresh pages opened on the stored timeline (half scroll, half alone)
SWITCH_CYCLES = 1                # (b): view cycles (Distribution, Now vs start, Offset) per page
SCRUB_MIN_STEPS = 30             # (c): the run trains until its timeline keeps this many steps
VIEW_TITLES = {"offset": "over time", "bands": "percentiles", "start": "now vs start"}
VIEW_LABELS = {"offset": "Offset", "bands": "Distribution", "start": "Now vs start"}
KINDS = ("params", "grads", "acts")


# -- small things -------------------------------------------------------------------------------
def ms_text(values, unit="ms") -> str:
    """``"median 12, p95 30 ms"``."""
    if not len(values):
        return "n/a"
    return f"median {pct(values, 50):.0f}, p95 {pct(values, 95):.0f} {unit}"


def mid(values) -> str:
    return f"{pct(values, 50):.0f}/{pct(values, 95):.0f}" if len(values) else "n/a"


def plotly_ms(page, graph: str, a: float, b: float) -> Optional[float]:
    """How long Plotly.react of ``graph`` ran (its synchronous part) for the last draw that
    began between page times a and b (None: none seen; bench_dashboard.py's)."""
    found = page.evaluate("([id, a, b]) => window.__bps.plotly.filter(r => r.id === id && r.t0 >= a && r.t0 <= b"
                          " && r.sync !== null).map(r => r.sync - r.t0)", [graph, a, b])
    return found[-1] if found else None


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def failed(part: str, what: str, target: str) -> None:
    exc = sys.exc_info()[1]
    tb = traceback.extract_tb(sys.exc_info()[2])
    where = f" at {Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else ""
    print(f"({part}) {what}: FAILED ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
          f"{where}); target {target}: MISSED", flush=True)


def digits_form(units=DIGITS_UNITS, **fields) -> dict:
    """The dense preset on digits with Dense rows of ``units`` (as many rows as units)."""
    from dashboard import presets
    form = presets.preset_form(DENSE_PRESET)
    form.update(dataset="digits", data={})
    row = form["layers"][0]
    form["layers"] = [{"type": "Dense", "settings": {**row["settings"], "units": n}} for n in units]
    form.update(fields)
    return form


def mnist_form(**fields) -> dict:
    return form_values("mlp", **fields)


class Timer:
    """Wraps methods and functions to add up the time spent in them (calls, seconds)."""

    def __init__(self):
        self.spent: dict[str, list] = {}

    def wrap(self, owner: Any, name: str, label: str, replace: Optional[Any] = None) -> None:
        original = getattr(owner, name)
        call = replace if replace is not None else original
        entry = self.spent.setdefault(label, [0, 0.0])

        def timed(*args, **kwargs):
            t = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                entry[0] += 1
                entry[1] += time.perf_counter() - t

        setattr(owner, name, timed)


# -- (a) telemetry cost: one run, in a process of its own ------------------------------------------------
def child_a(arg: str) -> None:
    """``--child-a '{"mode": "on"|"off", "workload": "digits"|"mnist", "epochs": n}'``: one run of
    the job in this process; prints ``RESULT {...}``."""
    job = json.loads(arg)
    state = Path(tempfile.mkdtemp(prefix="bench-insight-a-"))
    os.environ["BACKPROP_STATE_DIR"] = str(state)
    try:
        from dashboard import jobs, records, store, timeline
        from engine import health
        store.ensure_ready()
        records.init()
        timer = Timer()
        if job["mode"] == "off":
            timer.wrap(timeline.Timeline, "add", "Timeline.add", replace=lambda *a, **k: None)
            timer.wrap(jobs.Inside, "add", "Inside.add", replace=lambda *a, **k: None)
        else:
            timer.wrap(timeline.Timeline, "add", "Timeline.add")
            timer.wrap(jobs.Inside, "add", "Inside.add")
        timer.wrap(store, "put_frame", "put_frame")
        timer.wrap(store, "put_timeline", "put_timeline")
        timer.wrap(health.UpdateCapture, "before", "capture.before")
        timer.wrap(health.UpdateCapture, "after", "capture.after")
        timer.wrap(store, "put_snapshot", "put_snapshot")
        timer.wrap(store, "put_live", "put_live")
        timer.wrap(jobs, "evaluation", "evaluation")
        timer.wrap(records, "update_run", "records.update_run")
        form = digits_form(epochs=job["epochs"]) if job["workload"] == "digits" else mnist_form(epochs=job["epochs"])
        spec = checked_spec(form)
        session = uuid.uuid4().hex
        ends: list[dict] = []
        marks: dict[str, Any] = {}

        def set_progress(progress):
            live = progress[0] or {}
            if live.get("state") != "running" and not ends:
                ends.append(dict(live))
                marks["spent"] = {k: list(v) for k, v in timer.spent.items()}

        t = time.perf_counter()
        jobs.run(set_progress, session, spec)
        total = time.perf_counter() - t
        end = ends[0]
        kept = store.get_timeline(session) or {}
        out = {"samples_per_s": end["samples_per_s"], "fit_s": end["elapsed"], "total_s": total,
               "epochs": end.get("epoch"), "state": end.get("state"), "steps": len(kept.get("steps") or []),
               "frames": len(kept.get("frames") or []), "spent": marks["spent"]}
        print("RESULT " + json.dumps(out), flush=True)
    finally:
        shutil.rmtree(state, ignore_errors=True)


def run_child(mode: str, workload: str, epochs: int) -> dict:
    env = dict(os.environ)
    for name in ("REDIS_URL", "BACKPROP_DATABASE_URL", "BACKPROP_STATE_DIR"):
        env.pop(name, None)
    env["BACKPROP_DATA_DIR"] = env.get("BACKPROP_DATA_DIR") or DATA_DIR
    arg = json.dumps({"mode": mode, "workload": workload, "epochs": epochs})
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child-a", arg], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    found = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not found:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"the {mode} run exited with {done.returncode}: {' | '.join(tail)}")
    return json.loads(found[-1][len("RESULT "):])


def digits_epochs() -> tuple[int, int]:
    """Epochs for a ~DIGITS_SECONDS digits run (from the engine's own speed on one BLAS
    thread, as the job trains so small a network), and the training samples."""
    from threadpoolctl import threadpool_limits
    spec = checked_spec(digits_form(epochs=1))
    prepared = prepared_for(spec)
    with threadpool_limits(limits=1, user_api="blas"):
        timed_fit(spec, prepared, 0.5)
        sps = timed_fit(spec, prepared, 2.0)["samples_per_s"]
    n = len(prepared.X_train)
    # the job with its publishing and telemetry trains ~25% slower than the bare fit
    return int(min(10_000, max(20, round(0.75 * DIGITS_SECONDS * sps / n)))), n


def share_text(run: dict, labels: list[str]) -> str:
    parts = []
    for label in labels:
        calls, seconds = run["spent"].get(label, [0, 0.0])
        if calls:
            parts.append(f"{label} {100 * seconds / run['fit_s']:.1f}% ({calls} calls, {1000 * seconds / calls:.1f} ms each)")
    return ", ".join(parts) or "nothing"


def bench_telemetry(name: str, workload: str, epochs: int, n_train: Optional[int]) -> None:
    runs: dict[str, list[dict]] = {"on": [], "off": []}
    errors = []
    for mode in ORDER[:2 * RUNS_EACH]:
        try:
            runs[mode].append(run_child(mode, workload, epochs))
        except Exception as exc:  # noqa: BLE001 - a failed run is reported, the others go on
            errors.append(f"{mode}: {exc}")
    on = [r["samples_per_s"] for r in runs["on"]]
    off = [r["samples_per_s"] for r in runs["off"]]
    size = f"{epochs} epoch{'s' if epochs != 1 else ''}" + (f" x {n_train:,} samples" if n_train else "")
    if not on or not off:
        print(f"(a) telemetry cost, {name} ({size}): FAILED, no comparison ({'; '.join(errors)}); target on loses "
              f"<= {TARGETS['telemetry_loss']:.0%}: MISSED", flush=True)
        return
    m_on, m_off = statistics.median(on), statistics.median(off)
    loss = 1 - m_on / m_off
    print(f"(a) telemetry cost, {name} ({size}; {len(on)} on / {len(off)} off runs, order "
          f"{'/'.join(ORDER[:2 * RUNS_EACH])}; load average {load_average()}):", flush=True)
    for mode, values in (("on ", on), ("off", off)):
        rs = runs[mode.strip()]
        print(f"    {mode}: median {statistics.median(values):,.0f} samples/s (runs: "
              f"{', '.join(f'{v:,.0f}' for v in values)}); fit {statistics.median([r['fit_s'] for r in rs]):.1f} s, "
              f"whole job {statistics.median([r['total_s'] for r in rs]):.1f} s; timeline steps kept "
              f"{', '.join(str(r['steps']) for r in rs)}")
    print(f"    on / off = {m_on / m_off:.1%}: telemetry costs {loss:.1%} of the throughput; target <= "
          f"{TARGETS['telemetry_loss']:.0%}: {verdict(loss <= TARGETS['telemetry_loss'] and not errors)}"
          + (f" ({len(errors)} runs failed: {'; '.join(errors)})" if errors else ""))
    middle = sorted(runs["on"], key=lambda r: r["samples_per_s"])[len(runs["on"]) // 2]
    base = sorted(runs["off"], key=lambda r: r["samples_per_s"])[len(runs["off"]) // 2]
    print(f"    where the median on run's time goes (share of its {middle['fit_s']:.1f} s of training): telemetry: "
          f"{share_text(middle, ['Timeline.add', 'put_frame', 'put_timeline', 'Inside.add', 'capture.before', 'capture.after'])}"
          f" (put_frame is within Timeline.add); in both modes: "
          f"{share_text(middle, ['put_snapshot', 'put_live', 'evaluation', 'records.update_run'])}")
    from dashboard import jobs
    calls, seconds = middle["spent"].get("Timeline.add", [0, 0.0])
    if calls:
        each = seconds / calls
        print(f"    the budget: TELEMETRY_SHARE {jobs.TELEMETRY_SHARE:.0%} of the run for steps not forced, but a step "
              f"is forced at least every FORCE_STEP_S = {jobs.FORCE_STEP_S:g} s (and at the start and the end): at "
              f"{1000 * each:.0f} ms a step the forced ones alone take {each / jobs.FORCE_STEP_S:.1%} of the run; this run "
              f"kept {middle['steps']} steps in {calls} Timeline.add calls, {seconds:.2f} s = {seconds / middle['fit_s']:.1%}")
    labels = ["Timeline.add", "put_timeline", "Inside.add", "capture.before", "capture.after"]

    def accounted(run):
        return sum(run["spent"].get(k, [0, 0.0])[1] for k in labels) / run["fit_s"]
    on_share = statistics.median([accounted(r) for r in runs["on"]])
    off_share = statistics.median([accounted(r) for r in runs["off"]])
    print(f"    cross-check, time inside the telemetry calls (median over runs, share of the training time): on "
          f"{on_share:.1%}, off {off_share:.1%} (put_timeline and the update capture still run): telemetry accounts for "
          f"about {on_share - off_share:.1%} of the on run; the rest of the measured difference is the machine's noise "
          f"or costs outside these calls")
    print(f"    the median off run: {share_text(base, ['put_timeline', 'capture.before', 'capture.after', 'put_snapshot', 'put_live', 'evaluation', 'records.update_run'])}",
          flush=True)


def part_a() -> None:
    try:
        epochs, n = digits_epochs()
    except Exception:  # noqa: BLE001
        failed("a", "telemetry cost, digits 64-32-10: calibration", f"on loses <= {TARGETS['telemetry_loss']:.0%}")
        epochs, n = 300, None
    for name, workload, e, size in (("digits 64-32-10", "digits", epochs, n),
                                    ("MNIST reference MLP 784-500-10", "mnist", 1, None)):
        try:
            bench_telemetry(name, workload, e, size)
        except Exception:  # noqa: BLE001
            failed("a", f"telemetry cost, {name}", f"on loses <= {TARGETS['telemetry_loss']:.0%}")


# -- (b) a 1,000-step timeline -------------------------------------------------------------------------------
def build_timeline(session: str) -> dict:
    """Train a 4-Dense-layer digits network batch by batch, keep a timeline step after every
    batch (the job's way: probe of 256 training samples, update capture, frames to the run
    cache), and store the timeline, a snapshot and the probe for ``session``."""
    from threadpoolctl import threadpool_limits

    from dashboard import data as data_mod, jobs, spec as spec_mod, store
    from dashboard.timeline import Timeline
    from engine import health
    spec = checked_spec(digits_form(TIMELINE_UNITS))
    prepared = prepared_for(spec)
    model = spec_mod.build_model(spec)
    timeline = Timeline(model, prepared.X_train[:jobs.PROBE_SAMPLES])
    capture = health.update_capture(model)
    rng = np.random.default_rng(0)
    n, bs = len(prepared.X_train), int(spec["training"]["batch_size"])
    lr = spec["training"]["learning_rate"]
    adds, last = [], {}
    with threadpool_limits(limits=jobs.blas_threads(model, bs), user_api="blas"):
        for step in range(TIMELINE_STEPS):
            if step:
                idx = rng.integers(0, n, bs)
                model.forward(prepared.X_train[idx])
                model.backward(prepared.Y_train[idx])
                model.step(lr)
                if capture.armed:
                    last = capture.after()
            t = time.perf_counter()
            timeline.add(model, step, step * bs / n, put_frame=lambda s, f: store.put_frame(session, s, f),
                         drop_frame=lambda s: store.drop_frame(session, s), update=dict(last))
            adds.append(time.perf_counter() - t)
            capture.before()
    t = time.perf_counter()
    kept = timeline.to_dict()
    to_dict_s = time.perf_counter() - t
    import pickle
    size = len(pickle.dumps(kept, protocol=pickle.HIGHEST_PROTOCOL))
    health_size = len(pickle.dumps(kept["health"], protocol=pickle.HIGHEST_PROTOCOL))
    t = time.perf_counter()
    store.put_timeline(session, kept)
    put_s = time.perf_counter() - t
    snapshot = model.snapshot()
    snapshot.update(version=store.new_version(), status="done", dataset=prepared.summary, spec=spec)
    version = store.put_snapshot(session, snapshot)
    store.put_probe(session, {**prepared.probe, "dataset_key": data_mod.dataset_key(spec["data"])})
    layers = [type(layer).__name__ for layer in model.layers]
    print(f"(b) timeline built: {len(kept['steps']):,} steps of {len(kept['layers'])} layers "
          f"({' -> '.join(['64'] + [str(u) for u in TIMELINE_UNITS] + ['10'])}, {'/'.join(layers)}), probe "
          f"{jobs.PROBE_SAMPLES} samples, {len(kept['frames'])} frames kept; Timeline.add {ms_text([1000 * a for a in adds])}"
          f" (frame write included); to_dict {1000 * to_dict_s:.0f} ms, pickled {size / 2**20:.1f} MB (health "
          f"{health_size / 2**20:.2f} MB of it), put_timeline {1000 * put_s:.0f} ms", flush=True)
    return {"version": {"session": session, "version": version}, "layers": [e["layer"] for e in kept["layers"]]}


def server_timeline(built: dict) -> list[float]:
    """refresh_timeline for every view and kind, called as Dash calls it; where the time goes."""
    import plotly.io.json as pjson

    from dashboard import store
    from dashboard.panels import health as health_panel, timeline as panel
    from dashboard.panels.network import run_alerts
    from viz import timeline as figures
    version, layers = built["version"], built["layers"]
    panel.refresh_timeline(version, layers[0], "params", "offset", None, None, None, None)   # warm-up
    rows, all_ms = [], []
    for view in VIEW_TITLES:
        for kind in KINDS:
            times, size, encode = [], 0, []
            for r in range(SERVER_REPS):
                t = time.perf_counter()
                out = panel.refresh_timeline(version, layers[r % len(layers)], kind, view, None, None, None, None)
                times.append(1000 * (time.perf_counter() - t))
                t = time.perf_counter()
                size = len(pjson.to_json_plotly(out[0]))
                encode.append(1000 * (time.perf_counter() - t))
            all_ms += times
            rows.append(f"{view}/{kind} {mid(times)} ms ({size / 1024:.0f} kB JSON, encoded in {pct(encode, 50):.0f} ms)")
    p95 = pct(all_ms, 95)
    print(f"(b) server: refresh_timeline on the 1,000-step timeline, {SERVER_REPS} calls per view and kind (layer "
          f"1-4 in turn), median/p95: {'; '.join(rows)}", flush=True)
    print(f"    all {len(all_ms)} calls: {ms_text(all_ms)}, max {max(all_ms):.0f} ms; target < {TARGETS['open_ms']} ms: "
          f"{verdict(p95 < TARGETS['open_ms'])}")
    # where the time goes
    session = version["session"]
    reads = []
    for _ in range(8):
        t = time.perf_counter()
        timeline = store.get_timeline(session)
        reads.append(1000 * (time.perf_counter() - t))
    import pickle
    rest = {k: v for k, v in timeline.items() if k != "health"}
    blobs = {"health": pickle.dumps(timeline["health"], protocol=pickle.HIGHEST_PROTOCOL),
             "the rest": pickle.dumps(rest, protocol=pickle.HIGHEST_PROTOCOL)}
    unpickle = {}
    for name, blob in blobs.items():
        ts = []
        for _ in range(10):
            t = time.perf_counter()
            pickle.loads(blob)
            ts.append(1000 * (time.perf_counter() - t))
        unpickle[name] = (ts, len(blob))
    unpickle_text = ", ".join(f"{k} ({b / 2**20:.2f} MB) {ms_text(ts)}" for k, (ts, b) in unpickle.items())
    snapshot = store.snapshot_for(version)
    build = {}
    for view in VIEW_TITLES:
        ts = []
        for i, entry in enumerate(timeline["layers"]):
            t = time.perf_counter()
            if view == "bands":
                figures.bands_figure(entry, "params", timeline["steps"], timeline["epochs"], "L", timeline["percentiles"])
            elif view == "start":
                figures.now_vs_start_figure(entry, "params", timeline["steps"], "L", len(timeline["steps"]) - 1)
            else:
                figures.offset_figure(entry, "params", timeline["steps"], timeline["epochs"], "L")
            ts.append(1000 * (time.perf_counter() - t))
        build[view] = pct(ts, 50)
    health_ms, alerts_ms = [], []
    for _ in range(3):
        t = time.perf_counter()
        health_panel.refresh_health(version)
        health_ms.append(1000 * (time.perf_counter() - t))
        t = time.perf_counter()
        run_alerts(session, snapshot)
        alerts_ms.append(1000 * (time.perf_counter() - t))
    profile = cProfile.Profile()
    profile.enable()
    for view in VIEW_TITLES:
        panel.refresh_timeline(version, layers[0], "grads", view, None, None, None, None)
    profile.disable()
    top = top_functions(profile, 5)
    print(f"    where the time goes: store.get_timeline (read + unpickle of the whole timeline) {ms_text(reads)}, "
          f"of which unpickling {unpickle_text}; "
          f"building the figure (median per layer) {', '.join(f'{v} {ms:.1f} ms' for v, ms in build.items())}; "
          f"profile of one call per view, by own time: {top}")
    print(f"    the other panels that read the same timeline: the health panel's refresh_health {ms_text(health_ms)}, "
          f"the network panel's run_alerts {ms_text(alerts_ms)} (each reads the timeline again)", flush=True)
    return all_ms


def top_functions(profile: cProfile.Profile, n: int) -> str:
    stats = pstats.Stats(profile)
    total = sum(v[2] for v in stats.stats.values()) or 1.0
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:n]
    out = []
    for (filename, line, func), (cc, nc, tt, ct, callers) in rows:
        where = Path(filename).name if filename != "~" else ""
        out.append(f"{func} ({where}:{line}) {1000 * tt:.0f} ms" if where else f"{func} {1000 * tt:.0f} ms")
    return "; ".join(out) + f" (of {1000 * total:.0f} ms)"


SESSION_SCRIPT = "sessionStorage.setItem('session-id', JSON.stringify(%s));"


class Inflight:
    """Callback requests of a page in flight, and when the last one began or ended."""

    def __init__(self, page):
        self.n, self.last = 0, time.monotonic()
        page.on("request", self._start)
        page.on("requestfinished", self._end)
        page.on("requestfailed", self._end)

    @staticmethod
    def _mine(request) -> bool:
        return "_dash-update-component" in request.url

    def _start(self, request):
        if self._mine(request):
            self.n += 1
            self.last = time.monotonic()

    def _end(self, request):
        if self._mine(request):
            self.n -= 1
            self.last = time.monotonic()

    def settle(self, page, quiet_s: float = 0.6, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            page.wait_for_timeout(100)   # lets Playwright deliver the page's events
            if self.n <= 0 and time.monotonic() - self.last >= quiet_s:
                return


def watch_graph(page, pattern: str, timeout_ms: int = 15_000) -> Optional[float]:
    """Page time when the watched graph's title matched (None: it never did)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    try:
        page.wait_for_function("() => window.__bps.watched.done !== null", timeout=timeout_ms, polling=50)
    except PlaywrightTimeout:
        return None
    return page.evaluate("() => window.__bps.watched.done")


def browser_timeline(browser, app, built: dict) -> dict:
    """Fresh pages on the stored timeline. Even pages: scroll the panel into view -> figure (the
    panels that come into view with it refresh too); odd pages: the version handed to the
    Over time panel alone (``version-timeline``), out of view -> figure. Then, in view, view switches."""
    session, version = built["version"]["session"], built["version"]["version"]
    opens: dict[str, list] = {"scroll": [], "alone": []}
    switches: dict[str, list] = {v: [] for v in ("bands", "start", "offset")}
    pattern = "Weights " + VIEW_TITLES["offset"]
    for k in range(OPEN_PAGES):
        mode = "scroll" if k % 2 == 0 else "alone"
        context, page = new_page(browser)
        try:
            context.add_init_script(SESSION_SCRIPT % json.dumps(session))
            calls, inflight = Callbacks(page), Inflight(page)
            open_dashboard(page, app.url)
            if session_of(page) != session:
                raise RuntimeError(f"the page made its own session id ({session_of(page)}), not the stored one")
            page.evaluate("() => { window.scrollTo(0, 0); window.__bps.hookPlotly(); }")
            page.wait_for_function("() => !window.backpropPanels.onScreen().includes('timeline')", timeout=10_000)
            # a new version of the stored snapshot reaches the page, as the refresh gate forwards a run's
            v = {"session": session, "version": version + 1 + k}
            page.evaluate("v => window.dash_clientside.set_props('snapshot-version', {data: v})", v)
            inflight.settle(page, 1.2)
            origin = time_origin(page)
            t0 = page.evaluate("""([p, mode, v]) => {
                window.__bps.watch('timeline-graph', p);
                const t = performance.now();
                if (mode === 'scroll') {
                    document.querySelector('[data-panel=timeline]').scrollIntoView({block: 'start'});
                } else {
                    window.dash_clientside.set_props('version-timeline', {data: v});
                }
                return t; }""", [pattern, mode, v])
            t1 = watch_graph(page, pattern)
            time.sleep(0.05)
            req = calls.for_change("version-timeline.data", origin + t0, origin + (t1 or t0 + 15_000))
            result = {"ms": None if t1 is None else t1 - t0,
                      "plotly": plotly_ms(page, "timeline-graph", t0, t1) if t1 else None,
                      "others": len([e for e in calls.entries if origin + t0 <= e["start"] <= origin + (t1 or t0)
                                     and "version-timeline.data" not in e["changed"]])}
            if req:
                result.update(server=req["server_ms"], pre=req["sent"] - origin - t0,
                              post=(origin + t1 - req["done"]) if t1 else None)
            opens[mode].append(result)
            look_at(page, "timeline")
            inflight.settle(page, 0.8)
            for _ in range(SWITCH_CYCLES):
                for view in ("bands", "start", "offset"):
                    label = page.locator("#timeline-view label", has_text=VIEW_LABELS[view])
                    page.evaluate("p => { window.__bps.pointerdown = null; window.__bps.watch('timeline-graph', p); }",
                                  VIEW_TITLES[view])
                    label.click()
                    t1 = watch_graph(page, VIEW_TITLES[view])
                    a = page.evaluate("() => window.__bps.pointerdown")
                    time.sleep(0.05)
                    req = calls.for_change("timeline-view.value", origin + a, origin + (t1 or a + 15_000)) \
                        if a is not None else None
                    result = {"ms": None if t1 is None or a is None else t1 - a,
                              "plotly": plotly_ms(page, "timeline-graph", a, t1) if t1 and a else None}
                    if req:
                        result.update(server=req["server_ms"], pre=req["sent"] - origin - a,
                                      post=(origin + t1 - req["done"]) if t1 else None)
                    switches[view].append(result)
                    inflight.settle(page, 0.3)
        finally:
            context.close()
    return {"opens": opens, "switches": switches}


def report_browser_timeline(found: dict) -> None:
    def line(label: str, results: list[dict], judged: bool = True) -> None:
        ms = [r["ms"] for r in results if r["ms"] is not None]
        missing = len(results) - len(ms)

        def col(name):
            return [r[name] for r in results if r.get(name) is not None]
        ok = bool(ms) and not missing and pct(ms, 95) < TARGETS["open_ms"]
        others = col("others")
        print(f"    {label} ({len(ms)} times{f', {missing} never shown' if missing else ''}): {ms_text(ms)}, max "
              f"{max(ms, default=float('nan')):.0f} ms; target < {TARGETS['open_ms']} ms: "
              f"{verdict(ok) if judged else '(not judged) ' + verdict(ok)}")
        print(f"        where the time goes (median/p95 ms): until the request is sent {mid(col('pre'))}; request "
              f"(server) {mid(col('server'))}; response -> figure shown {mid(col('post'))}, of which Plotly.react "
              f"{mid(col('plotly'))}" + (f"; other callback requests meanwhile: {mid(others)}" if others else ""))

    print("(b) browser, a fresh page whose session holds the 1,000-step timeline (first layer, weights):")
    line("scroll Over time into view -> offset figure shown", found["opens"]["scroll"])
    line("the version handed to the Over time panel alone, out of view -> offset figure shown",
         found["opens"]["alone"], judged=False)
    for view, results in found["switches"].items():
        line(f"switch the view to {VIEW_LABELS[view]} -> its figure shown", results)
    sys.stdout.flush()


# -- (c) scrubbing ----------------------------------------------------------------------------------------
KEY_SCRIPT = "document.addEventListener('keydown', () => { window.__biKey = performance.now(); }, true);"

# Until the network graph's weight edges all carry the expected W and the weights histogram's
# title says "at step <n>" (or, live, does not say "at step"): the page time of each.
SCRUB_WATCH = r"""
([W, stepText]) => {
    const w = window.__bi = {graph: null, hist: null, done: null};
    const plot = id => document.querySelector('#' + id + ' .js-plotly-plot');
    const graphOk = () => {
        const cy = window.backpropGraph && window.backpropGraph.cy();
        if (!cy) { return false; }
        const edges = cy.edges('.weight');
        if (!edges.length) { return false; }
        for (let k = 0; k < edges.length; k++) {
            const e = edges[k];
            const m = /^w(\d+)-(\d+)-(\d+)$/.exec(e.id());
            if (!m) { continue; }
            const M = W[+m[1] - 1];
            if (!M || !M[+m[2]] || e.data('w') !== M[+m[2]][+m[3]]) { return false; }
        }
        return true;
    };
    const histOk = () => {
        const g = plot('hist-weights-graph');
        const t = g && g.layout && g.layout.title ? String(g.layout.title.text || '') : null;
        if (t === null) { return false; }
        return stepText === null ? !t.includes('at step') : t.includes('at step ' + stepText + ' ');
    };
    const frame = () => {
        if (window.__bi !== w) { return; }
        const now = performance.now();
        if (w.graph === null && graphOk()) { w.graph = now; }
        if (w.hist === null && histOk()) { w.hist = now; }
        if (w.graph !== null && w.hist !== null) { w.done = Math.max(w.graph, w.hist); return; }
        requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
}
"""


def frame_at(timeline: dict, index: int) -> Optional[list]:
    """dashboard/panels/timeline.py's _frame_at: the kept frame at or before step ``index``."""
    frames = timeline.get("frames") or []
    if not frames:
        return None
    at = bisect.bisect_right([f[0] for f in frames], timeline["steps"][index]) - 1
    return frames[max(at, 0)]


def kernels(layers: list[dict]) -> list:
    """Each layer's W as nested lists of floats (None for a layer without one)."""
    return [np.asarray(layer["params"]["W"], dtype=np.float64).tolist() if "W" in layer["params"] else None
            for layer in layers]


def press_plan(n: int) -> list[str]:
    """ArrowLeft runs from live, a Home, an End (live again), over and over: n presses."""
    plan: list[str] = []
    run = 6
    while len(plan) < n:
        plan += ["ArrowLeft"] * run + ["Home", "End"]
        run = max(3, run - 1)
    return plan[:n]


def train_for_scrub(page, app, min_steps: int) -> tuple[str, float]:
    """A dense digits run in the page until its timeline keeps ``min_steps`` steps, then Stop."""
    from dashboard import store
    open_dashboard(page, app.url)
    configure(page, DENSE_PRESET, "digits", DIGITS_UNITS, input_text="(64,)", epochs=10000)
    session = session_of(page)
    page.click("#train-button")
    wait_status(page, "running", 120_000)
    started = time.monotonic()
    while time.monotonic() - started < 150:
        kept = store.get_timeline(session)
        if kept and len(kept["steps"]) >= min_steps:
            break
        if "status-running" not in status_class(page):
            break
        time.sleep(0.5)
    trained = time.monotonic() - started
    stop_run(page)
    return session, trained


def bench_scrub(browser, app, presses: int) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect

    from dashboard import store
    context, page = new_page(browser)
    results, skipped = [], 0
    try:
        context.add_init_script(KEY_SCRIPT)
        calls, inflight = Callbacks(page), Inflight(page)
        session, trained = train_for_scrub(page, app, SCRUB_MIN_STEPS)
        timeline = store.get_timeline(session)
        snapshot = store.get_snapshot(session)
        steps = timeline["steps"]
        last = len(steps) - 1
        live_W = kernels(snapshot["layers"])
        status = page.locator("#train-status").text_content()
        print(f"(c) run: dense digits 64-32-10 trained {trained:.0f} s in the page, then Stop ({status!r}); timeline "
              f"{len(steps)} steps (batches {steps[0]}..{steps[-1]:,}), {len(timeline['frames'])} frames", flush=True)
        # every panel the scrub redraws has the run's last version
        look_at(page, "network")
        page.evaluate(SCRUB_WATCH, [live_W, None])
        page.wait_for_function("() => window.__bi.done !== null", timeout=60_000)
        look_at(page, "histograms")
        look_at(page, "timeline")
        expect(page.locator("#timeline-slider-text")).to_contain_text(f"{len(steps):,} kept", timeout=60_000)
        expect(page.locator("#timeline-slider-text")).to_contain_text("live")
        inflight.settle(page)
        page.evaluate("() => window.__bps.hookPlotly()")
        handle = page.locator("#timeline-slider [role=slider]").first
        handle.focus()
        origin = time_origin(page)
        index: Optional[int] = None          # None: live
        shown_serial: Optional[int] = None
        for key in press_plan(presses):
            if key == "End":
                new_index = None
            elif key == "Home":
                new_index = 0
            else:
                new_index = (last if index is None else index) - 1
                if new_index < 0:
                    key, new_index = "End", None
            if new_index is None:
                W, step_text, serial = live_W, None, None
            else:
                frame = frame_at(timeline, new_index)
                serial = frame[1] if frame else None
                kept = store.get_frame(session, serial) if serial is not None else None
                if kept is None:
                    raise RuntimeError(f"no kept frame for step index {new_index}")
                W, step_text = kernels(kept["layers"]), f"{kept['step']:,}"
            if new_index is not None and serial == shown_serial:
                skipped += 1                  # the same frame again: nothing to wait for
            if not page.evaluate("() => !!document.activeElement && document.activeElement.getAttribute('role') "
                                 "=== 'slider'"):
                handle.focus()
            page.evaluate(SCRUB_WATCH, [W, step_text])
            page.evaluate("() => { window.__biKey = null; }")
            page.keyboard.press(key)
            try:
                page.wait_for_function("() => window.__bi.done !== null", timeout=10_000, polling=20)
                w = page.evaluate("() => ({key: window.__biKey, graph: window.__bi.graph, hist: window.__bi.hist,"
                                  " done: window.__bi.done})")
            except PlaywrightTimeout:
                w = None
            index, shown_serial = new_index, serial
            time.sleep(0.05)
            result = {"key": key, "failed": w is None or w["key"] is None}
            if not result["failed"]:
                t0, t1 = origin + w["key"], origin + w["done"]
                result.update(ms=w["done"] - w["key"], graph=w["graph"] - w["key"], hist=w["hist"] - w["key"])
                reqs = [e for e in calls.entries if t0 - 5 <= e["start"] <= t1]
                choose = next((e for e in reqs if "timeline-slider.value" in e["changed"]), None)
                for name, output in (("network", "network-graph.elements"), ("histograms", "hist-weights-graph.figure"),
                                     ("timeline", "timeline-graph.figure")):
                    e = next((e for e in reqs if "timeline-step.data" in e["changed"] and output in e["output"]), None)
                    result[name] = e["server_ms"] if e else None
                    if name == "network" and e:
                        result["graph_done"] = e["done"] - t0
                if choose:
                    result.update(choose=choose["server_ms"], choose_sent=choose["sent"] - t0,
                                  choose_done=choose["done"] - t0)
                main = page.evaluate("""([a, b]) => ({
                    plotly: window.__bps.plotly.filter(r => r.t0 >= a && r.t0 <= b && r.sync !== null)
                                               .map(r => [r.id, r.sync - r.t0]),
                    busy: window.__bps.longtasks.filter(x => x.t >= a && x.t <= b).reduce((s, x) => s + x.d, 0)})""",
                                     [w["key"], w["done"]])
                result["busy"] = main["busy"]
                result["plotly"] = sum(d for _, d in main["plotly"])
                result["plotly_by"] = main["plotly"]
            results.append(result)
            inflight.settle(page, 0.25, 10)
            actual = page.locator("#timeline-slider-text").inner_text()
            want = "live" if index is None else f"step {steps[index]:,} ·"
            if want not in actual:
                result["failed"] = True
                result["text"] = actual
                found = re.search(r"step ([\d,]+) ·", actual)
                if found and "live" not in actual:   # follow the slider where it went
                    at = int(found.group(1).replace(",", ""))
                    index = steps.index(at) if at in steps else index
                elif "live" in actual:
                    index = None
        try:
            js_profile = profile_presses(context, page, inflight, ["End", "ArrowLeft", "ArrowLeft", "Home"])
        except Exception as exc:  # noqa: BLE001 - the profile is a detail; the numbers above stand
            js_profile = f"(no profile: {type(exc).__name__}: {exc})"
        server_profile(session, timeline, snapshot)
    finally:
        context.close()
    ok = [r for r in results if not r["failed"]]
    ms = [r["ms"] for r in ok]
    p95 = pct(ms, 95)
    n_failed = len(results) - len(ok)
    by_key = {k: [r["ms"] for r in ok if r["key"] == k] for k in ("ArrowLeft", "Home", "End")}
    print(f"(c) scrubbing, key press on the Step slider -> the network graph shows that step's W on every edge and the "
          f"histograms say \"at step\" ({len(ms)} presses, {n_failed} not shown or off the expected step"
          f"{f', {skipped} onto the frame already shown' if skipped else ''}): {ms_text(ms)}, max "
          f"{max(ms, default=float('nan')):.0f} ms; target p95 < {TARGETS['scrub_p95_ms']} ms: "
          f"{verdict(bool(ms) and p95 < TARGETS['scrub_p95_ms'] and not n_failed)}")
    print(f"    by key: {'; '.join(f'{k} {ms_text(v)} ({len(v)})' for k, v in by_key.items())}")

    def col(name):
        return [r[name] for r in ok if r.get(name) is not None]
    print(f"    where the time goes (median/p95 ms from the key press): choose_step request sent {mid(col('choose_sent'))}, "
          f"answered {mid(col('choose_done'))} (server {mid(col('choose'))}); then the timeline-step requests on the "
          f"server: network {mid(col('network'))}, histograms {mid(col('histograms'))}, Over time {mid(col('timeline'))}; "
          f"network response in {mid(col('graph_done'))}; shown: graph {mid(col('graph'))}, histograms {mid(col('hist'))}")
    by_graph: dict[str, list[float]] = {}
    for r in ok:
        for graph, d in r.get("plotly_by", []):
            by_graph.setdefault(graph, []).append(d)
    print(f"    the browser's main thread between the key press and the last of the two shown (median/p95 ms): long "
          f"tasks {mid(col('busy'))}, of which Plotly.react {mid(col('plotly'))} "
          f"({', '.join(f'{g} {mid(v)} x{len(v)}' for g, v in by_graph.items()) or 'none'}); the rest is the Dash "
          f"renderer applying the outputs and Cytoscape replacing the elements")
    print(f"    the browser's CPU profile of {js_profile}")
    for r in results:
        if r["failed"]:
            print(f"    a failed press: {r['key']}" + (f", slider text {r['text']!r}" if r.get("text") else ""))
            break
    sys.stdout.flush()


def profile_presses(context, page, inflight: Inflight, keys: list[str]) -> str:
    """The page's JavaScript CPU profile (Chrome's sampling profiler) over a few slider presses,
    each left to finish: self time by script and the top functions."""
    cdp = context.new_cdp_session(page)
    cdp.send("Profiler.enable")
    cdp.send("Profiler.setSamplingInterval", {"interval": 250})
    cdp.send("Profiler.start")
    for key in keys:
        page.keyboard.press(key)
        inflight.settle(page, 0.6, 10)
    profile = cdp.send("Profiler.stop")["profile"]
    cdp.detach()
    nodes = {n["id"]: n for n in profile["nodes"]}
    self_ms: dict[int, float] = {}
    for node_id, dt in zip(profile["samples"], profile["timeDeltas"]):
        self_ms[node_id] = self_ms.get(node_id, 0.0) + dt / 1000
    by_script: dict[str, float] = {}
    by_function: dict[str, float] = {}
    for node_id, ms in self_ms.items():
        frame = nodes[node_id]["callFrame"]
        url = frame.get("url") or ""
        script = re.sub(r"\.v[\d_]+m\d+", "", url.rsplit("/", 1)[-1].split("?")[0]) or f"({frame['functionName'] or 'native'})"
        by_script[script] = by_script.get(script, 0.0) + ms
        if frame["functionName"] not in ("(idle)", "(program)", "(garbage collector)", "(root)"):
            fn = f"{frame['functionName'] or '(anonymous)'} [{script}]"
            by_function[fn] = by_function.get(fn, 0.0) + ms
    busy = sum(ms for k, ms in by_script.items() if k != "(idle)")
    scripts = sorted(((ms, k) for k, ms in by_script.items() if k != "(idle)"), reverse=True)[:7]
    functions = sorted(((ms, k) for k, ms in by_function.items()), reverse=True)[:6]
    return (f"{len(keys)} presses ({', '.join(keys)}), each left to finish: {busy:.0f} ms busy, {busy / len(keys):.0f} ms "
            f"a press; by script (self time): {', '.join(f'{k} {ms:.0f}' for ms, k in scripts)}; top functions: "
            f"{', '.join(f'{k} {ms:.0f}' for ms, k in functions)} ms")


def server_profile(session: str, timeline: dict, snapshot: dict) -> None:
    """The callbacks one slider step sets off, called in this process as Dash calls them."""
    from dash import _callback_context as callback_context
    from dash._utils import AttributeDict

    from dashboard import store
    from dashboard.panels import histograms, network, timeline as panel
    version = {"session": session, "version": snapshot["version"]}
    last = len(timeline["steps"]) - 1
    cases = []
    for i in range(1, min(9, last)):
        index = last - i
        frame = frame_at(timeline, index)
        cases.append({"session": session, "index": index, "step": timeline["steps"][index],
                      "frame": frame[1] if frame else None})
    times: dict[str, list[float]] = {k: [] for k in ("choose_step", "refresh_graph", "refresh_histograms",
                                                     "refresh_timeline", "get_timeline", "get_frame")}
    profile = cProfile.Profile()

    def call(name, fn, *args, trigger):
        token = callback_context.context_value.set(AttributeDict(
            triggered_inputs=[{"prop_id": trigger, "value": None}]))
        try:
            t = time.perf_counter()
            profile.enable()
            fn(*args)
            profile.disable()
            times[name].append(1000 * (time.perf_counter() - t))
        finally:
            callback_context.context_value.reset(token)

    warm = cases[0] if cases else None
    if warm:                                  # first calls in this process: imports, caches
        token = callback_context.context_value.set(AttributeDict(
            triggered_inputs=[{"prop_id": "timeline-step.data", "value": None}]))
        try:
            network.refresh_graph(version, None, 256, None, None, [], warm)
            histograms.refresh_histograms(version, None, None, None, warm)
            panel.refresh_timeline(version, 0, "params", "offset", warm, None, None, None)
        finally:
            callback_context.context_value.reset(token)
    for step in cases:
        call("choose_step", panel.choose_step, step["index"], 0, last, version, None, trigger="timeline-slider.value")
        call("refresh_graph", network.refresh_graph, version, None, 256, None, None, [], step,
             trigger="timeline-step.data")
        call("refresh_histograms", histograms.refresh_histograms, version, None, None, None, step,
             trigger="timeline-step.data")
        call("refresh_timeline", panel.refresh_timeline, version, 0, "params", "offset", step, None, None, None,
             trigger="timeline-step.data")
        t = time.perf_counter()
        store.get_timeline(session)
        times["get_timeline"].append(1000 * (time.perf_counter() - t))
        t = time.perf_counter()
        store.get_frame(session, step["frame"])
        times["get_frame"].append(1000 * (time.perf_counter() - t))
    print(f"    the step's server callbacks in this process (median/p95 ms over {len(cases)} steps): "
          f"{', '.join(f'{k} {mid(v)}' for k, v in times.items())}; profile of them all, by own time: "
          f"{top_functions(profile, 6)}", flush=True)


# -- main ------------------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="a,b,c", help="which parts to run (comma-separated letters)")
    parser.add_argument("--presses", type=int, default=24, help="slider key presses in (c)")
    parser.add_argument("--keep", action="store_true", help="keep the state folder and the app's log")
    parser.add_argument("--child-a", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_a:
        child_a(args.child_a)
        return
    parts = set(args.only.split(","))
    print(f"Backprop Studio insight benchmark · CPU {cpu_model()} · {os.cpu_count()} cores · {numpy_info()} · "
          f"load average {load_average()}", flush=True)
    if "a" in parts:
        part_a()
    if not parts & {"b", "c"}:
        return
    folder = Path(tempfile.mkdtemp(prefix="bench-insight-"))
    os.environ["BACKPROP_STATE_DIR"] = str(folder / "state")
    os.environ.pop("REDIS_URL", None)
    from dashboard import store
    store.ensure_ready()
    built, app = None, None
    try:
        if "b" in parts:
            try:
                built = build_timeline(uuid.uuid4().hex)
                server_timeline(built)
            except Exception:  # noqa: BLE001
                failed("b", "1,000-step timeline, server", f"< {TARGETS['open_ms']} ms")
        try:
            app = App(folder)
        except Exception:  # noqa: BLE001
            failed("b/c", "starting the app", "the page parts")
            return
        from playwright.sync_api import sync_playwright
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                if "b" in parts and built:
                    try:
                        report_browser_timeline(browser_timeline(browser, app, built))
                    except Exception:  # noqa: BLE001
                        failed("b", "1,000-step timeline in the browser", f"< {TARGETS['open_ms']} ms")
                if "c" in parts:
                    try:
                        bench_scrub(browser, app, args.presses)
                    except Exception:  # noqa: BLE001
                        failed("c", "scrubbing the Step slider", f"p95 < {TARGETS['scrub_p95_ms']} ms")
            finally:
                browser.close()
    finally:
        if app is not None:
            app.close()
        if args.keep:
            print(f"(state folder and app log in {folder})")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
