"""Backprop Studio's engine: neural networks built, trained and inspected with NumPy alone.

    from engine import FFNN
    model = FFNN([784, 128, 10], ["relu", "softmax"], loss="cce", init="he", optimizer="adam")
    history = model.fit(X, y, batch_size=100, learning_rate=1e-3, epochs=5)
"""
from ._blas import blas_info
from .activations import ACTIVATIONS
from .initializers import INITIALIZERS
from .layers import LAYERS, Dense, Layer, register_layer
from .losses import LOSSES
from .model import FFNN, ModelFileError, Sequential, TrainingDivergedWarning
from .optimizers import OPTIMIZERS

__all__ = ["ACTIVATIONS", "blas_info", "INITIALIZERS", "LAYERS", "LOSSES", "OPTIMIZERS", "Dense", "FFNN", "Layer",
           "ModelFileError", "Sequential", "TrainingDivergedWarning", "register_layer"]
