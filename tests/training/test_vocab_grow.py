"""The recogniser's vocabulary grows without renumbering (training/vocab_grow.py)."""

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="torch (the 'train' extra) trains the model")

from training.cells import APPENDED_CHARS, char_tokenizer
from training.vocab_grow import EMBED, OUTPUT, grow_vocab

SHIPPED = Path(__file__).resolve().parents[2] / "resources/models/tablescribe-cells"
FIRST_VOCAB = 185  # the first shipped model's tokens: ids it was trained on


def test_appended_characters_take_new_ids_and_no_old_id_moves():
    vocab = char_tokenizer().get_vocab()
    shipped = json.loads((SHIPPED / "tokenizer.json").read_text())["model"]["vocab"]
    assert all(vocab[ch] == i for ch, i in shipped.items())
    first = {ch: i for ch, i in vocab.items() if i < FIRST_VOCAB}
    assert len(first) == FIRST_VOCAB
    assert [vocab[ch] for ch in APPENDED_CHARS] == list(range(FIRST_VOCAB, FIRST_VOCAB + len(APPENDED_CHARS)))


def test_grown_rows_are_appended_and_tied_copies_stay_equal():
    torch.manual_seed(0)
    w = torch.randn(FIRST_VOCAB, 16)
    grown = grow_vocab({EMBED: w, OUTPUT: w.clone(), "other": torch.ones(3)}, FIRST_VOCAB + 10)
    assert grown[EMBED].shape == (FIRST_VOCAB + 10, 16)
    torch.testing.assert_close(grown[EMBED][:FIRST_VOCAB], w)
    torch.testing.assert_close(grown[EMBED], grown[OUTPUT])
    new = grown[EMBED][FIRST_VOCAB:]
    assert torch.isfinite(new).all() and len({tuple(r.tolist()) for r in new}) == 10
    assert grow_vocab({EMBED: w}, FIRST_VOCAB)[EMBED] is w
    with pytest.raises(ValueError, match="larger than"):
        grow_vocab({EMBED: w}, FIRST_VOCAB - 1)


def test_a_run_starts_from_the_shipped_model_with_the_grown_vocabulary():
    pytest.importorskip("transformers", reason="transformers (the 'train' extra) builds the model")
    from safetensors.torch import load_file

    from training.train_recognizer import build_model, initial_state

    vocab = char_tokenizer().get_vocab_size()
    state = initial_state(str(SHIPPED), 48, vocab)
    model = build_model(vocab, state["shape"])
    model.load_state_dict(state["model"])  # every row and shape fits
    shipped = load_file(str(SHIPPED / "model.safetensors"))[EMBED].float()
    embed = model.state_dict()[EMBED]
    assert embed.shape[0] == vocab
    torch.testing.assert_close(embed[: shipped.shape[0]], shipped)
