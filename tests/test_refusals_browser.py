"""What the page refuses, it says, with the rule, never in silence: files the upload boxes
cannot take (a CSV over the box's 20 MB, a .csv.gz, a .keras or .weights.h5 offered to Load
model, a model file offered to Load Keras weights; a file the box takes still goes
through), and "+ Add layer" past the form's limit."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from browser import choose, open_dashboard


def _offer(page, upload_id: str, path) -> None:
    page.locator(f"#{upload_id} input[type=file]").set_input_files(str(path))


@pytest.mark.parametrize("name,box,message,words", [
    ("weights.keras", "model-load", "model-message",
     "Could not take weights.keras: this box takes a Backprop Studio model file (.npz, from Save model)."),
    ("model.weights.h5", "model-load", "model-message", "Could not take model.weights.h5: this box takes a Backprop"),
    ("run.npz", "keras-load", "model-message", "Could not take run.npz: this box takes Keras weights"),
])
def test_a_file_of_another_kind_is_named(page, app_server, tmp_path, name, box, message, words):
    path = tmp_path / name
    path.write_bytes(b"\x00" * 64)
    open_dashboard(page, app_server)
    _offer(page, box, path)
    expect(page.locator(f"#{message}")).to_contain_text(words, timeout=10_000)


def test_csv_boxes_name_size_and_packing(page, app_server, tmp_path):
    open_dashboard(page, app_server)
    choose(page, "ctl-dataset", "Your CSV file…")
    packed = tmp_path / "data.csv.gz"
    packed.write_bytes(b"\x1f\x8b" + b"\x00" * 30)
    _offer(page, "ctl-csv-upload", packed)
    expect(page.locator("#ctl-csv-filename")).to_have_text(
        "Could not take data.csv.gz: this box takes a CSV file (.csv). Unpack it first.", timeout=10_000)
    big = tmp_path / "big.csv"
    row = b"1.0,2.0,0\n"
    with open(big, "wb") as out:
        out.write(b"a,b,label\n")
        out.write(row * (30_000_000 // len(row)))
    _offer(page, "ctl-csv-upload", big)
    expect(page.locator("#ctl-csv-filename")).to_have_text(
        "Could not take big.csv: it has 30.0 MB, more than the 20.0 MB this box takes.", timeout=10_000)
    small = tmp_path / "small.csv"
    small.write_bytes(b"a,b,label\n" + b"".join(f"{i % 3},{i % 5},{i % 2}\n".encode() for i in range(40)))
    _offer(page, "ctl-csv-upload", small)
    expect(page.locator("#ctl-csv-filename")).to_contain_text("small.csv (", timeout=30_000)


def test_add_layer_past_the_limit_says_why(page, app_server):
    from browser import stack_rows
    from dashboard.spec import MAX_LAYERS
    open_dashboard(page, app_server)
    rows = stack_rows(page)
    start = rows.count()
    for n in range(start + 1, MAX_LAYERS + 1):
        page.click("#stack-add")
        expect(rows).to_have_count(n)
    expect(page.locator("#stack-add-note")).to_have_text(f"{MAX_LAYERS} layers: the most this form takes.")
    page.click("#stack-add")
    expect(page.locator("#stack-add-note")).to_have_text(
        f"At most {MAX_LAYERS} layers here: remove one to add another.")
    expect(rows).to_have_count(MAX_LAYERS)
    rows.nth(0).locator("button[title='Remove this layer']").click()
    expect(rows).to_have_count(MAX_LAYERS - 1)
    expect(page.locator("#stack-add-note")).to_have_text("")


def test_a_loaded_model_the_form_cannot_train_says_so(page, app_server, tmp_path):
    from dashboard import jobs, presets, spec as spec_mod
    from engine import FFNN
    model = FFNN([2] + [4] * 25 + [2], ["tanh"] * 25 + ["softmax"], loss="cce", optimizer="adam")
    model_spec = spec_mod.spec_from_model(model)
    base = spec_mod.check(presets.preset_form("dense")).spec
    model_spec.update(data=base["data"], training=base["training"])
    path = tmp_path / "deep.npz"
    path.write_bytes(jobs.model_bytes(model, model_spec, jobs.empty_history(True), {}))
    open_dashboard(page, app_server)
    _offer(page, "model-load", path)
    message = page.locator("#model-message")
    expect(message).to_contain_text("Loaded deep.npz", timeout=30_000)
    expect(message).to_contain_text("The form cannot train it as it is (Layers: At most 20 layers here)")
    expect(message).not_to_contain_text("Train continues it")


def test_a_tab_opened_from_a_tab_has_a_session_of_its_own(page, app_server):
    import json as _json
    open_dashboard(page, app_server)
    page.wait_for_function("() => sessionStorage.getItem('session-id')")
    first = _json.loads(page.evaluate("() => sessionStorage.getItem('session-id')"))
    with page.context.expect_page() as opened:
        page.evaluate("url => window.open(url)", app_server)
    other = opened.value
    open_dashboard(other, app_server)
    other.wait_for_function("first => { const s = sessionStorage.getItem('session-id');"
                            " return s && JSON.parse(s) !== first; }", arg=first, timeout=10_000)
    second = _json.loads(other.evaluate("() => sessionStorage.getItem('session-id')"))
    assert second != first and len(second) == 32
    # a reload is the same tab: it keeps its session (and so its run and model)
    page.reload()
    open_dashboard(page, app_server)
    page.wait_for_timeout(1000)
    assert _json.loads(page.evaluate("() => sessionStorage.getItem('session-id')")) == first
