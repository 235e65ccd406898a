"""Character-level tokenizer.json for the embedded cell model, built with `tokenizers`.

Ids 0-3 follow the RoBERTa convention TrOCR checkpoints use (<s>, <pad>, </s>, <unk>),
so the generation code treats our model and microsoft's alike. The characters of
``charset`` follow in sorted order; ``appended`` characters come after them in the
order given, so a vocabulary can grow without renumbering the ids a model was trained on.
"""

from __future__ import annotations

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors

SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]
BOS_ID, PAD_ID, EOS_ID, UNK_ID = 0, 1, 2, 3


def char_vocab(charset: str, appended: str = "") -> dict[str, int]:
    vocab = {tok: i for i, tok in enumerate(SPECIALS)}
    for ch in [*sorted(set(charset)), *appended]:
        if ch not in vocab:
            vocab[ch] = len(vocab)
    return vocab


def build_char_tokenizer(charset: str, appended: str = "") -> Tokenizer:
    tok = Tokenizer(models.WordLevel(vocab=char_vocab(charset, appended), unk_token="<unk>"))
    # Every character is its own token, spaces included.
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tok.decoder = decoders.Fuse()
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", BOS_ID), ("</s>", EOS_ID)]
    )
    tok.add_special_tokens(SPECIALS)
    return tok
