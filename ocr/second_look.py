"""A second look at the crops the model is unsure of.

A small strip model misreads some crops because of how the resize to its input
height lands the strokes on the pixel grid: an accent merges into the letter under
it, two letters touch, a long line is cut into pieces at an unlucky word space.
Seen again a little wider, narrower, taller or shorter, the same crop often reads
right, and the model tells which reading that is: the one it is surest of, by mean
log-probability per token. Only crops whose first reading has a token less likely
than ``below_confidence`` are looked at again, view after view until the kept
reading is sure, so the cost is those few crops times the views they need.

A model folder asks for it in generation_config.json::

    "second_look": {"below_confidence": 0.8,
                    "views": [{"stretch_x": 1.15}, {"stretch_x": 0.87},
                              {"trim_rows": 0.05}, {"pad_rows": 0.05}]}

``stretch_x`` scales the width, ``trim_rows`` cuts that fraction of the height off
the top and the bottom, ``pad_rows`` adds that much paper (the crop's median colour)
above and below. The threshold is the model's own: it depends on how its
confidences are calibrated, so it is chosen with the model, on its validation draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

from ocr.preprocess import to_pil

# What each view may ask for: beyond these a view no longer shows the same text.
_LIMITS = {"stretch_x": (0.5, 2.0), "trim_rows": (0.0, 0.2), "pad_rows": (0.0, 0.5)}


@dataclass(frozen=True)
class View:
    kind: str  # one of _LIMITS
    amount: float

    def __post_init__(self):
        if self.kind not in _LIMITS:
            raise ValueError(f"unknown view {self.kind!r} (known: {', '.join(_LIMITS)})")
        object.__setattr__(self, "amount", _number(self.amount, *_LIMITS[self.kind], self.kind))

    def apply(self, image) -> Image.Image | None:
        """This view of a crop, or None where it would be the crop itself (a crop too
        small for the rows to change): reading it again would tell nothing new."""
        img = to_pil(image)
        if self.kind == "stretch_x":
            width = max(1, round(img.width * self.amount))
            if width == img.width:
                return None
            return img.resize((width, img.height), Image.Resampling.BICUBIC)
        rows = round(img.height * self.amount)
        if rows == 0:
            return None
        if self.kind == "trim_rows":
            return img.crop((0, rows, img.width, img.height - rows))  # amount <= 0.2: never empty
        return ImageOps.expand(img, border=(0, rows, 0, rows), fill=_paper(img))


def _number(value, low: float, high: float, what: str) -> float:
    """``value`` as a float, if it is a number (not a bool) from ``low`` to ``high``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ValueError(f"{what} must be a number from {low:g} to {high:g}, got {value!r}")
    return float(value)


def _paper(img: Image.Image):
    """The crop's median colour: the paper, whatever its shade."""
    pixels = np.asarray(img).reshape(img.height * img.width, -1)
    median = tuple(int(v) for v in np.median(pixels, axis=0))
    return median[0] if len(median) == 1 else median


@dataclass(frozen=True)
class SecondLook:
    below_confidence: float
    views: tuple[View, ...]

    @classmethod
    def from_dict(cls, cfg, source: str = "second_look") -> SecondLook:
        """Parse the ``second_look`` entry; ``source`` names it in errors."""
        if not isinstance(cfg, dict) or set(cfg) != {"below_confidence", "views"}:
            raise ValueError(f"{source}: expected {{'below_confidence': number, 'views': [...]}}, got {cfg!r}")
        views = cfg["views"]
        if not isinstance(views, list) or not views:
            raise ValueError(f"{source}: views must be a non-empty list, got {views!r}")
        try:
            below = _number(cfg["below_confidence"], 0.0, 1.0, "below_confidence")
            return cls(below, tuple(_parse_view(v) for v in views))
        except ValueError as exc:
            raise ValueError(f"{source}: {exc}") from None


def _parse_view(entry) -> View:
    if not isinstance(entry, dict) or len(entry) != 1:
        raise ValueError(f"a view is one {{kind: amount}} pair, got {entry!r}")
    (kind, amount), = entry.items()
    return View(kind, amount)
