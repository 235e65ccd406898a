"""The Help menu's windows: About (with the versions of what runs) and the model card."""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QMessageBox,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.about import About, describe

BLURB = ("Turns scanned tables into spreadsheets, offline. Tables are found with OpenCV; "
         "text is read by a TrOCR model running on tablescribe's own tensor engine.")


def gather(model: str | None, device: str | None) -> About:
    """describe() with a wait cursor: the engine is imported to name its device."""
    QApplication.setOverrideCursor(Qt.WaitCursor)
    try:
        return describe(model, device)
    finally:
        QApplication.restoreOverrideCursor()


def about_html(about: About) -> str:
    rows = (("tablescribe", about.version), ("Model", about.model),
            ("Model card", about.model_title), ("Engine device", about.device))
    table = "".join(f"<tr><td><b>{escape(k)}</b>&nbsp;&nbsp;</td><td>{escape(v)}</td></tr>"
                    for k, v in rows)
    return f"<h3>tablescribe</h3><p>{escape(BLURB)}</p><table>{table}</table>"


def about_box(parent: QWidget, about: About) -> QMessageBox:
    box = QMessageBox(parent)
    box.setWindowTitle("About tablescribe")
    box.setIconPixmap(parent.windowIcon().pixmap(64, 64))
    box.setTextFormat(Qt.RichText)
    box.setText(about_html(about))
    box.setTextInteractionFlags(Qt.TextSelectableByMouse)
    box.setStandardButtons(QMessageBox.Close)
    return box


class ModelCardDialog(QDialog):
    """The model card (Markdown) of the model in use, as written by its authors."""

    def __init__(self, about: About, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        if about.card is None:
            raise ValueError("the model has no card to show")
        self.card = about.card
        self.setWindowTitle(f"Model card — {about.model_title}")
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(True)
        self.browser.setMarkdown(self.card.read_text(encoding="utf-8"))
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser, 1)
        layout.addWidget(buttons)
        self.resize(720, 640)
