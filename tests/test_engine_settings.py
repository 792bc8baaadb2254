"""Tests for engine.settings and the settings tables of the layers, optimisers
and initialisers: every setting names a real constructor argument, its default
builds a working part, choices are what the constructor accepts, and the
optimiser defaults are PyTorch's."""

from __future__ import annotations

import inspect
import json

import numpy as np
import pytest

import engine
from engine import ACTIVATIONS, INITIALIZERS, LAYERS, OPTIMIZERS, Sequential
from engine.initializers import DEFAULT_PARAMS, INIT_SETTINGS, check_init, initialize
from engine.settings import KINDS, Setting

# One sample of each input kind a layer may take (see Layer.takes).
SAMPLE_SHAPES = {"image": (8, 8, 3), "sequence": (5, 4), "tokens": (5,), None: (6,)}
TAKES = (None, "image", "sequence", "tokens")


def _layer_settings():
    return [(name, s) for name, cls in LAYERS.items() for s in cls.settings]


def _all_settings():
    out = [(f"layer {name}", s) for name, s in _layer_settings()]
    out += [(f"optimizer {name}", s) for name, cls in OPTIMIZERS.items() for s in cls.settings]
    out += [(f"init {name}", s) for name, (_, settings) in INIT_SETTINGS.items() for s in settings]
    return out


