"""safetensors: validated header, memory-mapped lazy reads, atomic writes.

File layout: 8 bytes little-endian header length N, N bytes of UTF-8 JSON, then the
data section. The JSON maps each tensor name to ``{"dtype", "shape", "data_offsets":
[begin, end]}`` (offsets relative to the data section) plus an optional
``"__metadata__"`` map of strings.

We validate the header ourselves, check for check, the way the reference
implementation does (safetensors/src/tensor.rs: ``read_metadata`` and
``Metadata::validate``), so every problem is reported with the file name and the
tensor involved; then we hand the file to the ``safetensors`` package's
``safe_open`` as a second opinion, so a file the reference rejects is never accepted.
Tensor data is read through one copy-on-write memory map of the file: a tensor's
pages are only read when touched, and nothing we do can write to the file.

Deliberately stricter than the reference: duplicate tensor names in the JSON (the
reference keeps the last one silently) are an error, because which tensor is meant
is ambiguous.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import AtomicWrite
from .dtypes import DTYPES, SAFETENSORS_CODES, SAFETENSORS_SPEC_NAMES, RawTensor, name_of_numpy
from .errors import WeightFormatError

MAX_HEADER_SIZE = 100_000_000  # bytes; the reference's MAX_HEADER_SIZE
_LEN_BYTES = 8  # the u64 header length
_U64_MAX = 2**64 - 1  # offsets and dimensions are usize in the reference
_METADATA_KEY = "__metadata__"


@dataclass(frozen=True)
class TensorInfo:
    """What the header says about one tensor."""

    name: str
    dtype: str  # our short name (f32, bf16, ...)
    code: str  # as written in the file (F32, BF16, ...)
    shape: tuple[int, ...]
    begin: int  # byte offsets within the data section
    end: int

    @property
    def nbytes(self) -> int:
        return self.end - self.begin


@dataclass(frozen=True)
class Header:
    """A validated header: tensors in file order, the free-form metadata, where data starts."""

    tensors: dict[str, TensorInfo]
    metadata: dict[str, str] | None
    data_start: int  # absolute file offset of the data section
    file_size: int


# --------------------------------------------------------------------------- reading


def read_header(path: str | os.PathLike[str]) -> Header:
    """Read and fully validate a safetensors header. Raises WeightFormatError."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            file_size = os.fstat(f.fileno()).st_size
            prefix = f.read(_LEN_BYTES)
            if len(prefix) < _LEN_BYTES:
                raise WeightFormatError(
                    path,
                    f"file is {file_size} bytes, too small to hold the 8-byte header length "
                    "(not a safetensors file?)",
                )
            n = int.from_bytes(prefix, "little")
            if n > MAX_HEADER_SIZE:
                raise WeightFormatError(
                    path,
                    f"header length {n} bytes exceeds the {MAX_HEADER_SIZE}-byte (100 MB) limit "
                    "(corrupt, or not a safetensors file)",
                )
            if _LEN_BYTES + n > file_size:
                raise WeightFormatError(
                    path,
                    f"header length {n} bytes runs past the end of the file "
                    f"({file_size} bytes; truncated download?)",
                )
            header_bytes = f.read(n)
    except OSError as e:
        raise WeightFormatError(path, f"cannot read file: {e.strerror or e}") from e
    header = _parse_header(path, header_bytes)
    tensors, data_end = _validate_layout(path, header)
    data_start = _LEN_BYTES + n
    if data_start + data_end != file_size:
        actual = file_size - data_start
        if actual > data_end:
            problem = (
                f"{actual - data_end} trailing bytes after the last tensor "
                f"(data section is {actual} bytes, tensors cover {data_end})"
            )
        else:
            problem = (
                f"file is truncated: tensors need {data_end} bytes of data but only "
                f"{actual} are present"
            )
        raise WeightFormatError(path, f"incomplete or oversized data section: {problem}")
    metadata = header.get(_METADATA_KEY)
    return Header(tensors, metadata, data_start, file_size)


