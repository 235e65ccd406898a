"""The user's corrections: crops as the recogniser saw them, with the text they really say.

A corrections folder holds PNG crops and ``labels.jsonl``, one JSON object a line:
``{"image": "<file>.png", "text": "<corrected text>"}`` plus optional keys (``model``:
which model read it wrongly, ``read``: what it read). People may write such a folder
by hand; ``read_corrections`` checks one and says what is wrong with each line.

Writes are atomic: a crop is written under a temporary name and renamed, and the
labels file is rewritten whole beside itself and moved over the old one, so a crash
never leaves a torn line or a label without its image.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

LABELS = "labels.jsonl"
ENV_DIR = "TABLESCRIBE_CORRECTIONS_DIR"  # overrides the default folder (tests, scripts)

__all__ = ["LABELS", "CorrectionError", "CorrectionSet", "CorrectionStore", "default_dir",
           "model_identity", "read_corrections"]


class CorrectionError(ValueError):
    """A corrections folder cannot be used; the message names it and the problem."""


def default_dir() -> Path:
    """``corrections`` in the user's data directory (platformdirs), or $TABLESCRIBE_CORRECTIONS_DIR."""
    if os.environ.get(ENV_DIR):
        return Path(os.environ[ENV_DIR])
    from platformdirs import user_data_dir

    return Path(user_data_dir("tablescribe")) / "corrections"


_identities: dict[tuple, str] = {}


def model_identity(folder: str | Path) -> str:
    """``<folder name>@<first 12 hex of the weights' sha256>``: which model read a crop."""
    folder = Path(folder)
    weights = next((folder / n for n in ("model.safetensors", "pytorch_model.bin")
                    if (folder / n).is_file()), None)
    if weights is None:
        return folder.name
    st = weights.stat()
    key = (str(weights), st.st_size, st.st_mtime_ns)
    if key not in _identities:
        h = hashlib.sha256()
        with open(weights, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _identities[key] = f"{folder.name}@{h.hexdigest()[:12]}"
    return _identities[key]


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class CorrectionStore:
    """Appends corrections to a folder; thread-safe within the process."""

    _lock = threading.Lock()

    def __init__(self, folder: str | Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else default_dir()

    @property
    def labels(self) -> Path:
        return self.folder / LABELS

    def add(self, crop, text: str, **extra) -> str:
        """Record one crop (uint8 array or PIL image) with its right text; returns the
        image's file name."""
        if not text.strip() or "\n" in text:
            raise ValueError("a correction is one non-empty line of text")
        image = crop if isinstance(crop, Image.Image) else Image.fromarray(np.asarray(crop))
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            name = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}.png"
            tmp = self.folder / f".{name}.tmp"
            image.save(tmp, format="PNG")
            os.replace(tmp, self.folder / name)
            entry = {"image": name, "text": text, **{k: v for k, v in extra.items() if v is not None}}
            old = self.labels.read_bytes() if self.labels.is_file() else b""
            if old and not old.endswith(b"\n"):
                old += b"\n"
            line = json.dumps(entry, ensure_ascii=False) + "\n"
            _write_atomic(self.labels, old + line.encode("utf-8"))
        return name

    def count(self) -> int:
        if not self.labels.is_file():
            return 0
        return sum(1 for line in self.labels.read_text(encoding="utf-8").splitlines() if line.strip())

    def clear(self) -> int:
        """Remove the labels and the crops they name (other files stay); returns how many
        corrections there were."""
        with self._lock:
            n = self.count()
            names = []
            if self.labels.is_file():
                for line in self.labels.read_text(encoding="utf-8").splitlines():
                    try:
                        names.append(str(json.loads(line)["image"]))
                    except (ValueError, KeyError, TypeError):
                        continue
                self.labels.unlink()
            for name in names:
                p = self.folder / name
                if p.parent == self.folder and p.suffix.lower() == ".png":
                    p.unlink(missing_ok=True)
            return n


@dataclass
class CorrectionSet:
    """What a corrections folder holds that can be used, and what was skipped and why."""

    folder: Path
    images: list[Image.Image] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # one line per skipped entry

    def __len__(self) -> int:
        return len(self.texts)


def read_corrections(folder: str | Path) -> CorrectionSet:
    """Read and check a corrections folder. Unusable lines (bad JSON, no text, missing
    or unreadable image) are skipped and described; a folder with nothing usable
    raises CorrectionError."""
    folder = Path(folder)
    labels = folder / LABELS
    if not folder.is_dir():
        raise CorrectionError(f"{folder}: no such folder")
    if not labels.is_file():
        raise CorrectionError(f"{folder}: no {LABELS} (one {{\"image\": ..., \"text\": ...}} a line)")
    try:
        lines = labels.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CorrectionError(f"{labels}: cannot be read: {exc}") from None
    out = CorrectionSet(folder)
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{labels.name} line {no}"
        try:
            entry = json.loads(line)
            name, text = entry["image"], entry["text"]
            if not isinstance(name, str) or not isinstance(text, str):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            out.skipped.append(f"{where}: not an object with string \"image\" and \"text\"")
            continue
        if not text.strip():
            out.skipped.append(f"{where}: empty text")
            continue
        path = folder / name
        if not path.is_file():
            out.skipped.append(f"{where}: image {name} is missing")
            continue
        try:
            with Image.open(path) as im:
                image = im.convert("L")
        except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
            out.skipped.append(f"{where}: image {name} cannot be read ({exc.__class__.__name__})")
            continue
        out.images.append(image)
        out.texts.append(text)
        out.names.append(name)
    if not out.texts:
        why = f"; skipped: {out.skipped[0]}" + (f" and {len(out.skipped) - 1} more"
                                                if len(out.skipped) > 1 else "") if out.skipped else ""
        raise CorrectionError(f"{folder}: no usable corrections{why}")
    return out
