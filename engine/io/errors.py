"""The one error type every weight-format reader raises for a bad file."""

from __future__ import annotations

import os


class WeightFormatError(ValueError):
    """A weight file is malformed, unsafe or uses something we cannot represent.

    The message always starts with the file, then says what is wrong, so a person
    can act on it without a traceback: ``model.safetensors: header length ...``.
    """

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")
