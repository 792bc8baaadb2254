"""Tests for engine.datasets: values, not only shapes."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from engine import datasets as D
from engine.datasets import Dataset, DatasetUnavailableError, Standardizer

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]

SYNTHETIC = ["moons", "circles", "xor", "spiral", "blobs", "linear", "sine"]
ATOL = 1e-5  # float32 storage of values computed in float64


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """An empty data folder for mnist, with the environment pointing at it."""
    monkeypatch.delenv("MNIST_PATH", raising=False)
    monkeypatch.setenv("BACKPROP_DATA_DIR", str(tmp_path))
    return tmp_path


# ---------------------------------------------------------------- synthetic


def test_moons_points_lie_on_their_half_circles_at_zero_noise():
    ds = D.load("moons", n_samples=301, noise=0.0, seed=3)
    x, y = ds.X[:, 0].astype(np.float64), ds.X[:, 1].astype(np.float64)
    upper, lower = ds.y == 0, ds.y == 1
    assert sorted(np.bincount(ds.y)) == [150, 151]
    np.testing.assert_allclose(x[upper] ** 2 + y[upper] ** 2, 1.0, atol=ATOL)
    assert (y[upper] >= -ATOL).all()
    np.testing.assert_allclose((x[lower] - 1) ** 2 + (y[lower] - 0.5) ** 2, 1.0, atol=ATOL)
    assert (y[lower] <= 0.5 + ATOL).all()


def test_moons_noise_moves_points_off_the_curve_by_about_noise():
    ds = D.load("moons", n_samples=4000, noise=0.1, seed=0)
    upper = ds.X[ds.y == 0].astype(np.float64)
    radial = np.hypot(upper[:, 0], upper[:, 1]) - 1.0
    assert 0.07 < radial.std() < 0.13


def test_circles_radii_at_zero_noise():
    ds = D.load("circles", n_samples=200, noise=0.0, factor=0.3, seed=1)
    r = np.hypot(ds.X[:, 0], ds.X[:, 1])
    np.testing.assert_allclose(r[ds.y == 0], 1.0, atol=ATOL)
    np.testing.assert_allclose(r[ds.y == 1], 0.3, atol=ATOL)
    assert np.bincount(ds.y).tolist() == [100, 100]
    assert ds.meta["radii"] == [1.0, 0.3]


def test_xor_label_is_the_sign_rule():
    ds = D.load("xor", n_samples=500, noise=0.0, seed=2)
    product = ds.X[:, 0] * ds.X[:, 1]
    assert np.array_equal(ds.y, (product < 0).astype(np.int64))
    assert np.bincount(ds.y).tolist() == [250, 250]
    assert np.abs(ds.X).max() <= 1.0
    # all four quadrants are used
    quadrants = {(a, b) for a, b in zip(ds.X[:, 0] > 0, ds.X[:, 1] > 0)}
    assert len(quadrants) == 4


@pytest.mark.parametrize("n_classes", [2, 3, 5, 10])
def test_spiral_arms_balanced_and_on_their_curve(n_classes):
    ds = D.load("spiral", n_samples=1000, noise=0.0, n_classes=n_classes, seed=4)
    counts = np.bincount(ds.y, minlength=n_classes)
    assert ds.n_classes == n_classes and len(counts) == n_classes
    assert counts.max() - counts.min() <= 1 and counts.sum() == 1000
    # every point is r * (cos a, sin a) with a = 2 pi (k / K + turns * r)
    X = ds.X.astype(np.float64)
    r = np.hypot(X[:, 0], X[:, 1])
    expected = 2 * np.pi * (ds.y / n_classes + D.SPIRAL_TURNS * r)
    keep = r > 1e-3  # the angle of a point at the centre is meaningless
    diff = np.angle(np.exp(1j * (np.arctan2(X[:, 1], X[:, 0]) - expected)))
    assert np.abs(diff[keep]).max() < 1e-3
    assert r.max() <= 1.0 + ATOL


def test_blobs_points_sit_on_their_centres_at_zero_noise():
    ds = D.load("blobs", n_samples=120, noise=0.0, n_classes=4, seed=5)
    centers = np.asarray(ds.meta["centers"])
    assert centers.shape == (4, 2)
    np.testing.assert_allclose(np.hypot(centers[:, 0], centers[:, 1]), 1.0)
    np.testing.assert_allclose(ds.X, centers[ds.y], atol=ATOL)
    assert np.bincount(ds.y).tolist() == [30, 30, 30, 30]


def test_blobs_spread_matches_noise():
    ds = D.load("blobs", n_samples=6000, noise=0.2, n_classes=3, seed=0)
    centers = np.asarray(ds.meta["centers"])
    residual = ds.X - centers[ds.y]
    np.testing.assert_allclose(residual.std(axis=0), 0.2, rtol=0.05)


def test_linear_is_exactly_linear_at_zero_noise():
    ds = D.load("linear", n_samples=200, noise=0.0, n_features=4, seed=6)
    assert ds.task == "regression" and ds.n_classes == 0 and ds.n_outputs == 1
    assert ds.X.shape == (200, 4) and ds.y.shape == (200, 1) and ds.y.dtype == np.float32
    w, b = np.asarray(ds.meta["weights"]), ds.meta["bias"]
    np.testing.assert_allclose(ds.y[:, 0], ds.X.astype(np.float64) @ w + b, atol=1e-4)


def test_linear_noise_is_the_residual_std():
    ds = D.load("linear", n_samples=20000, noise=0.5, n_features=2, seed=0)
    w, b = np.asarray(ds.meta["weights"]), ds.meta["bias"]
    residual = ds.y[:, 0] - (ds.X @ w + b)
    assert abs(residual.std() - 0.5) < 0.02


def test_sine_values():
    ds = D.load("sine", n_samples=300, noise=0.0, seed=7)
    assert ds.X.shape == (300, 1) and ds.y.shape == (300, 1)
    assert ds.X.min() >= -np.pi and ds.X.max() <= np.pi
    np.testing.assert_allclose(ds.y, np.sin(ds.X.astype(np.float64)), atol=ATOL)


@pytest.mark.parametrize("name", SYNTHETIC)
def test_same_seed_same_data_other_seed_other_data(name):
    a, b, c = D.load(name, seed=11), D.load(name, seed=11), D.load(name, seed=12)
    assert np.array_equal(a.X, b.X) and np.array_equal(a.y, b.y)
    assert not np.array_equal(a.X, c.X)
    assert a.X.dtype == np.float32 and a.X.ndim == 2 and len(a.X) == len(a.y)


@pytest.mark.parametrize("name", ["moons", "circles", "xor", "spiral", "blobs"])
def test_synthetic_classification_rows_are_shuffled(name):
    ds = D.load(name, n_samples=200)
    assert ds.y.dtype == np.int64
    assert not np.array_equal(ds.y, np.sort(ds.y))


def test_named_loaders_equal_load():
    assert np.array_equal(D.load_spiral(n_classes=4, seed=9).X, D.load("spiral", n_classes=4, seed=9).X)


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize("name, params, message", [
    ("moons", {"noise": 2}, "noise must be between 0 and 1 (got 2)"),
    ("moons", {"noise": -0.5}, "noise must be between 0 and 1 (got -0.5)"),
    ("moons", {"noise": float("nan")}, "noise must be between 0 and 1 (got nan)"),
    ("circles", {"n_samples": 5}, "n_samples must be between 10 and 100000 (got 5)"),
    ("xor", {"n_samples": 200_000}, "n_samples must be between 10 and 100000 (got 200000)"),
    ("spiral", {"n_classes": 11}, "n_classes must be between 2 and 10 (got 11)"),
    ("blobs", {"n_classes": 1}, "n_classes must be between 2 and 10 (got 1)"),
    ("moons", {"n_samples": 12.5}, "n_samples must be a whole number (got 12.5)"),
    ("moons", {"noise": "0.1"}, "noise must be a number (got '0.1')"),
    ("mnist", {"flatten": 1}, "flatten must be true or false (got 1)"),
    ("moons", {"n_classes": 3}, "unknown parameter 'n_classes' for data set 'moons'"),
    ("iris", {"seed": 1}, "unknown parameter 'seed' for data set 'iris' (allowed: none)"),
])
def test_bad_parameters_name_the_parameter_and_rule(name, params, message):
    with pytest.raises(ValueError) as info:
        D.load(name, **params)
    assert message in str(info.value)


def test_unknown_data_set_lists_the_choices():
    with pytest.raises(ValueError, match="unknown data set 'cifar'; choose one of: moons"):
        D.load("cifar")


def test_whole_float_is_accepted_for_an_int_parameter():
    assert D.load("moons", n_samples=50.0).n_samples == 50


def test_datasets_table_describes_every_loader():
    expected = {"digits", "iris", "wine", "breast_cancer", "moons", "circles", "xor",
                "spiral", "blobs", "linear", "sine", "mnist", "cifar10", "nusax"}
    assert set(D.DATASETS) == expected
    json.dumps(D.DATASETS)  # plain data, ready for a web form
    for name, info in D.DATASETS.items():
        assert info["task"] in ("classification", "regression")
        assert info["description"] and info["label"]
        assert info["kind"] in ("table", "image", "text")
        for pname, spec in info["params"].items():
            assert spec["type"] in ("int", "float", "bool")
            if spec["type"] != "bool":
                assert spec["min"] <= spec["default"] <= spec["max"]
    assert D.DATASETS["moons"]["params"]["noise"]["min"] == 0
    assert D.DATASETS["moons"]["params"]["noise"]["max"] == 1
    assert D.DATASETS["spiral"]["params"]["n_classes"] == {
        "type": "int", "default": 3, "min": 2, "max": 10, "help": "number of classes", "label": "Classes"}
    assert D.DATASETS["blobs"]["params"]["n_samples"]["min"] == 10
    assert D.DATASETS["blobs"]["params"]["n_samples"]["max"] == 100_000


@pytest.mark.parametrize("name", SYNTHETIC)
def test_defaults_from_the_table_are_what_load_uses(name):
    defaults = {p: s["default"] for p, s in D.DATASETS[name]["params"].items()}
    assert np.array_equal(D.load(name).X, D.load(name, **defaults).X)


# ---------------------------------------------------------------- scikit-learn


@pytest.mark.parametrize("name", ["digits", "iris", "wine", "breast_cancer"])
def test_sklearn_sets_match_sklearn(name):
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, f"load_{name}")()
    ds = D.load(name)
    assert ds.X.dtype == np.float32 and ds.y.dtype == np.int64
    np.testing.assert_array_equal(ds.X, bunch.data.astype(np.float32))
    np.testing.assert_array_equal(ds.y, bunch.target)
    assert ds.class_names == [str(c) for c in bunch.target_names]
    assert ds.feature_names == list(bunch.feature_names)
    assert ds.n_classes == len(bunch.target_names) and ds.task == "classification"


def test_iris_values():
    ds = D.load_iris()
    assert ds.X.shape == (150, 4) and np.bincount(ds.y).tolist() == [50, 50, 50]
    np.testing.assert_allclose(ds.X[0], [5.1, 3.5, 1.4, 0.2], rtol=1e-6)
    assert ds.class_names == ["setosa", "versicolor", "virginica"]


# ---------------------------------------------------------------- mnist


@pytest.fixture
def real_mnist(monkeypatch):
    if not (SHARED_DATA / "mnist.npz").is_file():
        pytest.skip(f"no mnist.npz in {SHARED_DATA}")
    monkeypatch.delenv("MNIST_PATH", raising=False)
    monkeypatch.setenv("BACKPROP_DATA_DIR", str(SHARED_DATA))

    def fail(*args, **kwargs):
        raise AssertionError("the local file must be used, not the network")

    monkeypatch.setattr(urllib.request, "urlopen", fail)


def test_mnist_from_the_real_file(real_mnist):
    assert D.mnist_available()
    ds = D.load("mnist")
    assert ds.X.shape == (60000, 784) and ds.X.dtype == np.float32
    assert ds.X_test.shape == (10000, 784) and ds.has_test_split
    assert ds.X.min() == 0.0 and ds.X.max() == 1.0
    assert np.bincount(ds.y).tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(ds.y_test).tolist() == MNIST_TEST_COUNTS
    assert ds.n_classes == 10 and ds.class_names == [str(d) for d in range(10)]
    assert len(ds.feature_names) == 784


def test_mnist_unflattened_raw_pixels(real_mnist):
    ds = D.load_mnist(flatten=False, normalize=False)
    assert ds.X.shape == (60000, 28, 28) and ds.X_test.shape == (10000, 28, 28)
    with np.load(SHARED_DATA / "mnist.npz") as npz:
        np.testing.assert_array_equal(ds.X[:100], npz["x_train"][:100])
        np.testing.assert_array_equal(ds.y_test, npz["y_test"])
    assert ds.X.max() == 255.0


def test_mnist_split_uses_the_predefined_test_set(real_mnist):
    ds = D.load("mnist")
    split = D.train_val_test_split(ds, val_fraction=0.1, test_fraction=0.5, seed=0)
    assert len(split.X_train) == 54000 and len(split.X_val) == 6000
    assert split.X_test is ds.X_test and split.y_test is ds.y_test


def test_mnist_path_precedence(tmp_path, monkeypatch):
    monkeypatch.delenv("MNIST_PATH", raising=False)
    monkeypatch.delenv("BACKPROP_DATA_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert D.mnist_path() == tmp_path / ".backprop_studio" / "data" / "mnist.npz"
    monkeypatch.setenv("BACKPROP_DATA_DIR", str(tmp_path / "d"))
    assert D.mnist_path() == tmp_path / "d" / "mnist.npz"
    monkeypatch.setenv("MNIST_PATH", str(tmp_path / "x.npz"))
    assert D.mnist_path() == tmp_path / "x.npz"
    assert not D.mnist_available()


def test_mnist_offline_raises_a_clear_error(data_dir, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    assert not D.mnist_available()
    with pytest.raises(DatasetUnavailableError) as info:
        D.load("mnist")
    message = str(info.value)
    assert "could not be downloaded" in message and "no network" in message
    assert str(data_dir / "mnist.npz") in message
    assert "BACKPROP_DATA_DIR" in message and "MNIST_PATH" in message
    assert isinstance(info.value, RuntimeError)
    assert list(data_dir.iterdir()) == []  # no half-written file left behind


def test_mnist_download_false_never_touches_the_network(data_dir, monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("must not download")

    monkeypatch.setattr(urllib.request, "urlopen", fail)
    with pytest.raises(DatasetUnavailableError, match="downloading is turned off"):
        D.load("mnist", download=False)


class _FakeResponse(io.BytesIO):
    def __init__(self, data: bytes):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}


def _tiny_mnist_bytes() -> tuple[bytes, dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (12, 28, 28), dtype=np.uint8),
        "y_train": (np.arange(12) % 10).astype(np.uint8),
        "x_test": rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
        "y_test": np.arange(5, dtype=np.uint8),
    }
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue(), arrays


def test_mnist_download_writes_the_file_once(data_dir, monkeypatch):
    payload, arrays = _tiny_mnist_bytes()
    calls = []

    def fake_urlopen(url, timeout=None):
        calls.append(url)
        return _FakeResponse(payload)

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    ds = D.load("mnist")
    assert calls == [D.MNIST_URL]
    assert (data_dir / "mnist.npz").read_bytes() == payload
    assert sorted(p.name for p in data_dir.iterdir()) == ["mnist.npz"]
    np.testing.assert_allclose(ds.X, arrays["x_train"].reshape(12, 784) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(ds.y, arrays["y_train"])
    D.load("mnist")  # second time: from disk
    assert len(calls) == 1 and D.mnist_available()


def test_mnist_bad_download_is_not_kept(data_dir, monkeypatch):
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: _FakeResponse(b"<html>"))
    with pytest.raises(DatasetUnavailableError, match="not a readable .npz"):
        D.load("mnist")
    assert list(data_dir.iterdir()) == []


def test_mnist_file_with_wrong_keys(data_dir):
    np.savez(data_dir / "mnist.npz", images=np.zeros((2, 28, 28)))
    with pytest.raises(DatasetUnavailableError, match="lacks the keys x_train, y_train, x_test, y_test"):
        D.load("mnist")


# ---------------------------------------------------------------- CSV

GOOD_CSV = '''age,height,"weight, kg",species
31,1.70,"65.5","cat, tabby"
42,1.80,80,dog

27,1.65,55,"cat, tabby"
'''


def test_csv_with_quoted_fields_and_string_labels():
    ds = D.load_csv(GOOD_CSV, "species")
    assert ds.task == "classification" and ds.n_classes == 2
    assert ds.class_names == ["cat, tabby", "dog"]
    assert ds.y.tolist() == [0, 1, 0]
    assert ds.feature_names == ["age", "height", "weight, kg"]
    assert ds.X.dtype == np.float32
    np.testing.assert_allclose(ds.X, [[31, 1.70, 65.5], [42, 1.80, 80], [27, 1.65, 55]], rtol=1e-6)


def test_csv_text_column_is_reported_with_column_row_and_rule():
    text = 'name,height,label\nBob,1.8,a\n"Smith, Anna",1.7,b\n'
    with pytest.raises(ValueError) as info:
        D.load_csv(text, "label")
    assert str(info.value) == "column 'name', row 2: 'Bob' must be a number"


def test_csv_row_numbers_count_header_and_blank_lines_like_a_spreadsheet():
    text = "a,b,label\n1,2,x\n3,4,y\n\n5,oops,x\n"
    with pytest.raises(ValueError, match=r"column 'b', row 5: 'oops' must be a number"):
        D.load_csv(text, "label")


def test_csv_from_path_and_bytes(tmp_path):
    text = "\ufeffx,y\n1,0.5\n2,1.5\n3,2.25\n"
    path = tmp_path / "my data.csv"
    path.write_text(text, encoding="utf-8")
    from_path = D.load_csv(path, "y")
    from_str_path = D.load_csv(str(path), "y")
    from_bytes = D.load_csv(text.encode("utf-8"), "y")
    for ds in (from_path, from_str_path, from_bytes):
        assert ds.task == "regression" and ds.y.shape == (3, 1)
        np.testing.assert_allclose(ds.y[:, 0], [0.5, 1.5, 2.25])
        assert ds.feature_names == ["x"]
    assert from_path.name == "my data"


def test_csv_numeric_labels():
    ints = D.load_csv("a,label\n0.1,3\n0.2,1\n0.3,3\n0.4,7\n", "label")
    assert ints.task == "classification" and ints.class_names == ["1", "3", "7"]
    assert ints.y.tolist() == [1, 0, 1, 2]
    floats = D.load_csv("a,label\n0.1,3.5\n0.2,1\n", "label")
    assert floats.task == "regression"
    many = "a,label\n" + "".join(f"{i},{i}\n" for i in range(21))
    assert D.load_csv(many, "label").task == "regression"
    assert D.load_csv(many, "label", task="classification").n_classes == 21
    forced = D.load_csv("a,label\n0.1,3\n0.2,1\n", "label", task="regression")
    assert forced.task == "regression" and forced.y[:, 0].tolist() == [3.0, 1.0]


def test_csv_label_by_position():
    ds = D.load_csv("a,b,label\n1,2,x\n3,4,y\n", -1)
    assert ds.feature_names == ["a", "b"] and ds.class_names == ["x", "y"]


@pytest.mark.parametrize("text, label, message", [
    ("", "label", "the CSV is empty"),
    ("\n\n  \n", "label", "the CSV is empty"),
    ("a,label", "label", "at least 2 data rows below the header (got 0)"),
    ("a,label\n1,x\n", "label", "at least 2 data rows below the header (got 1)"),
    ("a,label\n1,x\n2,y,3\n", "label", "row 3 has 3 values but the header has 2 columns"),
    ("a,label\n1,x\n2\n", "label", "row 3 has 1 values but the header has 2 columns"),
    ("a,label\n1,x\ninf,y\n", "label", "column 'a', row 3: 'inf' must be a finite number"),
    ("a,label\n1,x\nnan,y\n", "label", "column 'a', row 3: 'nan' must be a finite number"),
    ("a,label\n1,x\n,y\n", "label", "column 'a', row 3: empty cell must be a number"),
    ("a,label\n1,x\n2,\n", "label", "column 'label', row 3: the label is empty"),
    ("a,label\n1,x\n2,x\n", "label", "only one value (x); classification needs at least 2 classes"),
    ("a,label\n1,x\n2,y\n", "y", "label column 'y' not found; available columns: a, label"),
    ("a,label\n1,x\n2,y\n", 5, "label column index 5 is out of range: the CSV has 2 columns"),
    ("1,2\n3,4\n5,6\n", 0, "the first row must be a header of column names"),
    ("a,a\n1,2\n3,4\n", "a", "column name 'a' appears twice"),
])
def test_csv_bad_input_messages(text, label, message):
    with pytest.raises(ValueError) as info:
        D.load_csv(text, label)
    assert message in str(info.value)


def test_csv_only_label_column():
    with pytest.raises(ValueError, match="at least one feature column"):
        D.load_csv("label\nx\ny\n", "label")


def test_csv_regression_with_text_labels():
    with pytest.raises(ValueError, match="column 'label', row 3: 'cat' must be a number"):
        D.load_csv("a,label\n1,2\n2,cat\n", "label", task="regression")


def test_csv_classification_with_fractional_labels():
    with pytest.raises(ValueError, match="row 3: class label '2.5' must be a whole number"):
        D.load_csv("a,label\n1,2\n2,2.5\n", "label", task="classification")


def test_csv_too_many_text_classes():
    text = "a,label\n" + "".join(f"{i},c{i}\n" for i in range(25))
    with pytest.raises(ValueError, match="25 distinct text values; classification supports at most 20"):
        D.load_csv(text, "label")


def test_csv_bad_task():
    with pytest.raises(ValueError, match="task must be 'auto', 'classification' or 'regression'"):
        D.load_csv("a,b\n1,2\n3,4\n", "b", task="clustering")


def test_csv_too_many_cells(monkeypatch):
    monkeypatch.setattr(D, "MAX_CSV_CELLS", 10)
    with pytest.raises(ValueError, match="the CSV is too large: more than 10 cells"):
        D.load_csv("a,b\n" + "1,2\n" * 5, "b")


def test_csv_cell_limit_is_one_million():
    assert D.MAX_CSV_CELLS == 1_000_000


def test_csv_missing_file(tmp_path):
    with pytest.raises(ValueError, match="CSV file not found"):
        D.load_csv(tmp_path / "nope.csv", "y")


def test_csv_not_utf8():
    with pytest.raises(ValueError, match="UTF-8"):
        D.load_csv(b"a,b\n\xff\xfe,1\n", "b")


# ---------------------------------------------------------------- splitting


def test_split_sizes_and_disjoint_cover():
    ds = D.load("spiral", n_samples=1000, n_classes=4, seed=0)
    s = D.train_val_test_split(ds, val_fraction=0.2, test_fraction=0.1, seed=1)
    assert (len(s.X_train), len(s.X_val), len(s.X_test)) == (700, 200, 100)
    rows = np.concatenate([s.X_train, s.X_val, s.X_test])
    assert np.array_equal(np.unique(rows, axis=0), np.unique(ds.X, axis=0))
    # each X row keeps its own label
    lookup = {tuple(x): y for x, y in zip(ds.X.tolist(), ds.y.tolist())}
    for X, y in ((s.X_train, s.y_train), (s.X_val, s.y_val), (s.X_test, s.y_test)):
        assert [lookup[tuple(x)] for x in X.tolist()] == y.tolist()


def test_split_is_stratified():
    ds = D.load("spiral", n_samples=1000, n_classes=4, seed=0)  # 250 per class
    s = D.train_val_test_split(ds, val_fraction=0.2, test_fraction=0.1, seed=1)
    assert np.bincount(s.y_train).tolist() == [175] * 4
    assert np.bincount(s.y_val).tolist() == [50] * 4
    assert np.bincount(s.y_test).tolist() == [25] * 4


def test_stratified_split_of_unbalanced_classes():
    ds = D.load_breast_cancer()  # 212 malignant, 357 benign
    s = D.train_val_test_split(ds, val_fraction=0.25, seed=0)
    assert len(s.y_val) == round(0.25 * 569)
    np.testing.assert_allclose(np.bincount(s.y_val) / len(s.y_val), np.bincount(ds.y) / 569, atol=0.01)
    assert len(s.X_test) == 0 and s.X_test.shape == (0, 30)


def test_split_determinism():
    ds = D.load("moons", n_samples=200)
    a = D.train_val_test_split(ds, seed=3)
    b = D.train_val_test_split(ds, seed=3)
    c = D.train_val_test_split(ds, seed=4)
    assert np.array_equal(a.X_train, b.X_train) and np.array_equal(a.y_val, b.y_val)
    assert not np.array_equal(a.X_train, c.X_train)


def test_split_regression_and_unstratified():
    ds = D.load("sine", n_samples=101)
    s = D.train_val_test_split(ds, val_fraction=0.3, test_fraction=0.2, seed=0)
    assert (len(s.X_train), len(s.X_val), len(s.X_test)) == (51, 30, 20)
    assert s.y_train.shape == (51, 1)
    u = D.train_val_test_split(D.load("moons"), val_fraction=0.5, stratify=False)
    assert len(u.y_val) == 150


@pytest.mark.parametrize("kwargs, message", [
    ({"val_fraction": 1.0}, "val_fraction must be at least 0 and less than 1 (got 1)"),
    ({"test_fraction": -0.1}, "test_fraction must be at least 0 and less than 1 (got -0.1)"),
    ({"val_fraction": 0.6, "test_fraction": 0.5}, "must leave at least one training sample"),
])
def test_split_bad_fractions(kwargs, message):
    with pytest.raises(ValueError) as info:
        D.train_val_test_split(D.load("moons"), **kwargs)
    assert message in str(info.value)


# ---------------------------------------------------------------- Standardizer


def test_standardizer_uses_train_statistics_only():
    rng = np.random.default_rng(0)
    X_train = rng.normal([5.0, -3.0, 2.0], [2.0, 0.5, 0.0], (500, 3)).astype(np.float32)
    X_val = X_train[:10] + 100.0
    sc = Standardizer().fit(X_train)
    Z = sc.transform(X_train)
    assert Z.dtype == np.float32
    np.testing.assert_allclose(Z[:, :2].mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(Z[:, :2].std(axis=0), 1.0, atol=1e-5)
    assert sc.std[2] == 1.0 and np.all(Z[:, 2] == 0.0)  # constant column: std 0 -> 1
    np.testing.assert_allclose(sc.transform(X_val), (X_val - sc.mean) / sc.std, rtol=1e-5)
    np.testing.assert_allclose(sc.inverse_transform(Z), X_train, rtol=1e-5, atol=1e-5)


def test_standardizer_dict_round_trip():
    X = D.load_wine().X
    sc = Standardizer().fit(X)
    data = json.loads(json.dumps(sc.to_dict()))
    assert isinstance(data["mean"], list) and len(data["std"]) == 13
    again = Standardizer.from_dict(data)
    np.testing.assert_array_equal(again.transform(X), sc.transform(X))


def test_standardizer_errors():
    with pytest.raises(ValueError, match="not fitted"):
        Standardizer().transform(np.zeros((2, 2)))
    sc = Standardizer().fit(np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"expected rows of shape \(2,\)"):
        sc.transform(np.ones((3, 4)))


# ---------------------------------------------------------------- one_hot


def test_one_hot():
    out = D.one_hot(np.array([2, 0, 1, 2]), 3)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    with pytest.raises(ValueError, match="from 0 to 2"):
        D.one_hot(np.array([3]), 3)


def test_dataset_properties():
    ds = D.load("spiral", n_classes=5)
    assert isinstance(ds, Dataset)
    assert (ds.n_samples, ds.n_features, ds.n_outputs) == (300, 2, 5)
    assert not ds.has_test_split and ds.name == "spiral" and ds.class_names == list("01234")


def test_module_imports_only_numpy_at_top():
    import ast

    tree = ast.parse(Path(D.__file__).read_text())
    top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    modules = {(n.module if isinstance(n, ast.ImportFrom) else a.name).split(".")[0]
               for n in top for a in (n.names if isinstance(n, ast.Import) else [n])}
    assert "sklearn" not in modules and "tqdm" not in modules
    assert modules - {"__future__", "numpy"} <= set(__import__("sys").stdlib_module_names)
