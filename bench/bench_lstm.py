"""Forward + backward time of one LSTM(64) layer, ours (NumPy) against torch.nn.LSTM.

Sequences of 100 steps, batch 64, 32 input features, float32; both run in the
same process, torch on 2 threads. Prints the mean time per forward+backward of
each and the ratio ours / torch.

    python bench/bench_lstm.py [--repeats 20]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from engine.model import Sequential  # noqa: E402
from engine.recurrent import LSTM  # noqa: E402

BATCH, STEPS, FEATURES, UNITS = 64, 100, 32, 64


def time_ours(x: np.ndarray, g: np.ndarray, repeats: int) -> float:
    layer = LSTM(UNITS)
    Sequential([layer], input_shape=(STEPS, FEATURES), dtype="float32", seed=0)
    for _ in range(3):  # warm-up
        layer.forward(x)
        layer.backward(g)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        layer.forward(x, training=True)
        layer.backward(g, need_input_grad=True)
        times.append(time.perf_counter() - t0)
    return float(np.mean(times))


def time_torch(x: np.ndarray, g: np.ndarray, repeats: int) -> float:
    import torch
    torch.set_num_threads(2)
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(FEATURES, UNITS, batch_first=True)
    xt = torch.tensor(x, requires_grad=True)
    gt = torch.tensor(g)

    def run():
        out, _ = lstm(xt)
        out[:, -1].backward(gt)

    for _ in range(3):
        run()
    times = []
    for _ in range(repeats):
        lstm.zero_grad()
        xt.grad = None
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return float(np.mean(times))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH, STEPS, FEATURES)).astype(np.float32)
    g = rng.normal(size=(BATCH, UNITS)).astype(np.float32)
    ours = time_ours(x, g, args.repeats)
    theirs = time_torch(x, g, args.repeats)
    print(f"LSTM({UNITS}), batch {BATCH}, {STEPS} steps, {FEATURES} features, float32, "
          f"forward+backward, mean of {args.repeats}")
    print(f"  engine (NumPy): {ours * 1e3:8.2f} ms")
    print(f"  torch.nn.LSTM : {theirs * 1e3:8.2f} ms  (torch.set_num_threads(2))")
    print(f"  ratio ours/torch: {ours / theirs:.2f}x")


if __name__ == "__main__":
    main()
