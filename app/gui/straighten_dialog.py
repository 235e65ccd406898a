"""Straighten Page: the original page with four corners a person drags onto the sheet's
(or the table's) corners; the quadrilateral they make is squared up into the page that
is analysed again (table.prepare.PageCorrection)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QPainter, QPen, QPixmap, QPolygonF
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsPolygonItem,
    QGraphicsScene,
    QGraphicsView,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.gui.page_view import image_to_qimage
from table.photo import find_page, order_corners

HANDLE_PX = 14  # a corner handle's size on screen, whatever the zoom
OUTLINE = QColor(30, 120, 230)
CORNER_NAMES = ("top left", "top right", "bottom right", "bottom left")


def whole_image_corners(image: np.ndarray) -> np.ndarray:
    """The image's own corners (TL, TR, BR, BL): a page that is already square."""
    h, w = image.shape[:2]
    return np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float32)


class CornerHandle(QGraphicsEllipseItem):
    """One draggable corner; it stays on the image and tells the dialog it moved."""

    def __init__(self, index: int, bounds: QRectF, moved) -> None:
        r = HANDLE_PX / 2
        super().__init__(-r, -r, HANDLE_PX, HANDLE_PX)
        self.index, self.bounds, self.moved = index, bounds, moved
        self.setFlags(QGraphicsItem.ItemIsMovable | QGraphicsItem.ItemSendsGeometryChanges
                      | QGraphicsItem.ItemIgnoresTransformations)
        self.setBrush(QBrush(QColor(255, 255, 255, 200)))
        pen = QPen(OUTLINE, 2)
        pen.setCosmetic(True)
        self.setPen(pen)
        self.setCursor(Qt.SizeAllCursor)
        self.setToolTip(f"Drag onto the {CORNER_NAMES[index]} corner of the page or table")
        self.setZValue(2)

    def itemChange(self, change, value):
        if change == QGraphicsItem.ItemPositionChange:
            b = self.bounds
            return QPointF(min(max(value.x(), b.left()), b.right()),
                           min(max(value.y(), b.top()), b.bottom()))
        if change == QGraphicsItem.ItemPositionHasChanged:
            # After the move, not inside it: the dialog's update may move focus, and
            # Qt must not re-enter an item in the middle of its change.
            self.moved()
            return value
        return super().itemChange(change, value)


class StraightenDialog(QDialog):
    cornersChanged = Signal()

    def __init__(self, image: np.ndarray, corners: np.ndarray | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Straighten Page")
        self.image = image
        self.resize(900, 700)
        scene = QGraphicsScene(self)
        scene.setItemIndexMethod(QGraphicsScene.NoIndex)  # few items, moved often
        pixmap = scene.addPixmap(QPixmap.fromImage(image_to_qimage(image)))
        pixmap.setTransformationMode(Qt.SmoothTransformation)
        bounds = pixmap.boundingRect().adjusted(0, 0, -1, -1)
        scene.setSceneRect(pixmap.boundingRect())
        self.outline = QGraphicsPolygonItem()
        pen = QPen(OUTLINE, 2)
        pen.setCosmetic(True)
        self.outline.setPen(pen)
        fill = QColor(OUTLINE)
        fill.setAlpha(40)
        self.outline.setBrush(QBrush(fill))
        self.outline.setZValue(1)
        scene.addItem(self.outline)
        self._update_pending = False
        self.handles = [CornerHandle(i, bounds, self._moved_later) for i in range(4)]
        for handle in self.handles:
            scene.addItem(handle)
        self.view = QGraphicsView(scene)
        self.view.setRenderHints(QPainter.Antialiasing | QPainter.SmoothPixmapTransform)
        self.view.setBackgroundBrush(self.palette().dark())

        hint = QLabel("Drag the four corners onto the corners of the page (or of the table). "
                      "The page inside them is squared up and converted again; Undo puts "
                      "it back.")
        hint.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.ok_button = buttons.button(QDialogButtonBox.Ok)
        self.ok_button.setText("Straighten")
        self.detect_button = QPushButton("Find the Page")
        self.detect_button.setToolTip("Put the corners where tablescribe sees the sheet")
        self.detect_button.clicked.connect(self.detect)
        self.whole_button = QPushButton("Whole Image")
        self.whole_button.setToolTip("Put the corners on the image's own corners")
        self.whole_button.clicked.connect(lambda: self.set_corners(whole_image_corners(image)))
        buttons.addButton(self.detect_button, QDialogButtonBox.ResetRole)
        buttons.addButton(self.whole_button, QDialogButtonBox.ResetRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.status = QLabel()
        layout = QVBoxLayout(self)
        layout.addWidget(hint)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.status)
        layout.addWidget(buttons)
        self.set_corners(corners if corners is not None else whole_image_corners(image))

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.view.fitInView(self.view.sceneRect(), Qt.KeepAspectRatio)

    def set_corners(self, corners) -> None:
        pts = order_corners(np.asarray(corners, np.float32))
        for handle, (x, y) in zip(self.handles, pts, strict=True):
            handle.setPos(float(x), float(y))
        self._on_moved()

    def corners(self) -> np.ndarray:
        """The four corners as placed, ordered TL, TR, BR, BL (float32 (4, 2))."""
        return order_corners(np.array([[h.pos().x(), h.pos().y()] for h in self.handles],
                                      np.float32))

    def detect(self) -> bool:
        """Corners where the sheet is found against the desk; False (and said) if not."""
        found = find_page(self.image)
        if found is None:
            self.status.setText("No sheet stands out from its surroundings: place the "
                                "corners by hand.")
            return False
        self.set_corners(found)
        self.status.setText("")
        return True

    def _moved_later(self) -> None:
        if not self._update_pending:
            self._update_pending = True
            QTimer.singleShot(0, self, self._on_moved)

    def _on_moved(self) -> None:
        self._update_pending = False
        self.outline.setPolygon(QPolygonF([QPointF(float(x), float(y)) for x, y in self.corners()]))
        ok = self._plausible()
        self.status.setText("" if ok else "The corners must enclose a four-sided area.")
        self.ok_button.setEnabled(ok)
        self.cornersChanged.emit()

    def _plausible(self) -> bool:
        """A convex quadrilateral of some size: anything else cannot be squared up."""
        pts = self.corners().astype(np.float64)
        crosses = []
        for k in range(4):
            a, b = pts[(k + 1) % 4] - pts[k], pts[(k + 2) % 4] - pts[(k + 1) % 4]
            crosses.append(a[0] * b[1] - a[1] * b[0])
        convex = all(c > 0 for c in crosses) or all(c < 0 for c in crosses)
        sides = [np.hypot(*(pts[(k + 1) % 4] - pts[k])) for k in range(4)]
        return bool(convex and min(sides) >= 8)
