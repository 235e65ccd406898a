"""The systems the end-to-end table benchmark runs: ours, img2table + Tesseract and
RapidTable + RapidOCR, each giving benchmarks.table_scoring.Found tables."""

from __future__ import annotations

import io
import math
import time
from html.parser import HTMLParser

import numpy as np
from PIL import Image

from benchmarks.table_scoring import Found


def ours(image: np.ndarray, recognizer, structure_model="default") -> tuple[list[Found], float]:
    """Our structure and every cell cropped (the work the pipeline does before the
    recogniser) and, with a recogniser, every crop of the page read in one batch.
    Also returns the seconds spent before the recogniser. ``structure_model`` goes to
    find_tables (None: the rules alone)."""
    from table.cells import page_line_crops
    from table.prepare import prepare_page
    from table.structure import find_tables

    t0 = time.perf_counter()
    # As the pipeline does: photo squared, light evened, turned page righted (the
    # recogniser settles up/down when the letters' shapes do not).
    confidences = None
    if recognizer is not None:
        def confidences(crops):
            return [r.confidence for r in recognizer.recognize(crops)]
    res = find_tables(prepare_page(image, confidences=confidences).image, model=structure_model)
    cells = [c for t in res.tables for c in t.cells]
    found = dict(zip(map(id, cells), page_line_crops(res.image, cells)))
    crops = [{(c.row, c.col): found[id(c)] for c in t.cells} for t in res.tables]
    structure_seconds = time.perf_counter() - t0
    texts: list[dict[tuple[int, int], str]] = [{} for _ in res.tables]
    if recognizer is not None:
        flat = [
            (k, key, im)
            for k, table_crops in enumerate(crops)
            for key, ims in table_crops.items()
            for im in ims
        ]
        recs = recognizer.recognize([im for _, _, im in flat]) if flat else []
        for (k, key, _), rec in zip(flat, recs):
            texts[k][key] = (texts[k][key] + "\n" if key in texts[k] else "") + rec.text
    out = [
        Found(t.n_rows, t.n_cols, {(c.row, c.col, c.rowspan, c.colspan) for c in t.cells}, texts[k])
        for k, t in enumerate(res.tables)
    ]
    return out, structure_seconds


def img2table_tables(image: np.ndarray, ocr) -> list[Found]:
    """img2table at its best settings for tables without a full grid: borderless tables
    and implicit rows on (and implicit columns, which its docs pair with them)."""
    from img2table.document import Image as I2TImage

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "PNG")
    doc = I2TImage(buf.getvalue(), detect_rotation=True)
    tables = doc.extract_tables(
        ocr=ocr, implicit_rows=True, implicit_columns=True, borderless_tables=True,
        min_confidence=50,
    )
    out = []
    for t in sorted(tables, key=lambda t: (t.bbox.y1, t.bbox.x1)):
        groups: dict[tuple, list[tuple[int, int]]] = {}
        texts: dict[tuple, str] = {}
        rows = list(t.content.values())
        for r, row in enumerate(rows):
            for c, cell in enumerate(row):
                key = (cell.bbox.x1, cell.bbox.y1, cell.bbox.x2, cell.bbox.y2)
                groups.setdefault(key, []).append((r, c))
                texts[key] = cell.value
        spans, values = set(), {}
        for key, pos in groups.items():
            r0, c0 = min(p[0] for p in pos), min(p[1] for p in pos)
            r1, c1 = max(p[0] for p in pos), max(p[1] for p in pos)
            spans.add((r0, c0, r1 - r0 + 1, c1 - c0 + 1))
            values[(r0, c0)] = texts[key] or ""
        n_cols = max((len(r) for r in rows), default=0)
        out.append(Found(len(rows), n_cols, spans, values))
    return out


