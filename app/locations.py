"""Where batch inputs and outputs live: local paths, or fsspec URLs (s3://, gs://, ...).

A batch on a cluster reads its scans and writes its workbooks from the workers, so
IN_DIR and OUT_DIR may be URLs that every worker reaches through fsspec. Local paths
(and ``file://`` URLs, which are turned into them) take the plain local code path
with its atomic writes; only the other protocols come through here:

* a scan at a URL is copied to a local temporary file to be read (the page loader
  and PDF renderer want a file), and the copy is removed afterwards;
* an output at a URL is written locally first, uploaded under a hidden temporary
  name beside its target and then moved onto the target, so nobody ever sees half a
  workbook (an object store's copy is all-or-nothing) and a worker that dies while
  uploading leaves at most a ``.name.xxxx.part`` object, never a damaged output.

fsspec is imported only when a URL is used; credentials and endpoints come from the
usual fsspec/boto configuration (environment, config files) of each machine.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from table.export import ExportError

__all__ = [
    "exists",
    "fingerprint",
    "is_dir",
    "is_url",
    "join",
    "list_files",
    "local_copy",
    "make_dirs",
    "normalize",
    "publish",
    "read_head",
]


def is_url(location: str | os.PathLike) -> bool:
    """True for a URL fsspec must open (``s3://...``); False for local paths and ``file://``."""
    text = os.fspath(location)
    if "://" not in text:
        return False
    return text.split("://", 1)[0].lower() not in ("file", "local")


def normalize(location: str | os.PathLike) -> str | Path:
    """A local Path for paths and ``file://`` URLs, the URL itself (a str) otherwise."""
    text = os.fspath(location)
    if is_url(text):
        return text
    if "://" in text:  # file:///data/scans -> /data/scans
        from urllib.parse import unquote, urlparse

        parsed = urlparse(text)
        return Path(unquote(parsed.path)) if not parsed.netloc or parsed.netloc == "localhost" \
            else Path("//" + parsed.netloc + unquote(parsed.path))
    return Path(text)


def join(root: str | Path, relative: str) -> str:
    """``root/relative`` as a string, for a local folder or a URL."""
    if isinstance(root, Path) or not is_url(root):
        return str(Path(root) / relative)
    return root.rstrip("/") + "/" + relative


def _fs(url: str) -> tuple[Any, str]:
    from fsspec.core import url_to_fs

    return url_to_fs(url)


def _problem(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return " ".join(f"{type(exc).__name__}: {exc}".split())


def exists(location: str) -> bool:
    if not is_url(location):
        return Path(normalize(location)).exists()
    fs, path = _fs(location)
    fs.invalidate_cache(path)  # ask the store, not a listing cached earlier in this process
    return fs.exists(path)


def is_dir(location: str | Path) -> bool:
    if not is_url(os.fspath(location)):
        return Path(normalize(location)).is_dir()
    fs, path = _fs(os.fspath(location))
    return fs.isdir(path)


def make_dirs(location: str) -> None:
    """Create the folder at ``location`` (a no-op on object stores without folders)."""
    try:
        fs, path = _fs(location)
        fs.makedirs(path, exist_ok=True)
    except Exception as exc:
        raise ExportError(location, f"cannot create the output folder ({_problem(exc)})") from exc


# What the latest listing saw of each file: the journal asks for the fingerprint of
# every file, and one listing beats a request per file on an archive of 100,000 scans.
_LISTED: dict[str, dict[str, Any]] = {}


def _version(info: dict[str, Any]) -> dict[str, Any]:
    # Backends name the version differently: S3 ETag/LastModified, GCS md5Hash/updated, ...
    version = next((info[k] for k in ("ETag", "etag", "md5Hash", "LastModified", "updated",
                                      "mtime", "modified", "created") if info.get(k) is not None), None)
    return {"size": info.get("size"), "version": str(version)}


def fingerprint(location: str) -> dict[str, Any]:
    """What tells whether a file changed since a batch converted it. Raises OSError
    (FileNotFoundError for a missing file), like os.stat."""
    if not is_url(location):
        st = os.stat(normalize(location))
        return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
    if location in _LISTED:
        return _LISTED[location]
    fs, path = _fs(location)
    return _version(fs.info(path))  # FileNotFoundError when missing


def list_files(root: str, recursive: bool, exclude: str | None = None) -> list[str]:
    """The visible files under the URL ``root`` as paths relative to it (posix,
    unsorted). Hidden files and folders, and anything under the URL ``exclude`` (the
    output folder), are left out. What the listing says of each file is kept, so
    ``fingerprint`` of a listed file asks the store nothing more."""
    fs, base = _fs(root)
    base = base.rstrip("/")
    fs.invalidate_cache(base)  # list what is there now, not what an earlier listing saw
    skip = None
    if exclude is not None and is_url(exclude):
        ex_fs, ex_path = _fs(exclude)
        if ex_fs.protocol == fs.protocol:
            skip = ex_path.rstrip("/")
    if recursive:
        files = fs.find(base, detail=True)
    else:
        files = {e["name"]: e for e in fs.ls(base, detail=True) if e.get("type") == "file"}
    found = []
    _LISTED.clear()
    for name, info in files.items():
        name = name.rstrip("/")
        if skip is not None and (name == skip or name.startswith(skip + "/")):
            continue
        rel = name[len(base):].lstrip("/") if name.startswith(base) else PurePosixPath(name).name
        if not rel or any(part.startswith(".") for part in rel.split("/")):
            continue
        found.append(rel)
        _LISTED[join(root, rel)] = _version(info)
    return found


def read_head(location: str, size: int = 1024) -> bytes:
    """The first ``size`` bytes of a file, local or at a URL. Raises OSError (or the
    fsspec backend's error) when it cannot be read."""
    if not is_url(location):
        with open(normalize(location), "rb") as fh:
            return fh.read(size)
    fs, path = _fs(location)
    return fs.cat_file(path, start=0, end=size)


@contextlib.contextmanager
def local_copy(location: str) -> Iterator[str]:
    """A local path to read ``location`` from: the path itself when local, else a
    temporary copy (same file name, so messages and format guesses stay sensible)
    that is removed on exit. A URL that cannot be fetched raises table.pages'
    PageLoadError naming the URL: the file is reported as failed, like a bad scan."""
    if not is_url(location):
        yield str(normalize(location))
        return
    from table.pages import PageLoadError

    folder = tempfile.mkdtemp(prefix="tablescribe-in-")
    try:
        local = os.path.join(folder, PurePosixPath(location.split("://", 1)[1]).name or "scan")
        try:
            fs, path = _fs(location)
            fs.get_file(path, local)
        except FileNotFoundError as exc:
            raise PageLoadError(location, "file not found") from exc
        except Exception as exc:
            raise PageLoadError(location, f"cannot read the file ({_problem(exc)})") from exc
        yield local
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _refuse(fs: Any, path: str, target: str, inputs: Iterable[str]) -> None:
    """The remote twin of table.export.atomic.check_target."""
    from table.pages import sniff_format

    if any(os.fspath(i) == target for i in inputs):
        raise ExportError(target, "is the input being converted; refusing to overwrite it")
    if fs.isdir(path):
        raise ExportError(target, "is a directory, not a file")
    try:
        head = fs.cat_file(path, start=0, end=1024)
    except Exception:  # noqa: BLE001 - missing or unreadable: nothing of anybody's to lose
        return
    if sniff_format(head) is not None:
        raise ExportError(target, "already exists and holds an image or PDF; refusing to overwrite it")


def publish(local_files: Iterable[str | Path], target_dir: str,
            inputs: Iterable[str] = ()) -> list[str]:
    """Upload each local file to ``target_dir/<its name>`` atomically: first under a
    hidden temporary name, then moved onto the target. Returns the target URLs.
    Raises ExportError naming the target that could not be written."""
    local_files = [Path(p) for p in local_files]
    inputs = list(inputs)
    fs, _ = _fs(target_dir)
    plan = [(src, join(target_dir, src.name)) for src in local_files]
    for _src, target in plan:  # refuse before anything is written
        _refuse(fs, _fs(target)[1], target, inputs)
    written = []
    for src, target in plan:
        path = _fs(target)[1]
        parent = path.rsplit("/", 1)[0]
        temporary = f"{parent}/.{src.name}.{uuid.uuid4().hex[:12]}.part"
        try:
            fs.makedirs(parent, exist_ok=True)
            fs.put_file(str(src), temporary)
            fs.mv(temporary, path)
        except Exception as exc:
            with contextlib.suppress(Exception):
                fs.rm(temporary)
            raise ExportError(target, f"could not be written ({_problem(exc)})") from exc
        written.append(target)
    return written
