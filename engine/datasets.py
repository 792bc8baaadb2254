"""Data sets for Backprop Studio.

Every loader returns a :class:`Dataset`.  Its ``kind`` says what X holds; with N
samples and D features the shapes are:

* ``kind="table"`` (synthetic sets, iris, wine, breast_cancer, CSV):
  ``X`` float32 (N, D)
* ``kind="image"`` (digits, mnist, cifar10): ``X`` float32 (N, h*w*c), each row an
  image flattened in row-major (height, width, channel) order, so
  ``X.reshape(N, *ds.image_shape)`` gives the images; ``image_shape`` is
  (8, 8, 1) for digits, (28, 28, 1) for mnist and (32, 32, 3) for cifar10.
  mnist with ``flatten=False`` keeps X as (N, 28, 28).
* ``kind="text"`` (nusax): ``X`` a 1-D object array (N,) of Python str; a
  vectoriser (``engine.text.TextVectorizer``) turns it into numbers.

and ``y`` is int64 (N,) with values 0..n_classes-1 for classification, float32
(N, 1) for regression.  Some sets come with predefined splits: ``X_test`` /
``y_test`` (mnist, cifar10, nusax) and ``X_val`` / ``y_val`` (nusax), with the
same layout as X and y.

Sources:

* bundled with scikit-learn: ``digits``, ``iris``, ``wine``, ``breast_cancer``
* synthetic 2-D classification (our own NumPy code): ``moons``, ``circles``,
  ``xor``, ``spiral``, ``blobs``
* synthetic regression: ``linear``, ``sine``
* downloaded once if missing (:func:`download_info` tells where each file
  lives): ``mnist`` from a Keras-layout ``mnist.npz``, ``cifar10`` from the
  binary CIFAR-10 archive ``cifar-10-binary.tar.gz`` (read without unpacking it
  to disk, no pickle involved), ``nusax`` from the NusaX-Sentiment (Indonesian)
  train/valid/test CSVs
* the user's own numbers: :func:`load_csv`

Use :func:`load` with a name from :data:`DATASETS` (a table a web form can be
built from), then :func:`train_val_test_split`, :class:`Standardizer` and
:func:`one_hot` to prepare the arrays for training.

Only numpy and the standard library are imported here; scikit-learn and tqdm
are imported inside the functions that need them.
"""

from __future__ import annotations

import csv
import http.client
import io
import math
import numbers
import os
import re
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import numpy as np

__all__ = [
    "DATASETS",
    "Dataset",
    "DatasetUnavailableError",
    "CIFAR10_URL",
    "MAX_CSV_CELLS",
    "MNIST_URL",
    "NUSAX_URL",
    "Split",
    "Standardizer",
    "cifar10_available",
    "cifar10_path",
    "download_info",
    "load",
    "csv_columns",
    "load_csv",
    "load_digits",
    "load_iris",
    "load_wine",
    "load_breast_cancer",
    "load_moons",
    "load_circles",
    "load_xor",
    "load_spiral",
    "load_blobs",
    "load_linear",
    "load_sine",
    "load_mnist",
    "load_cifar10",
    "load_nusax_dataset",
    "mnist_available",
    "mnist_path",
    "nusax_available",
    "one_hot",
    "train_val_test_split",
    "user_data_dir",
]

CLASSIFICATION = "classification"
REGRESSION = "regression"


class DatasetUnavailableError(RuntimeError):
    """A data set's file is missing and could not be fetched (e.g. offline)."""


# --------------------------------------------------------------------------
# The Dataset container
# --------------------------------------------------------------------------


KINDS = ("table", "image", "text")


@dataclass
class Dataset:
    """Arrays plus the facts a model and a dashboard need about them.

    X: float32 (N, D) for tables; float32 (N, h*w*c) for images (row-major HWC,
       so ``X.reshape(N, *image_shape)`` gives the images; mnist with
       ``flatten=False``: (N, 28, 28)); a 1-D object array (N,) of str for text.
    y: int64 (N,) class indices for classification; float32 (N, 1) for regression.
    task: "classification" or "regression".
    n_classes: number of classes; 0 for regression.
    class_names: one name per class index (empty for regression).
    feature_names: one name per column of X (empty for text).
    X_test, y_test: a predefined test split (mnist, cifar10, nusax), else None.
    X_val, y_val: a predefined validation split (nusax), else None.
    kind: "table", "image" or "text" (see the module docstring for the shapes).
    image_shape: (height, width, channels) for images, else None.
    meta: generator facts, e.g. the true weights of ``linear``.
    """

    X: np.ndarray
    y: np.ndarray
    task: str
    n_classes: int
    class_names: list[str]
    feature_names: list[str]
    name: str
    X_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    description: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    kind: str = "table"
    image_shape: tuple[int, int, int] | None = None
    X_val: np.ndarray | None = None
    y_val: np.ndarray | None = None

    @property
    def n_samples(self) -> int:
        """Number of rows in X (predefined validation and test splits not counted)."""
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        """Number of input values per sample (784 for mnist, flattened or not).

        0 for text: a text has no fixed number of features until it is vectorised.
        """
        if self.kind == "text":
            return 0
        return int(np.prod(self.X.shape[1:]))

    @property
    def n_outputs(self) -> int:
        """Width of a model's output layer: n_classes, or y's column count."""
        return self.n_classes if self.task == CLASSIFICATION else int(self.y.shape[1])

    @property
    def has_test_split(self) -> bool:
        """True when the data set comes with its own test split."""
        return self.X_test is not None and self.y_test is not None

    @property
    def has_val_split(self) -> bool:
        """True when the data set comes with its own validation split."""
        return self.X_val is not None and self.y_val is not None


# --------------------------------------------------------------------------
# Parameter table: name -> info dict (task, description, params with ranges)
# --------------------------------------------------------------------------


def _int_param(label: str, default: int, low: int, high: int, help_text: str) -> dict[str, Any]:
    return {"type": "int", "default": default, "min": low, "max": high, "label": label,
            "help": help_text}


def _float_param(label: str, default: float, low: float, high: float,
                 help_text: str) -> dict[str, Any]:
    return {"type": "float", "default": default, "min": low, "max": high, "label": label,
            "help": help_text}


def _bool_param(label: str, default: bool, help_text: str) -> dict[str, Any]:
    return {"type": "bool", "default": default, "label": label, "help": help_text}


_SEED = _int_param("Data seed", 0, 0, 2**32 - 1, "random seed: the same seed gives the same data")


def _n_samples(default: int) -> dict[str, Any]:
    return _int_param("Samples", default, 10, 100_000, "number of points")


def _noise(default: float) -> dict[str, Any]:
    return _float_param("Noise", default, 0.0, 1.0, "standard deviation of the Gaussian noise")


def _first_images(n_train: int) -> dict[str, Any]:
    return _int_param("Samples", n_train, 100, n_train,
                      "use the first n training images (all by default)")


_N_CLASSES = _int_param("Classes", 3, 2, 10, "number of classes")
_NORMALIZE = _bool_param("Scale to 0..1", True, "scale pixels from 0..255 to 0..1")
_DOWNLOAD = _bool_param("Download if missing", True, "download the file if it is not on disk")

