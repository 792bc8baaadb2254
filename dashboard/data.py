"""A spec's data: what the form needs to know about a data set, and the arrays a run
trains on.

* :func:`facts` - task, kind (table, image or text), sizes and names of the data set a
  spec's ``data`` part names, without loading more than it must (cached);
* :func:`input_shape` - the shape of one sample *for a given stack*: images keep
  their (height, width, channels) when the stack starts with a layer that takes
  images (``engine`` layers say so in ``Layer.takes``), text becomes token ids of the
  chosen sequence length, everything else is a flat row of features;
* :func:`prepare` - the run's arrays: the split (a data set's own validation split
  where it has one), the scaling fitted on the training part (per feature for tables,
  per channel for images, none for token ids), the targets the loss wants, and the
  *probe*: the few samples the panels draw (points for decision regions, images for
  feature maps, sentences for hidden states, the vocabulary for embeddings).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from engine import LAYERS, datasets
from engine.text import TextVectorizer

CSV_OPTION = "csv"
TABLE, IMAGE, TEXT = "table", "image", "text"
PROBE_SAMPLES = 24          # validation samples the panels can pick from
SPLIT_SEED = 0              # the same split for every run of a data set


def data_options() -> list[dict]:
    """The data set select's options: the engine's table, then the user's CSV."""
    options = []
    for name, info in datasets.DATASETS.items():
        label = info.get("label", name)
        download = datasets.download_info(name)
        if download:
            label += " (file found)" if download["available"] else f" (downloads {download['size']} on first use)"
        options.append({"label": label, "value": name})
    options.append({"label": "Your CSV file…", "value": CSV_OPTION})
    return options


def dataset_key(data: dict) -> str:
    """A string naming a data set and its parameters (a model continues only on the same key)."""
    if data["name"] == CSV_OPTION:
        return f"csv:{data.get('filename')}:{data.get('label')}"
    parts = [f"{k}={v}" for k, v in sorted(data.get("params", {}).items())]
    parts += [f"{k}={v}" for k, v in sorted((data.get("text") or {}).items())]
    return data["name"] + ":" + ",".join(parts)


# -- facts -------------------------------------------------------------------------------
def _dataset_facts(ds: datasets.Dataset) -> dict[str, Any]:
    return {"name": ds.name, "task": ds.task, "kind": ds.kind, "n_classes": ds.n_classes,
            "n_targets": 1 if ds.task == "classification" else int(ds.y.shape[1]),
            "class_names": list(ds.class_names), "feature_names": list(ds.feature_names),
            "n_features": ds.n_features, "image_shape": list(ds.image_shape) if ds.image_shape else None,
            "has_val_split": ds.has_val_split, "n_samples": ds.n_samples}


def _downloaded_facts(name: str, params: dict) -> Optional[dict[str, Any]]:
    """Facts of a downloaded image set (MNIST, CIFAR-10) from the engine's table: the
    form need not read 60,000 images (or fetch the file: the first run does) to know
    their shape."""
    info = datasets.DATASETS[name]
    if not datasets.download_info(name) or info.get("kind") != IMAGE:
        return None
    shape = info.get("image_shape")
    n = int(np.prod(shape)) if shape else 0
    return {"name": name, "task": info["task"], "kind": info.get("kind", TABLE), "n_classes": 10,
            "n_targets": 1, "class_names": [str(k) for k in range(10)], "feature_names": [],
            "n_features": n, "image_shape": list(shape) if shape else None, "has_val_split": False,
            "n_samples": params.get("n_samples")}


@functools.lru_cache(maxsize=64)
def _builtin_facts(name: str, params: tuple, text: tuple) -> dict[str, Any]:
    params_d = dict(params)
    known = _downloaded_facts(name, params_d)
    if known is not None:
        return known
    ds = datasets.load(name, **params_d)
    out = _dataset_facts(ds)
    if ds.kind == TEXT:
        settings = dict(text)
        vec = TextVectorizer(settings.get("max_tokens"), settings["sequence_length"]).fit(list(ds.X))
        out.update(vocab_size=vec.vocab_size, sequence_length=settings["sequence_length"])
    return out


