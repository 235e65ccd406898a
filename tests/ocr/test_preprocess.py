"""Our extensions of the TrOCR image preprocessing: aspect-kept strips, trimmed margins,
wide lines cut at word spaces."""

import itertools

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from ocr.preprocess import PreprocessConfig, pixel_values, split_wide_line, trim_side_margins

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
needs_font = pytest.mark.skipif(not __import__("os").path.exists(FONT), reason="needs fonts-dejavu-core")


def _cell(text: str, width: int, x: int, paper: int = 255, ink: int = 0, noise: float = 0.0,
          seed: int = 0) -> Image.Image:
    img = Image.new("L", (width, 40), paper)
    ImageDraw.Draw(img).text((x, 6), text, font=ImageFont.truetype(FONT, 26), fill=ink)
    if noise:
        arr = np.asarray(img, np.float32) + np.random.default_rng(seed).normal(0, noise, (40, width))
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    return img


def _ink_columns(img: Image.Image, paper: int) -> tuple[int, int]:
    cols = np.flatnonzero((np.abs(np.asarray(img, np.float32) - paper) > 100).any(axis=0))
    return int(cols[0]), int(cols[-1]) + 1


@needs_font
@pytest.mark.parametrize("paper,ink,noise", [(255, 0, 0.0), (250, 30, 12.0), (40, 240, 8.0)])
def test_blank_paper_beside_the_text_is_cut_to_a_quarter_of_the_height(paper, ink, noise):
    loose = _cell("1,250.00", 600, 460, paper, ink, noise)  # right-aligned in a wide cell
    trimmed = trim_side_margins(loose)
    assert trimmed.height == loose.height
    left, right = _ink_columns(trimmed, paper)
    margin = loose.height // 4
    assert abs(left - margin) <= 2 and abs((trimmed.width - right) - margin) <= 2


@needs_font
def test_a_loose_crop_reaches_the_model_as_the_tight_one_does():
    cfg = PreprocessConfig(height=32, width=384, keep_aspect_ratio=True, trim_margins=True)
    tight = trim_side_margins(_cell("Total", 160, 40))
    loose = _cell("Total", 1400, 40)  # left-aligned, with the rest of a wide cell
    a, b = pixel_values([tight, loose], cfg)
    assert np.abs(a - b).mean() < 0.02
    # Without trimming the loose crop is squeezed to a fraction of the width.
    plain = PreprocessConfig(height=32, width=384, keep_aspect_ratio=True)
    c, d = pixel_values([tight, loose], plain)
    def ink_width(pv):
        return np.count_nonzero((pv[0] < 0).any(axis=0))
    assert ink_width(d) < 0.5 * ink_width(c)


def test_crops_without_ink_are_left_as_they_are():
    blank = Image.new("L", (300, 40), 255)
    assert trim_side_margins(blank) is blank
    rng = np.random.default_rng(3)
    grain = Image.fromarray(np.clip(230 + rng.normal(0, 6, (40, 300)), 0, 255).astype(np.uint8))
    assert trim_side_margins(grain) is grain


def test_trimming_is_a_model_setting_that_round_trips():
    cfg = PreprocessConfig.from_dict({"size": {"height": 32, "width": 384},
                                      "keep_aspect_ratio": True, "trim_margins": True})
    assert cfg.trim_margins and cfg.to_dict()["trim_margins"] is True
    # A transformers ViTImageProcessor config (microsoft/trocr-*) is read exactly as before.
    hf = PreprocessConfig.from_dict({"size": 384, "image_mean": [0.5] * 3, "image_std": [0.5] * 3})
    assert not hf.trim_margins and "trim_margins" not in hf.to_dict()


def _ink_span(arr: np.ndarray) -> tuple[int, int]:
    cols = np.flatnonzero((arr < 128).any(axis=0))
    return int(cols[0]), int(cols[-1]) + 1


@needs_font
def test_a_long_line_is_cut_at_word_spaces_into_pieces_the_strip_can_hold():
    line = _cell("Opening balance of the year carried forward to March", 900, 10)
    original = np.asarray(trim_side_margins(line))
    pieces = split_wide_line(line, 7.0)
    assert len(pieces) >= 2
    spans = []
    for piece in pieces:
        assert piece.height == line.height and piece.width <= 7.0 * piece.height
        arr = np.asarray(piece)
        # Find the piece in the line (pieces are cut, never resampled).
        at = [x for x in range(original.shape[1] - arr.shape[1] + 1)
              if np.array_equal(original[:, x : x + arr.shape[1]], arr)]
        assert at, "a piece is not a cut of the line"
        left, right = _ink_span(arr)
        spans.append((at[0] + left, at[0] + right))
    # Left to right, every cut in a blank run as wide as a word space, no ink lost.
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start - end >= 0.125 * line.height
    assert (spans[0][0], spans[-1][1]) == _ink_span(original)


@needs_font
@pytest.mark.parametrize("text", ["1,234,567,890.12", "AB-12345678-XY-0042", "Short words"])
def test_lines_without_a_word_space_or_short_enough_stay_whole(text):
    line = _cell(text, 700, 10)
    pieces = split_wide_line(line, 7.0)
    assert len(pieces) == 1
    assert pieces[0].size == trim_side_margins(line).size
