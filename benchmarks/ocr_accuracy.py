"""Cell-text accuracy and speed: the embedded model on the engine vs Tesseract 5.

    python3 -m benchmarks.ocr_accuracy [--n 2000] [--model DIR] [--table-pages 20]

Two sets of crops, both rendered with fonts the training never saw:
  heldout  the fixed held-out set of the cell generator (split "heldout", seed 7);
  tables   every non-empty cell of whole table pages rendered by the sample generator,
           cut by our own structure detection (what the app really feeds the model).
Prints CER, exact-match and ms per crop for both recognisers (ours batched; Tesseract
run once over an image list with --psm 7, so its process start is paid once).
Ours reads as the model folder asks, second look at unsure crops included
(ocr/second_look.py); --single-look reads every crop once.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.scoring import cer_and_exact


def heldout_crops(n: int) -> tuple[list[Image.Image], list[str]]:
    from training.cells import CellGenerator

    gen = CellGenerator(7, "heldout")
    cells = [gen.sample(i) for i in range(n)]
    return [c.image for c in cells], [c.text for c in cells]


def table_crops(pages: int) -> tuple[list, list[str]]:
    """Crops cut by the app's own structure detection from whole rendered table pages
    (the sample generator's renderer, cell texts from the cell generator), with truth."""
    import random

    import numpy as np

    from app.samples import Page, SampleTable, Scan, render_page
    from table.cells import page_line_crops
    from table.structure import find_tables
    from training.cells import sample_text

    crops, refs = [], []
    for seed in range(pages):
        rng = random.Random(5000 + seed)
        n_rows, n_cols = rng.randint(5, 12), rng.randint(3, 6)
        texts = [[sample_text(rng).replace("\n", " ") for _ in range(n_cols)] for _ in range(n_rows)]
        widths = [max(40, 7 * max(len(texts[r][c]) for r in range(n_rows)) + 16) for c in range(n_cols)]
        page = Page(tables=[SampleTable(rows=texts, col_widths=widths, header_rows=1)],
                    font_pt=rng.choice([9, 10, 11]), width_in=max(8.27, sum(widths) / 72 + 1.5),
                    scan=Scan(skew_deg=rng.uniform(-2, 2), blur=rng.uniform(0, 0.8),
                              grain=rng.uniform(0, 8), dust=rng.randint(0, 30)),
                    seed=seed)
        image, _ = render_page(page, dpi=rng.choice([150, 200, 300]))
        result = find_tables(np.asarray(image.convert("RGB")))
        if len(result.tables) != 1:
            continue
        table = result.tables[0]
        if (table.n_rows, table.n_cols) != (n_rows, n_cols):
            continue  # structure errors are the table benchmark's business
        for cell, lines in zip(table.cells, page_line_crops(result.image, table.cells)):
            want = texts[cell.row][cell.col]
            if want and len(lines) == 1:
                crops.append(lines[0])
                refs.append(want)
    return crops, refs


def run_ours(crops, model_dir: str | None, batch: int,
             second_look: bool = True) -> tuple[list[str], float]:
    from ocr import Recognizer
    from ocr.recognizer import DEFAULT_MODEL_DIR

    rec = Recognizer.from_pretrained(model_dir or DEFAULT_MODEL_DIR, second_look=second_look)
    rec.batch_size = batch
    rec.recognize(crops[: min(len(crops), batch)])  # warm the numba kernels
    t = time.perf_counter()
    out = rec.recognize(crops)
    return [r.text for r in out], (time.perf_counter() - t) / len(crops) * 1000


def run_tesseract(crops) -> tuple[list[str], float]:
    if not shutil.which("tesseract"):
        raise SystemExit("tesseract not found: apt-get install tesseract-ocr")
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, crop in enumerate(crops):
            p = os.path.join(tmp, f"{i:06d}.png")
            (crop if isinstance(crop, Image.Image) else Image.fromarray(np.asarray(crop))).save(p)
            paths.append(p)
        listing = os.path.join(tmp, "list.txt")
        Path(listing).write_text("\n".join(paths) + "\n")
        t = time.perf_counter()
        proc = subprocess.run(["tesseract", listing, "stdout", "--psm", "7", "-l", "eng"],
                              capture_output=True, text=True, env={**os.environ, "OMP_THREAD_LIMIT": "2"},
                              check=False)
        elapsed = time.perf_counter() - t
    pages = proc.stdout.split("\f")
    texts = [p.strip() for p in pages[: len(crops)]]
    texts += [""] * (len(crops) - len(texts))
    return texts, elapsed / len(crops) * 1000


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000, help="held-out crops")
    ap.add_argument("--table-pages", type=int, default=20)
    ap.add_argument("--model", default=None, help="model folder (default: the embedded model)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--show-errors", type=int, default=10)
    ap.add_argument("--single-look", action="store_true",
                    help="read every crop once (no second look at unsure crops, ocr/second_look.py)")
    args = ap.parse_args(argv)

    sets = [("heldout", *heldout_crops(args.n))]
    if args.table_pages:
        try:
            sets.append(("tables", *table_crops(args.table_pages)))
        except ImportError as exc:
            print(f"(table crops skipped: {exc})")
    print(f"{'set':8} {'crops':>6} | {'ours CER':>9} {'exact':>7} {'ms/crop':>8} | "
          f"{'tess CER':>9} {'exact':>7} {'ms/crop':>8}")
    for name, crops, refs in sets:
        ours, ours_ms = run_ours(crops, args.model, args.batch, second_look=not args.single_look)
        tess, tess_ms = run_tesseract(crops)
        oc, oe = cer_and_exact(ours, refs)
        tc, te = cer_and_exact(tess, refs)
        print(f"{name:8} {len(crops):6d} | {oc:9.2%} {oe:7.2%} {ours_ms:8.2f} | "
              f"{tc:9.2%} {te:7.2%} {tess_ms:8.2f}")
        errors = [(r, o) for r, o in zip(refs, ours) if r != o][: args.show_errors]
        for r, o in errors:
            print(f"    want {r!r:30} got {o!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
