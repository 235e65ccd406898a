"""The CUDA backend: numba.cuda kernels, by family (elementwise, reduce, rows, gemm +
linalg, indexing, shape, optim) over launch.py's geometry and operand plumbing.
kernels.py is the table of them by op name that the op registry installs on first
use of a CUDA device. Nothing here is imported until then.
"""
