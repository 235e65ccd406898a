"""Captures made from rendered pages: a phone photo of the page on a desk, a low-
resolution scan, a faint photocopy. The truth of the page is unchanged by them."""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image


def jpeg(image: np.ndarray, quality: int = 80) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def photograph(page: np.ndarray, *, tilt: float = 0.12, light: float = 0.35,
               desk: tuple[int, int, int] = (92, 70, 52), margin: float = 0.18,
               curl: float = 0.0, seed: int = 0, quality: int = 80) -> np.ndarray:
    """``page`` (RGB) as photographed at an angle on a darker desk, under a lamp that
    lights one corner more than the opposite one (``light``: the share of brightness
    lost across the frame), with an optional mild curl (pixels of bulge per 1000 px),
    then JPEG-compressed."""
    rng = np.random.default_rng(seed)
    h, w = page.shape[:2]
    if curl:
        # The middle of the sheet bulges towards the camera: rows bend downwards.
        xs = np.arange(w, dtype=np.float32)
        bend = curl * (w / 1000.0) * np.sin(np.pi * xs / (w - 1))
        map_x = np.tile(xs, (h, 1))
        map_y = np.arange(h, dtype=np.float32)[:, None] - bend[None, :]
        page = cv2.remap(page, map_x, map_y.astype(np.float32), cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=(255, 255, 255))
    W, H = int(w * (1 + 2 * margin)), int(h * (1 + 2 * margin))
    ox, oy = (W - w) / 2, (H - h) / 2
    src = np.float32([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]])
    jitter = rng.uniform(-1, 1, (4, 2)) * tilt * np.float32([w, h]) * 0.5
    # One side further from the camera: narrower.
    jitter[0, 0] += tilt * w * 0.5
    jitter[1, 0] -= tilt * w * 0.5
    dst = np.float32(src + [ox, oy] + jitter)
    m = cv2.getPerspectiveTransform(src, dst)
    canvas = np.empty((H, W, 3), np.uint8)
    canvas[:] = desk
    noise = rng.normal(0, 6, (H // 8 + 1, W // 8 + 1)).astype(np.float32)
    texture = cv2.resize(noise, (W, H))[:, :, None]
    canvas = np.clip(canvas.astype(np.float32) + texture, 0, 255).astype(np.uint8)
    warped = cv2.warpPerspective(page, m, (W, H), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_TRANSPARENT, dst=canvas)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    gain = 1.0 - light * (0.6 * xx / W + 0.4 * yy / H)
    lit = warped.astype(np.float32) * gain[:, :, None]
    lit = cv2.GaussianBlur(lit, (0, 0), 0.7)
    return jpeg(np.clip(lit, 0, 255).astype(np.uint8), quality)


def low_resolution(page: np.ndarray, dpi: float, to_dpi: float) -> np.ndarray:
    """``page`` rendered at ``dpi`` as a scanner at ``to_dpi`` would have seen it."""
    f = to_dpi / dpi
    return cv2.resize(page, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
