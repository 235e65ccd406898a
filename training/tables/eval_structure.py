"""Whole-page validation of a split-model checkpoint: the net on every page of a
structure_data folder (validation pages only), decoded by table/split_decode.py, against
the truth stored with the page. Prints grid exact (same number of tables, each with the
right rows, columns and spans), rows/columns right, and the decoder thresholds tried.
The decoder reads columns from the page's whitespace rivers too, as the app does.

    python3 -m training.tables.eval_structure /work/ckpt/struct17/best.pt \
        /work/data/struct17/val --pages 24 --sweep

``--sweep`` tries a few SPLIT_T / MERGE_T values on these (validation) pages; what it
picks is what the model card reports. Held-out pages never come here.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np
import torch

from table import split_decode
from table.split_input import MODEL_TEXT_H, with_context
from training.tables.split_net import SplitNet


def page_maps(net: SplitNet, x: np.ndarray) -> np.ndarray:
    _, h, w = x.shape
    m = 32 if net.cfg.get("deep") else 8
    xp = np.pad(x, ((0, 0), (0, -h % m), (0, -w % m)))
    with torch.no_grad():
        return torch.sigmoid(net(torch.from_numpy(xp[None])))[0, :, :h, :w].numpy()


def score(pages, split_t: float, merge_t: float) -> dict:
    grid = rows = cols = n_tables = found = 0
    for probs, rules, ink, truth in pages:
        got = split_decode.decode(probs, rules, MODEL_TEXT_H, split_t, merge_t, ink)
        found += len(got)
        ok = len(got) == len(truth)
        for t, g in zip(truth, got):
            n_tables += 1
            rows += t["n_rows"] == g.n_rows
            cols += t["n_cols"] == g.n_cols
            spans = {tuple(s) for s in t["spans"]}
            ok &= spans == {(c.row, c.col, c.rowspan, c.colspan) for c in g.cells}
        grid += ok
    n = max(1, len(pages))
    return {"split_t": split_t, "merge_t": merge_t, "grid_exact": round(grid / n, 3),
            "rows_right": round(rows / max(1, n_tables), 3),
            "cols_right": round(cols / max(1, n_tables), 3),
            "tables_found": found,
            "tables_true": sum(len(t) for *_, t in pages)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("pages", type=Path)
    ap.add_argument("--pages-max", "--pages-n", dest="n", type=int, default=24)
    ap.add_argument("--sweep", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    ck = torch.load(args.checkpoint, map_location="cpu")
    net = SplitNet(ck["config"]).eval()
    net.load_state_dict(ck["model"])
    pages = []
    for f in sorted(args.pages.glob("*.npz"))[: args.n]:
        d = np.load(f)
        x = d["x"].astype(np.float32) / 255.0
        if net.cfg["in_channels"] == 4:
            x = with_context(x, net.cfg["context"])
        pages.append((page_maps(net, x), x[1], x[0], json.loads(str(d["tables"]))))
    print(f"{args.checkpoint} (step {ck.get('step')}) on {len(pages)} pages of {args.pages}")
    grid = itertools.product((0.25, 0.35, 0.45, 0.55), (0.15, 0.25, 0.35, 0.45)) if args.sweep else \
        [(split_decode.SPLIT_T, split_decode.MERGE_T)]
    for s, m in grid:
        print(json.dumps(score(pages, s, m)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
