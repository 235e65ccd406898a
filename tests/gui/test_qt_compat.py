"""The guard against PySide6 builds that drop a reference to None on every void call
(and to True on every Signal.emit)."""

import subprocess
import sys
import textwrap


def test_many_void_qt_calls_do_not_kill_the_interpreter():
    # In a fresh interpreter, so the count starts where a real application's does.
    code = textwrap.dedent("""
        import os, sys
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        import app.gui
        from PySide6.QtWidgets import QApplication, QLabel
        app_ = QApplication([])
        label = QLabel()
        for _ in range(200_000):
            label.setText("x")
            label.windowTitleChanged.emit("x")
        print("alive", sys.getrefcount(None) > 0 and sys.getrefcount(True) > 0)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, check=False, cwd=str(__import__("pathlib").Path(__file__).parents[2]))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "alive True" in done.stdout


def test_the_guard_only_acts_when_the_binding_leaks():
    import app.gui
    from app.gui.qt_compat import binding_leaks_none, binding_leaks_true

    if sys.version_info >= (3, 12):
        assert not app.gui.NONE_REFCOUNT_GUARDED
    else:
        leaks = binding_leaks_none() or binding_leaks_true()
        assert app.gui.NONE_REFCOUNT_GUARDED == leaks
