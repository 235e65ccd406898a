"""The second backend's slot: CudaStorage moves data, ops without CUDA kernels say so.

Runs in its own process under numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1),
which must be set before numba is imported.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SCRIPT = textwrap.dedent("""
    import numpy as np
    import engine
    from engine.ops.registry import get_op, set_kernel
    x = engine.tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    g = x.to("cuda")
    assert g.device == engine.Device("cuda", 0), g.device
    assert type(g.storage).__name__ == "CudaStorage"
    back = g.T.to("cpu")
    assert back.device == engine.Device("cpu")
    assert back.numpy().tolist() == [[0, 3], [1, 4], [2, 5]], back.numpy()
    # built-in ops have CUDA kernels (engine.backend.cuda, installed on first upload);
    # an op registered without one says so
    assert (g + g).numpy().tolist() == [[0, 2, 4], [6, 8, 10]]
    from engine.ops.registry import apply_op, register_op
    register_op("cpu_only_double", cpu=lambda t: t.np * 2)
    try:
        apply_op("cpu_only_double", g)
    except NotImplementedError as e:
        assert "'cpu_only_double' has no cuda kernel" in str(e), e
    else:
        raise AssertionError("an op without a cuda kernel did not fail on cuda")
    # the CUDA backend plugs in through the registry
    set_kernel("neg", "cuda", lambda t: t.storage.buf.copy_to_host().reshape(t.shape) * -1)
    assert get_op("neg").cuda is not None
    print("ok")
""")


def test_cuda_storage_round_trip_and_missing_kernels_under_simulator() -> None:
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", PYTHONPATH=ROOT)
    env.pop("TABLESCRIBE_DEVICE", None)
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("ok")
