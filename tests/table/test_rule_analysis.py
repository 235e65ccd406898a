"""The rule detector's pass as find_tables makes it (table/rule_analysis.py): the working
scale follows the text; and the split model's ink channel is exactly its training
pages' formula."""

from __future__ import annotations

import numpy as np
import pytest

from table.rule_analysis import ANALYSIS_TEXT_H, working_page
from table.split_input import model_input


@pytest.mark.parametrize("text_h,factor", [(24.0, 0.5), (12.0, 1.0), (14.0, 1.0), (6.0, 2.0),
                                           (3.0, 2.5)])
def test_the_working_scale_follows_the_text(text_h, factor):
    gray = np.full((400, 300), 255, np.uint8)
    gray[101, 20:280] = 0  # a hairline rule, one pixel: averaging alone would halve it
    work = working_page(gray, text_h)
    assert work.shape == (round(400 * factor), round(300 * factor))
    if factor < 1:  # the hairline keeps its darkness when the page is averaged down
        darkness = (255 - work[45:56, 20:140].astype(np.int64)).sum(axis=0)  # per column
        assert darkness.min() >= 0.9 * 255  # the line's ink is all there, not halved
    th = text_h * factor
    assert th <= 1.3 * ANALYSIS_TEXT_H


def test_the_ink_channel_is_one_minus_the_grey_page():
    """Exactly the training pages' formula: the decoder's thresholds see these values,
    and a last-bit change (a multiply by 1/255 instead of the division) moved the grids
    of 4 of 20 validation pages."""
    gray = (np.random.default_rng(0).random((300, 400)) * 255).astype(np.uint8)
    x = model_input(gray, 8.0).x  # 8 px text: the model's own scale, no resize
    np.testing.assert_array_equal(x[0], 1.0 - gray.astype(np.float32) / 255.0)
