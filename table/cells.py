"""Cell images for the recogniser: one clean crop per text line, or none for an empty cell.

A cell's bbox runs along the middle of its rules, so the crop first loses the rule
remnants at its edges. White-on-dark cells are inverted, shaded and halftone cells
are flattened to white paper, and what is left is dark text on white, cut into its
text lines (top to bottom), each trimmed to its ink and set on white margins.
A line much shorter than the page's text (a dash, a lone 'x') keeps the height of
the text line it sits in, so that the recogniser sees it at the scale it was
trained on rather than blown up to fill the crop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from table.ink import to_gray
from table.model import Cell

__all__ = ["cell_ink", "line_crops", "page_line_crops"]

_MIN_CONTRAST = 45  # grey levels between paper and the darkest ink for a cell to hold text


def _strip_edges(gray: np.ndarray, limit_frac: float = 0.25) -> tuple[int, int, int, int]:
    """Rows/columns at each edge that belong to a rule: (top, bottom, left, right) counts.

    The bbox runs along the middle of the rules, so each edge starts with half a rule:
    rows (columns) dark along most of their length, contiguous from the edge. The
    side rules are judged between the top and bottom ones, which would otherwise
    add their ink to every column. A letter touching the rule (spreadsheets print
    text right against it) is dark only over the text's height and stays."""
    h = gray.shape[0]
    smooth = cv2.GaussianBlur(gray, (0, 0), 1.0)  # a halftone screen averages out to its shade
    paper = float(np.percentile(smooth, 90))
    dark = smooth < paper - 30

    # The rule's soft rim, a pixel past its dark core, is greyish all along the rule;
    # a letter right against the rule (a low-resolution scan) only over its height.
    greyish = smooth < paper - 12

    def run_from_edges(share: np.ndarray, least: float, rim: np.ndarray) -> tuple[int, int]:
        limit = max(2, int(limit_frac * share.size))
        out = []
        for side, soft in ((share[:limit], rim[:limit]), (share[::-1][:limit], rim[::-1][:limit])):
            strip = 0
            while strip < len(side) and side[strip] >= least:
                strip += 1
            out.append(strip + (1 if strip and strip < len(soft) and soft[strip] >= 0.5 else 0))
        return out[0], out[1]

    top, bottom = run_from_edges(dark.mean(axis=1), 0.5, greyish.mean(axis=1))
    # A side rule inks all of the rows between the top and bottom rules; the stem
    # of a capital next to it only the letter's height, which in a tight row is
    # four fifths of them. Judged unblurred: the blur would stretch the stem over
    # the rows above and below it (and a halftone's dots stay far below).
    inner = gray[top : max(top + 1, h - bottom)] < paper - 30
    soft = greyish[top : max(top + 1, h - bottom)].mean(axis=0)
    left, right = run_from_edges(inner.mean(axis=0), 0.9, soft)
    return top, bottom, left, right


