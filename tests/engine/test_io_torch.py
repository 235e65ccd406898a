"""PyTorch checkpoints through the restricted unpickler.

Valid files are written by torch.save (torch is only a test-time reference). Hostile
files are crafted by hand -- a zip laid out exactly like torch.save's, whose pickle
asks for os.system, builtins.eval, ... -- and must be refused with nothing executed.
"""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
import tarfile
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

from engine.dtype import bf16_bits_to_f32 as f32_from_bf16_bits
from engine.io import WeightFormatError, read_torch

REPO = Path(__file__).resolve().parents[2]


# ----------------------------------------------------------------------------- crafting files


class _Global:
    """Pickles as a bare reference to module.name (what a hostile file would contain)."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name


class _Call:
    """Pickles as module.name(*args) -- the REDUCE a malicious checkpoint uses."""

    def __init__(self, module: str, name: str, *args: object) -> None:
        self.func, self.args = _Global(module, name), args

    def __reduce__(self):
        return (self.func, self.args)


class _Persistent:
    """BINPERSID: a persistent id, as torch.save writes for each storage."""

    def __init__(self, pid: tuple) -> None:
        self.pid = pid


def craft_pickle(obj: object) -> bytes:
    """Serialise obj; every _Global becomes a GLOBAL 'module name' opcode (nothing imported)."""
    return _GlobalWriter().dumps(obj)


class _GlobalWriter:
    """Tiny protocol-2 pickle writer for the structures the tests need."""

    def dumps(self, obj: object) -> bytes:
        out = bytearray(b"\x80\x02")
        self._write(obj, out)
        out += b"."
        return bytes(out)

    def _write(self, obj: object, out: bytearray) -> None:
        if isinstance(obj, _Global):
            out += b"c" + obj.module.encode() + b"\n" + obj.name.encode() + b"\n"
        elif isinstance(obj, _Call):
            self._write(obj.func, out)
            self._write(tuple(obj.args), out)
            out += b"R"
        elif isinstance(obj, _Persistent):
            self._write(obj.pid, out)
            out += b"Q"
        elif isinstance(obj, _Build):
            self._write(obj.target, out)
            self._write(obj.state, out)
            out += b"b"
        elif isinstance(obj, (str, int, bool, type(None), float, bytes)):
            out += pickle.dumps(obj, protocol=2)[2:-1]
        elif isinstance(obj, tuple):
            out += b"("
            for item in obj:
                self._write(item, out)
            out += b"t"
        elif isinstance(obj, list):
            out += b"]("
            for item in obj:
                self._write(item, out)
            out += b"e"
        elif isinstance(obj, dict):
            out += b"}("
            for key, value in obj.items():
                self._write(key, out)
                self._write(value, out)
            out += b"u"
        else:
            raise TypeError(type(obj))


class _Build:
    """BUILD opcode: target.__setstate__(state) / target.__dict__.update(state)."""

    def __init__(self, target: object, state: object) -> None:
        self.target, self.state = target, state


def torch_like_zip(
    path: Path,
    data_pkl: bytes,
    storages: dict[str, bytes] | None = None,
    byteorder: str | None = "little",
    prefix: str = "archive",
) -> Path:
    """A zip laid out exactly like torch.save's (uncompressed entries under one prefix)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr(f"{prefix}/data.pkl", data_pkl)
        if byteorder is not None:
            z.writestr(f"{prefix}/byteorder", byteorder)
        for key, data in (storages or {}).items():
            z.writestr(f"{prefix}/data/{key}", data)
        z.writestr(f"{prefix}/version", "3\n")
    return path


def tensor_v2(
    storage_type: str, key: str, numel: int, offset: int, size: tuple, stride: tuple
) -> _Call:
    storage = _Persistent(("storage", _Global("torch", storage_type), key, "cpu", numel))
    return _Call(
        "torch._utils",
        "_rebuild_tensor_v2",
        storage,
        offset,
        size,
        stride,
        False,
        _Call("collections", "OrderedDict"),
    )


# ----------------------------------------------------------------------------- hostile files

