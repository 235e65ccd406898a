"""Synthetic table-cell generator for training and evaluating the cell recogniser.

Seeded and reproducible: ``CellGenerator(seed, split).sample(i)`` always returns the
same (image, text) pair for the same seed, split and index. The text sampler covers
what real table cells hold (numbers in every usual dress, dates, codes, words,
names, phrases, single characters, empty cells); the renderer draws it with one of
many system fonts at 8-14 pt and 150-300 dpi and then damages it like a scan.

Fonts are split by *family* (every weight and width of a design goes one way,
``training.tables.fonts.RECOGNISER_SPLITS``): "heldout" and "validation" render only
with families "train" never sees, each from its own seed space. The render mix
(``training.cell_renders``) adds low-resolution, photo and photocopy renders to the
scan-like one.
"""

from __future__ import annotations

import functools
import glob
import io
import math
import os
import random
import string
import unicodedata
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from training.cell_renders import RENDER_MIXES, damage_lowres, photo, photocopy
from training.charset_tokenizer import build_char_tokenizer
from training.tables.fonts import (
    RECOGNISER_PACKAGES,
    RECOGNISER_SPLITS,
    family_of,
    recogniser_split_of,
)

ACCENTED = "ÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖØÙÚÛÜÝàáâãäåçèéêëìíîïñòóôõöøùúûüýÿßæœÆŒŁłřŘőŐčČšŠžŽ"
SYMBOLS = "€£¥°±×–—’“”•…§"
# The vocabulary the model was first trained on (ids in sorted order), then the
# characters added later, appended in this order so no existing id moves.
BASE_CHARSET = "".join(chr(c) for c in range(32, 127)) + ACCENTED + SYMBOLS
APPENDED_CHARS = "²³÷µ≤≥½¼‰©"
CHARSET = BASE_CHARSET + APPENDED_CHARS

FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", os.path.expanduser("~/.fonts"))
# Fonts whose glyphs are not Latin text (symbols, dingbats, math) are useless here.
_FONT_EXCLUDE = ("Symbol", "Dingbat", "D050000L", "Z003", "Math", "Emoji", "Icons", "Hairline", "Thin",
                 "Smallcaps", "SmallCaps", "AllSC")  # small capitals hide the letter case

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]
FIRST_NAMES = ["Anna", "José", "Zoë", "François", "Müller", "Björn", "Chloé", "Łukasz", "Ingrid",
               "Mohammed", "Wei", "Olga", "Renée", "Søren", "Ana", "Jürgen", "Noël", "Inès",
               "Peter", "Mary", "James", "Linda", "Carlos", "Hélène", "Ömer", "Ñuño", "Frédéric"]
LAST_NAMES = ["Smith", "García", "Núñez", "Dubois", "Schröder", "Kowalski", "O'Brien", "Lindqvist",
              "Rossi", "Ferreira", "Nguyen", "Dvořák", "Müller", "Jensen", "Brown", "Lefèvre",
              "Åberg", "Çelik", "Martín", "van der Berg", "Johnson", "Williams", "Moreau"]
UNITS = ["kg", "km", "m²", "pcs", "h", "ml", "MB", "°C", "USD", "EUR", "units", "x",
         "m³", "cm²", "µm", "µg", "°F", "°", "‰", "km²", "mm"]
PLACEHOLDERS = ["n/a", "N/A", "—", "-", "–", "TBD", "nil", "*", "?", "x"]


@functools.lru_cache(maxsize=1)
def _words() -> tuple[str, ...]:
    for path in ("/usr/share/dict/american-english", "/usr/share/dict/words"):
        if os.path.exists(path):
            with open(path, encoding="utf-8", errors="ignore") as fh:
                words = [w.strip() for w in fh if w.strip() and "'" not in w and len(w) < 14]
            if words:
                return tuple(words)
    # Fallback keeps the generator working without the Debian word list.
    return ("total", "revenue", "cost", "profit", "account", "balance", "date", "name", "amount",
            "price", "quantity", "description", "region", "north", "south", "east", "west", "sales",
            "net", "gross", "tax", "item", "unit")


