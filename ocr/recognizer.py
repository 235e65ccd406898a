"""Recognizer: crops in, text with a confidence out. Owns preprocessing, batching,
decoding and the tokenizer; the table pipeline and the GUI see only this."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

import engine
import resources
from ocr.generation import beam_search, greedy
from ocr.model import TrOCRModel
from ocr.preprocess import PreprocessConfig, pixel_values, split_wide_line
from ocr.second_look import SecondLook
from ocr.tokenizer import TextTokenizer

# The embedded default model: package data of ``resources`` (installed with the wheel).
DEFAULT_MODEL_DIR = resources.path(resources.MODELS, "tablescribe-cells")


@dataclass(frozen=True)
class Recognition:
    text: str
    confidence: float  # lowest per-token probability of the chosen sequence (EOS included)


@dataclass(frozen=True)
class _Reading:
    """A recognition with what ranks it against other readings of the same crop."""

    text: str
    confidence: float
    log_prob: float  # sum of the chosen tokens' log-probabilities (EOS included)
    tokens: int

    @property
    def mean_log_prob(self) -> float:
        return self.log_prob / self.tokens if self.tokens else -np.inf


def _read_json(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: invalid JSON: {exc}") from None


class Recognizer:
    def __init__(self, model: TrOCRModel | None = None, *, batch_size: int = 48,
                 max_new_tokens: int | None = None, device=None,
                 second_look: SecondLook | bool = True, base_reading: bool = True):
        """``second_look``: True reads unsure crops again as the model folder's
        generation_config.json asks (``ocr.second_look``), False never does, and a
        ``SecondLook`` replaces the folder's. ``base_reading``: a tuned model whose
        folder keeps its base lets the base read first (``ocr.base_reading``); False
        reads with the tuned weights alone."""
        if model is None:  # the one place the embedded model is loaded
            model = TrOCRModel.from_pretrained(DEFAULT_MODEL_DIR, device=device or "cpu")
        self.model = model
        folder = model.folder
        cfg = model.config
        if folder is None:
            raise ValueError("the model has no folder to read its tokenizer and preprocessor from")
        self.tokenizer = TextTokenizer.from_folder(
            folder, special_ids={cfg.bos_token_id, cfg.eos_token_id, cfg.pad_token_id,
                                 cfg.decoder_start_token_id})
        pre = _read_json(Path(folder) / "preprocessor_config.json")
        self.preprocess = PreprocessConfig.from_dict(pre, num_channels=cfg.encoder.num_channels)
        if not pre:
            h, w = cfg.encoder.image_size
            self.preprocess.height, self.preprocess.width = h, w
        gen = cfg.generation  # generation_config.json, read with the model's config
        self.max_new_tokens = gen.max_new_tokens if max_new_tokens is None else max_new_tokens
        self.length_penalty = gen.length_penalty
        self.early_stopping = gen.early_stopping
        self.batch_size = batch_size
        asked_second_look = second_look  # as asked: the base reads the same way
        if second_look is True:
            second_look = gen.second_look
        self.second_look: SecondLook | None = second_look or None
        self.base: Recognizer | None = None  # reads first (a tuned model's base)
        self.trust_base_above = 1.0
        if base_reading and gen.base_reading is not None:
            entry = gen.base_reading
            base_folder = Path(folder) / entry.folder
            if not base_folder.is_dir():
                raise ValueError(f"{folder}: generation_config.json names the base model "
                                 f"folder {entry.folder!r}, which is not there")
            # The base's own settings apply to its reading, but never a base of its own.
            self.base = Recognizer(TrOCRModel.from_pretrained(base_folder, device=model.device),
                                   batch_size=batch_size, max_new_tokens=max_new_tokens,
                                   second_look=asked_second_look, base_reading=False)
            self.trust_base_above = entry.trust_above

    @classmethod
    def default(cls, device=None) -> Recognizer:
        """The embedded model of resources/models/."""
        return cls(device=device)

    @classmethod
    def from_pretrained(cls, path_or_id: str | Path, device=None, **kwargs) -> Recognizer:
        return cls(TrOCRModel.from_pretrained(path_or_id, device=device or "cpu"), **kwargs)

    @property
    def device(self):
        return self.model.device

    def recognize(self, images: Sequence, beams: int = 1) -> list[Recognition]:
        """Text of each crop (PIL images or uint8 arrays), in order. A line wider than
        the model reads well (``split_aspect`` of its preprocessor config) is read in
        pieces cut at word spaces, joined by a space, as unsure as its least sure piece.
        With a second look, an unsure crop is read again in other views, one after
        the other until the reading kept is sure; the reading kept is the one the
        model is surest of. A tuned model that keeps its base lets the base read
        first and reads only the crops the base is unsure of, keeping the surer."""
        if self.base is None:
            return self._recognize_alone(images, beams)
        readings = self.base.recognize(images, beams)
        unsure = [i for i, r in enumerate(readings) if r.confidence < self.trust_base_above]
        if unsure:
            own = self._recognize_alone([images[i] for i in unsure], beams)
            for i, reading in zip(unsure, own):
                if reading.confidence >= readings[i].confidence:
                    readings[i] = reading
        return readings

    def _recognize_alone(self, images: Sequence, beams: int) -> list[Recognition]:
        """This model's own readings (with its second look)."""
        readings = self._read(images, beams)
        if self.second_look is not None:
            self._look_again(images, readings, beams, self.second_look)
        return [Recognition(r.text, r.confidence) for r in readings]

    def _look_again(self, images: Sequence, readings: list[_Reading], beams: int,
                    look: SecondLook) -> None:
        """Replace, in place, unsure readings by surer ones of other views of the crop,
        view after view until the reading kept is sure."""
        unsure = [i for i, r in enumerate(readings) if r.confidence < look.below_confidence]
        for view in look.views:
            if not unsure:
                return
            seen = [(i, view.apply(images[i])) for i in unsure]
            seen = [(i, image) for i, image in seen if image is not None]
            for (i, _), reading in zip(seen, self._read([image for _, image in seen], beams)):
                if reading.mean_log_prob > readings[i].mean_log_prob:
                    readings[i] = reading
            unsure = [i for i in unsure if readings[i].confidence < look.below_confidence]

    def _read(self, images: Sequence, beams: int) -> list[_Reading]:
        """One reading of each crop, wide lines in pieces."""
        splitting = bool(self.preprocess.split_aspect and self.preprocess.keep_aspect_ratio)
        pieces = [split_wide_line(image, self.preprocess.split_aspect) if splitting else [image]
                  for image in images]
        flat = [piece for group in pieces for piece in group]
        # Pieces come trimmed: preprocessing need not look for their margins again.
        pre = replace(self.preprocess, trim_margins=False) if splitting else self.preprocess
        read: list[_Reading] = []
        for start in range(0, len(flat), self.batch_size):
            read.extend(self._recognize_batch(flat[start : start + self.batch_size], beams, pre))
        out: list[_Reading] = []
        at = 0
        for group in pieces:
            parts, at = read[at : at + len(group)], at + len(group)
            if len(parts) == 1:
                out.append(parts[0])
                continue
            out.append(_Reading(" ".join(p.text for p in parts if p.text),
                                min(p.confidence for p in parts),
                                sum(p.log_prob for p in parts), sum(p.tokens for p in parts)))
        return out

    def _recognize_batch(self, images: Sequence, beams: int,
                         pre: PreprocessConfig) -> list[_Reading]:
        if not len(images):
            return []
        cfg = self.model.config
        pv = pixel_values(images, pre)
        with engine.no_grad():
            states = self.model.encode(pv)
            session = self.model.session(states)
            if beams <= 1:
                results = greedy(session, len(images), cfg.decoder_start_token_id, cfg.eos_token_id,
                                 self.max_new_tokens)
            else:
                results = beam_search(session, len(images), cfg.decoder_start_token_id,
                                      cfg.eos_token_id, self.max_new_tokens, beams,
                                      self.length_penalty, self.early_stopping)
        readings = []
        for r in results:
            probs = np.asarray(r.token_probs, dtype=np.float64)
            conf = float(probs.min()) if probs.size else 0.0
            log_prob = float(np.log(np.maximum(probs, 1e-30)).sum())
            readings.append(_Reading(self.tokenizer.decode(r.tokens), conf, log_prob, int(probs.size)))
        return readings
