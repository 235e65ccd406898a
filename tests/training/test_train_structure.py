"""The structure trainer end to end on tiny pages it is given: it trains, validates,
writes loadable checkpoints, resumes where it stopped, and refuses a device it cannot use."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the trainer needs the training extra (torch)")

from training.tables import train_structure


def _page(path, seed: int) -> None:
    """A 96 x 96 page at model scale: dark text strokes in a 4 x 3 grid of cells, the
    table mask (bit 1), row separators (bit 2) and column separators (bit 4)."""
    rng = np.random.default_rng(seed)
    ink = np.zeros((96, 96), np.uint8)
    y = np.zeros((96, 96), np.uint8)
    y[8:88, 8:88] |= 1
    for r in range(4):
        for c in range(3):
            y0, x0 = 10 + 20 * r, 12 + 26 * c
            ink[y0 + 4:y0 + 10, x0:x0 + int(rng.integers(8, 20))] = 200
    for r in (28, 48, 68):
        y[r - 2:r + 2, 8:88] |= 2
    for c in (36, 62):
        y[8:88, c - 2:c + 2] |= 4
    x = np.stack([ink, np.zeros_like(ink)])
    np.savez_compressed(path, x=x, y=y, tables=np.array(json.dumps([])))


@pytest.fixture
def pages(tmp_path):
    (tmp_path / "train").mkdir()
    (tmp_path / "val").mkdir()
    for i in range(3):
        _page(tmp_path / "train" / f"p{i}.npz", i)
    _page(tmp_path / "val" / "v0.npz", 9)
    return tmp_path


def _run(pages, steps: int, *extra: str) -> int:
    return train_structure.main([
        "--train", str(pages / "train"), "--val", str(pages / "val"),
        "--ckpt", str(pages / "ckpt"), "--steps", str(steps), "--batch", "2",
        "--crop", "64", "--val-every", "1", "--save-every", "1", *extra])


def test_trains_checkpoints_and_resumes(pages, capsys):
    assert _run(pages, 2) == 0
    ckpt = pages / "ckpt"
    log = [json.loads(line) for line in (ckpt / "log.txt").read_text().splitlines()]
    assert [e["step"] for e in log] == [1, 2] and all(np.isfinite(e["val"]) for e in log)
    last = torch.load(ckpt / "last.pt", map_location="cpu")
    best = torch.load(ckpt / "best.pt", map_location="cpu")
    assert last["step"] == 2 and best["step"] in (1, 2)
    assert all(t.device.type == "cpu" for t in last["model"].values())
    assert _run(pages, 3) == 0  # the same command, more steps: continues from last.pt
    assert "resumed at step 2" in capsys.readouterr().out
    log = [json.loads(line) for line in (ckpt / "log.txt").read_text().splitlines()]
    assert [e["step"] for e in log] == [1, 2, 3]


def test_a_device_it_cannot_use_is_refused_by_name(pages):
    if torch.cuda.is_available():
        bad = "cuda:99"
    else:
        bad = "cuda"
    with pytest.raises(SystemExit, match=f"--device '{bad}'"):
        _run(pages, 1, "--device", bad)
    with pytest.raises(SystemExit, match="--device 'abacus'"):
        _run(pages, 1, "--device", "abacus")
