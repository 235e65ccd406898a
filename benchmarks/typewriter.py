"""A print style the embedded model never saw: a worn typewriter ribbon.

Each character is struck on its own, as a typewriter does: monospaced advance, a
baseline that wanders a pixel or two per key, uneven pressure (some letters faint,
some heavy), ink that the worn ribbon leaves out in speckled holes, a slight ink
spread along the line, on off-white paper. The font is a monospace the training
used (Liberation Mono); the strike-by-strike rendering and the ribbon wear are what
training/cells.py never produces. Deterministic: crop i depends only on (seed, i).
"""

from __future__ import annotations

import glob
import math
import random

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from training.cells import sample_text


def _font_path() -> str:
    for pattern in ("/usr/share/fonts/**/LiberationMono-Regular.ttf",
                    "/usr/share/fonts/**/DejaVuSansMono.ttf"):
        found = glob.glob(pattern, recursive=True)
        if found:
            return found[0]
    raise RuntimeError("needs Liberation Mono or DejaVu Sans Mono (fonts-liberation)")


class TypewriterCells:
    def __init__(self, seed: int):
        self.seed = seed
        self.path = _font_path()
        self._fonts: dict[int, ImageFont.FreeTypeFont] = {}

    def _font(self, px: int) -> ImageFont.FreeTypeFont:
        if px not in self._fonts:
            self._fonts[px] = ImageFont.truetype(self.path, px)
        return self._fonts[px]

    def sample(self, i: int) -> tuple[Image.Image, str]:
        rng = random.Random(self.seed * 1_000_003 + i)  # the same crops in every process
        text = ""
        while not text or "\n" in text or len(text) > 30:
            text = sample_text(rng)
        px = rng.randint(22, 34)
        font = self._font(px)
        adv = font.getlength("M")
        ascent, descent = font.getmetrics()
        pad = rng.randint(4, 12)
        w = math.ceil(adv * len(text)) + 2 * pad
        h = ascent + descent + 2 * pad // 2 + 4
        paper = rng.randint(225, 245)
        ink = np.zeros((h, w), np.float32)
        for k, ch in enumerate(text):
            if ch == " ":
                continue
            glyph = Image.new("L", (w, h), 0)
            pressure = rng.uniform(0.45, 1.0)
            y = pad // 2 + 2 + rng.choice([-2, -1, 0, 0, 0, 1, 2])
            x = pad + k * adv + rng.uniform(-1.0, 1.0)
            ImageDraw.Draw(glyph).text((x, y), ch, font=font, fill=int(255 * pressure))
            ink = np.maximum(ink, np.asarray(glyph, np.float32) / 255.0)
        # Ribbon wear: speckled holes in the ink, denser in a worn band of the ribbon.
        g = np.random.default_rng(rng.getrandbits(32))
        holes = g.random((h, w)) < rng.uniform(0.15, 0.35)
        band = g.random() * h
        worn = np.abs(np.arange(h)[:, None] - band) < rng.uniform(2, 6)
        ink = ink * np.where(holes | (worn & (g.random((h, w)) < 0.5)), 0.15, 1.0)
        img = Image.fromarray(np.clip(255 * ink, 0, 255).astype(np.uint8))
        img = img.filter(ImageFilter.MaxFilter(3)) if rng.random() < 0.5 else img
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 0.9)))
        arr = paper - np.asarray(img, np.float32) * (paper - rng.randint(20, 70)) / 255.0
        arr += g.normal(0, 4, arr.shape)
        return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)), text

    def crops(self, start: int, n: int) -> tuple[list[Image.Image], list[str]]:
        pairs = [self.sample(i) for i in range(start, start + n)]
        return [p[0] for p in pairs], [p[1] for p in pairs]