# --------------------------------------------------------------------------- text


def _fmt_thousands(n: int, sep: str = ",") -> str:
    s = f"{abs(n):,}".replace(",", sep)
    return ("-" if n < 0 else "") + s


def _number(rng: random.Random) -> str:
    kind = rng.random()
    mag = 10 ** rng.randint(0, 7)
    n = rng.randint(0, mag)
    if kind < 0.25:
        return str(n if rng.random() < 0.85 else -n)
    if kind < 0.45:
        return _fmt_thousands(n if rng.random() < 0.85 else -n)
    if kind < 0.7:
        dec = rng.choice([1, 2, 2, 2, 3])
        frac = rng.randint(0, 10**dec - 1)
        body = f"{_fmt_thousands(n)}.{frac:0{dec}d}" if rng.random() < 0.7 else f"{n}.{frac:0{dec}d}"
        return "-" + body if rng.random() < 0.12 else body
    if kind < 0.8:  # European style
        frac = rng.randint(0, 99)
        return f"{_fmt_thousands(n, '.')},{frac:02d}"
    if kind < 0.9:  # accounting negative
        body = _fmt_thousands(n) if rng.random() < 0.6 else f"{_fmt_thousands(n)}.{rng.randint(0, 99):02d}"
        return f"({body})"
    return f"{n:,}".replace(",", " ") if rng.random() < 0.5 else f"+{n}"


def _percent(rng: random.Random) -> str:
    v = rng.choice([rng.randint(0, 100), round(rng.uniform(-50, 150), rng.choice([1, 2]))])
    space = " " if rng.random() < 0.15 else ""
    s = f"{v}{space}%"
    return f"({s})" if rng.random() < 0.05 else s


def _currency(rng: random.Random) -> str:
    sym = rng.choice("$$$€€£¥")
    n = rng.randint(0, 10 ** rng.randint(1, 7))
    cents = rng.random() < 0.6
    body = _fmt_thousands(n) + (f".{rng.randint(0, 99):02d}" if cents else "")
    r = rng.random()
    if sym == "€" and r < 0.4:
        body = _fmt_thousands(n, ".") + (f",{rng.randint(0, 99):02d}" if cents else "")
        return f"{body} €"
    if r < 0.1:
        return f"-{sym}{body}"
    if r < 0.18:
        return f"({sym}{body})"
    if r < 0.25:
        return f"{sym} {body}"
    return f"{sym}{body}"


def _accounting(rng: random.Random) -> str:
    """An amount in a spreadsheet's accounting format: the symbol outside the
    parentheses of a negative ("€(99,722.37)", "$ (1,234.00)"), "-" for zero. Read
    without its "(" on validation pages (session 16); in focus_text only, so the
    held-out set's texts stay as its figures were measured."""
    sym = rng.choice("$$€€£")
    body = _fmt_thousands(rng.randint(0, 10 ** rng.randint(1, 7))) + f".{rng.randint(0, 99):02d}"
    r = rng.random()
    if r < 0.1:
        return f"{sym} -" if rng.random() < 0.5 else f"{sym}-"
    space = " " if rng.random() < 0.4 else ""
    return f"{sym}{space}({body})" if r < 0.75 else f"{sym}{space}{body}"


def _date(rng: random.Random) -> str:
    y, m, d = rng.randint(1990, 2035), rng.randint(1, 12), rng.randint(1, 28)
    fmt = rng.randrange(11)
    mon = MONTHS[m - 1]
    return [
        f"{y}-{m:02d}-{d:02d}",
        f"{d:02d}/{m:02d}/{y}",
        f"{m:02d}/{d:02d}/{y}",
        f"{m}/{d}/{y % 100:02d}",
        f"{d:02d}.{m:02d}.{y}",
        f"{d} {mon[:3]} {y}",
        f"{mon} {d}, {y}",
        f"{d}-{mon[:3]}-{y % 100:02d}",
        f"{mon[:3]} {y}",
        f"Q{rng.randint(1, 4)} {y}",
        f"{y}",
    ][fmt]


