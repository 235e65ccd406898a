"""The print styles `model tune`'s recipe is chosen on: the same crops in every process,
and typefaces the choice may look at (a validation family, never a held-out one)."""

from __future__ import annotations

import numpy as np

from benchmarks.fax import FaxCells
from benchmarks.tune_recipe import VAL_SEED
from training.tables.fonts import recogniser_split_of


def test_the_fax_crops_depend_only_on_seed_and_index() -> None:
    first, again, other = FaxCells(VAL_SEED), FaxCells(VAL_SEED), FaxCells(VAL_SEED + 1)
    image, text = first.sample(7)
    image2, text2 = again.sample(7)
    assert text == text2 and np.array_equal(np.asarray(image), np.asarray(image2))
    assert [other.sample(i)[1] for i in range(20)] != [first.sample(i)[1] for i in range(20)]


def test_the_fax_is_set_in_a_validation_family_and_is_black_and_white() -> None:
    cells = FaxCells(VAL_SEED)
    assert recogniser_split_of(cells.path) == "validation"
    image, _ = cells.sample(3)
    values = set(np.unique(np.asarray(image)).tolist())
    assert values == {0, 255}  # a fax has ink and paper, nothing between
