"""CPU kernels (numba). Each module holds the kernels of one family of ops; kernels.py
is the table of them by op name that the op registry installs. Kernels work on numpy
arrays (a storage read through a layout) and never see a Tensor."""

import numba

from .cpus import avoid_tbb_on_one_cpu

# Tensors with at least this many elements go to the parallel kernels; below it the
# thread-pool launch costs more than it saves and serial code (or numpy) is used.
PARALLEL_MIN = 1 << 18

THREADING_LAYER_NOTE = avoid_tbb_on_one_cpu()


def num_threads() -> int:
    return numba.get_num_threads()