class _TableHTML(HTMLParser):
    """Cells of the first <table> in HTML as (row, col, rowspan, colspan, text)."""

    def __init__(self):
        super().__init__()
        self.cells: list[tuple[int, int, int, int, str]] = []
        self._taken: set[tuple[int, int]] = set()
        self._row = -1
        self._col = 0
        self._cell: list | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr":
            self._row += 1
            self._col = 0
        elif tag in ("td", "th"):
            while (self._row, self._col) in self._taken:
                self._col += 1
            rs, cs = int(a.get("rowspan") or 1), int(a.get("colspan") or 1)
            self._cell = [self._row, self._col, rs, cs, ""]
            for r in range(self._row, self._row + rs):
                for c in range(self._col, self._col + cs):
                    self._taken.add((r, c))
            self._col += cs

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[4] += data

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.cells.append(tuple(self._cell))
            self._cell = None


def found_from_html(html: str) -> Found:
    p = _TableHTML()
    p.feed(html)
    n_rows = max((r + rs for r, _, rs, _, _ in p.cells), default=0)
    n_cols = max((c + cs for _, c, _, cs, _ in p.cells), default=0)
    return Found(n_rows, n_cols, {(r, c, rs, cs) for r, c, rs, cs, _ in p.cells},
                 {(r, c): " ".join(t.split()) for r, c, _, _, t in p.cells})


def rotated_box(box, angle: float, size: tuple[int, int], margin: int = 0):
    """The upright box enclosing ``box`` after the page (w, h) was rotated by ``angle``
    degrees about its centre, as PIL's Image.rotate does (counter-clockwise)."""
    w, h = size
    cx, cy = w / 2, h / 2
    a = math.radians(angle)
    xs, ys = [], []
    for x, y in ((box[0], box[1]), (box[2], box[1]), (box[0], box[3]), (box[2], box[3])):
        dx, dy = x - cx, y - cy
        xs.append(cx + dx * math.cos(a) + dy * math.sin(a))
        ys.append(cy - dx * math.sin(a) + dy * math.cos(a))
    return (max(0, int(min(xs)) - margin), max(0, int(min(ys)) - margin),
            min(w, math.ceil(max(xs)) + margin), min(h, math.ceil(max(ys)) + margin))


class RapidTablePeer:
    """RapidTable (SLANet) + RapidOCR. It reads one table per image and has no page-level
    detector, so it is given each true table's crop: an oracle detection in its favour."""

    def __init__(self, threads: int):
        from onnxruntime import InferenceSession, SessionOptions
        from rapid_table import RapidTable
        from rapidocr_onnxruntime import RapidOCR

        self.ocr = RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1)
        self.table = RapidTable()
        # RapidTable 0.1.3 opens its session with onnxruntime's default thread count.
        infer = self.table.table_structure.session
        opts = SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        path = infer.session._model_path
        infer.session = InferenceSession(path, sess_options=opts,
                                         providers=["CPUExecutionProvider"])

    def __call__(self, image: np.ndarray, boxes: list, angle: float) -> list[Found]:
        out = []
        h, w = image.shape[:2]
        for box in boxes:
            x0, y0, x1, y1 = rotated_box(box, angle, (w, h), margin=max(4, w // 100))
            crop = np.ascontiguousarray(image[y0:y1, x0:x1, ::-1])  # RapidTable reads BGR
            result, _ = self.ocr(crop)
            if not result:
                out.append(Found(0, 0, set()))
                continue
            html = self.table(crop, result)[0]
            out.append(found_from_html(html))
        return out


def save_overlay(path, image: np.ndarray) -> None:
    import cv2

    from table.prepare import prepare_page
    from table.structure import find_tables

    res = find_tables(prepare_page(image).image)
    img = res.image.copy()
    for t in res.tables:
        for c in t.cells:
            x0, y0, x1, y1 = c.bbox
            colour = (255, 0, 0) if c.rowspan > 1 or c.colspan > 1 else (0, 170, 0)
            cv2.rectangle(img, (x0 + 2, y0 + 2), (x1 - 3, y1 - 3), colour, 2)
    Image.fromarray(img).save(path)
