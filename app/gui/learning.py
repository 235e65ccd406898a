"""The window's Model menu: recording corrections, learning from them (a tuning job with
progress and Cancel), using the tuned model or going back to the embedded one."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMainWindow, QMenuBar

from app.corrections import CorrectionStore, model_identity
from app.gui.worker import Job, JobContext
from app.tuning import MIN_CORRECTIONS, TuneReport, tune_model


def models_dir() -> Path:
    """Where tuned models go: ``models`` in the user's data directory."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("tablescribe")) / "models"


class Learning(QObject):
    def __init__(self, window: QMainWindow, store: CorrectionStore | None = None) -> None:
        # ``window`` is the app.gui.main_window.MainWindow composing this part.
        super().__init__(window)
        self.w = window
        self.store = store or CorrectionStore()
        self.tune = tune_model  # what the job runs (a test may hand in a shorter run)
        self.output_root = models_dir
        self.last_report: TuneReport | None = None

    def model_id(self) -> str:
        """Which model read the crops now on screen."""
        rec = self.w.recognizers.current()
        folder = getattr(getattr(rec, "model", None), "folder", None)
        if folder is not None:
            return model_identity(folder)
        return self.w.settings.model_spec() or "embedded"

    # -- menu -------------------------------------------------------------------------------
    def build_menu(self, bar: QMenuBar) -> None:
        menu = bar.addMenu("&Model")
        self.act_record = QAction("&Record My Corrections", self, checkable=True)
        self.act_record.setChecked(self.w.settings.record_corrections)
        self.act_record.setStatusTip("Keep each corrected cell's crop and text to learn from")
        self.act_record.toggled.connect(self.set_recording)
        self.act_learn = QAction("&Learn from My Corrections…", self)
        self.act_learn.setStatusTip("Fine-tune a copy of the model on your corrections")
        self.act_learn.triggered.connect(self.learn)
        self.act_embedded = QAction("&Back to the Embedded Model", self)
        self.act_embedded.triggered.connect(self.back_to_embedded)
        self.act_clear = QAction("&Clear Corrections…", self)
        self.act_clear.triggered.connect(self.clear)
        for act in (self.act_record, None, self.act_learn, self.act_embedded, None, self.act_clear):
            menu.addSeparator() if act is None else menu.addAction(act)
        menu.aboutToShow.connect(self.update_actions)
        self.menu = menu
        self.update_actions()

    def update_actions(self) -> None:
        n = self.store.count()
        self.act_learn.setText(f"&Learn from My Corrections ({n})…")
        self.act_learn.setEnabled(n >= MIN_CORRECTIONS and not self.w.busy)
        self.act_clear.setEnabled(n > 0)
        self.act_embedded.setEnabled(self.w.settings.model_spec() is not None)

    def set_recording(self, on: bool) -> None:
        self.w.settings.record_corrections = on

    def clear(self) -> None:
        n = self.store.count()
        if n and self.w.ask_yes_no("Clear corrections",
                                   f"Delete the {n} recorded correction{'s' if n > 1 else ''} "
                                   f"in {self.store.folder}?"):
            self.store.clear()
            self.w.statusBar().showMessage(f"{n} corrections cleared", 5000)
        self.update_actions()

    def back_to_embedded(self) -> None:
        s = self.w.settings
        before = (s.model_spec(), s.device_spec(), s.theme)
        s.model_source = "embedded"
        self.w.apply_settings(before)
        self.w.statusBar().showMessage("Reading with the embedded model", 5000)
        self.update_actions()

    # -- learning -------------------------------------------------------------------------
    def learn(self) -> Job | None:
        w = self.w
        if w.busy:
            return None
        base = w.settings.model_spec()
        out = Path(self.output_root()) / f"tuned-{time.strftime('%Y%m%d-%H%M%S')}"
        folder, minutes, device = self.store.folder, w.settings.tune_minutes, w.settings.device_spec()
        tune = self.tune

        def run(ctx: JobContext) -> TuneReport:
            def progress(fraction: float, text: str) -> None:
                ctx.progress(round(1000 * fraction), 1000, text)

            resolved = base
            if base is not None and not Path(base).is_dir():
                from ocr.hub import resolve_model  # a downloaded hub id
                resolved = str(resolve_model(base))
            return tune(folder, out, base=resolved, minutes=minutes, device=device,
                        progress=progress, cancelled=ctx.cancel.is_set)

        def finished(report: TuneReport) -> None:
            self.last_report = report
            self.update_actions()
            if report.cancelled:
                w.statusBar().showMessage("Learning cancelled: the model is unchanged", 8000)
            elif not report.adopted:
                w.show_message("warning", f"The tuned model is not used: {report.reason}. "
                                          f"It was kept in {report.out} for reference.")
            elif w.ask_yes_no("Use the tuned model?",
                              f"Learning from your corrections worked: {report.reason}.\n\n"
                              f"Read with the tuned model from now on?"):
                s = w.settings
                before = (s.model_spec(), s.device_spec(), s.theme)
                s.model_folder, s.model_source = report.out, "folder"
                w.apply_settings(before)
                self.update_actions()

        def failed(reason: str) -> None:
            self.update_actions()
            w.show_message("error", f"Could not learn from the corrections: {reason}")

        return w.jobs.start("learn", Job("Learning from corrections", run), on_finished=finished,
                            on_failed=failed, on_cancelled=lambda: finished(TuneReport(
                                str(out), "", False, "cancelled", 0, 0, cancelled=True)))
