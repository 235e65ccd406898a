"""Rotate Page, Straighten Page and Show Original Page in the real window (issue 18):
the person's turn and corners decide, the page is converted again, and Undo puts the
page and its tables back."""

from __future__ import annotations

import typing

import cv2
import numpy as np
from PIL import Image
from PySide6.QtWidgets import QDialog

from app.gui.straighten_dialog import StraightenDialog, whole_image_corners
from tests.gui.conftest import DPI, open_and_convert
from tests.table.render import merged_spec, render_page


def _rotate(qtbot, window, action):
    with qtbot.waitSignal(window.conversionFinished, timeout=120_000):
        action.trigger()
    return window.doc.results[window.current_page]


def _shown_size(window) -> tuple[int, int]:
    rect = window.page_view.sceneRect()
    return int(rect.width()), int(rect.height())


def _about(size, want) -> bool:
    """Sizes equal up to the few pixels deskewing may add."""
    return all(abs(a - b) <= 0.01 * b + 2 for a, b in zip(size, want, strict=True))


def test_rotating_a_page_converts_it_turned_and_undo_puts_it_back(qtbot, window, merged_scan):
    path, truth = merged_scan
    doc = open_and_convert(qtbot, window, path)
    upright = doc.results[0]
    h, w = upright.image.shape[:2]
    assert upright.turn == 0 and (upright.tables[0].n_rows, upright.tables[0].n_cols) == \
        (truth.n_rows, truth.n_cols)

    turned = _rotate(qtbot, window, window.page_geometry.act_rotate_right)
    assert doc.corrections[0].turn == 90 and turned.turn == 90
    assert _about(turned.image.shape[:2], (w, h))  # the page lies on its side now
    assert _about(_shown_size(window), (h, w))
    assert window.isWindowModified()
    assert "Rotate page 1 right" in window.act_undo.toolTip()

    window.act_undo.trigger()
    assert doc.results[0] is upright and 0 not in doc.corrections
    assert _shown_size(window) == (w, h)
    window.act_redo.trigger()
    assert doc.results[0] is turned and doc.corrections[0].turn == 90

    # Left from there is upright again, as the person said (no automatic turn).
    back = _rotate(qtbot, window, window.page_geometry.act_rotate_left)
    assert doc.corrections[0].turn == 0 and back.turn == 0
    assert _about(back.image.shape[:2], (h, w))
    assert [c.text for c in back.tables[0].cells] == [c.text for c in upright.tables[0].cells]


def test_rotation_starts_from_the_page_as_it_was_righted(qtbot, window, tmp_path):
    # A page scanned upside down is righted automatically (turn 180); Rotate Right
    # turns what is on screen, so the page ends at 270, not at 90.
    page = render_page([merged_spec()], dpi=DPI)
    path = tmp_path / "upside-down.png"
    Image.fromarray(np.ascontiguousarray(page.image[::-1, ::-1])).save(path, dpi=(DPI, DPI))
    doc = open_and_convert(qtbot, window, path)
    assert doc.results[0].turn == 180
    turned = _rotate(qtbot, window, window.page_geometry.act_rotate_right)
    assert turned.turn == 270 and doc.corrections[0].turn == 270


