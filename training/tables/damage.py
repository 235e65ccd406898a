"""Scan damage for whole pages: the recogniser generator's kinds of damage
(training.cells), at page scale: skew, blur, low resolution, uneven light, noise,
JPEG, binarisation."""

from __future__ import annotations

import io
import random

import numpy as np
from PIL import Image, ImageFilter


def scan_damage(img: Image.Image, seed: int, strength: float) -> tuple[np.ndarray, float]:
    """Damage an RGB page; ``strength`` 0 leaves it clean. Returns (array, angle): the
    page was rotated by ``angle`` degrees about its centre (PIL's sense, canvas kept)."""
    if strength <= 0:
        return np.asarray(img.convert("RGB"), dtype=np.uint8).copy(), 0.0
    rng = random.Random(seed)
    angle = 0.0
    if rng.random() < 0.7:
        angle = rng.uniform(-3.0, 3.0) * strength
        img = img.rotate(angle, resample=Image.Resampling.BICUBIC, expand=False,
                         fillcolor=(255, 255, 255))
    if rng.random() < 0.4 * strength:  # the softness of a low-resolution scan
        w, h = img.size
        f = rng.uniform(0.55, 0.85)
        img = img.resize((max(1, int(w * f)), max(1, int(h * f))), Image.Resampling.BILINEAR)
        img = img.resize((w, h), Image.Resampling.BILINEAR)
    if rng.random() < 0.5:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0) * strength))
    arr = np.asarray(img, dtype=np.float32)
    if rng.random() < 0.3:  # uneven light
        grad = np.linspace(0, rng.uniform(-50, 50) * strength, arr.shape[1])[None, :, None]
        arr = arr + grad
    if rng.random() < 0.6:
        noise = np.random.default_rng(rng.getrandbits(32)).normal(
            0, rng.uniform(2, 12) * strength, arr.shape[:2])
        arr = arr + noise[:, :, None]
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    if rng.random() < 0.08 * strength:
        thr = rng.randint(120, 170)
        img = img.convert("L").point(lambda v: 255 if v > thr else 0).convert("RGB")
    if rng.random() < 0.4:
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=int(90 - 50 * strength * rng.random()))
        img = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    return np.asarray(img, dtype=np.uint8).copy(), angle
