"""The reference PyTorch tutorial's MLP (SEEDS.md section C) trained by our engine:
784-500 (ReLU)-10 (softmax), CCE, Adam lr 0.001, batch 100, 5 epochs.
The reference reports 97.86% test accuracy; we require at least 97.5%."""
import os

import numpy as np
import pytest

from engine import FFNN
from engine.datasets import load_mnist
from helpers import DATA_DIR


@pytest.fixture(scope="module")
def mnist():
    if not (DATA_DIR / "mnist.npz").exists():
        pytest.fail(f"MNIST is expected at {DATA_DIR / 'mnist.npz'} (shared/data beside the checkout)")
    os.environ["BACKPROP_DATA_DIR"] = str(DATA_DIR)
    return load_mnist(download=False)


def test_reference_mlp_reaches_97_5_percent(mnist):
    model = FFNN([784, 500, 10], ["relu", "softmax"], loss="cce", init="he", init_params={"seed": 0},
                 optimizer="adam")
    history = model.fit(mnist.X, mnist.y, batch_size=100, learning_rate=0.001, epochs=5, verbose=0, seed=0)
    accuracy = float(np.mean(model.predict(mnist.X_test).argmax(axis=1) == mnist.y_test))
    print(f"MNIST test accuracy after 5 epochs: {accuracy:.4f}")
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert accuracy >= 0.975
