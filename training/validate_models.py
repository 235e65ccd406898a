"""Score model folders on the validation draw, as the app reads (engine, second look).

    python -m training.validate_models DIR [DIR ...] [--n 500] [--seed 8]

The validation draw is the validation font families (never trained on, never
benchmarked: training/tables/fonts.py RECOGNISER_SPLITS), scan-like and
low-resolution, seed 8 (train_recognizer's validation seed). Snapshot choice and
averaging are decided here, never on benchmarks/ocr_accuracy.py's held-out families.

With --printed N (default 20) it adds the "printed" set: the cells our own pipeline cuts
from N spreadsheet pages printed by LibreOffice and scanned (benchmarks.table_workbooks,
page seed 8, not the table benchmark's 7). The cell generator draws every glyph with
Pillow; an office print's glyphs differ. A CPU fine-tune (session 16) read the
generator's sets better (exact 71.6 % -> 73.2 %) and these cells no better (89.5 % ->
89.3 % on 20 pages), "39,131" as "39.131"; on the table benchmark's own development
pages its cells fell from 98.5 % to 96.2 %. Adopt a model only where this set agrees.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from ocr.metrics import cer
from training.printed_cells import PrintedCell, cut_cells, workbook_pages
from training.train_recognizer import validation_sets

PRINTED_SEED = 8  # the table benchmark's development pages are seed 7


def printed_cells(pages: int, seed: int = PRINTED_SEED) -> list[PrintedCell]:
    """Single-line cells cut by the app's own structure detection and cropping from
    ``pages`` spreadsheets printed by LibreOffice (xlsx -> PDF -> scan), with their true
    text (training/printed_cells.py)."""
    work = Path(tempfile.mkdtemp(prefix="validate_printed_"))
    try:
        return cut_cells(workbook_pages(pages, seed, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def score(model_dir: str, sets: dict, second_look: bool = True) -> dict:
    from ocr import Recognizer

    rec = Recognizer.from_pretrained(model_dir, second_look=second_look)
    out = {}
    for name, cells in sets.items():
        texts = [r.text for r in rec.recognize([c.image for c in cells])]
        refs = [c.text for c in cells]
        out[name] = {"cer": cer(texts, refs), "exact": sum(t == r for t, r in zip(texts, refs)) / len(refs)}
    out["cer"] = sum(out[m]["cer"] for m in sets) / len(sets)
    out["exact"] = sum(out[m]["exact"] for m in sets) / len(sets)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", help="model folders (exported with training.export_model)")
    ap.add_argument("--n", type=int, default=500, help="cells of each mix")
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--single-look", action="store_true")
    ap.add_argument("--printed", type=int, default=20, metavar="N",
                    help="office-printed pages for the 'printed' set (0: none; needs soffice)")
    args = ap.parse_args(argv)
    sets = validation_sets(args.n, args.seed)
    if args.printed:
        sets["printed"] = printed_cells(args.printed)
    for model in args.models:
        m = score(model, sets, second_look=not args.single_look)
        parts = "  ".join(f"{k} CER {m[k]['cer']:.2%} exact {m[k]['exact']:.2%}" for k in sets)
        print(f"{model}: mean CER {m['cer']:.2%} exact {m['exact']:.2%} | {parts}", flush=True)
        print(json.dumps({"model": model, **m}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