DATASETS: dict[str, dict[str, Any]] = {
    "moons": {
        "label": "Moons",
        "kind": "table",
        "task": CLASSIFICATION,
        "source": "synthetic",
        "description": "Two interleaving half-circles, 2 classes.",
        "params": {"n_samples": _n_samples(300), "noise": _noise(0.1), "seed": _SEED},
    },
    "circles": {
        "label": "Circles",
        "kind": "table",
        "task": CLASSIFICATION,
        "source": "synthetic",
        "description": "A small circle inside a large one (radius 1), 2 classes.",
        "params": {
            "n_samples": _n_samples(300),
            "noise": _noise(0.05),
            "factor": _float_param("Inner radius", 0.5, 0.1, 0.9, "radius of the inner circle"),
            "seed": _SEED,
        },
    },
    "xor": {
        "label": "XOR",
        "kind": "table",
        "task": CLASSIFICATION,
        "source": "synthetic",
        "description": "Points in [-1, 1]^2; class 1 where x1 and x2 have opposite signs.",
        "params": {"n_samples": _n_samples(300), "noise": _noise(0.05), "seed": _SEED},
    },
    "spiral": {
        "label": "Spiral",
        "kind": "table",
        "task": CLASSIFICATION,
        "source": "synthetic",
        "description": "Interleaved spiral arms, one class per arm.",
        "params": {
            "n_samples": _n_samples(300),
            "noise": _noise(0.05),
            "n_classes": _N_CLASSES,
            "seed": _SEED,
        },
    },
    "blobs": {
        "label": "Blobs",
        "kind": "table",
        "task": CLASSIFICATION,
        "source": "synthetic",
        "description": "Gaussian clusters with centres on the unit circle, one class each.",
        "params": {
            "n_samples": _n_samples(300),
            "noise": _noise(0.15),
            "n_classes": _N_CLASSES,
            "seed": _SEED,
        },
    },
    "linear": {
        "label": "Linear (regression)",
        "kind": "table",
        "task": REGRESSION,
        "source": "synthetic",
        "description": "y = X w + b + noise, X standard normal, random w and b.",
        "params": {
            "n_samples": _n_samples(300),
            "noise": _noise(0.1),
            "n_features": _int_param("Features", 3, 1, 100, "number of input features"),
            "seed": _SEED,
        },
    },
    "sine": {
        "label": "Sine (regression)",
        "kind": "table",
        "task": REGRESSION,
        "source": "synthetic",
        "description": "x uniform in [-pi, pi], y = sin(x) + noise.",
        "params": {"n_samples": _n_samples(300), "noise": _noise(0.1), "seed": _SEED},
    },
    "digits": {
        "label": "Digits 8×8",
        "kind": "image",
        "image_shape": (8, 8, 1),
        "task": CLASSIFICATION,
        "source": "scikit-learn",
        "description": "8x8 images of handwritten digits (1797 samples, 64 features 0..16).",
        "params": {},
    },
    "iris": {
        "label": "Iris",
        "kind": "table",
        "task": CLASSIFICATION,
        "source": "scikit-learn",
        "description": "Iris flowers: 150 samples, 4 measurements, 3 species.",
        "params": {},
    },
    "wine": {
        "label": "Wine",
        "kind": "table",
        "task": CLASSIFICATION,
        "source": "scikit-learn",
        "description": "Wine chemistry: 178 samples, 13 features, 3 cultivars.",
        "params": {},
    },
    "breast_cancer": {
        "label": "Breast cancer",
        "kind": "table",
        "task": CLASSIFICATION,
        "source": "scikit-learn",
        "description": "Breast cancer diagnosis: 569 samples, 30 features, 2 classes.",
        "params": {},
    },
    "mnist": {
        "label": "MNIST",
        "kind": "image",
        "image_shape": (28, 28, 1),
        "task": CLASSIFICATION,
        "source": "download",
        "description": "28x28 handwritten digits: 60000 train + 10000 test images.",
        "params": {
            "n_samples": _first_images(60_000),
            "flatten": _bool_param("Flatten", True, "reshape each image to 784 values"),
            "normalize": _NORMALIZE,
            "download": _DOWNLOAD,
        },
    },
    "cifar10": {
        "label": "CIFAR-10",
        "kind": "image",
        "image_shape": (32, 32, 3),
        "task": CLASSIFICATION,
        "source": "download",
        "description": "32x32 colour photos in 10 classes: 50000 train + 10000 test images.",
        "params": {
            "n_samples": _first_images(50_000),
            "normalize": _NORMALIZE,
            "download": _DOWNLOAD,
        },
    },
    "nusax": {
        "label": "NusaX-Sentiment (Indonesian)",
        "kind": "text",
        "task": CLASSIFICATION,
        "source": "download",
        "description": ("Indonesian sentences labelled negative, neutral or positive: "
                        "500 train + 100 validation + 400 test texts."),
        "params": {
            "download": _bool_param("Download if missing", True,
                                    "download the three CSV files if they are not on disk"),
        },
    },
}


def _fmt(value: Any) -> str:
    """A number as a person writes it: 2 not 2.0, 1e-05 not 0.00001."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return f"{float(value):g}" if isinstance(value, float) else str(value)
    return repr(value)


def _check_value(pname: str, spec: dict[str, Any], value: Any) -> Any:
    """Validate one parameter against its spec; return it in its canonical type."""
    kind = spec["type"]
    if kind == "bool":
        if not isinstance(value, (bool, np.bool_)):
            raise ValueError(f"{pname} must be true or false (got {_fmt(value)})")
        return bool(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{pname} must be a number (got {_fmt(value)})")
    if kind == "int":
        if not float(value).is_integer():
            raise ValueError(f"{pname} must be a whole number (got {_fmt(value)})")
        value = int(value)
    else:
        value = float(value)
    low, high = spec["min"], spec["max"]
    if not low <= value <= high:  # also rejects nan
        raise ValueError(f"{pname} must be between {_fmt(low)} and {_fmt(high)} (got {_fmt(value)})")
    return value


def _check(name: str, **params: Any) -> SimpleNamespace:
    """Validate a loader's parameters against DATASETS[name]; attribute access to the results."""
    specs = DATASETS[name]["params"]
    return SimpleNamespace(**{p: _check_value(p, specs[p], v) for p, v in params.items()})


def _check_names(name: str, params: dict[str, Any]) -> None:
    allowed = DATASETS[name]["params"]
    for pname in params:
        if pname not in allowed:
            choices = ", ".join(allowed) or "none"
            raise ValueError(f"unknown parameter {pname!r} for data set {name!r} (allowed: {choices})")


def load(name: str, **params: Any) -> Dataset:
    """Load the data set called ``name`` (a key of DATASETS) with keyword parameters.

    Unknown names or parameters, and values outside their ranges, raise ValueError.
    """
    key = str(name).strip().lower()
    if key not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose one of: {', '.join(DATASETS)}")
    _check_names(key, params)
    return _LOADERS[key](**params)


# --------------------------------------------------------------------------
# Synthetic classification sets (2-D)
# --------------------------------------------------------------------------

_XY = ["x1", "x2"]


def _class_sizes(n_samples: int, n_classes: int) -> list[int]:
    """Split n_samples as evenly as possible: sizes differ by at most one."""
    base, extra = divmod(n_samples, n_classes)
    return [base + (k < extra) for k in range(n_classes)]


def _labels_for(sizes: list[int]) -> np.ndarray:
    """(sum(sizes),) int64: sizes[0] zeros, then sizes[1] ones, ..."""
    return np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)


def _classification(name: str, X: np.ndarray, y: np.ndarray, noise: float,
                    rng: np.random.Generator, n_classes: int, meta: dict | None = None) -> Dataset:
    """Add Gaussian noise to clean points, shuffle the rows and wrap them in a Dataset."""
    X = X + noise * rng.standard_normal(X.shape)
    order = rng.permutation(len(y))
    return Dataset(
        X=X[order].astype(np.float32),
        y=y[order],
        task=CLASSIFICATION,
        n_classes=n_classes,
        class_names=[str(k) for k in range(n_classes)],
        feature_names=list(_XY),
        name=name,
        description=DATASETS[name]["description"],
        meta=meta or {},
    )


def _on_circle(angles: np.ndarray, radius: float = 1.0) -> np.ndarray:
    """(len(angles), 2) points radius * (cos a, sin a)."""
    return radius * np.column_stack([np.cos(angles), np.sin(angles)])


def load_moons(n_samples: int = 300, noise: float = 0.1, seed: int = 0) -> Dataset:
    """Two half-circles. X (n_samples, 2), y (n_samples,) in {0, 1}, classes balanced.

    Class 0: (cos t, sin t); class 1: (1 - cos t, 0.5 - sin t); t uniform in [0, pi];
    then N(0, noise^2) is added to each coordinate.
    """
    p = _check("moons", n_samples=n_samples, noise=noise, seed=seed)
    rng = np.random.default_rng(p.seed)
    sizes = _class_sizes(p.n_samples, 2)
    upper = _on_circle(rng.uniform(0.0, np.pi, sizes[0]))
    lower = np.array([1.0, 0.5]) - _on_circle(rng.uniform(0.0, np.pi, sizes[1]))
    return _classification("moons", np.vstack([upper, lower]), _labels_for(sizes), p.noise, rng, 2)


def load_circles(n_samples: int = 300, noise: float = 0.05, factor: float = 0.5,
                 seed: int = 0) -> Dataset:
    """Two concentric circles. X (n_samples, 2), y (n_samples,), classes balanced.

    Class 0 on the circle of radius 1, class 1 on radius ``factor``; angles uniform;
    then N(0, noise^2) is added to each coordinate.
    """
    p = _check("circles", n_samples=n_samples, noise=noise, factor=factor, seed=seed)
    rng = np.random.default_rng(p.seed)
    sizes = _class_sizes(p.n_samples, 2)
    outer = _on_circle(rng.uniform(0.0, 2 * np.pi, sizes[0]), 1.0)
    inner = _on_circle(rng.uniform(0.0, 2 * np.pi, sizes[1]), p.factor)
    return _classification("circles", np.vstack([outer, inner]), _labels_for(sizes), p.noise,
                           rng, 2, meta={"radii": [1.0, p.factor]})


def load_xor(n_samples: int = 300, noise: float = 0.05, seed: int = 0) -> Dataset:
    """XOR of signs. X (n_samples, 2) in [-1, 1]^2 before noise, y (n_samples,), balanced.

    Label 1 where x1 * x2 < 0 (opposite signs), else 0; the label is set on the clean
    point, then N(0, noise^2) is added to each coordinate.
    """
    p = _check("xor", n_samples=n_samples, noise=noise, seed=seed)
    rng = np.random.default_rng(p.seed)
    sizes = _class_sizes(p.n_samples, 2)
    y = _labels_for(sizes)
    X = rng.uniform(-1.0, 1.0, (p.n_samples, 2))
    wrong_quadrant = (X[:, 0] * X[:, 1] < 0) != (y == 1)
    X[wrong_quadrant, 1] *= -1.0  # mirror into a quadrant of the right class
    return _classification("xor", X, y, p.noise, rng, 2)


SPIRAL_TURNS = 1.0  # how many full turns each arm makes from the centre to radius 1


