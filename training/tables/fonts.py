"""Font families and the split each belongs to.

A split is decided per *family*, never per file: every weight, width and design of a
superfamily goes to one split, and metric clones of a design (Arimo = Liberation Sans,
Tinos = Liberation Serif, Cousine = Liberation Mono) count as that design.

- DejaVu Sans, Sans Mono, Serif (+ Condensed, weights): one family "DejaVu" (one
  superfamily drawn from Bitstream Vera).
- Liberation Sans, Serif and Mono: one family each. They share a name, not a design
  (three separate Ascender designs, metric clones of Arial, Times and Courier).
- Linux Libertine and Linux Biolinum (+ Mono, Display): one family "Linux Libertine"
  (one project, designed together).

Train: DejaVu, Liberation Sans. Validation: Liberation Serif. Held out: Linux
Libertine, Liberation Mono (neither ever used while developing the detector; the old
benchmark used Liberation Sans/Serif and DejaVu). Other families are split by a
stable hash of the family name.
"""

from __future__ import annotations

import functools
import glob
import hashlib
import os
from dataclasses import dataclass

from PIL import ImageFont

SPLITS = ("train", "validation", "heldout")
FAMILY_SPLITS = {
    "DejaVu": "train",
    "Liberation Sans": "train",
    "Liberation Serif": "validation",
    "Liberation Mono": "heldout",
    "Linux Libertine": "heldout",
}
# Prefix of a face's family name -> its family (first match wins; lower case).
_FAMILY_PREFIXES = (
    ("dejavu", "DejaVu"),
    ("bitstream vera", "DejaVu"),
    ("liberation sans", "Liberation Sans"),
    ("arimo", "Liberation Sans"),
    ("liberation serif", "Liberation Serif"),
    ("tinos", "Liberation Serif"),
    ("liberation mono", "Liberation Mono"),
    ("cousine", "Liberation Mono"),
    ("linux libertine", "Linux Libertine"),
    ("linux biolinum", "Linux Libertine"),
    # families the cell recogniser is split by (RECOGNISER_SPLITS)
    ("go", "Go"),
    ("fira", "Fira"),
    ("charis", "Charis SIL"),
    ("cmu", "Computer Modern"),
    ("computer modern", "Computer Modern"),
    ("latin modern", "Computer Modern"),
    ("eb garamond", "EB Garamond"),
    ("gentium", "Gentium"),
    ("noto mono", "Noto Mono"),
    ("noto sans mono", "Noto Mono"),
)
_STYLE_WORDS = ("bold", "italic", "oblique", "light", "extralight", "condensed", "semibold",
                "medium", "regular", "book", "black", "narrow", "mono", "display", "o")
# Faces that do not draw running text.
_NOT_TEXT = ("math", "keyboard", "initials", "opensymbol", "symbol", "emoji", "dingbat")
FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", os.path.expanduser("~/.fonts"))


def family_of(font: str | os.PathLike) -> str:
    """The family of a face name ("DejaVu Serif Bold"), or of a font file's face."""
    name = str(font)
    if os.sep in name or name.lower().endswith((".ttf", ".otf")):
        name = ImageFont.truetype(name, 12).getname()[0]
    low = " ".join(name.lower().replace("-", " ").split())
    for prefix, family in _FAMILY_PREFIXES:
        if low == prefix or low.startswith(prefix + " "):
            return family
    words = low.split()
    while len(words) > 1 and words[-1] in _STYLE_WORDS:
        words.pop()
    return " ".join(w.capitalize() for w in words)


# The cell recogniser's split (training/cells.py): families its shipped model never saw
# before this split (every font package it trained on is "train": DejaVu, Liberation,
# Croscore, Crosextra, FreeFont, URW base35, Lato, Open Sans, Roboto, Linux Libertine,
# Cantarell, Hack, Inconsolata). Held out: a sans, a serif, a mono and Computer Modern;
# validation (every choice of a run): two serifs and a mono. Every other family trains.
# Clones of a trained design (Noto Sans ~ Open Sans, TeX Gyre ~ URW base35) must not
# be put here: they are not unseen.
RECOGNISER_SPLITS = {
    "Go": "heldout",  # sans (and Go Mono, Go Smallcaps)
    "Charis SIL": "heldout",  # serif
    "Fira": "heldout",  # Fira Code, mono
    "Computer Modern": "heldout",  # CMU serif, sans, typewriter
    "EB Garamond": "validation",
    "Gentium": "validation",  # Gentium Plus, Gentium Book Plus
    "Noto Mono": "validation",  # Noto Mono, Noto Sans Mono
}
RECOGNISER_PACKAGES = {  # Debian packages that install them
    "Go": "fonts-go", "Charis SIL": "fonts-sil-charis", "Fira": "fonts-firacode",
    "Computer Modern": "fonts-cmu", "EB Garamond": "fonts-ebgaramond",
    "Gentium": "fonts-sil-gentiumplus", "Noto Mono": "fonts-noto-mono",
}


def recogniser_split_of(font: str | os.PathLike) -> str:
    """The cell recogniser's split of a face name or font file, by its family."""
    return RECOGNISER_SPLITS.get(family_of(font), "train")


def split_of(font: str | os.PathLike) -> str:
    """'train', 'validation' or 'heldout' for a face name or font file, by its family."""
    family = family_of(font)
    if family in FAMILY_SPLITS:
        return FAMILY_SPLITS[family]
    # The recogniser's unseen families stay unseen on table pages too: the end-to-end
    # benchmark's held-out pages are then new to both models, and no table trains on them.
    if family in RECOGNISER_SPLITS:
        return RECOGNISER_SPLITS[family]
    digest = hashlib.sha1(family.lower().encode()).digest()[0] % 6
    return "heldout" if digest == 0 else "validation" if digest == 1 else "train"


@dataclass(frozen=True)
class Face:
    """One design at one width, with the files Pillow draws it from and the name
    LibreOffice knows it by."""

    name: str  # e.g. "DejaVu Sans Condensed", as fontconfig and LibreOffice call it
    family: str
    regular: str  # file paths
    bold: str

    @property
    def split(self) -> str:
        return split_of(self.name)


@functools.lru_cache(maxsize=1)
def discover_faces() -> tuple[Face, ...]:
    """Every installed text face with a regular style (and a bold one when present)."""
    styles: dict[str, dict[str, str]] = {}
    paths = set()
    for root in FONT_DIRS:
        for ext in ("ttf", "otf", "TTF", "OTF"):
            paths.update(glob.glob(os.path.join(root, "**", f"*.{ext}"), recursive=True))
    for path in sorted(paths):
        try:
            fam, style = ImageFont.truetype(path, 12).getname()
        except OSError:
            continue
        if any(w in fam.lower() for w in _NOT_TEXT):
            continue
        name = fam + (" Condensed" if "Condensed" in style else "")
        style = style.replace("Condensed", "").strip() or "Regular"
        styles.setdefault(name, {}).setdefault(style, path)
    faces = []
    for name, by_style in sorted(styles.items()):
        regular = next((by_style[s] for s in ("Regular", "Book", "Roman", "Mono")
                        if s in by_style), None)
        if regular is None:
            continue
        faces.append(Face(name, family_of(name), regular, by_style.get("Bold", regular)))
    return tuple(faces)


def faces_for(split: str) -> list[Face]:
    """The faces a split may draw with; an error when this machine has none."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    faces = [f for f in discover_faces() if f.split == split]
    if not faces:
        raise RuntimeError(
            f"no installed font family belongs to split {split!r}: install fonts-dejavu-core, "
            "fonts-liberation2 and fonts-linuxlibertine"
        )
    return faces

