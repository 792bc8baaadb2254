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
import threading
import time
import traceback
from typing import Any, Callable, Optional

import numpy as np
# Imported here, not in metrics(): it takes a second and a half, which the web process
# pays once at start and every training job (a fork of it, or a Celery worker) inherits.
from sklearn.metrics import accuracy_score, f1_score

from engine import Sequential, health
from viz.distributions import histogram_data
from viz.evaluation import predictions

from . import data as data_mod
from . import records
from . import spec as spec_mod
from . import store
from .control import RunControl
from .timeline import Timeline

log = logging.getLogger(__name__)

PUBLISH_S = 0.5      # snapshot + progress at most this often (each one redraws every panel)
STOP_CHECK_S = 0.05  # how often the job looks at the Stop flag
MAX_BATCH_POINTS = 1000
INSIDE_BINS = 30            # bins of the per-epoch histograms a run's record keeps
MAX_INSIDE_FRAMES = 200     # epochs of them at most (thinned evenly past it)
INSIDE_EPOCHS = 50          # a run keeps them every epoch up to this many, else every k-th epoch
# A run whose last epoch's training loss is this many times its first batch's has diverged
# (the engine itself stops only on a loss or gradient that is not finite; a cross-entropy
# of clipped probabilities stays finite however large the steps).
DIVERGED_FACTOR = 10.0
# ... measured from at least this loss: a continued model whose loss is already near zero
# wanders by orders of magnitude without having diverged (a loaded, well-fitted model whose
# first batch scores 0.016 can end its first epoch, under a fresh Adam state, at 0.18: worse,
# but far below any guess, so the threshold from there is 1.0).
DIVERGED_FLOOR = 0.1
TIMELINE_MIN_S = 0.05      # besides every snapshot, the timeline keeps epoch ends at most this often
PROBE_SAMPLES = 256         # the fixed training batch whose activations the timeline keeps
TELEMETRY_SHARE = 0.03     # of a run's time, at most, for its timeline (the page's own training speed
                           # is to stay within 10% of the engine's, everything the job does included)
FORCE_STEP_S = 2.0         # ... but a timeline step at least this often (at a snapshot)
TIMELINE_MIN_STEPS = 8     # ... and a run's first steps whatever they cost, so a run of a second has a timeline too
RECORD_S = 2.0              # a running run's record is brought up to date at most this often
# A running run whose record nobody brought up to date for this long has lost its process
# (the job or worker was killed, the machine restarted): it is marked failed.
STALE_S = 60.0
BEAT_S = 1.0            # a Train job says it is alive this often (a thread of its own, halted or not) ...
DEAD_S = 8.0            # ... and one silent for this long has lost its process: the page says so
MODEL_SAVE_S = 5.0      # a running run's model file is brought up to date at epoch ends at most this often

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
# What the run cache's live state holds and the page's does not (page_live).
RUN_CACHE_ONLY = ("history", "batch_trace", "changes", "snapshot_version")


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


class TelemetryBudget:
    """Keeps the timeline's steps to ``share`` of the run's time: a step that is not forced is taken only while the time
    spent on them so far is within the share, so a small network trains at nearly full
    speed and still keeps as many steps as that time allows."""

    def __init__(self, share: float = TELEMETRY_SHARE):
        self.share, self.spent = share, 0.0
        self.started = time.perf_counter()

    def allows(self) -> bool:
        return self.spent <= self.share * (time.perf_counter() - self.started)

    @contextlib.contextmanager
    def timing(self):
        began = time.perf_counter()
        try:
            yield
        finally:
            self.spent += time.perf_counter() - began


class Inside:
    """What a run's layers looked like at the end of every epoch: per layer, the histogram
    of its weights and of their gradients (``viz.distributions.histogram_data``), kept
    for comparing runs inside (``viz.compare``). Past ``limit`` frames every other one is
    dropped (the first and the newest stay), so a long run keeps an even record."""

    def __init__(self, bins: int = INSIDE_BINS, limit: int = MAX_INSIDE_FRAMES):
        self.bins, self.limit = bins, limit
        self.frames: list[dict] = []

    def add(self, model: Sequential, epoch: int) -> None:
        snapshot = model.snapshot()
        self.frames.append({"epoch": int(epoch), "params": histogram_data(snapshot, None, "params", self.bins),
                            "grads": histogram_data(snapshot, None, "grads", self.bins)})
        if len(self.frames) > self.limit:
            self.frames = self.frames[:-1:2] + self.frames[-1:]

    def to_dict(self) -> dict[str, Any]:
        return {"bins": self.bins, "frames": self.frames}


