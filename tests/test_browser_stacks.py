"""Every kind of network in the page, in headless Chromium: a CNN on digits, a
bidirectional LSTM on NusaX-Sentiment, Keras weights for the text model, a stack the
engine cannot build, and a saved CNN loaded back."""
from __future__ import annotations

import os
import re

import numpy as np
import pytest
from playwright.sync_api import expect

from browser import RUN_TIMEOUT_MS, choose, look_at, open_dashboard, set_field, stack_rows, status
from engine import Sequential
from engine.text import NUSAX_FOLDER, TextVectorizer, load_nusax
from helpers import DATA_DIR

pytestmark = pytest.mark.browser

TEXT_PRESET = "Text LSTM (embedding, BiLSTM)"
CNN_PRESET = "CNN (conv-pool ×2)"


def use_preset(page, name: str) -> None:
    choose(page, "ctl-preset", name)
    expect(page.locator("#ctl-preset-note")).to_contain_text(name)
    expect(page.locator("#train-button")).to_be_enabled()


def train_until_done(page) -> None:
    page.click("#train-button")
    expect(status(page)).to_have_class(re.compile(r"\bstatus-done\b"), timeout=RUN_TIMEOUT_MS)


def figure_data(page, graph_id: str) -> list:
    """The traces the page drew in a dcc.Graph."""
    return page.evaluate("""id => {
        const g = document.querySelector('#' + id + ' .js-plotly-plot');
        return g && g.data ? JSON.parse(JSON.stringify(g.data)) : [];
    }""", graph_id)


def kernel_z(page) -> list:
    traces = figure_data(page, "conv-kernels")
    weights = [t for t in traces if t.get("name") == "weights"]
    return weights[0]["z"] if weights else []


def metric(page, name: str) -> float:
    # The metrics follow the end of the run (a pass over the validation data).
    expect(page.locator("#train-metrics")).to_contain_text(name, timeout=RUN_TIMEOUT_MS)
    text = page.locator("#train-metrics").inner_text()
    found = re.search(rf"{name} ([0-9.]+)", text)
    assert found, f"no {name} in {text!r}"
    return float(found.group(1))


def test_cnn_on_digits_learns_and_its_kernels_move(page, app_server):
    open_dashboard(page, app_server)
    use_preset(page, CNN_PRESET)
    rows = stack_rows(page)
    expect(rows).to_have_count(6)
    expect(page.locator("#stack-input")).to_contain_text("(8, 8, 1)")
    expect(rows.nth(0).locator(".stack-shape")).to_have_text("→ (8, 8, 8) · 80 params")
    expect(rows.nth(4).locator(".stack-shape")).to_have_text("→ (64,) · 0 params")
    set_field(page, "epochs", 40)
    page.click("#train-button")
    expect(status(page)).to_have_class(re.compile(r"\bstatus-running\b"), timeout=RUN_TIMEOUT_MS)
    look_at(page, "conv")
    page.wait_for_function("() => { const g = document.querySelector('#conv-kernels .js-plotly-plot');"
                           " return g && g.data && g.data.length > 0; }", timeout=RUN_TIMEOUT_MS)
    first = kernel_z(page)
    page.wait_for_function("""z => {
        const g = document.querySelector('#conv-kernels .js-plotly-plot');
        const w = g && g.data && g.data.find(t => t.name === 'weights');
        return w && JSON.stringify(w.z) !== JSON.stringify(z);
    }""", arg=first, timeout=RUN_TIMEOUT_MS)
    assert kernel_z(page) != first
    expect(status(page)).to_have_class(re.compile(r"\bstatus-done\b"), timeout=RUN_TIMEOUT_MS)
    assert metric(page, "accuracy") >= 90.0
    # 8 filters of one input channel, 3x3 each, side by side with gaps between the tiles
    z = np.array(kernel_z(page), dtype=float)
    assert z.shape == (3, 8 * 4 - 1)
    # the feature maps of a sample: the picture and one mosaic per conv / pooling layer
    look_at(page, "conv")
    page.wait_for_function("() => { const g = document.querySelector('#conv-maps .js-plotly-plot');"
                           " return g && g.data && g.data.length === 5; }", timeout=RUN_TIMEOUT_MS)
    maps = figure_data(page, "conv-maps")
    assert [t["name"] for t in maps][0] == "input"
    assert len(maps) == 5