MARKER_COMMANDS = {
    "os.system": lambda marker: _Call("os", "system", f"touch {marker}"),
    "posix.system": lambda marker: _Call("posix", "system", f"touch {marker}"),
    "builtins.eval": lambda marker: _Call(
        "builtins", "eval", f"open({str(marker)!r}, 'w').close()"
    ),
    "builtins.exec": lambda marker: _Call(
        "builtins", "exec", f"open({str(marker)!r}, 'w').close()"
    ),
    "subprocess.call": lambda marker: _Call("subprocess", "call", ["touch", str(marker)]),
    "builtins.getattr chain": lambda marker: _Call(
        "builtins", "getattr", _Global("os", "path"), "join"
    ),
    "torch.load (real torch function)": lambda marker: _Call("torch", "load", str(marker)),
    "numpy reconstruct": lambda marker: _Call(
        "numpy.core.multiarray", "_reconstruct", _Global("numpy", "ndarray"), (0,), b"b"
    ),
}


@pytest.mark.parametrize("attack", sorted(MARKER_COMMANDS))
def test_hostile_zip_checkpoint_is_refused_and_nothing_runs(tmp_path: Path, attack: str) -> None:
    marker = tmp_path / "pwned"
    payload = OrderedDict(weight=MARKER_COMMANDS[attack](marker))
    path = torch_like_zip(tmp_path / "evil.bin", craft_pickle(payload))
    with pytest.raises(WeightFormatError) as info:
        read_torch(path)
    assert str(info.value).startswith(f"{path}: refusing to unpickle")
    assert not marker.exists()


def test_hostile_payload_is_real(tmp_path: Path) -> None:
    # Control: the crafted payload does run a command under the stock unpickler, so the
    # refusals above are refusing something real.
    marker = tmp_path / "control"
    pickle.loads(craft_pickle(OrderedDict(weight=MARKER_COMMANDS["os.system"](marker))))
    assert marker.exists()


def test_hostile_global_hidden_in_storage_type_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    pid = _Persistent(("storage", _Call("os", "system", f"touch {marker}"), "0", "cpu", 1))
    payload = {
        "w": _Call(
            "torch._utils",
            "_rebuild_tensor_v2",
            pid,
            0,
            (1,),
            (1,),
            False,
            _Call("collections", "OrderedDict"),
        )
    }
    path = torch_like_zip(tmp_path / "evil.pt", craft_pickle(payload), {"0": b"\0" * 4})
    with pytest.raises(WeightFormatError, match="os.system"):
        read_torch(path)
    assert not marker.exists()


def test_hostile_legacy_stream_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil_legacy.pt"
    path.write_bytes(
        pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)
        + pickle.dumps(1001, protocol=2)
        + pickle.dumps({"little_endian": True}, protocol=2)
        + craft_pickle({"w": _Call("os", "system", f"touch {marker}")})
    )
    with pytest.raises(
        WeightFormatError, match="refusing to unpickle: the file references os.system"
    ):
        read_torch(path)
    assert not marker.exists()


def test_real_python_reduce_payload_is_refused(tmp_path: Path) -> None:
    # What an attacker would actually write: an object whose __reduce__ runs a command.
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = torch_like_zip(tmp_path / "evil2.bin", pickle.dumps({"w": Exploit()}, protocol=2))
    with pytest.raises(WeightFormatError, match=r"references (os|posix)\.system"):
        read_torch(path)
    assert not marker.exists()


def test_pickle_cannot_mutate_allowed_stand_ins(tmp_path: Path) -> None:
    # BUILD on the FloatStorage stand-in would poison later loads if it were allowed.
    payload = {"x": _Build(_Global("torch", "FloatStorage"), {"dtype": "f64"})}
    path = torch_like_zip(tmp_path / "build.bin", craft_pickle(payload))
    with pytest.raises(WeightFormatError, match="corrupt or unsupported pickle"):
        read_torch(path)
    payload = {"x": _Build(tensor_v2("FloatStorage", "0", 1, 0, (1,), (1,)), {"offset": 5})}
    path = torch_like_zip(tmp_path / "build2.bin", craft_pickle(payload), {"0": b"\0" * 4})
    with pytest.raises(WeightFormatError, match="corrupt or unsupported pickle"):
        read_torch(path)


