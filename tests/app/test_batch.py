"""app.batch: tasks, executors (serial, processes, any futures executor), crashes, planning."""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import pickle

import openpyxl
import pytest

from app import journal, recognizers
from app.batch import plan_tasks, run_batch
from app.executors import FuturesExecutor, SerialExecutor
from app.inputs import find_inputs
from app.recognizers import ModelLoadError
from app.task import Task, convert_one
from table.export import ExportOptions
from tests.app import fakes
from tests.app.fakes import standard_scan, table_of, write_scan


def folder(tmp_path, n: int = 4):
    src = tmp_path / "scans"
    for i in range(n):
        write_scan(src / f"p{i}.png", [table_of([["1", "2"], ["3", str(4 + i)]])])
    return src


def statuses(report):
    return [(r.file, r.status) for r in report.rows]


def test_task_and_convert_one_travel_by_pickle(tmp_path):
    task = Task(source=str(standard_scan(tmp_path / "a.png")), file="a.png",
                output=str(tmp_path / "out" / "a.xlsx"), options=ExportOptions(highlight_below=0.5),
                recognizer_factory=fakes.blob_factory)
    clone = pickle.loads(pickle.dumps(task))
    assert clone == task
    assert pickle.loads(pickle.dumps(convert_one)) is convert_one
    row = convert_one(clone)
    assert (row.status, row.tables, row.cells) == ("ok", 1, 9)
    assert pickle.loads(pickle.dumps(row)) == row


def test_recognizer_is_loaded_once_per_process(tmp_path, monkeypatch):
    loads = []

    def counting_factory(model, device):
        loads.append((model, device))
        return fakes.BlobRecognizer()

    monkeypatch.setattr(recognizers, "_RECOGNIZER", recognizers.RecognizerCache())
    report = run_batch(folder(tmp_path, 3), tmp_path / "out", recognizer_factory=counting_factory,
                       model=None, device="cpu")
    assert [s for _, s in statuses(report)] == ["ok"] * 3
    assert loads == [(None, "cpu")]


def test_process_workers_give_the_serial_result(tmp_path):
    src = folder(tmp_path, 4)
    serial = run_batch(src, tmp_path / "serial", recognizer_factory=fakes.blob_factory)
    parallel = run_batch(src, tmp_path / "parallel", workers=2, recognizer_factory=fakes.blob_factory)
    assert statuses(parallel) == statuses(serial) == [(f"p{i}.png", "ok") for i in range(4)]
    for i in range(4):
        a = openpyxl.load_workbook(tmp_path / "serial" / f"p{i}.xlsx").active
        b = openpyxl.load_workbook(tmp_path / "parallel" / f"p{i}.xlsx").active
        assert [[c.value for c in r] for r in a.iter_rows()] == [[c.value for c in r] for r in b.iter_rows()]
    assert openpyxl.load_workbook(tmp_path / "parallel" / "p2.xlsx").active["B2"].value == 1000  # "$1,000"


def test_a_worker_crash_costs_only_its_file(tmp_path):
    src = folder(tmp_path, 3)
    write_scan(src / "p1.png", [table_of([["1", "9"]])])  # 9 blobs: the fake kills its worker
    report = run_batch(src, tmp_path / "out", workers=2, recognizer_factory=fakes.crashing_factory)
    assert statuses(report) == [("p0.png", "ok"), ("p1.png", "failed"), ("p2.png", "ok")]
    assert "worker process died" in report.failed[0].error
    assert sorted(p.name for p in (tmp_path / "out").glob("*.xlsx")) == ["p0.xlsx", "p2.xlsx"]


def test_any_futures_executor_plugs_in(tmp_path):
    # What a Dask client does: submit(fn, task) -> future; as_completed(futures).
    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=2, mp_context=ctx) as pool:
        report = run_batch(folder(tmp_path, 3), tmp_path / "out",
                           executor=FuturesExecutor(pool, cf.as_completed),
                           recognizer_factory=fakes.blob_factory)
    assert statuses(report) == [(f"p{i}.png", "ok") for i in range(3)]
    assert report.report_csv.exists() and report.report_json.exists()


