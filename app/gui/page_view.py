"""The page with the detected cells drawn over it (QGraphicsView).

One rectangle per Cell, so a merged cell is one box. The outline colour says how sure
the recogniser was; the active table's cells are clickable, and the selection made in
the result view is drawn here too. Ctrl+wheel zooms about the cursor, the wheel
scrolls, dragging the background (or any drag with the middle button) pans.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QImage, QMouseEvent, QPainter, QPen, QPixmap, QWheelEvent
from PySide6.QtWidgets import (
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsView,
    QStyle,
    QWidget,
)

from app.gui.grid_ops import cell_name
from app.gui.theme import confidence_color
from table.model import Cell, Table

MIN_ZOOM, MAX_ZOOM = 0.05, 8.0
ZOOM_STEP = 1.25
SELECTION = QColor(30, 120, 230)


def image_to_qimage(image: np.ndarray) -> QImage:
    """RGB (or grey) uint8 array -> QImage that owns its pixels."""
    array = np.ascontiguousarray(image)
    if array.dtype != np.uint8:
        array = np.clip(array, 0, 255).astype(np.uint8)
    if array.ndim == 2:
        h, w = array.shape
        return QImage(array.data, w, h, w, QImage.Format_Grayscale8).copy()
    if array.shape[2] == 4:
        array = np.ascontiguousarray(array[..., :3])
    h, w = array.shape[:2]
    return QImage(array.data, w, h, 3 * w, QImage.Format_RGB888).copy()


class CellItem(QGraphicsRectItem):
    """One cell's box on the page."""

    def __init__(self, table_index: int, cell: Cell,
                 inferred: tuple[bool, bool, bool, bool] = (False, False, False, False)) -> None:
        x0, y0, x1, y1 = cell.bbox
        super().__init__(QRectF(x0, y0, max(1, x1 - x0), max(1, y1 - y0)))
        self.inferred = inferred  # top, right, bottom, left: separators with no rule ink
        self.table_index = table_index
        self.row, self.col = cell.row, cell.col
        self.cell = cell
        self.setAcceptedMouseButtons(Qt.LeftButton)
        self.setAcceptHoverEvents(True)
        self.setZValue(2)
        self.describe()

    def describe(self) -> None:
        """Tooltip with the cell's current text and confidence."""
        cell = self.cell
        text = cell.text.replace("\n", " ⏎ ") if cell.text else "(empty)"
        self.setToolTip(f"{cell_name(cell.row, cell.col)}: {text}\n"
                        f"confidence {cell.confidence:.0%}")

    def style(self, threshold: float, active: bool, selected: bool) -> None:
        colour = confidence_color(self.cell.confidence, threshold)
        if not active:
            colour.setAlpha(90)
        pen = QPen(SELECTION if selected else colour, 3 if selected else (2 if active else 1))
        pen.setCosmetic(True)  # same width on screen whatever the zoom
        pen.setJoinStyle(Qt.MiterJoin)
        self.setPen(pen)
        if selected:
            fill = QColor(SELECTION)
            fill.setAlpha(60)
        elif self.cell.confidence < threshold and self.cell.text:
            fill = QColor(colour)
            fill.setAlpha(55 if active else 25)
        else:
            fill = QColor(0, 0, 0, 0)
        self.setBrush(QBrush(fill))
        self.setZValue(3 if selected else 2)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        if not any(self.inferred):
            super().paint(painter, option, widget)
            return
        # Separators the structure model inferred (no ink on the page) are dashed.
        r = self.rect()
        painter.setPen(Qt.NoPen)
        painter.setBrush(self.brush())
        painter.drawRect(r)
        solid = self.pen()
        dashed = QPen(solid)
        dashed.setDashPattern([3.0, 3.0])
        edges = ((r.topLeft(), r.topRight()), (r.topRight(), r.bottomRight()),
                 (r.bottomLeft(), r.bottomRight()), (r.topLeft(), r.bottomLeft()))
        for (a, b), inferred in zip(edges, self.inferred):
            painter.setPen(dashed if inferred else solid)
            painter.drawLine(a, b)

    def mousePressEvent(self, event) -> None:
        event.accept()
        view = self.scene().views()[0] if self.scene() and self.scene().views() else None
        if isinstance(view, PageView):
            view.cellClicked.emit(self.table_index, self.row, self.col, event.modifiers())


