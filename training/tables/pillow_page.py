"""Draw a PageDesign with Pillow and return the page with its truth."""

from __future__ import annotations

from PIL import Image, ImageDraw

from training.tables.damage import scan_damage
from training.tables.design import PageDesign, TableDesign
from training.tables.layout import (
    cell_font,
    column_widths_pt,
    decimal_rights_pt,
    decimal_split,
    font_at,
    line_height_pt,
    row_heights_pt,
    text_width_pt,
    wrap,
)
from training.tables.truth import PageTruth, TextBlock, TruthCell, TruthTable, slots

MARGIN = 54.0  # points
PARA_SIZE = 10.0
GAP = 10.0  # points between blocks


def _plan(page: PageDesign, scale: float):
    """Blocks as (kind, payload, height_pt) at ``scale``; sizes scale with it."""
    text_w = page.page_pt[0] - 2 * MARGIN
    body_face = page.tables[0].face.regular
    plan = []
    for b in page.blocks:
        if isinstance(b, TableDesign):
            size = b.size * scale
            if b.caption:
                lines = wrap(b.caption, b.face.bold, size, text_w)
                plan.append(("caption", (lines, b.face.bold, size), len(lines) * size * 1.3))
            w = [x * scale for x in column_widths_pt(b)]
            h = [x * scale for x in row_heights_pt(b)]
            plan.append(("table", (b, w, h), sum(h)))
            for note in b.notes:
                lines = wrap(note, b.face.regular, size * 0.85, text_w)
                plan.append(("footnote", (lines, b.face.regular, size * 0.85),
                             len(lines) * size * 0.85 * 1.3))
        else:
            size = PARA_SIZE * scale
            lines = wrap(b, body_face, size, text_w)
            plan.append(("paragraph", (lines, body_face, size), len(lines) * size * 1.3))
    return plan


def _fit(page: PageDesign):
    """Shrink everything (as a print 'fit to page' does) until the blocks fit."""
    scale = 1.0
    for _ in range(6):
        plan = _plan(page, scale)
        wide = max(sum(p[1][1]) for p in plan if p[0] == "table")
        tall = sum(p[2] for p in plan) + GAP * scale * (len(plan) - 1)
        room_w, room_h = page.page_pt[0] - 2 * MARGIN, page.page_pt[1] - 2 * MARGIN
        factor = min(room_w / wide, room_h / tall, 1.0)
        if factor >= 0.999:
            return plan, scale
        scale *= factor * 0.99
    return plan, scale


