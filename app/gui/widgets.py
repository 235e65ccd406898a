"""Small widgets of the main window: the message banner, the welcome panel and the
page list."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QIcon, QPalette, QPixmap
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.gui.page_view import image_to_qimage

LEVELS = ("error", "warning", "info")
_COLOURS = {  # (light background, dark background, accent)
    "error": ("#fbe3e2", "#4a2323", "#d9413b"),
    "warning": ("#fff1cc", "#4a3d16", "#e0a000"),
    "info": ("#e1eefc", "#1f3550", "#3d84d6"),
}


class MessageBanner(QFrame):
    """A message inside the window (not a modal box): errors stay until closed,
    information fades after a while."""

    closed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("MessageBanner")
        self.level = "info"
        self.icon = QLabel()
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.close_button = QToolButton()
        self.close_button.setAutoRaise(True)
        self.close_button.setText("✕")
        self.close_button.setToolTip("Dismiss")
        self.close_button.clicked.connect(self.dismiss)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.icon)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.close_button, 0, Qt.AlignTop)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.dismiss)
        self.hide()

    def show_message(self, level: str, text: str, timeout_ms: int = 0) -> None:
        if level not in LEVELS:
            raise ValueError(f"unknown message level {level!r}")
        self.level = level
        light, dark, accent = _COLOURS[level]
        # The application's palette: a style sheet freezes this widget's own copy.
        is_dark = QApplication.palette().color(QPalette.Window).lightness() < 128
        self.setStyleSheet(
            f"#MessageBanner {{ background: {dark if is_dark else light};"
            f" border: 1px solid {accent}; border-left: 5px solid {accent}; border-radius: 3px; }}")
        icon = {"error": QStyle.SP_MessageBoxCritical, "warning": QStyle.SP_MessageBoxWarning,
                "info": QStyle.SP_MessageBoxInformation}[level]
        self.icon.setPixmap(self.style().standardIcon(icon).pixmap(20, 20))
        self.label.setText(text)
        self._timer.stop()
        if timeout_ms:
            self._timer.start(timeout_ms)
        self.show()

    def text(self) -> str:
        return self.label.text() if self.isVisible() else ""

    def dismiss(self) -> None:
        self._timer.stop()
        self.hide()
        self.closed.emit()


class WelcomePanel(QWidget):
    """What the page area shows before a file is open."""

    openRequested = Signal()
    recentRequested = Signal(str)

    def __init__(self, icon: QIcon, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.logo = QLabel()
        self.logo.setPixmap(icon.pixmap(96, 96))
        self.logo.setAlignment(Qt.AlignCenter)
        title = QLabel("Open a scanned table")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        title.setFont(font)
        title.setAlignment(Qt.AlignCenter)
        hint = QLabel("PNG, JPEG, TIFF or PDF — drop it anywhere in this window, or")
        hint.setAlignment(Qt.AlignCenter)
        hint.setForegroundRole(QPalette.PlaceholderText)
        open_button = QPushButton("Open a File…")
        open_button.setDefault(True)
        open_button.clicked.connect(self.openRequested)
        self.recent_box = QVBoxLayout()
        self.recent_box.setSpacing(2)
        self.recent_title = QLabel("Recent files")
        self.recent_title.setAlignment(Qt.AlignCenter)
        self.recent_title.setForegroundRole(QPalette.PlaceholderText)
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        layout.addWidget(self.logo)
        layout.addSpacing(8)
        layout.addWidget(title)
        layout.addWidget(hint)
        layout.addSpacing(6)
        layout.addWidget(open_button, 0, Qt.AlignCenter)
        layout.addSpacing(20)
        layout.addWidget(self.recent_title)
        layout.addLayout(self.recent_box)
        layout.addStretch(3)
        self._recent_buttons: list[QPushButton] = []

    def set_recent(self, files: list[str]) -> None:
        for button in self._recent_buttons:
            button.deleteLater()
        self._recent_buttons = []
        for path in files[:6]:
            button = QPushButton(Path(path).name)
            button.setFlat(True)
            button.setToolTip(path)
            button.setCursor(Qt.PointingHandCursor)
            button.clicked.connect(lambda _=False, p=path: self.recentRequested.emit(p))
            self.recent_box.addWidget(button, 0, Qt.AlignCenter)
            self._recent_buttons.append(button)
        self.recent_title.setVisible(bool(self._recent_buttons))


THUMB = QSize(96, 128)


class PageList(QListWidget):
    """Thumbnails of a PDF's or TIFF's pages with what conversion found on each."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListWidget.IconMode)
        self.setFlow(QListWidget.TopToBottom)
        self.setWrapping(False)
        self.setMovement(QListWidget.Static)
        self.setResizeMode(QListWidget.Adjust)
        self.setIconSize(THUMB)
        self.setSpacing(6)
        self.setUniformItemSizes(True)
        self.setAcceptDrops(False)
        self.setMinimumWidth(THUMB.width() + 48)

    def set_pages(self, thumbnails: list[np.ndarray]) -> None:
        self.clear()
        for i, thumb in enumerate(thumbnails):
            icon = QIcon(QPixmap.fromImage(image_to_qimage(thumb)))
            item = QListWidgetItem(icon, f"Page {i + 1}")
            item.setTextAlignment(Qt.AlignHCenter)
            item.setSizeHint(QSize(THUMB.width() + 30, THUMB.height() + 44))
            self.addItem(item)

    def set_status(self, page: int, status: str) -> None:
        item = self.item(page)
        if item is not None:
            item.setText(f"Page {page + 1}\n{status}" if status else f"Page {page + 1}")
            item.setToolTip(item.text().replace("\n", " — "))
