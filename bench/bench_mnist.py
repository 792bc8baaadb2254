"""One epoch of the reference MNIST MLP (784-500 ReLU-10 softmax, CCE, Adam lr 1e-3,
batch 100) with our engine, PyTorch CPU (2 threads) and scikit-learn's
MLPClassifier on the same data in the same run; prints samples/s and ratios.

    python bench/bench_mnist.py [--batch 100] [--repeats 1]

Targets: engine >= 1.3x PyTorch and >= 2x scikit-learn samples/s.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BACKPROP_DATA_DIR", str(ROOT.parent / "shared" / "data"))

from engine import FFNN  # noqa: E402  (engine picks the BLAS kernel before NumPy loads)
from engine.datasets import load_mnist  # noqa: E402
import numpy as np  # noqa: E402


def bench_engine(X, y, batch):
    model = FFNN([784, 500, 10], ["relu", "softmax"], loss="cce", init="he", init_params={"seed": 0},
                 optimizer="adam")
    t = time.perf_counter()
    model.fit(X, y, batch_size=batch, learning_rate=1e-3, epochs=1, verbose=0, seed=0)
    return time.perf_counter() - t


def bench_torch(X, y, batch):
    import torch
    torch.set_num_threads(2)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(784, 500), torch.nn.ReLU(), torch.nn.Linear(500, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    g = torch.Generator().manual_seed(0)
    t = time.perf_counter()
    order = torch.randperm(len(Xt), generator=g)
    for i in range(0, len(Xt), batch):
        idx = order[i:i + batch]
        opt.zero_grad()
        loss = loss_fn(net(Xt[idx]), yt[idx])
        loss.backward()
        opt.step()
    return time.perf_counter() - t


def bench_sklearn(X, y, batch):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    clf = MLPClassifier(hidden_layer_sizes=(500,), activation="relu", solver="adam", learning_rate_init=1e-3,
                        batch_size=batch, max_iter=1, shuffle=True, random_state=0, alpha=0.0)
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    return time.perf_counter() - t


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs of the engine and PyTorch, taken in turns (scikit-learn runs once)")
    parser.add_argument("--skip-sklearn", action="store_true")
    args = parser.parse_args()
    data = load_mnist()
    X, y = data.X.astype(np.float32), data.y
    n = len(X)
    times: dict[str, list[float]] = {"engine": [], "pytorch": []}
    for _ in range(args.repeats):
        times["engine"].append(bench_engine(X, y, args.batch))
        times["pytorch"].append(bench_torch(X, y, args.batch))
    if not args.skip_sklearn:
        times["sklearn"] = [bench_sklearn(X, y, args.batch)]
    from engine import blas_info
    print(f"MNIST 784-500-10, Adam, batch {args.batch}, one epoch of {n} samples; NumPy BLAS: {blas_info()}")
    print(f"  {'':8s} {'best':>8s} {'median':>8s} {'samples/s (best)':>18s}")
    best = {name: min(t) for name, t in times.items()}
    median = {name: float(np.median(t)) for name, t in times.items()}
    for name in times:
        print(f"  {name:8s} {best[name]:7.2f}s {median[name]:7.2f}s {n / best[name]:18,.0f}")
    for ref in ("pytorch", "sklearn"):
        if ref in best:
            print(f"  engine vs {ref}: {best[ref] / best['engine']:.2f}x (best), "
                  f"{median[ref] / median['engine']:.2f}x (median)")


if __name__ == "__main__":
    main()
