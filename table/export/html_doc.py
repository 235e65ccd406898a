"""Tables as HTML (one ``<table>`` per table, spans as rowspan/colspan) and Markdown
(GitHub pipe tables; a table with spans as an HTML table, which pipes cannot hold).

All text is escaped: a cell reading ``<script>`` shows that text and runs nothing.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from table.export.atomic import atomic_target
from table.model import Table

__all__ = ["html_table", "markdown_table", "write_html", "write_markdown"]

# Markdown punctuation that could change a cell's meaning (emphasis, links, code, the
# cell boundary, HTML, entities); a backslash makes each literal.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|&~!#])")


def _cell_html(text: str) -> str:
    return "<br>".join(html.escape(line) for line in text.split("\n"))


def html_table(table: Table, caption: str | None = None, indent: str = "") -> str:
    """One ``<table>``: the first row as ``<th>`` cells, every cell once with its span."""
    out = [f"{indent}<table>"]
    if caption:
        out.append(f"{indent}  <caption>{html.escape(caption)}</caption>")
    by_row: dict[int, list] = {}
    for c in sorted(table.cells, key=lambda c: (c.row, c.col)):
        by_row.setdefault(c.row, []).append(c)
    for r in range(table.n_rows):
        tag = "th" if r == 0 else "td"
        cells = []
        for c in by_row.get(r, []):
            span = (f' rowspan="{c.rowspan}"' if c.rowspan > 1 else "") + \
                   (f' colspan="{c.colspan}"' if c.colspan > 1 else "")
            cells.append(f"<{tag}{span}>{_cell_html(c.text)}</{tag}>")
        out.append(f"{indent}  <tr>{''.join(cells)}</tr>")
    out.append(f"{indent}</table>")
    return "\n".join(out)


def _cell_md(text: str) -> str:
    return "<br>".join(_MD_SPECIAL.sub(r"\\\1", line.strip()) for line in text.split("\n"))


def markdown_table(table: Table) -> str:
    """A GitHub pipe table (first row as header); an HTML table when cells span."""
    if any(c.is_merged for c in table.cells):
        return html_table(table)
    grid = table.as_grid()
    rows = ["| " + " | ".join(_cell_md(t) for t in row) + " |" for row in grid]
    rows.insert(1, "|" + "|".join(" --- " for _ in range(table.n_cols)) + "|")
    return "\n".join(rows)


def write_html(tables: Sequence[Table], path: str | Path, names: Sequence[str], *,
               inputs: Iterable[str | Path] = ()) -> Path:
    title = html.escape(Path(path).stem)
    body = "\n".join(html_table(t, name, "  ") for t, name in zip(tables, names))
    if not tables:
        body = "  <p>No tables found.</p>"
    document = (f'<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n<title>{title}</title>\n'
                f"</head>\n<body>\n{body}\n</body>\n</html>\n")
    with atomic_target(path, inputs) as tmp:
        tmp.write_text(document, encoding="utf-8")
    return Path(path)


def write_markdown(tables: Sequence[Table], path: str | Path, names: Sequence[str], *,
                   inputs: Iterable[str | Path] = ()) -> Path:
    parts = [f"## {_cell_md(name)}\n\n{markdown_table(t)}\n" for t, name in zip(tables, names)]
    with atomic_target(path, inputs) as tmp:
        tmp.write_text("\n".join(parts) if parts else "No tables found.\n", encoding="utf-8")
    return Path(path)
