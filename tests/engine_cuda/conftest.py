"""The CUDA suite runs in its own pytest process, with the device chosen before numba
is imported: NUMBA_ENABLE_CUDASIM=1 (numba's CUDA simulator, on any machine) or
TABLESCRIBE_CUDA_TESTS=1 on a machine with an NVIDIA GPU.

In the main test process only test_simulator_suite.py is collected: it starts that
process. Inside it, test_simulator_suite.py itself is left out (no recursion).
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RUNNER = "test_simulator_suite.py"
ON_DEVICE = (os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
             or os.environ.get("TABLESCRIBE_CUDA_TESTS") == "1")

if ON_DEVICE:
    collect_ignore = [RUNNER]
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        # The simulator runs each CUDA thread as a Python thread while the launching
        # thread polls them; with the default 5 ms GIL switch interval most of the time
        # goes to that polling. Short intervals make the suite about 10x faster.
        sys.setswitchinterval(2e-4)
        # Two races in the simulator's own helpers (see simulator_races.py).
        from .simulator_races import install
        install()
else:
    collect_ignore = [f for f in os.listdir(HERE)
                      if f.startswith("test_") and f.endswith(".py") and f != RUNNER]


def pytest_configure(config):
    # On the simulator, kernels run as numpy scalar code: IEEE results such as inf - inf
    # (fully masked softmax rows) warn there, as they would not on a GPU.
    config.addinivalue_line("filterwarnings", r"ignore::RuntimeWarning:engine\.backend\.cuda.*")
