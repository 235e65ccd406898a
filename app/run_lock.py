"""One batch run per output folder: a lock held for the whole run.

Two runs writing into one folder would both open its journal (a fresh run truncates
it) and overwrite each other's outputs. ``run_lock(out_dir)`` takes an OS file lock
(``filelock``: flock/fcntl, LockFileEx on Windows) on ``OUT_DIR/.tablescribe.lock``
and writes who holds it next to it (``.tablescribe.lock.json``: PID, host, start,
command). The OS drops the lock when its process ends, however it ends, so a run
killed with -9 never blocks the next one. A second run gets FolderBusy, which names
the folder and the holder's PID.

For a URL OUT_DIR (an object store cannot hold a lock) the lock file lives beside the
run's journal on this machine: it keeps two runs of this machine apart, not two
machines.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from engine.io.atomic import AtomicWrite

LOCK_NAME = ".tablescribe.lock"
OWNER_SUFFIX = ".json"


class FolderBusy(RuntimeError):
    """Another run holds the output folder."""

    def __init__(self, folder: str | Path, owner: dict | None) -> None:
        self.folder = folder
        self.owner = owner or {}
        pid = self.owner.get("pid")
        who = f"PID {pid}" if pid else "a process whose PID is unknown"
        if self.owner.get("host") and self.owner.get("host") != socket.gethostname():
            who += f" on {self.owner['host']}"
        since = f", started {self.owner['started']}" if self.owner.get("started") else ""
        super().__init__(f"{folder}: another tablescribe run ({who}{since}) is writing to this "
                         "folder; wait for it to finish, stop it, or choose another output folder")


def lock_path(out_root: Path | str) -> Path:
    """The lock file of a run writing into ``out_root`` (a local folder or a URL)."""
    if isinstance(out_root, Path):
        return out_root / LOCK_NAME
    from app.journal import journal_path
    return journal_path(out_root).with_suffix(".lock")


def read_owner(lock_path: Path) -> dict | None:
    try:
        owner = json.loads(lock_path.with_name(lock_path.name + OWNER_SUFFIX).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return owner if isinstance(owner, dict) else None


@contextmanager
def run_lock(folder: str | Path, lock_path: Path) -> Iterator[Path]:
    """Hold ``lock_path`` for the run writing into ``folder``, or raise FolderBusy.

    ``folder`` is only named in the message (a path or URL); its parent folder of
    ``lock_path`` must exist.
    """
    from filelock import FileLock, Timeout

    lock = FileLock(lock_path, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise FolderBusy(folder, read_owner(lock_path)) from None
    owner_path = lock_path.with_name(lock_path.name + OWNER_SUFFIX)
    try:
        owner = {"pid": os.getpid(), "host": socket.gethostname(),
                 "started": datetime.now(UTC).isoformat(timespec="seconds"),
                 "command": " ".join(sys.argv)}
        with AtomicWrite(owner_path) as tmp:
            tmp.write_text(json.dumps(owner) + "\n", encoding="utf-8")
        yield lock_path
    finally:
        owner_path.unlink(missing_ok=True)
        lock.release()
