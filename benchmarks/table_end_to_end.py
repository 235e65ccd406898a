"""End-to-end table benchmark: our structure detection (and recogniser) against
img2table + Tesseract on the same scanned-looking pages, in the same run.

The pages are made by a route independent of the unit tests' PIL renderer:

    openpyxl workbook (borders, merges, fills, wrapped text)
      -> LibreOffice headless prints it to PDF
      -> pypdfium2 rasterises it (150-300 dpi)
      -> skew (±4°), Gaussian noise, blur, JPEG compression

and the truth (grid, merges, texts) comes from the workbook we wrote.

Printed, per system: share of pages whose grid is exactly right (same number of
tables; every table with the right rows, columns and spans), share of merged cells
found exactly, cell exact-match (text of every true cell, whitespace collapsed;
ours only with a recogniser: --model, or the embedded default once it exists), and
seconds per page. Needs: soffice (apt-get install libreoffice-calc-nogui),
img2table (pip install img2table) and tesseract (apt-get install tesseract-ocr).
img2table needs OpenCV's contrib modules (cv2.ximgproc); where the plain
opencv-python-headless that tablescribe depends on was installed after it, its cv2
files win and img2table fails, so give the contrib build the last word:
pip install --force-reinstall --no-deps opencv-contrib-python-headless==<the same version>.

    python3 -m benchmarks.table_end_to_end --pages 40 [--model PATH|default] [--save DIR]
    python3 -m benchmarks.table_end_to_end --capture hard --seed 1818 --model default
"""

from __future__ import annotations

import argparse
import io
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from benchmarks.scoring import normalize, same_text
from table.cells import page_line_crops
from table.prepare import prepare_page
from table.structure import find_tables

# --------------------------------------------------------------------------- workbooks

FONTS = ["Liberation Sans", "DejaVu Sans", "Liberation Serif", "Carlito", "Arimo"]
WORDS = [
    "Revenue",
    "Costs",
    "Margin",
    "North",
    "South",
    "East",
    "West",
    "Region",
    "Total",
    "Units",
    "Price",
    "Stock",
    "Orders",
    "Returns",
    "Budget",
    "Actual",
    "Forecast",
    "Status",
    "Owner",
    "Alpha",
    "Beta",
    "Gamma",
    "Delta",
    "Open",
    "Closed",
    "Pending",
    "Paris",
    "Berlin",
    "Oslo",
]


@dataclass
class TrueTable:
    n_rows: int
    n_cols: int
    spans: set[tuple[int, int, int, int]]
    texts: dict[tuple[int, int], str]  # top-left (row, col) of each cell -> text

    @property
    def merges(self) -> set[tuple[int, int, int, int]]:
        return {s for s in self.spans if s[2] > 1 or s[3] > 1}


@dataclass
class BenchPage:
    name: str
    tables: list[TrueTable]
    image: np.ndarray | None = None
    dpi: int = 200
    angle: float = 0.0
    style: str = ""


def _value(rng: random.Random, kind: str) -> str:
    if kind == "int":
        return f"{rng.randint(0, 99999):,}"
    if kind == "dec":
        v = rng.uniform(-9999, 99999)
        return f"({abs(v):,.2f})" if v < 0 else f"{v:,.2f}"
    if kind == "pct":
        return f"{rng.uniform(-50, 150):.1f}%"
    if kind == "cur":
        return f"${rng.uniform(0, 50000):,.2f}"
    if kind == "date":
        return f"{rng.randint(2019, 2025)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    if kind == "code":
        return f"{rng.choice('ABCDEFGHK')}-{rng.randint(100, 9999)}"
    if kind == "digit":
        return str(rng.randint(0, 9))
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 2)))


