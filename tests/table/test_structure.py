"""Structure detection on rendered pages of known structure: the exact grid and spans.

The cases are those users of other table tools report broken: merged cells, skew,
two tables on a page, partly ruled tables, dark header rows, low resolution, tightly
spaced columns, multi-line cells, single-character cells, and pages with no table.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from table.grid import EDGE, RULE, TEXT, _drop_outer_slivers, _Sep
from table.model import Table
from table.structure import StructureResult, find_tables
from tests.table.render import (
    RenderedPage,
    TableSpec,
    TruthTable,
    bordered_spec,
    columns_only_spec,
    font,
    merged_spec,
    multiline_spec,
    render_page,
    rows_only_spec,
    sample_texts,
    tight_spec,
)


def spans(t: Table) -> set[tuple[int, int, int, int]]:
    return {(c.row, c.col, c.rowspan, c.colspan) for c in t.cells}


def assert_structure(page: RenderedPage, result: StructureResult | None = None) -> StructureResult:
    """Every table found, each with the true grid and spans; cells tile the grid."""
    result = result or find_tables(page.image)
    assert len(result.tables) == len(page.tables), [(t.n_rows, t.n_cols) for t in result.tables]
    for found, truth in zip(result.tables, page.tables):
        assert (found.n_rows, found.n_cols) == (truth.n_rows, truth.n_cols)
        missing, extra = truth.spans() - spans(found), spans(found) - truth.spans()
        assert not missing and not extra, f"missing {sorted(missing)}, extra {sorted(extra)}"
        assert len(found.row_lines) == found.n_rows + 1 and len(found.col_lines) == found.n_cols + 1
        covered = np.zeros((found.n_rows, found.n_cols), int)
        for c in found.cells:
            covered[c.row : c.row + c.rowspan, c.col : c.col + c.colspan] += 1
            assert c.bbox == (
                found.col_lines[c.col],
                found.row_lines[c.row],
                found.col_lines[c.col + c.colspan],
                found.row_lines[c.row + c.rowspan],
            )
            assert c.text == ""
        assert (covered == 1).all()
    return result


def assert_lines_near(found: Table, truth: TruthTable, tol: float) -> None:
    assert np.abs(np.array(found.row_lines) - truth.row_lines).max() <= tol
    assert np.abs(np.array(found.col_lines) - truth.col_lines).max() <= tol


def test_bordered_table_grid_and_positions():
    page = render_page([bordered_spec()], dpi=200)
    result = assert_structure(page)
    assert result.angle == 0.0 and result.image.shape == page.image.shape
    assert_lines_near(result.tables[0], page.tables[0], tol=2)


def test_high_resolution_page_is_analysed_reduced_but_reported_in_page_pixels():
    # 300 dpi: characters ~31 px tall, so the analysis runs on a page ~0.4 the size;
    # every coordinate must still be in the full page's pixels.
    page = render_page([merged_spec(line_width=0.4)], dpi=300)
    result = assert_structure(page)
    assert result.text_h > 25
    assert_lines_near(result.tables[0], page.tables[0], tol=4)


def test_merged_cells_row_and_column_spans():
    page = render_page([merged_spec()], dpi=200)
    result = assert_structure(page)
    merged = {s for s in spans(result.tables[0]) if s[2] > 1 or s[3] > 1}
    assert merged == {(0, 1, 1, 2), (1, 0, 2, 1), (3, 2, 2, 2)}
    assert_lines_near(result.tables[0], page.tables[0], tol=2)


@pytest.mark.parametrize("angle", [5.0, -5.0, 2.0])
def test_skewed_pages_are_straightened(angle):
    page = render_page([merged_spec()], dpi=200, angle=angle, noise=5, seed=3)
    result = assert_structure(page)
    assert result.angle == pytest.approx(angle, abs=0.1)
    # The deskewed page is level: its top rule lies on one row from end to end.
    t = result.tables[0]
    gray = result.image.mean(axis=2)
    y = t.row_lines[0]
    band = gray[y - 3 : y + 4, t.col_lines[0] + 5 : t.col_lines[-1] - 5]
    assert (band.min(axis=0) < 128).mean() > 0.95


def test_two_tables_on_one_page_top_to_bottom():
    page = render_page([bordered_spec(5, 4, seed=9), merged_spec(origin=(36, 200))], dpi=150)
    result = assert_structure(page)
    assert result.tables[0].bbox[3] < result.tables[1].bbox[1]


def test_two_tables_side_by_side():
    left = bordered_spec(5, 3, seed=2)
    right = bordered_spec(6, 3, seed=4, origin=(36 + sum(left.col_widths) + 40, 50))
    assert_structure(render_page([left, right], dpi=150))


def test_column_rules_only_rows_from_text_lines():
    page = render_page([columns_only_spec()], dpi=200)
    result = assert_structure(page)
    # The label column left of the first rule belongs to the table.
    assert result.tables[0].col_lines[0] < page.tables[0].col_lines[1] - 100


def test_no_outer_frame():
    assert_structure(render_page([merged_spec(style="no_frame")], dpi=200))
    assert_structure(render_page([bordered_spec(style="no_frame")], dpi=150, angle=-3, noise=4))


def test_horizontal_rules_only_columns_from_text_gaps():
    assert_structure(render_page([rows_only_spec()], dpi=200))
    assert_structure(render_page([rows_only_spec(n_rows=5, seed=8)], dpi=150, angle=1.5, noise=4))


def test_header_spanning_columns_in_a_table_without_column_rules():
    spec = rows_only_spec(n_rows=6, seed=5)
    spec.texts[0] = ["Item", "First half", "", "Total"]
    spec.merges = [(0, 1, 1, 2)]
    spec.align = "center"
    assert_structure(render_page([spec], dpi=200))


@pytest.mark.parametrize("fill,separator", [((30, 30, 30), (255, 255, 255)), ((31, 78, 120), None)])
def test_dark_header_row(fill, separator):
    spec = bordered_spec(header_rows=1, header_fill=fill, header_separator=separator)
    assert_structure(render_page([spec], dpi=200, noise=4))


def test_dark_header_with_a_merged_cell():
    spec = merged_spec(header_rows=1, header_fill=(31, 78, 120), header_separator=(255, 255, 255))
    assert_structure(render_page([spec], dpi=150, angle=3, noise=6))


@pytest.mark.parametrize("angle", [0.0, 0.6])
def test_thin_black_rules_inside_a_grey_header(angle):
    # A one-pixel rule only ~30 levels darker than the header's fill; turned by the
    # deskew it spreads over two pixels (the demo invoice's header).
    spec = bordered_spec(header_rows=1, header_fill=(60, 60, 60), header_separator=(25, 25, 25),
                         line_width=0.45)
    assert_structure(render_page([spec], dpi=150, angle=angle, noise=3, blur=0.5))


@pytest.mark.parametrize("dpi", [150, 200])
def test_two_row_header_with_bold_words_centred_on_the_hidden_separator(dpi):
    # A shaded two-row header: "Date", "Time", "Room" span both rows, their bold words
    # sitting right where the separator would be; "Session" spans the two tracks.
    texts = sample_texts(7, 5, seed=8)
    texts[0] = ["Date", "Time", "Room", "Session", ""]
    texts[1] = ["", "", "", "Track A", "Track B"]
    spec = TableSpec(texts=texts, col_widths=[80, 50, 55, 110, 110],
                     merges=[(0, 0, 2, 1), (0, 1, 2, 1), (0, 2, 2, 1), (0, 3, 1, 2)],
                     font_name="sans-bold", halftone_rows=[0, 1], align="center")
    assert_structure(render_page([spec], dpi=dpi, angle=0.4, noise=3))


@pytest.mark.parametrize("dpi", [100, 120, 150])
def test_low_resolution(dpi):
    assert_structure(render_page([merged_spec()], dpi=dpi, noise=3))
    assert_structure(render_page([bordered_spec()], dpi=dpi, angle=2.5, noise=4))


def test_tightly_spaced_columns_with_single_characters():
    page = render_page([tight_spec()], dpi=200)
    result = assert_structure(page)
    assert_lines_near(result.tables[0], page.tables[0], tol=2)
    assert_structure(render_page([tight_spec(seed=7)], dpi=150, noise=4))


def test_multi_line_cell_stays_one_cell():
    page = render_page([multiline_spec()], dpi=200)
    result = assert_structure(page)
    t = result.tables[0]
    assert t.n_rows == 5
    cell = t.cell_at(2, 0)
    assert (cell.row, cell.rowspan) == (2, 1)


def test_faint_and_broken_rules():
    assert_structure(
        render_page([merged_spec(line_color=(200, 200, 200), line_width=0.5)], dpi=200, noise=4)
    )
    assert_structure(render_page([merged_spec(broken_lines=0.2)], dpi=200, noise=4))
    assert_structure(
        render_page([bordered_spec(line_color=(150, 150, 150), broken_lines=0.15)], dpi=150)
    )


def test_shaded_and_halftone_rows():
    spec = bordered_spec(shade_rows={2: (200, 200, 200), 4: (225, 225, 225)}, halftone_rows=[6])
    assert_structure(render_page([spec], dpi=200))


def test_noisy_blurred_scan():
    assert_structure(render_page([merged_spec()], dpi=200, angle=-2, noise=10, blur=1.0, seed=4))


def test_page_without_a_table():
    prose = [
        (40, 40 + 14 * k, f"The quick brown fox jumps over the lazy dog {k} times, Tally ho.")
        for k in range(12)
    ]
    result = find_tables(render_page([], dpi=200, size_pt=(520, 400), extra_text=prose).image)
    assert result.tables == []
    blank = np.full((600, 800, 3), 255, np.uint8)
    assert find_tables(blank).tables == []


def test_underlines_and_a_boxed_note_are_not_tables():
    page = render_page(
        [],
        dpi=200,
        size_pt=(520, 300),
        extra_text=[(40, 40, "Invoice summary"), (40, 120, "Please pay within 30 days.")],
    )
    img = page.image.copy()
    img[88:91, 110:900] = 0  # a rule under the heading
    img[300:303, 100:1300] = 0  # a box around the note
    img[420:423, 100:1300] = 0
    img[300:423, 100:103] = 0
    img[300:423, 1297:1300] = 0
    assert find_tables(img).tables == []


def test_table_among_text():
    spec = bordered_spec(6, 4, seed=12, origin=(36, 120))
    prose = [
        (36, 40 + 14 * k, f"Paragraph line {k} before the table, with some words.")
        for k in range(5)
    ]
    assert_structure(render_page([spec], dpi=150, extra_text=prose))


def test_input_forms():
    page = render_page([bordered_spec(4, 3)], dpi=150)
    gray = page.image.mean(axis=2).astype(np.uint8)
    assert_structure(page, find_tables(gray))
    rgba = np.dstack([page.image, np.full(gray.shape, 255, np.uint8)])
    assert_structure(page, find_tables(rgba))
    with pytest.raises(ValueError):
        find_tables(page.image.astype(np.float32))


def test_custom_table_with_every_cell_a_single_digit():
    texts = [[str((r * 7 + c * 3) % 10) for c in range(6)] for r in range(5)]
    spec = TableSpec(texts=texts, col_widths=[16] * 6, align="center", padding=2)
    assert_structure(render_page([spec], dpi=150))


def test_large_table_many_rows():
    spec = bordered_spec(30, 6, seed=21)
    spec.texts = sample_texts(30, 6, seed=21)
    assert_structure(render_page([spec], dpi=150, noise=3))


def _print_on(page, lines: list[tuple[float, float, str]], face: str, size_pt: float,
              blur: float = 0.0) -> None:
    """Small print (a footnote, a paragraph) drawn on a rendered page, at points."""
    px = page.dpi / 72
    img = Image.fromarray(page.image)
    draw = ImageDraw.Draw(img)
    for x, y, text in lines:
        draw.text((x * px, y * px), text, font=font(face, round(size_pt * px)), fill=(0, 0, 0))
    if blur:
        img = img.filter(ImageFilter.GaussianBlur(blur))
    page.image = np.asarray(img).copy()


@pytest.mark.parametrize("dpi", [100, 150, 200])
@pytest.mark.parametrize("face", ["mono", "sans-bold"])
def test_a_footnote_printed_right_under_the_table_is_not_a_row(dpi, face):
    # Its letters binarise into bars as long as a rule, a few pixels under the bottom
    # rule: they had made a thin last row (validation pages, 75-200 dpi).
    page = render_page([bordered_spec(6, 5, seed=3)], dpi=dpi, size_pt=(452, 216))
    bottom = page.tables[0].row_lines[-1] / (dpi / 72)
    note = "* Source: annual returns, restated figures exclude the discontinued operations"
    _print_on(page, [(36, bottom + 2, note), (36, bottom + 10, note)], face, 6)
    assert_structure(page, find_tables(page.image, model=None))


@pytest.mark.parametrize("dpi", [100, 150])
def test_a_blurred_footnote_against_the_table_is_not_a_row(dpi):
    # Blurred, its letters make one solid bar: no rule test tells it from a rule, but a
    # row lower than a line of text beyond the table's last rule is not a row.
    page = render_page([bordered_spec(6, 5, seed=3)], dpi=dpi, size_pt=(452, 216))
    bottom = page.tables[0].row_lines[-1] / (dpi / 72)
    note = "Source: annual returns, restated figures exclude the discontinued operations"
    _print_on(page, [(36, bottom + 1.5, note)], "serif", 6, blur=1.0)
    assert_structure(page, find_tables(page.image, model=None))


def test_outer_rows_lower_than_a_text_line_beyond_a_rule_are_dropped_at_both_ends():
    rule, text, edge = (lambda p: _Sep(p, RULE, 1.0)), (lambda p: _Sep(p, TEXT)), (lambda p: _Sep(p, EDGE))
    rows = [rule(93), rule(100), rule(130), rule(160), rule(166)]
    assert [s.pos for s in _drop_outer_slivers(rows, 10.0)] == [100, 130, 160]
    # Beyond a line the text drew, or an open edge, the thin band may be a real row's
    # part: kept. A row of one text height is a row.
    rows = [edge(93), text(100), rule(130), rule(160), rule(170)]
    assert [s.pos for s in _drop_outer_slivers(rows, 10.0)] == [93, 100, 130, 160, 170]
    # Never down to a single row.
    rows = [rule(100), rule(130), rule(135)]
    assert len(_drop_outer_slivers(rows, 10.0)) == 3


@pytest.mark.parametrize("dpi", [96, 100, 120])
def test_a_small_print_paragraph_over_a_low_resolution_table_is_not_part_of_it(dpi):
    page = render_page([bordered_spec(5, 5, seed=4, origin=(36, 70))], dpi=dpi, size_pt=(452, 210))
    prose = ["Negative smidge archangels innkeeper upwards permuted scrappier sadness sheered",
             "denominator extirpate. Billy bulkiness ciabatta describable moldings equidistant",
             "scullion exemplified regressions boundless ovals. Scumbags wheeling ambiances."]
    _print_on(page, [(36, 36 + 9 * k, line) for k, line in enumerate(prose)], "serif", 7.5,
              blur=0.7)
    assert_structure(page, find_tables(page.image, model=None))
