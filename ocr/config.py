"""TrOCR model configuration, read from a Hugging Face VisionEncoderDecoder config.json.

Covers every microsoft/trocr-* layout: a ViT encoder (trocr-base/large) or a DeiT
encoder (trocr-small: cls + distillation token), and the TrOCR decoder with learned
or sinusoidal positions, optional layernorm_embedding and embedding scale, relu or
gelu, tied or untied output projection.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

from ocr.base_reading import BaseReading
from ocr.second_look import SecondLook


class ModelConfigError(ValueError):
    """A model folder's config.json is missing, malformed or of an unsupported layout."""


def _pair(value, name: str) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return int(value[0]), int(value[1])
    raise ModelConfigError(f"{name} must be an int or a pair of ints, got {value!r}")


@dataclass(frozen=True)
class EncoderConfig:
    kind: str  # "vit" or "deit"
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    image_size: tuple[int, int]  # (height, width)
    patch_size: tuple[int, int]
    num_channels: int
    qkv_bias: bool
    layer_norm_eps: float
    hidden_act: str

    @property
    def grid(self) -> tuple[int, int]:
        return self.image_size[0] // self.patch_size[0], self.image_size[1] // self.patch_size[1]

    @property
    def num_patches(self) -> int:
        gh, gw = self.grid
        return gh * gw

    @property
    def num_prefix_tokens(self) -> int:
        # DeiT prepends a distillation token after the cls token.
        return 2 if self.kind == "deit" else 1

    @property
    def seq_len(self) -> int:
        return self.num_patches + self.num_prefix_tokens


@dataclass(frozen=True)
class DecoderConfig:
    vocab_size: int
    d_model: int
    num_layers: int
    num_heads: int
    ffn_dim: int
    activation: str
    max_position_embeddings: int
    learned_positions: bool
    layernorm_embedding: bool
    scale_embedding: bool
    tie_word_embeddings: bool
    cross_attention_hidden_size: int | None
    pad_token_id: int
    layer_norm_eps: float = 1e-5


GENERATION_FILE = "generation_config.json"
_TOKEN_IDS = ("decoder_start_token_id", "eos_token_id", "bos_token_id", "pad_token_id")


@dataclass(frozen=True)
class GenerationConfig:
    """A model folder's generation_config.json, the file transformers' generate() reads:
    special token ids that override config.json's, and how to decode."""

    token_ids: tuple[tuple[str, int], ...] = ()  # (name, id) pairs the file sets
    max_new_tokens: int = 64
    length_penalty: float = 1.0
    early_stopping: bool | str = False
    second_look: SecondLook | None = None  # read unsure crops again (ocr.second_look)
    base_reading: BaseReading | None = None  # a tuned model's base reads first (ocr.base_reading)

    @classmethod
    def from_folder(cls, folder: str | Path) -> GenerationConfig:
        """The folder's generation settings; the defaults when it has no such file."""
        path = Path(folder) / GENERATION_FILE
        if not path.is_file():
            return cls()
        try:
            gen = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelConfigError(f"{path}: invalid JSON: {exc}") from None
        if not isinstance(gen, dict):
            raise ModelConfigError(f"{path}: expected a JSON object, got {type(gen).__name__}")
        if gen.get("max_new_tokens"):
            max_new_tokens = int(gen["max_new_tokens"])
        elif gen.get("max_length"):
            max_new_tokens = int(gen["max_length"]) - 1
        else:
            max_new_tokens = cls.max_new_tokens
        entry = gen.get("second_look")
        base = gen.get("base_reading")
        try:
            base_reading = (BaseReading.from_dict(base, f"{path}: base_reading")
                            if base is not None else None)
        except ValueError as exc:
            raise ModelConfigError(str(exc)) from None
        return cls(
            token_ids=tuple((k, int(gen[k])) for k in _TOKEN_IDS if isinstance(gen.get(k), int)),
            max_new_tokens=max_new_tokens,
            length_penalty=float(gen.get("length_penalty", 1.0)),
            early_stopping=gen.get("early_stopping", False),
            second_look=(SecondLook.from_dict(entry, f"{path}: second_look")
                         if entry is not None else None),
            base_reading=base_reading,
        )


