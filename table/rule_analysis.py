"""The rule detector's pass over a page, as find_tables makes it: the page brought to the
working scale, its ink, the line masks by morphology sized to the text, the straight
lines accepted, and the mask of their pixels.

The split model's rule channel (table.split_input.rule_evidence) is a pass of its own
at a slightly different scale, the one the model was trained on.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from table.ink import Ink, analyse_ink
from table.lines import Line, LineMasks, find_lines, line_masks, rule_mask

__all__ = ["ANALYSIS_TEXT_H", "LOW_RES_TEXT_H", "RuleAnalysis", "analyse_rules", "rules_at_scale"]

ANALYSIS_TEXT_H = 12.0  # px; pages with larger characters are analysed reduced to this
LOW_RES_TEXT_H = 9.0  # px; pages with smaller characters are analysed enlarged to ANALYSIS_TEXT_H


@dataclass
class RuleAnalysis:
    gray: np.ndarray  # the page at the working scale, (h, w) uint8
    text_h: float  # median character height at that scale, px
    ink: Ink
    masks: LineMasks
    horizontal: list[Line]
    vertical: list[Line]
    rules: np.ndarray  # (h, w) uint8, 255 on the accepted lines' pixels
    page_shape: tuple[int, int]  # the page's (H, W)

    @property
    def rescaled(self) -> bool:
        return self.gray.shape != self.page_shape


def _thicken_dark(gray: np.ndarray, k: int) -> np.ndarray:
    """A k x k minimum filter, so one-pixel hairlines keep their darkness when the page
    is averaged down; not inside dark areas, whose light rules it would wipe out."""
    eroded = cv2.erode(gray, np.ones((k, k), np.uint8))
    darkish = cv2.blur(gray, (4 * k + 1, 4 * k + 1)) < 128
    return np.where(darkish, gray, eroded)


def working_page(gray: np.ndarray, text_h: float) -> np.ndarray:
    """The page at the detector's working scale. Structure needs no more than ~12 px per
    character: a 300 dpi scan is analysed at about half size (a quarter of the work). A
    low-resolution scan (text under ~9 px) is analysed enlarged to ~12 px per character:
    a rule one pixel wide and the gap between two words are then more than a rounding
    error for the morphology sized to the text."""
    if text_h > 1.3 * ANALYSIS_TEXT_H:
        scale = ANALYSIS_TEXT_H / text_h
        size = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
        return cv2.resize(_thicken_dark(gray, int(np.ceil(1.0 / scale))), size,
                          interpolation=cv2.INTER_AREA)
    if text_h < LOW_RES_TEXT_H:
        up = min(2.5, ANALYSIS_TEXT_H / text_h)
        size = (round(gray.shape[1] * up), round(gray.shape[0] * up))
        return cv2.resize(gray, size, interpolation=cv2.INTER_CUBIC)
    return gray


def analyse_rules(gray: np.ndarray, text_h: float) -> RuleAnalysis:
    """The rule detector's pass over a deskewed grey page (H, W) uint8 whose median
    character is text_h px tall."""
    work = working_page(gray, text_h)
    return rules_at_scale(work, text_h * work.shape[0] / gray.shape[0], gray.shape[:2])


def rules_at_scale(work: np.ndarray, th: float, page_shape: tuple[int, ...]) -> RuleAnalysis:
    """The detector on a page already brought to its working scale (``th`` px per
    character): its ink, the line masks, the lines accepted and their pixels. Shared by
    find_tables' pass (working_page) and the split model's rule channel, which brings
    the page to scale its own way."""
    ink = analyse_ink(work, th)
    masks = line_masks(ink.binary, th)
    hs = find_lines(masks.horizontal, True, th, ink.binary, ink.smooth)
    vs = find_lines(masks.vertical, False, th, ink.binary, ink.smooth)
    return RuleAnalysis(work, th, ink, masks, hs, vs, rule_mask(masks, hs + vs, th),
                        (page_shape[0], page_shape[1]))
