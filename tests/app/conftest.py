import pytest

from app import batch, pipeline
from tests.app import fakes


@pytest.fixture
def fake_model(monkeypatch):
    """Every recognizer the app loads is a BlobRecognizer (the real model is not needed
    to test the plumbing); the per-process recognizer cache starts empty."""
    monkeypatch.setattr(pipeline, "load_recognizer", fakes.blob_factory)
    monkeypatch.setattr(batch, "_RECOGNIZER", {})
    return fakes.blob_factory
