"""The first start: numba compiles the engine's kernels once per installation.

The engine's CPU kernels are ``@njit(cache=True)``: the first conversion after an
install compiles them (seconds), later processes load them from numba's cache
(``benchmarks/startup.py`` measures both). This module

* puts that cache in the user's cache folder when the installed package cannot hold
  it (a read-only site-packages, a PyInstaller bundle): ``configure_numba_cache``,
  called from ``app/__init__.py`` before anything imports numba;
* knows whether this installation has compiled its kernels yet (``is_cold``; a marker
  per installation, keyed on the kernels' source files) so the CLI can say why the
  first conversion waits and the window can show "Preparing the engine";
* warms the cache the way a real conversion does (``warm_up``): loads the model and
  converts the embedded sample page, reporting each step and each kernel compiled.

It imports neither numba nor the engine at import time.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

# progress(text, done, total): total == 0 means "busy, no measure of how far".
WarmupProgress = Callable[[str, int, int], None]

FIRST_START = "Preparing the engine (first start)…"


def user_cache_dir() -> Path:
    """tablescribe's folder in the user's cache (XDG on Linux, Library/Caches, AppData);
    TABLESCRIBE_CACHE_DIR overrides it (the tests keep theirs apart)."""
    if os.environ.get("TABLESCRIBE_CACHE_DIR"):
        return Path(os.environ["TABLESCRIBE_CACHE_DIR"])
    from platformdirs import user_cache_dir as _dir

    return Path(_dir("tablescribe", appauthor=False))


def _engine_kernels_dir() -> Path | None:
    spec = importlib.util.find_spec("engine")  # finds, does not import (no numba yet)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "backend" / "cpu"


def configure_numba_cache() -> str | None:
    """Point numba's cache (NUMBA_CACHE_DIR) at the user's cache folder when the kernels'
    own folder cannot hold it: a frozen bundle or a read-only installation. A value the
    user set is kept. Returns the folder chosen, or None when numba's default (a
    ``__pycache__`` beside the kernels) is kept. Must run before numba is imported."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return None
    kernels = _engine_kernels_dir()
    frozen = bool(getattr(sys, "frozen", False))
    if not frozen and kernels is not None and _writable(kernels):
        return None
    folder = str(user_cache_dir() / "numba")
    os.environ["NUMBA_CACHE_DIR"] = folder
    if "numba" in sys.modules:  # too late for the environment: tell numba directly
        sys.modules["numba"].config.CACHE_DIR = folder
    return folder


def _writable(folder: Path) -> bool:
    cache = folder / "__pycache__"
    return os.access(cache if cache.is_dir() else folder, os.W_OK)


def _marker() -> Path:
    """One file per installation and kernel sources: reinstalling or editing the engine
    (new files, new mtimes, which numba's cache also keys on) makes the start cold again."""
    h = hashlib.sha256()
    h.update(sys.executable.encode())
    h.update((os.environ.get("NUMBA_CACHE_DIR") or "").encode())
    # A new numba compiles again: its __init__.py stands for its version (reading the
    # version from the installed metadata costs 0.1 s on every start).
    # In a bundle numba is inside the archive (no such file): the executable stands for
    # it, as it does for numba's own cache.
    numba = importlib.util.find_spec("numba")
    files = [Path(sys.executable)] + ([Path(numba.origin)] if numba and numba.origin else [])
    kernels = _engine_kernels_dir()
    if kernels is not None and kernels.is_dir():
        files += sorted(kernels.glob("*.py"))
    for src in files:
        if src.is_file():
            st = src.stat()
            h.update(f"{src}:{st.st_mtime_ns}:{st.st_size}".encode())
    return user_cache_dir() / "warm" / f"{h.hexdigest()[:20]}.json"


def is_cold() -> bool:
    """True until a conversion or a warm-up has compiled the kernels of this installation."""
    try:
        return not _marker().is_file()
    except OSError:
        return True


def mark_warm(seconds: float | None = None) -> None:
    """Record that the kernels are compiled (after a conversion or a warm-up finished)."""
    try:
        marker = _marker()
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps({"seconds": seconds}), encoding="utf-8")
    except OSError:  # an unwritable cache only costs the notice next time
        pass


class _CompileListener:
    """Reports each engine kernel numba compiles (numba's 'numba:compile' events)."""

    def __init__(self, report: Callable[[str], None]) -> None:
        from numba.core import event

        self._event = event
        self._report = report
        self.compiled = 0

        class Listener(event.Listener):
            def on_start(inner, ev) -> None:  # numba's listener interface; self is the outer
                pass

            def on_end(inner, ev) -> None:
                func = getattr(ev.data.get("dispatcher"), "py_func", None)
                if func is not None and func.__module__.startswith("engine."):
                    self.compiled += 1
                    self._report(func.__name__)

        self._listener = Listener()

    def __enter__(self) -> Self:
        self._event.register("numba:compile", self._listener)
        return self

    def __exit__(self, *exc) -> None:
        self._event.unregister("numba:compile", self._listener)


def warm_up(load_recognizer: Callable[[], Any] | None = None,
            progress: WarmupProgress | None = None,
            cancel: threading.Event | None = None) -> int:
    """Compile what a conversion needs by converting the embedded sample page.

    ``load_recognizer()`` gives the recogniser to warm (default: the embedded model on
    the default device). Returns how many engine kernels were compiled (0 when the
    cache had them all). Raises pipeline.Cancelled when ``cancel`` is set."""
    import time

    import resources

    report = progress or (lambda text, done, total: None)
    start = time.perf_counter()
    report(f"{FIRST_START} loading the model", 0, 0)
    from app.pipeline import Pipeline
    from app.recognizers import load_recognizer as default_recognizer

    recognizer = load_recognizer() if load_recognizer else default_recognizer(None, None)
    sample = resources.path(resources.SAMPLES, "invoice.png")

    def compiled(name: str) -> None:
        report(f"{FIRST_START} compiled {listener.compiled} kernels ({name})", 0, 0)

    def cells(done: int, total: int) -> None:
        report(f"{FIRST_START} reading the sample page", done, total)

    with _CompileListener(compiled) as listener:
        Pipeline(recognizer).convert_file(sample, progress=cells, cancel=cancel)
    mark_warm(time.perf_counter() - start)
    return listener.compiled
