"""Fixtures for the dashboard tests: a real app server, a headless Chromium, and
for Celery mode a real redis-server and a real Celery worker.

Every process is started here on a free port with its own state folder and is
stopped by its own handle when the session ends.
"""
from __future__ import annotations

import glob
import os
import signal
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
START_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _log_tail(path: Path, n: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


def _wait_for_http(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited with code {proc.returncode}:\n{_log_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    raise RuntimeError(f"the app did not answer at {url} within {START_TIMEOUT_S} s:\n{_log_tail(log)}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def app_env(state_dir: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("REDIS_URL", None)
    env.pop("BACKPROP_DATABASE_URL", None)
    env.update(BACKPROP_STATE_DIR=str(state_dir), BACKPROP_DATA_DIR=str(DATA_DIR), PYTHONUNBUFFERED="1", **extra)
    return env


@contextmanager
def running_app(folder: Path, **extra_env: str):
    """``python app.py`` on a free port; yields its URL."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = folder / "app.log"
    env = app_env(folder / "state", HOST="127.0.0.1", PORT=str(port), **extra_env)
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/"
        _wait_for_http(url, proc, log)
        yield url
    except BaseException:
        print(f"--- the app's log ({log}) ---\n{_log_tail(log, 80)}")
        raise
    finally:
        _stop(proc)


class CeleryWorker:
    """``celery -A app:celery_app worker --concurrency=1`` in a process group of its own, named
    ``name``; its output goes to ``folder/<name>.log``."""

    def __init__(self, name: str, folder: Path, env: dict):
        self.name = name
        self.log = folder / f"{name}.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "app:celery_app", "worker", "--concurrency=1",
                 "--loglevel=INFO", "--without-gossip", "--without-mingle", "-n", f"{name}@%h"],
                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def wait_ready(self, deadline: float) -> None:
        while " ready." not in self.text():
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker {self.name} exited with code {self.proc.returncode}:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker {self.name} did not get ready in {START_TIMEOUT_S} s:\n{self.tail()}")
            time.sleep(0.1)

    def tail(self, n: int = 60) -> str:
        return "\n".join(self.text().splitlines()[-n:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()                       # warm shutdown: the running task ends first
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        try:                                            # a pool child the main process left behind
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    """The dashboard in its embedded mode (DiskcacheManager, filesystem run cache)."""
    with running_app(tmp_path_factory.mktemp("app")) as url:
        yield url


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A throwaway redis-server on a free port (no persistence)."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    import redis

    folder = tmp_path_factory.mktemp("redis")
    port = free_port()
    subprocess.run(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                    "--daemonize", "yes", "--dir", str(folder), "--logfile", str(folder / "redis.log"),
                    "--pidfile", str(folder / "redis.pid")], check=True)
    client = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start:\n{_log_tail(folder / 'redis.log')}")
            time.sleep(0.05)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        try:
            client.shutdown(nosave=True)
        except redis.ConnectionError:
            pass  # it went away, as asked


@pytest.fixture(scope="session")
def celery_database_url(tmp_path_factory):
    """One records database for the Celery-mode server and its worker (as a deployment
    shares one through BACKPROP_DATABASE_URL)."""
    return f"sqlite:///{tmp_path_factory.mktemp('celery-records') / 'runs.sqlite'}"


@pytest.fixture(scope="session")
def celery_worker(redis_url, celery_database_url, tmp_path_factory):
    """``celery -A app:celery_app worker`` against the test Redis; its output goes to worker.log."""
    folder = tmp_path_factory.mktemp("celery")
    log = folder / "worker.log"
    env = app_env(folder / "state", REDIS_URL=redis_url, BACKPROP_DATABASE_URL=celery_database_url)
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "celery", "-A", "app:celery_app", "worker",
                                 "--concurrency=2", "--loglevel=INFO", "--without-gossip", "--without-mingle"],
                                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while " ready." not in log.read_text(errors="replace"):
            if proc.poll() is not None:
                raise RuntimeError(f"the Celery worker exited with code {proc.returncode}:\n{_log_tail(log)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Celery worker did not get ready:\n{_log_tail(log)}")
            time.sleep(0.1)
        yield log
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def celery_app_server(redis_url, celery_worker, celery_database_url, tmp_path_factory):
    """The dashboard with REDIS_URL set: training runs on the Celery worker."""
    with running_app(tmp_path_factory.mktemp("app-celery"), REDIS_URL=redis_url,
                     BACKPROP_DATABASE_URL=celery_database_url) as url:
        yield url


@pytest.fixture
def shared_data(monkeypatch):
    """Data sets from the shared data folder (the NusaX CSVs for text presets), never a download."""
    monkeypatch.setenv("BACKPROP_DATA_DIR", str(DATA_DIR))
    monkeypatch.delenv("NUSAX_DIR", raising=False)


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser):
    """A fresh browser tab (own context: own sessionStorage, own session id) that accepts downloads."""
    context = browser.new_context(accept_downloads=True, viewport={"width": 1440, "height": 1000})
    try:
        yield context.new_page()
    finally:
        context.close()


def postgres_bin() -> Path | None:
    """The folder of PostgreSQL's server programs (the newest under /usr/lib/postgresql), or None."""
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if found:
        newest = max(found, key=lambda p: [int(x) if x.isdigit() else 0 for x in Path(p).parts[-3].split(".")])
        return Path(newest).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@pytest.fixture(scope="session")
def postgres_url():
    """A throwaway PostgreSQL server on a free port (trust auth on 127.0.0.1 and its own
    socket folder) with one empty database; yields its SQLAlchemy URL."""
    pg_bin = postgres_bin()
    if pg_bin is None:
        raise RuntimeError("PostgreSQL is not installed (no initdb under /usr/lib/postgresql/*/bin): "
                           "apt-get install postgresql, as .ci/run does")
    # Not under pytest's temporary folder: its parents are private to this user, and the
    # server runs as the postgres user when the tests run as root (initdb refuses root).
    folder = Path(tempfile.mkdtemp(prefix="backprop-pg-"))
    as_server: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
        as_server = ["runuser", "-u", "postgres", "--"]
    data, log, port = folder / "data", folder / "server.log", free_port()

    def server(program: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([*as_server, str(pg_bin / program), *args], cwd=folder, check=check,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=START_TIMEOUT_S)

    try:
        server("initdb", "-D", str(data), "--auth=trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync")
        started = server("pg_ctl", "-D", str(data), "-l", str(log), "-w", "-t", str(START_TIMEOUT_S),
                         "-o", f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off",
                         "start", check=False)
        if started.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not start:\n{started.stdout.decode(errors='replace')}\n"
                               f"{_log_tail(log)}")
        deadline = time.monotonic() + START_TIMEOUT_S
        while server("pg_isready", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", check=False).returncode:
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL does not accept connections:\n{_log_tail(log)}")
            time.sleep(0.1)
        server("createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "backprop")
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/backprop"
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"{' '.join(map(str, exc.cmd))} failed:\n{exc.stdout.decode(errors='replace')}") from None
    finally:
        if (data / "postmaster.pid").exists():
            server("pg_ctl", "-D", str(data), "-w", "stop", "-m", "fast", check=False)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def job_state(tmp_path, monkeypatch):
    """A run cache and a records database of the test's own: what a training job run in
    the test's process writes to."""
    from flask import Flask

    from dashboard import records, store
    monkeypatch.setenv("BACKPROP_STATE_DIR", str(tmp_path))
    store.init_app(Flask("test"))
    records.init()
    yield
    records.close()