def load_spiral(n_samples: int = 300, noise: float = 0.05, n_classes: int = 3,
                seed: int = 0) -> Dataset:
    """Spiral arms. X (n_samples, 2), y (n_samples,) in 0..n_classes-1, balanced.

    Arm k: r uniform in [0, 1], angle = 2 pi k / n_classes + 2 pi SPIRAL_TURNS r,
    point r (cos angle, sin angle); then N(0, noise^2) is added to each coordinate.
    """
    p = _check("spiral", n_samples=n_samples, noise=noise, n_classes=n_classes, seed=seed)
    rng = np.random.default_rng(p.seed)
    sizes = _class_sizes(p.n_samples, p.n_classes)
    y = _labels_for(sizes)
    r = rng.uniform(0.0, 1.0, p.n_samples)
    angle = 2 * np.pi * (y / p.n_classes + SPIRAL_TURNS * r)
    X = r[:, None] * _on_circle(angle)
    return _classification("spiral", X, y, p.noise, rng, p.n_classes,
                           meta={"turns": SPIRAL_TURNS})


def load_blobs(n_samples: int = 300, noise: float = 0.15, n_classes: int = 3,
               seed: int = 0) -> Dataset:
    """Gaussian clusters. X (n_samples, 2), y (n_samples,) in 0..n_classes-1, balanced.

    Centre k sits on the unit circle at angle phase + 2 pi k / n_classes (phase drawn
    from the seed); each point is its centre plus N(0, noise^2) per coordinate.
    ``meta["centers"]`` holds the (n_classes, 2) centres.
    """
    p = _check("blobs", n_samples=n_samples, noise=noise, n_classes=n_classes, seed=seed)
    rng = np.random.default_rng(p.seed)
    sizes = _class_sizes(p.n_samples, p.n_classes)
    y = _labels_for(sizes)
    phase = rng.uniform(0.0, 2 * np.pi)
    centers = _on_circle(phase + 2 * np.pi * np.arange(p.n_classes) / p.n_classes)
    return _classification("blobs", centers[y], y, p.noise, rng, p.n_classes,
                           meta={"centers": centers.tolist()})


# --------------------------------------------------------------------------
# Synthetic regression sets
# --------------------------------------------------------------------------


def _regression(name: str, X: np.ndarray, y: np.ndarray, feature_names: list[str],
                meta: dict | None = None) -> Dataset:
    return Dataset(
        X=X.astype(np.float32),
        y=y.reshape(-1, 1).astype(np.float32),
        task=REGRESSION,
        n_classes=0,
        class_names=[],
        feature_names=feature_names,
        name=name,
        description=DATASETS[name]["description"],
        meta=meta or {},
    )


def load_linear(n_samples: int = 300, noise: float = 0.1, n_features: int = 3,
                seed: int = 0) -> Dataset:
    """Linear regression. X (n_samples, n_features) ~ N(0, 1), y (n_samples, 1).

    y = X @ w + b + N(0, noise^2), with w ~ N(0, 1) (n_features,) and b ~ N(0, 1)
    drawn from the seed; ``meta`` holds ``weights`` and ``bias``.
    """
    p = _check("linear", n_samples=n_samples, noise=noise, n_features=n_features, seed=seed)
    rng = np.random.default_rng(p.seed)
    weights = rng.standard_normal(p.n_features)
    bias = float(rng.standard_normal())
    X = rng.standard_normal((p.n_samples, p.n_features))
    y = X @ weights + bias + p.noise * rng.standard_normal(p.n_samples)
    names = [f"x{j + 1}" for j in range(p.n_features)]
    return _regression("linear", X, y, names, meta={"weights": weights.tolist(), "bias": bias})


def load_sine(n_samples: int = 300, noise: float = 0.1, seed: int = 0) -> Dataset:
    """Sine curve. X (n_samples, 1) uniform in [-pi, pi], y (n_samples, 1) = sin(x) + N(0, noise^2)."""
    p = _check("sine", n_samples=n_samples, noise=noise, seed=seed)
    rng = np.random.default_rng(p.seed)
    x = rng.uniform(-np.pi, np.pi, p.n_samples)
    y = np.sin(x) + p.noise * rng.standard_normal(p.n_samples)
    return _regression("sine", x[:, None], y, ["x"])


# --------------------------------------------------------------------------
# Data sets bundled with scikit-learn
# --------------------------------------------------------------------------

_SKLEARN_LOADERS = {
    "digits": "load_digits",
    "iris": "load_iris",
    "wine": "load_wine",
    "breast_cancer": "load_breast_cancer",
}


def _from_sklearn(name: str) -> Dataset:
    """X float32 (N, D) exactly as scikit-learn gives it, y int64 (N,)."""
    import sklearn.datasets  # lazy: only these four loaders need scikit-learn

    bunch = getattr(sklearn.datasets, _SKLEARN_LOADERS[name])()
    class_names = [str(c) for c in bunch.target_names]
    return Dataset(
        X=np.asarray(bunch.data, dtype=np.float32),
        y=np.asarray(bunch.target, dtype=np.int64),
        task=CLASSIFICATION,
        n_classes=len(class_names),
        class_names=class_names,
        feature_names=[str(f) for f in bunch.feature_names],
        name=name,
        description=DATASETS[name]["description"],
        kind=DATASETS[name]["kind"],
        image_shape=DATASETS[name].get("image_shape"),
    )


def load_digits() -> Dataset:
    """scikit-learn digits: X (1797, 64) values 0..16, y (1797,) in 0..9.

    An image set: ``X.reshape(-1, 8, 8, 1)`` gives the 8x8 images (image_shape (8, 8, 1)).
    """
    return _from_sklearn("digits")


def load_iris() -> Dataset:
    """scikit-learn iris: X (150, 4), y (150,) in 0..2."""
    return _from_sklearn("iris")


def load_wine() -> Dataset:
    """scikit-learn wine: X (178, 13), y (178,) in 0..2."""
    return _from_sklearn("wine")


def load_breast_cancer() -> Dataset:
    """scikit-learn breast cancer: X (569, 30), y (569,) in {0 malignant, 1 benign}."""
    return _from_sklearn("breast_cancer")


# --------------------------------------------------------------------------
# Downloads shared by mnist, cifar10 and nusax
# --------------------------------------------------------------------------

_DOWNLOAD_TIMEOUT_S = 30
_CHUNK_BYTES = 1 << 16
# what a failed download can raise: network trouble (URLError is an OSError),
# a cut-off response, or a file that does not verify
_DOWNLOAD_ERRORS = (urllib.error.URLError, OSError, http.client.HTTPException, ValueError)


def user_data_dir() -> Path:
    """The per-user data folder, ~/.backprop_studio/data."""
    return Path.home() / ".backprop_studio" / "data"


def _progress_bar(total: int | None, desc: str) -> Any:
    """A tqdm bar in bytes, or a silent stand-in when tqdm is missing."""
    try:
        from tqdm import tqdm  # lazy: only downloads need it
    except ImportError:
        return SimpleNamespace(update=lambda n: None, close=lambda: None)
    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=desc)


def _download(url: str, target: Path, verify: Callable[[Path], Any], desc: str) -> Any:
    """Fetch url into target via a temporary file that is renamed once it verifies.

    ``verify(path)`` must raise ValueError for a file that is not what was asked
    for; its return value is returned.  Raises OSError/URLError on network
    problems and ValueError for a bad file; either way nothing is left behind.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}-", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, \
                urllib.request.urlopen(url, timeout=_DOWNLOAD_TIMEOUT_S) as response:
            length = response.headers.get("Content-Length")
            bar = _progress_bar(int(length) if length else None, desc)
            try:
                while chunk := response.read(_CHUNK_BYTES):
                    out.write(chunk)
                    bar.update(len(chunk))
            finally:
                bar.close()
        result = verify(tmp)
        os.replace(tmp, target)
        return result
    finally:
        tmp.unlink(missing_ok=True)


def _reason(exc: BaseException) -> Any:
    """The readable part of a download error (URLError keeps it in .reason)."""
    return getattr(exc, "reason", None) or exc


# --------------------------------------------------------------------------
# MNIST
# --------------------------------------------------------------------------

MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
MNIST_FILENAME = "mnist.npz"
MNIST_KEYS = ("x_train", "y_train", "x_test", "y_test")


def mnist_path() -> Path:
    """Where mnist.npz is looked for (and downloaded to).

    $MNIST_PATH (the file itself) wins, then $BACKPROP_DATA_DIR/mnist.npz,
    then ~/.backprop_studio/data/mnist.npz.
    """
    if os.environ.get("MNIST_PATH"):
        return Path(os.environ["MNIST_PATH"]).expanduser()
    if os.environ.get("BACKPROP_DATA_DIR"):
        return Path(os.environ["BACKPROP_DATA_DIR"]).expanduser() / MNIST_FILENAME
    return user_data_dir() / MNIST_FILENAME


def mnist_available() -> bool:
    """True when mnist.npz is on disk at :func:`mnist_path` (no network access)."""
    return mnist_path().is_file()


def _where_to_put_mnist(path: Path) -> str:
    return (f"Put the Keras mnist.npz (keys {', '.join(MNIST_KEYS)}) at {path}, "
            f"or set BACKPROP_DATA_DIR to a folder that contains mnist.npz, "
            f"or MNIST_PATH to the file itself.")


def _read_mnist_arrays(path: Path) -> dict[str, np.ndarray]:
    """The four arrays of a Keras-layout npz; ValueError if the file is not one."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in MNIST_KEYS if k not in npz.files]
            arrays = {k: npz[k] for k in MNIST_KEYS if k in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path} is not a readable .npz file ({exc})") from exc
    if missing:
        raise ValueError(f"{path} lacks the keys {', '.join(missing)}")
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or x.shape[1:] != (28, 28) or y.shape != (x.shape[0],):
            raise ValueError(f"{path}: x_{split} must be (N, 28, 28) and y_{split} (N,); "
                             f"got {x.shape} and {y.shape}")
    return arrays


