"""Render the replay set bundled with the app: synthetic cells like the training data.

    python3 -m training.make_replay [OUT_DIR] [--n 400]

`tablescribe model tune` mixes these crops with the user's corrections so that a
fine-tuned model keeps reading everything else. They are rendered once here and
shipped (resources/replay/), in the corrections format (PNG crops + labels.jsonl):
the app never imports training/, and it reads the same crops on every machine,
whatever fonts that machine has.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from training.cells import CellGenerator

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "resources" / "replay"  # the checkout's


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    gen = CellGenerator(args.seed, "train")
    lines = []
    for i in range(args.n):
        cell = gen.sample(i)
        if not cell.text or "\n" in cell.text:
            continue
        name = f"{i:05d}.png"
        cell.image.save(args.out / name, optimize=True)
        lines.append(json.dumps({"image": name, "text": cell.text, "font": cell.font},
                                ensure_ascii=False))
    (args.out / "labels.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(lines)} crops in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
