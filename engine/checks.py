"""Argument checks shared by the engine: each failure is a ValueError that
names the argument and the rule."""
from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np


def is_int(value: Any) -> bool:
    """A whole number (``True``/``False`` are not)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A finite real number (``True``/``False`` are not)."""
    return isinstance(value, (int, float, np.number)) and not isinstance(value, bool) and math.isfinite(value)


def positive_int(value: Any, argument: str) -> int:
    if not is_int(value) or value < 1:
        raise ValueError(f"{argument} must be a positive integer (got {value!r})")
    return int(value)


def flag(value: Any, argument: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{argument} must be True or False (got {value!r})")
    return bool(value)


def seed(value: Any, argument: str = "seed") -> Optional[int]:
    if value is not None and (not is_int(value) or value < 0):
        raise ValueError(f"{argument} must be a non-negative integer or None (got {value!r})")
    return None if value is None else int(value)


def finite_number(value: Any, argument: str) -> float:
    if not is_number(value):
        raise ValueError(f"{argument} must be a finite number (got {value!r})")
    return float(value)
