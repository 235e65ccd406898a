"""A second print style for choosing `model tune`'s recipe: a page that came by fax.

A fax scans at about 100 dpi in black and white: text a dozen pixels high, every pixel
ink or paper (thresholded where the scanner chose, so strokes break or clot), scan lines
lost or doubled, specks on the paper; shown enlarged, each pixel a block. The typeface
is Gentium Plus, a validation family of the recogniser (training/tables/fonts.py
RECOGNISER_SPLITS): never trained on, and out of the held-out families. Kept beside the
typewriter (benchmarks/typewriter.py) so a recipe is not chosen for one kind of wear.
Deterministic: crop i depends only on (seed, i).
"""

from __future__ import annotations

import glob
import random

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from training.cells import sample_text


def _font_path() -> str:
    found = glob.glob("/usr/share/fonts/**/GentiumPlus-Regular.ttf", recursive=True)
    if not found:
        raise RuntimeError("needs Gentium Plus (fonts-sil-gentiumplus)")
    return found[0]


class FaxCells:
    def __init__(self, seed: int):
        self.seed = seed
        self.path = _font_path()

    def sample(self, i: int) -> tuple[Image.Image, str]:
        rng = random.Random(self.seed * 1_000_003 + i + 17)
        text = ""
        while not text or "\n" in text or len(text) > 30:
            text = sample_text(rng)
        font = ImageFont.truetype(self.path, rng.randint(14, 19))
        left, top, right, bottom = font.getbbox(text)
        pad = rng.randint(2, 5)
        img = Image.new("L", (right - left + 2 * pad, bottom - top + 2 * pad), 255)
        ImageDraw.Draw(img).text((pad - left, pad - top), text, font=font, fill=0)
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.7)))
        g = np.random.default_rng(rng.getrandbits(32))
        arr = np.asarray(img, np.float32) + g.normal(0, rng.uniform(5, 15), (img.height, img.width))
        ink = arr < rng.uniform(120, 165)  # the scanner's threshold: strokes break or clot
        rows = g.random(ink.shape[0])
        ink[rows < 0.03] = False  # a scan line lost
        doubled = np.nonzero((rows > 0.97) & (np.arange(ink.shape[0]) > 0))[0]
        ink[doubled] = ink[doubled - 1]  # or repeated
        ink |= g.random(ink.shape) < rng.uniform(0.0, 0.004)  # specks
        fax = np.where(ink, 0, 255).astype(np.uint8)
        scale = rng.choice([2, 2, 3])
        return Image.fromarray(fax).resize((fax.shape[1] * scale, fax.shape[0] * scale),
                                           Image.Resampling.NEAREST), text

    def crops(self, start: int, n: int) -> tuple[list[Image.Image], list[str]]:
        pairs = [self.sample(i) for i in range(start, start + n)]
        return [p[0] for p in pairs], [p[1] for p in pairs]
