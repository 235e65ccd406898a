"""TrOCR on the engine against transformers on PyTorch: same logits, same tokens."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="parity tests need the reference extra (torch)")
pytest.importorskip("transformers", reason="parity tests need the reference extra (transformers)")

from ocr import TrOCRModel, beam_search, greedy
from training.reference_models import LAYOUTS, VOCAB, build_reference, save_reference


def _inputs(model, batch: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    h, w = model.config.encoder.image_size
    pv = rng.standard_normal((batch, 3, h, w)).astype(np.float32)
    ids = rng.integers(3, VOCAB, size=(batch, 7))
    ids[:, 0] = 2  # decoder_start_token_id
    return pv, ids


@pytest.fixture(scope="module", params=sorted(LAYOUTS))
def pair(request, tmp_path_factory):
    ref = build_reference(request.param)
    folder = save_reference(ref, tmp_path_factory.mktemp(request.param))
    return request.param, ref, folder


def test_logits_match_transformers(pair):
    name, ref, folder = pair
    ours = TrOCRModel.from_pretrained(folder)
    pv, ids = _inputs(ours, batch=3)
    with torch.no_grad():
        expected = ref(pixel_values=torch.from_numpy(pv), decoder_input_ids=torch.from_numpy(ids)).logits.numpy()
    got = ours.forward(pv, ids)
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() < 1e-4, name


def test_encoder_sequence_includes_prefix_tokens(pair):
    _, ref, folder = pair
    ours = TrOCRModel.from_pretrained(folder)
    pv, _ = _inputs(ours, batch=1)
    states = ours.encode(pv)
    # DeiT keeps cls + distillation token: all num_patches + 2 positions reach cross-attention.
    assert states.shape[1] == ours.config.encoder.seq_len
    with torch.no_grad():
        enc = ref.encoder(pixel_values=torch.from_numpy(pv)).last_hidden_state
    assert states.shape[1] == enc.shape[1]


@pytest.mark.parametrize("beams", [1, 3])
def test_generation_matches_transformers(pair, beams):
    name, ref, folder = pair
    ours = TrOCRModel.from_pretrained(folder)
    pv, _ = _inputs(ours, batch=4, seed=5)
    new = 12
    with torch.no_grad():
        expected = ref.generate(pixel_values=torch.from_numpy(pv), max_new_tokens=new,
                                num_beams=beams, do_sample=False, early_stopping=False,
                                length_penalty=1.0).numpy()
    session = ours.session(ours.encode(pv))
    if beams == 1:
        got = greedy(session, 4, 2, 2, new)
    else:
        got = beam_search(session, 4, 2, 2, new, beams)
    for row, gen in zip(expected, got):
        ref_tokens = row[1:].tolist()
        if 2 in ref_tokens:  # up to and including EOS; the rest is padding
            ref_tokens = ref_tokens[: ref_tokens.index(2) + 1]
        assert gen.tokens == ref_tokens, (name, beams)


def test_pytorch_bin_checkpoint_loads_the_same(tmp_path):
    ref = build_reference("deit_relu_scaled_untied", seed=3)
    st = TrOCRModel.from_pretrained(save_reference(ref, tmp_path / "st"))
    pt = TrOCRModel.from_pretrained(save_reference(ref, tmp_path / "bin", fmt="bin"))
    pv, ids = _inputs(st, batch=2)
    np.testing.assert_array_equal(st.forward(pv, ids), pt.forward(pv, ids))


def test_training_gradients_match_transformers(pair):
    """One backward pass of the engine model (ocr.model under autograd) against
    PyTorch's on the same batch: every parameter's gradient agrees."""
    import engine
    import engine.functional as F
    from ocr.finetune import freeze

    name, ref, folder = pair
    ours = TrOCRModel.from_pretrained(folder)
    freeze(ours, ["*"])
    ours.train()
    pv, ids = _inputs(ours, batch=2, seed=9)
    labels = np.roll(ids, -1, axis=1)
    labels[:, -1] = -100
    loss = F.cross_entropy(ours.logits(pv, ids), engine.tensor(labels, dtype=engine.i64))
    loss.backward()
    ref.eval()
    ref.zero_grad()
    logits = ref(pixel_values=torch.from_numpy(pv), decoder_input_ids=torch.from_numpy(ids)).logits
    expected = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                                 torch.from_numpy(labels).reshape(-1))
    expected.backward()
    assert abs(loss.item() - expected.item()) < 1e-4
    # transformers may rename modules in memory: pair parameters by their random values
    # (those that are not unique, such as zero-initialised ones, are left out).
    seen: dict[bytes, list] = {}
    for p in ours.parameters():
        seen.setdefault(p.numpy().tobytes(), []).append(p)
    mine = {k: v[0] for k, v in seen.items() if len(v) == 1}
    checked = 0
    for tname, tp in ref.named_parameters():
        p = mine.get(tp.detach().numpy().astype(np.float32).tobytes())
        if p is None or tp.grad is None:
            continue
        g, want = p.grad.numpy(), tp.grad.numpy()
        assert np.abs(g - want).max() <= 1e-4 * max(1.0, float(np.abs(want).max())), (name, tname)
        checked += 1
    assert checked >= len(list(ours.parameters())) // 2  # every weight matrix, most vectors


def test_skip_connections_are_fused_into_the_projections(pair, monkeypatch):
    """In inference each encoder and decoder sublayer's output projection adds x itself
    (F.linear residual=): no separate add op per skip connection."""
    from engine.ops import registry

    _, _, folder = pair
    ours = TrOCRModel.from_pretrained(folder)
    pv, ids = _inputs(ours, batch=2)
    counts: dict[str, int] = {}
    run = registry.OpDef.run

    def counting(self, device, *args, **attrs):
        counts[self.name] = counts.get(self.name, 0) + 1
        return run(self, device, *args, **attrs)

    monkeypatch.setattr(registry.OpDef, "run", counting)
    ours.forward(pv, ids)
    # left: the position embeddings' adds (patches, prefix tokens, decoder tokens), none
    # of the 2 per encoder layer and 3 per decoder layer
    assert counts.get("add", 0) <= 3, counts
