import pytest

from app import recognizers
from tests.app import fakes


@pytest.fixture
def fake_model(monkeypatch):
    """Every recognizer the app loads is a BlobRecognizer (the real model is not needed
    to test the plumbing); the per-process recognizer cache starts empty."""
    monkeypatch.setattr(recognizers, "load_recognizer", fakes.blob_factory)
    monkeypatch.setattr(recognizers, "_RECOGNIZER", recognizers.RecognizerCache())
    return fakes.blob_factory