def facts(data: dict, csv_meta: Optional[dict] = None) -> dict[str, Any]:
    """What a spec's ``data`` part gives a model: ``task``, ``kind``, ``n_classes``,
    ``n_targets``, ``class_names``, ``feature_names``, ``n_features``, ``image_shape``
    (images), ``vocab_size`` and ``sequence_length`` (text), ``has_val_split``.
    Raises ValueError / DatasetUnavailableError as the engine's loaders do."""
    if data["name"] == CSV_OPTION:
        out = {k: csv_meta[k] for k in ("task", "n_features", "n_classes", "n_targets", "class_names",
                                         "feature_names")}
        return {**out, "name": csv_meta.get("filename") or "csv", "kind": TABLE, "image_shape": None,
                "has_val_split": False}
    params = dict(data.get("params", {}))
    info = datasets.DATASETS[data["name"]]
    if info.get("kind", TABLE) == TABLE and "n_samples" in params:
        params["n_samples"] = 10      # only the shapes matter here: a few samples will do
    text = tuple(sorted((data.get("text") or {}).items()))
    return _builtin_facts(data["name"], tuple(sorted(params.items())), text)


def first_taker(layer_types: list[str]) -> Optional[str]:
    """What the first layer that is not shape-neutral wants (``Layer.takes``): "image",
    "sequence", "tokens", or None (Dense and Flatten take any shape)."""
    for kind in layer_types:
        cls = LAYERS.get(kind)
        if cls is None:
            return None
        if kind == "Dropout":
            continue
        return cls.takes
    return None


def input_shape(data_facts: dict, layer_types: list[str]) -> tuple[int, ...]:
    """One sample's shape for this stack (see the module docstring)."""
    if data_facts["kind"] == TEXT:
        return (int(data_facts["sequence_length"]),)
    if data_facts["kind"] == IMAGE and first_taker(layer_types) == "image":
        return tuple(int(n) for n in data_facts["image_shape"])
    return (int(data_facts["n_features"]),)


def output_units(data_facts: dict, loss: str) -> int:
    """Output units: one per class (a single sigmoid unit for 2 classes with bce), or one per target."""
    if data_facts["task"] != "classification":
        return int(data_facts["n_targets"])
    if loss == "bce" and data_facts["n_classes"] == 2:
        return 1
    return int(data_facts["n_classes"])


# -- the run's arrays ------------------------------------------------------------------------
@dataclass
class Prepared:
    """What a run trains on and what its panels draw."""

    X_train: np.ndarray
    Y_train: np.ndarray
    validation: Optional[tuple[np.ndarray, np.ndarray]]
    y_val: np.ndarray                      # validation labels (class indices) or targets
    summary: dict[str, Any]                # the snapshot's "dataset" entry
    probe: dict[str, Any] = field(default_factory=dict)
    raw_val: Any = None                    # the validation inputs as the data set has them (images, texts)


def load(data: dict, csv_bytes: Optional[bytes] = None, csv_name: str = "data.csv") -> datasets.Dataset:
    """The data set a spec's ``data`` part names (the user's CSV from its bytes)."""
    if data["name"] == CSV_OPTION:
        if csv_bytes is None:
            raise ValueError("The uploaded CSV is no longer on the server; upload it again.")
        return datasets.load_csv(csv_bytes, data["label"], name=csv_name)
    return datasets.load(data["name"], **data.get("params", {}))


def summary(ds: datasets.Dataset) -> dict[str, Any]:
    """The ``dataset`` entry of a snapshot: what the panels need to label inputs and outputs."""
    return {"name": ds.name, "label": datasets.DATASETS.get(ds.name, {}).get("label", ds.name),
            "task": ds.task, "kind": ds.kind, "class_names": list(ds.class_names),
            "feature_names": list(ds.feature_names) if ds.kind == TABLE else [],
            "image_shape": list(ds.image_shape) if ds.kind == IMAGE and ds.image_shape else None}


def targets(y: np.ndarray, task: str, n_classes: int, loss: str, n_outputs: int) -> np.ndarray:
    """Targets in the form the loss wants: class indices (cce), a 0/1 column (bce
    with one output), one-hot rows (bce, mse on classes) or the values (regression)."""
    if task != "classification":
        return y.astype(np.float32)
    if loss == "cce":
        return y
    if n_outputs == 1:
        return y.reshape(-1, 1).astype(np.float32)
    return datasets.one_hot(y, n_classes)


def split(ds: datasets.Dataset, val_fraction: float) -> datasets.Split:
    """The run's train/validation split (the same for every run of these data)."""
    return datasets.train_val_test_split(ds, val_fraction=val_fraction, test_fraction=0.0, seed=SPLIT_SEED)


