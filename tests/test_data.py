"""A spec's data (dashboard.data): the shape one sample takes for a stack, and the arrays
a run trains on, each compared with the same thing computed here with NumPy and the
engine's own parts."""
from __future__ import annotations

import numpy as np
import pytest

from dashboard import data, presets, spec
from engine import datasets
from engine.text import OOV, TextVectorizer, load_nusax, tokenize
from helpers import DATA_DIR, row

NUSAX_DIR = DATA_DIR / "nusax_sentiment_id"


pytestmark = pytest.mark.usefixtures("shared_data")


def spec_of(preset, **changes):
    values = presets.preset_form(preset)
    values.update(changes)
    result = spec.check(values)
    assert result.errors == {}
    return result.spec


def prepared(preset, **changes):
    s = spec_of(preset, **changes)
    ds = data.load(s["data"])
    return s, ds, data.prepare(s, ds)


def engine_split(ds, val_fraction=0.2):
    return datasets.train_val_test_split(ds, val_fraction=val_fraction, test_fraction=0.0, seed=0)


def sorted_rows(X):
    X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    return X[np.lexsort(X.T[::-1])]


# -- input_shape ------------------------------------------------------------------------------
TABLE = {"kind": "table", "n_features": 2}
DIGITS = {"kind": "image", "n_features": 64, "image_shape": [8, 8, 1]}
CIFAR = {"kind": "image", "n_features": 3072, "image_shape": [32, 32, 3]}
TEXT = {"kind": "text", "n_features": 1, "sequence_length": 48}


@pytest.mark.parametrize("facts, layers, shape", [
    (TABLE, ["Dense", "Dense"], (2,)),
    (TABLE, [], (2,)),
    (DIGITS, ["Conv2D", "MaxPool2D", "Flatten", "Dense"], (8, 8, 1)),
    (DIGITS, ["MaxPool2D", "Flatten"], (8, 8, 1)),
    (DIGITS, ["GlobalAvgPool2D"], (8, 8, 1)),
    (DIGITS, ["Dropout", "Conv2D", "Flatten"], (8, 8, 1)),     # Dropout takes any shape: the Conv2D decides
    (DIGITS, ["Dense", "Conv2D"], (64,)),
    (DIGITS, ["Flatten", "Dense"], (64,)),
    (DIGITS, ["Dropout"], (64,)),
    (DIGITS, [], (64,)),
    (CIFAR, ["Conv2D", "Flatten"], (32, 32, 3)),
    (CIFAR, ["Dense"], (3072,)),
    (TEXT, ["Embedding", "LSTM"], (48,)),
    (TEXT, ["Dense"], (48,)),
    ({**TEXT, "sequence_length": 7}, [], (7,)),
])
def test_input_shape_for_each_kind(facts, layers, shape):
    assert data.input_shape(facts, layers) == shape


def test_input_shape_from_the_facts_of_real_data_sets():
    moons = data.facts({"name": "moons", "params": {"n_samples": 300}})
    assert data.input_shape(moons, ["Dense"]) == (2,)
    digits = data.facts({"name": "digits", "params": {}})
    assert (digits["kind"], digits["image_shape"], digits["n_features"]) == ("image", [8, 8, 1], 64)
    assert data.input_shape(digits, ["Conv2D"]) == (8, 8, 1) and data.input_shape(digits, ["Dense"]) == (64,)
    mnist = data.facts({"name": "mnist", "params": {}})         # from the engine's table: no file needed
    assert data.input_shape(mnist, ["Conv2D"]) == (28, 28, 1) and data.input_shape(mnist, ["Dense"]) == (784,)
    nusax = data.facts({"name": "nusax", "params": {}, "text": {"max_tokens": 3000, "sequence_length": 20}})
    assert data.input_shape(nusax, ["Embedding"]) == (20,)


def test_first_taker_skips_dropout_and_stops_at_shape_neutral_layers():
    assert data.first_taker(["Dropout", "LSTM"]) == "sequence"
    assert data.first_taker(["Embedding"]) == "tokens"
    assert data.first_taker(["Flatten", "Conv2D"]) is None
    assert data.first_taker([]) is None
    assert data.first_taker(["NoSuchLayer", "Conv2D"]) is None


