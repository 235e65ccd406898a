"""The two things every front end (CLI, batch, GUI) says about a failure: that the
user cancelled, and, for anything else, one line a person can act on."""

from __future__ import annotations

__all__ = ["Cancelled", "describe_error"]

# Modules whose errors already name the file and the problem.
_OURS = ("app", "table", "ocr", "engine")


class Cancelled(Exception):
    """The user cancelled; work stopped between two steps (e.g. two recogniser batches)."""


def describe_error(exc: BaseException) -> str:
    """One line for a report, a terminal or the window. Our own errors (table, ocr,
    engine, app) already name the file and the problem; anything else also gets its type."""
    if isinstance(exc, MemoryError):
        return "not enough memory for this file (a lower PDF resolution needs less)"
    text = " ".join(str(exc).split())
    ours = type(exc).__module__.split(".")[0] in _OURS
    return text if ours and text else f"{type(exc).__name__}: {text}".rstrip(": ")
