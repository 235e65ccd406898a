"""The CUDA suite runs in its own pytest process, with the device chosen before numba
is imported: NUMBA_ENABLE_CUDASIM=1 (numba's CUDA simulator, on any machine) or
TABLESCRIBE_CUDA_TESTS=1 on a machine with an NVIDIA GPU.

In the main test process only test_simulator_suite.py is collected: it starts that
process. Inside it, test_simulator_suite.py itself is left out (no recursion).
"""

import os

HERE = os.path.dirname(os.path.abspath(__file__))
RUNNER = "test_simulator_suite.py"
ON_DEVICE = (os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
             or os.environ.get("TABLESCRIBE_CUDA_TESTS") == "1")

if ON_DEVICE:
    collect_ignore = [RUNNER]
else:
    collect_ignore = [f for f in os.listdir(HERE)
                      if f.startswith("test_") and f.endswith(".py") and f != RUNNER]
