"""Where the text is: character blobs, the text lines they form and the gaps between columns.

Partly ruled tables get their missing separators from here: rows from the text
lines, columns from the vertical strips that no text line crosses.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["Blobs", "column_gaps", "crosses", "text_blobs", "text_lines", "true_runs", "word_runs"]


@dataclass
class Blobs:
    """Connected components of non-rule ink: (N, 4) int boxes x0, y0, x1, y1 (exclusive)."""

    boxes: np.ndarray
    text_h: float

    def inside(self, x0: float, y0: float, x1: float, y1: float) -> Blobs:
        """The blobs whose centre lies in the box."""
        b = self.boxes
        cx = (b[:, 0] + b[:, 2]) / 2
        cy = (b[:, 1] + b[:, 3]) / 2
        keep = (cx >= x0) & (cx < x1) & (cy >= y0) & (cy < y1)
        return Blobs(b[keep], self.text_h)

    def __len__(self) -> int:
        return len(self.boxes)


_MIN_TEXT_CONTRAST = 60  # grey levels below the paper that printed letters reach


def text_blobs(
    binary: np.ndarray, rules: np.ndarray, text_h: float, gray: np.ndarray | None = None
) -> Blobs:
    """Character-sized components of ``binary`` once the rules are wiped out.

    With the (smoothed, fill-normalised) grey page, a component must also reach well
    below the paper somewhere: letters do, the ink an adaptive threshold leaves along
    the edge of a light shade or in scanner noise does not."""
    grow = max(1, int(round(0.08 * text_h)))
    wiped = cv2.dilate(
        rules, cv2.getStructuringElement(cv2.MORPH_RECT, (2 * grow + 1, 2 * grow + 1))
    )
    text = cv2.bitwise_and(binary, cv2.bitwise_not(wiped))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(text, connectivity=8)
    if n <= 1:
        return Blobs(np.zeros((0, 4), np.int64), text_h)
    s = stats[1:]
    x, y, w, h, area = s[:, 0], s[:, 1], s[:, 2], s[:, 3], s[:, 4]
    min_area = max(3.0, (0.12 * text_h) ** 2)
    # Specks (noise, rule remnants) go, and with them lone dots and commas, which
    # always sit beside letters; so do things far taller than text (pictures).
    keep = (area >= min_area) & ((h >= 0.3 * text_h) | (w >= 0.5 * text_h)) & (h <= 6 * text_h)
    # Hairlines are not letters: seams between filled cells, rule remnants, the edges of
    # a light shade (an adaptive threshold inks a thin strip along them).
    keep &= ~((h >= 1.8 * text_h) & (w <= max(2, 0.3 * text_h)))
    keep &= ~((w >= 2.0 * text_h) & (h <= max(2, 0.3 * text_h)))
    if gray is not None:
        paper = float(np.percentile(gray[::4, ::4], 90))
        core = (gray < paper - _MIN_TEXT_CONTRAST) & (text > 0)
        dark = np.zeros(n, bool)
        dark[np.unique(labels[core])] = True
        keep &= dark[1:]
    boxes = np.stack([x, y, x + w, y + h], axis=1)[keep].astype(np.int64)
    return Blobs(boxes, text_h)


def text_lines(blobs: Blobs, y0: float, y1: float) -> list[tuple[int, int]]:
    """Text lines (top, bottom) in [y0, y1): runs of rows that some blob covers.

    Lines much shorter than a character (a lone dot, a dash) join the nearest line
    when they sit close to it instead of forming a row of their own."""
    b = blobs.boxes
    if len(b) == 0:
        return []
    th = blobs.text_h
    lo, hi = int(np.floor(y0)), int(np.ceil(y1))
    cov = np.zeros(hi - lo + 1, np.int32)
    for _, by0, _, by1 in b:
        a, c = max(by0, lo) - lo, min(by1, hi) - lo
        if c > a:
            cov[a] += 1
            cov[c] -= 1
    occupied = np.cumsum(cov)[:-1] > 0
    runs = true_runs(occupied)
    lines = [(a + lo, c + lo) for a, c in runs]
    # Fold small runs (dots, dashes, accents) into a close neighbour.
    changed = True
    while changed and len(lines) > 1:
        changed = False
        for k, (a, c) in enumerate(lines):
            if c - a >= 0.45 * th:
                continue
            gaps = []
            if k > 0:
                gaps.append((a - lines[k - 1][1], k - 1))
            if k + 1 < len(lines):
                gaps.append((lines[k + 1][0] - c, k + 1))
            gap, j = min(gaps)
            if gap <= 0.5 * th:
                na, nc = min(a, lines[j][0]), max(c, lines[j][1])
                lines[min(k, j)] = (na, nc)
                del lines[max(k, j)]
                changed = True
                break
    # A line of text has letters: drop runs shorter than a third of one, and runs made
    # of specks only (noise along the edge of a shaded band).
    cy = (b[:, 1] + b[:, 3]) / 2
    tall = (b[:, 3] - b[:, 1]) >= 0.5 * th
    return [
        (a, c) for a, c in lines if c - a >= 0.3 * th and bool(np.any(tall & (cy >= a) & (cy < c)))
    ]


def true_runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of True."""
    if flags.size == 0:
        return []
    f = np.concatenate([[False], flags, [False]]).astype(np.int8)
    d = np.diff(f)
    starts = np.nonzero(d == 1)[0]
    ends = np.nonzero(d == -1)[0]
    return list(zip(starts.tolist(), ends.tolist()))


