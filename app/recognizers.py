"""Which recogniser, loaded how, with which errors: the one place the app loads a model.

``load_recognizer(model, device)`` builds the real TrOCR recogniser (ocr/ on the
engine). Everything else takes a *factory* with that signature, so tests and callers
can hand in another recogniser; ``open_recognizer`` calls one and turns any failure
into a ModelLoadError that names the model. ``RecognizerCache`` keeps one loaded
recogniser until another (factory, model, device) is asked for: the window holds
one, and each batch worker process holds one (``cached_recognizer``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from app.errors import describe_error

if TYPE_CHECKING:
    from app.pipeline import Recognizer

__all__ = [
    "ModelLoadError",
    "RecognizerCache",
    "RecognizerFactory",
    "cached_recognizer",
    "load_recognizer",
    "open_recognizer",
]

RecognizerFactory = Callable[[str | None, str | None], "Recognizer"]


class ModelLoadError(Exception):
    """The recogniser could not be loaded: nothing can be converted with it."""


def load_recognizer(model: str | None = None, device: str | None = None) -> Recognizer:
    """The recogniser for ``model``: None = the embedded default model, else a model
    folder or a Hugging Face id already downloaded (``tablescribe model download``).

    ``device``: "cpu", "cuda", "cuda:N"; None or "auto" picks CUDA when present
    (TABLESCRIBE_DEVICE overrides).
    """
    # Imported here: the engine (numba) takes seconds to import, and the window and
    # the pipeline's tests should not wait for it.
    from engine.device import Device
    from ocr import Recognizer as OcrRecognizer

    dev = Device.best() if device in (None, "", "auto") else Device.parse(device)
    if model is None:
        return OcrRecognizer.default(device=dev)
    return OcrRecognizer.from_pretrained(model, device=dev)


def open_recognizer(model: str | None, device: str | None,
                    factory: RecognizerFactory | None = None) -> Any:
    """``factory(model, device)`` (default ``load_recognizer``), with any failure turned
    into a ModelLoadError saying which model could not be loaded and why."""
    try:
        return (factory or load_recognizer)(model, device)
    except Exception as exc:  # any failure means "no model"
        what = model or "the embedded default model"
        raise ModelLoadError(f"cannot load {what}: {describe_error(exc)}") from exc


class RecognizerCache:
    """One loaded recogniser, reused until another (factory, model, device) is asked
    for; the previous one is let go first. Thread-safe: two threads never load twice."""

    def __init__(self, factory: RecognizerFactory | None = None) -> None:
        self.factory = factory  # None: load_recognizer, looked up when loading
        self._lock = threading.Lock()
        self._key: tuple | None = None
        self._recognizer: Any = None

    def current(self) -> Any:
        """The recogniser loaded now, or None (never loads one)."""
        return self._recognizer

    def get(self, model: str | None, device: str | None, factory: RecognizerFactory | None = None,
            on_load: Callable[[], None] | None = None) -> Any:
        """The recogniser for (model, device); ``on_load`` is called before a load.
        Raises ModelLoadError."""
        factory = factory or self.factory or load_recognizer
        key = (factory, model, device)
        with self._lock:
            if self._recognizer is None or self._key != key:
                self._recognizer, self._key = None, None
                if on_load is not None:
                    on_load()
                self._recognizer = open_recognizer(model, device, factory)
                self._key = key
            return self._recognizer

    def clear(self) -> None:
        with self._lock:
            self._recognizer, self._key = None, None


# This process's recogniser, loaded by the first batch task that needs it (or by a
# cluster worker's start-up plugin) and reused for every file the process converts.
_RECOGNIZER = RecognizerCache()


def cached_recognizer(model: str | None, device: str | None,
                      factory: RecognizerFactory | None = None) -> Any:
    """This process's recogniser for (factory, model, device), loaded on first use."""
    return _RECOGNIZER.get(model, device, factory)
