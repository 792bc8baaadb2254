"""One epoch of the reference MNIST MLP (784-500 ReLU-10 softmax, CCE, Adam lr 1e-3,
batch 100) with our engine, PyTorch CPU (2 threads; default Adam and ``Adam(fused=True)``)
and scikit-learn's MLPClassifier on the same data in the same run; prints samples/s,
ratios, and where one training step's time goes.

    python bench/bench_mnist.py [--batch 100] [--repeats 3] [--skip-sklearn]

Targets (at the median): engine >= 1.5x PyTorch's default Adam, >= 1.2x PyTorch's fused
Adam, >= 2.5x scikit-learn; the optimiser at most 15% of a training step.

The engine runs with its fused optimiser kernels when Numba is installed, and once
more with ``use_accelerator(False)`` (NumPy alone) for comparison. The step profile
times the phases of ``fit``'s inner loop one by one and sets them against the same
run's bound for the five matrix products on these shapes (NumPy's BLAS on them alone)
and against the same steps of a 784-1-10 network, whose products and elementwise work
are negligible (what remains is per-step Python and call overhead).
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

from engine import FFNN, use_accelerator  # noqa: E402  (engine picks the BLAS kernel before NumPy loads)
from engine import fused  # noqa: E402
from engine.datasets import load_mnist  # noqa: E402
import numpy as np  # noqa: E402

TARGETS = {"pytorch": 1.5, "pytorch fused": 1.2, "sklearn": 2.5, "optimizer_share": 0.15}


def reference_model(hidden: int = 500) -> FFNN:
    return FFNN([784, hidden, 10], ["relu", "softmax"], loss="cce", init="he", init_params={"seed": 0},
                optimizer="adam")


def bench_engine(X, y, batch, accelerated: bool = True):
    use_accelerator("auto" if accelerated else False)
    try:
        model = reference_model()
        t = time.perf_counter()
        model.fit(X, y, batch_size=batch, learning_rate=1e-3, epochs=1, verbose=0, seed=0)
        return time.perf_counter() - t
    finally:
        use_accelerator("auto")


def bench_torch(X, y, batch, fused_adam: bool = False):
    import torch
    torch.set_num_threads(2)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(784, 500), torch.nn.ReLU(), torch.nn.Linear(500, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, fused=fused_adam or None)
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


# -- where a step's time goes ------------------------------------------------------------
PHASES = ("batch gather", "forward", "backward", "finite check", "optimiser")


def step_phases(model: FFNN, X, y, batch: int, steps: int) -> dict[str, float]:
    """Seconds per phase over ``steps`` steps of fit's inner loop, timed one by one."""
    Xc, Y = model._check_inputs(X), model._check_targets(y, len(X))
    pairs = [(model._flat_params, model._flat_grads)]
    order = np.random.default_rng(0).permutation(len(Xc))
    spent = dict.fromkeys(PHASES, 0.0)
    clock = time.perf_counter
    for b in range(steps):
        t0 = clock()
        idx = order[b * batch % len(Xc):][:batch]
        Xb, Yb = Xc[idx], Y[idx]
        t1 = clock()
        model._forward(Xb, training=True)
        t2 = clock()
        loss = model._backward(Yb)
        t3 = clock()
        model._divergence(loss, 1, b + 1, 1e-3)
        t4 = clock()
        model.optimizer.step(pairs, 1e-3)
        t5 = clock()
        for name, a, z in zip(PHASES, (t0, t1, t2, t3, t4), (t1, t2, t3, t4, t5)):
            spent[name] += z - a
    return spent


def matmul_bound(batch: int, steps: int, dtype) -> float:
    """Seconds for the step's five matrix products alone (x@W1, h@W2, h.T@g, g@W2.T, x.T@gh)."""
    rng = np.random.default_rng(0)
    x, h, g = (rng.random((batch, n)).astype(dtype) for n in (784, 500, 10))
    W1, W2 = rng.random((784, 500)).astype(dtype), rng.random((500, 10)).astype(dtype)
    out = [np.empty((batch, 500), dtype), np.empty((batch, 10), dtype), np.empty((500, 10), dtype),
           np.empty((batch, 500), dtype), np.empty((784, 500), dtype)]
    t = time.perf_counter()
    for _ in range(steps):
        np.matmul(x, W1, out=out[0])
        np.matmul(h, W2, out=out[1])
        np.matmul(h.T, g, out=out[2])
        np.matmul(g, W2.T, out=out[3])
        np.matmul(x.T, h, out=out[4])
    return time.perf_counter() - t


