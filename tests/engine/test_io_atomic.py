"""engine.io.atomic: the one atomic-write helper (exports and weight files)."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

from engine.io import save_safetensors
from engine.io.atomic import AtomicWrite
from table.export.atomic import atomic_target


def _no_umask(*_args):  # the old way read the umask by setting it, process-wide
    raise AssertionError("os.umask was called: it changes the mask for every thread")


def test_writes_never_touch_the_process_umask(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "umask", _no_umask)
    with atomic_target(tmp_path / "a.csv") as tmp:
        tmp.write_text("x\n")
    save_safetensors({"w": np.ones(2, np.float32)}, tmp_path / "w.safetensors")
    with AtomicWrite(tmp_path / "b.txt") as tmp:
        tmp.write_text("y")
    assert sorted(os.listdir(tmp_path)) == ["a.csv", "b.txt", "w.safetensors"]


def test_new_file_mode_follows_the_umask_of_the_process(tmp_path):
    old = os.umask(0o027)
    try:
        with AtomicWrite(tmp_path / "n.txt") as tmp:
            tmp.write_text("n")
    finally:
        os.umask(old)
    assert (tmp_path / "n.txt").stat().st_mode & 0o777 == 0o640


def test_existing_file_keeps_its_mode_even_if_the_writer_replaced_the_temp(tmp_path):
    target = tmp_path / "keep.txt"
    target.write_text("old")
    target.chmod(0o604)
    with AtomicWrite(target) as tmp:
        tmp.unlink()  # like a library writing through a private 0600 file of its own
        fd = os.open(tmp, os.O_CREAT | os.O_WRONLY, 0o600)
        os.write(fd, b"new")
        os.close(fd)
    assert target.read_text() == "new"
    assert target.stat().st_mode & 0o777 == 0o604


def test_failure_leaves_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "t.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), AtomicWrite(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["t.txt"]


def test_many_threads_write_beside_each_other(tmp_path):
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for j in range(20):
                with AtomicWrite(tmp_path / f"f{i}.txt") as tmp:
                    tmp.write_text(f"{i}:{j}")
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(os.listdir(tmp_path)) == sorted(f"f{i}.txt" for i in range(8))
    assert all((tmp_path / f"f{i}.txt").read_text() == f"{i}:19" for i in range(8))
