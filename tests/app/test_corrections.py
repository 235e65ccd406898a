"""The corrections store: the folder format people may also write by hand."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from app.corrections import LABELS, CorrectionError, CorrectionStore, read_corrections


def test_added_corrections_read_back_in_order(tmp_path):
    store = CorrectionStore(tmp_path / "c")
    names = [store.add(np.full((10, 30), v, np.uint8), f"t{v}", model="m@1") for v in (10, 20)]
    assert store.count() == 2
    lines = [json.loads(x) for x in (tmp_path / "c" / LABELS).read_text().splitlines()]
    assert [x["image"] for x in lines] == names and lines[0] == {"image": names[0], "text": "t10",
                                                                 "model": "m@1"}
    got = read_corrections(tmp_path / "c")
    assert got.texts == ["t10", "t20"] and np.asarray(got.images[1]).max() == 20
    assert not list((tmp_path / "c").glob(".*"))  # no temporary files left behind


def test_a_torn_last_line_is_skipped_and_the_next_add_starts_a_new_line(tmp_path):
    store = CorrectionStore(tmp_path)
    store.add(np.zeros((5, 5), np.uint8), "ok")
    with open(tmp_path / LABELS, "a") as f:
        f.write('{"image": "x.png", "te')  # a writer killed mid-line (not ours)
    store.add(np.zeros((5, 5), np.uint8), "after")
    got = read_corrections(tmp_path)
    assert got.texts == ["ok", "after"]
    assert len(got.skipped) == 1 and "line 2" in got.skipped[0]


def test_hand_written_folder_problems_are_named(tmp_path):
    Image.new("L", (20, 10), 255).save(tmp_path / "a.png")
    (tmp_path / "bad.png").write_bytes(b"not a png")
    (tmp_path / LABELS).write_text("\n".join([
        json.dumps({"image": "a.png", "text": "fine"}),
        json.dumps({"image": "gone.png", "text": "x"}),
        json.dumps({"image": "bad.png", "text": "y"}),
        json.dumps({"image": "a.png", "text": ""}),
        "[1, 2]",
    ]) + "\n")
    got = read_corrections(tmp_path)
    assert got.texts == ["fine"]
    assert [s.split(":")[0] for s in got.skipped] == [f"{LABELS} line {i}" for i in (2, 3, 4, 5)]
    assert "gone.png is missing" in got.skipped[0] and "bad.png cannot be read" in got.skipped[1]


def test_empty_or_missing_folders_are_clear_errors(tmp_path):
    with pytest.raises(CorrectionError, match="no such folder"):
        read_corrections(tmp_path / "nope")
    with pytest.raises(CorrectionError, match=f"no {LABELS}"):
        read_corrections(tmp_path)
    (tmp_path / LABELS).write_text(json.dumps({"image": "z.png", "text": "q"}) + "\n")
    with pytest.raises(CorrectionError, match="no usable corrections; skipped: .*z.png is missing"):
        read_corrections(tmp_path)


def test_clear_removes_only_what_the_labels_name(tmp_path):
    store = CorrectionStore(tmp_path)
    store.add(np.zeros((5, 5), np.uint8), "a")
    (tmp_path / "notes.txt").write_text("mine")
    assert store.clear() == 1
    assert store.count() == 0 and sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
