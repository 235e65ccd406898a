"""Modules, parameters, state dicts, VarBuilder errors and the optimizers."""

from __future__ import annotations

import numpy as np
import pytest

import engine
import engine.functional as F
from engine import nn
from engine.optim import SGD, AdamW


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.norm = nn.LayerNorm(3)
        self.drop = nn.Dropout(0.5)
        self.layers = nn.ModuleList([nn.Linear(3, 3, bias=False) for _ in range(2)])
        self.register_buffer("scale", engine.tensor([2.0]))

    def forward(self, x):
        h = self.drop(self.norm(self.fc(x)))
        for layer in self.layers:
            h = layer(h).relu()
        return h * self.scale


def test_parameters_are_found_by_dotted_name() -> None:
    m = Block()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["fc.weight", "fc.bias", "norm.weight", "norm.bias", "layers.0.weight",
                     "layers.1.weight"]
    assert all(p.requires_grad for p in m.parameters())
    assert isinstance(m.fc.weight, nn.Parameter) and m.fc.weight.shape == (3, 4)
    sd = m.state_dict()
    assert list(sd) == names[:4] + ["layers.0.weight", "layers.1.weight", "scale"] or \
        set(sd) == set(names) | {"scale"}
    assert len(m.layers) == 2 and m.layers[1] is list(m.layers)[1]


def test_train_eval_and_forward_shapes() -> None:
    m = Block()
    x = engine.randn(5, 4, seed=0)
    assert m.training and m.drop.training
    m.eval()
    assert not m.training and not m.layers[0].training
    a, b = m(x), m(x)
    np.testing.assert_array_equal(a.numpy(), b.numpy())  # dropout off in eval
    m.train()
    assert m.drop.training
    assert m(x).shape == (5, 3)


def test_state_dict_round_trip_and_errors() -> None:
    m1, m2 = Block(), Block()
    m2.load_state_dict(m1.state_dict())
    for (n1, p1), (n2, p2) in zip(m1.named_parameters(), m2.named_parameters()):
        np.testing.assert_array_equal(p1.numpy(), p2.numpy())
        assert not p1.shares_storage(p2)  # copied into m2's own parameters
    sd = m1.state_dict()
    sd["fc.weight"] = engine.zeros(3, 5)
    with pytest.raises(nn.ShapeMismatchError, match=r"fc\.weight: state has \(3, 5\), model "
                                                     r"expects \(3, 4\)"):
        m2.load_state_dict(sd)
    sd = m1.state_dict()
    del sd["norm.bias"]
    sd["extra"] = engine.zeros(1)
    with pytest.raises(KeyError, match="missing keys: norm.bias; unexpected keys: extra"):
        m2.load_state_dict(sd)
    missing, unexpected = m2.load_state_dict(sd, strict=False)
    assert missing == ["norm.bias"] and unexpected == ["extra"]


def test_layers_match_functional_definitions() -> None:
    emb = nn.Embedding(10, 4, padding_idx=0)
    assert emb.weight.numpy()[0].tolist() == [0, 0, 0, 0]
    ids = engine.tensor([[0, 3], [9, 3]])
    np.testing.assert_array_equal(emb(ids).numpy(), emb.weight.numpy()[ids.numpy()])
    conv = nn.Conv2d(2, 3, 3, stride=2, padding=1)
    x = engine.randn(1, 2, 7, 7, seed=0)
    np.testing.assert_array_equal(conv(x).numpy(),
                                  F.conv2d(x, conv.weight, conv.bias, 2, 1).numpy())
    assert conv(x).shape == (1, 3, 4, 4)
    lin = nn.Linear(6, 2)
    bound = 1 / np.sqrt(6)
    assert np.abs(lin.weight.numpy()).max() <= bound


def test_varbuilder_fetches_by_prefix_and_reports_problems() -> None:
    tensors = {"encoder.embeddings.position_embeddings": engine.zeros(1, 578, 384),
               "encoder.layer.0.weight": engine.ones(2, 2, dtype=engine.bf16)}
    vb = nn.VarBuilder(tensors, name="model.safetensors")
    emb = vb.pp("encoder").pp("embeddings")
    with pytest.raises(nn.ShapeMismatchError) as e:
        emb.get("position_embeddings", (1, 577, 384))
    assert str(e.value) == ("shape mismatch for encoder.embeddings.position_embeddings: file has "
                            "(1, 578, 384), model expects (1, 577, 384)")
    with pytest.raises(nn.MissingTensorError) as e:
        vb.pp("encoder").get("x.weight")
    assert str(e.value) == "missing tensor encoder.x.weight in model.safetensors"
    assert isinstance(e.value, KeyError)
    assert emb.get("position_embeddings", (1, 578, 384)).shape == (1, 578, 384)
    assert vb.pp("encoder.layer.0").contains("weight")
    assert vb.pp("encoder").keys() == ["embeddings.position_embeddings", "layer.0.weight"]
    w = nn.VarBuilder(tensors, dtype=engine.f32).get("encoder.layer.0.weight", 2 * (2,))
    assert w.dtype is engine.f32 and w.tolist() == [[1, 1], [1, 1]]


def test_varbuilder_over_a_lazy_safetensors_index(tmp_path) -> None:
    path = tmp_path / "model.safetensors"
    engine.save_safetensors({"decoder.embed.weight": engine.randn(5, 3, seed=0),
                             "decoder.norm.bias": engine.zeros(3, dtype=engine.bf16)}, path)
    vb = nn.VarBuilder(engine.safetensors_index(path))
    dec = vb.pp("decoder")
    assert dec.get("embed.weight", (5, 3)).shape == (5, 3)
    assert dec.get("norm.bias", 3).dtype is engine.bf16
    with pytest.raises(nn.ShapeMismatchError, match=r"decoder\.embed\.weight: file has \(5, 3\), "
                                                     r"model expects \(6, 3\)"):
        dec.get("embed.weight", (6, 3))
    with pytest.raises(nn.MissingTensorError, match="missing tensor decoder.lm_head.weight in "
                                                    ".*model.safetensors"):
        dec.get("lm_head.weight")


def test_sgd_with_momentum_matches_the_update_rule() -> None:
    p = nn.Parameter(engine.tensor([1.0, -2.0]))
    opt = SGD([p], lr=0.1, momentum=0.9, weight_decay=0.01)
    buf = np.zeros(2)
    ref = np.array([1.0, -2.0])
    for _ in range(3):
        opt.zero_grad()
        (p * p).sum().backward()
        g = 2 * ref + 0.01 * ref
        buf = 0.9 * buf + g
        ref = ref - 0.1 * buf
        opt.step()
    np.testing.assert_allclose(p.numpy(), ref, rtol=1e-6)


def test_adamw_matches_the_update_rule() -> None:
    p = nn.Parameter(engine.tensor([0.5, -1.5, 3.0]))
    opt = AdamW([p], lr=0.01, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1)
    ref = p.numpy().astype(np.float64).copy()
    m = np.zeros(3)
    v = np.zeros(3)
    for t in range(1, 5):
        opt.zero_grad()
        (p ** 3).sum().backward()
        g = 3 * ref ** 2
        ref = ref - 0.01 * 0.1 * ref
        m = 0.9 * m + 0.1 * g
        v = 0.99 * v + 0.01 * g * g
        ref = ref - 0.01 * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.99 ** t)) + 1e-8)
        opt.step()
    np.testing.assert_allclose(p.numpy(), ref, rtol=1e-5)
    with pytest.raises(ValueError, match="empty"):
        AdamW([])
