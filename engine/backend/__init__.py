"""Device backends, below the tensor: `cpu/` (numba) and `cuda/` (numba.cuda) kernels
that work on arrays or storage views plus layouts and never see a Tensor, and the op
codes they share (`codes.py`). Each backend has a table of kernels by op name
(`cpu/kernels.py`, `cuda/kernels.py`) that engine.ops.registry installs on first use
of its device type."""