def test_text_facts_count_the_vocabulary_of_the_training_texts():
    train_texts = load_nusax(NUSAX_DIR)["train"][0]
    words = {w for t in train_texts for w in tokenize(t)}
    big = data.facts({"name": "nusax", "params": {}, "text": {"max_tokens": 100_000, "sequence_length": 48}})
    assert big["vocab_size"] == len(words) + 2              # padding and unknown
    small = data.facts({"name": "nusax", "params": {}, "text": {"max_tokens": 50, "sequence_length": 48}})
    assert small["vocab_size"] == 50 and small["sequence_length"] == 48
    assert big["kind"] == "text" and big["has_val_split"] and big["n_classes"] == 3


def test_output_units():
    two = {"task": "classification", "n_classes": 2, "n_targets": 1}
    assert data.output_units(two, "cce") == 2 and data.output_units(two, "bce") == 1
    three = {"task": "classification", "n_classes": 3, "n_targets": 1}
    assert data.output_units(three, "bce") == 3
    assert data.output_units({"task": "regression", "n_classes": 0, "n_targets": 4}, "mse") == 4


# -- prepare: images ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits_conv():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BACKPROP_DATA_DIR", str(DATA_DIR))
        return prepared("cnn")


def test_digits_for_a_conv_stack_are_standardised_per_channel(digits_conv):
    s, ds, p = digits_conv
    split = engine_split(ds)
    X_train = np.asarray(split.X_train, dtype=np.float64)
    X_val = np.asarray(split.X_val, dtype=np.float64)
    mean, std = X_train.mean(), X_train.std()               # one channel: one mean, one deviation
    assert p.X_train.shape == (len(X_train), 8, 8, 1) and p.X_train.dtype == np.float32
    np.testing.assert_allclose(p.X_train, ((X_train - mean) / std).reshape(-1, 8, 8, 1), rtol=1e-5, atol=1e-5)
    X_v, Y_v = p.validation
    np.testing.assert_allclose(X_v, ((X_val - mean) / std).reshape(-1, 8, 8, 1), rtol=1e-5, atol=1e-5)
    # the split: 20 % held out, every row of the data set in one part
    assert len(X_val) == round(0.2 * ds.n_samples) and len(X_train) + len(X_val) == ds.n_samples
    np.testing.assert_array_equal(sorted_rows(np.vstack([split.X_train, split.X_val])), sorted_rows(ds.X))
    # cce: class indices
    np.testing.assert_array_equal(p.Y_train, split.y_train)
    np.testing.assert_array_equal(Y_v, split.y_val)
    np.testing.assert_array_equal(p.y_val, split.y_val)
    assert float(p.X_train.mean()) == pytest.approx(0, abs=1e-4) and float(p.X_train.std()) == pytest.approx(1, 1e-4)


def test_the_digits_probe_holds_images_in_pixel_values(digits_conv):
    s, ds, p = digits_conv
    split = engine_split(ds)
    probe = p.probe
    n = min(data.PROBE_SAMPLES, len(split.X_val))
    assert (probe["name"], probe["kind"], probe["input_shape"]) == ("digits", "image", [8, 8, 1])
    assert probe["class_names"] == [str(k) for k in range(10)]
    samples = probe["samples"]
    assert samples["images"].shape == (n, 8, 8, 1)
    np.testing.assert_array_equal(samples["images"], np.asarray(split.X_val[:n], np.float32).reshape(n, 8, 8, 1))
    assert samples["images"].max() == 16 and samples["images"].min() == 0      # pixels, not z-scores
    np.testing.assert_array_equal(samples["inputs"], p.validation[0][:n])
    assert samples["labels"] == split.y_val[:n].tolist()
    assert "points" not in probe and "texts" not in samples and "vocabulary" not in probe
    assert p.summary["kind"] == "image" and p.summary["feature_names"] == []


