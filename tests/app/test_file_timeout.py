"""Per-file time limit and crash isolation of the local worker pool (app.executors):
a file that hangs and one that kills its worker, mixed with good files."""

from __future__ import annotations

import json

import pytest

from app import batch, cli
from app.batch import run_batch
from app.executors import ProcessExecutor, crash_reason
from app.report import BatchReport, ReportRow
from tests.app import fakes
from tests.app.fakes import table_of, write_scan

LIMIT = 20.0  # seconds: far above what a good file takes, even on a loaded machine


def mixed_folder(tmp_path, n_good: int = 4):
    src = tmp_path / "scans"
    for i in range(n_good):  # the cell of 3 + i blobs is this file's own: counted in the log
        write_scan(src / f"good{i}.png", [table_of([["1", "2"], [str(3 + i), "1"]])])
    write_scan(src / "hangs.png", [table_of([["1", "10"]])])
    write_scan(src / "kills.png", [table_of([["1", "9"]])])
    return src


@pytest.mark.parametrize("workers", [1, 2])
def test_hanging_and_crashing_files_are_reported_and_the_rest_convert_once(tmp_path, monkeypatch,
                                                                           workers):
    log = tmp_path / "crops.log"
    monkeypatch.setenv("FAKE_LOG", str(log))
    monkeypatch.setenv("FAKE_HANG_S", str(6 * LIMIT))  # without the limit: "ok", late
    src = mixed_folder(tmp_path)
    report = run_batch(src, tmp_path / "out", workers=workers, file_timeout=LIMIT,
                       recognizer_factory=fakes.troubled_factory)
    rows = {r.file: r for r in report.rows}
    assert {f: r.status for f, r in rows.items()} == {
        "good0.png": "ok", "good1.png": "ok", "good2.png": "ok", "good3.png": "ok",
        "hangs.png": "timeout", "kills.png": "failed"}
    assert f"time limit of {LIMIT:g} s" in rows["hangs.png"].error
    assert "worker process died" in rows["kills.png"].error and "SIGKILL" in rows["kills.png"].error
    assert sorted(p.name for p in (tmp_path / "out").glob("*.xlsx")) == [
        f"good{i}.xlsx" for i in range(4)]
    # Each good file was read exactly once: its own cell (3 + i blobs) was seen once.
    seen = [int(line.split()[1]) for line in log.read_text().splitlines()]
    assert [seen.count(3 + i) for i in range(4)] == [1, 1, 1, 1]
    assert (len(report.timed_out), len(report.failed), len(report.converted)) == (1, 1, 4)
    summary = json.loads(report.report_json.read_text())
    assert (summary["ok"], summary["failed"], summary["timeout"]) == (4, 1, 1)


def test_one_worker_runs_in_this_process_only_without_a_limit(tmp_path):
    src = mixed_folder(tmp_path, 1)
    in_process_only = lambda model, device: fakes.BlobRecognizer()
    report = run_batch(src, tmp_path / "out", workers=1, recognizer_factory=in_process_only)
    assert [r.status for r in report.rows] == ["ok"] * 3
    with pytest.raises(ValueError, match="picklable"):  # a limit needs worker processes
        run_batch(src, tmp_path / "out2", workers=1, file_timeout=5,
                  recognizer_factory=in_process_only)
    assert isinstance(ProcessExecutor(1, 0), ProcessExecutor) and ProcessExecutor(1, 0).file_timeout is None


def test_crash_reasons_name_the_signal_or_status():
    assert "killed by SIGKILL" in crash_reason(-9)
    assert "exit status 3" in crash_reason(3)


def test_cli_file_timeout_option_reaches_the_batch(tmp_path, monkeypatch, capsys):
    seen = {}

    def fake_run_batch(*args, **kwargs):
        seen.update(kwargs)
        row = ReportRow("slow.png", "timeout", error="took longer than the time limit")
        return BatchReport([row], tmp_path / "r.csv", tmp_path / "r.json")

    monkeypatch.setattr(batch, "run_batch", fake_run_batch)
    (tmp_path / "in").mkdir()
    monkeypatch.delenv("TABLESCRIBE_FILE_TIMEOUT", raising=False)
    assert cli.main(["batch", str(tmp_path / "in"), str(tmp_path / "out")]) == 1
    assert seen["file_timeout"] == cli.DEFAULT_FILE_TIMEOUT == 300
    assert "1 file(s): 0 converted, 0 failed, 1 timed out" in capsys.readouterr().out
    assert cli.main(["batch", str(tmp_path / "in"), str(tmp_path / "out"), "--file-timeout", "0"]) == 1
    assert seen["file_timeout"] == 0
    monkeypatch.setenv("TABLESCRIBE_FILE_TIMEOUT", "12.5")
    cli.main(["batch", str(tmp_path / "in"), str(tmp_path / "out")])
    assert seen["file_timeout"] == 12.5
    with pytest.raises(SystemExit):
        cli.main(["batch", "in", "out", "--file-timeout", "-1"])
