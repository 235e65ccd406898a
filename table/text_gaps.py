"""Whitespace between columns of text: what a reader uses to see the columns of a table
drawn without rules.

A table's columns leave vertical "rivers" of paper that run through (nearly) every text
line of the table; a word gap inside a cell does not line up from line to line. The
split model's column map sees this only through a 15-character context window, and it
misses or merges columns where cells are short or numbers are right-aligned. Here the
rivers are read from the page itself, at the model's scale, so that the decoder can
place a column separator in each river the model agrees with (table.split_decode).

This is table.text's idea (column_gaps: strips white in every body line) on other
evidence. That module reads character blobs at the rule path's 12 px scale and needs
every body line white; at the model's 8 px scale, on the same 48 validation pages and
with the same map confirming, it got 44 % of column counts right against 73 % for
these rivers, which tolerate a share of crossing lines instead of choosing body lines.

Text is told from fills by local contrast: zebra stripes, header bands and grey total
rows are wide, smooth areas that an opening removes, while strokes (dark on light, or
light on a dark band) are thin. Rule pixels are not text.
"""

from __future__ import annotations

import cv2
import numpy as np

from table.text import true_runs

__all__ = ["RIVER_CROSS", "RIVER_MIN", "crosses", "line_cover", "rivers", "text_lines", "text_mask"]

STROKE_CONTRAST = 0.2  # darkness a stroke stands out from its local background by
RIVER_CROSS = 0.2  # share of a table's text lines that may cross a river (titles, spans)
RIVER_MIN = 0.6  # text heights: the narrowest river a table's columns are parted by
# Soft print, chosen on the validation pages (dev open and mixed, seeds 7 and 11, 80
# pages): the wide kernel where the usual one finds under a tenth of its strokes gained
# 2 grids and lost none; on every page, 5 and 3. (Those runs widened the closing too.)
# Session 24, the share swept on the same pages (grids right / tables right of 96):
# 0.1 35 / 38, 0.2 36 / 38, 0.35 38 / 40, 0.5 38 / 40, 0.7 37 / 39; a sharp bold header
# over a soft body kept the share over a tenth (validation page open-11-00009: 0.198).
SOFT_KERNEL = 1.6  # text heights: the kernel that reads strokes of soft print
SOFT_SHARE = 0.35  # the usual strokes under this share of the soft ones: the print is soft


def _dark_strokes(ink: np.ndarray, size: int) -> np.ndarray:
    """(h, w) bool: dark on light, narrower than ``size`` pixels, by STROKE_CONTRAST."""
    k = np.ones((size, size), np.uint8)
    return ink - cv2.morphologyEx(ink, cv2.MORPH_OPEN, k) > STROKE_CONTRAST


def text_mask(ink: np.ndarray, rules: np.ndarray, text_h: float) -> np.ndarray:
    """(h, w) bool: text strokes of a page at the model's scale. ``ink`` is darkness in
    [0, 1], ``rules`` the rule evidence channel; text_h the character height in pixels."""
    ink = np.ascontiguousarray(ink, np.float32)
    size = max(3, int(round(0.6 * text_h))) | 1  # wider than a stroke
    # Light text on a dark band. The closing also fills gaps narrower than k between dark
    # letters, so a word reads as one piece and a gap under k is never a river; kept
    # deliberately: closing only inside fills read fewer columns right on the
    # validation pages (73 -> 66 %).
    k = np.ones((size, size), np.uint8)
    light = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, k) - ink > STROKE_CONTRAST
    dark = _dark_strokes(ink, size)
    # Soft print (a blurred low-resolution scan brought up to the model's scale): a
    # letter is a grey blot wider than the kernel, the opening keeps it, and almost no
    # text is left (none on a 96 dpi validation page, whose columns then all joined).
    # There dark strokes are read with a kernel wider than a letter (a fill is wider
    # still); light ones are not, whose wide closing would fill the paper between rows.
    soft = _dark_strokes(ink, int(SOFT_KERNEL * text_h) | 1)
    strokes = (soft if (dark | light).sum() < SOFT_SHARE * (soft | light).sum() else dark) | light
    ruled = cv2.dilate((rules > 0.2).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    return strokes & ~ruled


def text_lines(mask: np.ndarray) -> list[tuple[int, int]]:
    """(y0, y1) of each run of rows that hold text, top to bottom (y1 exclusive)."""
    return true_runs(mask.any(axis=1))


def line_cover(mask: np.ndarray, lines: list[tuple[int, int]]) -> np.ndarray:
    """(w,) int: for each x, how many of the text ``lines`` (text_lines) have text there."""
    cover = np.zeros(mask.shape[1], np.int32)
    for y0, y1 in lines:
        cover += mask[y0:y1].any(axis=0)
    return cover


def rivers(cover: np.ndarray, n_lines: int, min_width: float, cross: float = RIVER_CROSS
           ) -> list[tuple[int, int]]:
    """(x0, x1) of each vertical gap of a table region that at most ``cross`` of its
    n_lines text lines cross (``cover`` from line_cover), at least min_width pixels wide,
    between the region's first and last text (x1 exclusive)."""
    inked = cover > int(cross * n_lines)
    xs = np.flatnonzero(inked)
    if len(xs) == 0:
        return []
    return [(int(xs[0] + a), int(xs[0] + b)) for a, b in true_runs(~inked[xs[0]:xs[-1] + 1])
            if b - a >= min_width]


def crosses(mask: np.ndarray, x: float, y0: float, y1: float, word_gap: float) -> bool:
    """Whether a line of text runs across the vertical line x between y0 and y1 (a cell
    spanning the column boundary there): x is on text, or the white gap around x is no
    wider than a word gap. A header that only reaches into a river stops short of it."""
    band = mask[max(0, int(round(y0))):max(0, int(round(y1)))]
    if not band.size:
        return False
    inked = band.any(axis=0)
    xi = int(round(x))
    if not 0 <= xi < len(inked):
        return False
    if inked[xi]:
        return True
    left = np.flatnonzero(inked[:xi])
    right = np.flatnonzero(inked[xi + 1:])
    return bool(len(left) and len(right) and (xi + 1 + right[0]) - left[-1] - 1 <= word_gap)