def _constructor_args(cls) -> dict[str, inspect.Parameter]:
    params = inspect.signature(cls).parameters
    return {n: p for n, p in params.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


def _default_kwargs(cls) -> dict:
    """The constructor arguments a new part starts with in a form."""
    kwargs = {}
    for s in cls.settings:
        if s.kind == "layer":
            inner = LAYERS[s.default]
            kwargs[s.name] = inner(**_default_kwargs(inner))
        else:
            kwargs[s.name] = s.default
    return kwargs


def _sample_input(cls, shape, rng, n=2):
    if cls.takes == "tokens":
        return rng.integers(0, 7, size=(n,) + shape)
    return rng.normal(size=(n,) + shape)


# ---------------------------------------------------------------- Setting itself


def test_a_setting_with_an_unknown_kind_raises():
    with pytest.raises(ValueError, match="kind"):
        Setting("units", "integer", 8, "Units")


@pytest.mark.parametrize("kind", ["choice", "layer"])
def test_a_choice_setting_without_choices_raises(kind):
    with pytest.raises(ValueError, match="choices"):
        Setting("padding", kind, "valid", "Padding")


def test_every_kind_listed_can_be_made():
    for kind in KINDS:
        choices = ("a", "b") if kind in ("choice", "layer") else ()
        s = Setting("x", kind, "a" if choices else 1, "X", choices=choices)
        assert s.kind == kind


def test_to_dict_is_json_able_and_holds_every_field():
    s = Setting("kernel_size", "pair", 3, "Kernel size", "help", choices=(), minimum=1, maximum=9, optional=True)
    d = json.loads(json.dumps(s.to_dict(), allow_nan=False))
    assert d == {"name": "kernel_size", "kind": "pair", "default": 3, "label": "Kernel size", "help": "help",
                 "choices": [], "minimum": 1, "maximum": 9, "optional": True}
    assert Setting(**{**d, "choices": tuple(d["choices"])}) == s


@pytest.mark.parametrize("where,setting", _all_settings(), ids=lambda v: v if isinstance(v, str) else v.name)
def test_every_table_setting_is_json_able_and_well_formed(where, setting):
    d = json.loads(json.dumps(setting.to_dict(), allow_nan=False))
    assert d["name"] == setting.name and d["kind"] in KINDS
    assert setting.label.strip(), f"{where}: {setting.name} has no label"
    if setting.kind in ("choice", "layer"):
        assert setting.default in setting.choices
    if setting.kind == "bool":
        assert isinstance(setting.default, bool)
    if setting.kind == "int":
        assert isinstance(setting.default, int) and not isinstance(setting.default, bool)
    if setting.kind in ("int", "float") and setting.default is not None:
        if setting.minimum is not None:
            assert setting.default >= setting.minimum
        if setting.maximum is not None:
            assert setting.default <= setting.maximum
    if setting.kind == "activation":
        assert setting.default in ACTIVATIONS
    if setting.kind == "init":
        assert setting.default in INITIALIZERS
    if setting.kind == "layer":
        assert all(c in LAYERS for c in setting.choices)
    if setting.default is None:
        assert setting.optional, f"{where}: {setting.name} starts empty but is not optional"


# ---------------------------------------------------------------- layers


def test_every_layer_class_has_settings_and_takes():
    assert LAYERS, "no layer types registered"
    for name, cls in LAYERS.items():
        assert isinstance(cls.settings, tuple), name
        assert all(isinstance(s, Setting) for s in cls.settings), name
        assert cls.takes in TAKES, f"{name}.takes is {cls.takes!r}"
        names = [s.name for s in cls.settings]
        assert len(names) == len(set(names)), f"{name} lists a setting twice"


def test_the_layer_types_a_person_sets_have_settings():
    for name in ("Dense", "Conv2D", "MaxPool2D", "AvgPool2D", "Embedding", "Dropout", "SimpleRNN", "LSTM",
                 "Bidirectional"):
        assert LAYERS[name].settings, f"{name} has no settings"


@pytest.mark.parametrize("layer_type,setting", _layer_settings(), ids=lambda v: v if isinstance(v, str) else v.name)
def test_every_layer_setting_is_a_constructor_argument(layer_type, setting):
    assert setting.name in _constructor_args(LAYERS[layer_type]), \
        f"{layer_type}({setting.name}=...) is not an argument of its constructor"


@pytest.mark.parametrize("layer_type", sorted(LAYERS))
def test_every_layer_builds_from_its_setting_defaults_alone(layer_type):
    cls = LAYERS[layer_type]
    required = [n for n, p in _constructor_args(cls).items() if p.default is p.empty]
    kwargs = _default_kwargs(cls)
    missing = [n for n in required if n not in kwargs]
    assert not missing, f"{layer_type} needs {missing}, which its settings do not give"
    shape = SAMPLE_SHAPES[cls.takes]
    if cls.takes == "tokens":
        assert kwargs["input_dim"] > 7
    model = Sequential([cls(**kwargs)], shape, dtype="float64", seed=0)
    rng = np.random.default_rng(0)
    y = model.predict(_sample_input(cls, shape, rng))
    assert y.shape == (2,) + tuple(model.output_shape)
    assert np.isfinite(y).all()


def test_embedding_default_vocabulary_takes_large_ids():
    cls = LAYERS["Embedding"]
    kwargs = _default_kwargs(cls)
    model = Sequential([cls(**kwargs)], (5,), dtype="float64", seed=0)
    ids = np.array([[0, 1, kwargs["input_dim"] - 1, 3, 4]])
    out = model.predict(ids)
    assert out.shape == (1, 5, kwargs["output_dim"])
    np.testing.assert_array_equal(out[0, 2], model.layers[0].W[kwargs["input_dim"] - 1])


def _choice_cases():
    return [(name, s) for name, s in _layer_settings() if s.kind in ("choice", "layer")]


@pytest.mark.parametrize("layer_type,setting", _choice_cases(), ids=lambda v: v if isinstance(v, str) else v.name)
def test_every_choice_is_accepted_and_others_are_refused(layer_type, setting):
    cls = LAYERS[layer_type]
    shape = SAMPLE_SHAPES[cls.takes]
    for choice in setting.choices:
        kwargs = _default_kwargs(cls)
        if setting.kind == "layer":
            inner = LAYERS[choice]
            kwargs[setting.name] = inner(**_default_kwargs(inner))
        else:
            kwargs[setting.name] = choice
        model = Sequential([cls(**kwargs)], shape, dtype="float64", seed=0)
        assert np.isfinite(model.predict(_sample_input(cls, shape, np.random.default_rng(1)))).all()
    kwargs = _default_kwargs(cls)
    if setting.kind == "layer":
        outside = [n for n in LAYERS if n not in setting.choices]
        assert outside
        for name in outside:
            other = LAYERS[name]
            try:
                instance = other(**_default_kwargs(other))
            except TypeError:
                continue                                    # needs arguments a form would give; not a candidate
            with pytest.raises(ValueError, match=setting.name):
                cls(**{**kwargs, setting.name: instance})
    else:
        with pytest.raises(ValueError, match=setting.name):
            cls(**{**kwargs, setting.name: "no-such-" + setting.name})


@pytest.mark.parametrize("layer_type", sorted(LAYERS))
def test_takes_matches_the_input_build_accepts(layer_type):
    cls = LAYERS[layer_type]
    kwargs = _default_kwargs(cls)
    own = SAMPLE_SHAPES[cls.takes]
    Sequential([cls(**kwargs)], own, seed=0)                 # its own kind of sample is accepted
    if cls.takes == "image":
        for shape in [(6,), (5, 4)]:
            with pytest.raises(ValueError, match="needs an image"):
                Sequential([cls(**_default_kwargs(cls))], shape, seed=0)
    elif cls.takes == "sequence":
        for shape in [(6,), (8, 8, 3)]:
            with pytest.raises(ValueError, match="needs a sequence"):
                Sequential([cls(**_default_kwargs(cls))], shape, seed=0)
    elif cls.takes is None:
        for shape in [(6,), (5, 4)]:
            Sequential([cls(**_default_kwargs(cls))], shape, seed=0)


def test_takes_is_what_the_engine_layers_take():
    expected = {"Dense": None, "Conv2D": "image", "MaxPool2D": "image", "AvgPool2D": "image",
                "GlobalMaxPool2D": "image", "GlobalAvgPool2D": "image", "Flatten": None, "Embedding": "tokens",
                "Dropout": None, "SimpleRNN": "sequence", "LSTM": "sequence", "Bidirectional": "sequence"}
    for name, takes in expected.items():
        assert LAYERS[name].takes == takes, name


def test_pool_strides_left_empty_follow_the_pool_size():
    cls = LAYERS["MaxPool2D"]
    strides = next(s for s in cls.settings if s.name == "strides")
    assert strides.optional and strides.default is None
    model = Sequential([cls(**_default_kwargs(cls))], (8, 8, 3), seed=0)
    assert model.output_shape == (4, 4, 3)                  # 2x2 windows side by side


# ---------------------------------------------------------------- optimisers


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_label_settings_and_defaults(name):
    cls = OPTIMIZERS[name]
    assert cls.name == name
    assert isinstance(cls.label, str) and cls.label.strip()
    assert cls.settings and all(isinstance(s, Setting) for s in cls.settings)
    assert cls.defaults == {s.name: s.default for s in cls.settings}
    opt = cls(**{s.name: s.default for s in cls.settings})
    assert opt.params == cls.defaults
    for s in cls.settings:
        assert s.kind == "float"
    with pytest.raises(ValueError, match="unknown"):
        cls(no_such_setting=1.0)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_setting_changes_the_update(name):
    """Each setting is a real argument: changing it changes the step the optimiser takes."""
    cls = OPTIMIZERS[name]
    grads = [np.array([0.3, -1.2, 2.0]), np.array([-0.7, 0.4, 1e-6]), np.array([1.5, 0.2, -3e-7])]

    def three_steps(**params):
        p = np.array([1.0, -2.0, 0.5])
        opt = cls(**params)
        for g in grads:
            opt.step([(p, g.copy())], 0.1)
        return p

    base = three_steps()
    for s in cls.settings:
        changed = s.default * 0.5 if s.default else 0.5
        assert not np.allclose(three_steps(**{s.name: changed}), base, rtol=0, atol=1e-12), s.name


def test_optimizer_defaults_are_pytorchs():
    torch = pytest.importorskip("torch")
    assert OPTIMIZERS["adam"].defaults == {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
    assert OPTIMIZERS["sgd"].defaults == {"momentum": 0.0}
    adam = inspect.signature(torch.optim.Adam).parameters
    b1, b2 = adam["betas"].default
    assert (OPTIMIZERS["adam"].defaults["beta1"], OPTIMIZERS["adam"].defaults["beta2"]) == (b1, b2)
    assert OPTIMIZERS["adam"].defaults["eps"] == adam["eps"].default
    sgd = inspect.signature(torch.optim.SGD).parameters
    assert OPTIMIZERS["sgd"].defaults["momentum"] == sgd["momentum"].default


def test_optimizer_settings_reach_the_model():
    model = Sequential([engine.Dense(2)], (3,), optimizer="adam", optimizer_params={"beta1": 0.5})
    assert model.optimizer.params == {"beta1": 0.5, "beta2": 0.999, "eps": 1e-8}


# ---------------------------------------------------------------- initialisers


def test_init_settings_cover_every_initialiser():
    assert set(INIT_SETTINGS) == set(INITIALIZERS)
    for name, (label, settings) in INIT_SETTINGS.items():
        assert isinstance(label, str) and label.strip(), name
        assert all(isinstance(s, Setting) and s.kind == "float" for s in settings), name
        assert DEFAULT_PARAMS[name] == {s.name: s.default for s in settings}
        assert check_init(name, None) == DEFAULT_PARAMS[name]


def test_init_setting_defaults_are_the_documented_ones():
    assert DEFAULT_PARAMS == {"zeros": {}, "uniform": {"low": -0.1, "high": 0.1},
                              "normal": {"mean": 0.0, "variance": 0.01}, "xavier": {}, "he": {},
                              "orthogonal": {"gain": 1.0}}


def test_init_setting_names_are_accepted_and_unknown_ones_refused():
    for name, (_, settings) in INIT_SETTINGS.items():
        for s in settings:
            assert check_init(name, {s.name: s.default})[s.name] == s.default
        with pytest.raises(ValueError, match="unknown"):
            check_init(name, {"no_such_parameter": 1.0})


def test_init_settings_shape_the_draws():
    """Each parameter does what its label says, measured on a large sample."""
    rng = np.random.default_rng(0)
    u = initialize("uniform", (200, 200), 200, 200, rng, {"low": 2.0, "high": 3.0}, np.float64)
    assert 2.0 <= u.min() and u.max() <= 3.0 and abs(u.mean() - 2.5) < 0.01
    n = initialize("normal", (200, 200), 200, 200, rng, {"mean": 5.0, "variance": 4.0}, np.float64)
    assert abs(n.mean() - 5.0) < 0.05 and abs(n.var() - 4.0) < 0.1
    q = initialize("orthogonal", (30, 30), 30, 30, rng, {"gain": 2.5}, np.float64)
    np.testing.assert_allclose(q.T @ q, 2.5 ** 2 * np.eye(30), atol=1e-10)


def test_init_settings_are_json_able():
    data = {name: {"label": label, "settings": [s.to_dict() for s in settings]}
            for name, (label, settings) in INIT_SETTINGS.items()}
    again = json.loads(json.dumps(data, allow_nan=False))
    assert again["normal"]["settings"][1]["name"] == "variance"
