"""A failed GUI job is logged with its traceback (app.logs + app.gui.worker)."""

from __future__ import annotations

from app import logs


def test_failed_gui_job_is_logged_with_its_traceback(tmp_path, monkeypatch, qtbot):
    monkeypatch.setenv("TABLESCRIBE_LOG_DIR", str(tmp_path / "logs"))
    from app.gui.worker import Job

    path = logs.configure_logging()

    def boom(ctx):
        raise RuntimeError("page 3 could not be read")

    job = Job("convert scan.png", boom)
    reasons = []
    job.signals.failed.connect(reasons.append)
    job.run()
    qtbot.waitUntil(lambda: bool(reasons))
    assert reasons == ["RuntimeError: page 3 could not be read"]
    text = path.read_text(encoding="utf-8")
    assert "convert scan.png failed: RuntimeError: page 3 could not be read" in text
    assert "Traceback (most recent call last)" in text and "in boom" in text
