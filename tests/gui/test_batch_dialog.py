"""The batch dialog runs app.batch.run_batch over a folder, file by file."""

from __future__ import annotations

import json

from PIL import Image

from app.batch import ReportRow
from app.gui.batch_dialog import BatchDialog
from tests.gui.helpers import DPI, long_table_page
from tests.table.render import merged_spec, render_page


def make_folder(tmp_path, n_good=2, corrupt=True):
    folder = tmp_path / "scans"
    folder.mkdir()
    pages = [render_page([merged_spec()], dpi=DPI), long_table_page(n_rows=8, seed=3),
             long_table_page(n_rows=6, seed=5)]
    for i in range(n_good):
        Image.fromarray(pages[i].image).save(folder / f"scan{i + 1}.png", dpi=(DPI, DPI))
    if corrupt:
        (folder / "torn.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 40)
    return folder


def test_batch_converts_a_folder_and_shows_the_report(qtbot, settings, recognizer, tmp_path):
    folder = make_folder(tmp_path)
    out = tmp_path / "out"
    dialog = BatchDialog(settings, folder=folder, recognizer_factory=lambda m, d: recognizer)
    qtbot.addWidget(dialog)
    dialog.out_edit.setText(str(out))
    done = []
    dialog.fileDone.connect(lambda name, status: done.append((name, status)))
    with qtbot.waitSignal(dialog.batchFinished, timeout=120_000) as finished:
        assert dialog.start()
    report = finished.args[0]
    assert sorted(done) == [("scan1.png", "ok"), ("scan2.png", "ok"), ("torn.jpg", "failed")]
    assert [r.status for r in report.rows] == ["ok", "ok", "failed"]
    assert (out / "scan1.xlsx").is_file() and (out / "scan2.xlsx").is_file()
    statuses = [dialog.model.text(i, 1) for i in range(dialog.model.rowCount())]
    assert statuses == ["converted", "converted", "failed"]
    assert "torn.jpg" in dialog.model.text(2, 5)  # the reason names the file
    assert "2 converted, 1 failed" in dialog.summary.text()
    assert report.report_csv.is_file()
    assert dialog.files_bar.value() == 3 and dialog.start_button.isEnabled()


def test_batch_refuses_a_missing_folder(qtbot, settings, tmp_path):
    dialog = BatchDialog(settings, folder=tmp_path / "missing")
    qtbot.addWidget(dialog)
    assert not dialog.start()
    assert "is not a folder" in dialog.summary.text()
    empty = tmp_path / "empty"
    empty.mkdir()
    dialog.in_edit.setText(str(empty))
    assert not dialog.start()
    assert "No scans" in dialog.summary.text()


def test_cancel_stops_the_batch_and_resume_goes_on(qtbot, settings, recognizer, gated, tmp_path):
    folder = make_folder(tmp_path, n_good=3, corrupt=False)
    out = tmp_path / "out"
    dialog = BatchDialog(settings, folder=folder, recognizer_factory=lambda m, d: gated)
    qtbot.addWidget(dialog)
    dialog.out_edit.setText(str(out))
    with qtbot.waitSignal(dialog.batchFinished, timeout=120_000) as finished:
        dialog.start()
        qtbot.waitUntil(lambda: gated.batches >= 2, timeout=60_000)  # inside file 2
        assert dialog.cancel_button.isEnabled()
        dialog.cancel_button.click()
        gated.gate.set()
    assert finished.args[0] is None
    assert "Cancelled" in dialog.summary.text()
    data = json.loads((out / "tablescribe-report.json").read_text(encoding="utf-8"))
    assert data["interrupted"] and data["ok"] == 1
    assert [dialog.model.text(i, 1) for i in range(3)] == [
        "converted", "not converted (cancelled)", "not converted (cancelled)"]
    # Resuming skips the converted file and converts the rest.
    dialog.resume.setChecked(True)
    with qtbot.waitSignal(dialog.batchFinished, timeout=120_000) as finished:
        dialog.start()
    report = finished.args[0]
    assert [r.status for r in report.rows] == ["skipped", "ok", "ok"]


def test_ten_thousand_files_cost_one_row_each_per_event(qtbot, settings):
    """Each event touches its own row through the name index, and finding the file being
    converted never rescans the rows behind it: row visits stay linear in the count
    (a rescan per event, as the QTableWidget version did, makes ~n*n/2 = 50 million)."""
    n = 10_000
    dialog = BatchDialog(settings)
    qtbot.addWidget(dialog)
    dialog.show()
    names = [f"scans/{i:05d}.png" for i in range(n)]
    dialog._list_files(names)
    model = dialog.model
    changed_rows = []
    model.dataChanged.connect(lambda top, bottom: changed_rows.append(bottom.row() - top.row() + 1))
    status = {0: "failed", 1: "timeout", 2: "skipped"}
    for i, name in enumerate(names):
        dialog._on_cells(1, 4, "")
        dialog._on_cells(4, 4, "")
        row = ReportRow(name, status.get(i % 1000, "ok"), tables=1, cells=4, mean_confidence=0.9,
                        error="" if i % 1000 > 2 else f"{name}: why", outputs=[f"out/{i:05d}.xlsx"])
        dialog._on_file_done((row, i + 1, n))
        if i == n // 2:  # halfway: the next file is shown converting, the rest wait
            assert model.status(i + 1) == "converting…" and model.status(i + 2) == "waiting"
    assert model.rowCount() == n
    assert all(rows == 1 for rows in changed_rows)  # never a whole-table refresh per event
    events = 3 * n
    assert model.rows_visited <= events + n  # one look per event, each row passed once
    assert model.status(n - 1) == "converted" and model.text(n - 1, 5) == "09999.xlsx"
    assert model.status(1) == "timed out" and model.text(1, 5) == "scans/00001.png: why"
    assert sum(model.status(i) == "failed" for i in range(n)) == 10
    assert model.row_of("scans/04321.png") == 4321 and model.row_of("elsewhere.png") is None
    # A file the list did not have (found after the list was made) gets a row of its own.
    dialog._on_file_done((ReportRow("late.png", "ok"), n + 1, n + 1))
    assert model.rowCount() == n + 1 and model.text(n, 0) == "late.png"