def test_text_lstm_shows_the_hidden_state_of_a_chosen_sentence(page, app_server):
    open_dashboard(page, app_server)
    use_preset(page, TEXT_PRESET)
    expect(page.locator("#stack-input")).to_contain_text("(48,)")
    set_field(page, "epochs", 3)
    train_until_done(page)
    look_at(page, "sequences")
    page.click("#seq-sample")
    page.get_by_role("option", name=re.compile(r"^#3 ·")).click()
    page.wait_for_function("() => { const g = document.querySelector('#seq-states .js-plotly-plot');"
                           " return g && g.layout && /sentence #3/.test(JSON.stringify(g.layout.title)); }",
                           timeout=RUN_TIMEOUT_MS)
    splits = load_nusax(DATA_DIR / NUSAX_FOLDER)
    vec = TextVectorizer(3000, 48).fit(splits["train"][0])
    ids = vec.transform([splits["valid"][0][3]])[0]
    words = [vec.vocabulary[i] for i in ids if i != 0]
    layout = page.evaluate("() => document.querySelector('#seq-states .js-plotly-plot').layout")
    axis = layout["xaxis"]
    assert axis["ticktext"] == words
    traces = {t["name"]: t for t in figure_data(page, "seq-states")}
    assert {"forward hidden state h", "backward hidden state h", "forward input gate i"} <= set(traces)
    h = np.array(traces["forward hidden state h"]["z"], dtype=float)
    assert h.shape == (32, len(words))
    assert np.all(np.abs(h) <= 1) and np.abs(h).max() > 0
    gate = np.array(traces["forward forget gate f"]["z"], dtype=float)
    assert np.all((gate >= 0) & (gate <= 1))