def join_history(before: dict, run: dict) -> dict:
    out = dict(before)
    for key in ("train_loss", "val_loss", "train_accuracy", "val_accuracy"):
        if key in run:
            out[key] = list(before.get(key, [])) + list(run[key])
    return out


def diverged(first_loss: float, last_loss: float) -> bool:
    """Whether a pass whose first batch had ``first_loss`` and whose last epoch ``last_loss`` diverged."""
    return first_loss > 0 and last_loss > DIVERGED_FACTOR * max(first_loss, DIVERGED_FLOOR)


def live(state: str, message: str, **extra: Any) -> dict:
    """A live state: what the page's progress bars, status line and charts show."""
    return {"state": state, "message": message, **extra}


def page_live(cached: dict) -> dict:
    """The page's part of a live state read from the run cache (``store.get_live``): the
    history, batch trace and changes stay in the run cache, where the charts read them."""
    return {k: v for k, v in cached.items() if k not in RUN_CACHE_ONLY}


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
    pred = predictions(model.predict(X))
    truth = np.asarray(y).reshape(-1).astype(np.int64)
    return {"accuracy": float(accuracy_score(truth, pred)),
            "macro_f1": float(f1_score(truth, pred, average="macro", zero_division=0)), "n": int(len(truth))}


def final_metrics(history: dict, found: dict) -> dict[str, float]:
    """A run's final numbers as its record keeps them: ``loss``, ``val_loss``,
    ``accuracy`` (training), ``val_accuracy`` and ``macro_f1`` (validation), those it has."""
    out: dict[str, float] = {}
    for key, name in (("train_loss", "loss"), ("val_loss", "val_loss"), ("train_accuracy", "accuracy")):
        if history.get(key):
            out[name] = float(history[key][-1])
    if found:
        out.update(val_accuracy=found["accuracy"], macro_f1=found["macro_f1"])
    elif history.get("val_accuracy"):
        out["val_accuracy"] = float(history["val_accuracy"][-1])
    return out


MAX_MISCLASSIFIED = 24      # validation samples the evaluation keeps of those the model gets wrong
EVALUATE_S = 1.0            # the evaluation is brought up to date at epoch ends at most this often


def evaluation(model: Sequential, prepared: data_mod.Prepared, epoch: int) -> Optional[dict]:
    """What the Evaluation panel shows of a classifier: the validation split's true and
    predicted classes, and the first misclassified samples as the data set has them
    (images, sentences or points). None for a regressor or without validation data."""
    if not model.is_classifier or not prepared.validation:
        return None
    y_true = np.asarray(prepared.y_val).reshape(-1).astype(np.int64)
    y_pred = predictions(model.predict(prepared.validation[0]))
    wrong = np.flatnonzero(y_true != y_pred)[:MAX_MISCLASSIFIED]
    raw = prepared.raw_val
    samples = None
    if raw is not None and len(wrong):
        picked = [raw[i] for i in wrong] if isinstance(raw, list) else np.asarray(raw)[wrong]
        samples = [str(t) for t in picked] if prepared.summary.get("kind") == data_mod.TEXT else np.asarray(picked)
    return {"epoch": int(epoch), "y_true": y_true.astype(np.int32), "y_pred": y_pred.astype(np.int32),
            "wrong": wrong.astype(np.int64), "samples": samples,
            "class_names": list(prepared.summary.get("class_names") or [])}


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


