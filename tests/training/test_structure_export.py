"""The split model exported from PyTorch runs on the engine with the same logits
(table/split_model.py against training/tables/split_net.py), and a bad model folder
says what is wrong."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from table.split_input import with_context
from table.split_model import SplitModel
from training.tables.export_structure import PARITY_TOL, export, parity
from training.tables.split_net import SplitNet


def _exported(tmp_path, **cfg):
    torch.manual_seed(0)
    net = SplitNet(cfg).eval()
    export(net.state_dict(), net.cfg, tmp_path / "m")
    return net, tmp_path / "m"


@pytest.mark.parametrize("cfg", [{}, {"in_channels": 2, "c1": 4, "c2": 6, "c3": 8, "c4": 10,
                                  "long_k": 5}, {"deep": 12}])
def test_engine_logits_match_torch(tmp_path, cfg) -> None:
    net, folder = _exported(tmp_path, **cfg)
    x = np.random.default_rng(1).random((net.cfg["in_channels"], 64, 96), dtype=np.float32)
    assert parity(folder, net, x) <= PARITY_TOL


def test_probabilities_run_on_the_inked_box_padded_to_multiples_of_8(tmp_path) -> None:
    net, folder = _exported(tmp_path)
    model = SplitModel.load(folder)
    x = np.zeros((2, 120, 150), np.float32)
    x[:, 40:77, 50:100] = np.random.default_rng(2).random((2, 37, 50), dtype=np.float32)
    got = model.probabilities(x)
    box = with_context(x)[:, 40 - 24:77 + 24, 50 - 24:100 + 24]  # the ink's box and margin
    padded = np.pad(box, ((0, 0), (0, -box.shape[1] % 8), (0, -box.shape[2] % 8)))
    with torch.no_grad():
        want = torch.sigmoid(net(torch.from_numpy(padded[None])))[0].numpy()
    assert got.shape == (3, 120, 150)
    np.testing.assert_allclose(got[:, 16:101, 26:124], want[:, :85, :98], atol=1e-5)
    assert not got[:, :16].any() and not got[:, :, 124:].any()
    assert not model.probabilities(np.zeros((2, 30, 30), np.float32)).any()


def test_the_far_context_model_pads_the_inked_box_to_multiples_of_32(tmp_path) -> None:
    net, folder = _exported(tmp_path, deep=8)
    model = SplitModel.load(folder)
    x = np.zeros((2, 120, 150), np.float32)
    x[:, 40:77, 50:100] = np.random.default_rng(2).random((2, 37, 50), dtype=np.float32)
    got = model.probabilities(x)
    box = with_context(x)[:, 16:101, 26:124]
    padded = np.pad(box, ((0, 0), (0, -box.shape[1] % 32), (0, -box.shape[2] % 32)))
    assert padded.shape[1:] == (96, 128)
    with torch.no_grad():
        want = torch.sigmoid(net(torch.from_numpy(padded[None])))[0].numpy()
    np.testing.assert_allclose(got[:, 16:101, 26:124], want[:, :85, :98], atol=1e-5)


def test_bad_model_folders_say_what_is_wrong(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="config.json"):
        SplitModel.load(tmp_path)
    _, folder = _exported(tmp_path)
    cfg = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(dict(cfg, model_type="vit")))
    with pytest.raises(ValueError, match="model_type is 'vit'"):
        SplitModel.load(folder)
    (folder / "config.json").write_text(json.dumps(dict(cfg, c2=cfg["c2"] + 1)))
    with pytest.raises(ValueError, match="enc2a.weight"):
        SplitModel.load(folder)
