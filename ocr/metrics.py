"""Character error rate: the one definition used by `tablescribe model tune`'s before/after
figures, the training's evaluation and the benchmarks (benchmarks/scoring.py).

CER = (sum of Levenshtein distances) / (sum of reference lengths), where an empty
reference counts as one character: a word read into an empty cell is an error that
must count, and a set of empty cells must not divide by zero. The distance is
rapidfuzz's (unit costs for insertion, deletion and substitution, by code point).
"""

from __future__ import annotations

from collections.abc import Iterable

from rapidfuzz.distance import Levenshtein

__all__ = ["cer", "char_errors", "levenshtein"]


def levenshtein(a: str, b: str) -> int:
    """Edits (insertions, deletions, substitutions) that turn ``a`` into ``b``."""
    return Levenshtein.distance(a, b)


def char_errors(pred: str, ref: str) -> tuple[int, int]:
    """(edit distance, characters the reference counts for) of one reading."""
    return levenshtein(pred, ref), max(len(ref), 1)


def cer(preds: Iterable[str], refs: Iterable[str]) -> float:
    """Character error rate of readings against their references (pairs in order)."""
    preds, refs = list(preds), list(refs)
    if len(preds) != len(refs):
        raise ValueError(f"cer: {len(preds)} readings for {len(refs)} references")
    errors = chars = 0
    for pred, ref in zip(preds, refs):
        e, n = char_errors(pred, ref)
        errors += e
        chars += n
    return errors / chars if chars else 0.0
