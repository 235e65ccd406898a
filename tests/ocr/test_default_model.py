"""The embedded default model, through the engine, on freshly rendered cells."""

import json

import pytest
from PIL import Image, ImageDraw, ImageFont

from ocr import DEFAULT_MODEL_DIR, Recognizer
from ocr.recognizer import _Reading

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
# Held-out benchmark (issue 4): CER 0.39 %, exact 97.85 % with the second look (0.60 %,
# 97.10 % without); these freshly rendered cells (a font it was trained with) it reads right.
TEXTS = ["42", "Total", "2024", "$1,250.00", "7", "Name", "12.5%", "B-204", "AB-1234",
         "2024-03-15", "€ 99.95", "Müller", "15/03/2024", "A-1001", "(1,234.56)", "Jane Doe",
         "x", "0.5", "-12.5%", "£ 1,000", "¥ 5,200", "Description"]


def render(text: str, px: int = 34) -> Image.Image:
    font = ImageFont.truetype(FONT, px)
    w = int(font.getlength(text)) + 16
    img = Image.new("L", (w, px + 16), 255)
    ImageDraw.Draw(img).text((8, 6), text, font=font, fill=0)
    return img


def test_shipped_folder_is_complete_and_small():
    names = {p.name for p in DEFAULT_MODEL_DIR.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "preprocessor_config.json",
            "generation_config.json", "README.md"} <= names
    assert sum(p.stat().st_size for p in DEFAULT_MODEL_DIR.iterdir()) < 40e6
    pre = json.loads((DEFAULT_MODEL_DIR / "preprocessor_config.json").read_text())
    assert pre["keep_aspect_ratio"] and pre["trim_margins"] and pre["split_aspect"] == 7.0


@pytest.mark.skipif(not __import__("os").path.exists(FONT), reason="needs fonts-dejavu-core")
def test_default_model_reads_rendered_cells():
    rec = Recognizer.default(device="cpu")
    assert rec is not None and Recognizer().model.config == rec.model.config
    out = rec.recognize([render(t) for t in TEXTS])
    assert [r.text for r in out] == TEXTS
    assert all(0.0 < r.confidence <= 1.0 for r in out)
    # An empty cell crop gives no text.
    assert rec.recognize([Image.new("L", (120, 40), 255)])[0].text == ""


@pytest.mark.skipif(not __import__("os").path.exists(FONT), reason="needs fonts-dejavu-core")
def test_a_wide_line_is_read_in_pieces_joined_by_a_space(monkeypatch):
    from ocr.preprocess import split_wide_line

    rec = Recognizer.default(device="cpu")
    rec.preprocess.split_aspect = 7.0
    rec.second_look = None  # one look: the calls below are the first reading's
    long_line = render("Opening balance of the year carried forward to March")
    pieces = split_wide_line(long_line, 7.0)
    assert len(pieces) >= 2
    calls = []

    def read(images, beams, pre):  # stands in for the model: "text" is each piece's width
        calls.append(len(images))
        return [_Reading(str(im.size[0]), 0.5 + im.size[0] / 1e4, -1.0, 1) for im in images]

    monkeypatch.setattr(rec, "_recognize_batch", read)
    rec.batch_size = 2
    out = rec.recognize([long_line, render("42")])
    assert out[0].text == " ".join(str(p.size[0]) for p in pieces)
    assert out[0].confidence == min(0.5 + p.size[0] / 1e4 for p in pieces)
    assert out[1].text == str(split_wide_line(render("42"), 7.0)[0].size[0])
    # Pieces of all crops share the batches.
    assert sum(calls) == len(pieces) + 1 and max(calls) == 2
