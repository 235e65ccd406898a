"""New lines in the print of a user's corrections, with every glyph of the vocabulary.

Tens of corrections show a few dozen characters of a print; a tuned model still misreads
the ones they never show. ``StyleLines`` sets new text in the typefaces that look most
like the corrections (ocr.font_match), at their size, on their paper and in their ink,
each glyph struck a little apart in place and pressure as old and worn print is, and the
tuning reads those lines beside the corrections (ocr.finetune, TuneSettings.style_lines).
The wear itself (specks, blur, bent lines, bolder or thinner strokes) is added to these
lines by the same jitter as to the corrections (ocr.augment.jitter).

The texts are the replay set's and the corrections' own, a part of them with characters
swapped for others drawn evenly from what the vocabulary and the typeface share, so that
rare symbols are read as often as letters.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from ocr.font_match import FontMatch, covered, ink_box, load_font, match_fonts
from ocr.preprocess import to_pil

MUTATE = 0.5  # share of texts with characters swapped for others from the alphabet
STRUCK = 0.5  # share of lines struck glyph by glyph (uneven place and pressure)


@dataclass
class _Face:
    match: FontMatch
    alphabet: list[str]  # the vocabulary's characters this typeface draws


def _levels(images: Sequence) -> tuple[list[float], list[float], list[float]]:
    """Per crop with ink: paper and ink grey levels (as font_match.ink_box takes them),
    and the text's height in px (its ink box, as font_match measures it)."""
    papers, inks, heights = [], [], []
    for img in images:
        box = ink_box(img)
        if box is None:
            continue
        arr = np.asarray(to_pil(img).convert("L"), np.float32)
        papers.append(float(np.percentile(arr, 90)))
        inks.append(float(np.percentile(arr, 2)))
        heights.append(float(box.shape[0]))
    return papers, inks, heights


class StyleLines:
    """Synthetic (image, text) pairs in the print of ``samples`` ((crop, text) pairs)."""

    def __init__(self, samples: Sequence[tuple[object, str]], texts: Sequence[str],
                 vocabulary: Sequence[str], faces: int = 3, fonts=None):
        self.texts = [t for t in texts if t.strip()] or [t for _, t in samples]
        matches = match_fonts(samples, fonts, top=faces)
        vocab = [c for c in vocabulary if len(c) == 1 and c.isprintable()]
        self.faces = []
        for m in matches:
            font = load_font(str(m.path), 32)
            self.faces.append(_Face(m, sorted(covered(font, vocab))))
        self.papers, self.inks, heights = _levels([img for img, _ in samples])
        self.heights = heights or [24.0]

    def __bool__(self) -> bool:
        return bool(self.faces and self.papers)

    def describe(self) -> str:
        return ", ".join(f"{f.match.path.stem} ({f.match.score:.2f})" for f in self.faces)

    def _text(self, face: _Face, rng: random.Random) -> str:
        alphabet = set(face.alphabet)
        text = "".join(c for c in rng.choice(self.texts) if c in alphabet).strip()
        if not text or rng.random() < MUTATE:
            chars = list(text or rng.choice(face.alphabet))
            for _ in range(rng.randint(1, 3)):
                chars[rng.randrange(len(chars))] = rng.choice(face.alphabet)
            text = "".join(chars).strip() or rng.choice(face.alphabet)
        return text

    def sample(self, rng: random.Random) -> tuple[Image.Image, str]:
        face = rng.choice(self.faces)
        text = self._text(face, rng)
        px = max(8, round(rng.choice(self.heights) * face.match.px_per_height * rng.uniform(0.9, 1.1)))
        font = load_font(str(face.match.path), px)
        left, top, right, bottom = font.getbbox(text)
        pad = max(2, px // 4)
        w, h = right - left + 2 * pad + 2, bottom - top + 2 * pad + 2
        ink = Image.new("L", (w, h), 0)  # ink coverage, 0..255
        if rng.random() < STRUCK:  # each glyph on its own: its place and pressure vary
            wander = max(1.0, px * 0.05)
            arr = np.zeros((h, w), np.float32)
            for k, ch in enumerate(text):
                if ch == " ":
                    continue
                glyph = Image.new("L", (w, h), 0)
                x = pad - left + font.getlength(text[:k]) + rng.uniform(-0.5, 0.5) * wander
                y = pad - top + rng.uniform(-1, 1) * wander
                ImageDraw.Draw(glyph).text((x, y), ch, font=font, fill=int(255 * rng.uniform(0.45, 1)))
                arr = np.maximum(arr, np.asarray(glyph, np.float32))
            ink = Image.fromarray(arr.astype(np.uint8))
        else:
            ImageDraw.Draw(ink).text((pad - left, pad - top), text, font=font, fill=255)
        paper, dark = rng.choice(self.papers), rng.choice(self.inks)
        grey = paper - np.asarray(ink, np.float32) * (paper - dark) / 255.0
        return Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8)), text
