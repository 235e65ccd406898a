"""Randomly initialised transformers TrOCR models of every microsoft/trocr-* layout,
written as model folders, for parity tests and benchmarks (needs torch + transformers)."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

# Small shapes keep the suite fast; each layout flips the switches that matter.
LAYOUTS = {
    # trocr-base-like: ViT, learned positions, gelu, tied output projection.
    "vit_learned_gelu_tied": dict(
        encoder=dict(model_type="vit", image_size=32, patch_size=8, hidden_size=32, qkv_bias=True),
        decoder=dict(activation_function="gelu", use_learned_position_embeddings=True,
                     layernorm_embedding=True, scale_embedding=False, tie_word_embeddings=True),
    ),
    # trocr-small-like: DeiT (cls + distillation token), relu, scaled embeddings, untied,
    # encoder wider than the decoder with cross_attention_hidden_size set.
    "deit_relu_scaled_untied": dict(
        encoder=dict(model_type="deit", image_size=32, patch_size=8, hidden_size=48),
        decoder=dict(activation_function="relu", use_learned_position_embeddings=True,
                     layernorm_embedding=True, scale_embedding=True, tie_word_embeddings=False,
                     cross_attention_hidden_size=48),
    ),
    # trocr-large-like: sinusoidal positions, no layernorm_embedding, no qkv bias.
    "vit_sinusoidal_no_ln": dict(
        encoder=dict(model_type="vit", image_size=32, patch_size=8, hidden_size=32, qkv_bias=False),
        decoder=dict(activation_function="gelu", use_learned_position_embeddings=False,
                     layernorm_embedding=False, scale_embedding=True, tie_word_embeddings=False),
    ),
    # A non-square strip with non-square patches, and an enc_to_dec projection; 64 wide,
    # so every encoder projection runs on the packed-weight micro-kernel (a multiple of
    # its tile width).
    "vit_nonsquare_proj": dict(
        encoder=dict(model_type="vit", image_size=[16, 64], patch_size=[16, 8], hidden_size=64),
        decoder=dict(activation_function="gelu", use_learned_position_embeddings=True,
                     layernorm_embedding=True, scale_embedding=False, tie_word_embeddings=False),
    ),
}

VOCAB = 60
D_MODEL = 32


def build_reference(layout: str, seed: int = 0):
    import torch
    from transformers import (
        DeiTConfig,
        DeiTModel,
        TrOCRConfig,
        TrOCRForCausalLM,
        VisionEncoderDecoderConfig,
        VisionEncoderDecoderModel,
        ViTConfig,
        ViTModel,
    )

    spec = LAYOUTS[layout]
    torch.manual_seed(seed)
    enc = dict(spec["encoder"])
    kind = enc.pop("model_type")
    enc_kwargs = dict(num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                      num_channels=3, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                      initializer_range=0.2, **enc)
    if kind == "deit":
        enc_cfg = DeiTConfig(**enc_kwargs)
        encoder = DeiTModel(enc_cfg, add_pooling_layer=False)
    else:
        enc_cfg = ViTConfig(**enc_kwargs)
        encoder = ViTModel(enc_cfg, add_pooling_layer=False)
    dec = dict(spec["decoder"])
    tie = dec.pop("tie_word_embeddings")
    dec_cfg = TrOCRConfig(vocab_size=VOCAB, d_model=D_MODEL, decoder_layers=2,
                          decoder_attention_heads=4, decoder_ffn_dim=64, max_position_embeddings=64,
                          dropout=0.0, attention_dropout=0.0, activation_dropout=0.0,
                          init_std=0.2, pad_token_id=1, bos_token_id=0, eos_token_id=2,
                          decoder_start_token_id=2, tie_word_embeddings=tie, **dec)
    decoder = TrOCRForCausalLM(dec_cfg)
    cfg = VisionEncoderDecoderConfig.from_encoder_decoder_configs(enc_cfg, dec_cfg)
    cfg.decoder_start_token_id = 2
    cfg.pad_token_id = 1
    cfg.eos_token_id = 2
    cfg.tie_word_embeddings = tie
    model = VisionEncoderDecoderModel(config=cfg, encoder=encoder, decoder=decoder)
    # LayerNorm weights start at 1/0 in transformers; randomise them so parity checks them.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.add_(torch.randn_like(p) * 0.1)
    model.eval()
    return model


def save_reference(model, folder: Path, fmt: str = "safetensors") -> Path:
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    if fmt == "bin":
        # A classic PyTorch checkpoint (zip + pickle) with the names checkpoints on the
        # Hub carry; transformers 5 renames modules in memory, so take them from the file.
        from safetensors.torch import load_file

        state = load_file(folder / "model.safetensors")
        (folder / "model.safetensors").unlink()
        torch.save(state, folder / "pytorch_model.bin")
    return folder
