"""Backprop Studio's engine: neural networks built, trained and inspected with NumPy alone.

    from engine import FFNN
    model = FFNN([784, 128, 10], ["relu", "softmax"], loss="cce", init="he", optimizer="adam")
    history = model.fit(X, y, batch_size=100, learning_rate=1e-3, epochs=5)

Convolutional and recurrent layers stack the same way in ``Sequential``. With Numba
installed the optimisers' updates run as fused kernels (``use_accelerator`` switches them).
"""
from ._blas import blas_info
from .activations import ACTIVATIONS
from .conv import AvgPool2D, Conv2D, Flatten, GlobalAvgPool2D, GlobalMaxPool2D, MaxPool2D
from .fused import use_accelerator
from .initializers import INITIALIZERS
from .keras_io import KerasWeightsError, load_keras_weights
from .layers import LAYERS, Dense, Layer, register_layer
from .losses import LOSSES
from .model import FFNN, ModelFileError, Sequential, TrainingDivergedWarning
from .optimizers import OPTIMIZERS
from .recurrent import LSTM, Bidirectional, Dropout, Embedding, SimpleRNN
from .text import TextVectorizer, load_nusax

__all__ = ["ACTIVATIONS", "INITIALIZERS", "LAYERS", "LOSSES", "OPTIMIZERS", "AvgPool2D", "Bidirectional",
           "Conv2D", "Dense", "Dropout", "Embedding", "FFNN", "Flatten", "GlobalAvgPool2D", "GlobalMaxPool2D",
           "KerasWeightsError", "LSTM", "Layer", "MaxPool2D", "ModelFileError", "Sequential", "SimpleRNN", "TextVectorizer",
           "TrainingDivergedWarning", "blas_info", "load_keras_weights", "load_nusax", "register_layer", "use_accelerator"]
