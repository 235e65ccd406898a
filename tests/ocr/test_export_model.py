"""The training tool that writes the shipped model folder, averaging checkpoints."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch (the 'reference'/'train' extra) writes checkpoints")
pytest.importorskip("transformers", reason="transformers (the 'train' extra) builds the model")

from ocr.recognizer import Recognizer
from ocr.second_look import SecondLook
from training.export_model import SECOND_LOOK, average_checkpoints, export


def _save(path, weights: dict, step: int, shape: dict | None = None) -> str:
    extra = {"shape": shape} if shape else {}
    torch.save({"model": weights, "step": step, "samples": step * 32, **extra}, path)
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
    from training.cells import char_tokenizer
    from training.train_recognizer import build_model, model_shape

    vocab = char_tokenizer().get_vocab_size()
    shape = model_shape(48)
    torch.manual_seed(0)
    first = build_model(vocab, shape).state_dict()
    second = build_model(vocab, shape).state_dict()
    paths = [_save(tmp_path / "s1.pt", first, 100, shape),
             _save(tmp_path / "s2.pt", second, 200, shape)]
    with pytest.raises(ValueError, match="different shapes"):
        average_checkpoints([paths[0], _save(tmp_path / "s0.pt", {}, 50)])
    out = export(paths, str(tmp_path / "model"), {"heldout_cer": "1.0 %"})

    card = (out / "README.md").read_text()
    assert "average of the checkpoints at steps 100, 200" in card
    assert "200 steps" in card and "heldout_cer: 1.0 %" in card
    assert "less likely than 0.8" in card and "1.15x as wide" in card
    pre = json.loads((out / "preprocessor_config.json").read_text())
    assert pre["trim_margins"] is True and pre["size"] == {"height": 48, "width": 576}
    assert json.loads((out / "config.json").read_text())["encoder"]["patch_size"] == [48, 12]

    from safetensors.numpy import load_file

    name = "encoder.embeddings.patch_embeddings.projection.weight"
    shipped = load_file(str(out / "model.safetensors"))[name]
    expected = ((first[name].double() + second[name].double()) / 2).half().numpy()
    np.testing.assert_array_equal(shipped, expected)

    from training.train_recognizer import initial_state

    # a shipped folder can start a run too, at its own height or another one
    assert initial_state(str(out), 48)["shape"] == shape
    smaller = initial_state(str(out), 32)
    assert tuple(smaller["model"][name].shape[2:]) == (32, 8)
    build_model(vocab, smaller["shape"]).load_state_dict(smaller["model"])  # every key fits

    recognizer = Recognizer.from_pretrained(out, device="cpu")
    assert recognizer.second_look == SecondLook.from_dict(SECOND_LOOK)
    page = np.full((32, 120), 255, np.uint8)
    page[10:22, 20:90] = 0
    assert isinstance(recognizer.recognize([page])[0].text, str)  # reads end to end


def test_export_writes_the_second_look_chosen_for_the_model_or_none(tmp_path):
    from training.cells import char_tokenizer
    from training.export_model import main
    from training.train_recognizer import build_model, model_shape

    shape = model_shape(32)
    torch.manual_seed(0)
    ckpt = _save(tmp_path / "c.pt", build_model(char_tokenizer().get_vocab_size(), shape).state_dict(),
                 10, shape)
    assert main(["--checkpoint", ckpt, "--out", str(tmp_path / "lower"), "--second-look-below", "0.6"]) == 0
    chosen = Recognizer.from_pretrained(tmp_path / "lower", device="cpu").second_look
    assert chosen.below_confidence == 0.6 and chosen == SecondLook.from_dict({**SECOND_LOOK, "below_confidence": 0.6})
    assert "less likely than 0.6" in (tmp_path / "lower" / "README.md").read_text()

    assert main(["--checkpoint", ckpt, "--out", str(tmp_path / "none"), "--second-look-below", "0"]) == 0
    assert "second_look" not in json.loads((tmp_path / "none" / "generation_config.json").read_text())
    assert Recognizer.from_pretrained(tmp_path / "none", device="cpu").second_look is None
    assert "one reading per crop" in (tmp_path / "none" / "README.md").read_text()


def test_resized_patch_kernel_answers_an_upsampled_patch_as_the_old_one_did():
    from training.patch_resize import resize_patch_kernel, upsampling_matrix

    torch.manual_seed(1)
    old = torch.randn(6, 3, 32, 8, dtype=torch.float64)
    new = resize_patch_kernel(old, (48, 12))
    assert new.shape == (6, 3, 48, 12)
    patch = torch.randn(3, 32, 8, dtype=torch.float64)
    upsampled = torch.nn.functional.interpolate(patch[None], size=(48, 12), mode="bilinear",
                                                align_corners=False)[0]
    before = torch.einsum("ochw,chw->o", old, patch)
    after = torch.einsum("ochw,chw->o", new, upsampled)
    torch.testing.assert_close(after, before)
    assert upsampling_matrix((32, 8), (48, 12)).shape == (48 * 12, 32 * 8)
    assert resize_patch_kernel(old, (32, 8)) is old


def test_a_run_initialised_at_another_height_starts_where_the_checkpoint_ended(tmp_path):
    from training.cells import char_tokenizer
    from training.train_recognizer import build_model, initial_state, lr_at, model_shape

    vocab = char_tokenizer().get_vocab_size()
    small = model_shape(32)
    path = tmp_path / "old.pt"
    torch.save({"model": build_model(vocab, small).state_dict(), "step": 900, "samples": 28800,
                "optimizer": {"state": {}}}, path)  # a checkpoint of before shapes were recorded
    state = initial_state(str(path), 48)
    assert state["shape"] == model_shape(48) and "optimizer" not in state
    assert state["step"] == 900 and state["samples"] == 28800
    build_model(vocab, state["shape"]).load_state_dict(state["model"])  # every shape fits

    # the new run's schedule warms up from its own first step, then decays to 5 %
    assert lr_at(900, 1e-3, 100, 2000, start=900) == pytest.approx(1e-5)
    assert lr_at(1000, 1e-3, 100, 2000, start=900) == pytest.approx(1e-3)
    assert lr_at(2000, 1e-3, 100, 2000, start=900) == pytest.approx(5e-5)
    with pytest.raises(ValueError, match="multiple of 4"):
        model_shape(30)
