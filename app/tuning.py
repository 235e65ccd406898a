"""`tablescribe model tune`: learn from the user's corrections, on the engine.

A copy of the base model (default: the embedded one) is fine-tuned on the corrections
mixed with replayed synthetic crops (resources/replay/, the corrections format), so
that what it read well before it still reads well. A fifth of the corrections is kept
apart to judge the result, and a part of the replay set measures what else might be
forgotten. The tuned model is written as a complete model folder with a card; a run
that makes things worse is written but marked not adopted (tuning.json), and the
command exits non-zero. The base folder is only ever read.
"""

from __future__ import annotations

import datetime as _dt
import json
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from app.corrections import CorrectionError, model_identity, read_corrections
from ocr.metrics import cer

REPLAY = "replay"  # resources/replay: package data, found through the resources package
REPLAY_CHECK = 100  # replay crops never trained on: the "nothing else forgotten" check
MIN_CORRECTIONS = 5
GENERAL_TOLERANCE = 0.02  # largest drop of exact-match on the replay check still adopted

Progress = Callable[[float, str], None]


class TuneInputError(ValueError):
    """The corrections, the base model or the output folder cannot be used."""


@dataclass
class Figures:
    n: int
    exact: float
    cer: float


@dataclass
class TuneReport:
    out: str
    base: str
    adopted: bool
    reason: str
    corrections_used: int
    corrections_judged: int
    skipped: list[str] = field(default_factory=list)
    before: dict = field(default_factory=dict)  # "corrections"/"general" -> Figures as dict
    after: dict = field(default_factory=dict)
    steps: int = 0
    examples: int = 0
    seconds: float = 0.0
    cancelled: bool = False
    blend: float = 1.0  # share of the trained change kept (chosen on the kept-apart set)
    recipe: str = ""  # the TuneSettings that were used, in words
    style_faces: str = ""  # the typefaces new lines were set in (TuneSettings.style_lines)


def judge(recognizer, images, texts) -> Figures:
    got = [r.text for r in recognizer.recognize(images)]
    exact = sum(g == t for g, t in zip(got, texts)) / max(1, len(texts))
    return Figures(len(texts), exact, cer(got, texts))


def check_base(base: Path) -> None:
    from ocr.config import ModelConfigError, TrOCRConfig
    from ocr.hub import is_model_folder

    if not base.is_dir():
        raise TuneInputError(f"{base}: the base model is not a folder")
    if not is_model_folder(base):
        raise TuneInputError(f"{base}: not a TrOCR model folder (needs config.json and "
                             f"model.safetensors or pytorch_model.bin)")
    try:
        TrOCRConfig.from_folder(base)
    except (ModelConfigError, ValueError) as exc:
        raise TuneInputError(f"{base}: not a TrOCR model folder ({exc})") from None


def _outside_vocabulary(tokenizer, text: str) -> list[str]:
    return sorted({c for c in text if tokenizer.decode(tokenizer.encode(c)) != c})


def split_corrections(usable: list, seed: int = 0) -> tuple[list, list]:
    """(kept apart to judge, trained on): a fifth of the corrections, drawn by seed."""
    usable = list(usable)
    random.Random(seed).shuffle(usable)
    n_judge = max(1, round(len(usable) / 5))
    return usable[:n_judge], usable[n_judge:]


def split_replay(rep: list) -> tuple[list, list]:
    """(the check, never trained on; the crops replayed in training)."""
    return rep[-REPLAY_CHECK:], rep[:-REPLAY_CHECK] or rep


