"""A scripted walk through the real window for looking at it as a person would.

Run under a virtual X server, not by pytest::

    xvfb-run -s "-screen 0 1280x800x24" python3 -m tests.gui.tour /tmp/tour [THEME] [SCAN]

THEME is dark (default), light or system. Without SCAN it renders a long table. It
opens the scan in the application (an xcb window, not offscreen), converts it, then
steps through what a user does (select, zoom, merge, edit, an error, the dialogs) and
saves a grab of the whole X screen after each step as NN-name.png.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PIL import Image, ImageDraw


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/tour")
    theme = sys.argv[2] if len(sys.argv) > 2 else "dark"
    out.mkdir(parents=True, exist_ok=True)
    if not os.environ.get("DISPLAY"):
        print("run me under xvfb-run (no DISPLAY)", file=sys.stderr)
        return 2

    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    import app.gui  # binding guard first
    from app.gui.main_window import MainWindow
    from app.gui.settings import AppSettings
    from app.gui.theme import apply_theme
    from tests.gui.helpers import DPI, long_table_page, recognizer_instance

    if len(sys.argv) > 3:
        scan = Path(sys.argv[3])
    else:
        page = long_table_page(n_rows=60)
        scan = out / "long-table.png"
        Image.fromarray(page.image).save(scan, dpi=(DPI, DPI))
    bad = out / "damaged.pdf"
    bad.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj broken")
    letter = out / "letter.png"
    img = Image.new("RGB", (900, 600), "white")
    ImageDraw.Draw(img).text((60, 60), "A letter without any table.", fill="black")
    img.save(letter)

    app = QApplication([sys.argv[0]])
    settings = AppSettings(QSettings(str(out / "settings.ini"), QSettings.IniFormat))
    settings.convert_on_open = True
    settings.theme = theme
    apply_theme(app, theme)
    recognizer = recognizer_instance()
    window = MainWindow(settings, recognizer_factory=lambda m, d: recognizer)
    window.resize(1280, 800)
    window.move(0, 0)
    window.show()

    shots: list[str] = []

    def grab(name: str) -> None:
        app.processEvents()
        path = out / f"{len(shots):02d}-{name}.png"
        window.screen().grabWindow(0).save(str(path))  # the whole X screen, as drawn
        shots.append(str(path))
        print(path, flush=True)

    steps = []

    def step(fn, wait_ms=400):
        steps.append((fn, wait_ms))

    def run_next():
        if not steps:
            window.doc and window.doc.undo_stack.setClean()
            window.close()
            app.quit()
            return
        fn, wait_ms = steps.pop(0)
        fn()
        QTimer.singleShot(wait_ms, run_next)

    def when_idle(fn):
        def wrapper():
            if window.busy:
                steps.insert(0, (wrapper, 200))
                return
            fn()
        return wrapper

    step(lambda: grab("welcome"))
    step(lambda: window.open_file(scan), 300)
    step(lambda: grab("converting"), 50)
    step(when_idle(lambda: grab("converted")))
    # Positions near the end of whatever table was found (the long table: row 46 of 60).
    def near_end(back: int) -> int:
        return max(0, window.model.rowCount() - back)

    def select_and_zoom():
        window.select_cell(near_end(15), 2)
        window.page_view.zoom_in()
        window.page_view.zoom_in()
        window.page_view.ensure_cell_visible(0, near_end(15), 2)

    def merge_two_by_two():
        from app.gui.grid_ops import CellRange

        window.select_range(CellRange(near_end(16), 1, near_end(15), 2))
        window.act_merge.trigger()

    def edit_below():
        window.edit_cell(near_end(14), 1, "Corrected by hand")
        window.select_cell(near_end(14), 1)

    step(select_and_zoom)
    step(lambda: grab("selected-zoomed"))
    step(merge_two_by_two, 300)
    step(when_idle(lambda: grab("merged")))
    step(edit_below)
    step(lambda: grab("edited"))
    step(lambda: window.goto_unsure(+1))
    step(lambda: grab("next-to-check"))
    step(lambda: window.export_to(out / "nowhere" / "x" / "\0bad.xlsx"))
    step(lambda: grab("export-error"))
    step(lambda: window.doc.undo_stack.setClean())
    step(lambda: window.open_file(bad), 600)
    step(when_idle(lambda: grab("corrupt-file")))
    step(lambda: window.open_file(letter), 600)
    step(when_idle(lambda: grab("no-table")))

    def open_settings():
        from app.gui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(settings, window)
        dialog.show()
        QTimer.singleShot(300, lambda: (grab("settings-dialog"), dialog.close()))

    step(open_settings, 800)

    def open_batch():
        window.open_batch_dialog(out)
        dialog = window._batch_dialog
        dialog.start()
        QTimer.singleShot(2500, lambda: (grab("batch-dialog"), dialog.close()))

    step(open_batch, 3200)
    QTimer.singleShot(300, run_next)
    app.exec()
    print(f"{len(shots)} screenshots in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
