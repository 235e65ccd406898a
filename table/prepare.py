"""Page preparation: what happens to a page image before its tables are looked for.

    photo?  find the sheet on the desk, square it up (table.photo), unbend its rules
            where the sheet curls (table.curl)
    light   divide out uneven lighting (table.photo.flatten_light)
    turned? right a page turned by 90/180/270 degrees (table.orientation)

Deskewing (within ±10°) stays with structure detection (table.structure), which
works in the pixels of the page this returns. A flat, upright, evenly lit scan comes
back unchanged (the same array).

A person can overrule the first and last steps (the GUI's Straighten and Rotate page):
a ``PageCorrection`` gives the sheet's corners and/or the turn, and what it gives is
taken as it is instead of being looked for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import cv2
import numpy as np

from table.curl import straighten
from table.ink import estimate_text_height, otsu_ink, to_gray
from table.orientation import (
    Orientation,
    detect_orientation,
    settle_by_reading,
    settle_direction_by_reading,
    turn_page,
)
from table.photo import find_page, flatten_light, order_corners, unwarp

__all__ = ["PageCorrection", "PreparedPage", "prepare_page"]

Confidences = Callable[[list[np.ndarray]], list[float]]


@dataclass(frozen=True)
class PageCorrection:
    """What a person said about a page: where the sheet's corners are in the original
    image (top-left, top-right, bottom-right, bottom-left; None: look for them) and how
    many degrees clockwise to turn the squared-up sheet (None: find out)."""

    corners: tuple[tuple[float, float], ...] | None = None
    turn: int | None = None

    def __post_init__(self) -> None:
        if self.turn is not None and self.turn % 90:
            raise ValueError(f"a page turns in steps of 90 degrees, not {self.turn}")
        if self.corners is not None and np.asarray(self.corners).shape != (4, 2):
            raise ValueError("a page's corners are four (x, y) points")

    @property
    def is_empty(self) -> bool:
        return self.corners is None and self.turn is None

    def turned(self, degrees: int) -> PageCorrection:
        """This correction with the page turned ``degrees`` further clockwise."""
        return replace(self, turn=((self.turn or 0) + degrees) % 360)


@dataclass
class PreparedPage:
    image: np.ndarray  # RGB uint8: squared up, evenly lit and upright
    turn: int = 0  # degrees clockwise the page was turned to right it
    corners: np.ndarray | None = None  # the sheet's corners in the photo, when one was found
    flattened: bool = False  # uneven light was divided out
    orientation: Orientation | None = None


def _rgb(image: np.ndarray) -> np.ndarray:
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {image.dtype}")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_RGBA2RGB)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    raise ValueError(f"expected an (H, W), (H, W, 3) or (H, W, 4) image, got shape {image.shape}")


def prepare_page(image: np.ndarray, *, confidences: Confidences | None = None,
                 photo: bool = True, orient: bool = True,
                 correction: PageCorrection | None = None) -> PreparedPage:
    """``image`` ((H, W[, 3|4]) uint8) ready for structure detection.

    ``confidences``, when given, reads crops of text lines and returns how sure it is
    of each (in [0, 1]); it settles which way up a page is when the shapes of its
    characters lean upside down or sideways without saying so clearly.
    ``correction`` (a person's corners and turn) replaces what would be looked for.
    """
    rgb = _rgb(image)
    correction = correction or PageCorrection()
    if correction.corners is not None:
        corners = order_corners(np.asarray(correction.corners, np.float32))
    else:
        corners = find_page(rgb) if photo else None
    if corners is not None:
        rgb = unwarp(rgb, corners)
    text_h = estimate_text_height(otsu_ink(to_gray(rgb)))
    flat = flatten_light(rgb, text_h)
    flattened = flat is not rgb
    rgb = flat
    if corners is not None:  # a photo: its sheet may bow a little
        binary = cv2.adaptiveThreshold(to_gray(rgb), 255, cv2.ADAPTIVE_THRESH_MEAN_C,
                                       cv2.THRESH_BINARY_INV, int(max(11, 1.2 * text_h)) | 1, 12)
        rgb = straighten(rgb, binary, text_h)
    orientation = None
    if correction.turn is not None:
        turn = correction.turn % 360
        return PreparedPage(turn_page(rgb, turn), turn, corners, flattened)
    if orient:
        gray = to_gray(rgb)
        orientation = detect_orientation(gray)
        # A page whose lines run across and whose letters lean upright is taken as
        # upright without reading (most pages: no cost, and never turned). Any other
        # is read both ways up, when a reader is given; then a page is only turned
        # over when the reading says so (shapes alone can be fooled by non-letters).
        leans_upright = not orientation.vertical and orientation.score >= 0
        if confidences is not None and orientation.words_down:
            # The shapes cannot tell across from down: the reading decides, or nothing turns.
            orientation = settle_direction_by_reading(gray, orientation, confidences)
        elif confidences is not None and not leans_upright:
            settled = settle_by_reading(gray, orientation, confidences)
            if not settled.vertical and not settled.sure:
                settled = replace(settled, turn=0)
            orientation = settled
        rgb = turn_page(rgb, orientation.turn)
    return PreparedPage(rgb, orientation.turn if orientation else 0, corners, flattened,
                        orientation)
