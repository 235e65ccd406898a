"""The batch report: one row per file, written as ``tablescribe-report.csv`` and
``.json`` into the output folder (uploaded atomically when that folder is a URL)."""

from __future__ import annotations

import csv
import json
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from app import locations
from table.export.atomic import atomic_target
from table.export.safe import csv_safe

__all__ = ["REPORT_CSV", "REPORT_FIELDS", "REPORT_JSON", "BatchReport", "ReportRow", "write_report"]

REPORT_CSV = "tablescribe-report.csv"
REPORT_JSON = "tablescribe-report.json"
REPORT_FIELDS = ("file", "status", "tables", "cells", "mean_confidence", "seconds", "error", "outputs")


@dataclass
class ReportRow:
    file: str
    status: str  # "ok", "failed", "timeout" (over the per-file time limit), "no_table"
    #              (no page held a table; nothing written), or "skipped" (converted by an
    #              earlier, interrupted run)
    tables: int = 0
    cells: int = 0
    mean_confidence: float | None = None
    seconds: float = 0.0
    error: str = ""
    outputs: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BatchReport:
    rows: list[ReportRow]
    report_csv: Path | str  # a str URL when OUT_DIR is one
    report_json: Path | str
    interrupted: bool = False

    @property
    def failed(self) -> list[ReportRow]:
        return [r for r in self.rows if r.status == "failed"]

    @property
    def timed_out(self) -> list[ReportRow]:
        return [r for r in self.rows if r.status == "timeout"]

    @property
    def converted(self) -> list[ReportRow]:
        return [r for r in self.rows if r.status == "ok"]

    @property
    def no_table(self) -> list[ReportRow]:
        return [r for r in self.rows if r.status == "no_table"]

    @property
    def skipped(self) -> list[ReportRow]:
        return [r for r in self.rows if r.status == "skipped"]


def write_report(out_dir: Path | str, rows: list[ReportRow],
                 meta: dict[str, Any]) -> tuple[Path | str, Path | str]:
    """Write both report files into ``out_dir`` (a folder or a URL); returns them."""
    if isinstance(out_dir, str):  # a URL: write here, then upload both atomically
        with tempfile.TemporaryDirectory(prefix="tablescribe-report-") as staging:
            written = write_report(Path(staging), rows, meta)
            csv_url, json_url = locations.publish(written, out_dir)
        return csv_url, json_url
    csv_path, json_path = out_dir / REPORT_CSV, out_dir / REPORT_JSON
    with atomic_target(csv_path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\r\n")
        writer.writerow(REPORT_FIELDS)
        for r in rows:
            mean = "" if r.mean_confidence is None else f"{r.mean_confidence:.4f}"
            # File names and error text come from outside: never a live formula.
            writer.writerow([csv_safe(r.file), r.status, r.tables, r.cells, mean, f"{r.seconds:.3f}",
                             csv_safe(r.error), csv_safe(";".join(r.outputs))])
    counts = {s: sum(1 for r in rows if r.status == s)
              for s in ("ok", "failed", "timeout", "no_table", "skipped")}
    document = {**meta, "files": len(rows), **counts, "rows": [r.as_dict() for r in rows]}
    with atomic_target(json_path) as tmp:
        tmp.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return csv_path, json_path
