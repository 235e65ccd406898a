"""The data model every layer above structure detection speaks: a page holds Tables,
a Table holds Cells on a row/column grid, a Cell may span several rows/columns.

Coordinates are page pixels of the (deskewed) page image the structure was found on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Cell:
    row: int
    col: int
    rowspan: int = 1
    colspan: int = 1
    bbox: tuple[int, int, int, int] = (0, 0, 0, 0)  # x0, y0, x1, y1 (exclusive), page pixels
    text: str = ""
    confidence: float = 1.0  # 1.0 for empty cells and for text a person typed
    # How sure the structure is of this cell's boundaries (the learned split model's
    # margin; 1.0 where rules drew them). The pipeline folds it into ``confidence``.
    structure_confidence: float = 1.0

    @property
    def is_merged(self) -> bool:
        return self.rowspan > 1 or self.colspan > 1


@dataclass
class Table:
    n_rows: int
    n_cols: int
    cells: list[Cell] = field(default_factory=list)
    bbox: tuple[int, int, int, int] = (0, 0, 0, 0)
    page: int = 0  # index of the page in its source file
    # Grid line positions (page pixels): n_rows + 1 and n_cols + 1 values.
    row_lines: list[int] = field(default_factory=list)
    col_lines: list[int] = field(default_factory=list)
    # PDF points per page pixel when the page came from a PDF (boxes in points for
    # programs); None for image files.
    pdf_scale: float | None = None
    # Where the cells' text came from: "image" (the recogniser read the pixels) or
    # "text-layer" (the PDF's own characters, exact).
    read_from: str = "image"
    # Per row/column line: True where the structure model inferred the separator (no
    # rule ink along it), for the page view to draw differently. Empty: all drawn.
    row_inferred: list[bool] = field(default_factory=list)
    col_inferred: list[bool] = field(default_factory=list)
    # Per row/column line: True where the rule path built it from a drawn rule (not from
    # a white gap in the text). Set by find_tables' rule path only, for routing a full
    # grid past the structure model; empty elsewhere.
    row_ruled: list[bool] = field(default_factory=list)
    col_ruled: list[bool] = field(default_factory=list)

    def cell_at(self, row: int, col: int) -> Cell | None:
        """The cell covering (row, col), merged cells included."""
        for c in self.cells:
            if c.row <= row < c.row + c.rowspan and c.col <= col < c.col + c.colspan:
                return c
        return None

    def inferred_edges(self, cell: Cell) -> tuple[bool, bool, bool, bool]:
        """Which of a cell's edges (top, right, bottom, left) the structure model inferred
        (no rule ink); all False where the table does not know (rules, or edited)."""
        if len(self.row_inferred) != self.n_rows + 1 or len(self.col_inferred) != self.n_cols + 1:
            return (False, False, False, False)
        return (self.row_inferred[cell.row], self.col_inferred[cell.col + cell.colspan],
                self.row_inferred[cell.row + cell.rowspan], self.col_inferred[cell.col])

    def as_grid(self) -> list[list[str]]:
        """Text as a rectangular list of rows; a merged cell's text sits at its top-left."""
        grid = [["" for _ in range(self.n_cols)] for _ in range(self.n_rows)]
        for c in self.cells:
            grid[c.row][c.col] = c.text
        return grid


@dataclass
class PageResult:
    """What the pipeline found on one page of one source file."""

    source: str
    page: int
    tables: list[Table] = field(default_factory=list)
    width: int = 0
    height: int = 0
    # The (deskewed) page image, RGB uint8 (H, W, 3), that the table bboxes refer to.
    image: Any = None
    skew_angle: float = 0.0
    # "text-layer" when the tables and their text came from the PDF's own characters
    # (``text_layer`` keeps them, to read cells again after an edit), else "image".
    read_from: str = "image"
    text_layer: Any = None
    turn: int = 0  # degrees clockwise the page was turned to right it (0/90/180/270)
    # The sheet's corners in the original image (TL, TR, BR, BL) when it was squared up
    # from a photo, else None; with ``turn``, how the original became ``image``.
    corners: Any = None
