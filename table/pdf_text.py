"""PDF characters as a person reads them: text lines from baselines, words from gaps.

A PDF draws glyphs, not words: a word may be drawn as several fragments, in any
order, a bold face drawn twice, ``fi`` as one ligature glyph, a soft hyphen where a
word was broken, a raised small ``2`` for a square. This module puts the characters
of one region (a cell, a line of a table) back in reading order:

- lines: characters whose baselines agree; smaller characters raised above (or
  lowered below) a line belong to it as superscripts (subscripts) and read as such
  (``m²``, ``H₂O``; letters that have no such form stay as they are);
- within a line, by x; a gap wider than a space becomes one space;
- duplicates drawn over each other (fake bold, shadows) count once;
- ligatures are split into their letters, soft hyphens dropped (one that ends a line
  joins the word across the line break, as a reader does).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from table.pdf_layer import Char

__all__ = ["TextLine", "chunks", "normalise", "region_text", "text_lines"]

_SUPERSCRIPT = str.maketrans("0123456789+-=()n", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿ")
_SUBSCRIPT = str.maketrans("0123456789+-=()", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎")
_SOFT_HYPHENS = ("\u00ad", "\x02")  # pdfium reports a hyphen it takes for soft as 0x02
_SMALL = 0.85  # a character this much smaller than its line's text may be raised/lowered
_SHIFT = 0.18  # ... and is when its baseline is this many font sizes off the line's
_WORD_GAP = 0.2  # gap (in font sizes) that reads as a space
_CHUNK_GAP = 0.15  # gap between runs of text with no space character between them
_OBJECT_GAP = 0.05  # the same where a new text object starts (cells set tight together)


def normalise(text: str) -> str:
    """Ligatures to letters (ﬁ -> fi), no-break spaces to spaces."""
    if "\ufb00" <= text <= "\ufb4f":
        return unicodedata.normalize("NFKC", text)
    if text in ("\u00a0", "\u2007", "\u202f"):
        return " "
    return text


@dataclass
class TextLine:
    chars: list[Char]  # sorted by x
    baseline: float
    size: float
    shifts: list[int]  # per char: 0 on the line, 1 raised (superscript), -1 lowered

    @property
    def x0(self) -> float:
        return min(c.x0 for c in self.chars)

    @property
    def x1(self) -> float:
        return max(c.x1 for c in self.chars)

    @property
    def top(self) -> float:
        return min(min(c.y0 for c in self.chars), self.baseline - 0.75 * self.size)

    @property
    def bottom(self) -> float:
        return max(max(c.y1 for c in self.chars), self.baseline + 0.2 * self.size)


def _dedupe(chars: Sequence[Char]) -> list[Char]:
    """Glyphs drawn on top of each other (fake bold, shadows) count once."""
    out: list[Char] = []
    seen: dict[str, list[Char]] = {}
    for c in sorted(chars, key=lambda c: (c.baseline, c.x0, c.index)):
        tol = 0.15 * max(c.size, 1.0)
        # Not the letters of one ligature glyph (ﬀ -> f, f): neighbours in the text
        # with the very same box.
        if any(abs(o.x0 - c.x0) < tol and abs(o.baseline - c.baseline) < tol
               and not (abs(o.index - c.index) == 1 and o.x0 == c.x0 and o.x1 == c.x1)
               for o in seen.get(c.text, [])):
            continue
        seen.setdefault(c.text, []).append(c)
        out.append(c)
    return out


def text_lines(chars: Sequence[Char]) -> list[TextLine]:
    """The text lines of ``chars``, top to bottom, with raised and lowered small
    characters attached to the line they belong to."""
    chars = [c for c in _dedupe(chars) if c.size > 0]
    if not chars:
        return []
    groups: list[list[Char]] = []
    for c in sorted(chars, key=lambda c: c.baseline):
        if groups and abs(c.baseline - groups[-1][-1].baseline) <= 0.25 * max(c.size, groups[-1][-1].size):
            groups[-1].append(c)
        else:
            groups.append([c])
    main = [g for g in groups if _median([c.size for c in g if not c.text.isspace()] or [0]) > 0]
    lines = [TextLine(sorted(g, key=lambda c: c.x0), _median([c.baseline for c in g]),
                      _median([c.size for c in g]), [0] * len(g)) for g in main]
    # Small raised/lowered groups join the nearest line of bigger text they touch.
    for line in sorted(lines, key=lambda ln: ln.size):
        host = _host(line, lines)
        if host is not None:
            shift = 1 if line.baseline < host.baseline else -1
            merged = sorted([(c, shift) for c in line.chars] + list(zip(host.chars, host.shifts)),
                            key=lambda p: p[0].x0)
            host.chars = [c for c, _ in merged]
            host.shifts = [s for _, s in merged]
            line.chars = []
    return sorted([ln for ln in lines if ln.chars], key=lambda ln: ln.baseline)


def _host(line: TextLine, lines: list[TextLine]) -> TextLine | None:
    best = None
    for other in lines:
        if other is line or not other.chars or line.size >= _SMALL * other.size:
            continue
        offset = abs(line.baseline - other.baseline)
        beside = line.x0 <= other.x1 + other.size and line.x1 >= other.x0 - other.size
        if _SHIFT * other.size <= offset <= 0.75 * other.size and beside \
                and (best is None or offset < abs(line.baseline - best.baseline)):
            best = other
    return best


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else 0.0


def _line_text(line: TextLine) -> str:
    parts: list[str] = []
    prev: Char | None = None
    for c, shift in zip(line.chars, line.shifts):
        text = normalise(c.text)
        if shift:
            text = text.translate(_SUPERSCRIPT if shift > 0 else _SUBSCRIPT)
        if prev is not None and not text.isspace() and not parts[-1].endswith(" ") \
                and c.x0 - prev.x1 > _WORD_GAP * max(line.size, 1.0) and not prev.text.isspace():
            parts.append(" ")
        if text in _SOFT_HYPHENS:
            text = "\u00ad"  # kept for now: it matters only at the end of a line
        parts.append(text)
        prev = c
    out = "".join(parts)
    while "  " in out:
        out = out.replace("  ", " ")
    return out.strip()


def region_text(chars: Sequence[Char]) -> str:
    """The text of one region (a cell): its lines joined by newlines, as for scans."""
    out = ""
    for text in (_line_text(line) for line in text_lines(chars)):
        if not text:
            continue
        if out.endswith("\u00ad"):  # a word broken at a soft hyphen goes on
            out = out[:-1] + text
        else:
            out = f"{out}\n{text}" if out else text
    return out.replace("\u00ad", "")


def chunks(line: TextLine) -> list[list[Char]]:
    """Runs of a line's characters with no wider gap than a word space inside: the
    pieces of text a table's columns are made of. Where a text object ends and another
    starts, a narrower gap parts them: office programs draw a cell's text as one object,
    and flush-right and flush-left neighbours can stand closer than a word space."""
    out: list[list[Char]] = []
    for c in line.chars:
        if out:
            prev = out[-1][-1]
            gap = c.x0 - prev.x1
            limit = _OBJECT_GAP if prev.obj and c.obj and prev.obj != c.obj else _CHUNK_GAP
            if gap <= limit * max(line.size, 1.0) or (prev.text.isspace() and gap <= line.size):
                out[-1].append(c)
                continue
        out.append([c])
    # Spaces at the ends of a run are not part of its extent.
    out = [[c for c in run] for run in out]
    return [_trim(run) for run in out if any(not c.text.isspace() for c in run)]


def _trim(run: list[Char]) -> list[Char]:
    while run and run[0].text.isspace():
        run = run[1:]
    while run and run[-1].text.isspace():
        run = run[:-1]
    return run
