"""Presets: whole forms a person starts from in one click, then changes at will.

Each preset is form values (see ``dashboard.spec``); a row's settings that are
left out take the engine's defaults for that layer type.
"""
from __future__ import annotations

import copy
from typing import Any

from . import spec


def _row(kind: str, **settings: Any) -> dict[str, Any]:
    return {"type": kind, "settings": settings}


def _form(**values: Any) -> dict[str, Any]:
    base = {name: f[2] for name, f in spec.FIELDS.items()}
    base.update(dataset="moons", data={}, output_activation="softmax", loss="cce", init="xavier",
                init_params={}, optimizer="adam", optimizer_params={}, layers=[])
    base.update(values)
    return base


PRESETS: dict[str, tuple[str, dict[str, Any]]] = {
    "dense": ("Dense playground (2-8-8-2 tanh on moons)", _form(
        dataset="moons", layers=[_row("Dense", units=8, activation="tanh"), _row("Dense", units=8, activation="tanh")],
        learning_rate=0.01, batch_size=32, epochs=30)),
    "mlp": ("Reference MLP (784-500-10)", _form(
        dataset="mnist", layers=[_row("Dense", units=500, activation="relu")], init="he",
        learning_rate=0.001, batch_size=100, epochs=5, val_percent=10)),
    "cnn": ("CNN (conv-pool ×2)", _form(
        dataset="digits", init="he",
        layers=[_row("Conv2D", filters=8, kernel_size="3", padding="same", activation="relu"),
                _row("MaxPool2D", pool_size="2"),
                _row("Conv2D", filters=16, kernel_size="3", padding="same", activation="relu"),
                _row("MaxPool2D", pool_size="2"),
                _row("Flatten"),
                _row("Dense", units=32, activation="relu")],
        learning_rate=0.003, batch_size=32, epochs=12)),
    "text": ("Text LSTM (embedding, BiLSTM)", _form(
        dataset="nusax", max_tokens=3000, sequence_length=48,
        layers=[_row("Embedding", input_dim=None, output_dim=32, mask_zero=True),
                _row("Bidirectional", layer="LSTM", units=32, return_sequences=False, merge_mode="concat"),
                _row("Dropout", rate=0.3)],
        learning_rate=0.005, batch_size=32, epochs=8)),
    "logreg": ("Logistic regression (breast cancer)", _form(
        dataset="breast_cancer", layers=[], output_activation="sigmoid", loss="bce",
        learning_rate=0.01, batch_size=32, epochs=40)),
}
DEFAULT = "dense"


def preset_form(name: str) -> dict[str, Any]:
    """A copy of a preset's form values."""
    return copy.deepcopy(PRESETS[name][1])


def options() -> list[dict]:
    return [{"label": label, "value": name} for name, (label, _) in PRESETS.items()]
