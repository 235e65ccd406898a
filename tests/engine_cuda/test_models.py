"""Whole models on CUDA: nn layers moved with .to("cuda"), a few optimizer steps, and the
TrOCR model of ocr/ built on device="cuda" — each against the same code on the CPU."""

from __future__ import annotations

import numpy as np
import pytest

import engine
import engine.functional as F
from engine import nn
from engine.optim import SGD, AdamW

from .parity import CPU, CUDA


class TinyNet(nn.Module):
    """Patch conv -> embedding-like lookup -> layer norm -> attention -> linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 8, 2, stride=2)
        self.emb = nn.Embedding(5, 8)
        self.norm = nn.LayerNorm(8)
        self.qkv = nn.Linear(8, 24, bias=False)  # (a key bias gets a zero gradient)
        self.head = nn.Linear(8, 3)

    def forward(self, img, ids):
        x = self.conv(img).flatten(2).transpose(1, 2)           # (B, 4, 8)
        x = self.norm(x + self.emb(ids))
        q, k, v = (t.reshape(x.shape[0], 4, 2, 4).transpose(1, 2) for t in self.qkv(x).chunk(3, -1))
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        h = F.gelu(a.transpose(1, 2).reshape(x.shape[0], 4, 8)) + x
        return self.head(h.mean(1))


def _train(device, opt_cls, steps: int = 3, **opt_kwargs):
    engine.manual_seed(0)
    net = TinyNet().to(device)
    rng = np.random.default_rng(1)
    img = engine.tensor(rng.standard_normal((3, 2, 4, 4)), device=device)
    ids = engine.tensor(rng.integers(0, 5, (3, 4)), device=device)
    target = engine.tensor(rng.integers(0, 3, 3), device=device)
    opt = opt_cls(net.parameters(), **opt_kwargs)
    losses = []
    for _ in range(steps):
        loss = F.cross_entropy(net(img, ids), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, {k: v.numpy() for k, v in net.state_dict().items()}


@pytest.mark.parametrize("opt_cls, kwargs", [(AdamW, {"lr": 0.05, "weight_decay": 0.01}),
                                             (SGD, {"lr": 0.1, "momentum": 0.9})],
                         ids=["adamw", "sgd"])
def test_training_steps_match_the_cpu(opt_cls, kwargs) -> None:
    cpu_losses, cpu_state = _train(CPU, opt_cls, **kwargs)
    cuda_losses, cuda_state = _train(CUDA, opt_cls, **kwargs)
    np.testing.assert_allclose(cuda_losses, cpu_losses, rtol=1e-4)
    assert cpu_losses[-1] < cpu_losses[0]
    for name, value in cpu_state.items():
        np.testing.assert_allclose(cuda_state[name], value, rtol=1e-3, atol=1e-4, err_msg=name)


def test_module_to_cuda_moves_every_parameter() -> None:
    net = TinyNet().to("cuda")
    assert all(p.device is CUDA and p.requires_grad for p in net.parameters())
    with engine.no_grad():
        net.eval()
        out = net(engine.ones(1, 2, 4, 4, device="cuda"), engine.tensor([[0, 1, 2, 3]], device="cuda"))
    assert out.device is CUDA and out.shape == (1, 3)


# Smaller than the parity layouts of tests/ocr (the simulator is slow): a 16x16 image in
# four patches, an encoder narrower than the decoder (so enc_to_dec_proj is used), GELU.
TINY_LAYOUT = {
    "encoder": {"model_type": "vit", "image_size": 16, "patch_size": 8, "hidden_size": 16,
                "qkv_bias": True},
    "decoder": {"activation_function": "gelu", "use_learned_position_embeddings": True,
                "layernorm_embedding": True, "scale_embedding": True,
                "tie_word_embeddings": False},
}


def test_trocr_runs_on_cuda_unchanged(tmp_path, monkeypatch) -> None:
    pytest.importorskip("torch", reason="building a TrOCR model folder needs the reference "
                                        "extra (torch)")
    pytest.importorskip("transformers", reason="building a TrOCR model folder needs the "
                                               "reference extra (transformers)")
    from ocr import TrOCRModel, greedy
    from training import reference_models

    monkeypatch.setitem(reference_models.LAYOUTS, "tiny_vit_proj", TINY_LAYOUT)
    folder = reference_models.save_reference(reference_models.build_reference("tiny_vit_proj"),
                                             tmp_path / "model")
    cpu = TrOCRModel.from_pretrained(folder, device="cpu")
    gpu = TrOCRModel.from_pretrained(folder, device="cuda")
    assert gpu.encoder.embeddings.position_embeddings.device is CUDA
    assert gpu.config.needs_enc_to_dec_proj and gpu.enc_to_dec_proj.weight.device is CUDA
    rng = np.random.default_rng(0)
    pv = rng.standard_normal((2, 3, 16, 16)).astype(np.float32)
    ids = np.array([[2, 5, 9, 4], [2, 7, 7, 3]])
    np.testing.assert_allclose(gpu.forward(pv, ids), cpu.forward(pv, ids), rtol=1e-4, atol=1e-4)
    cfg = cpu.config
    outs = []
    for model in (cpu, gpu):
        session = model.session(model.encode(pv))
        outs.append(greedy(session, 2, cfg.decoder_start_token_id, cfg.eos_token_id, 3))
    assert [g.tokens for g in outs[1]] == [g.tokens for g in outs[0]]
    np.testing.assert_allclose([g.score for g in outs[1]], [g.score for g in outs[0]], rtol=1e-4)
