"""PyTorch checkpoints (.bin/.pt) read without torch and without running pickle code.

A ``torch.save`` file is a pickle. Unpickling normally imports and calls whatever the
file names, so a malicious checkpoint can run ``os.system``. We unpickle with
``RestrictedUnpickler``: its ``find_class`` resolves only the few names torch uses to
describe tensors (``torch._utils._rebuild_tensor_v2`` and friends, the storage types,
torch dtypes, ``collections.OrderedDict``) and maps each one to a harmless stand-in
defined here. Any other name -- ``os.system``, ``builtins.eval``, a torch function we
do not know -- raises WeightFormatError before anything is called. torch itself is
never imported.

Storage bytes are located by the pickle's persistent ids and read with numpy:

* zip archives (torch >= 1.6): ``<prefix>/data.pkl`` plus one ``<prefix>/data/<key>``
  entry per storage, stored uncompressed; they are memory-mapped straight out of the
  zip. ``<prefix>/byteorder`` says "little" or "big".
* the legacy stream (``_use_new_zipfile_serialization=False``): a magic number,
  protocol version and sys_info pickle, the main pickle, a list of storage keys,
  then each storage as an int64 element count followed by its bytes.

The old tar layout (torch < 0.4) is recognised and refused with a clear message.
"""

from __future__ import annotations

import io
import math
import os
import pickle
import struct
import tarfile
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from .dtypes import DTYPES, RawTensor
from .errors import WeightFormatError

# torch.<X>Storage class name -> element type. "untyped" storages are plain bytes whose
# element type comes with each tensor (_rebuild_tensor_v3).
_STORAGE_TYPES = {
    "FloatStorage": "f32",
    "DoubleStorage": "f64",
    "HalfStorage": "f16",
    "BFloat16Storage": "bf16",
    "LongStorage": "i64",
    "IntStorage": "i32",
    "ShortStorage": "i16",
    "CharStorage": "i8",
    "ByteStorage": "u8",
    "BoolStorage": "bool",
    "ComplexFloatStorage": "c64",
    "ComplexDoubleStorage": "c128",
}

# torch.<dtype> global names (what a torch.dtype pickles as) -> element type.
_TORCH_DTYPES = {
    "float32": "f32",
    "float64": "f64",
    "float16": "f16",
    "bfloat16": "bf16",
    "int64": "i64",
    "int32": "i32",
    "int16": "i16",
    "int8": "i8",
    "uint8": "u8",
    "bool": "bool",
    "uint16": "u16",
    "uint32": "u32",
    "uint64": "u64",
    "complex64": "c64",
    "complex128": "c128",
    "float8_e5m2": "f8_e5m2",
    "float8_e4m3fn": "f8_e4m3",
    "float8_e5m2fnuz": "f8_e5m2fnuz",
    "float8_e4m3fnuz": "f8_e4m3fnuz",
    "float8_e8m0fnu": "f8_e8m0",
}

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
_ZIP_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature ... name length, extra length


class _Refused(WeightFormatError):
    """Raised from inside the unpickler; carries its own message through."""


class _Inert:
    """Base of every object the unpickler can hand to pickle code: pickle cannot mutate it."""

    __slots__ = ()

    def __setstate__(self, state: object) -> None:
        raise TypeError(f"{type(self).__name__} cannot take pickle state")


class _StorageType(_Inert):
    __slots__ = ("dtype", "name")

    def __init__(self, name: str, dtype: str) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "dtype", dtype)

    def __setattr__(self, key: str, value: object) -> None:
        raise TypeError("read-only")


class _TorchDType(_StorageType):
    __slots__ = ()


