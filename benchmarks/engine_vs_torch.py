"""Engine vs PyTorch CPU on the kernels a TrOCR forward pass leans on.

Same shapes, same inputs, same thread count (torch.set_num_threads = numba's
threads), inference mode on both sides, warm-up first, then the median of
several timed runs, engine and torch interleaved (round-robin over the cases,
alternating which library goes first) so background load hits both alike. Prints engine ms, torch ms and their ratio (lower is better for the
engine; 1.0 = parity), plus the largest difference between the two results.

    python3 -m benchmarks.engine_vs_torch [--repeat 21] [--blas auto|openblas|mkl]

The header names the CPU and the GEMM library each side runs (benchmarks.machine).
"""

from __future__ import annotations

import argparse
import statistics

import numba
import numpy as np
import torch

import engine
import engine.functional as F
from benchmarks.machine import report
from benchmarks.scoring import elapsed_ms
from engine.backend.cpu import gemm


def cases(rng: np.random.Generator):
    """(name, engine thunk, torch thunk) for each shape of the issue."""
    def arr(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    a, b = arr(512, 512), arr(512, 512)
    qa, ka = arr(12, 577, 64), arr(12, 64, 577)
    xa, ya = arr(32, 630, 12, 32), arr(32, 1, 1, 32)
    s = arr(8, 577, 384)
    w, bias = arr(384), arr(384)
    g = arr(8, 577, 1536)

    E = engine.from_numpy
    T = torch.from_numpy
    ea, eb, eq, ek, ex, ey, es, ew, ebias, eg = map(E, (a, b, qa, ka, xa, ya, s, w, bias, g))
    ta, tb, tq, tk, tx, ty, ts, tw, tbias, tg = map(T, (a, b, qa, ka, xa, ya, s, w, bias, g))
    return [
        ("matmul 512x512", lambda: ea @ eb, lambda: ta @ tb),
        ("bmm (12,577,64)x(12,64,577)", lambda: eq @ ek, lambda: torch.bmm(tq, tk)),
        ("add (32,630,12,32)+(32,1,1,32)", lambda: ex + ey, lambda: tx + ty),
        ("softmax (8,577,384)", lambda: F.softmax(es, -1), lambda: torch.softmax(ts, -1)),
        ("layer_norm (8,577,384)", lambda: F.layer_norm(es, (384,), ew, ebias, 1e-5),
         lambda: torch.nn.functional.layer_norm(ts, (384,), tw, tbias, 1e-5)),
        ("gelu (8,577,1536)", lambda: F.gelu(eg), lambda: torch.nn.functional.gelu(tg)),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=31, help="timed runs per case (median)")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--blas", choices=gemm.CHOICES,
                    help=f"the engine's GEMM library (default: ${gemm.ENV}, else auto)")
    args = ap.parse_args()
    if args.blas:
        gemm.set_library(args.blas)

    threads = numba.get_num_threads()
    torch.set_num_threads(threads)
    print(report())
    print(f"threads: numba {threads}, torch {torch.get_num_threads()}; repeat {args.repeat}, median")
    rng = np.random.default_rng(0)
    all_cases = cases(rng)
    te = {name: [] for name, _, _ in all_cases}
    tt = {name: [] for name, _, _ in all_cases}
    with engine.no_grad(), torch.inference_mode():
        for _ in range(args.warmup):  # compile / load numba kernels, warm caches
            for _, run_engine, run_torch in all_cases:
                run_engine()
                run_torch()
        # Round-robin over the cases, so a burst of background load spreads over all of
        # them, and alternate who goes first: threads still spinning after one library's
        # call slow down the next call.
        for i in range(args.repeat):
            for name, run_engine, run_torch in all_cases:
                if i % 2:
                    tt[name].append(elapsed_ms(run_torch))
                    te[name].append(elapsed_ms(run_engine))
                else:
                    te[name].append(elapsed_ms(run_engine))
                    tt[name].append(elapsed_ms(run_torch))
        rows = []
        for name, run_engine, run_torch in all_cases:
            diff = float(np.abs(run_engine().numpy() - run_torch().numpy()).max())
            me, mt = statistics.median(te[name]), statistics.median(tt[name])
            rows.append((name, me, mt, me / mt, diff))

    w = max(len(r[0]) for r in rows)
    print(f"{'case':<{w}}  {'engine ms':>10}  {'torch ms':>9}  {'ratio':>6}  {'max |diff|':>10}")
    for name, me, mt, ratio, diff in rows:
        print(f"{name:<{w}}  {me:10.3f}  {mt:9.3f}  {ratio:6.2f}  {diff:10.2e}")


if __name__ == "__main__":
    main()