@pytest.fixture(scope="module")
def keras_text_model(tmp_path_factory):
    """The text preset's network trained briefly in Keras, its weights file, and its
    validation macro F1 computed from Keras' own predictions."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("keras was imported earlier with another backend")
    from sklearn.metrics import f1_score

    splits = load_nusax(DATA_DIR / NUSAX_FOLDER)
    (texts, y), (val_texts, y_val) = splits["train"], splits["valid"]
    vec = TextVectorizer(3000, 48).fit(texts)
    X, X_val = vec.transform(texts), vec.transform(val_texts)
    keras.utils.set_random_seed(0)
    km = keras.Sequential([
        keras.Input((48,), dtype="int32"),
        keras.layers.Embedding(vec.vocab_size, 32, mask_zero=True),
        keras.layers.Bidirectional(keras.layers.LSTM(32)),
        keras.layers.Dropout(0.3),
        keras.layers.Dense(3, activation="softmax"),
    ])
    km.compile(optimizer=keras.optimizers.Adam(0.005), loss="sparse_categorical_crossentropy")
    km.fit(X.astype(np.int32), y, batch_size=32, epochs=4, verbose=0)
    path = tmp_path_factory.mktemp("keras") / "sentiment.weights.h5"
    km.save_weights(path)
    pred = np.asarray(km.predict(X_val.astype(np.int32), verbose=0)).argmax(axis=1)
    return path, float(f1_score(y_val, pred, average="macro")), float(np.mean(pred == y_val))


def test_keras_weights_give_keras_validation_f1(page, app_server, keras_text_model):
    path, keras_f1, keras_accuracy = keras_text_model
    open_dashboard(page, app_server)
    use_preset(page, TEXT_PRESET)
    page.locator("#keras-load input[type=file]").set_input_files(str(path))
    expect(page.locator("#model-message")).to_contain_text("Loaded Keras weights from sentiment.weights.h5",
                                                           timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#train-metrics")).to_contain_text("macro F1")
    assert metric(page, "macro F1") == pytest.approx(keras_f1, abs=1e-4)
    assert metric(page, "accuracy") == pytest.approx(100 * keras_accuracy, abs=1e-2)
    # and Train continues the loaded model
    set_field(page, "epochs", 1)
    train_until_done(page)
    expect(status(page)).to_contain_text("Trained 1 epoch")


def test_keras_weights_for_another_stack_name_the_layer(page, app_server, keras_text_model):
    path, _, _ = keras_text_model
    open_dashboard(page, app_server)
    use_preset(page, TEXT_PRESET)
    units = stack_rows(page).nth(1).locator("input[type=number]").first
    units.fill("16")
    expect(stack_rows(page).nth(1).locator(".stack-shape")).to_contain_text("(32,)")
    page.locator("#keras-load input[type=file]").set_input_files(str(path))
    expect(page.locator("#model-message")).to_contain_text("Could not load sentiment.weights.h5 into this stack",
                                                           timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#model-message")).to_contain_text("Bidirectional")


def test_a_stack_the_engine_cannot_build_keeps_train_off(page, app_server):
    open_dashboard(page, app_server)
    use_preset(page, CNN_PRESET)
    choose(page, "stack-add-type", "Conv2D")
    page.click("#stack-add")
    rows = stack_rows(page)
    expect(rows).to_have_count(7)
    expect(rows.nth(6).locator(".stack-error")).to_have_text(
        "Conv2D needs an image (height, width, channels) per sample; it gets (32,)")
    expect(page.locator("#train-button")).to_be_disabled()
    expect(page.locator("#ctl-form-status")).to_contain_text("to fix before training")
    rows.nth(6).locator("button[title='Remove this layer']").click()
    expect(rows).to_have_count(6)
    expect(page.locator("#train-button")).to_be_enabled()
    # Flatten removed: the output layer says what it gets and what to add
    rows.nth(4).locator("button[title='Remove this layer']").click()
    expect(page.locator("#ctl-output-error")).to_contain_text("The output layer needs flat features; it gets (2, 2, 32)")
    expect(page.locator("#train-button")).to_be_disabled()


def test_a_saved_cnn_loads_back_with_the_same_kernels(page, app_server, tmp_path):
    open_dashboard(page, app_server)
    use_preset(page, CNN_PRESET)
    set_field(page, "epochs", 3)
    train_until_done(page)
    look_at(page, "conv")
    page.wait_for_function("() => { const g = document.querySelector('#conv-kernels .js-plotly-plot');"
                           " return g && g.data && g.data.length > 0; }", timeout=RUN_TIMEOUT_MS)
    trained = kernel_z(page)
    with page.expect_download() as download:
        page.click("#model-save")
    saved = tmp_path / "cnn.npz"
    download.value.save_as(saved)
    model = Sequential.load(saved)
    W = np.asarray(model.layers[0].W, dtype=float)          # (3, 3, 1, 8)
    z = np.array(trained, dtype=float)
    for f in range(8):
        np.testing.assert_allclose(z[:, 4 * f:4 * f + 3], W[:, :, 0, f], rtol=1e-4, atol=1e-7)

    page.click("#reset-button")
    look_at(page, "conv")
    expect(page.locator("#conv-note")).to_contain_text("No model yet")
    use_preset(page, "Dense playground (2-8-8-2 tanh on moons)")
    page.locator("#model-load input[type=file]").set_input_files(str(saved))
    expect(page.locator("#model-message")).to_contain_text("Loaded cnn.npz", timeout=RUN_TIMEOUT_MS)
    # the form takes on the file's stack and data set
    expect(stack_rows(page)).to_have_count(6)
    expect(page.locator("#stack-input")).to_contain_text("(8, 8, 1)")
    look_at(page, "conv")
    page.wait_for_function("z => { const g = document.querySelector('#conv-kernels .js-plotly-plot');"
                           " const w = g && g.data && g.data.find(t => t.name === 'weights');"
                           " return w && JSON.stringify(w.z) === JSON.stringify(z); }", arg=trained,
                           timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#train-metrics")).to_contain_text("accuracy")


def test_cifar10_says_where_its_file_goes_before_any_download(page, app_server):
    open_dashboard(page, app_server)
    use_preset(page, CNN_PRESET)
    choose(page, "ctl-dataset", "CIFAR-10 (downloads 162 MB on first use)")
    expect(page.locator("#ctl-dataset-help")).to_contain_text("cifar-10-binary.tar.gz")
    expect(page.locator("#ctl-dataset-help")).to_contain_text("https://www.cs.toronto.edu/~kriz/")
    expect(page.locator("#stack-input")).to_contain_text("(32, 32, 3)")
    expect(stack_rows(page).nth(4).locator(".stack-shape")).to_have_text("→ (1024,) · 0 params")
    expect(page.locator("#train-button")).to_be_enabled()
