"""What a born-digital PDF page says about itself: its characters with their boxes and
the vector graphics (rules and fills) drawn on it, read with pdfium.

Everything is in PDF points measured from the top left corner of the page as it is
displayed (its ``/Rotate`` applied; y grows down, as in page images), so
``x * dpi / 72`` is a pixel of the page rendered at ``dpi``. Drawings inside form
XObjects (nested too) are read through their matrices.
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
_MAX_FORM_DEPTH = 12  # form XObjects inside form XObjects: how deep to look
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
    obj: int = 0  # the text object drawing it (0: unknown); a cell is often one object

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


Matrix = tuple[float, float, float, float, float, float]
_IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


def _apply(m: Matrix, x: float, y: float) -> tuple[float, float]:
    a, b, c, d, e, f = m
    return a * x + c * y + e, b * x + d * y + f


def _compose(outer: Matrix, inner: Matrix) -> Matrix:
    """``inner`` first, then ``outer``."""
    a, b, c, d, e, f = inner
    x0, y0 = _apply(outer, e, f)
    ax, ay = _apply(outer, a + e, b + f)
    cx, cy = _apply(outer, c + e, d + f)
    return (ax - x0, ay - y0, cx - x0, cy - y0, x0, y0)


def _display(page, raw, width: float, height: float) -> Matrix:
    """PDF user space -> the displayed page in points, y down, ``/Rotate`` and the
    media box's origin included (pdfium's own page-to-device mapping)."""
    k = 64.0  # pdfium answers in whole device pixels: map onto a finer grid
    dx, dy = ctypes.c_int(), ctypes.c_int()

    def to_device(x: float, y: float) -> tuple[float, float]:
        raw.FPDF_PageToDevice(page, 0, 0, round(width * k), round(height * k), 0, x, y, dx, dy)
        return dx.value / k, dy.value / k

    span = 1000.0
    x0, y0 = to_device(0.0, 0.0)
    ax, ay = to_device(span, 0.0)
    cx, cy = to_device(0.0, span)
    return ((ax - x0) / span, (ay - y0) / span, (cx - x0) / span, (cy - y0) / span, x0, y0)


def _box(m: Matrix, left: float, bottom: float, right: float, top: float) -> tuple[float, float, float, float]:
    """An upright box through ``m``: (x0, y0, x1, y1) of the corners' extent."""
    corners = [_apply(m, x, y) for x in (left, right) for y in (bottom, top)]
    xs, ys = [p[0] for p in corners], [p[1] for p in corners]
    return min(xs), min(ys), max(xs), max(ys)


def _chars(textpage, raw, shown: Matrix) -> list[Char]:
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
        x0, y0, x1, y1 = _box(shown, box.left, box.bottom, box.right, box.top)
        if x1 <= x0:  # spaces have no glyph box: give them the advance they stand for
            x1 = x0 + 0.25 * size
        handle = ctypes.cast(obj, ctypes.c_void_p).value or 0 if obj else 0
        out.append(Char(text, x0, y0, x1, y1, _apply(shown, ox.value, oy.value)[1], size, invisible, i, face,
                        handle))
    return out


def _matrix(obj, raw) -> Matrix:
    m = raw.FS_MATRIX()
    if not raw.FPDFPageObj_GetMatrix(obj, m):
        return _IDENTITY
    return (m.a, m.b, m.c, m.d, m.e, m.f)


def _path_points(obj, raw, to_page: Matrix) -> list[list[tuple[float, float]]]:
    """The straight-line subpaths of a path object on the displayed page (``to_page``:
    the path's space to it; curves make no rules)."""
    m = _compose(to_page, _matrix(obj, raw))
    x, y = ctypes.c_float(), ctypes.c_float()
    subpaths: list[list[tuple[float, float]]] = []
    for i in range(raw.FPDFPath_CountSegments(obj)):
        seg = raw.FPDFPath_GetPathSegment(obj, i)
        kind = raw.FPDFPathSegment_GetType(seg)
        raw.FPDFPathSegment_GetPoint(seg, x, y)
        point = _apply(m, x.value, y.value)
        if kind == raw.FPDF_SEGMENT_MOVETO or not subpaths:
            subpaths.append([point])
        elif kind == raw.FPDF_SEGMENT_LINETO:
            subpaths[-1].append(point)
        else:  # a curve ends any straight run
            subpaths.append([point])
        if raw.FPDFPathSegment_GetClose(seg) and len(subpaths[-1]) > 1:
            subpaths[-1].append(subpaths[-1][0])
    return subpaths


