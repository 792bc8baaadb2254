"""What a person can set on each engine part, as plain data a form is built from.

Every layer class, optimiser and initialiser lists its settings: the constructor
argument, its kind, the value a new one starts with, a short label and a line of
help. A user interface reads these tables and the engine's registries
(``LAYERS``, ``ACTIVATIONS``, ``INITIALIZERS``, ``OPTIMIZERS``, ``LOSSES``), so a
new layer type, activation or optimiser setting appears in it with no edit of its
own. The rules themselves stay where they are enforced, in the constructors:
a form builds the part and shows the ``ValueError`` it raises (every message
starts with the argument's name).

Kinds of setting:

========== ====================================================================
int        a whole number (``minimum``/``maximum`` are hints for the input box)
float      a number
pair       a positive whole number or a pair ``(rows, columns)``, e.g. a kernel size
choice     one of ``choices``
bool       on or off
activation a name in ``engine.ACTIVATIONS``
init       a name in ``engine.INITIALIZERS``
layer      a layer type in ``choices``, itself configured by that type's settings
           (``Bidirectional``'s wrapped layer)
========== ====================================================================
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

KINDS = ("int", "float", "pair", "choice", "bool", "activation", "init", "layer")


@dataclass(frozen=True)
class Setting:
    """One constructor argument a person may set.

    ``default`` is what a new part starts with in a form; ``optional`` settings
    may be left empty (the constructor's own default, e.g. pooling strides that
    follow the pool size, then applies).
    """

    name: str
    kind: str
    default: Any
    label: str
    help: str = ""
    choices: tuple = ()
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    optional: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Setting kind must be one of {', '.join(KINDS)} (got {self.kind!r})")
        if self.kind in ("choice", "layer") and not self.choices:
            raise ValueError(f"Setting {self.name!r} of kind {self.kind!r} needs choices")

    def to_dict(self) -> dict[str, Any]:
        """The setting as JSON-able data."""
        return {"name": self.name, "kind": self.kind, "default": self.default, "label": self.label,
                "help": self.help, "choices": list(self.choices), "minimum": self.minimum,
                "maximum": self.maximum, "optional": self.optional}


def units(default: int = 8, label: str = "Units", help_text: str = "Neurons in the layer") -> Setting:
    return Setting("units", "int", default, label, help_text, minimum=1)


def activation(default: str = "relu") -> Setting:
    return Setting("activation", "activation", default, "Activation", "Applied to each unit's weighted sum")


def init(default: str = "xavier") -> Setting:
    return Setting("init", "init", default, "Initialiser", "How the weights start")


def padding() -> Setting:
    return Setting("padding", "choice", "valid", "Padding",
                   "valid: no padding, the image shrinks; same: zero padding keeps its size (stride 1)",
                   choices=("valid", "same"))


def return_sequences() -> Setting:
    return Setting("return_sequences", "bool", False, "Return sequences",
                   "Output the state at every step (for another recurrent layer), not only the last")
