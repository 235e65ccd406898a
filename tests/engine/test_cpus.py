"""Usable CPUs (affinity and cgroup quotas), and numba's threading layer on one CPU,
where TBB hangs the process at exit (engine/backend/cpu/cpus.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine.backend.cpu import cpus

REPO = Path(__file__).resolve().parents[2]


def _write(root: Path, name: str, text: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_cgroup_v2_quota_caps_the_affinity(tmp_path):
    _write(tmp_path, "cpu.max", "150000 100000\n")
    assert cpus.usable_cpus(str(tmp_path)) == min(1.5, len(os.sched_getaffinity(0)))
    _write(tmp_path, "cpu.max", "max 100000\n")
    assert cpus.usable_cpus(str(tmp_path)) == len(os.sched_getaffinity(0))


def test_cgroup_v1_quota(tmp_path):
    _write(tmp_path, "cpu/cpu.cfs_quota_us", "50000\n")
    _write(tmp_path, "cpu/cpu.cfs_period_us", "100000\n")
    assert cpus.usable_cpus(str(tmp_path)) == 0.5
    _write(tmp_path, "cpu/cpu.cfs_quota_us", "-1\n")
    assert cpus.usable_cpus(str(tmp_path)) == len(os.sched_getaffinity(0))


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="affinity masks are Linux's")
def test_a_process_on_one_cpu_exits_after_parallel_kernels_on_a_thread():
    """The app's conversions run engine kernels on worker threads; on one CPU the process
    must still exit (with TBB it hung in numba's unload_tbb)."""
    script = textwrap.dedent("""
        import os, threading
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
        import numpy as np
        import engine, engine.functional as F
        from engine.backend import cpu
        def work():
            x = engine.tensor(np.ones((1024, 512), np.float32))
            F.layer_norm(x, (512,)).numpy()  # a parallel kernel (>= PARALLEL_MIN elements)
            import numba
            print(numba.threading_layer(), flush=True)
        t = threading.Thread(target=work)
        t.start()
        t.join()
    """)
    env = dict(os.environ)
    env.pop("NUMBA_THREADING_LAYER", None)
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() in ("omp", "workqueue")
