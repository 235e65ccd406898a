"""Born-digital PDF tables: tablescribe's text layer against Camelot and pdfplumber,
on the same vector PDFs, in the same run.

The pages come from two producers, from one random table design each:

    LibreOffice: openpyxl workbook -> soffice --convert-to pdf (the designs and the
                 writer of benchmarks/table_end_to_end.py: borders, merges, header
                 fills, wrapped text, several fonts)
    reportlab:   the same kind of design drawn directly (lines, filled rectangles,
                 drawString/drawRightString/drawCentredString, base-14 and TrueType fonts)

Half the tables are ruled (every ruling style of table_end_to_end.py: full grid,
heavy frame, no frame, hairlines, column rules only, row rules only), half open (no
rules at all; spanning headers over column groups, labels spanning two rows, two-line
cells). A third of the reportlab pages carry /Rotate (90, 180, 270) and are drawn
turned so that they read upright. No image, no OCR: the pages are what office
software exports.

Printed, per system: grid exact (share of pages whose every table has the right rows,
columns and spans), merges (share of the true merged cells found exactly), cells
exact (text of every true cell, whitespace collapsed, where the grid is right),
seconds per page (each PDF opened from disk, the whole extraction; tablescribe at
its default 300 dpi, rendering included). Camelot runs lattice and, where lattice finds
no table, stream; pdfplumber its line strategy, else its text strategy.

    pip install -e '.[bench]'     # camelot-py, pdfplumber, reportlab; and soffice (libreoffice-calc-nogui)
    python3 -m benchmarks.pdf_tables --pages 60 --seed 2 [--threads 1] [--save DIR] [--show-errors 10]

Develop on one seed and report on another: the method must not be tuned to the pages
it is measured on.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.table_end_to_end import (
    Found,
    Score,
    TrueTable,
    _design_table,
    _value,
    _write_table,
    print_to_pdf,
    score_page,
)

# --------------------------------------------------------------------------- designs


def _open_design(d: dict, rng: random.Random) -> dict:
    """A design without any rule. What cannot be seen without rules goes: a title row
    over the whole table (a caption above it), and a cell spanning three rows (its
    text sits on the middle row, where a row of its own would put it). What a reader
    does see stays: a label spanning two rows (its text between them), a two-line
    cell (its lines around the row's other texts). The cells a dropped span covered
    get values of their own."""
    texts, merges = [list(row) for row in d["texts"]], d["merges"]
    if merges and merges[0][0] == 0 and merges[0][3] == d["n_cols"]:  # the title row
        texts = texts[1:]
        merges = [(r - 1, c, rs, cs) for r, c, rs, cs in merges[1:]]
    multiline = {(r - (len(d["texts"]) - len(texts)), c) for r, c in d["multiline"]}
    for r, c, rs, cs in [m for m in merges if m[2] > 2 or (m[2] == 2 and m[3] > 1)]:
        for rr in range(r, r + rs):
            for cc in range(c, c + cs):
                if (rr, cc) != (r, c):
                    texts[rr][cc] = _value(rng, d["kinds"][cc] if rr > 0 else "word")
    merges = [m for m in merges if m[2] == 1 or (m[2] == 2 and m[3] == 1)]
    texts = [[t if (r, c) in multiline else t.replace("\n", " ") for c, t in enumerate(row)]
             for r, row in enumerate(texts)]
    return dict(d, texts=texts, merges=merges, n_rows=len(texts), style="open", multiline=multiline,
                banded=False)


def design(rng: random.Random, ruled: bool) -> dict:
    d = _design_table(rng)
    if not ruled:
        return _open_design(d, rng)
    return d


def truth_of(d: dict) -> TrueTable:
    covered = {}
    for r, c, rs, cs in d["merges"]:
        for rr in range(r, r + rs):
            for cc in range(c, c + cs):
                covered[(rr, cc)] = (r, c, rs, cs)
    spans = {covered.get((r, c), (r, c, 1, 1)) for r in range(d["n_rows"]) for c in range(d["n_cols"])}
    return TrueTable(d["n_rows"], d["n_cols"], spans, {(r, c): d["texts"][r][c] for r, c, _, _ in spans})


# --------------------------------------------------------------------------- producers


def libreoffice_page(d: dict, path: Path) -> TrueTable:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    truth = _write_table(ws, d, 2, 2, fit_text=True)
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 1
    ws.print_options.gridLines = False
    wb.save(path)
    return truth


_RL_FONTS = ["Helvetica", "Times-Roman", "DejaVuSans", "Courier"]


def reportlab_page(d: dict, path: Path, rng: random.Random, rotation: int = 0) -> TrueTable:
    """The design drawn by reportlab. ``rotation``: the page carries ``/Rotate`` and is
    drawn turned the other way, so that it reads upright as displayed (how landscape
    pages and scanned-then-rotated layouts are exported)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    if "DejaVuSans" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("DejaVuSans", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"))
        pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"))
    font = rng.choice(_RL_FONTS)
    bold = {"Helvetica": "Helvetica-Bold", "Times-Roman": "Times-Bold", "Courier": "Courier-Bold",
            "DejaVuSans": "DejaVuSans-Bold"}[font]
    style, n_rows, n_cols = d["style"], d["n_rows"], d["n_cols"]
    texts, merges = d["texts"], d["merges"]
    header_rows = 2 if merges and merges[0][0] == 0 and merges[0][3] == n_cols else 1
    size = float(d["size"])
    pad = 4.0 if style != "open" else rng.choice([3.0, 5.0])
    spans = {(r, c): (rs, cs) for r, c, rs, cs in merges}
    covered = {(r + i, c + j) for r, c, rs, cs in merges for i in range(rs) for j in range(cs)} - set(spans)

    def width_of(text: str, r: int) -> float:
        face = bold if r < header_rows else font
        return max((pdfmetrics.stringWidth(line, face, size) for line in text.split("\n")), default=0)

    while True:  # fit the page width
        widths = []
        for c in range(n_cols):
            w = max([width_of(texts[r][c], r) for r in range(n_rows)
                     if spans.get((r, c), (1, 1))[1] == 1 and (r, c) not in covered] + [12.0])
            widths.append(w + 2 * pad + (6 if style == "open" else 0))
        for (r, c), (rs, cs) in spans.items():  # spanning text must fit its span
            need = width_of(texts[r][c], r) + 2 * pad
            have = sum(widths[c:c + cs])
            if need > have:
                widths[c + cs - 1] += need - have
        if sum(widths) <= A4[0] - 60 or size <= 6:
            break
        size -= 1
    heights = [size * 1.5 * max(len(t.split("\n")) for t in texts[r]) + 6 for r in range(n_rows)]
    x0, top = 30.0, 60.0
    xs = [x0]
    for w in widths:
        xs.append(xs[-1] + w)
    ys = [top]
    for h in heights:
        ys.append(ys[-1] + h)
    page_h = A4[1]
    pdf = canvas.Canvas(str(path), pagesize=A4)
    if rotation:
        pdf.setPageRotation(rotation)  # reportlab lays the media box sideways for 90 and 270
        w, h = (A4[1], A4[0]) if rotation in (90, 270) else A4
        pdf.translate(*{90: (w, 0), 180: (w, h), 270: (0, h)}[rotation])
        pdf.rotate(rotation)
    fill = d["header_fill"]
    dark = fill in ("1F4E78", "404040")
    if fill:
        pdf.setFillColor(f"#{fill}")
        pdf.rect(xs[0], page_h - ys[header_rows], xs[-1] - xs[0], ys[header_rows] - ys[0], stroke=0, fill=1)
    line_w = {"hair": 0.25, "grid_medium": 0.75}.get(style, 0.5)
    pdf.setLineWidth(line_w)
    pdf.setStrokeColor("#000000")
    owner = {}
    for (r, c), (rs, cs) in spans.items():
        for i in range(rs):
            for j in range(cs):
                owner[(r + i, c + j)] = (r, c, rs, cs)

    def hline(y: float, a: float, b: float) -> None:
        pdf.line(a, page_h - y, b, page_h - y)

    def vline(x: float, a: float, b: float) -> None:
        pdf.line(x, page_h - a, x, page_h - b)

    if style != "open":
        for r in range(n_rows):
            for c in range(n_cols):
                mr, mc, mrs, mcs = owner.get((r, c), (r, c, 1, 1))
                if style not in ("columns",):
                    if r == mr and not (r == 0 and style == "no_frame"):
                        hline(ys[r], xs[c], xs[c + 1])
                    last = r == mr + mrs - 1
                    if last and not (r == n_rows - 1 and style == "no_frame"):
                        hline(ys[r + 1], xs[c], xs[c + 1])
                if style not in ("rows",):
                    if c == mc and not (c == 0 and style in ("no_frame", "columns")):
                        vline(xs[c], ys[r], ys[r + 1])
                    last = c == mc + mcs - 1
                    if last and not (c == n_cols - 1 and style in ("no_frame", "columns")):
                        vline(xs[c + 1], ys[r], ys[r + 1])
    for r in range(n_rows):
        for c in range(n_cols):
            if (r, c) in covered or not texts[r][c]:
                continue
            rs, cs = spans.get((r, c), (1, 1))
            head = r < header_rows
            pdf.setFillColor("#FFFFFF" if head and dark else "#000000")
            face = bold if head else font
            pdf.setFont(face, size)
            lines = texts[r][c].split("\n")
            mid = (ys[r] + ys[r + rs]) / 2
            first = mid - (len(lines) - 1) * size * 0.6 + size * 0.35
            numeric = d["kinds"][c] not in ("word", "code") and not head
            for i, line in enumerate(lines):
                yb = page_h - (first + i * size * 1.2)
                if cs > 1 or head:
                    pdf.drawCentredString((xs[c] + xs[c + cs]) / 2, yb, line)
                elif numeric:
                    pdf.drawRightString(xs[c + 1] - pad, yb, line)
                else:
                    pdf.drawString(xs[c] + pad, yb, line)
    pdf.showPage()
    pdf.save()
    return truth_of(dict(d, texts=texts))


# --------------------------------------------------------------------------- systems


def _spans_from_edges(n_rows: int, n_cols: int, right_open, down_open) -> dict:
    """(r, c) of every slot -> its cell (r0, c0, rs, cs), slots joined where edges are missing."""
    owner: dict[tuple[int, int], tuple[int, int, int, int]] = {}
    for r in range(n_rows):
        for c in range(n_cols):
            if (r, c) in owner:
                continue
            c1 = c + 1
            while c1 < n_cols and right_open(r, c1 - 1) and (r, c1) not in owner:
                c1 += 1
            r1 = r + 1
            while r1 < n_rows and all(down_open(r1 - 1, k) for k in range(c, c1)) \
                    and all((r1, k) not in owner for k in range(c, c1)):
                r1 += 1
            for rr in range(r, r1):
                for cc in range(c, c1):
                    owner[(rr, cc)] = (r, c, r1 - r, c1 - c)
    return owner


def tablescribe_tables(path: Path, engine) -> list[Found]:
    out = []
    for result in engine.convert_file(path):
        for t in result.tables:
            out.append(Found(t.n_rows, t.n_cols, {(c.row, c.col, c.rowspan, c.colspan) for c in t.cells},
                             {(c.row, c.col): c.text for c in t.cells}))
    return out


def camelot_tables(path: Path) -> list[Found]:
    import camelot

    tables = camelot.read_pdf(str(path), pages="1", flavor="lattice")
    lattice = tables.n > 0
    if not lattice:
        tables = camelot.read_pdf(str(path), pages="1", flavor="stream")
    out = []
    for t in sorted(tables, key=lambda t: -t._bbox[3]):
        grid = t.cells
        n_rows, n_cols = len(grid), len(grid[0]) if grid else 0
        if lattice:
            owner = _spans_from_edges(n_rows, n_cols, lambda r, c, g=grid: not g[r][c].right,
                                      lambda r, c, g=grid: not g[r][c].bottom)
        else:
            owner = {(r, c): (r, c, 1, 1) for r in range(n_rows) for c in range(n_cols)}
        texts: dict[tuple[int, int], list[str]] = {}
        for (r, c), (r0, c0, _, _) in sorted(owner.items()):
            if grid[r][c].text.strip():
                texts.setdefault((r0, c0), []).append(grid[r][c].text)
        out.append(Found(n_rows, n_cols, set(owner.values()),
                         {k: "\n".join(v) for k, v in texts.items()}))
    return out


def _cluster(values, tol: float = 1.0) -> list[float]:
    out: list[float] = []
    for v in sorted(values):
        if not out or v - out[-1] > tol:
            out.append(v)
    return out


def pdfplumber_tables(path: Path) -> list[Found]:
    import pdfplumber

    with pdfplumber.open(str(path)) as pdf:
        page = pdf.pages[0]
        tables = page.find_tables()
        if not tables:
            tables = page.find_tables({"vertical_strategy": "text", "horizontal_strategy": "text"})
        out = []
        for t in sorted(tables, key=lambda t: t.bbox[1]):
            tops = _cluster(b[1] for b in t.cells)
            lefts = _cluster(b[0] for b in t.cells)
            spans, texts = set(), {}
            for x0, top, x1, bottom in t.cells:
                r = min(range(len(tops)), key=lambda i: abs(tops[i] - top))
                c = min(range(len(lefts)), key=lambda i: abs(lefts[i] - x0))
                rs = max(1, sum(1 for v in tops if top - 1 <= v < bottom - 1))
                cs = max(1, sum(1 for v in lefts if x0 - 1 <= v < x1 - 1))
                spans.add((r, c, rs, cs))
                texts[(r, c)] = page.crop((x0, top, x1, bottom)).extract_text() or ""
            out.append(Found(len(tops), len(lefts), spans, texts))
        return out


# --------------------------------------------------------------------------- run


class _NoOCR:
    """tablescribe must not need its recogniser on these pages."""

    def recognize(self, crops, beams: int = 1):
        raise RuntimeError("the recogniser was called on a born-digital page")


def _limit_threads(n: int) -> None:
    """One thread budget for tablescribe and both peers, set before their libraries load."""
    import os

    from threadpoolctl import threadpool_limits

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = str(n)  # for libraries not loaded yet
    threadpool_limits(n)  # BLAS and OpenMP pools already loaded (numpy)
    try:
        import cv2  # Camelot's lattice mode

        cv2.setNumThreads(n)
    except ImportError:
        pass
    import numba

    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    print(f"threads: {n} for every system (BLAS, numba, OpenCV)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=40)
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--only", choices=("tablescribe",), help="skip the peers (quick checks)")
    ap.add_argument("--show-errors", type=int, default=0, help="print this many of our wrong pages")
    ap.add_argument("--save", type=Path, help="keep the PDFs here")
    ap.add_argument("--threads", type=int, default=1,
                    help="threads every system may use (BLAS, numba, OpenCV), the same for all (default 1)")
    args = ap.parse_args(argv)
    _limit_threads(args.threads)
    if shutil.which("soffice") is None and shutil.which("libreoffice") is None:
        sys.exit("soffice not found: apt-get install -y libreoffice-calc-nogui")

    from app.pipeline import Pipeline

    work = Path(tempfile.mkdtemp(prefix="pdfbench_"))
    rng = random.Random(args.seed)
    pages: list[tuple[str, str, TrueTable]] = []  # (name, kind, truth)
    t0 = time.perf_counter()
    for k in range(args.pages):
        producer = "libreoffice" if k % 2 == 0 else "reportlab"
        ruled = (k // 2) % 2 == 0
        d = design(rng, ruled)
        name = f"p{k:03d}"
        # A third of the reportlab pages carry /Rotate (their own stream of chance, so
        # the designs are those of the seed without it).
        rotation = random.Random(args.seed * 7919 + k).choice([0, 0, 0, 0, 0, 0, 90, 180, 270])
        if producer == "libreoffice":
            truth = libreoffice_page(d, work / f"{name}.xlsx")
        else:
            truth = reportlab_page(d, work / f"{name}.pdf", rng, rotation if producer == "reportlab" else 0)
        kind = f"{producer}/{'ruled:' + d['style'] if ruled else 'open'}"
        pages.append((name, kind + (f" /Rotate {rotation}" if rotation and producer == "reportlab" else ""), truth))
    print_to_pdf(work)
    print(f"made {len(pages)} PDFs (LibreOffice and reportlab, ruled and open) in "
          f"{time.perf_counter() - t0:.0f} s; seed {args.seed}")

    engine = Pipeline(_NoOCR())
    systems = {"tablescribe": lambda p: tablescribe_tables(p, engine)}
    if args.only is None:
        systems["camelot"] = camelot_tables
        systems["pdfplumber"] = pdfplumber_tables
    for fn in systems.values():  # warm up imports outside the timing
        fn(work / f"{pages[0][0]}.pdf")
    scores = {name: Score() for name in systems}
    by_kind: dict[str, dict[str, list[int]]] = {}
    wrong: list[str] = []
    for name, kind, truth in pages:
        path = work / f"{name}.pdf"
        for system, fn in systems.items():
            t = time.perf_counter()
            try:
                found = fn(path)
            except Exception as exc:  # noqa: BLE001 - a peer failing on a page scores zero there
                print(f"{system} failed on {name}: {type(exc).__name__}: {exc}", file=sys.stderr)
                found = []
            scores[system].seconds += time.perf_counter() - t
            right = score_page(scores[system], [truth], found, with_text=True)
            tally = by_kind.setdefault(kind.split(":")[0].split(" ")[0], {}).setdefault(system, [0, 0])
            tally[0] += int(right)
            tally[1] += 1
            if system == "tablescribe" and not right and len(wrong) < args.show_errors:
                got = found[0] if found else None
                wrong.append(f"{name} {kind}: want {truth.n_rows}x{truth.n_cols} merges "
                             f"{sorted(truth.merges)}; got "
                             + (f"{got.n_rows}x{got.n_cols} merges "
                                f"{sorted(s for s in got.spans if s[2] > 1 or s[3] > 1)}" if got else "nothing")
                             + f" ({len(found)} tables)")
    n = len(pages)
    print(f"\n{'system':<12} {'grid exact':>11} {'merges':>9} {'cells exact':>12} {'s/page':>8}")
    for system, s in scores.items():
        merges = f"{100 * s.merges_right / s.merges:.1f}%" if s.merges else "-"
        cells = f"{100 * s.cells_right / s.cells:.2f}%" if s.cells else "-"
        print(f"{system:<12} {100 * s.grid_right / n:>10.1f}% {merges:>9} {cells:>12} {s.seconds / n:>8.3f}")
    print(f"({n} pages, {scores['tablescribe'].merges} merged cells, {scores['tablescribe'].cells} cells)")
    print("\ngrid exact by producer/kind: " + "; ".join(
        f"{kind}: " + ", ".join(f"{sys_} {a}/{b}" for sys_, (a, b) in v.items()) for kind, v in sorted(by_kind.items())))
    for line in wrong:
        print(line)
    wrong_cells = scores["tablescribe"].wrong[:args.show_errors]
    for want, got in wrong_cells:
        print(f"  cell: want {want!r} got {got!r}")
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
        for p in work.glob("*.pdf"):
            shutil.copy(p, args.save / p.name)
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