def cell_ink(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(clean grey, ink mask) of a cell crop that has had its rules stripped, or None
    when the cell holds no text. The clean grey is dark text on white paper."""
    h, w = gray.shape
    if h < 3 or w < 3:
        return None
    # White-on-dark: judge by the paper, i.e. the brighter half of the pixels' median.
    if np.median(gray) < 110:
        gray = 255 - gray
    smooth = cv2.GaussianBlur(gray, (0, 0), 0.8)
    paper = float(np.percentile(smooth, 90))
    darkest = float(smooth.min())
    contrast = paper - darkest
    if contrast < _MIN_CONTRAST:
        return None
    # Halfway between paper and ink: a halftone screen or a light shade, smoothed,
    # sits well above it; printed strokes well below.
    level = paper - max(contrast * 0.45, _MIN_CONTRAST * 0.6)
    mask = (smooth < level).astype(np.uint8) * 255
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if n <= 1:
        return None
    area = stats[1:, cv2.CC_STAT_AREA]
    bw, bh = stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT]
    bx, by = stats[1:, cv2.CC_STAT_LEFT], stats[1:, cv2.CC_STAT_TOP]
    min_area = max(3.0, (0.035 * min(h, 3 * w)) ** 2)
    keep = (area >= min_area) & (np.maximum(bw, bh) >= 2)
    # Rule remnants the edge strip missed: pieces touching the border that lie almost
    # wholly in a thin band along it (an L where two rules meet included), their side
    # at the border or a few pixels inside it (the grid line found beside the printed
    # rule: paper parts the rule from the side edge, yet it runs to the top and bottom
    # ones). A letter touching a rule reaches well inside.
    touching = (bx == 0) | (by == 0) | (bx + bw >= w) | (by + bh >= h)
    if touching.any():
        band = max(2, round(0.08 * min(h, w)))
        rim = np.zeros((h, w), bool)
        rim[:band], rim[-band:], rim[:, :band], rim[:, -band:] = True, True, True, True
        on_rim = np.bincount(labels[rim], minlength=n)[1:]
        # ...and run along the edge further than a letter standing against it would
        # (at low resolution a whole letter fits in the band).
        sides = (bx < band) | (bx + bw > w - band)
        ends = (by < band) | (by + bh > h - band)
        along = (sides & (bh >= 0.75 * h)) | (ends & (bw >= 0.75 * h))
        keep &= ~(touching & (on_rim >= 0.8 * area) & along)
    if not keep.any():
        return None
    # Decimal points and commas of a low-resolution scan come out a pixel or two:
    # under min_area, yet inside the text line, from its top to a little below its
    # bottom, and from its first letter to a little after its last. Dust seldom
    # lands there; a lost point turns 1,238.08 into 1,238 08.
    top, bottom = by[keep].min(), (by + bh)[keep].max()
    left, right = bx[keep].min(), (bx + bw)[keep].max()
    reach = 0.4 * (bottom - top)
    keep |= (~touching & (by >= top) & (by + bh <= bottom + reach)
             & (bx >= left) & (bx + bw <= right + reach))
    mask = np.where(np.concatenate([[False], keep])[labels], 255, 0).astype(np.uint8)
    # The faint rim of the kept strokes (a comma's thin tail, what a blurred scan
    # left of a dot) is ink too, where it is no farther than 2 px from them.
    faint = smooth < paper - max(contrast * 0.25, _MIN_CONTRAST * 0.4)
    mask[faint & (cv2.dilate(mask, np.ones((5, 5), np.uint8)) > 0)] = 255
    # Clean grey: ink keeps its shading (stretched to full contrast), all else is paper.
    near = cv2.dilate(mask, np.ones((3, 3), np.uint8))
    stretched = np.clip((gray.astype(np.float32) - darkest) * (255.0 / max(contrast, 1.0)), 0, 255)
    clean = np.where(near > 0, stretched, 255).astype(np.uint8)
    return clean, mask


def _line_bands(mask: np.ndarray) -> list[tuple[int, int]]:
    """Text lines of a cell as row ranges [top, bottom), top to bottom."""
    profile = (mask > 0).sum(axis=1)
    rows = profile > 0
    bands: list[list[int]] = []
    start = None
    for y, on in enumerate(rows):
        if on and start is None:
            start = y
        elif not on and start is not None:
            bands.append([start, y])
            start = None
    if start is not None:
        bands.append([start, len(rows)])
    if not bands:
        return []
    # Accents, dots and commas make short bands: fold each into its closest neighbour.
    while len(bands) > 1:
        tallest = max(b - a for a, b in bands)
        small = [k for k, (a, b) in enumerate(bands) if b - a < 0.4 * tallest]
        if not small:
            break
        k = small[0]
        a, b = bands[k]
        cands = []
        if k > 0:
            cands.append((a - bands[k - 1][1], k - 1))
        if k + 1 < len(bands):
            cands.append((bands[k + 1][0] - b, k + 1))
        gap, j = min(cands)
        if gap > 0.6 * tallest:
            break
        lo, hi = min(k, j), max(k, j)
        bands[lo] = [min(bands[lo][0], bands[hi][0]), max(bands[lo][1], bands[hi][1])]
        del bands[hi]
    # Lines set so tight that they touch: cut a band far taller than its letters
    # at its faintest row.
    _, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    heights = stats[1:, cv2.CC_STAT_HEIGHT]
    letter_h = float(np.median(heights)) if heights.size else 0.0
    out: list[tuple[int, int]] = []
    for a, b in bands:
        pending = [(a, b)]
        while pending:
            a, b = pending.pop(0)
            if letter_h > 0 and b - a > 2.3 * letter_h:
                lo, hi = a + int(0.3 * (b - a)), b - int(0.3 * (b - a))
                seg = profile[lo:hi]
                cut = lo + int(np.argmin(seg)) if seg.size else -1
                if seg.size and profile[cut] <= 0.15 * profile[a:b].max():
                    pending[:0] = [(a, cut), (cut + 1, b)]
                    continue
            out.append((a, b))
    return out


@dataclass(frozen=True)
class _CellLines:
    """A cell's clean image (dark text on white) and the ink box of each text line."""

    clean: np.ndarray
    top: int  # page row of clean[0]
    boxes: list[tuple[int, int, int, int]]  # (top, bottom, left, right) in clean's pixels

    def page_band(self, k: int) -> tuple[int, int]:
        a, b, _, _ = self.boxes[k]
        return self.top + a, self.top + b


def _cell_lines(image: np.ndarray, cell: Cell) -> _CellLines | None:
    x0, y0, x1, y1 = (int(v) for v in cell.bbox)
    hgt, wid = image.shape[:2]
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(wid, x1), min(hgt, y1)
    if x1 - x0 < 3 or y1 - y0 < 3:
        return None
    gray = to_gray(image[y0:y1, x0:x1])
    # Strip rule remnants: judged on a rough ink mask of the crop.
    polarity = 255 - gray if np.median(gray) < 110 else gray
    if float(polarity.max()) - float(polarity.min()) < _MIN_CONTRAST:
        return None
    top, bottom, left, right = _strip_edges(polarity)
    gray = gray[top : gray.shape[0] - bottom, left : gray.shape[1] - right]
    if gray.shape[0] < 3 or gray.shape[1] < 3:
        return None
    found = cell_ink(gray)
    if found is None:
        return None
    clean, mask = found
    boxes = []
    for a, b in _line_bands(mask):
        cols = np.nonzero(mask[a:b].any(axis=0))[0]
        if cols.size:
            boxes.append((a, b, int(cols[0]), int(cols[-1]) + 1))
    return _CellLines(clean, y0 + top, boxes) if boxes else None


def _white_window(image: np.ndarray, top: int, bottom: int, left: int, right: int) -> np.ndarray:
    """image[top:bottom, left:right] where rows outside the image read as white paper."""
    out = np.full((bottom - top, right - left), 255, np.uint8)
    a, b = max(0, top), min(image.shape[0], bottom)
    if b > a:
        out[a - top : b - top] = image[a:b, left:right]
    return out


def _line_image(lines: _CellLines, k: int, band: tuple[int, int]) -> np.ndarray:
    """Text line k cut to the rows ``band`` (clean's pixels) and its ink's columns, set
    on white margins in proportion to the band: every line reaches the recogniser at
    the scale of its text line, whatever its letters."""
    a, b = band
    _, _, left, right = lines.boxes[k]
    line = _white_window(lines.clean, a, b, left, right)
    my, mx = max(2, round(0.35 * (b - a))), max(2, round(0.3 * (b - a)))
    return np.pad(line, ((my, my), (mx, mx)), constant_values=255)


def _text_bands(all_lines: Sequence[_CellLines]) -> list[list[tuple[int, int]]]:
    """The rows each text line is cut to: its own ink rows, unless the line is much
    shorter than the page's text lines (a dash, a dot, a lone 'v' or 'x', a word
    without ascenders). Such a line is cut to the rows of the text line it sits in,
    taken from full-height lines of other cells across the same baseline (cells of a
    table row share it), else centred at the typical height. Cut to its own ink, a
    dash would fill the whole crop and a lone 'x' would look like an 'X'."""
    owners, tops, bottoms = [], [], []
    for i, lines in enumerate(all_lines):
        for k in range(len(lines.boxes)):
            t, b = lines.page_band(k)
            owners.append(i)
            tops.append(t)
            bottoms.append(b)
    owner, top, bottom = np.array(owners), np.array(tops), np.array(bottoms)
    heights = bottom - top
    # Most cells of a page hold capitals, digits or ascenders; the upper quartile
    # is their height even on a page with many dashes and lower-case words.
    typical = float(np.percentile(heights, 75)) if heights.size else 0.0
    full = (heights >= 0.75 * typical) & (heights <= 1.4 * typical)
    out: list[list[tuple[int, int]]] = []
    for i, lines in enumerate(all_lines):
        bands = []
        for k, (a, b, _, _) in enumerate(lines.boxes):
            if b - a >= 0.75 * typical:
                bands.append((a, b))
                continue
            t, bt = lines.page_band(k)
            centre = (t + bt) / 2
            across = full & (owner != i) & (top <= centre) & (bottom >= centre)
            if across.any():
                row_top, row_bottom = round(np.median(top[across])), round(np.median(bottom[across]))
                bands.append((min(t, row_top) - lines.top, max(bt, row_bottom) - lines.top))
            else:
                grow = round(typical) - (b - a)
                bands.append((a - grow // 2, b + grow - grow // 2))
        out.append(bands)
    return out


def page_line_crops(image: np.ndarray, cells: Sequence[Cell],
                    context: Sequence[Cell] = ()) -> list[list[np.ndarray]]:
    """Grey uint8 crops (dark text on light) for each of ``cells``: one per text line,
    top to bottom, ``[]`` for an empty cell. ``image`` is the (deskewed) page the
    cells' bboxes refer to: RGB (H, W, 3) or grey (H, W). The other cells of the page
    (``cells`` themselves and ``context``) tell how tall its text lines are."""
    found = [_cell_lines(image, c) for c in cells]
    seen = {id(c) for c in cells}
    extra = [x for x in (_cell_lines(image, c) for c in context if id(c) not in seen) if x]
    present = [x for x in found if x is not None]
    bands = _text_bands(present + extra)
    crops: list[list[np.ndarray]] = []
    band_of = iter(bands)
    for lines in found:
        if lines is None:
            crops.append([])
            continue
        crops.append([_line_image(lines, k, band) for k, band in enumerate(next(band_of))])
    return crops


def line_crops(image: np.ndarray, cell: Cell, context: Sequence[Cell] = ()) -> list[np.ndarray]:
    """Crops of one cell (see ``page_line_crops``); ``context``, the page's other cells,
    sets the height of lines shorter than the page's text."""
    return page_line_crops(image, [cell], context)[0]