def _ensure_mnist(download: bool) -> Path:
    """Path to a local mnist.npz, downloading it first if allowed and needed."""
    path = mnist_path()
    if path.is_file():
        return path
    if not download:
        raise DatasetUnavailableError(
            f"MNIST is not on this computer and downloading is turned off. {_where_to_put_mnist(path)}")
    try:
        _download(MNIST_URL, path, _read_mnist_arrays, MNIST_FILENAME)
    except _DOWNLOAD_ERRORS as exc:
        raise DatasetUnavailableError(
            f"MNIST could not be downloaded from {MNIST_URL} ({_reason(exc)}); are you offline? "
            f"{_where_to_put_mnist(path)}") from exc
    return path


def load_mnist(n_samples: int = 60_000, flatten: bool = True, normalize: bool = True,
               download: bool = True) -> Dataset:
    """MNIST digits with its own test split.

    X (n_samples, 784) and X_test (10000, 784) float32 (or (N, 28, 28) with
    flatten=False), values in [0, 1] (or 0..255 with normalize=False); y (n_samples,),
    y_test (10000,) int64.  ``n_samples`` keeps the first n training images (all
    60000 by default); the test split is always complete.  image_shape is
    (28, 28, 1).  The file is found by :func:`mnist_path`; if missing it is
    downloaded once (``download=True``) or DatasetUnavailableError is raised.
    """
    p = _check("mnist", n_samples=n_samples, flatten=flatten, normalize=normalize, download=download)
    path = _ensure_mnist(p.download)
    try:
        arrays = _read_mnist_arrays(path)
    except ValueError as exc:
        raise DatasetUnavailableError(f"{exc}. {_where_to_put_mnist(path)}") from exc

    def images(x: np.ndarray) -> np.ndarray:
        x = x.astype(np.float32)
        if p.normalize:
            x /= 255.0
        return x.reshape(len(x), -1) if p.flatten else x

    return Dataset(
        X=images(arrays["x_train"][:p.n_samples]),
        y=arrays["y_train"][:p.n_samples].astype(np.int64),
        X_test=images(arrays["x_test"]),
        y_test=arrays["y_test"].astype(np.int64),
        task=CLASSIFICATION,
        n_classes=10,
        class_names=[str(d) for d in range(10)],
        feature_names=[f"pixel_{r}_{c}" for r in range(28) for c in range(28)],
        name="mnist",
        description=DATASETS["mnist"]["description"],
        meta={"path": str(path), "image_shape": [28, 28]},
        kind="image",
        image_shape=(28, 28, 1),
    )


# --------------------------------------------------------------------------
# CIFAR-10 (binary version)
# --------------------------------------------------------------------------

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
CIFAR10_ARCHIVE = "cifar-10-binary.tar.gz"
CIFAR10_FOLDER = "cifar-10-batches-bin"
CIFAR10_TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
CIFAR10_TEST_FILE = "test_batch.bin"
CIFAR10_META_FILE = "batches.meta.txt"
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
_CIFAR10_SIDE = 32
_CIFAR10_PIXELS = 3 * _CIFAR10_SIDE * _CIFAR10_SIDE   # 3072 bytes: red, green, blue planes
_CIFAR10_RECORD = 1 + _CIFAR10_PIXELS                 # 3073 bytes: the label byte first


def _cifar10_in(folder: Path) -> Path:
    """The archive in folder if it is there, else the unpacked folder if that is, else the archive."""
    archive, unpacked = folder / CIFAR10_ARCHIVE, folder / CIFAR10_FOLDER
    if not archive.is_file() and unpacked.is_dir():
        return unpacked
    return archive


def cifar10_path() -> Path:
    """Where CIFAR-10 is looked for (and downloaded to).

    $CIFAR10_PATH (the .tar.gz itself or the unpacked cifar-10-batches-bin
    folder) wins, then $BACKPROP_DATA_DIR/cifar-10-binary.tar.gz or
    $BACKPROP_DATA_DIR/cifar-10-batches-bin/, then the same two under
    ~/.backprop_studio/data.  When neither is on disk the archive's path is
    returned: that is where a download goes.
    """
    if os.environ.get("CIFAR10_PATH"):
        return Path(os.environ["CIFAR10_PATH"]).expanduser()
    if os.environ.get("BACKPROP_DATA_DIR"):
        return _cifar10_in(Path(os.environ["BACKPROP_DATA_DIR"]).expanduser())
    return _cifar10_in(user_data_dir())


def cifar10_available() -> bool:
    """True when the archive or the unpacked folder is at :func:`cifar10_path` (no network)."""
    path = cifar10_path()
    return path.is_file() or path.is_dir()


def _looks_like_archive(path: Path) -> bool:
    return path.name.endswith((".tar.gz", ".tgz"))


def _where_to_put_cifar10(path: Path) -> str:
    batches = "data_batch_1.bin ... data_batch_5.bin, test_batch.bin and batches.meta.txt"
    if _looks_like_archive(path):
        place = (f"put it at {path} (or unpack it so that {path.parent / CIFAR10_FOLDER} "
                 f"holds {batches})")
    else:
        place = f"unpack it so that {path} holds {batches}"
    return (f"Get the binary version {CIFAR10_ARCHIVE} (not the Python pickle version) from "
            f"{CIFAR10_URL} and {place}; or set BACKPROP_DATA_DIR to a folder that contains "
            f"{CIFAR10_ARCHIVE} or {CIFAR10_FOLDER}/, or CIFAR10_PATH to the archive or the "
            f"unpacked folder itself.")


def _cifar10_files(path: Path) -> tuple[dict[str, bytes], str]:
    """The bytes of the batch files (and batches.meta.txt if present) by file name,
    and how to name their container in a message.

    ``path`` is the .tar.gz (read in memory, nothing is unpacked to disk) or the
    unpacked folder (or a folder holding cifar-10-batches-bin/).
    """
    wanted = set(CIFAR10_TRAIN_FILES) | {CIFAR10_TEST_FILE, CIFAR10_META_FILE}
    found: dict[str, bytes] = {}
    if path.is_dir():
        folder = path / CIFAR10_FOLDER if (path / CIFAR10_FOLDER).is_dir() else path
        for name in wanted:
            if (folder / name).is_file():
                found[name] = (folder / name).read_bytes()
        return found, f"folder {folder}"
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                name = member.name.rsplit("/", 1)[-1]
                if member.isfile() and name in wanted and name not in found:
                    handle = tar.extractfile(member)
                    if handle is not None:
                        found[name] = handle.read()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"{path} is not a readable .tar.gz archive ({exc})") from exc
    return found, f"archive {path}"


def _cifar10_records(data: bytes, name: str, where: str) -> np.ndarray:
    """(n, 3073) uint8 records of one batch file, checked: whole records, labels 0..9."""
    if len(data) == 0 or len(data) % _CIFAR10_RECORD:
        raise ValueError(f"{name} in the {where} has {len(data)} bytes, which is not a whole "
                         f"number of {_CIFAR10_RECORD}-byte records (1 label byte, then "
                         f"{_CIFAR10_PIXELS} pixel bytes); the file is damaged")
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, _CIFAR10_RECORD)
    bad = np.flatnonzero(records[:, 0] > 9)
    if bad.size:
        raise ValueError(f"{name} in the {where}: record {int(bad[0])} has the label byte "
                         f"{int(records[bad[0], 0])}, but labels must be 0..9; the file is damaged")
    return records


def _cifar10_class_names(meta: bytes | None) -> list[str]:
    """Ten names from batches.meta.txt (one a line, blank lines ignored), else the standard ones."""
    if meta is not None:
        try:
            names = [line.strip() for line in meta.decode("utf-8").splitlines() if line.strip()]
        except UnicodeDecodeError:
            names = []
        if len(names) == 10:
            return names
    return list(CIFAR10_CLASSES)


def _read_cifar10(path: Path) -> tuple[list[np.ndarray], np.ndarray, list[str]]:
    """(training records per batch, test records, class names); ValueError if damaged."""
    files, where = _cifar10_files(path)
    missing = [n for n in (*CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE) if n not in files]
    if missing:
        raise ValueError(f"the {where} lacks {', '.join(f'{CIFAR10_FOLDER}/{n}' for n in missing)} "
                         f"(CIFAR-10's binary version holds {CIFAR10_FOLDER}/data_batch_1.bin "
                         f"... data_batch_5.bin and test_batch.bin)")
    train = [_cifar10_records(files[n], n, where) for n in CIFAR10_TRAIN_FILES]
    test = _cifar10_records(files[CIFAR10_TEST_FILE], CIFAR10_TEST_FILE, where)
    return train, test, _cifar10_class_names(files.get(CIFAR10_META_FILE))