def _design_table(rng: random.Random) -> dict:
    n_cols = rng.randint(3, 8)
    n_rows = rng.randint(4, 16)
    kinds = ["word"] + [
        rng.choice(["int", "dec", "pct", "cur", "date", "code", "word", "digit"])
        for _ in range(n_cols - 1)
    ]
    texts = [[_value(rng, "word") for _ in range(n_cols)]]
    texts += [[_value(rng, kinds[c]) for c in range(n_cols)] for _ in range(n_rows - 1)]
    merges: list[tuple[int, int, int, int]] = []
    taken: set[tuple[int, int]] = set()

    def add(r, c, rs, cs):
        cells = {(rr, cc) for rr in range(r, r + rs) for cc in range(c, c + cs)}
        if r + rs > n_rows or c + cs > n_cols or cells & taken:
            return
        taken.update(cells)
        merges.append((r, c, rs, cs))
        for rr, cc in cells - {(r, c)}:
            texts[rr][cc] = ""

    # grid: every cell boxed; grid_medium: a heavier frame; no_frame: inner rules only;
    # hair: hairlines; columns: rules between columns only (rows from the text lines);
    # rows: rules between rows only (columns from the white space between them).
    style = rng.choices(
        ["grid", "grid_medium", "no_frame", "hair", "columns", "rows"],
        [0.45, 0.15, 0.12, 0.08, 0.1, 0.1],
    )[0]
    # A title row over the whole table. Not on frameless or column-ruled tables: there
    # a title cell is indistinguishable from a caption above the table.
    if rng.random() < 0.35 and style not in ("no_frame", "columns"):
        texts.insert(0, ["Summary " + rng.choice(WORDS)] + [""] * (n_cols - 1))
        n_rows += 1
        add(0, 0, 1, n_cols)
    if rng.random() < 0.4 and n_cols >= 4:  # a header group
        r0 = 1 if merges else 0
        c = rng.randint(1, n_cols - 2)
        add(r0, c, 1, 2)
    # Without row rules a cell spanning rows, or holding two lines, cannot be told
    # from separate rows; such tables (financial statements) have neither.
    row_ruled = style != "columns"
    if rng.random() < 0.4 and row_ruled:  # a label spanning rows
        r = rng.randint(2, max(2, n_rows - 3))
        add(r, 0, rng.randint(2, 3), 1)
    # A block spanning columns needs the column rules to show it: without them a
    # value centred on two columns reads as sitting in one of them.
    if rng.random() < 0.25 and n_cols >= 4 and n_rows >= 6 and style not in ("rows", "columns"):
        add(rng.randint(2, n_rows - 3), rng.randint(1, n_cols - 2), 2, 2)
    multiline = set()
    if rng.random() < 0.3 and row_ruled:
        r, c = rng.randint(1, n_rows - 1), 0
        if (r, c) not in taken:
            texts[r][c] = _value(rng, "word") + "\n" + _value(rng, "word")
            multiline.add((r, c))
    for _ in range(rng.randint(0, 3)):  # empty cells
        r, c = rng.randint(1, n_rows - 1), rng.randint(1, n_cols - 1)
        if (r, c) not in taken:
            texts[r][c] = ""
    return dict(
        n_rows=n_rows,
        n_cols=n_cols,
        texts=texts,
        merges=merges,
        kinds=kinds,
        multiline=multiline,
        style=style,
        header_fill=rng.choices([None, "1F4E78", "D9D9D9", "404040"], [0.5, 0.2, 0.2, 0.1])[0],
        banded=rng.random() < 0.15,
        font=rng.choice(FONTS),
        size=rng.choice([9, 10, 11, 12]),
    )


