"""app.pipeline on real pages: loading, structure, line crops, batched recognition."""

from __future__ import annotations

import threading
from itertools import pairwise

import pytest
from PIL import Image

from app.errors import Cancelled
from app.pipeline import Pipeline, summarize
from table.pages import PageLoadError, load_pages
from tests.app.fakes import (
    CONFIDENCE,
    STANDARD,
    TEXTS,
    BlobRecognizer,
    expected_text,
    standard_scan,
    table_of,
    write_scan,
)


def lines_in(layout) -> int:
    return sum(len(k.split("/")) for row in layout for k in row if k)


def test_every_cell_is_read_and_empty_cells_are_never_sent(tmp_path):
    rec = BlobRecognizer()
    [page] = Pipeline(rec, batch_size=4).convert_file(standard_scan(tmp_path / "scan.png"))
    [table] = page.tables
    assert (table.n_rows, table.n_cols) == (3, 3)
    assert table.as_grid() == [[expected_text(k) for k in row] for row in STANDARD]
    # 9 text lines in 8 non-empty cells: exactly 9 crops, in batches of at most 4.
    assert sum(rec.calls) == lines_in(STANDARD) == 9
    assert rec.calls == [4, 4, 1]
    assert 0 not in rec.counts  # no blank crop was ever sent
    empty = table.cell_at(1, 1)
    assert empty.text == "" and empty.confidence == 1.0


def test_multi_line_cell_joins_lines_and_takes_the_lowest_confidence(tmp_path):
    [page] = Pipeline(BlobRecognizer()).convert_file(standard_scan(tmp_path / "scan.png"))
    cell = page.tables[0].cell_at(2, 2)
    assert cell.text == f"{TEXTS[2]}\n{TEXTS[8]}"
    assert cell.confidence == pytest.approx(min(CONFIDENCE[2], CONFIDENCE[8]))
    assert page.tables[0].cell_at(0, 1).confidence == pytest.approx(CONFIDENCE[2])


def test_all_cells_of_a_page_share_batches(tmp_path):
    two = [table_of([["1", "2"], ["3", "4"]]), table_of([["5", "6", "7"]])]
    rec = BlobRecognizer()
    [page] = Pipeline(rec, batch_size=64).convert_file(write_scan(tmp_path / "two.png", two))
    assert len(page.tables) == 2
    assert rec.calls == [7]  # both tables' cells in one batch
    assert page.tables[1].as_grid() == [[TEXTS[5], TEXTS[6], TEXTS[7]]]


def test_page_result_describes_the_page(tmp_path):
    path = standard_scan(tmp_path / "scan.png")
    [page] = Pipeline(BlobRecognizer()).convert_file(path)
    assert page.source == str(path) and page.page == 0
    assert page.image.shape == (page.height, page.width, 3)
    assert abs(page.skew_angle) < 0.5
    summary = summarize([page])
    assert (summary.tables, summary.cells, summary.read_cells) == (1, 9, 8)
    assert summary.mean_confidence == pytest.approx(sum(c.confidence for c in page.tables[0].cells if c.text) / 8)


def test_multi_page_tiff_is_read_page_by_page(tmp_path):
    first = standard_scan(tmp_path / "p1.png")
    second = write_scan(tmp_path / "p2.png", [table_of([["9", "10"]])])
    tiff = tmp_path / "both.tif"
    a, b = Image.open(first), Image.open(second)
    a.save(tiff, save_all=True, append_images=[b])
    rec = BlobRecognizer()
    pages = Pipeline(rec).convert_file(tiff)
    assert [p.page for p in pages] == [0, 1]
    assert [t.page for p in pages for t in p.tables] == [0, 1]
    assert pages[1].tables[0].as_grid() == [[TEXTS[9], TEXTS[10]]]
    assert rec.calls == [11]  # one file, one batch across its pages