def _reject_constant(token: str) -> Any:
    raise ValueError(f"{token} is not valid JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


class _DuplicateKey(ValueError):
    pass


def _parse_header(path: str, header_bytes: bytes) -> dict[str, Any]:
    try:
        text = header_bytes.decode("utf-8")
    except UnicodeDecodeError as e:
        raise WeightFormatError(
            path, f"header is not valid UTF-8 (byte {e.start + _LEN_BYTES} of the file)"
        ) from e
    try:
        header = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except _DuplicateKey as e:
        raise WeightFormatError(path, f"header names tensor {e.args[0]!r} more than once") from e
    except ValueError as e:  # json.JSONDecodeError is a ValueError
        raise WeightFormatError(path, f"header is not valid JSON: {e}") from e
    if not isinstance(header, dict):
        raise WeightFormatError(
            path, f"header must be a JSON object, found {type(header).__name__}"
        )
    metadata = header.get(_METADATA_KEY)
    # The reference reads it as Option<HashMap<String, String>>: null or a map of strings.
    if metadata is not None and not (
        isinstance(metadata, dict) and all(isinstance(v, str) for v in metadata.values())
    ):
        raise WeightFormatError(
            path, f'header "{_METADATA_KEY}" must map strings to strings, got {metadata!r:.200}'
        )
    return header


def _is_usize(value: Any) -> bool:
    # JSON true/false are Python ints; the reference's usize fields reject them.
    return type(value) is int and 0 <= value <= _U64_MAX


def _tensor_info(path: str, name: str, entry: Any) -> TensorInfo:
    where = f"tensor {name!r}"
    if not isinstance(entry, dict):
        raise WeightFormatError(
            path, f"header entry for {where} must be an object, got {type(entry).__name__}"
        )
    for field in ("dtype", "shape", "data_offsets"):
        if field not in entry:
            raise WeightFormatError(path, f"header entry for {where} is missing {field!r}")
    code = entry["dtype"]
    if not isinstance(code, str) or code not in SAFETENSORS_CODES:
        raise WeightFormatError(
            path,
            f"{where} has unknown dtype {code!r} (known: {', '.join(SAFETENSORS_CODES)})",
        )
    shape = entry["shape"]
    if not isinstance(shape, list) or not all(_is_usize(d) for d in shape):
        raise WeightFormatError(
            path,
            f"{where} has an invalid shape {shape!r}: expected a list of non-negative integers",
        )
    offsets = entry["data_offsets"]
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(map(_is_usize, offsets))):
        raise WeightFormatError(
            path,
            f"{where} has invalid data_offsets {offsets!r}: expected [begin, end] "
            "non-negative integers",
        )
    return TensorInfo(name, SAFETENSORS_CODES[code], code, tuple(shape), offsets[0], offsets[1])


def _validate_layout(path: str, header: dict[str, Any]) -> tuple[dict[str, TensorInfo], int]:
    """The reference's Metadata::validate: tensors, sorted by offsets, tile the data section."""
    infos = [_tensor_info(path, k, v) for k, v in header.items() if k != _METADATA_KEY]
    infos.sort(key=lambda t: (t.begin, t.end))  # stable, like the reference's sort_by_key
    start = 0
    previous: TensorInfo | None = None
    for info in infos:
        where = f"tensor {info.name!r}"
        if info.end < info.begin:
            raise WeightFormatError(
                path, f"{where} has data_offsets [{info.begin}, {info.end}]: end before begin"
            )
        if info.begin > start:
            raise WeightFormatError(
                path,
                f"invalid offset for {where}: it starts at byte {info.begin} of the data section "
                f"but the previous tensor ends at {start}; bytes {start}..{info.begin} belong to "
                "no tensor (tensors must be contiguous)",
            )
        if info.begin < start:
            raise WeightFormatError(
                path,
                f"invalid offset for {where}: data_offsets [{info.begin}, {info.end}] overlap "
                f"tensor {previous.name!r} (which ends at byte {start})",  # type: ignore[union-attr]
            )
        start = info.end
        previous = info
        # Multiply left to right and fail on the first product past u64, exactly like the
        # reference's checked_mul fold (so [2**40, 2**40, 0] overflows there and here).
        numel = 1
        overflow = False
        for dim in info.shape:
            numel *= dim
            overflow = overflow or numel > _U64_MAX
        nbits = numel * DTYPES[info.dtype].bits
        if overflow or nbits > _U64_MAX:
            raise WeightFormatError(
                path, f"{where} shape {list(info.shape)} overflows the size computation"
            )
        if nbits % 8:
            raise WeightFormatError(
                path,
                f"{where} of {info.code} with shape {list(info.shape)} does not end on a byte "
                f"boundary ({nbits} bits)",
            )
        if info.nbytes != nbits // 8:
            raise WeightFormatError(
                path,
                f"{where}: data_offsets [{info.begin}, {info.end}] cover {info.nbytes} bytes but "
                f"{info.code} x {list(info.shape)} needs {nbits // 8} bytes",
            )
    return {info.name: info for info in infos}, start


