"""Forward + backward time of one LSTM(64) layer, ours (NumPy) against torch.nn.LSTM.

Sequences of 100 steps, batch 64, 32 input features, float32, input gradient
computed. Two cases:

* ``last output`` (``return_sequences=False``): the gradient flows in at the
  last output only - the case the target is set on;
* ``every output`` (``return_sequences=True``): a gradient at every step's output.

Both run in the same process, torch on 2 threads (``torch.set_num_threads(2)``,
``batch_first=True``); the repeats alternate between the two so that a busy
machine slows both alike. Prints the mean and median time per forward+backward
of each, the ratios ours / torch, and whether the target - ours at most
``TARGET`` times torch's time, at the medians, for the last-output case - is met.

    python bench/bench_lstm.py [--repeats 30]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from engine._blas import blas_info  # noqa: E402
from engine.model import Sequential  # noqa: E402
from engine.recurrent import LSTM  # noqa: E402

BATCH, STEPS, FEATURES, UNITS = 64, 100, 32, 64
WARMUP = 3
TARGET = 1.0          # ours / torch, medians, last-output case


def make_ours(x: np.ndarray, g: np.ndarray, return_sequences: bool):
    layer = LSTM(UNITS, return_sequences=return_sequences)
    Sequential([layer], input_shape=(STEPS, FEATURES), dtype="float32", seed=0)

    def run():
        layer.forward(x, training=True)
        layer.backward(g, need_input_grad=True)
    return run


def make_torch(x: np.ndarray, g: np.ndarray, return_sequences: bool):
    import torch
    torch.set_num_threads(2)
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(FEATURES, UNITS, batch_first=True)
    xt = torch.tensor(x, requires_grad=True)
    gt = torch.tensor(g)

    def run():
        lstm.zero_grad()
        xt.grad = None
        out, _ = lstm(xt)
        (out if return_sequences else out[:, -1]).backward(gt)
    return run


def timed(run) -> float:
    t0 = time.perf_counter()
    run()
    return time.perf_counter() - t0


def compare(x: np.ndarray, return_sequences: bool, repeats: int, rng: np.random.Generator) -> dict[str, float]:
    """Alternating repeats of ours and torch's forward+backward; times in seconds."""
    shape = (BATCH, STEPS, UNITS) if return_sequences else (BATCH, UNITS)
    g = rng.normal(size=shape).astype(np.float32)
    ours, theirs = make_ours(x, g, return_sequences), make_torch(x, g, return_sequences)
    for _ in range(WARMUP):
        ours()
        theirs()
    t_ours, t_torch = [], []
    for _ in range(repeats):
        t_ours.append(timed(ours))
        t_torch.append(timed(theirs))
    res = {"ours_mean": np.mean(t_ours), "torch_mean": np.mean(t_torch),
           "ours_median": np.median(t_ours), "torch_median": np.median(t_torch)}
    res["ratio_mean"] = res["ours_mean"] / res["torch_mean"]
    res["ratio_median"] = res["ours_median"] / res["torch_median"]
    return res


def report(label: str, res: dict[str, float]) -> None:
    print(f"  {label}")
    print(f"    engine (NumPy) : mean {res['ours_mean'] * 1e3:7.2f} ms   median {res['ours_median'] * 1e3:7.2f} ms")
    print(f"    torch.nn.LSTM  : mean {res['torch_mean'] * 1e3:7.2f} ms   median {res['torch_median'] * 1e3:7.2f} ms"
          f"   (2 threads)")
    print(f"    ratio ours/torch: {res['ratio_mean']:.2f}x (means), {res['ratio_median']:.2f}x (medians)")


def main(argv=None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH, STEPS, FEATURES)).astype(np.float32)
    print(f"LSTM({UNITS}), batch {BATCH}, {STEPS} steps, {FEATURES} features, float32, "
          f"forward+backward, {args.repeats} alternating repeats")
    print(f"  NumPy BLAS: {blas_info()}; load average before: {os.getloadavg()[0]:.2f}")
    results = {}
    for key, label, seq in (("last", "last output (return_sequences=False)", False),
                            ("every", "every output (return_sequences=True)", True)):
        results[key] = compare(x, seq, args.repeats, rng)
        report(label, results[key])
    ratio = results["last"]["ratio_median"]
    print(f"  target: ours <= {TARGET:.2f}x torch (medians, last output): {ratio:.2f}x "
          f"{'MET' if ratio <= TARGET else 'MISSED'}")
    return results


if __name__ == "__main__":
    main()
