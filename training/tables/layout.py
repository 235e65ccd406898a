"""Table geometry in points, measured with the design's own font files: what both
renderers size columns and rows by."""

from __future__ import annotations

from functools import lru_cache

from PIL import ImageFont

from training.tables.design import TableDesign
from training.tables.truth import slots

REF_PX = 100  # fonts are measured at 100 px and scaled


@lru_cache(maxsize=256)
def font_at(path: str, px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, max(4, px))


def text_width_pt(text: str, path: str, size_pt: float) -> float:
    return font_at(path, REF_PX).getlength(text) * size_pt / REF_PX


def cell_font(d: TableDesign, row: int) -> str:
    return d.face.bold if row in d.bold_rows else d.face.regular


def decimal_split(text: str) -> tuple[str, str]:
    """A number's part left of its decimal point and the rest (point included)."""
    k = text.rfind(".")
    if k < 0:
        k = len(text.rstrip(")%"))
    return text[:k], text[k:]


def column_widths_pt(d: TableDesign) -> list[float]:
    em = d.size
    widths = [2 * d.pad_x + em for _ in range(d.n_cols)]
    dec = {c: [0.0, 0.0] for c in range(d.n_cols) if d.align[c] == "decimal"}
    spanning = []
    for r, c, rs, cs in slots(d.n_rows, d.n_cols, d.merges):
        text, path = d.texts[r][c], cell_font(d, r)
        if not text:
            continue
        if cs > 1:
            spanning.append((r, c, cs))
            continue
        lines = text.split("\n")
        w = max(text_width_pt(t, path, d.size) for t in lines)
        if c == 0:
            w += d.indent[r] * 1.2 * em
        if c in dec and r >= d.header_rows:
            left, right = decimal_split(text)
            dec[c][0] = max(dec[c][0], text_width_pt(left, path, d.size))
            dec[c][1] = max(dec[c][1], text_width_pt(right, path, d.size))
            w = dec[c][0] + dec[c][1]
        widths[c] = max(widths[c], w + 2 * d.pad_x)
    for c, (left, right) in dec.items():
        widths[c] = max(widths[c], left + right + 2 * d.pad_x)
    for r, c, cs in spanning:
        need = text_width_pt(d.texts[r][c], cell_font(d, r), d.size) + 2 * d.pad_x
        have = sum(widths[c: c + cs])
        if have < need:
            widths[c + cs - 1] += need - have
    return widths


def decimal_rights_pt(d: TableDesign) -> dict[int, float]:
    """Per decimal-aligned column, the widest part right of the point: every number's
    point sits that far left of the column's padding."""
    out = {}
    for c in range(d.n_cols):
        if d.align[c] == "decimal":
            out[c] = max((text_width_pt(decimal_split(d.texts[r][c])[1], cell_font(d, r), d.size)
                          for r in range(d.header_rows, d.n_rows) if d.texts[r][c]), default=0.0)
    return out


def line_height_pt(d: TableDesign) -> float:
    return d.size * 1.25


def row_heights_pt(d: TableDesign) -> list[float]:
    out = []
    for row in d.texts:
        lines = max((len(t.split("\n")) for t in row if t), default=1)
        out.append(lines * line_height_pt(d) + 2 * d.pad_y)
    return out


def wrap(text: str, path: str, size_pt: float, width_pt: float) -> list[str]:
    lines, cur = [], ""
    for word in text.split():
        trial = f"{cur} {word}".strip()
        if cur and text_width_pt(trial, path, size_pt) > width_pt:
            lines.append(cur)
            cur = word
        else:
            cur = trial
    return lines + ([cur] if cur else [])
