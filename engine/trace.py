"""One sample through a model: every forward value and every gradient, for that sample alone.

:func:`trace_sample` runs one sample forward (inference mode: Dropout is the
identity) and backward through the model's own layers, and returns per layer
its input, its pre-activation ``z`` (the activation's input, after RMSNorm when
the Dense layer has it), its output ``a``, the gradients ``dL/da``, ``dL/dz``
and ``dL/dinput``, and the gradients of its parameters for this sample, L1/L2
terms included as the engine's backward adds them.

The model is left as it was: its gradient buffer, the layers' cached values of
the last forward pass (so a ``backward`` still to come, or a snapshot, sees the
last batch) and the Dropout masks' generators. The trace borrows the model for
the time of the call, so it must not run while the same model trains in another
thread.

Shapes: ``x`` is one sample of shape ``model.input_shape`` (or with a leading
batch axis of 1); ``y`` its target as ``Sequential.fit`` takes one row of it (a
class label or a one-hot vector for "cce", a vector, or a number for a single
output). All arrays returned are float64 copies without the batch axis.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from .conv import Conv2D, MaxPool2D
from .layers import ActivatedLayer, Layer
from .model import numeric_array

# These layers keep what their backward needs only after a training-mode forward;
# for them training mode computes the same values as inference mode.
_NEEDS_TRAINING_FORWARD = (Conv2D, MaxPool2D)
# Entries of a vector written out in a formula before "…".
FORMULA_ENTRIES = 10


def trace_sample(model: Any, x: Any, y: Any) -> dict[str, Any]:
    """Forward values and gradients of one sample ``(x, y)`` in ``model`` (an
    ``engine.Sequential``); see the module docstring. Returns::

        {"loss": "cce", "value": L, "data_loss": ..., "penalty": ...,
         "output": p, "target": y (one-hot for cce), "dL_doutput": dL/dp,
         "dL_dlogits": dL/dz of the last layer (None when it has no z),
         "formula": {"loss": "L = −log p[1] = ...", "gradient": "dL/dz = p − y = [...]"},
         "layers": [{"index", "type", "activation", "input", "z", "a", "dL_da", "dL_dz",
                     "dL_dinput", "params": {name: array}, "grads": {name: array}}, ...]}
    """
    from .model import Sequential

    if not isinstance(model, Sequential):
        raise ValueError(f"model must be an engine Sequential (got {type(model).__name__})")
    X = _check_sample(model, x)
    Y = _check_target(model, y)
    with _Borrowed(model):
        return _trace(model, X, Y)


# -- arguments -------------------------------------------------------------------------------
def _shape_text(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def _numeric(value: Any, argument: str) -> np.ndarray:
    """A real, finite numeric array (a 0-d one too: a class label)."""
    arr = numeric_array(value, argument)
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(f"{argument} must hold real numbers (got dtype {arr.dtype})")
    if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
        raise ValueError(f"{argument} must contain only finite numbers")
    return arr


def _check_sample(model: Any, x: Any) -> np.ndarray:
    """``x`` as a batch of one ``(1, *input_shape)`` in the model's dtype."""
    arr = _numeric(x, "x")
    shape = model.input_shape
    if arr.shape == shape:
        arr = arr[None]
    elif arr.shape != (1,) + shape:
        raise ValueError(f"x must be one sample of shape {_shape_text(shape)} (or {_shape_text((1,) + shape)} "
                         f"with a batch axis of 1), got shape {_shape_text(arr.shape)}")
    return np.array(arr, dtype=model.dtype)


def _check_target(model: Any, y: Any) -> np.ndarray:
    """``y`` as a batch of one ``(1, *output_shape)`` in the model's dtype (one-hot for
    class labels), checked as ``Sequential.fit`` checks its targets."""
    arr = _numeric(y, "y")
    out = tuple(model.output_shape)
    k = out[-1]
    if model.loss == "cce" and arr.shape in (out[:-1], (1,) + out[:-1]) and not (arr.shape == out):
        if arr.dtype == bool:
            raise ValueError(f"y as a class label must be an integer between 0 and {k - 1} (got a bool)")
        if not np.issubdtype(arr.dtype, np.integer) and not np.all(arr == np.round(arr)):
            raise ValueError(f"y as a class label must be a whole number between 0 and {k - 1} (got {arr.tolist()})")
        if arr.size and (arr.min() < 0 or arr.max() >= k):
            raise ValueError(f"y as a class label must be between 0 and {k - 1} for {k} output units "
                             f"(got {arr.tolist()})")
        labels = arr.reshape(out[:-1]).astype(np.int64)
        return np.eye(k, dtype=model.dtype)[labels][None]
    if arr.shape == out:
        arr = arr[None]
    elif arr.shape == (1,) + out:
        pass
    elif arr.shape in ((), (1, 1)) and out == (1,):
        arr = arr.reshape(1, 1)
    else:
        if model.loss == "cce":
            wanted = (f"a class label (0 to {k - 1})" if len(out) == 1 else f"class labels of shape "
                      f"{_shape_text(out[:-1])}") + f" or a one-hot target of shape {_shape_text(out)}"
        else:
            wanted = f"a target of shape {_shape_text(out)}" + (" or a number" if out == (1,) else "")
        raise ValueError(f"y must be {wanted} to match the output layer, got shape {_shape_text(arr.shape)}")
    if model.loss == "bce" and arr.size and (arr.min() < 0 or arr.max() > 1):
        raise ValueError("y for loss 'bce' must lie between 0 and 1")
    return np.array(arr, dtype=model.dtype)