def _code(rng: random.Random) -> str:
    letters = "".join(rng.choice(string.ascii_uppercase) for _ in range(rng.randint(1, 4)))
    digits = "".join(rng.choice(string.digits) for _ in range(rng.randint(1, 6)))
    r = rng.random()
    if r < 0.4:
        return f"{letters}-{digits}"
    if r < 0.55:
        return f"{letters}{digits}"
    if r < 0.7:
        return f"{rng.randint(0, 999):03d}-{rng.randint(0, 9999):04d}"
    if r < 0.8:
        return "0" * rng.randint(1, 3) + digits  # leading zeros: codes, not numbers
    if r < 0.9:
        return f"{letters}/{digits}/{rng.randint(1, 99)}"
    return f"#{digits}"


def _accentize(word: str, rng: random.Random) -> str:
    table = {"a": "àáâäå", "e": "èéêë", "i": "ìíîï", "o": "òóôöø", "u": "ùúûü", "c": "ç", "n": "ñ",
             "A": "ÀÁÂÄÅ", "E": "ÈÉÊË", "O": "ÒÓÔÖØ", "U": "ÙÚÛÜ", "s": "ß"}
    chars = list(word)
    for _ in range(rng.randint(1, 2)):
        idx = [i for i, c in enumerate(chars) if c in table]
        if not idx:
            break
        i = rng.choice(idx)
        chars[i] = rng.choice(table[chars[i]])
    return "".join(chars)


def _word(rng: random.Random) -> str:
    w = rng.choice(_words())
    r = rng.random()
    if r < 0.3:
        w = w.capitalize()
    elif r < 0.4:
        w = w.upper()
    if rng.random() < 0.12:
        w = _accentize(w, rng)
    return w


def _phrase(rng: random.Random) -> str:
    words = [_word(rng) for _ in range(rng.randint(2, 4))]
    if rng.random() < 0.5:
        words = [words[0].capitalize()] + [w.lower() for w in words[1:]]
    s = " ".join(words)
    r = rng.random()
    if r < 0.15:
        s += rng.choice([".", ":", ",", ";", "!", "?"])
    elif r < 0.25:
        s = f"{s} ({_word(rng)})"
    elif r < 0.3:
        s = s.replace(" ", " & ", 1)
    elif r < 0.35:
        s = f"{s} {rng.randint(1, 2030)}"
    return s


def _name(rng: random.Random) -> str:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    r = rng.random()
    if r < 0.4:
        return f"{first} {last}"
    if r < 0.6:
        return f"{last}, {first}"
    if r < 0.75:
        return f"{first[0]}. {last}"
    return rng.choice([first, last])


