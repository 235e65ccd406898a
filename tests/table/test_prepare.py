"""Page preparation: turned pages righted, photos squared up and evenly lit, and flat
upright scans left exactly as they are (table.prepare, table.orientation, table.photo)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from table.curl import straighten
from table.orientation import detect_orientation, sample_lines, settle_by_reading, turn_page
from table.photo import find_page, flatten_light, light_unevenness
from table.prepare import prepare_page
from table.structure import find_tables
from tests.table import render as R
from tests.table.capture import low_resolution, photograph

SAMPLES = sorted((Path(__file__).resolve().parents[2] / "resources" / "samples").glob("*.png"))

SPECS = {
    "bordered": R.bordered_spec,
    "merged": R.merged_spec,
    "columns": R.columns_only_spec,
    "rows": R.rows_only_spec,
    "multiline": R.multiline_spec,
}


def _pages():
    for path in SAMPLES:
        yield path.stem, np.asarray(Image.open(path).convert("RGB"))
    for name, spec in SPECS.items():
        for dpi, angle in ((75, 0.0), (200, 0.0), (75, -3.0), (200, 1.5)):
            page = R.render_page([spec()], dpi=dpi, angle=angle, noise=4 if angle else 0)
            yield f"{name}@{dpi}dpi{angle:+}", page.image


PAGES = list(_pages())


def _grey(image):
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def _same_grid(found, truth) -> bool:
    return (found.n_rows, found.n_cols) == (truth.n_rows, truth.n_cols) and \
        {(c.row, c.col, c.rowspan, c.colspan) for c in found.cells} == truth.spans()


@pytest.mark.parametrize("name,image", PAGES, ids=[n for n, _ in PAGES])
def test_an_upright_page_is_never_turned_or_changed(name, image):
    prepared = prepare_page(image)
    assert prepared.turn == 0 and prepared.corners is None and not prepared.flattened
    assert prepared.image is image  # not even copied


@pytest.mark.parametrize("name,image", PAGES, ids=[n for n, _ in PAGES])
def test_the_direction_of_the_lines_is_found_in_every_orientation(name, image):
    gray = _grey(image)
    for turned in (90, 180, 270):
        o = detect_orientation(turn_page(gray, turned))
        want = (360 - turned) % 360
        if turned == 180:
            # Up or down from shapes alone only when sure; never sideways.
            assert o.turn in (0, 180) and (o.turn == 180 or not o.sure), (turned, o)
        else:
            assert o.turn in (90, 270), (turned, o)
            assert o.turn == want or not o.sure, (turned, o)


def _reader_of(upright_lines):
    """Confidences of a reader that knows the page's upright lines: as sure of a crop
    as it looks like one of them (normalised correlation), so unsure of a line turned
    over (stands in for the recogniser)."""
    def likeness(crop, line):
        a = cv2.resize(crop, (line.shape[1], line.shape[0]), interpolation=cv2.INTER_AREA)
        a, b = a.astype(np.float32) - a.mean(), line.astype(np.float32) - line.mean()
        return float((a * b).sum() / (np.sqrt((a * a).sum() * (b * b).sum()) + 1e-6))

    return lambda crops: [max(likeness(c, line) for line in upright_lines) for c in crops]


@pytest.mark.parametrize("name,image", PAGES[:4], ids=[n for n, _ in PAGES[:4]])
def test_reading_settles_up_and_down(name, image):
    gray = _grey(image)
    read = _reader_of(sample_lines(gray))
    for turned in (0, 90, 180, 270):
        page = turn_page(gray, turned)
        o = settle_by_reading(page, detect_orientation(page), read)
        assert o.turn == (360 - turned) % 360 and o.sure
    # A reader that cannot tell leaves the shapes' turn alone and says it is not sure.
    o = detect_orientation(turn_page(gray, 180))
    unsure = settle_by_reading(turn_page(gray, 180), o, lambda crops: [0.5] * len(crops))
    assert unsure.turn == o.turn and not unsure.sure


def test_with_a_reader_a_page_is_only_turned_over_when_the_reading_says_so():
    page = turn_page(R.render_page([R.multiline_spec()], dpi=200).image, 180)
    assert detect_orientation(_grey(page)).turn == 180  # the shapes alone would turn it
    cannot_tell = prepare_page(page, confidences=lambda crops: [0.5] * len(crops))
    assert cannot_tell.turn == 0
    assert prepare_page(page).turn == 180


def test_a_landscape_table_printed_sideways_on_a_portrait_page_is_righted():
    wide = R.TableSpec(texts=R.sample_texts(6, 9, seed=11), col_widths=[90] + [62] * 8)
    table = R.render_page([wide], dpi=100)
    sideways = turn_page(table.image, 270)  # printed turned anticlockwise
    h, w = sideways.shape[:2]
    page = np.full((int(h * 1.25), int(w * 1.3), 3), 255, np.uint8)  # portrait
    page[int(h * 0.15):int(h * 0.15) + h, int(w * 0.15):int(w * 0.15) + w] = sideways
    cv2.putText(page, "Page 7", (20, page.shape[0] - 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0))
    assert page.shape[0] > page.shape[1]
    # Sideways for sure from the shapes; which way up, a reader settles.
    assert detect_orientation(_grey(page)).vertical
    read = _reader_of(sample_lines(_grey(turn_page(page, 90))))
    prepared = prepare_page(page, confidences=read)
    assert prepared.turn == 90
    [found] = find_tables(prepared.image).tables
    assert _same_grid(found, table.tables[0])


def test_small_print_run_together_into_words_is_turned_only_by_reading():
    # Over-inked small print at 72 dpi: each word is one blob, and its nearest
    # neighbour is the word under it in its column, as if the lines ran down the page
    # (the neighbours alone turned such pages a quarter). The words lie across.
    spec = R.TableSpec(texts=R.sample_texts(24, 9, seed=5), col_widths=[80] + [52] * 8,
                       style="no_frame", font_size=7, row_heights=[10.5] * 24)
    page = R.render_page([spec], dpi=300)
    inked = cv2.erode(page.image, np.ones((1, 9), np.uint8))  # ink spread along the line
    small = low_resolution(inked, 300, 72)
    gray = _grey(small)
    read = _reader_of(sample_lines(gray))
    assert not detect_orientation(gray).vertical
    assert prepare_page(small, confidences=read).turn == 0
    # Turned a quarter, its words lie down the page, as the letters of several rows run
    # together by blur also do: the shapes cannot tell, and a reader rights it.
    for turned in (90, 270):
        sideways = turn_page(small, turned)
        assert detect_orientation(_grey(sideways)).words_down
        assert prepare_page(sideways).turn == 0  # never turned on the shapes alone
        assert prepare_page(sideways, confidences=read).turn == 360 - turned


@pytest.mark.parametrize("name", ["bordered", "merged", "columns"])
@pytest.mark.parametrize("kind", ["tilted", "steep", "curled"])
def test_a_photographed_page_gives_its_grid(name, kind):
    page = R.render_page([SPECS[name]()], dpi=200)
    options = {"tilted": {}, "steep": {"tilt": 0.2, "light": 0.5, "seed": 1},
               "curled": {"curl": 8, "seed": 2}}[kind]
    photo = photograph(page.image, **options)
    prepared = prepare_page(photo)
    assert prepared.corners is not None and prepared.flattened and prepared.turn == 0
    [found] = find_tables(prepared.image).tables
    assert _same_grid(found, page.tables[0])
    # The page, squared up, is about as large as it was printed.
    h, w = page.image.shape[:2]
    assert abs(prepared.image.shape[1] / prepared.image.shape[0] - w / h) < 0.12 * w / h


@pytest.mark.parametrize("name", ["bordered", "merged", "columns", "rows"])
def test_a_curled_sheet_has_its_rules_straightened(name):
    page = R.render_page([SPECS[name]()], dpi=200)
    photo = photograph(page.image, curl=24, seed=2)  # rows bow ~2 % of the page width
    [found] = find_tables(prepare_page(photo).image).tables
    assert _same_grid(found, page.tables[0])


def test_straight_rules_are_left_alone():
    page = R.render_page([R.bordered_spec()], dpi=150).image
    binary = cv2.adaptiveThreshold(_grey(page), 255, cv2.ADAPTIVE_THRESH_MEAN_C,
                                   cv2.THRESH_BINARY_INV, 19, 12)
    assert straighten(page, binary, 15) is page


def test_a_photo_turned_on_the_desk_is_squared_and_righted():
    page = R.render_page([R.bordered_spec()], dpi=150)
    photo = turn_page(photograph(page.image, seed=3), 90)
    prepared = prepare_page(photo)
    assert prepared.corners is not None and prepared.turn in (90, 270)
    [found] = find_tables(turn_page(prepared.image, 0)).tables
    assert (found.n_rows, found.n_cols) == (8, 5)


def test_a_photo_that_ends_mid_table_gives_the_rows_there_are():
    spec = R.bordered_spec(n_rows=14)
    page = R.render_page([spec], dpi=150)
    photo = photograph(page.image, seed=4, margin=0.15)
    cut = photo[: int(photo.shape[0] * 0.62)]  # the lower part of the table is out of frame
    [found] = find_tables(prepare_page(cut).image).tables
    assert found.n_cols == 5 and 6 <= found.n_rows < 14
    rows = sorted({c.row for c in found.cells})
    assert rows == list(range(found.n_rows))


def test_a_scan_with_a_dark_band_is_not_taken_for_a_photo():
    spec = R.bordered_spec(header_rows=1, header_fill=(40, 40, 40), origin=(0.0, 0.0))
    page = R.render_page([spec], dpi=120, size_pt=(sum(spec.col_widths), 300.0))
    assert find_page(page.image) is None


def test_flattening_evens_the_paper_and_keeps_dark_bands():
    spec = R.bordered_spec(header_rows=1, header_fill=(31, 78, 120))
    page = R.render_page([spec], dpi=150).image
    w = page.shape[1]
    ramp = np.linspace(1.0, 0.55, w, dtype=np.float32)[None, :, None]
    shaded = (page.astype(np.float32) * ramp).astype(np.uint8)
    assert light_unevenness(_grey(shaded), 15) > 60
    flat = flatten_light(shaded, 15)
    assert light_unevenness(_grey(flat), 15) < 15
    truth = R.render_page([spec], dpi=150).tables[0]
    y0, y1 = truth.row_lines[0], truth.row_lines[1]
    x0, x1 = truth.col_lines[0], truth.col_lines[-1]
    assert np.median(_grey(flat)[y0 + 3:y1 - 3, x0 + 3:x1 - 3]) < 120  # the header stays dark
    assert np.median(_grey(flat)[y1 + 3:, x0:x1]) > 200  # the paper is white again
    [found] = find_tables(flat).tables
    assert (found.n_rows, found.n_cols) == (8, 5)
    assert flatten_light(page, 15) is page  # evenly lit: untouched


@pytest.mark.parametrize("name", sorted(SPECS))
@pytest.mark.parametrize("dpi", [60, 75, 100])
def test_a_low_resolution_scan_gives_its_grid(name, dpi):
    page = R.render_page([SPECS[name]()], dpi=300)
    small = low_resolution(page.image, 300, dpi)
    result = find_tables(prepare_page(small).image)
    assert result.text_h < 12
    [found] = result.tables
    assert _same_grid(found, page.tables[0])


@pytest.mark.parametrize("name,points,dpi", [
    ("columns", 7, 75), ("columns", 8, 60), ("merged", 8, 60), ("rows", 9, 55)])
def test_small_print_at_low_resolution_gives_its_grid(name, points, dpi):
    # Text 5-7 px high: analysed enlarged, so rules and gaps are not rounding errors.
    page = R.render_page([SPECS[name](font_size=points)], dpi=300)
    result = find_tables(low_resolution(page.image, 300, dpi))
    assert result.text_h < 8
    [found] = result.tables
    assert _same_grid(found, page.tables[0])


COLOURS = {
    "navy header": {"header_rows": 1, "header_fill": (31, 78, 120)},
    "red header": {"header_rows": 1, "header_fill": (200, 40, 40)},
    "pale header": {"header_rows": 1, "header_fill": (189, 215, 238)},
    "grey total row": {"shade_rows": {7: (191, 191, 191)}},
    "blue rules": {"line_color": (30, 60, 200)},
}


@pytest.mark.parametrize("colour", sorted(COLOURS))
def test_colour_and_contrast(colour):
    page = R.render_page([R.bordered_spec(**COLOURS[colour])], dpi=150)
    [found] = find_tables(prepare_page(page.image).image).tables
    assert _same_grid(found, page.tables[0])


def test_coloured_ink_and_a_faint_photocopy():
    page = R.render_page([R.bordered_spec()], dpi=150)
    ink = page.image.copy()
    ink[page.image.mean(axis=2) < 128] = (180, 30, 30)
    faint = 150 + page.image.astype(np.float32) * (90 / 255)
    faint += np.random.default_rng(0).normal(0, 5, faint.shape[:2])[:, :, None]
    faint = np.clip(faint, 0, 255).astype(np.uint8)
    for image in (ink, faint):
        [found] = find_tables(prepare_page(image).image).tables
        assert _same_grid(found, page.tables[0])


def test_a_persons_correction_is_taken_as_it_is():
    from table.prepare import PageCorrection

    page = PAGES[0][1]
    # Turned by the person: no looking, even on an upright page that reads upright.
    turned = prepare_page(page, correction=PageCorrection(turn=270))
    assert turned.turn == 270 and turned.orientation is None
    assert turned.image.shape[:2] == page.shape[1::-1]
    # Corners placed by the person: the part inside them is squared up.
    h, w = page.shape[:2]
    corners = ((10.0, 20.0), (w - 30.0, 5.0), (w - 1.0, h - 1.0), (0.0, h - 40.0))
    cut = prepare_page(page, correction=PageCorrection(corners=corners))
    np.testing.assert_allclose(cut.corners, corners)
    with pytest.raises(ValueError, match="steps of 90"):
        PageCorrection(turn=45)
    with pytest.raises(ValueError, match="four"):
        PageCorrection(corners=((0, 0), (1, 1)))
    assert PageCorrection().is_empty and PageCorrection(turn=90).turned(270).turn == 0
