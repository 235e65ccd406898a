"""Jitter for fine-tuning crops: the changes another crop of the same print would show.

A user's corrections are few (tens of crops) and each is seen a hundred times in a
tuning run, so the model would learn them by heart. ``jitter`` redraws a crop with
other margins and scale, a little rotation and shear; ``strength`` >= 1 adds what
any worn or badly scanned print varies in: thinner or bolder strokes, ink that
drops out in specks, a baseline that bends, blur, contrast and noise. None of it
is specific to one typeface or one kind of wear.

``splice`` and ``words``/``line_of_words`` make new lines out of the corrections
themselves: two crops side by side, or words cut from several crops at the gaps
between them and set in a new order, so the model reads each glyph in new company
instead of learning whole lines by heart.
"""

from __future__ import annotations

import random

import numpy as np
from PIL import Image, ImageFilter

from ocr.preprocess import to_pil


def _shear(img: Image.Image, k: float, bg: int) -> Image.Image:
    """Slant by k (x += k * (y - h/2)), widening the canvas so nothing is cut."""
    w, h = img.size
    extra = int(abs(k) * h + 1)
    out = Image.new("L", (w + extra, h), bg)
    out.paste(img, (extra // 2, 0))
    return out.transform(out.size, Image.Transform.AFFINE, (1, k, -k * h / 2, 0, 1, 0),
                         resample=Image.Resampling.BILINEAR, fillcolor=bg)


def _bend(arr: np.ndarray, amp: float, rng: random.Random) -> np.ndarray:
    """A smoothly wandering baseline: each column shifted up or down by up to amp px."""
    h, w = arr.shape
    knots = max(2, w // max(8, h // 2))
    shifts = np.interp(np.arange(w), np.linspace(0, w - 1, knots),
                       [rng.uniform(-amp, amp) for _ in range(knots)])
    ys = np.arange(h, dtype=np.float32)[:, None] - shifts[None, :]
    y0 = np.clip(np.floor(ys).astype(np.int64), 0, h - 1)
    y1 = np.clip(y0 + 1, 0, h - 1)
    f = np.clip(ys - np.floor(ys), 0, 1)
    cols = np.arange(w)[None, :]
    return arr[y0, cols] * (1 - f) + arr[y1, cols] * f


def _dropout(arr: np.ndarray, bg: float, rng: random.Random) -> np.ndarray:
    """Ink that did not take: specks of the strokes fade towards the paper."""
    g = np.random.default_rng(rng.getrandbits(32))
    p = rng.uniform(0.05, 0.3)
    holes = g.random(arr.shape) < p
    if rng.random() < 0.5:  # specks a couple of pixels wide, not single pixels
        holes = np.asarray(Image.fromarray(holes.astype(np.uint8) * 255)
                           .filter(ImageFilter.MaxFilter(3)), bool) & (g.random(arr.shape) < 0.5)
    fade = rng.uniform(0.4, 0.9)
    return np.where(holes & (arr < bg), arr + (bg - arr) * fade, arr)


def jitter(img, rng: random.Random, strength: float = 1.0) -> Image.Image:
    """A randomly changed copy of a crop (dark text on light paper). strength 0: margins,
    scale, a little rotation, blur, contrast and noise; 1: also shear, stroke width, ink
    dropout and a bent baseline, each more often and further."""
    img = to_pil(img).convert("L")
    s = max(0.0, float(strength))
    w, h = img.size
    bg = int(np.median(np.asarray(img)))
    left, right = rng.randint(0, max(1, h // 2)), rng.randint(0, max(1, h))
    top, bottom = rng.randint(0, max(1, h // 8)), rng.randint(0, max(1, h // 8))
    out = Image.new("L", (w + left + right, h + top + bottom), bg)
    out.paste(img, (left, top))
    if rng.random() < 0.5:
        f = rng.uniform(0.85 - 0.05 * s, 1.15 + 0.05 * s)
        out = out.resize((max(1, round(out.width * f)), out.height), Image.Resampling.BILINEAR)
    if s > 0 and rng.random() < 0.3 * s:
        out = _shear(out, rng.uniform(-0.2, 0.2), bg)
    if rng.random() < 0.3:
        out = out.rotate(rng.uniform(-1.0 - s, 1.0 + s), resample=Image.Resampling.BILINEAR,
                         fillcolor=bg)
    if s > 0 and rng.random() < 0.3 * s:  # bolder (MinFilter spreads dark ink) or thinner
        out = out.filter(ImageFilter.MinFilter(3) if rng.random() < 0.5 else ImageFilter.MaxFilter(3))
    arr = np.asarray(out, np.float32)
    if s > 0 and rng.random() < 0.3 * s:
        arr = _bend(arr, rng.uniform(0.5, 1.0 + s), rng)
    if s > 0 and rng.random() < 0.3 * s:
        arr = _dropout(arr, float(bg), rng)
    if rng.random() < 0.3 + 0.1 * s:
        arr = np.asarray(Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
                         .filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.8 + 0.4 * s))), np.float32)
    if rng.random() < 0.5:  # lighter or darker ink, greyer or whiter paper
        lo, hi = rng.uniform(0, 40 + 40 * s), rng.uniform(215 - 15 * s, 255)
        arr = lo + arr * (hi - lo) / 255.0
    if rng.random() < 0.4:
        arr = arr + np.random.default_rng(rng.getrandbits(32)).normal(0, rng.uniform(2, 10), arr.shape)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def splice(first, first_text: str, second, second_text: str, rng: random.Random,
           max_aspect: float) -> tuple[Image.Image, str] | None:
    """Two crops of the same print side by side, read as one text with a space between:
    new lines the model has not learnt by heart, its letters at new places. The second
    is scaled to the first one's height (crop height follows the type size). None when
    the result would be wider than max_aspect times its height."""
    a, b = to_pil(first).convert("L"), to_pil(second).convert("L")
    h = a.height
    b = b.resize((max(1, round(b.width * h / b.height)), h), Image.Resampling.BILINEAR)
    gap = rng.randint(0, max(1, h // 3))
    if (a.width + gap + b.width) > max_aspect * h:
        return None
    bg = int(np.median(np.asarray(a)))
    out = Image.new("L", (a.width + gap + b.width, h), bg)
    out.paste(a, (0, 0))
    out.paste(b, (a.width + gap, 0))
    return out, f"{first_text} {second_text}"


def _ink_columns(arr: np.ndarray) -> np.ndarray:
    """Which columns hold ink: pixels well below the paper's level, ignoring lone specks
    of noise (a column needs two such pixels)."""
    bg = float(np.median(arr))
    dark = float(np.percentile(arr, 1))
    if bg - dark < 20:
        return np.zeros(arr.shape[1], bool)
    ink = arr < bg - 0.4 * (bg - dark)
    return ink.sum(axis=0) >= 2


def words(img, text: str, min_gap: float = 0.2, margin: float = 1.5
          ) -> list[tuple[Image.Image, str]] | None:
    """The crop cut into its words, each with its text, at the gaps between words. None
    unless the picture shows exactly as many clearly wide gaps as the text has spaces
    (each at least min_gap x the crop height and margin x wider than any gap within a
    word): a cut in the wrong place would teach the model a wrong reading."""
    parts = text.split(" ")
    if len(parts) < 2 or any(not p for p in parts):
        return None  # one word, or spaces at an end or doubled: no safe cut
    a = to_pil(img).convert("L")
    arr = np.asarray(a, np.float32)
    cols = _ink_columns(arr)
    inked = np.flatnonzero(cols)
    if inked.size == 0:
        return None
    # runs of blank columns between the first and last inked column
    runs, start = [], None
    for x in range(int(inked[0]), int(inked[-1]) + 1):
        if not cols[x] and start is None:
            start = x
        elif cols[x] and start is not None:
            runs.append((x - start, start, x))
            start = None
    need = len(parts) - 1
    if len(runs) < need:
        return None
    runs.sort(reverse=True)
    gaps, rest = runs[:need], runs[need:]
    if gaps[-1][0] < min_gap * a.height or (rest and gaps[-1][0] < margin * rest[0][0]):
        return None
    cuts = sorted((lo + hi) // 2 for _, lo, hi in gaps)
    edges = [0, *cuts, a.width]
    return [(a.crop((x0, 0, x1, a.height)), word)
            for x0, x1, word in zip(edges, edges[1:], parts)]


def line_of_words(pieces: list[tuple[Image.Image, str]], rng: random.Random, max_aspect: float,
                  most: int = 4) -> tuple[Image.Image, str] | None:
    """A new line of 1 to ``most`` words drawn from ``pieces`` (words() of several crops),
    scaled to the first one's height with a word space between them. None when even the
    first word alone is wider than max_aspect times its height."""
    if not pieces:
        return None
    chosen = [pieces[rng.randrange(len(pieces))] for _ in range(rng.randint(1, most))]
    h = chosen[0][0].height
    scaled = [(p.resize((max(1, round(p.width * h / p.height)), h), Image.Resampling.BILINEAR), t)
              for p, t in chosen]
    kept, width = [], 0
    for p, t in scaled:  # as many words as fit
        if width + p.width > max_aspect * h:
            break
        kept.append((p, t))
        width += p.width
    if not kept:
        return None
    bg = int(np.median(np.asarray(kept[0][0])))
    out = Image.new("L", (width, h), bg)
    x = 0
    for p, _ in kept:
        out.paste(p, (x, 0))
        x += p.width
    return out, " ".join(t for _, t in kept)
