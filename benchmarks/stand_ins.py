"""A recogniser that reads nothing, to time everything of a batch but recognition.

Module-level and picklable, so worker processes and Dask workers import it by name.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Blank:
    text: str = ""
    confidence: float = 1.0


class NullRecognizer:
    """Answers an empty, sure reading for every crop, at once."""

    def recognize(self, crops, beams: int = 1) -> list[Blank]:
        return [Blank() for _ in crops]


def null_factory(model: str | None, device: str | None) -> NullRecognizer:
    """A recognizer factory for app.batch (model and device are ignored)."""
    return NullRecognizer()
