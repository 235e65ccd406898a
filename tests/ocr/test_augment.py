"""Fine-tuning jitter (ocr.augment): a changed copy of a crop that still shows its text,
and two crops of one print spliced into one line."""

from __future__ import annotations

import random

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ocr.augment import jitter, splice


def _crop(text="Ab 12", w=120, h=40):
    img = Image.new("L", (w, h), 235)
    ImageDraw.Draw(img).text((6, 4), text, fill=30, font=ImageFont.load_default(size=h * 2 // 3))
    return img


def _contrast(img) -> float:
    a = np.asarray(img, np.float32)
    return float(np.median(a) - np.percentile(a, 1))  # paper against the darkest ink


def test_jitter_keeps_the_text_and_only_strength_adds_the_heavier_changes():
    img = _crop()
    for seed in range(20):
        out = jitter(img, random.Random(seed), 1.0)
        assert out.mode == "L" and out.height >= img.height and out.width >= img.width * 0.75
        assert _contrast(out) > 20  # still darker strokes on lighter paper (faint at worst)
    # strength 0 is the old jitter: it draws the same random numbers, so it never shears,
    # thickens, bends or drops ink; strength 1 does, so some copies differ
    same = [np.array_equal(np.asarray(jitter(img, random.Random(s), 0.0)),
                           np.asarray(jitter(img, random.Random(s), 1.0))) for s in range(20)]
    assert not all(same)
    # the rng is the only source of chance: one seed, one result
    a, b = jitter(img, random.Random(5), 1.0), jitter(img, random.Random(5), 1.0)
    assert np.array_equal(np.asarray(a), np.asarray(b))


def test_splice_joins_two_crops_at_one_height_and_their_texts_with_a_space():
    a, b = _crop("Ab", 60, 40), _crop("12", 90, 60)
    out, text = splice(a, "Ab", b, "12", random.Random(0), max_aspect=7.0)
    assert text == "Ab 12"
    assert out.height == 40 and 60 + 60 <= out.width <= 60 + 60 + 40 // 3
    assert splice(a, "Ab", b, "12", random.Random(0), max_aspect=2.5) is None  # too wide
