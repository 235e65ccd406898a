"""Fine-tuning jitter (ocr.augment): a changed copy of a crop that still shows its text,
two crops of one print spliced into one line, and crops cut into their words and set
in new lines."""

from __future__ import annotations

import random

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ocr.augment import jitter, line_of_words, splice, words


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


def _ink_spans(img) -> list[tuple[int, int]]:
    """(first, last) inked column of each run of inked columns."""
    cols = (np.asarray(img, np.float32) < 130).any(axis=0)
    spans, start = [], None
    for x, c in enumerate([*cols, False]):
        if c and start is None:
            start = x
        elif not c and start is not None:
            spans.append((start, x - 1))
            start = None
    return spans


def test_words_cuts_a_crop_at_its_word_gaps_and_each_piece_shows_its_own_word():
    font = ImageFont.load_default(size=28)
    text = "Net 1,204 kg"
    img = Image.new("L", (300, 40), 235)
    draw = ImageDraw.Draw(img)
    x, starts = 8, []
    for word in text.split(" "):
        starts.append(x)
        draw.text((x, 4), word, fill=30, font=font)
        x += int(draw.textlength(word, font=font)) + 20
    pieces = words(img, text)
    assert [t for _, t in pieces] == ["Net", "1,204", "kg"]
    assert all(p.height == 40 for p, _ in pieces)
    assert sum(p.width for p, _ in pieces) == img.width  # cut, nothing lost or repeated
    # each piece holds the ink of its own word only: word k starts in piece k
    left = 0
    for (piece, word), x0 in zip(pieces, starts):
        assert left <= x0 < left + piece.width, word
        left += piece.width


def test_words_refuses_a_cut_the_picture_does_not_show():
    img = _crop("Ab12", 120, 40)  # no space in the picture
    assert words(img, "Ab 12") is None  # the text says two words: the gap is not there
    assert words(_crop("Ab 12"), "Ab12") is None  # one word: nothing to cut
    assert words(_crop("Ab 12"), "Ab  12") is None  # a doubled space: no safe cut
    assert words(Image.new("L", (80, 30), 235), "a b") is None  # blank


def test_line_of_words_sets_cut_words_in_a_new_line_at_the_first_ones_height():
    big, small = _crop("Ab", 60, 40), _crop("12", 45, 30)
    pieces = [(big, "Ab"), (small, "12")]
    seen = set()
    for seed in range(30):
        out, text = line_of_words(pieces, random.Random(seed), max_aspect=7.0)
        assert out.height in (40, 30) and out.width <= 7.0 * out.height  # the first word's
        assert len(_ink_spans(out)) >= len(text.split(" "))  # every word's ink is there
        seen.add(text)
    assert {"Ab 12", "12 Ab"} & seen and len(seen) > 3  # new orders, not the crops' own
    assert line_of_words(pieces, random.Random(0), max_aspect=1.0) is None  # no word fits
