"""Render kinds of a training cell besides the scan-like one: low resolution, photo, photocopy.

Each takes the cell rendered at scan resolution (grey PIL image, capital height ``cap``
pixels) and returns what the recogniser would be given for it. The recogniser reads
the crop cut from the page at the page's own resolution and enlarges it (bilinear) to
its strip height (ocr/preprocess.py), so a low-resolution render is made the way a
60-120 dpi scanner makes it, by area-averaging the sharp render down to text 6-12 px
high (as benchmarks/capture.py makes its low-resolution pages), and is not enlarged here.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable

import cv2
import numpy as np
from PIL import Image, ImageFilter

LOWRES_CAP = (6.0, 12.0)  # capital height, px, of a 55-120 dpi scan of 8-14 pt text


def _train_mix(rng: random.Random) -> str:
    # Half as before, so the scan renders the first model learnt are not forgotten.
    r = rng.random()
    return "scan" if r < 0.5 else "lowres" if r < 0.75 else "photo" if r < 0.87 else "photocopy"


RENDER_MIXES: dict[str, Callable[[random.Random], str]] = {
    "train": _train_mix,
    "scan": lambda rng: "scan",
    "lowres": lambda rng: "lowres",
}


def _np_rng(rng: random.Random) -> np.random.Generator:
    return np.random.default_rng(rng.getrandbits(32))


def _jpeg(img: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("L")


def _to_img(arr: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def _reduce(img: Image.Image, cap: float, target: float, rng: random.Random) -> Image.Image:
    """Area-average ``img`` so that its capitals are ``target`` px high, at a random
    sub-pixel phase (where the scanner's sampling grid falls on the letters)."""
    f = target / max(cap, 1.0)
    if f >= 1.0:
        return img
    arr = np.asarray(img)
    step = max(1, int(round(1 / f)))
    dy, dx = rng.randrange(step), rng.randrange(step)
    if dy or dx:
        arr = cv2.copyMakeBorder(arr, dy, 0, dx, 0, cv2.BORDER_REPLICATE)
    h, w = arr.shape
    size = (max(1, round(w * f)), max(2, round(h * f)))
    return Image.fromarray(cv2.resize(arr, size, interpolation=cv2.INTER_AREA))


def damage_lowres(img: Image.Image, cap: float, rng: random.Random) -> Image.Image:
    """A 55-120 dpi scan: the optics' softness, area sampling to text 6-12 px high,
    then the scanner's noise, a fax's threshold or JPEG at that resolution."""
    if rng.random() < 0.5:
        img = img.filter(ImageFilter.GaussianBlur(cap * rng.uniform(0.01, 0.05)))
    img = _reduce(img, cap, rng.uniform(*LOWRES_CAP), rng)
    if rng.random() < 0.3:
        arr = np.asarray(img, dtype=np.float32)
        img = _to_img(arr + _np_rng(rng).normal(0, rng.uniform(2, 10), arr.shape))
    if rng.random() < 0.1:
        thr = rng.randint(100, 170)
        img = img.point(lambda v: 255 if v > thr else 0)
    if rng.random() < 0.4:
        img = _jpeg(img, rng.randint(30, 90))
    return img


def photo(img: Image.Image, cap: float, rng: random.Random) -> Image.Image:
    """A phone photo of the page: grey paper, weak ink, light falling off across the
    cell, defocus or shake, the camera's resolution, sensor noise and JPEG."""
    arr = np.asarray(img, dtype=np.float32)
    paper, ink = rng.uniform(140, 235), rng.uniform(20, 110)
    arr = ink + (paper - ink) * arr / 255.0
    h, w = arr.shape
    gx = np.linspace(-1, 1, w)[None, :] * rng.uniform(-0.25, 0.25)
    gy = np.linspace(-1, 1, h)[:, None] * rng.uniform(-0.15, 0.15)
    arr = arr * (1 + gx + gy)
    if rng.random() < 0.75:
        arr = cv2.GaussianBlur(arr, (0, 0), cap * rng.uniform(0.02, 0.10))
    else:  # shake: a short line of motion
        n = max(3, int(cap * rng.uniform(0.08, 0.2)) | 1)
        k = np.zeros((n, n), np.float32)
        k[n // 2, :] = 1.0
        m = cv2.getRotationMatrix2D(((n - 1) / 2, (n - 1) / 2), rng.uniform(0, 180), 1.0)
        k = cv2.warpAffine(k, m, (n, n))
        arr = cv2.filter2D(arr, -1, k / max(k.sum(), 1e-6), borderType=cv2.BORDER_REPLICATE)
    out = _to_img(arr)
    if rng.random() < 0.6:
        out = _reduce(out, cap, rng.uniform(8, 20), rng)
    arr = np.asarray(out, dtype=np.float32)
    out = _to_img(arr + _np_rng(rng).normal(0, rng.uniform(2, 10), arr.shape))
    return _jpeg(out, rng.randint(30, 80)) if rng.random() < 0.7 else out


def photocopy(img: Image.Image, cap: float, rng: random.Random) -> Image.Image:
    """A copy of a copy: strokes thickened (toner spread) or thinned (worn), faint or
    hard ink, a grey streaky ground, toner specks; sometimes at a lower resolution."""
    r = rng.random()
    k = 3 if cap < 24 or rng.random() < 0.5 else 5
    if r < 0.35:
        img = img.filter(ImageFilter.MinFilter(k))  # dark spreads: thicker strokes
    elif r < 0.6 and cap >= 14:
        img = img.filter(ImageFilter.MaxFilter(3))  # light spreads: thinner strokes
    arr = np.asarray(img, dtype=np.float32)
    h, w = arr.shape
    nr = _np_rng(rng)
    if rng.random() < 0.5:  # faint: the ink never gets dark
        ink = rng.uniform(90, 170)
        arr = 255 - (255 - arr) * (255 - ink) / 255
    if rng.random() < 0.4:  # grey ground with the copier's streaks
        paper = rng.uniform(205, 245)
        streak = cv2.GaussianBlur(nr.normal(0, rng.uniform(3, 12), (1, w)).astype(np.float32),
                                  (0, 0), max(1.0, cap * 0.2))
        arr = np.minimum(arr, paper + streak)
    density = rng.uniform(0.0002, 0.003)
    n = int(density * h * w)
    if n:
        ys, xs = nr.integers(0, h, n), nr.integers(0, w, n)
        r_dot = max(1, int(round(cap / 14)))
        for y, x in zip(ys, xs):
            arr[max(0, y - r_dot + 1): y + r_dot, max(0, x - r_dot + 1): x + r_dot] = rng.uniform(0, 120)
    out = _to_img(arr)
    if rng.random() < 0.3:  # hard copy: thresholded, softened a little
        thr = rng.randint(110, 190)
        out = out.point(lambda v: 255 if v > thr else 0).filter(ImageFilter.GaussianBlur(0.5))
    if rng.random() < 0.4:
        out = _reduce(out, cap, rng.uniform(8, 16), rng)
    return _jpeg(out, rng.randint(40, 90)) if rng.random() < 0.3 else out
