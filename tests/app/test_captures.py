"""Turned and photographed sample pages through the real pipeline and the embedded
model: they convert to the same cells as the upright scan, and to the true text."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.pipeline import Pipeline
from app.recognizers import load_recognizer
from table.orientation import turn_page
from table.pages import Page
from tests.table.capture import photograph

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "resources" / "samples"
NAMES = sorted(p.stem for p in SAMPLES_DIR.glob("*.png"))


class Remembering:
    """The embedded model, reading each distinct crop once: a page righted exactly
    costs nothing more than its upright scan."""

    def __init__(self, recognizer) -> None:
        self.recognizer = recognizer
        self.seen: dict[tuple, object] = {}

    def recognize(self, crops, beams: int = 1):
        arrays = [np.ascontiguousarray(np.asarray(c)) for c in crops]
        keys = [(a.shape, a.tobytes()) for a in arrays]
        new = [k for k in dict.fromkeys(keys) if k not in self.seen]
        if new:
            index = {k: i for i, k in enumerate(keys)}
            for k, r in zip(new, self.recognizer.recognize([arrays[index[k]] for k in new], beams=beams)):
                self.seen[k] = r
        return [self.seen[k] for k in keys]


@pytest.fixture(scope="module")
def pipeline():
    return Pipeline(Remembering(load_recognizer(None, "cpu")))


def _cells(result) -> dict[tuple[int, int, int, int, int], str]:
    return {(k, c.row, c.col, c.rowspan, c.colspan): " ".join(c.text.split())
            for k, t in enumerate(result.tables) for c in t.cells}


def _truth(name: str) -> dict[tuple[int, int, int, int, int], str]:
    doc = json.loads((SAMPLES_DIR / f"{name}.json").read_text(encoding="utf-8"))
    return {(k, c["row"], c["col"], c["rowspan"], c["colspan"]): " ".join(c["text"].split())
            for k, t in enumerate(doc["tables"]) for c in t["cells"]}


def _exact(got, want) -> float:
    return sum(got.get(key) == text for key, text in want.items()) / len(want)


@pytest.mark.parametrize("name", NAMES)
def test_a_turned_sample_converts_like_the_upright_one(pipeline, name):
    image = np.asarray(Image.open(SAMPLES_DIR / f"{name}.png").convert("RGB"))
    upright = pipeline.convert_page(Page(name, 0, image, 150))
    want = _truth(name)
    assert upright.turn == 0
    assert _exact(_cells(upright), want) >= 0.97
    for turned in (90, 180, 270):
        page = Page(name, 0, turn_page(image, turned), 150)
        result = pipeline.convert_page(page)
        assert result.turn == (360 - turned) % 360, turned
        assert _cells(result) == _cells(upright), turned
        assert _exact(_cells(result), want) >= 0.97, turned


def test_a_photographed_invoice_is_read(pipeline):
    image = np.asarray(Image.open(SAMPLES_DIR / "invoice.png").convert("RGB"))
    photo = turn_page(photograph(image, tilt=0.12, light=0.4, seed=5, quality=85), 180)
    result = pipeline.convert_page(Page("photo", 0, photo, None))
    assert result.turn == 180
    got, want = _cells(result), _truth("invoice")
    [table] = result.tables
    assert (table.n_rows, table.n_cols) == (9, 5)
    # (Known: the squared-up photo joins the first two header cells into one.)
    assert _exact(got, want) >= 0.85
