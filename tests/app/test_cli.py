"""The tablescribe command: convert, batch, report, resume, bad files, unwritable output."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from app import cli
from app.journal import JOURNAL_NAME
from app.report import REPORT_CSV, REPORT_JSON
from tests.app.fakes import TEXTS, expected_text, standard_scan, table_of, write_scan

REPO = Path(__file__).resolve().parents[2]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def corrupt_png(path: Path) -> Path:
    path.write_bytes(standard_scan(path.with_suffix(".tmp.png")).read_bytes()[:400])
    path.with_suffix(".tmp.png").unlink()
    return path


def read_report_csv(out_dir: Path) -> list[dict[str, str]]:
    with open(out_dir / REPORT_CSV, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


# --------------------------------------------------------------------------- convert


def test_convert_to_xlsx_with_typed_cells(tmp_path, capsys, fake_model):
    scan = standard_scan(tmp_path / "scan.png")
    code, out, err = run(capsys, "convert", scan, "-o", tmp_path / "scan.xlsx")
    assert code == 0, err
    assert "scan.xlsx" in out and "1 table" in out and "9 cells" in out
    ws = openpyxl.load_workbook(tmp_path / "scan.xlsx").active
    assert ws["A1"].value == TEXTS[1]
    assert (ws["B1"].value, ws["B1"].number_format) == (1234.5, "#,##0.00")
    assert ws["C1"].value.date() == dt.date(2024, 3, 15)
    assert (ws["A2"].value, ws["A2"].data_type) == ("007", "s")
    assert (ws["B3"].value, ws["B3"].data_type) == ("=SUM(A1:A3)", "s")
    assert ws["C3"].value == expected_text("2/8")


def test_convert_csv_and_highlight_options(tmp_path, capsys, fake_model):
    page = write_scan(tmp_path / "two.png", [table_of([["1", "2"]]), table_of([["12", "3"]])])
    code, _, err = run(capsys, "convert", page, "-o", tmp_path / "two.csv", "--bom")
    assert code == 0, err
    assert (tmp_path / "two.csv").read_bytes() == b"\xef\xbb\xbfItem,\"1,234.50\"\r\n"
    assert (tmp_path / "two_table2.csv").read_bytes().decode("utf-8-sig") == "0.5,15 Mar 2024\r\n"
    code, _, err = run(capsys, "convert", page, "-o", tmp_path / "two.xlsx", "--highlight-below", "0.8")
    assert code == 0, err
    wb = openpyxl.load_workbook(tmp_path / "two.xlsx")
    assert wb.sheetnames == ["Table 1", "Table 2"]
    low = wb["Table 2"]["A1"]  # 12 blobs read with confidence 0.7
    assert low.fill.fill_type == "solid" and "70%" in low.comment.text
    assert wb["Table 1"]["A1"].comment is None


def test_convert_several_inputs_into_a_folder_or_one_workbook(tmp_path, capsys, fake_model):
    a = standard_scan(tmp_path / "a.png")
    b = write_scan(tmp_path / "b.jpg", [table_of([["9", "11"]])], fmt="JPEG")
    code, _, err = run(capsys, "convert", a, b, "-o", str(tmp_path / "out") + "/", "--format", "csv")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.csv", "b.csv"]
    assert (tmp_path / "out" / "b.csv").read_bytes().decode() == "North,Total\r\n"
    code, _, err = run(capsys, "convert", a, b, "-o", tmp_path / "both.xlsx")
    assert code == 0, err
    assert openpyxl.load_workbook(tmp_path / "both.xlsx").sheetnames == ["a Table 1", "b Table 1"]


def test_convert_reads_the_format_from_the_content(tmp_path, capsys, fake_model):
    jpeg_named_png = write_scan(tmp_path / "photo.png", [table_of([["9", "11"]])], fmt="JPEG")
    code, _, err = run(capsys, "convert", jpeg_named_png, "-o", tmp_path / "photo.csv")
    assert code == 0, err
    assert (tmp_path / "photo.csv").read_bytes().decode() == "North,Total\r\n"


def test_convert_never_overwrites_the_input(tmp_path, capsys, fake_model):
    scan = standard_scan(tmp_path / "scan.png")
    before = scan.read_bytes()
    code, _, err = run(capsys, "convert", scan, "-o", scan)
    assert code == 1
    assert err.strip() == f"tablescribe: {scan}: is the input being converted; refusing to overwrite it"
    assert scan.read_bytes() == before


def test_convert_bad_inputs_give_one_line_each(tmp_path, capsys, fake_model):
    good = standard_scan(tmp_path / "good.png")
    bad = corrupt_png(tmp_path / "bad.png")
    code, _, err = run(capsys, "convert", good, bad, "-o", str(tmp_path / "out") + "/")
    assert code == 1
    [line] = err.strip().splitlines()
    assert line.startswith(f"tablescribe: {bad}: ") and "Traceback" not in err
    assert (tmp_path / "out" / "good.xlsx").exists() and not (tmp_path / "out" / "bad.xlsx").exists()
    # Into one workbook: nothing is written when an input failed.
    code, _, err = run(capsys, "convert", good, bad, "-o", tmp_path / "both.xlsx")
    assert code == 1 and "not written" in err and not (tmp_path / "both.xlsx").exists()
    code, _, err = run(capsys, "convert", tmp_path / "missing.png", "-o", tmp_path / "m.xlsx")
    assert code == 1 and err.strip() == f"tablescribe: {tmp_path / 'missing.png'}: file not found"


def test_convert_unwritable_output(tmp_path, capsys, fake_model):
    scan = standard_scan(tmp_path / "scan.png")
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    code, _, err = run(capsys, "convert", scan, "-o", blocker / "scan.xlsx")
    assert code == 1
    assert err.strip().startswith(f"tablescribe: {blocker / 'scan.xlsx'}: cannot be created")


def test_usage_errors_exit_2(tmp_path, capsys, fake_model):
    scan = standard_scan(tmp_path / "scan.png")
    code, _, err = run(capsys, "convert", scan, "-o", tmp_path / "x.csv", "--format", "xlsx")
    assert code == 2 and "extension says csv but --format says xlsx" in err
    with pytest.raises(SystemExit) as exit_:
        cli.main(["convert", str(scan)])  # no -o
    assert exit_.value.code == 2
    with pytest.raises(SystemExit):
        cli.main(["batch", "in", "out", "--workers", "0"])


def test_model_that_cannot_be_loaded_is_one_line(tmp_path, capsys):
    scan = standard_scan(tmp_path / "scan.png")
    code, _, err = run(capsys, "convert", scan, "-o", tmp_path / "x.xlsx", "--model", tmp_path / "no-model")
    assert code == 1
    [line] = err.strip().splitlines()
    assert line.startswith(f"tablescribe: cannot load {tmp_path / 'no-model'}: ")


def test_model_download_offline_reports_why(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    code, _, err = run(capsys, "model", "download", "microsoft/trocr-small-printed")
    assert code == 1
    [line] = err.strip().splitlines()
    assert "microsoft/trocr-small-printed" in line and "HF_HUB_OFFLINE" in line


def test_gui_command_opens_the_window_with_the_file(monkeypatch, capsys):
    import app.gui.main

    opened = []
    monkeypatch.setattr(app.gui.main, "main", lambda argv=None: opened.append(argv) or 0)
    assert cli.main(["gui", "scan.png"]) == 0 and cli.main(["gui"]) == 0
    assert cli.main(["--verbose", "gui", "scan.png"]) == 0  # the window logs verbosely too
    assert opened == [["scan.png"], [], ["--verbose", "scan.png"]]


def test_python_dash_m_app_and_version():
    out = subprocess.run([sys.executable, "-m", "app", "--version"], cwd=REPO, capture_output=True,
                         text=True, timeout=120, check=False)
    assert out.returncode == 0 and out.stdout.startswith("tablescribe ")


# --------------------------------------------------------------------------- batch


def make_folder(root: Path) -> Path:
    src = root / "scans"
    standard_scan(src / "a.png")
    write_scan(src / "b.tif", [table_of([["9", "11"]])], fmt="TIFF")
    write_scan(src / "sub" / "c.png", [table_of([["1"], ["12"]])])
    corrupt_png(src / "broken.png")
    (src / "empty.jpg").write_bytes(b"")
    (src / "notes.txt").write_text("not a scan")
    return src


def test_batch_converts_a_tree_and_reports(tmp_path, capsys, fake_model):
    src = make_folder(tmp_path)
    out = tmp_path / "out"
    code, stdout, err = run(capsys, "batch", src, out, "--recursive")
    assert code == 1  # two files failed
    assert "5 file(s): 3 converted, 2 failed" in stdout
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.xlsx")) == \
        ["a.xlsx", "b.xlsx", "sub/c.xlsx"]
    rows = {r["file"]: r for r in read_report_csv(out)}
    assert list(rows) == ["a.png", "b.tif", "broken.png", "empty.jpg", "sub/c.png"]
    assert rows["a.png"]["status"] == "ok" and rows["a.png"]["tables"] == "1"
    assert rows["a.png"]["cells"] == "9" and float(rows["a.png"]["mean_confidence"]) == pytest.approx(0.8875)
    assert rows["broken.png"]["status"] == "failed" and "broken.png" in rows["broken.png"]["error"]
    assert rows["empty.jpg"]["status"] == "failed" and "empty" in rows["empty.jpg"]["error"]
    assert float(rows["sub/c.png"]["seconds"]) >= 0
    report = json.loads((out / REPORT_JSON).read_text())
    assert (report["files"], report["ok"], report["failed"], report["skipped"]) == (5, 3, 2, 0)
    assert report["rows"][0]["outputs"] == [str(out / "a.xlsx")]
    assert "failed: broken.png:" in err and "failed: empty.jpg:" in err
    ws = openpyxl.load_workbook(out / "sub" / "c.xlsx").active
    assert (ws["A1"].value, ws["A2"].value) == (TEXTS[1], 0.5)


def test_batch_csv_not_recursive(tmp_path, capsys, fake_model):
    src = tmp_path / "scans"
    write_scan(src / "two.png", [table_of([["1", "2"]]), table_of([["9", "11"]])])
    write_scan(src / "sub" / "skip.png", [table_of([["1", "2"]])])
    code, _, err = run(capsys, "batch", src, tmp_path / "out", "--format", "csv")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "out").glob("*.csv")) == \
        ["tablescribe-report.csv", "two.csv", "two_table2.csv"]
    assert not (tmp_path / "out" / "sub").exists()


def test_batch_output_inside_the_input_folder(tmp_path, capsys, fake_model):
    src = tmp_path / "scans"
    standard_scan(src / "a.png")
    code, _, err = run(capsys, "batch", src, src / "converted", "-r")
    assert code == 0, err
    code, stdout, _ = run(capsys, "batch", src, src / "converted", "-r")  # again: outputs are not inputs
    assert code == 0 and "1 file(s)" in stdout


def test_batch_without_scans_or_folder_fails(tmp_path, capsys, fake_model):
    (tmp_path / "empty").mkdir()
    code, _, err = run(capsys, "batch", tmp_path / "empty", tmp_path / "out")
    assert code == 1 and "no scans found" in err
    code, _, err = run(capsys, "batch", tmp_path / "nope", tmp_path / "out")
    assert code == 1 and "no such folder" in err


def test_batch_unwritable_output_folder(tmp_path, capsys, fake_model):
    src = tmp_path / "scans"
    standard_scan(src / "a.png")
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    code, _, err = run(capsys, "batch", src, blocker / "out")
    assert code == 1
    [line] = err.strip().splitlines()
    assert line.startswith(f"tablescribe: {blocker / 'out'}: cannot create the output folder")


def cli_with_fake_model(*argv, env_extra) -> subprocess.CompletedProcess:
    """Run the real CLI in a child process whose model is the interrupting fake."""
    code = ("import sys; from app import recognizers; from tests.app import fakes; "
            "recognizers.load_recognizer = fakes.interrupting_factory; "
            "from app.cli import main; sys.exit(main(sys.argv[1:]))")
    env = {**os.environ, "TABLESCRIBE_FILE_TIMEOUT": "0", **env_extra}  # in-process, as the fake is
    return subprocess.run([sys.executable, "-c", code, *map(str, argv)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize("how", ["ctrl-c", "kill"])
def test_batch_resume_after_an_interruption(tmp_path, how):
    src = tmp_path / "scans"
    for name in "abcde":
        standard_scan(src / f"{name}.png")
    out = tmp_path / "out"
    stop = {"FAKE_STOP_AFTER": "2", "FAKE_STOP": "kill" if how == "kill" else "interrupt"}
    first = cli_with_fake_model("batch", src, out, env_extra=stop)
    if how == "kill":
        assert first.returncode == -signal.SIGKILL
    else:
        assert first.returncode == 130 and "--resume" in first.stderr
        assert [r["file"] for r in read_report_csv(out)] == ["a.png", "b.png"]
    assert sorted(p.name for p in out.glob("*.xlsx")) == ["a.xlsx", "b.xlsx"]
    assert not list(out.glob(".*.part"))  # the file being written when it stopped left nothing
    # A kill can cut the journal's last line short: it must not matter.
    with open(out / JOURNAL_NAME, "a", encoding="utf-8") as fh:
        fh.write('{"row": {"file": "c.png", "sta')
    a_written = (out / "a.xlsx").stat().st_mtime_ns

    second = cli_with_fake_model("batch", src, out, "--resume", env_extra={})
    assert second.returncode == 0, second.stderr
    assert "5 file(s): 3 converted, 2 skipped (done earlier), 0 failed" in second.stdout
    rows = read_report_csv(out)
    assert [(r["file"], r["status"]) for r in rows] == [
        ("a.png", "skipped"), ("b.png", "skipped"), ("c.png", "ok"), ("d.png", "ok"), ("e.png", "ok")]
    assert rows[0]["cells"] == "9"  # numbers of the earlier run are kept
    assert (out / "a.xlsx").stat().st_mtime_ns == a_written  # not converted again
    assert sorted(p.name for p in out.glob("*.xlsx")) == [f"{n}.xlsx" for n in "abcde"]


def test_resume_redoes_changed_inputs_and_missing_outputs(tmp_path, capsys, fake_model):
    src = tmp_path / "scans"
    for name in "abc":
        standard_scan(src / f"{name}.png")
    out = tmp_path / "out"
    assert run(capsys, "batch", src, out)[0] == 0
    write_scan(src / "b.png", [table_of([["9", "11"]])])  # b changed
    (out / "c.xlsx").unlink()  # c's output lost
    code, stdout, _ = run(capsys, "batch", src, out, "--resume")
    assert code == 0 and "2 converted, 1 skipped" in stdout
    assert openpyxl.load_workbook(out / "b.xlsx").active["A1"].value == TEXTS[9]
    # Without --resume everything is converted again.
    code, stdout, _ = run(capsys, "batch", src, out)
    assert "3 converted" in stdout
    # Failed files are tried again on resume.
    corrupt_png(src / "d.png")
    run(capsys, "batch", src, out)
    code, stdout, _ = run(capsys, "batch", src, out, "--resume")
    assert code == 1 and "3 skipped (done earlier), 1 failed" in stdout
