"""TrOCR on the tablescribe engine: model folders, preprocessing, decoding, recognition.

Names are imported lazily so that light modules (ocr.preprocess, used by the training
tooling) do not pull in the engine and its kernels.
"""

from importlib import import_module

_EXPORTS = {
    "ModelConfigError": "ocr.config", "TrOCRConfig": "ocr.config",
    "Generated": "ocr.generation", "beam_search": "ocr.generation", "greedy": "ocr.generation",
    "TrOCRModel": "ocr.model",
    "DEFAULT_MODEL_DIR": "ocr.recognizer", "Recognition": "ocr.recognizer", "Recognizer": "ocr.recognizer",
    "TextTokenizer": "ocr.tokenizer", "TokenizerError": "ocr.tokenizer",
    "ModelWeightsError": "ocr.weights",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ocr' has no attribute {name!r}")
