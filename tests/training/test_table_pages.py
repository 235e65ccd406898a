"""The synthetic table pages: same seed, same page; every style draws what it says;
the truth agrees with the pixels, through Pillow and through LibreOffice."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from training.tables.design import RULES, design_page
from training.tables.office_page import render_office
from training.tables.pillow_page import render_pillow
from training.tables.truth import separator_segments


def _page_with(rules: str, split: str = "train", band: bool | None = None, start: int = 0):
    style = "ruled" if rules in ("grid", "inner", "rows", "columns") else "open"
    for k in range(start, start + 400):
        page = design_page(split, 11, k, style)
        t = page.tables[0]
        if len(page.tables) == 1 and t.rules == rules and (band is None or (t.band is not None) == band):
            return page
    raise AssertionError(f"no {rules} page in 400 designs")


def _dark(image: np.ndarray, hairlines: bool = False) -> np.ndarray:
    """Ink: a dark pixel; with ``hairlines``, also two neighbours that together hold a
    rule's darkness (a thin rule falling between two pixels renders as two light greys,
    192 + 181; text edges would count too, so only where a rule is looked for)."""
    grey = image.min(axis=2).astype(np.int32)
    dark = grey < 180  # rules may be grey (120); fills are lighter
    if not hairlines:
        return dark
    darkness = 255 - grey
    pair_x = darkness[:, 1:] + darkness[:, :-1]
    pair_y = darkness[1:, :] + darkness[:-1, :]
    dark[:, 1:] |= pair_x > 110
    dark[:, :-1] |= pair_x > 110
    dark[1:, :] |= pair_y > 110
    dark[:-1, :] |= pair_y > 110
    return dark


def _line_ink(dark, table, horizontal: bool, i: int, k: int, reach: int) -> float:
    """Share of dark pixels along separator segment (i, k), best row/column within
    ``reach`` pixels of where the truth puts it."""
    if horizontal:
        y, x0, x1 = table.row_lines[i], table.col_lines[k], table.col_lines[k + 1]
        x0, x1 = x0 + 2, x1 - 2
        return max(dark[yy, x0:x1].mean() for yy in range(y - reach, y + reach + 1)
                   if 0 <= yy < dark.shape[0])
    x, y0, y1 = table.col_lines[i], table.row_lines[k], table.row_lines[k + 1]
    y0, y1 = y0 + 2, y1 - 2
    return max(dark[y0:y1, xx].mean() for xx in range(x - reach, x + reach + 1)
               if 0 <= xx < dark.shape[1])


def _check_separators(page, reach: int = 1):
    """Drawn separators are ink along their whole length; separators not drawn, where
    no fill lies under them, hold next to no ink."""
    dark, ruled = _dark(page.image), _dark(page.image, hairlines=True)
    for t in page.tables:
        exist_h, exist_v = separator_segments(t.n_rows, t.n_cols, [
            (c.row, c.col, c.rowspan, c.colspan) for c in t.cells])
        for i, line in enumerate(t.h_drawn):
            for c, drawn in enumerate(line):
                ink = _line_ink(ruled if drawn else dark, t, True, i, c, reach if drawn else 0)
                if drawn:
                    assert ink > 0.9, (page.name, "h", i, c, ink)
                elif exist_h[i][c]:
                    assert ink < 0.05, (page.name, "h", i, c, ink)
        for r, line in enumerate(t.v_drawn):
            for j, drawn in enumerate(line):
                ink = _line_ink(ruled if drawn else dark, t, False, j, r, reach if drawn else 0)
                if drawn:
                    assert ink > 0.9, (page.name, "v", j, r, ink)
                elif exist_v[r][j]:
                    assert ink < 0.05, (page.name, "v", j, r, ink)


def test_same_seed_same_page_other_index_other_page():
    a = render_pillow(design_page("train", 5, 2))
    b = render_pillow(design_page("train", 5, 2))
    c = render_pillow(design_page("train", 5, 3))
    assert np.array_equal(a.image, b.image)
    assert [t.cells for t in a.tables] == [t.cells for t in b.tables]
    assert a.image.shape != c.image.shape or not np.array_equal(a.image, c.image)


def test_booktabs_draws_three_full_rules_and_no_vertical_one():
    page = render_pillow(_page_with("booktabs", band=False), damage=False)
    t = page.tables[0]
    ruled = [i for i, line in enumerate(t.h_drawn) if any(line)]
    assert ruled == [0, t.header_rows, t.n_rows]
    assert all(all(t.h_drawn[i]) for i in ruled)
    assert not any(any(line) for line in t.v_drawn)
    # in the pixels: three long horizontal runs of ink, no long vertical one
    x0, y0, x1, y1 = t.bbox
    dark = _dark(page.image)[y0 - 3: y1 + 3, x0:x1]
    full_rows = np.flatnonzero(dark.mean(axis=1) > 0.9)
    runs = np.split(full_rows, np.flatnonzero(np.diff(full_rows) > 1) + 1)
    assert len(runs) == 3
    assert (dark.mean(axis=0) > 0.5).sum() == 0
    _check_separators(page)


@pytest.mark.parametrize("rules", RULES)
def test_each_ruling_style_draws_what_its_truth_says(rules):
    page = render_pillow(_page_with(rules, band=False), damage=False)
    t = page.tables[0]
    h = [any(line) for line in t.h_drawn]
    v = [any(r[j] for r in t.v_drawn) for j in range(t.n_cols + 1)]
    if rules == "grid":
        assert all(h) and all(v)
    elif rules == "inner":
        assert not h[0] and not h[-1] and not v[0] and not v[-1] and all(v[1:-1])
    elif rules == "rows":
        assert all(h) and not any(v)
    elif rules == "columns":
        assert not any(h) and all(v[1:-1]) and not v[0] and not v[-1]
    elif rules == "header":
        assert h[t.header_rows] and not any(v)
    elif rules == "none":
        assert not any(h) and not any(v)
    _check_separators(page)


def test_header_band_zebra_and_total_fills():
    for k in range(400):
        d = design_page("train", 12, k, "open")
        t = d.tables[0]
        if t.band is not None and t.band_dark and t.total_fill is not None and t.zebra is None:
            break
    else:
        raise AssertionError("no page with a dark band and a grey total row in 400 designs")
    page = render_pillow(d, damage=False)
    tt = page.tables[0]
    cells = {(c.row, c.col): c.bbox for c in tt.cells}
    x0, y0, _x1, _y1 = cells[(0, 0)]
    corner = page.image[y0 + 1: y0 + 3, x0 + 1: x0 + 3].reshape(-1, 3)
    assert (np.abs(corner.astype(int) - t.band).max(axis=1) <= 2).all()
    x0, y0, _, _ = cells[(t.total_row, 0)]
    pix = page.image[y0 + 2, x0 + 2]
    assert (np.abs(pix.astype(int) - t.total_fill) <= 2).all()


def test_cell_texts_and_boxes_agree_with_the_ink():
    """A cell with text has ink inside its box, an empty unfilled cell none; a
    multi-line cell's lines are separate lines of ink."""
    for k in range(6):
        page = render_pillow(design_page("train", 21, k), damage=False)
        dark = _dark(page.image)
        for t, d in zip(page.tables, design_page("train", 21, k).tables):
            m = 3 + round(d.rule_width * page.dpi / 72)
            for c in t.cells:
                x0, y0, x1, y1 = c.bbox
                inner = dark[y0 + m: y1 - m, x0 + m: x1 - m]
                filled = d.band is not None and c.row < d.header_rows
                if c.text:
                    assert inner.any(), (page.name, c)
                elif not filled:
                    assert not inner.any(), (page.name, c)
                if c.text.count("\n") and not filled:
                    ink_rows = np.flatnonzero(inner.any(axis=1))
                    gaps = np.flatnonzero(np.diff(ink_rows) > 1)
                    assert len(gaps) >= c.text.count("\n"), (page.name, c)


