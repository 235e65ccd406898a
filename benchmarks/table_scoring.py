"""Scores of the end-to-end table benchmark: grid exact, merges, cell exact, TEDS and
TEDS-struct (table-recognition-metric, the metric of PubTabNet) and seconds per page."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from benchmarks.scoring import normalize, same_text
from benchmarks.table_workbooks import TrueTable
from training.tables.truth import grid_html


@dataclass
class Found:
    n_rows: int
    n_cols: int
    spans: set[tuple[int, int, int, int]]
    texts: dict[tuple[int, int], str] = field(default_factory=dict)

    def html(self, structure_only: bool = False) -> str:
        return grid_html(self.n_rows, self.spans, {} if structure_only else self.texts)


@dataclass
class Score:
    pages: int = 0
    grid_right: int = 0
    merges: int = 0
    merges_right: int = 0
    cells: int = 0
    cells_right: int = 0
    tables: int = 0
    teds: float = 0.0  # sums over true tables
    teds_struct: float = 0.0
    seconds: float = 0.0
    text_scored: bool = False
    wrong: list[tuple[str, str]] = field(default_factory=list)  # (want, got) of wrong cells


@lru_cache(maxsize=2)
def _teds(structure_only: bool):
    from table_recognition_metric import TEDS

    return TEDS(structure_only=structure_only)


def teds(truth_html: str, found_html: str, structure_only: bool = False) -> float:
    """TEDS of ``found_html`` against ``truth_html`` (1.0 = identical)."""
    return float(_teds(structure_only)(found_html, truth_html))


def score_page(score: Score, truth: list[TrueTable], found: list[Found], with_text: bool,
               with_teds: bool = True) -> bool:
    """Add one page to ``score``; true tables are matched to found ones in reading order.
    A true table with no found table scores 0 TEDS. Returns whether the grid is right."""
    score.pages += 1
    right = len(found) == len(truth)
    for k, t in enumerate(truth):
        f = found[k] if k < len(found) else None
        same_grid = f is not None and (f.n_rows, f.n_cols) == (t.n_rows, t.n_cols)
        right &= same_grid and f.spans == t.spans
        score.merges += len(t.merges)
        score.tables += 1
        if f is not None:
            score.merges_right += len(t.merges & f.spans)
            if with_teds:
                score.teds_struct += teds(t.html(True), f.html(True), True)
                if with_text:
                    score.teds += teds(t.html(), f.html())
        if with_text:
            score.text_scored = True
            for (r, c), text in t.texts.items():
                score.cells += 1
                if same_grid and same_text(f.texts.get((r, c)), text):
                    score.cells_right += 1
                elif same_grid:
                    score.wrong.append((normalize(text), normalize(f.texts.get((r, c)))))
    score.grid_right += int(right)
    return right


def row(name: str, s: Score, with_teds: bool = True) -> str:
    def pct(a: float, b: int) -> str:
        return f"{100.0 * a / b:5.1f}%" if b else "   n/a"

    cells = pct(s.cells_right, s.cells) if s.text_scored else "   n/a"
    teds_text = f"{s.teds / s.tables:.3f}" if s.text_scored and s.tables and with_teds else "  n/a"
    teds_struct = f"{s.teds_struct / s.tables:.3f}" if s.tables and with_teds else "  n/a"
    return (
        f"| {name:<44} | {pct(s.grid_right, s.pages)} | {pct(s.merges_right, s.merges)} "
        f"| {cells:>6} | {teds_text:>5} | {teds_struct:>11} | {s.seconds / max(s.pages, 1):7.3f} |"
    )


HEADER = (
    f"| {'system':<44} | grid ok | merges | cells  |  TEDS | TEDS-struct |  s/page |\n"
    f"|{'-' * 46}|---------|--------|--------|-------|-------------|---------|"
)
