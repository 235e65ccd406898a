"""The log file: a rotating file in the user's log folder, with tracebacks.

Both entry points (the ``tablescribe`` command and the window) call
``configure_logging`` once at start. Everything our modules log at INFO and above
(DEBUG with ``verbose``) goes to ``tablescribe.log`` in ``log_dir()``, with the
traceback of each failure, so a person can send the file when something went wrong.
On the console only warnings and errors appear, one line each, as before logging was
configured; a record logged with ``extra={"console": False}`` stays in the file (the
command prints its own one-line message for it).

``TABLESCRIBE_LOG_DIR`` overrides the folder (tests, portable installs).
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from collections.abc import Callable
from pathlib import Path

APP_NAME = "tablescribe"
LOG_FILE = "tablescribe.log"
MAX_BYTES = 2_000_000  # per file; with the backups at most ~8 MB of logs
BACKUPS = 3
# Our packages: DEBUG reaches the file only for these when verbose (numba, PIL and
# the rest stay at INFO, or the file fills with compiler chatter).
OUR_LOGGERS = ("app", "table", "ocr", "engine", "training")
FILE_FORMAT = "%(asctime)s %(process)d %(threadName)s %(levelname)s %(name)s: %(message)s"

_TAG = "_tablescribe_handler"  # marks the handlers we own, so configuring twice replaces them


def log_dir() -> Path:
    """The folder of the log files (not created here)."""
    override = os.environ.get("TABLESCRIBE_LOG_DIR")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_log_dir
    return Path(user_log_dir(APP_NAME, appauthor=False))


def log_file() -> Path:
    return log_dir() / LOG_FILE


class _ConsoleFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(record, "console", True)


class _OneLine(logging.Formatter):
    """``tablescribe: message`` on one line; the traceback only when verbose."""

    def __init__(self, verbose: bool) -> None:
        super().__init__()
        self.verbose = verbose

    def format(self, record: logging.LogRecord) -> str:
        line = f"{APP_NAME}: " + " ".join(record.getMessage().split())
        if self.verbose and record.exc_info:
            line += "\n" + self.formatException(record.exc_info).rstrip()
        return line


class _Stderr(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (as logging.lastResort does)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def configure_logging(verbose: bool = False, *, console: bool = True) -> Path | None:
    """Send our log records to the rotating log file (and warnings to stderr).

    Returns the log file, or None when its folder cannot be written (then a one-line
    note says so on stderr and only the console handler is installed). Calling it again
    replaces the handlers of the previous call.
    """
    remove_handlers()
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    for name in OUR_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.NOTSET)

    path: Path | None = log_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
    except OSError as exc:
        print(f"{APP_NAME}: no log file: cannot write {path} ({exc.strerror or exc})",
              file=sys.stderr)
        path = None
    else:
        file_handler.setLevel(logging.DEBUG if verbose else logging.INFO)
        file_handler.setFormatter(logging.Formatter(FILE_FORMAT))
        _own(root, file_handler)
    if console:
        stream = _Stderr()
        stream.setLevel(logging.WARNING)
        stream.addFilter(_ConsoleFilter())
        stream.setFormatter(_OneLine(verbose))
        _own(root, stream)
    logging.captureWarnings(True)
    return path


def remove_handlers() -> None:
    """Take our handlers off the root logger again (tests, embedding programs)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _TAG, False)]:
        root.removeHandler(handler)
        handler.close()


def _own(root: logging.Logger, handler: logging.Handler) -> None:
    setattr(handler, _TAG, True)
    root.addHandler(handler)


def open_log_folder(open_url: Callable[[object], bool] | None = None) -> Path:
    """Show the log folder in the system's file manager (Help -> Open log folder).

    The folder is created first, so it opens even before anything was logged.
    ``open_url`` defaults to ``QDesktopServices.openUrl``. Returns the folder; raises
    OSError when it cannot be created or the desktop refuses to open it.
    """
    folder = log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    from PySide6.QtCore import QUrl

    if open_url is None:
        from PySide6.QtGui import QDesktopServices
        open_url = QDesktopServices.openUrl
    if not open_url(QUrl.fromLocalFile(str(folder))):
        raise OSError(f"the desktop could not open the log folder {folder}")
    return folder
