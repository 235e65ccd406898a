"""The pipeline and the CLI with the real ocr.Recognizer, on a model folder the test writes.

The model is a randomly initialised TrOCR (transformers writes it, so torch is needed):
its text is noise, but everything between the page and the workbook is the real code
path, load_recognizer and device selection included. Text accuracy is checked with the
embedded model on the shipped samples (tests/app/test_samples.py) and in the window
(tests/gui/test_window.py).
"""

from __future__ import annotations

import openpyxl
import pytest

from app import cli
from app.pipeline import Pipeline
from app.recognizers import load_recognizer
from tests.app.fakes import STANDARD, standard_scan

pytest.importorskip("torch", reason="torch (the test extra 'reference') writes the model folder")
pytest.importorskip("transformers", reason="transformers (test extra 'reference') writes the model folder")


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    from training.charset_tokenizer import SPECIALS, build_char_tokenizer
    from training.reference_models import VOCAB, build_reference, save_reference

    folder = save_reference(build_reference("vit_nonsquare_proj"), tmp_path_factory.mktemp("model"))
    chars = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRST"[: VOCAB - len(SPECIALS)]
    build_char_tokenizer(chars).save(str(folder / "tokenizer.json"))
    return folder


def test_load_recognizer_reads_a_model_folder(model_folder, tmp_path):
    from ocr import Recognizer

    rec = load_recognizer(str(model_folder), "cpu")
    assert isinstance(rec, Recognizer) and str(rec.device) == "cpu"
    [page] = Pipeline(rec).convert_file(standard_scan(tmp_path / "scan.png"))
    cells = page.tables[0].cells
    assert len(cells) == 9
    assert all(0.0 <= c.confidence <= 1.0 for c in cells)
    empty = page.tables[0].cell_at(1, 1)
    assert STANDARD[1][1] == "" and empty.text == "" and empty.confidence == 1.0


def test_cli_convert_with_model_and_device(model_folder, tmp_path, capsys):
    scan = standard_scan(tmp_path / "scan.png")
    code = cli.main(["convert", str(scan), "-o", str(tmp_path / "scan.xlsx"), "--model", str(model_folder),
                     "--device", "cpu", "-q"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "1 table(s), 9 cells" in out
    ws = openpyxl.load_workbook(tmp_path / "scan.xlsx").active
    assert (ws.max_row, ws.max_column) == (3, 3) and ws["B2"].value is None


def test_cli_unknown_device_is_one_line(model_folder, tmp_path, capsys):
    scan = standard_scan(tmp_path / "scan.png")
    code = cli.main(["convert", str(scan), "-o", str(tmp_path / "x.xlsx"), "--model", str(model_folder),
                     "--device", "tpu"])
    _, err = capsys.readouterr()
    assert code == 1
    [line] = err.strip().splitlines()
    assert line.startswith(f"tablescribe: cannot load {model_folder}: ") and "tpu" in line
