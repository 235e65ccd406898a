"""Device backends. `cpu/` holds the numba kernels; a CUDA backend registers its
kernels into engine.ops.registry with `set_kernel(name, "cuda", fn)`."""
