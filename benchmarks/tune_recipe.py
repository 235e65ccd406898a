"""Choosing `model tune`'s recipe on a validation draw, never on the benchmark's crops.

    python3 -m benchmarks.tune_recipe [--minutes 10] [--max-steps N] [--val 200] [--general 300]
                                      [--blends 0.5,0.7,1] '{"lr": 1e-4}' '{"augment": 1}' ...

Each JSON argument overrides fields of ocr.finetune.TuneSettings. The corrections
are 100 typewriter crops of seed 2 (the benchmark, benchmarks/learn_from_corrections.py,
uses seed 1), the unseen style crops are seed 2's crops from 200_000 on, and the
forgetting check is the cell generator's validation families at the validation seed
(8; the benchmark reads held-out families at seed 7, which no choice here sees).
Prints exact-match and CER of each recipe on both; with --blends, for each share, as the
tuned weights read alone and as the saved folder reads (its base first, trusted
above TuneSettings.trust_base_above; ocr.base_reading).

How the defaults were chosen. Runs pinned to one core and one thread, compared at a
fixed number of optimizer steps (--max-steps; 823 is what the benchmark's 10 minutes
gave on 2 cores), each trained once and scored at several shares of the change kept
(--blends). 200 unseen style crops and 300 crops of other fonts unless said; one run
each, so differences of 2-3 points of exact-match are noise (CER moves more steadily).
"aug N": jitter strength N (ocr.augment.jitter; 0 is the old jitter); "splice": half of
the corrections read joined to another one. Every row trains the encoder only.

| recipe | steps | kept | style exact | style CER | other fonts exact |
|---|---|---|---|---|---|
| base model | - | - | 69.5% | 6.01% | 87.0% |
| lr 1e-4, aug 0 (the previous default) | 400 | 0.5 / 1 | 77.0 / 76.0% | 4.46 / 4.09% | 86.3 / 85.3% |
| lr 1e-4, aug 0 (the previous default) | 823 | 0.5 / 0.7 / 1 | 78.0 / 78.0 / 75.5% | 4.58 / 4.15 / 4.09% | 86.7 / 86.0 / 85.3% |
| lr 1e-4, aug 1 | 400 | 0.5 / 1 | 77.5 / 77.5% | 3.84 / 3.53% | 86.7 / 86.3% |
| lr 2e-4, aug 1 | 400 | 0.7 / 1 | 79.0 / 78.0% | 3.41 / 3.72% | 85.0 / 85.3% |
| lr 1e-4, aug 1 | 823 | 0.5 / 0.7 / 1 | 78.0 / 78.5 / 79.5% | 3.84 / 3.59 / 3.53% | 87.0 / 86.3 / 84.7% |
| lr 1e-4, aug 1, decoder too at 0.1x lr | 823 | 0.5 / 1 | 79.0 / 79.0% | 3.72 / 3.47% | 86.0 / 85.0% |
| lr 1e-4, aug 1, splice | 823 | 0.5 / 0.7 / 1 | 78.5 / 79.5 / 79.5% | 3.59 / 3.10 / 3.35% | 86.0 / 85.3 / 85.3% |
| lr 1e-4, aug 1, splice | 1600 | 0.5 / 0.7 / 1 | 79.5 / 80.0 / 78.5% | 3.22 / 2.97 / 3.22% | 86.3 / 85.7 / 83.7% |
| lr 2e-4, aug 2, splice (chosen) | 823 | 0.5 / 0.7 / 1 | 79.0 / 80.5 / 78.0% | 3.22 / 2.97 / 3.35% | 86.0 / 86.0 / 84.7% |
| lr 4e-4, aug 2, splice | 823 | 0.6 / 1 | 81.5 / 76.0% | 2.66 / 3.84% | 85.0 / 81.3% |
| 800 corrections instead of 80, lr 1e-4, aug 1 (a ceiling) | 823 | 1 | 84.0% | 2.35% | 85.3% |

On 400 style crops and 1000 crops of other fonts (base model: 70.2%, CER 6.26%; 86.8%):

| recipe | steps | kept | style exact | style CER | other fonts exact |
|---|---|---|---|---|---|
| lr 2e-4, aug 2, splice (chosen) | 823 | 0.4 | 77.8% | 4.11% | 86.8% |
| | | 0.5 | 78.8% | 3.75% | 86.6% |
| | | 0.6 | 80.5% | 3.53% | 86.8% |
| | | 0.7 | 80.0% | 3.56% | 86.6% |
| lr 1e-4, aug 0 (the previous default) | 823 | 0.5 | 76.0% | 4.97% | 87.1% |
| | | 0.6 | 76.2% | 4.85% | 87.2% |

Heavier jitter and splicing lower the style's CER at the same steps (4.9% -> 3.5% on
400 crops) and raise exact-match 4 points, not the 10 the benchmark asks for: the
training crops are still learnt by heart within a few hundred steps (last batch loss
~0.005 without them, ~0.08 with). Twice the steps adds little. Even 800 corrections
reach only 84% in 823 steps, so 90% from 100 corrections in 10 minutes is out of reach
of this recipe. lr 4e-4 reads the style a little better but forgets 2 points more on
other fonts at the same share. The decoder at a tenth of the rate gained nothing and costs 40% more
time a step. Forgetting shows on fonts the replay set
(training fonts) does not have, so neither the kept-apart corrections nor the replay
check sees it; a blend towards the base does: 0.4-0.7 of the change lost at most 0.2
points on 1000 crops. Chosen: lr 2e-4, aug 2, splice, 0.6 of the change kept.

Checked again for the session-18 embedded model (retrained with office print), the
default recipe, 10 minutes on 2 cores, 200 style crops and 300 of other fonts
(`--minutes 10 --blends 0.4,0.6,0.8,1 --baseline '{}'`; base: 76.5%, CER 4.65%; 92.3%):

| recipe | steps | kept | style exact | style CER | other fonts exact |
|---|---|---|---|---|---|
| lr 2e-4, aug 2, splice (the default) | 2440 | 0.4 | 84.0% | 2.66% | 92.0% |
| | | 0.6 | 86.5% | 2.11% | 92.0% |
| | | 0.8 | 87.0% | 1.98% | 90.3% |
| | | 1 | 83.5% | 2.42% | 87.7% |

0.6 stays the best trade: 0.8 reads the style half a point better and forgets 1.7
points more; no share reaches 90%.

Up to here "other fonts" were crops of the held-out families (seed 7, crops 20,000
on): a choice made on the families the benchmark holds out. From session 19 the
check is the validation families at seed 8 (600 crops), and it also counts the crops
the base read right and the tuned model reads wrong ("broken"): on fonts the base
reads poorly a tune can fix more than it breaks, and the average hides forgetting.
Base: style 76.5% (CER 4.65%); validation families 76.2% (6.76%). 10 minutes on 2 cores.

| recipe | steps | kept | style exact | style CER | validation families exact (broken) |
|---|---|---|---|---|---|
| the default | 2104 | 0.4 / 0.6 / 0.8 / 1 | 85.0 / 87.0 / 87.5 / 84.0% | 2.73 / 2.04 / 1.86 / 2.54% | 79.8 / 80.2 / 79.5 / 77.0% |
| recombine 0.3, splice 0.3 | 1974 | 0.4 / 0.6 / 0.8 / 1 | 85.0 / 84.0 / 84.0 / 85.0% | 2.66 / 2.66 / 2.48 / 2.23% | 80.5 / 81.7 / 80.2 / 78.7% |
| lr 3e-4, replay 0.25 | 2105 | 0.6 / 0.8 | 86.0 / 84.0% | 2.29 / 2.54% | 79.0 (18) / 77.7% (28) |
| the default, a second run | 2162 | 0.6 / 0.8 / 1 | 85.5 / 85.0 / 83.0% | | 80.3 (11) / 79.7 (21) / 76.8% (36) |
| the same weights, the base reading first, trusted above 0.99 | | 0.6 / 0.8 / 1 | 85.0 / 84.5 / 84.5% | | 79.3 (2) / 80.0 (4) / 79.5% (6) |

"recombine": that share of the corrections swapped for a new line of words cut from
several of them (ocr.augment.words); it did not read the style better. Two runs of
the same recipe differ by 1.5 points on 200 style crops: the style sits at 85-87.5%
whatever was tried. The base reading first (ocr.base_reading; trust thresholds
0.5-0.99 and "always the surer of the two" compared on the second run's readings)
keeps what the base read surely: broken crops 11 -> 2 at 0.6 for half a point of the
style; 0.99 read the style as well as asking the tuned weights on every crop, 0.95
lost 1.5 points more. Chosen: the default recipe, 0.6 kept, the base trusted above 0.99.

More corrections (`--train 300`: 240 trained on, 10 minutes, 2085 steps): style 86.0 /
88.0% at 0.6 / 0.8 alone (broken 12 / 20), 85.0 / 87.5% with the base first (broken
5 / 5). Three times the corrections read the style 1-2 points better: at this budget
the style stays below 90%.

Session 21: new lines in the print of the corrections (`{"style_lines": 0.5}`: half the
corrections' places in a batch go to lines set in the installed typefaces most like
them, ocr.style_lines). One run each, 10 minutes on 2 cores, 200 style crops, 300 of
the validation families; the first two rows by `--blends`, the third by a copy of
`_sweep` that also kept the readings (to compare ways of combining the base's and the
tuned weights'):

| recipe | steps | kept | style exact alone / base first | validation families exact alone / base first (broken alone / base first) |
|---|---|---|---|---|
| style lines, first font match (three monospace bold faces, not the typewriter's) | 1912 | 0.6 / 0.8 | 85.5 / 86.0% ; 86.5 / 86.5% | 77.0 / 76.7% (10 / 5); 75.3 / 77.0% (15 / 4) |
| style lines, the typewriter's own family only (an oracle) | 2132 | 0.6 / 0.8 | 88.0 / 85.0% ; 89.5 / 88.0% | 76.0 / 76.7% (11 / 3); 74.0 / 76.0% (17 / 6) |
| style lines, the match shipped (Fira Code, Liberation Mono, DejaVu Sans Mono) | 1963 | 0.6 / 0.8 / 1 | 89.0 / 86.0% ; 87.5 / 86.5% ; 85.5 / 86.0% | 77.0 / 78.3% (10 / 2); 77.0 / 77.3% (13 / 5); 75.0 / 78.0% (20 / 6) |

Against the default's 85.5-87.0% alone and 85.0% with the base first (above), the
style lines read the typewriter 1-3 points better at 0.6 kept and forget no more. The
base reading first costs the style most of that gain: where the base is wrong on the
style it is often surer than the tuned weights ("keep the surer" picks it); reading
the tuned weights wherever the base is below 0.99 reads the style at 89.0% but breaks
10 crops of other fonts instead of 2, so the rule stays.

A second style, so that the choice is not made for one kind of wear: `--style fax`
(benchmarks/fax.py: Gentium Plus, a validation family, thresholded at about 100 dpi
and enlarged), `--baseline --blends 0.6 '{"style_lines": 0}' '{"style_lines": 0.5}'`.
Base: 71.0% (CER 7.23%); validation families 75.3%. The match found Gentium (Gentium
Book Plus 0.660, Gentium Plus 0.657, Linux Biolinum 0.642).

| recipe | steps | style exact alone / base first | style CER alone / base first | validation families exact alone / base first (broken) |
|---|---|---|---|---|
| style_lines 0 | 1990 | 78.0 / 75.5% | 4.88 / 5.62% | 77.0 / 77.0% (10 / 4) |
| style_lines 0.5 | 2008 | 78.5 / 74.5% | 5.07 / 6.18% | 75.7 / 77.3% (15 / 6) |

With its own typeface found, the fax reads no better from the new lines. One point gained on one style and one lost on the other, both within the 1.5 points two
runs of a recipe differ by, and the benchmark, run once with them on, read the
typewriter at 85.3% (session 19's recipe: 86.3%; held-out 92.6 -> 93.2%). So
style_lines stays off by default, a setting to try (`'{"style_lines": 0.5}'`).

Session 23, on the embedded weights of session 22: the default recipe once on each
style (a copy of `_sweep` that also routed crops; 0.6 kept), exact / CER on 200 style
crops, exact and broken on 300 crops of the validation families:

| style | steps | base | tuned alone | base first (shipped) | style router |
|---|---|---|---|---|---|
| typewriter | 1713 | 79.5% / 4.03%; 75.3% | 87.0% / 2.17%; 80.3% (2) | 85.0% / 2.54%; 78.3% (2) | 86.5% / 2.23%; 80.0% (2) |
| fax | 1593 | 78.0% / 5.25%; 75.3% | 81.0% / 3.83%; 77.3% (6) | 81.0% / 4.08%; 78.0% (2) | 81.5% / 3.77%; 77.3% (4) |

The router sent a crop to the tuned weights when its base-encoder states (mean-pooled)
lay nearer the corrections' centroid than the replay crops': it tells the style from
the validation families poorly (AUC 0.67 and 0.69; eight image statistics: 0.74 on
the typewriter), and reads no better than the tuned weights alone. On the typewriter
the base first cost 2 points each side for no fewer broken crops; on the fax it kept
forgetting down (6 -> 2) at no cost to the style's exact match. One run each, within
the noise of a run, and the styles disagree: trust_base_above stays 0.99.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from benchmarks.scoring import cer_and_exact

VAL_SEED = 2  # the benchmark's typewriter seed is 1
GENERAL_SEED = 8  # train_recognizer's validation seed; the held-out benchmark's is 7


def _score(model_dir, crops, refs) -> tuple[float, float]:
    from ocr import Recognizer

    rec = Recognizer() if model_dir is None else Recognizer.from_pretrained(model_dir)
    cer, exact = cer_and_exact([r.text for r in rec.recognize(crops)], refs)
    return exact, cer


def _sweep(recipe: dict, shares, args, corrections, style, general) -> None:
    """One training run of model tune's recipe on the same split, scored at each share."""
    import resources
    from app.corrections import read_corrections
    from app.tuning import split_corrections, split_replay
    from ocr import Recognizer
    from ocr.finetune import Example, FineTuner, TuneSettings

    found, rep = read_corrections(corrections), read_corrections(args.replay or resources.path("replay"))
    _, train = split_corrections(list(zip(found.images, found.texts)))
    _, rep_train = split_replay(list(zip(rep.images, rep.texts)))
    settings = TuneSettings(seconds=args.minutes * 60.0, max_steps=args.max_steps)
    for key, value in recipe.items():
        setattr(settings, key, tuple(value) if isinstance(value, list) else value)
    settings.blends = (0.0, 1.0)  # keeps the base weights for blend()
    rec = Recognizer()  # reads as the benchmarks read: second look included
    # The base's readings, before training changes its weights in place: forgetting
    # shows as crops the base read right and the tuned model reads wrong (on fonts the
    # base reads poorly, crops it now gets right can hide them in the average), and a
    # tuned folder lets its base read first (ocr.base_reading).
    base_reads = [rec.recognize(crops) for crops, _ in (style, general)]
    trust = settings.trust_base_above
    tuner = FineTuner(rec, settings)
    t = time.perf_counter()
    log = tuner.run([Example(*e) for e in train], [Example(*e) for e in rep_train])
    wall = time.perf_counter() - t
    for share in shares:
        tuner.blend(share)
        tuned_reads = [rec.recognize(crops) for crops, _ in (style, general)]  # read once
        for alone in (True, False) if trust is not None else (True,):
            scores = []
            for (_, refs), before, got in zip((style, general), base_reads, tuned_reads):
                if not alone:  # as the saved folder reads: the base first
                    got = [b if b.confidence >= trust or b.confidence > g.confidence else g
                           for b, g in zip(before, got)]
                texts = [r.text for r in got]
                broken = sum(b.text == ref != x for b, x, ref in zip(before, texts, refs))
                scores.append((*cer_and_exact(texts, refs), broken))
            (sc, se, _), (gc, ge, broken) = scores
            how = "the tuned weights alone" if alone else f"the base first, trusted above {trust:g}"
            print(f"{json.dumps(recipe)}: {log.steps} steps in {wall / 60:.1f} min, {share:g} of the "
                  f"change kept, {how}; style exact {se:.1%} CER {sc:.2%}; general exact {ge:.1%} "
                  f"CER {gc:.2%}, {broken} read right before and wrong now", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("recipes", nargs="*", help="JSON objects of TuneSettings overrides")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--max-steps", type=int)
    ap.add_argument("--train", type=int, default=100)
    ap.add_argument("--val", type=int, default=200)
    ap.add_argument("--general", type=int, default=300)
    ap.add_argument("--baseline", action="store_true", help="also score the base model")
    ap.add_argument("--style", choices=("typewriter", "fax"), default="typewriter",
                    help="the print style of the corrections (benchmarks/typewriter.py, fax.py)")
    ap.add_argument("--replay", type=Path, help="another replay folder (default: the bundled one)")
    ap.add_argument("--blends", help="e.g. 0.5,0.7,1: train each recipe once (as model tune "
                    "would, same split) and score these shares of the change")
    args = ap.parse_args(argv)

    from app.corrections import CorrectionStore
    from app.tuning import tune_model
    from benchmarks.fax import FaxCells
    from benchmarks.typewriter import TypewriterCells
    from training.cells import CellGenerator

    gen = (FaxCells if args.style == "fax" else TypewriterCells)(seed=VAL_SEED)
    train_crops, train_refs = gen.crops(0, args.train)
    val_crops, val_refs = gen.crops(200_000, args.val)
    # Other fonts: the validation families. Held-out families stay out of every choice.
    vg = CellGenerator(GENERAL_SEED, "validation")
    cells = [vg.sample(i) for i in range(args.general)]
    gen_crops, gen_refs = [c.image for c in cells], [c.text for c in cells]
    work = Path(tempfile.mkdtemp(prefix="tune-recipe-"))
    store = CorrectionStore(work / "corrections")
    for crop, text in zip(train_crops, train_refs):
        store.add(crop, text)
    if args.baseline:
        s, g = _score(None, val_crops, val_refs), _score(None, gen_crops, gen_refs)
        print(f"base: style exact {s[0]:.1%} CER {s[1]:.2%}; general exact {g[0]:.1%} "
              f"CER {g[1]:.2%}", flush=True)
    if args.blends:
        shares = [float(b) for b in args.blends.split(",")]
        for text in args.recipes:
            _sweep(json.loads(text), shares, args, work / "corrections",
                   (val_crops, val_refs), (gen_crops, gen_refs))
        return 0
    for i, text in enumerate(args.recipes):
        recipe = json.loads(text)
        out = work / f"tuned{i}"
        t = time.perf_counter()
        report = tune_model(work / "corrections", out, minutes=args.minutes,
                            max_steps=args.max_steps, recipe=recipe, replay=args.replay)
        wall = time.perf_counter() - t
        s, g = _score(out, val_crops, val_refs), _score(out, gen_crops, gen_refs)
        kept = report.after.get("corrections", {})
        print(f"{json.dumps(recipe)}: {report.steps} steps in {wall / 60:.1f} min; style exact "
              f"{s[0]:.1%} CER {s[1]:.2%}; general exact {g[0]:.1%} CER {g[1]:.2%}; kept-apart "
              f"exact {kept.get('exact', float('nan')):.1%}; adopted={report.adopted}; blend {report.blend}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
