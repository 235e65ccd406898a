"""The embedded structure model (resources/models/tablescribe-structure) through the
real pipeline, no stand-ins: on validation pages of each open style it reads tables
far better than the rules alone; on ruled ones no worse, and a full grid the rules
read exactly stays exact.

The pages come from the training generator's validation split (fonts and layouts of
that split, a seed of their own), never its held-out one."""

from __future__ import annotations

import numpy as np
import pytest

import resources
from table.split_model import DEFAULT_MODEL, SplitModel
from table.structure import find_tables
from training.tables.design import design_page
from training.tables.pillow_page import render_pillow

SEED = 29  # validation seeds other than the 48 validation pages' (2)
PAGES = 4


@pytest.fixture(scope="module")
def model() -> SplitModel:
    return SplitModel.load(resources.path(*DEFAULT_MODEL))


def _pages(style: str, rules: str, n: int = PAGES):
    out = []
    for k in range(400):
        d = design_page("validation", SEED, k, style)
        if len(d.tables) == 1 and d.tables[0].rules == rules:
            out.append(render_pillow(d))
            if len(out) == n:
                return out
    raise AssertionError(f"fewer than {n} validation pages with one {rules} table")


def _agreement(found, truth) -> float:
    """Cells (row, col, rowspan, colspan) of the true table that the page's one found
    table has, over all the cells either has (1: the same grid and spans)."""
    if len(found) != 1:
        return 0.0
    got = {(c.row, c.col, c.rowspan, c.colspan) for c in found[0].cells}
    want = truth.spans()
    return len(got & want) / len(got | want)


@pytest.mark.parametrize("rules", ["none", "booktabs", "header"])
def test_open_tables_read_better_with_the_model_than_the_rules_alone(model, rules) -> None:
    pages = _pages("open", rules)
    alone = [_agreement(find_tables(p.image, model=None).tables, p.tables[0]) for p in pages]
    with_model = [_agreement(find_tables(p.image, model=model).tables, p.tables[0])
                  for p in pages]
    assert np.mean(with_model) >= np.mean(alone) + 0.2, (alone, with_model)
    assert np.mean(with_model) >= 0.6, with_model


@pytest.mark.parametrize("rules", ["grid", "inner", "rows", "columns"])
def test_ruled_tables_read_no_worse_and_full_grids_stay_exact(model, rules) -> None:
    pages = _pages("ruled", rules)
    alone = [_agreement(find_tables(p.image, model=None).tables, p.tables[0]) for p in pages]
    with_model = [_agreement(find_tables(p.image, model=model).tables, p.tables[0])
                  for p in pages]
    assert np.mean(with_model) >= np.mean(alone), (alone, with_model)
    if rules in ("grid", "inner"):  # every inner line a rule: the rules' own, exact
        assert all(b == 1.0 for a, b in zip(alone, with_model) if a == 1.0), (alone, with_model)
