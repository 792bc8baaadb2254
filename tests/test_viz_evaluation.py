"""Tests for viz.evaluation: the scores of a classifier (confusion matrix, per-class
precision / recall / F1), their figure and table, the samples it got wrong (images,
sentences, 2-D points) and the first layer's weights drawn as images."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from viz.evaluation import (CONFUSION_TEXT_UP_TO, confusion_figure, evaluate, input_weights_figure,
                            misclassified_images_figure, misclassified_points_trace, misclassified_texts,
                            per_class_table, predictions)
from viz.style import SIGNED_SCALE, plain


def dumps(fig):
    return json.dumps(fig, allow_nan=False)


def title_text(fig):
    return fig["layout"]["title"]["text"]


def plain_text(html):
    """A title without its rich-text tags."""
    return re.sub(r"<[^>]+>", " ", html)


def by_name(fig, name):
    [trace] = [t for t in fig["data"] if t["name"] == name]
    return trace


def random_labels(n, k, seed, right=0.6):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    pred = np.where(rng.random(n) < right, y, rng.integers(0, k, n))
    return y, pred


# -- predictions ---------------------------------------------------------------------------

def test_one_column_is_thresholded_at_one_half():
    P = np.array([[0.0], [0.49], [0.5], [0.51], [1.0]])
    assert predictions(P).tolist() == [0, 0, 1, 1, 1]
    assert predictions(P[:, 0]).tolist() == [0, 0, 1, 1, 1]       # a 1-D vector is that column
    assert predictions(P).dtype == np.int64


def test_several_columns_take_the_argmax():
    P = np.array([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3], [0.1, 0.1, 0.8], [0.4, 0.4, 0.2]])
    assert predictions(P).tolist() == [1, 0, 2, 0]                 # a tie goes to the first column
    assert predictions(np.array([[0.9, 0.1], [0.3, 0.7]])).tolist() == [0, 1]   # two softmax columns
    assert predictions(np.zeros((0, 3))).tolist() == []


# -- evaluate ---------------------------------------------------------------------------

def test_evaluate_matches_a_hand_computed_case():
    y = [0, 0, 1, 1, 2]
    p = [0, 1, 1, 1, 0]
    r = evaluate(y, p, ["cat", "dog", "eel"])
    assert r["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert r["class_names"] == ["cat", "dog", "eel"] and r["n_classes"] == 3 and r["n"] == 5
    assert r["support"] == [2, 2, 1]
    assert r["precision"] == pytest.approx([1 / 2, 2 / 3, 0.0])      # eel is never predicted: 0, not NaN
    assert r["recall"] == pytest.approx([1 / 2, 1.0, 0.0])
    assert r["f1"] == pytest.approx([0.5, 0.8, 0.0])
    assert r["macro_f1"] == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    assert r["accuracy"] == pytest.approx(3 / 5)
    dumps(r)


def test_evaluate_of_perfect_and_of_all_wrong_predictions():
    r = evaluate([0, 1, 1, 0], [0, 1, 1, 0], ["a", "b"])
    assert r["confusion"] == [[2, 0], [0, 2]] and r["accuracy"] == 1.0 and r["macro_f1"] == 1.0
    r = evaluate([0, 1, 1, 0], [1, 0, 0, 1], ["a", "b"])
    assert r["confusion"] == [[0, 2], [2, 0]] and r["accuracy"] == 0.0 and r["macro_f1"] == 0.0


@pytest.mark.parametrize("k, seed", [(2, 0), (3, 1), (5, 2), (10, 3)])
def test_evaluate_agrees_with_scikit_learn(k, seed):
    y, p = random_labels(300, k, seed)
    r = evaluate(y, p, [f"c{i}" for i in range(k)])
    labels = list(range(k))
    assert r["confusion"] == confusion_matrix(y, p, labels=labels).tolist()
    precision, recall, f1, support = precision_recall_fscore_support(y, p, labels=labels, zero_division=0)
    assert r["precision"] == pytest.approx(precision.tolist())
    assert r["recall"] == pytest.approx(recall.tolist())
    assert r["f1"] == pytest.approx(f1.tolist())
    assert r["support"] == support.tolist()
    assert r["macro_f1"] == pytest.approx(f1_score(y, p, labels=labels, average="macro", zero_division=0))
    assert r["accuracy"] == pytest.approx(accuracy_score(y, p))


@pytest.mark.parametrize("seed", range(4))
def test_the_confusion_matrix_counts_every_sample_and_its_trace_is_the_accuracy(seed):
    y, p = random_labels(157, 7, seed)
    r = evaluate(y, p, None)
    cm = np.array(r["confusion"])
    assert cm.shape == (7, 7) and cm.sum() == r["n"] == 157
    assert np.trace(cm) / r["n"] == pytest.approx(r["accuracy"])
    assert cm.sum(axis=1).tolist() == r["support"]
    assert cm.sum(axis=1).tolist() == np.bincount(y, minlength=7).tolist()      # rows: true class
    assert cm.sum(axis=0).tolist() == np.bincount(p, minlength=7).tolist()      # columns: predicted


def test_a_class_without_samples_keeps_its_row_and_column():
    y = [0, 1, 1, 0, 1]
    p = [0, 1, 0, 0, 1]
    r = evaluate(y, p, ["a", "b", "c", "d"])           # c and d: neither true nor predicted
    assert r["confusion"] == [[2, 0, 0, 0], [1, 2, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    assert r["support"] == [2, 3, 0, 0]
    assert r["precision"][2:] == [0.0, 0.0] and r["recall"][2:] == [0.0, 0.0] and r["f1"][2:] == [0.0, 0.0]
    assert r["macro_f1"] == pytest.approx(f1_score(y, p, labels=[0, 1, 2, 3], average="macro", zero_division=0))
    dumps(r)


def test_a_class_predicted_but_never_true():
    r = evaluate([0, 0, 1], [0, 2, 1], ["a", "b", "c"])
    assert r["confusion"][2] == [0, 0, 0] and [row[2] for row in r["confusion"]] == [1, 0, 0]
    assert r["precision"][2] == 0.0 and r["recall"][2] == 0.0 and r["support"][2] == 0


def test_labels_may_come_as_floats_or_a_column():
    r = evaluate(np.array([[0.0], [1.0], [1.0]]), np.array([0.0, 0.0, 1.0]), ["a", "b"])
    assert r["confusion"] == [[1, 0], [1, 1]]


def test_evaluate_refuses_bad_labels():
    with pytest.raises(ValueError, match="classes"):
        evaluate([0, 1, 3], [0, 1, 1], ["a", "b", "c"])           # 3 is no class
    with pytest.raises(ValueError, match="classes"):
        evaluate([0, 1], [0, -1], ["a", "b"])
    with pytest.raises(ValueError):
        evaluate([0, 1, 1], [0, 1], ["a", "b"])                   # lengths differ
    with pytest.raises(ValueError):
        evaluate([0, 0.5], [0, 1], ["a", "b"])                    # not a class index


def test_no_samples_gives_no_scores_and_a_note():
    r = evaluate([], [], ["a", "b"])
    assert r["n"] == 0 and r["accuracy"] is None and r["macro_f1"] is None
    assert r["confusion"] == [[0, 0], [0, 0]] and r["support"] == [0, 0]
    fig = confusion_figure(r)
    assert fig["data"] == [] and "No samples" in fig["layout"]["annotations"][0]["text"]
    dumps(fig)


# -- the confusion figure ----------------------------------------------------------------------

def test_heatmap_cells_hold_the_share_of_the_true_class_and_the_counts():
    y = [0, 0, 0, 0, 1, 1, 2, 2, 2, 2, 2]
    p = [0, 0, 0, 1, 1, 2, 2, 2, 2, 0, 1]
    r = evaluate(y, p, ["a", "b", "c"])
    cm = np.array(r["confusion"])
    assert cm.tolist() == [[3, 1, 0], [0, 1, 1], [1, 1, 3]]
    fig = confusion_figure(r)
    correct, confused = by_name(fig, "correct"), by_name(fig, "confused")
    rows = cm.sum(axis=1)
    for i in range(3):
        for j in range(3):
            share = cm[i, j] / rows[i]
            if i == j:
                assert correct["z"][i][j] == pytest.approx(share) and correct["text"][i][j] == str(cm[i, j])
                assert confused["z"][i][j] is None and confused["text"][i][j] == ""
            elif cm[i, j]:
                assert confused["z"][i][j] == pytest.approx(share) and confused["text"][i][j] == str(cm[i, j])
                assert correct["z"][i][j] is None
            else:                                   # an empty cell off the diagonal is left blank
                assert confused["z"][i][j] is None and correct["z"][i][j] is None
    assert correct["z"][0][0] == pytest.approx(0.75) and confused["z"][2][0] == pytest.approx(0.2)
    for trace in (correct, confused):
        assert trace["type"] == "heatmap" and trace["zmin"] == 0 and trace["zmax"] == 1
        assert trace["texttemplate"] == "%{text}"
        assert trace["x"] == [0, 1, 2] and trace["y"] == [0, 1, 2]
    assert "true c, predicted a" in confused["hovertext"][2][0] and "1 of 5" in confused["hovertext"][2][0]
    dumps(fig)


def test_axes_name_the_classes_rows_true_columns_predicted():
    r = evaluate([0, 1, 2], [0, 2, 2], ["cat", "dog", "a<b"])
    fig = confusion_figure(r)
    x, y = fig["layout"]["xaxis"], fig["layout"]["yaxis"]
    assert x["title"]["text"] == "predicted class" and y["title"]["text"] == "true class"
    assert x["ticktext"] == ["cat", "dog", "a&lt;b"] and y["ticktext"] == x["ticktext"]
    assert x["tickvals"] == [0, 1, 2]
    assert y["range"][0] > y["range"][1]                  # row 0 on top: the diagonal runs down to the right
    [shape] = fig["layout"]["shapes"]
    assert shape["path"].count("Z") == 3                  # the diagonal's cells outlined


def test_subtitle_gives_accuracy_macro_f1_and_n():
    y, p = random_labels(1234, 4, 5)
    r = evaluate(y, p, None)
    heading = plain_text(title_text(confusion_figure(r)))
    assert heading.startswith("Confusion matrix (validation)")
    assert f"accuracy {100 * r['accuracy']:.1f}%" in heading
    assert f"macro F1 {r['macro_f1']:.3f}" in heading
    assert "n = 1,234" in heading
    assert plain_text(title_text(confusion_figure(r, title="Test set"))).startswith("Test set")


def test_a_class_without_samples_is_drawn_and_named():
    r = evaluate([0, 1, 1], [0, 1, 0], ["a", "b", "c"])
    fig = confusion_figure(r)
    correct = by_name(fig, "correct")
    assert correct["z"][2][2] == 0 and correct["text"][2][2] == "0"
    assert "no samples of c" in correct["hovertext"][2][2]
    assert "1 class without samples" in plain_text(title_text(fig))
    dumps(fig)


def test_many_classes_get_smaller_text_and_none_above_twenty():
    small = confusion_figure(evaluate(*random_labels(100, 3, 0), None))
    ten = confusion_figure(evaluate(*random_labels(500, 10, 1), None))
    twenty = confusion_figure(evaluate(*random_labels(900, CONFUSION_TEXT_UP_TO, 2), None))
    assert ten["data"][0]["textfont"]["size"] < small["data"][0]["textfont"]["size"]
    assert "texttemplate" in twenty["data"][0]
    for k in (CONFUSION_TEXT_UP_TO + 1, 100):
        y, p = random_labels(20 * k, k, k)
        fig = confusion_figure(evaluate(y, p, [f"class {i}" for i in range(k)]))
        assert all("texttemplate" not in t for t in fig["data"])
        assert len(fig["data"][0]["z"]) == k and len(fig["data"][0]["z"][0]) == k
        assert len(fig["layout"]["xaxis"]["tickvals"]) <= 30          # not every name once there are many
        dumps(fig)


# -- the table -----------------------------------------------------------------------------

def test_per_class_table_rows_are_rounded_scores():
    r = evaluate([0, 0, 1, 1, 2], [0, 1, 1, 1, 0], ["cat", "dog", "eel"])
    rows = per_class_table(r)
    assert rows == [
        {"class": "cat", "precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2},
        {"class": "dog", "precision": 0.667, "recall": 1.0, "f1": 0.8, "support": 2},
        {"class": "eel", "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1},
    ]
    with_average = per_class_table(r, average_row=True)
    assert with_average[:3] == rows
    assert with_average[3] == {"class": "macro average", "precision": round((0.5 + 2 / 3) / 3, 3),
                               "recall": 0.5, "f1": round(1.3 / 3, 3), "support": 5}
    assert per_class_table(r, digits=1)[1]["precision"] == 0.7
    dumps(rows)


# -- misclassified images ------------------------------------------------------------------

def distinct_images(n, shape):
    """Image i holds values i + position / 1000, so every pixel tells where it came from."""
    size = int(np.prod(shape))
    return np.stack([i + np.arange(size) / 1000.0 for i in range(n)]).reshape((n,) + tuple(shape))


def test_the_grid_shows_exactly_the_misclassified_images_in_order():
    images = distinct_images(10, (8, 8))
    y = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    p = np.array([0, 7, 2, 8, 4, 4, 6, 7, 3, 9])             # wrong at 1, 3, 5, 8
    names = [f"d{k}" for k in range(10)]
    fig = misclassified_images_figure(images, y, p, names, (8, 8))
    wrong = [1, 3, 5, 8]
    assert len(fig["data"]) == 4
    assert fig["layout"]["meta"]["indices"] == wrong
    titles = [a["text"] for a in fig["layout"]["annotations"]]
    assert titles == ["true d1 → pred d7", "true d3 → pred d8", "true d5 → pred d4", "true d8 → pred d3"]
    for k, (trace, i) in enumerate(zip(fig["data"], wrong)):
        assert trace["type"] == "heatmap"
        assert trace["z"] == plain(images[i])
        assert np.allclose(np.array(trace["z"]), images[i], rtol=1e-4)
        assert trace["xaxis"] == ("x" if k == 0 else f"x{k + 1}")
        assert trace["meta"] == {"index": i, "true": int(y[i]), "pred": int(p[i])}
    # one grey scale for all tiles, from the lowest to the highest shown value
    assert {t["zmin"] for t in fig["data"]} == {images[wrong].min()}
    assert {t["zmax"] for t in fig["data"]} == {images[wrong].max()}
    assert "all 4 mistakes in 10 samples" in plain_text(title_text(fig))
    dumps(fig)


def test_flat_rows_and_28_by_28_images_with_a_channel_axis():
    images = distinct_images(5, (28, 28, 1))
    y, p = np.array([1, 1, 1, 1, 1]), np.array([1, 0, 1, 0, 0])
    fig = misclassified_images_figure(images.reshape(5, -1), y, p, ["no", "yes"], (28, 28, 1))
    assert [t["meta"]["index"] for t in fig["data"]] == [1, 3, 4]
    for trace, i in zip(fig["data"], [1, 3, 4]):
        assert trace["z"] == plain(images[i, :, :, 0])
        assert len(trace["z"]) == 28 and len(trace["z"][0]) == 28
    assert fig["layout"]["annotations"][0]["text"] == "true yes → pred no"
    dumps(fig)


def test_rgb_images_are_image_traces_with_their_pixels():
    rng = np.random.default_rng(0)
    images = rng.random((6, 32, 32, 3))
    y, p = np.array([0, 1, 2, 0, 1, 2]), np.array([0, 2, 2, 1, 1, 2])
    fig = misclassified_images_figure(images, y, p, ["r", "g", "b"], (32, 32, 3))
    assert [t["type"] for t in fig["data"]] == ["image", "image"]
    for trace, i in zip(fig["data"], [1, 3]):
        z = np.array(trace["z"])
        assert z.shape == (32, 32, 3)
        assert np.array_equal(z, np.round(images[i] * 255).astype(int))
        assert trace["colormodel"] == "rgb"
    assert [a["text"] for a in fig["layout"]["annotations"]] == ["true g → pred b", "true r → pred g"]
    dumps(fig)


def test_at_most_max_items_images_and_the_title_says_so():
    images = distinct_images(40, (8, 8))
    y = np.zeros(40, dtype=int)
    p = np.ones(40, dtype=int)
    fig = misclassified_images_figure(images, y, p, ["a", "b"], (8, 8), max_items=24)
    assert len(fig["data"]) == 24 and fig["layout"]["meta"]["indices"] == list(range(24))
    assert fig["layout"]["meta"]["total"] == 40
    assert "24 of 40 mistakes" in plain_text(title_text(fig))
    assert len(misclassified_images_figure(images, y, p, ["a", "b"], (8, 8), max_items=5)["data"]) == 5


def test_no_mistakes_gives_a_note():
    images = distinct_images(3, (8, 8))
    fig = misclassified_images_figure(images, [0, 1, 1], [0, 1, 1], ["a", "b"], (8, 8))
    assert fig["data"] == [] and "all 3 samples" in fig["layout"]["annotations"][0]["text"]
    dumps(fig)


def test_images_that_do_not_fit_the_shape_are_refused():
    with pytest.raises(ValueError):
        misclassified_images_figure(np.zeros((3, 7, 7)), [0, 1, 1], [1, 1, 1], ["a", "b"], (8, 8))
    with pytest.raises(ValueError):
        misclassified_images_figure(np.zeros((2, 8, 8)), [0, 1, 1], [1, 1, 1], ["a", "b"], (8, 8))


def test_images_with_nan_stay_json_safe():
    images = distinct_images(2, (8, 8))
    images[1, 0, 0] = np.nan
    fig = misclassified_images_figure(images, [0, 0], [1, 1], ["a", "b"], (8, 8))
    assert fig["data"][1]["z"][0][0] is None
    dumps(fig)


# -- misclassified sentences -------------------------------------------------------------------

def test_misclassified_texts_lists_the_wrong_sentences_in_order():
    texts = ["good film", "bad film", "fine", "awful", "great"]
    y = [1, 0, 1, 0, 1]
    p = [1, 1, 0, 0, 0]
    rows = misclassified_texts(texts, y, p, ["negative", "positive"])
    assert rows == [{"index": 1, "text": "bad film", "true": "negative", "predicted": "positive"},
                    {"index": 2, "text": "fine", "true": "positive", "predicted": "negative"},
                    {"index": 4, "text": "great", "true": "positive", "predicted": "negative"}]
    assert [r["index"] for r in misclassified_texts(texts, y, p, ["n", "p"], max_items=2)] == [1, 2]
    assert misclassified_texts(texts, y, y, ["n", "p"]) == []
    long = misclassified_texts(["x" * 1000], [0], [1], ["n", "p"])[0]["text"]
    assert len(long) <= 300 and long.endswith("…")
    dumps(rows)


# -- misclassified points ------------------------------------------------------------------

def test_the_rings_sit_exactly_on_the_misclassified_points():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(50, 2)) * 3.7
    y, p = random_labels(50, 3, 4)
    wrong = np.flatnonzero(y != p)
    assert 0 < wrong.size < 50
    trace = misclassified_points_trace(X, y, p, ["red", "green", "blue"])
    assert trace["name"] == "misclassified" and trace["type"] == "scatter" and trace["mode"] == "markers"
    assert trace["x"] == plain(X[wrong, 0]) and trace["y"] == plain(X[wrong, 1])
    assert np.allclose(trace["x"], X[wrong, 0], rtol=1e-4) and np.allclose(trace["y"], X[wrong, 1], rtol=1e-4)
    assert trace["customdata"] == wrong.tolist()
    names = ["red", "green", "blue"]
    assert trace["text"] == [f"true {names[y[i]]}, predicted {names[p[i]]}" for i in wrong]
    assert "%{text}" in trace["hovertemplate"]
    marker = trace["marker"]
    assert marker["symbol"] == "circle-open" and marker["line"]["width"] >= 2
    assert trace["meta"]["count"] == wrong.size
    dumps(trace)


def test_no_misclassified_points_gives_an_empty_trace():
    X = np.array([[0.0, 1.0], [2.0, 3.0]])
    trace = misclassified_points_trace(X, [0, 1], [0, 1])
    assert trace["x"] == [] and trace["y"] == [] and trace["meta"]["count"] == 0
    assert misclassified_points_trace(X, [0, 1], [1, 1])["text"] == ["true 0, predicted 1"]
    with pytest.raises(ValueError):
        misclassified_points_trace(np.zeros((3, 2)), [0, 1], [0, 1])
    dumps(trace)


# -- first-layer weights ------------------------------------------------------------------

def test_each_tile_is_a_units_incoming_weights_in_the_image_shape():
    rng = np.random.default_rng(0)
    W = rng.normal(size=(64, 10))
    fig = input_weights_figure(W, (8, 8))
    assert len(fig["data"]) == 10
    for k, trace in enumerate(fig["data"]):
        assert trace["z"] == plain(W[:, k].reshape(8, 8))
        assert trace["meta"]["unit"] == k and trace["name"] == f"unit {k}"
        m = np.abs(W[:, k]).max()
        assert trace["zmid"] == 0 and trace["zmin"] == pytest.approx(-m) and trace["zmax"] == pytest.approx(m)
        assert trace["colorscale"] == SIGNED_SCALE
    assert [a["text"] for a in fig["layout"]["annotations"]] == [f"unit {k}" for k in range(10)]
    assert "all 10 units" in plain_text(title_text(fig))
    dumps(fig)


def test_28_by_28_weights_and_the_first_max_units():
    rng = np.random.default_rng(1)
    W = rng.normal(size=(784, 100))
    fig = input_weights_figure(W, (28, 28), max_units=64)
    assert len(fig["data"]) == 64 and fig["layout"]["meta"]["units"] == list(range(64))
    assert fig["data"][63]["z"] == plain(W[:, 63].reshape(28, 28))
    assert "64 of 100 units" in plain_text(title_text(fig))
    dumps(fig)


def test_picked_units_are_drawn_in_the_order_given():
    rng = np.random.default_rng(2)
    W = rng.normal(size=(64, 20))
    fig = input_weights_figure(W, (8, 8, 1), units=[7, 2, 19])
    assert [t["meta"]["unit"] for t in fig["data"]] == [7, 2, 19]
    for trace, k in zip(fig["data"], [7, 2, 19]):
        assert trace["z"] == plain(W[:, k].reshape(8, 8))
    fig = input_weights_figure(W, (8, 8), units=list(range(20)), max_units=4)
    assert [t["meta"]["unit"] for t in fig["data"]] == [0, 1, 2, 3]
    assert "4 of 20 units" in plain_text(title_text(fig))
    with pytest.raises(ValueError):
        input_weights_figure(W, (8, 8), units=[20])


def test_rgb_weights_are_the_mean_of_the_channels():
    rng = np.random.default_rng(3)
    W = rng.normal(size=(32 * 32 * 3, 4))
    fig = input_weights_figure(W, (32, 32, 3))
    for k, trace in enumerate(fig["data"]):
        assert trace["z"] == plain(W[:, k].reshape(32, 32, 3).mean(axis=2))
    assert "mean of 3 channels" in plain_text(title_text(fig))
    dumps(fig)


def test_weights_that_are_not_an_image_are_refused_and_nan_is_safe():
    with pytest.raises(ValueError):
        input_weights_figure(np.zeros((63, 4)), (8, 8))
    with pytest.raises(ValueError):
        input_weights_figure(np.zeros(64), (8, 8))
    W = np.ones((64, 2))
    W[5, 0] = np.nan
    W[:, 1] = 0.0                                   # all zero: a scale of ±1, not ±0
    fig = input_weights_figure(W, (8, 8))
    assert fig["data"][0]["z"][0][5] is None
    assert fig["data"][1]["zmax"] == 1.0
    dumps(fig)
