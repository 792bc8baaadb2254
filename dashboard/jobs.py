"""The training job: one run of a spec, from its data to its model file.

``run(set_progress, session_id, spec)`` is called by the Train button's background
callback (a subprocess with the embedded DiskcacheManager, a Celery task with
REDIS_URL). It

1. loads the data and prepares the arrays (``dashboard.data.prepare``) and stores
   the run's probe (the samples the panels draw);
2. continues the tab's stored model when it is the same network on the same data,
   else builds a new one from the spec (``dashboard.spec.build_model``);
3. trains with the engine's ``fit``; after every batch it records the batch loss,
   looks at the Stop flag (at most every ``STOP_CHECK_S``) and, every ``PUBLISH_S``,
   publishes: a snapshot to the run cache and the run's progress to the page;
4. saves the model file (with the spec and history as its metadata) to the run cache,
   so the next Train continues it and Save downloads it; classifiers get their
   validation metrics (accuracy, macro F1).
"""
from __future__ import annotations

import contextlib
import io
import logging
import math
import os
import time
from typing import Any, Callable, Optional

import numpy as np
# Imported here, not in metrics(): it takes a second and a half, which the web process
# pays once at start and every training job (a fork of it, or a Celery worker) inherits.
from sklearn.metrics import accuracy_score, f1_score

from engine import Sequential

from . import data as data_mod
from . import spec as spec_mod
from . import store

log = logging.getLogger(__name__)

PUBLISH_S = 0.5      # snapshot + progress at most this often (each one redraws every panel)
STOP_CHECK_S = 0.05  # how often the job looks at the Stop flag
MAX_BATCH_POINTS = 1000

# Per-batch matrix work (batch x fan-in x fan-out of the widest layer) below which the
# job multiplies on one BLAS thread: for such small products OpenBLAS's threads cost
# more than they save, and with the page's server and browser on the same cores a
# second thread mostly waits for a core (digits 64-64 ran up to 6x slower on 2).
BLAS_ONE_THREAD_WORK = 10_000_000

# The training job's niceness. The page's own work is small and bursty (the refresh
# gate keeps redraws to about a third of the browser's main thread) but it is what the
# user waits for; the job wants one core for as long as it runs. At nice 0 the two
# share the cores evenly and every click answers ~1.5x slower while a run trains; at a
# higher niceness the page's bursts go first and the job still gets the core the page
# leaves free almost all the time.
JOB_NICENESS = 10
# A live dict's "charts" value when its history is in the run cache, not in the dict.
FROM_RUN_CACHE = "run-cache"


class BatchTrace:
    """Per-batch losses at fractional-epoch positions, at most ``limit`` points:
    when full, every other point is dropped and only every ``stride``-th batch
    is kept from then on, so the trace stays even over the whole run."""

    def __init__(self, limit: int = MAX_BATCH_POINTS, x: Optional[list] = None, y: Optional[list] = None,
                 stride: int = 1):
        self.limit = limit
        self.x: list[float] = list(x or [])
        self.y: list[float] = list(y or [])
        self.stride = stride
        self._count = 0

    def add(self, x: float, y: float) -> None:
        self._count += 1
        if self._count % self.stride:
            return
        self.x.append(round(float(x), 4))
        self.y.append(float(y))
        if len(self.x) > self.limit:
            # kept batches are numbers stride, 2*stride, ...: keep the multiples of 2*stride
            self.x, self.y = self.x[1::2], self.y[1::2]
            self.stride *= 2

    def to_dict(self) -> dict[str, Any]:
        return {"x": self.x, "y": self.y, "stride": self.stride}


def empty_history(classifier: bool, first_epoch: int = 1) -> dict:
    history: dict[str, Any] = {"train_loss": [], "val_loss": [], "first_epoch": first_epoch}
    if classifier:
        history.update(train_accuracy=[], val_accuracy=[])
    return history


def join_history(before: dict, run: dict) -> dict:
    out = dict(before)
    for key in ("train_loss", "val_loss", "train_accuracy", "val_accuracy"):
        if key in run:
            out[key] = list(before.get(key, [])) + list(run[key])
    return out


def live(state: str, message: str, **extra: Any) -> dict:
    """A live state: what the page's progress bars, status line and charts show."""
    return {"state": state, "message": message, **extra}


def duration_text(seconds: float) -> str:
    """``"0.04 s"``, ``"3.2 s"``, ``"2 min 5 s"``."""
    if seconds < 1:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


