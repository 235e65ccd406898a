"""Replacing a file in one step: the one atomic-write helper of the project.

A writer fills a fresh temporary file next to the target (same directory, so the same
file system) and ``os.replace`` moves it into place: a crash, a full disk or a Ctrl-C
leaves the previous file as it was, never half of it.

The temporary file is created with ``os.open(..., 0o666)``, so the kernel applies the
umask and the file gets the mode any new file would get. Reading the umask with
``os.umask`` would mean setting it, process-wide, racing every other thread.
"""

from __future__ import annotations

import os
import stat
import uuid
from pathlib import Path
from types import TracebackType

_TRIES = 100  # fresh names to try before giving up (a clash needs a uuid collision)


class AtomicWrite:
    """``with AtomicWrite(target) as tmp:`` write ``tmp``; on success it replaces ``target``.

    Creating the object creates the temporary file (an OSError if the folder is not
    writable). The replacement keeps an existing target's permission bits; a new target
    gets the usual ones for a new file. On any exception the temporary file is removed
    and the exception goes on. ``commit`` and ``discard`` do the two halves by hand.
    """

    def __init__(self, target: str | os.PathLike[str], suffix: str = ".part") -> None:
        self.target = Path(target)
        for _ in range(_TRIES):
            tmp = self.target.with_name(
                f".{self.target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}{suffix}")
            try:
                os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            except FileExistsError:
                continue
            break
        else:
            raise FileExistsError(f"no free temporary name next to {self.target}")
        self.tmp = tmp
        # The mode the kernel gave a new file: 0o666 less the umask, read without setting it.
        self._new_mode = stat.S_IMODE(os.stat(tmp).st_mode)

    def commit(self) -> Path:
        """Move the temporary file over the target (mode fixed, data on disk first)."""
        try:
            mode = stat.S_IMODE(os.stat(self.target).st_mode)
        except FileNotFoundError:
            mode = self._new_mode
        # The writer may have replaced our file with one of its own (0600 temp files).
        os.chmod(self.tmp, mode)
        with open(self.tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(self.tmp, self.target)
        _sync_folder(self.target.parent)
        return self.target

    def discard(self) -> None:
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> Path:
        return self.tmp

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is not None:
            self.discard()
            return
        try:
            self.commit()
        except BaseException:
            self.discard()
            raise


def _sync_folder(folder: Path) -> None:
    # Makes the rename itself durable; folders cannot be opened this way on Windows.
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
