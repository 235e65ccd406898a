"""Work-arounds for defects of particular Qt binding builds.

PySide6 6.12.0 on Python 3.11 returns ``None`` from every C++ method without taking
a reference to it, so each call such as ``label.setText(...)`` lowers None's
reference count by one; ``Signal.emit`` does the same to ``True``. After a few
thousand calls the count reaches zero and the interpreter aborts ("Fatal Python
error: none_dealloc" / "bool_dealloc"). Python 3.12 made None, True and False
immortal, which hides the defect there; 6.11.x does not have it.

pyproject.toml excludes 6.12.0 on Python < 3.12, so pip never installs it for us.
The guard below is for environments that have it anyway (installed before, or by
another package manager): it detects each leak with a probe and, only then, gives
the object a reference count that no session can use up, which is what 3.12 does for
every program. These singletons are never freed in a working interpreter, so this
changes nothing else.
"""

from __future__ import annotations

import ctypes
import sys

_PROBE_CALLS = 16
_HEADROOM = 1 << 48  # more calls than a process makes in its lifetime


def _drops(obj: object, call) -> bool:
    before = sys.getrefcount(obj)
    for _ in range(_PROBE_CALLS):
        call()
    return sys.getrefcount(obj) - before <= -_PROBE_CALLS // 2


def binding_leaks_none() -> bool:
    """Whether void Qt calls drop a reference to None (the 6.12.0 defect)."""
    from PySide6.QtCore import QObject

    probe = QObject()
    return _drops(None, lambda: probe.setObjectName("probe"))


def binding_leaks_true() -> bool:
    """Whether ``Signal.emit`` drops a reference to True (the same 6.12.0 defect)."""
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        ping = Signal()

    probe = _Probe()
    return _drops(True, probe.ping.emit)


def _raise_refcount(obj: object) -> None:
    # ob_refcnt is the first field of every object in a release build of CPython.
    ctypes.c_ssize_t.from_address(id(obj)).value += _HEADROOM


def guard_none_refcount() -> bool:
    """Apply the guard where needed (None; True and False); returns whether it was applied."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False  # None, True and False are immortal there
    applied = False
    if binding_leaks_none():
        _raise_refcount(None)
        applied = True
    if binding_leaks_true():
        _raise_refcount(True)
        _raise_refcount(False)  # bool results share the defect; False is as immortal as True
        applied = True
    return applied
