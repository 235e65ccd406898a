"""The window on a born-digital PDF: read from the text layer (the status bar says so,
the recognizer is never asked) and exported as JSON, HTML or Markdown."""

from __future__ import annotations

import json

from PySide6.QtWidgets import QFileDialog

from app.gui.exporting import EXPORT_FILTERS
from tests.gui.conftest import open_and_convert
from tests.table.pdf_make import cells_of, vector_pdf


class FailingRecognizer:
    def recognize(self, crops, beams: int = 1):
        raise AssertionError("the recognizer was called")


def test_pdf_text_layer_in_the_window_and_export_formats(qtbot, make_window, tmp_path, monkeypatch):
    window = make_window(lambda m, d: FailingRecognizer())
    expected = vector_pdf(tmp_path / "report.pdf")
    doc = open_and_convert(qtbot, window, tmp_path / "report.pdf")
    assert [cells_of(t) for t in doc.tables()] == [expected["ruled"], expected["open"]]
    assert "text layer" in window.statusBar().currentMessage()
    for fmt in ("json", "html", "md"):
        target = tmp_path / f"out-{fmt}"  # no extension: the chosen filter gives it
        monkeypatch.setattr(QFileDialog, "getSaveFileName",
                            lambda *a, fmt=fmt, target=target, **k: (str(target), EXPORT_FILTERS[fmt]))
        assert window.export(ask=True)
        assert (tmp_path / f"out-{fmt}.{fmt}").exists()
    document = json.loads((tmp_path / "out-json.json").read_text(encoding="utf-8"))
    assert document["pages"][0]["tables"][0]["read_from"] == "text-layer"
    assert "<table>" in (tmp_path / "out-md.md").read_text(encoding="utf-8")  # spans: HTML in Markdown