def _stored_model(session_id: str, spec: dict, key: str) -> tuple[Optional[Sequential], Optional[dict], str]:
    """The tab's model and its history, when the run should continue it; else None, None
    and why the run starts a new model instead ("" when the tab had none)."""
    stored = store.get_model(session_id)
    if stored is None:
        return None, None, ""
    name = stored.get("filename") or "the tab's model"
    if stored["dataset_key"] not in (None, key):
        return None, None, f"{name} was trained on other data; this run starts a new model in its place"
    previous = Sequential.load(io.BytesIO(stored["bytes"]))
    if not spec_mod.same_architecture(previous.get_config(), spec):
        takes = f"takes {previous.input_shape} and gives {previous.output_shape}"
        return None, None, (f"{name} ({takes}) is not the network in the form; this run starts a new model in "
                            f"its place")
    history = stored["history"] or empty_history(previous.is_classifier)
    history.setdefault("first_epoch", previous.epochs_trained + 1)
    return previous, history, ""


class Fit:
    """One training pass of a model on a run's arrays, with what the page is told about it:
    after every batch the batch loss goes to the trace, ``stop_asked()`` is looked at
    (at most every ``STOP_CHECK_S``: it returns when Stop was asked, or None) and, every
    ``PUBLISH_S``, ``on_publish(fit, run_history, epoch, batch)`` is called."""

    def __init__(self, model: Sequential, prepared: data_mod.Prepared, training: dict,
                 stop_asked: Callable[[], Optional[float]], on_publish: Callable[..., None],
                 on_epoch: Optional[Callable[["Fit", dict, int], None]] = None,
                 after_batch: Optional[Callable[[], None]] = None, control: Optional[RunControl] = None):
        self.model, self.prepared = model, prepared
        self.epochs, self.batch_size = int(training["epochs"]), int(training["batch_size"])
        self.learning_rate = training["learning_rate"]
        self.n_train = len(prepared.X_train)
        self.n_batches = math.ceil(self.n_train / self.batch_size)
        self.offset = model.epochs_trained
        self.trace = BatchTrace()
        self.stop_asked, self.on_publish, self.on_epoch = stop_asked, on_publish, on_epoch
        self.after_batch, self.control = after_batch, control
        self.inside = Inside()
        # Runs of as many epochs keep the same epochs, so Compare inside can line them up.
        self.inside_every = max(1, math.ceil(self.epochs / INSIDE_EPOCHS))
        self.budget = TelemetryBudget()
        self.samples = 0
        self.batches_done = 0                      # of this pass
        self.first_loss: Optional[float] = None   # the first batch's, before any step of this pass
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
            self.batches_done += 1
            if self.after_batch is not None:
                self.after_batch()
            if self.first_loss is None:
                self.first_loss = float(logs["loss"])
            self.samples += min(self.batch_size, self.n_train - (logs["batch"] - 1) * self.batch_size)
            self.trace.add(self.position(logs), logs["loss"])
        else:
            if logs["epoch"] == self.epochs or logs["epoch"] % self.inside_every == 0:
                self.inside.add(model, self.offset + logs["epoch"])
            if self.on_epoch is not None:
                self.on_epoch(self, logs["history"], logs["epoch"])
        if now - self._stop_checked >= STOP_CHECK_S:
            self._stop_checked = now
            asked = self.stop_asked()
            if asked is not None:
                model.stop_training = True
                self.stopped = max(time.time() - asked, 0.0)
        if self.control is not None and logs["event"] == "batch" and not model.stop_training:
            self.control.after_batch(self, logs)
            if self.control.paused_at is not None:        # it halted and published: the time halted is not training
                self.started += time.perf_counter() - self.control.paused_at
                self.control.paused_at = None
                now = self._published = time.perf_counter()
        if now - self._published >= PUBLISH_S:
            self._published = now
            self.on_publish(self, logs["history"], logs["epoch"], logs["batch"])

    def position(self, logs: dict) -> float:
        """Where a batch or epoch event is in the model's life, in fractional epochs."""
        return self.offset + logs["epoch"] - 1 + logs["batch"] / logs["batches"]

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
        losses = run_history["train_loss"]
        if losses and self.first_loss is not None and diverged(self.first_loss, losses[-1]):
            return "diverged", (
                f"Diverged: the training loss rose from {self.first_loss:.4g} (first batch) to {losses[-1]:.4g} "
                f"(last epoch), more than {DIVERGED_FACTOR:g} times. A learning rate too large for this network "
                f"(here {self.learning_rate:g}) is the usual cause; try a smaller one.")
        done = len(run_history["train_loss"])
        return "done", f"Trained {done} epoch{'s' if done != 1 else ''} in {duration_text(elapsed)}."


