"""What a synthetic page holds, sampled from (split, seed, index) alone.

Seeds are strings hashed by ``random.Random`` (SHA-512, independent of PYTHONHASHSEED),
prefixed by the split: the three splits draw from disjoint seed spaces. Fonts come only
from the split's families (``fonts.split_of``); layout families (ruling style x header
band x zebra) listed in ``LAYOUT_SPLITS`` never reach training.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from training import cells as text_source
from training.tables.fonts import SPLITS, Face, faces_for
from training.tables.truth import Span, drawn_separators

RULES = ("grid", "inner", "rows", "columns", "booktabs", "header", "none")
STYLE_RULES = {
    "ruled": ("grid", "inner", "rows", "columns"),
    "open": ("booktabs", "header", "none"),
    "mixed": RULES,
}
# Layout families kept out of training ("rules/band/zebra"). Held-out pages may show any
# layout; validation pages train and validation layouts; training pages train ones only.
LAYOUT_SPLITS = {
    "booktabs/band/zebra": "heldout",
    "columns/plain/zebra": "heldout",
    "none/band/zebra": "heldout",
    "header/band/solid": "validation",
    "rows/plain/zebra": "validation",
}
BANDS = [(31, 78, 120), (64, 64, 64), (0, 0, 0), (150, 30, 40), (40, 100, 60), (200, 215, 235),
         (217, 217, 217)]
TINTS = [(237, 237, 237), (242, 242, 242), (226, 239, 218), (221, 235, 247), (252, 228, 214)]
PAGE_SIZES = {"A4": (595.0, 842.0), "Letter": (612.0, 792.0)}
# The page seed of the end-to-end benchmark's held-out pages: never used while developing.
BENCH_HELDOUT_SEED = 170417
DPIS = [72, 96, 100, 120, 150, 150, 200, 200, 240, 300]


def layout_family(rules: str, band: bool, zebra: bool) -> str:
    return f"{rules}/{'band' if band else 'plain'}/{'zebra' if zebra else 'solid'}"


def layout_split(family: str) -> str:
    return LAYOUT_SPLITS.get(family, "train")


def _allowed(layout_split_name: str, split: str) -> bool:
    if split == "heldout":
        return True
    if split == "validation":
        return layout_split_name in ("train", "validation")
    return layout_split_name == "train"


@dataclass
class TableDesign:
    texts: list[list[str]]  # n_rows x n_cols, lines joined by "\n"; "" inside merges
    merges: list[Span]
    header_rows: int
    align: list[str]  # per column: left | right | center | decimal
    indent: list[int]  # per row: indentation level of the row header
    bold_rows: set[int]
    total_row: int | None
    rules: str
    band: tuple[int, int, int] | None  # header band fill
    zebra: tuple[int, int, int] | None
    total_fill: tuple[int, int, int] | None
    face: Face
    size: float  # points
    rule_width: float  # points
    rule_color: tuple[int, int, int]
    pad_x: float  # points between text and the column boundary
    pad_y: float
    caption: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def n_rows(self) -> int:
        return len(self.texts)

    @property
    def n_cols(self) -> int:
        return len(self.texts[0])

    @property
    def layout(self) -> str:
        return layout_family(self.rules, self.band is not None, self.zebra is not None)

    @property
    def band_dark(self) -> bool:
        return self.band is not None and sum(self.band) < 450

    def separators(self):
        return drawn_separators(self.n_rows, self.n_cols, self.merges, self.rules,
                                self.header_rows, self.total_row)


@dataclass
class PageDesign:
    name: str
    split: str
    blocks: list  # str paragraphs and TableDesign, top to bottom
    page_pt: tuple[float, float]
    dpi: int
    damage_seed: int
    damage: float  # 0 clean .. 1 heavy

    @property
    def tables(self) -> list[TableDesign]:
        return [b for b in self.blocks if isinstance(b, TableDesign)]


# ------------------------------------------------------------------ content


def _number(rng: random.Random, decimals: int) -> str:
    v = rng.uniform(0, 10 ** rng.choice([1, 2, 3, 4, 5]))
    s = f"{v:,.{decimals}f}"
    r = rng.random()
    if r < 0.08:
        return f"({s})"
    if r < 0.14:
        return f"-{s}"
    return s


def _value(rng: random.Random, kind: str, decimals: int) -> str:
    if kind == "num":
        return _number(rng, decimals)
    if kind == "pct":
        return f"{rng.uniform(-20, 120):.{decimals}f}%"
    if kind == "cur":
        return rng.choice(["$", "€", "£"]) + _number(rng, 2)
    if kind == "date":
        return text_source._date(rng)
    if kind == "code":
        return text_source._code(rng)
    if kind == "int":
        return f"{rng.randint(0, 99999):,}"
    if kind == "text":
        return _words(rng, 1, 3)
    return text_source._word(rng).capitalize()


def _words(rng: random.Random, lo: int, hi: int) -> str:
    return " ".join(text_source._word(rng) for _ in range(rng.randint(lo, hi))).capitalize()


def _sentence(rng: random.Random, lo: int = 8, hi: int = 22) -> str:
    return _words(rng, lo, hi) + "."


def _header_rows(rng, n_cols, texts, merges) -> int:
    """One to three header rows; upper ones hold labels spanning column groups, the stub
    head may span all header rows."""
    levels = rng.choices([1, 2, 3], [0.6, 0.3, 0.1])[0] if n_cols >= 3 else 1
    for level in range(levels):
        row = [_words(rng, 1, 2) for _ in range(n_cols)]
        texts.insert(level, row)
    # Groups over the columns of the row below; a group never straddles two groups of
    # the level above it (upper levels are unions of lower ones).
    groups: list[tuple[int, int]] = []  # (first col, width) of the level being made
    c = 1
    while c < n_cols:
        width = rng.randint(1, min(4, n_cols - c))
        groups.append((c, width))
        c += width
    for level in range(levels - 2, -1, -1):
        for c, width in groups:
            if width > 1:
                merges.append((level, c, 1, width))
                for cc in range(c + 1, c + width):
                    texts[level][cc] = ""
        coarser, k = [], 0
        while k < len(groups):
            take = rng.randint(1, 3)
            part = groups[k: k + take]
            coarser.append((part[0][0], sum(w for _, w in part)))
            k += take
        groups = coarser
    if levels > 1 and rng.random() < 0.7:
        merges.append((0, 0, levels, 1))
        for r in range(1, levels):
            texts[r][0] = ""
    return levels


def _body(rng: random.Random, n_rows: int, n_cols: int, hierarchy: bool):
    kinds = ["label"] + [rng.choice(["num", "num", "int", "pct", "cur", "date", "code", "text"])
                         for _ in range(n_cols - 1)]
    decimals = [rng.choice([0, 1, 2, 2, 3]) for _ in range(n_cols)]
    texts, indent, sections = [], [], set()
    for r in range(n_rows):
        level = 0
        if hierarchy and r > 0:
            level = rng.choices([0, 1, 2], [0.25, 0.55, 0.2])[0]
            level = min(level, indent[-1] + 1)
        row = [_words(rng, 1, 3) if c == 0 else _value(rng, kinds[c], decimals[c])
               for c in range(n_cols)]
        texts.append(row)
        indent.append(level)
    if hierarchy:  # a row followed by deeper rows is a section heading: label only
        for r in range(n_rows - 1):
            if indent[r + 1] > indent[r]:
                sections.add(r)
                texts[r] = [texts[r][0]] + [""] * (n_cols - 1)
    for _ in range(rng.randint(0, max(1, n_rows * n_cols // 12))):  # empty cells
        texts[rng.randrange(n_rows)][rng.randrange(1, n_cols)] = ""
    text_cols = [c for c in range(n_cols) if kinds[c] in ("text", "label")]
    if rng.random() < 0.35 and text_cols:  # multi-line cells
        for _ in range(rng.randint(1, 3)):
            r, c = rng.randrange(n_rows), rng.choice(text_cols)
            if texts[r][c] and r not in sections:
                texts[r][c] = "\n".join(_words(rng, 1, 3) for _ in range(rng.randint(2, 3)))
    return texts, indent, sections, kinds, decimals


def design_table(rng: random.Random, split: str, style: str = "mixed") -> TableDesign:
    if style not in STYLE_RULES:
        raise ValueError(f"style must be one of {sorted(STYLE_RULES)}, not {style!r}")
    while True:
        rules = rng.choice(STYLE_RULES[style])
        band = rng.random() < 0.35
        zebra = rng.random() < 0.25
        if _allowed(layout_split(layout_family(rules, band, zebra)), split):
            break
    n_cols = rng.choices(range(2, 13), [4, 8, 9, 9, 8, 6, 4, 3, 2, 1, 1])[0]
    n_body = rng.choices([rng.randint(2, 8), rng.randint(9, 25), rng.randint(26, 59)],
                         [0.5, 0.38, 0.12])[0]
    hierarchy = rng.random() < 0.3
    texts, indent, sections, kinds, decimals = _body(rng, n_body, n_cols, hierarchy)
    merges: list[Span] = []
    header_rows = _header_rows(rng, n_cols, texts, merges)
    indent = [0] * header_rows + indent
    bold_rows = set(range(header_rows)) | {r + header_rows for r in sections}
    total_row = None
    if rng.random() < 0.3:
        row = ["Total"] + [_value(rng, kinds[c], decimals[c]) if kinds[c] in ("num", "int", "cur")
                           else "" for c in range(1, n_cols)]
        texts.append(row)
        indent.append(0)
        total_row = len(texts) - 1
        bold_rows.add(total_row)
    align = []
    for c, k in enumerate(kinds):
        if c == 0 or k in ("label", "text", "code"):
            align.append("left" if c == 0 or rng.random() < 0.8 else "center")
        elif k in ("num", "cur", "pct"):
            align.append(rng.choice(["right", "right", "decimal", "center"]))
        else:
            align.append(rng.choice(["right", "center", "left"]))
    faces = faces_for(split)  # a family first, then one of its designs: families weigh alike
    family = rng.choice(sorted({f.family for f in faces}))
    face = rng.choice([f for f in faces if f.family == family])
    caption = None
    if rng.random() < 0.6:
        caption = f"Table {rng.randint(1, 40)}. {_words(rng, 2, 8)}"
    notes = [(rng.choice(["Note: ", "Source: ", "a ", "* "]) + _sentence(rng, 4, 16))
             for _ in range(rng.choices([0, 1, 2], [0.5, 0.35, 0.15])[0])]
    band_fill = rng.choice(BANDS) if band else None
    return TableDesign(
        texts=texts, merges=merges, header_rows=header_rows, align=align, indent=indent,
        bold_rows=bold_rows, total_row=total_row, rules=rules, band=band_fill,
        zebra=rng.choice(TINTS) if zebra else None,
        total_fill=rng.choice([(217, 217, 217), (230, 230, 230)]) if total_row and
        rng.random() < 0.5 else None,
        face=face, size=rng.choice([7, 8, 8.5, 9, 9, 10, 10, 11, 12]),
        rule_width=rng.choice([0.4, 0.5, 0.75, 0.75, 1.0]),
        rule_color=rng.choice([(0, 0, 0), (0, 0, 0), (60, 60, 60), (120, 120, 120)]),
        pad_x=rng.uniform(3, 9) if rules in ("grid", "inner", "columns") else rng.uniform(6, 14),
        pad_y=rng.uniform(1.5, 5), caption=caption, notes=notes,
    )


_CURRENCY = re.compile(r"^([$€£])(?=[\d(-])")


def _space_some_currency(blocks: list, rng: random.Random) -> None:
    """Give some currency columns a space after the symbol ('€ 1,234.00', '$ (12.50)'), as
    many spreadsheets' formats print them. Training pages only, and from an rng of its
    own: the validation and held-out pages (and the figures measured on them) stay as
    they were. A recogniser trained on office print without it read '€ 99.95' as
    '€99.95' (session 17)."""
    for table in (b for b in blocks if isinstance(b, TableDesign)):
        for col in range(table.n_cols):
            if rng.random() < 0.5:
                for row in table.texts:
                    row[col] = _CURRENCY.sub(r"\1 ", row[col])


def design_page(split: str, seed: int, index: int, style: str = "mixed") -> PageDesign:
    """Page ``index`` of the stream (split, seed): the same arguments, the same page."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    rng = random.Random(f"tables:{split}:{seed}:{index}")
    blocks: list = []
    for _ in range(rng.choices([1, 2], [0.8, 0.2])[0]):
        if rng.random() < 0.5:
            blocks.append(" ".join(_sentence(rng) for _ in range(rng.randint(1, 4))))
        table = design_table(rng, split, style)
        if blocks and isinstance(blocks[-1], TableDesign):  # two tables: keep both small
            table.texts = table.texts[: table.header_rows + 8]
            table.indent = table.indent[: table.n_rows]
            table.merges = [m for m in table.merges if m[0] + m[2] <= table.n_rows]
            table.total_row = None if (table.total_row or 0) >= table.n_rows else table.total_row
        blocks.append(table)
    if rng.random() < 0.4:
        blocks.append(" ".join(_sentence(rng) for _ in range(rng.randint(1, 3))))
    if split == "train":
        _space_some_currency(blocks, random.Random(f"currency-space:{seed}:{index}"))
    return PageDesign(
        name=f"{split}-{style}-{seed}-{index:05d}", split=split, blocks=blocks,
        page_pt=rng.choice(list(PAGE_SIZES.values())), dpi=rng.choice(DPIS),
        damage_seed=rng.getrandbits(32), damage=rng.choice([0.0, 0.3, 0.6, 1.0]),
    )
