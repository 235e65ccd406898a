"""Cells cut from office-printed pages, the way the app cuts them, with their true text.

    python3 -m training.printed_cells OUT --pages 200 --seed 1000 [--capture 0.5]

The cell generator (training/cells.py) draws every glyph with Pillow. A spreadsheet
printed by LibreOffice and scanned draws them differently: hinting, kerning, a comma's
tail at 100 dpi. Two CPU fine-tunes trained on the generator's crops alone read those
crops better and the office pages worse ("96,981" as "96.981"). So the recogniser's
training mix takes cells from office print too, and the validation draw judges on them
(training/validate_models.py, its 'printed' set).

Pages come from two LibreOffice routes (benchmarks/table_workbooks.py): the development
workbook generator and training.tables' designs of the *train* split in every style.
Only fonts of the recogniser's training families are printed (checked here, not
assumed); the validation draw uses page seed 8 and the table benchmark's development
pages seed 7, so training seeds start at 1000. A share of the pages is captured first
(benchmarks/capture.py: turned, photographed, scanned at 60-120 dpi) and righted by the
app's own page preparation. A table whose grid or spans come out wrong gives no cells:
a crop cut elsewhere would not show its text.

OUT is written in the corrections format (PNG crops + labels.jsonl), which
train_recognizer's --printed reads.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

from PIL import Image

TRAIN_SEED = 1000  # first training page seed; validation uses 8, the benchmark 7 and its held-out seed


class PrintedCell(NamedTuple):
    image: object  # the crop as the pipeline cuts it (numpy array)
    text: str


def cut_cells(pages) -> list[PrintedCell]:
    """Single-line cells cut by the app's own structure detection and cropping from
    benchmark pages (``table_workbooks.BenchPage``), with their true text; tables whose
    grid or spans are found wrong are left out."""
    from table.cells import page_line_crops
    from table.prepare import prepare_page
    from table.structure import find_tables

    out = []
    for page in pages:
        result = find_tables(prepare_page(page.image).image)  # as the pipeline does
        if len(result.tables) != len(page.tables):
            continue
        for table, truth in zip(result.tables, page.tables):
            if {(c.row, c.col, c.rowspan, c.colspan) for c in table.cells} != truth.spans:
                continue
            cells = [c for c in table.cells if truth.texts.get((c.row, c.col), "").strip()
                     and "\n" not in truth.texts[(c.row, c.col)]]
            for cell, crops in zip(cells, page_line_crops(result.image, cells)):
                if len(crops) == 1:
                    out.append(PrintedCell(crops[0], " ".join(truth.texts[(cell.row, cell.col)].split())))
    return out


def workbook_pages(n: int, seed: int, work: Path) -> list:
    """``n`` pages of the development workbook generator at ``seed``, printed and scanned."""
    from benchmarks import table_workbooks as wb

    pages = wb.make_workbooks(n, work, seed)
    wb.print_to_pdf(work)
    wb.scan(pages, work, seed)
    return pages


def _check_training_fonts(work: Path) -> None:
    """Every font the printed workbooks name is of a recogniser training family."""
    from openpyxl import load_workbook

    from training.tables.fonts import recogniser_split_of

    for xlsx in work.glob("*.xlsx"):
        ws = load_workbook(xlsx).active
        for row in ws.iter_rows():
            for cell in row:
                name = cell.font.name if cell.font is not None else None
                if name and recogniser_split_of(name) != "train":
                    raise RuntimeError(f"{xlsx.name}: font {name!r} is not of a recogniser "
                                       "training family")


def training_cells(pages: int, seed: int = TRAIN_SEED, capture: float = 0.0) -> list[PrintedCell]:
    """Cells from ``pages`` office-printed training pages: half development workbooks,
    half training.tables designs of the train split (mixed styles); a ``capture`` share
    of the pages turned, photographed or scanned at low resolution first."""
    from benchmarks import table_workbooks as wb
    from benchmarks.capture import capture as capture_page

    work = Path(tempfile.mkdtemp(prefix="printed_cells_"))
    try:
        books = work / "books"
        designs = work / "designs"
        books.mkdir()
        designs.mkdir()
        found = workbook_pages(pages - pages // 2, seed, books)
        if pages // 2:  # (LibreOffice given no file waits for ever)
            found += wb.synthetic_pages("train", "mixed", pages // 2, seed, designs)
        for folder in (books, designs):
            _check_training_fonts(folder)
        rng = random.Random(seed + 2)
        for p in found:
            if rng.random() < capture:
                p.image, _ = capture_page(p.image, rng, p.dpi)
        return cut_cells(found)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def write_folder(cells: list[PrintedCell], out: Path) -> int:
    """Append ``cells`` to a corrections-format folder; returns how many were written."""
    out.mkdir(parents=True, exist_ok=True)
    labels = out / "labels.jsonl"
    start = sum(1 for _ in labels.open(encoding="utf-8")) if labels.is_file() else 0
    lines = []
    for i, cell in enumerate(cells, start):
        name = f"{i:06d}.png"
        Image.fromarray(cell.image).save(out / name)
        lines.append(json.dumps({"image": name, "text": cell.text}, ensure_ascii=False))
    with labels.open("a", encoding="utf-8") as f:
        f.writelines(line + "\n" for line in lines)
    return len(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--pages", type=int, default=200, help="pages in all")
    ap.add_argument("--batch", type=int, default=20, help="pages printed by one LibreOffice call")
    ap.add_argument("--seed", type=int, default=TRAIN_SEED)
    ap.add_argument("--capture", type=float, default=0.5, help="share of pages captured first")
    args = ap.parse_args(argv)
    if args.seed < TRAIN_SEED:
        ap.error(f"training page seeds start at {TRAIN_SEED} (lower ones are validation and benchmark draws)")
    total = 0
    for k, seed in enumerate(range(args.seed, args.seed + -(-args.pages // args.batch))):
        n = min(args.batch, args.pages - k * args.batch)
        total += write_folder(training_cells(n, seed, args.capture), args.out)
        print(f"seed {seed}: {total} cells so far", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
