"""Figure builders: a model snapshot (or plain arrays) in, a Plotly figure dict or
Cytoscape elements out.

Every builder is a pure function, tested without a browser. The dashboard draws
with them, and so can a script or a notebook::

    from engine import FFNN
    import viz
    model = FFNN([2, 8, 2], ["tanh", "softmax"], loss="cce")
    viz.plot_weight_distribution(model, [0, 1]).show()     # a plotly go.Figure
    viz.graph_elements(model)                              # Cytoscape elements

The package imports the engine and NumPy (plotly only where a ``go.Figure`` is
asked for); the engine never imports it, and it never imports the dashboard.

Modules: ``snapshots`` (reading the snapshot schema), ``style``, ``charts`` (loss,
accuracy), ``distributions`` (histograms), ``network`` (neurons and edges),
``architecture`` (the layer graph), ``regions`` (decision regions), ``conv``
(kernels, feature maps), ``sequences`` (hidden states), ``embeddings`` (PCA).
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

from . import distributions, network
from .snapshots import check_layer_indices


def plot_weight_distribution(model: Any, layers: Optional[Sequence[int]] = None, bins: int = 50):
    """Plotly figure: histograms of the weights of the given layer indices (default:
    every layer with weights)."""
    snapshot = model.snapshot()
    return distributions.distribution_figure(snapshot, check_layer_indices(snapshot, layers), "params", bins)


def plot_gradient_distribution(model: Any, layers: Optional[Sequence[int]] = None, bins: int = 50):
    """Plotly figure: histograms of the latest gradients of the given layer indices."""
    snapshot = model.snapshot()
    return distributions.distribution_figure(snapshot, check_layer_indices(snapshot, layers), "grads", bins)


def graph_elements(model: Any, **options: Any) -> list[dict]:
    """Cytoscape elements of the model's dense part: neurons, bias nodes and edges
    carrying ``w`` and ``dw`` (options as :func:`viz.network.graph_elements`)."""
    return network.graph_elements(model.snapshot(), **options)