class _Scaler:
    """Standardisation fitted on the training part: per feature for tables, per channel
    for images (one mean and deviation per colour, so a picture keeps its look, whether
    the stack sees it as an image or as a flat row), none for token ids."""

    def __init__(self, ds: datasets.Dataset, shape: tuple[int, ...]):
        self.kind, self.shape = ds.kind, shape
        self.channels = int(ds.image_shape[-1]) if ds.kind == IMAGE and ds.image_shape else 1
        self.standardizer: Optional[datasets.Standardizer] = None

    def _columns(self, X: np.ndarray) -> np.ndarray:
        return X.reshape(-1, self.channels) if self.kind == IMAGE else X.reshape(len(X), -1)

    def fit(self, X: np.ndarray) -> "_Scaler":
        if self.kind != TEXT:
            self.standardizer = datasets.Standardizer().fit(self._columns(X))
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        if self.standardizer is None:
            return X.astype(np.float32).reshape((len(X),) + self.shape)
        return self.standardizer.transform(self._columns(X)).reshape((len(X),) + self.shape)


def prepare(spec: dict, ds: datasets.Dataset) -> Prepared:
    """The arrays of a run of ``spec`` on the loaded data set ``ds``."""
    data, model = spec["data"], spec["model"]
    shape = tuple(model["input_shape"])
    loss = model["loss"]
    n_outputs = int(model["layers"][-1]["config"]["units"])
    parts = split(ds, data.get("val_fraction", 0.2))
    vectorizer = None
    if ds.kind == TEXT:
        text = data["text"]
        vectorizer = TextVectorizer(text.get("max_tokens"), text["sequence_length"]).fit(list(parts.X_train))
        X_train_raw = vectorizer.transform(list(parts.X_train))
        X_val_raw = vectorizer.transform(list(parts.X_val))
    else:
        X_train_raw, X_val_raw = parts.X_train, parts.X_val
    scaler = _Scaler(ds, shape).fit(X_train_raw)
    X_train = scaler.transform(X_train_raw)
    Y_train = targets(parts.y_train, ds.task, ds.n_classes, loss, n_outputs)
    validation = None
    if len(parts.X_val):
        validation = (scaler.transform(X_val_raw), targets(parts.y_val, ds.task, ds.n_classes, loss, n_outputs))
    prepared = Prepared(X_train, Y_train, validation, parts.y_val, summary(ds), raw_val=parts.X_val)
    prepared.probe = _probe(ds, parts, scaler, shape, vectorizer, X_val_raw)
    return prepared


def _probe(ds: datasets.Dataset, parts: datasets.Split, scaler: _Scaler, shape: tuple[int, ...],
           vectorizer: Optional[TextVectorizer], X_val_raw: np.ndarray) -> dict[str, Any]:
    """The samples the panels draw (see the module docstring)."""
    probe: dict[str, Any] = {"name": ds.name, "kind": ds.kind, "input_shape": list(shape),
                             "class_names": list(ds.class_names)}
    if ds.kind == TABLE and ds.n_features <= 2 and scaler.standardizer is not None:
        probe["points"] = {"X_train": parts.X_train, "y_train": parts.y_train, "X_val": parts.X_val,
                           "y_val": parts.y_val, "standardizer": scaler.standardizer.to_dict()}
    source_X, source_y, raw = (parts.X_val, parts.y_val, X_val_raw) if len(parts.X_val) else \
        (parts.X_train, parts.y_train, None)
    n = min(PROBE_SAMPLES, len(source_X))
    if n == 0:
        return probe
    if raw is None:
        raw = vectorizer.transform(list(source_X[:n])) if vectorizer is not None else source_X
    samples: dict[str, Any] = {"inputs": scaler.transform(raw[:n]),
                               "labels": np.asarray(source_y[:n]).tolist()}
    if ds.kind == IMAGE and ds.image_shape:
        samples["images"] = np.asarray(source_X[:n], dtype=np.float32).reshape((n,) + tuple(ds.image_shape))
    if ds.kind == TEXT:
        samples["texts"] = [str(t) for t in source_X[:n]]
        samples["tokens"] = [_tokens(vectorizer, row) for row in raw[:n]]
    probe["samples"] = samples
    if vectorizer is not None:
        probe["vocabulary"] = list(vectorizer.vocabulary)
    return probe


def _tokens(vectorizer: TextVectorizer, ids: np.ndarray) -> list[str]:
    """The words the model sees for one row of ids (unknown words as [UNK], padding dropped)."""
    return [vectorizer.vocabulary[int(i)] for i in ids if int(i) != 0]


__all__ = ["CSV_OPTION", "IMAGE", "TABLE", "TEXT", "Prepared", "data_options", "dataset_key", "facts",
           "first_taker", "input_shape", "load", "output_units", "prepare", "split", "summary", "targets"]
