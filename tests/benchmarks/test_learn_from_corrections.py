"""The corrections benchmark's ceiling: crops the embedded vocabulary cannot spell."""

from __future__ import annotations

from benchmarks.learn_from_corrections import _exact_where, spellable


def test_a_text_with_a_character_outside_the_embedded_vocabulary_is_not_spellable() -> None:
    # ☃ and ♠ are among no vocabulary the project has shipped (185 ids, then 195); the rest are
    assert spellable(["961.34☃", "♠", "Gross 82", "Èást price", "12/16/1995"]) == [
        False, False, True, True, True]


def test_exact_match_counts_only_the_spellable_crops() -> None:
    refs = ["a☃", "abc", "xyz"]
    got = ["a%", "abc", "xy"]
    assert _exact_where(got, refs, [False, True, True]) == 0.5