def test_model_load_failure_stops_the_batch(tmp_path, monkeypatch):
    def broken(model, device):
        raise FileNotFoundError("weights missing")

    monkeypatch.setattr(recognizers, "_RECOGNIZER", recognizers.RecognizerCache())
    with pytest.raises(ModelLoadError, match="cannot load m1: FileNotFoundError: weights missing"):
        run_batch(folder(tmp_path, 2), tmp_path / "out", model="m1", recognizer_factory=broken)
    with pytest.raises(ModelLoadError):
        run_batch(folder(tmp_path, 2), tmp_path / "out2", model="m1", workers=2,
                  recognizer_factory=broken_in_worker)


def test_worker_processes_need_a_picklable_factory(tmp_path):
    with pytest.raises(ValueError, match="picklable"):
        run_batch(folder(tmp_path, 1), tmp_path / "out", workers=2,
                  recognizer_factory=lambda model, device: fakes.BlobRecognizer())


def broken_in_worker(model, device):
    raise OSError("no such model")


def test_serial_executor_passes_live_cell_progress(tmp_path, monkeypatch):
    monkeypatch.setattr(recognizers, "_RECOGNIZER", recognizers.RecognizerCache())
    cells, files = [], []
    run_batch(folder(tmp_path, 2), tmp_path / "out", executor=SerialExecutor(),
              recognizer_factory=fakes.blob_factory,
              progress=lambda row, done, total: files.append((row.file, done, total)),
              cell_progress=lambda done, total: cells.append((done, total)))
    assert files == [("p0.png", 1, 2), ("p1.png", 2, 2)]
    assert cells[-1] == (4, 4) and cells.count((4, 4)) == 2  # per file


def test_find_inputs_by_extension_or_content(tmp_path):
    src = tmp_path / "in"
    standard_scan(src / "a.PNG")
    write_scan(src / "no_extension", [table_of([["1", "2"]])], fmt="JPEG")
    (src / "readme.md").write_text("# not a scan")
    (src / ".hidden.png").write_bytes(b"x")
    standard_scan(src / ".cache" / "x.png")
    standard_scan(src / "deep" / "b.pdf.png")
    assert [p.name for p in find_inputs(src)] == ["a.PNG", "no_extension"]
    assert [p.relative_to(src).as_posix() for p in find_inputs(src, recursive=True)] == \
        ["a.PNG", "deep/b.pdf.png", "no_extension"]
    assert [p.name for p in find_inputs(src, recursive=True, exclude=[src / "deep"])] == \
        ["a.PNG", "no_extension"]


def test_plan_tasks_mirrors_the_tree_and_avoids_clashes(tmp_path):
    src = tmp_path / "in"
    standard_scan(src / "scan.png")
    write_scan(src / "scan.jpg", [table_of([["1", "2"]])], fmt="JPEG")
    standard_scan(src / "x" / "y.tiff")
    tasks = plan_tasks(src, tmp_path / "out", fmt="csv", recursive=True, dpi=200, beams=2)
    assert [(t.file, t.output) for t in tasks] == [
        ("scan.jpg", str(tmp_path / "out" / "scan_jpg.csv")),
        ("scan.png", str(tmp_path / "out" / "scan_png.csv")),
        ("x/y.tiff", str(tmp_path / "out" / "x" / "y.csv")),
    ]
    assert {(t.fmt, t.dpi, t.beams) for t in tasks} == {("csv", 200, 2)}
    with pytest.raises(ValueError, match="ods"):
        plan_tasks(src, tmp_path / "out", fmt="ods")


def test_journal_ignores_garbage_and_report_survives_interrupt(tmp_path, monkeypatch):
    monkeypatch.setattr(recognizers, "_RECOGNIZER", recognizers.RecognizerCache())
    src = folder(tmp_path, 3)
    out = tmp_path / "out"
    out.mkdir()
    (out / journal.JOURNAL_NAME).write_bytes(b"\xff\xfe not json\n{\"row\": 5}\n")

    def stop_after_first(row, done, total):
        if done == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_batch(src, out, resume=True, recognizer_factory=fakes.blob_factory, progress=stop_after_first)
    report = journal.Journal._read(out / journal.JOURNAL_NAME)
    assert list(report) == ["p0.png"]
    with open(out / journal.JOURNAL_NAME, "ab") as fh:
        fh.write(b'{"row": {"file": "p1.png", "sta')  # a kill in the middle of a line
    resumed = run_batch(src, out, resume=True, recognizer_factory=fakes.blob_factory)
    assert statuses(resumed) == [("p0.png", "skipped"), ("p1.png", "ok"), ("p2.png", "ok")]
    assert list(journal.Journal._read(out / journal.JOURNAL_NAME)) == ["p0.png", "p1.png", "p2.png"]
