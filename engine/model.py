"""Sequential models: one layer/optimiser/training core shared by every network.

``Sequential`` chains layers; ``FFNN`` is the feed-forward network built from
``layer_sizes`` and ``activations``. Both have ``forward``, ``backward``,
``step``, ``predict``, ``fit``, ``save`` and ``load``.

All parameters and all gradients of a model live in two flat buffers (one for
values, one for gradients); each layer's ``W``, ``b``, ``grad_W``, ... are
views into them. The optimiser therefore updates the whole model in a few
array operations.
"""
from __future__ import annotations

import collections.abc
import io
import json
import math
import os
import re
import sys
import warnings
import zipfile
import zlib
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

import numpy as np

from .activations import get_activation
from .checks import is_int as _is_int, is_number as _is_number, seed as _check_seed
from .initializers import check_init
from .layers import LAYERS, ActivatedLayer, Dense, Layer
from .losses import get_loss
from .optimizers import make_optimizer

FORMAT = "backprop-studio-model"
FORMAT_VERSION = 1
DTYPES = {"float32": np.float32, "float64": np.float64}
PREDICT_CHUNK = 4096
# Inference chunks hold at most this many values in any one layer's output.
PREDICT_VALUES = 1 << 24
# What a model file may hold (``Sequential.load`` refuses more before inflating or allocating it):
MAX_MODEL_FILE_BYTES = 2 << 30      # inflated bytes of all its members
MAX_META_BYTES = 16 << 20           # bytes of its JSON header
MAX_META_DEPTH = 64                 # nesting of lists and dicts in that header
MAX_MODEL_PARAMS = 10**9            # parameters of the model it describes
MAX_MODEL_LAYERS = 1000             # layers of that model
MAX_SAMPLE_VALUES = 10**7           # values of one sample going into any of its layers


class TrainingDivergedWarning(RuntimeWarning):
    """The loss became NaN or infinite; training stopped on the last finite weights."""


class ModelFileError(ValueError):
    """A file that is not a readable Backprop Studio model."""


def numeric_array(value: Any, argument: str) -> np.ndarray:
    """``value`` as a NumPy array of numbers (or booleans); ValueError naming ``argument``
    for ragged lists, strings and other non-numbers."""
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and other non-arrays
        raise ValueError(f"{argument} must be a numeric array ({exc})") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"{argument} must be a numeric array (got dtype {arr.dtype})")
    return arr


def _check_array(value: Any, argument: str) -> np.ndarray:
    arr = numeric_array(value, argument)
    if arr.ndim == 0 or arr.shape[0] == 0:
        raise ValueError(f"{argument} must hold at least one sample (got shape {arr.shape})")
    if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(f"{argument} must contain only finite numbers (found {arr[tuple(bad)]} at index {tuple(int(i) for i in bad)})")
    return arr