def _cifar10_images(batches: list[np.ndarray], n: int, normalize: bool) -> tuple[np.ndarray, np.ndarray]:
    """The first n records of the batches -> X float32 (n, 3072) in row-major HWC order
    (the red, green and blue planes interleaved per pixel) and y int64 (n,)."""
    n = min(n, sum(len(records) for records in batches))
    X = np.empty((n, _CIFAR10_PIXELS), dtype=np.float32)
    y = np.empty(n, dtype=np.int64)
    start = 0
    for records in batches:
        part = records[:n - start]
        if len(part) == 0:
            break
        planes = part[:, 1:].reshape(-1, 3, _CIFAR10_SIDE, _CIFAR10_SIDE)    # (n, c, h, w)
        X[start:start + len(part)] = planes.transpose(0, 2, 3, 1).reshape(len(part), -1)
        y[start:start + len(part)] = part[:, 0]
        start += len(part)
    if normalize:
        X /= 255.0
    return X, y


def _ensure_cifar10(download: bool) -> tuple[Path, Any]:
    """Path to local CIFAR-10 data, downloading the archive first if allowed and needed.

    Also returns what :func:`_read_cifar10` found when the archive was just
    downloaded (and so already read once), else None.
    """
    path = cifar10_path()
    if path.is_file() or path.is_dir():
        return path, None
    if not download:
        raise DatasetUnavailableError(f"CIFAR-10 is not on this computer (nothing at {path}) and "
                                      f"downloading is turned off. {_where_to_put_cifar10(path)}")
    if not _looks_like_archive(path):
        raise DatasetUnavailableError(f"CIFAR10_PATH names the folder {path}, which does not exist, "
                                      f"so there is nowhere to download the archive to. "
                                      f"{_where_to_put_cifar10(path)}")
    try:
        parsed = _download(CIFAR10_URL, path, _read_cifar10, CIFAR10_ARCHIVE)
    except _DOWNLOAD_ERRORS as exc:
        raise DatasetUnavailableError(
            f"CIFAR-10 could not be downloaded from {CIFAR10_URL} ({_reason(exc)}); are you "
            f"offline? {_where_to_put_cifar10(path)}") from exc
    return path, parsed


def load_cifar10(n_samples: int = 50_000, normalize: bool = True, download: bool = True) -> Dataset:
    """CIFAR-10 from its binary distribution, with its own test split.

    X (n_samples, 3072) and X_test (10000, 3072) float32, each row a 32x32 colour
    image in row-major HWC order (``X.reshape(-1, 32, 32, 3)``), values in [0, 1]
    (0..255 with normalize=False); y (n_samples,), y_test (10000,) int64 in 0..9.
    ``n_samples`` keeps the first n training images (data_batch_1 first).  Class
    names come from batches.meta.txt (the ten standard names if it is missing).
    The data is found by :func:`cifar10_path` (archive or unpacked folder); if
    missing the archive (about 162 MB) is downloaded once (``download=True``) or
    DatasetUnavailableError is raised.  A damaged file raises
    DatasetUnavailableError naming the file and what is wrong.
    """
    p = _check("cifar10", n_samples=n_samples, normalize=normalize, download=download)
    path, parsed = _ensure_cifar10(p.download)
    if parsed is None:
        try:
            parsed = _read_cifar10(path)
        except ValueError as exc:
            raise DatasetUnavailableError(f"{exc}. {_where_to_put_cifar10(path)}") from exc
    batches, test, class_names = parsed
    X, y = _cifar10_images(batches, p.n_samples, p.normalize)
    X_test, y_test = _cifar10_images([test], len(test), p.normalize)
    colours = ("r", "g", "b")
    return Dataset(
        X=X,
        y=y,
        X_test=X_test,
        y_test=y_test,
        task=CLASSIFICATION,
        n_classes=10,
        class_names=class_names,
        feature_names=[f"pixel_{r}_{c}_{colours[k]}" for r in range(_CIFAR10_SIDE)
                       for c in range(_CIFAR10_SIDE) for k in range(3)],
        name="cifar10",
        description=DATASETS["cifar10"]["description"],
        meta={"path": str(path)},
        kind="image",
        image_shape=(_CIFAR10_SIDE, _CIFAR10_SIDE, 3),
    )


# --------------------------------------------------------------------------
# NusaX-Sentiment (Indonesian): texts
# --------------------------------------------------------------------------

NUSAX_BASE_URL = "https://raw.githubusercontent.com/IndoNLP/nusax/main/datasets/sentiment/indonesian/"
NUSAX_URL = NUSAX_BASE_URL + "{split}.csv"   # split: train, valid or test


def _nusax_files() -> dict[str, Path]:
    from . import text  # lazy: the module-level imports stay numpy and the standard library

    folder = text.nusax_folder()
    return {split: folder / f"{split}.csv" for split in text.NUSAX_SPLITS}


def nusax_available() -> bool:
    """True when train.csv, valid.csv and test.csv are all in ``engine.text.nusax_folder()``."""
    return all(path.is_file() for path in _nusax_files().values())


def _where_to_put_nusax(folder: Path) -> str:
    from . import text

    return (f"Put train.csv, valid.csv and test.csv (columns id,text,label; from "
            f"{NUSAX_BASE_URL}) in {folder}, or set NUSAX_DIR to the folder that holds them, "
            f"or BACKPROP_DATA_DIR to a folder that contains {text.NUSAX_FOLDER}/.")


def _verify_nusax_csv(path: Path) -> None:
    """ValueError unless path is a NusaX split file with at least one row."""
    from . import text

    try:
        texts, _ = text.read_nusax_csv(path)
    except csv.Error as exc:
        raise ValueError(f"{path} is not a readable CSV file ({exc})") from exc
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not UTF-8 text ({exc})") from exc
    if not texts:
        raise ValueError(f"{path} has a header but no rows")


def _ensure_nusax(download: bool) -> Path:
    """The folder with the three CSVs, downloading the missing ones first if allowed."""
    files = _nusax_files()
    folder = next(iter(files.values())).parent
    missing = [split for split, path in files.items() if not path.is_file()]
    if not missing:
        return folder
    if not download:
        names = ", ".join(f"{split}.csv" for split in missing)
        raise DatasetUnavailableError(f"NusaX-Sentiment is not on this computer ({names} missing "
                                      f"in {folder}) and downloading is turned off. "
                                      f"{_where_to_put_nusax(folder)}")
    for split in missing:
        url = NUSAX_URL.format(split=split)
        try:
            _download(url, files[split], _verify_nusax_csv, f"{split}.csv")
        except _DOWNLOAD_ERRORS as exc:
            raise DatasetUnavailableError(
                f"NusaX-Sentiment's {split}.csv could not be downloaded from {url} "
                f"({_reason(exc)}); are you offline? {_where_to_put_nusax(folder)}") from exc
    return folder


def _text_array(texts: list[str]) -> np.ndarray:
    """A 1-D object array of str (np.array could make a fixed-width str array instead)."""
    out = np.empty(len(texts), dtype=object)
    out[:] = texts
    return out


def load_nusax_dataset(download: bool = True) -> Dataset:
    """NusaX-Sentiment (Indonesian) as a text Dataset with its own splits.

    X (500,), X_val (100,), X_test (400,): 1-D object arrays of str; y, y_val,
    y_test int64 with 0 negative, 1 neutral, 2 positive.  The CSVs are found in
    ``engine.text.nusax_folder()``; missing ones are downloaded (``download=True``)
    or DatasetUnavailableError is raised.  For the plain lists use
    ``engine.text.load_nusax``.
    """
    from . import text

    p = _check("nusax", download=download)
    folder = _ensure_nusax(p.download)
    try:
        splits = text.load_nusax(folder)
    except (ValueError, OSError, csv.Error) as exc:
        raise DatasetUnavailableError(f"{exc}. {_where_to_put_nusax(folder)}") from exc
    (X, y), (X_val, y_val), (X_test, y_test) = (splits[s] for s in text.NUSAX_SPLITS)
    return Dataset(
        X=_text_array(X),
        y=y,
        X_val=_text_array(X_val),
        y_val=y_val,
        X_test=_text_array(X_test),
        y_test=y_test,
        task=CLASSIFICATION,
        n_classes=len(text.NUSAX_LABELS),
        class_names=list(text.NUSAX_LABELS),
        feature_names=[],
        name="nusax",
        description=DATASETS["nusax"]["description"],
        meta={"path": str(folder)},
        kind="text",
    )


# --------------------------------------------------------------------------
# Which data sets come from a download
# --------------------------------------------------------------------------


def download_info(name: str) -> dict[str, Any] | None:
    """For a data set that comes from a download (mnist, cifar10, nusax):
    ``{"available": bool, "path": str, "url": str, "size": "11 MB"}`` where
    ``available`` says the data is on disk at ``path`` (no network access) and
    ``size`` is the download's approximate size.  None for the other data sets;
    ValueError for a name that is not in DATASETS.
    """
    key = str(name).strip().lower()
    if key not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose one of: {', '.join(DATASETS)}")
    if key == "mnist":
        return {"available": mnist_available(), "path": str(mnist_path()),
                "url": MNIST_URL, "size": "11 MB"}
    if key == "cifar10":
        return {"available": cifar10_available(), "path": str(cifar10_path()),
                "url": CIFAR10_URL, "size": "162 MB"}
    if key == "nusax":
        folder = next(iter(_nusax_files().values())).parent
        return {"available": nusax_available(), "path": str(folder),
                "url": NUSAX_BASE_URL, "size": "170 KB"}
    return None


# --------------------------------------------------------------------------
# The user's own CSV
# --------------------------------------------------------------------------

MAX_CSV_CELLS = 1_000_000
MAX_AUTO_CLASSES = 20

