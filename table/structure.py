"""Page image -> tables: the structure half of tablescribe.

    grayscale -> deskew (±10°) -> ink mask (dark fills inverted) -> rule masks by
    morphology sized to the text -> straight lines -> groups of lines -> grid ->
    cells with row/column spans

Coordinates in the result are pixels of the *deskewed* image, which the result
carries so that cells can be cropped from it (``table.cells.line_crops``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from table.deskew import estimate_skew, rotate_page
from table.grid import PageLayout, build_table
from table.groups import group_lines
from table.ink import estimate_text_height, otsu_ink, to_gray
from table.model import Table
from table.open_tables import reconcile
from table.rule_analysis import ANALYSIS_TEXT_H, RuleAnalysis, analyse_rules
from table.split_model import SplitModel, default_split_model
from table.text import text_blobs

__all__ = ["ANALYSIS_TEXT_H", "MIN_SKEW", "StructureResult", "find_tables"]

MIN_SKEW = 0.05  # degrees; below this, turning the page would only blur it


@dataclass
class StructureResult:
    image: np.ndarray  # the deskewed page, RGB uint8; every bbox refers to it
    angle: float  # skew found, degrees, positive = the page was turned counter-clockwise
    tables: list[Table] = field(default_factory=list)  # top to bottom, then left to right
    text_h: float = 0.0  # median character height on the page, pixels


def _paper_colour(image: np.ndarray) -> tuple[int, ...]:
    """The page's background, to paint the corners a rotation uncovers."""
    border = np.concatenate(
        [
            image[:4].reshape(-1, image.shape[-1] if image.ndim == 3 else 1),
            image[-4:].reshape(-1, image.shape[-1] if image.ndim == 3 else 1),
        ]
    )
    return tuple(int(v) for v in np.median(border, axis=0))


def _contains(outer: Table, inner: Table) -> bool:
    ox0, oy0, ox1, oy1 = outer.bbox
    ix0, iy0, ix1, iy1 = inner.bbox
    w = max(0, min(ox1, ix1) - max(ox0, ix0))
    h = max(0, min(oy1, iy1) - max(oy0, iy0))
    area = max(1, (ix1 - ix0) * (iy1 - iy0))
    return w * h >= 0.8 * area


def find_tables(image: np.ndarray, *, deskew: bool = True, page: int = 0,
                model: SplitModel | None | str = "default") -> StructureResult:
    """Find every table on a page image ((H, W, 3) RGB uint8, or grey (H, W)).

    Returns the deskewed page, the skew angle and one Table per grid, with cells
    (row, col, rowspan, colspan, bbox) and empty text. A page without a table gives
    an empty list. Tables drawn as a full grid come from the rules; the others from
    the learned split model (``model``: "default" = the embedded one where it is
    installed, a loaded SplitModel, or None for rules only).
    """
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {image.dtype}")
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_RGBA2RGB)
    gray = to_gray(image)
    rough = otsu_ink(gray)
    text_h = estimate_text_height(rough)
    angle = estimate_skew(rough) if deskew else 0.0
    if abs(angle) >= MIN_SKEW:
        image = rotate_page(image, angle, fill=_paper_colour(image))
        gray = to_gray(image)
    else:
        angle = 0.0
    analysis = analyse_rules(gray, text_h)
    tables = _tables_at_scale(analysis, page)
    if analysis.rescaled:  # found at the working scale: back to the page's pixels
        fx = gray.shape[1] / analysis.gray.shape[1]
        fy = gray.shape[0] / analysis.gray.shape[0]
        tables = [_scaled(t, fx, fy, gray.shape) for t in tables]
    split_model = default_split_model() if model == "default" else model
    if split_model is not None:
        mi, found = split_model.tables(gray, text_h)
        tables = reconcile(tables, found, mi, page)
    return StructureResult(image=image, angle=float(angle), tables=tables, text_h=float(text_h))


def _scaled(t: Table, fx: float, fy: float, shape: tuple[int, ...]) -> Table:
    """A table found on a reduced page, in the full page's pixels."""
    h, w = shape[:2]
    rows = [min(h, int(round(v * fy))) for v in t.row_lines]
    cols = [min(w, int(round(v * fx))) for v in t.col_lines]
    for c in t.cells:
        c.bbox = (cols[c.col], rows[c.row], cols[c.col + c.colspan], rows[c.row + c.rowspan])
    t.row_lines, t.col_lines = rows, cols
    t.bbox = (cols[0], rows[0], cols[-1], rows[-1])
    return t


def _tables_at_scale(analysis: RuleAnalysis, page: int) -> list[Table]:
    gray, text_h, ink, masks = analysis.gray, analysis.text_h, analysis.ink, analysis.masks
    hs, vs = analysis.horizontal, analysis.vertical
    blobs = text_blobs(ink.binary, analysis.rules, text_h, ink.smooth)
    layout = PageLayout(
        masks=masks,
        fill=ink.fill,
        gray=ink.smooth,
        blobs=blobs,
        text_h=text_h,
        width=gray.shape[1],
        height=gray.shape[0],
    )

    tables: list[Table] = []
    for h_group, v_group in group_lines(hs, vs, text_h):
        t = build_table(h_group, v_group, layout)
        if t is not None:
            t.page = page
            tables.append(t)
    # A table inside another one's cell is noise of the outer grid (or a nested box):
    # keep the outer table.
    tables.sort(key=lambda t: -(t.bbox[2] - t.bbox[0]) * (t.bbox[3] - t.bbox[1]))
    kept: list[Table] = []
    for t in tables:
        if not any(_contains(k, t) for k in kept):
            kept.append(t)
    kept.sort(key=lambda t: (t.bbox[1], t.bbox[0]))
    return kept
