"""Photos of pages: find the sheet against the desk, square it up, even out the light.

- ``find_page``: the sheet is the largest bright region that stands out from a darker
  surround; its outline, simplified to four corners, is the page. Sides are fitted to
  the whole outline (not to its four extreme points), so a mildly curled edge or a
  thumb over a corner moves them little. A photo whose page fills the frame, or a
  flat scan, has no surround: nothing is found and nothing is changed.
- ``unwarp``: cv2.getPerspectiveTransform / warpPerspective from the four corners to
  an upright rectangle as large as the page's longer sides, so text keeps its size.
- ``flatten_light``: the paper's brightness is estimated on a coarse grid (a high
  percentile of each block, then a median over neighbouring blocks so that dark
  header bands and filled cells are not mistaken for shadow) and divided out. Pages
  lit evenly are left alone.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["find_page", "flatten_light", "light_unevenness", "order_corners", "unwarp"]

_WORK = 800  # px: the long side the page is looked for at
MIN_PAGE_SHARE = 0.15  # a page smaller than this share of the photo is not taken for one
MAX_PAGE_SHARE = 0.96  # above this, the page fills the frame: nothing to cut away
MIN_SURROUND = 0.4  # share of the photo's edge that must be desk (a page may run off it)
INSET = 0.015  # share of the page's size its found outline is pulled in by
UNEVEN = 28.0  # grey levels between the paper's darkest and lightest parts to flatten


def order_corners(pts: np.ndarray) -> np.ndarray:
    """Four points as top-left, top-right, bottom-right, bottom-left (float32 (4, 2))."""
    pts = np.asarray(pts, np.float32).reshape(4, 2)
    s = pts.sum(axis=1)
    d = pts[:, 1] - pts[:, 0]
    return np.array([pts[np.argmin(s)], pts[np.argmin(d)], pts[np.argmax(s)], pts[np.argmax(d)]],
                    np.float32)


def _fit_sides(contour: np.ndarray, corners: np.ndarray) -> np.ndarray | None:
    """Corners re-fitted as the crossings of lines fitted to each side's outline points."""
    pts = contour.reshape(-1, 2).astype(np.float32)
    lines = []
    for k in range(4):
        a, b = corners[k], corners[(k + 1) % 4]
        ab = b - a
        length = float(np.hypot(*ab))
        if length < 8:
            return None
        t = ((pts - a) @ ab) / (length * length)
        dist = np.abs((pts[:, 0] - a[0]) * ab[1] - (pts[:, 1] - a[1]) * ab[0]) / length
        # The middle of the side only: corners may be rounded, dog-eared or covered.
        near = pts[(t > 0.12) & (t < 0.88) & (dist < 0.05 * length + 3)]
        if len(near) < 5:
            lines.append((a, ab / length))
            continue
        vx, vy, x0, y0 = cv2.fitLine(near, cv2.DIST_HUBER, 0, 0.01, 0.01).ravel()
        lines.append((np.array([x0, y0], np.float32), np.array([vx, vy], np.float32)))
    out = []
    for k in range(4):
        (p, u), (q, v) = lines[(k + 3) % 4], lines[k]
        m = np.array([[u[0], -v[0]], [u[1], -v[1]]], np.float64)
        if abs(np.linalg.det(m)) < 1e-6:
            return None
        s, _ = np.linalg.solve(m, (q - p).astype(np.float64))
        out.append(p + s * u)
    return np.array(out, np.float32)


def find_page(image: np.ndarray) -> np.ndarray | None:
    """The four corners (top-left, top-right, bottom-right, bottom-left; float32, image
    pixels) of a sheet of paper photographed on a darker surface, or None."""
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    h, w = gray.shape
    f = min(1.0, _WORK / max(h, w))
    small = cv2.resize(gray, None, fx=f, fy=f, interpolation=cv2.INTER_AREA) if f < 1 else gray
    # Text and rules gone: only paper and desk remain.
    k = max(5, int(round(max(small.shape) / 60)) | 1)
    paper = cv2.morphologyEx(small, cv2.MORPH_CLOSE, np.ones((k, k), np.uint8))
    paper = cv2.GaussianBlur(paper, (5, 5), 0)
    _, mask = cv2.threshold(paper, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    inside, outside = paper[mask > 0], paper[mask == 0]
    if inside.size == 0 or outside.size == 0:
        return None
    if float(np.median(inside)) - float(np.median(outside)) < 30:
        return None  # no darker surround: a scan, or a page that fills the photo
    # The surround must frame the page: most of the photo's edge is desk. (A scan with a
    # dark header band has a dark region too, but inside the page, not around it.)
    edge = np.concatenate([mask[0], mask[-1], mask[:, 0], mask[:, -1]])
    if np.mean(edge == 0) < MIN_SURROUND:
        return None
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((k, k), np.uint8))
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return None
    contour = max(contours, key=cv2.contourArea)
    share = cv2.contourArea(contour) / float(small.shape[0] * small.shape[1])
    if not MIN_PAGE_SHARE <= share <= MAX_PAGE_SHARE:
        return None
    hull = cv2.convexHull(contour)
    quad = None
    for eps in (0.01, 0.02, 0.03, 0.05, 0.08):
        approx = cv2.approxPolyDP(hull, eps * cv2.arcLength(hull, True), True)
        if len(approx) == 4:
            quad = approx.reshape(4, 2)
            break
    if quad is None:
        quad = cv2.boxPoints(cv2.minAreaRect(contour))
    corners = order_corners(quad)
    fitted = _fit_sides(contour, corners)
    if fitted is not None and _plausible(fitted, small.shape):
        corners = fitted
    if not _plausible(corners, small.shape):
        return None
    # A little inside the outline found: a sliver of desk left along an edge would
    # read as a rule. Paper has margins; nothing of the table is lost.
    centre = corners.mean(axis=0)
    corners = centre + (corners - centre) * (1.0 - INSET)
    return corners / f


