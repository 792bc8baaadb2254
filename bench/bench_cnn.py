"""Benchmark: the report's default CNN in the engine (NumPy) against PyTorch CPU.

    python bench/bench_cnn.py [--images 10000] [--batch 250] [--train-batch 64] [--steps 20] [--profile]

Model (float32 throughout): Input(32, 32, 3) -> Conv2D(32, 3, same, relu) ->
MaxPool2D(2) -> Conv2D(64, 3, same, relu) -> MaxPool2D(2) -> Flatten ->
Dense(64, relu) -> Dense(10, softmax).

Measures (same weights in both, PyTorch limited to 2 threads):

* inference: forward passes over ``--images`` random images in batches of ``--batch``;
* training: one step (forward, backward, Adam update) on a batch of
  ``--train-batch``: the median of ``--steps`` steps after one warm-up step.

The two libraries take turns (run by run, step by step) so that both see the
same machine load.

The NHWC -> NCHW conversion for PyTorch happens outside the timing.

``--profile`` adds where the engine's training step spends its time: the
forward and backward pass of every layer and the optimiser update (medians over
``--steps`` steps), next to the matrix products of the convolutions alone on the
same shapes (patch matrices built beforehand), the bound the layers cannot beat.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from engine._blas import blas_info  # noqa: E402
from engine.conv import Conv2D, Flatten, MaxPool2D  # noqa: E402
from engine.layers import Dense  # noqa: E402
from engine.model import Sequential  # noqa: E402

STEP_TARGET = 0.75      # the training step's time, at most this share of PyTorch's


def engine_model(seed: int = 0) -> Sequential:
    return Sequential([Conv2D(32, 3, padding="same", activation="relu"), MaxPool2D(2),
                       Conv2D(64, 3, padding="same", activation="relu"), MaxPool2D(2), Flatten(),
                       Dense(64, activation="relu"), Dense(10, activation="softmax")],
                      input_shape=(32, 32, 3), loss="cce", optimizer="adam", seed=seed)


def torch_model(ours: Sequential):
    """The same network in PyTorch (NCHW), with our weights copied in. PyTorch's
    Flatten sees (c, h, w), so the first Dense's rows are permuted to match."""
    import torch
    from torch import nn

    net = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(4096, 64), nn.ReLU(), nn.Linear(64, 10))
    c1, _, c2, _, _, d1, d2 = ours.layers
    with torch.no_grad():
        for conv, mod in ((c1, net[0]), (c2, net[3])):
            mod.weight.copy_(torch.from_numpy(np.ascontiguousarray(conv.W.transpose(3, 2, 0, 1))))
            mod.bias.copy_(torch.from_numpy(conv.b))
        w1 = d1.W.reshape(8, 8, 64, 64).transpose(2, 0, 1, 3).reshape(4096, 64)   # rows (h,w,c) -> (c,h,w)
        net[7].weight.copy_(torch.from_numpy(np.ascontiguousarray(w1.T)))
        net[7].bias.copy_(torch.from_numpy(d1.b))
        net[9].weight.copy_(torch.from_numpy(np.ascontiguousarray(d2.W.T)))
        net[9].bias.copy_(torch.from_numpy(d2.b))
    return net


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def median_ms(fn, runs: int) -> float:
    fn()
    return float(np.median([timed(fn) for _ in range(runs)])) * 1e3


