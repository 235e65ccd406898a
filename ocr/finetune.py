"""Fine-tuning a TrOCR recogniser on the engine: labelled crops in, better weights out.

The model's float32 parameters are the master weights (whatever the file stores);
only parameters whose names match the chosen patterns are trained, the others are
frozen, so backward never runs through them. Each optimizer step accumulates the
gradients of several small batches (AdamW from engine.optim), within a time budget.
Writing the result (``save_tuned``) keeps every tensor of the base file, in its own
dtype, and replaces only the trained ones.
"""

from __future__ import annotations

import fnmatch
import json
import math
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

import engine
import engine.functional as F
from engine.optim import AdamW
from ocr.augment import jitter, line_of_words, splice, words
from ocr.base_reading import BASE_FOLDER, BaseReading
from ocr.config import GENERATION_FILE
from ocr.preprocess import PreprocessConfig, pixel_values
from ocr.recognizer import Recognizer

IGNORE = -100

# The whole encoder (a new print style is a change in what the encoder sees); the
# decoder, which only knows text, stays as it is and so learns no 80 strings by heart.
# Other sets: --train. The recipe (these and TuneSettings' defaults) was chosen with
# benchmarks/tune_recipe.py on a validation draw (typewriter seed 2; the benchmark's
# crops are seed 1); that module's docstring has the figures.
DEFAULT_TRAINABLE = ("encoder.*",)
# e.g. the decoder and the last two encoder blocks ("{last}" is the last block's index):
DECODER_AND_TOP = ("decoder.*", "encoder.encoder.layer.{last-1}.*",
                   "encoder.encoder.layer.{last}.*", "encoder.layernorm.*")


class TuneError(ValueError):
    """Fine-tuning cannot start or its inputs are unusable; the message says why."""


@dataclass
class Example:
    image: Image.Image
    text: str


@dataclass
class TuneSettings:
    trainable: Sequence[str] = DEFAULT_TRAINABLE
    lr: float = 2e-4
    weight_decay: float = 0.01
    batch: int = 8
    accumulate: int = 2  # batches per optimizer step
    replay_fraction: float = 0.4  # share of each batch drawn from the replay set
    seconds: float = 600.0
    max_steps: int | None = None
    seed: int = 0
    warmup: float = 0.05  # share of the budget over which the learning rate ramps up
    min_lr: float = 0.1  # the cosine schedule ends at lr * min_lr (1.0: a constant rate)
    ema: float = 0.99  # decay of an exponential moving average of the weights (0: none)
    anchor: float = 0.0  # pull towards the base weights, per unit of learning rate (L2-SP)
    # Shares of the trained change kept at the end (1: all of it); with several, the one
    # chosen on the kept-apart corrections. In validation, 0.4-0.7 of the change lost at
    # most 0.2 points on 1000 crops of other fonts (all of it: 2-3 points); 0.6 read the
    # new style best.
    blends: Sequence[float] = (0.6,)
    # Heavier jitter and splicing keep ~80 corrections seen ~100 times each from being
    # learnt by heart (validation: style CER 4.6% -> 3.0% at the same steps).
    augment: float = 2.0  # jitter strength (ocr.augment.jitter; 0: margins, scale, blur)
    splice: float = 0.5  # share of corrections read joined to another one (ocr.augment.splice)
    # share of corrections replaced by a new line of words cut from several of them
    # (ocr.augment.words, line_of_words)
    recombine: float = 0.0
    # share of the corrections' places in a batch given to new lines set in the installed
    # typefaces most like the corrections (ocr.style_lines: every glyph of the vocabulary,
    # not only those the corrections show). Off: on the validation draw it read the
    # typewriter 1 point better with the base first (86.0 against 85.0 %) and the fax 1
    # point worse (74.5 against 75.5 %), its typeface found; table in
    # benchmarks/tune_recipe.py.
    style_lines: float = 0.0
    slow: Sequence[str] = ()  # parameters also trained, at slow_lr x the learning rate
    slow_lr: float = 0.1
    # The tuned folder keeps its base, which reads first; the tuned weights read the crops
    # the base is less sure of than this (ocr.base_reading; None: the tuned weights read
    # alone). Validation (typewriter seed 2, 600 crops of the validation families): of
    # the crops the base read right, the tuned model alone read 11 wrong, with its base
    # reading first 2; the style read 85.5 % alone, 85.0 % so (0.95: 83.5 %).
    trust_base_above: float | None = 0.99