def _plausible(corners: np.ndarray, shape: tuple[int, ...]) -> bool:
    h, w = shape[:2]
    if not cv2.isContourConvex(corners.reshape(-1, 1, 2).astype(np.float32)):
        return False
    margin = 0.05 * max(h, w)
    if (corners[:, 0] < -margin).any() or (corners[:, 0] > w + margin).any():
        return False
    if (corners[:, 1] < -margin).any() or (corners[:, 1] > h + margin).any():
        return False
    sides = [np.hypot(*(corners[(k + 1) % 4] - corners[k])) for k in range(4)]
    return min(sides) > 0.15 * max(sides)


def unwarp(image: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """The quadrilateral ``corners`` (as ``find_page`` gives them) of ``image`` mapped to
    an upright rectangle as wide and tall as the quadrilateral's longer sides."""
    c = order_corners(corners)
    width = max(np.hypot(*(c[1] - c[0])), np.hypot(*(c[2] - c[3])))
    height = max(np.hypot(*(c[3] - c[0])), np.hypot(*(c[2] - c[1])))
    w, h = max(2, int(round(width))), max(2, int(round(height)))
    target = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float32)
    m = cv2.getPerspectiveTransform(c, target)
    return cv2.warpPerspective(image, m, (w, h), flags=cv2.INTER_CUBIC,
                               borderMode=cv2.BORDER_REPLICATE)


def _paper_level(gray: np.ndarray, block: int) -> np.ndarray:
    """Paper brightness on a grid of ``block``-px blocks: the 90th percentile of each,
    then the median of its 5 x 5 neighbourhood (a dark band a block or two tall is
    outvoted by the paper around it)."""
    h, w = gray.shape
    gh, gw = max(1, h // block), max(1, w // block)
    cut = gray[: gh * block, : gw * block].reshape(gh, block, gw, block)
    level = np.percentile(cut.transpose(0, 2, 1, 3).reshape(gh, gw, -1), 90, axis=2)
    level = level.astype(np.uint8)
    if min(gh, gw) >= 5:
        level = cv2.medianBlur(level, 5)
    elif min(gh, gw) >= 3:
        level = cv2.medianBlur(level, 3)
    return level


def light_unevenness(gray: np.ndarray, text_h: float = 12.0) -> float:
    """Grey levels between the darkest and the lightest paper on the page."""
    level = _paper_level(gray, max(16, int(round(4 * text_h))))
    if level.size < 4:
        return 0.0
    return float(np.percentile(level, 97) - np.percentile(level, 3))


def flatten_light(image: np.ndarray, text_h: float = 12.0, force: bool = False) -> np.ndarray:
    """``image`` (RGB or grey uint8) with the paper made evenly white, when its light is
    uneven by more than ``UNEVEN`` grey levels (or always, with ``force``)."""
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    block = max(16, int(round(4 * text_h)))
    level = _paper_level(gray, block)
    if level.size < 4:
        return image
    if not force and float(np.percentile(level, 97) - np.percentile(level, 3)) < UNEVEN:
        return image
    h, w = gray.shape
    background = cv2.resize(level.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    background = cv2.GaussianBlur(background, (0, 0), block / 2)
    background = np.maximum(background, 24.0)
    # Paper goes to ~white; ink keeps its share of the local paper brightness.
    gain = 245.0 / background
    if image.ndim == 3:
        gain = gain[:, :, None]
    return np.clip(image.astype(np.float32) * gain, 0, 255).astype(np.uint8)