def _reference_check(path: str, expected: Mapping[str, TensorInfo]) -> None:
    """Let the safetensors package parse the same header; it must agree with us."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(path, framework="numpy") as f:
            names = set(f.keys())
    except SafetensorError as e:
        raise WeightFormatError(path, f"rejected by the safetensors package: {e}") from e
    if names != set(expected):
        raise WeightFormatError(
            path, "the safetensors package reads a different set of tensor names than the header"
        )


class SafetensorsIndex(Mapping[str, Any]):
    """Lazy view of a safetensors file: names, shapes and dtypes without reading data.

    ``index[name]`` loads that one tensor as an engine Tensor (only its pages of the
    memory-mapped file are read); ``index.raw(name)`` / ``index.numpy(name)`` give the
    numpy array in the file's own element type (bf16 as uint16 bits). Iteration order
    is the order of the tensors in the file.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self.header = read_header(self.path)
        _reference_check(self.path, self.header.tensors)
        self._map: np.memmap | None = None

    # Mapping protocol -------------------------------------------------------------
    def __getitem__(self, name: str) -> Any:
        return self.tensor(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self.header.tensors)

    def __len__(self) -> int:
        return len(self.header.tensors)

    def __contains__(self, name: object) -> bool:
        return name in self.header.tensors

    def __repr__(self) -> str:
        return f"SafetensorsIndex({self.path!r}, {len(self)} tensors)"

    # Metadata (header only) --------------------------------------------------------
    def info(self, name: str) -> TensorInfo:
        """Header entry: file dtype (``.code`` as written, ``.dtype`` short name), shape, offsets."""
        try:
            return self.header.tensors[name]
        except KeyError:
            raise KeyError(f"{self.path}: no tensor named {name!r}") from None

    def shape(self, name: str) -> tuple[int, ...]:
        return self.info(name).shape

    def dtype(self, name: str) -> Any:
        """The engine dtype ``index[name]`` will have (integer/bool types are widened)."""
        from ..dtype import from_name
        from .dtypes import ENGINE_NATIVE, WIDEN

        file_dtype = self.info(name).dtype
        if file_dtype in ENGINE_NATIVE:
            return from_name(file_dtype)
        if file_dtype in WIDEN:
            return from_name(WIDEN[file_dtype])
        raise WeightFormatError(
            self.path,
            f"tensor {name!r} has dtype {self.info(name).code}, which the engine cannot hold",
        )

    @property
    def metadata(self) -> dict[str, str] | None:
        """The header's free-form ``__metadata__`` strings, if any."""
        return self.header.metadata

    # Data -----------------------------------------------------------------------------
    def raw(self, name: str) -> RawTensor:
        """The tensor's data in the file's type, memory-mapped (bf16 as uint16 bits)."""
        info = self.info(name)
        return RawTensor(self._array(info), info.dtype)

    def numpy(self, name: str) -> np.ndarray:
        return self.raw(name).array

    def tensor(self, name: str, device: Any = "cpu") -> Any:
        """One tensor as an engine Tensor (reads only that tensor's bytes)."""
        from .convert import to_engine

        return to_engine(self.raw(name), repr(name), self.path, device)

    def _array(self, info: TensorInfo) -> np.ndarray:
        fdt = DTYPES[info.dtype]
        if fdt.numpy is None:
            raise WeightFormatError(
                self.path,
                f"tensor {info.name!r} has dtype {info.code}, which numpy and the engine "
                "cannot represent",
            )
        if self._map is None:
            # mode "c": copy-on-write; writes stay in memory, the file is never modified.
            self._map = np.memmap(self.path, dtype=np.uint8, mode="c")
            if self._map.size != self.header.file_size:
                raise WeightFormatError(self.path, "file changed size while being read")
        start = self.header.data_start + info.begin
        # np.asarray drops the memmap subclass; the view still holds the map open.
        raw = np.asarray(self._map[start : start + info.nbytes])
        array = raw.view(fdt.numpy)
        if not array.flags.aligned:
            array = array.copy()  # odd offsets from hand-made files; kernels want alignment
        if fdt.numpy.byteorder == "<" and not np.little_endian:
            array = array.astype(fdt.numpy.newbyteorder("="))
        return array.reshape(info.shape)