def _write_table(ws, d: dict, top: int, left: int) -> TrueTable:
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    style = d["style"]
    thin = "hair" if style == "hair" else "thin"
    outer = {"grid_medium": "medium", "no_frame": None, "hair": "hair", "columns": None, "open": None}.get(
        style, "thin"
    )
    n_rows, n_cols = d["n_rows"], d["n_cols"]
    header_rows = 2 if d["merges"] and d["merges"][0][3] == n_cols and d["merges"][0][0] == 0 else 1
    owner = {}
    for r, c, rs, cs in d["merges"]:
        for rr in range(r, r + rs):
            for cc in range(c, c + cs):
                owner[(rr, cc)] = (r, c, rs, cs)
    for r in range(n_rows):
        for c in range(n_cols):
            cell = ws.cell(row=top + r, column=left + c)
            text = d["texts"][r][c]
            if text:
                cell.value = text  # strings: the page shows exactly this text
            head = r < header_rows
            dark = head and d["header_fill"] in ("1F4E78", "404040")
            cell.font = Font(
                name=d["font"], size=d["size"], bold=head, color="FFFFFF" if dark else "000000"
            )
            if head and d["header_fill"]:
                cell.fill = PatternFill("solid", fgColor=d["header_fill"])
            elif d["banded"] and r % 2 == 0:
                cell.fill = PatternFill("solid", fgColor="EDEDED")
            numeric = d["kinds"][c] not in ("word", "code") and not head
            # Without column rules, columns need white space between them: centred.
            across = "center" if head or style == "rows" else ("right" if numeric else "left")
            cell.alignment = Alignment(horizontal=across, vertical="center", wrap_text="\n" in text)
            # Inside a merged range only its outline is drawn.
            mr, mc, mrs, mcs = owner.get((r, c), (r, c, 1, 1))

            def edge(on: bool, outer_edge: bool) -> Side:
                if not on or (outer_edge and not outer):
                    return Side()
                return Side(style=outer if outer_edge else thin)

            vertical = style not in ("rows", "open")  # open: no rules at all (pdf_tables.py)
            horizontal = style not in ("columns", "open")
            cell.border = Border(
                left=edge(vertical and c == mc, c == 0),
                right=edge(vertical and c == mc + mcs - 1, c == n_cols - 1),
                top=edge(horizontal and r == mr, r == 0 and style != "rows"),
                bottom=edge(horizontal and r == mr + mrs - 1, r == n_rows - 1 and style != "rows"),
            )
    for r, c, rs, cs in d["merges"]:
        ws.merge_cells(
            start_row=top + r,
            start_column=left + c,
            end_row=top + r + rs - 1,
            end_column=left + c + cs - 1,
        )
        ws.cell(row=top + r, column=left + c).alignment = Alignment(
            horizontal="center", vertical="center"
        )
    # Widths that fit the text, so nothing spills over a rule.
    for c in range(n_cols):
        longest = 4
        for r in range(n_rows):
            span = next((m for m in d["merges"] if m[0] == r and m[1] == c), None)
            if span and span[3] > 1:
                continue
            for line in d["texts"][r][c].split("\n"):
                longest = max(longest, len(line) * (1.25 if r < header_rows else 1.1))
        letter = get_column_letter(left + c)
        # Unruled columns are told apart by the white space between them.
        room = 7 if style == "rows" else 3
        ws.column_dimensions[letter].width = max(
            ws.column_dimensions[letter].width or 0, longest + room
        )
    for r, c, rs, cs in d["merges"]:  # spanning titles: widen the last column when needed
        need = len(d["texts"][r][c]) * 1.3 + 3
        have = sum(
            ws.column_dimensions[get_column_letter(left + cc)].width for cc in range(c, c + cs)
        )
        if have < need:
            letter = get_column_letter(left + c + cs - 1)
            ws.column_dimensions[letter].width += need - have
    for r in range(n_rows):
        lines = max(len(t.split("\n")) for t in d["texts"][r])
        ws.row_dimensions[top + r].height = d["size"] * 1.6 * lines + 4
    spans = set()
    covered = {}
    for r, c, rs, cs in d["merges"]:
        for rr in range(r, r + rs):
            for cc in range(c, c + cs):
                covered[(rr, cc)] = (r, c, rs, cs)
    for r in range(n_rows):
        for c in range(n_cols):
            spans.add(covered.get((r, c), (r, c, 1, 1)))
    texts = {(r, c): d["texts"][r][c] for r, c, _, _ in spans}
    return TrueTable(n_rows, n_cols, spans, texts)


def make_workbooks(n_pages: int, folder: Path, seed: int) -> list[BenchPage]:
    from openpyxl import Workbook

    rng = random.Random(seed)
    pages = []
    for k in range(n_pages):
        wb = Workbook()
        ws = wb.active
        ws.title = "Sheet1"
        first = _design_table(rng)
        truths = [_write_table(ws, first, 2, 2)]
        styles = [first["style"]]
        if rng.random() < 0.2:  # a second table further down the page
            second = _design_table(rng)
            second["n_rows"] = min(second["n_rows"], 8)
            second["texts"] = second["texts"][: second["n_rows"]]
            second["merges"] = [m for m in second["merges"] if m[0] + m[2] <= second["n_rows"]]
            truths.append(_write_table(ws, second, 2 + first["n_rows"] + 3, 2))
            styles.append(second["style"])
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 1
        ws.page_setup.orientation = "portrait"
        ws.print_options.gridLines = False
        name = f"page{k:03d}"
        wb.save(folder / f"{name}.xlsx")
        pages.append(BenchPage(name, truths, style="+".join(styles)))
    return pages


