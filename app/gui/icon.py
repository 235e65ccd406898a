"""The application icon: a scanned sheet with a table on it, one cell flagged for review,
and the scanner's light bar passing over it.

Drawn with QPainter in a 256-unit square, so the same drawing produces the SVG and the
PNGs in resources/icons/ (``python -m app.gui.icon`` rewrites them) and, should those
files be missing from an installation, the icon at run time.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QGuiApplication,
    QIcon,
    QImage,
    QLinearGradient,
    QPainter,
    QPainterPath,
    QPen,
    QPixmap,
)

import resources

ICON_DIR = resources.path(resources.ICONS)
ICON_NAME = "tablescribe"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def paint_icon(painter: QPainter, size: float) -> None:
    """Draw the icon into a ``size`` x ``size`` square at the painter's origin."""
    painter.save()
    painter.setRenderHint(QPainter.Antialiasing)
    painter.scale(size / 256.0, size / 256.0)

    # Rounded tile, deep blue to teal.
    tile = QLinearGradient(QPointF(0, 0), QPointF(256, 256))
    tile.setColorAt(0.0, QColor("#1d5fa8"))
    tile.setColorAt(1.0, QColor("#14897d"))
    painter.setPen(Qt.NoPen)
    painter.setBrush(QBrush(tile))
    painter.drawRoundedRect(QRectF(8, 8, 240, 240), 52, 52)

    # The sheet, with a folded top-right corner.
    sheet = QPainterPath()
    sheet.moveTo(58, 36)
    sheet.lineTo(172, 36)
    sheet.lineTo(206, 70)
    sheet.lineTo(206, 220)
    sheet.lineTo(58, 220)
    sheet.closeSubpath()
    painter.setBrush(QColor(0, 0, 0, 50))
    painter.drawPath(sheet.translated(4, 6))  # soft shadow
    painter.setBrush(QColor("#ffffff"))
    painter.drawPath(sheet)
    fold = QPainterPath()
    fold.moveTo(172, 36)
    fold.lineTo(172, 70)
    fold.lineTo(206, 70)
    fold.closeSubpath()
    painter.setBrush(QColor("#c9d6e6"))
    painter.drawPath(fold)

    # The table: header row, three columns, four body rows, one cell to check.
    left, right, top, bottom = 74, 190, 84, 204
    cols = [left, 112, 151, right]
    rows = [top, 106, 130, 154, 179, bottom]
    painter.setBrush(QColor("#1d5fa8"))
    painter.drawRect(QRectF(left, top, right - left, rows[1] - top))
    painter.setBrush(QColor("#ffb020"))
    painter.drawRect(QRectF(cols[1], rows[3], cols[2] - cols[1], rows[4] - rows[3]))
    grid = QPen(QColor("#33475b"), 3.2)
    grid.setJoinStyle(Qt.MiterJoin)
    painter.setPen(grid)
    painter.setBrush(Qt.NoBrush)
    painter.drawRect(QRectF(left, top, right - left, bottom - top))
    for x in cols[1:-1]:
        painter.drawLine(QPointF(x, top), QPointF(x, bottom))
    for y in rows[1:-1]:
        painter.drawLine(QPointF(left, y), QPointF(right, y))
    # "Text" strokes in the body cells (skipped in the flagged one).
    painter.setPen(QPen(QColor("#7d8fa3"), 5, Qt.SolidLine, Qt.RoundCap))
    for r in range(1, 5):
        for c in range(3):
            if (r, c) == (3, 1):
                continue
            x0 = cols[c] + 7
            y = (rows[r] + rows[r + 1]) / 2
            length = (cols[c + 1] - cols[c] - 14) * (0.55 + 0.4 * ((r * 3 + c) % 3) / 2)
            painter.drawLine(QPointF(x0, y), QPointF(x0 + length, y))
    painter.setPen(QPen(QColor("#ffffff"), 5, Qt.SolidLine, Qt.RoundCap))
    for c in range(3):
        x0 = cols[c] + 7
        painter.drawLine(QPointF(x0, (top + rows[1]) / 2), QPointF(x0 + 18, (top + rows[1]) / 2))

    # Scanner light bar across the sheet.
    beam = QLinearGradient(QPointF(0, 134), QPointF(0, 162))
    beam.setColorAt(0.0, QColor(80, 230, 200, 0))
    beam.setColorAt(0.5, QColor(80, 230, 200, 150))
    beam.setColorAt(1.0, QColor(80, 230, 200, 0))
    painter.setPen(Qt.NoPen)
    painter.setBrush(QBrush(beam))
    painter.drawRect(QRectF(40, 134, 184, 28))
    painter.setPen(QPen(QColor("#2fe0c0"), 3.5, Qt.SolidLine, Qt.RoundCap))
    painter.drawLine(QPointF(40, 148), QPointF(224, 148))
    painter.restore()


def render_png(size: int) -> QImage:
    image = QImage(size, size, QImage.Format_ARGB32_Premultiplied)
    image.fill(Qt.transparent)
    painter = QPainter(image)
    paint_icon(painter, size)
    painter.end()
    return image


def write_svg(path: Path) -> None:
    from PySide6.QtSvg import QSvgGenerator

    generator = QSvgGenerator()
    generator.setFileName(str(path))
    generator.setSize(QSize(256, 256))
    generator.setViewBox(QRectF(0, 0, 256, 256))
    generator.setTitle("tablescribe")
    generator.setDescription("tablescribe application icon")
    painter = QPainter(generator)
    paint_icon(painter, 256)
    painter.end()


def app_icon() -> QIcon:
    """The icon from resources/icons, drawn on the fly where those files are absent."""
    icon = QIcon()
    for size in PNG_SIZES:
        png = ICON_DIR / f"{ICON_NAME}-{size}.png"
        if png.is_file():
            icon.addFile(str(png), QSize(size, size))
    if icon.isNull():
        for size in (16, 32, 64, 256):
            icon.addPixmap(QPixmap.fromImage(render_png(size)))
    return icon


def write_icons(folder: Path = ICON_DIR) -> list[Path]:
    """Regenerate the SVG and every PNG size."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    svg = folder / f"{ICON_NAME}.svg"
    write_svg(svg)
    written.append(svg)
    for size in PNG_SIZES:
        png = folder / f"{ICON_NAME}-{size}.png"
        if not render_png(size).save(str(png)):
            raise OSError(f"could not write {png}")
        written.append(png)
    main_png = folder / f"{ICON_NAME}.png"
    render_png(256).save(str(main_png))
    written.append(main_png)
    return written


if __name__ == "__main__":
    app = QGuiApplication.instance() or QGuiApplication(sys.argv)
    for path in write_icons(Path(sys.argv[1]) if len(sys.argv) > 1 else ICON_DIR):
        print(path)
