"""Full-width AVX-512 for the engine's numba kernels.

LLVM tunes Intel's AVX-512 server CPUs (skylake-avx512, cascadelake, icelake-server,
sapphirerapids, ...) with `prefer-256-bit`: loops are vectorised with 256-bit
registers although 512-bit ones exist, to dodge the clock drop older Xeons take on
heavy 512-bit code. PyTorch's kernels use the full width there, so our compute-bound
row kernels (softmax's exp, GELU, layer_norm) ran at half its speed on such a Xeon
while matching or beating it on AMD's Zen 4, which LLVM tunes for 512 bits.
Clearing the preference before the first kernel compiles gives every CPU with
AVX-512 the full width; CPUs without it are untouched.

Numba's on-disk cache is keyed by these features, so kernels are compiled again
once after the change. NUMBA_CPU_NAME / NUMBA_CPU_FEATURES set by the user win,
and TABLESCRIBE_AVX512_WIDTH=256 keeps LLVM's choice.
"""

from __future__ import annotations

import os

ENV = "TABLESCRIBE_AVX512_WIDTH"
FEATURE = "-prefer-256-bit"


def full_width_features(host_features: str) -> str | None:
    """The feature string to compile with, or None to leave numba's default."""
    feats = host_features.split(",")
    if "+avx512f" not in feats or FEATURE in feats:
        return None
    return host_features + "," + FEATURE


def prefer_full_width() -> str:
    """Clears LLVM's 256-bit preference for numba's CPU kernels where AVX-512 exists.
    Returns what was done, for benchmark headers and tests."""
    from numba.core import config
    from numba.core.registry import cpu_target

    if os.environ.get(ENV, "").strip() == "256":
        return f"256-bit preference kept ({ENV}=256)"
    if config.CPU_NAME is not None or config.CPU_FEATURES is not None:
        return "NUMBA_CPU_NAME / NUMBA_CPU_FEATURES set: left as given"
    if "_toplevel_target_context" in vars(cpu_target):  # something compiled already
        return "numba's CPU target was already set up: left as it is"
    from numba.core.codegen import get_host_cpu_features

    features = full_width_features(get_host_cpu_features())
    if features is None:
        return "no AVX-512: numba's default vector width"
    config.CPU_FEATURES = features
    return "AVX-512 at full width (prefer-256-bit cleared)"


STATE = prefer_full_width()
