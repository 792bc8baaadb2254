"""The model spec (dashboard.spec): the form's rules, each with its own message; what
each row of a stack gives, checked against the engine; and the round trip
form -> spec -> model file -> spec -> form."""
from __future__ import annotations

import copy
import io
import re

import numpy as np
import pytest

from dashboard import presets, spec
from dashboard.panels.form import csv_facts
from engine import LAYERS, Sequential
from helpers import DATA_DIR, row

PRESET_NAMES = list(presets.PRESETS)
TEXT_PRESETS = [name for name in PRESET_NAMES if presets.PRESETS[name][1]["dataset"] == "nusax"]


pytestmark = pytest.mark.usefixtures("shared_data")


def form(preset=presets.DEFAULT, **changes):
    values = presets.preset_form(preset)
    values.update(copy.deepcopy(changes))
    return values


def checked(preset=presets.DEFAULT, csv_meta=None, **changes):
    return spec.check(form(preset, **changes), csv_meta)


def errors_of(preset=presets.DEFAULT, csv_meta=None, **changes):
    result = checked(preset, csv_meta, **changes)
    assert result.spec is None, "a form with errors must not give a spec"
    assert result.errors
    return result.errors


def ok(preset=presets.DEFAULT, csv_meta=None, **changes):
    result = checked(preset, csv_meta, **changes)
    assert result.errors == {}
    assert result.spec is not None
    return result


def total_from_summary(model):
    text = model.summary(print_fn=None)
    return int(re.search(r"Total parameters: ([\d,]+)", text).group(1).replace(",", ""))


def vocabulary_size(max_tokens):
    """Ids of a vectoriser fitted on NusaX's training texts, counted here from the words."""
    from engine.text import load_nusax, tokenize

    words = {w for t in load_nusax(DATA_DIR / "nusax_sentiment_id")["train"][0] for w in tokenize(t)}
    return min(len(words) + 2, max_tokens)


