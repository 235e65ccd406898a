"""ocr.metrics: the one CER (rapidfuzz), used by training and the benchmark alike."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocr.metrics import cer, char_errors


def _plain_levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


@given(st.text(max_size=12), st.text(max_size=12))
def test_distance_is_the_unit_cost_levenshtein(a, b):
    assert char_errors(a, b)[0] == _plain_levenshtein(a, b)


def test_known_values_and_the_empty_reference():
    assert cer(["sitting"], ["kitten"]) == pytest.approx(3 / 6)
    assert cer(["Angstrom"], ["Ångström"]) == pytest.approx(2 / 8)
    assert char_errors("", "") == (0, 1) and char_errors("x", "") == (1, 1)
    # An empty cell counts as one character, read right or wrong (the two old copies
    # disagreed here: training counted it only when it was read wrong).
    assert cer(["", "abc"], ["", "abd"]) == pytest.approx(1 / 4)
    assert cer([], []) == 0.0
    with pytest.raises(ValueError, match="2 readings for 1 references"):
        cer(["a", "b"], ["a"])


def test_the_benchmark_scores_with_the_same_cer():
    from benchmarks.scoring import cer_and_exact

    preds, refs = ["", "abc", "12,50"], ["", "abd", "12.50"]
    assert cer_and_exact(preds, refs) == (pytest.approx(cer(preds, refs)), pytest.approx(1 / 3))
