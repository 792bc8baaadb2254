"""The form's rules (each breaks with its own message) and form -> FFNN config."""
from __future__ import annotations

import io

import pytest

from components import controls
from components.controls import validate_form
from components.training import same_architecture
from engine import FFNN


def form(**changes):
    values = dict(controls.DEFAULTS)
    values["layers"] = [dict(layer) for layer in controls.DEFAULT_LAYERS]
    values.update(changes)
    return values


def errors_of(**changes):
    config, errors = validate_form(form(**changes))
    assert config is None, "an invalid form must not give a config"
    return errors


def test_the_defaults_are_valid_and_train_moons_with_two_tanh_layers():
    config, errors = validate_form(form())
    assert errors == {}
    assert config["dataset"] == {"name": "moons", "params": {"n_samples": 300, "noise": 0.1, "seed": 0}}
    assert config["model"]["hidden"] == [8, 8]
    assert config["model"]["activations"] == ["tanh", "tanh"]
    assert config["model"]["loss"] == "cce" and config["model"]["output_activation"] == "softmax"
    assert config["model"]["optimizer"] == "adam"
    assert config["training"] == {"learning_rate": 0.01, "batch_size": 32, "epochs": 30}
    assert config["io"] == {"n_inputs": 2, "n_outputs": 2, "task": "classification"}


@pytest.mark.parametrize("field, value, message", [
    ("learning_rate", -1, "Must be greater than 0"),
    ("learning_rate", 0, "Must be greater than 0"),
    ("learning_rate", 50, "Must be between 0 and 10"),
    ("learning_rate", None, "Enter a number"),
    ("learning_rate", "abc", "Enter a number"),
    ("learning_rate", float("nan"), "Enter a finite number"),
    ("batch_size", 0, "Must be between 1 and 100000"),
    ("batch_size", 2.5, "Enter a whole number"),
    ("epochs", 0, "Must be between 1 and 10000"),
    ("epochs", 20000, "Must be between 1 and 10000"),
    ("l1", -0.1, "Must be at least 0"),
    ("l2", -1, "Must be at least 0"),
    ("l2", 11, "Must be between 0 and 10"),
    ("val_percent", 95, "Must be between 0 and 90"),
    ("n_samples", 5, "Must be between 10 and 100000"),
    ("noise", 2, "Must be between 0 and 1"),
    ("data_seed", -1, "Must be between 0 and 4.29497e+09"),
    ("beta1", 1, "Must be at least 0 and less than 1"),
    ("beta2", -0.1, "Must be at least 0 and less than 1"),
    ("eps", 0, "Must be greater than 0"),
    ("init_seed", -3, "Must be at least 0"),
    ("init_seed", True, "Enter a number"),
])
def test_each_number_rule_has_its_message(field, value, message):
    assert errors_of(**{field: value}) == {field: message}


def test_sgd_momentum_must_be_below_one():
    assert errors_of(optimizer="sgd", momentum=1.0) == {"momentum": "Must be at least 0 and less than 1"}


def test_adam_fields_are_ignored_for_sgd():
    config, errors = validate_form(form(optimizer="sgd", momentum=0.9, beta1=5))
    assert errors == {} and config["model"]["optimizer_params"] == {"momentum": 0.9}


def test_uniform_low_must_be_below_high():
    assert errors_of(init="uniform", init_low=0.5, init_high=0.5) == {"init_high": "High must be greater than low"}


def test_normal_variance_cannot_be_negative():
    assert errors_of(init="normal", init_variance=-1) == {"init_variance": "Must be at least 0"}


def test_orthogonal_gain_must_be_positive():
    assert errors_of(init="orthogonal", init_gain=0) == {"init_gain": "Must be greater than 0"}


def test_init_params_go_with_their_initialiser():
    config, _ = validate_form(form(init="uniform", init_low=-0.5, init_high=0.25, init_seed=7))
    assert config["model"]["init_params"] == {"low": -0.5, "high": 0.25, "seed": 7}
    config, _ = validate_form(form(init="normal", init_mean=0.1, init_variance=0.02))
    assert config["model"]["init_params"] == {"mean": 0.1, "variance": 0.02}


def test_a_layer_with_no_or_too_many_neurons_is_marked_on_its_row():
    layers = [{"neurons": 8, "activation": "tanh"}, {"neurons": 0, "activation": "relu"},
              {"neurons": 5000, "activation": "relu"}, {"neurons": None, "activation": "relu"}]
    errors = errors_of(layers=layers)
    assert errors == {"layers.1": "Neurons must be between 1 and 1024", "layers.2": "Neurons must be between 1 and 1024",
                      "layers.3": "Enter a number"}


def test_a_hidden_layer_cannot_use_softmax():
    assert errors_of(layers=[{"neurons": 4, "activation": "softmax"}]) == {"layers.0": "Choose an activation"}


def test_too_many_hidden_layers():
    layers = [{"neurons": 2, "activation": "relu"}] * (controls.MAX_HIDDEN_LAYERS + 1)
    assert errors_of(layers=layers) == {"layers": f"At most {controls.MAX_HIDDEN_LAYERS} hidden layers"}


def test_no_hidden_layer_is_a_valid_linear_model():
    config, errors = validate_form(form(layers=[]))
    assert errors == {} and config["model"]["hidden"] == []