# -- leaving the model as it was ---------------------------------------------------------------
def _all_layers(layers: list) -> list[Layer]:
    """The model's layers and the layers inside them (Bidirectional's two directions)."""
    found: list[Layer] = []
    todo = list(layers)
    while todo:
        layer = todo.pop()
        if any(layer is seen for seen in found):
            continue
        found.append(layer)
        todo.extend(v for v in vars(layer).values() if isinstance(v, Layer))
    return found


class _Borrowed:
    """Keeps a model's gradient buffer, last output and every layer's attributes (the
    values cached by the last forward pass) and puts them back on exit. Forward and
    backward passes replace cached arrays rather than writing into them, so keeping
    the references keeps the values."""

    def __init__(self, model: Any):
        self.model = model

    def __enter__(self) -> "_Borrowed":
        self.grads = self.model._flat_grads.copy()
        self.out = self.model._out
        self.layers = [(layer, dict(vars(layer))) for layer in _all_layers(self.model.layers)]
        return self

    def __exit__(self, *exc: Any) -> None:
        self.model._flat_grads[...] = self.grads
        self.model._out = self.out
        for layer, attributes in self.layers:
            vars(layer).clear()
            vars(layer).update(attributes)


# -- the trace ------------------------------------------------------------------------------------
def _f64(a: Any) -> Optional[np.ndarray]:
    """A float64 copy (``-0.0`` made ``0.0``: ``-y/p`` of a zero target reads as 0)."""
    return None if a is None else np.array(a, dtype=np.float64) + 0.0


def _trace(model: Any, X: np.ndarray, Y: np.ndarray) -> dict[str, Any]:
    layers = model.layers
    records: list[dict[str, Any]] = []
    h, mask = X, None
    for k, layer in enumerate(layers):
        training = isinstance(layer, _NEEDS_TRAINING_FORWARD)     # Dropout: inference, the identity
        layer.mask = mask
        a = layer.forward(h, training)
        mask = layer.output_mask(mask)
        activated = isinstance(layer, ActivatedLayer)
        activation = getattr(layer, "activation", None)
        records.append({"index": k, "type": type(layer).__name__,
                        "activation": activation if isinstance(activation, str) else None,
                        "input": _f64(h[0]), "z": _f64(layer._u[0]) if activated else None, "a": _f64(a[0])})
        h = a
    P = h
    last = layers[-1]
    fused = model._fused
    loss_fn = model.loss_fn
    data_loss = float(loss_fn.fused_value(last._u, Y) if fused else loss_fn.value(P, Y))
    penalty = float(model._penalty())
    dL_dout = loss_fn.grad(P, Y).astype(model.dtype, copy=False)
    grad = loss_fn.fused_grad(P, Y).astype(model.dtype, copy=False) if fused else dL_dout

    for k in range(len(layers) - 1, -1, -1):
        layer, rec = layers[k], records[k]
        from_z = fused and k == len(layers) - 1
        rec["dL_da"] = _f64(dL_dout[0] if k == len(layers) - 1 else grad[0])
        if isinstance(layer, ActivatedLayer):
            rec["dL_dz"] = _f64((grad if from_z else layer.activation_backward(grad, False))[0])
        else:
            rec["dL_dz"] = None
        kwargs = {"from_preactivation": True} if from_z else {}
        grad = layer.backward(grad, need_input_grad=True, **kwargs)
        rec["dL_dinput"] = None if grad is None else _f64(grad[0])
        rec["params"] = {n: _f64(getattr(layer, n)) for n in layer.param_names}
        rec["grads"] = {n: _f64(getattr(layer, "grad_" + n)) for n in layer.param_names}
        for n in layer.regularized:           # as Sequential._regularize adds them
            W = rec["params"][n]
            if model.l1:
                rec["grads"][n] += model.l1 * np.sign(W)
            if model.l2:
                rec["grads"][n] += (2 * model.l2) * W

    output, target = _f64(P[0]), _f64(Y[0])
    dL_dlogits = records[-1]["dL_dz"]
    return {"loss": model.loss, "value": data_loss + penalty, "data_loss": data_loss, "penalty": penalty,
            "output": output, "target": target, "dL_doutput": _f64(dL_dout[0]),
            "dL_dlogits": None if dL_dlogits is None else dL_dlogits.copy(),
            "formula": {"loss": loss_formula(model.loss, output, target, data_loss, penalty,
                                             bool(model.l1 or model.l2)),
                        "gradient": gradient_formula(model.loss, fused, output, target,
                                                     dL_dlogits if fused else _f64(dL_dout[0]))},
            "layers": records}