class _TensorType(_Inert):
    """Stands for torch.Tensor / torch.nn.Parameter in _rebuild_from_type_v2."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "name", name)

    def __setattr__(self, key: str, value: object) -> None:
        raise TypeError("read-only")


class _Storage(_Inert):
    """One storage of the checkpoint: its bytes (None until the legacy reader fills them)."""

    __slots__ = ("data", "dtype", "key", "numel")

    def __init__(self, key: str, dtype: str, numel: int, data: np.ndarray | None) -> None:
        self.key, self.dtype, self.numel, self.data = key, dtype, numel, data


class _TensorRecord(_Inert):
    """A tensor as the pickle describes it; turned into an array once all bytes are known."""

    __slots__ = ("dtype", "offset", "size", "storage", "stride")

    def __init__(self, storage: _Storage, dtype: str, offset: int, size: tuple, stride: tuple):
        self.storage, self.dtype, self.offset, self.size, self.stride = (
            storage,
            dtype,
            offset,
            size,
            stride,
        )


def _int_tuple(value: Any, what: str) -> tuple[int, ...]:
    if not isinstance(value, (tuple, list)) or not all(type(v) is int for v in value):
        raise _Refused("<pickle>", f"{what} must be a tuple of integers, got {value!r:.100}")
    return tuple(value)


def _tensor_record(storage: Any, offset: Any, size: Any, stride: Any, dtype: str) -> _TensorRecord:
    if not isinstance(storage, _Storage):
        raise _Refused("<pickle>", "tensor rebuilt from something that is not a storage")
    if type(offset) is not int:
        raise _Refused("<pickle>", f"storage offset must be an integer, got {offset!r:.100}")
    size = _int_tuple(size, "tensor size")
    stride = _int_tuple(stride, "tensor stride")
    return _TensorRecord(storage, dtype, offset, size, stride)


# The stand-ins for torch's rebuild functions. They only record what the pickle says.
def _rebuild_tensor_v2(
    storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None
):
    if isinstance(storage, _Storage) and storage.dtype == "untyped":
        raise _Refused("<pickle>", "_rebuild_tensor_v2 on an untyped storage")
    dtype = storage.dtype if isinstance(storage, _Storage) else ""
    return _tensor_record(storage, storage_offset, size, stride, dtype)


def _rebuild_tensor_v3(
    storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype, metadata=None
):
    if not isinstance(dtype, _TorchDType):
        raise _Refused("<pickle>", f"_rebuild_tensor_v3 needs a torch dtype, got {dtype!r:.100}")
    if isinstance(storage, _Storage) and storage.dtype != "untyped":
        raise _Refused("<pickle>", "_rebuild_tensor_v3 on a typed storage")
    return _tensor_record(storage, storage_offset, size, stride, dtype.dtype)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None):
    if not isinstance(data, _TensorRecord):
        raise _Refused("<pickle>", "a Parameter must wrap a tensor")
    return data


def _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
    return _rebuild_parameter(data)


_REBUILDERS = (
    _rebuild_tensor_v2,
    _rebuild_tensor_v3,
    _rebuild_parameter,
    _rebuild_parameter_with_state,
)


def _rebuild_from_type_v2(func, new_type, args, state):
    # torch uses this for tensors that carry Python attributes; we keep only the tensor.
    if func not in _REBUILDERS or not isinstance(new_type, _TensorType):
        raise _Refused("<pickle>", "_rebuild_from_type_v2 with something other than a tensor")
    if not isinstance(args, tuple):
        raise _Refused("<pickle>", "_rebuild_from_type_v2 arguments must be a tuple")
    return func(*args)


def _torch_size(dims=()):
    return _int_tuple(dims, "torch.Size")


def _codecs_encode(text, encoding="utf-8"):
    # Protocol-2 pickles spell bytes objects as _codecs.encode(str, "latin1").
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise _Refused("<pickle>", "_codecs.encode used for something other than bytes")
    return text.encode("latin1")


def _allowed_globals() -> dict[tuple[str, str], Any]:
    allowed: dict[tuple[str, str], Any] = {
        ("collections", "OrderedDict"): OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
        ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor_v3,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter_with_state,
        ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
        ("torch", "Size"): _torch_size,
        ("torch", "Tensor"): _TensorType("Tensor"),
        ("torch.nn.parameter", "Parameter"): _TensorType("Parameter"),
        ("_codecs", "encode"): _codecs_encode,
        ("torch", "UntypedStorage"): _StorageType("UntypedStorage", "untyped"),
        ("torch.storage", "UntypedStorage"): _StorageType("UntypedStorage", "untyped"),
    }
    for name, dtype in _STORAGE_TYPES.items():
        allowed["torch", name] = _StorageType(name, dtype)
    for name, dtype in _TORCH_DTYPES.items():
        allowed["torch", name] = _TorchDType(name, dtype)
    return allowed


_ALLOWED = _allowed_globals()


class RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler that can only rebuild tensors.

    ``find_class`` returns stand-ins from an allow-list of exact (module, name) pairs
    and refuses everything else; ``persistent_load`` hands storage ids to ``load_storage``
    (or refuses them when None). Nothing from the file is ever imported or executed.
    """

    def __init__(
        self,
        file: io.BufferedIOBase,
        path: str,
        load_storage: Callable[[tuple], _Storage] | None = None,
    ) -> None:
        super().__init__(file)
        self._path = path
        self._load_storage = load_storage

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[module, name]
        except (KeyError, TypeError):
            raise _Refused(
                self._path,
                f"refusing to unpickle: the file references {module}.{name}, which is not "
                "needed to rebuild tensors (a weights file must only hold tensors; this one "
                "could run code)",
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        if self._load_storage is None:
            raise _Refused(self._path, "unexpected persistent id in a header pickle")
        if not isinstance(pid, tuple) or not pid or pid[0] != "storage":
            raise _Refused(self._path, f"unsupported persistent id {pid!r:.100}")
        return self._load_storage(pid)


def _check_storage_pid(path: str, pid: tuple, length: int) -> tuple[_StorageType, str, int]:
    if len(pid) != length:
        raise _Refused(path, f"malformed storage id {pid!r:.100}")
    storage_type, key, numel = pid[1], pid[2], pid[4]
    if not isinstance(storage_type, _StorageType) or isinstance(storage_type, _TorchDType):
        raise _Refused(path, f"storage id names {storage_type!r:.60}, not a storage type")
    if not isinstance(key, str) or type(numel) is not int or numel < 0:
        raise _Refused(path, f"malformed storage id {pid!r:.100}")
    return storage_type, key, numel


def _itemsize(dtype: str) -> int:
    return 1 if dtype == "untyped" else DTYPES[dtype].bits // 8


# --------------------------------------------------------------------------- zip archives


def _read_zip(path: str) -> tuple[Any, str]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise WeightFormatError(path, f"not a readable zip archive: {e}") from e
    with archive:
        names = archive.namelist()
        pickles = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
        if any(n.endswith("/constants.pkl") or "/code/" in n for n in names):
            # torch.jit.save: the pickle rebuilds TorchScript modules, not tensors.
            raise WeightFormatError(
                path,
                "this is a TorchScript archive (torch.jit.save), not a saved state dict; "
                "save model.state_dict() with torch.save instead",
            )
        if len(pickles) != 1:
            raise WeightFormatError(
                path,
                "not a PyTorch checkpoint: expected exactly one <name>/data.pkl in the zip, "
                f"found {len(pickles)}",
            )
        prefix = pickles[0][: -len("data.pkl")]
        byteorder = "little"
        if prefix + "byteorder" in names:
            byteorder = archive.read(prefix + "byteorder").decode("ascii", "replace").strip()
            if byteorder not in ("little", "big"):
                raise WeightFormatError(path, f"unknown byteorder record {byteorder!r}")
        file_map: np.memmap | None = None
        storages: dict[str, _Storage] = {}

        def entry_bytes(info: zipfile.ZipInfo) -> np.ndarray:
            nonlocal file_map
            if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
                # Re-zipped with compression (or encrypted): read it into memory instead.
                return np.frombuffer(bytearray(archive.read(info)), dtype=np.uint8)
            if file_map is None:
                file_map = np.memmap(path, dtype=np.uint8, mode="c")  # copy-on-write
            at = info.header_offset
            local = bytes(file_map[at : at + _ZIP_LOCAL_HEADER.size])
            if len(local) != _ZIP_LOCAL_HEADER.size:
                raise WeightFormatError(
                    path, f"zip entry {info.filename} lies past the end of the file"
                )
            signature, name_len, extra_len = _ZIP_LOCAL_HEADER.unpack(local)
            if signature != b"PK\x03\x04":
                raise WeightFormatError(
                    path, f"zip entry {info.filename} has a corrupt local header"
                )
            start = at + _ZIP_LOCAL_HEADER.size + name_len + extra_len
            if start + info.file_size > file_map.size:
                raise WeightFormatError(path, f"zip entry {info.filename} is truncated")
            return np.asarray(file_map[start : start + info.file_size])

        def load_storage(pid: tuple) -> _Storage:
            storage_type, key, numel = _check_storage_pid(path, pid, 5)
            cached = storages.get(key)
            if cached is not None:
                if cached.dtype != storage_type.dtype:
                    raise _Refused(path, f"storage {key} is used with two different types")
                return cached
            member = f"{prefix}data/{key}"
            try:
                info = archive.getinfo(member)
            except KeyError:
                raise _Refused(path, f"storage {key} has no {member} entry in the zip") from None
            expected = numel * _itemsize(storage_type.dtype)
            if info.file_size != expected:
                raise _Refused(
                    path,
                    f"storage {member} holds {info.file_size} bytes but the pickle describes "
                    f"{numel} elements of {storage_type.name} ({expected} bytes)",
                )
            storage = _Storage(key, storage_type.dtype, numel, entry_bytes(info))
            storages[key] = storage
            return storage

        pickled = io.BytesIO(archive.read(pickles[0]))
        result = _unpickle(path, RestrictedUnpickler(pickled, path, load_storage))
    return result, byteorder


def _unpickle(path: str, unpickler: RestrictedUnpickler) -> Any:
    try:
        return unpickler.load()
    except _Refused as e:
        raise WeightFormatError(path, e.problem) from None
    except WeightFormatError:
        raise
    except (
        pickle.UnpicklingError,
        EOFError,
        TypeError,
        AttributeError,
        ValueError,
        KeyError,
        IndexError,
        OverflowError,
        RecursionError,
        struct.error,
        UnicodeDecodeError,
    ) as e:
        raise WeightFormatError(
            path, f"corrupt or unsupported pickle data: {type(e).__name__}: {e}"
        ) from e


# --------------------------------------------------------------------------- legacy stream


def _read_legacy(path: str) -> tuple[Any, str]:
    storages: dict[str, _Storage] = {}

    def load_storage(pid: tuple) -> _Storage:
        storage_type, key, numel = _check_storage_pid(path, pid, 6)
        if pid[5] is not None:
            raise _Refused(
                path,
                "storage views in the legacy format are not supported; re-save "
                "the checkpoint with a current torch.save",
            )
        cached = storages.get(key)
        if cached is None:
            cached = storages[key] = _Storage(key, storage_type.dtype, numel, None)
        elif cached.dtype != storage_type.dtype:
            raise _Refused(path, f"storage {key} is used with two different types")
        return cached

    not_a_checkpoint = (
        "not a PyTorch checkpoint (neither a torch zip archive nor the legacy format)"
    )
    with open(path, "rb") as f:
        header = RestrictedUnpickler(f, path)
        try:
            magic = header.load()
        except Exception:  # noqa: BLE001 -- any failure here means "some other file"
            magic = None
        if type(magic) is not int or magic != _LEGACY_MAGIC:
            raise WeightFormatError(path, not_a_checkpoint)
        protocol = _unpickle(path, header)
        if protocol != _LEGACY_PROTOCOL:
            raise WeightFormatError(path, f"unsupported legacy protocol version {protocol!r:.40}")
        sys_info = _unpickle(path, header)
        little = sys_info.get("little_endian", True) if isinstance(sys_info, dict) else True
        result = _unpickle(path, RestrictedUnpickler(f, path, load_storage))
        keys = _unpickle(path, RestrictedUnpickler(f, path))
        data_start = f.tell()
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise WeightFormatError(path, "malformed storage key list")
    file_map = np.memmap(path, dtype=np.uint8, mode="c")
    at = data_start
    for key in keys:
        # Each storage: int64 element count (little-endian), then the elements.
        if key not in storages:
            raise WeightFormatError(path, f"storage {key} is listed but never used")
        storage = storages[key]
        if at + 8 > file_map.size:
            raise WeightFormatError(path, f"file ends before storage {key}")
        count = int.from_bytes(bytes(file_map[at : at + 8]), "little", signed=True)
        nbytes = count * _itemsize(storage.dtype)
        if count != storage.numel:
            raise WeightFormatError(
                path, f"storage {key} holds {count} elements but the pickle says {storage.numel}"
            )
        at += 8
        if at + nbytes > file_map.size:
            raise WeightFormatError(path, f"storage {key} is truncated")
        storage.data = np.asarray(file_map[at : at + nbytes])
        at += nbytes
    missing = [k for k, s in storages.items() if s.data is None]
    if missing:
        raise WeightFormatError(path, f"storages {missing[:5]} have no data in the file")
    return result, "little" if little else "big"


# --------------------------------------------------------------------------- tensors


def _materialize(path: str, name: str, record: _TensorRecord, byteorder: str) -> RawTensor:
    """The numpy array a tensor record describes, checked against its storage's bounds."""
    where = f"tensor {name!r}"
    fdt = DTYPES.get(record.dtype)
    if fdt is None or fdt.numpy is None:
        raise WeightFormatError(
            path, f"{where} has element type {record.dtype}, which numpy cannot hold"
        )
    dtype = (
        fdt.numpy.newbyteorder(">") if byteorder == "big" and fdt.numpy.itemsize > 1 else fdt.numpy
    )
    data = record.storage.data
    assert data is not None
    if data.size % dtype.itemsize:
        raise WeightFormatError(path, f"{where}: storage size is not a multiple of {record.dtype}")
    typed = data.view(dtype)
    size, stride, offset = record.size, record.stride, record.offset
    if (
        len(size) != len(stride)
        or offset < 0
        or any(d < 0 for d in size)
        or any(s < 0 for s in stride)
    ):
        raise WeightFormatError(
            path, f"{where} has an invalid size {size} / stride {stride} / offset {offset}"
        )
    numel = math.prod(size)
    if numel == 0:
        array = np.empty(size, dtype)
    else:
        last = offset + sum((d - 1) * s for d, s in zip(size, stride))
        if last >= typed.size:
            raise WeightFormatError(
                path,
                f"{where} (size {size}, stride {stride}, offset {offset}) reaches element {last} "
                f"of a storage that holds {typed.size}",
            )
        contiguous = tuple(math.prod(size[i + 1 :]) for i in range(len(size)))
        if all(d == 1 or s == c for d, s, c in zip(size, stride, contiguous)):
            array = typed[offset : offset + numel].reshape(size)  # zero-copy
        else:
            try:  # an expanded (stride-0) tensor: materialise it, within reason
                array = np.lib.stride_tricks.as_strided(
                    typed[offset:],
                    shape=size,
                    strides=[s * dtype.itemsize for s in stride],
                    writeable=False,
                ).copy()
            except (ValueError, MemoryError) as e:
                raise WeightFormatError(
                    path, f"{where} of size {size} cannot be materialised: {e}"
                ) from None
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    elif not array.flags.aligned:
        array = array.copy()
    return RawTensor(array, record.dtype)


def _collect(
    path: str, obj: Any, prefix: str, out: dict[str, _TensorRecord], seen: set[int] | None = None
) -> None:
    """Tensors of a (nested) checkpoint by dotted name; other values (epoch, config) are skipped."""
    seen = set() if seen is None else seen
    if isinstance(obj, (dict, list, tuple)):
        if id(obj) in seen:  # pickles can build a container that contains itself
            raise WeightFormatError(path, f"the checkpoint's containers form a cycle at {prefix!r}")
        seen = seen | {id(obj)}
    if isinstance(obj, _TensorRecord):
        if prefix in out:
            raise WeightFormatError(path, f"two tensors flatten to the same name {prefix!r}")
        out[prefix] = obj
    elif isinstance(obj, dict):
        for key, value in obj.items():
            _collect(path, value, f"{prefix}.{key}" if prefix else str(key), out, seen)
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            _collect(path, value, f"{prefix}.{i}" if prefix else str(i), out, seen)


def read_torch(path: str | os.PathLike[str], key: str | None = None) -> dict[str, RawTensor]:
    """Tensors of a PyTorch checkpoint as numpy arrays in their file types, by name.

    A state dict gives its own names. Nested dicts and lists are flattened with dots
    (``{"model": {"w": t}}`` -> ``"model.w"``); non-tensor values are skipped. ``key``
    selects one top-level entry first (``key="state_dict"`` for training checkpoints).
    A file holding a single tensor returns it under the name ``""``.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise WeightFormatError(path, "no such file")
    # The order torch.load tries: zip archive, then the tar layout, then the legacy stream.
    if zipfile.is_zipfile(path):
        obj, byteorder = _read_zip(path)
    elif _is_tar(path):
        raise WeightFormatError(
            path,
            "this is the tar-based format of torch < 0.4, which is not supported; "
            "re-save the checkpoint with a current torch.save",
        )
    else:
        obj, byteorder = _read_legacy(path)
    if key is not None:
        if not isinstance(obj, dict) or key not in obj:
            keys = list(obj)[:20] if isinstance(obj, dict) else []
            raise WeightFormatError(path, f"no top-level entry {key!r} (entries: {keys})")
        obj = obj[key]
    records: dict[str, _TensorRecord] = {}
    _collect(path, obj, "", records)
    if not records:
        raise WeightFormatError(path, "the checkpoint holds no tensors")
    return {name: _materialize(path, name, rec, byteorder) for name, rec in records.items()}


def _is_tar(path: str) -> bool:
    try:
        return tarfile.is_tarfile(path)
    except OSError:
        return False
