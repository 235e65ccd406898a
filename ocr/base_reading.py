"""A tuned model that lets its base model read first.

Fine-tuning on a user's corrections (ocr.finetune) teaches the model a new print style
and costs it a little on others: crops it read right before, it now reads wrong. A
tuned model folder can keep a copy of the model it was tuned from (its ``base``
subfolder) and name it in generation_config.json:

    "base_reading": {"folder": "base", "trust_above": 0.99}

The base model then reads every crop first; where it is less sure than
``trust_above``, the tuned weights read the crop too, and the surer of the two
readings is kept. What the base read surely stays as it was, so the tuned model
forgets almost nothing, and in the new style, where the base is unsure, the tuned
weights read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

BASE_FOLDER = "base"  # the subfolder of a tuned model folder that holds its base


@dataclass(frozen=True)
class BaseReading:
    folder: str  # a subfolder of the model folder, holding a complete model folder
    trust_above: float  # the base's readings at least this sure are kept as they are

    @classmethod
    def from_dict(cls, entry, source: str = "base_reading") -> BaseReading:
        """Parse the ``base_reading`` entry; ``source`` names it in errors."""
        if not isinstance(entry, dict) or set(entry) != {"folder", "trust_above"}:
            raise ValueError(f"{source}: expected {{'folder': name, 'trust_above': number}}, "
                             f"got {entry!r}")
        folder, trust = entry["folder"], entry["trust_above"]
        path = PurePosixPath(folder) if isinstance(folder, str) else None
        if path is None or not folder or path.is_absolute() or len(path.parts) != 1 \
                or folder in (".", "..") or "\\" in folder:
            raise ValueError(f"{source}: folder must name a subfolder of the model folder, "
                             f"got {folder!r}")
        if isinstance(trust, bool) or not isinstance(trust, (int, float)) or not 0.0 <= trust <= 1.0:
            raise ValueError(f"{source}: trust_above must be a number from 0 to 1, got {trust!r}")
        return cls(folder, float(trust))

    def to_dict(self) -> dict:
        return {"folder": self.folder, "trust_above": self.trust_above}