def _single(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.5:
        return rng.choice(string.digits)
    if r < 0.8:
        return rng.choice(string.ascii_letters)
    if r < 0.93:
        return rng.choice("-*%#+=?!/&@$€£.:x")[0]
    return rng.choice("²³°±×÷µ≤≥–—…•½¼‰§©")


def _mixed(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.3:
        return f"{_number(rng)} {rng.choice(UNITS)}"
    if r < 0.5:
        return f"{_word(rng)} {rng.randint(1, 999)}"
    if r < 0.65:
        return "".join(rng.choice(string.printable[:94]) for _ in range(rng.randint(2, 10)))
    if r < 0.8:
        return f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"
    if r < 0.9:
        return f"{_word(rng)}@{_word(rng).lower()}.com"
    return f"{rng.randint(1, 999)} / {rng.randint(1, 999)}"


_DASHES = ["-", "-", "–", "—"]


def _decimal(rng: random.Random) -> str:
    return f"{rng.randint(0, 999)}.{rng.randint(0, 99):0{rng.choice([1, 2])}d}" if rng.random() < 0.6 \
        else str(rng.randint(0, 999))


def _symbolic(rng: random.Random) -> str:
    """Values with the signs of units and tolerances, and spaced hyphens and dashes
    ("Line 1 - Col 1"), whose spaces are part of the text."""
    r = rng.random()
    dash = rng.choice(_DASHES)
    if r < 0.12:
        return f"{_decimal(rng)}{rng.choice(['', ' '])}{rng.choice(['m²', 'm³', 'cm²', 'km²', 'ft²'])}"
    if r < 0.22:
        t = rng.randint(-40, 250)
        return f"{t}{rng.choice([' °C', '°C', ' °F', '°', ' °'])}"
    if r < 0.32:
        return f"{rng.choice(['±', '± ', ''])}{_decimal(rng)}" + rng.choice(["", " mm", " %", "%"]) \
            if rng.random() < 0.5 else f"{_decimal(rng)} ± {_decimal(rng)}"
    if r < 0.40:
        op = rng.choice(["×", "×", "÷", "x"])
        return f"{rng.randint(1, 999)}{rng.choice([' ', ''])}{op}{rng.choice([' ', ''])}{rng.randint(1, 999)}"
    if r < 0.50:  # ranges
        a = rng.randint(0, 500)
        sep = rng.choice(["–", "-", " – ", " - ", "—"])
        return f"{a}{sep}{a + rng.randint(1, 500)}"
    if r < 0.62:  # spaced hyphens and dashes between words
        w1, w2 = _word(rng).capitalize(), _word(rng).capitalize()
        if rng.random() < 0.5:
            return f"{w1} {rng.randint(1, 99)} {dash} {w2} {rng.randint(1, 99)}"
        return f"{w1} {dash} {w2.lower() if rng.random() < 0.5 else w2}"
    if r < 0.70:
        return f"{rng.choice(['≤', '≥', '<', '>', '≤ ', '≥ '])}{_decimal(rng)}"
    if r < 0.76:
        whole = str(rng.randint(1, 20)) if rng.random() < 0.5 else ""
        return f"{whole}{rng.choice(['½', '¼'])}" + rng.choice(["", " h", " kg", " in"])
    if r < 0.82:
        return f"{_decimal(rng)}{rng.choice(['‰', ' ‰'])}"
    if r < 0.87:
        return f"{rng.choice(['§', '§ ', '§§ '])}{rng.randint(1, 300)}" + rng.choice(["", f"({rng.randint(1, 9)})"])
    if r < 0.91:
        return f"© {rng.randint(1990, 2035)}" + rng.choice(["", f" {_word(rng).capitalize()}"])
    if r < 0.95:
        return f"{rng.choice(['•', '• '])}{_phrase(rng) if rng.random() < 0.5 else _word(rng)}"
    if r < 0.98:
        return f"{_word(rng).capitalize()}{rng.choice(['…', ' …', '...'])}"
    return f"{rng.randint(1, 999)}{rng.choice(['µs', ' µs', ' µm', ' µl', ' µg'])}"


_KINDS = [
    (_number, 0.20), (_percent, 0.06), (_currency, 0.09), (_date, 0.09), (_code, 0.08),
    (_word, 0.12), (_phrase, 0.11), (_name, 0.06), (_single, 0.08), (_mixed, 0.06),
    (_symbolic, 0.07),
    (lambda rng: rng.choice(PLACEHOLDERS), 0.02), (lambda rng: "", 0.03),
]


def sample_text(rng: random.Random) -> str:
    """One cell's text, drawn from the mix of what tables hold."""
    r = rng.random() * sum(w for _, w in _KINDS)
    for fn, w in _KINDS:
        r -= w
        if r <= 0:
            return unicodedata.normalize("NFC", fn(rng))
    return ""


# Characters a trained reader still confuses in codes: I/l/1/|, O/0/o, B/8, S/5, Z/2.
_LOOKALIKES = "Il1|O0oB8S5Z2"


def focus_text(rng: random.Random) -> str:
    """Text built on what the reader still gets wrong (for a training mix only:
    ``sample_text`` and so the held-out set are untouched): words and names with
    several diacritics, lone letters whose case only their size tells, and codes
    made of look-alike characters."""
    r = rng.random()
    if r < 0.45:
        w = _accentize(_word(rng), rng)
        return unicodedata.normalize("NFC", _accentize(w, rng) if rng.random() < 0.5 else w)
    if r < 0.6:
        words = [_accentize(_word(rng), rng) for _ in range(rng.randint(2, 3))]
        return unicodedata.normalize("NFC", " ".join(words))
    if r < 0.7:
        return unicodedata.normalize("NFC", _name(rng))
    if r < 0.85:
        return rng.choice(string.ascii_letters)
    if r < 0.9:
        return _accounting(rng)
    n = rng.randint(3, 8)
    code = "".join(rng.choice(_LOOKALIKES + string.ascii_uppercase + string.digits) for _ in range(n))
    return code if rng.random() < 0.5 else f"{code[:2]}-{code[2:]}"


# -------------------------------------------------------------------------- fonts


SPLITS = ("train", "validation", "heldout")
# Each split draws from its own seed space, so no two splits share a sample's rng.
_SALTS = {"train": 0, "heldout": 1_000_003, "validation": 3_000_017}


@dataclass(frozen=True)
class FontInfo:
    path: str
    split: str  # "train", "validation" or "heldout", by family
    charset: frozenset
    family: str = ""


def char_tokenizer():
    """The recogniser's tokenizer: the first vocabulary's ids, then the appended ones."""
    return build_char_tokenizer(BASE_CHARSET, APPENDED_CHARS)


def _glyph(font: ImageFont.FreeTypeFont, ch: str) -> bytes:
    im = Image.new("L", (48, 48), 0)
    ImageDraw.Draw(im).text((4, 4), ch, font=font, fill=255)
    return im.tobytes()


# Code points no font draws as a real glyph: what they render as is the font's .notdef
# box. Several, because some fonts do fill one of them (Linux Libertine has glyphs in
# the private use area, and its italic draws '.', '%', '$' as .notdef).
_NOTDEF_PROBES = ("\u0378", "\U0010fffd", "\ue000")


def _coverage(path: str) -> frozenset:
    """Characters of CHARSET the font really draws (not as its .notdef box)."""
    font = ImageFont.truetype(path, 24)
    missing = {_glyph(font, probe) for probe in _NOTDEF_PROBES}
    blank = bytes(48 * 48)
    ok = {" "}
    for ch in CHARSET:
        g = _glyph(font, ch)
        if g not in missing and g != blank:
            ok.add(ch)
    return frozenset(ok)


@functools.lru_cache(maxsize=1)
def discover_fonts() -> tuple[FontInfo, ...]:
    paths = []
    for root in FONT_DIRS:
        for ext in ("ttf", "otf", "TTF", "OTF"):
            paths.extend(glob.glob(os.path.join(root, "**", f"*.{ext}"), recursive=True))
    fonts = []
    for path in sorted(set(paths)):
        if any(x in os.path.basename(path) for x in _FONT_EXCLUDE):
            continue
        try:
            cov = _coverage(path)
        except OSError:
            continue
        # Must draw at least all ASCII letters and digits to be a text font for us.
        if all(c in cov for c in string.ascii_letters + string.digits + ".,-%$"):
            fonts.append(FontInfo(path, recogniser_split_of(path), cov, family_of(path)))
    if not fonts:
        raise RuntimeError("no usable TrueType/OpenType fonts found; install e.g. fonts-dejavu-core")
    return tuple(fonts)


def fonts_for(split: str) -> list[FontInfo]:
    """The fonts of a split; an error (never another split's fonts) when none is installed."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    fonts = [f for f in discover_fonts() if f.split == split]
    if not fonts:
        families = sorted(k for k, v in RECOGNISER_SPLITS.items() if v == split)
        packages = " ".join(RECOGNISER_PACKAGES[f] for f in families)
        raise RuntimeError(f"no font of the {split} families ({', '.join(families) or 'any other'}) "
                           f"is installed: apt-get install {packages or 'fonts-dejavu-core'}")
    return fonts


# ------------------------------------------------------------------------ render


@dataclass
class RenderedCell:
    image: Image.Image  # grayscale ("L") crop, as the table pipeline would cut it
    text: str
    font: str


def _render_text(text: str, font: ImageFont.FreeTypeFont, rng: random.Random,
                 dark: bool) -> Image.Image:
    ascent, descent = font.getmetrics()
    line_h = ascent + descent
    width = max(1, math.ceil(font.getlength(text))) if text else rng.randint(line_h, 4 * line_h)
    pad_x = rng.randint(1, max(2, line_h // 2))
    pad_y = rng.randint(1, max(2, line_h // 4))
    extra = int(width * rng.choice([0, 0, 0, 0.1, 0.3, 0.8, 1.5]))
    cell_w, cell_h = width + extra + 2 * pad_x, line_h + 2 * pad_y
    bg = rng.randint(20, 90) if dark else rng.choice([255, 255, 255, rng.randint(200, 255)])
    fg = rng.randint(215, 255) if dark else rng.randint(0, 70)
    img = Image.new("L", (cell_w, cell_h), bg)
    draw = ImageDraw.Draw(img)
    align = rng.random()
    if align < 0.5:
        x = pad_x
    elif align < 0.75:
        x = pad_x + extra
    else:
        x = pad_x + extra // 2
    if text:
        draw.text((x, pad_y), text, font=font, fill=fg)
    return img


def _halftone(img: Image.Image, rng: random.Random) -> Image.Image:
    arr = np.asarray(img, dtype=np.float32)
    period = rng.randint(3, 6)
    yy, xx = np.mgrid[: arr.shape[0], : arr.shape[1]]
    dots = ((yy % period == 0) & (xx % period == 0)) * rng.uniform(60, 140)
    return Image.fromarray(np.clip(arr - dots * (arr > 128), 0, 255).astype(np.uint8))


def _border_remnants(img: Image.Image, rng: random.Random) -> Image.Image:
    """Draw bits of the cell's ruling at the crop edges, as a loose crop keeps them."""
    draw = ImageDraw.Draw(img)
    w, h = img.size
    for side in ("top", "bottom", "left", "right"):
        if rng.random() > 0.3:
            continue
        t = rng.randint(1, 3)
        c = rng.randint(0, 90)
        off = rng.randint(0, 2)
        if side == "top":
            draw.rectangle([0, off, w, off + t - 1], fill=c)
        elif side == "bottom":
            draw.rectangle([0, h - off - t, w, h - off - 1], fill=c)
        elif side == "left":
            draw.rectangle([off, 0, off + t - 1, h], fill=c)
        else:
            draw.rectangle([w - off - t, 0, w - off - 1, h], fill=c)
    return img


def _scan_damage(img: Image.Image, rng: random.Random) -> Image.Image:
    if rng.random() < 0.3:
        angle = rng.uniform(-1.5, 1.5)
        img = img.rotate(angle, resample=Image.Resampling.BILINEAR, expand=False,
                         fillcolor=int(np.median(np.asarray(img))))
    if rng.random() < 0.25:  # uneven background / lighting gradient
        arr = np.asarray(img, dtype=np.float32)
        grad = np.linspace(0, rng.uniform(-60, 60), arr.shape[1])[None, :]
        img = Image.fromarray(np.clip(arr + grad, 0, 255).astype(np.uint8))
    if rng.random() < 0.4:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.1)))
    if rng.random() < 0.35:
        # Downscale then upscale: the softness of a low-resolution scan.
        w, h = img.size
        f = rng.uniform(0.5, 0.85)
        img = img.resize((max(1, int(w * f)), max(1, int(h * f))), Image.Resampling.BILINEAR)
        img = img.resize((w, h), Image.Resampling.BILINEAR)
    if rng.random() < 0.4:
        arr = np.asarray(img, dtype=np.float32)
        noise = np.random.default_rng(rng.getrandbits(32)).normal(0, rng.uniform(3, 18), arr.shape)
        img = Image.fromarray(np.clip(arr + noise, 0, 255).astype(np.uint8))
    if rng.random() < 0.12:
        thr = rng.randint(110, 170)
        img = img.point(lambda v: 255 if v > thr else 0)
    if rng.random() < 0.35:
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=rng.randint(25, 85))
        img = Image.open(io.BytesIO(buf.getvalue())).convert("L")
    return img


