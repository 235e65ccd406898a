"""What a scan is, and finding the scans in a folder (local, or at an fsspec URL).

A file is a scan when its extension is one of SCAN_TYPES', or, whatever its name,
when its first bytes say image or PDF (a scan saved without an extension). Local
folders and URLs are searched by the same rule, hidden files and folders left out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath

# app.locations and table.pages are imported where files are looked at: the window
# imports SCAN_TYPES at start and should not wait for the exporters and page loaders.

__all__ = [
    "SCAN_EXTENSIONS",
    "SCAN_TYPES",
    "find_inputs",
    "is_scan",
    "list_scans",
    "scan_types_text",
]

# The file types tablescribe reads (table.pages loads them), with their extensions.
SCAN_TYPES: dict[str, tuple[str, ...]] = {
    "PNG": (".png",),
    "JPEG": (".jpg", ".jpeg", ".jpe"),
    "BMP": (".bmp",),
    "WebP": (".webp",),
    "TIFF": (".tif", ".tiff"),
    "PDF": (".pdf",),
}
SCAN_EXTENSIONS = frozenset(ext for exts in SCAN_TYPES.values() for ext in exts)
HEAD_BYTES = 1024  # enough for sniff_format (a PDF header may sit anywhere in them)


def scan_types_text() -> str:
    """'PNG, JPEG, BMP, WebP, TIFF or PDF', for messages and help."""
    names = list(SCAN_TYPES)
    return ", ".join(names[:-1]) + " or " + names[-1]


def is_scan(name: str, head: Callable[[], bytes]) -> bool:
    """Whether the file ``name`` is a scan: by its extension, else by its first bytes
    (``head()`` is called only then; a file that cannot be read is not a scan)."""
    if PurePosixPath(name).suffix.lower() in SCAN_EXTENSIONS:
        return True
    from table.pages import sniff_format

    try:
        return sniff_format(head()) is not None
    except Exception:  # noqa: BLE001 - unreadable (OSError, or a store's own errors): not taken
        return False


def find_inputs(in_dir: str | Path, recursive: bool = False,
                exclude: Iterable[str | Path] = ()) -> list[Path]:
    """Scans in the local folder ``in_dir`` (and below when ``recursive``), sorted;
    hidden files and folders and anything under ``exclude`` are left out."""
    from app import locations

    root = Path(in_dir)
    excluded = [Path(p).resolve() for p in exclude]
    found = []
    walker = root.rglob("*") if recursive else root.iterdir()
    for path in walker:
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        resolved = path.resolve()
        if any(resolved == ex or ex in resolved.parents for ex in excluded):
            continue
        if is_scan(path.name, lambda path=path: locations.read_head(str(path), HEAD_BYTES)):
            found.append(path)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def list_scans(root: str, recursive: bool, exclude: str | None = None) -> list[str]:
    """Scans under the URL ``root`` as paths relative to it (posix, sorted); hidden
    files and folders, and anything under the URL ``exclude`` (the output folder),
    are left out."""
    from app import locations

    found = []
    for rel in locations.list_files(root, recursive, exclude):
        url = locations.join(root, rel)
        if is_scan(rel, lambda url=url: locations.read_head(url, HEAD_BYTES)):
            found.append(rel)
    return sorted(found)
