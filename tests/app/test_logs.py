"""app.logs: the rotating log file with tracebacks, the CLI's one line (--verbose adds the
traceback), and the helper behind Help -> Open log folder (the GUI job's failure in the log:
tests/gui/test_logs_gui.py)."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

import pytest

from app import cli, logs
from tests.app.fakes import standard_scan


@pytest.fixture
def log_folder(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "logs"
    monkeypatch.setenv("TABLESCRIBE_LOG_DIR", str(folder))
    return folder


def test_log_dir_is_the_platform_user_log_folder(monkeypatch):
    from platformdirs import user_log_dir
    monkeypatch.delenv("TABLESCRIBE_LOG_DIR", raising=False)
    assert logs.log_dir() == Path(user_log_dir("tablescribe", appauthor=False))


def test_configure_writes_a_rotating_file_with_tracebacks(log_folder):
    path = logs.configure_logging()
    logs.configure_logging()  # again: the handlers are replaced, not doubled
    assert path == log_folder / "tablescribe.log"
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_tablescribe_handler", False)]
    [rotating] = [h for h in ours if isinstance(h, logging.handlers.RotatingFileHandler)]
    assert len(ours) == 2 and rotating.maxBytes > 0 and rotating.backupCount > 0
    try:
        raise ValueError("the cause")
    except ValueError:
        logging.getLogger("app.somewhere").exception("it went wrong")
    logging.getLogger("app.somewhere").debug("not without verbose")
    text = path.read_text(encoding="utf-8")
    assert text.count("it went wrong") == 1
    assert "Traceback (most recent call last)" in text and "ValueError: the cause" in text
    assert "not without verbose" not in text


def test_verbose_logs_debug_of_our_modules_only(log_folder):
    path = logs.configure_logging(verbose=True)
    logging.getLogger("ocr.generate").debug("ours")
    logging.getLogger("numba.core").debug("compiler chatter")
    text = path.read_text(encoding="utf-8")
    assert "ours" in text and "compiler chatter" not in text


def test_unwritable_log_folder_is_one_line_not_a_crash(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("TABLESCRIBE_LOG_DIR", str(blocker / "logs"))
    assert logs.configure_logging() is None
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("tablescribe: no log file: cannot write ")


def _failing_convert(tmp_path, capsys, *flags: str) -> tuple[int, str]:
    scan = standard_scan(tmp_path / "scan.png")
    code = cli.main([*flags, "convert", str(scan), "-o", str(tmp_path / "x.xlsx"),
                     "--model", str(tmp_path / "no-model")])
    return code, capsys.readouterr().err


def test_cli_failure_is_one_line_and_the_log_has_the_traceback(tmp_path, capsys, log_folder):
    code, err = _failing_convert(tmp_path, capsys)
    assert code == 1
    # One line, not repeated by the logging (a first start may add its "preparing" note).
    lines = err.strip().splitlines()
    assert lines[-1].startswith("tablescribe: cannot load ")
    assert sum("cannot load" in line for line in lines) == 1 and "Traceback" not in err
    text = (log_folder / "tablescribe.log").read_text(encoding="utf-8")
    assert "convert failed" in text and "Traceback (most recent call last)" in text


def test_cli_verbose_adds_the_traceback(tmp_path, capsys, log_folder):
    code, err = _failing_convert(tmp_path, capsys, "--verbose")
    assert code == 1
    assert "Traceback (most recent call last)" in err
    assert err.strip().splitlines()[-1].startswith("tablescribe: cannot load ")


def test_console_shows_warnings_one_line_but_not_file_only_records(log_folder, capsys):
    logs.configure_logging()
    logging.getLogger("app.x").warning("look\nhere")
    logging.getLogger("app.x").error("printed by the command", extra={"console": False})
    assert capsys.readouterr().err == "tablescribe: look here\n"


def test_open_log_folder_creates_it_and_hands_its_url_to_the_desktop(log_folder):
    seen = []
    assert logs.open_log_folder(lambda url: seen.append(url) or True) == log_folder
    assert log_folder.is_dir()
    [url] = seen
    assert url.isLocalFile() and Path(url.toLocalFile()) == log_folder
    with pytest.raises(OSError, match="could not open the log folder"):
        logs.open_log_folder(lambda url: False)