def test_digits_for_a_dense_stack_are_the_same_values_as_flat_rows(digits_conv):
    _, _, conv = digits_conv
    _, _, dense = prepared("cnn", layers=[row("Dense", units=16, activation="relu")])
    assert dense.X_train.shape == (len(conv.X_train), 64)
    np.testing.assert_allclose(dense.X_train, conv.X_train.reshape(len(conv.X_train), 64), rtol=1e-6)
    assert dense.probe["input_shape"] == [64] and dense.probe["samples"]["inputs"].shape[1:] == (64,)
    assert dense.probe["samples"]["images"].shape[1:] == (8, 8, 1)


# -- prepare: text ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def nusax():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BACKPROP_DATA_DIR", str(DATA_DIR))
        return prepared("text", max_tokens=3000, sequence_length=48)


def test_nusax_token_ids_are_the_vectorisers(nusax):
    s, ds, p = nusax
    files = load_nusax(NUSAX_DIR)
    vec = TextVectorizer(3000, 48).fit(files["train"][0])
    expected_val = vec.transform(files["valid"][0])
    X_val, Y_val = p.validation
    assert X_val.shape == (100, 48)                         # the data set's own validation split
    np.testing.assert_array_equal(X_val, expected_val)
    np.testing.assert_array_equal(Y_val, files["valid"][1])
    np.testing.assert_array_equal(p.y_val, files["valid"][1])
    # training: all 500 training texts (the validation fraction is not taken from them), ids unscaled
    assert p.X_train.shape == (500, 48)
    np.testing.assert_array_equal(sorted_rows(p.X_train), sorted_rows(vec.transform(files["train"][0])))
    assert np.all(p.X_train == np.round(p.X_train)) and p.X_train.min() >= 0
    assert p.X_train.max() < vec.vocab_size == s["model"]["layers"][0]["config"]["input_dim"]


def test_the_nusax_probe_holds_sentences_and_their_words(nusax):
    _, _, p = nusax
    files = load_nusax(NUSAX_DIR)
    vec = TextVectorizer(3000, 48).fit(files["train"][0])
    probe = p.probe
    samples = probe["samples"]
    n = data.PROBE_SAMPLES
    assert probe["kind"] == "text" and probe["input_shape"] == [48]
    assert probe["class_names"] == ["negative", "neutral", "positive"]
    assert samples["texts"] == files["valid"][0][:n]
    assert samples["labels"] == files["valid"][1][:n].tolist()
    ids = vec.transform(files["valid"][0][:n])
    np.testing.assert_array_equal(samples["inputs"], ids)
    known = set(vec.vocabulary)
    unknown = 0
    for text, tokens, row_ids in zip(samples["texts"], samples["tokens"], ids):
        assert tokens == [vec.vocabulary[int(i)] for i in row_ids if i != 0]
        words = [w if w in known else OOV for w in tokenize(text)[:48]]
        assert tokens == words
        unknown += tokens.count(OOV)
    assert unknown > 0, "some validation words are not in the training vocabulary"
    assert probe["vocabulary"] == vec.vocabulary
    assert "images" not in samples and "points" not in probe


def test_a_shorter_sequence_cuts_the_texts(nusax):
    _, _, long = nusax
    _, _, short = prepared("text", max_tokens=3000, sequence_length=5)
    assert short.validation[0].shape == (100, 5)
    for full, cut in zip(long.probe["samples"]["tokens"], short.probe["samples"]["tokens"]):
        assert cut == full[:5]


