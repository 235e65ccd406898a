"""The resume journal of a batch: one JSON line per finished file, appended as files
finish (their outputs are already in place, written atomically).

``resume`` skips files the journal lists as converted whose input is unchanged and
whose outputs still exist; a line cut short by a kill is ignored, so the worst case
is converting one file again. The journal lives in OUT_DIR, except for a URL OUT_DIR
(object stores cannot append): then it is kept on the machine that runs the batch.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from app import locations
from app.report import REPORT_FIELDS, ReportRow
from app.task import Task
from table.export import ExportError

__all__ = ["JOURNAL_NAME", "Journal", "journal_path"]

JOURNAL_NAME = ".tablescribe-journal.jsonl"


def journal_path(out_root: Path | str) -> Path:
    """Where the journal of a batch writing to ``out_root`` lives on this machine.

    A local OUT_DIR holds its own journal. For a URL, a journal grows by one line per
    file and object stores cannot append: it is written on the client (which gathers
    the results) under the user's cache folder (platformdirs: ~/.cache/tablescribe/
    journals on Linux, ~/Library/Caches/tablescribe/journals on macOS,
    %LOCALAPPDATA%\\tablescribe\\Cache\\journals on Windows), one file per output URL
    (TABLESCRIBE_JOURNAL_DIR overrides the folder)."""
    if isinstance(out_root, Path):
        return out_root / JOURNAL_NAME
    folder = os.environ.get("TABLESCRIBE_JOURNAL_DIR")
    if not folder:
        from app.warmup import user_cache_dir  # the one user cache folder (platformdirs)
        folder = os.path.join(user_cache_dir(), "journals")
    digest = hashlib.sha256(out_root.rstrip("/").encode("utf-8")).hexdigest()[:24]
    return Path(folder) / f"{digest}.jsonl"


class Journal:
    """Append-only record of finished files, one JSON object per line."""

    def __init__(self, path: Path, fresh: bool) -> None:
        self.path = path
        self.entries: dict[str, dict] = {} if fresh else self._read(path)
        try:
            # Open for the whole batch: one line is appended per finished file.
            self._fh = open(path, "w" if fresh else "a", encoding="utf-8")  # noqa: SIM115
            if not fresh and self._fh.tell() > 0 and not path.read_bytes().endswith(b"\n"):
                self._fh.write("\n")  # end a line cut short, or the next entry joins it
        except OSError as exc:
            raise ExportError(path, f"cannot write the batch journal ({exc.strerror or exc})") from exc

    @staticmethod
    def _read(path: Path) -> dict[str, dict]:
        entries: dict[str, dict] = {}
        try:
            data = path.read_bytes()
        except OSError:
            return entries
        for line in data.splitlines():
            try:
                entry = json.loads(line.decode("utf-8"))
                entries[entry["row"]["file"]] = entry
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by a kill, or damaged: that file is redone
        return entries

    def finished(self, task: Task) -> ReportRow | None:
        """The row of an earlier run that already converted ``task``, if it did."""
        entry = self.entries.get(task.file)
        if not entry or entry.get("row", {}).get("status") != "ok":
            return None
        try:
            unchanged = entry.get("input") == locations.fingerprint(task.source)
        except OSError:
            return None
        row = entry["row"]
        if (not unchanged or entry.get("fmt") != task.fmt or entry.get("output") != task.output
                or not all(locations.exists(p) for p in row.get("outputs", []))):
            return None
        return ReportRow(**{k: row.get(k) for k in REPORT_FIELDS if k in row})

    def record(self, task: Task, row: ReportRow) -> None:
        fingerprint: dict[str, Any] | None
        try:
            fingerprint = locations.fingerprint(task.source)
        except OSError:
            fingerprint = None
        entry = {"row": row.as_dict(), "fmt": task.fmt, "output": task.output, "input": fingerprint}
        self._fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()
