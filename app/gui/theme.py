"""Light / dark / system look, and the confidence colours that must read well in both."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

THEMES = ("system", "light", "dark")

_system_style: str | None = None
_system_palette: QPalette | None = None


def _dark_palette() -> QPalette:
    p = QPalette()
    window, base, alt = QColor(45, 47, 51), QColor(30, 31, 34), QColor(38, 40, 44)
    text, dim = QColor(226, 228, 232), QColor(130, 134, 140)
    accent = QColor(66, 133, 214)
    for group in (QPalette.Active, QPalette.Inactive):
        p.setColor(group, QPalette.Window, window)
        p.setColor(group, QPalette.WindowText, text)
        p.setColor(group, QPalette.Base, base)
        p.setColor(group, QPalette.AlternateBase, alt)
        p.setColor(group, QPalette.ToolTipBase, QColor(60, 63, 68))
        p.setColor(group, QPalette.ToolTipText, text)
        p.setColor(group, QPalette.PlaceholderText, dim)
        p.setColor(group, QPalette.Text, text)
        p.setColor(group, QPalette.Button, window)
        p.setColor(group, QPalette.ButtonText, text)
        p.setColor(group, QPalette.BrightText, QColor(255, 90, 90))
        p.setColor(group, QPalette.Highlight, accent)
        p.setColor(group, QPalette.HighlightedText, QColor(255, 255, 255))
        p.setColor(group, QPalette.Link, QColor(110, 170, 240))
        p.setColor(group, QPalette.Light, QColor(70, 73, 78))
        p.setColor(group, QPalette.Midlight, QColor(58, 60, 65))
        p.setColor(group, QPalette.Mid, QColor(40, 42, 46))
        p.setColor(group, QPalette.Dark, QColor(22, 23, 25))
        p.setColor(group, QPalette.Shadow, QColor(10, 10, 10))
    for role in (QPalette.WindowText, QPalette.Text, QPalette.ButtonText):
        p.setColor(QPalette.Disabled, role, dim)
    p.setColor(QPalette.Disabled, QPalette.Base, window)
    p.setColor(QPalette.Disabled, QPalette.Window, window)
    p.setColor(QPalette.Disabled, QPalette.Button, window)
    p.setColor(QPalette.Disabled, QPalette.Highlight, QColor(80, 84, 90))
    return p


def apply_theme(app: QApplication, name: str) -> None:
    """Switch the whole application's look; ``system`` restores what Qt started with."""
    global _system_style, _system_palette
    if _system_style is None:
        _system_style = app.style().name()
        _system_palette = QPalette(app.palette())
    if name == "dark":
        app.setStyle(QStyleFactory.create("Fusion"))
        app.setPalette(_dark_palette())
    elif name == "light":
        app.setStyle(QStyleFactory.create("Fusion"))
        app.setPalette(app.style().standardPalette())
    else:
        app.setStyle(QStyleFactory.create(_system_style) or QStyleFactory.create("Fusion"))
        app.setPalette(_system_palette)


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.Window).lightness() < 128


# -- confidence colours ----------------------------------------------------------------

SURE = QColor(46, 160, 80)       # at or above the threshold
UNSURE = QColor(240, 160, 0)     # just below it
DOUBTFUL = QColor(220, 50, 47)   # far below it


def confidence_color(confidence: float, threshold: float) -> QColor:
    """Green when sure; below the threshold, amber fading to red as confidence drops."""
    if confidence >= threshold:
        return QColor(SURE)
    t = max(0.0, min(1.0, confidence / threshold)) if threshold > 0 else 0.0
    # t = 1 just under the threshold (amber) .. 0 at zero confidence (red)
    r = DOUBTFUL.red() + (UNSURE.red() - DOUBTFUL.red()) * t
    g = DOUBTFUL.green() + (UNSURE.green() - DOUBTFUL.green()) * t
    b = DOUBTFUL.blue() + (UNSURE.blue() - DOUBTFUL.blue()) * t
    return QColor(int(r), int(g), int(b))


def low_confidence_background(palette: QPalette) -> QColor:
    """Cell background in the result view for text below the threshold."""
    return QColor(110, 78, 0) if is_dark(palette) else QColor(255, 226, 140)

