"""The training tool that writes the shipped model folder, averaging checkpoints."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch (the 'reference'/'train' extra) writes checkpoints")
pytest.importorskip("transformers", reason="transformers (the 'train' extra) builds the model")

from ocr.recognizer import Recognizer  # noqa: E402
from training.export_model import average_checkpoints, export  # noqa: E402


def _save(path, weights: dict, step: int) -> str:
    torch.save({"model": weights, "step": step, "samples": step * 32}, path)
    return str(path)


def test_average_takes_the_mean_of_float_weights_and_the_last_step(tmp_path):
    a = _save(tmp_path / "a.pt", {"w": torch.tensor([1.0, 2.0]), "ids": torch.tensor([0, 1])}, 500)
    b = _save(tmp_path / "b.pt", {"w": torch.tensor([3.0, 6.0]), "ids": torch.tensor([0, 1])}, 1000)
    avg = average_checkpoints([b, a])
    assert avg["model"]["w"].tolist() == [2.0, 4.0]
    assert avg["model"]["ids"].dtype == torch.int64  # buffers of integers are kept, not averaged
    assert avg["step"] == 1000 and avg["samples"] == 32000
    assert avg["averaged_steps"] == [500, 1000]


def test_export_of_averaged_checkpoints_is_a_model_the_engine_reads(tmp_path):
    from training.cells import CHARSET
    from training.charset_tokenizer import build_char_tokenizer
    from training.train_recognizer import build_model

    vocab = build_char_tokenizer(CHARSET).get_vocab_size()
    torch.manual_seed(0)
    first = build_model(vocab).state_dict()
    second = build_model(vocab).state_dict()
    paths = [_save(tmp_path / "s1.pt", first, 100), _save(tmp_path / "s2.pt", second, 200)]
    out = export(paths, str(tmp_path / "model"), {"heldout_cer": "1.0 %"})

    card = (out / "README.md").read_text()
    assert "average of the checkpoints at steps 100, 200" in card
    assert "200 steps" in card and "heldout_cer: 1.0 %" in card
    assert json.loads((out / "preprocessor_config.json").read_text())["trim_margins"] is True

    from safetensors.numpy import load_file

    name = "encoder.embeddings.patch_embeddings.projection.weight"
    shipped = load_file(str(out / "model.safetensors"))[name]
    expected = ((first[name].double() + second[name].double()) / 2).half().numpy()
    np.testing.assert_array_equal(shipped, expected)

    recognizer = Recognizer.from_pretrained(out, device="cpu")
    page = np.full((32, 120), 255, np.uint8)
    page[10:22, 20:90] = 0
    assert isinstance(recognizer.recognize([page])[0].text, str)  # reads end to end
