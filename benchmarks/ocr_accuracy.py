"""Cell-text accuracy and speed: the embedded model on the engine vs Tesseract 5.

    python3 -m benchmarks.ocr_accuracy [--n 2000] [--model DIR] [--table-pages 20]

Sets of crops (--sets picks some):
  families the cell generator's held-out font FAMILIES (split "heldout", seed 7), rendered
           as scans at 150-300 dpi; the families are printed first, and the run fails
           when none is installed (it never falls back to training fonts);
  lowres   the same cells (same texts and fonts) rendered as 55-120 dpi scans, text 6-12
           px high, area-averaged as a scanner does (training/cell_renders.py);
  seen     training families, scans, seed 7 (forgetting: the designs trained on);
  tables   every non-empty cell of whole table pages rendered by the sample generator,
           cut by our own structure detection (what the app really feeds the model).
Prints CER, exact-match and ms per crop for both recognisers (ours batched; Tesseract
run once over an image list with --psm 7, so its process start is paid once), both at
--threads threads.
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


def generator_crops(n: int, split: str, mix: str) -> tuple[list[Image.Image], list[str]]:
    from training.cells import CellGenerator

    gen = CellGenerator(7, split, mix)
    cells = [gen.sample(i) for i in range(n)]
    return [c.image for c in cells], [c.text for c in cells]


def heldout_families() -> str:
    """The held-out families installed here (files of each); SystemExit when none is."""
    from training.cells import fonts_for

    try:
        fonts = fonts_for("heldout")
    except RuntimeError as exc:
        raise SystemExit(f"ocr_accuracy: {exc}") from None
    count: dict[str, int] = {}
    for f in fonts:
        count[f.family] = count.get(f.family, 0) + 1
    return ", ".join(f"{k} ({v} files)" for k, v in sorted(count.items()))


SETS = {"families": ("heldout", "scan"), "lowres": ("heldout", "lowres"), "seen": ("train", "scan")}


def heldout_crops(n: int) -> tuple[list[Image.Image], list[str]]:
    """The standard held-out set other benchmarks measure forgetting on: the first n
    crops of the "families" set (held-out font families, scans)."""
    return generator_crops(n, *SETS["families"])


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
                              capture_output=True, text=True, env=os.environ, check=False)
        elapsed = time.perf_counter() - t
    pages = proc.stdout.split("\f")
    if proc.returncode or len(pages) < len(crops):
        raise SystemExit(f"tesseract failed or read fewer images than given: {proc.stderr.strip()[-300:]}")
    texts = [p.strip() for p in pages[: len(crops)]]
    texts += [""] * (len(crops) - len(texts))
    return texts, elapsed / len(crops) * 1000


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000, help="crops of each generated set")
    ap.add_argument("--sets", default="families,lowres,seen,tables",
                    help=f"comma-separated, of {', '.join([*SETS, 'tables'])}")
    ap.add_argument("--threads", type=int, default=2, help="threads for both recognisers")
    ap.add_argument("--table-pages", type=int, default=20)
    ap.add_argument("--model", default=None, help="model folder (default: the embedded model)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--show-errors", type=int, default=10)
    ap.add_argument("--single-look", action="store_true",
                    help="read every crop once (no second look at unsure crops, ocr/second_look.py)")
    args = ap.parse_args(argv)

    # Before numba starts: both recognisers get the same threads.
    for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OMP_THREAD_LIMIT"):
        os.environ[var] = str(args.threads)
    wanted = [x.strip() for x in args.sets.split(",") if x.strip()]
    unknown = [x for x in wanted if x not in SETS and x != "tables"]
    if unknown:
        raise SystemExit(f"ocr_accuracy: unknown set(s) {', '.join(unknown)}")
    if {"families", "lowres"} & set(wanted):
        print(f"held-out families: {heldout_families()}")
    from benchmarks.machine import engine_microkernel

    print(f"model: {args.model or 'embedded'}; {args.threads} threads for ours and Tesseract")
    print(f"engine: {engine_microkernel()}")
    sets = [(name, *generator_crops(args.n, *SETS[name])) for name in wanted if name in SETS]
    if args.table_pages and "tables" in wanted:
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
