"""Load weights saved by Keras 3 into an engine model.

Keras 3 writes the weights of a model (``model.save_weights("m.weights.h5")``,
or the ``model.weights.h5`` member of a ``model.save("m.keras")`` zip) as an
HDF5 tree::

    layers/conv2d/vars/0        kernel (kh, kw, in, out)
    layers/conv2d/vars/1        bias
    layers/max_pooling2d/vars   (empty group: no weights)
    layers/conv2d_1/vars/0 ...
    layers/lstm/cell/vars/0..2  kernel, recurrent kernel, bias
    layers/bidirectional/forward_layer/cell/vars/0..2
    layers/bidirectional/backward_layer/cell/vars/0..2

A top-level layer's group is named after its Keras class in snake case
(``Conv2D -> conv2d``, ``MaxPooling2D -> max_pooling2d``, ``SimpleRNN ->
simple_rnn``), with ``_1``, ``_2``, ... appended for the second, third, ...
layer of the same class, in model order (the layer's own ``name`` is not
used). HDF5 lists groups alphabetically, so the model order is rebuilt from
these names: from ``config.json`` for a ``.keras`` file, otherwise from the
engine model's own layers (``keras_class_name`` class attribute when the engine
class is named differently from Keras', e.g. ``MaxPool2D``).

Only h5py is needed (imported when a file is read); Keras itself is not.
"""
from __future__ import annotations

import io
import json
import os
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

# Sub-groups read before the others (then alphabetical): Keras' own weight
# order for a Bidirectional wrapper is the forward layer's, then the backward one's.
CHILD_ORDER = ("forward_layer", "backward_layer")

# Engine classes whose Keras counterpart has another name (layers may also set
# a ``keras_class_name`` class attribute, which wins).
KERAS_CLASS_NAMES = {
    "MaxPool2D": "MaxPooling2D",
    "AvgPool2D": "AveragePooling2D",
    "GlobalMaxPool2D": "GlobalMaxPooling2D",
    "GlobalAvgPool2D": "GlobalAveragePooling2D",
}


class KerasWeightsError(ValueError):
    """A Keras file that cannot be read or does not fit the model."""


@dataclass
class KerasLayerWeights:
    """The weights of one top-level Keras layer, as found in the file."""

    group: str                         # e.g. "layers/conv2d_1"
    class_name: Optional[str] = None   # e.g. "Conv2D" (known for .keras files)
    arrays: list[np.ndarray] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)   # one per array, relative to ``group``

    @property
    def shapes(self) -> list[tuple[int, ...]]:
        return [a.shape for a in self.arrays]


