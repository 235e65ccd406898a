"""find_tables with a split model, through the real page path (deskew, scaling, the
model's input, decoding, reconciliation with the rules): with a model that answers
what the generator knows is on the page (an oracle subclass of SplitModel, so the
decoder and everything around it run for real), an open table comes out with its
true grid and spans, inferred separators marked; a full grid stays the rules' own."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from table.split_model import SplitModel
from table.structure import find_tables
from training.tables.design import design_page
from training.tables.export_structure import export
from training.tables.pillow_page import render_pillow
from training.tables.split_net import SplitNet
from training.tables.structure_data import COL_SEP, ROW_SEP, TABLE, targets


class OracleModel(SplitModel):
    """The real SplitModel, but its maps are the truth of the page being read."""

    def __init__(self, base: SplitModel, page, gaps: bool = False) -> None:
        super().__init__(base.folder, base.config, base.net)
        self.page = page
        self.scale = 1.0
        self.gaps = gaps  # whole-gap separator bands (the training targets) or thin ones

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        y = targets(self.page, self.scale, x.shape[1:], None, x if self.gaps else None)
        return np.stack([(y & TABLE) > 0, (y & ROW_SEP) > 0, (y & COL_SEP) > 0]).astype(np.float32)

    def tables(self, gray, text_h=None):
        from table.split_input import model_input

        self.scale = model_input(gray, text_h).scale
        return super().tables(gray, text_h)


@pytest.fixture(scope="module")
def base_model(tmp_path_factory) -> SplitModel:
    torch.manual_seed(0)
    net = SplitNet().eval()
    folder = tmp_path_factory.mktemp("split") / "model"
    export(net.state_dict(), net.cfg, folder)
    return SplitModel.load(folder)


def _page(style: str, rules: str, start: int = 0):
    for k in range(start, start + 300):
        d = design_page("validation", 23, k, style)
        if len(d.tables) == 1 and d.tables[0].rules == rules and d.dpi >= 120:
            return render_pillow(d, damage=False)
    raise AssertionError(f"no validation page with one {rules} table")


@pytest.mark.parametrize("gaps", [False, True])
@pytest.mark.parametrize("rules", ["none", "booktabs", "header"])
def test_an_open_table_comes_out_with_its_true_grid(base_model, rules, gaps) -> None:
    page = _page("open", rules)
    truth = page.tables[0]
    rules_only = find_tables(page.image, model=None)
    res = find_tables(page.image, model=OracleModel(base_model, page, gaps))
    assert len(res.tables) == 1, [t.bbox for t in res.tables]
    t = res.tables[0]
    assert (t.n_rows, t.n_cols) == (truth.n_rows, truth.n_cols)
    assert {(c.row, c.col, c.rowspan, c.colspan) for c in t.cells} == truth.spans()
    # rows of an open table are inferred; at most the few rules of the style are drawn
    assert sum(t.row_inferred) >= truth.n_rows + 1 - 3
    assert all(t.col_inferred[1:-1])
    assert all(0.0 <= c.structure_confidence <= 1.0 for c in t.cells)
    if rules == "none":  # without a rule the rule path sees no table at all
        assert rules_only.tables == []


def test_a_full_grid_stays_with_the_rules(base_model) -> None:
    page = _page("ruled", "grid")
    rules_only = find_tables(page.image, model=None)
    res = find_tables(page.image, model=OracleModel(base_model, page))
    assert [(t.n_rows, t.n_cols, t.bbox) for t in res.tables] == \
        [(t.n_rows, t.n_cols, t.bbox) for t in rules_only.tables]
    assert all(not t.row_inferred for t in res.tables)  # the rule path's own tables


def test_the_untrained_engine_model_runs_on_a_page(base_model) -> None:
    """No oracle: the engine net itself on a real page (whatever it finds, the result is
    a well-formed Table list)."""
    page = _page("open", "none")
    res = find_tables(page.image, model=base_model)
    for t in res.tables:
        assert len(t.row_lines) == t.n_rows + 1 and len(t.col_lines) == t.n_cols + 1
        covered = sum(c.rowspan * c.colspan for c in t.cells)
        assert covered == t.n_rows * t.n_cols
