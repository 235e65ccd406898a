"""Cell crops for the recogniser: none for an empty cell, one clean crop per text line."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from table.cells import line_crops, page_line_crops
from table.model import Cell
from table.structure import find_tables
from tests.table.render import (
    bordered_spec,
    font,
    merged_spec,
    multiline_spec,
    render_page,
    tight_spec,
)


def _crops_by_truth(page):
    """(truth cell, crops) for every detected cell, the grid being right."""
    result = find_tables(page.image)
    assert len(result.tables) == len(page.tables)
    out = []
    for found, truth in zip(result.tables, page.tables):
        assert {(c.row, c.col, c.rowspan, c.colspan) for c in found.cells} == truth.spans()
        for c in found.cells:
            out.append((truth.cell(c.row, c.col), line_crops(result.image, c)))
    return out


def _assert_clean(crop: np.ndarray) -> None:
    """Dark text on white, trimmed to the ink with a small white margin, no rule left."""
    assert crop.dtype == np.uint8 and crop.ndim == 2
    assert crop.min() < 110, "no dark ink"
    assert (crop >= 250).mean() >= 0.3, "background is not white"
    for edge in (crop[0], crop[-1], crop[:, 0], crop[:, -1]):
        assert edge.min() > 150, "ink (or a rule remnant) touches the crop's edge"


PAGES = {
    "bordered": lambda: render_page([bordered_spec()], dpi=200),
    "merged_skewed": lambda: render_page([merged_spec()], dpi=200, angle=4, noise=5),
    "tight_single_characters": lambda: render_page([tight_spec()], dpi=200),
    "multiline": lambda: render_page([multiline_spec()], dpi=200),
    "dark_header": lambda: render_page(
        [bordered_spec(header_rows=1, header_fill=(31, 78, 120))], dpi=200, noise=4
    ),
    "shaded_halftone": lambda: render_page(
        [bordered_spec(shade_rows={2: (190, 190, 190), 4: (225, 225, 225)}, halftone_rows=[6, 7])],
        dpi=200,
    ),
    "low_resolution": lambda: render_page([merged_spec()], dpi=100, noise=3),
    "faint_noisy": lambda: render_page(
        [bordered_spec(line_color=(170, 170, 170))], dpi=150, noise=8
    ),
}


@pytest.mark.parametrize("name", sorted(PAGES))
def test_empty_cells_give_no_crops_and_text_cells_one_per_line(name):
    pairs = _crops_by_truth(PAGES[name]())
    assert any(t.n_lines == 0 for t, _ in pairs) or name in (
        "multiline",
        "merged_skewed",
        "low_resolution",
    )
    for truth, crops in pairs:
        assert len(crops) == truth.n_lines, (
            f"cell {truth.row},{truth.col} {truth.text!r}: {len(crops)} crops"
        )
        for crop in crops:
            _assert_clean(crop)


def test_multi_line_cell_lines_come_top_to_bottom():
    page = render_page([multiline_spec()], dpi=200)
    result = find_tables(page.image)
    cell = result.tables[0].cell_at(2, 0)
    crops = line_crops(result.image, cell)
    lines = ["Notes on", "the second", "quarter"]
    assert len(crops) == 3
    f = font("sans", round(10 * 200 / 72))
    expected = [f.getlength(t) for t in lines]
    widths = [c.shape[1] for c in crops]
    # Each crop is as wide as its own line of text (plus margins): the order is kept.
    assert np.argsort(widths).tolist() == np.argsort(expected).tolist()
    for w, e in zip(widths, expected):
        assert e * 0.9 <= w <= e * 1.1 + 20


def test_white_on_dark_cells_are_inverted():
    page = render_page([bordered_spec(header_rows=1, header_fill=(20, 20, 20))], dpi=200)
    result = find_tables(page.image)
    header = [c for c in result.tables[0].cells if c.row == 0]
    for c in header:
        crops = line_crops(result.image, c)
        assert len(crops) == 1
        _assert_clean(crops[0])


def _cell_image(
    text: str | None, fill=(255, 255, 255), ink=(0, 0, 0), rule=(0, 0, 0), size=(160, 60)
):
    """One bordered cell on a page, the bbox along the middle of its rules."""
    w, h = size
    img = Image.new("RGB", (w + 40, h + 40), (255, 255, 255))
    d = ImageDraw.Draw(img)
    d.rectangle([20, 20, 20 + w, 20 + h], fill=fill)
    for x in (20, 20 + w):
        d.rectangle([x - 1, 19, x + 1, 21 + h], fill=rule)
    for y in (20, 20 + h):
        d.rectangle([19, y - 1, 21 + w, y + 1], fill=rule)
    if text:
        d.text((20 + w / 2, 20 + h / 2), text, font=font("sans", 28), fill=ink, anchor="mm")
    return np.asarray(img), Cell(0, 0, bbox=(20, 20, 20 + w, 20 + h))


@pytest.mark.parametrize("text", ["7", "-", "%", ".", "X", "12,345"])
def test_single_characters_are_not_empty(text):
    img, cell = _cell_image(text)
    crops = line_crops(img, cell)
    assert len(crops) == 1
    assert crops[0].min() < 110


@pytest.mark.parametrize("fill", [(255, 255, 255), (230, 230, 230), (40, 40, 40)])
def test_rules_alone_make_an_empty_cell(fill):
    img, cell = _cell_image(None, fill=fill)
    assert line_crops(img, cell) == []
    noisy = np.clip(img + np.random.default_rng(1).normal(0, 8, img.shape), 0, 255).astype(np.uint8)
    assert line_crops(noisy, cell) == []


def test_bbox_off_the_page_or_degenerate():
    img, _ = _cell_image("5")
    assert line_crops(img, Cell(0, 0, bbox=(500, 500, 600, 560))) == []
    assert line_crops(img, Cell(0, 0, bbox=(30, 30, 31, 80))) == []
    # A bbox partly off the page is clipped, not an error.
    assert len(line_crops(img, Cell(0, 0, bbox=(-50, 20, 180, 80)))) == 1


def test_grey_page_input():
    img, cell = _cell_image("42", fill=(210, 210, 210))
    gray = img.mean(axis=2).astype(np.uint8)
    crops = line_crops(gray, cell)
    assert len(crops) == 1
    _assert_clean(crops[0])


def _row_of_cells(texts, cell_w=120, cell_h=56, size_px=28):
    """One table row on a page: every text drawn on the same baseline, as a
    spreadsheet prints a row; returns (page, cells)."""
    img = Image.new("RGB", (cell_w * len(texts) + 40, cell_h + 40), (255, 255, 255))
    d = ImageDraw.Draw(img)
    cells = []
    for k, text in enumerate(texts):
        x0, y0 = 20 + k * cell_w, 20
        d.rectangle([x0 - 1, y0 - 1, x0 + cell_w + 1, y0 + cell_h + 1], outline=(0, 0, 0), width=2)
        d.text((x0 + 10, y0 + cell_h - 14), text, font=font("sans", size_px), fill=(0, 0, 0), anchor="ls")
        cells.append(Cell(0, k, bbox=(x0, y0, x0 + cell_w, y0 + cell_h)))
    return np.asarray(img), cells


def _ink_rows(crop: np.ndarray) -> tuple[int, int]:
    rows = np.nonzero((crop < 128).any(axis=1))[0]
    return int(rows[0]), int(rows[-1]) + 1


def test_short_lines_keep_the_height_of_their_text_line():
    """A dash, a dot or a lone lower-case letter is cut at the height of the row's
    text, where it sits on the baseline: cut to its own ink it would fill the crop
    (a dash a black bar, an 'x' an 'X')."""
    texts = ["Total", "—", "x", ".", "X", "1,250"]
    img, cells = _row_of_cells(texts)
    crops = dict(zip(texts, page_line_crops(img, cells)))
    assert all(len(c) == 1 for c in crops.values())
    crops = {t: c[0] for t, c in crops.items()}
    full = crops["Total"].shape[0]
    for text in ("—", "x", "."):
        crop = crops[text]
        _assert_clean(crop)
        assert 0.85 * full <= crop.shape[0] <= 1.15 * full, text
        if text != "x":
            top, bottom = _ink_rows(crop)
            assert bottom - top <= 0.25 * crop.shape[0], text
    # Where they sit on the line: the dot on the baseline, the dash above it.
    x_top, x_bottom = _ink_rows(crops["x"])
    _, dot_bottom = _ink_rows(crops["."])
    dash_top, dash_bottom = _ink_rows(crops["—"])
    assert abs(dot_bottom - x_bottom) <= 2
    assert x_top < dash_top and dash_bottom < x_bottom
    # An 'x' is told from an 'X' by its height in the crop.
    big_top, big_bottom = _ink_rows(crops["X"])
    assert (x_bottom - x_top) < 0.8 * (big_bottom - big_top)


def test_short_line_without_a_row_beside_it_is_centred_at_the_page_text_height():
    img, cells = _row_of_cells(["Total", "1,250"])
    low, low_cells = _row_of_cells(["—"])
    # The dash's cell on a page of its own row, the full lines elsewhere (not across it).
    page = np.vstack([img, np.pad(low, ((0, 0), (0, img.shape[1] - low.shape[1]), (0, 0)),
                                  constant_values=255)])
    dash_cell = Cell(1, 0, bbox=tuple(v + (img.shape[0] if i % 2 else 0)
                                      for i, v in enumerate(low_cells[0].bbox)))
    crops = page_line_crops(page, [*cells, dash_cell])
    dash = crops[-1][0]
    assert dash.shape[0] >= 0.7 * crops[0][0].shape[0]
    top, bottom = _ink_rows(dash)
    assert abs((top + bottom) / 2 - dash.shape[0] / 2) <= 3
    # Alone on its page a line has nothing to be measured by: cut to its ink.
    alone = line_crops(low, low_cells[0])[0]
    assert alone.shape[0] < 0.5 * dash.shape[0]


@pytest.mark.parametrize("text,align", [("East", "left"), ("Beta Region", "left"), ("8", "right"),
                                        ("1,250.00", "right"), ("H-9263", "left")])
def test_text_against_a_side_rule_keeps_its_first_and_last_letters(text, align):
    """Text printed two pixels from the side rule of a tight row (LibreOffice's and
    Excel's default padding at 150 dpi): the stem of its first (last) letter is not
    part of the rule, though the top and bottom rules darken those columns too."""
    cell_h, cell_w, rule = 30, 200, 3
    f = font("sans", 26)
    # The text's ink alone, to be set at an exact distance from the rule.
    alone = Image.new("L", (400, cell_h), 255)
    ImageDraw.Draw(alone).text((10, cell_h // 2), text, font=f, fill=0, anchor="lm")
    arr = np.asarray(alone)
    cols = np.flatnonzero((arr < 128).any(axis=0))
    ink = arr[:, cols[0] : cols[-1] + 1]
    page = np.full((cell_h + 40, cell_w + 40), 255, np.uint8)
    x0, y0, x1, y1 = 20, 20, 20 + cell_w, 20 + cell_h
    page[y0 - 1 : y0 + 2, x0 - 1 : x1 + 2] = 0  # rules 3 px wide, the bbox along their middle
    page[y1 - 1 : y1 + 2, x0 - 1 : x1 + 2] = 0
    page[y0 - 1 : y1 + 2, x0 - 1 : x0 + 2] = 0
    page[y0 - 1 : y1 + 2, x1 - 1 : x1 + 2] = 0
    x = x0 + rule if align == "left" else x1 - 1 - rule - ink.shape[1]
    page[y0:y1, x : x + ink.shape[1]] = np.minimum(page[y0:y1, x : x + ink.shape[1]], ink[:cell_h])
    crops = line_crops(page, Cell(0, 0, bbox=(x0, y0, x1, y1)))
    assert len(crops) == 1
    got = np.flatnonzero((crops[0] < 128).any(axis=0))
    assert abs((got[-1] + 1 - got[0]) - ink.shape[1]) <= 1, "a letter at the rule was cut"


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("inside", [1, 3])
def test_a_side_rule_a_few_pixels_inside_the_bbox_is_not_read(side, inside):
    """The grid line found a few pixels beside the printed rule (a 300 dpi page, its
    residual skew): the rule lies inside the cell's bbox with paper between it and the
    edge, so the edge strip cannot reach it. It was kept as ink, and "-37.4%" beyond it
    read "J. Janson" (office-printed validation pages, seed 8: a 93 px row at 300 dpi)."""
    cell_h, cell_w = 93, 380
    f = font("sans", 26)
    alone = Image.new("L", (400, cell_h), 255)
    ImageDraw.Draw(alone).text((10, cell_h // 2), "-37.4%", font=f, fill=0, anchor="lm")
    arr = np.asarray(alone)
    cols = np.flatnonzero((arr < 128).any(axis=0))
    ink = arr[:, cols[0] : cols[-1] + 1]
    page = np.full((cell_h + 40, cell_w + 40), 255, np.uint8)
    x0, y0, x1, y1 = 20, 20, 20 + cell_w, 20 + cell_h
    page[y0 - 1 : y0 + 2, x0 - 1 : x1 + 2] = 0  # rules 3 px wide
    page[y1 - 1 : y1 + 2, x0 - 1 : x1 + 2] = 0
    page[y0 - 1 : y1 + 2, x0 - 1 : x0 + 2] = 0
    page[y0 - 1 : y1 + 2, x1 - 1 : x1 + 2] = 0
    x = x1 - 12 - ink.shape[1] if side == "left" else x0 + 12  # the text away from that rule
    page[y0 + 2 : y1 - 1, x : x + ink.shape[1]] = ink[2 : cell_h - 1]
    bbox = (x0 - 1 - inside, y0, x1, y1) if side == "left" else (x0, y0, x1 + 2 + inside, y1)
    crops = line_crops(page, Cell(0, 0, bbox=bbox))
    assert len(crops) == 1
    got = np.flatnonzero((crops[0] < 128).any(axis=0))
    assert abs((got[-1] + 1 - got[0]) - ink.shape[1]) <= 1, "the rule is in the crop"


def test_decimal_points_and_commas_of_a_low_resolution_scan_are_kept():
    """At 150 dpi a 9 pt decimal point is a pixel or two of faint grey: below the size
    of any letter, but inside the text line, where dust seldom falls."""
    import cv2

    text = "1,238.08"
    big = Image.new("L", (600, 150), 255)
    ImageDraw.Draw(big).text((60, 75), text, font=font("sans", 52), fill=0, anchor="lm")
    small = np.asarray(big.resize((150, 38), Image.Resampling.BOX))  # a quarter: 13 px type
    page = np.full((78, 190), 255, np.uint8)
    page[20:58, 20:170] = small
    page[18:21, 18:172] = page[57:60, 18:172] = 0
    page[18:60, 18:21] = page[18:60, 169:172] = 0
    crops = line_crops(page, Cell(0, 0, bbox=(19, 19, 171, 59)))
    assert len(crops) == 1
    n, _ = cv2.connectedComponents((crops[0] < 200).astype(np.uint8), connectivity=8)
    assert n - 1 == len(text), "a point or a comma was lost"