# The separators a CSV may use, tried in this order (the first wins a tie), with their names.
_SEPARATORS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_SNIFF_LINES = 200
# "1,5"  "1.234,5"  "-0,25e3": a comma before the decimals, dots (if any) grouping thousands
_COMMA_DECIMAL = re.compile(r"[+-]?(?:\d{1,3}(?:\.\d{3})+|\d*),\d+(?:[eE][+-]?\d+)?")
# "1.5"  "1,234.5": a dot before the decimals, commas (if any) grouping thousands
_DOT_DECIMAL = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d*)\.\d+(?:[eE][+-]?\d+)?")
_DOT_GROUPS = re.compile(r"[+-]?\d{1,3}(?:\.\d{3})+")        # "1.234" or "12.345.678"
_COMMA_GROUPS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?(?:[eE][+-]?\d+)?")   # "1,234.5"
_WHOLE = re.compile(r"[+-]?\d+")


def _csv_text(source: str | bytes | os.PathLike) -> tuple[str, str]:
    """(text, name) from a path, raw bytes, or the CSV text itself; a UTF-8 BOM is kept
    (:func:`_read_table` removes and reports it).

    A str is a path if it names a file or looks like one (one line, no comma);
    otherwise it is the CSV text.
    """
    if isinstance(source, (bytes, bytearray)):
        data, name = bytes(source), "csv"
    elif isinstance(source, str) and not _looks_like_path(source):
        return source, "csv"
    else:
        path = Path(source)
        if not path.is_file():
            raise ValueError(f"CSV file not found: {path}")
        data, name = path.read_bytes(), path.stem
    try:
        return data.decode("utf-8"), name
    except UnicodeDecodeError as exc:
        raise ValueError(f"the CSV must be UTF-8 text ({exc})") from exc


def _looks_like_path(text: str) -> bool:
    one_line = "\n" not in text and "\r" not in text
    return one_line and (Path(text).is_file() or (text.strip() != "" and "," not in text))


class _Numbers:
    """How this file writes numbers: ``decimal`` is "." or ","; the other one may group
    thousands ("1,234.5" / "1.234,5").  ``grouped`` turns True once a cell used grouping."""

    def __init__(self, decimal: str) -> None:
        self.decimal = decimal
        self.grouped = False

    def parse(self, cell: str) -> float | None:
        """The number in a cell, or None if it is not one (non-finite values count as numbers)."""
        if self.decimal == "." or ("," not in cell and "." not in cell):
            try:
                return float(cell)     # the common case first
            except ValueError:
                pass
        if self.decimal == ".":
            if not _COMMA_GROUPS.fullmatch(cell):
                return None
            self.grouped = True
            return float(cell.replace(",", ""))
        if _COMMA_DECIMAL.fullmatch(cell):
            self.grouped |= "." in cell
            return float(cell.replace(".", "").replace(",", "."))
        if _DOT_GROUPS.fullmatch(cell):   # "1.234"; "1.5" in a decimal-comma file is refused
            self.grouped = True
            return float(cell.replace(".", ""))
        return None

    def rule(self, cell: str) -> str:
        """What a number must look like, for a refusal of ``cell``."""
        if self.decimal == "," and any(ch.isdigit() for ch in cell):
            return ("must be a number written with a decimal comma (like 1,5 or 1.234,5), "
                    "as in the rest of this file")
        return "must be a number"


class _Unreadable(ValueError):
    """The csv module refused a record: row (1-based) and 0-based column if known."""

    def __init__(self, row: int, column: int | None, rule: str) -> None:
        super().__init__(rule)
        self.row, self.column, self.rule = row, column, rule


def _long_field_column(record: str, sep: str, limit: int) -> int | None:
    """0-based column of the first field longer than ``limit`` characters in a record's text."""
    column, length, quoted = 0, 0, False
    for ch in record:
        if ch == '"':
            quoted = not quoted        # "" inside quotes toggles twice
        elif ch == sep and not quoted:
            column, length = column + 1, 0
        elif ch in "\r\n" and not quoted:
            return None
        else:
            length += 1
            if length > limit:
                return column
    return None


def _records(text: str, sep: str):
    """(spreadsheet row number, cells) of every record, blank lines included (as []).

    Lines may end in LF, CRLF or CR; a quoted field may hold separators, quotes ("")
    and line breaks.  A record the csv module refuses raises :class:`_Unreadable`.
    """
    pending: list[str] = []            # the lines of the record being read

    def lines():
        for line in io.StringIO(text, newline=""):     # newline="": \n, \r\n and \r all end a line
            pending.append(line)
            yield line

    reader = csv.reader(lines(), delimiter=sep, quotechar='"', skipinitialspace=True)
    row = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            limit = csv.field_size_limit()
            if "field limit" in str(exc):
                column = _long_field_column("".join(pending), sep, limit)
                rule = (f"the field holds more than {limit:,} characters, the most a CSV field "
                        "may hold (an unclosed quote can cause this)")
                raise _Unreadable(row + 1, column, rule) from None
            raise _Unreadable(row + 1, None, f"the CSV cannot be read here ({exc})") from None
        row += 1
        pending.clear()
        yield row, cells


def _sample(text: str) -> str:
    """The first few hundred lines, enough to tell the dialect."""
    lines = io.StringIO(text, newline="")
    return "".join(line for _, line in zip(range(_SNIFF_LINES), lines))


def _sniff_separator(sample: str) -> str:
    """The separator that splits the sample's lines into the most consistent number (>= 2)
    of fields; ties go to the one whose cells more often read as numbers, then to more fields."""
    best, best_score = ",", None
    for sep in _SEPARATORS:
        counts, cells = [], []
        try:
            for _, record in _records(sample, sep):
                if any(c.strip() for c in record):
                    counts.append(len(record))
                    cells.extend(c.strip() for c in record)
        except _Unreadable:
            pass                       # score what was read before the trouble
        if not counts:
            continue
        usual = max(set(counts), key=counts.count)
        if usual < 2:
            continue
        numeric = _Numbers("," if sep != "," else ".")
        number_share = sum(numeric.parse(c) is not None for c in cells) / len(cells)
        score = (counts.count(usual) / len(counts), number_share, usual)
        if best_score is None or score > best_score:
            best, best_score = sep, score
    return best


def _sniff_decimal(records: list[tuple[int, list[str]]], sep: str, enough: int = 1000) -> str:
    """"," when more cells are written 1,5 / 1.234,5 than 1.5 / 1,234.5 (counted until one
    kind reaches ``enough``); on a tie (no such cells, or only ambiguous ones like 1,234),
    "," for semicolon files and "." otherwise."""
    commas = dots = 0
    for _, cells in records:
        for cell in cells:
            if "," in cell or "." in cell:
                cell = cell.strip()
                if _COMMA_DECIMAL.fullmatch(cell):
                    commas += not _COMMA_GROUPS.fullmatch(cell)
                elif _DOT_DECIMAL.fullmatch(cell):
                    dots += not _DOT_GROUPS.fullmatch(cell)
        if max(commas, dots) >= enough:
            break
    if commas != dots:
        return "," if commas > dots else "."
    return "," if sep == ";" else "."


def _line_endings(text: str) -> str:
    crlf = text.count("\r\n")
    cr, lf = text.count("\r") - crlf, text.count("\n") - crlf
    kinds = [name for name, n in (("CRLF", crlf), ("CR", cr), ("LF", lf)) if n]
    return "mixed" if len(kinds) > 1 else (kinds[0] if kinds else "LF")


def _metadata_line(records: list[tuple[int, list[str]]]) -> str | None:
    """Why the first record is a scikit-learn style metadata line ("178,13,class_0,class_1,
    class_2"), or None if it is not one.  It starts with two whole numbers (no header of
    names does) and either its field count differs from the row below, or the numbers are
    the count of the rows below and of their features, followed by class names (as in
    scikit-learn's iris.csv, whose field count matches)."""
    if len(records) < 2:
        return None
    first, below = [c.strip() for c in records[0][1]], records[1][1]
    if len(first) < 2 or not all(_WHOLE.fullmatch(c) for c in first[:2]):
        return None
    names = first[2:]
    sizes = (int(first[0]), int(first[1])) == (len(records) - 1, len(below) - 1)
    if sizes and (len(first) != len(below) or (names and not any(_WHOLE.fullmatch(c) for c in names))):
        why = f"scikit-learn style: {first[0]} samples, {first[1]} features"
        return why + (f", classes {', '.join(names)}" if names else "")
    if len(first) != len(below):
        return "its field count differs from the rows below and it is not a header"
    return None


def _read_header(header: list[str], numbers: _Numbers) -> list[str]:
    names = [cell.strip() or f"column {j + 1}" for j, cell in enumerate(header)]
    given = [cell.strip() for cell in header if cell.strip()]
    if given and all(numbers.parse(n) is not None for n in given):
        raise ValueError("the first row must be a header of column names, "
                         f"but it holds only numbers ({', '.join(names[:5])})")
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise ValueError(f"column name {n!r} appears twice in the header")
        seen.add(n)
    return names