class Sequential:
    """A stack of layers trained with one loss and one optimiser.

    ``input_shape`` is the shape of one sample (no batch axis), e.g. ``(784,)``
    or ``(32, 32, 3)``. ``X`` given to the model has shape ``(batch, *input_shape)``.
    """

    def __init__(self, layers: Sequence[Layer], input_shape: Sequence[int], loss: str = "mse",
                 optimizer: str = "sgd", optimizer_params: Optional[Mapping[str, Any]] = None,
                 l1: float = 0.0, l2: float = 0.0, dtype: str = "float32", seed: Optional[int] = None):
        if not isinstance(layers, (list, tuple)) or not layers:
            raise ValueError("layers must be a non-empty list of layers")
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise ValueError(f"layers[{i}] must be a layer (got {type(layer).__name__})")
        if isinstance(input_shape, (int, np.integer)):
            input_shape = (input_shape,)
        if (not isinstance(input_shape, (list, tuple)) or not input_shape
                or not all(_is_int(n) and n > 0 for n in input_shape)):
            raise ValueError(f"input_shape must be a tuple of positive integers (got {input_shape!r})")
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)} (got {dtype!r})")
        for name, value in (("l1", l1), ("l2", l2)):
            if not _is_number(value) or value < 0:
                raise ValueError(f"{name} must be a number of at least 0 (got {value!r})")
        _check_seed(seed)
        self.loss_fn = get_loss(loss)
        self.loss = loss
        self.optimizer_name = optimizer
        self.optimizer = make_optimizer(optimizer, optimizer_params)
        self.optimizer_params = dict(self.optimizer.params)
        self.l1, self.l2 = float(l1), float(l2)
        self.dtype_name = dtype
        self.dtype = np.dtype(DTYPES[dtype])
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.layers: list[Layer] = list(layers)
        self.input_shape = tuple(int(n) for n in input_shape)
        self.epochs_trained = 0
        self.stop_training = False
        self.learning_rate: Optional[float] = None    # fit's, while it runs (a callback may change it)
        self.metadata: dict[str, Any] = {}
        self._build()

    # -- construction -------------------------------------------------------
    def _build(self) -> None:
        shape = self.input_shape
        for i, layer in enumerate(self.layers):
            layer_rng = self.rng
            seed = getattr(layer, "init_params", {}).get("seed") if hasattr(layer, "init_params") else None
            if seed is not None:
                layer_rng = np.random.default_rng(seed)
            try:
                shape = layer.build(shape, layer_rng, self.dtype)
            except ValueError as exc:
                raise ValueError(f"layers[{i}] ({type(layer).__name__}) cannot take input of shape {shape}: {exc}") from None
        self.output_shape = shape
        params = [(layer, name, getattr(layer, name)) for layer in self.layers for name in layer.param_names]
        total = sum(p.size for _, _, p in params)
        self._flat_params = np.zeros(total, dtype=self.dtype)
        self._flat_grads = np.zeros(total, dtype=self.dtype)
        offset = 0
        for layer, name, value in params:
            n = value.size
            view = self._flat_params[offset:offset + n].reshape(value.shape)
            view[...] = value
            layer.bind(name, view, self._flat_grads[offset:offset + n].reshape(value.shape))
            offset += n
        widest = max(int(np.prod(l.output_shape)) for l in self.layers)
        self._predict_chunk = int(max(1, min(PREDICT_CHUNK, PREDICT_VALUES // max(widest, 1))))
        last = self.layers[-1]
        self._fused = (isinstance(last, ActivatedLayer) and self.loss_fn.fused_activation is not None
                       and last.activation == self.loss_fn.fused_activation)
        self._out: Optional[np.ndarray] = None

    @property
    def n_params(self) -> int:
        return int(self._flat_params.size)

    @property
    def is_classifier(self) -> bool:
        return self.loss_fn.classification

    # -- data checks ----------------------------------------------------------
    def _check_inputs(self, X: Any, argument: str = "X") -> np.ndarray:
        arr = _check_array(X, argument)
        if arr.shape[1:] != self.input_shape:
            raise ValueError(f"{argument} must have shape (n_samples, {', '.join(map(str, self.input_shape))}) "
                             f"to match the input layer (got {arr.shape})")
        return arr.astype(self.dtype, copy=False)

    def _check_targets(self, Y: Any, n: int, argument: str = "Y") -> np.ndarray:
        arr = _check_array(Y, argument)
        out = self.output_shape
        if arr.shape[0] != n:
            raise ValueError(f"{argument} must have one row per sample of X ({n}), got {arr.shape[0]}")
        if self.loss == "cce" and arr.shape[1:] == out[:-1]:
            if not (np.issubdtype(arr.dtype, np.integer) or np.all(arr == np.round(arr))):
                raise ValueError(f"{argument} as class labels must be whole numbers")
            k = out[-1]
            if arr.min() < 0 or arr.max() >= k:
                raise ValueError(f"{argument} labels must be between 0 and {k - 1} for {k} output units "
                                 f"(got {arr.min()}..{arr.max()})")
            return np.eye(k, dtype=self.dtype)[arr.astype(np.int64)]
        if arr.shape[1:] == () and out == (1,):
            arr = arr.reshape(-1, 1)
        if arr.shape[1:] != out:
            expected = f"(n_samples, {', '.join(map(str, out))})"
            if self.loss == "cce":
                expected += " (one-hot) or (n_samples,) integer labels"
            raise ValueError(f"{argument} must have shape {expected} to match the output layer (got {arr.shape})")
        if self.loss == "bce" and (arr.min() < 0 or arr.max() > 1):
            raise ValueError(f"{argument} for loss 'bce' must lie between 0 and 1")
        return arr.astype(self.dtype, copy=False)

    # -- one step ---------------------------------------------------------------
    def forward(self, X: Any, training: bool = True) -> np.ndarray:
        """Batch forward pass ``(batch, *input_shape) -> (batch, *output_shape)`` that
        keeps what ``backward`` needs."""
        out = self._check_inputs(X)
        return self._forward(out, training)

    def _forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        mask = None
        for layer in self.layers:
            layer.mask = mask
            x = layer.forward(x, training)
            mask = layer.output_mask(mask)
        self._out = x
        return x

    def backward(self, Y: Any) -> float:
        """Chain rule through every layer for the last ``forward``; fills each
        layer's ``grad_*`` and returns the loss (regularisation included)."""
        if self._out is None:
            raise ValueError("backward needs a forward pass first: call model.forward(X)")
        return self._backward(self._check_targets(Y, self._out.shape[0]))

    def _backward(self, Y: np.ndarray) -> float:
        last = self.layers[-1]
        P = self._out
        if self._fused:
            loss = self.loss_fn.fused_value(last._u, Y)
            grad = self.loss_fn.fused_grad(P, Y).astype(self.dtype, copy=False)
        else:
            loss = self.loss_fn.value(P, Y)
            grad = self.loss_fn.grad(P, Y).astype(self.dtype, copy=False)
        for i in range(len(self.layers) - 1, -1, -1):
            layer = self.layers[i]
            kwargs = {"from_preactivation": True} if (self._fused and i == len(self.layers) - 1) else {}
            grad = layer.backward(grad, need_input_grad=i > 0, **kwargs)
        return loss + self._regularize()

    def _regularized(self) -> Iterable[tuple[np.ndarray, np.ndarray]]:
        """(weights, gradient) of every array L1/L2 applies to."""
        for layer in self.layers:
            for name in layer.regularized:
                yield getattr(layer, name), getattr(layer, "grad_" + name)

    def _regularize(self) -> float:
        """Add the L1/L2 gradients to every weight matrix; return the penalty."""
        if not (self.l1 or self.l2):
            return 0.0
        for W, gW in self._regularized():
            if self.l1:
                gW += self.l1 * np.sign(W)
            if self.l2:
                gW += (2 * self.l2) * W
        return self._penalty()

    def _penalty(self) -> float:
        """``l1 * sum|W| + l2 * sum(W^2)`` over the weight matrices."""
        if not (self.l1 or self.l2):
            return 0.0
        return sum(self.l1 * float(np.abs(W).sum()) + self.l2 * float(np.vdot(W, W))
                   for W, _ in self._regularized())

    def step(self, learning_rate: float) -> None:
        """One optimiser update from the gradients of the last ``backward``."""
        if not _is_number(learning_rate) or learning_rate <= 0:
            raise ValueError(f"learning_rate must be a number greater than 0 (got {learning_rate!r})")
        self.optimizer.step([(self._flat_params, self._flat_grads)], float(learning_rate))

    def predict(self, X: Any, batch_size: Optional[int] = None) -> np.ndarray:
        """The output layer's activations for ``X``, computed in chunks, inference mode."""
        X = self._check_inputs(X)
        if batch_size is not None and (not _is_int(batch_size) or batch_size < 1):
            raise ValueError(f"batch_size must be a positive integer (got {batch_size!r})")
        return self._predict(X, batch_size or self._predict_chunk)

    def _predict(self, X: np.ndarray, batch_size: int) -> np.ndarray:
        parts = [self._forward(X[i:i + batch_size], training=False).copy()
                 for i in range(0, X.shape[0], batch_size)]
        self._out = None
        return np.concatenate(parts)

    def _metrics_on(self, X: np.ndarray, Y: np.ndarray) -> dict[str, float]:
        """Loss (with penalty) and, for classifiers, accuracy of prepared arrays."""
        batch_size = self._predict_chunk
        total, correct, n = 0.0, 0.0, X.shape[0]
        for i in range(0, n, batch_size):
            P = self._forward(X[i:i + batch_size], training=False)
            Yb = Y[i:i + batch_size]
            if self._fused:
                total += self.loss_fn.fused_value(self.layers[-1]._u, Yb) * len(Yb)
            else:
                total += self.loss_fn.value(P, Yb) * len(Yb)
            if self.is_classifier:
                correct += _accuracy(P, Yb, self.loss) * len(Yb)
        self._out = None
        out = {"loss": total / n + self._penalty()}
        if self.is_classifier:
            out["accuracy"] = correct / n
        return out

    def layer_outputs(self, X: Any) -> list[np.ndarray]:
        """Every layer's output for ``X`` in inference mode, in layer order (copies).

        After this call the recurrent layers also hold their per-step states for
        ``X`` (``SimpleRNN.sequence_states()``, ``LSTM.sequence_states()``): the
        feature maps and hidden states of one sample, as a person inspects them."""
        x = self._check_inputs(X)
        outputs, mask = [], None
        for layer in self.layers:
            layer.mask = mask
            x = layer.forward(x, training=False)
            mask = layer.output_mask(mask)
            outputs.append(np.array(x))
        self._out = None
        return outputs

    def evaluate(self, X: Any, Y: Any) -> dict[str, float]:
        """Mean loss (regularisation included) and, for classifiers, accuracy."""
        Xc = self._check_inputs(X)
        return self._metrics_on(Xc, self._check_targets(Y, Xc.shape[0]))

    # -- training ---------------------------------------------------------------
    def fit(self, X: Any, Y: Any, batch_size: int = 32, learning_rate: float = 0.01, epochs: int = 1,
            verbose: int = 1, validation_data: Optional[tuple[Any, Any]] = None, shuffle: bool = True,
            seed: Optional[int] = 0, error_threshold: Optional[float] = None,
            callbacks: Optional[Iterable[Any]] = None) -> dict[str, list[float]]:
        """Mini-batch training. Returns the history: ``train_loss`` and ``val_loss``
        per epoch (plus ``train_accuracy``/``val_accuracy`` for classifiers).

        Callbacks are objects with ``on_batch_end(model, logs)`` and/or
        ``on_epoch_end(model, logs)``, or callables ``f(model, logs)`` with
        ``logs["event"]`` in ``("batch", "epoch")``. Setting
        ``model.stop_training = True`` in one stops training after that batch.
        ``fit`` keeps its learning rate in ``model.learning_rate``: a callback that sets it
        (or ``model.l1``, ``model.l2``) changes it from the next batch on.
        """
        X = self._check_inputs(X)
        Y = self._check_targets(Y, X.shape[0])
        if not _is_int(batch_size) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer (got {batch_size!r})")
        if not _is_number(learning_rate) or learning_rate <= 0:
            raise ValueError(f"learning_rate must be a number greater than 0 (got {learning_rate!r})")
        if not _is_int(epochs) or epochs < 0:
            raise ValueError(f"epochs must be a non-negative integer (got {epochs!r})")
        if verbose not in (0, 1):
            raise ValueError(f"verbose must be 0 (silent) or 1 (progress bar) (got {verbose!r})")
        _check_seed(seed)
        if error_threshold is not None and (not _is_number(error_threshold) or error_threshold < 0):
            raise ValueError(f"error_threshold must be None or a number of at least 0 (got {error_threshold!r})")
        val = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError("validation_data must be a pair (X_val, Y_val)")
            Xv = self._check_inputs(validation_data[0], "validation_data X")
            val = (Xv, self._check_targets(validation_data[1], Xv.shape[0], "validation_data Y"))
        hooks = _callback_hooks(callbacks)
        if seed is None:
            seed = int(np.random.default_rng().integers(2**31))

        history: dict[str, Any] = {"train_loss": [], "val_loss": []}
        if self.is_classifier:
            history.update(train_accuracy=[], val_accuracy=[])
        n = X.shape[0]
        n_batches = math.ceil(n / batch_size)
        self.stop_training = False
        bar = _progress_bar(n_batches) if verbose else None
        pairs = [(self._flat_params, self._flat_grads)]
        self.learning_rate = float(learning_rate)
        try:
            # Overflow is reported once, as a divergence message, not as NumPy warnings.
            with np.errstate(over="ignore", invalid="ignore"):
                for e in range(epochs):
                    epoch_index = self.epochs_trained
                    order = (np.random.default_rng([seed, epoch_index]).permutation(n) if shuffle else None)
                    total = correct = 0.0
                    if bar is not None:
                        bar.start_epoch(e + 1, epochs)
                    for b in range(n_batches):
                        idx = order[b * batch_size:(b + 1) * batch_size] if shuffle else slice(b * batch_size, (b + 1) * batch_size)
                        Xb, Yb = X[idx], Y[idx]
                        lr = float(self.learning_rate)
                        P = self._forward(Xb, training=True)
                        loss = self._backward(Yb)
                        reason = self._divergence(loss, e + 1, b + 1, lr)
                        if reason:
                            history["stop_reason"] = reason
                            warnings.warn(reason, TrainingDivergedWarning, stacklevel=2)
                            return history
                        self.optimizer.step(pairs, lr)
                        m = len(Yb)
                        total += loss * m
                        if self.is_classifier:
                            correct += _accuracy(P, Yb, self.loss) * m
                        if bar is not None:
                            bar.update(total / min(n, (b + 1) * batch_size))
                        if hooks:
                            logs = {"event": "batch", "epoch": e + 1, "epochs": epochs, "batch": b + 1,
                                    "batches": n_batches, "loss": loss, "history": history}
                            for on_batch, _ in hooks:
                                on_batch(self, logs)
                        if self.stop_training:
                            history["stop_reason"] = f"Stopped during epoch {e + 1}, after batch {b + 1} of {n_batches}."
                            return history
                    self.epochs_trained += 1
                    history["train_loss"].append(total / n)
                    if self.is_classifier:
                        history["train_accuracy"].append(correct / n)
                    if val is not None:
                        metrics = self._metrics_on(*val)
                        history["val_loss"].append(metrics["loss"])
                        if self.is_classifier:
                            history["val_accuracy"].append(metrics["accuracy"])
                    if bar is not None:
                        bar.end_epoch(history)
                    if hooks:
                        logs = {"event": "epoch", "epoch": e + 1, "epochs": epochs, "batch": n_batches,
                                "batches": n_batches, "loss": total / n, "history": history}
                        for _, on_epoch in hooks:
                            on_epoch(self, logs)
                    if self.stop_training:
                        history["stop_reason"] = f"Stopped after epoch {e + 1}."
                        return history
                    if error_threshold is not None and total / n <= error_threshold:
                        history["stop_reason"] = (f"Stopped after epoch {e + 1}: the training loss {total / n:.6g} "
                                                  f"reached error_threshold {error_threshold}.")
                        return history
                return history
        finally:
            if bar is not None:
                bar.close()

    def _divergence(self, loss: float, epoch: int, batch: int, lr: float) -> Optional[str]:
        """A message when this batch's loss or gradients are not finite, else None."""
        if math.isfinite(loss) and math.isfinite(float(np.dot(self._flat_grads, self._flat_grads))):
            self._stepped = True    # fit updates the weights next
            return None
        what = "loss" if not math.isfinite(loss) else "gradient"
        became = loss if what == "loss" else "infinite"
        head = f"Training stopped at epoch {epoch}, batch {batch}: the {what} became {became}"
        finite = bool(np.isfinite(self._flat_params).all())
        # At this fit's first batch nothing has updated the weights yet: no learning rate is to blame
        # for weights that are already NaN, nor for the first loss of weights never trained.
        if epoch == 1 and batch == 1 and (not finite or self._never_stepped()):
            cause = ("the weights or the inputs are too large to compute with" if finite
                     else "the weights are not finite (NaN or infinite)")
            return (f"{head} before any update: {cause}. No learning rate fixes that; start from other "
                    f"weights (re-initialise or load another model){' or scale the inputs' if finite else ''}.")
        last = ("The weights are those of the last finite step." if finite
                else "The last update left the weights NaN or infinite.")
        return (f"{head}. A learning rate too large for this network (here {lr:g}) is the usual cause; "
                f"try a smaller one. {last}")

    def _never_stepped(self) -> bool:
        """No update ever reached these weights, as far as the model knows (a file keeps
        trained epochs and the optimiser's state, not a plain-SGD step within epoch 1)."""
        return self.epochs_trained == 0 and not getattr(self, "_stepped", False) and not self.optimizer.state

    # -- inspection -------------------------------------------------------------
    def summary(self, print_fn: Callable[[str], Any] = print) -> str:
        """A table of layers, output shapes and parameter counts (printed and returned)."""
        rows = [("Layer", "Output shape", "Params")]
        for i, layer in enumerate(self.layers):
            rows.append((f"{i}: {layer.describe()}", str((None,) + tuple(layer.output_shape)), f"{layer.n_params:,}"))
        widths = [max(len(r[c]) for r in rows) for c in range(3)]
        lines = [f"{type(self).__name__}: input {(None,) + self.input_shape}, loss {self.loss}, "
                 f"optimizer {self.optimizer_name}, {self.dtype_name}"]
        for j, r in enumerate(rows):
            lines.append("  ".join(r[c].ljust(widths[c]) for c in range(3)))
            if j == 0:
                lines.append("-" * (sum(widths) + 4))
        lines.append(f"Total parameters: {self.n_params:,}")
        text = "\n".join(lines)
        if print_fn is not None:
            print_fn(text)
        return text

    def snapshot(self) -> dict[str, Any]:
        """Plain-data copy of the model for drawing: config and, per layer, its
        parameters and gradients (copies, safe to keep while training goes on)."""
        layers = []
        for layer in self.layers:
            entry = {"type": type(layer).__name__, "config": layer.get_config(),
                     "input_shape": list(layer.input_shape), "output_shape": list(layer.output_shape),
                     "params": {}, "grads": {}}
            for name in layer.param_names:
                entry["params"][name] = np.array(getattr(layer, name))
                entry["grads"][name] = np.array(getattr(layer, "grad_" + name))
            layers.append(entry)
        return {"input_shape": list(self.input_shape), "loss": self.loss, "layers": layers,
                "epochs_trained": self.epochs_trained}

    def load_keras_weights(self, path: Any) -> None:
        """Copy the weights of a Keras 3 model of the same architecture
        (``.weights.h5`` or ``.keras``) into this model's layers."""
        from .keras_io import load_keras_weights
        load_keras_weights(self, path)

    # -- saving -------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """The model as plain data: ``{"input_shape", "layers": [{"type", "config"}, ...],
        "loss", "optimizer", "optimizer_params", "l1", "l2", "dtype", "seed"}``.
        :meth:`Sequential.from_config` builds a new model (fresh weights) from it; for an
        ``FFNN`` too, whose saved files keep its own ``layer_sizes`` form."""
        return Sequential._model_config(self)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "Sequential":
        """A new ``Sequential`` from :meth:`get_config`'s plain data."""
        if not isinstance(config, Mapping):
            raise ValueError(f"config must be a dict (got {type(config).__name__})")
        missing = [k for k in ("input_shape", "layers") if k not in config]
        if missing:
            raise ValueError(f"config lacks {', '.join(missing)}")
        if not isinstance(config["layers"], (list, tuple)) or not all(isinstance(l, Mapping) and "type" in l
                                                                      for l in config["layers"]):
            raise ValueError("config layers must be a list of {\"type\": ..., \"config\": {...}}")
        defaults = {"loss": "mse", "optimizer": "sgd", "optimizer_params": None, "l1": 0.0, "l2": 0.0,
                    "dtype": "float32", "seed": None}
        try:
            return Sequential._from_model_config({**defaults, **dict(config)})
        except TypeError as exc:   # an argument a layer does not take
            raise ValueError(f"config does not describe a model: {exc}") from None

    def _model_config(self) -> dict[str, Any]:
        return {"layers": [{"type": type(l).__name__, "config": l.get_config()} for l in self.layers],
                "input_shape": list(self.input_shape), "loss": self.loss, "optimizer": self.optimizer_name,
                "optimizer_params": self.optimizer_params, "l1": self.l1, "l2": self.l2,
                "dtype": self.dtype_name, "seed": self.seed}

    @classmethod
    def _from_model_config(cls, config: dict[str, Any]) -> "Sequential":
        layers = layers_from_config(config["layers"])
        kwargs = {k: config[k] for k in ("loss", "optimizer", "optimizer_params", "l1", "l2", "dtype", "seed")}
        return Sequential(layers, tuple(config["input_shape"]), **kwargs)

    def save(self, path: Any, metadata: Optional[Mapping[str, Any]] = None) -> None:
        """Write the model to one ``.npz`` file (or binary file object): configuration,
        every parameter and gradient, optimiser state and training counters. No pickle.

        ``metadata`` (JSON-able plain data, e.g. how the data were prepared) is kept
        with the model; ``load`` gives it back as ``model.metadata``."""
        metadata = self.metadata if metadata is None else metadata
        if not isinstance(metadata, Mapping):
            raise ValueError(f"metadata must be a dict of plain data (got {type(metadata).__name__})")
        metadata = dict(metadata)
        try:
            json.dumps(metadata, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"metadata must be JSON-able plain data ({exc})") from None
        arrays: dict[str, np.ndarray] = {}
        for i, layer in enumerate(self.layers):
            for name in layer.param_names:
                arrays[f"param/{i}/{name}"] = np.asarray(getattr(layer, name))
                arrays[f"grad/{i}/{name}"] = np.asarray(getattr(layer, "grad_" + name))
        scalars = {}
        for key, value in self.optimizer.state_dict().items():
            if isinstance(value, list):
                for j, arr in enumerate(value):
                    arrays[f"opt/{key}/{j}"] = arr
            else:
                scalars[key] = value
        meta = {"format": FORMAT, "version": FORMAT_VERSION, "class": type(self).__name__,
                "model": self._model_config(), "optimizer_state": scalars,
                "epochs_trained": self.epochs_trained, "rng_state": _jsonable(self.rng.bit_generator.state),
                "metadata": metadata}
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
        if isinstance(path, (str, os.PathLike)):
            with open(path, "wb") as fh:
                np.savez(fh, **arrays)
        else:
            np.savez(path, **arrays)

    @classmethod
    def load(cls, path: Any) -> "Sequential":
        """Rebuild a model saved with ``save``. A corrupt or foreign file raises
        ``ModelFileError`` (a ValueError); nothing in the file is executed.

        The file is checked before anything is inflated or allocated: its member
        names and sizes, its header (at most ``MAX_META_BYTES``), the parameter count
        of the model it describes (at most ``MAX_MODEL_PARAMS``) and each array's npy
        header, which must declare the dtype and exact shape the model needs."""
        where = os.fspath(path) if isinstance(path, (str, os.PathLike)) else "the file"
        try:
            archive = zipfile.ZipFile(path)
        except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError) as exc:
            raise ModelFileError(f"{where} is not a Backprop Studio model file (.npz): {exc}") from None
        try:
            with archive:
                members = _model_members(archive)
                if "meta" not in members:
                    raise ModelFileError("it has no meta.npy header")
                meta = _read_meta(archive, members.pop("meta"))
                if meta.get("format") != FORMAT:
                    raise ModelFileError("its header does not say backprop-studio-model")
                version = meta.get("version", 0)
                if not _is_int(version):
                    raise ModelFileError(f"its format version is {_short(version)}, not a whole number")
                if version > FORMAT_VERSION:
                    raise ModelFileError(f"it was written by a newer version (format {version})")
                klass = MODEL_CLASSES.get(meta.get("class")) if isinstance(meta.get("class"), str) else None
                if klass is None or not issubclass(klass, cls):
                    raise ModelFileError(f"it holds a {_short(meta.get('class'))} model, not a {cls.__name__}")
                _check_meta_fields(meta)
                plan, itemsize = _planned_params(klass, meta["model"])
                _check_array_members(archive, members, plan, itemsize)
                model = klass._from_model_config(meta["model"])
                model._restore(_MemberArrays(archive, members), meta)
        except ModelFileError as exc:
            raise ModelFileError(f"{where} is not a usable Backprop Studio model: {exc}") from None
        except (KeyError, TypeError, ValueError, AttributeError, UnicodeDecodeError, IndexError,
                OverflowError) as exc:
            raise ModelFileError(f"{where} is not a usable Backprop Studio model: damaged content ({type(exc).__name__}: {exc})") from None
        return model

    def _restore(self, arrays: Mapping[str, np.ndarray], meta: dict[str, Any]) -> None:
        for i, layer in enumerate(self.layers):
            for name in layer.param_names:
                for kind, target in (("param", name), ("grad", "grad_" + name)):
                    key = f"{kind}/{i}/{name}"
                    if key not in arrays:
                        raise ModelFileError(f"array {key} is missing")
                    arr = arrays[key]
                    view = getattr(layer, target)
                    problem = _array_problem(key, arr.shape, arr.dtype, view.shape)
                    if problem:
                        raise ModelFileError(problem)
                    view[...] = arr
        state: dict[str, Any] = dict(meta.get("optimizer_state", {}))
        lists: dict[str, list] = {}
        for key in sorted(k for k in arrays if k.startswith("opt/")):
            _, name, j = key.split("/")
            lists.setdefault(name, []).append((int(j), arrays[key].astype(self.dtype)))
        for name, items in lists.items():
            items.sort(key=lambda t: t[0])
            arrs = [a for _, a in items]
            if any(a.shape != self._flat_params.shape for a in arrs):
                raise ModelFileError(f"optimiser state {name} does not match the parameters")
            state[name] = arrs
        self.optimizer.load_state_dict(state)
        self.epochs_trained = int(meta.get("epochs_trained", 0))
        metadata = meta.get("metadata")
        metadata = {} if metadata is None else metadata
        if not isinstance(metadata, dict):
            raise ModelFileError("its metadata is not a dict")
        self.metadata = metadata
        if "rng_state" in meta:
            self.rng.bit_generator.state = meta["rng_state"]


# -- reading model files: everything is checked before it is inflated or allocated --------
# A member save writes: meta.npy, param/<layer>/<name>.npy, grad/<layer>/<name>.npy, opt/<name>/<j>.npy.
_MEMBER_NAME = re.compile(r"(meta|(?:param|grad)/\d{1,6}/[A-Za-z_]\w{0,63}|opt/[A-Za-z_]\w{0,63}/\d{1,6})\.npy",
                          re.ASCII)
_NPY_HEADER_BYTES = 10_000      # numpy's own limit for an npy header (save writes ~128 bytes)


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _model_members(archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """The members by name without ``.npy``, from the zip directory alone (nothing inflated):
    only names ``save`` writes, none twice, at most ``MAX_MODEL_FILE_BYTES`` inflated in all."""
    members: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in archive.infolist():
        found = _MEMBER_NAME.fullmatch(info.filename)
        if not found:
            raise ModelFileError(f"it holds a member {_short(info.filename)}, which is not part of a model file")
        key = found.group(1)
        if key in members:
            raise ModelFileError(f"member {key} appears twice")
        members[key] = info
        total += info.file_size
    if total > MAX_MODEL_FILE_BYTES:
        raise ModelFileError(f"its members inflate to {total:,} bytes, more than the {MAX_MODEL_FILE_BYTES:,} "
                             f"a model file may hold")
    return members


def _check_npy_header(archive: zipfile.ZipFile, info: zipfile.ZipInfo, key: str,
                      problem: Callable[[tuple[int, ...], np.dtype], Optional[str]]) -> None:
    """Read only a member's npy header: ``problem(shape, dtype)`` must find nothing wrong with
    the array it declares, and the member's size must be that header plus the array's bytes."""
    fmt = np.lib.format
    try:
        with archive.open(info) as fh:
            version = fmt.read_magic(fh)
            if version not in ((1, 0), (2, 0)):
                raise ModelFileError(f"member {key} is an npy file of format {version}, not 1.0 or 2.0")
            length_bytes = fh.read(2 if version == (1, 0) else 4)
            length = int.from_bytes(length_bytes, "little")
            if length > _NPY_HEADER_BYTES:
                raise ModelFileError(f"member {key} has an array header of {length:,} bytes")
            reader = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            shape, _, dtype = reader(io.BytesIO(length_bytes + fh.read(length)))
    except ModelFileError:
        raise
    except (OSError, ValueError, EOFError, RuntimeError, NotImplementedError, zipfile.BadZipFile, zlib.error) as exc:
        raise ModelFileError(f"member {key} is not a readable npy array ({exc})") from None
    found = problem(shape, dtype)
    if found:
        raise ModelFileError(found)
    expected = fmt.MAGIC_LEN + len(length_bytes) + length + math.prod(shape) * dtype.itemsize
    if info.file_size != expected:
        raise ModelFileError(f"member {key} declares {info.file_size:,} bytes; its shape {shape} of {dtype} "
                             f"takes {expected:,}")


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, key: str) -> np.ndarray:
    """The array of a member whose header was checked (no pickle)."""
    try:
        with archive.open(info) as fh:
            return np.lib.format.read_array(fh, allow_pickle=False)
    except (OSError, ValueError, EOFError, RuntimeError, NotImplementedError, zipfile.BadZipFile, zlib.error) as exc:
        raise ModelFileError(f"member {key} cannot be read ({exc})") from None


def _read_meta(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> dict[str, Any]:
    """The JSON header: at most ``MAX_META_BYTES`` bytes, nested at most ``MAX_META_DEPTH`` deep."""
    def problem(shape: tuple[int, ...], dtype: np.dtype) -> Optional[str]:
        if dtype != np.uint8 or len(shape) != 1:
            return f"its header meta holds {dtype} of shape {shape}, not text (uint8 bytes)"
        if shape[0] > MAX_META_BYTES:
            return f"its header meta has {shape[0]:,} bytes, more than the {MAX_META_BYTES:,} allowed"
        return None

    _check_npy_header(archive, info, "meta", problem)
    text = _read_member(archive, info, "meta").tobytes().decode("utf-8")
    too_deep = f"its header meta nests lists or dicts deeper than {MAX_META_DEPTH} levels"
    try:
        meta = json.loads(text)
    except RecursionError:
        raise ModelFileError(too_deep) from None
    except ValueError as exc:
        raise ModelFileError(f"its header meta is not JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise ModelFileError("its header meta is not a JSON object")
    stack = [(meta, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > MAX_META_DEPTH:
                raise ModelFileError(too_deep)
            stack.extend((v, depth + 1) for v in (value.values() if isinstance(value, dict) else value))
    return meta


def _check_meta_fields(meta: dict[str, Any]) -> None:
    """The header's counters and optimiser numbers, before anything is built from it."""
    epochs = meta.get("epochs_trained", 0)
    if not _is_int(epochs) or epochs < 0:
        raise ModelFileError(f"its epochs_trained is {_short(epochs)}, not a non-negative integer")
    state = meta.get("optimizer_state", {})
    if not isinstance(state, dict):
        raise ModelFileError("its optimizer_state is not a dict")
    for key, value in state.items():
        if not _is_number(value):
            raise ModelFileError(f"its optimizer_state {_short(key)} is {_short(value)}, not a finite number")
    if not isinstance(meta.get("model"), dict):
        raise ModelFileError("its header has no model config (a dict)")


def _planned_params(klass: type, config: dict[str, Any]) -> tuple[dict[str, tuple[int, ...]], int]:
    """``{"<layer>/<name>": shape}`` of every parameter the config's model will have, and its
    dtype's item size, worked out from the config alone: nothing is built or allocated."""
    dtype = config.get("dtype", "float32")
    if dtype not in DTYPES:
        raise ModelFileError(f"its model dtype is {_short(dtype)}, not one of {', '.join(DTYPES)}")
    plan: dict[str, tuple[int, ...]] = {}
    total = 0

    def add(i: int, what: str, shapes: dict[str, tuple[int, ...]]) -> None:
        nonlocal total
        for name, shape in shapes.items():
            plan[f"{i}/{name}"] = shape
            total += math.prod(shape)
        if total > MAX_MODEL_PARAMS:
            raise ModelFileError(f"its model config declares over {MAX_MODEL_PARAMS:,} parameters "
                                 f"({total:,} up to layer {i}, {what})")

    if issubclass(klass, FFNN):
        sizes = config.get("layer_sizes")
        if (not isinstance(sizes, list) or not 2 <= len(sizes) <= MAX_MODEL_LAYERS + 1
                or not all(_is_int(n) and n > 0 for n in sizes)):
            raise ModelFileError(f"its model layer_sizes {_short(sizes)} are not 2 to {MAX_MODEL_LAYERS + 1} "
                                 f"positive integers")
        for i, (n_in, n) in enumerate(zip(sizes, sizes[1:])):
            shapes = {"W": (n_in, n), "b": (n,)}
            if config.get("rmsnorm") and i < len(sizes) - 2:
                shapes["g"] = (n,)
            add(i, f"Dense({n})", shapes)
    else:
        specs, shape = config.get("layers"), config.get("input_shape")
        if not isinstance(specs, list) or not 1 <= len(specs) <= MAX_MODEL_LAYERS:
            raise ModelFileError(f"its model config does not list 1 to {MAX_MODEL_LAYERS} layers")
        if not isinstance(shape, list) or not shape or not all(_is_int(n) and n > 0 for n in shape):
            raise ModelFileError(f"its model input_shape {_short(shape)} is not a list of positive integers")
        shape = tuple(int(n) for n in shape)
        rng = np.random.default_rng(0)
        for i, layer in enumerate(layers_from_config(specs)):   # constructors only: nothing allocated
            if math.prod(shape) > MAX_SAMPLE_VALUES:
                raise ModelFileError(f"layer {i} ({type(layer).__name__}) takes samples of shape {shape}, "
                                     f"more than {MAX_SAMPLE_VALUES:,} values")
            add(i, type(layer).__name__, _layer_param_shapes(layer, shape))
            shape = _layer_output_shape(layer, shape, rng)
    return plan, np.dtype(DTYPES[dtype]).itemsize


def _layer_param_shapes(layer: Layer, shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    """The shapes ``layer.build(shape, ...)`` gives its parameters, without building it."""
    from .conv import Conv2D
    from .recurrent import Bidirectional, Embedding, LSTM, SimpleRNN
    n_in = shape[-1]
    if isinstance(layer, Dense):
        return {name: (n_in, layer.units) if name == "W" else (layer.units,) for name in layer.param_names}
    if isinstance(layer, Conv2D):
        return {"W": (*layer.kernel_size, n_in, layer.filters), "b": (layer.filters,)}
    if isinstance(layer, Embedding):
        return {"W": (layer.input_dim, layer.output_dim)}
    if isinstance(layer, (SimpleRNN, LSTM)):
        n = layer.units * layer.gates
        return {"W": (n_in, n), "U": (layer.units, n), "b": (n,)}
    if isinstance(layer, Bidirectional):
        inner = _layer_param_shapes(layer.forward_layer, shape)
        return {f"{side}_{name}": s for side in ("forward", "backward") for name, s in inner.items()}
    if layer.param_names:
        raise ModelFileError(f"a {type(layer).__name__} layer cannot be sized before it is built")
    return {}


def _layer_output_shape(layer: Layer, shape: tuple[int, ...], rng: np.random.Generator) -> tuple[int, ...]:
    """The shape of one sample after ``layer``: a layer without parameters is built (it
    allocates nothing of note), one with parameters only checks its input and computes."""
    from .conv import Conv2D
    try:
        if not layer.param_names:
            return tuple(layer.build(shape, rng, np.float32))
        if isinstance(layer, Conv2D):
            layer._set_geometry(layer, shape, layer.kernel_size, layer.strides, layer.padding, "kernel_size")
        elif layer.takes == "sequence" and len(shape) != 2:
            raise ValueError(f"it needs a sequence (steps, features) per sample")
        return tuple(layer.compute_output_shape(shape))
    except ValueError as exc:
        raise ModelFileError(f"its {type(layer).__name__} layer cannot take input of shape {shape}: {exc}") from None


def _array_problem(key: str, shape: tuple[int, ...], dtype: np.dtype, needed: tuple[int, ...]) -> Optional[str]:
    """Why an array (or an npy header) does not fit the model, else None."""
    if dtype.kind != "f" or dtype.fields is not None:
        what = {"param": "weights", "grad": "gradients", "opt": "optimiser states"}[key.split("/")[0]]
        return f"member {key} holds {dtype} numbers; {what} must be floating point"
    if tuple(shape) != tuple(needed):
        whose = "the optimiser state" if key.startswith("opt/") else "the layer"
        return f"member {key} has shape {tuple(shape)}: {whose} needs {tuple(needed)}"
    return None


def _check_array_members(archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo],
                         plan: dict[str, tuple[int, ...]], itemsize: int) -> None:
    """Every parameter and gradient is there and no other; each member's npy header declares
    a floating-point array of exactly the shape the model needs (optimiser states: one value
    per parameter). Only headers are read."""
    n_params = sum(math.prod(s) for s in plan.values())
    if 2 * n_params * itemsize > MAX_MODEL_FILE_BYTES:
        raise ModelFileError(f"its model's {n_params:,} weights and gradients take {2 * n_params * itemsize:,} "
                             f"bytes, more than the {MAX_MODEL_FILE_BYTES:,} a model file may hold")
    for key in members:
        kind, _, rest = key.partition("/")
        if kind in ("param", "grad") and rest not in plan:
            raise ModelFileError(f"member {key} is not a parameter of this model")
    for rest in plan:
        for kind in ("param", "grad"):
            if f"{kind}/{rest}" not in members:
                raise ModelFileError(f"array {kind}/{rest} is missing")
    for key, info in members.items():
        needed = (n_params,) if key.startswith("opt/") else plan[key.partition("/")[2]]
        _check_npy_header(archive, info, key, lambda shape, dtype: _array_problem(key, shape, dtype, needed))


class _MemberArrays(collections.abc.Mapping):
    """The checked array members of a model file by name; each is inflated when it is used."""

    def __init__(self, archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo]):
        self._archive, self._members = archive, members

    def __getitem__(self, key: str) -> np.ndarray:
        return _read_member(self._archive, self._members[key], key)

    def __contains__(self, key: object) -> bool:
        return key in self._members

    def __iter__(self):
        return iter(self._members)

    def __len__(self) -> int:
        return len(self._members)


class FFNN(Sequential):
    """A feed-forward network of dense layers.

    ``layer_sizes`` lists the input size, each hidden size and the output size;
    ``activations`` gives one activation per layer after the input. With
    ``rmsnorm`` every hidden layer normalises its pre-activation.
    """

    def __init__(self, layer_sizes: Sequence[int], activations: Sequence[str] | str = "relu",
                 loss: str = "mse", init: str = "xavier", init_params: Optional[Mapping[str, Any]] = None,
                 optimizer: str = "sgd", optimizer_params: Optional[Mapping[str, Any]] = None,
                 l1: float = 0.0, l2: float = 0.0, rmsnorm: bool = False, dtype: str = "float32"):
        if not isinstance(layer_sizes, (list, tuple)) or len(layer_sizes) < 2:
            raise ValueError("layer_sizes must list at least an input and an output size, e.g. [2, 8, 1]")
        for i, n in enumerate(layer_sizes):
            if not _is_int(n) or n < 1:
                raise ValueError(f"layer_sizes[{i}] must be a positive integer (got {n!r})")
        n_layers = len(layer_sizes) - 1
        if isinstance(activations, str):
            activations = [activations] * n_layers
        if not isinstance(activations, (list, tuple)) or len(activations) != n_layers:
            got = len(activations) if isinstance(activations, (list, tuple)) else repr(activations)
            raise ValueError(f"activations must give one activation per layer after the input "
                             f"({n_layers}), got {got}")
        for i, a in enumerate(activations):
            get_activation(a, f"activations[{i}]")
        params = check_init(init, init_params)
        seed = params.pop("seed", None)
        self.config = {"layer_sizes": [int(n) for n in layer_sizes], "activations": list(activations),
                       "loss": loss, "init": init, "init_params": dict(init_params or {}),
                       "optimizer": optimizer, "optimizer_params": dict(optimizer_params or {}),
                       "l1": l1, "l2": l2, "rmsnorm": bool(rmsnorm), "dtype": dtype}
        layers = [Dense(n, activation=a, init=init, init_params=params,
                        rmsnorm=bool(rmsnorm) and i < n_layers - 1)
                  for i, (n, a) in enumerate(zip(layer_sizes[1:], activations))]
        super().__init__(layers, (int(layer_sizes[0]),), loss=loss, optimizer=optimizer,
                         optimizer_params=optimizer_params, l1=l1, l2=l2, dtype=dtype, seed=seed)
        self.layer_sizes = self.config["layer_sizes"]
        self.activations = self.config["activations"]

    def _model_config(self) -> dict[str, Any]:
        return dict(self.config)

    @classmethod
    def _from_model_config(cls, config: dict[str, Any]) -> "FFNN":
        return FFNN(**config)


MODEL_CLASSES: dict[str, type[Sequential]] = {"Sequential": Sequential, "FFNN": FFNN}


def layers_from_config(specs: Iterable[Mapping[str, Any]]) -> list[Layer]:
    """New layers from ``[{"type": ..., "config": {...}}, ...]`` (a saved file's or a snapshot's)."""
    layers = []
    for spec in specs:
        if spec["type"] not in LAYERS:
            raise ModelFileError(f"unknown layer type {spec['type']!r}")
        layers.append(LAYERS[spec["type"]].from_config(dict(spec.get("config", {}))))
    return layers


def _accuracy(P: np.ndarray, Y: np.ndarray, loss: str) -> float:
    if loss == "cce":
        return float(np.mean(P.argmax(axis=-1) == Y.argmax(axis=-1)))
    return float(np.mean((P > 0.5) == (Y > 0.5)))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (np.integer,)):
        return int(value)
    return value


def _callback_hooks(callbacks: Optional[Iterable[Any]]) -> list[tuple[Callable, Callable]]:
    """Normalise callbacks into (on_batch, on_epoch) function pairs."""
    if callbacks is None:
        return []
    if not isinstance(callbacks, (list, tuple)):
        raise ValueError("callbacks must be a list of callables or callback objects")
    hooks = []
    noop = lambda model, logs: None  # noqa: E731
    for i, cb in enumerate(callbacks):
        if hasattr(cb, "on_batch_end") or hasattr(cb, "on_epoch_end"):
            hooks.append((getattr(cb, "on_batch_end", noop), getattr(cb, "on_epoch_end", noop)))
        elif callable(cb):
            hooks.append((cb, cb))
        else:
            raise ValueError(f"callbacks[{i}] must be callable or have on_batch_end/on_epoch_end")
    return hooks


class _progress_bar:
    """verbose=1: a tqdm bar per epoch with the running training loss and the
    validation loss (a plain text line when tqdm is not installed)."""

    def __init__(self, n_batches: int):
        self.n_batches = n_batches
        self.bar = None
        self.val = None
        try:
            from tqdm.auto import tqdm
            self.tqdm = tqdm
        except ImportError:
            self.tqdm = None

    def start_epoch(self, epoch: int, epochs: int) -> None:
        self.close()
        desc = f"Epoch {epoch}/{epochs}"
        if self.tqdm is not None:
            self.bar = self.tqdm(total=self.n_batches, desc=desc, unit="batch", leave=True, file=sys.stderr)
        else:
            self.desc = desc

    def update(self, running_loss: float) -> None:
        if self.bar is not None:
            self.bar.update(1)
            if self.bar.n % 10 == 0 or self.bar.n == self.n_batches:
                post = {"loss": f"{running_loss:.4f}"}
                if self.val is not None:
                    post["val_loss"] = f"{self.val:.4f}"
                self.bar.set_postfix(post, refresh=False)
        self.running = running_loss

    def end_epoch(self, history: dict[str, list[float]]) -> None:
        self.val = history["val_loss"][-1] if history["val_loss"] else None
        post = {"loss": f"{history['train_loss'][-1]:.4f}"}
        if self.val is not None:
            post["val_loss"] = f"{self.val:.4f}"
        if self.bar is not None:
            self.bar.set_postfix(post)
        else:
            print(f"{self.desc}: " + ", ".join(f"{k} {v}" for k, v in post.items()), file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
