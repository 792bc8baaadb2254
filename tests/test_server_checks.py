"""The server checks every spec it is asked to train with the form's own rules
(``dashboard.spec.recheck``): the page's copy of the spec lives in the browser, and a
changed one must be refused with the field and its rule, never trained."""
from __future__ import annotations

import copy
import json

import pytest

from dashboard import presets, spec as spec_mod
from dashboard.panels import form as form_panel

pytestmark = pytest.mark.usefixtures("shared_data")


def _spec(name: str = "dense") -> dict:
    checked = spec_mod.check(presets.preset_form(name))
    assert checked.spec is not None, checked.errors
    return checked.spec


@pytest.mark.parametrize("name", sorted(presets.PRESETS))
def test_every_preset_passes_unchanged(name):
    spec = _spec(name)
    assert spec_mod.recheck(copy.deepcopy(spec)) == spec


def _tampered(change) -> dict:
    spec = _spec()
    change(spec)
    return spec


@pytest.mark.parametrize("change,words", [
    (lambda s: s["training"].update(epochs=20_001), "Epochs"),
    (lambda s: s["training"].update(learning_rate=1e6), "Learning rate"),
    (lambda s: s["training"].update(learning_rate=-1), "Learning rate"),
    (lambda s: s["training"].update(batch_size=0), "Batch size"),
    (lambda s: s["model"].update(l2=50), "L2"),
    (lambda s: s["model"]["layers"].__setitem__(
        slice(0, -1), [{"type": "Dense", "config": {**s["model"]["layers"][0]["config"], "units": 2048}}] * 12),
     "at most 25,000,000"),
    (lambda s: s["model"]["layers"][0]["config"].update(units=10 ** 7), ""),
    (lambda s: s["model"].update(optimizer="rmsprop-of-my-own"), ""),
    (lambda s: s["data"].update(name="not-a-data-set"), ""),
])
def test_a_changed_spec_is_refused_with_the_rule(change, words):
    with pytest.raises(ValueError) as err:
        spec_mod.recheck(_tampered(change))
    assert words in str(err.value)
    assert "Traceback" not in str(err.value)


@pytest.mark.parametrize("bad", [None, "spec", 3, [], {"model": 1}, {"model": {}, "training": {}, "data": {}},
                                 {"model": {"layers": "x"}, "training": {}, "data": {"name": "moons"}}])
def test_something_that_is_not_a_spec_is_refused(bad):
    with pytest.raises(ValueError, match="not a model spec|Choose|differ"):
        spec_mod.recheck(bad)


def test_a_csv_spec_is_checked_against_the_uploaded_file():
    data = b"a,b,label\n" + b"".join(f"{i % 7},{i % 5},{i % 2}\n".encode() for i in range(60))
    meta = form_panel.csv_facts(data, "mine.csv", "label")
    form = presets.preset_form("dense")
    form["dataset"] = "csv"
    checked = spec_mod.check(form, meta)
    assert checked.spec is not None, checked.errors
    assert spec_mod.recheck(copy.deepcopy(checked.spec), meta) == checked.spec
    gone = {"filename": "mine.csv", "error": "Upload the CSV again (it is no longer on the server)"}
    with pytest.raises(ValueError, match="Upload the CSV again"):
        spec_mod.recheck(checked.spec, gone)


def _as_the_browser_sends(value):
    """JSON as a browser writes it back: a whole float (0.0, 30.0) comes back as an int."""
    if isinstance(value, dict):
        return {k: _as_the_browser_sends(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_the_browser_sends(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


@pytest.mark.parametrize("name", ["dense", "cnn", "logreg"])
def test_the_spec_as_the_browser_sends_it_back_passes(name):
    spec = _spec(name)
    sent = _as_the_browser_sends(copy.deepcopy(spec))
    assert json.dumps(sent) != json.dumps(spec)   # some 0.0 became 0
    assert spec_mod.recheck(sent) == spec
