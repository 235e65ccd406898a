"""Which ruling lines belong to one table.

Lines that cross or touch form one table. Parallel rules that cross nothing (the
column rules of a financial statement, the horizontal rules of a booktabs table)
group with their overlapping neighbours. A lone rule is an underline or a divider,
and a short stroke hanging off a rule is a letter beside it: neither is a table.
"""

from __future__ import annotations

import numpy as np

from table.lines import Line

__all__ = ["group_lines"]


def _touch(h: Line, v: Line, tol: float) -> bool:
    return (h.start - tol <= v.pos <= h.end + tol) and (v.start - tol <= h.pos <= v.end + tol)


def _overlap(a: Line, b: Line) -> float:
    return min(a.end, b.end) - max(a.start, b.start)


def group_lines(
    hs: list[Line], vs: list[Line], text_h: float
) -> list[tuple[list[Line], list[Line]]]:
    """Lines that make up one table, as (horizontal, vertical) lists."""
    tol = max(4.0, 0.6 * text_h)

    # A short line is a rule only between two rules (a cell-wide piece of a merged
    # grid); hanging off one rule it is a letter's stroke beside it ("E" after a rule).
    def anchored(line: Line, others: list[Line]) -> bool:
        if line.length >= 3 * text_h:
            return True
        ends = [o.pos for o in others if o.start - tol <= line.pos <= o.end + tol]
        return any(abs(p - line.start) <= tol for p in ends) and any(
            abs(p - line.end) <= tol for p in ends
        )

    hs, vs = [h for h in hs if anchored(h, vs)], [v for v in vs if anchored(v, hs)]
    lines = hs + vs
    parent = list(range(len(lines)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        parent[find(i)] = find(j)

    nh = len(hs)
    crossed = [False] * len(lines)
    for i, h in enumerate(hs):
        for j, v in enumerate(vs):
            if _touch(h, v, tol):
                union(i, nh + j)
                crossed[i] = crossed[nh + j] = True
    # Rules that cross nothing pair up with parallel rules they overlap.
    free_h = [i for i in range(nh) if not crossed[i] and hs[i].length >= 4 * text_h]
    for a_i, i in enumerate(free_h):
        for j in free_h[a_i + 1 :]:
            a, b = hs[i], hs[j]
            if _overlap(a, b) >= 0.7 * min(a.length, b.length):
                union(i, j)
    free_v = [
        nh + j for j in range(len(vs)) if not crossed[nh + j] and vs[j].length >= 2.5 * text_h
    ]
    for a_i, i in enumerate(free_v):
        for j in free_v[a_i + 1 :]:
            a, b = lines[i], lines[j]
            if _overlap(a, b) >= 0.6 * min(a.length, b.length):
                union(i, j)
    groups: dict[int, tuple[list[Line], list[Line]]] = {}
    for k, line in enumerate(lines):
        root = find(k)
        g = groups.setdefault(root, ([], []))
        (g[0] if line.horizontal else g[1]).append(line)
    _join_ruled_bands(groups)
    # A lone rule is an underline or a divider, not a table; one rule of each kind
    # is a table only when they cross well inside both (the inner rules of a
    # frameless 2 x 2 table), not a letter-like T or L.
    out = []
    for g in groups.values():
        if len(g[0]) + len(g[1]) < 2:
            continue
        if len(g[0]) == 1 and len(g[1]) == 1 and not _crosses_inside(g[0][0], g[1][0], text_h):
            continue
        out.append(g)
    return out


def _join_ruled_bands(groups: dict[int, tuple[list[Line], list[Line]]]) -> None:
    """A stack of free horizontal rules right under (or over) a boxed band of the same
    width continues it: a table with only row rules and a dark, framed header row."""

    def extent(g):
        hs, vs = g
        xs = [h.start for h in hs] + [v.pos for v in vs]
        xe = [h.end for h in hs] + [v.pos for v in vs]
        ys = [h.pos for h in hs] + [v.start for v in vs]
        ye = [h.pos for h in hs] + [v.end for v in vs]
        return min(xs), max(xe), min(ys), max(ye)

    changed = True
    while changed:
        changed = False
        for key, g in groups.items():
            hs, vs = g
            if vs or len(hs) < 2:
                continue
            pos = sorted(h.pos for h in hs)
            spacing = float(np.median(np.diff(pos)))
            x0, x1, y0, y1 = extent(g)
            for other_key, other in groups.items():
                if other_key == key or not other[0] or not other[1]:
                    continue
                ox0, ox1, oy0, oy1 = extent(other)
                overlap = min(x1, ox1) - max(x0, ox0)
                gap = max(y0 - oy1, oy0 - y1)
                if overlap >= 0.85 * max(x1 - x0, ox1 - ox0) and -1 <= gap <= 1.6 * spacing:
                    other[0].extend(hs)
                    del groups[key]
                    changed = True
                    break
            if changed:
                break


def _crosses_inside(h: Line, v: Line, text_h: float) -> bool:
    m = 1.5 * text_h
    return h.start + m < v.pos < h.end - m and v.start + m < h.pos < v.end - m
