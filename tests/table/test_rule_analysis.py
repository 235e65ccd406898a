"""One pass of the rule detector serves the ruled grids and the split model's rule
channel (table/rule_analysis.py): find_tables makes it once a page, the model's input
built from it is the input built without it, and the working scale follows the text."""

from __future__ import annotations

import numpy as np
import pytest

from table import rule_analysis
from table.ink import estimate_text_height, otsu_ink, to_gray
from table.rule_analysis import ANALYSIS_TEXT_H, analyse_rules, working_page
from table.split_input import model_input
from table.split_model import default_split_model
from table.structure import find_tables
from training.tables.design import design_page
from training.tables.pillow_page import render_pillow


def _page(rules: str):
    for k in range(300):
        d = design_page("validation", 31, k, "mixed")
        if d.tables and d.tables[0].rules == rules and d.dpi >= 120:
            return render_pillow(d, damage=False)
    raise AssertionError(f"no validation page with a {rules} table")


@pytest.mark.skipif(default_split_model() is None, reason="no embedded structure model")
def test_find_tables_runs_the_morphology_once_a_page(monkeypatch):
    calls = []
    real = rule_analysis.line_masks

    def counting(*args, **kwargs):
        calls.append(args[0].shape)
        return real(*args, **kwargs)

    monkeypatch.setattr(rule_analysis, "line_masks", counting)
    page = _page("booktabs")
    res = find_tables(page.image)
    assert res.tables, "the booktabs table was not found"
    assert len(calls) == 1, f"the rule detector ran {len(calls)} times on one page"


@pytest.mark.parametrize("rules", ["grid", "booktabs"])
def test_the_model_sees_the_rules_of_the_pass_it_is_given(rules):
    gray = to_gray(_page(rules).image)
    text_h = estimate_text_height(otsu_ink(gray))
    analysis = analyse_rules(gray, text_h)
    given = model_input(gray, text_h, analysis)
    made = model_input(gray, text_h)
    np.testing.assert_array_equal(given.x, made.x)
    assert given.x[1].max() == 1.0  # the drawn rules are in the evidence


@pytest.mark.parametrize("text_h,factor", [(24.0, 0.5), (12.0, 1.0), (14.0, 1.0), (6.0, 2.0),
                                           (3.0, 2.5)])
def test_the_working_scale_follows_the_text(text_h, factor):
    gray = np.full((400, 300), 255, np.uint8)
    gray[100:102, 20:280] = 0  # a hairline rule
    work = working_page(gray, text_h)
    assert work.shape == (round(400 * factor), round(300 * factor))
    if factor < 1:  # the hairline keeps its darkness when the page is averaged down
        assert work[50:51, 20:140].max() < 128
    th = text_h * factor
    assert th <= 1.3 * ANALYSIS_TEXT_H


def test_the_ink_channel_is_one_minus_the_grey_page():
    """Exactly the training pages' formula: the decoder's thresholds see these values,
    and a last-bit change (a multiply by 1/255 instead of the division) moved the grids
    of 4 of 20 validation pages."""
    gray = (np.random.default_rng(0).random((300, 400)) * 255).astype(np.uint8)
    x = model_input(gray, 8.0).x  # 8 px text: the model's own scale, no resize
    np.testing.assert_array_equal(x[0], 1.0 - gray.astype(np.float32) / 255.0)
