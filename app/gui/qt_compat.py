"""Work-arounds for defects of particular Qt binding builds.

PySide6 6.12.0 on Python 3.11 returns ``None`` from every C++ method without taking
a reference to it, so each call such as ``label.setText(...)`` lowers None's
reference count by one. After a few thousand calls it reaches zero and the
interpreter aborts ("Fatal Python error: none_dealloc"). Python 3.12 made None
immortal, which hides the defect there; 6.11.x does not have it.

The guard below detects the leak with a probe and, only then, gives None a
reference count that no session can use up, which is what 3.12 does for every
program. None is never freed in a working interpreter, so this changes nothing else.
"""

from __future__ import annotations

import ctypes
import sys

_PROBE_CALLS = 16
_HEADROOM = 1 << 48  # more void calls than a process makes in its lifetime


def binding_leaks_none() -> bool:
    """Whether void Qt calls drop a reference to None (the 6.12.0 defect)."""
    from PySide6.QtCore import QObject

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(_PROBE_CALLS):
        probe.setObjectName("probe")
    return sys.getrefcount(None) - before <= -_PROBE_CALLS // 2


def guard_none_refcount() -> bool:
    """Apply the guard when needed; returns whether it was applied."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False  # None is immortal there
    if not binding_leaks_none():
        return False
    # ob_refcnt is the first field of every object in a release build of CPython.
    refcnt = ctypes.c_ssize_t.from_address(id(None))
    refcnt.value += _HEADROOM
    return True
