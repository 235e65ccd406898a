"""Table regions of the split model's table map, and what of a region is its table.

A region is a connected area of the table map above TABLE_T. Two tables stacked close
together can join through a thin bridge of the map: a region is cut where the map's
mean across its width dips. Given the page's text (table.text_gaps), a caption or
footnote the map took in is trimmed off a region, and a region that is a piece of
running text is no table. Works in model pixels.
"""

from __future__ import annotations

import cv2
import numpy as np

from table.text_gaps import RIVER_MIN, crosses, line_cover, rivers, text_lines

__all__ = ["CUT_T", "TABLE_T", "inside_prose", "regions", "without_captions"]

TABLE_T = 0.5  # table map threshold
CUT_T = 0.5  # the table map's mean across a region's width between two stacked tables
BAND_DARK = 0.5  # a line on a fill this dark (median darkness) is a header band's, no caption


def regions(p_table: np.ndarray, text_h: float) -> list[tuple[int, int, int, int]]:
    """(x0, y0, x1, y1) of each table region of the table map (model pixels, x1/y1
    exclusive), top to bottom: its connected areas, cut where stacked tables join."""
    mask = (p_table > TABLE_T).astype(np.uint8)
    k = 2 * int(round(0.25 * text_h)) + 1  # odd: an even kernel shifts the opening
    # Only the map's extent is worked on (a page at the model's scale is megapixels of
    # margin); k of empty map around it keeps the opening's border what it is on the page.
    bx, by, bw, bh = cv2.boundingRect(mask)
    if bw == 0 or bh == 0:
        return []
    wx0, wy0 = max(0, bx - k), max(0, by - k)
    wx1, wy1 = min(mask.shape[1], bx + bw + k), min(mask.shape[0], by + bh + k)
    window = cv2.morphologyEx(mask[wy0:wy1, wx0:wx1], cv2.MORPH_OPEN, np.ones((k, k), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(window, connectivity=4)
    p_window = p_table[wy0:wy1, wx0:wx1]
    out = []
    for i in range(1, n):
        x, y, w, h, _ = stats[i]
        out += [(a + wx0, b + wy0, c + wx0, d + wy0)
                for a, b, c, d in _cut(labels, i, p_window,
                                       (int(x), int(y), int(x + w), int(y + h)), text_h)]
    return sorted(out, key=lambda b: (b[1], b[0]))


def _cut(labels: np.ndarray, label: int, p_table: np.ndarray, box: tuple[int, int, int, int],
         text_h: float) -> list[tuple[int, int, int, int]]:
    """One connected area of the table map as tables: two tables stacked close together
    join through a thin bridge of the map, yet its mean across the area's width dips
    between them. The area is cut where that mean is lowest, if it is under CUT_T, and
    each part, fitted to its own extent, is cut again. ``labels``: the map's connected
    areas (cv2.connectedComponents), of which this one is ``label``."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    part = labels[y0:y1, x0:x1] == label
    if h < 2 * text_h or w < 3 * text_h or part.sum() < 0.5 * w * h:
        return []
    margin = int(round(2 * text_h))  # a table holds at least two lines of text
    profile = p_table[y0:y1, x0:x1].mean(axis=1)
    if h <= 2 * margin or profile[margin:h - margin].min() >= CUT_T:
        return [box]
    at = margin + int(np.argmin(profile[margin:h - margin]))
    out = []
    for a, b in ((0, at), (at + 1, h)):
        piece = part[a:b]
        cols = np.flatnonzero(piece.mean(axis=0) > 0.5)
        rows = np.flatnonzero(piece.mean(axis=1) > 0.5 * max(1e-6, piece.mean(axis=1).max()))
        if len(cols) and len(rows):
            out += _cut(labels, label, p_table, (x0 + int(cols[0]), y0 + a + int(rows[0]),
                                        x0 + int(cols[-1]) + 1, y0 + a + int(rows[-1]) + 1), text_h)
    return out


def inside_prose(text: np.ndarray, box: tuple[int, int, int, int], text_h: float) -> bool:
    """Whether a region is a piece of running text: most of its lines go on past its
    left or right edge within a word gap, where a table is set apart from the page."""
    x0, y0, x1, y1 = box
    lines = text_lines(text[y0:y1, x0:x1])
    reach = max(1, int(round(0.5 * text_h)))
    beyond = sum(bool(text[y0 + a:y0 + b, max(0, x0 - reach):x0].any()
                      or text[y0 + a:y0 + b, x1:x1 + reach].any()) for a, b in lines)
    return beyond > 0.5 * len(lines)


def without_captions(text: np.ndarray, rules: np.ndarray, box: tuple[int, int, int, int],
                      text_h: float, ink: np.ndarray | None = None) -> tuple[int, int, int, int]:
    """The region less a caption above it or a footnote below it that the table map took
    in: an end line of text that starts at the table's left edge and either runs across
    every column river it reaches, as running text does and a row of cells does not, or
    lies beside none of the table's column rules where it has some. With ``ink`` (the
    input's darkness), a line set on a dark fill is a header band's, never a caption:
    column rules often stop at the band (validation page mixed-7-00011)."""
    x0, y0, x1, y1 = box
    # The text lines the region holds, whole: the table map's edge may cut through a
    # footnote's first line, and the top of a line of running text crosses no river,
    # so it stayed, as a row.
    reach = int(round(2 * text_h))
    wy0, wy1 = max(0, y0 - reach), min(text.shape[0], y1 + reach)
    region = text[wy0:wy1, x0:x1]
    lines = [(a, b) for a, b in text_lines(region) if a < y1 - wy0 and b > y0 - wy0]
    ruled = rules[wy0:wy1, x0:x1] > 0.3
    gaps = rivers(line_cover(region, lines), len(lines), RIVER_MIN * text_h)
    if not gaps or len(lines) < 3:
        return box
    left = min(int(np.flatnonzero(region[a:b].any(axis=0))[0]) for a, b in lines)
    verticals = np.flatnonzero(ruled[y0 - wy0:y1 - wy0].mean(axis=0) > 0.5)
    beside = cv2.dilate(ruled.astype(np.uint8), np.ones((1, 5), np.uint8)) > 0

    def caption(k: int) -> bool:
        a, b = lines[k]
        inked = np.flatnonzero(region[a:b].any(axis=0))
        if inked[0] > left + text_h:
            return False
        if ink is not None and float(np.median(ink[wy0 + a:wy0 + b, x0:x1])) > BAND_DARK:
            return False
        reached = [(g0 + g1) / 2.0 for g0, g1 in gaps if (g0 + g1) / 2.0 < inked[-1]]
        if reached and all(crosses(region, x, a, b, 0.5 * text_h) for x in reached):
            return True
        # Beside none of the column rules (a caption over a table ruled by columns); a
        # rule may drift a pixel or two sideways down a bowed or skewed page.
        return bool(len(verticals)) and beside[a:b][:, verticals].mean(axis=0).max() < 0.5

    top, bottom = 0, len(lines)
    while bottom - top > 2 and caption(top):
        top += 1
    while bottom - top > 2 and caption(bottom - 1):
        bottom -= 1
    new_y0 = y0 if top == 0 else wy0 + (lines[top - 1][1] + lines[top][0]) // 2
    new_y1 = y1 if bottom == len(lines) else wy0 + (lines[bottom - 1][1] + lines[bottom][0] + 1) // 2
    return (x0, new_y0, x1, new_y1)
