"""Reading a model snapshot: the one data format every figure builder takes.

A snapshot is the plain data of ``engine.Sequential.snapshot()``, which the
dashboard extends with a few keys of its own (``docs/architecture.md`` has the
whole schema)::

    {"input_shape": [8, 8, 1], "loss": "cce", "epochs_trained": 3,
     "layers": [{"type": "Conv2D", "config": {...}, "input_shape": [8, 8, 1],
                 "output_shape": [6, 6, 8], "params": {"W": ndarray, "b": ndarray},
                 "grads": {"W": ndarray, "b": ndarray}}, ...],
     # optional, added by the dashboard:
     "dataset": {"name", "task", "kind", "class_names", "feature_names"},
     "spec": {...}, "status": "running", "version": 1733000000000}

Numbering: ``layer_index`` is the position in ``snapshot["layers"]`` (0-based, as
in the engine); titles call it "Layer <layer_index + 1>".
"""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import numpy as np

from engine import ACTIVATIONS, Sequential
from engine.model import layers_from_config


def activation_label(name: Optional[str]) -> Optional[str]:
    """``"relu"`` -> ``"ReLU"`` (the engine's own label); unknown names as they are."""
    if not name:
        return None
    activation = ACTIVATIONS.get(name)
    return activation.label if activation else str(name)


def _pair(value: Any) -> str:
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return f"{value[0]}×{value[1]}"
    return f"{value}×{value}"


def layer_summary(layer: Mapping[str, Any]) -> str:
    """A layer in a few words: ``"Dense 64, ReLU"``, ``"Conv2D 8 3×3, ReLU"``,
    ``"MaxPool2D 2×2"``, ``"Bidirectional LSTM 32"``, ``"Embedding 2,000→32"``."""
    kind, config = layer["type"], layer.get("config", {})
    if kind == "Bidirectional":
        inner = config.get("layer", {})
        return f"Bidirectional {layer_summary(inner)}, {config.get('merge_mode', 'concat')}"
    head = kind
    if "units" in config:
        head += f" {config['units']}"
    if "filters" in config:
        head += f" {config['filters']} {_pair(config.get('kernel_size'))}"
    if "pool_size" in config:
        head += f" {_pair(config['pool_size'])}"
    if kind == "Embedding":
        head += f" {config.get('input_dim', 0):,}→{config.get('output_dim')}"
    if kind == "Dropout":
        head += f" {config.get('rate', 0):g}"
    parts = [head]
    act = activation_label(config.get("activation"))
    if act and kind != "Bidirectional":
        parts.append(act)
    if config.get("rmsnorm"):
        parts.append("RMSNorm")
    if config.get("return_sequences"):
        parts.append("sequences")
    return ", ".join(parts)


def layer_label(snapshot: Mapping[str, Any], layer_index: int) -> str:
    """``"Layer 1 (Dense 64, ReLU)"`` for ``snapshot["layers"][0]``."""
    return f"Layer {layer_index + 1} ({layer_summary(snapshot['layers'][layer_index])})"


def kernel_name(arrays: Mapping[str, Any]) -> Optional[str]:
    """The weight ("W"-like) array of a layer: the first parameter with 2+ axes.
    Biases and gains (1-D) are not weights."""
    for name, value in arrays.items():
        if np.ndim(value) >= 2:
            return name
    return None


def layers_with_weights(snapshot: Mapping[str, Any]) -> list[int]:
    """Indices of the layers that have a weight array."""
    return [k for k, layer in enumerate(snapshot["layers"]) if kernel_name(layer.get("params", {})) is not None]


def check_layer_indices(snapshot: Mapping[str, Any], layers: Optional[Sequence[int]]) -> list[int]:
    """``layers`` as a list of valid layer indices (``None``: every layer with weights)."""
    n = len(snapshot["layers"])
    if layers is None:
        return layers_with_weights(snapshot)
    if isinstance(layers, (int, np.integer)) and not isinstance(layers, bool):
        layers = [layers]
    out = []
    for i in layers:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= i < n:
            raise ValueError(f"layers must hold layer indices from 0 to {n - 1} (got {i!r})")
        out.append(int(i))
    return out


def model_from_snapshot(snapshot: Mapping[str, Any]) -> Sequential:
    """A new engine ``Sequential`` with the snapshot's layers and parameters, for
    ``predict`` and ``layer_outputs`` (building one costs about a millisecond for
    the dashboard's networks)."""
    layers = snapshot["layers"]
    dtype = "float64" if any(np.asarray(a).dtype == np.float64 for l in layers
                             for a in l.get("params", {}).values()) else "float32"
    model = Sequential(layers_from_config(layers), tuple(snapshot["input_shape"]),
                       loss=snapshot.get("loss") or "mse", dtype=dtype, seed=0)
    for layer, entry in zip(model.layers, layers):
        for name in layer.param_names:
            setattr(layer, name, entry["params"][name])
    return model


def task_of(snapshot: Mapping[str, Any]) -> str:
    """"classification" or "regression": the dataset entry's word, else the loss's."""
    task = (snapshot.get("dataset") or {}).get("task")
    if task:
        return task
    return "classification" if snapshot.get("loss") in ("cce", "bce") else "regression"
