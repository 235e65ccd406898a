"""Engine vs PyTorch CPU on the kernels a TrOCR forward pass leans on.

Same shapes, same inputs, same thread count (torch.set_num_threads = numba's
threads), inference mode on both sides, warm-up first, then the median of
several timed runs (round-robin over the cases, so a burst of background load
spreads over all of them). Each library is timed in a fresh process of its own,
the two alternating --rounds times, and each case keeps its best median: in one
shared process PyTorch's OpenMP threads spin after every torch call and take
the cores from the engine's next call, which once doubled the engine's times
(matmul 512x512 read 1.9x PyTorch; 1.0x with OMP_WAIT_POLICY=PASSIVE). Prints
engine ms, torch ms and their ratio (lower is better for the engine; 1.0 =
parity), plus the largest difference between the two results.

    python3 -m benchmarks.engine_vs_torch [--repeat 31] [--rounds 2] [--blas auto|openblas|mkl]

The header names the CPU and the GEMM library each side runs (benchmarks.machine).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import torch

import engine
import engine.functional as F
from benchmarks.machine import report
from benchmarks.scoring import elapsed_ms
from engine.backend.cpu import gemm

REPO = Path(__file__).resolve().parent.parent


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


def time_side(side: str, repeat: int, warmup: int) -> dict[str, float]:
    """Median ms per case for one library, in this (fresh) process."""
    all_cases = cases(np.random.default_rng(0))
    pick = 1 if side == "engine" else 2
    times: dict[str, list[float]] = {c[0]: [] for c in all_cases}
    with engine.no_grad(), torch.inference_mode():
        for _ in range(warmup):  # compile / load numba kernels, warm caches
            for c in all_cases:
                c[pick]()
        for _ in range(repeat):
            for c in all_cases:
                times[c[0]].append(elapsed_ms(c[pick]))
    return {name: statistics.median(t) for name, t in times.items()}


def max_diffs() -> dict[str, float]:
    """Largest difference between the two libraries' results, per case."""
    with engine.no_grad(), torch.inference_mode():
        return {name: float(np.abs(run_engine().numpy() - run_torch().numpy()).max())
                for name, run_engine, run_torch in cases(np.random.default_rng(0))}


def run_side(side: str, args) -> dict[str, float]:
    cmd = [sys.executable, "-m", "benchmarks.engine_vs_torch", "--side", side,
           "--repeat", str(args.repeat), "--warmup", str(args.warmup)]
    if args.blas:
        cmd += ["--blas", args.blas]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{side} side failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=31, help="timed runs per case (median)")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2,
                    help="alternate the two processes this many times; each case keeps its best median")
    ap.add_argument("--blas", choices=gemm.CHOICES,
                    help=f"the engine's GEMM library (default: ${gemm.ENV}, else auto)")
    ap.add_argument("--side", choices=["engine", "torch"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.blas:
        gemm.set_library(args.blas)
    threads = numba.get_num_threads()
    torch.set_num_threads(threads)
    if args.side:
        print(json.dumps(time_side(args.side, args.repeat, args.warmup)))
        return

    print(report())
    print(f"threads: numba {threads}, torch {torch.get_num_threads()}; repeat {args.repeat}, "
          f"median; each library in its own process, best of {args.rounds} rounds")
    best: dict[str, dict[str, float]] = {"engine": {}, "torch": {}}
    for _ in range(args.rounds):
        for side in ("engine", "torch"):
            for name, ms in run_side(side, args).items():
                best[side][name] = min(ms, best[side].get(name, float("inf")))
    diffs = max_diffs()
    w = max(len(n) for n in diffs)
    print(f"{'case':<{w}}  {'engine ms':>10}  {'torch ms':>9}  {'ratio':>6}  {'max |diff|':>10}")
    for name, diff in diffs.items():
        me, mt = best["engine"][name], best["torch"][name]
        print(f"{name:<{w}}  {me:10.3f}  {mt:9.3f}  {me / mt:6.2f}  {diff:10.2e}")


if __name__ == "__main__":
    main()
