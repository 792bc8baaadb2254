"""Backprop Studio's engine: neural networks built, trained and inspected with NumPy alone.

    from engine import FFNN
    model = FFNN([784, 128, 10], ["relu", "softmax"], loss="cce", init="he", optimizer="adam")
    history = model.fit(X, y, batch_size=100, learning_rate=1e-3, epochs=5)

Convolutional and recurrent layers stack the same way in ``Sequential``.
"""
from ._blas import blas_info
from .activations import ACTIVATIONS
from .conv import AvgPool2D, Conv2D, Flatten, GlobalAvgPool2D, GlobalMaxPool2D, MaxPool2D
from .initializers import INITIALIZERS
from .layers import LAYERS, Dense, Layer, register_layer
from .losses import LOSSES
from .model import FFNN, ModelFileError, Sequential, TrainingDivergedWarning
from .optimizers import OPTIMIZERS
from .recurrent import LSTM, Bidirectional, Dropout, Embedding, SimpleRNN

__all__ = ["ACTIVATIONS", "INITIALIZERS", "LAYERS", "LOSSES", "OPTIMIZERS", "AvgPool2D", "Bidirectional",
           "Conv2D", "Dense", "Dropout", "Embedding", "FFNN", "Flatten", "GlobalAvgPool2D", "GlobalMaxPool2D",
           "LSTM", "Layer", "MaxPool2D", "ModelFileError", "Sequential", "SimpleRNN", "TrainingDivergedWarning",
           "blas_info", "register_layer"]