def test_module_import_is_never_triggered(tmp_path: Path) -> None:
    # Refusal happens in find_class before import: a module that does not exist still
    # gets the refusal message, not ModuleNotFoundError.
    payload = {"w": _Call("tablescribe_no_such_module", "boom")}
    path = torch_like_zip(tmp_path / "m.bin", craft_pickle(payload))
    with pytest.raises(WeightFormatError, match="tablescribe_no_such_module.boom"):
        read_torch(path)


# ----------------------------------------------------------------------------- hand-made valid files


def test_crafted_checkpoint_reads_without_torch(tmp_path: Path) -> None:
    data = np.arange(6, dtype="<f4").tobytes()
    payload = OrderedDict(
        a=tensor_v2("FloatStorage", "0", 6, 0, (2, 3), (3, 1)),
        at=tensor_v2("FloatStorage", "0", 6, 0, (3, 2), (1, 3)),  # transposed view, same storage
        tail=tensor_v2("FloatStorage", "0", 6, 4, (2,), (1,)),
    )
    path = torch_like_zip(tmp_path / "ok.bin", craft_pickle(payload), {"0": data})
    out = read_torch(path)
    np.testing.assert_array_equal(out["a"].array, np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(out["at"].array, np.arange(6).reshape(2, 3).T)
    np.testing.assert_array_equal(out["tail"].array, [4, 5])


def test_big_endian_archive(tmp_path: Path) -> None:
    values = np.array([1.5, -2.0, 3.25], dtype=np.float32)
    payload = {
        "w": tensor_v2("FloatStorage", "0", 3, 0, (3,), (1,)),
        "h": tensor_v2("BFloat16Storage", "1", 2, 0, (2,), (1,)),
    }
    bf16_bits = np.array([0x3FC0, 0xC000], dtype=">u2")  # 1.5, -2.0
    path = torch_like_zip(
        tmp_path / "be.bin",
        craft_pickle(payload),
        {"0": values.astype(">f4").tobytes(), "1": bf16_bits.tobytes()},
        byteorder="big",
    )
    out = read_torch(path)
    assert out["w"].array.dtype.isnative
    np.testing.assert_array_equal(out["w"].array, values)
    np.testing.assert_array_equal(f32_from_bf16_bits(out["h"].array), [1.5, -2.0])


BAD_ARCHIVES = {
    "storage size mismatch": (
        {"w": tensor_v2("FloatStorage", "0", 4, 0, (4,), (1,))},
        {"0": b"\0" * 12},
        "holds 12 bytes but the pickle describes 4 elements of FloatStorage (16 bytes)",
    ),
    "tensor past its storage": (
        {"w": tensor_v2("FloatStorage", "0", 4, 2, (2, 2), (2, 1))},
        {"0": b"\0" * 16},
        "reaches element 5 of a storage that holds 4",
    ),
    "missing storage entry": (
        {"w": tensor_v2("FloatStorage", "7", 1, 0, (1,), (1,))},
        {},
        "storage 7 has no archive/data/7 entry",
    ),
    "negative stride": (
        {"w": tensor_v2("FloatStorage", "0", 2, 1, (2,), (-1,))},
        {"0": b"\0" * 8},
        "invalid size",
    ),
    "size/stride rank mismatch": (
        {"w": tensor_v2("FloatStorage", "0", 2, 0, (2,), (1, 1))},
        {"0": b"\0" * 8},
        "invalid size",
    ),
    "float in size": (
        {"w": tensor_v2("FloatStorage", "0", 2, 0, (2.0,), (1,))},
        {"0": b"\0" * 8},
        "tensor size must be a tuple of integers",
    ),
    "not a storage": (
        {"w": _Call("torch._utils", "_rebuild_tensor_v2", "0", 0, (1,), (1,), False, None)},
        {},
        "not a storage",
    ),
    "bad persistent id": ({"w": _Persistent(("module", "x"))}, {}, "unsupported persistent id"),
    "no tensors": ({"epoch": 3}, {}, "holds no tensors"),
    "absurd expansion": (
        {"w": tensor_v2("FloatStorage", "0", 1, 0, (2**40, 2**40), (0, 0))},
        {"0": b"\0" * 4},
        "cannot be materialised",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_ARCHIVES))
def test_malformed_archive(tmp_path: Path, case: str) -> None:
    payload, storages, message = BAD_ARCHIVES[case]
    path = torch_like_zip(tmp_path / "bad.bin", craft_pickle(payload), storages)
    with pytest.raises(WeightFormatError) as info:
        read_torch(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_not_a_checkpoint(tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"hello world, not a checkpoint")
    with pytest.raises(WeightFormatError, match="not a PyTorch checkpoint"):
        read_torch(junk)
    plain_zip = tmp_path / "plain.zip"
    with zipfile.ZipFile(plain_zip, "w") as z:
        z.writestr("readme.txt", "hi")
    with pytest.raises(WeightFormatError, match="expected exactly one <name>/data.pkl"):
        read_torch(plain_zip)
    truncated = tmp_path / "trunc.pkl.bin"
    torch_like_zip(truncated, craft_pickle({"w": 1})[:-3])
    with pytest.raises(WeightFormatError, match="corrupt or unsupported pickle"):
        read_torch(truncated)
    with pytest.raises(WeightFormatError, match="no such file"):
        read_torch(tmp_path / "absent.bin")


def test_self_containing_checkpoint(tmp_path: Path) -> None:
    cyclic: list = []
    cyclic.append(cyclic)
    path = torch_like_zip(tmp_path / "cycle.bin", pickle.dumps({"a": cyclic}, protocol=2))
    with pytest.raises(WeightFormatError, match="form a cycle at 'a.0'"):
        read_torch(path)


def test_legacy_tar_format_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "old.pt"
    with tarfile.open(path, "w") as tar:
        for name in ("storages", "tensors", "pickle"):
            info = tarfile.TarInfo(name)
            info.size = 1
            tar.addfile(info, io.BytesIO(b"\0"))
    with pytest.raises(WeightFormatError, match="tar-based format of torch < 0.4"):
        read_torch(path)


# ----------------------------------------------------------------------------- real torch.save files

try:
    import torch
except ImportError:  # the reference extra is not installed
    torch = None
needs_torch = pytest.mark.skipif(
    torch is None, reason="torch (the reference writer) is not installed"
)


def _state_dict() -> OrderedDict:
    gen = torch.Generator().manual_seed(0)
    base = torch.randn(4, 6, generator=gen)
    sd = OrderedDict()
    sd["f32"] = base
    sd["f32_t"] = base.t()  # non-contiguous view of the same storage
    sd["f32_slice"] = base[1:3, ::2]  # offset + step
    sd["f64"] = torch.randn(3, generator=gen, dtype=torch.float64)
    sd["f16"] = torch.randn(5, generator=gen).half()
    sd["bf16"] = torch.randn(2, 3, generator=gen).bfloat16()
    sd["i64"] = torch.arange(-3, 4)
    sd["i32"] = torch.arange(5, dtype=torch.int32)
    sd["i16"] = torch.tensor([-7, 7], dtype=torch.int16)
    sd["i8"] = torch.tensor([-128, 127], dtype=torch.int8)
    sd["u8"] = torch.tensor([0, 255], dtype=torch.uint8)
    sd["bool"] = torch.tensor([True, False])
    sd["u16"] = torch.tensor([1, 65535], dtype=torch.uint16)  # untyped storage + _rebuild_tensor_v3
    sd["u32"] = torch.tensor([1, 2**32 - 1], dtype=torch.uint32)
    sd["scalar"] = torch.tensor(2.5)
    sd["empty"] = torch.zeros(0, 3)
    sd["param"] = torch.nn.Parameter(torch.ones(2, 2))
    sd["expanded"] = torch.ones(1, 3).expand(2, 3)  # stride 0
    sd["tied"] = sd["f32"]  # same tensor twice, like tied embeddings
    return sd


def _as_numpy(t) -> np.ndarray:
    if t.dtype == torch.bfloat16:
        return t.detach().view(torch.int16).numpy().view(np.uint16)
    if t.dtype in (torch.uint16, torch.uint32):
        return (
            t.detach()
            .to(torch.int64)
            .numpy()
            .astype({torch.uint16: np.uint16, torch.uint32: np.uint32}[t.dtype])
        )
    return t.detach().numpy()


@needs_torch
@pytest.mark.parametrize(
    ("zip_format", "protocol"),
    [(True, 2), (False, 2), (True, 4), (False, 5)],
    ids=["zip", "legacy", "zip-protocol4", "legacy-protocol5"],
)
def test_torch_save_state_dict_round_trip(tmp_path: Path, zip_format: bool, protocol: int) -> None:
    sd = _state_dict()
    path = tmp_path / "pytorch_model.bin"
    torch.save(sd, path, _use_new_zipfile_serialization=zip_format, pickle_protocol=protocol)
    out = read_torch(path)
    assert list(out) == list(sd)
    for name, t in sd.items():
        np.testing.assert_array_equal(out[name].array, _as_numpy(t), err_msg=name)
        assert out[name].array.shape == tuple(t.shape), name
    assert out["bf16"].dtype == "bf16" and out["f16"].dtype == "f16" and out["u16"].dtype == "u16"
    assert out["bool"].array.dtype == np.bool_


@needs_torch
def test_nested_training_checkpoint(tmp_path: Path) -> None:
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.LayerNorm(2))
    path = tmp_path / "ckpt.pt"
    torch.save(
        {
            "epoch": 7,
            "name": "run-1",
            "state_dict": model.state_dict(),
            "history": [torch.tensor([0.5, 0.25])],
        },
        path,
    )
    flat = read_torch(path)
    assert set(flat) == {
        "state_dict.0.weight",
        "state_dict.0.bias",
        "state_dict.1.weight",
        "state_dict.1.bias",
        "history.0",
    }
    picked = read_torch(path, key="state_dict")
    assert set(picked) == {"0.weight", "0.bias", "1.weight", "1.bias"}
    np.testing.assert_array_equal(picked["0.weight"].array, model[0].weight.detach().numpy())
    with pytest.raises(WeightFormatError, match="no top-level entry 'model'"):
        read_torch(path, key="model")


@needs_torch
def test_module_state_dict_with_metadata_attribute(tmp_path: Path) -> None:
    # nn.Module.state_dict() carries a `_metadata` attribute restored by a BUILD opcode.
    model = torch.nn.Linear(4, 3)
    path = tmp_path / "linear.bin"
    torch.save(model.state_dict(), path)
    out = read_torch(path)
    np.testing.assert_array_equal(out["weight"].array, model.weight.detach().numpy())
    np.testing.assert_array_equal(out["bias"].array, model.bias.detach().numpy())


@needs_torch
def test_storages_are_memory_mapped_from_the_zip(tmp_path: Path) -> None:
    path = tmp_path / "m.bin"
    torch.save({"w": torch.arange(1000, dtype=torch.float32)}, path)
    before = path.read_bytes()
    w = read_torch(path)["w"].array
    assert not w.flags.owndata and w.flags.aligned
    w[:] = 0  # copy-on-write: the file is untouched
    assert path.read_bytes() == before


@needs_torch
def test_torchscript_archive_is_named(tmp_path: Path) -> None:
    path = tmp_path / "scripted.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(path))
    with pytest.raises(WeightFormatError, match="TorchScript archive"):
        read_torch(path)


@needs_torch
def test_reader_never_imports_torch(tmp_path: Path) -> None:
    path = tmp_path / "w.bin"
    torch.save(_state_dict(), path)
    code = (
        "import sys; from engine.io import read_torch; "
        f"out = read_torch({str(path)!r}); "
        "assert 'torch' not in sys.modules, 'engine.io imported torch'; print(len(out))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(len(_state_dict()))