def test_scan_damage_is_seeded_and_skews():
    pages = [render_pillow(design_page("heldout", 3, k)) for k in range(8)]
    assert any(p.angle for p in pages)
    again = render_pillow(design_page("heldout", 3, 0))
    assert np.array_equal(pages[0].image, again.image)


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is a CI dependency")
def test_libreoffice_pages_truth_agrees_with_the_ink(tmp_path):
    designs = [_page_with("grid", band=False), _page_with("booktabs", band=False),
               _page_with("columns", band=False)]
    pages = render_office(designs, tmp_path, damage=False)
    for d, p in zip(designs, pages):
        t = p.tables[0]
        assert (t.n_rows, t.n_cols) == (d.tables[0].n_rows, d.tables[0].n_cols)
        _check_separators(p, reach=2)
        dark = _dark(p.image)
        for c in t.cells:
            x0, y0, x1, y1 = c.bbox
            if c.text:
                assert dark[y0 + 3: y1 - 3, x0 + 3: x1 - 3].any(), (p.name, c)


def test_spanning_headers_nest_and_stub_spans_the_header():
    """An upper header cell covers whole cells of the row below, never part of one."""
    seen = 0
    for k in range(300):
        for t in design_page("train", 4, k).tables:
            covers = {}
            for r, c, rs, cs in [s for s in _slots(t) if s[0] < t.header_rows - 1]:
                covers[r] = covers.get(r, []) + [(c, c + cs)]
            for r, spans in covers.items():
                below = {(c, c + cs) for rr, c, rs, cs in _slots(t) if rr <= r + 1 < rr + rs}
                for a, b in spans:
                    inside = [(x, y) for x, y in below if a <= x and y <= b]
                    assert inside and min(x for x, _ in inside) == a and max(y for _, y in inside) == b
                    seen += 1
    assert seen > 50


def _slots(t):
    from training.tables.truth import slots

    return slots(t.n_rows, t.n_cols, t.merges)
