"""Writing an output file so that it is either complete or untouched.

The writer fills a temporary file next to the target and it replaces the target in one
step (``engine.io.atomic.AtomicWrite``, shared with the weight files): a crash, a full
disk or a Ctrl-C leaves the previous file as it was, never half a workbook. Targets that are
the input being converted, or that hold a scan (image or PDF content), are refused.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from table.export.options import ExportError
from table.pages import sniff_format


def _looks_like_scan(path: Path) -> bool:
    """An existing file whose first bytes say image or PDF is somebody's scan, whatever
    its name says: never replace it."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(1024)
    except OSError:
        return False
    return sniff_format(head) is not None


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def check_target(path: str | Path, inputs: Iterable[str | Path] = (), *,
                 replace_scans: bool = False) -> Path:
    """Refuse a target that is a directory, one of ``inputs``, or (unless
    ``replace_scans``, for tools that write images) an existing scan."""
    target = Path(path)
    if target.is_dir():
        raise ExportError(target, "is a directory, not a file")
    for source in inputs:
        if _same_file(target, Path(source)):
            raise ExportError(target, "is the input being converted; refusing to overwrite it")
    if not replace_scans and target.exists() and _looks_like_scan(target):
        raise ExportError(target, "already exists and holds an image or PDF; refusing to overwrite it")
    return target


def _describe(exc: OSError) -> str:
    return exc.strerror.lower() if exc.strerror else str(exc)


@contextmanager
def atomic_target(path: str | Path, inputs: Iterable[str | Path] = (), *,
                  replace_scans: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path`` in one step.

    Missing parent directories are created. Any OSError becomes an ExportError
    naming ``path``; on any failure the temporary file is removed.
    """
    # Imported here: `tablescribe --version` loads the exporters' module, and must work
    # even where a foreign `engine` package shadows ours (app.foreign_packages).
    from engine.io.atomic import AtomicWrite

    target = check_target(path, inputs, replace_scans=replace_scans)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write = AtomicWrite(target)
    except OSError as exc:
        blocker = next((p for p in target.parents if p.exists() and not p.is_dir()), None)
        if blocker is not None:
            raise ExportError(target, f"cannot be created: {blocker} is a file, not a folder") from exc
        raise ExportError(target, f"cannot write here ({_describe(exc)})") from exc
    try:
        yield write.tmp
        write.commit()
    except OSError as exc:
        write.discard()
        raise ExportError(target, f"could not be written ({_describe(exc)})") from exc
    except BaseException:
        write.discard()
        raise
