"""Tables as JSON for programs, valid against ``schema/tablescribe-table.schema.json``.

Per page and table: the grid (a spanning cell's text at its top-left position, the
positions it covers null) and every cell with its span, text, typed value (as the
xlsx export types it), number format, confidence and box, in page pixels and, for
pages of a PDF, in PDF points from the page's top left corner. ``read_json`` gives
the tables back.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from table.export.atomic import atomic_target
from table.model import Cell, Table
from table.values import infer_conventions, parse_value

__all__ = ["SCHEMA_NAME", "load_schema", "read_json", "tables_document", "write_json"]

SCHEMA_NAME = "tablescribe-table.schema.json"
FORMAT, VERSION = "tablescribe-tables", 1


def load_schema() -> dict[str, Any]:
    """The published JSON Schema (shipped with the package)."""
    text = resources.files("table.export").joinpath("schema", SCHEMA_NAME).read_text("utf-8")
    return json.loads(text)


def _points(box: Sequence[float], scale: float | None) -> list[float] | None:
    return None if scale is None else [round(v * scale, 2) for v in box]


def _typed(text: str, conventions) -> tuple[str, Any, str | None]:
    if not text.strip():
        return "empty", None, None
    typed = parse_value(text, conventions)
    value = typed.value
    if isinstance(value, _dt.date):
        value = value.isoformat()
    return typed.kind, value, typed.number_format


def _cell(cell: Cell, conventions, scale: float | None) -> dict[str, Any]:
    kind, value, number_format = _typed(cell.text, conventions)
    out = {"row": cell.row, "col": cell.col, "rowspan": cell.rowspan, "colspan": cell.colspan,
           "text": cell.text, "kind": kind, "value": value, "number_format": number_format,
           "confidence": round(float(cell.confidence), 4),
           "bbox_px": [int(v) for v in cell.bbox]}
    if scale is not None:
        out["bbox_pt"] = _points(cell.bbox, scale)
    return out


def _grid(table: Table) -> list[list[str | None]]:
    grid: list[list[str | None]] = [["" for _ in range(table.n_cols)] for _ in range(table.n_rows)]
    for c in table.cells:
        for r in range(c.row, c.row + c.rowspan):
            for k in range(c.col, c.col + c.colspan):
                grid[r][k] = None
        grid[c.row][c.col] = c.text
    return grid


def tables_document(tables: Sequence[Table], names: Sequence[str]) -> dict[str, Any]:
    """The JSON document (a dict) of ``tables`` named ``names``."""
    pages: dict[int, list[dict[str, Any]]] = {}
    for table, name in zip(tables, names):
        conventions = infer_conventions(c.text for c in table.cells)
        entry = {"name": name, "rows": table.n_rows, "cols": table.n_cols,
                 "read_from": table.read_from, "bbox_px": [int(v) for v in table.bbox]}
        if table.pdf_scale is not None:
            entry["bbox_pt"] = _points(table.bbox, table.pdf_scale)
        entry["grid"] = _grid(table)
        entry["cells"] = [_cell(c, conventions, table.pdf_scale)
                          for c in sorted(table.cells, key=lambda c: (c.row, c.col))]
        pages.setdefault(table.page, []).append(entry)
    return {"format": FORMAT, "version": VERSION,
            "pages": [{"page": p + 1, "tables": pages[p]} for p in sorted(pages)]}


def write_json(tables: Sequence[Table], path: str | Path, names: Sequence[str], *,
               inputs: Iterable[str | Path] = ()) -> Path:
    document = tables_document(tables, names)
    with atomic_target(path, inputs) as tmp:
        tmp.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return Path(path)


def read_json(path: str | Path) -> list[Table]:
    """The tables of a file ``write_json`` wrote (text, spans, boxes, confidences)."""
    document = json.loads(Path(path).read_text(encoding="utf-8"))
    if document.get("format") != FORMAT:
        raise ValueError(f"{path}: not a tablescribe tables file")
    tables = []
    for page in document["pages"]:
        for t in page["tables"]:
            cells = [Cell(c["row"], c["col"], c["rowspan"], c["colspan"], tuple(c["bbox_px"]),
                          c["text"], c["confidence"]) for c in t["cells"]]
            tables.append(Table(t["rows"], t["cols"], cells, tuple(t["bbox_px"]), page["page"] - 1,
                                read_from=t["read_from"]))
    return tables
