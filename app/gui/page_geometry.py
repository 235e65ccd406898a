"""The window's page geometry: Rotate Page (90° steps), Straighten Page (four corners)
and Show Original Page. A rotation or a straightening converts the page again as the
person set it, in one undoable step; the page view shows the corrected page, and the
original is a toggle away."""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QMainWindow

from app.gui.straighten_dialog import StraightenDialog
from table.prepare import PageCorrection


class PageGeometry(QObject):
    def __init__(self, window: QMainWindow) -> None:
        # ``window`` is the app.gui.main_window.MainWindow composing this part.
        super().__init__(window)
        self.w = window
        self.showing_original = False
        # What Straighten Page opens; a test may hand in one that answers by itself.
        self.make_dialog = StraightenDialog

    # -- actions ----------------------------------------------------------------------------
    def build_actions(self) -> list[QAction | None]:
        """The actions, in menu order (None: a separator), also added to the window."""
        def action(text, slot, shortcut, tip, checkable=False) -> QAction:
            act = QAction(text, self.w)
            act.setShortcut(QKeySequence(shortcut))
            act.setStatusTip(tip)
            act.setToolTip(tip)
            act.setCheckable(checkable)
            act.triggered.connect(slot)
            self.w.addAction(act)
            return act

        self.act_rotate_right = action("Rotate Page &Right", lambda: self.rotate(90), "Ctrl+R",
                                       "Turn the page a quarter clockwise and convert it again")
        self.act_rotate_left = action("Rotate Page &Left", lambda: self.rotate(270),
                                      "Ctrl+Shift+R", "Turn the page a quarter "
                                      "anticlockwise and convert it again")
        self.act_straighten = action("&Straighten Page…", self.straighten, "Ctrl+T",
                                     "Drag the corners of a photographed page or table onto "
                                     "its corners; it is squared up and converted again")
        self.act_original = action("Show &Original Page", self.show_original, "Ctrl+Shift+O",
                                   "Show the page as it was opened, before it was squared "
                                   "up, evenly lit and turned", checkable=True)
        return [self.act_rotate_left, self.act_rotate_right, self.act_straighten, None,
                self.act_original]

    def update_actions(self) -> None:
        w = self.w
        doc = w.doc
        result = doc.results.get(w.current_page) if doc is not None else None
        from_layer = result is not None and result.read_from == "text-layer"
        can = doc is not None and not w.jobs.running("convert") and not from_layer
        for act in (self.act_rotate_left, self.act_rotate_right, self.act_straighten):
            act.setEnabled(can)
            if from_layer:
                act.setStatusTip("This page's text comes from the PDF itself: nothing to turn")
        self.act_original.setEnabled(doc is not None)

    # -- what they do ----------------------------------------------------------------------
    def _current(self) -> tuple[int, PageCorrection]:
        """The page on screen and the correction it was converted with (or will be)."""
        doc, page = self.w.doc, self.w.current_page
        correction = doc.corrections.get(page, PageCorrection())
        result = doc.results.get(page)
        if correction.turn is None and result is not None and result.turn:
            # The page was righted automatically: turn on from what is on screen.
            correction = PageCorrection(correction.corners, result.turn)
        return page, correction

    def rotate(self, degrees: int) -> bool:
        """Turn the page on screen ``degrees`` clockwise from how it is shown now."""
        if self.w.doc is None:
            return False
        page, correction = self._current()
        side = "right" if degrees % 360 == 90 else "left"
        self._show_corrected()
        return self.w.conversion.convert_corrected(page, correction.turned(degrees),
                                                   f"Rotate page {page + 1} {side}")

    def straighten(self) -> bool:
        """Ask for the sheet's four corners on the original page, then convert it again."""
        doc = self.w.doc
        if doc is None:
            return False
        page, correction = self._current()
        result = doc.results.get(page)
        corners = correction.corners
        if corners is None and result is not None:
            corners = result.corners  # where the sheet was found automatically
        dialog = self.make_dialog(doc.pages[page].image, corners, self.w)
        if dialog.exec() != QDialog.Accepted:
            return False
        placed = tuple((float(x), float(y)) for x, y in dialog.corners())
        self._show_corrected()
        return self.w.conversion.convert_corrected(
            page, PageCorrection(placed, correction.turn), f"Straighten page {page + 1}")

    def show_original(self, checked: bool) -> None:
        self.showing_original = bool(checked)
        self.w.pages.show_page(keep_view=False)

    def _show_corrected(self) -> None:
        if self.showing_original:
            self.act_original.setChecked(False)
            self.show_original(False)
