"""Typed access to the persisted preferences (QSettings).

One property per preference, with its default and validation here, so the dialog,
the window and the tests all agree on keys and types.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

ORGANIZATION = "tablescribe"
APPLICATION = "tablescribe"

MODEL_SOURCES = ("embedded", "folder", "hub")
DEVICES = ("auto", "cpu", "cuda")
EXPORT_FORMATS = ("xlsx", "csv", "json", "html", "md")
MAX_RECENT = 10


def _as_bool(value, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _as_choice(value, choices: tuple[str, ...], default: str) -> str:
    return value if isinstance(value, str) and value in choices else default


class AppSettings:
    """Wraps a QSettings; pass one pointing at a file to keep tests away from the user's."""

    def __init__(self, qsettings: QSettings | None = None) -> None:
        self.q = qsettings if qsettings is not None else QSettings(ORGANIZATION, APPLICATION)

    def _get(self, key: str, default=None):
        return self.q.value(key, default)

    def _set(self, key: str, value) -> None:
        self.q.setValue(key, value)

    # -- model ---------------------------------------------------------------------------
    @property
    def model_source(self) -> str:
        return _as_choice(self._get("model/source"), MODEL_SOURCES, "embedded")

    @model_source.setter
    def model_source(self, value: str) -> None:
        if value not in MODEL_SOURCES:
            raise ValueError(f"model source must be one of {', '.join(MODEL_SOURCES)}")
        self._set("model/source", value)

    @property
    def model_folder(self) -> str:
        return str(self._get("model/folder", "") or "")

    @model_folder.setter
    def model_folder(self, value: str) -> None:
        self._set("model/folder", value)

    @property
    def model_hub_id(self) -> str:
        return str(self._get("model/hub_id", "") or "")

    @model_hub_id.setter
    def model_hub_id(self, value: str) -> None:
        self._set("model/hub_id", value.strip())

    def model_spec(self) -> str | None:
        """What app.recognizers.load_recognizer takes: None = the embedded default model."""
        if self.model_source == "folder" and self.model_folder:
            return self.model_folder
        if self.model_source == "hub" and self.model_hub_id:
            return self.model_hub_id
        return None

    @property
    def device(self) -> str:
        return _as_choice(self._get("model/device"), DEVICES, "auto")

    @device.setter
    def device(self, value: str) -> None:
        if value not in DEVICES:
            raise ValueError(f"device must be one of {', '.join(DEVICES)}")
        self._set("model/device", value)

    def device_spec(self) -> str | None:
        """What load_recognizer takes: None lets the engine pick (CUDA when present)."""
        return None if self.device == "auto" else self.device

    # -- learning from corrections ------------------------------------------------------
    @property
    def record_corrections(self) -> bool:
        return _as_bool(self._get("corrections/record"), True)

    @record_corrections.setter
    def record_corrections(self, value: bool) -> None:
        self._set("corrections/record", bool(value))

    @property
    def tune_minutes(self) -> float:
        try:
            return max(0.5, float(self._get("corrections/tune_minutes", 10)))
        except (TypeError, ValueError):
            return 10.0

    # -- review --------------------------------------------------------------------------
    @property
    def threshold(self) -> float:
        try:
            value = float(self._get("review/threshold", 0.8))
        except (TypeError, ValueError):
            return 0.8
        return min(1.0, max(0.0, value))

    @threshold.setter
    def threshold(self, value: float) -> None:
        self._set("review/threshold", float(min(1.0, max(0.0, value))))

    @property
    def convert_on_open(self) -> bool:
        return _as_bool(self._get("review/convert_on_open"), True)

    @convert_on_open.setter
    def convert_on_open(self, value: bool) -> None:
        self._set("review/convert_on_open", bool(value))

    # -- input ---------------------------------------------------------------------------
    @property
    def pdf_dpi(self) -> int:
        try:
            value = int(self._get("input/pdf_dpi", 300))
        except (TypeError, ValueError):
            return 300
        return min(600, max(72, value))

    @pdf_dpi.setter
    def pdf_dpi(self, value: int) -> None:
        self._set("input/pdf_dpi", int(min(600, max(72, value))))

    # -- export --------------------------------------------------------------------------
    @property
    def export_format(self) -> str:
        return _as_choice(self._get("export/format"), EXPORT_FORMATS, "xlsx")

    @export_format.setter
    def export_format(self, value: str) -> None:
        if value not in EXPORT_FORMATS:
            raise ValueError(f"export format must be one of {', '.join(EXPORT_FORMATS)}")
        self._set("export/format", value)

    @property
    def export_highlight(self) -> bool:
        return _as_bool(self._get("export/highlight"), True)

    @export_highlight.setter
    def export_highlight(self, value: bool) -> None:
        self._set("export/highlight", bool(value))

    @property
    def export_comments(self) -> bool:
        return _as_bool(self._get("export/comments"), True)

    @export_comments.setter
    def export_comments(self, value: bool) -> None:
        self._set("export/comments", bool(value))

    @property
    def csv_bom(self) -> bool:
        return _as_bool(self._get("export/csv_bom"), False)

    @csv_bom.setter
    def csv_bom(self, value: bool) -> None:
        self._set("export/csv_bom", bool(value))

    def export_options(self):
        """The exporter's options as the CLI would build them from the same preferences."""
        from table.export import ExportOptions

        return ExportOptions(highlight_below=self.threshold if self.export_highlight else None,
                             comments=self.export_comments, csv_bom=self.csv_bom)

    # -- appearance ----------------------------------------------------------------------
    @property
    def theme(self) -> str:
        from app.gui.theme import THEMES

        return _as_choice(self._get("ui/theme"), THEMES, "system")

    @theme.setter
    def theme(self, value: str) -> None:
        self._set("ui/theme", value)

    # -- recent files and places ----------------------------------------------------------
    @property
    def recent_files(self) -> list[str]:
        value = self._get("recent/files", [])
        if isinstance(value, str):  # QSettings flattens a one-item list to a string
            value = [value] if value else []
        return [str(v) for v in (value or []) if v]

    def add_recent(self, path: str | Path) -> None:
        path = str(Path(path).resolve())
        files = [f for f in self.recent_files if f != path]
        self._set("recent/files", ([path] + files)[:MAX_RECENT])

    def remove_recent(self, path: str | Path) -> None:
        path = str(Path(path).resolve())
        self._set("recent/files", [f for f in self.recent_files if f != path])

    def clear_recent(self) -> None:
        self._set("recent/files", [])

    @property
    def last_dir(self) -> str:
        return str(self._get("recent/last_dir", "") or "")

    @last_dir.setter
    def last_dir(self, value: str) -> None:
        self._set("recent/last_dir", value)

    # -- window ------------------------------------------------------------------------------
    def window_state(self) -> tuple[QByteArray | None, QByteArray | None]:
        geometry = self._get("window/geometry")
        state = self._get("window/state")
        return (geometry if isinstance(geometry, QByteArray) else None,
                state if isinstance(state, QByteArray) else None)

    def save_window_state(self, geometry: QByteArray, state: QByteArray) -> None:
        self._set("window/geometry", geometry)
        self._set("window/state", state)

    @property
    def splitter_state(self) -> QByteArray | None:
        value = self._get("window/splitter")
        return value if isinstance(value, QByteArray) else None

    @splitter_state.setter
    def splitter_state(self, value: QByteArray) -> None:
        self._set("window/splitter", value)

    def sync(self) -> None:
        self.q.sync()
