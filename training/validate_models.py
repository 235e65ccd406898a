"""Score model folders on the validation draw, as the app reads (engine, second look).

    python -m training.validate_models DIR [DIR ...] [--n 500] [--seed 8]

The validation draw is the validation font families (never trained on, never
benchmarked: training/tables/fonts.py RECOGNISER_SPLITS), scan-like and
low-resolution, seed 8 (train_recognizer's validation seed). Snapshot choice and
averaging are decided here, never on benchmarks/ocr_accuracy.py's held-out families.
"""

from __future__ import annotations

import argparse
import json
import sys

from ocr.metrics import cer
from training.train_recognizer import VALIDATION_MIXES, validation_sets


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
    args = ap.parse_args(argv)
    sets = validation_sets(args.n, args.seed)
    for model in args.models:
        m = score(model, sets, second_look=not args.single_look)
        parts = "  ".join(f"{k} CER {m[k]['cer']:.2%} exact {m[k]['exact']:.2%}" for k in VALIDATION_MIXES)
        print(f"{model}: mean CER {m['cer']:.2%} exact {m['exact']:.2%} | {parts}", flush=True)
        print(json.dumps({"model": model, **m}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