class PageView(QGraphicsView):
    # table index on the page, row, col, keyboard modifiers
    cellClicked = Signal(int, int, int, object)
    zoomChanged = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHints(QPainter.Antialiasing | QPainter.SmoothPixmapTransform)
        self.setTransformationAnchor(QGraphicsView.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.AnchorViewCenter)
        self.setDragMode(QGraphicsView.ScrollHandDrag)
        self.setViewportUpdateMode(QGraphicsView.SmartViewportUpdate)
        self.setAcceptDrops(False)  # files dropped here go to the main window
        self.setBackgroundBrush(self.palette().dark())
        self._pixmap: QGraphicsPixmapItem | None = None
        self._items: dict[tuple[int, int, int], CellItem] = {}
        self._tables: list[Table] = []
        self._threshold = 0.8
        self._active = 0
        self._selected: set[tuple[int, int, int]] = set()
        self._fit: str | None = "page"  # "page" or "width": kept on resize until a zoom
        self._overlay = True
        self._middle_pan: QPointF | None = None

    # -- content -------------------------------------------------------------------------
    def set_page(self, image: np.ndarray | None, tables: list[Table], threshold: float,
                 active: int = 0, keep_view: bool = False) -> None:
        """Show a page and its tables; ``keep_view`` keeps zoom and scroll (same page)."""
        scene = self.scene()
        if not keep_view:
            scene.clear()
            self._pixmap = None
            self._items.clear()
            if image is not None:
                self._pixmap = scene.addPixmap(QPixmap.fromImage(image_to_qimage(image)))
                self._pixmap.setTransformationMode(Qt.SmoothTransformation)
                self._pixmap.setZValue(0)
                scene.setSceneRect(self._pixmap.boundingRect())
        elif image is not None and self._pixmap is not None:
            # Same page, new image (now deskewed): swap pixels, keep the view.
            self._pixmap.setPixmap(QPixmap.fromImage(image_to_qimage(image)))
            scene.setSceneRect(self._pixmap.boundingRect())
        self._threshold = threshold
        self.set_tables(tables, active)
        if not keep_view:
            self.fit_initial()

    def set_tables(self, tables: list[Table], active: int | None = None) -> None:
        for item in self._items.values():
            self.scene().removeItem(item)
        self._items.clear()
        self._tables = list(tables)
        if active is not None:
            self._active = active
        for t_index, table in enumerate(self._tables):
            for cell in table.cells:
                item = CellItem(t_index, cell, table.inferred_edges(cell))
                item.setVisible(self._overlay)
                self.scene().addItem(item)
                self._items[(t_index, cell.row, cell.col)] = item
        self._selected = {k for k in self._selected if k in self._items}
        self._restyle()

    def refresh_cell(self, table_index: int, row: int, col: int) -> None:
        """Redraw one cell after its text or confidence changed."""
        key = (table_index, row, col)
        item = self._items.get(key)
        if item is not None:
            item.describe()
            item.style(self._threshold, table_index == self._active, key in self._selected)

    def set_threshold(self, threshold: float) -> None:
        self._threshold = threshold
        self._restyle()

    def set_overlay_visible(self, visible: bool) -> None:
        """Show or hide the cell boxes (to look at the bare scan)."""
        self._overlay = visible
        for item in self._items.values():
            item.setVisible(visible)

    @property
    def overlay_visible(self) -> bool:
        return self._overlay

    def set_active_table(self, index: int) -> None:
        self._active = index
        self._restyle()

    def set_selection(self, table_index: int, cells: list[Cell]) -> None:
        self._selected = {(table_index, c.row, c.col) for c in cells}
        self._restyle()

    def selected_cells(self) -> list[tuple[int, int, int]]:
        return sorted(self._selected)

    def item_for(self, table_index: int, row: int, col: int) -> CellItem | None:
        return self._items.get((table_index, row, col))

    def _restyle(self) -> None:
        for key, item in self._items.items():
            item.style(self._threshold, key[0] == self._active, key in self._selected)

    def ensure_cell_visible(self, table_index: int, row: int, col: int) -> None:
        """Scroll a cell into view: centred when it was out of sight, else left alone."""
        item = self._items.get((table_index, row, col))
        if item is None:
            return
        visible = self.mapToScene(self.viewport().rect()).boundingRect()
        if not visible.contains(item.sceneBoundingRect()):
            self.centerOn(item)

    def cell_visible(self, table_index: int, row: int, col: int) -> bool:
        """Whether the cell's centre is inside the visible part of the page."""
        item = self._items.get((table_index, row, col))
        if item is None:
            return False
        visible = self.mapToScene(self.viewport().rect()).boundingRect()
        return visible.contains(item.rect().center())

    # -- zoom ----------------------------------------------------------------------------
    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def _set_zoom(self, factor: float) -> None:
        factor = max(MIN_ZOOM, min(MAX_ZOOM, factor))
        scale = factor / self.zoom
        if abs(scale - 1.0) > 1e-6:
            self.scale(scale, scale)
        self.zoomChanged.emit(self.zoom)

    def zoom_in(self) -> None:
        self._fit = None
        self._set_zoom(self.zoom * ZOOM_STEP)

    def zoom_out(self) -> None:
        self._fit = None
        self._set_zoom(self.zoom / ZOOM_STEP)

    def actual_size(self) -> None:
        self._fit = None
        self._set_zoom(1.0)

    def fit_initial(self) -> None:
        """A new page: the whole page, unless it is so tall (a long table) that its
        text would be unreadable; then its full width from the top."""
        rect, view = self.sceneRect(), self.viewport().rect()
        if rect.isEmpty() or view.isEmpty():
            self._fit = "page"
            return
        if rect.height() / rect.width() > 2.0 * view.height() / view.width():
            self.fit_width()
            self.verticalScrollBar().setValue(self.verticalScrollBar().minimum())
        else:
            self.fit()

    def fit(self) -> None:
        """Whole page in view; sticks on resize until the user zooms."""
        self._fit = "page"
        rect = self.sceneRect()
        if rect.isEmpty():
            return
        self.fitInView(rect, Qt.KeepAspectRatio)
        self.zoomChanged.emit(self.zoom)

    def fit_width(self) -> None:
        """Page width in view; sticks on resize until the user zooms."""
        self._fit = "width"
        rect = self.sceneRect()
        if rect.isEmpty():
            return
        width = self.viewport().width()
        if not self.verticalScrollBar().isVisible():  # it will appear: leave room for it
            width -= self.style().pixelMetric(QStyle.PM_ScrollBarExtent)
        self._set_zoom((width - 4) / rect.width())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._fit == "page":
            self.fit()
        elif self._fit == "width":
            self.fit_width()

    def wheelEvent(self, event: QWheelEvent) -> None:
        if event.modifiers() & Qt.ControlModifier:
            steps = event.angleDelta().y() / 120.0
            if steps:
                self._fit = None
                self._set_zoom(self.zoom * (ZOOM_STEP ** steps))
            event.accept()
            return
        super().wheelEvent(event)

    # -- panning with the middle button anywhere -----------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MiddleButton:
            self._middle_pan = event.position()
            self.viewport().setCursor(Qt.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._middle_pan is not None:
            delta = event.position() - self._middle_pan
            self._middle_pan = event.position()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - int(delta.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - int(delta.y()))
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MiddleButton and self._middle_pan is not None:
            self._middle_pan = None
            self.viewport().unsetCursor()
            event.accept()
            return
        super().mouseReleaseEvent(event)