# -- metrics -------------------------------------------------------------------------------------
def metrics(model: Sequential, X: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Validation metrics of a classifier: ``accuracy`` and ``macro_f1`` (scikit-learn's
    ``f1_score``), and ``n`` the number of samples. Empty for a regressor."""
    if not model.is_classifier or len(X) == 0:
        return {}
    P = model.predict(X)
    pred = (P[:, 0] >= 0.5).astype(np.int64) if P.shape[1] == 1 else P.argmax(axis=1)
    truth = np.asarray(y).reshape(-1).astype(np.int64)
    return {"accuracy": float(accuracy_score(truth, pred)),
            "macro_f1": float(f1_score(truth, pred, average="macro", zero_division=0)), "n": int(len(truth))}


def metrics_text(m: dict) -> str:
    if not m:
        return ""
    return f"Validation ({m['n']:,} samples): accuracy {100 * m['accuracy']:.2f}%, macro F1 {m['macro_f1']:.4f}."


# -- process tuning ------------------------------------------------------------------------------
def blas_threads(model: Sequential, batch_size: int) -> int:
    """BLAS threads for the training job: one for small networks, else all cores but
    one (left to the server and the browser)."""
    work = 0
    for layer in model.layers:
        for name in layer.param_names:
            shape = getattr(layer, name).shape
            if len(shape) >= 2:
                work = max(work, batch_size * int(np.prod(shape)) * int(np.prod(layer.output_shape[:-1]) or 1))
    return 1 if work < BLAS_ONE_THREAD_WORK else max(1, (os.cpu_count() or 1) - 1)


def _blas_limit(threads: int):
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: without it NumPy keeps its own thread count
        return contextlib.nullcontext()
    return threadpool_limits(limits=threads, user_api="blas")


def _yield_to_the_page() -> None:
    """Raise this job process's niceness to JOB_NICENESS (never lower it: that needs privileges)."""
    try:
        if os.getpriority(os.PRIO_PROCESS, 0) < JOB_NICENESS:
            os.setpriority(os.PRIO_PROCESS, 0, JOB_NICENESS)
    except (AttributeError, OSError):  # not on this platform, or not allowed: run as is
        pass


# -- the run ------------------------------------------------------------------------------------------
def load_prepared(spec: dict, session_id: str) -> data_mod.Prepared:
    """The spec's data set, loaded (the CSV from the run cache) and prepared."""
    csv = store.get_csv(session_id) if spec["data"]["name"] == data_mod.CSV_OPTION else None
    ds = data_mod.load(spec["data"], csv["bytes"] if csv else None, csv["filename"] if csv else "data.csv")
    return data_mod.prepare(spec, ds)


def model_bytes(model: Sequential, spec: dict, history: dict, summary: dict) -> bytes:
    """The engine's model file, with what the dashboard needs to reopen it as metadata."""
    buffer = io.BytesIO()
    model.save(buffer, metadata={"spec": spec, "history": history, "dataset": summary})
    return buffer.getvalue()


def _stored_model(session_id: str, spec: dict, key: str) -> tuple[Optional[Sequential], Optional[dict]]:
    """The tab's model and its history, when the run should continue it."""
    stored = store.get_model(session_id)
    if stored is None or stored["dataset_key"] not in (None, key):
        return None, None
    previous = Sequential.load(io.BytesIO(stored["bytes"]))
    if not spec_mod.same_architecture(previous.get_config(), spec):
        return None, None
    history = stored["history"] or empty_history(previous.is_classifier)
    history.setdefault("first_epoch", previous.epochs_trained + 1)
    return previous, history


class Fit:
    """One training pass of a model on a run's arrays, with what the page is told about it:
    after every batch the batch loss goes to the trace, ``stop_asked()`` is looked at
    (at most every ``STOP_CHECK_S``: it returns when Stop was asked, or None) and, every
    ``PUBLISH_S``, ``on_publish(fit, run_history, epoch, batch)`` is called."""

    def __init__(self, model: Sequential, prepared: data_mod.Prepared, training: dict,
                 stop_asked: Callable[[], Optional[float]], on_publish: Callable[..., None]):
        self.model, self.prepared = model, prepared
        self.epochs, self.batch_size = int(training["epochs"]), int(training["batch_size"])
        self.learning_rate = training["learning_rate"]
        self.n_train = len(prepared.X_train)
        self.n_batches = math.ceil(self.n_train / self.batch_size)
        self.offset = model.epochs_trained
        self.trace = BatchTrace()
        self.stop_asked, self.on_publish = stop_asked, on_publish
        self.samples = 0
        self.stopped: Optional[float] = None      # seconds from the Stop request to the job seeing it
        self.started = time.perf_counter()
        self._published = self._stop_checked = 0.0

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    @property
    def samples_per_s(self) -> float:
        elapsed = self.elapsed
        return self.samples / elapsed if elapsed > 0 else 0.0

    def _on_event(self, model: Sequential, logs: dict) -> None:
        now = time.perf_counter()
        if logs["event"] == "batch":
            self.samples += min(self.batch_size, self.n_train - (logs["batch"] - 1) * self.batch_size)
            self.trace.add(self.offset + logs["epoch"] - 1 + logs["batch"] / logs["batches"], logs["loss"])
        if now - self._stop_checked >= STOP_CHECK_S:
            self._stop_checked = now
            asked = self.stop_asked()
            if asked is not None:
                model.stop_training = True
                self.stopped = max(time.time() - asked, 0.0)
        if now - self._published >= PUBLISH_S:
            self._published = now
            self.on_publish(self, logs["history"], logs["epoch"], logs["batch"])

    def run(self) -> dict:
        """Train; the engine's history of this pass."""
        self.started = time.perf_counter()
        with _blas_limit(blas_threads(self.model, self.batch_size)):
            return self.model.fit(self.prepared.X_train, self.prepared.Y_train, batch_size=self.batch_size,
                                  learning_rate=self.learning_rate, epochs=self.epochs, verbose=0,
                                  validation_data=self.prepared.validation, shuffle=True, seed=None,
                                  callbacks=[self._on_event])

    def outcome(self, run_history: dict, elapsed: float) -> tuple[str, str]:
        """The run's end state (done, stopped, diverged) and a sentence about it."""
        reason = run_history.get("stop_reason")
        if self.stopped is not None:
            return "stopped", f"Stopped by you. {reason} The model keeps what it learned."
        if reason:
            return "diverged", reason
        done = len(run_history["train_loss"])
        return "done", f"Trained {done} epoch{'s' if done != 1 else ''} in {duration_text(elapsed)}."


def run(set_progress: Callable[[list], None], session_id: str, spec: dict) -> tuple[dict, dict]:
    """Train this tab's model as ``spec`` says. Returns the final (live, snapshot version)."""
    started = time.perf_counter()  # the run as the user waits for it: data, model, training, saving
    store.clear_stop(session_id)
    prepared = load_prepared(spec, session_id)
    key = data_mod.dataset_key(spec["data"])
    model, history = _stored_model(session_id, spec, key)
    note = f"Continuing from epoch {model.epochs_trained}" if model is not None else "New model"
    if model is None:
        model = spec_mod.build_model(spec)
        history = empty_history(model.is_classifier)
    store.put_probe(session_id, {**prepared.probe, "dataset_key": key})

    def publish(fit: Fit, state: str, message: str, run_history: dict, epoch: int, batch: int, **extra: Any):
        snapshot = model.snapshot()
        snapshot.update(version=store.new_version(), status=state, dataset=prepared.summary, spec=spec)
        version = store.put_snapshot(session_id, snapshot)
        # The page gets the progress; the charts' history and batch trace (which grow
        # with the run) stay in the run cache, where the charts' callback reads them.
        state_now = live(state, message, epoch=epoch, epochs=fit.epochs, batch=batch, batches=fit.n_batches,
                         epochs_trained=model.epochs_trained, elapsed=fit.elapsed,
                         samples_per_s=fit.samples_per_s, charts=FROM_RUN_CACHE, **extra)
        store.put_live(session_id, {**state_now, "history": join_history(history, run_history),
                                    "batch_trace": fit.trace.to_dict()})
        return state_now, {"session": session_id, "version": version}

    fit = Fit(model, prepared, spec["training"], lambda: store.stop_requested(session_id),
              lambda f, run_history, epoch, batch: set_progress(list(publish(
                  f, "running", f"{note}: training", run_history, epoch, batch))))
    set_progress(list(publish(fit, "running", f"{note}: starting", {}, 0, 0)))
    _yield_to_the_page()
    run_history = fit.run()
    full = join_history(history, run_history)
    state, message = fit.outcome(run_history, time.perf_counter() - started)
    epochs_done = len(run_history["train_loss"])
    # The page shows the end at once; the metrics (a pass over the validation data) follow.
    set_progress(list(publish(fit, state, message, run_history, epochs_done, fit.n_batches)))
    found = metrics(model, prepared.validation[0], prepared.y_val) if prepared.validation else {}
    store.put_model(session_id, model_bytes(model, spec, full, prepared.summary), key, full,
                    filename=f"backprop-studio-{prepared.summary['name']}-e{model.epochs_trained}.npz")
    state_now, version = publish(fit, state, message, run_history, epochs_done, fit.n_batches, metrics=found)
    if fit.stopped is not None:
        state_now["stop_latency_s"] = fit.stopped
        log.info("stop flag seen %.3f s after it was raised", fit.stopped)
    store.clear_stop(session_id)
    return state_now, version
