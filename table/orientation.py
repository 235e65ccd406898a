"""Orientation: is the page upright, or turned by 90, 180 or 270 degrees?

Two questions, each answered from the shapes of the characters alone:

- Do the text lines run across or down the page? Within a line, a character's nearest
  neighbour is the next character; between lines it is much further away. So the
  direction to each glyph's nearest neighbour votes for the direction of the lines.
- Which way up? Ascenders and capitals rise above the x-height band of a line far
  more often than descenders drop below it (``baseline_score``). This alone is only
  trusted with a wide margin: on small, skewed or digit-only text it is weak. A caller
  that can read text settles the question by reading a few lines both ways up
  (``settle_by_reading``; app/pipeline.py passes the recogniser's confidences).

An upright page is never turned on weak evidence: the shapes must say so by
``FLIP_MARGIN``, or the reading by a margin of confidence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import cv2
import numpy as np

from table.deskew import estimate_skew, rotate_page
from table.ink import estimate_text_height, otsu_ink

__all__ = [
    "Orientation",
    "baseline_score",
    "detect_orientation",
    "glyph_boxes",
    "sample_lines",
    "settle_by_reading",
    "settle_direction_by_reading",
    "turn_page",
]

_MAX_GLYPHS = 4000
_MAX_PIXELS = 4_000_000  # the most the page is enlarged to, to tell up from down
_MIN_GLYPHS = 48  # fewer than this: too little text to judge a page's orientation
VERTICAL_MARGIN = 2.0  # down-the-page neighbours must outnumber across ones this much
FLIP_MARGIN = 0.3  # baseline score (in [-1, 1]) a page must fall below to be turned over
_FLIP_EVIDENCE = 12  # glyphs in runs of text that took part in the baseline score
WORD_ASPECT = 2.0  # a blob this many times longer one way than the other is a word
WORDS_SHARE = 0.5  # blobs that are words, for their shape to tell the lines' direction


@dataclass(frozen=True)
class Orientation:
    turn: int  # degrees clockwise that right the page: 0, 90, 180 or 270
    across: int  # glyphs whose nearest neighbour lies across the page (left/right)
    down: int  # glyphs whose nearest neighbour lies up/down the page
    score: float  # baseline score of the page once its lines run across; > 0: upright
    sure: bool  # both questions had a clear answer
    # True where the blobs' shapes cannot tell across from down: most are long down the
    # page, the words of a sideways page or the letters of several rows run together
    words_down: bool = False

    @property
    def vertical(self) -> bool:
        return self.turn in (90, 270)


def turn_page(image: np.ndarray, turn: int) -> np.ndarray:
    """``image`` turned ``turn`` degrees clockwise (a multiple of 90; lossless)."""
    turn %= 360
    if turn == 0:
        return image
    if turn % 90:
        raise ValueError(f"a page turns in steps of 90 degrees, not {turn}")
    code = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}
    return np.ascontiguousarray(cv2.rotate(np.ascontiguousarray(image), code[turn]))


def _ink(gray: np.ndarray, text_px: float) -> np.ndarray:
    """Ink mask without long rules (they would join characters into one blob): straight
    runs four times the text's height, which no character has."""
    _, binary = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    length = max(25, int(4 * text_px))
    rules = cv2.morphologyEx(binary, cv2.MORPH_OPEN, np.ones((1, length), np.uint8))
    rules |= cv2.morphologyEx(binary, cv2.MORPH_OPEN, np.ones((length, 1), np.uint8))
    return cv2.subtract(binary, cv2.dilate(rules, np.ones((3, 3), np.uint8)))


def glyph_boxes(ink: np.ndarray) -> np.ndarray:
    """(N, 4) int array of x, y, w, h of the character-like blobs of an ink mask."""
    n, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    if n <= 1:
        return np.zeros((0, 4), np.int64)
    s = stats[1:]
    w, h, area = s[:, 2], s[:, 3], s[:, 4]
    long_side = np.maximum(w, h)
    usable = long_side >= 4
    if usable.sum() < _MIN_GLYPHS:
        return np.zeros((0, 4), np.int64)
    size = float(np.median(long_side[usable]))
    ok = usable & (long_side >= 0.45 * size) & (long_side <= 3.0 * size)
    ok &= np.minimum(w, h) * 12 >= long_side  # not a rule fragment
    ok &= area <= 0.9 * w * h + 4  # not a solid block
    ok &= area >= 0.1 * w * h
    return s[ok, :4].astype(np.int64)


