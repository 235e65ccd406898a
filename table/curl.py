"""Mild page curl: rules that should be straight bend a little on a photographed sheet.

Where a sheet bows, every column rule is pushed sideways by about the same amount at
a given height (and every row rule up or down by the same amount at a given x): on a
short table that reads as rules leaning, on a long one as rules bending. So one
offset curve per direction, c_i + b u + a u² with a common b and a and an intercept
per rule, is fitted through all the long rules at once, and undone by cv2.remap
(within the span the rules cover; beyond it the offset is held constant). A page
whose rules are straight and level to within ``MIN_BOW`` pixels comes back as it is.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["MIN_BOW", "straighten"]

MIN_BOW = 1.5  # px; offsets smaller than this are not worth resampling the page for


def _rules(binary: np.ndarray, text_h: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """Centre lines (x, y) of the long rules running across ``binary`` (255 = ink)."""
    w = binary.shape[1]
    k = max(9, int(round(2.5 * text_h)))
    # Thickened first, so a rule that leans a little stays in one piece.
    thick = cv2.dilate(binary, np.ones((3, 1), np.uint8))
    runs = cv2.morphologyEx(thick, cv2.MORPH_OPEN, np.ones((1, k), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(runs, connectivity=8)
    out = []
    for i in range(1, n):
        x, y, bw, bh = stats[i, :4]
        if bw < max(12 * text_h, 0.1 * w) or bh > 0.1 * bw + 2 * text_h:
            continue
        ys, xs = np.nonzero(labels[y:y + bh, x:x + bw] == i)
        cols = np.bincount(xs, minlength=bw)
        centre = np.bincount(xs, weights=ys + y, minlength=bw)
        have = cols > 0
        if have.sum() >= 20:
            out.append((np.flatnonzero(have).astype(np.float64) + x, centre[have] / cols[have]))
    return out


def _offset(rules: list[tuple[np.ndarray, np.ndarray]], length: int) -> np.ndarray | None:
    """The common offset b u + a u² (u = position along / ``length``) of the rules,
    sampled at every pixel along, or None when it stays under MIN_BOW."""
    if not rules:
        return None
    us, vs, ws = [], [], []
    for x, v in rules:
        u = x / float(length)
        # Per-rule intercepts drop out once each rule's means are subtracted.
        us.append(np.stack([u - u.mean(), u * u - (u * u).mean()], axis=1))
        vs.append(v - v.mean())
        ws.append(np.full(u.size, 1.0 / np.sqrt(u.size)))  # long rules count, not dominate
    m, v, wt = np.concatenate(us), np.concatenate(vs), np.concatenate(ws)
    coef = np.linalg.lstsq(m * wt[:, None], v * wt, rcond=None)[0]
    # Again without the points a letter touching a rule pulled away.
    resid = np.abs(m @ coef - v)
    keep = resid <= max(1.0, float(np.percentile(resid, 80)))
    if keep.sum() >= 20:
        coef = np.linalg.lstsq(m[keep] * wt[keep, None], v[keep] * wt[keep], rcond=None)[0]
    lo = min(float(x.min()) for x, _ in rules) / length
    hi = max(float(x.max()) for x, _ in rules) / length
    u = np.clip(np.arange(length, dtype=np.float64) / length, lo, hi)
    off = coef[0] * u + coef[1] * u * u
    off -= off.mean()
    if np.ptp(off) < MIN_BOW:
        return None
    return off.astype(np.float32)


def straighten(image: np.ndarray, binary: np.ndarray, text_h: float) -> np.ndarray:
    """``image`` with its rules made straight and square (rules found in ``binary``)."""
    h, w = binary.shape
    dy = _offset(_rules(binary, text_h), w)  # how far row rules sit low, along x
    dx = _offset(_rules(np.ascontiguousarray(binary.T), text_h), h)  # column rules, along y
    if dy is None and dx is None:
        return image
    map_x = np.tile(np.arange(w, dtype=np.float32), (h, 1))
    map_y = np.tile(np.arange(h, dtype=np.float32)[:, None], (1, w))
    if dy is not None:
        map_y += dy[None, :]
    if dx is not None:
        map_x += dx[:, None]
    return cv2.remap(image, map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
