"""Search spaces, their trials and the forms they make (dashboard.experiments)."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from dashboard import experiments as ex
from dashboard import presets

pytestmark = pytest.mark.usefixtures("shared_data")


def test_a_grid_is_every_combination_in_order():
    space = {"learning_rate": {"kind": "values", "values": [0.01, 0.1]},
             "activation": {"kind": "values", "values": ["tanh", "relu", "sigmoid"]}}
    got = ex.combinations(space, "grid")
    want = [{"learning_rate": lr, "activation": a} for lr, a in itertools.product([0.01, 0.1], ["tanh", "relu", "sigmoid"])]
    assert got == want


def test_grid_points_of_ranges():
    assert ex.combinations({"l2": {"kind": "linear", "low": 0, "high": 1, "n": 5}}) == \
        [{"l2": v} for v in (0.0, 0.25, 0.5, 0.75, 1.0)]
    logs = [c["learning_rate"] for c in ex.combinations({"learning_rate": {"kind": "log", "low": 1e-4, "high": 1e-1,
                                                                           "n": 4}})]
    np.testing.assert_allclose(logs, [1e-4, 1e-3, 1e-2, 1e-1], rtol=1e-6)
    assert [c["epochs"] for c in ex.combinations({"epochs": {"kind": "int", "low": 3, "high": 8}})] == list(range(3, 9))
    assert [c["epochs"] for c in ex.combinations({"epochs": {"kind": "int", "low": 1, "high": 9, "n": 3}})] == [1, 5, 9]
    assert len(ex.combinations({"l1": {"kind": "linear", "low": 0, "high": 1}})) == ex.GRID_POINTS


def test_random_search_is_seeded_and_stays_in_its_ranges():
    a = ex.combinations(ex.REPORT_SPACE, "random", n_trials=40, seed=7)
    b = ex.combinations(ex.REPORT_SPACE, "random", n_trials=40, seed=7)
    c = ex.combinations(ex.REPORT_SPACE, "random", n_trials=40, seed=8)
    assert a == b and a != c
    for trial in a:
        assert trial["units"] in (400, 500, 600) and trial["layers"] in (1, 2, 3)
        assert 3 <= trial["epochs"] <= 8 and isinstance(trial["epochs"], int)
        assert trial["batch_size"] in (100, 300, 600)
        assert 1e-4 <= trial["learning_rate"] <= 1e-1
        assert trial["activation"] in ("relu", "leaky_relu", "sigmoid")
    # log-uniform: about as many draws in each decade
    lrs = [t["learning_rate"] for t in ex.combinations(ex.REPORT_SPACE, "random", n_trials=300, seed=1)]
    decades = np.histogram(np.log10(lrs), bins=[-4, -3, -2, -1])[0]
    assert decades.min() > 60, decades


@pytest.mark.parametrize("space, message", [
    ({}, "at least one field"),
    ({"colour": {"kind": "values", "values": [1]}}, "field 'colour' is not one a search can vary"),
    ({"epochs": {"kind": "steps"}}, "epochs: kind must be one of values, linear, log, int"),
    ({"epochs": {"kind": "values", "values": []}}, "epochs: values must be a non-empty list"),
    ({"learning_rate": {"kind": "log", "low": 0, "high": 1}}, "a log range needs low greater than 0"),
    ({"l2": {"kind": "linear", "low": 1, "high": 0}}, "low must not be greater than high"),
    ({"epochs": {"kind": "int", "low": 1.5, "high": 3}}, "an int range needs whole numbers"),
    ({"l2": {"kind": "linear", "low": 0, "high": math.inf}}, "l2: high must be a finite number"),
    ({"l2": {"kind": "linear", "low": 0, "high": 1, "n": 0}}, "n must be a whole number from 1 to 100"),
])
def test_bad_spaces_name_the_field_and_the_rule(space, message):
    with pytest.raises(ValueError, match=message):
        ex.check_space(space)


def test_limits_on_trials():
    with pytest.raises(ValueError, match="n_trials must be a whole number"):
        ex.combinations({"l2": {"kind": "linear", "low": 0, "high": 1}}, "random", n_trials=0)
    big = {f"layers.{i}.units": {"kind": "values", "values": list(range(1, 9))} for i in range(4)}
    with pytest.raises(ValueError, match="the grid has 4,096 trials"):
        ex.combinations(big, "grid")
    with pytest.raises(ValueError, match="strategy must be one of grid, random"):
        ex.combinations({"l2": {"kind": "linear", "low": 0, "high": 1}}, "bayes")


def test_apply_sets_every_kind_of_field():
    base = presets.preset_form("dense")
    form = ex.apply(base, {"learning_rate": 0.1, "units": 16, "activation": "relu", "layers": 3,
                           "optimizer_params.beta1": 0.8, "data.noise": 0.3, "layers.2.units": 4})
    assert form["learning_rate"] == 0.1
    assert [r["settings"]["units"] for r in form["layers"]] == [16, 16, 4]
    assert [r["settings"]["activation"] for r in form["layers"]] == ["relu"] * 3
    assert form["optimizer_params"]["beta1"] == 0.8 and form["data"]["noise"] == 0.3
    assert base["learning_rate"] == 0.01 and len(base["layers"]) == 2          # the base is untouched
    assert len(ex.apply(base, {"layers": 0})["layers"]) == 0
    with pytest.raises(ValueError, match="layers.5.units: the stack has 2 rows"):
        ex.apply(base, {"layers.5.units": 3})
    cnn = presets.preset_form("cnn")
    with pytest.raises(ValueError, match="works for stacks of Dense layers only"):
        ex.apply(cnn, {"layers": 2})
    assert ex.apply(cnn, {"layers.0.filters": 4})["layers"][0]["settings"]["filters"] == 4


def test_trials_are_specs_checked_by_the_form_rules():
    base = presets.preset_form("dense")
    found = ex.trials(base, {"learning_rate": {"kind": "values", "values": [0.01, -1]},
                             "units": {"kind": "values", "values": [4, 8]}})
    assert [t["trial"] for t in found] == [0, 1, 2, 3]
    good = [t for t in found if t["spec"]]
    assert [t["params"]["learning_rate"] for t in good] == [0.01, 0.01]
    for t in good:
        layers = t["spec"]["model"]["layers"]
        assert [l["config"]["units"] for l in layers[:-1]] == [t["params"]["units"]] * 2
    bad = [t for t in found if not t["spec"]]
    assert len(bad) == 2 and all("learning_rate: Must be greater than 0" in t["error"] for t in bad)


def test_the_report_search_builds_reference_mlps():
    found = ex.trials(presets.preset_form("mlp"), ex.REPORT_SPACE, "random", n_trials=5, seed=3)
    assert all(t["spec"] for t in found)
    for t in found:
        dense = t["spec"]["model"]["layers"]
        assert len(dense) == t["params"]["layers"] + 1
        assert {l["config"]["activation"] for l in dense[:-1]} == {t["params"]["activation"]}
        assert t["spec"]["training"]["batch_size"] == t["params"]["batch_size"]
        assert t["spec"]["model"]["input_shape"] == [784]


def test_a_row_setting_of_a_cnn():
    found = ex.trials(presets.preset_form("cnn"), {"layers.0.kernel_size": {"kind": "values", "values": ["2", "3"]},
                                                   "layers.1.pool_size": {"kind": "values", "values": ["2", "9"]}})
    assert len(found) == 4
    errors = [t for t in found if t["error"]]
    assert len(errors) == 2 and all("MaxPool2D" in t["error"] for t in errors)
    kernels = [t["spec"]["model"]["layers"][0]["config"]["kernel_size"] for t in found if t["spec"]]
    assert kernels == [[2, 2], [3, 3]]
