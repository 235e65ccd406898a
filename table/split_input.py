"""What the split model sees: a page at a fixed text height, and the rules today's
detector found on it.

The page is scaled so that its median character is MODEL_TEXT_H pixels tall, which
makes the model's input independent of dpi and font size. Channel 0 is ink darkness
(1 - grey); channel 1 is the rule evidence: the pixels of the lines the morphology
detector accepted (found at ANALYSIS_TEXT_H), averaged down to the model's scale.
Training (training/tables/structure_data.py) and inference (table/split_model.py) both
call ``model_input``, so they cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from table.ink import estimate_text_height, otsu_ink
from table.rule_analysis import ANALYSIS_TEXT_H, rules_at_scale

__all__ = ["CONTEXT", "MODEL_TEXT_H", "ModelInput", "model_input", "with_context"]

MODEL_TEXT_H = 8.0  # px per median character at the model's scale
MIN_SCALE, MAX_SCALE = 0.15, 2.0
CONTEXT = 121  # px: the window of the row/column context channels (about 15 characters)


@dataclass
class ModelInput:
    x: np.ndarray  # (2, h, w) float32: ink darkness, rule evidence
    scale: float  # model pixels per page pixel
    text_h: float  # median character height on the page, page pixels


def _resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    shrink = size[0] < img.shape[1]
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def rule_evidence(gray: np.ndarray, text_h: float) -> np.ndarray:
    """(H', W') float32 in [0, 1]: pixels of the rules the morphology detector accepts,
    found on the page brought to ANALYSIS_TEXT_H px per character.

    This is a pass of its own, not find_tables' (table.rule_analysis), whose working
    page is thickened and scaled differently: the model was trained on this one, and
    feeding it find_tables' mask put a span into a column-ruled table of the validation
    draw (dev ruled page 14) that this pass reads right."""
    s = ANALYSIS_TEXT_H / text_h
    h, w = gray.shape
    size = (max(8, round(w * s)), max(8, round(h * s)))
    work = _resize(gray, size) if abs(s - 1.0) > 0.05 else gray
    analysis = rules_at_scale(work, text_h * work.shape[0] / h, gray.shape)
    return analysis.rules.astype(np.float32) / 255.0


def model_input(gray: np.ndarray, text_h: float | None = None) -> ModelInput:
    """The model's input for a (deskewed) grey page, (H, W) uint8."""
    if gray.dtype != np.uint8 or gray.ndim != 2:
        raise ValueError(f"model_input expects a (H, W) uint8 page, got {gray.shape} {gray.dtype}")
    if text_h is None:
        text_h = estimate_text_height(otsu_ink(gray))
    scale = float(np.clip(MODEL_TEXT_H / max(text_h, 1.0), MIN_SCALE, MAX_SCALE))
    h, w = gray.shape
    size = (max(8, round(w * scale)), max(8, round(h * scale)))
    x = np.empty((2, size[1], size[0]), np.float32)
    np.subtract(1.0, _resize(gray, size).astype(np.float32) / 255.0, out=x[0])
    rules = _resize(rule_evidence(gray, text_h), size)
    np.clip(rules * 2.0, 0.0, 1.0, out=x[1])  # a thin rule survives averaging
    return ModelInput(x, scale, float(text_h))


def with_context(x: np.ndarray, context: int = CONTEXT) -> np.ndarray:
    """(2, h, w) -> (4, h, w): adds the ink averaged along a row window and along a
    column window (x 4, clipped). A white gap between two table rows stays near 0 for a
    whole window across, a text line does not: the projection evidence of SPLERGE's
    projection pooling, given to a small net as input rather than learnt."""
    ink = np.ascontiguousarray(x[0], dtype=np.float32)
    rows = np.clip(cv2.blur(ink, (context, 1), borderType=cv2.BORDER_CONSTANT) * 4.0, 0, 1)
    cols = np.clip(cv2.blur(ink, (1, context), borderType=cv2.BORDER_CONSTANT) * 4.0, 0, 1)
    return np.concatenate([x, rows[None], cols[None]]).astype(np.float32, copy=False)
