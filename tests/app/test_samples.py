"""resources/samples: made by app.samples, small, their truth matches the pages, and the
embedded model reads them as their truth says."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.pipeline import Pipeline
from app.samples import SAMPLES, render_page, write_samples
from tests.app.fakes import BlobRecognizer

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "resources" / "samples"


def test_samples_are_committed_small_and_documented():
    assert (SAMPLES_DIR / "invoice.png").is_file()  # the README's Quick start converts it
    for name in SAMPLES:
        png, truth = SAMPLES_DIR / f"{name}.png", SAMPLES_DIR / f"{name}.json"
        assert png.stat().st_size < 300_000, name
        doc = json.loads(truth.read_text(encoding="utf-8"))
        assert doc["image"] == png.name and doc["generator"] == "python -m app.samples"
        with Image.open(png) as img:
            assert img.mode == "L" and img.info["dpi"][0] == pytest.approx(doc["dpi"], abs=0.5)


def test_generator_reproduces_the_committed_truth(tmp_path):
    written = write_samples(tmp_path)
    assert sorted(p.name for p in written) == sorted(
        f"{n}.{ext}" for n in SAMPLES for ext in ("png", "json"))
    for name in SAMPLES:
        fresh = json.loads((tmp_path / f"{name}.json").read_text(encoding="utf-8"))
        committed = json.loads((SAMPLES_DIR / f"{name}.json").read_text(encoding="utf-8"))
        assert fresh == committed, name
        with Image.open(tmp_path / f"{name}.png") as a, Image.open(SAMPLES_DIR / f"{name}.png") as b:
            assert a.size == b.size, name


def test_rendering_is_deterministic():
    page = SAMPLES["invoice"]()
    a, truth_a = render_page(page)
    b, truth_b = render_page(SAMPLES["invoice"]())
    assert truth_a == truth_b and np.array_equal(np.asarray(a), np.asarray(b))


def test_write_samples_replaces_earlier_renderings(tmp_path):
    write_samples(tmp_path, ["invoice"])
    before = (tmp_path / "invoice.png").stat().st_mtime_ns
    write_samples(tmp_path, ["invoice"])  # a PNG target is not refused here
    assert (tmp_path / "invoice.png").stat().st_mtime_ns >= before


def cell_key(cell) -> tuple[int, int, int, int]:
    return (cell["row"], cell["col"], cell["rowspan"], cell["colspan"])


@pytest.mark.parametrize("name", [
    "invoice",
    "inventory_eu",
    "quarterly",
    "schedule",
])
def test_samples_convert_to_their_true_grid(name):
    truth = json.loads((SAMPLES_DIR / f"{name}.json").read_text(encoding="utf-8"))["tables"]
    rec = BlobRecognizer()
    [page] = Pipeline(rec).convert_file(SAMPLES_DIR / f"{name}.png")
    assert len(page.tables) == len(truth)
    for table, want in zip(page.tables, truth):
        assert (table.n_rows, table.n_cols) == (want["n_rows"], want["n_cols"])
        assert sorted((c.row, c.col, c.rowspan, c.colspan) for c in table.cells) == \
            sorted(cell_key(c) for c in want["cells"])
        # Exactly the cells with text were read.
        assert {(c.row, c.col) for c in table.cells if c.text} == \
            {(c["row"], c["col"]) for c in want["cells"] if c["text"]}
    lines = sum(len(c["text"].split("\n")) for t in truth for c in t["cells"] if c["text"])
    assert sum(rec.calls) == lines


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_the_embedded_model_reads_the_samples(precision, monkeypatch):
    """The shipped model on the shipped samples, end to end, against their truth: at
    least 97 % of all their cells exactly (issue 18; on the CPU it reads all 122); in
    float32 and in bfloat16 (the default on CPUs with AVX512-BF16; elsewhere it falls
    back to float32)."""
    from app.recognizers import load_recognizer

    monkeypatch.setenv("TABLESCRIBE_PRECISION", precision)

    pipeline = Pipeline(load_recognizer(None, "cpu"))
    wrong, cells = [], 0
    for name in SAMPLES:
        truth = json.loads((SAMPLES_DIR / f"{name}.json").read_text(encoding="utf-8"))["tables"]
        [page] = pipeline.convert_file(SAMPLES_DIR / f"{name}.png")
        assert len(page.tables) == len(truth), name
        for table, want in zip(page.tables, truth):
            for cell in want["cells"]:
                got = table.cell_at(cell["row"], cell["col"])
                cells += 1
                if got is None or got.text != cell["text"]:
                    wrong.append(f"{name} {cell['row']},{cell['col']}: "
                                 f"{got.text if got else None!r} != {cell['text']!r}")
    assert cells >= 100
    assert len(wrong) <= 0.03 * cells, wrong
