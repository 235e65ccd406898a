"""Full-width AVX-512 for numba's kernels (engine/backend/cpu/simd.py). Compiling for a
CPU needs no such CPU (nothing runs), so the Xeon case is checked on any machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from engine.backend.cpu import simd

# A Xeon's ISA as LLVM's host detection spells it (what get_host_cpu_features returns there).
XEON = ",".join("+" + f for f in ("sse4.2", "avx", "avx2", "fma", "f16c", "bmi", "bmi2", "avx512f",
                                  "avx512cd", "avx512bw", "avx512dq", "avx512vl"))

_ASM_WIDTHS = r"""
import json, re, sys
import numba
numba.config.CPU_NAME = sys.argv[1]
numba.config.CPU_FEATURES = sys.argv[2]
import numpy as np
from numba import njit, types
from engine.backend.cpu import fastmath as fm

@njit(fastmath={"nsz", "arcp", "contract", "reassoc"}, error_model="numpy")
def exp_sum(x, out):
    s = np.float32(0)
    for j in range(x.shape[0]):
        e = fm.exp(x[j])
        out[j] = e
        s += e
    return s

sig = (types.float32[::1], types.float32[::1])
exp_sum.compile(sig)  # compiled, never run: the machine need not have the ISA
asm = exp_sum.inspect_asm(sig)
print(json.dumps({w: len(re.findall("%" + w + "mm", asm)) for w in "xyz"}))
"""


def _widths(cpu: str, features: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", _ASM_WIDTHS, cpu, features], capture_output=True,
                          text=True, check=True, env=dict(os.environ, NUMBA_DISABLE_CACHE="1"))
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_feature_string_only_changes_for_avx512() -> None:
    assert simd.full_width_features(XEON) == XEON + ",-prefer-256-bit"
    assert simd.full_width_features("+avx2,+fma,-avx512f") is None
    assert simd.full_width_features(XEON + ",-prefer-256-bit") is None


def test_a_xeon_gets_512_bit_loops_only_with_the_preference_cleared() -> None:
    default = _widths("skylake-avx512", XEON)
    full = _widths("skylake-avx512", simd.full_width_features(XEON))
    assert default["z"] == 0 and default["y"] > 0  # LLVM's tuning: 256-bit loops
    assert full["z"] > 0


def test_importing_the_engine_sets_it_before_any_kernel_compiles() -> None:
    code = ("import engine, numba, json\nfrom engine.backend.cpu import simd\n"
            "from numba.core.codegen import get_host_cpu_features as host\n"
            "print(json.dumps([simd.STATE, numba.config.CPU_FEATURES, host()]))")
    env = {k: v for k, v in os.environ.items()
           if k not in ("NUMBA_CPU_NAME", "NUMBA_CPU_FEATURES", simd.ENV)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    state, features, host = json.loads(out.stdout.strip().splitlines()[-1])
    if "+avx512f" in host.split(","):
        assert features == host + ",-prefer-256-bit" and "full width" in state
    else:
        assert features is None and "no AVX-512" in state
    kept = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**env, simd.ENV: "256"})
    state, features, _ = json.loads(kept.stdout.strip().splitlines()[-1])
    assert features is None and simd.ENV in state
