"""The training run's data stream and its wall-clock budget (how a run on a lent GPU
is driven: many rendering workers, a schedule spread over the minutes it has)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch (the 'train' extra) trains the model")
pytest.importorskip("transformers", reason="transformers (the 'train' extra) builds the model")

from torch.utils.data import DataLoader

from ocr.preprocess import pixel_values
from training.cells import CellGenerator
from training.train_recognizer import CellStream, lr_at, main, model_shape

# The first 40 texts of the benchmark's held-out set (benchmarks/ocr_accuracy.py, seed 7),
# the set the model card's figures were measured on. Change it only with those figures.
HELDOUT_TEXTS_SHA256 = "f98a76644140dee76ea92d10e11f571dd41c04b503529b09595edaedfafa860f"


def _heldout_digest() -> str:
    texts = [CellGenerator(7, "heldout").sample(i).text for i in range(40)]
    return hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()


def _batches(workers: int, n: int) -> list:
    stream = CellStream(seed=3, start=100, batch=3, shape=model_shape(48))
    loader = DataLoader(stream, batch_size=None, num_workers=workers,
                        **({"prefetch_factor": 2} if workers else {}))
    out = []
    for pv, labels in loader:
        out.append((pv.numpy().copy(), labels.numpy().copy()))
        if len(out) == n:
            break
    return out


def test_the_stream_renders_the_same_batches_for_any_number_of_workers():
    one, two = _batches(0, 4), _batches(2, 4)
    for (pv1, lab1), (pv2, lab2) in zip(one, two, strict=True):
        np.testing.assert_array_equal(pv1, pv2)
        np.testing.assert_array_equal(lab1, lab2)
    # samples 100.. in order, as one grey channel of the model's preprocessing
    stream = CellStream(seed=3, start=100, batch=3, shape=model_shape(48))
    gen = CellGenerator(3, "train")
    cells = [gen.sample(100 + k) for k in range(6)]
    full = pixel_values([c.image for c in cells], stream.pre)
    assert one[0][0].shape == (3, 1, 48, 576)
    np.testing.assert_array_equal(np.concatenate([one[0][0], one[1][0]]), full[:, :1])
    np.testing.assert_array_equal(full[:, 0], full[:, 2])  # the channels it leaves out are equal


def test_a_focus_mix_swaps_a_fraction_of_training_texts_and_leaves_the_heldout_set_alone():
    from training.cells import CHARSET

    plain = CellStream(seed=3, start=0, batch=3, shape=model_shape(48))
    focused = CellStream(seed=3, start=0, batch=3, shape=model_shape(48), focus=0.3)
    assert all(plain.focus_text_for(i) is None for i in range(200))
    texts = [focused.focus_text_for(i) for i in range(2000)]
    swapped = [t for t in texts if t is not None]
    assert 0.25 < len(swapped) / len(texts) < 0.35
    assert texts == [focused.focus_text_for(i) for i in range(2000)]  # a function of the index
    assert all(ch in CHARSET for t in swapped for ch in t)
    accented = sum(any(ch in "àáâäåèéêëìíîïòóôöøùúûüçñßÀÁÂÄÅÈÉÊËÒÓÔÖØÙÚÛÜ" for ch in t) for t in swapped)
    assert accented / len(swapped) > 0.4
    assert sum(len(t) == 1 for t in swapped) / len(swapped) > 0.08
    # a spreadsheet's accounting negatives: the symbol outside the parentheses
    accounting = [t for t in swapped if t[0] in "$€£" and t[1:].lstrip().startswith("(")]
    assert len(accounting) / len(swapped) > 0.02 and all(t.endswith(")") for t in accounting)
    # a swapped text is what the generator renders
    index = next(i for i, t in enumerate(texts) if t)
    cell = CellGenerator(3, "train").sample(index, texts[index])
    assert cell.text == texts[index]
    # focus texts are the training's own: the held-out set is still the published one
    assert _heldout_digest() == HELDOUT_TEXTS_SHA256


def test_a_schedule_spread_over_time_follows_the_fraction_spent():
    base = 1e-3
    assert lr_at(5, base, 10, 10**9, progress=0.9) == pytest.approx(base * 6 / 10)  # warming up
    assert lr_at(50, base, 10, 10**9, progress=0.0) == pytest.approx(base)
    assert lr_at(50, base, 10, 10**9, progress=0.5) == pytest.approx(base * 0.525)
    assert lr_at(50, base, 10, 10**9, progress=1.5) == pytest.approx(base * 0.05)
    # without a progress the steps decide, as before
    assert lr_at(50, base, 10, 90) == pytest.approx(base * 0.525)


def test_a_run_on_a_time_budget_stops_and_keeps_its_weights(tmp_path):
    from training.cells import char_tokenizer
    from training.train_recognizer import build_model

    vocab = char_tokenizer().get_vocab_size()
    shape = model_shape(48)
    torch.manual_seed(0)
    init = tmp_path / "init.pt"
    torch.save({"model": build_model(vocab, shape).state_dict(), "step": 700, "samples": 22400,
                "shape": shape}, init)
    work = tmp_path / "run"
    rc = main(["--workdir", str(work), "--init-from", str(init), "--time-budget", "1",
               "--steps", "700", "--batch", "2", "--workers", "2", "--warmup", "1",
               "--lr", "1e-4", "--eval-every", "1000000", "--eval-size", "2",
               "--snapshot-every", "1000000"])
    assert rc == 0
    last = torch.load(work / "last.pt", map_location="cpu", weights_only=True)
    # --steps would not have let it start; the budget, not the step count, ends it
    assert last["step"] > 700 and last["samples"] == 22400 + 2 * (last["step"] - 700)
    assert last["schedule_start"] == 700 and "optimizer" in last and "ctc_head" in last
    snap = torch.load(work / f"snap-{last['step']}.pt", map_location="cpu", weights_only=True)
    for name, value in snap["model"].items():
        torch.testing.assert_close(value, last["model"][name])
    logged = [json.loads(line) for line in (work / "log.jsonl").read_text().splitlines()]
    assert all("eval" not in r for r in logged)