def _drop_trailing_separator(header: list[str] | None, body: list[tuple[int, list[str]]]) -> bool:
    """Excel's trailing separator on every line: drop that empty last column in place.

    True if it was there: every data row ends in an empty cell, and the header either
    ends in an empty cell too or is one cell shorter (``header`` None: no header row).
    """
    if not body:
        return False
    width = len(body[0][1])
    if width < 2 or any(len(c) != width or c[-1].strip() for _, c in body):
        return False
    if header is not None:
        if len(header) == width and not header[-1].strip():
            header.pop()
        elif len(header) != width - 1:
            return False
    for _, cells in body:
        cells.pop()
    return True


def _read_table(text: str) -> SimpleNamespace:
    """Sniff the dialect, then read the table.

    Returns names, rows [(row number, stripped cells)], numbers (a :class:`_Numbers`),
    meta_classes (class names from a skipped scikit-learn metadata line, else []) and
    what :func:`_dialect_sentence` reports: sep, quoted, endings, bom, skipped (why the
    first line was skipped, or None), trailing (Excel's trailing separator) and headerless.
    """
    bom = text.startswith("\ufeff")
    text = text.lstrip("\ufeff")
    sep = _sniff_separator(_sample(text))
    records = _nonblank_records(text, sep)
    if not records:
        raise ValueError("the CSV is empty: it needs a header row and at least 2 data rows")
    numbers = _Numbers(_sniff_decimal(records, sep))

    skipped, meta_classes = _metadata_line(records), []
    if skipped:
        first = [c.strip() for c in records.pop(0)[1]]
        if skipped.startswith("scikit-learn"):
            meta_classes = first[2:]
        skipped = f"{sep.join(first)!r} skipped ({skipped})"

    header: list[str] | None = records[0][1]
    if skipped and all(numbers.parse(c.strip()) is not None for c in header if c.strip()):
        header = None                  # numbers right after a metadata line: no header row
    body = records[1:] if header is not None else records
    trailing = _drop_trailing_separator(header, body)
    if header is None:
        names = [f"column {j + 1}" for j in range(len(body[0][1]))]
        against = "the first row has"
    else:
        names = _read_header(header, numbers)
        against = "the header has"

    rows: list[tuple[int, list[str]]] = []
    for row_number, cells in body:
        if len(cells) != len(names):
            if len(cells) > len(names):
                where = f"column {len(names) + 1} holds {cells[len(names)].strip()!r} but has no name"
            else:
                where = f"column {names[len(cells)]!r} has no value"
            broken = [names[j] for j, c in enumerate(cells[:len(names)]) if "\n" in c or "\r" in c]
            if broken:
                where += f"; column {broken[0]!r} holds a line break: is a quote left open?"
            raise ValueError(f"row {row_number} has {len(cells)} values but {against} "
                             f"{len(names)} columns ({where}); every row needs one value per column")
        rows.append((row_number, [c.strip() for c in cells]))
    if len(rows) < 2:
        raise ValueError(f"the CSV needs at least 2 data rows below the header (got {len(rows)})")
    return SimpleNamespace(names=names, rows=rows, numbers=numbers, meta_classes=meta_classes,
                           sep=sep, quoted='"' in text, endings=_line_endings(text), bom=bom,
                           skipped=skipped, trailing=trailing, headerless=header is None)


def _nonblank_records(text: str, sep: str) -> list[tuple[int, list[str]]]:
    """(row number, cells) of the records that are not blank; ValueError with row and column
    for a record the csv module refuses, or when there are more than MAX_CSV_CELLS cells."""
    records: list[tuple[int, list[str]]] = []
    n_cells = 0
    try:
        for row_number, cells in _records(text, sep):
            if not any(c.strip() for c in cells):
                continue  # blank line
            n_cells += len(cells)
            if n_cells > MAX_CSV_CELLS:
                raise ValueError(f"the CSV is too large: more than {MAX_CSV_CELLS:,} cells")
            records.append((row_number, cells))
    except _Unreadable as exc:
        if exc.column is None:
            raise ValueError(f"row {exc.row}: {exc.rule}") from None
        header = records[0][1] if records else []   # the first row read names the columns
        column = header[exc.column].strip() if exc.column < len(header) else ""
        column = column or f"column {exc.column + 1}"
        raise ValueError(f"column {column!r}, row {exc.row}: {exc.rule}") from None
    return records


def _dialect_sentence(table: SimpleNamespace) -> str:
    """What was found, e.g. "Semicolon-separated, decimal comma, CR line endings (old Mac)."."""
    notes = [f"{_SEPARATORS[table.sep]}-separated"]
    if table.numbers.decimal == ",":
        notes.append("decimal comma")
    if table.numbers.grouped:
        notes.append(f"thousands grouped with {'.' if table.numbers.decimal == ',' else ','!r}")
    if table.quoted:
        notes.append("quoted fields")
    if table.endings != "LF":
        notes.append({"CRLF": "CRLF line endings (Windows)", "CR": "CR line endings (old Mac)",
                      "mixed": "mixed line endings"}[table.endings])
    if table.bom:
        notes.append("UTF-8 byte order mark")
    if table.trailing:
        notes.append("a separator at the end of every line (the empty last column is ignored)")
    if table.skipped:
        notes.append(f"first line {table.skipped}")
    if table.headerless:
        notes.append(f"no header row: the columns are named column 1 to column {len(table.names)}")
    sentence = ", ".join(notes)
    return sentence[0].upper() + sentence[1:] + "."


def csv_columns(source: str | bytes | os.PathLike) -> list[str]:
    """The column names :func:`load_csv` sees in a CSV (any dialect it reads), in order;
    "column 1", "column 2", ... for a file without a header row.  The last one is the
    usual label.  Raises ValueError as load_csv does for a table it cannot read."""
    text, _ = _csv_text(source)
    return list(_read_table(text).names)


def _find_column(names: list[str], label_column: str | int) -> int:
    """Index of the label column, given by name or by 0-based position (negative allowed)."""
    if isinstance(label_column, numbers.Integral) and not isinstance(label_column, bool):
        if -len(names) <= label_column < len(names):
            return int(label_column) % len(names)
        raise ValueError(f"label column index {label_column} is out of range: "
                         f"the CSV has {len(names)} columns")
    wanted = str(label_column).strip()
    if wanted not in names:
        raise ValueError(f"label column {wanted!r} not found; available columns: {', '.join(names)}")
    return names.index(wanted)


def _number_or_error(cell: str, column: str, row_number: int, numbers: _Numbers) -> float:
    value = numbers.parse(cell)
    if value is None:
        shown = "empty cell" if cell == "" else repr(cell)
        raise ValueError(f"column {column!r}, row {row_number}: {shown} {numbers.rule(cell)}")
    if not math.isfinite(value):
        raise ValueError(f"column {column!r}, row {row_number}: {cell!r} must be a finite number")
    return value


def _feature_matrix(names: list[str], rows: list[tuple[int, list[str]]],
                    columns: list[int], numbers: _Numbers) -> np.ndarray:
    """float32 (len(rows), len(columns)); ValueError naming column and row for a bad cell."""
    X = np.empty((len(rows), len(columns)), dtype=np.float64)
    for i, (row_number, cells) in enumerate(rows):
        X[i] = [_number_or_error(cells[j], names[j], row_number, numbers) for j in columns]
    return X.astype(np.float32)


def _class_name(value: float | str) -> str:
    return str(int(value)) if isinstance(value, float) else value


def _labels(column: str, cells: list[tuple[int, str]], task: str,
            numbers: _Numbers) -> tuple[np.ndarray, str, list[str]]:
    """(y, task, class_names) from the label cells (row number, text)."""
    for row_number, cell in cells:
        if cell == "":
            raise ValueError(f"column {column!r}, row {row_number}: the label is empty")
    parsed = [numbers.parse(cell) for _, cell in cells]
    numeric = all(v is not None for v in parsed)
    if task == REGRESSION or (task == "auto" and numeric and _looks_continuous(parsed)):
        values = [_number_or_error(cell, column, r, numbers) for r, cell in cells]
        return np.asarray(values, dtype=np.float32).reshape(-1, 1), REGRESSION, []
    if numeric:
        values = [_number_or_error(cell, column, r, numbers) for r, cell in cells]
        for (row_number, cell), v in zip(cells, values):
            if not v.is_integer():
                raise ValueError(f"column {column!r}, row {row_number}: class label {cell!r} "
                                 "must be a whole number or text; use task='regression' "
                                 "for continuous targets")
        keys: list[float | str] = values
    else:
        keys = [cell for _, cell in cells]
    classes = sorted(set(keys))
    if len(classes) < 2:
        raise ValueError(f"label column {column!r} has only one value ({_class_name(classes[0])}); "
                         "classification needs at least 2 classes")
    if task == "auto" and len(classes) > MAX_AUTO_CLASSES:
        raise ValueError(f"label column {column!r} holds {len(classes)} distinct text values; "
                         f"classification supports at most {MAX_AUTO_CLASSES} classes "
                         "(pass task='classification' to allow more)")
    index = {c: k for k, c in enumerate(classes)}
    y = np.asarray([index[k] for k in keys], dtype=np.int64)
    return y, CLASSIFICATION, [_class_name(c) for c in classes]


def _looks_continuous(values: list[float]) -> bool:
    """The "auto" rule for numeric labels: regression unless whole numbers with <= 20 values."""
    finite = [v for v in values if math.isfinite(v)]
    if len(finite) < len(values) or not all(v.is_integer() for v in finite):
        return True
    return len(set(finite)) > MAX_AUTO_CLASSES