def test_cross_entropy_needs_a_softmax_output():
    assert errors_of(output_activation="sigmoid") == {
        "output_activation": "Categorical cross-entropy needs a softmax output"}


def test_binary_cross_entropy_needs_a_sigmoid_output():
    assert errors_of(loss="bce", output_activation="softmax") == {
        "output_activation": "Binary cross-entropy needs a sigmoid output"}


def test_regression_data_needs_mse():
    assert errors_of(dataset="sine") == {"loss": "Regression data needs the mean squared error loss"}


def test_unknown_choices_are_reported():
    assert errors_of(dataset="nope") == {"dataset": "Choose a data set"}
    assert errors_of(loss="hinge")["loss"] == "Choose a loss"
    assert errors_of(optimizer="rmsprop") == {"optimizer": "Choose an optimiser"}
    assert errors_of(init="lecun") == {"init": "Choose an initialisation"}


def test_dataset_parameters_follow_the_dataset():
    config, _ = validate_form(form(dataset="spiral", n_classes=5))
    assert config["dataset"]["params"]["n_classes"] == 5 and config["io"]["n_outputs"] == 5
    config, _ = validate_form(form(dataset="linear", n_features=4, loss="mse", output_activation="linear"))
    assert config["io"] == {"n_inputs": 4, "n_outputs": 1, "task": "regression"}
    config, _ = validate_form(form(dataset="iris", n_samples=3))  # iris has no n_samples: not checked
    assert config["dataset"]["params"] == {} and config["io"]["n_inputs"] == 4


def test_bce_on_two_classes_uses_one_output():
    config, _ = validate_form(form(loss="bce", output_activation="sigmoid"))
    assert config["io"]["n_outputs"] == 1


def test_csv_needs_a_file_and_a_label():
    assert errors_of(dataset="csv") == {"csv": "Upload a CSV file with a header row"}
    _, errors = validate_form(form(dataset="csv"), {"filename": "a.csv", "label": None, "error": None})
    assert errors == {"csv": "Choose the label column"}
    _, errors = validate_form(form(dataset="csv"), {"filename": "a.csv", "error": "This CSV cannot be used: x"})
    assert errors == {"csv": "This CSV cannot be used: x"}


def test_csv_facts_drive_the_sizes():
    data = b"a,b,c,label\n" + b"".join(f"{i},{i * 2},{i % 3},{'yes' if i % 2 else 'no'}\n".encode()
                                         for i in range(30))
    meta = controls.csv_facts(data, "mine.csv", "label")
    assert meta["error"] is None and meta["n_features"] == 3 and meta["class_names"] == ["no", "yes"]
    config, errors = validate_form(form(dataset="csv"), meta)
    assert errors == {}
    assert config["dataset"] == {"name": "csv", "filename": "mine.csv", "label": "label"}
    assert config["io"] == {"n_inputs": 3, "n_outputs": 2, "task": "classification"}


def test_a_csv_with_text_features_gets_a_message():
    meta = controls.csv_facts(b"a,label\nx,1\ny,0\n", "bad.csv", "label")
    assert meta["error"].startswith("This CSV cannot be used:")


def test_config_becomes_ffnn_arguments_that_build_the_model():
    config, _ = validate_form(form(optimizer="sgd", momentum=0.5, l2=0.001, rmsnorm=True, init="he", init_seed=3))
    kwargs = controls.ffnn_kwargs(config, config["io"]["n_inputs"], config["io"]["n_outputs"])
    assert kwargs == {"layer_sizes": [2, 8, 8, 2], "activations": ["tanh", "tanh", "softmax"], "loss": "cce",
                      "init": "he", "init_params": {"seed": 3}, "optimizer": "sgd",
                      "optimizer_params": {"momentum": 0.5}, "l1": 0.0, "l2": 0.001, "rmsnorm": True}
    model = FFNN(**kwargs)
    assert model.layer_sizes == [2, 8, 8, 2]


def test_a_saved_model_gives_back_its_form_and_the_same_architecture():
    config, _ = validate_form(form(layers=[{"neurons": 5, "activation": "relu"}], init="uniform", init_low=-0.2,
                                   init_high=0.3, optimizer="adam", beta1=0.8))
    kwargs = controls.ffnn_kwargs(config, 2, 2)
    buffer = io.BytesIO()
    FFNN(**kwargs).save(buffer)
    buffer.seek(0)
    loaded = FFNN.load(buffer)
    assert same_architecture(loaded.config, kwargs)
    adopted = controls.form_from_model_config(loaded.config)
    assert adopted["layers"] == [{"neurons": 5, "activation": "relu"}]
    assert (adopted["init"], adopted["init_low"], adopted["init_high"]) == ("uniform", -0.2, 0.3)
    again, errors = validate_form(form(**adopted))
    assert errors == {}
    assert same_architecture(loaded.config, controls.ffnn_kwargs(again, 2, 2))


def test_a_different_architecture_is_not_the_same():
    config, _ = validate_form(form())
    kwargs = controls.ffnn_kwargs(config, 2, 2)
    model = FFNN(**kwargs)
    assert not same_architecture(model.config, {**kwargs, "layer_sizes": [2, 8, 2]})
    assert not same_architecture(model.config, {**kwargs, "optimizer_params": {"beta1": 0.5, "beta2": 0.999,
                                                                               "eps": 1e-8}})
