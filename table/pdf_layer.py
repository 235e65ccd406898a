"""What a born-digital PDF page says about itself: its characters with their boxes and
the vector graphics (rules and fills) drawn on it, read with pdfium.

Everything is in PDF points measured from the page's top left corner (y grows down,
as in page images), so ``x * dpi / 72`` is a pixel of the page rendered at ``dpi``.
Characters that pdfium makes up (spaces and line breaks it infers between text runs)
are left out: the layout code decides where words and cells end from the positions.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from itertools import pairwise

__all__ = ["Char", "Fill", "PdfLayer", "Rule", "read_pdf_layer"]

_RULE_MAX_THICKNESS = 3.0  # points: a filled rectangle thinner than this is a drawn rule
_MIN_RULE_LENGTH = 4.0  # points: shorter strokes are glyph-like ornaments, not rules
_WHITE = 245  # fill colours lighter than this on every channel are paper, not a shade


@dataclass(frozen=True)
class Char:
    text: str
    x0: float
    y0: float  # top
    x1: float
    y1: float  # bottom
    baseline: float
    size: float  # font size in points (scaled by the text matrix)
    invisible: bool = False  # render mode 3: an OCR layer laid under a scan
    index: int = 0  # position in the page's text (pdfium's order)
    face: str = ""  # the font's base name (a bold header is set in another face)

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2


@dataclass(frozen=True)
class Rule:
    """A straight drawn line: horizontal at ``pos`` = y from ``start`` to ``end`` in x,
    or vertical at ``pos`` = x from ``start`` to ``end`` in y."""

    horizontal: bool
    pos: float
    start: float
    end: float


@dataclass(frozen=True)
class Fill:
    """A filled rectangle that is not paper-white (a shaded cell or row)."""

    x0: float
    y0: float
    x1: float
    y1: float


@dataclass
class PdfLayer:
    width: float  # points
    height: float
    chars: list[Char] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)
    image_area: float = 0.0  # share of the page covered by embedded images

    @property
    def visible_chars(self) -> list[Char]:
        return [c for c in self.chars if not c.invisible and not c.text.isspace()]

    @property
    def has_text(self) -> bool:
        return any(not c.text.isspace() for c in self.chars)


def _chars(textpage, raw, height: float) -> list[Char]:
    out = []
    box = raw.FS_RECTF()
    ox, oy = ctypes.c_double(), ctypes.c_double()
    name, flags = ctypes.create_string_buffer(128), ctypes.c_int()
    for i in range(raw.FPDFText_CountChars(textpage)):
        if raw.FPDFText_IsGenerated(textpage, i) == 1:
            continue
        code = raw.FPDFText_GetUnicode(textpage, i)
        if code in (0, 0xFFFE, 0xFFFF) or code in (10, 13):
            continue
        # The loose box: the glyph's advance and the font's ascent/descent, so the
        # letters of a word touch and gaps are real white space.
        raw.FPDFText_GetLooseCharBox(textpage, i, box)
        raw.FPDFText_GetCharOrigin(textpage, i, ox, oy)
        size = float(raw.FPDFText_GetFontSize(textpage, i))
        obj = raw.FPDFText_GetTextObject(textpage, i)
        invisible = bool(obj) and raw.FPDFTextObj_GetTextRenderMode(obj) == raw.FPDF_TEXTRENDERMODE_INVISIBLE
        text = chr(code) if code < 0x110000 else "\ufffd"
        fits = 0 < raw.FPDFText_GetFontInfo(textpage, i, name, len(name), flags) <= len(name)
        face = name.value.decode("latin-1").split("+")[-1] if fits else ""  # no subset prefix
        x0, x1 = box.left, box.right
        if x1 <= x0:  # spaces have no glyph box: give them the advance they stand for
            x1 = x0 + 0.25 * size
        out.append(Char(text, x0, height - box.top, x1, height - box.bottom,
                        height - oy.value, size, invisible, i, face))
    return out


def _matrix(obj, raw) -> tuple[float, ...]:
    m = raw.FS_MATRIX()
    if not raw.FPDFPageObj_GetMatrix(obj, m):
        return (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
    return (m.a, m.b, m.c, m.d, m.e, m.f)


def _path_points(obj, raw) -> list[list[tuple[float, float]]]:
    """The straight-line subpaths of a path object in page space (curves: no rules)."""
    a, b, c, d, e, f = _matrix(obj, raw)
    x, y = ctypes.c_float(), ctypes.c_float()
    subpaths: list[list[tuple[float, float]]] = []
    for i in range(raw.FPDFPath_CountSegments(obj)):
        seg = raw.FPDFPath_GetPathSegment(obj, i)
        kind = raw.FPDFPathSegment_GetType(seg)
        raw.FPDFPathSegment_GetPoint(seg, x, y)
        point = (a * x.value + c * y.value + e, b * x.value + d * y.value + f)
        if kind == raw.FPDF_SEGMENT_MOVETO or not subpaths:
            subpaths.append([point])
        elif kind == raw.FPDF_SEGMENT_LINETO:
            subpaths[-1].append(point)
        else:  # a curve ends any straight run
            subpaths.append([point])
        if raw.FPDFPathSegment_GetClose(seg) and len(subpaths[-1]) > 1:
            subpaths[-1].append(subpaths[-1][0])
    return subpaths


def _graphics(page, raw, height: float, width: float) -> tuple[list[Rule], list[Fill], float]:
    rules: list[Rule] = []
    fills: list[Fill] = []
    image_area = 0.0
    fill_mode, stroke = ctypes.c_int(), ctypes.c_int()
    r, g, b_, alpha = ctypes.c_uint(), ctypes.c_uint(), ctypes.c_uint(), ctypes.c_uint()
    for obj in page.get_objects(max_depth=1):
        kind = obj.type
        if kind == raw.FPDF_PAGEOBJ_IMAGE:
            x0, y0, x1, y1 = obj.get_bounds()
            image_area += max(0.0, x1 - x0) * max(0.0, y1 - y0) / max(1.0, width * height)
            continue
        if kind != raw.FPDF_PAGEOBJ_PATH:
            continue
        raw.FPDFPath_GetDrawMode(obj.raw, fill_mode, stroke)
        x0, y0, x1, y1 = obj.get_bounds()  # page space, y up
        top, bottom = height - y1, height - y0
        filled = fill_mode.value != 0
        if filled:
            raw.FPDFPageObj_GetFillColor(obj.raw, r, g, b_, alpha)
            white = min(r.value, g.value, b_.value) >= _WHITE or alpha.value == 0
            w, h = x1 - x0, bottom - top
            if not white and min(w, h) <= _RULE_MAX_THICKNESS and max(w, h) >= _MIN_RULE_LENGTH:
                if w >= h:
                    rules.append(Rule(True, (top + bottom) / 2, x0, x1))
                else:
                    rules.append(Rule(False, (x0 + x1) / 2, top, bottom))
                continue
            if not white and min(w, h) > _RULE_MAX_THICKNESS:
                fills.append(Fill(x0, top, x1, bottom))
        if stroke.value:
            raw.FPDFPageObj_GetStrokeColor(obj.raw, r, g, b_, alpha)
            if alpha.value == 0 or min(r.value, g.value, b_.value) >= _WHITE:
                continue
            for points in _path_points(obj.raw, raw):
                for (ax, ay), (bx, by) in pairwise(points):
                    ay, by = height - ay, height - by
                    if abs(ay - by) <= 0.5 and abs(bx - ax) >= _MIN_RULE_LENGTH:
                        rules.append(Rule(True, (ay + by) / 2, min(ax, bx), max(ax, bx)))
                    elif abs(ax - bx) <= 0.5 and abs(by - ay) >= _MIN_RULE_LENGTH:
                        rules.append(Rule(False, (ax + bx) / 2, min(ay, by), max(ay, by)))
    return rules, fills, min(1.0, image_area)


def read_pdf_layer(page) -> PdfLayer:
    """The text and graphics of a ``pypdfium2.PdfPage``."""
    from pypdfium2 import raw

    width, height = page.get_size()
    textpage = page.get_textpage()
    try:
        chars = _chars(textpage.raw, raw, height)
    finally:
        textpage.close()
    rules, fills, image_area = _graphics(page, raw, height, width)
    return PdfLayer(width, height, chars, rules, fills, image_area)


def text_matches_ink(layer: PdfLayer, image, scale: float, *, min_share: float = 0.8) -> bool:
    """Whether the page's text is what the page shows: most characters are drawn
    visibly (not an OCR layer laid invisibly under a scan) and where they stand the
    rendered page has ink (not text hidden under a picture or drawn in white on white).
    ``image``: the page rendered at ``scale`` pixels per point (RGB or grey uint8)."""
    import numpy as np

    chars = [c for c in layer.chars if not c.text.isspace()]
    if not chars:
        return False
    visible = [c for c in chars if not c.invisible]
    if len(visible) < min_share * len(chars):
        return False
    gray = np.asarray(image)
    if gray.ndim == 3:
        gray = gray.min(axis=2)
    h, w = gray.shape[:2]
    paper = float(np.percentile(gray[::4, ::4], 90))
    step = max(1, len(visible) // 400)  # a sample is enough
    sample = visible[::step]
    inked = 0
    for c in sample:
        x0, x1 = int(c.x0 * scale), int(np.ceil(c.x1 * scale))
        y0, y1 = int(c.y0 * scale), int(np.ceil(c.y1 * scale))
        box = gray[max(0, y0):min(h, y1), max(0, x0):min(w, x1)]
        # Ink: clearly darker or lighter than the paper (white text on a dark fill).
        if box.size and (np.abs(box.astype(np.int16) - paper) > 60).any():
            inked += 1
    return inked >= min_share * len(sample)
