"""Scoring and timing shared by the benchmarks: character error rate and exact match
of recognised text, and wall-clock timing of a callable."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence

from ocr.metrics import cer, levenshtein

__all__ = [
    "cer_and_exact",
    "elapsed_ms",
    "first_and_median_ms",
    "levenshtein",
    "median_ms",
    "normalize",
    "same_text",
]


def normalize(text: str | None) -> str:
    """Whitespace collapsed: how cell texts are compared."""
    return " ".join((text or "").split())


def same_text(got: str | None, want: str | None) -> bool:
    """Exact match of a cell's text, whitespace collapsed."""
    return normalize(got) == normalize(want)


def cer_and_exact(preds: Sequence[str], refs: Sequence[str]) -> tuple[float, float]:
    """(character error rate, share of exact readings): edits over reference
    characters, an empty reference counting as one character."""
    exact = sum(p == r for p, r in zip(preds, refs)) / max(len(refs), 1)
    return cer(preds, refs), exact


def elapsed_ms(fn: Callable[[], object]) -> float:
    """Milliseconds one call of ``fn`` takes."""
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1e3


def median_ms(fn: Callable[[], object], repeat: int, sync: Callable[[], object] = lambda: None,
              warmup: int = 0) -> float:
    """Median milliseconds of ``repeat`` calls after ``warmup`` untimed ones (numba
    compilation, allocators); ``sync`` waits for a device to finish."""
    for _ in range(warmup):
        fn()
    return statistics.median([elapsed_ms(lambda: (fn(), sync())) for _ in range(repeat)])


def first_and_median_ms(fn: Callable[[], object], repeat: int,
                        sync: Callable[[], object] = lambda: None) -> tuple[float, float]:
    """(first call, compilation included; median of ``repeat`` later calls), in ms."""
    first = elapsed_ms(lambda: (fn(), sync()))
    return first, median_ms(fn, repeat, sync)
