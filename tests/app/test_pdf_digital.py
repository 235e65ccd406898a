"""Born-digital PDFs convert from their text layer without the recognizer; scans (and
scans under an OCR layer) still go through it, page by page."""

from __future__ import annotations

import json

import openpyxl
import pytest

from app import cli, pipeline, recognizers
from tests.app import fakes
from tests.app.fakes import TEXTS, standard_scan
from tests.table.pdf_make import cells_of, mixed_pdf, scanned_pdf, vector_pdf


class FailingRecognizer:
    def recognize(self, crops, beams: int = 1):
        raise AssertionError(f"the recognizer was called with {len(crops)} crops")


def failing_factory(model, device):
    return FailingRecognizer()


@pytest.fixture
def no_ocr(monkeypatch):
    monkeypatch.setattr(recognizers, "load_recognizer", failing_factory)
    monkeypatch.setattr(recognizers, "_RECOGNIZER", recognizers.RecognizerCache())
    # The stand-in lives in this process: a CLI batch stays in it only without a
    # per-file time limit (a limit needs worker processes, which load the real model).
    monkeypatch.setenv("TABLESCRIBE_FILE_TIMEOUT", "0")


def run(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_text_layer_pdf_converts_without_the_recognizer(tmp_path, capsys, no_ocr):
    vector_pdf(tmp_path / "report.pdf")
    code, out, err = run(capsys, "convert", tmp_path / "report.pdf", "-o", tmp_path / "report.xlsx")
    assert code == 0, err
    assert "2 table(s)" in out and "text from the PDF on page 1" in out
    wb = openpyxl.load_workbook(tmp_path / "report.xlsx")
    ws = wb.worksheets[0]
    assert (ws["A1"].value, ws["B1"].value, ws["B3"].value, ws["D3"].value) == \
        ("Region", "Sales 2024", 1234.5, "two\nlines")
    assert {"B1:C1", "A1:A2", "D1:D2"} == {str(r) for r in ws.merged_cells.ranges}
    code, _, err = run(capsys, "convert", tmp_path / "report.pdf", "-o", tmp_path / "report.json")
    assert code == 0, err
    table = json.loads((tmp_path / "report.json").read_text())["pages"][0]["tables"][0]
    assert table["read_from"] == "text-layer" and table["bbox_pt"][:2] == pytest.approx([50, 80], abs=1)
    assert {c["confidence"] for c in table["cells"]} == {1.0}
    # --text-layer never: read from the pixels, so the recognizer is asked.
    code, _, err = run(capsys, "convert", tmp_path / "report.pdf", "-o", tmp_path / "never.xlsx",
                       "--text-layer", "never")
    assert code == 1 and "the recognizer was called" in err


def test_scanned_pdf_goes_through_ocr(tmp_path, capsys, fake_model):
    scan = standard_scan(tmp_path / "scan.png")
    scanned_pdf(tmp_path / "scan.pdf", [scan])
    code, out, err = run(capsys, "convert", tmp_path / "scan.pdf", "-o", tmp_path / "scan.xlsx")
    assert code == 0, err
    assert "text from the PDF" not in out
    ws = openpyxl.load_workbook(tmp_path / "scan.xlsx").active
    assert ws["A1"].value == TEXTS[1]


def test_ocr_layer_under_a_scan_is_not_trusted_in_auto(tmp_path, capsys, fake_model):
    scan = standard_scan(tmp_path / "scan.png")
    scanned_pdf(tmp_path / "ocr.pdf", [scan], ocr_text="Itcm   1.234,5O\nwrong words")
    recognizer = fakes.BlobRecognizer()
    results = pipeline.Pipeline(recognizer).convert_file(tmp_path / "ocr.pdf")
    assert results[0].read_from == "image" and recognizer.calls
    assert results[0].tables[0].as_grid()[0][0] == TEXTS[1]
    assert results[0].tables[0].pdf_scale == pytest.approx(72 / 300, rel=1e-3)
    # --text-layer always takes the file's text, invisible as it is: no OCR.
    results = pipeline.Pipeline(FailingRecognizer(), text_layer="always").convert_file(tmp_path / "ocr.pdf")
    assert results[0].read_from == "text-layer"


def test_mixed_pdf_page_by_page(tmp_path):
    scan = standard_scan(tmp_path / "scan.png")
    expected = mixed_pdf(tmp_path / "mixed.pdf", scan)
    recognizer = fakes.BlobRecognizer()
    first, second = pipeline.Pipeline(recognizer).convert_file(tmp_path / "mixed.pdf")
    assert (first.read_from, second.read_from) == ("text-layer", "image")
    assert cells_of(first.tables[0]) == expected
    assert second.tables[0].as_grid()[0][0] == TEXTS[1]
    # Only the scanned page was read: the recogniser saw exactly what it sees for a PDF of
    # that scan alone (its cells, plus any lines read to tell which way up it is).
    scanned_pdf(tmp_path / "scan.pdf", [scan])
    alone = fakes.BlobRecognizer()
    pipeline.Pipeline(alone).convert_file(tmp_path / "scan.pdf")
    assert len(alone.counts) >= 9  # 8 cells with ink, one of them on two lines
    assert recognizer.counts == alone.counts
    assert pipeline.summarize([first, second]).text_layer_pages == [1]


def test_batch_takes_the_text_layer_option(tmp_path, capsys, no_ocr):
    src = tmp_path / "pdfs"
    src.mkdir()
    vector_pdf(src / "a.pdf")
    code, _, err = run(capsys, "batch", src, tmp_path / "out", "--format", "html")
    assert code == 0, err
    assert "<td>North</td>" in (tmp_path / "out" / "a.html").read_text()
    code, _, _ = run(capsys, "batch", src, tmp_path / "out2", "--text-layer", "never")
    assert code == 1


def test_reread_after_a_grid_edit_uses_the_text_layer(tmp_path):
    vector_pdf(tmp_path / "v.pdf")
    [result] = pipeline.Pipeline(FailingRecognizer()).convert_file(tmp_path / "v.pdf")
    table = result.tables[0]
    south, value = (next(c for c in table.cells if c.row == 3 and c.col == k) for k in (0, 1))
    south.bbox = (south.bbox[0], south.bbox[1], value.bbox[2], south.bbox[3])  # merged by hand
    pipeline.Pipeline(FailingRecognizer()).reread_cells(result, [south])
    assert south.text == "South-East 15 Mar 2024" and south.confidence == 1.0
