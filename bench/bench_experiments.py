"""The Experiments section against its targets: searches on Celery workers, the runs
table, and the runs overlay.

(a) a search of 8 trials of a digits network (64-32-32-10: the "dense" preset on digits,
    its two hidden Dense rows at 32 units) dispatched to 1 Celery worker and to 2 (each
    ``--concurrency=1``, one BLAS thread a trial), wall time from dispatch to the search
    being done, the two alternating; target t(2 workers) / t(1 worker) <= 0.6;
(b) the runs table with 500 recorded runs (30-epoch histories, metrics, model files,
    per-epoch histograms): ``records.list_runs(limit=5000)`` + the panel's ``table_rows``
    (median of 10), and the whole page: navigation until the AG Grid shows its rows and
    the note says "500 runs" (median of 5 fresh pages); target < 1 s;
(c) the overlay of 20 runs of 100 epochs: ``viz.runs.loss_overlay`` + ``accuracy_overlay``
    build time (median, p95), and in the page the time from selecting 20 rows (through
    the grid's API, in one selection) until ``#exp-loss`` has drawn 40 traces (p95 over
    10 selections, each after clearing it); target < 300 ms.

    python bench/bench_experiments.py [--only a,b,c] [--db postgresql|sqlite] [--reps 2]

The script starts and stops everything it uses: a redis-server (a), a PostgreSQL server
(or an SQLite file shared by every process), the Celery workers (a) and the dashboard
(b, c), and leaves nothing running. Benchmarks are not tests: it prints numbers,
ratios against references measured in the same run and targets met or missed; a part
that fails prints its failure as its result line and the others still run.
The machine's cores are shared by the workers, the databases, the server and the browser.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dashboard_common import (CHROMIUM, CHROMIUM_ARGS, ROOT, VIEWPORT, cpu_model, form_values,  # noqa: E402
                              free_port, numpy_info, pct, verdict)

TARGETS = {"speedup_ratio": 0.6, "table_s": 1.0, "overlay_ms": 300}
N_TRIALS = 8
TRIAL_S = 4.5                 # (a): epochs are chosen so that one trial takes about this long
N_RUNS = 500
RUN_EPOCHS = 30
N_OVERLAY = 20
OVERLAY_EPOCHS = 100
START_TIMEOUT_S = 60
QUEUE_ONE, QUEUE_TWO = "bench-one", "bench-two"   # w1 consumes both, w2 only the second


def log_tail(path: Path, n: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


def base_env(folder: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("REDIS_URL", None)
    env.update(PYTHONUNBUFFERED="1", BACKPROP_STATE_DIR=str(folder), **extra)
    return env


# -- the services --------------------------------------------------------------------------------------
class Redis:
    """A throwaway redis-server on a free port (no persistence)."""

    def __init__(self, folder: Path):
        import redis
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        subprocess.run(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                        "--appendonly", "no", "--daemonize", "yes", "--dir", str(folder),
                        "--logfile", str(folder / "redis.log"), "--pidfile", str(folder / "redis.pid")],
                       check=True, stdout=subprocess.DEVNULL)
        self.client = redis.Redis(host="127.0.0.1", port=self.port)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                self.client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start:\n{log_tail(folder / 'redis.log')}")
                time.sleep(0.05)

    def close(self) -> None:
        import redis
        pid_file = self.folder / "redis.pid"
        pid = int(pid_file.read_text()) if pid_file.exists() else None
        try:
            self.client.shutdown(nosave=True)
        except redis.ConnectionError:
            pass  # it went away, as asked
        deadline = time.monotonic() + 10
        while pid is not None and time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def postgres_bin() -> Optional[Path]:
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if found:
        newest = max(found, key=lambda p: [int(x) if x.isdigit() else 0 for x in Path(p).parts[-3].split(".")])
        return Path(newest).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class Postgres:
    """A throwaway PostgreSQL server (trust auth on 127.0.0.1); :meth:`database` makes one."""

    def __init__(self):
        pg_bin = postgres_bin()
        if pg_bin is None:
            raise RuntimeError("PostgreSQL is not installed (no initdb): use --db sqlite")
        self.bin = pg_bin
        self.folder = Path(tempfile.mkdtemp(prefix="bench-pg-"))
        self.as_server: list[str] = []
        if os.geteuid() == 0:            # initdb refuses root: the server runs as postgres
            shutil.chown(self.folder, "postgres", "postgres")
            self.as_server = ["runuser", "-u", "postgres", "--"]
        self.data, self.log, self.port = self.folder / "data", self.folder / "server.log", free_port()
        self._run("initdb", "-D", str(self.data), "--auth=trust", "-U", "postgres", "-E", "UTF8", "--locale=C",
                  "--no-sync")
        started = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", str(START_TIMEOUT_S),
                            "-o", f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off",
                            "start", check=False)
        if started.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not start:\n{started.stdout.decode(errors='replace')}\n"
                               f"{log_tail(self.log)}")
        self.server_url = f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([*self.as_server, str(self.bin / program), *args], cwd=self.folder, check=check,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=START_TIMEOUT_S)

    def database(self, name: str) -> str:
        import sqlalchemy as sa
        admin = sa.create_engine(self.server_url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f"CREATE DATABASE {name}")
        finally:
            admin.dispose()
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{name}"

    def close(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-w", "stop", "-m", "fast", check=False)
        shutil.rmtree(self.folder, ignore_errors=True)


class SQLite:
    """One SQLite file per database, in a folder every process can reach."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def database(self, name: str) -> str:
        return f"sqlite:///{self.folder / (name + '.sqlite')}"

    def close(self) -> None:
        pass