def safetensors_index(path: str | os.PathLike[str]) -> SafetensorsIndex:
    """Open a safetensors file lazily (validated header; no tensor data read)."""
    return SafetensorsIndex(path)


def read_safetensors(path: str | os.PathLike[str]) -> dict[str, RawTensor]:
    """All tensors of a file as memory-mapped numpy arrays in file order."""
    index = SafetensorsIndex(path)
    return {name: index.raw(name) for name in index}


# --------------------------------------------------------------------------- writing


def _as_raw(name: str, value: Any) -> RawTensor:
    """A Tensor or numpy array -> contiguous little-endian RawTensor."""
    if isinstance(value, RawTensor):
        raw = value
    elif isinstance(value, np.ndarray):
        dtype = name_of_numpy(value.dtype)
        if dtype is None:
            raise TypeError(f"tensor {name!r}: numpy dtype {value.dtype} cannot be saved")
        raw = RawTensor(value, dtype)
    else:
        from .convert import from_engine

        raw = from_engine(value, name)
    if raw.dtype not in SAFETENSORS_SPEC_NAMES:
        raise TypeError(f"tensor {name!r}: dtype {raw.dtype} cannot be saved as safetensors")
    # Little-endian, C order; keeps 0-d arrays 0-d (np.ascontiguousarray would not).
    array = np.require(raw.array, dtype=DTYPES[raw.dtype].numpy, requirements="C")
    return RawTensor(array, raw.dtype)


def save_safetensors(
    tensors: Mapping[str, Any],
    path: str | os.PathLike[str],
    metadata: Mapping[str, str] | None = None,
) -> None:
    """Write tensors (engine Tensors or numpy arrays) to a safetensors file, atomically.

    The file is written by the ``safetensors`` package to a temporary file next to
    ``path`` and moved into place with ``os.replace``: a reader (or a crash) never sees
    a half-written file, and an existing file is only replaced by a complete one.
    """
    from safetensors import SafetensorError, TensorSpec, serialize_file

    if metadata is not None:
        bad = {k: v for k, v in metadata.items() if not (isinstance(k, str) and isinstance(v, str))}
        if bad:
            raise TypeError(f"safetensors metadata must map str to str; bad entries: {bad!r:.200}")
        metadata = dict(metadata)
    raws: dict[str, RawTensor] = {}
    for name, value in tensors.items():
        if not isinstance(name, str):
            raise TypeError(f"tensor names must be strings, got {name!r}")
        if name == _METADATA_KEY:
            raise ValueError(f"{_METADATA_KEY!r} is reserved and cannot name a tensor")
        raws[name] = _as_raw(name, value)
    # TensorSpec holds raw pointers: `raws` keeps every array alive until the write ends.
    specs = {
        name: TensorSpec(
            dtype=SAFETENSORS_SPEC_NAMES[raw.dtype],
            shape=list(raw.array.shape),
            data_ptr=raw.array.ctypes.data,
            data_len=raw.array.nbytes,
        )
        for name, raw in raws.items()
    }
    target = Path(path)
    # AtomicWrite names a fresh file next to the target; the package may write through a
    # private 0600 temp file of its own, so the mode is set again before the move.
    with AtomicWrite(target, suffix=".tmp") as tmp:
        try:
            serialize_file(specs, os.fspath(tmp), metadata=metadata)
        except SafetensorError as e:
            raise WeightFormatError(target, f"cannot write safetensors: {e}") from e
    del raws
