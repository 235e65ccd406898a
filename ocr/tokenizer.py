"""Text tokenizer of a model folder, loaded with the `tokenizers` package.

A folder has either a `tokenizer.json` (our embedded model, trocr-small) or RoBERTa's
byte-level BPE files `vocab.json` + `merges.txt` (trocr-base/large).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers


class TokenizerError(ValueError):
    """The model folder has no usable tokenizer."""


class TextTokenizer:
    def __init__(self, tokenizer: Tokenizer, special_ids: Iterable[int]):
        self._tok = tokenizer
        self.special_ids = frozenset(int(i) for i in special_ids)

    @classmethod
    def from_folder(cls, folder: str | Path, special_ids: Iterable[int] = ()) -> TextTokenizer:
        folder = Path(folder)
        tok_json = folder / "tokenizer.json"
        vocab, merges = folder / "vocab.json", folder / "merges.txt"
        try:
            if tok_json.is_file():
                tok = Tokenizer.from_file(str(tok_json))
            elif vocab.is_file() and merges.is_file():
                tok = Tokenizer(models.BPE.from_file(str(vocab), str(merges)))
                tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
                tok.decoder = decoders.ByteLevel()
            else:
                raise TokenizerError(
                    f"{folder}: no tokenizer (needs tokenizer.json, or vocab.json + merges.txt)"
                )
        except TokenizerError:
            raise
        except Exception as exc:  # noqa: BLE001 (tokenizers raises plain Exception subclasses)
            raise TokenizerError(f"{folder}: cannot read the tokenizer: {exc}") from None
        specials = set(special_ids)
        # Added special tokens (<s>, </s>, <pad>, ...) are never part of recognised text.
        cfg_path = folder / "tokenizer.json"
        if cfg_path.is_file():
            try:
                data = json.loads(cfg_path.read_text(encoding="utf-8"))
                specials.update(t["id"] for t in data.get("added_tokens", []) if t.get("special"))
            except (ValueError, KeyError, TypeError):
                pass
        return cls(tok, specials)

    @property
    def vocab_size(self) -> int:
        return self._tok.get_vocab_size()

    def encode(self, text: str) -> list[int]:
        """Token ids of `text`, without special tokens."""
        return list(self._tok.encode(text, add_special_tokens=False).ids)

    def decode(self, ids: Iterable[int]) -> str:
        kept = [int(i) for i in ids if int(i) not in self.special_ids]
        return self._tok.decode(kept, skip_special_tokens=True)
