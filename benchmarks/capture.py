"""Captures for benchmarks/table_end_to_end.py --capture hard: each scanned page is
turned, photographed or scanned at low resolution, as people bring them.

Made independently of the unit tests' captures (tests/table/capture.py): a lamp
falling off radially from a random point, a desk with grain, a perspective from a
random camera position, a mild curl along the page, JPEG at phone qualities.
"""

from __future__ import annotations

import io
import random

import cv2
import numpy as np
from PIL import Image

KINDS = ("turned", "photo", "lowres")


def _jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def turned(img: np.ndarray, rng: random.Random) -> tuple[np.ndarray, str]:
    k = rng.choice([1, 2, 3])
    return np.ascontiguousarray(np.rot90(img, k)), f"turned {90 * k}"


def photo(img: np.ndarray, rng: random.Random) -> tuple[np.ndarray, str]:
    h, w = img.shape[:2]
    nr = np.random.default_rng(rng.randint(0, 2**31))
    curl = rng.uniform(0, 6) * h / 1000.0
    if curl > 0.5:  # the sheet bows along its length: columns bend sideways
        ys = np.arange(h, dtype=np.float32)
        bend = curl * np.sin(np.pi * ys / (h - 1))
        mx = np.arange(w, dtype=np.float32)[None, :] - bend[:, None]
        my = np.tile(ys[:, None], (1, w))
        img = cv2.remap(img, mx.astype(np.float32), my, cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_CONSTANT, borderValue=(255, 255, 255))
    margin = rng.uniform(0.08, 0.25)
    W, H = int(w * (1 + 2 * margin)), int(h * (1 + 2 * margin))
    src = np.float32([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]])
    spread = rng.uniform(0.03, 0.10)
    dst = src + np.float32([(W - w) / 2, (H - h) / 2])
    dst += nr.uniform(-1, 1, (4, 2)).astype(np.float32) * spread * np.float32([w, h])
    desk = np.array([rng.randint(40, 120), rng.randint(30, 100), rng.randint(20, 90)], np.float32)
    grain = cv2.resize(nr.normal(0, 10, (H // 16 + 1, W // 16 + 1)).astype(np.float32), (W, H))
    canvas = np.clip(desk[None, None, :] + grain[:, :, None], 0, 255).astype(np.uint8)
    m = cv2.getPerspectiveTransform(src, dst)
    out = cv2.warpPerspective(img, m, (W, H), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_TRANSPARENT, dst=canvas)
    # A lamp: brightest at a random point, falling off towards the far corner.
    cx, cy = rng.uniform(0, W), rng.uniform(0, H)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    r = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2) / np.hypot(W, H)
    fall = rng.uniform(0.25, 0.55)
    lit = out.astype(np.float32) * (1.0 - fall * r)[:, :, None] * rng.uniform(0.85, 1.0)
    lit = cv2.GaussianBlur(lit, (0, 0), rng.uniform(0.4, 1.0))
    lit += nr.normal(0, 3, lit.shape[:2])[:, :, None]
    q = rng.choice([70, 80, 90])
    return _jpeg(np.clip(lit, 0, 255).astype(np.uint8), q), f"photo (curl {curl:.1f}px, lamp -{fall:.0%}, q{q})"


def lowres(img: np.ndarray, rng: random.Random, dpi: float) -> tuple[np.ndarray, str]:
    to = rng.choice([60, 75, 90, 100, 120])
    f = to / dpi
    small = cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    return small, f"{to} dpi"


def capture(img: np.ndarray, rng: random.Random, dpi: float) -> tuple[np.ndarray, str]:
    kind = rng.choice(KINDS)
    if kind == "turned":
        return turned(img, rng)
    if kind == "photo":
        return photo(img, rng)
    return lowres(img, rng, dpi)
