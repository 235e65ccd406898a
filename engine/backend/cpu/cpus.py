"""How many CPUs this process may use, and numba's threading layer where it is one.

With one usable CPU (an affinity mask, or a container's CPU quota) oneTBB starts no
worker threads, and a parallel kernel launched from any thread but the main one
leaves a task that numba's TBB pool waits for at interpreter exit, forever
(numba#10556, oneTBB#2056): `tablescribe batch` in a `docker --cpus=1` container
converted every file and then never exited. There, numba is pointed at its OpenMP
layer (or its own workqueue where OpenMP cannot load), both of which exit cleanly.
NUMBA_THREADING_LAYER set by the user wins.
"""

from __future__ import annotations

import os

__all__ = ["avoid_tbb_on_one_cpu", "usable_cpus"]


def _cgroup_quota(root: str = "/sys/fs/cgroup") -> float | None:
    """CPUs allowed by a cgroup v2 (cpu.max) or v1 (cfs quota/period) limit, or None."""
    try:
        with open(os.path.join(root, "cpu.max")) as f:
            quota, period = f.read().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        with open(os.path.join(root, "cpu", "cpu.cfs_quota_us")) as f:
            quota = int(f.read())
        with open(os.path.join(root, "cpu", "cpu.cfs_period_us")) as f:
            period = int(f.read())
        return None if quota <= 0 else quota / period
    except (OSError, ValueError):
        return None


def usable_cpus(root: str = "/sys/fs/cgroup") -> float:
    """The CPUs this process can run on: its affinity mask, capped by a cgroup quota."""
    try:
        count = float(len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        count = float(os.cpu_count() or 1)
    quota = _cgroup_quota(root)
    return min(count, quota) if quota is not None else count


def avoid_tbb_on_one_cpu() -> str:
    """Moves numba off TBB when fewer than two CPUs are usable; says what was done."""
    from numba.core import config

    if os.environ.get("NUMBA_THREADING_LAYER"):
        return f"threading layer {os.environ['NUMBA_THREADING_LAYER']} (NUMBA_THREADING_LAYER)"
    if usable_cpus() >= 2:
        return "threading layer: numba's default"
    config.THREADING_LAYER_PRIORITY = ["omp", "workqueue", "tbb"]  # a permutation, as numba asks
    return "one usable CPU: numba's OpenMP or workqueue layer, not TBB (which hangs at exit there)"
