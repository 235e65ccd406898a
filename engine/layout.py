"""Layout: how a tensor's shape maps onto its flat storage.

A layout is a shape, strides counted in elements (not bytes) and a start
offset. Every view (reshape of compatible data, transpose, permute, narrow,
squeeze/unsqueeze, broadcast with stride 0, basic indexing) is a new Layout
over the same storage; no element is copied.
"""

from __future__ import annotations

__all__ = ["Layout", "broadcast_shapes", "contiguous_strides", "normalize_dim"]

_STRIDE_CACHE: dict[tuple[int, ...], tuple[int, ...]] = {}


def contiguous_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Row-major strides of `shape`, in elements (cached: shapes repeat a lot)."""
    st = _STRIDE_CACHE.get(shape)
    if st is None:
        acc = 1
        out = []
        for n in reversed(shape):
            out.append(acc)
            acc *= n
        st = tuple(reversed(out))
        if len(_STRIDE_CACHE) < 4096:
            _STRIDE_CACHE[shape] = st
    return st


def normalize_dim(dim: int, ndim: int) -> int:
    """Resolve a possibly negative dim, with PyTorch's error message."""
    if dim < -ndim or dim >= max(ndim, 1):
        raise IndexError(f"dimension {dim} out of range for a tensor with {ndim} dims")
    return dim + ndim if dim < 0 else dim