def _stop_process(proc: subprocess.Popen, grace_s: float = 20) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    try:                                  # anything it left behind in its own process group
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class Worker:
    """``celery -A app:celery_app worker --concurrency=1`` on some queues; output to a file."""

    def __init__(self, name: str, queues: list[str], folder: Path, env: dict):
        self.name = name
        self.log = folder / f"worker-{name}.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "app:celery_app", "worker", "--concurrency=1",
                 "--loglevel=INFO", "--without-gossip", "--without-mingle", "-n", f"{name}@%h",
                 "-Q", ",".join(queues)],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def wait_ready(self, deadline: float) -> None:
        while " ready." not in self.text():
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker {self.name} exited ({self.proc.returncode}):\n{log_tail(self.log)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker {self.name} did not get ready:\n{log_tail(self.log)}")
            time.sleep(0.1)

    def run_ids(self) -> set[int]:
        return {int(m) for m in re.findall(r"Task backprop\.trial\[[0-9a-f-]+\] succeeded in [0-9.e-]+s: (\d+)",
                                           self.text())}

    def close(self) -> None:
        _stop_process(self.proc, 30)


class Dashboard:
    """``python app.py`` (embedded mode) on a free port, on the given database."""

    def __init__(self, folder: Path, db_url: str):
        folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = folder / "app.log"
        env = base_env(folder / "state", HOST="127.0.0.1", PORT=str(self.port), BACKPROP_DATABASE_URL=db_url)
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the app exited ({self.proc.returncode}):\n{log_tail(self.log)}")
            try:
                with urllib.request.urlopen(self.url, timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the app did not answer within {START_TIMEOUT_S} s:\n{log_tail(self.log)}")
                time.sleep(0.1)

    def close(self) -> None:
        _stop_process(self.proc, 15)


# -- helpers ---------------------------------------------------------------------------------------------
def use_database(url: str, redis_url: Optional[str] = None) -> None:
    """This process's records (and run cache) on ``url``."""
    from flask import Flask

    from dashboard import records, store
    store.init_app(Flask("bench-experiments"), redis_url)
    records.init(url)


def stats_ms(values: list[float]) -> str:
    return (f"median {1000 * statistics.median(values):.1f} ms, p95 {1000 * pct(values, 95):.1f} ms, "
            f"min {1000 * min(values):.1f}, max {1000 * max(values):.1f} (n={len(values)})")


def timed(fn: Callable[[], Any], n: int) -> tuple[list[float], Any]:
    out, result = [], None
    for _ in range(n):
        t = time.perf_counter()
        result = fn()
        out.append(time.perf_counter() - t)
    return out, result


def digits_form(**fields: Any) -> dict:
    return form_values("dense", "digits", [32, 32], **fields)


class CpuMeter:
    """CPU used on the machine while it runs (busy cores), and by processes that are not
    this benchmark's (outside ``roots()`` and their children): the cores are shared.
    Processes that start and end between the two samples are not seen."""

    def __init__(self, roots: Callable[[], list[int]]):
        self.roots = roots

    @staticmethod
    def _busy() -> float:
        import psutil
        t = psutil.cpu_times()
        return sum(t) - t.idle - getattr(t, "iowait", 0.0)

    @staticmethod
    def _all() -> dict[int, tuple[float, float]]:
        import psutil
        out = {}
        for proc in psutil.process_iter(["create_time", "cpu_times"]):
            times = proc.info["cpu_times"]
            if times is not None and proc.info["create_time"] is not None:
                out[proc.pid] = (proc.info["create_time"], times.user + times.system)
        return out

    def _ours(self) -> set[int]:
        import psutil
        found: set[int] = set()
        for pid in self.roots():
            try:
                root = psutil.Process(pid)
                found |= {root.pid, *(child.pid for child in root.children(recursive=True))}
            except psutil.Error:
                continue
        return found

    def __enter__(self) -> "CpuMeter":
        self.t0, self.wall0, self.busy0 = time.perf_counter(), time.time(), self._busy()
        self.ours0, self.procs0 = self._ours(), self._all()
        return self

    def __exit__(self, *exc) -> None:
        procs, ours = self._all(), self._ours() | self.ours0
        wall = time.perf_counter() - self.t0
        other = 0.0
        for pid, (created, cpu) in procs.items():
            if pid in ours:
                continue
            before = self.procs0.get(pid)
            if before is not None and before[0] == created:
                other += cpu - before[1]
            elif created >= self.wall0 - 1:
                other += cpu
        self.busy_cores = (self._busy() - self.busy0) / wall
        self.other_cores = max(other, 0.0) / wall


def pid_file(path: Path) -> list[int]:
    try:
        return [int(path.read_text().split()[0])]
    except (OSError, ValueError, IndexError):
        return []


# -- (a) one worker against two ------------------------------------------------------------------------
def wait_search_done(search_id: int, timeout_s: float) -> float:
    """Seconds until the search's record is no longer running (polled every 50 ms)."""
    from dashboard import records
    started = time.perf_counter()
    while True:
        state = records.get_search(search_id)["state"]
        if state != "running":
            return time.perf_counter() - started
        if time.perf_counter() - started > timeout_s:
            raise TimeoutError(f"search {search_id} still running after {timeout_s:.0f} s")
        time.sleep(0.05)


def bench_workers(services: dict, folder: Path, reps: int) -> None:
    import celery

    from dashboard import records, searches
    redis = services["redis"]
    db_url = services["db"].database("bench_workers")
    use_database(db_url, redis.url)
    senders = {}
    for queue in (QUEUE_ONE, QUEUE_TWO):
        app = celery.Celery(f"bench-{queue}", broker=redis.url, backend=redis.url)
        app.conf.task_routes = {searches.TRIAL_TASK: {"queue": queue}}
        senders[queue] = app
    workers: list[Worker] = []
    try:
        for name, queues in (("w1", [QUEUE_ONE, QUEUE_TWO]), ("w2", [QUEUE_TWO])):
            env = base_env(folder / f"state-{name}", REDIS_URL=redis.url, BACKPROP_DATABASE_URL=db_url,
                           OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
            workers.append(Worker(name, queues, folder, env))
        deadline = time.monotonic() + START_TIMEOUT_S
        for worker in workers:
            worker.wait_ready(deadline)

        def search(queue: str, epochs: int, n: int, label: str) -> tuple[float, list[dict]]:
            values = [round(0.002 + 0.001 * k, 4) for k in range(n)]
            search_id, planned = searches.create(digits_form(epochs=epochs),
                                                 {"learning_rate": {"kind": "values", "values": values}},
                                                 name=label)
            t = time.perf_counter()
            searches.dispatch(senders[queue], search_id, planned)
            wait_search_done(search_id, 600)
            wall = time.perf_counter() - t
            runs = records.list_runs(search_id=search_id, newest_first=False)
            bad = [(r["trial"], r["state"], r["message"]) for r in runs if r["state"] != "done"]
            if len(runs) != n or bad:
                raise RuntimeError(f"{label}: {len(runs)} of {n} trials recorded, not done: {bad}")
            return wall, runs

        # Warm-up of both workers (first trial's imports and data) and the epochs of a ~TRIAL_S trial.
        calibrate_epochs = 40
        _, runs = search(QUEUE_TWO, calibrate_epochs, 2, "calibration")
        per_trial = min(r["wall_time_s"] for r in runs)
        epochs = max(10, min(5000, round(calibrate_epochs * TRIAL_S / per_trial)))
        spec_units = [layer["config"]["units"] for layer in runs[0]["spec"]["model"]["layers"]]
        arch = "-".join(str(u) for u in [*runs[0]["spec"]["model"]["input_shape"], *spec_units])
        print(f"(a) digits {arch}, batch {runs[0]['spec']['training']['batch_size']}, {N_TRIALS} trials of "
              f"{epochs} epochs (calibrated: {calibrate_epochs} epochs took {per_trial:.2f} s in a worker)")

        def roots() -> list[int]:
            db = services["db"]
            return [os.getpid(), *(w.proc.pid for w in workers), *pid_file(redis.folder / "redis.pid"),
                    *(pid_file(db.data / "postmaster.pid") if isinstance(db, Postgres) else [])]

        others: list[tuple[int, float]] = []
        times: dict[int, list[float]] = {1: [], 2: []}
        trial_s: dict[int, list[float]] = {1: [], 2: []}
        spread: dict[int, list[str]] = {1: [], 2: []}
        for rep in range(reps):
            for n_workers, queue in ((1, QUEUE_ONE), (2, QUEUE_TWO)):
                before = {w.name: w.run_ids() for w in workers}
                with CpuMeter(roots) as cpu:
                    wall, runs = search(queue, epochs, N_TRIALS, f"{n_workers} worker(s), rep {rep + 1}")
                others.append((n_workers, cpu.other_cores))
                ids = {r["id"] for r in runs}
                per_worker = {w.name: len((w.run_ids() - before[w.name]) & ids) for w in workers}
                times[n_workers].append(wall)
                trial_s[n_workers].extend(r["wall_time_s"] for r in runs)
                spread[n_workers].append(" / ".join(f"{k} {v}" for k, v in per_worker.items()))
                print(f"    rep {rep + 1}, {n_workers} worker{'s' if n_workers > 1 else ''}: {wall:6.2f} s "
                      f"(trials per worker: {spread[n_workers][-1]}; trial wall time mean "
                      f"{statistics.mean(r['wall_time_s'] for r in runs):.2f} s; cores busy {cpu.busy_cores:.2f}, of which "
                      f"outside this benchmark {cpu.other_cores:.2f})")
        t1, t2 = statistics.mean(times[1]), statistics.mean(times[2])
        ratio = t2 / t1
        print(f"(a) {N_TRIALS} trials, dispatch -> search done: 1 worker {t1:.2f} s (mean of {reps}), 2 workers {t2:.2f} s; "
              f"sum of trial times {sum(trial_s[1]) / reps:.1f} s / {sum(trial_s[2]) / reps:.1f} s; "
              f"mean trial {statistics.mean(trial_s[1]):.2f} s (1 worker) vs {statistics.mean(trial_s[2]):.2f} s "
              f"(2 workers, sharing {os.cpu_count()} cores)")
        print(f"(a) ratio t(2 workers) / t(1 worker) = {ratio:.3f} (ideal 0.5); target <= "
              f"{TARGETS['speedup_ratio']}: {verdict(ratio <= TARGETS['speedup_ratio'])}")
        other = {n: [o for (k, o) in others if k == n] for n in (1, 2)}
        if max(o for _, o in others) > 0.25:
            skew = "pessimistic" if max(other[2]) > max(other[1]) else "optimistic"
            print(f"    note: processes outside this benchmark used {', '.join(f'{o:.2f}' for o in other[1])} cores "
                  f"during the 1-worker repetitions and {', '.join(f'{o:.2f}' for o in other[2])} during the "
                  f"2-worker ones (of {os.cpu_count()}): the ratio is likely {skew}; run it on an idle machine")
    finally:
        for worker in workers:
            worker.close()
        for app in senders.values():
            app.close()
        records.close()


# -- (b) and (c): the recorded runs ---------------------------------------------------------------------------
def template_run() -> tuple[bytes, dict]:
    """A real model file and per-epoch histograms (a 30-epoch run of the dense preset on
    moons, trained the way a trial is), to give the recorded runs their real size."""
    from dashboard import data as data_mod
    from dashboard import jobs
    from dashboard import spec as spec_mod
    from dashboard_common import checked_spec
    spec = checked_spec(form_values("dense", epochs=RUN_EPOCHS))
    prepared = data_mod.prepare(spec, data_mod.load(spec["data"]))
    model = spec_mod.build_model(spec)
    fit = jobs.Fit(model, prepared, spec["training"], lambda: None, lambda *args: None)
    history = jobs.join_history(jobs.empty_history(True), fit.run())
    return jobs.model_bytes(model, spec, history, prepared.summary), fit.inside.to_dict()


def synthetic_history(rng, epochs: int, lr: float, diverged: bool) -> dict:
    import numpy as np
    e = np.arange(1, epochs + 1)
    speed = 0.05 + 0.25 * rng.random()
    floor = 0.02 + 0.2 * rng.random()
    train = floor + (0.69 - floor) * np.exp(-speed * e) + 0.01 * rng.standard_normal(epochs)
    val = train + 0.03 + 0.02 * rng.random() * e / epochs + 0.01 * rng.standard_normal(epochs)
    if diverged:
        train = 0.6 * np.exp(0.12 * e)
        val = train * 1.1
    train_acc = np.clip(1 - train / 1.4, 0, 1)
    val_acc = np.clip(1 - val / 1.4, 0, 1)
    return {"train_loss": np.abs(train).tolist(), "val_loss": np.abs(val).tolist(),
            "train_accuracy": train_acc.tolist(), "val_accuracy": val_acc.tolist(), "first_epoch": 1}


def record_runs(n: int, epochs: int, model: bytes, inside: dict, seed: int, per_search: int = 100) -> list[int]:
    """``n`` runs recorded as a search's trials are (start_run, finish_run), ``per_search``
    trials a search over learning rate x activation x units of the dense preset."""
    import numpy as np

    from dashboard import experiments, jobs, records, searches
    from dashboard_common import checked_spec
    rng = np.random.default_rng(seed)
    base = form_values("dense", epochs=epochs)
    space = {"learning_rate": {"kind": "log", "low": 1e-3, "high": 1e-1, "n": 5},
             "activation": {"kind": "values", "values": ["tanh", "relu", "sigmoid", "leaky_relu"]},
             "units": {"kind": "values", "values": [8, 16, 32, 64, 128]}}
    ids: list[int] = []
    while len(ids) < n:
        count = min(per_search, n - len(ids))
        planned = experiments.trials(base, space, "random", count, seed=int(rng.integers(1 << 30)))
        search_id = records.start_search({"form": base, "spec": checked_spec(base)}, space, strategy="random",
                                         n_trials=count, seed=0)
        for entry in planned:
            lr = entry["params"]["learning_rate"]
            roll = rng.random()
            state = "diverged" if roll < 0.04 else "stopped" if roll < 0.07 else "done"
            history = synthetic_history(rng, epochs if state != "stopped" else epochs // 2, lr, state == "diverged")
            found = {"accuracy": history["val_accuracy"][-1], "macro_f1": history["val_accuracy"][-1] - 0.01}
            run_id = records.start_run(entry["spec"], dataset="moons", seed=None, params=entry["params"],
                                       search_id=search_id, trial=entry["trial"],
                                       name=searches.trial_name(entry["trial"], entry["params"]))
            message = {"done": f"Trained {len(history['train_loss'])} epochs in 2.1 s.",
                       "stopped": "Stopped by you. Stopped after epoch 15. The model keeps what it learned.",
                       "diverged": "Diverged: the training loss rose from 0.69 (first batch) to 40.1 (last epoch), "
                                   "more than 10 times."}[state]
            records.finish_run(run_id, state=state, message=message, history=history,
                               metrics=jobs.final_metrics(history, found), wall_time_s=float(1 + 4 * rng.random()),
                               epochs=len(history["train_loss"]), model=model, inside=inside)
            ids.append(run_id)
        records.finish_search(search_id, "done")
    return ids


INIT_SCRIPT = r"""
(() => {
    const t = window.__exp = {gridReady: null, trainEnabled: null};
    const check = () => {
        const b = document.getElementById('train-button');
        if (t.trainEnabled === null && b && !b.disabled) t.trainEnabled = performance.now();
        if (t.gridReady !== null) return;
        const note = document.getElementById('exp-runs-note');
        const rows = document.querySelectorAll('#exp-runs .ag-center-cols-container [row-index]').length;
        if (note && rows > 0 && note.textContent.includes(t.expect)) {
            t.gridReady = performance.now();
            t.rows = rows;
            t.note = note.textContent;
            return;
        }
        requestAnimationFrame(check);
    };
    t.expect = "__EXPECT__";
    requestAnimationFrame(check);
})();
"""


def page_load(browser, url: str, expect_text: str) -> dict:
    """A fresh page: ms from navigation until the grid has rows and the note says
    ``expect_text``; when Train became enabled (the page's own first load, for
    reference); and the requests of the runs table's callback (sent, answered; ms)."""
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(INIT_SCRIPT.replace("__EXPECT__", expect_text))
    page = context.new_page()
    finished: list = []
    page.on("requestfinished", lambda request: finished.append(request))
    try:
        page.goto(url)
        page.wait_for_function("() => window.__exp.gridReady !== null && window.__exp.trainEnabled !== null",
                               timeout=60_000)
        info = page.evaluate("""() => {
            const api = dash_ag_grid.getApi('exp-runs');
            const upd = performance.getEntriesByType('resource').filter(r => r.name.includes('_dash-update'));
            const before = upd.filter(r => r.startTime < window.__exp.gridReady);
            return {ready: window.__exp.gridReady, train: window.__exp.trainEnabled, rows: window.__exp.rows,
                    note: window.__exp.note, displayed: api ? api.getDisplayedRowCount() : null,
                    ttfb: performance.getEntriesByType('navigation')[0].responseStart,
                    origin: performance.timeOrigin, updates: before.length};
        }""")
        table = []
        for request in finished:
            if "_dash-update" not in request.url:
                continue
            try:
                body = json.loads(request.post_data or "{}")
            except ValueError:
                continue
            if "exp-runs.rowData" in str(body.get("output", "")):
                timing = request.timing
                sent = timing["startTime"] - info["origin"]
                table.append((sent, sent + timing["responseEnd"]))
        info["table_requests"] = sorted(table)
        return info
    finally:
        context.close()


def bench_table(browser, dashboard_url: str, roots: Callable[[], list[int]]) -> None:
    from dashboard import records
    from dashboard.panels import experiments as panel

    def load():
        runs = records.list_runs(limit=panel.MAX_RUNS_SHOWN)
        return panel.table_rows(runs)

    load()  # warm-up: the connection, the first query plan
    total, (columns, rows) = timed(load, 10)
    listing, runs = timed(lambda: records.list_runs(limit=panel.MAX_RUNS_SHOWN), 10)
    rows_only, _ = timed(lambda: panel.table_rows(runs), 10)
    payload_kb = len(json.dumps(rows, default=str)) / 1024
    print(f"(b) {len(runs)} runs, list_runs(limit=5000) + table_rows: {stats_ms(total)}")
    print(f"    list_runs alone {1000 * statistics.median(listing):.1f} ms, table_rows alone "
          f"{1000 * statistics.median(rows_only):.1f} ms (medians of 10); {len(columns)} columns, "
          f"rowData {payload_kb:.0f} kB of JSON")
    server_s = statistics.median(total)

    loads = []
    page_load(browser, dashboard_url, f"{N_RUNS} runs")     # warms the server up (imports, connections)
    with CpuMeter(roots) as cpu:
        for _ in range(5):
            info = page_load(browser, dashboard_url, f"{N_RUNS} runs")
            if info["displayed"] != N_RUNS:
                raise RuntimeError(f"the grid holds {info['displayed']} rows, not {N_RUNS}: {info}")
            loads.append(info)
    ready = [info["ready"] / 1000 for info in loads]
    med = statistics.median(ready)
    d = sorted(loads, key=lambda i: i["ready"])[len(loads) // 2]
    train = statistics.median(info["train"] / 1000 for info in loads)
    requests = " and ".join(f"sent {a / 1000:.2f} s, answered {b / 1000:.2f} s" for a, b in d["table_requests"])
    print(f"(b) page, navigation -> grid shows its rows and \"{d['note'].strip()}\": median {med:.2f} s, "
          f"min {min(ready):.2f}, max {max(ready):.2f} over {len(ready)} fresh pages; "
          f"target < {TARGETS['table_s']:g} s: {verdict(med < TARGETS['table_s'])}")
    print(f"    reference, the same pages' navigation -> Train enabled: median {train:.2f} s (grid / Train "
          f"{med / train:.2f}x); the server's list + rows {server_s:.2f} s ({server_s / med:.0%} of the load)")
    print(f"    the median load: TTFB {d['ttfb']:.0f} ms, {d['updates']} callback requests before the grid showed, "
          f"the runs table's callback {len(d['table_requests'])}x ({requests}); {d['rows']} rows rendered of "
          f"{d['displayed']}; cores busy {cpu.busy_cores:.2f}, of which outside this benchmark {cpu.other_cores:.2f}")


OVERLAY_JS = r"""
(n) => new Promise(resolve => {
    const api = dash_ag_grid.getApi('exp-runs');
    const nodes = [];
    api.forEachNodeAfterFilterAndSort(node => { if (nodes.length < n) nodes.push(node); });
    const traces = () => document.querySelectorAll('#exp-loss .js-plotly-plot .scatterlayer .trace').length;
    const t0 = performance.now();
    api.setNodesSelected({nodes, newValue: true});
    const check = () => {
        if (traces() === 2 * n) {
            const t1 = performance.now();
            const upd = performance.getEntriesByType('resource')
                .filter(r => r.name.includes('_dash-update') && r.startTime >= t0);
            resolve({ms: t1 - t0, answered: Math.max(0, ...upd.map(r => r.responseEnd - t0)),
                     requests: upd.length, ids: nodes.map(x => x.data.id)});
            return;
        }
        if (performance.now() - t0 > 30000) { resolve({ms: null, traces: traces()}); return; }
        requestAnimationFrame(check);
    };
    requestAnimationFrame(check);
})
"""

CLEAR_JS = r"""
() => new Promise(resolve => {
    dash_ag_grid.getApi('exp-runs').deselectAll();
    const t0 = performance.now();
    const check = () => {
        const n = document.querySelectorAll('#exp-loss .js-plotly-plot .scatterlayer .trace').length;
        if (n === 0 || performance.now() - t0 > 30000) { resolve(n); return; }
        requestAnimationFrame(check);
    };
    requestAnimationFrame(check);
})
"""


def bench_overlay(browser, dashboard_url: str, overlay_ids: list[int], roots: Callable[[], list[int]],
                  reps: int = 10) -> None:
    from dashboard import records
    from viz import runs as run_figures
    import plotly

    chosen = [records.get_run(i) for i in overlay_ids]

    def build():
        return run_figures.loss_overlay(chosen), run_figures.accuracy_overlay(chosen)

    build()
    builds, (loss, accuracy) = timed(build, 50)
    if len(loss["data"]) != 2 * N_OVERLAY or len(accuracy["data"]) != 2 * N_OVERLAY:
        raise RuntimeError(f"the overlays have {len(loss['data'])} and {len(accuracy['data'])} traces")

    def callback():            # what the page's overlays callback does on the server, answer included
        runs = [records.get_run(i) for i in overlay_ids]
        figures = run_figures.loss_overlay(runs), run_figures.accuracy_overlay(runs)
        return json.dumps(figures, cls=plotly.utils.PlotlyJSONEncoder)

    server, answer = timed(callback, 20)
    print(f"(c) loss_overlay + accuracy_overlay of {N_OVERLAY} runs x {OVERLAY_EPOCHS} epochs (80 traces): "
          f"{stats_ms(builds)}")
    print(f"    the callback's server work (20 get_run + both figures + JSON, {len(answer) / 1024:.0f} kB): "
          f"{stats_ms(server)}")

    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(INIT_SCRIPT.replace("__EXPECT__", "runs recorded"))
    page = context.new_page()
    try:
        page.goto(dashboard_url)
        page.wait_for_function("() => window.__exp.gridReady !== null", timeout=60_000)
        page.locator("[data-panel=experiments]").scroll_into_view_if_needed()
        page.locator("#exp-loss").scroll_into_view_if_needed()
        time.sleep(2.0)                           # the load's last redraws (parallel coordinates) end
        times, answered = [], []
        cpu = CpuMeter(roots).__enter__()
        for k in range(reps + 1):                 # the first is a warm-up
            left = page.evaluate(CLEAR_JS)
            if left:
                raise RuntimeError(f"the loss overlay kept {left} traces after clearing the selection")
            time.sleep(1.0)                       # the other figures the clearing redrew are drawn
            out = page.evaluate(OVERLAY_JS, N_OVERLAY)
            if out["ms"] is None:
                raise RuntimeError(f"the loss overlay never showed {2 * N_OVERLAY} traces: {out}")
            if sorted(out["ids"]) != sorted(overlay_ids):
                raise RuntimeError(f"the first {N_OVERLAY} rows are not the 100-epoch runs: {out['ids']}")
            if k:
                times.append(out["ms"] / 1000)
                answered.append(out["answered"] / 1000)
            time.sleep(0.3)
        cpu.__exit__(None, None, None)
        p95 = pct(times, 95)
        print(f"(c) page, select {N_OVERLAY} rows -> #exp-loss draws {2 * N_OVERLAY} traces: {stats_ms(times)}; "
              f"target p95 < {TARGETS['overlay_ms']} ms: {verdict(1000 * p95 < TARGETS['overlay_ms'])}")
        print(f"    of which until the last callback answer arrived: median "
              f"{1000 * statistics.median(answered):.0f} ms, p95 {1000 * pct(answered, 95):.0f} ms; "
              f"the build alone is {statistics.median(builds) / statistics.median(times):.0%} of the median; "
              f"cores busy {cpu.busy_cores:.2f}, of which outside this benchmark {cpu.other_cores:.2f}")
    finally:
        context.close()


def bench_runs(services: dict, folder: Path, parts: set[str]) -> None:
    from dashboard import records
    db_url = services["db"].database("bench_runs")
    use_database(db_url)
    dashboard: Optional[Dashboard] = None
    try:
        t = time.perf_counter()
        model, inside = template_run()
        record_runs(N_RUNS, RUN_EPOCHS, model, inside, seed=1)
        print(f"(b/c) recorded {N_RUNS} runs of {RUN_EPOCHS} epochs (model file {len(model) / 1024:.0f} kB, "
              f"histograms {len(json.dumps(inside)) / 1024:.0f} kB each) in {time.perf_counter() - t:.1f} s")
        dashboard = Dashboard(folder / "app", db_url)
        db = services["db"]

        def roots() -> list[int]:
            return [os.getpid(), dashboard.proc.pid,
                    *(pid_file(db.data / "postmaster.pid") if isinstance(db, Postgres) else [])]
        from playwright.sync_api import sync_playwright
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                if "b" in parts:
                    part("b", lambda: bench_table(browser, dashboard.url, roots))
                if "c" in parts:
                    def overlay():
                        ids = record_runs(N_OVERLAY, OVERLAY_EPOCHS, model, inside, seed=2, per_search=N_OVERLAY)
                        bench_overlay(browser, dashboard.url, ids, roots)
                    part("c", overlay)
            finally:
                browser.close()
    finally:
        if dashboard is not None:
            dashboard.close()
        records.close()


def part(name: str, fn: Callable[[], None]) -> None:
    """Run one part; its failure is its result line."""
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - a benchmark reports, it does not stop
        print(f"({name}) FAILED: {type(exc).__name__}: {exc}")
        detail = traceback.format_exc().strip().splitlines()
        print("    " + "\n    ".join(detail[-6:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="a,b,c", help="which parts to run (comma-separated letters)")
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default=None,
                        help="the database every process shares (default: PostgreSQL when installed)")
    parser.add_argument("--reps", type=int, default=2, help="(a): repetitions of each worker count")
    args = parser.parse_args()
    parts = {p.strip() for p in args.only.split(",") if p.strip()}
    backend = args.db or ("postgresql" if postgres_bin() else "sqlite")
    print(f"Backprop Studio experiments benchmark · CPU {cpu_model()} · {os.cpu_count()} cores · {numpy_info()} · "
          f"database {backend}")
    folder = Path(tempfile.mkdtemp(prefix="bench-experiments-"))
    with ExitStack() as stack:
        services: dict[str, Any] = {}
        try:
            services["db"] = Postgres() if backend == "postgresql" else SQLite(folder / "sqlite")
            stack.callback(services["db"].close)
        except Exception as exc:  # noqa: BLE001
            print(f"(all) FAILED: the database did not start: {type(exc).__name__}: {exc}")
            return
        if "a" in parts:
            def workers():
                services["redis"] = Redis(folder / "redis")
                try:
                    bench_workers(services, folder, args.reps)
                finally:
                    services.pop("redis").close()
            part("a", workers)
        if parts & {"b", "c"}:
            part("b/c", lambda: bench_runs(services, folder, parts))
    print(f"(logs in {folder})")


if __name__ == "__main__":
    main()