def print_to_pdf(folder: Path) -> None:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        sys.exit("soffice not found: apt-get install -y libreoffice-calc-nogui")
    profile = folder / "lo_profile"
    files = sorted(str(p) for p in folder.glob("*.xlsx"))
    subprocess.run(
        [
            soffice,
            f"-env:UserInstallation=file://{profile}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(folder),
            *files,
        ],
        check=True,
        capture_output=True,
        timeout=900,
    )


def scan(pages: list[BenchPage], folder: Path, seed: int) -> None:
    """Rasterise each printed page and make it look scanned."""
    import pypdfium2 as pdfium

    rng = random.Random(seed + 1)
    for p in pages:
        pdf = pdfium.PdfDocument(str(folder / f"{p.name}.pdf"))
        if len(pdf) != 1:
            raise RuntimeError(f"{p.name}: LibreOffice printed {len(pdf)} pages, expected 1")
        p.dpi = rng.choice([150, 200, 200, 300])
        img = pdf[0].render(scale=p.dpi / 72).to_pil().convert("RGB")
        pdf.close()
        p.angle = 0.0 if rng.random() < 0.25 else rng.uniform(-4, 4)
        if p.angle:
            img = img.rotate(
                p.angle, resample=Image.BICUBIC, expand=False, fillcolor=(255, 255, 255)
            )
        blur = rng.choice([0, 0, 0.5, 0.8])
        if blur:
            img = img.filter(ImageFilter.GaussianBlur(blur))
        arr = np.asarray(img, dtype=np.float32)
        sigma = rng.choice([0, 3, 6, 9])
        if sigma:
            arr = (
                arr
                + np.random.default_rng(rng.randint(0, 2**31)).normal(0, sigma, arr.shape[:2])[
                    :, :, None
                ]
            )
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
        if rng.random() < 0.3:
            buf = io.BytesIO()
            img.save(buf, "JPEG", quality=rng.choice([70, 85]))
            img = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
        p.image = np.asarray(img, dtype=np.uint8)


# --------------------------------------------------------------------------- scoring


@dataclass
class Found:
    n_rows: int
    n_cols: int
    spans: set[tuple[int, int, int, int]]
    texts: dict[tuple[int, int], str] = field(default_factory=dict)


@dataclass
class Score:
    pages: int = 0
    grid_right: int = 0
    merges: int = 0
    merges_right: int = 0
    cells: int = 0
    cells_right: int = 0
    seconds: float = 0.0
    text_scored: bool = False
    wrong: list[tuple[str, str]] = field(default_factory=list)  # (want, got) of wrong cells


def score_page(score: Score, truth: list[TrueTable], found: list[Found], with_text: bool) -> bool:
    score.pages += 1
    right = len(found) == len(truth)
    for k, t in enumerate(truth):
        f = found[k] if k < len(found) else None
        same_grid = f is not None and (f.n_rows, f.n_cols) == (t.n_rows, t.n_cols)
        right &= same_grid and f.spans == t.spans
        score.merges += len(t.merges)
        if f is not None:
            score.merges_right += len(t.merges & f.spans)
        if with_text:
            score.text_scored = True
            for (r, c), text in t.texts.items():
                score.cells += 1
                if same_grid and same_text(f.texts.get((r, c)), text):
                    score.cells_right += 1
                elif same_grid:
                    score.wrong.append((normalize(text), normalize(f.texts.get((r, c)))))
    score.grid_right += int(right)
    return right


def ours(image: np.ndarray, recognizer) -> tuple[list[Found], float]:
    """Our structure and every cell cropped (the work the pipeline does before the
    recogniser) and, with a recogniser, every crop of the page read in one batch.
    Also returns the seconds spent before the recogniser."""
    t0 = time.perf_counter()
    # As the pipeline does: photo squared, light evened, turned page righted (the
    # recogniser settles up/down when the letters' shapes do not).
    confidences = None
    if recognizer is not None:
        def confidences(crops):
            return [r.confidence for r in recognizer.recognize(crops)]
    res = find_tables(prepare_page(image, confidences=confidences).image)
    cells = [c for t in res.tables for c in t.cells]
    found = dict(zip(map(id, cells), page_line_crops(res.image, cells)))
    crops = [{(c.row, c.col): found[id(c)] for c in t.cells} for t in res.tables]
    structure_seconds = time.perf_counter() - t0
    texts: list[dict[tuple[int, int], str]] = [{} for _ in res.tables]
    if recognizer is not None:
        flat = [
            (k, key, im)
            for k, table_crops in enumerate(crops)
            for key, ims in table_crops.items()
            for im in ims
        ]
        recs = recognizer.recognize([im for _, _, im in flat]) if flat else []
        for (k, key, _), rec in zip(flat, recs):
            texts[k][key] = (texts[k][key] + "\n" if key in texts[k] else "") + rec.text
    found = [
        Found(t.n_rows, t.n_cols, {(c.row, c.col, c.rowspan, c.colspan) for c in t.cells}, texts[k])
        for k, t in enumerate(res.tables)
    ]
    return found, structure_seconds