def broadcast_shapes(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    """NumPy broadcasting of two shapes."""
    if a == b:
        return a
    n = max(len(a), len(b))
    pa = (1,) * (n - len(a)) + a
    pb = (1,) * (n - len(b)) + b
    out = []
    for x, y in zip(pa, pb):
        if x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        else:
            raise ValueError(f"shapes {a} and {b} cannot be broadcast together")
    return tuple(out)


class Layout:
    __slots__ = ("_contig", "_numel", "offset", "shape", "strides")

    def __init__(self, shape: tuple[int, ...], strides: tuple[int, ...], offset: int = 0):
        self.shape = shape
        self.strides = strides
        self.offset = offset
        self._contig = None  # computed lazily
        self._numel = -1

    @staticmethod
    def contiguous(shape: tuple[int, ...], offset: int = 0) -> Layout:
        lay = Layout(shape, contiguous_strides(shape), offset)
        lay._contig = True
        return lay

    def __repr__(self) -> str:
        return f"Layout(shape={self.shape}, strides={self.strides}, offset={self.offset})"

    def __eq__(self, other) -> bool:
        return (isinstance(other, Layout) and self.shape == other.shape
                and self.strides == other.strides and self.offset == other.offset)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def numel(self) -> int:
        n = self._numel
        if n < 0:
            n = 1
            for s in self.shape:
                n *= s
            self._numel = n
        return n

    def is_contiguous(self) -> bool:
        """Row-major with no gaps (size-1 dims may have any stride, like PyTorch)."""
        c = self._contig
        if c is None:
            expected = 1
            c = True
            for n, s in zip(reversed(self.shape), reversed(self.strides)):
                if n == 1:
                    continue
                if s != expected:
                    c = False
                    break
                expected *= n
            if 0 in self.shape:
                c = True
            self._contig = c
        return c

    def extent(self) -> int:
        """Number of storage elements spanned from the offset (0 for empty tensors)."""
        if 0 in self.shape:
            return 0
        return 1 + sum((n - 1) * s for n, s in zip(self.shape, self.strides))

    # ---- views ----

    def transpose(self, d0: int, d1: int) -> Layout:
        nd = len(self.shape)
        if not (0 <= d0 < nd and 0 <= d1 < nd):
            d0, d1 = normalize_dim(d0, nd), normalize_dim(d1, nd)
        shape, strides = list(self.shape), list(self.strides)
        shape[d0], shape[d1] = shape[d1], shape[d0]
        strides[d0], strides[d1] = strides[d1], strides[d0]
        return Layout(tuple(shape), tuple(strides), self.offset)

    def permute(self, dims: tuple[int, ...]) -> Layout:
        nd = len(self.shape)
        if len(dims) != nd:
            raise ValueError(f"permute needs {nd} dims, got {len(dims)}")
        if min(dims, default=0) < 0:
            dims = tuple(normalize_dim(d, nd) for d in dims)
        if len(set(dims)) != nd or max(dims, default=-1) >= nd:
            raise ValueError(f"permute dims {dims} are not a permutation of 0..{nd - 1}")
        shape, strides = self.shape, self.strides
        return Layout(tuple([shape[d] for d in dims]), tuple([strides[d] for d in dims]),
                      self.offset)

    def narrow(self, dim: int, start: int, length: int) -> Layout:
        dim = normalize_dim(dim, len(self.shape))
        size = self.shape[dim]
        if start < 0:
            start += size
        if start < 0 or length < 0 or start + length > size:
            raise IndexError(f"narrow({dim}, {start}, {length}) out of range for size {size}")
        shape = self.shape[:dim] + (length,) + self.shape[dim + 1:]
        return Layout(shape, self.strides, self.offset + start * self.strides[dim])

    def squeeze(self, dim: int | None = None) -> Layout:
        if dim is None:
            keep = [i for i, n in enumerate(self.shape) if n != 1]
        else:
            dim = normalize_dim(dim, len(self.shape))
            keep = [i for i in range(len(self.shape)) if i != dim or self.shape[i] != 1]
        lay = Layout(tuple(self.shape[i] for i in keep), tuple(self.strides[i] for i in keep),
                     self.offset)
        lay._contig = self._contig
        return lay

    def unsqueeze(self, dim: int) -> Layout:
        nd = len(self.shape)
        if dim < 0:
            dim += nd + 1
        if not 0 <= dim <= nd:
            raise IndexError(f"unsqueeze dim {dim} out of range for a tensor with {nd} dims")
        inner = self.strides[dim] * self.shape[dim] if dim < nd else 1
        lay = Layout(self.shape[:dim] + (1,) + self.shape[dim:],
                     self.strides[:dim] + (inner,) + self.strides[dim:], self.offset)
        lay._contig = self._contig
        return lay

    def broadcast_to(self, shape: tuple[int, ...]) -> Layout:
        """Expand size-1 (or missing leading) dims with stride 0: no data moves."""
        nd, nn = len(self.shape), len(shape)
        if nn < nd:
            raise ValueError(f"cannot broadcast shape {self.shape} to {shape}")
        strides = [0] * (nn - nd)
        for i, (n, s) in enumerate(zip(self.shape, self.strides)):
            target = shape[nn - nd + i]
            if target == -1:
                target = n
            if n == target:
                strides.append(s)
            elif n == 1:
                strides.append(0)
            else:
                raise ValueError(f"cannot broadcast shape {self.shape} to {shape}")
        out_shape = tuple(n if n != -1 else self.shape[i - (nn - nd)] for i, n in enumerate(shape))
        return Layout(out_shape, tuple(strides), self.offset)

    def reshape(self, shape: tuple[int, ...]) -> Layout | None:
        """The view layout for `shape`, or None when the data must be copied.

        Works like numpy's no-copy reshape: dims are grouped into chunks of equal
        element count, and each old chunk must be contiguous within itself.
        """
        if self.is_contiguous():
            return Layout.contiguous(shape, self.offset)
        old = [(n, s) for n, s in zip(self.shape, self.strides) if n != 1]
        new_strides = [0] * len(shape)
        oi = ni = 0
        o_n = len(old)
        new_idx = [i for i, n in enumerate(shape) if n != 1]
        nn = len(new_idx)
        while oi < o_n and ni < nn:
            op = old[oi][0]
            np_ = shape[new_idx[ni]]
            oj, nj = oi, ni
            while op != np_:
                if op < np_:
                    oj += 1
                    op *= old[oj][0]
                else:
                    nj += 1
                    np_ *= shape[new_idx[nj]]
            for k in range(oi, oj):  # the old chunk must be contiguous in itself
                if old[k][1] != old[k + 1][1] * old[k + 1][0]:
                    return None
            st = old[oj][1]
            for k in range(nj, ni - 1, -1):
                new_strides[new_idx[k]] = st
                st *= shape[new_idx[k]]
            oi, ni = oj + 1, nj + 1
        # size-1 dims: any stride works; give them the "contiguous" one for neatness
        for i in range(len(shape) - 1, -1, -1):
            if shape[i] == 1:
                new_strides[i] = new_strides[i + 1] * shape[i + 1] if i + 1 < len(shape) else 1
        return Layout(tuple(shape), tuple(new_strides), self.offset)

    def index(self, key) -> tuple[Layout, list[tuple[int, object]]]:
        """Basic indexing (ints, slices with positive steps, Ellipsis, None).

        Returns the view layout and a list of (dim, index) pairs for the advanced
        (tensor/list) indices found, which the caller applies with index_select.
        """
        if not isinstance(key, tuple):
            key = (key,)
        n_real = sum(1 for k in key if k is not None and k is not Ellipsis)
        n_ell = sum(1 for k in key if k is Ellipsis)
        if n_ell > 1:
            raise IndexError("an index can only have a single ellipsis ('...')")
        nd = len(self.shape)
        if n_real > nd:
            raise IndexError(f"too many indices for a tensor with {nd} dims")
        shape: list[int] = []
        strides: list[int] = []
        offset = self.offset
        advanced: list[tuple[int, object]] = []
        d = 0  # input dim
        for k in key:
            if k is Ellipsis:
                for _ in range(nd - n_real):
                    shape.append(self.shape[d])
                    strides.append(self.strides[d])
                    d += 1
            elif k is None:
                shape.append(1)
                strides.append(0)
            elif isinstance(k, slice):
                start, stop, step = k.indices(self.shape[d])
                if step <= 0:
                    raise ValueError("slice step must be positive")
                n = max(0, (stop - start + step - 1) // step)
                shape.append(n)
                strides.append(self.strides[d] * step)
                if n:
                    offset += start * self.strides[d]
                d += 1
            elif isinstance(k, int) or hasattr(k, "__index__") and not hasattr(k, "shape"):
                i = int(k.__index__())
                size = self.shape[d]
                if i < -size or i >= size:
                    raise IndexError(f"index {i} is out of bounds for dim {d} with size {size}")
                offset += (i + size if i < 0 else i) * self.strides[d]
                d += 1
            else:  # tensor / list / array: advanced index along this (output) dim
                advanced.append((len(shape), k))
                shape.append(self.shape[d])
                strides.append(self.strides[d])
                d += 1
        while d < nd:
            shape.append(self.shape[d])
            strides.append(self.strides[d])
            d += 1
        return Layout(tuple(shape), tuple(strides), offset), advanced