class Recorder:
    """A run's record in the database (``dashboard.records``), kept up to date while it
    trains. Recording never stops a run: when the database cannot be written, the log
    says why and the run goes on (``run_id`` is then None)."""

    def __init__(self, spec: dict, **kwargs: Any):
        self.run_id: Optional[int] = None
        self._updated = 0.0
        try:
            self.run_id = records.start_run(spec, dataset=spec["data"]["name"], seed=spec["model"].get("seed"),
                                            **kwargs)
        except Exception:  # noqa: BLE001 - a database that is down must not take the run with it
            log.exception("could not record the run")

    def _call(self, function: Callable, **kwargs: Any) -> None:
        if self.run_id is None:
            return
        try:
            function(self.run_id, **kwargs)
        except Exception:  # noqa: BLE001
            log.exception("could not update the record of run %s", self.run_id)

    def due(self) -> bool:
        """Whether the next ``progress`` writes the record (RECORD_S have passed)."""
        return time.perf_counter() - self._updated >= RECORD_S

    def progress(self, history: dict, epochs: int, wall_time_s: float, force: bool = False) -> None:
        if force or self.due():
            self._updated = time.perf_counter()
            self._call(records.update_run, history=history, epochs=epochs, wall_time_s=wall_time_s)

    def finish(self, state: str, message: str, **kwargs: Any) -> None:
        self._call(records.finish_run, state=state, message=message, **kwargs)

    def failed(self, exc: BaseException, wall_time_s: float) -> None:
        self.finish("failed", failure_text(exc), wall_time_s=wall_time_s)


def failure_text(exc: BaseException) -> str:
    """What the page says about a run that failed."""
    if isinstance(exc, ValueError) or type(exc).__name__ in ("ModelFileError", "DatasetUnavailableError"):
        return str(exc)
    return f"Training failed: {type(exc).__name__}: {exc}"


def _finish_record(recorder: Recorder, fit: Fit, model: Sequential, spec: dict, prepared: data_mod.Prepared,
                   state: str, message: str, full: dict, found: dict, model_file: bytes, elapsed: float) -> None:
    recorder.finish(state, message, history=full, metrics=final_metrics(full, found), wall_time_s=elapsed,
                    epochs=model.epochs_trained, model=model_file, inside=fit.inside.to_dict())


def run(set_progress: Callable[[list], None], session_id: str, spec: dict,
        start_paused: bool = False) -> tuple[dict, dict]:
    """Train this tab's model as ``spec`` says, and record the run. Returns the final
    (live, snapshot version). With ``start_paused`` the run halts after its first batch
    (Step with no run on: ``dashboard.control``)."""
    started = time.perf_counter()  # the run as the user waits for it: data, model, training, saving
    store.clear_stop(session_id)
    _release_inherited_listeners()
    beating = _Heartbeat(session_id)
    recorder = Recorder(spec, session=session_id)
    try:
        return _run(set_progress, session_id, spec, recorder, started, start_paused, beating)
    except BaseException as exc:
        recorder.failed(exc, time.perf_counter() - started)
        raise
    finally:
        beating.stop()