def img2table_tables(image: np.ndarray, ocr, borderless: bool = False) -> list[Found]:
    from img2table.document import Image as I2TImage

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "PNG")
    doc = I2TImage(buf.getvalue(), detect_rotation=True)
    tables = doc.extract_tables(
        ocr=ocr, implicit_rows=False, borderless_tables=borderless, min_confidence=50
    )
    out = []
    for t in sorted(tables, key=lambda t: (t.bbox.y1, t.bbox.x1)):
        groups: dict[tuple, list[tuple[int, int]]] = {}
        texts: dict[tuple, str] = {}
        rows = list(t.content.values())
        for r, row in enumerate(rows):
            for c, cell in enumerate(row):
                key = (cell.bbox.x1, cell.bbox.y1, cell.bbox.x2, cell.bbox.y2)
                groups.setdefault(key, []).append((r, c))
                texts[key] = cell.value
        spans, values = set(), {}
        for key, pos in groups.items():
            r0, c0 = min(p[0] for p in pos), min(p[1] for p in pos)
            r1, c1 = max(p[0] for p in pos), max(p[1] for p in pos)
            spans.add((r0, c0, r1 - r0 + 1, c1 - c0 + 1))
            values[(r0, c0)] = texts[key] or ""
        n_cols = max((len(r) for r in rows), default=0)
        out.append(Found(len(rows), n_cols, spans, values))
    return out


def _load_recognizer(model: str | None):
    if model is None:
        return None
    try:
        from app.recognizers import load_recognizer
    except Exception as e:  # noqa: BLE001 (the app layer is optional for structure metrics)
        sys.exit(f"--model given but app.recognizers.load_recognizer is not importable: {e}")
    return load_recognizer(None if model == "default" else model)