class CellGenerator:
    """Deterministic stream of rendered cells: sample(i) depends only on (seed, split,
    mix, i), and the text and font of sample i do not depend on the mix.

    ``mix`` is how cells are rendered (``training.cell_renders.RENDER_MIXES``):
    "scan" is the first model's renders at 150-300 dpi; "lowres" renders text 6-12 px
    high (55-120 dpi); "train" mixes those with photo and photocopy renders. The
    evaluation splits pick a family first, so one with many files does not dominate.
    """

    def __init__(self, seed: int = 0, split: str = "train", mix: str | None = None):
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
        mix = mix or ("train" if split == "train" else "scan")
        if mix not in RENDER_MIXES:
            raise ValueError(f"mix must be one of {tuple(RENDER_MIXES)}, not {mix!r}")
        self.seed = seed
        self.split = split
        self.mix = mix
        self.fonts = fonts_for(split)
        self._font_cache: dict[tuple[str, int], ImageFont.FreeTypeFont] = {}

    def _font(self, path: str, px: int) -> ImageFont.FreeTypeFont:
        key = (path, px)
        if key not in self._font_cache:
            if len(self._font_cache) > 512:
                self._font_cache.clear()
            self._font_cache[key] = ImageFont.truetype(path, px)
        return self._font_cache[key]

    def _pick_font(self, rng: random.Random, candidates: list[FontInfo]) -> FontInfo:
        if self.split == "train":
            return rng.choice(candidates)
        families = sorted({f.family for f in candidates})
        family = families[rng.randrange(len(families))]
        return rng.choice([f for f in candidates if f.family == family])

    def sample(self, index: int, text: str | None = None) -> RenderedCell:
        salt = _SALTS[self.split]
        rng = random.Random(hash((self.seed, salt, index)) & 0xFFFFFFFFFFFF)
        if text is None:
            text = sample_text(rng)
        candidates = [f for f in self.fonts if all(c in f.charset for c in text)]
        if not candidates:
            text = "".join(c for c in text if c in string.printable)
            candidates = [f for f in self.fonts if all(c in f.charset for c in text)]
        font_info = self._pick_font(rng, candidates)
        pt = rng.uniform(8, 14)
        dpi = rng.choice([150, 200, 240, 300])
        px = max(8, round(pt * dpi / 72))
        font = self._font(font_info.path, px)
        dark = rng.random() < 0.08
        img = _render_text(text, font, rng, dark)
        if not dark and rng.random() < 0.07:
            img = _halftone(img, rng)
        if rng.random() < 0.35:
            img = _border_remnants(img, rng)
        # The render kind has its own rng: the scan renders stay those of the first model.
        kind_rng = random.Random(hash((self.seed, salt, index, 7)) & 0xFFFFFFFFFFFF)
        kind = RENDER_MIXES[self.mix](kind_rng)
        if kind == "scan":
            img = _scan_damage(img, rng)
        elif kind == "lowres":
            img = damage_lowres(img, _cap_height(font), kind_rng)
        elif kind == "photo":
            img = photo(img, _cap_height(font), kind_rng)
        else:
            img = photocopy(img, _cap_height(font), kind_rng)
        return RenderedCell(img, text, os.path.basename(font_info.path))


def _cap_height(font: ImageFont.FreeTypeFont) -> int:
    box = font.getbbox("H")
    return max(1, box[3] - box[1])
