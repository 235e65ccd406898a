"""The window's job runner: at most one Job of each kind ("load", "convert", "reread"),
run one at a time on a QThreadPool, with their results handed back on the GUI thread."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QThreadPool, Signal

from app.gui.worker import Job

LOADING = "Loading the text recogniser…"  # progress text while a job loads the model


class JobRunner(QObject):
    jobStarted = Signal()
    jobEnded = Signal()             # finished, failed or cancelled; the handler runs after
    progress = Signal(int, int, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        # One job at a time: the recogniser is used by one conversion or re-read at once.
        self.pool.setMaxThreadCount(1)
        self.jobs: dict[str, Job] = {}

    @property
    def busy(self) -> bool:
        return bool(self.jobs)

    def running(self, kind: str) -> bool:
        return kind in self.jobs

    def start(self, kind: str, job: Job, *, alive: Callable[[], bool] | None = None,
              on_finished=None, on_partial=None, on_failed=None, on_cancelled=None,
              on_retired: Callable[[], None] | None = None) -> Job:
        """Queue ``job`` as the current one of ``kind``.

        ``alive`` says whether results still matter (the document they belong to is
        still open); None delivers them always. ``on_retired`` runs as soon as the job
        stops being current, before jobEnded.
        """
        def delivered() -> bool:
            return alive is None or alive()

        def done(handler, *args) -> None:
            # A job replaced by a newer one of its kind (a second Open) reports nothing.
            current = self.jobs.get(kind) is job
            if current:
                del self.jobs[kind]
                if on_retired is not None:
                    on_retired()
            self.jobEnded.emit()
            if handler is not None and current and delivered():
                handler(*args)

        job.signals.progress.connect(self.progress)
        if on_partial is not None:
            job.signals.partial.connect(lambda value: on_partial(value) if delivered() else None)
        job.signals.finished.connect(lambda result: done(on_finished, result))
        job.signals.failed.connect(lambda reason: done(on_failed, reason))
        job.signals.cancelled.connect(lambda: done(on_cancelled))
        self.jobs[kind] = job
        self.jobStarted.emit()
        self.pool.start(job)
        return job

    def cancel_all(self) -> bool:
        """Ask every running job to stop (each reports back as cancelled); False if none."""
        for job in self.jobs.values():
            job.cancel()
        return bool(self.jobs)

    def wait(self, timeout_ms: int = 30000) -> bool:
        return self.pool.waitForDone(timeout_ms)
