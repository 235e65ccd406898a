"""Which installed typeface a user's corrections are printed in.

A user corrects tens of crops; the glyphs of their print that those crops never show
(a '§', an 'Ø', a '½') are where a tuned model still fails. If the typeface is on
this computer, new lines can be set in it (ocr.style_lines) and the tuning sees every
glyph. Each correction's text is set in each installed font, and the font whose
rendering looks most like the crop, over several corrections, wins. The comparison
is of ink shapes scaled to a common height: a worn or blurred print still has its
typeface's widths, proportions and stroke positions.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from ocr.preprocess import to_pil

FONT_SUFFIXES = (".ttf", ".otf", ".ttc")
PROFILE_HEIGHT = 24  # ink shapes are compared at this height, px
RENDER_PX = 48  # size a font is set in to be compared
ROW_SHARE = 0.05  # rows with less ink than this share of the fullest row's lie outside the box
SHIFT = 2  # px (of PROFILE_HEIGHT) a window of glyphs may sit off from the rendering
FIRST_ROUND = 3  # lines every font is compared on
FINAL_ROUND = 24  # fonts compared on all the lines
MAX_FONTS = 1500  # a computer with more font files: the first ones, in path order


def font_folders() -> list[Path]:
    """Where this platform keeps its fonts (system and the user's own)."""
    home = Path.home()
    if sys.platform == "win32":
        windir = Path(os.environ.get("WINDIR", r"C:\Windows"))
        local = Path(os.environ.get("LOCALAPPDATA", home / "AppData" / "Local"))
        return [windir / "Fonts", local / "Microsoft" / "Windows" / "Fonts"]
    if sys.platform == "darwin":
        return [Path("/System/Library/Fonts"), Path("/Library/Fonts"), home / "Library" / "Fonts"]
    data = Path(os.environ.get("XDG_DATA_HOME", home / ".local" / "share"))
    return [Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), data / "fonts",
            home / ".fonts"]


def installed_fonts(folders: Iterable[Path] | None = None) -> list[Path]:
    found: set[Path] = set()
    for folder in folders if folders is not None else font_folders():
        if folder.is_dir():
            for root, _, names in os.walk(folder):
                found.update(Path(root) / n for n in names if n.lower().endswith(FONT_SUFFIXES))
    return sorted(found)[:MAX_FONTS]


@functools.lru_cache(maxsize=256)  # FreeType keeps each face's file open: stay well under ulimit
def load_font(path: str, px: int) -> ImageFont.FreeTypeFont | None:
    try:
        return ImageFont.truetype(path, px)
    except (OSError, ValueError):  # not a font FreeType can read
        return None


def _glyph_key(font: ImageFont.FreeTypeFont, ch: str) -> bytes:
    mask = font.getmask(ch)
    return bytes(mask.size) + bytes(mask)


def covered(font: ImageFont.FreeTypeFont, chars: Iterable[str]) -> set[str]:
    """The characters the font draws a glyph of its own for (a missing one is drawn
    as the font's .notdef box, the same as an unassigned code point's)."""
    missing = {_glyph_key(font, "\U0010fffd"), _glyph_key(font, "\ufffe")}
    return {c for c in chars if c == " " or (c.isprintable() and _glyph_key(font, c) not in missing)}