@dataclass(frozen=True)
class TrOCRConfig:
    encoder: EncoderConfig
    decoder: DecoderConfig
    decoder_start_token_id: int
    bos_token_id: int
    eos_token_id: int
    pad_token_id: int
    generation: GenerationConfig = field(default_factory=GenerationConfig)

    @property
    def needs_enc_to_dec_proj(self) -> bool:
        # transformers adds enc_to_dec_proj only when the sizes differ and the decoder
        # does not project keys/values from the encoder size itself.
        return (
            self.encoder.hidden_size != self.decoder.d_model
            and self.decoder.cross_attention_hidden_size is None
        )

    @property
    def cross_kv_dim(self) -> int:
        if self.needs_enc_to_dec_proj:
            return self.decoder.d_model
        return self.decoder.cross_attention_hidden_size or self.encoder.hidden_size

    @classmethod
    def from_dict(cls, cfg: dict, source: str = "config.json") -> TrOCRConfig:
        try:
            enc = cfg["encoder"]
            dec = cfg["decoder"]
        except (KeyError, TypeError):
            raise ModelConfigError(
                f"{source}: not a VisionEncoderDecoder config (needs 'encoder' and 'decoder')"
            ) from None
        kind = enc.get("model_type")
        if kind not in ("vit", "deit"):
            raise ModelConfigError(f"{source}: unsupported encoder model_type {kind!r} (vit or deit)")
        if dec.get("model_type", "trocr") != "trocr":
            raise ModelConfigError(f"{source}: unsupported decoder model_type {dec.get('model_type')!r}")
        try:
            encoder = EncoderConfig(
                kind=kind,
                hidden_size=int(enc.get("hidden_size", 768)),
                num_layers=int(enc.get("num_hidden_layers", 12)),
                num_heads=int(enc.get("num_attention_heads", 12)),
                intermediate_size=int(enc.get("intermediate_size", 3072)),
                image_size=_pair(enc.get("image_size", 224), "encoder.image_size"),
                patch_size=_pair(enc.get("patch_size", 16), "encoder.patch_size"),
                num_channels=int(enc.get("num_channels", 3)),
                qkv_bias=bool(enc.get("qkv_bias", True)),
                layer_norm_eps=float(enc.get("layer_norm_eps", 1e-12)),
                hidden_act=str(enc.get("hidden_act", "gelu")),
            )
            d_model = int(dec.get("d_model", dec.get("hidden_size", 1024)))
            tie = dec.get("tie_word_embeddings", cfg.get("tie_word_embeddings", True))
            pad = int(dec.get("pad_token_id", cfg.get("pad_token_id", 1)) or 0)
            decoder = DecoderConfig(
                vocab_size=int(dec.get("vocab_size", 50265)),
                d_model=d_model,
                num_layers=int(dec.get("decoder_layers", 12)),
                num_heads=int(dec.get("decoder_attention_heads", 16)),
                ffn_dim=int(dec.get("decoder_ffn_dim", 4096)),
                activation=str(dec.get("activation_function", "gelu")),
                max_position_embeddings=int(dec.get("max_position_embeddings", 512)),
                learned_positions=bool(dec.get("use_learned_position_embeddings", True)),
                layernorm_embedding=bool(dec.get("layernorm_embedding", True)),
                scale_embedding=bool(dec.get("scale_embedding", False)),
                tie_word_embeddings=bool(tie),
                cross_attention_hidden_size=(
                    int(dec["cross_attention_hidden_size"])
                    if dec.get("cross_attention_hidden_size") is not None else None
                ),
                pad_token_id=pad,
            )
        except (TypeError, ValueError) as exc:
            if isinstance(exc, ModelConfigError):
                raise
            raise ModelConfigError(f"{source}: malformed value: {exc}") from None
        if encoder.hidden_size % encoder.num_heads or decoder.d_model % decoder.num_heads:
            raise ModelConfigError(f"{source}: hidden size is not a multiple of the head count")
        for axis in (0, 1):
            if encoder.image_size[axis] % encoder.patch_size[axis]:
                raise ModelConfigError(
                    f"{source}: image_size {encoder.image_size} is not a multiple of "
                    f"patch_size {encoder.patch_size}"
                )

        def tok(name: str, default: int) -> int:
            for where in (cfg, dec):
                if where.get(name) is not None:
                    return int(where[name])
            return default

        eos = tok("eos_token_id", 2)
        return cls(
            encoder=encoder,
            decoder=decoder,
            decoder_start_token_id=tok("decoder_start_token_id", eos),
            bos_token_id=tok("bos_token_id", 0),
            eos_token_id=eos,
            pad_token_id=tok("pad_token_id", 1),
        )

    @classmethod
    def from_folder(cls, folder: str | Path) -> TrOCRConfig:
        path = Path(folder) / "config.json"
        if not path.is_file():
            raise ModelConfigError(f"{folder}: no config.json (not a model folder)")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelConfigError(f"{path}: invalid JSON: {exc}") from None
        cfg = cls.from_dict(data, str(path))
        generation = GenerationConfig.from_folder(folder)
        return replace(cfg, **dict(generation.token_ids), generation=generation)