def profile(X, y, batch: int, steps: int = 600) -> dict[str, float]:
    model = reference_model()
    step_phases(model, X, y, batch, 20)                     # warm-up (and the kernels' first call)
    spent = step_phases(model, X, y, batch, steps)
    tiny = reference_model(hidden=1)
    step_phases(tiny, X, y, batch, 20)
    overhead = sum(step_phases(tiny, X, y, batch, steps).values())
    bound = matmul_bound(batch, steps, model.dtype)
    total = sum(spent.values())
    ms = 1e3 / steps
    print(f"\nOne training step, {steps} steps of fit's loop timed phase by phase ({fused.active()}):")
    for name in PHASES:
        print(f"  {name:14s} {spent[name] * ms:6.3f} ms  {spent[name] / total:6.1%}")
    print(f"  {'step':14s} {total * ms:6.3f} ms")
    products = min(bound, spent["forward"] + spent["backward"])
    rest = spent["forward"] + spent["backward"] - products
    print(f"  of which: matrix products at the BLAS bound {products * ms:.3f} ms "
          f"({products / total:.1%}; the five products alone on these shapes, {model.dtype.name}), "
          f"elementwise and layer code {rest * ms:.3f} ms ({rest / total:.1%}), "
          f"optimiser {spent['optimiser'] * ms:.3f} ms ({spent['optimiser'] / total:.1%})")
    print(f"  per-step Python and call overhead (the same steps of a 784-1-10 network): {overhead * ms:.3f} ms "
          f"({overhead / total:.1%})")
    print(f"  the step is {total / bound:.2f}x the matrix-product bound")
    return {"optimizer_share": spent["optimiser"] / total}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs of the engine and PyTorch, taken in turns (scikit-learn runs once)")
    parser.add_argument("--skip-sklearn", action="store_true")
    args = parser.parse_args()
    data = load_mnist()
    X, y = data.X.astype(np.float32), data.y
    t = time.perf_counter()
    fused.warm()
    warm_s = time.perf_counter() - t
    n = len(X)
    runs = {"engine": lambda: bench_engine(X, y, args.batch),
            "engine, NumPy only": lambda: bench_engine(X, y, args.batch, accelerated=False),
            "pytorch": lambda: bench_torch(X, y, args.batch),
            "pytorch fused": lambda: bench_torch(X, y, args.batch, fused_adam=True)}
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, run in runs.items():
            times[name].append(run())
    if not args.skip_sklearn:
        times["sklearn"] = [bench_sklearn(X, y, args.batch)]
    from engine import blas_info
    print(f"MNIST 784-500-10, Adam, batch {args.batch}, one epoch of {n} samples, {args.repeats} runs in turns")
    print(f"  NumPy {np.__version__}, BLAS: {blas_info()}; optimiser: {fused.active()} "
          f"(loaded in {warm_s:.2f} s before the runs)")
    print(f"  {'':20s} {'best':>8s} {'median':>8s} {'samples/s (median)':>19s}")
    best = {name: min(t) for name, t in times.items()}
    median = {name: float(np.median(t)) for name, t in times.items()}
    for name in times:
        print(f"  {name:20s} {best[name]:7.2f}s {median[name]:7.2f}s {n / median[name]:19,.0f}")
    for engine_run in ("engine", "engine, NumPy only"):
        for ref in ("pytorch", "pytorch fused", "sklearn"):
            if ref not in best:
                continue
            ratio = median[ref] / median[engine_run]
            met = "met" if ratio >= TARGETS[ref] else "MISSED"
            print(f"  {engine_run} vs {ref}: {best[ref] / best[engine_run]:.2f}x (best), {ratio:.2f}x (median); "
                  f"target >= {TARGETS[ref]}x: {met}")
    for accelerated in (True, False):
        use_accelerator("auto" if accelerated else False)
        share = profile(X, y, args.batch)["optimizer_share"]
        met = "met" if share <= TARGETS["optimizer_share"] else "MISSED"
        print(f"  optimiser share {share:.1%}; target <= {TARGETS['optimizer_share']:.0%}: {met}")
    use_accelerator("auto")


if __name__ == "__main__":
    main()