def test_progress_counts_cells_up_to_the_total(tmp_path):
    seen = []
    Pipeline(BlobRecognizer(), batch_size=3).convert_file(
        standard_scan(tmp_path / "scan.png"), progress=lambda done, total: seen.append((done, total)))
    assert seen[0] == (1, 9)  # the empty cell is done before any recognition
    assert seen[-1] == (9, 9)
    assert all(a[0] <= b[0] for a, b in pairwise(seen)) and {t for _, t in seen} == {9}
    assert len(seen) == 1 + 3  # once up front, then once per batch of 3 crops


def test_cancel_stops_between_batches(tmp_path):
    cancel = threading.Event()

    class Cancelling(BlobRecognizer):
        def recognize(self, crops, beams=1):
            cancel.set()  # the user presses Cancel while the first batch runs
            return super().recognize(crops, beams)

    rec = Cancelling()
    with pytest.raises(Cancelled):
        Pipeline(rec, batch_size=2).convert_file(standard_scan(tmp_path / "scan.png"), cancel=cancel)
    assert rec.calls == [2]
    cancel2 = threading.Event()
    cancel2.set()
    rec2 = BlobRecognizer()
    with pytest.raises(Cancelled):
        Pipeline(rec2).convert_file(standard_scan(tmp_path / "scan2.png"), cancel=cancel2)
    assert rec2.calls == []


def test_convert_page_and_reread_cells(tmp_path):
    [page_in] = load_pages(standard_scan(tmp_path / "scan.png"))
    rec = BlobRecognizer()
    pipe = Pipeline(rec)
    result = pipe.convert_page(page_in)
    table = result.tables[0]
    a, b = table.cell_at(0, 0), table.cell_at(0, 1)
    a.text, b.text = "edited", "edited"
    calls = len(rec.calls)
    pipe.reread_cells(result, [a, b])
    assert (a.text, b.text) == (TEXTS[1], TEXTS[2])
    assert rec.calls[calls:] == [2]
    # A cell moved onto blank paper reads as empty without calling the recognizer.
    _, _, x1, y1 = table.bbox
    blank = table.cell_at(1, 1)
    blank.bbox = (x1 + 5, y1 + 5, x1 + 60, y1 + 40)
    blank.text = "stale"
    pipe.reread_cells(result, [blank])
    assert blank.text == "" and blank.confidence == 1.0 and len(rec.calls) == calls + 1


def test_recognizer_returning_the_wrong_number_of_results_is_an_error(tmp_path):
    class Short(BlobRecognizer):
        def recognize(self, crops, beams=1):
            return super().recognize(crops, beams)[:-1]

    with pytest.raises(RuntimeError, match="returned 8 results for 9 crops"):
        Pipeline(Short()).convert_file(standard_scan(tmp_path / "scan.png"))


def test_beams_reach_the_recognizer(tmp_path):
    seen = []

    class Beams(BlobRecognizer):
        def recognize(self, crops, beams=1):
            seen.append(beams)
            return super().recognize(crops, beams)

    Pipeline(Beams(), beams=4).convert_file(standard_scan(tmp_path / "scan.png"))
    assert seen == [4]


def test_bad_files_raise_page_load_errors_naming_the_file(tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(standard_scan(tmp_path / "ok.png").read_bytes()[:300])
    with pytest.raises(PageLoadError, match="broken.png"):
        Pipeline(BlobRecognizer()).convert_file(broken)
    with pytest.raises(ValueError):
        Pipeline(BlobRecognizer(), batch_size=0)


def test_structure_confidence_joins_the_text_confidence(tmp_path):
    """A cell whose boundaries the structure model was unsure of is a cell to check, read
    or empty."""
    [page_in] = load_pages(standard_scan(tmp_path / "scan.png"))
    pipe = Pipeline(BlobRecognizer())
    result = pipe.convert_page(page_in)
    table = result.tables[0]
    read, blank = table.cell_at(0, 0), table.cell_at(1, 1)
    read.structure_confidence = blank.structure_confidence = 0.3
    _, _, x1, y1 = table.bbox
    blank.bbox = (x1 + 5, y1 + 5, x1 + 60, y1 + 40)  # blank paper: empty, not read
    pipe.reread_cells(result, [read, blank])
    assert read.text == TEXTS[1] and read.confidence == 0.3
    assert blank.text == "" and blank.confidence == 0.3