# -- prepare: tables ------------------------------------------------------------------------------------
def test_moons_probe_has_points_and_the_standardiser_of_training():
    s, ds, p = prepared("dense")
    split = engine_split(ds)
    points = p.probe["points"]
    np.testing.assert_array_equal(points["X_train"], split.X_train)
    np.testing.assert_array_equal(points["y_train"], split.y_train)
    np.testing.assert_array_equal(points["X_val"], split.X_val)
    np.testing.assert_array_equal(points["y_val"], split.y_val)
    assert len(points["X_train"]) == 240 and len(points["X_val"]) == 60
    np.testing.assert_array_equal(sorted_rows(np.vstack([points["X_train"], points["X_val"]])), sorted_rows(ds.X))
    X = np.asarray(split.X_train, dtype=np.float64)
    scaler = datasets.Standardizer.from_dict(points["standardizer"])
    np.testing.assert_allclose(scaler.mean, X.mean(axis=0), rtol=1e-10)
    np.testing.assert_allclose(scaler.std, X.std(axis=0), rtol=1e-10)
    np.testing.assert_allclose(p.X_train, (X - X.mean(axis=0)) / X.std(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(scaler.transform(points["X_val"]), p.validation[0], rtol=1e-6)
    assert p.probe["samples"]["inputs"].shape == (data.PROBE_SAMPLES, 2)
    assert p.summary == {"name": "moons", "label": datasets.DATASETS["moons"].get("label", "moons"),
                         "task": "classification", "kind": "table", "class_names": ["0", "1"],
                         "feature_names": ["x1", "x2"], "image_shape": None}


def test_no_points_for_more_than_two_features():
    _, _, p = prepared("logreg")
    assert "points" not in p.probe and p.X_train.shape[1] == 30


def test_one_feature_regression_has_points_and_float_targets():
    s, ds, p = prepared("dense", dataset="sine", loss="mse", output_activation="linear")
    split = engine_split(ds)
    assert "points" in p.probe and p.probe["points"]["X_train"].shape[1] == 1
    assert p.Y_train.dtype == np.float32
    np.testing.assert_allclose(p.Y_train, np.asarray(split.y_train, dtype=np.float32))


@pytest.mark.parametrize("loss, act, expected", [
    ("cce", "softmax", lambda y: y),
    ("bce", "sigmoid", lambda y: y.reshape(-1, 1).astype(np.float32)),
    ("mse", "softmax", lambda y: np.eye(2, dtype=np.float32)[y]),
])
def test_targets_are_what_the_loss_wants(loss, act, expected):
    _, ds, p = prepared("dense", loss=loss, output_activation=act)
    split = engine_split(ds)
    np.testing.assert_array_equal(p.Y_train, expected(np.asarray(split.y_train)))
    np.testing.assert_array_equal(p.validation[1], expected(np.asarray(split.y_val)))
    np.testing.assert_array_equal(p.y_val, split.y_val)


def test_the_validation_share_follows_the_spec():
    _, ds, p = prepared("dense", val_percent=50)
    assert len(p.validation[0]) == 150 and len(p.X_train) == 150
    _, _, none = prepared("dense", val_percent=0)
    assert none.validation is None and len(none.X_train) == 300
    # the probe then draws from the training rows
    assert none.probe["samples"]["labels"] == engine_split(ds, 0.0).y_train[:data.PROBE_SAMPLES].tolist()


# -- dataset_key -----------------------------------------------------------------------------------------
def test_dataset_key_distinguishes_parameters():
    base = {"name": "moons", "params": {"n_samples": 300, "noise": 0.1, "seed": 0}}
    key = data.dataset_key(base)
    assert key == data.dataset_key({"name": "moons", "params": {"seed": 0, "noise": 0.1, "n_samples": 300}})
    assert key == data.dataset_key({**base, "val_fraction": 0.5})       # the split is not the data
    others = [{**base, "params": {**base["params"], "noise": 0.2}},
              {**base, "params": {**base["params"], "seed": 1}},
              {**base, "params": {**base["params"], "n_samples": 301}},
              {"name": "circles", "params": base["params"]}]
    keys = {data.dataset_key(d) for d in others}
    assert len(keys) == len(others) and key not in keys
    text = {"name": "nusax", "params": {}, "text": {"max_tokens": 2000, "sequence_length": 48}}
    assert data.dataset_key(text) != data.dataset_key({**text, "text": {"max_tokens": 2000, "sequence_length": 32}})
    assert data.dataset_key(text) != data.dataset_key({**text, "text": {"max_tokens": 3000, "sequence_length": 48}})
    csv = {"name": "csv", "filename": "a.csv", "label": "y"}
    assert data.dataset_key(csv) != data.dataset_key({**csv, "label": "z"})
    assert data.dataset_key(csv) != data.dataset_key({**csv, "filename": "b.csv"})


def test_the_spec_data_part_keys_the_same_data():
    a = spec_of("dense")["data"]
    b = spec_of("dense", learning_rate=0.5)["data"]
    c = spec_of("dense", data={"noise": 0.3})["data"]
    assert data.dataset_key(a) == data.dataset_key(b) != data.dataset_key(c)
