"""Skew: find how far a page is turned (within ±10°) and turn it back.

The angle that makes the ink's horizontal projection the most peaked is the one
at which rules and text lines run level: rotating the ink coordinates instead of
the image makes each tried angle a cheap histogram.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["MAX_SKEW", "estimate_skew", "rotate_page"]

MAX_SKEW = 10.0  # degrees
_MAX_POINTS = 150_000


def _sharpness(xs: np.ndarray, ys: np.ndarray, angle_deg: float, n_bins: int) -> float:
    a = np.deg2rad(angle_deg)
    # Project onto the axis perpendicular to lines that are turned by +angle
    # (counter-clockwise on screen, i.e. rising to the right in image coordinates).
    proj = ys * np.cos(a) + xs * np.sin(a)
    hist = np.bincount(np.clip(proj, 0, n_bins - 1).astype(np.int64), minlength=n_bins)
    return float(np.dot(hist, hist.astype(np.float64)))


def estimate_skew(binary: np.ndarray, max_angle: float = MAX_SKEW) -> float:
    """The page's skew in degrees: positive when its lines rise to the right
    (content turned counter-clockwise). 0.0 when there is too little ink to tell."""
    h, w = binary.shape
    step = max(1, int(round(max(h, w) / 1600)))  # ~1600 px is plenty to see the angle
    small = binary[::step, ::step]
    ys, xs = np.nonzero(small)
    if ys.size < 200:
        return 0.0
    if ys.size > _MAX_POINTS:
        pick = np.random.default_rng(0).choice(ys.size, _MAX_POINTS, replace=False)
        ys, xs = ys[pick], xs[pick]
    ys = ys.astype(np.float64)
    xs = xs.astype(np.float64)
    # Shift so every projection stays positive for any angle tried.
    offset = small.shape[1] * np.sin(np.deg2rad(max_angle)) + 2
    ys = ys + offset
    n_bins = int(small.shape[0] + 2 * offset + 4)

    def best(lo: float, hi: float, num: int) -> float:
        angles = np.linspace(lo, hi, num)
        scores = [_sharpness(xs, ys, a, n_bins) for a in angles]
        return float(angles[int(np.argmax(scores))])

    a = best(-max_angle, max_angle, 41)  # 0.5° steps
    a = best(a - 0.5, a + 0.5, 21)  # 0.05°
    a = best(a - 0.05, a + 0.05, 11)  # 0.01°
    return round(a, 2)


def rotate_page(image: np.ndarray, angle: float, fill: int | tuple[int, ...] = 255) -> np.ndarray:
    """Turn ``image`` by ``-angle`` degrees (undoing a skew of ``angle``), growing the canvas
    so no corner is cut off; new area is painted ``fill``."""
    if abs(angle) < 1e-6:
        return image
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), -angle, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    new_w = int(np.ceil(h * sin + w * cos))
    new_h = int(np.ceil(h * cos + w * sin))
    m[0, 2] += new_w / 2.0 - w / 2.0
    m[1, 2] += new_h / 2.0 - h / 2.0
    if image.ndim == 3 and not isinstance(fill, tuple):
        fill = (fill,) * image.shape[2]
    return cv2.warpAffine(
        image,
        m,
        (new_w, new_h),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=fill,
    )
