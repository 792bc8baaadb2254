"""Data sets for Backprop Studio.

Every loader returns a :class:`Dataset`.  Shapes, with N samples and D features:

* classification: ``X`` float32 (N, D), ``y`` int64 (N,) with values 0..n_classes-1
* regression:     ``X`` float32 (N, D), ``y`` float32 (N, 1)
* mnist:          ``X`` float32 (N, 784) (or (N, 28, 28) with ``flatten=False``),
  plus the predefined test split ``X_test`` / ``y_test``

Sources:

* bundled with scikit-learn: ``digits``, ``iris``, ``wine``, ``breast_cancer``
* synthetic 2-D classification (our own NumPy code): ``moons``, ``circles``,
  ``xor``, ``spiral``, ``blobs``
* synthetic regression: ``linear``, ``sine``
* ``mnist`` from a Keras-layout ``mnist.npz`` (downloaded once if missing)
* the user's own numbers: :func:`load_csv`

Use :func:`load` with a name from :data:`DATASETS` (a table a web form can be
built from), then :func:`train_val_test_split`, :class:`Standardizer` and
:func:`one_hot` to prepare the arrays for training.

Only numpy and the standard library are imported here; scikit-learn and tqdm
are imported inside the functions that need them.
"""

from __future__ import annotations

import csv
import io
import math
import numbers
import os
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import numpy as np

