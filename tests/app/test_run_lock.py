"""One batch run per output folder (app.run_lock): the second run names the holder's PID,
exits non-zero and changes nothing; the lock goes with its process, however it ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from app.batch import run_batch
from app.journal import JOURNAL_NAME, journal_path
from app.run_lock import LOCK_NAME, FolderBusy, run_lock
from tests.app import fakes
from tests.app.fakes import standard_scan

REPO = Path(__file__).resolve().parents[2]

HOLD = ("import sys; from pathlib import Path; from app.run_lock import run_lock\n"
        "out = Path(sys.argv[1])\n"
        "with run_lock(out, out / '.tablescribe.lock'):\n"
        "    print('held', flush=True)\n"
        "    sys.stdin.read()\n")


def hold_in_another_process(out: Path) -> subprocess.Popen:
    child = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], cwd=REPO, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             env={**os.environ, "PYTHONPATH": str(REPO)})
    assert child.stdout.readline().strip() == "held"
    return child


def test_a_second_run_on_the_folder_is_refused_naming_the_holder(tmp_path, capsys, fake_model):
    from app import cli

    src, out = tmp_path / "scans", tmp_path / "out"
    standard_scan(src / "a.png")
    out.mkdir()
    (out / JOURNAL_NAME).write_text('{"earlier": "run"}\n')
    child = hold_in_another_process(out)
    try:
        code = cli.main(["batch", str(src), str(out)])
        err = capsys.readouterr().err
    finally:
        child.communicate("", timeout=60)
    assert code == 1
    [line] = err.strip().splitlines()
    assert line.startswith(f"tablescribe: {out}: another tablescribe run (PID {child.pid}")
    # It changed nothing: the journal was not truncated, nothing was converted.
    assert (out / JOURNAL_NAME).read_text() == '{"earlier": "run"}\n'
    assert not (out / "a.xlsx").exists()
    # The holder has finished: now the run goes ahead.
    assert cli.main(["batch", str(src), str(out)]) == 0
    assert (out / "a.xlsx").is_file()


def test_a_killed_holder_does_not_block_the_next_run(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    child = hold_in_another_process(out)
    with pytest.raises(FolderBusy, match=f"PID {child.pid}"), run_lock(out, out / LOCK_NAME):
        pass
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=60)
    with run_lock(out, out / LOCK_NAME):  # the OS let go of the lock with the process
        pass


def test_the_lock_is_held_for_the_whole_run_and_let_go_after(tmp_path):
    src, out = tmp_path / "scans", tmp_path / "out"
    standard_scan(src / "a.png")
    inside = []

    def progress(row, done, total):
        with pytest.raises(FolderBusy, match=f"PID {os.getpid()}"), run_lock(out, out / LOCK_NAME):
            pass
        inside.append(row.file)

    run_batch(src, out, recognizer_factory=fakes.blob_factory, progress=progress)
    assert inside == ["a.png"]
    with run_lock(out, out / LOCK_NAME):
        pass


def test_journal_folder_of_url_outputs_is_the_platform_cache(monkeypatch):
    from platformdirs import user_cache_dir
    monkeypatch.delenv("TABLESCRIBE_JOURNAL_DIR", raising=False)
    monkeypatch.delenv("TABLESCRIBE_CACHE_DIR", raising=False)  # the suite's own cache folder
    path = journal_path("s3://bucket/out")
    assert path.parent == Path(user_cache_dir("tablescribe", appauthor=False)) / "journals"
    monkeypatch.setenv("TABLESCRIBE_JOURNAL_DIR", "/somewhere")
    assert journal_path("s3://bucket/out").parent == Path("/somewhere")
