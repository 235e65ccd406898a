"""Entry point of the desktop application: ``tablescribe-gui [FILE]`` and
``tablescribe gui [FILE]``.

``--screenshot OUT.png FILE`` opens FILE, converts it, saves a picture of the main
window and exits (used for the README's screenshot); it works without a display.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from app.gui.settings import APPLICATION, ORGANIZATION
from app.gui.theme import THEMES


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tablescribe gui",
        description="Open the tablescribe window: review scanned tables and export them.")
    parser.add_argument("file", nargs="?", help="scan to open (PNG, JPEG, TIFF, PDF)")
    parser.add_argument("--screenshot", metavar="OUT.png",
                        help="convert FILE, save a screenshot of the window to OUT.png and exit")
    parser.add_argument("--size", default="1280x800", metavar="WxH",
                        help="window size for --screenshot (default 1280x800)")
    parser.add_argument("--theme", choices=THEMES,
                        help="light, dark or the system look (default: the saved setting)")
    parser.add_argument("--batch", action="store_true",
                        help="open the batch dialog (convert a folder) at start")
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="log DEBUG records and print tracebacks of errors on stderr")
    return parser


def _parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise SystemExit(
            f"tablescribe gui: error: --size must look like 1280x800, not {text!r}") from None
    if w < 320 or h < 240:
        raise SystemExit("tablescribe gui: error: --size must be at least 320x240")
    return w, h


def main(argv: list[str] | None = None, *, settings=None, recognizer_factory=None) -> int:
    """Run the application; returns the exit status.

    ``settings`` (an AppSettings) and ``recognizer_factory`` (model, device) -> recogniser
    let an embedding program or a test supply its own; by default the user's saved
    preferences and app.recognizers.load_recognizer are used.
    """
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    from app.logs import configure_logging
    configure_logging(args.verbose)
    if args.screenshot:
        if not args.file:
            print("tablescribe gui: error: --screenshot needs a FILE to open", file=sys.stderr)
            return 2
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            # A screenshot needs no screen: render off-screen when there is none.
            os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    size = _parse_size(args.size)

    from PySide6.QtWidgets import QApplication

    if QApplication.instance() is None:
        # Qt aborts the process when its X11 plugin lacks a library; say which first.
        from app.gui.display_check import xcb_problem
        problem = xcb_problem()
        if problem:
            print(f"tablescribe gui: {problem}", file=sys.stderr)
            return 1

    from app.gui.icon import app_icon
    from app.gui.main_window import MainWindow
    from app.gui.settings import AppSettings
    from app.gui.theme import apply_theme

    app = QApplication.instance()
    owns_app = app is None
    if owns_app:
        app = QApplication([sys.argv[0] if sys.argv else "tablescribe-gui"])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("tablescribe")
    app.setDesktopFileName("tablescribe")
    app.setWindowIcon(app_icon())

    settings = settings or AppSettings()
    apply_theme(app, args.theme or settings.theme)
    window = MainWindow(settings, recognizer_factory=recognizer_factory)
    if args.screenshot:
        return _screenshot(app, window, Path(args.file), Path(args.screenshot), size)
    window.show()
    if recognizer_factory is None:  # a supplied factory (a test, an embedding program) is its own
        from app.gui.engine_warmup import warm_up_if_cold
        window.engine_warmup = warm_up_if_cold(window)  # first start: compile in the background
    if args.file:
        window.open_file(args.file)
    if args.batch:
        window.open_batch_dialog()
    return app.exec() if owns_app else 0


def _screenshot(app, window, source: Path, out: Path, size: tuple[int, int]) -> int:
    """Open, convert, grab the window, exit. Errors go to stderr with exit status 1."""
    from PySide6.QtCore import QTimer

    outcome: dict[str, object] = {"status": None}

    def finish(status: int, message: str = "") -> None:
        if outcome["status"] is not None:
            return
        outcome["status"] = status
        if message:
            print(f"tablescribe gui: {message}", file=sys.stderr)
        app.exit(status)

    def grab() -> None:
        app.processEvents()
        pixmap = window.grab()
        out.parent.mkdir(parents=True, exist_ok=True)
        if pixmap.isNull() or not pixmap.save(str(out)):
            finish(1, f"could not write the screenshot {out}")
        else:
            print(out)
            finish(0)

    def on_message(level: str, text: str) -> None:
        if level == "error":
            finish(1, text)

    def converted() -> None:
        window.goto_unsure(+1)  # show a cell to check selected in both views, as in use
        QTimer.singleShot(300, grab)

    window.auto_convert = False  # convert explicitly below, whatever the saved setting
    window.messageShown.connect(on_message)
    window.documentOpened.connect(lambda _path: window.convert())
    window.conversionFinished.connect(converted)
    window.conversionFailed.connect(lambda reason: finish(1, reason))
    window.conversionCancelled.connect(lambda: finish(1, "conversion cancelled"))
    window.resize(*size)
    window.show()
    QTimer.singleShot(0, lambda: window.open_file(source) or finish(1, f"cannot open {source}"))
    status = app.exec()
    window.wait_for_jobs()
    window.close()
    return int(outcome["status"] if outcome["status"] is not None else status)


if __name__ == "__main__":
    sys.exit(main())