class _Heartbeat:
    """A thread that tells the run cache every ``BEAT_S`` that this job is alive, so the
    page can tell a halted or slow run from one whose process is gone. ``orphaned``: the
    process that started the job (the server, in embedded mode) is gone or is exiting."""

    def __init__(self, session_id: str):
        self.session_id = session_id
        self._parent = os.getppid()
        self._done = threading.Event()
        self._parent_exiting = threading.Event()
        store.beat_run(session_id)
        self._thread = threading.Thread(target=self._beat, name="run-heartbeat", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._done.wait(BEAT_S):
            try:
                store.beat_run(self.session_id)
                if store.server_stopping(self._parent):
                    self._parent_exiting.set()
            except Exception:  # noqa: BLE001 - a run cache that hiccups must not end the run
                log.exception("could not write the run's heartbeat")

    @property
    def orphaned(self) -> bool:
        return os.getppid() != self._parent or self._parent_exiting.is_set()

    def stop(self) -> None:
        self._done.set()
        self._thread.join(timeout=2 * BEAT_S)


def stop_own_jobs() -> None:
    """At the server process's exit: ask the training jobs it started to stop (they save
    their model and end within a batch or two) instead of leaving its exit waiting for them
    to finish their epochs (a production server's worker joins its children as it exits)."""
    try:
        import psutil
        if psutil.Process().children():
            store.mark_server_stopping(os.getpid())
    except Exception:  # noqa: BLE001 - exiting anyway; the jobs still stop once this process is gone
        log.exception("could not ask this server's jobs to stop")


def _release_inherited_listeners() -> None:
    """Close the listening sockets a forked job inherited from the server: a job must never
    hold the server's port (a restarted server could not bind it while the job lives)."""
    try:
        import psutil
        listening = [c.fd for c in psutil.Process().net_connections(kind="inet")
                     if c.status == psutil.CONN_LISTEN and c.fd not in (-1, None)]
    except Exception:  # noqa: BLE001 - no psutil, or not allowed here: nothing to release
        return
    for fd in listening:
        try:
            os.close(fd)
        except OSError:
            pass


def _run(set_progress: Callable[[list], None], session_id: str, spec: dict, recorder: Recorder,
         started: float, start_paused: bool, beating: "_Heartbeat") -> tuple[dict, dict]:
    prepared = load_prepared(spec, session_id)
    key = data_mod.dataset_key(spec["data"])
    model, history, why_new = _stored_model(session_id, spec, key)
    note = f"Continuing from epoch {model.epochs_trained}" if model is not None else \
        (f"New model ({why_new})" if why_new else "New model")
    if model is None:
        model = spec_mod.build_model(spec)
        history = empty_history(model.is_classifier)
    store.put_probe(session_id, {**prepared.probe, "dataset_key": key})

    timeline = Timeline(model, prepared.X_train[:PROBE_SAMPLES])
    model_info = health.describe_model(model, spec["training"]["learning_rate"])
    kept_at = [0.0]
    stored_step: list = [None]       # the newest step the run cache has
    # The update:data ratio needs one step's actual update: the kernels are copied when a
    # step is kept, and the next batch's change is what the next kept step reports.
    capture = health.update_capture(model)
    last_update: dict = {}

    def after_batch() -> None:
        if capture.armed:
            last_update.clear()
            last_update.update(capture.after())

    def keep_step(fit: Fit, epoch: int, batch: int, force: bool = False) -> None:
        """A step of the timeline (at most one per batch count; within the telemetry
        budget unless forced)."""
        if timeline.steps and timeline.steps[-1] == fit.batches_done:
            return
        if not (force or len(timeline.steps) < TIMELINE_MIN_STEPS or fit.budget.allows()):
            return
        kept_at[0] = time.perf_counter()
        with fit.budget.timing():
            timeline.add(model, fit.batches_done, (epoch - 1 + batch / fit.n_batches) if epoch else 0.0,
                         put_frame=lambda serial, frame: store.put_frame(session_id, serial, frame),
                         drop_frame=lambda serial: store.drop_frame(session_id, serial), update=dict(last_update))
        capture.before()

    def publish(fit: Fit, state: str, message: str, run_history: dict, epoch: int, batch: int, **extra: Any):
        keep_step(fit, epoch, batch, force=state != "running" or not timeline.steps
                  or time.perf_counter() - kept_at[0] >= FORCE_STEP_S)
        if timeline.steps and timeline.steps[-1] != stored_step[0]:     # only when a step was added
            stored_step[0] = timeline.steps[-1]
            with fit.budget.timing():
                kept = timeline.to_dict()
                kept["alerts"] = health.alerts(timeline.health, model_info) if timeline.health else []
                store.put_timeline(session_id, kept)
        snapshot = model.snapshot()
        snapshot.update(version=store.new_version(), status=state, dataset=prepared.summary, spec=spec,
                        batches_done=fit.batches_done, l1=model.l1, l2=model.l2, learning_rate=fit.learning_rate)
        version = store.put_snapshot(session_id, snapshot)
        # The page gets the progress; the charts' history and batch trace (which grow
        # with the run) stay in the run cache, where the charts' callback reads them.
        extra.setdefault("paused", False)
        state_now = live(state, message, epoch=epoch, epochs=fit.epochs, batch=batch, batches=fit.n_batches,
                         epochs_trained=model.epochs_trained, elapsed=fit.elapsed,
                         samples_per_s=fit.samples_per_s, charts=FROM_RUN_CACHE, run_id=recorder.run_id,
                         batches_done=fit.batches_done, learning_rate=fit.learning_rate, l1=model.l1, l2=model.l2,
                         **extra)
        cached = {"history": join_history(history, run_history), "batch_trace": fit.trace.to_dict(),
                  "changes": list(control.changes), "snapshot_version": version}
        store.put_live(session_id, {**state_now, **cached})
        return state_now, {"session": session_id, "version": version}

    def on_publish(f: Fit, run_history: dict, epoch: int, batch: int) -> None:
        set_progress(list(publish(f, "running", f"{note}: training", run_history, epoch, batch)))
        recorder.progress(join_history(history, run_history), model.epochs_trained, time.perf_counter() - started)

    evaluated_at = [0.0]

    def evaluate() -> None:
        evaluated_at[0] = time.perf_counter()
        found = evaluation(model, prepared, model.epochs_trained)
        if found is not None:
            store.put_evaluation(session_id, found)

    saved_at = [time.perf_counter()]

    def keep_model(full_history: dict) -> bytes:
        """The model as it is now becomes the tab's model file (Save, the next Train); its bytes."""
        saved_at[0] = time.perf_counter()
        file = model_bytes(model, spec, full_history, prepared.summary)
        store.put_model(session_id, file, key, full_history,
                        filename=f"backprop-studio-{prepared.summary['name']}-e{model.epochs_trained}.npz")
        return file

    def on_epoch(f: Fit, run_history: dict, epoch: int) -> None:
        save = time.perf_counter() - saved_at[0] >= MODEL_SAVE_S   # the epochs finished are kept if the job dies
        if save or recorder.due():
            # The whole history is joined only when it is written (it grows with every epoch).
            full_now = join_history(history, run_history)
            recorder.progress(full_now, model.epochs_trained, time.perf_counter() - started)
            if save:
                keep_model(full_now)
        if time.perf_counter() - kept_at[0] >= TIMELINE_MIN_S:
            keep_step(f, epoch, f.n_batches)
        if time.perf_counter() - evaluated_at[0] >= EVALUATE_S:
            evaluate()

    def on_pause(f: Fit, logs: dict, stepped: bool) -> None:
        epoch, batch = logs["epoch"], logs["batch"]
        where = f"epoch {epoch}, batch {batch} of {f.n_batches}"
        message = (f"Stepped one batch: now after {where} (loss {logs['loss']:.4g})." if stepped
                   else f"Paused after {where}.") + " Step runs one batch; Resume goes on."
        set_progress(list(publish(f, "running", message, logs["history"], epoch, batch, paused=True,
                                  stepped=stepped)))
        # After the page has the halt: the model file, so that the run's progress so far is kept.
        full_now = join_history(history, logs["history"])
        keep_model(full_now)
        recorder.progress(full_now, model.epochs_trained, time.perf_counter() - started, force=True)

    def stop_asked() -> Optional[float]:
        # Stop, or the server that started this run stopped (a job outliving its server trains for nobody).
        return store.stop_requested(session_id) or (time.time() if beating.orphaned else None)

    control = RunControl(session_id, model, on_pause, lambda f, logs: f.position(logs), stop_asked,
                         start_paused=start_paused)
    fit = Fit(model, prepared, spec["training"], stop_asked, on_publish,
              on_epoch=on_epoch, after_batch=after_batch, control=control)
    set_progress(list(publish(fit, "running", f"{note}: starting", {}, 0, 0)))
    _yield_to_the_page()
    run_history = fit.run()
    full = join_history(history, run_history)
    state, message = fit.outcome(run_history, time.perf_counter() - started)
    if beating.orphaned and fit.stopped is not None:
        message = " ".join(part for part in ("Stopped when the server that started it stopped.",
                                             run_history.get("stop_reason"), "The model keeps what it learned.")
                           if part)
    if control.changes:
        message += " Changed during the run: " + "; ".join(
            f"{c['text']} at batch {c['batch']}" for c in control.changes) + "."
    epochs_done = len(run_history["train_loss"])
    # The page shows the end at once; the metrics (a pass over the validation data) follow.
    set_progress(list(publish(fit, state, message, run_history, epochs_done, fit.n_batches)))
    found = metrics(model, prepared.validation[0], prepared.y_val) if prepared.validation else {}
    evaluate()
    model_file = keep_model(full)
    state_now, version = publish(fit, state, message, run_history, epochs_done, fit.n_batches, metrics=found)
    if fit.stopped is not None:
        state_now["stop_latency_s"] = fit.stopped
        log.info("stop flag seen %.3f s after it was raised", fit.stopped)
    store.clear_stop(session_id)
    set_progress([state_now, version])      # the page has the metrics while the record is written
    _finish_record(recorder, fit, model, spec, prepared, state, message, full, found, model_file,
                   time.perf_counter() - started)
    return state_now, version


def run_trial(spec: dict, *, search_id: Optional[int] = None, trial: Optional[int] = None,
              params: Optional[dict] = None, session_id: Optional[str] = None,
              name: Optional[str] = None) -> Optional[int]:
    """Train one trial of a search: a fresh model of ``spec``, recorded in the database
    (the CSV, for a CSV data set, from ``session_id``'s run cache). Its progress goes to
    the run cache (``store.put_run_progress``) for the Experiments section; Stop search
    (``store.request_search_stop``) ends it after the batch it is on. Returns the run's
    id (None when the database could not be written)."""
    started = time.perf_counter()
    recorder = Recorder(spec, session=session_id, search_id=search_id, trial=trial, params=params or {},
                        name=name)
    if recorder.run_id is None:
        return None
    run_id = recorder.run_id
    try:
        prepared = load_prepared(spec, session_id) if session_id or spec["data"]["name"] != data_mod.CSV_OPTION \
            else None
        if prepared is None:
            raise ValueError("data: a search over an uploaded CSV needs the tab that uploaded it")
        model = spec_mod.build_model(spec)

        def report(fit: Fit, run_history: dict, epoch: int, batch: int) -> None:
            store.put_run_progress(run_id, {
                "epoch": epoch, "epochs": fit.epochs, "batch": batch, "batches": fit.n_batches,
                "loss": fit.trace.y[-1] if fit.trace.y else None, "elapsed": fit.elapsed})
            recorder.progress(join_history(empty_history(model.is_classifier), run_history),
                              model.epochs_trained, time.perf_counter() - started)

        def stop_asked() -> Optional[float]:
            return store.search_stop_requested(search_id) if search_id is not None else None

        fit = Fit(model, prepared, spec["training"], stop_asked, report,
                  on_epoch=lambda f, run_history, epoch: recorder.progress(
                      run_history, model.epochs_trained, time.perf_counter() - started))
        report(fit, {}, 0, 0)
        run_history = fit.run()
        history = join_history(empty_history(model.is_classifier), run_history)
        state, message = fit.outcome(run_history, time.perf_counter() - started)
        found = metrics(model, prepared.validation[0], prepared.y_val) if prepared.validation else {}
        _finish_record(recorder, fit, model, spec, prepared, state, message, history, found,
                       model_bytes(model, spec, history, prepared.summary), time.perf_counter() - started)
    except BaseException as exc:
        if not isinstance(exc, Exception):
            recorder.failed(exc, time.perf_counter() - started)
            raise
        log.error("trial %s of search %s failed:\n%s", trial, search_id, traceback.format_exc())
        recorder.failed(exc, time.perf_counter() - started)
    finally:
        store.clear_run_progress(run_id)
    return run_id
