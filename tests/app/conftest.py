import pytest

from app import recognizers
from tests.app import fakes


@pytest.fixture
def fake_model(monkeypatch):
    """Every recognizer the app loads is a BlobRecognizer (the real model is not needed
    to test the plumbing); the per-process recognizer cache starts empty."""
    monkeypatch.setattr(recognizers, "load_recognizer", fakes.blob_factory)
    monkeypatch.setattr(recognizers, "_RECOGNIZER", recognizers.RecognizerCache())
    # The fake lives in this process: a CLI batch must stay in it, which it does only
    # without a per-file time limit (a limit needs worker processes).
    monkeypatch.setenv("TABLESCRIBE_FILE_TIMEOUT", "0")
    return fakes.blob_factory