def _draw_table(img, draw, d: TableDesign, widths, heights, x0: float, y0: float, px: float,
                scale: float) -> TruthTable:
    xs, ys = [x0], [y0]
    for w in widths:
        xs.append(xs[-1] + w)
    for h in heights:
        ys.append(ys[-1] + h)
    xi = [round(x * px) for x in xs]
    yi = [round(y * px) for y in ys]
    nr, nc, hr = d.n_rows, d.n_cols, d.header_rows
    cells = slots(nr, nc, d.merges)
    # fills first, rules and text on top
    if d.band is not None:
        draw.rectangle([xi[0], yi[0], xi[-1] - 1, yi[hr] - 1], fill=d.band)
    for r in range(hr, nr):
        fill = d.total_fill if r == d.total_row else None
        if fill is None and d.zebra is not None and (r - hr) % 2 == 1 and r != d.total_row:
            fill = d.zebra
        if fill is not None:
            draw.rectangle([xi[0], yi[r], xi[-1] - 1, yi[r + 1] - 1], fill=fill)
    h_drawn, v_drawn = d.separators()
    lw = max(1, round(d.rule_width * scale * px))
    heavy = max(lw + 1, round(lw * 1.7))

    def box(x0_, y0_, x1_, y1_, width):
        half = width // 2
        if y0_ == y1_:
            draw.rectangle([x0_ - lw // 2, y0_ - half, x1_ + (lw - 1) // 2, y0_ - half + width - 1],
                           fill=d.rule_color)
        else:
            draw.rectangle([x0_ - half, y0_ - lw // 2, x0_ - half + width - 1, y1_ + (lw - 1) // 2],
                           fill=d.rule_color)

    for i, line in enumerate(h_drawn):
        width = heavy if d.rules == "booktabs" and i in (0, nr) else lw
        for c, on in enumerate(line):
            if on:
                box(xi[c], yi[i], xi[c + 1], yi[i], width)
    for r, line in enumerate(v_drawn):
        for j, on in enumerate(line):
            if on:
                box(xi[j], yi[r], xi[j], yi[r + 1], lw)
    size_px = d.size * scale * px
    line_h = line_height_pt(d) * scale * px
    pad = d.pad_x * scale * px
    dec_right = {c: v * scale * px for c, v in decimal_rights_pt(d).items()}
    truth_cells = []
    for r, c, rs, cs in cells:
        text = d.texts[r][c]
        bx = (xi[c], yi[r], xi[c + cs], yi[r + rs])
        truth_cells.append(TruthCell(r, c, rs, cs, text, bx))
        if not text:
            continue
        f = font_at(cell_font(d, r), round(size_px))
        colour = (255, 255, 255) if d.band_dark and r < hr else (0, 0, 0)
        lines = text.split("\n")
        top = (bx[1] + bx[3]) / 2 - line_h * len(lines) / 2
        align = d.align[c]
        if r < hr:
            align = "left" if c == 0 else "center"
        elif cs > 1:
            align = "center"
        for k, line in enumerate(lines):
            w = draw.textlength(line, font=f)
            if align == "right":
                tx = bx[2] - pad - w
            elif align == "center":
                tx = (bx[0] + bx[2]) / 2 - w / 2
            elif align == "decimal":
                left, _right = decimal_split(line)
                tx = bx[2] - pad - dec_right[c] - draw.textlength(left, font=f)
            else:
                tx = bx[0] + pad + (d.indent[r] * 1.2 * size_px if c == 0 else 0)
            draw.text((tx, top + (k + 0.5) * line_h), line, font=f, fill=colour, anchor="lm")
    h_bool = [list(map(bool, line)) for line in h_drawn]
    v_bool = [list(map(bool, line)) for line in v_drawn]
    return TruthTable(nr, nc, hr, truth_cells, (xi[0], yi[0], xi[-1], yi[-1]), yi, xi, h_bool,
                      v_bool, d.rules, d.layout, d.face.name)


def render_pillow(page: PageDesign, damage: bool = True) -> PageTruth:
    plan, scale = _fit(page)
    px = page.dpi / 72.0
    img = Image.new("RGB", (round(page.page_pt[0] * px), round(page.page_pt[1] * px)),
                    (255, 255, 255))
    draw = ImageDraw.Draw(img)
    text_w = page.page_pt[0] - 2 * MARGIN
    y = MARGIN
    tables, blocks = [], []
    for kind, payload, height in plan:
        if kind == "table":
            d, widths, heights = payload
            x0 = MARGIN + max(0.0, (text_w - sum(widths)) / 2)
            tables.append(_draw_table(img, draw, d, widths, heights, x0, y, px, scale))
        else:
            lines, path, size = payload
            f = font_at(path, round(size * px))
            for k, line in enumerate(lines):
                draw.text((MARGIN * px, (y + k * size * 1.3) * px), line, font=f, fill=(0, 0, 0))
            w = max(text_width_pt(t, path, size) for t in lines) if lines else 0
            bbox = tuple(round(v * px) for v in (MARGIN, y, MARGIN + w, y + height))
            blocks.append(TextBlock(kind, "\n".join(lines), bbox))
        y += height + GAP * scale
    arr, angle = scan_damage(img, page.damage_seed, page.damage if damage else 0.0)
    return PageTruth(arr, tables, page.dpi, angle, blocks, "pillow", page.name)
