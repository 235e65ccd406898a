"""Grow a trained recogniser's vocabulary without renumbering it.

The characters added to the vocabulary (training.cells.APPENDED_CHARS) get ids after
every existing one; the model gets one new row per id in its token embedding, which
the TrOCR decoder also uses as its output projection (tied). A new row starts halfway
between the row of a character it looks like (² from 2, ≤ from <) and the mean of all
character rows: near a glyph the decoder already reads in that place, but not its
twin, so the two logits differ from the first step and training separates them.
"""

from __future__ import annotations

import torch

from training.cells import char_tokenizer

EMBED = "decoder.model.decoder.embed_tokens.weight"
OUTPUT = "decoder.output_projection.weight"  # present only when not tied
LOOKALIKE = {"²": "2", "³": "3", "÷": "+", "µ": "u", "≤": "<", "≥": ">", "½": "1", "¼": "1",
             "‰": "%", "©": "C"}


def grow_vocab(weights: dict, vocab_size: int, seed: int = 0) -> dict:
    """``weights`` (a state dict) with the token rows grown to ``vocab_size``."""
    old = weights[EMBED]
    if old.shape[0] > vocab_size:
        raise ValueError(f"the checkpoint's vocabulary ({old.shape[0]}) is larger than the "
                         f"tokenizer's ({vocab_size}): it was trained on another vocabulary")
    if old.shape[0] == vocab_size:
        return weights
    vocab = char_tokenizer().get_vocab()
    by_id = {i: ch for ch, i in vocab.items()}
    out = dict(weights)
    for key in (EMBED, OUTPUT):
        if key not in weights:
            continue
        gen = torch.Generator().manual_seed(seed)  # tied copies grow alike
        w = weights[key].float()
        mean = w[4:].mean(0)  # the characters, not the special tokens
        rows = []
        for i in range(w.shape[0], vocab_size):
            near = LOOKALIKE.get(by_id.get(i, ""))
            base = w[vocab[near]] if near in vocab and vocab[near] < w.shape[0] else mean
            noise = torch.randn(w.shape[1], generator=gen) * w[4:].std() * 0.05
            rows.append(0.5 * base + 0.5 * mean + noise)
        out[key] = torch.cat([w, torch.stack(rows)]).to(weights[key].dtype)
    return out
