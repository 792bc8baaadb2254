"""A CSV as a spreadsheet in much of Europe and Indonesia exports it (semicolons, decimal
commas, CRLF) and scikit-learn's own wine_data.csv (a metadata first line, no header) are
read in the page, say what was found, and train."""
from __future__ import annotations

import os

import numpy as np
import pytest
import sklearn
from playwright.sync_api import expect

from browser import RUN_TIMEOUT_MS, choose, open_dashboard, set_field, status


def _upload(page, path) -> None:
    page.locator("#ctl-csv-upload input[type=file]").set_input_files(str(path))


def test_a_semicolon_decimal_comma_csv_trains(page, app_server, tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 2))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    lines = ["höhe;breite;klasse"] + [f"{a:.3f};{b:.3f};{c}".replace(".", ",") for (a, b), c in zip(X, y)]
    path = tmp_path / "messungen.csv"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8"))
    open_dashboard(page, app_server)
    choose(page, "ctl-dataset", "Your CSV file…")
    _upload(page, path)
    expect(page.locator("#ctl-csv-filename")).to_contain_text("Semicolon-separated, decimal comma",
                                                              timeout=30_000)
    set_field(page, "epochs", 5)
    expect(page.locator("#train-button")).to_be_enabled()
    page.click("#train-button")
    expect(status(page)).to_contain_text("Trained 5 epochs", timeout=RUN_TIMEOUT_MS)


def test_scikit_learns_wine_data_csv_trains(page, app_server):
    path = os.path.join(os.path.dirname(sklearn.__file__), "datasets", "data", "wine_data.csv")
    if not os.path.exists(path):
        pytest.fail(f"scikit-learn's wine_data.csv is not at {path}")
    open_dashboard(page, app_server)
    choose(page, "ctl-dataset", "Your CSV file…")
    _upload(page, path)
    expect(page.locator("#ctl-csv-filename")).to_contain_text("wine_data.csv", timeout=30_000)
    expect(page.locator("#ctl-csv-filename")).to_contain_text("skipped (scikit-learn style: 178 samples, 13 features")
    set_field(page, "epochs", 5)
    expect(page.locator("#train-button")).to_be_enabled()
    page.click("#train-button")
    expect(status(page)).to_contain_text("Trained 5 epochs", timeout=RUN_TIMEOUT_MS)
