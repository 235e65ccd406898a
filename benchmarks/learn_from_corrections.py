"""Learning from corrections: a print style the embedded model reads poorly, before and
after `tablescribe model tune` on 100 corrected crops of it.

    python3 -m benchmarks.learn_from_corrections [--train 100] [--test 300] [--minutes 10]
                                                 [--heldout 500] [--keep DIR]

The style is a worn typewriter ribbon (benchmarks/typewriter.py): struck characters
with wandering baselines, uneven pressure and speckled ink, which the training
generator (training/cells.py) never renders. Prints exact-match and CER on --test
unseen crops of that style before and after tuning, and on the standard held-out
set of benchmarks/ocr_accuracy.py (first --heldout crops), read as the app reads
(second look included). The tuning is the real command, run as a subprocess with
--minutes of training time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.scoring import cer_and_exact


def _score(model_dir, crops, refs) -> tuple[float, float, float, list[str]]:
    from ocr import Recognizer

    rec = Recognizer() if model_dir is None else Recognizer.from_pretrained(model_dir)
    t = time.perf_counter()
    got = [r.text for r in rec.recognize(crops)]
    ms = 1000 * (time.perf_counter() - t) / max(1, len(crops))
    cer, exact = cer_and_exact(got, refs)
    return exact, cer, ms, got


def spellable(refs: list[str]) -> list[bool]:
    """Whether the embedded model's vocabulary holds every character of each text: a
    crop with one it lacks can never read exactly, before tuning or after (model tune
    skips such corrections)."""
    from ocr import Recognizer

    tok = Recognizer(second_look=False).tokenizer
    return [tok.decode(tok.encode(t)) == t for t in refs]


def _exact_where(got: list[str], refs: list[str], mask: list[bool]) -> float:
    pairs = [(g, r) for g, r, m in zip(got, refs, mask) if m]
    return sum(g == r for g, r in pairs) / max(1, len(pairs))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", type=int, default=100, help="corrected crops given to model tune")
    ap.add_argument("--test", type=int, default=300, help="unseen crops of the style")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--heldout", type=int, default=500, help="crops of the standard held-out set")
    ap.add_argument("--keep", type=Path, help="keep the corrections and the tuned model here")
    args = ap.parse_args(argv)

    from app.corrections import CorrectionStore
    from benchmarks.ocr_accuracy import heldout_crops
    from benchmarks.typewriter import TypewriterCells

    work = args.keep or Path(tempfile.mkdtemp(prefix="learn-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    gen = TypewriterCells(seed=1)
    train_crops, train_refs = gen.crops(0, args.train)
    test_crops, test_refs = gen.crops(100_000, args.test)  # a disjoint range: unseen
    corrections = work / "corrections"
    store = CorrectionStore(corrections)
    store.clear()
    for crop, text in zip(train_crops, train_refs):
        store.add(crop, text)
    std_crops, std_refs = heldout_crops(args.heldout)

    print(f"style: worn typewriter ribbon ({gen.path}); {args.train} corrections, "
          f"{args.test} unseen crops; standard held-out set: {len(std_refs)} crops", flush=True)
    before_style = _score(None, test_crops, test_refs)
    before_std = _score(None, std_crops, std_refs)
    print(f"before: style exact {before_style[0]:.1%} CER {before_style[1]:.2%}; "
          f"held-out exact {before_std[0]:.1%} CER {before_std[1]:.2%}", flush=True)

    out = work / "tuned"
    if out.exists():
        import shutil
        shutil.rmtree(out)
    cmd = [sys.executable, "-m", "app.cli", "model", "tune", str(corrections), "-o", str(out),
           "--minutes", str(args.minutes), "--quiet"]
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=dict(os.environ), capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t
    print(f"$ {' '.join(cmd[1:])}\n  exit {proc.returncode} after {wall / 60:.1f} min: "
          f"{(proc.stdout + proc.stderr).strip()}", flush=True)
    if not (out / "model.safetensors").is_file():
        return 1
    report = json.loads((out / "tuning.json").read_text())
    after_style = _score(out, test_crops, test_refs)
    after_std = _score(out, std_crops, std_refs)
    print(f"tuning: {report['steps']} steps, {report['examples']} examples, "
          f"{report['seconds'] / 60:.1f} min, adopted={report['adopted']}")
    print()
    # ms/crop: a tuned model whose base reads first reads the unsure crops twice
    print("| set | exact before | exact after | CER before | CER after | ms/crop before | after |")
    print("|---|---|---|---|---|---|---|")
    print(f"| typewriter ribbon, {args.test} unseen | {before_style[0]:.1%} | {after_style[0]:.1%} | "
          f"{before_style[1]:.2%} | {after_style[1]:.2%} | {before_style[2]:.1f} | "
          f"{after_style[2]:.1f} |")
    print(f"| standard held-out, {len(std_refs)} | {before_std[0]:.1%} | {after_std[0]:.1%} | "
          f"{before_std[1]:.2%} | {after_std[1]:.2%} | {before_std[2]:.1f} | {after_std[2]:.1f} |")
    can = spellable(test_refs)
    print(f"\n{len(can) - sum(can)} of the {len(can)} unseen style crops hold a character outside "
          f"the embedded vocabulary (none can read them exactly: at most {sum(can) / len(can):.1%}). "
          f"On the other {sum(can)}: exact {_exact_where(before_style[3], test_refs, can):.1%} "
          f"before, {_exact_where(after_style[3], test_refs, can):.1%} after.")
    drop = 100 * (before_std[0] - after_std[0])
    print(f"\ntargets: style exact >= 90%: {'met' if after_style[0] >= 0.9 else 'NOT met'} "
          f"({after_style[0]:.1%}); held-out loss <= 0.3 points: "
          f"{'met' if drop <= 0.3 else 'NOT met'} ({drop:+.1f} points lost)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