def keras_snake_case(class_name: str) -> str:
    """Keras' ``naming.to_snake_case``: ``MaxPooling2D -> max_pooling2d``."""
    name = re.sub(r"\W+", "", class_name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def keras_class_name(layer: Any) -> str:
    """The Keras class a layer of the engine corresponds to."""
    own = getattr(type(layer), "keras_class_name", "")
    return own or KERAS_CLASS_NAMES.get(type(layer).__name__, type(layer).__name__)


def _unique_names(class_names: list[str]) -> list[str]:
    """Keras' group names for layers of these classes, in model order."""
    used: dict[str, int] = {}
    out = []
    for cls in class_names:
        base = keras_snake_case(cls)
        k = used.get(base, 0)
        out.append(base if k == 0 else f"{base}_{k}")
        used[base] = k + 1
    return out


def _natural_key(name: str) -> list:
    """``vars/10`` after ``vars/9``: digit runs compare as numbers."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name) if part]


def _collect(group: Any, prefix: str, arrays: list, paths: list) -> None:
    """Depth first: the group's own ``vars/0, vars/1, ...``, then its sub-groups
    (``forward_layer``, ``backward_layer`` first, the rest alphabetically)."""
    import h5py

    own = group.get("vars")
    if isinstance(own, h5py.Group):
        for key in sorted(own, key=_natural_key):
            if isinstance(own[key], h5py.Dataset):
                arrays.append(np.asarray(own[key][()]))
                paths.append(f"{prefix}vars/{key}")
    children = [k for k in group if k != "vars" and isinstance(group[k], h5py.Group)]
    children.sort(key=lambda k: (CHILD_ORDER.index(k) if k in CHILD_ORDER else len(CHILD_ORDER), _natural_key(k)))
    for key in children:
        _collect(group[key], f"{prefix}{key}/", arrays, paths)


def _open(path: Any) -> tuple[Any, Optional[list[str]], str]:
    """``(h5 source, Keras class names in model order or None, description)``."""
    where = os.fspath(path)
    if not os.path.exists(where):
        raise KerasWeightsError(f"{where}: no such file")
    if zipfile.is_zipfile(where):
        try:
            with zipfile.ZipFile(where) as zf:
                names = zf.namelist()
                if "model.weights.h5" not in names:
                    raise KerasWeightsError(f"{where} is a zip file without model.weights.h5 "
                                            f"(found {', '.join(names) or 'nothing'}): not a .keras model")
                data = zf.read("model.weights.h5")
                config = json.loads(zf.read("config.json")) if "config.json" in names else None
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            if isinstance(exc, KerasWeightsError):
                raise
            raise KerasWeightsError(f"{where} is not a readable .keras file: {exc}") from None
        return io.BytesIO(data), _config_classes(config), where
    return where, None, where


def _config_classes(config: Any) -> Optional[list[str]]:
    """The top-level layer classes of a ``.keras`` ``config.json``, in order."""
    try:
        layers = config["config"]["layers"]
        classes = [spec["class_name"] for spec in layers]
    except (KeyError, TypeError):
        return None
    return [c for c in classes if c != "InputLayer"]


def _read(path: Any) -> tuple[dict[str, KerasLayerWeights], Optional[list[str]], str]:
    """``({group key: weights}, Keras class names from a .keras config or None, path)``."""
    try:
        import h5py
    except ImportError:
        raise ImportError("reading Keras weights needs the h5py package (pip install h5py)") from None
    source, config_classes, where = _open(path)
    try:
        fh = h5py.File(source, "r")
    except OSError as exc:
        raise KerasWeightsError(f"{where} is not an HDF5 weights file (.weights.h5) or .keras model: {exc}") from None
    with fh:
        top = fh.get("layers")
        if not isinstance(top, h5py.Group):
            raise KerasWeightsError(f"{where} has no 'layers' group: not a Keras 3 weights file "
                                    f"(top-level keys: {', '.join(fh.keys()) or 'none'})")
        entries = {}
        for key in top:
            arrays: list[np.ndarray] = []
            paths: list[str] = []
            if isinstance(top[key], h5py.Group):
                _collect(top[key], "", arrays, paths)
            entries[key] = KerasLayerWeights(f"layers/{key}", None, arrays, paths)
    return entries, config_classes, where


def _in_order(entries: dict[str, KerasLayerWeights], class_names: list[str]) -> list[KerasLayerWeights]:
    ordered = []
    for cls, key in zip(class_names, _unique_names(class_names)):
        entry = entries.get(key) or KerasLayerWeights(f"layers/{key}")
        entry.class_name = cls
        ordered.append(entry)
    return ordered


def read_keras_weights(path: Any, class_names: Optional[list[str]] = None) -> list[KerasLayerWeights]:
    """The top-level layer groups of a Keras 3 ``.weights.h5`` or ``.keras`` file.

    With the Keras class names of the model's layers in order (``class_names``,
    or else the config of a ``.keras`` file) the list is in model order, one
    entry per layer (an empty one where the file has no group); otherwise it
    holds every group in file (alphabetical) order. Each entry's ``arrays``
    are ordered as described in :func:`load_keras_weights`.
    """
    entries, config_classes, _ = _read(path)
    class_names = class_names if class_names is not None else config_classes
    if class_names is None:
        return [entries[k] for k in sorted(entries, key=_natural_key)]
    return _in_order(entries, list(class_names))


def load_keras_weights(model: Any, path: Any) -> Any:
    """Copy the weights of a Keras 3 model file into ``model`` (a built ``Sequential``).

    ``path`` is a ``.weights.h5`` file (``keras_model.save_weights``) or a
    ``.keras`` file (``keras_model.save``). The Keras model must have the same
    layers with weights, in the same order (parameter-free layers such as
    Dropout, Flatten or pooling may differ in a ``.keras`` file). For each
    engine layer that has parameters, in model order, this calls
    ``layer.set_keras_weights(arrays)`` with the list of NumPy arrays stored
    under that layer's group, in this order:

    1. the group's own variables ``vars/0, vars/1, ...`` (numerically);
    2. then, recursively in the same way, each sub-group: ``forward_layer``
       first, ``backward_layer`` second, any others alphabetically.

    That is the order of ``keras_layer.get_weights()``: ``[kernel, bias]`` for
    Dense and Conv2D (``[kernel]`` with ``use_bias=False``), ``[embeddings]``
    for Embedding, ``[kernel, recurrent_kernel, bias]`` for SimpleRNN and LSTM
    (stored under ``cell/vars``), and for Bidirectional the forward layer's
    three arrays followed by the backward layer's three. Arrays keep the file's
    dtype (float32); the layer's parameter views convert on assignment.

    Layers are matched through Keras' group names (see the module docstring):
    for a ``.keras`` file the Keras layers with weights, in its config's order,
    pair with the engine layers with parameters; for a ``.weights.h5`` file each
    engine layer reads the group its Keras counterpart would have written
    (``keras_class_name``). A mismatch raises :class:`KerasWeightsError` (a
    ValueError) naming the layer index, the Keras group, the expected and the
    found shapes; the model's weights are then left as they were. Returns ``model``.
    """
    entries, config_classes, where = _read(path)
    ours = [(i, layer) for i, layer in enumerate(model.layers) if layer.param_names]
    with_weights = sorted((k for k, e in entries.items() if e.arrays), key=_natural_key)

    if config_classes is not None:
        # .keras: the config gives Keras' layer order; pair the layers with weights in order.
        keras_side = [e for e in _in_order(entries, config_classes) if e.arrays]
        if len(keras_side) != len(ours):
            raise KerasWeightsError(
                f"{where} has {len(keras_side)} layers with weights "
                f"({', '.join(str(e.class_name) for e in keras_side) or 'none'}), the model has {len(ours)} "
                f"({', '.join(type(l).__name__ for _, l in ours) or 'none'})")
        pairs = [(i, layer, entry) for (i, layer), entry in zip(ours, keras_side)]
    else:
        # .weights.h5: model.layers[i] reads the group named after its Keras class.
        found = _in_order(entries, [keras_class_name(layer) for layer in model.layers])
        pairs = []
        for i, layer in ours:
            entry = found[i]
            if not entry.arrays:
                raise KerasWeightsError(
                    f"{where}: layer {i} ({type(layer).__name__}) expects Keras weights in group "
                    f"'{entry.group}', which the file does not have (groups with weights: "
                    f"{', '.join(with_weights) or 'none'})")
            pairs.append((i, layer, entry))
        used = {f"layers/{k}" for k in with_weights} - {entry.group for _, _, entry in pairs}
        if used:
            raise KerasWeightsError(f"{where} holds weights for Keras layers the model does not have: "
                                    f"{', '.join(sorted(used, key=_natural_key))}")

    flat = getattr(model, "_flat_params", None)
    backup = None if flat is None else flat.copy()
    for i, layer, entry in pairs:
        expected = [tuple(getattr(layer, n).shape) for n in layer.param_names]
        try:
            layer.set_keras_weights(list(entry.arrays))
        except ValueError as exc:
            if backup is not None:
                flat[...] = backup
            kind = f" ({entry.class_name})" if entry.class_name else ""
            raise KerasWeightsError(
                f"{where}: layer {i} ({type(layer).__name__}) does not match Keras layer '{entry.group}'{kind}: "
                f"expected shapes {expected} ({', '.join(layer.param_names)}), found {entry.shapes} ({exc})") from None
    return model


__all__ = ["KerasLayerWeights", "KerasWeightsError", "keras_class_name", "load_keras_weights", "read_keras_weights"]
