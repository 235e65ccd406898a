"""Lines in the print of the user's corrections: the typeface is found among the installed
fonts, and the new lines hold glyphs the corrections never show, in that typeface."""

from __future__ import annotations

import random

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from ocr.font_match import covered, installed_fonts, load_font, match_fonts
from ocr.style_lines import StyleLines

CANDIDATES = ("LiberationSerif-Regular.ttf", "LiberationSans-Regular.ttf", "LiberationMono-Regular.ttf",
              "DejaVuSansMono.ttf", "DejaVuSerif.ttf", "LinLibertine_R.otf", "Go-Regular.ttf",
              "GentiumPlus-Regular.ttf", "CharisSIL-Regular.ttf", "FiraCode-Regular.ttf")
TEXTS = ("Invoice 2024-17", "Total due 1,284.50", "Harbour Street", "Qty 12 pcs",
         "Paid by cheque", "Wolverhampton", "net 30 days", "Ref. AB-7731")


@pytest.fixture(scope="module")
def fonts():
    by_name = {p.name: p for p in installed_fonts()}
    missing = [n for n in CANDIDATES if n not in by_name]
    assert not missing, f"fonts the CI installs are missing: {missing}"
    return [by_name[n] for n in CANDIDATES]


def _worn_crop(path, text, px, rng):
    """Text as a scan of worn print shows it: grey paper, uneven ink, blur and noise."""
    font = load_font(str(path), px)
    left, top, right, bottom = font.getbbox(text)
    img = Image.new("L", (right - left + 16, bottom - top + 12), 0)
    ImageDraw.Draw(img).text((8 - left, 6 - top), text, font=font, fill=255)
    ink = np.asarray(img.filter(ImageFilter.GaussianBlur(0.8)), np.float32) / 255
    g = np.random.default_rng(rng.getrandbits(32))
    ink *= np.where(g.random(ink.shape) < 0.2, 0.3, 1.0)  # specks the ribbon left out
    paper = rng.uniform(215, 240)
    grey = paper - ink * (paper - rng.uniform(30, 70)) + g.normal(0, 4, ink.shape)
    return Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8))


@pytest.mark.parametrize("name", ["LiberationSerif-Regular.ttf", "DejaVuSansMono.ttf",
                                  "LinLibertine_R.otf", "Go-Regular.ttf"])
def test_the_typeface_of_worn_crops_is_found_among_the_installed_fonts(fonts, name):
    rng = random.Random(name)
    path = next(p for p in fonts if p.name == name)
    samples = [(_worn_crop(path, t, rng.randint(18, 30), rng), t) for t in TEXTS]
    best = match_fonts(samples, fonts, top=3)
    assert best[0].path == path, [m.path.name for m in best]
    assert best[0].score > best[1].score


def test_a_font_without_a_glyph_is_passed_over(fonts):
    mono = load_font(str(next(p for p in fonts if p.name == "LiberationMono-Regular.ttf")), 32)
    assert covered(mono, "Ab§½€☃") == set("Ab§½€")  # no snowman in Liberation Mono
    path = next(p for p in fonts if p.name == "DejaVuSansMono.ttf")
    rng = random.Random(3)
    samples = [(_worn_crop(path, t + " ☃", 24, rng), t + " ☃") for t in TEXTS[:4]]
    names = [m.path.name for m in match_fonts(samples, fonts, top=len(fonts))]
    assert "DejaVuSansMono.ttf" in names and "LiberationMono-Regular.ttf" not in names


def test_new_lines_show_the_glyphs_the_corrections_never_show_in_their_typeface(fonts):
    rng = random.Random(5)
    path = next(p for p in fonts if p.name == "LiberationSerif-Regular.ttf")
    samples = [(_worn_crop(path, t, 24, rng), t) for t in TEXTS]
    vocabulary = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,-§½€") + ["☃"]
    lines = StyleLines(samples, ["Order 42", "Balance"], vocabulary, faces=2, fonts=fonts)
    assert lines and lines.faces[0].match.path == path
    made = [lines.sample(rng) for _ in range(300)]
    shown = {c for t in TEXTS for c in t}
    drawn = {c for _, text in made for c in text}
    assert drawn <= set(vocabulary) - {"☃"}  # only what the vocabulary spells and the face draws
    assert {"§", "½", "€"} <= drawn - shown
    papers = [lines.papers, lines.inks]
    for image, text in made[:40]:
        arr = np.asarray(image, np.float32)
        assert text.strip() == text and text
        assert min(papers[0]) - 1 <= arr.max() <= max(papers[0]) + 1  # the corrections' paper
        assert arr.min() >= min(papers[1]) - 1  # no darker than their ink


def _struck_crop(path, text, px, rng):
    """Each glyph struck on its own, up to 2 px off the line, the ink spread a px."""
    font = load_font(str(path), px)
    left, top, right, bottom = font.getbbox(text)
    img = Image.new("L", (right - left + 16, bottom - top + 14), 255)
    draw = ImageDraw.Draw(img)
    for k, ch in enumerate(text):
        draw.text((8 - left + font.getlength(text[:k]), 7 - top + rng.choice([-2, -1, 0, 1, 2])),
                  ch, font=font, fill=rng.randint(0, 90))
    return img.filter(ImageFilter.MinFilter(3)).filter(ImageFilter.GaussianBlur(0.6))


def test_struck_and_overinked_print_is_among_the_faces_new_lines_are_set_in(fonts):
    """A typewriter's glyphs sit off the line and its ink spreads: against clean
    renderings the struck lines look like bolder faces of other designs; against the
    renderings spread as ink spreads, their own design is among the three (one a
    family) that StyleLines sets new lines in. Among monospace sans designs this worn,
    the order of the three is not settled."""
    rng = random.Random(11)
    path = next(p for p in fonts if p.name == "LiberationMono-Regular.ttf")
    samples = [(_struck_crop(path, t, rng.randint(22, 30), rng), t) for t in TEXTS]
    by_name = {p.name: p for p in installed_fonts()}
    monos = [path, by_name["DejaVuSansMono-Bold.ttf"], by_name["LiberationMono-Bold.ttf"],
             by_name["DejaVuSansMono.ttf"], by_name["FiraCode-Regular.ttf"], by_name["Go-Mono.ttf"]]
    best = match_fonts(samples, monos, top=3)
    assert path in [m.path for m in best], [(m.path.name, round(m.score, 3)) for m in best]


def test_a_font_file_that_is_not_a_font_is_passed_over(fonts, tmp_path):
    (tmp_path / "sub").mkdir()
    broken = tmp_path / "sub" / "Broken.ttf"
    broken.write_bytes(b"not a font at all" * 50)
    good = next(p for p in fonts if p.name == "DejaVuSerif.ttf")
    (tmp_path / "notes.txt").write_text("not a font file name")
    assert installed_fonts([tmp_path, tmp_path / "missing"]) == [broken]
    rng = random.Random(2)
    samples = [(_worn_crop(good, t, 24, rng), t) for t in TEXTS[:4]]
    assert [m.path for m in match_fonts(samples, [broken, good])] == [good]
