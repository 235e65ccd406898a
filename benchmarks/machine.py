"""What a speed figure was measured on: the CPU (model, vendor, SIMD flags), the BLAS
and thread pools each side loaded (threadpoolctl), and the engine's GEMM library.

Printed at the top of engine_vs_torch and trocr_vs_torch, because their ratios
depend on the CPU class: numpy's OpenBLAS and PyTorch's MKL are not equally fast
on every CPU.
"""

from __future__ import annotations

import platform
import re

# The flags that decide which kernels the libraries run.
SIMD_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl",
              "avx512_vnni", "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile", "amx_bf16",
              "amx_int8")


def cpu_summary() -> str:
    """'model (vendor), N logical CPUs, SIMD: flags' from /proc/cpuinfo where present."""
    import os

    model, vendor, flags = platform.processor() or platform.machine(), "?", set()
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name":
                    model = value.strip()
                elif key == "vendor_id":
                    vendor = value.strip()
                elif key == "flags":
                    flags = set(value.split())
                    break
    except OSError:
        pass
    simd = " ".join(f for f in SIMD_FLAGS if f in flags) or "unknown"
    return f"{model} ({vendor}), {os.cpu_count()} logical CPUs, SIMD: {simd}"


def pools() -> list[str]:
    """One line per native library threadpoolctl finds loaded (BLAS and OpenMP)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return ["threadpoolctl not installed (pip install threadpoolctl)"]
    lines = []
    for info in threadpool_info():
        name = info.get("internal_api", "?")
        bits = [f"{name} {info.get('version') or ''}".strip()]
        if info.get("architecture"):
            bits.append(f"kernels {info['architecture']}")
        if info.get("threading_layer"):
            bits.append(f"threading {info['threading_layer']}")
        bits.append(f"{info.get('num_threads')} threads")
        bits.append(info.get("filepath", "").rsplit("/", 1)[-1])
        lines.append(", ".join(bits))
    return lines


def torch_blas() -> str:
    import torch

    cfg = torch.__config__.show()
    found = re.search(r"BLAS_INFO=(\w+)", cfg)
    blas = found.group(1) if found else "?"
    mkl = re.search(r"Math Kernel Library Version (\S+)", cfg)
    if mkl:
        blas += f" {mkl.group(1)} (linked in)"
    cap = torch.backends.cpu.get_cpu_capability()
    return f"torch {torch.__version__}: BLAS {blas}, CPU capability {cap}, {torch.get_num_threads()} threads"


def engine_blas() -> str:
    from engine.backend.cpu import gemm

    return f"engine GEMM: {gemm.describe()}; {engine_microkernel()}"


def engine_microkernel() -> str:
    """The engine's own micro-kernel over packed weights (model projections), if any."""
    from engine.backend.cpu import microkernel, packed

    k = microkernel.kernel()
    if k is None:
        return "no packed-weight micro-kernel on this CPU (BLAS for every product)"
    if packed.precision() == "bf16":
        return (f"packed weights in bfloat16 on our avx512bf16 micro-kernel ({k.mr}x{k.nr} tiles, "
                "float32 sums; TABLESCRIBE_PRECISION=fp32 for float32)")
    return f"packed float32 weights on our {k.isa} micro-kernel ({k.mr}x{k.nr} tiles)"


def report(torch_side: bool = True) -> str:
    """The lines to print above a benchmark's table."""
    lines = [f"CPU: {cpu_summary()}", engine_blas()]
    if torch_side:
        lines.append(torch_blas())
    lines += [f"  loaded: {p}" for p in pools()]
    return "\n".join(lines)
