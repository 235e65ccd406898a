"""The tablescribe desktop application (PySide6). Start it with app.gui.main.main()."""

from app.gui.qt_compat import guard_none_refcount

# Before any other Qt call of this package: see qt_compat for the binding defect.
NONE_REFCOUNT_GUARDED = guard_none_refcount()
