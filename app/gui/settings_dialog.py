"""Preferences dialog: model, device, review threshold, export options, PDF resolution."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.gui.settings import DEVICES, EXPORT_FORMATS, AppSettings
from app.gui.theme import THEMES


def model_folder_problem(folder: str) -> str | None:
    """Why ``folder`` cannot be a model folder, or None when it looks like one."""
    if not folder:
        return "choose the model folder"
    path = Path(folder)
    if not path.is_dir():
        return f"{folder} is not a folder"
    if not (path / "config.json").is_file():
        return f"{folder} has no config.json (not a model folder)"
    if not any((path / name).is_file() for name in ("model.safetensors", "pytorch_model.bin")):
        return f"{folder} has no model.safetensors or pytorch_model.bin"
    return None


class SettingsDialog(QDialog):
    def __init__(self, settings: AppSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings — tablescribe")
        self.settings = settings

        # -- recogniser model --
        model_box = QGroupBox("Text recogniser")
        self.embedded = QRadioButton("Embedded default model")
        self.folder = QRadioButton("Model folder:")
        self.hub = QRadioButton("Hugging Face model id:")
        self.source_group = QButtonGroup(self)
        for button in (self.embedded, self.folder, self.hub):
            self.source_group.addButton(button)
        self.folder_edit = QLineEdit(settings.model_folder)
        self.folder_edit.setPlaceholderText(
            "/path/to/model (config.json, model.safetensors, tokenizer)")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_folder)
        self.hub_edit = QLineEdit(settings.model_hub_id)
        self.hub_edit.setPlaceholderText("e.g. microsoft/trocr-small-printed")
        self.hub_edit.setToolTip("A model fetched beforehand with: tablescribe model download ID")
        self.device = QComboBox()
        self.device.addItems(["Automatic (GPU when available)", "CPU", "CUDA GPU"])
        self.device.setCurrentIndex(DEVICES.index(settings.device))
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder)
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(browse)
        hub_row = QHBoxLayout()
        hub_row.addWidget(self.hub)
        hub_row.addWidget(self.hub_edit, 1)
        device_row = QHBoxLayout()
        device_row.addWidget(QLabel("Run on:"))
        device_row.addWidget(self.device, 1)
        model_layout = QVBoxLayout(model_box)
        model_layout.addWidget(self.embedded)
        model_layout.addLayout(folder_row)
        model_layout.addLayout(hub_row)
        model_layout.addLayout(device_row)
        {"embedded": self.embedded, "folder": self.folder, "hub": self.hub}[
            settings.model_source].setChecked(True)

        # -- review and input --
        review_box = QGroupBox("Review")
        self.threshold = QSpinBox()
        self.threshold.setRange(0, 100)
        self.threshold.setSuffix(" %")
        self.threshold.setValue(round(settings.threshold * 100))
        self.threshold.setToolTip("Cells read with less confidence are highlighted for checking")
        self.dpi = QSpinBox()
        self.dpi.setRange(72, 600)
        self.dpi.setSingleStep(50)
        self.dpi.setSuffix(" dpi")
        self.dpi.setValue(settings.pdf_dpi)
        self.convert_on_open = QCheckBox("Convert as soon as a file is opened")
        self.convert_on_open.setChecked(settings.convert_on_open)
        self.theme = QComboBox()
        self.theme.addItems([t.capitalize() for t in THEMES])
        self.theme.setCurrentIndex(THEMES.index(settings.theme))
        review_form = QFormLayout(review_box)
        review_form.addRow("Highlight cells below:", self.threshold)
        review_form.addRow("PDF pages rendered at:", self.dpi)
        review_form.addRow("", self.convert_on_open)
        review_form.addRow("Theme:", self.theme)

        # -- export --
        export_box = QGroupBox("Export")
        self.export_format = QComboBox()
        self.export_format.addItems(["Excel workbook (.xlsx)", "CSV (.csv)", "JSON (.json)",
                                      "HTML (.html)", "Markdown (.md)"])
        self.export_format.setCurrentIndex(EXPORT_FORMATS.index(settings.export_format))
        self.highlight = QCheckBox("Highlight low-confidence cells in the workbook")
        self.highlight.setChecked(settings.export_highlight)
        self.comments = QCheckBox("Add a comment with the confidence to those cells")
        self.comments.setChecked(settings.export_comments)
        self.bom = QCheckBox("Start CSV files with a byte-order mark (for Excel on Windows)")
        self.bom.setChecked(settings.csv_bom)
        export_form = QFormLayout(export_box)
        export_form.addRow("Default format:", self.export_format)
        export_form.addRow("", self.highlight)
        export_form.addRow("", self.comments)
        export_form.addRow("", self.bom)

        self.problem = QLabel()
        self.problem.setStyleSheet("color: #d9413b;")
        self.problem.setWordWrap(True)
        self.problem.hide()
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(model_box)
        layout.addWidget(review_box)
        layout.addWidget(export_box)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)
        self.source_group.buttonToggled.connect(self._update_enabled)
        self._update_enabled()
        self.setMinimumWidth(560)

    def _update_enabled(self, *_args) -> None:
        self.folder_edit.setEnabled(self.folder.isChecked())
        self.hub_edit.setEnabled(self.hub.isChecked())

    def _browse_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Model folder", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)
            self.folder.setChecked(True)

    def source(self) -> str:
        if self.folder.isChecked():
            return "folder"
        if self.hub.isChecked():
            return "hub"
        return "embedded"

    def validation_problem(self) -> str | None:
        if self.source() == "folder":
            return model_folder_problem(self.folder_edit.text().strip())
        if self.source() == "hub" and "/" not in self.hub_edit.text().strip():
            return "a hub model id looks like owner/name"
        return None

    def accept(self) -> None:
        problem = self.validation_problem()
        if problem:
            self.problem.setText(problem)
            self.problem.show()
            return
        self.apply()
        super().accept()

    def apply(self) -> None:
        s = self.settings
        s.model_source = self.source()
        s.model_folder = self.folder_edit.text().strip()
        s.model_hub_id = self.hub_edit.text().strip()
        s.device = DEVICES[self.device.currentIndex()]
        s.threshold = self.threshold.value() / 100.0
        s.pdf_dpi = self.dpi.value()
        s.convert_on_open = self.convert_on_open.isChecked()
        s.theme = THEMES[self.theme.currentIndex()]
        s.export_format = EXPORT_FORMATS[self.export_format.currentIndex()]
        s.export_highlight = self.highlight.isChecked()
        s.export_comments = self.comments.isChecked()
        s.csv_bom = self.bom.isChecked()
        s.sync()