def save_overlay(path: Path, image: np.ndarray) -> None:
    import cv2

    res = find_tables(prepare_page(image).image)
    img = res.image.copy()
    for t in res.tables:
        for c in t.cells:
            x0, y0, x1, y1 = c.bbox
            colour = (255, 0, 0) if c.rowspan > 1 or c.colspan > 1 else (0, 170, 0)
            cv2.rectangle(img, (x0 + 2, y0 + 2), (x1 - 3, y1 - 3), colour, 2)
    Image.fromarray(img).save(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--pages", type=int, default=40)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--model",
        default=None,
        help="recogniser for our cell text: a model folder, a hub id, "
        "or 'default' for the embedded model",
    )
    ap.add_argument(
        "--capture",
        choices=["none", "hard"],
        default="none",
        help="hard: each page turned, photographed or scanned at 60-120 dpi "
        "(benchmarks/capture.py); img2table then looks for borderless tables too",
    )
    ap.add_argument("--no-img2table", action="store_true", help="only our side (quick checks)")
    ap.add_argument("--show-errors", type=int, default=0, help="print this many of our wrong cells")
    ap.add_argument(
        "--save", type=Path, default=None, help="keep pages, overlays and a failure list here"
    )
    args = ap.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="tablebench_"))
    try:
        t0 = time.perf_counter()
        pages = make_workbooks(args.pages, work, args.seed)
        print_to_pdf(work)
        scan(pages, work, args.seed)
        if args.capture == "hard":
            from benchmarks.capture import capture

            crng = random.Random(args.seed + 2)
            for p in pages:
                p.image, how = capture(p.image, crng, p.dpi)
                p.style += f", {how}"
        print(
            f"made {len(pages)} pages via openpyxl -> LibreOffice -> pypdfium2 in {time.perf_counter() - t0:.0f} s"
        )

        recognizer = _load_recognizer(args.model)
        ocr = None
        if not args.no_img2table:
            from img2table.ocr import TesseractOCR

            ocr = TesseractOCR(n_threads=1, lang="eng")
        s_ours, s_i2t, s_i2t_struct = Score(), Score(), Score()
        s_struct = Score()  # ours before the recogniser, when there is one
        failures = []
        by_kind: dict[str, Score] = {}
        for p in pages:
            t = time.perf_counter()
            found, before_recognizer = ours(p.image, recognizer)
            s_ours.seconds += time.perf_counter() - t
            if not score_page(s_ours, p.tables, found, recognizer is not None):
                failures.append(p)
            if args.capture != "none":  # ours again, per kind of capture
                kind = next((k for k in ("turned", "photo") if f", {k}" in p.style), "low-res")
                score_page(by_kind.setdefault(kind, Score()), p.tables, found, recognizer is not None)
            s_struct.seconds += before_recognizer
            score_page(s_struct, p.tables, found, False)
            if ocr is not None:
                t = time.perf_counter()
                found = img2table_tables(p.image, None, args.capture == "hard")
                s_i2t_struct.seconds += time.perf_counter() - t
                score_page(s_i2t_struct, p.tables, found, False)
                t = time.perf_counter()
                found = img2table_tables(p.image, ocr, args.capture == "hard")
                s_i2t.seconds += time.perf_counter() - t
                score_page(s_i2t, p.tables, found, True)
            print(".", end="", flush=True)
        print()

        def row(name: str, s: Score) -> str:
            def pct(a: int, b: int) -> str:
                return f"{100.0 * a / b:5.1f}%" if b else "   n/a"

            cells = pct(s.cells_right, s.cells) if s.text_scored else "   n/a"
            return (
                f"| {name:<36} | {pct(s.grid_right, s.pages)} | {pct(s.merges_right, s.merges)} "
                f"| {cells:>6} | {s.seconds / max(s.pages, 1):7.3f} |"
            )

        n_merges = sum(len(t.merges) for p in pages for t in p.tables)
        print(
            f"\n{len(pages)} pages, {sum(len(p.tables) for p in pages)} tables, {n_merges} merged cells; "
            f"dpi {sorted({p.dpi for p in pages})}, skew up to {max(abs(p.angle) for p in pages):.1f} deg\n"
        )
        print("| system                               | grid ok | merges | cells  | s/page  |")
        print("|--------------------------------------|---------|--------|--------|---------|")
        label = (
            "tablescribe structure + crops"
            if recognizer is None
            else "tablescribe (structure+crops+model)"
        )
        if recognizer is not None:
            print(row("tablescribe structure + crops", s_struct))
        print(row(label, s_ours))
        if ocr is not None:
            print(row("img2table structure only", s_i2t_struct))
            print(row("img2table + Tesseract", s_i2t))

            def per_page(sc: Score) -> float:
                return sc.seconds / max(sc.pages, 1)

            ratio = per_page(s_i2t_struct) / max(per_page(s_struct), 1e-9)
            print(
                f"\nimg2table structure only takes {ratio:.1f}x our structure + crops time per page"
            )
            print(
                f"img2table + Tesseract takes {per_page(s_i2t) / max(per_page(s_ours), 1e-9):.1f}x our time per page"
                + (
                    " with the recogniser"
                    if recognizer is not None
                    else " (ours without a recogniser)"
                )
            )
        for kind, sc in sorted(by_kind.items()):
            cells = f", cells {100.0 * sc.cells_right / sc.cells:.1f}%" if sc.cells else ""
            print(f"ours on {kind} pages: grid {sc.grid_right}/{sc.pages}{cells}")
        if args.show_errors and s_ours.wrong:
            print(f"\nour wrong cells (first {args.show_errors} of {len(s_ours.wrong)}):")
            for want, got in s_ours.wrong[: args.show_errors]:
                print(f"    want {want!r:32} got {got!r}")
        if failures:
            print(
                "\nour grid wrong on: "
                + ", ".join(f"{p.name}({p.style},{p.dpi}dpi,{p.angle:+.1f})" for p in failures)
            )
        if args.save:
            args.save.mkdir(parents=True, exist_ok=True)
            for p in pages:
                Image.fromarray(p.image).save(args.save / f"{p.name}.png")
                shutil.copy(work / f"{p.name}.xlsx", args.save / f"{p.name}.xlsx")
            for p in failures:
                save_overlay(args.save / f"{p.name}_ours.png", p.image)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
