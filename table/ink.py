"""From a grey page to a clean ink mask, and the page's scale.

Every size the structure detector uses (kernel lengths, tolerances, gaps) is a
multiple of ``text_h``, the median height of the page's characters in pixels,
so one code path serves a 100 dpi fax and a 600 dpi scan alike.

Dark filled areas (a navy header row with white text) are inverted before
thresholding, so their text becomes dark ink like everywhere else and their
edges read as rules.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from table.components import components

__all__ = [
    "Ink",
    "analyse_ink",
    "dark_fill_mask",
    "estimate_noise",
    "estimate_text_height",
    "otsu_ink",
    "to_gray",
]


@dataclass
class Ink:
    gray: np.ndarray  # (H, W) uint8 page
    normalized: np.ndarray  # gray with dark fills inverted: dark ink on light paper everywhere
    smooth: np.ndarray  # normalized, lightly smoothed: what ``binary`` was thresholded from
    binary: np.ndarray  # (H, W) uint8, 255 where there is ink in ``normalized``
    fill: np.ndarray  # (H, W) uint8, 255 inside dark filled areas
    text_h: float  # median character height, pixels


def to_gray(image: np.ndarray) -> np.ndarray:
    """RGB / RGBA / grey uint8 image as a (H, W) uint8 grey image."""
    if image.ndim == 2:
        return np.ascontiguousarray(image, dtype=np.uint8)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGBA2GRAY)
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
    if image.ndim == 3 and image.shape[2] == 1:
        return np.ascontiguousarray(image[:, :, 0], dtype=np.uint8)
    raise ValueError(f"expected an (H, W), (H, W, 3) or (H, W, 4) image, got shape {image.shape}")


def otsu_ink(gray: np.ndarray) -> np.ndarray:
    """A global ink mask (255 = ink); good enough to measure text and skew."""
    _, binary = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    return binary


def estimate_text_height(binary: np.ndarray, default: float | None = None) -> float:
    """Median height of character-like connected components, in pixels."""
    h_img, w_img = binary.shape
    n, _, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    if n > 1:
        w = stats[1:, cv2.CC_STAT_WIDTH]
        h = stats[1:, cv2.CC_STAT_HEIGHT]
        area = stats[1:, cv2.CC_STAT_AREA]
        # Characters: not specks (halftone dots stay under 5 px), not rules, not blocks.
        ok = (h >= 5) & (h <= max(8, h_img // 8)) & (w <= 3 * h) & (w >= 1) & (area >= 0.08 * w * h)
        ok &= area <= 0.95 * w * h + 4  # solid rectangles are fills or rule pieces, not letters
        heights = h[ok]
        if heights.size >= 8:
            return float(np.median(heights))
    if default is not None:
        return default
    # No text to measure (a bare grid): assume a page about 80 text lines tall.
    return float(max(8.0, min(h_img, w_img * 1.3) / 110.0))


def dark_fill_mask(gray: np.ndarray, text_h: float) -> np.ndarray:
    """255 inside dark filled areas (header bands, inverted cells); text and rules excluded."""
    paper = float(np.percentile(gray[::4, ::4], 90))
    # 255 where gray < limit: for whole grey levels, those up to ceil(limit) - 1.
    limit = min(110.0, paper * 0.5)
    _, dark = cv2.threshold(gray, float(np.ceil(limit) - 1), 255, cv2.THRESH_BINARY_INV)
    k = max(3, int(round(0.45 * text_h)))
    # Opening wipes strokes and rules (thinner than k) and keeps solid areas.
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))
    solid = cv2.morphologyEx(dark, cv2.MORPH_OPEN, kernel)
    if not solid.any():
        return solid
    # White text punches holes in the fill; close them so the whole band is one area.
    solid = cv2.morphologyEx(
        solid, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (2 * k + 1, 2 * k + 1))
    )
    for c in list(components(solid, connectivity=4)):
        if not (min(c.width, c.height) >= 0.8 * text_h and c.width * c.height >= 3 * text_h * text_h):
            solid[c.box][c.pixels] = 0  # too small for a fill
    return solid


def estimate_noise(gray: np.ndarray) -> float:
    """Standard deviation of the scanner noise, grey levels, from each pixel's distance
    to its 3 x 3 median, measured on a subsample."""
    step = max(1, int(np.sqrt(gray.size / 1_000_000)))
    sample = np.ascontiguousarray(gray[::step, ::step])
    diff = cv2.absdiff(sample, cv2.medianBlur(sample, 3))
    flat = diff[diff < 40]  # edges of text and rules are not noise
    # For Gaussian noise the mean distance to the 3 x 3 median is about 0.72 sigma.
    return float(flat.mean() / 0.72) if flat.size else 0.0


def analyse_ink(gray: np.ndarray, text_h: float | None = None) -> Ink:
    """Scale, dark fills and an adaptive-threshold ink mask for a (deskewed) grey page."""
    if text_h is None:
        text_h = estimate_text_height(otsu_ink(gray))
    fill = dark_fill_mask(gray, text_h)
    noise = estimate_noise(gray)
    normalized = gray
    if fill.any():
        # Invert inside the fills, a thin rim short of their edge: the rim stays dark
        # and so the edge of a dark band reads as a rule.
        rim = max(1, int(round(0.08 * text_h)))
        inner = cv2.erode(
            fill, cv2.getStructuringElement(cv2.MORPH_RECT, (2 * rim + 1, 2 * rim + 1))
        )
        normalized = gray.copy()
        for fill_area in components(inner, connectivity=4):
            box, where = fill_area.box, fill_area.pixels
            values = gray[box][where].astype(np.float32)
            # The fill's own colour becomes white paper (no edge for the adaptive
            # threshold to trip over); whatever departs from it, its light text and
            # any rule drawn darker than the fill, becomes dark ink.
            bg = float(np.median(values))
            # Lighter departures count only past a dead zone: the hairline seams a
            # PDF renderer leaves between adjacent filled cells are not rules.
            room = max(255.0 - bg, 40.0)
            lighter = np.clip(values - bg - 0.5 * room, 0, None) * (255.0 / (0.5 * room))
            # (Both with a dead zone, so scanner noise on the fill is not amplified.
            # Darker departures are small: a one-pixel black rule on a grey fill, once
            # deskewing has spread it over two pixels, is only ~15 levels under the
            # fill; so that dead zone follows the measured noise, not the fill.)
            deep = max(bg, 40.0)
            dead = min(0.3 * deep, max(6.0, 3.0 * noise))
            darker = np.clip(bg - values - dead, 0, None) * (255.0 / (deep - dead))
            normalized[box][where] = np.clip(255.0 - lighter - darker, 0, 255).astype(np.uint8)
    # Smoothing tames scanner noise and halftone screens; at low resolution only as
    # much as the noise needs, since it washes out one-pixel strokes and rules.
    sigma = min(1.2, max(text_h / 25.0, 0.35 + noise / 10.0 if noise > 2.5 else 0.0))
    smooth = cv2.GaussianBlur(normalized, (0, 0), sigma) if sigma >= 0.5 else normalized
    block = int(max(11, round(1.2 * text_h))) | 1
    binary = cv2.adaptiveThreshold(
        smooth, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, 12
    )
    return Ink(
        gray=gray,
        normalized=normalized,
        smooth=smooth,
        binary=binary,
        fill=fill,
        text_h=float(text_h),
    )
