"""The engine's GEMM libraries side by side: numpy's OpenBLAS, MKL (the `mkl` wheel)
and PyTorch's own GEMM, on the shapes the trocr models run, in one process.

    python3 -m benchmarks.gemm_libraries [--repeat 15]

Two rows per shape: one BLAS call on one thread (what the engine's pool runs, and
what gemm.py's probe compares), and the engine's matmul at numba's thread count
(the work split over its pool) against torch.matmul at the same count. The cases
are interleaved round-robin so background load hits every library alike; each
figure is the median in ms (GFLOP/s beside it). The engine's automatic choice and
the probe's figures are printed on top (benchmarks.machine).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numba
import numpy as np
import torch

import engine
from benchmarks.machine import report
from engine.backend.cpu import gemm

# (m, k, n): encoder rows x projections (577 tokens, 384 wide, MLP 1536), a 512² square,
# attention per head, and decoder rows against its weights (b=8 beams/batch).
SHAPES = [(512, 512, 512), (577, 384, 1152), (577, 384, 1536), (577, 1536, 384),
          (4616, 384, 1536), (577, 64, 577), (8, 256, 1024), (8, 256, 64044)]


def _ms(fn) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1e3


def time_shape(m: int, k: int, n: int, mkl, repeat: int, rng) -> dict[str, float]:
    """Median ms of each case for one shape."""
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    out = np.empty((m, n), np.float32)
    ea, eb, ta, tb = engine.from_numpy(a), engine.from_numpy(b), torch.from_numpy(a), torch.from_numpy(b)
    libs = {"openblas": gemm.choose("openblas")}
    if mkl is not None:
        libs["mkl"] = gemm.Choice("mkl", mkl.gemm, "benchmark")
    cases = {}
    for name, choice in libs.items():
        def one(choice=choice):
            with gemm.single_threaded_blas():
                choice.gemm(a, b, out)

        def eng(choice=choice):
            gemm._choice = choice
            ea @ eb

        cases[f"1t {name}"] = one
        cases[f"engine {name}"] = eng
    cases["torch"] = lambda: ta @ tb
    times = {name: [] for name in cases}
    with engine.no_grad(), torch.inference_mode():
        for fn in cases.values():
            fn()
        for i in range(repeat):
            for name in (list(cases) if i % 2 == 0 else list(reversed(cases))):
                times[name].append(_ms(cases[name]))
    return {name: statistics.median(t) for name, t in times.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args(argv)
    threads = numba.get_num_threads()
    torch.set_num_threads(threads)
    print(report())
    path = gemm._find_mkl_rt()
    mkl = gemm.Mkl(path) if path else None
    if mkl is None:
        print("mkl not installed: only OpenBLAS and torch are timed (pip install mkl)")
    rng = np.random.default_rng(0)
    print(f"threads {threads}; median of {args.repeat} (ms, GFLOP/s)")
    print(f"{'m x k x n':>18} {'1 thread: OpenBLAS':>20} {'MKL':>16} | "
          f"{'engine+OpenBLAS':>17} {'engine+MKL':>16} {'torch':>16}")
    before = gemm.current()
    try:
        for m, k, n in SHAPES:
            med = time_shape(m, k, n, mkl, args.repeat, rng)
            mflop = 2 * m * k * n / 1e6  # MFLOP / ms = GFLOP/s

            def cell(name, med=med, mflop=mflop):
                ms = med.get(name)
                return f"{'-':>16}" if ms is None else f"{ms:8.3f} ({mflop / ms:4.0f})"

            print(f"{f'{m}x{k}x{n}':>18} {cell('1t openblas'):>20} {cell('1t mkl'):>16} | "
                  f"{cell('engine openblas'):>17} {cell('engine mkl'):>16} {cell('torch'):>16}")
    finally:
        gemm._choice = before
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