def _neighbour_votes(boxes: np.ndarray) -> tuple[int, int]:
    """(across, down): how many glyphs have their nearest neighbour beside / above or below."""
    if len(boxes) < 2:
        return 0, 0
    if len(boxes) > _MAX_GLYPHS:
        boxes = boxes[np.random.default_rng(0).choice(len(boxes), _MAX_GLYPHS, replace=False)]
    cx = boxes[:, 0] + boxes[:, 2] / 2.0
    cy = boxes[:, 1] + boxes[:, 3] / 2.0
    across = down = 0
    for start in range(0, len(cx), 512):
        dx = cx[start:start + 512, None] - cx[None, :]
        dy = cy[start:start + 512, None] - cy[None, :]
        d = dx * dx + dy * dy
        d[np.arange(d.shape[0]), np.arange(start, start + d.shape[0])] = np.inf
        j = np.argmin(d, axis=1)
        rows = np.arange(d.shape[0])
        ax, ay = np.abs(dx[rows, j]), np.abs(dy[rows, j])
        across += int(np.sum(ax > 1.5 * ay))
        down += int(np.sum(ay > 1.5 * ax))
    return across, down


def _words(boxes: np.ndarray) -> str | None:
    """"across" or "down" where most blobs are long that way (words, not letters), else
    None. In small print at low resolution the letters of a word merge into one blob,
    and its nearest neighbour is then often the word under it in its table column: the
    neighbours alone turned upright pages of the validation draw at 72 dpi. Letters
    are seldom twice as long one way as the other (l, 1 and dashes are a few percent
    of a page's blobs), so such blobs must be most of them."""
    w, h = boxes[:, 2], boxes[:, 3]
    wide, tall = float(np.mean(w >= WORD_ASPECT * h)), float(np.mean(h >= WORD_ASPECT * w))
    if wide >= WORDS_SHARE and wide > VERTICAL_MARGIN * tall:
        return "across"
    if tall >= WORDS_SHARE and tall > VERTICAL_MARGIN * wide:
        return "down"
    return None