def _photo_on_pale_desk(page: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``page`` at an angle on a desk almost as pale as the paper, so that the sheet
    cannot be told from the desk: only a person can place its corners."""
    h, w = page.shape[:2]
    W, H = int(w * 1.3), int(h * 1.3)
    src = np.float32([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]])
    dst = np.float32([[0.17 * w, 0.12 * h], [1.12 * w, 0.16 * h],
                      [1.2 * w, 1.2 * h], [0.1 * w, 1.14 * h]])
    canvas = np.full((H, W, 3), 246, np.uint8)
    m = cv2.getPerspectiveTransform(src, dst)
    photo = cv2.warpPerspective(page, m, (W, H), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_TRANSPARENT, dst=canvas)
    return photo, dst


class _AnsweringDialog(StraightenDialog):
    """The real dialog, with the corners a person would drag the handles to."""

    corners_to_place: np.ndarray | None = None
    seen: typing.ClassVar[list] = []

    def exec(self) -> int:
        _AnsweringDialog.seen.append(self)
        self.set_corners(self.corners_to_place)
        return QDialog.Accepted if self.ok_button.isEnabled() else QDialog.Rejected


def test_straightening_uses_the_corners_placed_and_converts_the_squared_page(
        qtbot, window, tmp_path):
    page = render_page([merged_spec()], dpi=DPI)
    truth = page.tables[0]
    photo, corners = _photo_on_pale_desk(page.image)
    path = tmp_path / "photo.png"
    Image.fromarray(photo).save(path)
    doc = open_and_convert(qtbot, window, path)
    assert doc.results[0].corners is None  # the sheet was not found by itself

    _AnsweringDialog.corners_to_place = corners
    _AnsweringDialog.seen = []
    window.page_geometry.make_dialog = _AnsweringDialog
    with qtbot.waitSignal(window.conversionFinished, timeout=120_000):
        assert window.page_geometry.straighten()
    straightened = doc.results[0]
    dialog = _AnsweringDialog.seen[0]
    assert dialog.image is doc.pages[0].image  # the corners are placed on the original
    np.testing.assert_allclose(np.asarray(straightened.corners), corners, atol=0.01)
    np.testing.assert_allclose(np.asarray(doc.corrections[0].corners), corners, atol=0.01)
    [table] = straightened.tables
    assert (table.n_rows, table.n_cols) == (truth.n_rows, truth.n_cols)
    # Squared up: about the page's own size, not the photo's.
    ph, pw = page.image.shape[:2]
    sh, sw = straightened.image.shape[:2]
    assert abs(sh / sw - ph / pw) < 0.05 * ph / pw

    # The original is a toggle away, without the boxes that belong to the squared page.
    window.page_geometry.act_original.trigger()
    assert _shown_size(window) == (photo.shape[1], photo.shape[0])
    assert not window.page_view._items
    window.page_geometry.act_original.trigger()
    assert _shown_size(window) == (sw, sh)
    assert len(window.page_view._items) == len(table.cells)

    window.act_undo.trigger()
    assert doc.results[0].corners is None and 0 not in doc.corrections


def test_the_dialog_keeps_corners_on_the_page_and_refuses_a_degenerate_area(qtbot):
    image = np.full((300, 200, 3), 255, np.uint8)
    dialog = StraightenDialog(image)
    qtbot.addWidget(dialog)
    ok = dialog.ok_button
    np.testing.assert_allclose(dialog.corners(), whole_image_corners(image))
    assert ok.isEnabled()
    dialog.handles[2].setPos(5000, -40)  # dragged off the image: held at its edge
    qtbot.waitUntil(lambda: not ok.isEnabled())
    assert (dialog.handles[2].pos().x(), dialog.handles[2].pos().y()) == (199, 0)
    assert not ok.isEnabled() and dialog.status.text()  # two corners on one spot
    dialog.set_corners([[20, 30], [180, 25], [190, 280], [10, 290]])
    assert ok.isEnabled()
    # A plain page on nothing: no sheet to find, said so, corners kept.
    before = dialog.corners().copy()
    assert not dialog.detect()
    assert "by hand" in dialog.status.text()
    np.testing.assert_array_equal(dialog.corners(), before)


def test_find_the_page_places_the_corners_on_a_photographed_sheet(qtbot):
    from tests.table.capture import photograph

    page = render_page([merged_spec()], dpi=DPI)
    photo = photograph(page.image, seed=5)
    dialog = StraightenDialog(photo)
    qtbot.addWidget(dialog)
    assert dialog.detect()
    placed = dialog.corners()
    h, w = photo.shape[:2]
    # Inside the frame and well away from the image's own corners (the desk around it).
    assert (placed[:, 0] > 0.03 * w).all() and (placed[:, 0] < 0.97 * w).all()
    assert (placed[:, 1] > 0.03 * h).all() and (placed[:, 1] < 0.97 * h).all()
