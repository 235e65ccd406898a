"""Office-printed training cells (training/printed_cells.py) and how the recogniser's
training stream mixes them in (train_recognizer --printed)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from training import printed_cells as pc

torch = pytest.importorskip("torch", reason="torch (the 'train' extra) trains the model")
pytest.importorskip("transformers", reason="transformers (the 'train' extra) builds the model")

from training.cells import char_tokenizer
from training.train_recognizer import CellStream, model_shape, printed_training_cells


def _crop(value: int) -> np.ndarray:
    img = np.full((20, 60), 255, np.uint8)
    img[6:14, 5 : 5 + value] = 0  # a bar whose length tells the crops apart
    return img


def test_cells_written_in_the_corrections_format_come_back_and_foreign_text_is_left_out(tmp_path, capsys):
    cells = [pc.PrintedCell(_crop(10), "96,981"), pc.PrintedCell(_crop(20), "a \u2603 b"),
             pc.PrintedCell(_crop(30), "Total")]
    assert pc.write_folder(cells[:2], tmp_path) == 2
    assert pc.write_folder(cells[2:], tmp_path) == 1  # appends, with new file names
    entries = [json.loads(line) for line in (tmp_path / "labels.jsonl").read_text().splitlines()]
    assert [e["text"] for e in entries] == ["96,981", "a \u2603 b", "Total"]
    assert len({e["image"] for e in entries}) == 3
    back = printed_training_cells(tmp_path, char_tokenizer())
    assert [c.text for c in back] == ["96,981", "Total"]  # the snowman is not in the vocabulary
    np.testing.assert_array_equal(back[1].image, cells[2].image)
    assert "1 outside the vocabulary" in capsys.readouterr().out


def test_the_stream_draws_its_printed_share_from_the_printed_cells():
    printed = [pc.PrintedCell(_crop(10 + k), f"cell {k}") for k in range(5)]
    stream = CellStream(seed=3, start=0, batch=3, shape=model_shape(48), printed=printed,
                        printed_share=0.3)
    from training.cells import CellGenerator

    gen = CellGenerator(3, "train")
    drawn = [stream.sample(gen, i) for i in range(400)]
    share = sum(isinstance(c, pc.PrintedCell) for c in drawn) / len(drawn)
    assert 0.22 < share < 0.38
    assert {c.text for c in drawn if isinstance(c, pc.PrintedCell)} == {c.text for c in printed}
    # a function of the index, so a resumed run draws the same cells
    again = [stream.sample(CellGenerator(3, "train"), i) for i in range(40)]
    assert [c.text for c in again] == [c.text for c in drawn[:40]]
    plain = CellStream(seed=3, start=0, batch=3, shape=model_shape(48))
    assert not any(isinstance(plain.sample(gen, i), pc.PrintedCell) for i in range(100))


def test_a_workbook_in_a_font_kept_from_training_is_refused(tmp_path):
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    wb.active["A1"] = "Revenue"
    wb.active["A1"].font = Font(name="DejaVu Sans")
    wb.save(tmp_path / "ok.xlsx")
    pc._check_training_fonts(tmp_path)
    wb.active["A2"] = "Costs"
    wb.active["A2"].font = Font(name="Charis SIL")  # a held-out family of the recogniser
    wb.save(tmp_path / "held.xlsx")
    with pytest.raises(RuntimeError, match="held.xlsx.*Charis SIL"):
        pc._check_training_fonts(tmp_path)


def test_training_pages_come_from_their_own_seeds(tmp_path):
    from benchmarks.table_end_to_end import DEV_SEED
    from training.tables.design import BENCH_HELDOUT_SEED
    from training.validate_models import PRINTED_SEED

    assert pc.TRAIN_SEED > max(DEV_SEED, PRINTED_SEED)
    assert pc.TRAIN_SEED != BENCH_HELDOUT_SEED
    with pytest.raises(SystemExit):
        pc.main([str(tmp_path / "out"), "--seed", str(PRINTED_SEED), "--pages", "1"])
    assert not (tmp_path / "out").exists()


def test_training_cells_are_cut_from_printed_pages_with_their_text():
    cells = pc.training_cells(2, capture=0.0)
    assert len(cells) >= 20
    assert all(c.image.dtype == np.uint8 and c.text == " ".join(c.text.split()) for c in cells)
    from ocr import Recognizer

    got = Recognizer.from_pretrained("resources/models/tablescribe-cells").recognize(
        [c.image for c in cells])
    assert sum(g.text == c.text for g, c in zip(got, cells)) >= 0.85 * len(cells)