def tune_model(corrections: str | Path, out: str | Path, base: str | Path | None = None,
               minutes: float = 10.0, device: str | None = None, replay: str | Path | None = None,
               progress: Progress | None = None, cancelled: Callable[[], bool] | None = None,
               max_steps: int | None = None, seed: int = 0,
               trainable: list[str] | None = None, recipe: dict | None = None) -> TuneReport:
    """Fine-tune ``base`` on the corrections in ``corrections`` into ``out``. ``recipe``
    overrides fields of ocr.finetune.TuneSettings (lr, ema, replay_fraction, ...)."""
    from engine.device import Device
    from ocr import DEFAULT_MODEL_DIR, Recognizer
    from ocr.finetune import Example, FineTuner, TuneError, TuneSettings, save_tuned

    say = progress or (lambda frac, text: None)
    base = Path(base) if base is not None else DEFAULT_MODEL_DIR
    out = Path(out)
    check_base(base)
    if out.resolve() == base.resolve() or base.resolve() in out.resolve().parents:
        raise TuneInputError(f"{out}: the tuned model must not be written inside its base {base}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise TuneInputError(f"{out}: exists and is not an empty folder")
    if minutes <= 0:
        raise TuneInputError(f"--minutes must be positive, got {minutes}")
    try:
        found = read_corrections(corrections)
        if replay is None:
            import resources
            replay = resources.path(REPLAY)
        replay_set = read_corrections(replay)
    except CorrectionError as exc:
        raise TuneInputError(str(exc)) from None

    say(0.0, "Loading the base model…")
    dev = Device.best() if device in (None, "", "auto") else Device.parse(device)
    rec = Recognizer.from_pretrained(base, device=dev, second_look=False)
    skipped = list(found.skipped)
    usable: list[tuple] = []
    for image, text, name in zip(found.images, found.texts, found.names):
        unknown = _outside_vocabulary(rec.tokenizer, text)
        if unknown:
            skipped.append(f"{name}: characters outside the model's vocabulary: "
                           f"{' '.join(repr(c) for c in unknown)}")
        elif len(rec.tokenizer.encode(text)) + 1 > rec.max_new_tokens:
            skipped.append(f"{name}: longer than the model reads ({rec.max_new_tokens} tokens)")
        else:
            usable.append((image, text))
    if len(usable) < MIN_CORRECTIONS:
        raise TuneInputError(
            f"{corrections}: {len(usable)} usable correction{'s' if len(usable) != 1 else ''}, "
            f"at least {MIN_CORRECTIONS} are needed ({len(skipped)} skipped"
            + (f"; first: {skipped[0]}" if skipped else "") + ")")
    judged, train = split_corrections(usable, seed)
    check, rep_train = split_replay(list(zip(replay_set.images, replay_set.texts)))

    say(0.0, f"Reading {len(judged)} kept-apart corrections with the base model…")
    before = {"corrections": judge(rec, *zip(*judged)), "general": judge(rec, *zip(*check))}
    settings = TuneSettings(seconds=minutes * 60.0, max_steps=max_steps, seed=seed)
    if trainable:
        settings.trainable = tuple(trainable)
    for key, value in (recipe or {}).items():
        if not hasattr(settings, key) or key in ("seconds", "max_steps", "seed"):
            raise TuneInputError(f"unknown tuning setting {key!r}")
        setattr(settings, key, tuple(value) if key in ("trainable", "slow", "blends") else value)
    try:
        tuner = FineTuner(rec, settings)
    except TuneError as exc:
        raise TuneInputError(str(exc)) from None
    log = tuner.run([Example(i, t) for i, t in train], [Example(i, t) for i, t in rep_train],
                    progress=lambda f, text: say(0.05 + 0.85 * f, text), cancelled=cancelled)
    report = TuneReport(str(out), model_identity(base), False, "", len(train), len(judged),
                        skipped, {k: asdict(v) for k, v in before.items()}, {}, log.steps,
                        log.examples, round(log.seconds, 1), log.cancelled,
                        recipe=_recipe_words(settings), style_faces=tuner.style_faces)
    if log.cancelled:
        report.reason = "cancelled: nothing was written"
        return report
    if tuner.tuned is not None:
        say(0.9, "Choosing how much of the change to keep…")
        report.blend = _choose_blend(tuner, rec, judged, check, before["general"])
    say(0.9, "Writing the tuned model…")
    save_tuned(rec.model, base, out, _card(report), trust_base_above=settings.trust_base_above)
    tuned = Recognizer.from_pretrained(out, device=dev, second_look=False)  # as saved (f16)
    say(0.95, "Reading the kept-apart corrections with the tuned model…")
    after = {"corrections": judge(tuned, *zip(*judged)), "general": judge(tuned, *zip(*check))}
    report.after = {k: asdict(v) for k, v in after.items()}
    report.adopted, report.reason = _verdict(before, after)
    (out / "README.md").write_text(_card(report), encoding="utf-8")
    (out / "tuning.json").write_text(json.dumps(asdict(report), indent=2, ensure_ascii=False),
                                     encoding="utf-8")
    say(1.0, "Done")
    return report


def _recipe_words(s) -> str:
    return (f"trains {', '.join(s.trainable)}; AdamW lr {s.lr:g} (warm-up {s.warmup:.0%} of the "
            f"budget, cosine down to {s.min_lr:g}x), weight decay {s.weight_decay:g}, batches of "
            f"{s.batch} x {s.accumulate} with {s.replay_fraction:.0%} replay, weight average "
            f"{s.ema:g}, anchor {s.anchor:g}, blend shares {', '.join(f'{b:g}' for b in s.blends)}, "
            f"jitter strength {s.augment:g}, {s.splice:.0%} of corrections spliced to another"
            + (f", {s.recombine:.0%} swapped for a new line of their words" if s.recombine else "")
            + (f", {s.style_lines:.0%} of their places given to new lines set in the installed "
               f"typefaces most like them" if s.style_lines else "")
            + (f"; also {', '.join(s.slow)} at {s.slow_lr:g}x the rate" if s.slow else "")
            + (f"; the base model (a copy is in base/) reads first and is trusted where it "
               f"is at least {s.trust_base_above:g} sure" if s.trust_base_above is not None else ""))


def _choose_blend(tuner, rec, judged, check, general_before: Figures) -> float:
    """The share of the change to keep, judged on the kept-apart corrections and the
    replay check only: the best on the corrections among the shares that lose at most
    GENERAL_TOLERANCE / 2 on the check (ties: the smaller share, nearer the base)."""
    shares = sorted(tuner.settings.blends)
    if len(shares) == 1:
        tuner.blend(shares[0])
        return shares[0]
    best = None
    for share in shares:
        tuner.blend(share)
        own, other = judge(rec, *zip(*judged)), judge(rec, *zip(*check))
        ok = other.exact >= general_before.exact - GENERAL_TOLERANCE / 2
        key = (ok, own.exact, -own.cer, other.exact)
        if best is None or key > best[0]:
            best = (key, share)
    tuner.blend(best[1])
    return best[1]


def _verdict(before: dict, after: dict) -> tuple[bool, str]:
    bc, ac = before["corrections"], after["corrections"]
    bg, ag = before["general"], after["general"]
    if ag.exact < bg.exact - GENERAL_TOLERANCE:
        return False, (f"worse on other text: exact-match on the replay check fell from "
                       f"{bg.exact:.1%} to {ag.exact:.1%}")
    if ac.exact < bc.exact or (ac.exact == bc.exact and ac.cer >= bc.cer):
        return False, (f"no better on the kept-apart corrections: exact-match {bc.exact:.1%} "
                       f"before, {ac.exact:.1%} after")
    return True, (f"exact-match on the kept-apart corrections {bc.exact:.1%} -> {ac.exact:.1%}, "
                  f"on other text {bg.exact:.1%} -> {ag.exact:.1%}")


def _row(name: str, b: dict, a: dict | None) -> str:
    after = f"{a['exact']:.1%} | {a['cer']:.2%}" if a else "– | –"
    return f"| {name} ({b['n']} crops) | {b['exact']:.1%} | {b['cer']:.2%} | {after} |"


def _card(r: TuneReport) -> str:
    status = ("adopted" if r.adopted else "NOT ADOPTED") if r.after else "being judged"
    lines = [
        f"# Tuned from {r.base}",
        "",
        (f"Fine-tuned by `tablescribe model tune` on {_dt.date.today().isoformat()} on the "
         f"tablescribe engine: {r.corrections_used} of the user's corrections mixed with "
         f"replayed synthetic crops; {r.steps} optimizer steps over {r.examples} examples in "
         f"{r.seconds / 60:.1f} minutes. The weights keep {r.blend:.0%} of the trained "
         f"change (the rest is the base model's: that keeps what it read well)."),
        "",
        f"Recipe: {r.recipe}.",
        "",
        *([(f"New lines were set in the installed typefaces most like the corrections "
            f"(likeness in brackets): {r.style_faces}."), ""] if r.style_faces else []),
        f"Status: **{status}**" + (f": {r.reason}" if r.reason else "") + ".",
        "",
        "| set | exact before | CER before | exact after | CER after |",
        "|---|---|---|---|---|",
        _row("kept-apart corrections", r.before["corrections"], r.after.get("corrections")),
        _row("replay check (other text)", r.before["general"], r.after.get("general")),
    ]
    if r.skipped:
        lines += ["", f"{len(r.skipped)} corrections skipped:", ""]
        lines += [f"- {s}" for s in r.skipped[:50]]
    return "\n".join(lines) + "\n"