@dataclass
class TuneLog:
    steps: int = 0
    examples: int = 0
    seconds: float = 0.0
    first_loss: float = math.nan
    last_loss: float = math.nan
    cancelled: bool = False


def expand_patterns(patterns: Sequence[str], num_encoder_layers: int) -> list[str]:
    last = num_encoder_layers - 1
    return [p.replace("{last-1}", str(max(last - 1, 0))).replace("{last}", str(last))
            for p in patterns]


def freeze(model, patterns: Sequence[str]) -> list[tuple[str, engine.Tensor]]:
    """Train only parameters whose dotted name matches a pattern (fnmatch); freeze the
    rest. Returns the trainable (name, parameter) pairs."""
    pats = expand_patterns(patterns, model.config.encoder.num_layers)
    trainable = []
    for name, p in model.named_parameters():
        keep = any(fnmatch.fnmatchcase(name, pat) for pat in pats)
        p.requires_grad = keep
        if keep:
            trainable.append((name, p))
    if not trainable:
        raise TuneError(f"no parameter matches the patterns {', '.join(pats)}")
    return trainable


def label_arrays(tokenizer, texts: Sequence[str], start_id: int, eos_id: int,
                 pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Teacher forcing: inputs [start, t1..tn] and labels [t1..tn, eos], padded."""
    seqs = [tokenizer.encode(t) for t in texts]
    width = max(len(s) for s in seqs) + 1
    inputs = np.full((len(seqs), width), pad_id, np.int64)
    labels = np.full((len(seqs), width), IGNORE, np.int64)
    for i, s in enumerate(seqs):
        inputs[i, 0] = start_id
        inputs[i, 1:len(s) + 1] = s
        labels[i, :len(s)] = s
        labels[i, len(s)] = eos_id
    return inputs, labels


def lr_factor(frac: float, warmup: float, min_lr: float) -> float:
    """The learning rate's multiplier at a fraction of the budget: a linear warm-up,
    then a cosine from 1 down to min_lr."""
    if warmup > 0 and frac < warmup:
        return max(frac / warmup, 0.01)
    rest = (frac - warmup) / max(1e-9, 1.0 - warmup)
    return min_lr + (1.0 - min_lr) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, rest)))


class WeightAverage:
    """An exponential moving average of parameters, started from their current values.
    The averaged weights drift less from the base and are less noisy than the last
    step's. Tensor ops, so it runs on the parameters' device."""

    def __init__(self, params: Sequence[engine.Tensor], decay: float) -> None:
        self.params = list(params)
        self.decay = decay
        self.avg = [p.detach().clone() for p in self.params]

    def update(self) -> None:
        d = self.decay
        with engine.no_grad():
            self.avg = [a * d + p.detach() * (1.0 - d) for a, p in zip(self.avg, self.params)]

    def copy_to_params(self) -> None:
        with engine.no_grad():
            for a, p in zip(self.avg, self.params):
                p[...] = a


class FineTuner:
    """Trains the model of a Recognizer in place (its tokenizer and preprocessing are
    the ones the model reads with)."""

    def __init__(self, recognizer: Recognizer, settings: TuneSettings):
        self.rec = recognizer
        self.model = recognizer.model
        self.settings = settings
        self.trainable = freeze(self.model, tuple(settings.trainable) + tuple(settings.slow))
        slow = ({n for n, _ in self._matching(settings.slow)}
                - {n for n, _ in self._matching(settings.trainable)})
        # (optimizer, its share of the learning rate): the slow group learns at slow_lr x lr
        self.optimizers = [(AdamW(group, lr=settings.lr, weight_decay=settings.weight_decay), k)
                           for group, k in (([p for n, p in self.trainable if n not in slow], 1.0),
                                            ([p for n, p in self.trainable if n in slow],
                                             settings.slow_lr)) if group]
        self.base = None  # the trainable weights before training (for anchor and blend)
        if settings.anchor > 0 or tuple(settings.blends) != (1.0,):
            self.base = [p.detach().clone() for _, p in self.trainable]
        self.tuned = None
        self._pieces: list = []  # words cut from the corrections (recombine), set by run()
        self.style_faces = ""  # the typefaces new lines were set in (style_lines), by run()
        cfg = self.model.config
        self.ids = (cfg.decoder_start_token_id, cfg.eos_token_id, cfg.pad_token_id)
        # Crops are read as the recogniser reads one line: margins trimmed, aspect kept.
        self.pre: PreprocessConfig = recognizer.preprocess

    def _matching(self, patterns: Sequence[str]) -> list[tuple[str, engine.Tensor]]:
        pats = expand_patterns(patterns, self.model.config.encoder.num_layers)
        return [(n, p) for n, p in self.trainable if any(fnmatch.fnmatchcase(n, q) for q in pats)]

    def loss(self, images: Sequence, texts: Sequence[str]) -> engine.Tensor:
        pv = pixel_values(images, self.pre)
        inputs, labels = label_arrays(self.rec.tokenizer, texts, *self.ids)
        logits = self.model.logits(pv, inputs)
        target = engine.tensor(labels, dtype=engine.i64, device=self.model.device)
        return F.cross_entropy(logits, target, ignore_index=IGNORE)

    def run(self, examples: Sequence[Example], replay: Sequence[Example] = (),
            progress: Callable[[float, str], None] | None = None,
            cancelled: Callable[[], bool] | None = None) -> TuneLog:
        s = self.settings
        if not examples:
            raise TuneError("nothing to train on")
        rng = random.Random(s.seed)
        n_replay = round(s.batch * s.replay_fraction) if replay else 0
        n_own = s.batch - n_replay
        log = TuneLog()
        start = time.perf_counter()
        order: list[int] = []
        params = [p for _, p in self.trainable]
        self._pieces = [w for e in examples for w in (words(e.image, e.text) or [])] \
            if s.recombine > 0 else []
        average = WeightAverage(params, s.ema) if s.ema > 0 else None
        style = None
        if s.style_lines > 0:
            if progress is not None:
                progress(0.0, "Finding the typeface of the corrections…")
            style = self._style_lines(examples, replay)

        def done() -> float:  # the share of the budget spent
            frac = (time.perf_counter() - start) / s.seconds
            return max(frac, log.steps / s.max_steps) if s.max_steps else frac

        self.model.train()
        try:
            while True:
                if done() >= 1.0:
                    break
                if cancelled is not None and cancelled():
                    log.cancelled = True
                    break
                lr = s.lr * lr_factor(done(), s.warmup, s.min_lr)
                for opt, k in self.optimizers:
                    opt.lr = lr * k
                    opt.zero_grad()
                total = 0.0
                for _ in range(s.accumulate):
                    batch = []
                    for _ in range(n_own):
                        if style and rng.random() < s.style_lines:
                            line = self._style_line(style, rng)
                            if line is not None:
                                batch.append(line)
                                continue
                        if not order:
                            order = list(range(len(examples)))
                            rng.shuffle(order)
                        batch.append(self._varied(examples, examples[order.pop()], rng))
                    batch += [replay[rng.randrange(len(replay))] for _ in range(n_replay)]
                    loss = self.loss([jitter(e.image, rng, s.augment) for e in batch], [e.text for e in batch])
                    (loss * (1.0 / s.accumulate)).backward()
                    total += float(loss.item()) / s.accumulate
                    log.examples += len(batch)
                for opt, _ in self.optimizers:
                    opt.step()
                if s.anchor > 0:
                    self._pull_to_base(lr * s.anchor)
                if average is not None:
                    average.update()
                log.steps += 1
                if log.steps == 1:
                    log.first_loss = total
                log.last_loss = total
                if progress is not None:
                    progress(min(1.0, done()), f"step {log.steps}, loss {total:.3f}")
            if average is not None and not log.cancelled:
                average.copy_to_params()
            if self.base is not None:
                self.tuned = [p.detach().clone() for p in params]
        finally:
            self.model.zero_grad()
            self.model.eval()  # drops the inference caches: the next read sees new weights
            for p in self.model.parameters():
                p.requires_grad = False
        log.seconds = time.perf_counter() - start
        return log

    def _style_lines(self, examples: Sequence[Example], replay: Sequence[Example]):
        from ocr.style_lines import StyleLines

        tok = self.rec.tokenizer
        vocabulary = [tok.decode([i]) for i in range(tok.vocab_size)]
        style = StyleLines([(e.image, e.text) for e in examples],
                           [e.text for e in (*replay, *examples)], vocabulary)
        self.style_faces = style.describe()
        return style

    def _style_line(self, style, rng: random.Random) -> Example | None:
        """A new line in the corrections' print, short enough to be read whole."""
        for _ in range(10):
            image, text = style.sample(rng)
            if len(self.rec.tokenizer.encode(text)) + 1 <= self.rec.max_new_tokens:
                return Example(image, text)
        return None

    def _varied(self, examples: Sequence[Example], e: Example, rng: random.Random) -> Example:
        """The correction as it is, joined to another one, or (recombine) swapped for a
        new line of words cut from several."""
        s, aspect = self.settings, self.pre.split_aspect or 7.0
        roll = rng.random()
        if roll < s.recombine and self._pieces:
            made = line_of_words(self._pieces, rng, aspect)
        elif roll < s.recombine + s.splice:
            other = examples[rng.randrange(len(examples))]
            made = splice(e.image, e.text, other.image, other.text, rng, aspect)
        else:
            return e
        if made is None or len(self.rec.tokenizer.encode(made[1])) + 1 > self.rec.max_new_tokens:
            return e
        return Example(*made)

    def _pull_to_base(self, rate: float) -> None:
        """p -= rate * (p - base): decay towards the base weights rather than to zero."""
        rate = min(rate, 1.0)
        with engine.no_grad():
            for (_, p), p0 in zip(self.trainable, self.base):
                if p.device.type == "cpu":
                    a = p.np
                    a -= rate * (a - p0.np)
                else:
                    p[...] = p - (p - p0) * rate

    def blend(self, share: float) -> None:
        """Set the trained weights to base + share * (tuned - base): 1 keeps all of the
        change, 0 is the base model (a blend keeps more of what the base read well)."""
        if self.tuned is None:
            raise TuneError("blend() needs a finished run that kept the base weights")
        with engine.no_grad():
            for (_, p), p0, p1 in zip(self.trainable, self.base, self.tuned):
                p[...] = p0 + (p1 - p0) * share
        self.model.eval()  # drop the inference caches built from other weights


WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def save_tuned(model, base: Path, out: Path, card: str, extra_files: dict[str, str] | None = None,
               trust_base_above: float | None = None) -> None:
    """A complete model folder at ``out``: the base folder's files (config, tokenizer,
    preprocessor, generation config), model.safetensors with every tensor of the base
    file in its own dtype, trained ones replaced, and ``card`` as README.md. With
    ``trust_base_above``, a copy of the base goes into its ``base`` subfolder and reads
    first (ocr.base_reading). Written beside ``out`` and moved into place, so a failed
    write leaves no half folder."""
    from ocr.weights import WeightFile

    base, out = Path(base), Path(out)
    if out.resolve() == base.resolve():
        raise TuneError(f"{out}: the tuned model cannot replace its base model")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise TuneError(f"{out}: exists and is not an empty folder")
    tmp = out.with_name(f".{out.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        for f in base.iterdir():
            if f.is_file() and f.name not in WEIGHT_FILES and f.name != "README.md":
                shutil.copy2(f, tmp / f.name)
        weights = WeightFile(base)
        trained = dict(model.state_dict())
        tensors = {}
        for name in weights.names():
            src = weights[name]
            tensors[name] = trained[name].to(src.dtype) if name in trained else src
        engine.save_safetensors(tensors, tmp / "model.safetensors",
                                metadata={"format": "pt", "tuned_from": base.name})
        (tmp / "README.md").write_text(card, encoding="utf-8")
        write_base_reading(base, tmp, trust_base_above)
        for name, text in (extra_files or {}).items():
            (tmp / name).write_text(text, encoding="utf-8")
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_base_reading(base: Path, out: Path, trust_above: float | None) -> None:
    """Keep a copy of ``base`` in ``out/base`` and name it in out's generation config
    (``trust_above``), or, with None, name no base. A base that was itself tuned with
    its own base is copied as the weights it reads with, without that base of its own."""

    def settings(folder: Path) -> dict:
        path = folder / GENERATION_FILE
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    def write(folder: Path, gen: dict) -> None:
        (folder / GENERATION_FILE).write_text(json.dumps(gen, indent=2, ensure_ascii=False) + "\n",
                                              encoding="utf-8")

    gen = settings(out)
    changed = gen.pop("base_reading", None) is not None
    if trust_above is not None:
        copy = out / BASE_FOLDER
        copy.mkdir()
        for f in base.iterdir():
            if f.is_file():
                shutil.copy2(f, copy / f.name)
        base_gen = settings(copy)
        if base_gen.pop("base_reading", None) is not None:
            write(copy, base_gen)
        gen["base_reading"] = BaseReading(BASE_FOLDER, trust_above).to_dict()
        changed = True
    if changed:
        write(out, gen)
