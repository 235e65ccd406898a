"""training.tables.export_structure: a checkpoint becomes a model folder the engine reads,
with a config.json any JSON reader takes."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch", reason="the exporter reads PyTorch checkpoints")

from table.split_model import SplitModel
from training.tables import export_structure
from training.tables.split_net import SplitNet


def _strict(text: str) -> dict:
    def refuse(name: str):
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("val", [None, 0.25])
def test_the_config_is_strict_json_with_or_without_a_validation_loss(tmp_path, val) -> None:
    torch.manual_seed(0)
    net = SplitNet()
    ck = {"model": net.state_dict(), "config": net.cfg, "step": 7}
    if val is not None:
        ck["val"] = val
    torch.save(ck, tmp_path / "ck.pt")
    out = tmp_path / "model"
    assert export_structure.main([str(tmp_path / "ck.pt"), str(out), "--split-t", "0.55"]) in (0, None)
    cfg = _strict((out / "config.json").read_text())
    assert cfg["validation_loss"] == val and cfg["trained_steps"] == 7 and cfg["split_t"] == 0.55
    SplitModel.load(out)  # the engine reads it
