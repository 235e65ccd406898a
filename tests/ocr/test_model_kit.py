"""ocr/model.py is built from engine.nn: the names are the file's, the fast inference
paths agree with the differentiable ones, and the same object trains."""

from __future__ import annotations

import numpy as np
import pytest

import engine
from engine.optim import AdamW
from ocr import DEFAULT_MODEL_DIR, TrOCRModel
from ocr.finetune import freeze
from ocr.weights import WeightFile


@pytest.fixture(scope="module")
def model():
    return TrOCRModel.from_pretrained(DEFAULT_MODEL_DIR)


def _inputs(model, batch=2, seed=0):
    rng = np.random.default_rng(seed)
    h, w = model.config.encoder.image_size
    pv = rng.standard_normal((batch, 3, h, w)).astype(np.float32)
    ids = rng.integers(3, model.config.decoder.vocab_size, size=(batch, 6))
    ids[:, 0] = model.config.decoder_start_token_id
    return pv, ids


def test_parameter_names_are_the_files_names(model):
    names = [n for n, _ in model.named_parameters()]
    assert set(names) <= WeightFile(DEFAULT_MODEL_DIR).names()
    assert "decoder.model.decoder.layers.2.self_attn.q_proj.weight" in names
    assert all(p.dtype is engine.f32 for p in model.parameters())  # f32 over the f16 file


def test_fast_paths_agree_with_the_trainable_forward(model):
    pv, ids = _inputs(model)
    fast = model.forward(pv, ids)  # eval mode: joined projections, layout caches
    model.train()
    try:
        with engine.enable_grad():
            slow = model.logits(pv, ids).numpy()  # separate Linears, autograd compositions
    finally:
        model.eval()
    assert np.abs(fast - slow).max() < 1e-4


def test_weights_changed_in_training_are_seen_by_inference():
    model = TrOCRModel.from_pretrained(DEFAULT_MODEL_DIR)
    pv, ids = _inputs(model)
    before = model.forward(pv, ids)  # fills the inference caches
    model.train()
    q = model.encoder.encoder.layer[3].attention.attention.query.weight
    with engine.no_grad():
        q[...] = q * 0.5
    expected = model.logits(pv, ids).numpy()
    model.eval()
    after = model.forward(pv, ids)
    assert np.abs(after - before).max() > 1e-3
    assert np.abs(after - expected).max() < 1e-4


def test_training_steps_lower_the_loss_and_leave_frozen_weights():
    import engine.functional as F

    model = TrOCRModel.from_pretrained(DEFAULT_MODEL_DIR)
    trainable = freeze(model, ["decoder.model.decoder.layers.2.*"])
    frozen = model.encoder.encoder.layer[0].output.dense.weight.numpy().copy()
    pv, ids = _inputs(model, seed=3)
    target = engine.tensor(np.roll(ids, -1, axis=1), dtype=engine.i64)
    opt = AdamW([p for _, p in trainable], lr=1e-3)
    model.train()
    losses = []
    for _ in range(4):
        opt.zero_grad()
        loss = F.cross_entropy(model.logits(pv, ids), target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    assert losses[-1] < losses[0]
    assert np.array_equal(model.encoder.encoder.layer[0].output.dense.weight.numpy(), frozen)
    assert model.encoder.encoder.layer[0].output.dense.weight.grad is None
