"""CPU kernels (numba). Each module holds the kernels of one family of ops and the
small adapters that turn Tensors into the arrays the kernels take."""

import numba

# Tensors with at least this many elements go to the parallel kernels; below it the
# thread-pool launch costs more than it saves and serial code (or numpy) is used.
PARALLEL_MIN = 1 << 18


def num_threads() -> int:
    return numba.get_num_threads()
