"""Write split-model training pages: model input (table.split_input) + separator targets.

Each page is one .npz in the output folder:

- ``x``: (2, h, w) uint8, the model input (ink darkness, rule evidence) x 255;
- ``y``: (h, w) uint8 bit planes: 1 inside a table's box, 2 on an interior row separator
  segment, 4 on an interior column separator segment (segments inside a merged cell do
  not exist, so the merge stage reads them off the same maps);
- ``tables``: JSON of each table's truth at model scale (rows, cols, spans, lines) for
  grid-exact validation.

The page is deskewed as find_tables does it (its own skew estimate, not the truth), and
the targets are drawn on the undamaged page at model scale and mapped through the true
skew and that correction: the model learns on what it will see. Pages come from ``design_page(split,
seed, index)`` through the Pillow renderer and, for every ``--office-every``-th batch,
LibreOffice: so training sees both engines. Only ``train`` (and ``validation`` for the
validation folder) are allowed here; held-out families and the benchmark's held-out
seed never reach this writer.

    python3 -m training.tables.structure_data --split train --out /work/data/struct17/train \
        --seed 1 --pages 4000
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from table.deskew import estimate_skew, rotate_page
from table.ink import estimate_text_height, otsu_ink, to_gray
from table.split_input import MODEL_TEXT_H, model_input
from table.structure import MIN_SKEW
from training.tables.design import BENCH_HELDOUT_SEED, design_page
from training.tables.truth import PageTruth, TruthTable, separator_segments

TABLE, ROW_SEP, COL_SEP = 1, 2, 4


def _merges(t: TruthTable) -> list[tuple[int, int, int, int]]:
    return [(c.row, c.col, c.rowspan, c.colspan) for c in t.cells if c.rowspan > 1 or c.colspan > 1]


def deskewed(page: PageTruth) -> tuple[np.ndarray, float, np.ndarray]:
    """The page as find_tables sees it: grey, turned back by the skew it *estimates*
    (not the true one). Returns (grey, estimated text height, the 2x3 affine from the
    undamaged page's pixels to the returned page's pixels)."""
    image = page.image
    gray = to_gray(image)
    rough = otsu_ink(gray)
    text_h = estimate_text_height(rough)
    h, w = gray.shape
    turned = np.vstack([cv2.getRotationMatrix2D((w / 2.0, h / 2.0), page.angle, 1.0), [0, 0, 1]])
    est = estimate_skew(rough)
    back = np.eye(3)
    if abs(est) >= MIN_SKEW:
        gray = rotate_page(gray, est, fill=int(np.median(gray[:4])))
        m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), -est, 1.0)
        m[0, 2] += gray.shape[1] / 2.0 - w / 2.0
        m[1, 2] += gray.shape[0] / 2.0 - h / 2.0
        back = np.vstack([m, [0, 0, 1]])
    return gray, text_h, (back @ turned)[:2]


def text_mask(x: np.ndarray) -> np.ndarray:
    """(h, w) bool: text pixels of a model input (2, h, w): ink that stands out from its
    surroundings either way (dark text on paper or a zebra fill, light text on a dark
    band), rules left out."""
    ink = np.clip(x[0] * 255.0, 0, 255).astype(np.uint8)
    k = 2 * round(1.5 * MODEL_TEXT_H) + 1
    background = cv2.medianBlur(ink, k)
    mask = np.abs(ink.astype(np.int16) - background.astype(np.int16)) > 64
    rules = cv2.dilate((x[1] > 0.3).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    return mask & ~rules


def _extent(mask: np.ndarray, x0: int, y0: int, x1: int, y1: int):
    """(left, top, right, bottom) of the text in a box of the mask (x1/y1 exclusive),
    1 px inset from its edges (rules sit there); None where it holds none."""
    x0, y0 = max(0, x0 + 1), max(0, y0 + 1)
    x1, y1 = min(mask.shape[1], x1 - 1), min(mask.shape[0], y1 - 1)
    if x1 <= x0 or y1 <= y0:
        return None
    box = mask[y0:y1, x0:x1]
    cols, rows = np.nonzero(box.any(0))[0], np.nonzero(box.any(1))[0]
    if not len(cols):
        return None
    return x0 + cols[0], y0 + rows[0], x0 + cols[-1] + 1, y0 + rows[-1] + 1


def _gaps(t: TruthTable, ys: list[float], xs: list[float], mask: np.ndarray, half: int):
    """Per inner row line and column line, the white gap between the text on either
    side (SPLERGE's separator regions): [(a, b)] in model pixels, or a thin band around
    the truth line where the text meets or is missing."""
    boxes = {}
    for c in t.cells:
        e = _extent(mask, round(xs[c.col]), round(ys[c.row]), round(xs[c.col + c.colspan]),
                    round(ys[c.row + c.rowspan]))
        if e is not None:
            boxes[(c.row, c.col, c.rowspan, c.colspan)] = e

    def gap(before: list, after: list, at: float) -> tuple[int, int]:
        if before and after:
            a, b = max(before), min(after)
            if b - a >= 2 and a - 1 <= at <= b + 1:
                return a, b
        return round(at) - half, round(at) + half + 1

    rows = [gap([e[3] for (r, _, rs, _), e in boxes.items() if r + rs == i],
                [e[1] for (r, _, _, _), e in boxes.items() if r == i], ys[i])
            for i in range(t.n_rows + 1)]
    cols = [gap([e[2] for (_, c, _, cs), e in boxes.items() if c + cs == j],
                [e[0] for (_, c, _, _), e in boxes.items() if c == j], xs[j])
            for j in range(t.n_cols + 1)]
    return rows, cols


def targets(page: PageTruth, scale: float, shape: tuple[int, int],
            affine: np.ndarray | None = None, x: np.ndarray | None = None) -> np.ndarray:
    """(h, w) uint8 bit planes at model scale; ``affine`` (2x3, page pixels) maps the
    undamaged page onto the page the model sees (skew and its correction). With the
    model input ``x``, a separator's target is the whole white gap between the text on
    either side (its centre is the line; SPLERGE's targets), not a thin band at the
    truth line, whose place inside the gap is arbitrary and cannot be learnt."""
    h, w = shape
    # drawn unturned on a canvas as large as the page at model scale, then mapped
    src_h = max(h, *(round(t.bbox[3] * scale) + 2 for t in page.tables)) if page.tables else h
    src_w = max(w, *(round(t.bbox[2] * scale) + 2 for t in page.tables)) if page.tables else w
    planes = np.zeros((3, src_h, src_w), np.uint8)
    half = max(1, round(0.2 * MODEL_TEXT_H))  # a band of 3 px at 8 px text
    turn = affine is not None and not np.allclose(affine, [[1, 0, 0], [0, 1, 0]])
    m = None
    if turn:
        m = affine.astype(np.float64).copy()
        m[:, 2] *= scale  # the same map in model pixels
    mask = None
    if x is not None:
        mask = text_mask(x).astype(np.uint8)
        if turn:  # back onto the unturned canvas the lines are drawn on
            mask = cv2.warpAffine(mask, m, (src_w, src_h),
                                  flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP)
        else:
            mask = np.pad(mask, ((0, src_h - h), (0, src_w - w)))
        mask = mask > 0
    for t in page.tables:
        ys = [v * scale for v in t.row_lines]
        xs = [v * scale for v in t.col_lines]
        x0, y0, x1, y1 = (round(v * scale) for v in t.bbox)
        planes[0, max(0, y0):y1, max(0, x0):x1] = 1
        hseg, vseg = separator_segments(t.n_rows, t.n_cols, _merges(t))
        if mask is not None:
            rgap, cgap = _gaps(t, ys, xs, mask, half)
        else:
            rgap = [(round(y) - half, round(y) + half + 1) for y in ys]
            cgap = [(round(v) - half, round(v) + half + 1) for v in xs]
        for i in range(1, t.n_rows):
            a, b = rgap[i]
            for c in range(t.n_cols):
                if hseg[i][c]:
                    planes[1, max(0, a):b, round(xs[c]):round(xs[c + 1])] = 1
        for j in range(1, t.n_cols):
            a, b = cgap[j]
            for r in range(t.n_rows):
                if vseg[r][j]:
                    planes[2, round(ys[r]):round(ys[r + 1]), max(0, a):b] = 1
    if turn:
        planes = np.stack([cv2.warpAffine(p, m, (w, h), flags=cv2.INTER_NEAREST) for p in planes])
    else:
        planes = planes[:, :h, :w]
    return (planes[0] * TABLE | planes[1] * ROW_SEP | planes[2] * COL_SEP).astype(np.uint8)


def table_json(page: PageTruth, scale: float) -> str:
    return json.dumps([
        {"n_rows": t.n_rows, "n_cols": t.n_cols, "bbox": [v * scale for v in t.bbox],
         "spans": sorted((c.row, c.col, c.rowspan, c.colspan) for c in t.cells),
         "rules": t.rules, "layout": t.layout}
        for t in page.tables])


def write_page(page: PageTruth, out: Path) -> None:
    gray, text_h, affine = deskewed(page)
    mi = model_input(gray, text_h)
    y = targets(page, mi.scale, mi.x.shape[1:], affine, mi.x)
    x = np.clip(mi.x * 255.0 + 0.5, 0, 255).astype(np.uint8)
    np.savez_compressed(out, x=x, y=y, tables=np.array(table_json(page, mi.scale)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", choices=["train", "validation"], required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--pages", type=int, default=1000)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--office-every", type=int, default=4, help="0: Pillow only")
    args = ap.parse_args(argv)
    if args.seed == BENCH_HELDOUT_SEED:
        print(f"seed {args.seed} is the benchmark's held-out page seed", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    from training.tables.office_page import render_office
    from training.tables.pillow_page import render_pillow

    t0 = time.time()
    done = 0
    for b, k0 in enumerate(range(args.start, args.start + args.pages, args.batch)):
        ks = [k for k in range(k0, min(k0 + args.batch, args.start + args.pages))
              if not (args.out / f"{args.split}-{args.seed}-{k:05d}.npz").exists()]
        if not ks:
            continue
        designs = [design_page(args.split, args.seed, k, "mixed") for k in ks]
        pages = None
        if args.office_every and b % args.office_every == args.office_every - 1:
            try:
                with tempfile.TemporaryDirectory(prefix="struct17_lo_") as tmp:
                    pages = render_office(designs, Path(tmp))
            except Exception as exc:  # noqa: BLE001 - a failed soffice batch falls back
                print(f"office batch {b} failed ({exc}); Pillow instead", flush=True)
        if pages is None:
            pages = [render_pillow(d) for d in designs]
        for k, p in zip(ks, pages):
            tmp_out = args.out / f".{args.split}-{args.seed}-{k:05d}.npz"
            write_page(p, tmp_out)
            tmp_out.rename(args.out / tmp_out.name[1:])
            done += 1
        print(f"{done} pages, {time.time() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