def load_csv(source: str | bytes | os.PathLike, label_column: str | int,
             task: str = "auto", name: str | None = None) -> Dataset:
    """Load the user's numeric data from a CSV with a header row.

    source: a file path, the file's bytes, or the CSV text itself (UTF-8, with or
    without a byte order mark).
    label_column: the label's column name (or 0-based position); every other column
    must hold numbers.  task: "auto", "classification" or "regression".  With "auto",
    whole-number or text labels with at most 20 distinct values mean classification,
    anything else numeric means regression.

    The dialect is sniffed: the separator (comma, semicolon, tab or pipe), decimal
    comma ("1,5") or point, thousands grouping ("1,234.5" quoted in a comma file,
    "1.234,5"), quoted fields, LF / CRLF / CR line endings, and Excel's separator at the
    end of every line.  A scikit-learn style first line ("178,13,class_0,class_1,class_2":
    two whole numbers, and a field count unlike the rows below) is skipped; if numbers
    follow it there is no header row, the columns are named "column 1", "column 2", ...
    (pass -1 or "column N" for the label) and its class names name the classes when the
    labels are 0..k-1.  ``meta["dialect"]`` holds a sentence saying what was found, e.g.
    "Semicolon-separated, decimal comma, CR line endings (old Mac)."; ``description``
    ends with it too.

    Returns X float32 (N, D); y int64 (N,) with class_names = the sorted distinct labels,
    or float32 (N, 1) for regression.  Bad input raises ValueError naming column and row
    (rows counted from 1 at the first line, as a spreadsheet shows them) and the rule.
    """
    if task not in ("auto", CLASSIFICATION, REGRESSION):
        raise ValueError(f"task must be 'auto', 'classification' or 'regression' (got {task!r})")
    text, default_name = _csv_text(source)
    table = _read_table(text)
    names, rows = table.names, table.rows
    label = _find_column(names, label_column)
    features = [j for j in range(len(names)) if j != label]
    if not features:
        raise ValueError("the CSV needs at least one feature column besides the label")
    X = _feature_matrix(names, rows, features, table.numbers)
    y, task, class_names = _labels(names[label], [(r, cells[label]) for r, cells in rows], task,
                                   table.numbers)
    if task == CLASSIFICATION and class_names == [str(k) for k in range(len(table.meta_classes))]:
        class_names = list(table.meta_classes)     # 0, 1, 2 named by the metadata line
    dialect = _dialect_sentence(table)
    return Dataset(
        X=X,
        y=y,
        task=task,
        n_classes=len(class_names),
        class_names=class_names,
        feature_names=[names[j] for j in features],
        name=name or default_name,
        description=f"CSV data, label column {names[label]!r}. {dialect}",
        meta={"dialect": dialect},
    )


# --------------------------------------------------------------------------
# Preparing arrays for training
# --------------------------------------------------------------------------


@dataclass
class Split:
    """Train/validation/test arrays. A part with no rows has shape (0, ...)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def _allocate(total: int, counts: np.ndarray) -> np.ndarray:
    """Share ``total`` among groups in proportion to ``counts`` (largest remainder), sums to total."""
    if total == 0 or counts.sum() == 0:
        return np.zeros_like(counts)
    ideal = total * counts / counts.sum()
    shares = np.floor(ideal).astype(np.int64)
    leftover = total - shares.sum()
    order = np.argsort(-(ideal - shares), kind="stable")
    shares[order[:leftover]] += 1
    return shares


def _check_fraction(name: str, value: float) -> float:
    if not isinstance(value, numbers.Real) or not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be at least 0 and less than 1 (got {_fmt(value)})")
    return float(value)


def _split_indices(y: np.ndarray, n_val: int, n_test: int, rng: np.random.Generator,
                   stratify: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shuffled (train, val, test) row indices; per-class proportions kept if stratify."""
    groups = [np.flatnonzero(y == c) for c in np.unique(y)] if stratify else [np.arange(len(y))]
    counts = np.array([len(g) for g in groups])
    test_shares = _allocate(n_test, counts)
    val_shares = _allocate(n_val, counts - test_shares)
    parts: tuple[list, list, list] = ([], [], [])
    for g, n_te, n_va in zip(groups, test_shares, val_shares):
        g = rng.permutation(g)
        parts[2].append(g[:n_te])
        parts[1].append(g[n_te:n_te + n_va])
        parts[0].append(g[n_te + n_va:])
    return tuple(rng.permutation(np.concatenate(p)).astype(np.int64) for p in parts)


def train_val_test_split(ds: Dataset, val_fraction: float = 0.2, test_fraction: float = 0.0,
                         seed: int = 0, stratify: bool = True) -> Split:
    """Split a data set's rows into train/val/test, deterministically for a seed.

    Fractions are of all N rows of ds.X (sizes rounded).  Predefined splits win:
    if ``ds`` has its own test split (mnist, cifar10, nusax) that is the test part
    and ``test_fraction`` is ignored; if it has its own validation split (nusax)
    that is the validation part and ``val_fraction`` is ignored.  The remaining
    parts are taken from ds.X.  ``stratify`` keeps each class's share in every
    part (classification only).  Works for every kind, text object arrays too.
    """
    val_fraction = 0.0 if ds.has_val_split else _check_fraction("val_fraction", val_fraction)
    test_fraction = 0.0 if ds.has_test_split else _check_fraction("test_fraction", test_fraction)
    n = ds.n_samples
    n_val, n_test = round(val_fraction * n), round(test_fraction * n)
    if n - n_val - n_test < 1:
        raise ValueError(f"val_fraction + test_fraction must leave at least one training "
                         f"sample (got {_fmt(val_fraction)} + {_fmt(test_fraction)} of {n} rows)")
    rng = np.random.default_rng(seed)
    by_class = stratify and ds.task == CLASSIFICATION
    train, val, test = _split_indices(np.asarray(ds.y) if by_class else np.zeros(n),
                                      n_val, n_test, rng, by_class)
    if ds.has_val_split:
        X_val, y_val = ds.X_val, ds.y_val
    else:
        X_val, y_val = ds.X[val], ds.y[val]
    if ds.has_test_split:
        X_test, y_test = ds.X_test, ds.y_test
    else:
        X_test, y_test = ds.X[test], ds.y[test]
    return Split(ds.X[train], ds.y[train], X_val, y_val, X_test, y_test)


class Standardizer:
    """Per-feature z-scores: (X - mean) / std, fitted on training data only.

    mean and std have X.shape[1:]; a feature with std 0 gets std 1 (it maps to 0).
    """

    def __init__(self, mean: np.ndarray | None = None, std: np.ndarray | None = None) -> None:
        self.mean = None if mean is None else np.asarray(mean, dtype=np.float64)
        self.std = None if std is None else np.asarray(std, dtype=np.float64)

    @property
    def fitted(self) -> bool:
        return self.mean is not None and self.std is not None

    def fit(self, X: np.ndarray) -> "Standardizer":
        """Learn mean and std over the rows (axis 0) of X (N, ...)."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim < 2 or len(X) == 0:
            raise ValueError(f"Standardizer.fit needs a non-empty (N, D) array (got shape {X.shape})")
        self.mean = X.mean(axis=0)
        std = X.std(axis=0)
        self.std = np.where(std > 0, std, 1.0)
        return self

    def _require_fit(self, X: np.ndarray) -> np.ndarray:
        if not self.fitted:
            raise ValueError("the Standardizer is not fitted yet: call fit(X_train) first")
        X = np.asarray(X)
        if X.shape[1:] != self.mean.shape:
            raise ValueError(f"expected rows of shape {self.mean.shape}, got {X.shape[1:]}")
        return X

    def transform(self, X: np.ndarray) -> np.ndarray:
        """(X - mean) / std as float32, same shape as X."""
        X = self._require_fit(X)
        return ((X - self.mean) / self.std).astype(np.float32)

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        return self.fit(X).transform(X)

    def inverse_transform(self, Z: np.ndarray) -> np.ndarray:
        """Z * std + mean as float32 (e.g. to read regression predictions in original units)."""
        Z = self._require_fit(Z)
        return (Z * self.std + self.mean).astype(np.float32)

    def to_dict(self) -> dict[str, list]:
        """{"mean": [...], "std": [...]} with plain (JSON-ready) lists."""
        if not self.fitted:
            raise ValueError("the Standardizer is not fitted yet: call fit(X_train) first")
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, list]) -> "Standardizer":
        """The inverse of to_dict."""
        return cls(mean=data["mean"], std=data["std"])


def one_hot(y: np.ndarray, n_classes: int) -> np.ndarray:
    """(N,) int labels in 0..n_classes-1 -> float32 (N, n_classes) one-hot rows."""
    y = np.asarray(y).reshape(-1)
    if y.size and (not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"labels must be whole numbers from 0 to {n_classes - 1}")
    out = np.zeros((y.size, n_classes), dtype=np.float32)
    out[np.arange(y.size), y] = 1.0
    return out


_LOADERS: dict[str, Callable[..., Dataset]] = {
    "moons": load_moons,
    "circles": load_circles,
    "xor": load_xor,
    "spiral": load_spiral,
    "blobs": load_blobs,
    "linear": load_linear,
    "sine": load_sine,
    "digits": load_digits,
    "iris": load_iris,
    "wine": load_wine,
    "breast_cancer": load_breast_cancer,
    "mnist": load_mnist,
    "cifar10": load_cifar10,
    "nusax": load_nusax_dataset,
}