def _objects(raw, page, shown: Matrix):
    """(object, its container's space -> displayed page) of every page object, those
    inside form XObjects (to any depth) included."""
    stack = [(None, shown, 0)]
    while stack:
        form, to_page, level = stack.pop()
        count = raw.FPDFPage_CountObjects(page) if form is None else raw.FPDFFormObj_CountObjects(form)
        for i in range(count):
            obj = raw.FPDFPage_GetObject(page, i) if form is None else raw.FPDFFormObj_GetObject(form, i)
            if not obj:
                continue
            if raw.FPDFPageObj_GetType(obj) == raw.FPDF_PAGEOBJ_FORM:
                if level < _MAX_FORM_DEPTH:
                    stack.append((obj, _compose(to_page, _matrix(obj, raw)), level + 1))
                continue
            yield obj, to_page


def _graphics(page, raw, shown: Matrix, width: float, height: float) -> tuple[list[Rule], list[Fill], float]:
    rules: list[Rule] = []
    fills: list[Fill] = []
    image_area = 0.0
    fill_mode, stroke = ctypes.c_int(), ctypes.c_int()
    r, g, b_, alpha = ctypes.c_uint(), ctypes.c_uint(), ctypes.c_uint(), ctypes.c_uint()
    left, bottom, right, top_ = ctypes.c_float(), ctypes.c_float(), ctypes.c_float(), ctypes.c_float()
    for obj, to_page in _objects(raw, page, shown):
        kind = raw.FPDFPageObj_GetType(obj)
        if kind not in (raw.FPDF_PAGEOBJ_IMAGE, raw.FPDF_PAGEOBJ_PATH):
            continue
        if not raw.FPDFPageObj_GetBounds(obj, left, bottom, right, top_):
            continue
        # Bounds are in the object's container (the page, or the form it is drawn in).
        x0, top, x1, bottom_ = _box(to_page, left.value, bottom.value, right.value, top_.value)
        if kind == raw.FPDF_PAGEOBJ_IMAGE:
            image_area += max(0.0, x1 - x0) * max(0.0, bottom_ - top) / max(1.0, width * height)
            continue
        raw.FPDFPath_GetDrawMode(obj, fill_mode, stroke)
        filled = fill_mode.value != 0
        if filled:
            raw.FPDFPageObj_GetFillColor(obj, r, g, b_, alpha)
            white = min(r.value, g.value, b_.value) >= _WHITE or alpha.value == 0
            w, h = x1 - x0, bottom_ - top
            if not white and min(w, h) <= _RULE_MAX_THICKNESS and max(w, h) >= _MIN_RULE_LENGTH:
                if w >= h:
                    rules.append(Rule(True, (top + bottom_) / 2, x0, x1))
                else:
                    rules.append(Rule(False, (x0 + x1) / 2, top, bottom_))
                continue
            if not white and min(w, h) > _RULE_MAX_THICKNESS:
                fills.append(Fill(x0, top, x1, bottom_))
        if stroke.value:
            raw.FPDFPageObj_GetStrokeColor(obj, r, g, b_, alpha)
            if alpha.value == 0 or min(r.value, g.value, b_.value) >= _WHITE:
                continue
            for points in _path_points(obj, raw, to_page):
                for (ax, ay), (bx, by) in pairwise(points):
                    if abs(ay - by) <= 0.5 and abs(bx - ax) >= _MIN_RULE_LENGTH:
                        rules.append(Rule(True, (ay + by) / 2, min(ax, bx), max(ax, bx)))
                    elif abs(ax - bx) <= 0.5 and abs(by - ay) >= _MIN_RULE_LENGTH:
                        rules.append(Rule(False, (ax + bx) / 2, min(ay, by), max(ay, by)))
    return rules, fills, min(1.0, image_area)


def read_pdf_layer(page) -> PdfLayer:
    """The text and graphics of a ``pypdfium2.PdfPage``."""
    from pypdfium2 import raw

    width, height = page.get_size()  # as displayed (rotated)
    shown = _display(page.raw, raw, width, height)
    textpage = page.get_textpage()
    try:
        chars = _chars(textpage.raw, raw, shown)
    finally:
        textpage.close()
    rules, fills, image_area = _graphics(page.raw, raw, shown, width, height)
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