def baseline_score(boxes: np.ndarray, dark: np.ndarray) -> tuple[float, int]:
    """Whether the ink of the page's runs of text (lines running across) reaches further
    above their dense core than below it: in [-1, 1], > 0 for upright text. Also the
    number of runs that took part.

    ``dark`` is the page's darkness (255 - grey), which keeps thin strokes that a
    threshold would lose. The core of a run is the band where most of its characters
    have strokes: the x-height of lower-case text, the whole height of digits and
    capitals. Ascenders and capitals rise above it far more often than descenders
    drop below it.
    """
    if len(boxes) == 0:
        return 0.0, 0
    size = float(np.median(np.maximum(boxes[:, 2], boxes[:, 3])))
    canvas = np.zeros(dark.shape, np.uint8)
    for x, y, w, h in boxes:
        canvas[y:y + h, x:x + w] = 255
    # Runs of text: glyph boxes smeared sideways by about a character's width.
    gap = max(3, int(round(0.8 * size)))
    runs = cv2.dilate(canvas, np.ones((1, gap), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(runs, connectivity=4)
    glyph_ink = np.where(canvas > 0, dark, 0)
    above = below = 0.0
    used = 0
    for i in range(1, n):
        x, y, w, h = stats[i, :4]
        if w < 2.5 * h or h < 4:  # a run of at least a few characters
            continue
        mine = labels[y:y + h, x:x + w] == i
        profile = np.where(mine, glyph_ink[y:y + h, x:x + w], 0).sum(axis=1, dtype=np.float64)
        if profile.max() == 0:
            continue
        dense = np.flatnonzero(profile >= 0.35 * profile.max())
        top, bottom = dense[0], dense[-1]
        total = float(profile.sum())
        above += profile[:top].sum() / total
        below += profile[bottom + 1:].sum() / total
        used += 1
    if above + below == 0:
        return 0.0, used
    return float((above - below) / (above + below)), used


def _level(gray: np.ndarray) -> tuple[np.ndarray, float]:
    """The page's inked part (and its text height, px), reduced to about 1600 px or small text enlarged to ~16 px,
    and levelled: the thin strokes that tell which way is up would not survive
    levelling (a rotation resamples the page) at 6-8 px per character, and on a skewed
    page a long line's ink spreads over more rows than its letters."""
    step = max(1, int(max(gray.shape) // 1600))
    small = np.ascontiguousarray(gray[::step, ::step]) if step > 1 else gray
    ink = otsu_ink(small)
    text_h = estimate_text_height(ink, default=12.0)
    # Only the part with ink: the margins of a page cost time and tell nothing.
    ys, xs = np.nonzero(ink[::2, ::2])
    if ys.size:
        m = int(3 * text_h)
        y0, y1 = max(0, 2 * ys.min() - m), min(small.shape[0], 2 * ys.max() + m)
        x0, x1 = max(0, 2 * xs.min() - m), min(small.shape[1], 2 * xs.max() + m)
        small = np.ascontiguousarray(small[y0:y1, x0:x1])
    if text_h < 14:
        f = min(3.0, 16.0 / text_h, np.sqrt(_MAX_PIXELS / max(1, small.size)))
        if f > 1.05:
            small = cv2.resize(small, None, fx=f, fy=f, interpolation=cv2.INTER_CUBIC)
            text_h *= f
    skew = estimate_skew(otsu_ink(small))
    if abs(skew) >= 0.3:
        small = rotate_page(small, skew, fill=int(np.percentile(small[::4, ::4], 95)))
    return small, text_h


def _quarter(boxes: np.ndarray, height: int) -> np.ndarray:
    """Glyph boxes of a page of ``height`` rows after the page turns 90° clockwise."""
    x, y, w, h = boxes.T
    return np.stack([height - (y + h), x, h, w], axis=1)


def detect_orientation(gray: np.ndarray) -> Orientation:
    """Which way the page (grey (H, W) uint8) is turned; ``turn`` rights it."""
    if gray.ndim != 2 or gray.dtype != np.uint8:
        raise ValueError(f"expected a grey uint8 page, got {gray.dtype} {gray.shape}")
    small, text_px = _level(gray)
    boxes = glyph_boxes(_ink(small, text_px))
    if len(boxes) < _MIN_GLYPHS:
        return Orientation(0, 0, 0, 0.0, False)
    across, down = _neighbour_votes(boxes)
    vertical = down > VERTICAL_MARGIN * max(across, 1) and down >= _MIN_GLYPHS // 2
    lines_clear = vertical or across > VERTICAL_MARGIN * max(down, 1)
    # Words lying across settle the lines' direction. Blobs long down the page do not:
    # they are as often letters of several rows run together by blur as the words of
    # a sideways page, so their shape never turns a page; a reader may
    # (settle_direction_by_reading).
    words = _words(boxes)
    if words == "across":
        vertical, lines_clear = False, True
    dark = 255 - small
    if vertical:
        # Turn the boxes a quarter clockwise, so the lines run across, and ask which way up.
        score, used = baseline_score(_quarter(boxes, small.shape[0]), turn_page(dark, 90))
        # Upright after a quarter turn clockwise: the page was turned 90° anticlockwise.
        turn = 90 if score >= 0 else 270
    else:
        score, used = baseline_score(boxes, dark)
        turn = 180 if used >= _FLIP_EVIDENCE and score <= -FLIP_MARGIN else 0
    sure = lines_clear and used >= _FLIP_EVIDENCE and abs(score) >= FLIP_MARGIN
    return Orientation(turn, across, down, float(score), sure and words != "down", words == "down")


def sample_lines(gray: np.ndarray, n: int = 6) -> list[np.ndarray]:
    """Up to ``n`` crops (grey uint8) of the longest runs of text of an upright-looking
    page: what a recogniser can read once as they are and once turned over."""
    small, text_px = _level(gray)
    ink = _ink(small, text_px)
    boxes = glyph_boxes(ink)
    if len(boxes) == 0:
        return []
    size = float(np.median(np.maximum(boxes[:, 2], boxes[:, 3])))
    canvas = np.zeros(ink.shape, np.uint8)
    for x, y, w, h in boxes:
        canvas[y:y + h, x:x + w] = 255
    runs = cv2.dilate(canvas, np.ones((1, max(3, int(round(0.8 * size)))), np.uint8))
    k, _, stats, _ = cv2.connectedComponentsWithStats(runs, connectivity=4)
    # The longest runs, but not longer than a recogniser reads well in one crop;
    # single characters only where nothing longer is there.
    found = [stats[i, :4] for i in range(1, k) if stats[i, 2] >= 0.8 * stats[i, 3] >= 3]
    found.sort(key=lambda s: -min(int(s[2]), int(14 * s[3])))
    crops = []
    for x, y, w, h in found[:n]:
        m = max(2, int(round(0.3 * h)))
        crop = small[max(0, y - m):y + h + m, max(0, x - m):x + min(w, 14 * h) + m]
        crops.append(np.ascontiguousarray(crop))
    return crops


def _read_both_ways(gray: np.ndarray, turn: int,
                    confidences: Callable[[list[np.ndarray]], list[float]]
                    ) -> tuple[float, float] | None:
    """Mean confidence of a few lines of the page turned ``turn`` as they are, and
    turned over (the page turned ``turn`` + 180); None with fewer than two lines."""
    lines = sample_lines(turn_page(gray, turn))
    if len(lines) < 2:
        return None
    both = confidences(lines + [turn_page(c, 180) for c in lines])
    return float(np.mean(both[:len(lines)])), float(np.mean(both[len(lines):]))


def settle_by_reading(gray: np.ndarray, orientation: Orientation,
                      confidences: Callable[[list[np.ndarray]], list[float]],
                      margin: float = 0.1) -> Orientation:
    """``orientation`` with its up/down settled by reading a few lines both ways up:
    the way the recogniser is surer of wins, by ``margin`` of mean confidence, and
    ``sure`` is set; when the reading cannot tell, the turn is the shapes' and ``sure``
    is False. ``gray`` is the page as it came (unturned)."""
    read = _read_both_ways(gray, orientation.turn, confidences)
    if read is None:
        return replace(orientation, sure=False)
    as_is, over = read
    if over > as_is + margin:
        return replace(orientation, turn=(orientation.turn + 180) % 360, sure=True)
    if as_is > over + margin:
        return replace(orientation, sure=True)
    return replace(orientation, sure=False)  # the reading could not tell


def settle_direction_by_reading(gray: np.ndarray, orientation: Orientation,
                                confidences: Callable[[list[np.ndarray]], list[float]],
                                margin: float = 0.1) -> Orientation:
    """``orientation`` settled by reading a few lines of the page in each of its four
    turns (the lines of the page as it is and a quarter turned, each both ways up),
    for a page whose shapes cannot tell which way its lines run (``words_down``). The
    turn whose lines the reader is surest of wins if it beats the page as it is by
    ``margin`` of mean confidence; otherwise the page stays as it is. ``gray`` is the
    page as it came."""
    means = {0: 0.0, 90: 0.0, 180: 0.0, 270: 0.0}
    for turn in (0, 90):
        read = _read_both_ways(gray, turn, confidences)
        if read is not None:
            means[turn], means[turn + 180] = read
    best = max(means, key=means.get)
    if best != 0 and means[best] > means[0] + margin:
        return replace(orientation, turn=best, sure=True)
    return replace(orientation, turn=0, sure=means[0] > max(means[t] for t in (90, 180, 270)) + margin)
