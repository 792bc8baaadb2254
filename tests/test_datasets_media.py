"""Tests for the image and text data sets of engine.datasets: CIFAR-10 (binary
version), NusaX-Sentiment, image shapes of digits/mnist, download_info.

The network is never used: urllib.request.urlopen is replaced in every test
that could reach it.
"""

from __future__ import annotations

import io
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from engine import datasets as D
from engine import text
from engine.datasets import Dataset, DatasetUnavailableError
from helpers import DATA_DIR

NUSAX_DIR = DATA_DIR / text.NUSAX_FOLDER
CIFAR_NAMES = ["plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "lorry"]
PER_BATCH, N_TEST = 40, 7          # 200 training images, 7 test images
N_TRAIN = 5 * PER_BATCH


class _FakeResponse(io.BytesIO):
    """What urlopen returns: a readable context manager with headers."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}


def _no_network(*args, **kwargs):
    raise AssertionError("the network must not be used here")


def _offline(*args, **kwargs):
    raise urllib.error.URLError("no network")


# ---------------------------------------------------------------- CIFAR-10 files


def _cifar_truth() -> dict[str, np.ndarray]:
    """Planes (N, 3, 32, 32) uint8 and labels for the training and test images.

    Pixels are pseudo-random, and a few are set by hand so that a mix-up of
    rows, columns or channels shows.
    """
    rng = np.random.default_rng(42)
    train = rng.integers(0, 256, (N_TRAIN, 3, 32, 32), dtype=np.uint8)
    test = rng.integers(0, 256, (N_TEST, 3, 32, 32), dtype=np.uint8)
    # image 0: red (0, 1) = 200, green (2, 3) = 17, blue (31, 0) = 99
    train[0, 0, 0, 1], train[0, 1, 2, 3], train[0, 2, 31, 0] = 200, 17, 99
    # image 41 (second image of data_batch_2): blue (5, 30) = 255, red (30, 5) = 0
    train[41, 2, 5, 30], train[41, 0, 30, 5] = 255, 0
    test[6, 1, 31, 31] = 123
    return {
        "train": train,
        "y_train": (np.arange(N_TRAIN) * 7 % 10).astype(np.uint8),
        "test": test,
        "y_test": (9 - np.arange(N_TEST) % 10).astype(np.uint8),
    }


def _records(planes: np.ndarray, labels: np.ndarray) -> bytes:
    """CIFAR-10's binary layout, written out record by record: label byte, then
    the red, green and blue 32x32 planes, each row by row."""
    out = bytearray()
    for image, label in zip(planes, labels):
        out.append(int(label))
        for channel in range(3):
            for row in range(32):
                out.extend(bytes(image[channel, row].tolist()))
    assert len(out) == 3073 * len(labels)
    return bytes(out)


def _cifar_files(truth: dict[str, np.ndarray], meta: bool = True) -> dict[str, bytes]:
    files = {}
    for b in range(5):
        rows = slice(b * PER_BATCH, (b + 1) * PER_BATCH)
        files[f"data_batch_{b + 1}.bin"] = _records(truth["train"][rows], truth["y_train"][rows])
    files["test_batch.bin"] = _records(truth["test"], truth["y_test"])
    if meta:
        files["batches.meta.txt"] = ("\n".join(CIFAR_NAMES) + "\n\n").encode()
    return files


def _tar_gz(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        folder = tarfile.TarInfo("cifar-10-batches-bin")
        folder.type = tarfile.DIRTYPE
        tar.addfile(folder)
        for name, data in files.items():
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _write_folder(folder: Path, files: dict[str, bytes]) -> None:
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)


@pytest.fixture(scope="module")
def truth():
    return _cifar_truth()


@pytest.fixture(scope="module")
def archive_bytes(truth):
    return _tar_gz(_cifar_files(truth))


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """An empty data folder, the environment pointing at it, no network."""
    folder = tmp_path / "data"
    folder.mkdir()
    for var in ("CIFAR10_PATH", "MNIST_PATH", "NUSAX_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("BACKPROP_DATA_DIR", str(folder))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(urllib.request, "urlopen", _no_network)
    return folder


def _assert_matches_truth(ds: Dataset, truth: dict[str, np.ndarray], n_train: int = N_TRAIN,
                          scale: float = 255.0) -> None:
    assert ds.X.shape == (n_train, 3072) and ds.X.dtype == np.float32
    assert ds.X_test.shape == (N_TEST, 3072) and ds.X_test.dtype == np.float32
    assert ds.y.dtype == np.int64 and ds.y_test.dtype == np.int64
    np.testing.assert_array_equal(ds.y, truth["y_train"][:n_train])
    np.testing.assert_array_equal(ds.y_test, truth["y_test"])
    images = ds.X.reshape(n_train, 32, 32, 3)
    # every pixel (r, c) of channel k equals the value in plane k of the file
    for k in range(3):
        np.testing.assert_allclose(images[..., k], truth["train"][:n_train, k] / scale, rtol=1e-6)
        np.testing.assert_allclose(ds.X_test.reshape(N_TEST, 32, 32, 3)[..., k],
                                   truth["test"][:, k] / scale, rtol=1e-6)


def test_cifar10_from_the_archive(data_dir, archive_bytes, truth):
    (data_dir / "cifar-10-binary.tar.gz").write_bytes(archive_bytes)
    assert D.cifar10_available()
    ds = D.load("cifar10")
    _assert_matches_truth(ds, truth)
    assert ds.kind == "image" and ds.image_shape == (32, 32, 3)
    assert ds.n_features == 3072 and ds.n_classes == 10 and ds.n_outputs == 10
    assert ds.class_names == CIFAR_NAMES
    assert ds.has_test_split and not ds.has_val_split
    assert ds.X.min() >= 0.0 and ds.X.max() <= 1.0
    assert len(ds.feature_names) == 3072 and ds.feature_names[:4] == [
        "pixel_0_0_r", "pixel_0_0_g", "pixel_0_0_b", "pixel_0_1_r"]
    # the hand-set pixels, addressed in the flat HWC row: index (r * 32 + c) * 3 + k
    assert ds.X[0, (0 * 32 + 1) * 3 + 0] == np.float32(200 / 255)
    assert ds.X[0, (2 * 32 + 3) * 3 + 1] == np.float32(17 / 255)
    assert ds.X[0, (31 * 32 + 0) * 3 + 2] == np.float32(99 / 255)
    assert ds.X[41, (5 * 32 + 30) * 3 + 2] == 1.0 and ds.X[41, (30 * 32 + 5) * 3 + 0] == 0.0
    assert ds.X_test[6, (31 * 32 + 31) * 3 + 1] == np.float32(123 / 255)
    # read in memory: nothing was unpacked next to the archive
    assert [p.name for p in data_dir.iterdir()] == ["cifar-10-binary.tar.gz"]


def test_cifar10_raw_pixels_without_normalize(data_dir, archive_bytes, truth):
    (data_dir / "cifar-10-binary.tar.gz").write_bytes(archive_bytes)
    ds = D.load_cifar10(normalize=False)
    _assert_matches_truth(ds, truth, scale=1.0)
    assert ds.X[0, 1 * 3] == 200.0 and ds.X.max() == 255.0


def test_cifar10_n_samples_keeps_the_first_images(data_dir, archive_bytes, truth):
    (data_dir / "cifar-10-binary.tar.gz").write_bytes(archive_bytes)
    ds = D.load("cifar10", n_samples=150)  # all of batches 1-3, part of batch 4
    _assert_matches_truth(ds, truth, n_train=150)
    assert D.load("cifar10", n_samples=100).n_samples == 100
    assert D.load("cifar10", n_samples=50_000).n_samples == N_TRAIN  # no more than there are


@pytest.mark.parametrize("params, message", [
    ({"n_samples": 99}, "n_samples must be between 100 and 50000 (got 99)"),
    ({"n_samples": 50_001}, "n_samples must be between 100 and 50000 (got 50001)"),
    ({"normalize": "yes"}, "normalize must be true or false"),
    ({"flatten": True}, "unknown parameter 'flatten' for data set 'cifar10'"),
])
def test_cifar10_bad_parameters(data_dir, params, message):
    with pytest.raises(ValueError) as info:
        D.load("cifar10", **params)
    assert message in str(info.value)


def test_cifar10_split_uses_the_predefined_test_set(data_dir, archive_bytes):
    (data_dir / "cifar-10-binary.tar.gz").write_bytes(archive_bytes)
    ds = D.load("cifar10")
    split = D.train_val_test_split(ds, val_fraction=0.1, test_fraction=0.5, seed=0)
    assert (len(split.X_train), len(split.X_val)) == (180, 20)
    assert split.X_test is ds.X_test and split.y_test is ds.y_test


def test_cifar10_from_the_unpacked_folder(data_dir, archive_bytes, truth):
    _write_folder(data_dir / "cifar-10-batches-bin", _cifar_files(truth))
    assert D.cifar10_path() == data_dir / "cifar-10-batches-bin" and D.cifar10_available()
    from_folder = D.load("cifar10")
    _assert_matches_truth(from_folder, truth)
    assert from_folder.class_names == CIFAR_NAMES
    # the archive, when also there, gives the same arrays
    (data_dir / "cifar-10-binary.tar.gz").write_bytes(archive_bytes)
    assert D.cifar10_path() == data_dir / "cifar-10-binary.tar.gz"
    from_archive = D.load("cifar10")
    np.testing.assert_array_equal(from_archive.X, from_folder.X)
    np.testing.assert_array_equal(from_archive.y_test, from_folder.y_test)


def test_cifar10_path_variable_takes_the_archive_or_the_folder(tmp_path, data_dir, monkeypatch,
                                                               archive_bytes, truth):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "c.tar.gz").write_bytes(archive_bytes)
    _write_folder(elsewhere / "unpacked", _cifar_files(truth))
    monkeypatch.setenv("CIFAR10_PATH", str(elsewhere / "c.tar.gz"))
    assert D.cifar10_path() == elsewhere / "c.tar.gz"
    np.testing.assert_array_equal(D.load("cifar10").y, truth["y_train"])
    monkeypatch.setenv("CIFAR10_PATH", str(elsewhere / "unpacked"))
    assert D.cifar10_path() == elsewhere / "unpacked"
    np.testing.assert_array_equal(D.load("cifar10").y_test, truth["y_test"])
    monkeypatch.setenv("CIFAR10_PATH", str(elsewhere))  # the folder that holds cifar-10-batches-bin/
    (elsewhere / "cifar-10-batches-bin").mkdir()
    with pytest.raises(DatasetUnavailableError, match="lacks cifar-10-batches-bin/data_batch_1.bin"):
        D.load("cifar10")
    monkeypatch.setenv("CIFAR10_PATH", str(tmp_path / "missing-folder"))
    with pytest.raises(DatasetUnavailableError, match="nowhere to download the archive to"):
        D.load("cifar10")


def test_cifar10_path_precedence(tmp_path, monkeypatch):
    monkeypatch.delenv("CIFAR10_PATH", raising=False)
    monkeypatch.delenv("BACKPROP_DATA_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    user = tmp_path / ".backprop_studio" / "data"
    assert D.cifar10_path() == user / "cifar-10-binary.tar.gz"
    (user / "cifar-10-batches-bin").mkdir(parents=True)
    assert D.cifar10_path() == user / "cifar-10-batches-bin" and D.cifar10_available()
    monkeypatch.setenv("BACKPROP_DATA_DIR", str(tmp_path / "d"))
    assert D.cifar10_path() == tmp_path / "d" / "cifar-10-binary.tar.gz"
    assert not D.cifar10_available()
    monkeypatch.setenv("CIFAR10_PATH", str(tmp_path / "x.tar.gz"))
    assert D.cifar10_path() == tmp_path / "x.tar.gz"


def test_cifar10_without_batches_meta_uses_the_standard_names(data_dir, truth):
    (data_dir / "cifar-10-binary.tar.gz").write_bytes(_tar_gz(_cifar_files(truth, meta=False)))
    assert D.load("cifar10").class_names == [
        "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _damaged(truth, change) -> dict[str, bytes]:
    files = _cifar_files(truth)
    change(files)
    return files


@pytest.mark.parametrize("change, message", [
    (lambda f: f.__setitem__("data_batch_3.bin", f["data_batch_3.bin"][:-1]),
     r"data_batch_3\.bin in the .* has 122919 bytes, which is not a whole number of 3073-byte records"),
    (lambda f: f.__setitem__("test_batch.bin", b"\x0a" + f["test_batch.bin"][1:]),
     r"test_batch\.bin in the .*: record 0 has the label byte 10, but labels must be 0\.\.9"),
    (lambda f: f.__setitem__("data_batch_5.bin", b""),
     r"data_batch_5\.bin in the .* has 0 bytes"),
    (lambda f: f.pop("test_batch.bin"), r"lacks cifar-10-batches-bin/test_batch\.bin"),
    (lambda f: (f.pop("data_batch_2.bin"), f.pop("data_batch_4.bin")),
     r"lacks cifar-10-batches-bin/data_batch_2\.bin, cifar-10-batches-bin/data_batch_4\.bin"),
])
@pytest.mark.parametrize("layout", ["archive", "folder"])
def test_cifar10_damaged_files_are_refused_with_the_rule(data_dir, truth, change, message, layout):
    files = _damaged(truth, change)
    if layout == "archive":
        where = data_dir / "cifar-10-binary.tar.gz"
        where.write_bytes(_tar_gz(files))
    else:
        where = data_dir / "cifar-10-batches-bin"
        _write_folder(where, files)
    with pytest.raises(DatasetUnavailableError, match=message) as info:
        D.load("cifar10")
    assert str(where) in str(info.value)
    assert D.CIFAR10_URL in str(info.value)  # and where to get a good copy


def test_cifar10_file_that_is_not_a_tar_gz(data_dir):
    (data_dir / "cifar-10-binary.tar.gz").write_bytes(b"<html>not found</html>")
    with pytest.raises(DatasetUnavailableError, match=r"is not a readable \.tar\.gz archive") as info:
        D.load("cifar10")
    assert str(data_dir / "cifar-10-binary.tar.gz") in str(info.value)


def test_cifar10_missing_and_download_off(data_dir):
    assert not D.cifar10_available()
    with pytest.raises(DatasetUnavailableError) as info:
        D.load("cifar10", download=False)
    message = str(info.value)
    assert "downloading is turned off" in message
    assert str(data_dir / "cifar-10-binary.tar.gz") in message
    assert str(data_dir / "cifar-10-batches-bin") in message
    assert D.CIFAR10_URL in message and "BACKPROP_DATA_DIR" in message and "CIFAR10_PATH" in message


def test_cifar10_offline_names_the_url_and_the_path(data_dir, monkeypatch):
    monkeypatch.setattr(urllib.request, "urlopen", _offline)
    with pytest.raises(DatasetUnavailableError) as info:
        D.load("cifar10")
    message = str(info.value)
    assert "could not be downloaded from https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz" in message
    assert "no network" in message
    assert f"put it at {data_dir / 'cifar-10-binary.tar.gz'}" in message
    assert list(data_dir.iterdir()) == []  # no half-written file left behind


def test_cifar10_download_writes_the_archive_once(data_dir, monkeypatch, archive_bytes, truth):
    calls = []

    def fake_urlopen(url, timeout=None):
        calls.append(url)
        return _FakeResponse(archive_bytes)

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    ds = D.load("cifar10")
    assert calls == [D.CIFAR10_URL]
    assert (data_dir / "cifar-10-binary.tar.gz").read_bytes() == archive_bytes
    assert [p.name for p in data_dir.iterdir()] == ["cifar-10-binary.tar.gz"]
    _assert_matches_truth(ds, truth)
    assert ds.class_names == CIFAR_NAMES
    again = D.load("cifar10", n_samples=120)  # second time: from disk
    assert len(calls) == 1 and D.cifar10_available() and again.n_samples == 120


def test_cifar10_bad_download_is_not_kept(data_dir, monkeypatch, truth):
    damaged = _tar_gz(_damaged(truth, lambda f: f.pop("test_batch.bin")))
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: _FakeResponse(damaged))
    with pytest.raises(DatasetUnavailableError, match="lacks cifar-10-batches-bin/test_batch.bin"):
        D.load("cifar10")
    assert list(data_dir.iterdir()) == []


def test_no_pickle_is_involved():
    source = Path(D.__file__).read_text()
    assert "pickle.load" not in source and "import pickle" not in source
    assert "allow_pickle=True" not in source


# ---------------------------------------------------------------- NusaX


@pytest.fixture
def real_nusax(monkeypatch):
    if not all((NUSAX_DIR / f"{s}.csv").is_file() for s in text.NUSAX_SPLITS):
        pytest.skip(f"no NusaX CSVs in {NUSAX_DIR}")
    monkeypatch.delenv("NUSAX_DIR", raising=False)
    monkeypatch.setenv("BACKPROP_DATA_DIR", str(DATA_DIR))
    monkeypatch.setattr(urllib.request, "urlopen", _no_network)


def _is_text_array(a: np.ndarray, n: int) -> bool:
    return a.dtype == object and a.shape == (n,) and all(isinstance(t, str) for t in a)


def test_nusax_as_a_text_dataset(real_nusax):
    assert D.nusax_available()
    ds = D.load("nusax", download=False)
    assert ds.kind == "text" and ds.task == "classification" and ds.name == "nusax"
    assert _is_text_array(ds.X, 500) and _is_text_array(ds.X_val, 100) and _is_text_array(ds.X_test, 400)
    assert ds.y.dtype == ds.y_val.dtype == ds.y_test.dtype == np.int64
    assert (len(ds.y), len(ds.y_val), len(ds.y_test)) == (500, 100, 400)
    assert ds.n_classes == 3 and ds.n_outputs == 3
    assert ds.class_names == ["negative", "neutral", "positive"]
    assert np.bincount(ds.y).tolist() == [192, 119, 189]
    assert np.bincount(ds.y_val).tolist() == [38, 24, 38]
    assert ds.has_val_split and ds.has_test_split
    assert ds.n_samples == 500 and ds.n_features == 0 and ds.image_shape is None
    plain = text.load_nusax(NUSAX_DIR)
    assert ds.X.tolist() == plain["train"][0] and ds.X_test.tolist() == plain["test"][0]
    np.testing.assert_array_equal(ds.y_val, plain["valid"][1])
    assert any("," in t for t in ds.X_test)


def test_nusax_split_returns_the_predefined_splits(real_nusax):
    ds = D.load("nusax")
    split = D.train_val_test_split(ds, val_fraction=0.3, test_fraction=0.5, seed=1)
    assert split.X_val is ds.X_val and split.y_val is ds.y_val
    assert split.X_test is ds.X_test and split.y_test is ds.y_test
    assert _is_text_array(split.X_train, 500)
    assert sorted(split.X_train.tolist()) == sorted(ds.X.tolist())  # shuffled, nothing held out
    pairs = dict(zip(ds.X.tolist(), ds.y.tolist()))
    assert [pairs[t] for t in split.X_train] == split.y_train.tolist()


def test_split_of_a_text_dataset_without_predefined_parts():
    texts = [f"kalimat nomor {i}" for i in range(60)]
    X = np.empty(60, dtype=object)
    X[:] = texts
    y = np.repeat(np.arange(3, dtype=np.int64), 20)
    ds = Dataset(X=X, y=y, task="classification", n_classes=3, class_names=["a", "b", "c"],
                 feature_names=[], name="t", kind="text")
    s = D.train_val_test_split(ds, val_fraction=0.2, test_fraction=0.1, seed=0)
    assert (len(s.X_train), len(s.X_val), len(s.X_test)) == (42, 12, 6)
    assert np.bincount(s.y_val).tolist() == [4, 4, 4] and np.bincount(s.y_test).tolist() == [2, 2, 2]
    for part, labels in ((s.X_train, s.y_train), (s.X_val, s.y_val), (s.X_test, s.y_test)):
        assert part.dtype == object and part.ndim == 1
        assert [texts.index(t) // 20 for t in part] == labels.tolist()
    assert sorted(np.concatenate([s.X_train, s.X_val, s.X_test]).tolist()) == sorted(texts)
    empty = D.train_val_test_split(ds, val_fraction=0.2, seed=0).X_test
    assert empty.shape == (0,) and empty.dtype == object


def test_val_fraction_is_ignored_with_a_predefined_validation_split():
    X = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10, dtype=np.int64) % 2
    ds = Dataset(X=X, y=y, task="classification", n_classes=2, class_names=["0", "1"],
                 feature_names=["a", "b"], name="t", X_val=X[:3] + 100, y_val=y[:3])
    s = D.train_val_test_split(ds, val_fraction=0.99, test_fraction=0.2)  # 0.99 is not checked
    assert s.X_val is ds.X_val and len(s.X_train) == 8 and len(s.X_test) == 2


@pytest.fixture
def nusax_bytes():
    if not all((NUSAX_DIR / f"{s}.csv").is_file() for s in text.NUSAX_SPLITS):
        pytest.skip(f"no NusaX CSVs in {NUSAX_DIR}")
    return {D.NUSAX_URL.format(split=s): (NUSAX_DIR / f"{s}.csv").read_bytes() for s in text.NUSAX_SPLITS}


def test_nusax_download_writes_the_three_files(data_dir, monkeypatch, nusax_bytes):
    calls = []

    def fake_urlopen(url, timeout=None):
        calls.append(url)
        return _FakeResponse(nusax_bytes[url])

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    folder = data_dir / "nusax_sentiment_id"
    assert not D.nusax_available()
    ds = D.load("nusax")
    assert calls == [
        "https://raw.githubusercontent.com/IndoNLP/nusax/main/datasets/sentiment/indonesian/train.csv",
        "https://raw.githubusercontent.com/IndoNLP/nusax/main/datasets/sentiment/indonesian/valid.csv",
        "https://raw.githubusercontent.com/IndoNLP/nusax/main/datasets/sentiment/indonesian/test.csv",
    ]
    assert sorted(p.name for p in folder.iterdir()) == ["test.csv", "train.csv", "valid.csv"]
    for split in text.NUSAX_SPLITS:
        assert (folder / f"{split}.csv").read_bytes() == nusax_bytes[D.NUSAX_URL.format(split=split)]
    assert (len(ds.X), len(ds.X_val), len(ds.X_test)) == (500, 100, 400)
    assert D.nusax_available()
    D.load("nusax")  # second time: from disk
    assert len(calls) == 3
    # one file lost: only that one is fetched again
    (folder / "valid.csv").unlink()
    D.load("nusax")
    assert calls[3:] == [D.NUSAX_URL.format(split="valid")]


def test_nusax_offline_names_the_url_and_the_folder(data_dir, monkeypatch):
    monkeypatch.setattr(urllib.request, "urlopen", _offline)
    with pytest.raises(DatasetUnavailableError) as info:
        D.load("nusax")
    message = str(info.value)
    folder = data_dir / "nusax_sentiment_id"
    assert ("could not be downloaded from https://raw.githubusercontent.com/IndoNLP/nusax/main/"
            "datasets/sentiment/indonesian/train.csv") in message
    assert "no network" in message
    assert "Put train.csv, valid.csv and test.csv" in message and f"in {folder}," in message
    assert "NUSAX_DIR" in message and "BACKPROP_DATA_DIR" in message
    assert not folder.exists() or list(folder.iterdir()) == []


def test_nusax_download_off(data_dir):
    with pytest.raises(DatasetUnavailableError) as info:
        D.load("nusax", download=False)
    message = str(info.value)
    assert "downloading is turned off" in message
    assert "train.csv, valid.csv, test.csv missing" in message
    assert str(data_dir / "nusax_sentiment_id") in message


def test_nusax_bad_download_is_not_kept(data_dir, monkeypatch):
    page = b"<html><body>404: Not Found</body></html>"
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: _FakeResponse(page))
    with pytest.raises(DatasetUnavailableError, match="must have the columns text and label"):
        D.load("nusax")
    folder = data_dir / "nusax_sentiment_id"
    assert list(folder.iterdir()) == []


def test_nusax_folder_from_nusax_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(urllib.request, "urlopen", _no_network)
    monkeypatch.setenv("NUSAX_DIR", str(tmp_path))
    for split, label in zip(text.NUSAX_SPLITS, text.NUSAX_LABELS):
        (tmp_path / f"{split}.csv").write_text(f'id,text,label\n1,"{split}, satu",{label}\n',
                                               encoding="utf-8")
    ds = D.load("nusax", download=False)
    assert ds.X.tolist() == ["train, satu"] and ds.y_test.tolist() == [2]
    assert D.download_info("nusax")["path"] == str(tmp_path)


# ---------------------------------------------------------------- image shapes


def test_digits_is_an_image_set_matching_sklearn_images():
    import sklearn.datasets

    ds = D.load("digits")
    assert ds.kind == "image" and ds.image_shape == (8, 8, 1)
    images = ds.X.reshape(ds.n_samples, *ds.image_shape)
    np.testing.assert_array_equal(images[..., 0], sklearn.datasets.load_digits().images)
    assert images.min() == 0 and images.max() == 16


def test_mnist_is_an_image_set_and_takes_n_samples(monkeypatch):
    if not (DATA_DIR / "mnist.npz").is_file():
        pytest.skip(f"no mnist.npz in {DATA_DIR}")
    monkeypatch.delenv("MNIST_PATH", raising=False)
    monkeypatch.setenv("BACKPROP_DATA_DIR", str(DATA_DIR))
    monkeypatch.setattr(urllib.request, "urlopen", _no_network)
    ds = D.load("mnist", n_samples=1000, normalize=False)
    assert ds.kind == "image" and ds.image_shape == (28, 28, 1)
    assert ds.X.shape == (1000, 784) and ds.y.shape == (1000,) and ds.X_test.shape == (10000, 784)
    with np.load(DATA_DIR / "mnist.npz") as npz:
        np.testing.assert_array_equal(ds.X.reshape(1000, *ds.image_shape)[..., 0], npz["x_train"][:1000])
        np.testing.assert_array_equal(ds.y, npz["y_train"][:1000])
    raw = D.load("mnist", n_samples=100, flatten=False)
    assert raw.X.shape == (100, 28, 28) and raw.image_shape == (28, 28, 1) and raw.n_features == 784
    with pytest.raises(ValueError, match="n_samples must be between 100 and 60000 \\(got 50\\)"):
        D.load("mnist", n_samples=50)


def test_table_sets_keep_their_defaults():
    ds = D.load("moons")
    assert ds.kind == "table" and ds.image_shape is None
    assert not ds.has_val_split and ds.X_val is None and ds.y_val is None


# ---------------------------------------------------------------- the table


def test_datasets_table_has_labels_and_kinds():
    labels = {name: info["label"] for name, info in D.DATASETS.items()}
    assert labels == {
        "moons": "Moons", "circles": "Circles", "xor": "XOR", "spiral": "Spiral", "blobs": "Blobs",
        "linear": "Linear (regression)", "sine": "Sine (regression)", "digits": "Digits 8×8",
        "iris": "Iris", "wine": "Wine", "breast_cancer": "Breast cancer", "mnist": "MNIST",
        "cifar10": "CIFAR-10", "nusax": "NusaX-Sentiment (Indonesian)",
    }
    kinds = {name: info["kind"] for name, info in D.DATASETS.items()}
    assert {n for n, k in kinds.items() if k == "image"} == {"digits", "mnist", "cifar10"}
    assert {n for n, k in kinds.items() if k == "text"} == {"nusax"}
    assert all(k in ("table", "image", "text") for k in kinds.values())
    assert D.DATASETS["digits"]["image_shape"] == (8, 8, 1)
    assert D.DATASETS["mnist"]["image_shape"] == (28, 28, 1)
    assert D.DATASETS["cifar10"]["image_shape"] == (32, 32, 3)
    assert all(("image_shape" in info) == (info["kind"] == "image") for info in D.DATASETS.values())


def test_every_parameter_has_a_form_label():
    expected = {"n_samples": "Samples", "noise": "Noise", "n_classes": "Classes",
                "factor": "Inner radius", "n_features": "Features", "seed": "Data seed"}
    for name, info in D.DATASETS.items():
        for pname, spec in info["params"].items():
            assert isinstance(spec["label"], str) and spec["label"].strip()
            if pname in expected:
                assert spec["label"] == expected[pname], (name, pname)
    assert D.DATASETS["spiral"]["params"]["n_classes"] == {
        "type": "int", "default": 3, "min": 2, "max": 10, "label": "Classes", "help": "number of classes"}
    assert D.DATASETS["mnist"]["params"]["n_samples"] | {"help": ""} == {
        "type": "int", "default": 60000, "min": 100, "max": 60000, "label": "Samples", "help": ""}
    assert {k: D.DATASETS["cifar10"]["params"]["n_samples"][k] for k in ("default", "min", "max")} == {
        "default": 50000, "min": 100, "max": 50000}
    assert list(D.DATASETS["cifar10"]["params"]) == ["n_samples", "normalize", "download"]
    assert list(D.DATASETS["nusax"]["params"]) == ["download"]


# ---------------------------------------------------------------- download_info


def test_download_info(data_dir, archive_bytes):
    cifar = D.download_info("cifar10")
    assert cifar == {"available": False, "path": str(data_dir / "cifar-10-binary.tar.gz"),
                     "url": "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz", "size": "162 MB"}
    (data_dir / "cifar-10-binary.tar.gz").write_bytes(archive_bytes)
    assert D.download_info("cifar10")["available"] is True
    mnist = D.download_info("mnist")
    assert mnist == {"available": False, "path": str(data_dir / "mnist.npz"),
                     "url": D.MNIST_URL, "size": "11 MB"}
    nusax = D.download_info("nusax")
    assert nusax["available"] is False and nusax["path"] == str(data_dir / "nusax_sentiment_id")
    assert nusax["url"].startswith("https://raw.githubusercontent.com/IndoNLP/nusax/")
    assert nusax["size"].endswith("KB")
    for name in ("moons", "digits", "iris", "linear"):
        assert D.download_info(name) is None
    with pytest.raises(ValueError, match="unknown data set 'cifar'"):
        D.download_info("cifar")


def test_download_info_finds_the_shared_files(monkeypatch):
    monkeypatch.delenv("MNIST_PATH", raising=False)
    monkeypatch.delenv("NUSAX_DIR", raising=False)
    monkeypatch.setenv("BACKPROP_DATA_DIR", str(DATA_DIR))
    if (DATA_DIR / "mnist.npz").is_file():
        assert D.download_info("mnist")["available"] is True
    if (NUSAX_DIR / "train.csv").is_file():
        assert D.download_info("nusax") == {
            "available": True, "path": str(NUSAX_DIR),
            "url": "https://raw.githubusercontent.com/IndoNLP/nusax/main/datasets/sentiment/indonesian/",
            "size": "170 KB"}
