"""Ruling lines: morphology masks and the straight segments found in them.

A horizontal opening with a kernel a little shorter than a character keeps the
runs of ink that are longer than any letter stroke; a short closing bridges the
small breaks of worn or dotted rules. The pieces left are chained along their
row into lines, so a rule broken into many fragments is still one line.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from table.components import component_stats

__all__ = ["Line", "LineMasks", "coverage", "find_lines", "line_masks", "rule_mask"]


@dataclass
class Line:
    horizontal: bool
    pos: float  # y of a horizontal line, x of a vertical one (pixels)
    start: float  # extent along the line (x for horizontal, y for vertical)
    end: float
    thickness: float
    fill_ratio: float = 1.0  # share of [start, end] actually inked

    @property
    def length(self) -> float:
        return self.end - self.start


@dataclass
class LineMasks:
    horizontal: np.ndarray  # uint8 0/255
    vertical: np.ndarray


def _kernel(length: int, horizontal: bool) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_RECT, (length, 1) if horizontal else (1, length))


def line_masks(binary: np.ndarray, text_h: float) -> LineMasks:
    """Masks of the rule-like ink in each direction, sized to the page's text height."""
    # Letter strokes (text_h is about the x-height on prose, the cap height on figures):
    # bars stay under ~0.8 text heights, stems (capitals, ascenders) under ~1.5.
    min_runs = {True: max(3, int(round(0.8 * text_h))), False: max(3, int(round(1.5 * text_h)))}
    bridge = max(3, int(round(0.35 * text_h)))
    out = []
    for horizontal in (True, False):
        m = cv2.morphologyEx(binary, cv2.MORPH_OPEN, _kernel(min_runs[horizontal], horizontal))
        m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, _kernel(bridge, horizontal))
        out.append(m)
    return LineMasks(horizontal=out[0], vertical=out[1])


@dataclass
class _Chain:
    pos_sum: float
    weight: float
    last_pos: float
    start: float
    end: float
    inked: float
    thick_sum: float

    @property
    def pos(self) -> float:
        return self.pos_sum / self.weight


def find_lines(
    mask: np.ndarray,
    horizontal: bool,
    text_h: float,
    binary: np.ndarray | None = None,
    gray: np.ndarray | None = None,
    min_length: float | None = None,
) -> list[Line]:
    """Straight lines in a rule mask: fragments chained along their row (column).

    With the page's ink mask ``binary``, chains that run through the middle of text
    (bold letters whose bars the closing joined) are dropped: a rule has white paper
    just above and below it, a line of letters has ink there. With the grey page
    ``gray``, chains no darker than the paper on one side of them are dropped: the
    edge of a lightly shaded band, not a rule."""
    stats, centroids = component_stats(mask, along_rows=horizontal)
    if not len(stats):
        return []
    if not horizontal:
        # One code path: lines always run along x. The components of the page are those
        # of its transpose, so their boxes are swapped instead of the page copied; the
        # grey page is read through a transposed view.
        stats = stats[:, [1, 0, 3, 2, 4]]
        centroids = centroids[:, ::-1]
        if gray is not None:
            gray = gray.T
    max_thickness = max(4.0, 0.6 * text_h)
    frags = []
    for i in range(len(stats)):
        x, y, w, _h, area = stats[i]
        thickness = area / max(w, 1)
        if thickness > max_thickness or w < 2 * thickness:
            continue  # a solid block or a stub, not a rule
        frags.append((float(x), float(x + w), float(centroids[i][1]), float(thickness)))
    frags.sort()
    pos_tol = max(2.0, 0.3 * text_h)
    max_gap = max(4.0, 1.2 * text_h)
    chains: list[_Chain] = []
    for x0, x1, y, t in frags:
        best, best_d = None, pos_tol
        for ch in chains:
            d = abs(ch.last_pos - y)
            if d <= best_d and x0 - ch.end <= max_gap and x1 > ch.start:
                best, best_d = ch, d
        w = x1 - x0
        if best is None:
            chains.append(_Chain(y * w, w, y, x0, x1, w, t * w))
        else:
            best.pos_sum += y * w
            best.weight += w
            best.last_pos = y
            best.inked += max(0.0, x1 - max(x0, best.end)) if x0 < best.end else w
            best.end = max(best.end, x1)
            best.thick_sum += t * w
    if min_length is None:
        min_length = max(8.0, (2.0 if horizontal else 1.6) * text_h)
    lines = []
    for ch in chains:
        length = ch.end - ch.start
        fill = ch.inked / max(length, 1.0)
        # Broken rules keep long stretches; short chains must be nearly solid (two
        # letter stems one above the other are a short chain with a gap).
        if length < min_length or fill < (0.55 if length >= 4 * text_h else 0.85):
            continue
        thickness = ch.thick_sum / ch.weight
        # Only horizontal rules are tested: cells are padded above and below their
        # text, but spreadsheets print text almost touching the vertical rules.
        if (
            horizontal
            and binary is not None
            and (_inside_text(binary, ch.pos, ch.start, ch.end, thickness, text_h)
                 or (fill < _SOLID and _hugged(binary, ch.pos, ch.start, ch.end, thickness)))
        ):
            continue
        if (
            gray is not None
            and _contrast(gray, ch.pos, ch.start, ch.end, thickness, text_h) < _MIN_RULE_CONTRAST
        ):
            continue
        lines.append(Line(horizontal, ch.pos, ch.start, ch.end, thickness, fill))
    return lines