# -- the default form --------------------------------------------------------------------
def test_the_default_preset_trains_moons_with_two_tanh_layers():
    result = ok()
    s = result.spec
    assert s["version"] == spec.SPEC_VERSION
    assert s["data"] == {"name": "moons", "params": {"n_samples": 300, "noise": 0.1, "seed": 0},
                         "val_fraction": 0.2}
    model = s["model"]
    assert model["input_shape"] == [2]
    assert [(l["type"], l["config"]["units"], l["config"]["activation"]) for l in model["layers"]] == [
        ("Dense", 8, "tanh"), ("Dense", 8, "tanh"), ("Dense", 2, "softmax")]
    assert (model["loss"], model["optimizer"]) == ("cce", "adam")
    assert model["optimizer_params"] == {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
    assert (model["l1"], model["l2"], model["dtype"], model["seed"]) == (0.0, 0.0, "float32", None)
    assert s["network_init"] == {"init": "xavier", "init_params": {}}
    assert s["training"] == {"learning_rate": 0.01, "batch_size": 32, "epochs": 30}
    assert result.output == {"units": 2, "shape": (2,), "params": 8 * 2 + 2}
    assert result.total_params == (2 * 8 + 8) + (8 * 8 + 8) + (8 * 2 + 2)


# -- presets against the engine --------------------------------------------------------------
@pytest.mark.parametrize("name", PRESET_NAMES)
def test_every_preset_checks_and_its_rows_are_what_the_engine_builds(name):
    result = ok(name)
    model = Sequential.from_config(result.spec["model"])
    assert model.input_shape == tuple(result.input_shape)
    assert len(model.layers) == len(result.rows) + 1          # the rows and the output layer
    for i, info in enumerate(result.rows):
        layer = model.layers[i]
        assert info["shape"] == tuple(layer.output_shape), f"row {i}"
        assert info["params"] == layer.n_params, f"row {i}"
    out = model.layers[-1]
    assert result.output["shape"] == tuple(out.output_shape) == (result.output["units"],)
    assert result.output["params"] == out.n_params
    assert result.total_params == total_from_summary(model) == model.n_params


def test_preset_parameter_counts_by_hand():
    """The counts the engine gives, worked out from the layer sizes."""
    cnn = ok("cnn")
    assert [r["params"] for r in cnn.rows] == [3 * 3 * 1 * 8 + 8, 0, 3 * 3 * 8 * 16 + 16, 0, 0, 64 * 32 + 32]
    assert [r["shape"] for r in cnn.rows] == [(8, 8, 8), (4, 4, 8), (4, 4, 16), (2, 2, 16), (64,), (32,)]
    assert cnn.output["params"] == 32 * 10 + 10
    mlp = ok("mlp")
    assert mlp.total_params == 784 * 500 + 500 + 500 * 10 + 10
    logreg = ok("logreg")
    assert logreg.rows == [] and logreg.output == {"units": 1, "shape": (1,), "params": 30 + 1}
    text = ok("text")
    vocab = vocabulary_size(3000)
    lstm = 4 * 32 * (32 + 32 + 1)                              # 4 gates over input, state and bias
    assert [r["params"] for r in text.rows] == [vocab * 32, 2 * lstm, 0]
    assert [r["shape"] for r in text.rows] == [(48, 32), (64,), (64,)]
    assert text.spec["model"]["layers"][0]["config"]["input_dim"] == vocab


# -- the round trip ------------------------------------------------------------------------------
def saved_and_loaded(model, metadata=None):
    buffer = io.BytesIO()
    model.save(buffer, metadata=metadata)
    buffer.seek(0)
    return Sequential.load(buffer)


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_form_spec_model_file_spec_form_gives_the_same_spec(name):
    first = ok(name).spec
    model = spec.build_model(first)
    loaded = saved_and_loaded(model, {"spec": first})
    from_file = spec.spec_from_model(loaded)
    assert from_file == first
    again = spec.check(spec.form_from_spec(from_file))
    assert again.errors == {}
    assert again.spec == first
    assert spec.same_architecture(loaded.get_config(), again.spec)


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_a_file_saved_by_a_script_gives_the_same_network_back(name):
    """No spec in the file: the form keeps its data and training values and takes the
    network from the model, and gives back the same architecture."""
    first = ok(name).spec
    loaded = saved_and_loaded(spec.build_model(first))
    from_file = spec.spec_from_model(loaded)
    assert from_file["data"] is None and from_file["training"] is None
    assert from_file["model"] == loaded.get_config()
    again = spec.check(spec.form_from_spec(from_file, base=form(name)))
    assert again.errors == {}
    assert again.spec["model"] == first["model"]
    assert spec.same_architecture(loaded.get_config(), again.spec)


def test_a_changed_form_round_trips_too():
    result = ok("cnn", init="uniform", init_params={"low": -0.2, "high": 0.3}, init_seed=5,
                optimizer="sgd", optimizer_params={"momentum": 0.5}, l2=0.001, val_percent=25,
                layers=[row("Conv2D", filters=4, kernel_size="3x2", strides="1", padding="valid", activation="tanh",
                            init="he"),
                        row("AvgPool2D", pool_size=[2, 1]),
                        row("GlobalMaxPool2D"),
                        row("Dropout", rate=0.25),
                        row("Dense", units=6, activation="relu", rmsnorm=True)])
    first = result.spec
    conv = first["model"]["layers"][0]["config"]
    assert conv["kernel_size"] == [3, 2] and conv["init"] == "he" and conv["init_params"] == {}
    assert first["model"]["layers"][4]["config"]["init"] == "uniform"
    assert first["model"]["layers"][4]["config"]["init_params"] == {"low": -0.2, "high": 0.3}
    back = spec.form_from_spec(spec.spec_from_model(saved_and_loaded(spec.build_model(first), {"spec": first})))
    assert back["layers"][0]["settings"]["kernel_size"] == "3x2"
    assert back["layers"][0]["settings"]["init"] == "he"
    assert back["layers"][4]["settings"]["init"] == spec.NETWORK_INIT
    assert (back["init"], back["init_params"], back["init_seed"]) == ("uniform", {"low": -0.2, "high": 0.3}, 5)
    assert back["val_percent"] == 25
    assert spec.check(back).spec == first


def test_the_spec_builds_the_model_it_describes():
    s = ok(optimizer="sgd", optimizer_params={"momentum": 0.5}, l2=0.001, init="he", init_seed=3,
           layers=[row("Dense", units=8, activation="tanh", rmsnorm=True), row("Dense", units=5, activation="relu")]
           ).spec
    model = spec.build_model(s)
    assert [type(l).__name__ for l in model.layers] == ["Dense", "Dense", "Dense"]
    assert [l.output_shape for l in model.layers] == [(8,), (5,), (2,)]
    assert [l.get_config()["activation"] for l in model.layers] == ["tanh", "relu", "softmax"]
    assert [l.get_config()["rmsnorm"] for l in model.layers] == [True, False, False]
    assert [l.get_config()["init"] for l in model.layers] == ["he", "he", "he"]
    assert (model.optimizer_name, model.optimizer_params) == ("sgd", {"momentum": 0.5})
    assert (model.loss, model.l1, model.l2, model.seed) == ("cce", 0.0, 0.001, 3)
    # the same seed draws the same weights
    np.testing.assert_array_equal(spec.build_model(s).layers[0].W, model.layers[0].W)


def test_a_different_architecture_is_not_the_same():
    s = ok().spec
    model = spec.build_model(s)
    assert spec.same_architecture(model.get_config(), s)
    assert not spec.same_architecture(model.get_config(), ok(layers=[row("Dense", units=8, activation="tanh")]).spec)
    assert not spec.same_architecture(model.get_config(), ok(optimizer_params={"beta1": 0.5}).spec)
    assert not spec.same_architecture(model.get_config(), ok(l2=0.01).spec)
    # the training settings and the data are not the network
    assert spec.same_architecture(model.get_config(), ok(learning_rate=0.5, epochs=3, data={"noise": 0.3}).spec)


# -- number fields ----------------------------------------------------------------------------------
@pytest.mark.parametrize("field, value, message", [
    ("learning_rate", -1, "Must be greater than 0"),
    ("learning_rate", 0, "Must be greater than 0"),
    ("learning_rate", 5000, "Must be between 0 and 1,000"),
    ("learning_rate", None, "Enter a number"),
    ("learning_rate", "  ", "Enter a number"),
    ("learning_rate", "abc", "Enter a number"),
    ("learning_rate", float("nan"), "Enter a finite number"),
    ("learning_rate", float("inf"), "Enter a finite number"),
    ("batch_size", 0, "Must be between 1 and 100,000"),
    ("batch_size", 2.5, "Enter a whole number"),
    ("epochs", 0, "Must be between 1 and 10,000"),
    ("epochs", 20000, "Must be between 1 and 10,000"),
    ("l1", -0.1, "Must be between 0 and 10"),
    ("l2", -1, "Must be between 0 and 10"),
    ("l2", 11, "Must be between 0 and 10"),
    ("val_percent", 95, "Must be between 0 and 90"),
    ("init_seed", -3, f"Must be between 0 and {spec.SEED_MAX:,}"),
    ("init_seed", True, "Enter a number"),
    ("init_seed", 1.5, "Enter a whole number"),
])
def test_each_number_rule_has_its_message(field, value, message):
    assert errors_of(**{field: value}) == {field: message}


def test_numbers_may_come_as_text_and_the_seed_may_be_empty():
    s = ok(learning_rate="0.05", batch_size="16", init_seed="").spec
    assert s["training"]["learning_rate"] == 0.05 and s["training"]["batch_size"] == 16
    assert s["model"]["seed"] is None
    assert ok(init_seed=7).spec["model"]["seed"] == 7


@pytest.mark.parametrize("param, value, message", [
    ("n_samples", 5, "Must be between 10 and 100,000"),
    ("n_samples", 12.5, "Enter a whole number"),
    ("noise", 2, "Must be between 0 and 1"),
    ("seed", -1, "Must be between 0 and 4,294,967,295"),
])
def test_data_parameters_have_their_rules(param, value, message):
    assert errors_of(data={param: value}) == {f"data.{param}": message}


def test_text_settings_have_their_rules():
    assert errors_of("text", max_tokens=2)["max_tokens"] == "Must be between 3 and 100,000"
    assert errors_of("text", sequence_length=0)["sequence_length"] == "Must be between 1 and 512"
    assert errors_of("text", sequence_length=None)["sequence_length"] == "Enter a number"
    assert errors_of("text", max_tokens=2.5)["max_tokens"] == "Enter a whole number"


# -- optimiser and initialiser ---------------------------------------------------------------------
@pytest.mark.parametrize("optimizer, params, key, message", [
    ("adam", {"beta1": 1}, "optimizer.beta1", "optimizer_params beta1 must be in [0, 1) (got 1.0)"),
    ("adam", {"beta1": 1.5}, "optimizer.beta1", "optimizer_params beta1 must be in [0, 1) (got 1.5)"),
    ("adam", {"beta2": -0.1}, "optimizer.beta2", "optimizer_params beta2 must be in [0, 1) (got -0.1)"),
    ("adam", {"eps": 0}, "optimizer.eps", "optimizer_params eps must be greater than 0 (got 0.0)"),
    ("adam", {"beta1": "x"}, "optimizer.beta1", "Enter a number"),
    ("sgd", {"momentum": 1.0}, "optimizer.momentum", "optimizer_params momentum must be in [0, 1) (got 1.0)"),
])
def test_optimiser_parameters_out_of_range(optimizer, params, key, message):
    assert errors_of(optimizer=optimizer, optimizer_params=params) == {key: message}


def test_fields_of_another_optimiser_are_ignored():
    s = ok(optimizer="sgd", optimizer_params={"momentum": 0.9, "beta1": 5}).spec
    assert s["model"]["optimizer"] == "sgd" and s["model"]["optimizer_params"] == {"momentum": 0.9}
    assert ok(optimizer="adam", optimizer_params={"beta1": 0.8}).spec["model"]["optimizer_params"] == {
        "beta1": 0.8, "beta2": 0.999, "eps": 1e-8}


def test_a_negative_variance_is_an_initialiser_error():
    errors = errors_of(init="normal", init_params={"mean": 0, "variance": -1})
    assert errors["init.variance"] == "init_params variance must be at least 0 (got -1.0)"
    assert not any(k.startswith(("optimizer", "data", "output")) for k in errors)


def test_uniform_low_must_be_below_high():
    errors = errors_of(init="uniform", init_params={"low": 0.5, "high": 0.5})
    assert errors["init.low"] == "init_params low must be less than high (got low=0.5, high=0.5)"


def test_an_initialiser_parameter_must_be_a_number():
    assert errors_of(init="normal", init_params={"variance": "lots"})["init.variance"] == "Enter a number"


def test_init_params_go_with_their_initialiser_and_the_seed_with_the_model():
    s = ok(init="uniform", init_params={"low": -0.5, "high": 0.25}, init_seed=7).spec
    assert s["network_init"] == {"init": "uniform", "init_params": {"low": -0.5, "high": 0.25}}
    assert s["model"]["seed"] == 7
    for layer in s["model"]["layers"]:       # every row left at "the network's" and the output
        assert (layer["config"]["init"], layer["config"]["init_params"]) == ("uniform", {"low": -0.5, "high": 0.25})
    s = ok(init="normal", init_params={"mean": 0.1, "variance": 0.02}).spec
    assert s["network_init"]["init_params"] == {"mean": 0.1, "variance": 0.02}
    # a row with an initialiser of its own keeps it, without the network's parameters
    s = ok(init="normal", init_params={"mean": 0.1, "variance": 0.02},
           layers=[row("Dense", units=3, activation="relu", init="he")]).spec
    assert (s["model"]["layers"][0]["config"]["init"], s["model"]["layers"][0]["config"]["init_params"]) == ("he", {})
    assert s["model"]["layers"][1]["config"]["init"] == "normal"


# -- choices and pairings -----------------------------------------------------------------------------
def test_unknown_choices_are_reported():
    assert errors_of(dataset="nope") == {"dataset": "Choose a data set"}
    assert errors_of(loss="hinge")["loss"] == "Choose a loss"
    assert errors_of(optimizer="rmsprop") == {"optimizer": "Choose an optimiser"}
    assert errors_of(init="lecun")["init"] == "Choose an initialiser"
    assert errors_of(output_activation="nope") == {"output_activation": "Choose an activation"}
    assert errors_of(layers=[row("Transformer")]) == {"layers.0": "Choose a layer type"}


@pytest.mark.parametrize("changes, errors", [
    ({"output_activation": "sigmoid"}, {"output_activation": "Categorical cross-entropy needs a softmax output"}),
    ({"loss": "bce", "output_activation": "softmax"},
     {"output_activation": "Binary cross-entropy needs a sigmoid output"}),
    ({"dataset": "sine"}, {"loss": "Regression data needs the mean squared error loss"}),
    ({"dataset": "linear", "loss": "bce", "output_activation": "sigmoid"},
     {"loss": "Regression data needs the mean squared error loss"}),
])
def test_loss_and_activation_pairings(changes, errors):
    assert errors_of(**changes) == errors


def test_mse_takes_any_output_activation():
    for act in ("linear", "sigmoid", "tanh", "softmax"):
        assert ok(loss="mse", output_activation=act).spec["model"]["layers"][-1]["config"]["activation"] == act


def test_bce_on_two_classes_uses_one_output_and_cce_two():
    assert ok(loss="bce", output_activation="sigmoid").output["units"] == 1
    assert ok().output["units"] == 2
    assert ok(dataset="spiral", loss="bce", output_activation="sigmoid").output["units"] == 3   # one-hot rows


def test_data_parameters_follow_the_dataset():
    result = ok(dataset="spiral", data={"n_classes": 5})
    assert result.spec["data"]["params"]["n_classes"] == 5 and result.output["units"] == 5
    result = ok(dataset="linear", data={"n_features": 4}, loss="mse", output_activation="linear")
    assert result.input_shape == (4,) and result.output["units"] == 1
    assert result.facts["task"] == "regression"
    result = ok(dataset="iris", data={"n_samples": 3})              # iris has no n_samples: not read
    assert result.spec["data"]["params"] == {} and result.input_shape == (4,) and result.output["units"] == 3


# -- the stack ----------------------------------------------------------------------------------------
def test_no_hidden_layer_is_a_valid_linear_model():
    result = ok(layers=[])
    assert result.rows == [] and [l["type"] for l in result.spec["model"]["layers"]] == ["Dense"]
    assert result.total_params == 2 * 2 + 2


def test_a_layer_with_no_or_too_many_units_is_marked_on_its_row():
    errors = errors_of(layers=[row("Dense", units=8, activation="tanh"), row("Dense", units=0, activation="relu"),
                               row("Dense", units=spec.LIMITS["units"] + 1, activation="relu"),
                               row("Dense", units=None, activation="relu")])
    assert errors == {"layers.1": "units must be a positive integer (got 0)",
                      "layers.2": f"Units: Must be at most {spec.LIMITS['units']:,} here",
                      "layers.3": "Units: Enter a number"}


def test_a_hidden_layer_cannot_use_softmax():
    assert errors_of(layers=[row("Dense", units=4, activation="softmax")]) == {
        "layers.0": "Activation: Choose an activation"}


def test_a_layer_after_a_bad_row_has_no_shape():
    result = checked(layers=[row("Dense", units=0), row("Dense", units=4)])
    assert result.rows == [{"shape": None, "params": None}, {"shape": None, "params": None}]
    assert result.total_params is None and "layers.1" not in result.errors


def test_more_rows_than_allowed():
    errors = errors_of(layers=[row("Dense", units=2, activation="relu")] * (spec.MAX_LAYERS + 1))
    assert errors == {"layers": f"At most {spec.MAX_LAYERS} layers here"}
    ok(layers=[row("Dense", units=2, activation="relu")] * spec.MAX_LAYERS)


@pytest.mark.parametrize("kind, setting", [("Dense", "units"), ("Conv2D", "filters"), ("Conv2D", "kernel_size"),
                                           ("MaxPool2D", "pool_size"), ("Conv2D", "strides")])
def test_settings_above_the_server_limits(kind, setting):
    limit = spec.LIMITS[setting]
    label = next(s.label for s in LAYERS[kind].settings if s.name == setting)
    errors = errors_of("cnn", layers=[row(kind, **{setting: limit + 1}), row("Flatten")])
    assert errors == {"layers.0": f"{label}: Must be at most {limit:,} here"}


def test_recurrent_units_have_their_own_limit():
    errors = errors_of("text", layers=[row("Embedding", input_dim=None, output_dim=8),
                                       row("LSTM", units=spec.RECURRENT_UNITS + 1)])
    assert errors == {"layers.1": f"Units: Must be at most {spec.RECURRENT_UNITS:,} here"}
    assert spec.RECURRENT_UNITS < spec.LIMITS["units"]
    ok(layers=[row("Dense", units=spec.RECURRENT_UNITS + 1, activation="relu")])    # a Dense may have more


def test_conv2d_after_a_dense_layer_on_digits():
    errors = errors_of("cnn", layers=[row("Dense", units=64), row("Conv2D", filters=4)])
    assert errors == {"layers.1": "Conv2D needs an image (height, width, channels) per sample; it gets (64,)"}


def test_a_conv_stack_without_flatten_ends_in_an_output_error_naming_the_shape():
    result = checked("cnn", layers=[row("Conv2D", filters=4, kernel_size="3")])
    assert result.errors == {"output": "The output layer needs flat features; it gets (6, 6, 4): "
                                       "add Flatten or a global pooling layer"}
    assert result.rows == [{"shape": (6, 6, 4), "params": 3 * 3 * 4 + 4}]
    assert result.total_params is None
    ok("cnn", layers=[row("Conv2D", filters=4, kernel_size="3"), row("GlobalAvgPool2D")])


def test_a_text_stack_whose_recurrent_layer_returns_sequences():
    errors = errors_of("text", layers=[row("Embedding", input_dim=None, output_dim=8),
                                       row("LSTM", units=4, return_sequences=True)])
    assert errors == {"output": "The output layer needs flat features; it gets (48, 4): "
                                "end with a recurrent layer that does not return sequences"}
    ok("text", layers=[row("Embedding", input_dim=None, output_dim=8), row("LSTM", units=4, return_sequences=True),
                       row("SimpleRNN", units=3)])


def test_text_needs_an_embedding_first():
    message = "Text needs an Embedding layer first: it turns token ids into vectors"
    assert errors_of("text", layers=[row("Dense", units=4), row("Dense", units=4)]) == {"layers.0": message}
    assert errors_of("text", layers=[row("Dropout", rate=0.1), row("Embedding", input_dim=None)])["layers.0"] == message
    assert errors_of("text", layers=[]) == {"layers": message}


def test_an_embedding_needs_token_ids():
    assert errors_of(layers=[row("Embedding", output_dim=8)]) == {
        "layers.0": "Embedding needs token ids (text data, as the first layer); it gets (2,)"}
    errors = errors_of("text", layers=[row("Embedding", input_dim=None, output_dim=8),
                                       row("Embedding", input_dim=None, output_dim=8), row("LSTM", units=4)])
    assert errors == {"layers.1": "Embedding needs token ids (text data, as the first layer); it gets (48, 8)"}


def test_an_embedding_vocabulary_smaller_than_the_data():
    vocab = vocabulary_size(3000)
    errors = errors_of("text", layers=[row("Embedding", input_dim=vocab - 1, output_dim=8), row("LSTM", units=4)])
    assert errors == {"layers.0": f"Vocabulary size: must be at least the data's {vocab:,} token ids "
                                  "(leave it empty to follow the data)"}
    big = ok("text", layers=[row("Embedding", input_dim=vocab + 10, output_dim=8), row("LSTM", units=4)])
    assert big.spec["model"]["layers"][0]["config"]["input_dim"] == vocab + 10
    empty = ok("text", layers=[row("Embedding", input_dim="", output_dim=8), row("LSTM", units=4)])
    assert empty.spec["model"]["layers"][0]["config"]["input_dim"] == vocab
    smaller = ok("text", max_tokens=500, layers=[row("Embedding", input_dim=None, output_dim=8), row("LSTM", units=4)])
    assert smaller.spec["model"]["layers"][0]["config"]["input_dim"] == 500 == smaller.facts["vocab_size"]


@pytest.mark.parametrize("value", ["3x", "x3", "", "3x3x3", "-3", "a"])
def test_a_bad_kernel_size(value):
    assert errors_of("cnn", layers=[row("Conv2D", filters=4, kernel_size=value), row("Flatten")]) == {
        "layers.0": "Kernel size: Enter a size like 3 or 3x2"}


@pytest.mark.parametrize("value, expected", [("3", 3), (3, 3), ("3x2", [3, 2]), ("3 x 2", [3, 2]), ("3, 2", [3, 2]),
                                             ("3×2", [3, 2]), ([3, 2], [3, 2]), ("2x2", 2)])
def test_sizes_as_a_person_types_them(value, expected):
    assert spec.pair(value) == (expected, None)
    s = ok("cnn", layers=[row("Conv2D", filters=4, kernel_size=value), row("Flatten")]).spec
    size = s["model"]["layers"][0]["config"]["kernel_size"]
    assert size == (list(expected) if isinstance(expected, list) else [expected, expected])


def test_filters_zero_is_the_engines_message():
    assert errors_of("cnn", layers=[row("Conv2D", filters=0, kernel_size="3"), row("Flatten")]) == {
        "layers.0": "filters must be a positive integer (got 0)"}


def test_a_kernel_larger_than_the_image_is_the_engines_message():
    errors = errors_of("cnn", layers=[row("Conv2D", filters=2, kernel_size="9"), row("Flatten")])
    assert set(errors) == {"layers.0"} and "9" in errors["layers.0"] and "8" in errors["layers.0"]


def test_a_bad_choice_in_a_row():
    errors = errors_of("cnn", layers=[row("Conv2D", filters=2, padding="full"), row("Flatten")])
    assert errors == {"layers.0": "Padding: Choose one of valid, same"}


def test_too_many_parameters(monkeypatch):
    monkeypatch.setattr(spec, "MAX_PARAMS", 100)
    assert errors_of() == {"layers": "114 parameters: at most 100 here"}


def test_rows_input_shapes_follow_the_first_layer():
    assert ok("cnn").input_shape == (8, 8, 1)
    dense_first = ok("cnn", layers=[row("Dense", units=16)])
    assert dense_first.input_shape == (64,) and dense_first.spec["model"]["input_shape"] == [64]
    assert dense_first.rows == [{"shape": (16,), "params": 64 * 16 + 16}]
    assert ok("cnn", layers=[row("Dropout", rate=0.1), row("Conv2D", filters=2), row("Flatten")]).input_shape == \
        (8, 8, 1)
    assert ok("cnn", layers=[]).input_shape == (64,)
    assert ok("text").input_shape == (48,)
    assert ok("text", sequence_length=20).input_shape == (20,)
    assert ok("text", sequence_length=20).rows[0]["shape"] == (20, 32)
    assert ok().input_shape == (2,)


def test_an_error_elsewhere_leaves_the_shapes():
    result = checked("cnn", learning_rate=-1)
    assert result.spec is None and result.errors == {"learning_rate": "Must be greater than 0"}
    assert result.input_shape == (8, 8, 1) and result.rows[0] == {"shape": (8, 8, 8), "params": 80}
    assert result.total_params == ok("cnn").total_params


# -- the user's CSV ---------------------------------------------------------------------------------
def test_csv_needs_a_file_and_a_label():
    assert errors_of(dataset="csv") == {"csv": "Upload a CSV file with a header row"}
    assert errors_of(dataset="csv", csv_meta={"filename": "a.csv", "label": None, "error": None}) == {
        "csv": "Choose the label column"}
    assert errors_of(dataset="csv", csv_meta={"filename": "a.csv", "error": "This CSV cannot be used: x"}) == {
        "csv": "This CSV cannot be used: x"}


def test_csv_facts_drive_the_sizes():
    data = b"a,b,c,label\n" + b"".join(f"{i},{i * 2},{i % 3},{'yes' if i % 2 else 'no'}\n".encode()
                                         for i in range(30))
    meta = csv_facts(data, "mine.csv", "label")
    assert meta["error"] is None and meta["n_features"] == 3 and meta["class_names"] == ["no", "yes"]
    result = ok(dataset="csv", csv_meta=meta)
    assert result.spec["data"] == {"name": "csv", "filename": "mine.csv", "label": "label", "val_fraction": 0.2}
    assert result.input_shape == (3,) and result.output["units"] == 2 and result.facts["task"] == "classification"


def test_a_csv_with_text_features_gets_a_message():
    meta = csv_facts(b"a,label\nx,1\ny,0\n", "bad.csv", "label")
    assert meta["error"].startswith("This CSV cannot be used:")
    assert errors_of(dataset="csv", csv_meta=meta) == {"csv": meta["error"]}