def render(font: ImageFont.FreeTypeFont, text: str) -> Image.Image:
    """Black text on white, with a margin of a quarter of the size."""
    left, top, right, bottom = font.getbbox(text)
    pad = max(2, font.size // 4)
    img = Image.new("L", (right - left + 2 * pad, bottom - top + 2 * pad), 255)
    ImageDraw.Draw(img).text((pad - left, pad - top), text, font=font, fill=0)
    return img


def ink_box(img) -> np.ndarray | None:
    """The crop's ink (0 paper .. 1 ink), cut to its ink's bounding box; None for a crop
    with no ink."""
    arr = np.asarray(to_pil(img).convert("L"), np.float32)
    paper, ink = np.percentile(arr, 90), np.percentile(arr, 2)
    if paper - ink < 20:
        return None
    dark = np.clip((paper - arr) / (paper - ink), 0, 1)
    ink_rows = (dark > 0.5).sum(axis=1)
    cols = np.nonzero((dark > 0.5).any(axis=0))[0]
    if cols.size == 0:
        return None
    # The box's top and bottom rows: where ink reaches ROW_SHARE of the fullest row's, so
    # that one glyph struck higher or lower than the rest does not squash the profile.
    rows = np.nonzero(ink_rows >= max(1.0, ROW_SHARE * ink_rows.max()))[0]
    return dark[rows.min():rows.max() + 1, cols.min():cols.max() + 1]


def ink_profile(box: np.ndarray) -> np.ndarray:
    """An ink box scaled to PROFILE_HEIGHT, aspect kept, and blurred a little."""
    h, w = box.shape
    width = max(1, round(w * PROFILE_HEIGHT / h))
    small = Image.fromarray((box * 255).astype(np.uint8)).resize((width, PROFILE_HEIGHT),
                                                                 Image.Resampling.BILINEAR)
    return np.asarray(small.filter(ImageFilter.GaussianBlur(1.0)), np.float32) / 255.0


def as_printed(img: Image.Image) -> list[Image.Image]:
    """A clean rendering, and as ink that spread by one and two px shows it: worn, blurred
    or overinked print is bolder than its typeface, and would otherwise match a bold face."""
    return [img, img.filter(ImageFilter.MinFilter(3)), img.filter(ImageFilter.MinFilter(5))]


def likeness(crop: np.ndarray, rendered: np.ndarray) -> float:
    """How alike two ink profiles are: their correlation once the rendering is stretched
    to the crop's width, less a penalty for the stretch (a typeface's widths are its own).
    The correlation is taken in windows about a glyph wide, each at its best offset of up
    to SHIFT px: worn print sets its glyphs a little apart (a typewriter's keys, a bent
    line), which moves the strokes but not their shapes. Windows count by their ink. (On
    the typewriter's validation draw this chose the typeface's regular face over its
    bold one; the family ranks were the same without it.)"""
    stretch = abs(np.log(rendered.shape[1] / crop.shape[1]))
    h, w = crop.shape
    win = PROFILE_HEIGHT // 2
    n = max(1, w // win)
    a = _windows(_resized(crop, n * win, h), n, win)
    norm_a = np.sqrt((a * a).sum(axis=(0, 2)))
    padded = np.pad(_resized(rendered, n * win, h), SHIFT)
    best = np.full(n, -1.0)
    for dy in range(2 * SHIFT + 1):
        for dx in range(2 * SHIFT + 1):
            b = _windows(padded[dy:dy + h, dx:dx + n * win], n, win)
            corr = (a * b).sum(axis=(0, 2)) / (norm_a * np.sqrt((b * b).sum(axis=(0, 2))) + 1e-6)
            best = np.maximum(best, corr)
    weight = norm_a + 1e-6
    return float((best * weight).sum() / weight.sum()) - 2.0 * stretch


def _resized(profile: np.ndarray, width: int, height: int) -> np.ndarray:
    img = Image.fromarray((profile * 255).astype(np.uint8))
    return np.asarray(img.resize((width, height), Image.Resampling.BILINEAR), np.float32) / 255.0


def _windows(arr: np.ndarray, n: int, win: int) -> np.ndarray:
    """(h, n, win): n windows side by side, each less its mean."""
    out = arr.reshape(arr.shape[0], n, win)
    return out - out.mean(axis=(0, 2), keepdims=True)


@dataclass
class FontMatch:
    path: Path
    score: float  # mean likeness over the corrections compared
    px_per_height: float  # font size in px per px of the crops' text height (ink box)


def match_fonts(samples: Sequence[tuple[object, str]], fonts: Sequence[Path] | None = None,
                top: int = 3, max_samples: int = 12) -> list[FontMatch]:
    """The ``top`` installed fonts most like the print of ``samples`` ((crop, its text)
    pairs), best first. Samples with fewer than three letters or digits tell little and
    are not compared; fonts lacking a glyph of a compared text are passed over."""
    chosen = [(box, t) for img, t in samples
              if sum(c.isalnum() for c in t) >= 3 and (box := ink_box(img)) is not None]
    chosen.sort(key=lambda bt: -len(bt[1]))  # longer lines say more of a typeface
    chosen = [(ink_profile(box), box.shape[0], t) for box, t in chosen[:max_samples]]
    if not chosen:
        return []
    needed = {c for *_, t in chosen for c in t}
    usable = [p for p in (fonts if fonts is not None else installed_fonts())
              if (f := load_font(str(p), RENDER_PX)) is not None and covered(f, needed) == needed]
    # A first round on a few lines, then the likeliest fonts on the rest of them too.
    first = {p: _likenesses(p, chosen[:FIRST_ROUND]) for p in usable}
    finalists = sorted(usable, key=lambda p: -np.mean(first[p][0]))[:FINAL_ROUND]
    results = []
    for p in finalists:
        more = _likenesses(p, chosen[FIRST_ROUND:])
        scores, sizes = first[p][0] + more[0], first[p][1] + more[1]
        results.append(FontMatch(Path(p), float(np.mean(scores)), float(np.median(sizes))))
    results.sort(key=lambda m: -m.score)
    best, families = [], set()
    for m in results:  # one face a family: a hedge across designs, not weights of one
        family = load_font(str(m.path), RENDER_PX).getname()[0]
        if family not in families:
            families.add(family)
            best.append(m)
    return best[:top]


def _likenesses(path: Path, chosen: list) -> tuple[list[float], list[float]]:
    """Per compared line: the font's likeness to it, and the font size in px per px of
    the line's text height."""
    scores, sizes = [], []
    for profile, height, text in chosen:
        # set at the crop's size, so that ink spread by a px means what it does there
        box = load_font(str(path), RENDER_PX).getbbox(text)
        px = max(6, round(RENDER_PX * height / max(1, box[3] - box[1])))
        boxes = [b for v in as_printed(render(load_font(str(path), px), text))
                 if (b := ink_box(v)) is not None]
        scores.append(max((likeness(profile, ink_profile(b)) for b in boxes), default=-1.0))
        sizes.append(px / height)
    return scores, sizes