# -- formulas ---------------------------------------------------------------------------------------
def num(x: float) -> str:
    """A number as the formulas print it: four significant digits, a true minus sign."""
    text = f"{float(x):.4g}"
    return "−" + text[1:] if text.startswith("-") else text


def vector(values: np.ndarray) -> str:
    """``[0.8123, −0.1877]`` (the first ``FORMULA_ENTRIES`` entries, then ``…``)."""
    flat = np.asarray(values, dtype=np.float64).ravel()
    items = [num(v) for v in flat[:FORMULA_ENTRIES]]
    if flat.size > FORMULA_ENTRIES:
        items.append(f"… ({flat.size} values)")
    return "[" + ", ".join(items) + "]"


def _one_hot_class(target: np.ndarray) -> Optional[int]:
    """The class of a 1-D one-hot target, else None."""
    if target.ndim == 1 and np.count_nonzero(target) == 1 and np.isclose(target.max(), 1.0):
        return int(target.argmax())
    return None


def loss_formula(loss: str, output: np.ndarray, target: np.ndarray, data_loss: float, penalty: float,
                 regularized: bool) -> str:
    """The loss of one sample with its numbers in, e.g. ``L = −log p[1] = −log 0.8123 = 0.2079``
    (then `` + penalty 0.0012 = 0.2091`` when L1/L2 are on)."""
    p, y, n = output.ravel(), target.ravel(), output.size
    if loss == "cce":
        c = _one_hot_class(target)
        if c is not None:
            text = f"L = −log p[{c}] = −log {num(p[c])} = {num(data_loss)}"
        elif output.ndim == 1 and n <= 4:
            terms = " + ".join(f"{num(y[i])}·log {num(p[i])}" for i in range(n))
            text = f"L = −Σ y·log p = −({terms}) = {num(data_loss)}"
        else:
            rows = n // output.shape[-1]
            per = f" / {rows}" if rows > 1 else ""
            text = f"L = −Σ y·log p{per} over {n} outputs = {num(data_loss)}"
    elif loss == "bce":
        if n == 1 and y[0] == 1:
            text = f"L = −log p = −log {num(p[0])} = {num(data_loss)}"
        elif n == 1 and y[0] == 0:
            text = f"L = −log(1 − p) = −log(1 − {num(p[0])}) = {num(data_loss)}"
        elif n == 1:
            text = (f"L = −(y·log p + (1 − y)·log(1 − p)) = −({num(y[0])}·log {num(p[0])} + "
                    f"{num(1 - y[0])}·log {num(1 - p[0])}) = {num(data_loss)}")
        else:
            text = f"L = −(1/{n}) Σ [y·log p + (1 − y)·log(1 − p)] = {num(data_loss)}"
    else:
        if n == 1:
            text = f"L = (p − y)² = ({num(p[0])} − {num(y[0])})² = {num(data_loss)}"
        elif n <= 4:
            terms = " + ".join(f"({num(p[i])} − {num(y[i])})²" for i in range(n))
            text = f"L = (1/{n}) Σ (p − y)² = ({terms}) / {n} = {num(data_loss)}"
        else:
            text = f"L = (1/{n}) Σ (p − y)² over {n} outputs = {num(data_loss)}"
    if regularized:
        text += f" + penalty {num(penalty)} = {num(data_loss + penalty)}"
    return text


def gradient_formula(loss: str, fused: bool, output: np.ndarray, target: np.ndarray,
                     gradient: np.ndarray) -> str:
    """The gradient the backward pass starts from, e.g. ``dL/dz = p − y = [0.81, −0.19]``:
    with respect to the last pre-activation when the loss is fused with the output
    activation (softmax + cce, sigmoid + bce), else with respect to the output ``p``."""
    n = output.size
    rows = n // output.shape[-1] if output.ndim else 1
    per = "" if (n == 1 or (loss == "cce" and rows == 1)) else f" / {rows if loss == 'cce' else n}"
    if fused:
        rule = "p − y" if not per else f"(p − y){per}"
        return f"dL/dz = {rule} = {vector(gradient)}"
    if loss == "cce":
        rule = "−y / p" + per
    elif loss == "bce":
        rule = "(p − y) / (p·(1 − p))" + per
    else:
        rule = "2·(p − y)" + per
    return f"dL/dp = {rule} = {vector(gradient)}"


__all__ = ["trace_sample", "loss_formula", "gradient_formula", "num", "vector"]
