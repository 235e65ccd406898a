"""End-to-end table benchmark: our structure detection (and recogniser) against
img2table + Tesseract and RapidTable + RapidOCR on the same scanned-looking pages, in
the same run, at the same thread count.

Pages (benchmarks/table_workbooks.py) are printed by LibreOffice from workbooks and
rasterised by pypdfium2 with scan damage; the truth comes from what we wrote:

    --split dev --style ruled      the development pages of the ruled detector (seed 7)
    --split dev --style open|mixed training.tables validation pages (validation fonts)
    --split heldout --style ...    training.tables held-out pages: their own seed
                                   (training.tables.design.BENCH_HELDOUT_SEED), font
                                   families and layout families, never used while developing

Styles: ruled (grid, inner rules, rows or columns ruled), open (booktabs, a rule under
the header, no rules; header bands, zebra fills, grey total rows), mixed (all).

Printed, per system: share of pages whose grid is exactly right (same number of
tables; every table with the right rows, columns and spans), share of merged cells
found exactly, cell exact-match (text of every true cell, whitespace collapsed; ours
only with a recogniser: --model PATH or 'default'), TEDS and TEDS-struct (mean over
true tables, table-recognition-metric; a missed table scores 0) and seconds per page.

Peers, at their best settings: img2table with borderless_tables, implicit_rows and
implicit_columns on, Tesseract with --threads threads; RapidTable 0.1.3 (SLANet) +
RapidOCR 1.4.4 with --threads onnxruntime threads. RapidTable reads one table per image
and has no page detector, so it gets each true table's crop (an oracle in its favour).

Needs: soffice (apt-get install libreoffice-calc-nogui), tesseract (apt-get install
tesseract-ocr) and pip install -e '.[bench]'. img2table needs OpenCV's contrib modules
(cv2.ximgproc); where a plain opencv-python(-headless) was installed after it (the
RapidOCR wheel pulls opencv-python), its cv2 files win and img2table fails, so give the
contrib build the last word:
pip install --force-reinstall --no-deps opencv-contrib-python-headless==<the same version>.

    python3 -m benchmarks.table_end_to_end --split heldout --style open --pages 20 --model default
    python3 -m benchmarks.table_end_to_end --capture hard --seed 1818 --model default

--capture hard turns, photographs (perspective, lamp, desk, curl, JPEG) or scans at
60-120 dpi each page first (benchmarks/capture.py) and prints ours per kind of capture.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

from PIL import Image

from benchmarks.table_scoring import HEADER, Found, Score, row, score_page

# Re-exported: benchmarks/pdf_tables.py (branch pdf19) imports these from here.
from benchmarks.table_workbooks import (  # noqa: F401
    TrueTable,
    _design_table,
    _value,
    _write_table,
    print_to_pdf,
)

DEV_SEED = 7  # the development pages' seed (held-out pages have their own)

__all__ = ["DEV_SEED", "Found", "Score", "TrueTable", "main", "print_to_pdf", "score_page"]


def _load_recognizer(model: str | None):
    if model is None:
        return None
    from app.recognizers import load_recognizer

    return load_recognizer(None if model == "default" else model)


def make_pages(args, work: Path):
    from benchmarks import table_workbooks as wb
    from training.tables.design import BENCH_HELDOUT_SEED

    if args.split == "dev" and args.style == "ruled":
        seed = DEV_SEED if args.seed is None else args.seed
        pages = wb.make_workbooks(args.pages, work, seed)
        wb.print_to_pdf(work)
        wb.scan(pages, work, seed)
        return pages
    split = "validation" if args.split == "dev" else "heldout"
    seed = (BENCH_HELDOUT_SEED if split == "heldout" else DEV_SEED) if args.seed is None else args.seed
    return wb.synthetic_pages(split, args.style, args.pages, seed, work)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--pages", type=int, default=40)
    ap.add_argument("--split", choices=["dev", "heldout"], default="dev")
    ap.add_argument("--style", choices=["ruled", "open", "mixed"], default="ruled")
    ap.add_argument("--seed", type=int, default=None, help="page seed (default: the split's)")
    ap.add_argument("--threads", type=int, default=2, help="threads for every system")
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
        "(benchmarks/capture.py)",
    )
    ap.add_argument("--rules-too", action="store_true",
                    help="also score our structure from the rules alone (no structure model)")
    ap.add_argument("--no-img2table", action="store_true")
    ap.add_argument("--no-rapidtable", action="store_true")
    ap.add_argument("--show-errors", type=int, default=0, help="print this many of our wrong cells")
    ap.add_argument(
        "--save", type=Path, default=None, help="keep pages, overlays and a failure list here"
    )
    args = ap.parse_args(argv)
    # Before numba, OpenMP or onnxruntime start: every system gets the same threads.
    for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OMP_THREAD_LIMIT"):
        os.environ[var] = str(args.threads)
    from benchmarks.table_peers import RapidTablePeer, img2table_tables, ours, save_overlay

    work = Path(tempfile.mkdtemp(prefix="tablebench_"))
    try:
        t0 = time.perf_counter()
        pages = make_pages(args, work)
        if args.capture == "hard":
            from benchmarks.capture import capture

            crng = random.Random((DEV_SEED if args.seed is None else args.seed) + 2)
            for p in pages:
                p.image, how = capture(p.image, crng, p.dpi)
                p.style += f", {how}"
        print(f"made {len(pages)} {args.split}/{args.style} pages via openpyxl -> LibreOffice -> "
              f"pypdfium2 in {time.perf_counter() - t0:.0f} s")
        recognizer = _load_recognizer(args.model)
        from table.split_model import default_split_model

        split = default_split_model()
        print(f"structure model: {split.folder if split else 'none (rules alone)'}")
        ocr = None
        if not args.no_img2table:
            from img2table.ocr import TesseractOCR

            ocr = TesseractOCR(n_threads=args.threads, lang="eng")
        rapid = None if args.no_rapidtable else RapidTablePeer(args.threads)
        s_ours, s_struct, s_rules = Score(), Score(), Score()
        s_i2t, s_i2t_struct, s_rapid = Score(), Score(), Score()
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
            if args.rules_too:
                found, s = ours(p.image, None, structure_model=None)
                s_rules.seconds += s
                score_page(s_rules, p.tables, found, False)
            if ocr is not None:
                t = time.perf_counter()
                found = img2table_tables(p.image, None)
                s_i2t_struct.seconds += time.perf_counter() - t
                score_page(s_i2t_struct, p.tables, found, False)
                t = time.perf_counter()
                found = img2table_tables(p.image, ocr)
                s_i2t.seconds += time.perf_counter() - t
                score_page(s_i2t, p.tables, found, True)
            if rapid is not None and all(t.bbox for t in p.tables):
                t = time.perf_counter()
                found = rapid(p.image, [t.bbox for t in p.tables], p.angle)
                s_rapid.seconds += time.perf_counter() - t
                score_page(s_rapid, p.tables, found, True)
            print(".", end="", flush=True)
        print()

        n_merges = sum(len(t.merges) for p in pages for t in p.tables)
        print(
            f"\n{len(pages)} pages, {sum(len(p.tables) for p in pages)} tables, {n_merges} merged "
            f"cells; dpi {sorted({p.dpi for p in pages})}, skew up to "
            f"{max(abs(p.angle) for p in pages):.1f} deg; {args.threads} threads\n"
        )
        print(HEADER)
        if args.rules_too:
            print(row("tablescribe structure, rules alone", s_rules))
        if recognizer is not None:
            print(row("tablescribe structure + crops", s_struct))
            print(row("tablescribe (structure+crops+model)", s_ours))
        else:
            print(row("tablescribe structure + crops", s_ours))
        if ocr is not None:
            print(row("img2table structure only", s_i2t_struct))
            print(row("img2table + Tesseract", s_i2t))
        if rapid is not None and s_rapid.pages:
            print(row("RapidTable + RapidOCR (true table crops)", s_rapid))
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
                if (work / f"{p.name}.xlsx").exists():
                    shutil.copy(work / f"{p.name}.xlsx", args.save / f"{p.name}.xlsx")
            for p in failures:
                save_overlay(args.save / f"{p.name}_ours.png", p.image)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
