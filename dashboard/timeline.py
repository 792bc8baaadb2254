"""A run's history inside the network: what every layer looked like at every snapshot.

The training job adds one *step* per snapshot it publishes (``Timeline.add``); for every
layer with a weight matrix the timeline keeps

* the histogram of its weights, of their gradients and of the layer's activations on a
  fixed probe batch, on **fixed bins** chosen when the layer is first seen (so no step is
  ever re-binned; values beyond the outer edges are counted in the outer bins and in
  ``outside``);
* the percentiles of each (max, 93, 84, 69, 50, 31, 16, 7, min: TensorBoard's
  distribution bands), from the values themselves, not from the bins;
* its health (``engine.health.layer_health`` on the probe batch: gradient norm,
  update:data ratio, activation statistics, dead and saturated units);
* a *frame* - the model's parameters and gradients as float32 copies, for scrubbing the
  panels back to that step - as long as the frames fit ``FRAME_BUDGET_BYTES``.

At most ``MAX_STEPS`` steps are kept: past it every other step of the older half is
dropped (the first and the newest always stay), so the recent past keeps every step and
the run's whole length stays in view, sparser the further back. Frames
are thinned the same way, within their own budget; step 0 - the initial weights, exactly
- is never dropped.

Memory per run: ``MAX_STEPS`` x layers x 3 kinds x (``BINS`` counts + 9 percentiles),
about 100 KB a layer, plus the frames' budget. The timeline itself is plain data
(``to_dict``) that the run cache keeps for the page; each frame is a cache entry of its
own (``store.put_frame``), so a new step writes one frame, not all of them.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np

from engine import health

BINS = 40
MAX_STEPS = 1024
FRAME_BUDGET_BYTES = 64 * 2**20
KINDS = ("params", "grads", "acts")
PERCENTILES = (100, 93, 84, 69, 50, 31, 16, 7, 0)
# Activation ranges of the bounded functions; the rest take theirs from the first step.
BOUNDED = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0), "softmax": (0.0, 1.0)}
RANGE_MARGIN = 3.0       # an open range spans this many times the first step's largest value


def _layer_kernels(model: Any) -> list[tuple[int, str]]:
    """(layer index, kernel name) of every layer with a weight matrix."""
    return [(k, name) for k, layer in enumerate(model.layers) if (name := health.kernel_param(layer)) is not None]


def _edges_for(values: np.ndarray, kind: str, activation: Optional[str]) -> np.ndarray:
    """Fixed bin edges for one layer and kind, from its first values."""
    if kind == "acts" and activation in BOUNDED:
        low, high = BOUNDED[activation]
    else:
        finite = values[np.isfinite(values)]
        top = float(np.max(np.abs(finite))) if finite.size else 0.0
        if kind == "acts" and activation == "relu":
            low, high = 0.0, max(RANGE_MARGIN * top, 1e-3)
        else:
            span = max(RANGE_MARGIN * top, 1e-6 if kind == "grads" else 1e-3)
            low, high = -span, span
    return np.linspace(low, high, BINS + 1)


def _counts(values: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, int]:
    """Counts on fixed edges, the values beyond them in the outer bins; and how many were beyond."""
    finite = values[np.isfinite(values)]
    index = np.searchsorted(edges, finite, side="right") - 1
    outside = int(np.count_nonzero((index < 0) | (index >= BINS)) + (values.size - finite.size))
    np.clip(index, 0, BINS - 1, out=index)
    return np.bincount(index, minlength=BINS).astype(np.uint32), outside


def _percentiles(values: np.ndarray) -> np.ndarray:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.full(len(PERCENTILES), np.nan)
    return np.percentile(finite, PERCENTILES)


class Timeline:
    """Histograms, percentiles and frames of a run's layers, one step per snapshot."""

    def __init__(self, model: Any, probe_X: Optional[np.ndarray] = None, max_steps: int = MAX_STEPS,
                 frame_budget: int = FRAME_BUDGET_BYTES):
        self.layers = _layer_kernels(model)
        self.activations = [model.layers[k].get_config().get("activation") for k, _ in self.layers]
        self.probe_X = probe_X
        self.max_steps, self.frame_budget = max_steps, frame_budget
        self.steps: list[int] = []            # batches trained when the step was taken
        self.epochs: list[float] = []         # fractional epochs
        self.edges: dict[str, list[Optional[np.ndarray]]] = {kind: [None] * len(self.layers) for kind in KINDS}
        self._counts: dict[str, list[list[np.ndarray]]] = {kind: [[] for _ in self.layers] for kind in KINDS}
        self._bands: dict[str, list[list[np.ndarray]]] = {kind: [[] for _ in self.layers] for kind in KINDS}
        self._outside: dict[str, list[list[int]]] = {kind: [[] for _ in self.layers] for kind in KINDS}
        self.health: list[dict] = []              # engine.health.layer_health per step
        self.frames: list[tuple[int, int]] = []   # (step, frame serial) of the kept frames
        self._frame_serial = 0
        self.frame_bytes = sum(getattr(model.layers[k], n).size for k, layer in enumerate(model.layers)
                               for n in layer.param_names) * 4 * 2

    # -- adding a step ---------------------------------------------------------------------------------
    def _values(self, model: Any, activations: Optional[list[np.ndarray]]) -> dict[str, list[np.ndarray]]:
        out: dict[str, list[np.ndarray]] = {kind: [] for kind in KINDS}
        for k, name in self.layers:
            layer = model.layers[k]
            out["params"].append(np.asarray(getattr(layer, name)).ravel())
            out["grads"].append(np.asarray(getattr(layer, "grad_" + name)).ravel())
            out["acts"].append(np.asarray(activations[k]).ravel() if activations is not None
                               else np.empty(0))
        return out

    def add(self, model: Any, step: int, epoch: float,
            put_frame: Optional[Callable[[int, dict], None]] = None,
            drop_frame: Optional[Callable[[int], None]] = None,
            update: Optional[dict] = None) -> None:
        """Keep this moment of the model: after ``step`` batches (``epoch`` in fractional
        epochs). ``put_frame(serial, frame)`` stores the frame, ``drop_frame(serial)``
        forgets one the budget no longer holds; ``update`` (layer index -> the kernel's
        last change, ``engine.health.update_capture``) gives the update:data ratios."""
        activations = model.layer_outputs(self.probe_X) if self.probe_X is not None else None
        if self.probe_X is not None:
            self.health.append({"step": int(step), "epoch": float(epoch),
                                "layers": health.layer_health(model, self.probe_X, update, activations)})
        values = self._values(model, activations)
        self.steps.append(int(step))
        self.epochs.append(float(epoch))
        for kind in KINDS:
            for i, v in enumerate(values[kind]):
                if self.edges[kind][i] is None and (v.size and (kind != "grads" or np.any(v))):
                    self.edges[kind][i] = _edges_for(v, kind, self.activations[i])
                edges = self.edges[kind][i]
                if edges is None:      # no gradient yet (step 0), or no probe
                    counts, outside = np.zeros(BINS, dtype=np.uint32), 0
                else:
                    counts, outside = _counts(v, edges)
                self._counts[kind][i].append(counts)
                self._outside[kind][i].append(outside)
                self._bands[kind][i].append(_percentiles(v) if v.size else np.full(len(PERCENTILES), np.nan))
        if put_frame is not None:
            self._add_frame(model, int(step), put_frame, drop_frame)
        if len(self.steps) > self.max_steps:
            self._thin()

    def _add_frame(self, model: Any, step: int, put_frame: Callable, drop_frame: Optional[Callable]) -> None:
        frame = {"step": step, "layers": [
            {"params": {n: np.array(getattr(layer, n), dtype=np.float32) for n in layer.param_names},
             "grads": {n: np.array(getattr(layer, "grad_" + n), dtype=np.float32) for n in layer.param_names}}
            for layer in model.layers]}
        serial = self._frame_serial
        self._frame_serial += 1
        put_frame(serial, frame)
        self.frames.append((step, serial))
        limit = max(2, self.frame_budget // max(self.frame_bytes, 1))
        if len(self.frames) > limit:
            # Every other frame after the first goes; the newest stays.
            keep = self.frames[:1] + self.frames[1:-1][1::2] + self.frames[-1:]
            if drop_frame is not None:
                for gone in set(self.frames) - set(keep):
                    drop_frame(gone[1])
            self.frames = keep

    def _thin(self) -> None:
        """Every other step of the older half goes (the first stays): the newest half keeps
        every step, and the further back, the sparser - evenly within each stretch."""
        n = len(self.steps)
        keep = [0] + list(range(2, n // 2, 2)) + list(range(n // 2, n))
        self.steps = [self.steps[i] for i in keep]
        self.epochs = [self.epochs[i] for i in keep]
        if self.health:
            self.health = [self.health[i] for i in keep]
        for kind in KINDS:
            for i in range(len(self.layers)):
                self._counts[kind][i] = [self._counts[kind][i][j] for j in keep]
                self._bands[kind][i] = [self._bands[kind][i][j] for j in keep]
                self._outside[kind][i] = [self._outside[kind][i][j] for j in keep]

    # -- reading it ----------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain data for the run cache and the page's figures: per layer and kind,
        ``edges`` (BINS + 1), ``counts`` (steps x BINS, uint32), ``bands`` (steps x 9,
        the PERCENTILES), ``outside`` (steps); and ``steps``, ``epochs``, ``frames``."""
        layers = []
        for i, (k, name) in enumerate(self.layers):
            entry: dict[str, Any] = {"layer": k, "kernel": name, "activation": self.activations[i]}
            for kind in KINDS:
                entry[kind] = {
                    "edges": self.edges[kind][i],
                    "counts": np.array(self._counts[kind][i], dtype=np.uint32).reshape(-1, BINS),
                    "bands": np.array(self._bands[kind][i], dtype=np.float64).reshape(-1, len(PERCENTILES)),
                    "outside": np.array(self._outside[kind][i], dtype=np.int64)}
            layers.append(entry)
        return {"steps": list(self.steps), "epochs": list(self.epochs), "layers": layers,
                "frames": [list(f) for f in self.frames], "bins": BINS, "percentiles": list(PERCENTILES),
                "health": list(self.health),
                "has_activations": self.probe_X is not None}


def frame_snapshot(snapshot: dict, frame: dict) -> dict:
    """The snapshot (its config, data set, spec) with a kept frame's parameters and
    gradients: what the panels draw when scrubbed back to that step."""
    out = dict(snapshot)
    out["layers"] = [{**layer, "params": dict(kept["params"]), "grads": dict(kept["grads"])}
                     for layer, kept in zip(snapshot["layers"], frame["layers"])]
    out["step"] = frame["step"]
    return out
