"""GELU forward + backward on a 100x500 array, float64 and float32: the engine's
vectorised erf against the former one, math.erf called element by element through
np.frompyfunc (kept here only as the reference).

    python bench/bench_gelu.py [--repeat 5] [--number 5]

Both runs go through the engine's own GELU functions; for the reference, the module's
``erf`` is swapped for the element-wise one while it is timed. Prints the best time of
``repeat`` rounds of ``number`` calls each (the two versions in turn), the ratio,
and the largest difference between their outputs. Benchmarks are not tests:
this prints numbers and asserts nothing.
"""
from __future__ import annotations

import argparse
import math
import sys
import timeit
from contextlib import contextmanager
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from engine import activations  # noqa: E402

_elementwise_erf = np.frompyfunc(math.erf, 1, 1)


def erf_elementwise(x):
    """The previous erf: math.erf on each element in Python."""
    return _elementwise_erf(x).astype(x.dtype, copy=False)


@contextmanager
def erf_swapped(fn):
    saved = activations.erf
    activations.erf = fn
    try:
        yield
    finally:
        activations.erf = saved


def forward_backward(u, grad_a):
    gelu = activations.ACTIVATIONS["gelu"]
    a = gelu.forward(u)
    return a, gelu.backward(u, a, grad_a)


def best_ms(u, grad_a, repeat, number):
    """Best time per call of each version, in ms; the rounds alternate between the
    two so that load from other work on the machine falls on both alike."""
    best = {"vectorised": math.inf, "element-wise": math.inf}
    call = lambda: forward_backward(u, grad_a)  # noqa: E731
    for _ in range(repeat):
        best["vectorised"] = min(best["vectorised"], timeit.timeit(call, number=number))
        with erf_swapped(erf_elementwise):
            best["element-wise"] = min(best["element-wise"], timeit.timeit(call, number=number))
    return {k: v / number * 1e3 for k, v in best.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--number", type=int, default=5)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    print(f"GELU forward + backward, shape (100, 500), best of {args.repeat} x {args.number}")
    print(f"{'dtype':8} {'vectorised':>12} {'element-wise':>14} {'ratio':>8}   max |diff|")
    for dtype in (np.float64, np.float32):
        u = (rng.normal(size=(100, 500)) * 2).astype(dtype)
        g = rng.normal(size=(100, 500)).astype(dtype)
        times = best_ms(u, g, args.repeat, args.number)
        new, old = times["vectorised"], times["element-wise"]
        a_new, d_new = forward_backward(u, g)
        with erf_swapped(erf_elementwise):
            a_old, d_old = forward_backward(u, g)
        diff = max(np.abs(a_new - a_old).max(), np.abs(d_new - d_old).max())
        print(f"{np.dtype(dtype).name:8} {new:9.2f} ms {old:11.2f} ms {old / new:7.1f}x   {diff:.1e}")


if __name__ == "__main__":
    main()