def word_runs(
    blobs: Blobs, y0: float, y1: float, x0: float, x1: float, join: float
) -> list[tuple[int, int]]:
    """Horizontal extents of the ink in one text line, blobs closer than ``join`` merged."""
    sub = blobs.inside(x0, y0, x1, y1).boxes
    if len(sub) == 0:
        return []
    order = np.argsort(sub[:, 0])
    runs: list[list[int]] = []
    for bx0, _, bx1, _ in sub[order]:
        if runs and bx0 - runs[-1][1] <= join:
            runs[-1][1] = max(runs[-1][1], int(bx1))
        else:
            runs.append([int(bx0), int(bx1)])
    return [(a, c) for a, c in runs]


def column_gaps(
    blobs: Blobs, lines: list[tuple[int, int]], x0: float, x1: float, min_gap: float
) -> list[float]:
    """x positions of the column separators of an unruled table.

    The columns are those of the body: the text lines with at least the median number
    of cells, i.e. runs of words (titles, headers spanning columns and rows with a
    cell spanning columns have fewer). Every vertical strip, at least ``min_gap`` wide, that
    is white in all body lines separates two columns. Inside the strip the separator
    goes where the fewest of *all* lines cross it, mid-way along the widest such
    stretch: a header centred over right-aligned figures stays over its figures."""
    lo, hi = int(np.floor(x0)), int(np.ceil(x1))
    if hi <= lo or not lines:
        return []
    # Words of one cell join up (their spaces are narrower than a column gap), so a
    # line counts its cells, and a header spanning two columns counts one fewer.
    join = min(0.8 * blobs.text_h, 0.8 * min_gap)
    occupied = []
    centres = []  # of every word run, to settle where a separator goes
    for a, c in lines:
        occ = np.zeros(hi - lo + 1, np.int32)
        runs = word_runs(blobs, a, c, x0, x1, join)
        for ra, rc in runs:
            occ[max(ra, lo) - lo] += 1
            occ[min(rc, hi) - lo] -= 1
            centres.append((ra + rc) / 2.0 - lo)
        occupied.append((len(runs), np.cumsum(occ)[:-1] > 0))
    typical = float(np.median([n for n, _ in occupied]))
    count_body = np.sum([o for n, o in occupied if n >= typical], axis=0)
    count_all = np.sum([o for _, o in occupied], axis=0)
    inked = np.nonzero(count_body > 0)[0]
    if inked.size == 0:
        return []
    first, last = int(inked[0]), int(inked[-1])
    gaps = []
    for a, c in true_runs(count_body[first : last + 1] == 0):
        if c - a < min_gap:
            continue
        a, c = a + first, c + first
        inside = count_all[a:c]
        # Among the least-crossed stretches, the one that leaves each word inside the
        # strip nearest the body column it ends up in.
        within = [m for m in centres if a <= m < c]

        # A word centred on the strip spans the two columns (a group header): the
        # separator goes through it, so it reads as one cell over both.
        middle = [m for m in within if abs(m - (a + c) / 2.0) <= 0.2 * (c - a)]
        if middle:
            gaps.append(lo + min(middle, key=lambda m: abs(m - (a + c) / 2.0)))
            continue
        best = min(
            true_runs(inside == inside.min()),
            key=lambda r: (_placement_cost(r, a, c, within), -(r[1] - r[0])),
        )
        gaps.append(lo + a + (best[0] + best[1]) / 2.0)
    return gaps


def _placement_cost(stretch: tuple[int, int], a: int, c: int, centres: list[float]) -> float:
    """For a separator in the middle of ``stretch`` (relative to a strip [a, c)): how far
    the words left in the strip sit from the body column on their side."""
    p = a + (stretch[0] + stretch[1]) / 2.0
    return sum(
        (m - a) if m < p else (c - m) for m in centres if not (a + stretch[0] <= m < a + stretch[1])
    )


def crosses(blobs: Blobs, x: float, y0: float, y1: float, join: float) -> bool:
    """Whether some word of the band [y0, y1) runs across the vertical line at ``x``."""
    margin = 0.1 * blobs.text_h
    for a, c in word_runs(blobs, y0, y1, x - 50 * blobs.text_h, x + 50 * blobs.text_h, join):
        if a < x - margin and c > x + margin:
            return True
    return False