_MIN_RULE_CONTRAST = 20  # grey levels; a faint grey rule, smoothed, still has ~27


def _contrast(
    gray: np.ndarray, pos: float, start: float, end: float, thickness: float, text_h: float
) -> float:
    """How much darker the line is than the paper beside it: the upper quartile, along
    the line, of (the darker of the two sides) minus (the line). A rule is darker than both of
    its sides; the edge of a shaded band only than the paper outside the band."""
    a, b = int(start), int(end)
    h = gray.shape[0]
    d = thickness / 2 + max(2.0, 0.3 * text_h)
    half = max(1.0, thickness / 2)
    rows = [r for r in range(int(np.floor(pos - half)), int(np.ceil(pos + half)) + 1) if 0 <= r < h]
    rows = rows or [min(h - 1, max(0, int(round(pos))))]
    line = gray[rows, a:b].min(axis=0).astype(np.int16)
    above, below = int(round(pos - d)), int(round(pos + d))
    sides = []
    for r in (above, below):
        if 0 <= r < h:
            sides.append(gray[r, a:b].astype(np.int16))
    if not sides or line.size == 0:
        return 255.0
    paper = np.minimum.reduce(sides) if len(sides) > 1 else sides[0]
    # Upper quartile: text crowding a rule (spreadsheets print it touching the vertical
    # rules) darkens a side in many places, a shade darkens its side everywhere.
    return float(np.percentile(paper - line, 75))


_SOLID = 0.97  # share of its length a rule inks; a line of words has gaps between them
_HUGGED = 0.3  # share of a line with ink right against it on both sides: letters, not a rule


def _beside(binary: np.ndarray, pos: float, start: float, end: float, d: float
            ) -> tuple[np.ndarray, np.ndarray] | None:
    """The ink d pixels above and below a horizontal line, along [start, end) (None
    where a probe falls off the page or the line has no length)."""
    a, b = int(start), int(end)
    above, below = int(round(pos - d)), int(round(pos + d))
    if b <= a or above < 0 or below >= binary.shape[0]:
        return None
    return binary[above, a:b] > 0, binary[below, a:b] > 0


def _hugged(binary: np.ndarray, pos: float, start: float, end: float, thickness: float) -> bool:
    """Whether ink lies right against both edges of the line along much of it. Small
    print (a footnote, a caption, a paragraph in a low-resolution scan) binarises into
    broken bars as long as a rule: letters' x-height bodies, with their tops, bottoms
    and ascenders just outside the bar on both sides in most places. A rule's edges
    have paper beside them, but for a thick rule's ragged edge, which is unbroken."""
    sides = _beside(binary, pos, start, end, thickness / 2 + 0.5)
    return sides is not None and float((sides[0] & sides[1]).mean()) > _HUGGED


def _inside_text(
    binary: np.ndarray, pos: float, start: float, end: float, thickness: float, text_h: float
) -> bool:
    """Whether the line runs through or along text: ink close beside it on both sides
    (bold letters' bars joined up), or densely on one side (serifs on a baseline, an
    underline). A table rule has cell padding on both sides, so probes a fifth to a
    third of a text height away from it find paper."""
    for f in (0.2, 0.3):
        sides = _beside(binary, pos, start, end, thickness / 2 + max(1.5, f * text_h))
        if sides is None:
            continue
        side_a, side_b = sides
        if (
            float((side_a & side_b).mean()) > 0.2
            or max(float(side_a.mean()), float(side_b.mean())) > 0.35
        ):
            return True
    return False


def coverage(
    mask: np.ndarray, horizontal: bool, pos: float, a: float, b: float, half_band: float
) -> float:
    """Share of the stretch [a, b) along a line at ``pos`` where ``mask`` has ink within
    ``half_band`` of the line: 1.0 for an intact rule, near 0 where there is none."""
    a, b = int(round(a)), int(round(b))
    if b <= a:
        return 0.0
    lo, hi = int(np.floor(pos - half_band)), int(np.ceil(pos + half_band)) + 1
    if horizontal:
        lo, hi = max(0, lo), min(mask.shape[0], hi)
        a, b = max(0, a), min(mask.shape[1], b)
        band = mask[lo:hi, a:b]
        hit = band.any(axis=0) if band.size else np.zeros(0, bool)
    else:
        lo, hi = max(0, lo), min(mask.shape[1], hi)
        a, b = max(0, a), min(mask.shape[0], b)
        band = mask[a:b, lo:hi]
        hit = band.any(axis=1) if band.size else np.zeros(0, bool)
    return float(hit.mean()) if hit.size else 0.0


def rule_mask(masks: LineMasks, lines: list[Line], text_h: float) -> np.ndarray:
    """Only the rule pixels that belong to accepted lines (not long letter strokes)."""
    out = np.zeros_like(masks.horizontal)
    pad = max(2.0, 0.2 * text_h)
    for ln in lines:
        half = ln.thickness / 2 + pad
        p0, p1 = int(max(0, ln.pos - half)), int(ln.pos + half) + 1
        a, b = int(max(0, ln.start - pad)), int(ln.end + pad) + 1
        if ln.horizontal:
            out[p0:p1, a:b] |= masks.horizontal[p0:p1, a:b]
        else:
            out[a:b, p0:p1] |= masks.vertical[a:b, p0:p1]
    return out