__all__ = [
    "DATASETS",
    "Dataset",
    "DatasetUnavailableError",
    "MAX_CSV_CELLS",
    "MNIST_URL",
    "Split",
    "Standardizer",
    "load",
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
    "mnist_available",
    "mnist_path",
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


@dataclass
class Dataset:
    """Arrays plus the facts a model and a dashboard need about them.

    X: float32 (N, D) (mnist with ``flatten=False``: (N, 28, 28)).
    y: int64 (N,) class indices for classification; float32 (N, 1) for regression.
    n_classes: number of classes; 0 for regression.
    class_names: one name per class index (empty for regression).
    feature_names: one name per column of X.
    X_test, y_test: a predefined test split (mnist), else None.
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

    @property
    def n_samples(self) -> int:
        """Number of rows in X (the predefined test split not counted)."""
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        """Number of input values per sample (784 for mnist, flattened or not)."""
        return int(np.prod(self.X.shape[1:]))

    @property
    def n_outputs(self) -> int:
        """Width of a model's output layer: n_classes, or y's column count."""
        return self.n_classes if self.task == CLASSIFICATION else int(self.y.shape[1])

    @property
    def has_test_split(self) -> bool:
        """True when the data set comes with its own test split."""
        return self.X_test is not None and self.y_test is not None


# --------------------------------------------------------------------------
# Parameter table: name -> info dict (task, description, params with ranges)
# --------------------------------------------------------------------------


def _int_param(default: int, low: int, high: int, help_text: str) -> dict[str, Any]:
    return {"type": "int", "default": default, "min": low, "max": high, "help": help_text}


def _float_param(default: float, low: float, high: float, help_text: str) -> dict[str, Any]:
    return {"type": "float", "default": default, "min": low, "max": high, "help": help_text}


def _bool_param(default: bool, help_text: str) -> dict[str, Any]:
    return {"type": "bool", "default": default, "help": help_text}


_SEED = _int_param(0, 0, 2**32 - 1, "random seed: the same seed gives the same data")


def _n_samples(default: int) -> dict[str, Any]:
    return _int_param(default, 10, 100_000, "number of points")


def _noise(default: float) -> dict[str, Any]:
    return _float_param(default, 0.0, 1.0, "standard deviation of the Gaussian noise")


_N_CLASSES = _int_param(3, 2, 10, "number of classes")

DATASETS: dict[str, dict[str, Any]] = {
    "moons": {
        "task": CLASSIFICATION,
        "source": "synthetic",
        "description": "Two interleaving half-circles, 2 classes.",
        "params": {"n_samples": _n_samples(300), "noise": _noise(0.1), "seed": _SEED},
    },
    "circles": {
        "task": CLASSIFICATION,
        "source": "synthetic",
        "description": "A small circle inside a large one (radius 1), 2 classes.",
        "params": {
            "n_samples": _n_samples(300),
            "noise": _noise(0.05),
            "factor": _float_param(0.5, 0.1, 0.9, "radius of the inner circle"),
            "seed": _SEED,
        },
    },
    "xor": {
        "task": CLASSIFICATION,
        "source": "synthetic",
        "description": "Points in [-1, 1]^2; class 1 where x1 and x2 have opposite signs.",
        "params": {"n_samples": _n_samples(300), "noise": _noise(0.05), "seed": _SEED},
    },
    "spiral": {
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
        "task": REGRESSION,
        "source": "synthetic",
        "description": "y = X w + b + noise, X standard normal, random w and b.",
        "params": {
            "n_samples": _n_samples(300),
            "noise": _noise(0.1),
            "n_features": _int_param(3, 1, 100, "number of input features"),
            "seed": _SEED,
        },
    },
    "sine": {
        "task": REGRESSION,
        "source": "synthetic",
        "description": "x uniform in [-pi, pi], y = sin(x) + noise.",
        "params": {"n_samples": _n_samples(300), "noise": _noise(0.1), "seed": _SEED},
    },
    "digits": {
        "task": CLASSIFICATION,
        "source": "scikit-learn",
        "description": "8x8 images of handwritten digits (1797 samples, 64 features 0..16).",
        "params": {},
    },
    "iris": {
        "task": CLASSIFICATION,
        "source": "scikit-learn",
        "description": "Iris flowers: 150 samples, 4 measurements, 3 species.",
        "params": {},
    },
    "wine": {
        "task": CLASSIFICATION,
        "source": "scikit-learn",
        "description": "Wine chemistry: 178 samples, 13 features, 3 cultivars.",
        "params": {},
    },
    "breast_cancer": {
        "task": CLASSIFICATION,
        "source": "scikit-learn",
        "description": "Breast cancer diagnosis: 569 samples, 30 features, 2 classes.",
        "params": {},
    },
    "mnist": {
        "task": CLASSIFICATION,
        "source": "download",
        "description": "28x28 handwritten digits: 60000 train + 10000 test images.",
        "params": {
            "flatten": _bool_param(True, "reshape each image to 784 values"),
            "normalize": _bool_param(True, "scale pixels from 0..255 to 0..1"),
            "download": _bool_param(True, "download the file if it is not on disk"),
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
    )


def load_digits() -> Dataset:
    """scikit-learn digits: X (1797, 64) values 0..16, y (1797,) in 0..9."""
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
# MNIST
# --------------------------------------------------------------------------

MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
MNIST_FILENAME = "mnist.npz"
MNIST_KEYS = ("x_train", "y_train", "x_test", "y_test")
_DOWNLOAD_TIMEOUT_S = 30
_CHUNK_BYTES = 1 << 16


def user_data_dir() -> Path:
    """The per-user data folder, ~/.backprop_studio/data."""
    return Path.home() / ".backprop_studio" / "data"


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


def _progress_bar(total: int | None) -> Any:
    """A tqdm bar in bytes, or a silent stand-in when tqdm is missing."""
    try:
        from tqdm import tqdm  # lazy: only downloads need it
    except ImportError:
        return SimpleNamespace(update=lambda n: None, close=lambda: None)
    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc="mnist.npz")


def _download(url: str, target: Path) -> None:
    """Fetch url into target via a temporary file that is renamed once it verifies.

    Raises OSError/URLError on network problems, ValueError if the file is not MNIST.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".mnist-", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, \
                urllib.request.urlopen(url, timeout=_DOWNLOAD_TIMEOUT_S) as response:
            length = response.headers.get("Content-Length")
            bar = _progress_bar(int(length) if length else None)
            try:
                while chunk := response.read(_CHUNK_BYTES):
                    out.write(chunk)
                    bar.update(len(chunk))
            finally:
                bar.close()
        _read_mnist_arrays(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _ensure_mnist(download: bool) -> Path:
    """Path to a local mnist.npz, downloading it first if allowed and needed."""
    path = mnist_path()
    if path.is_file():
        return path
    if not download:
        raise DatasetUnavailableError(
            f"MNIST is not on this computer and downloading is turned off. {_where_to_put_mnist(path)}")
    try:
        _download(MNIST_URL, path)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DatasetUnavailableError(
            f"MNIST could not be downloaded from {MNIST_URL} ({reason}); are you offline? "
            f"{_where_to_put_mnist(path)}") from exc
    return path


def load_mnist(flatten: bool = True, normalize: bool = True, download: bool = True) -> Dataset:
    """MNIST digits with its own test split.

    X (60000, 784) and X_test (10000, 784) float32 (or (N, 28, 28) with flatten=False),
    values in [0, 1] (or 0..255 with normalize=False); y (60000,), y_test (10000,) int64.
    The file is found by :func:`mnist_path`; if missing it is downloaded once
    (``download=True``) or DatasetUnavailableError is raised.
    """
    p = _check("mnist", flatten=flatten, normalize=normalize, download=download)
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
        X=images(arrays["x_train"]),
        y=arrays["y_train"].astype(np.int64),
        X_test=images(arrays["x_test"]),
        y_test=arrays["y_test"].astype(np.int64),
        task=CLASSIFICATION,
        n_classes=10,
        class_names=[str(d) for d in range(10)],
        feature_names=[f"pixel_{r}_{c}" for r in range(28) for c in range(28)],
        name="mnist",
        description=DATASETS["mnist"]["description"],
        meta={"path": str(path), "image_shape": [28, 28]},
    )


# --------------------------------------------------------------------------
# The user's own CSV
# --------------------------------------------------------------------------

MAX_CSV_CELLS = 1_000_000
MAX_AUTO_CLASSES = 20


def _csv_text(source: str | bytes | os.PathLike) -> tuple[str, str]:
    """(text, name) from a path, raw bytes, or the CSV text itself.

    A str is a path if it names a file or looks like one (one line, no comma);
    otherwise it is the CSV text.
    """
    if isinstance(source, (bytes, bytearray)):
        data, name = bytes(source), "csv"
    elif isinstance(source, str) and not _looks_like_path(source):
        return source.lstrip("\ufeff"), "csv"
    else:
        path = Path(source)
        if not path.is_file():
            raise ValueError(f"CSV file not found: {path}")
        data, name = path.read_bytes(), path.stem
    try:
        return data.decode("utf-8-sig"), name
    except UnicodeDecodeError as exc:
        raise ValueError(f"the CSV must be UTF-8 text ({exc})") from exc


def _looks_like_path(text: str) -> bool:
    one_line = "\n" not in text and "\r" not in text
    return one_line and (Path(text).is_file() or (text.strip() != "" and "," not in text))


def _parse_float(cell: str) -> float | None:
    """The number in a cell, or None if it is not one (non-finite values count as numbers)."""
    try:
        return float(cell)
    except ValueError:
        return None


def _read_header(header: list[str]) -> list[str]:
    names = [cell.strip() or f"column_{j + 1}" for j, cell in enumerate(header)]
    if all(_parse_float(n) is not None for n in names):
        raise ValueError("the first row must be a header of column names, "
                         f"but it holds only numbers ({', '.join(names[:5])})")
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise ValueError(f"column name {n!r} appears twice in the header")
        seen.add(n)
    return names


def _read_rows(text: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header names and (spreadsheet row number, stripped cells) of each data row.

    Row numbers count the header as row 1, as a spreadsheet shows them.
    """
    records = enumerate(csv.reader(io.StringIO(text)), start=1)
    header = next(((i, r) for i, r in records if any(c.strip() for c in r)), None)
    if header is None:
        raise ValueError("the CSV is empty: it needs a header row and at least 2 data rows")
    names = _read_header(header[1])
    rows: list[tuple[int, list[str]]] = []
    n_cells = len(names)
    for row_number, cells in records:
        if not any(c.strip() for c in cells):
            continue  # blank line
        if len(cells) != len(names):
            raise ValueError(f"row {row_number} has {len(cells)} values but the header has "
                             f"{len(names)} columns; every row needs one value per column")
        n_cells += len(cells)
        if n_cells > MAX_CSV_CELLS:
            raise ValueError(f"the CSV is too large: more than {MAX_CSV_CELLS:,} cells")
        rows.append((row_number, [c.strip() for c in cells]))
    if len(rows) < 2:
        raise ValueError(f"the CSV needs at least 2 data rows below the header (got {len(rows)})")
    return names, rows


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


def _number_or_error(cell: str, column: str, row_number: int) -> float:
    value = _parse_float(cell)
    if value is None:
        shown = "empty cell" if cell == "" else repr(cell)
        raise ValueError(f"column {column!r}, row {row_number}: {shown} must be a number")
    if not math.isfinite(value):
        raise ValueError(f"column {column!r}, row {row_number}: {cell!r} must be a finite number")
    return value


def _feature_matrix(names: list[str], rows: list[tuple[int, list[str]]],
                    columns: list[int]) -> np.ndarray:
    """float32 (len(rows), len(columns)); ValueError naming column and row for a bad cell."""
    X = np.empty((len(rows), len(columns)), dtype=np.float64)
    for i, (row_number, cells) in enumerate(rows):
        X[i] = [_number_or_error(cells[j], names[j], row_number) for j in columns]
    return X.astype(np.float32)


def _class_name(value: float | str) -> str:
    return str(int(value)) if isinstance(value, float) else value


def _labels(column: str, cells: list[tuple[int, str]], task: str) -> tuple[np.ndarray, str, list[str]]:
    """(y, task, class_names) from the label cells (row number, text)."""
    for row_number, cell in cells:
        if cell == "":
            raise ValueError(f"column {column!r}, row {row_number}: the label is empty")
    parsed = [_parse_float(cell) for _, cell in cells]
    numeric = all(v is not None for v in parsed)
    if task == REGRESSION or (task == "auto" and numeric and _looks_continuous(parsed)):
        values = [_number_or_error(cell, column, r) for r, cell in cells]
        return np.asarray(values, dtype=np.float32).reshape(-1, 1), REGRESSION, []
    if numeric:
        values = [_number_or_error(cell, column, r) for r, cell in cells]
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

    source: a file path, the file's bytes, or the CSV text itself.
    label_column: the label's column name (or 0-based position); every other column
    must hold numbers.  task: "auto", "classification" or "regression".  With "auto",
    whole-number or text labels with at most 20 distinct values mean classification,
    anything else numeric means regression.
    Returns X float32 (N, D); y int64 (N,) with class_names = the sorted distinct labels,
    or float32 (N, 1) for regression.  Bad input raises ValueError naming column and row.
    """
    if task not in ("auto", CLASSIFICATION, REGRESSION):
        raise ValueError(f"task must be 'auto', 'classification' or 'regression' (got {task!r})")
    text, default_name = _csv_text(source)
    names, rows = _read_rows(text)
    label = _find_column(names, label_column)
    features = [j for j in range(len(names)) if j != label]
    if not features:
        raise ValueError("the CSV needs at least one feature column besides the label")
    X = _feature_matrix(names, rows, features)
    y, task, class_names = _labels(names[label], [(r, cells[label]) for r, cells in rows], task)
    return Dataset(
        X=X,
        y=y,
        task=task,
        n_classes=len(class_names),
        class_names=class_names,
        feature_names=[names[j] for j in features],
        name=name or default_name,
        description=f"CSV data, label column {names[label]!r}",
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

    Fractions are of all N rows (sizes rounded).  If ``ds`` has a predefined test
    split (mnist) that is the test part and ``test_fraction`` is ignored; the
    validation part is then taken from ds.X.  ``stratify`` keeps each class's share
    in every part (classification only).
    """
    val_fraction = _check_fraction("val_fraction", val_fraction)
    test_fraction = 0.0 if ds.has_test_split else _check_fraction("test_fraction", test_fraction)
    n = ds.n_samples
    n_val, n_test = round(val_fraction * n), round(test_fraction * n)
    if n - n_val - n_test < 1:
        raise ValueError(f"val_fraction + test_fraction must leave at least one training "
                         f"sample (got {_fmt(val_fraction)} + {_fmt(test_fraction)} of {n} rows)")
    rng = np.random.default_rng(seed)
    by_class = stratify and ds.task == CLASSIFICATION
    train, val, test = _split_indices(ds.y if by_class else np.zeros(n), n_val, n_test, rng, by_class)
    if ds.has_test_split:
        X_test, y_test = ds.X_test, ds.y_test
    else:
        X_test, y_test = ds.X[test], ds.y[test]
    return Split(ds.X[train], ds.y[train], ds.X[val], ds.y[val], X_test, y_test)


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
}