def profile_step(ours: Sequential, X: np.ndarray, Y: np.ndarray, steps: int) -> None:
    """Per-layer times of the training step, and the convolutions' matrix products alone."""
    times: dict[str, list[float]] = {}

    def timing(obj, method: str, key: str) -> None:
        inner = getattr(obj, method)

        def timed_call(*args, **kwargs):
            t = time.perf_counter()
            out = inner(*args, **kwargs)
            times.setdefault(key, []).append(time.perf_counter() - t)
            return out
        setattr(obj, method, timed_call)              # an instance attribute, deleted below

    keys = []
    for i, layer in enumerate(ours.layers):
        keys.append(f"{i} {type(layer).__name__} forward")
        timing(layer, "forward", keys[-1])
    for i, layer in reversed(list(enumerate(ours.layers))):
        keys.append(f"{i} {type(layer).__name__} backward")
        timing(layer, "backward", keys[-1])
    keys.append("optimizer step")
    timing(ours.optimizer, "step", keys[-1])
    total = []
    try:
        for _ in range(steps + 1):
            total.append(timed(lambda: (ours.forward(X, training=True), ours.backward(Y), ours.step(1e-3))))
    finally:
        for obj in ours.layers + [ours.optimizer]:
            vars(obj).pop("forward", None), vars(obj).pop("backward", None), vars(obj).pop("step", None)
    print(f"\nprofile of the engine's training step (median of {steps} steps, ms):")
    for key in keys:
        print(f"  {key:24s} {np.median(times[key][1:]) * 1e3:7.2f}")
    print(f"  {'whole step':24s} {np.median(total[1:]) * 1e3:7.2f}")

    # The bound: each convolution's products on its shapes, one call each over the whole batch.
    rng = np.random.default_rng(1)
    n, bound = X.shape[0], 0.0
    print("matrix products of the convolutions alone (ms):")
    for i, layer in enumerate(ours.layers):
        if not isinstance(layer, Conv2D):
            continue
        (kh, kw), (h, w, c), f = layer.kernel_size, layer.input_shape, layer.filters
        rows, k = n * layer.out_h * layer.out_w, kh * kw * c + layer.use_bias
        cols = rng.random((rows, k), dtype=np.float32)
        W = rng.random((k, f), dtype=np.float32)
        g = rng.random((rows, f), dtype=np.float32)
        parts = {"forward": median_ms(lambda: cols @ W, steps), "weight gradient": median_ms(lambda: g.T @ cols, steps)}
        if i > 0:                                     # the model asks layer 0 for no input gradient
            gcols = rng.random((n * h * w, kh * kw * f), dtype=np.float32)
            Wt = rng.random((kh * kw * f, c), dtype=np.float32)
            parts["input gradient"] = median_ms(lambda: gcols @ Wt, steps)
        bound += sum(parts.values())
        print(f"  {i} Conv2D: " + ", ".join(f"{name} {v:.2f}" for name, v in parts.items()))
    print(f"  all of them: {bound:.2f} ms of the step's {np.median(total[1:]) * 1e3:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=250)
    parser.add_argument("--train-batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3, help="inference runs; the best one counts")
    parser.add_argument("--profile", action="store_true", help="also show where the engine's training step goes")
    args = parser.parse_args()

    import torch
    import torch.nn.functional as F

    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    X = rng.random((args.images, 32, 32, 3), dtype=np.float32)
    ours = engine_model()
    net = torch_model(ours)
    net.eval()
    Xt = torch.from_numpy(np.ascontiguousarray(X.transpose(0, 3, 1, 2)))

    # Same outputs first (a benchmark of two different functions would say nothing).
    p_ours = ours.forward(X[:8], training=False)
    with torch.no_grad():
        p_torch = torch.softmax(net(Xt[:8]), dim=1).numpy()
    print(f"NumPy BLAS: {blas_info()}; PyTorch threads: {torch.get_num_threads()}")
    print(f"max |ours - torch| on 8 images: {np.abs(p_ours - p_torch).max():.2e}")

    bs = args.batch

    def ours_inference():
        for i in range(0, args.images, bs):
            ours.forward(X[i:i + bs], training=False)

    def torch_inference():
        with torch.no_grad():
            for i in range(0, args.images, bs):
                torch.softmax(net(Xt[i:i + bs]), dim=1)

    # Alternate the two so that both see the same machine load; the best round counts.
    ours.forward(X[:bs], training=False)
    with torch.no_grad():
        net(Xt[:bs])
    t_ours = t_torch = math.inf
    for _ in range(args.repeats):
        t_ours = min(t_ours, timed(ours_inference))
        t_torch = min(t_torch, timed(torch_inference))
    print(f"\ninference, {args.images} images in batches of {bs} (best of {args.repeats} runs):")
    print(f"  engine  {t_ours:7.3f} s  {args.images / t_ours:9.0f} images/s")
    print(f"  torch   {t_torch:7.3f} s  {args.images / t_torch:9.0f} images/s")
    print(f"  ratio engine/torch time: {t_ours / t_torch:.2f}")

    # One training step: forward, backward, Adam.
    tb = args.train_batch
    Xb = X[:tb]
    labels = rng.integers(0, 10, tb)
    Yb = np.eye(10, dtype=np.float32)[labels]
    Xbt, yt = Xt[:tb], torch.from_numpy(labels)
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)

    def ours_step():
        ours.forward(Xb, training=True)
        ours.backward(Yb)
        ours.step(1e-3)

    def torch_step():
        opt.zero_grad()
        loss = F.cross_entropy(net(Xbt), yt)
        loss.backward()
        opt.step()

    ours_step()
    torch_step()
    # Steps alternate as well; each side's median step time counts.
    ours_times, torch_times = [], []
    for _ in range(args.steps):
        ours_times.append(timed(ours_step))
        torch_times.append(timed(torch_step))
    t_ours, t_torch = float(np.median(ours_times)), float(np.median(torch_times))
    print(f"\ntraining step (forward + backward + Adam), batch {tb}, median of {args.steps} steps:")
    print(f"  engine  {t_ours * 1e3:7.1f} ms  {tb / t_ours:9.0f} images/s")
    print(f"  torch   {t_torch * 1e3:7.1f} ms  {tb / t_torch:9.0f} images/s")
    print(f"  ratio engine/torch time: {t_ours / t_torch:.2f}")
    met = "met" if t_ours / t_torch <= STEP_TARGET else "MISSED"
    print(f"  target: engine <= {STEP_TARGET:.2f}x torch's time: {met}")

    if args.profile:
        profile_step(ours, Xb, Yb, args.steps)


if __name__ == "__main__":
    main()
