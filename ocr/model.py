"""TrOCR (VisionEncoderDecoder: ViT/DeiT encoder + TrOCR decoder) on the engine.

Reads like transformers' modeling_vit.py / modeling_deit.py / modeling_trocr.py, with
the parameter names those files write, but each block is a few engine calls:
pre-norm ViT layers in the encoder, post-norm layers in the decoder, a KV cache for
generation (self-attention keys/values grow by one step; cross-attention keys/values
are projected once per image).

Two speed choices keep the maths identical to the reference:
- the query/key/value projections of a self-attention block are fused into one GEMM;
- the ViT patch embedding (a conv with stride == kernel) is a reshape plus one GEMM.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import engine
import engine.functional as F
from engine.device import as_device
from ocr.config import DecoderConfig, EncoderConfig, TrOCRConfig
from ocr.weights import WeightFile


def _t(array: np.ndarray, device) -> engine.Tensor:
    return engine.tensor(np.ascontiguousarray(array, dtype=np.float32), dtype=engine.f32,
                         device=device)


def _weight(array: np.ndarray, device, many_rows: bool) -> engine.Tensor:
    """A projection weight (out, in). For layers that always see many rows (the
    encoder's) the CPU copy is stored as the transpose of a contiguous (in, out)
    array: x @ w.T then hands BLAS a row-major operand, ~5% faster. Decoding layers
    keep (out, in) rows, which the few-row kernel streams."""
    if not many_rows or as_device(device).type != "cpu":
        return _t(array, device)
    return _t(np.asarray(array).T, device).T


class Linear:
    def __init__(self, weights: WeightFile, name: str, in_dim: int, out_dim: int, device,
                 bias: bool = True, many_rows: bool = False):
        self.weight = _weight(weights.get(f"{name}.weight", (out_dim, in_dim)), device, many_rows)
        self.bias = _t(weights.get(f"{name}.bias", (out_dim,)), device) if bias else None

    def __call__(self, x):
        return F.linear(x, self.weight, self.bias)


class FusedLinear:
    """Several projections of the same input as one GEMM; outputs split along the last dim."""

    def __init__(self, weights: WeightFile, names: list[str], in_dim: int, out_dim: int, device,
                 bias: bool = True, many_rows: bool = False):
        ws = [weights.get(f"{n}.weight", (out_dim, in_dim)) for n in names]
        self.weight = _weight(np.concatenate(ws, axis=0), device, many_rows)
        self.bias = None
        if bias:
            bs = [weights.get(f"{n}.bias", (out_dim,)) for n in names]
            self.bias = _t(np.concatenate(bs), device)
        self.out_dim = out_dim
        self.parts = len(names)

    def __call__(self, x):
        y = F.linear(x, self.weight, self.bias)
        return [y.narrow(-1, i * self.out_dim, self.out_dim) for i in range(self.parts)]


class LayerNorm:
    def __init__(self, weights: WeightFile, name: str, dim: int, eps: float, device):
        self.weight = _t(weights.get(f"{name}.weight", (dim,)), device)
        self.bias = _t(weights.get(f"{name}.bias", (dim,)), device)
        self.dim, self.eps = dim, eps

    def __call__(self, x):
        return F.layer_norm(x, (self.dim,), self.weight, self.bias, self.eps)


def _split_heads(x, heads: int):
    """(B, T, H*D) -> (B, H, T, D)."""
    b, t, hd = x.shape
    return x.reshape(b, t, heads, hd // heads).permute(0, 2, 1, 3)


def _merge_heads(x):
    """(B, H, T, D) -> (B, T, H*D)."""
    b, h, t, d = x.shape
    return x.permute(0, 2, 1, 3).reshape(b, t, h * d)


def _activation(name: str):
    if name in ("gelu", "gelu_python"):
        return lambda x: F.gelu(x)
    if name in ("gelu_new", "gelu_pytorch_tanh", "gelu_fast"):
        return lambda x: F.gelu(x, approximate="tanh")
    if name == "relu":
        return F.relu
    raise ValueError(f"unsupported activation function {name!r}")


# --------------------------------------------------------------------------- encoder


class ViTLayer:
    def __init__(self, w: WeightFile, prefix: str, cfg: EncoderConfig, device):
        d = cfg.hidden_size
        self.heads = cfg.num_heads
        self.ln_before = LayerNorm(w, f"{prefix}.layernorm_before", d, cfg.layer_norm_eps, device)
        self.qkv = FusedLinear(w, [f"{prefix}.attention.attention.{n}" for n in ("query", "key", "value")],
                               d, d, device, bias=cfg.qkv_bias, many_rows=True)
        self.attn_out = Linear(w, f"{prefix}.attention.output.dense", d, d, device, many_rows=True)
        self.ln_after = LayerNorm(w, f"{prefix}.layernorm_after", d, cfg.layer_norm_eps, device)
        self.fc1 = Linear(w, f"{prefix}.intermediate.dense", d, cfg.intermediate_size, device,
                          many_rows=True)
        self.fc2 = Linear(w, f"{prefix}.output.dense", cfg.intermediate_size, d, device,
                          many_rows=True)
        self.act = cfg.hidden_act

    def __call__(self, x):
        q, k, v = (_split_heads(p, self.heads) for p in self.qkv(self.ln_before(x)))
        x = x + self.attn_out(_merge_heads(F.scaled_dot_product_attention(q, k, v)))
        h = self.ln_after(x)
        if self.act in ("gelu", "gelu_python"):
            h = F.linear_gelu(h, self.fc1.weight, self.fc1.bias)
        else:
            h = _activation(self.act)(self.fc1(h))
        return x + self.fc2(h)


class ViTEncoder:
    """ViT (cls token) or DeiT (cls + distillation token) encoder, as in transformers."""

    def __init__(self, w: WeightFile, cfg: EncoderConfig, device, prefix: str = "encoder"):
        self.cfg = cfg
        d = cfg.hidden_size
        ph, pw = cfg.patch_size
        e = f"{prefix}.embeddings"
        conv = w.get(f"{e}.patch_embeddings.projection.weight", (d, cfg.num_channels, ph, pw))
        self.patch_weight = _t(conv.reshape(d, -1), device)
        self.patch_bias = _t(w.get(f"{e}.patch_embeddings.projection.bias", (d,)), device)
        prefix_tokens = [w.get(f"{e}.cls_token", (1, 1, d))]
        if cfg.kind == "deit":
            prefix_tokens.append(w.get(f"{e}.distillation_token", (1, 1, d)))
        pos = w.get(f"{e}.position_embeddings", (1, cfg.seq_len, d))
        # Prefix tokens plus their position embeddings are the same for every image.
        self.prefix = _t(np.concatenate(prefix_tokens, axis=1) + pos[:, : cfg.num_prefix_tokens], device)
        self.patch_pos = _t(pos[:, cfg.num_prefix_tokens :], device)
        self.layers = [ViTLayer(w, f"{prefix}.encoder.layer.{i}", cfg, device)
                       for i in range(cfg.num_layers)]
        self.final_ln = LayerNorm(w, f"{prefix}.layernorm", d, cfg.layer_norm_eps, device)

    def patchify(self, pixel_values):
        """(B, C, H, W) -> (B, num_patches, C*ph*pw) in the conv's (c, kh, kw) order."""
        b, c, h, w = pixel_values.shape
        ph, pw = self.cfg.patch_size
        gh, gw = h // ph, w // pw
        x = pixel_values.reshape(b, c, gh, ph, gw, pw).permute(0, 2, 4, 1, 3, 5)
        return x.reshape(b, gh * gw, c * ph * pw)

    def __call__(self, pixel_values):
        b, c, h, w = pixel_values.shape
        if (h, w) != tuple(self.cfg.image_size) or c != self.cfg.num_channels:
            raise ValueError(
                f"pixel_values of shape {tuple(pixel_values.shape)} do not fit the encoder "
                f"({self.cfg.num_channels}, {self.cfg.image_size[0]}, {self.cfg.image_size[1]})"
            )
        x = F.linear(self.patchify(pixel_values), self.patch_weight, self.patch_bias) + self.patch_pos
        x = engine.cat([self.prefix.broadcast_to((b,) + tuple(self.prefix.shape[1:])), x], dim=1)
        for layer in self.layers:
            x = layer(x)
        return self.final_ln(x)


# --------------------------------------------------------------------------- decoder


@dataclass
class LayerCache:
    self_k: object = None  # (N, H, T, D), grows by one step per generated token
    self_v: object = None
    cross_k: object = None  # (N, H, S, D), projected once from the encoder states
    cross_v: object = None


class TrOCRAttention:
    def __init__(self, w: WeightFile, prefix: str, d: int, kv_dim: int, heads: int, device,
                 cross: bool):
        self.heads = heads
        self.scale = (d // heads) ** -0.5
        self.q = Linear(w, f"{prefix}.q_proj", d, d, device)
        if cross:
            self.kv = FusedLinear(w, [f"{prefix}.k_proj", f"{prefix}.v_proj"], kv_dim, d, device)
        else:
            self.qkv = FusedLinear(w, [f"{prefix}.q_proj", f"{prefix}.k_proj", f"{prefix}.v_proj"],
                                   d, d, device)
        self.out = Linear(w, f"{prefix}.out_proj", d, d, device)

    def project_kv(self, states):
        k, v = self.kv(states)
        return _split_heads(k, self.heads), _split_heads(v, self.heads)

    def self_attention(self, x, cache: LayerCache | None, causal: bool):
        q, k, v = (_split_heads(p, self.heads) for p in self.qkv(x))
        if cache is not None:
            if cache.self_k is not None:
                k = engine.cat([cache.self_k, k], dim=2)
                v = engine.cat([cache.self_v, v], dim=2)
            cache.self_k, cache.self_v = k, v
        # With a cache, the new query may see every cached position: no mask needed
        # when one token is decoded at a time.
        is_causal = causal and q.shape[2] > 1
        out = F.scaled_dot_product_attention(q, k, v, is_causal=is_causal, scale=self.scale)
        return self.out(_merge_heads(out))

    def cross_attention(self, x, k, v):
        q = _split_heads(self.q(x), self.heads)
        out = F.scaled_dot_product_attention(q, k, v, scale=self.scale)
        return self.out(_merge_heads(out))


class TrOCRDecoderLayer:
    def __init__(self, w: WeightFile, prefix: str, cfg: DecoderConfig, kv_dim: int, device):
        d = cfg.d_model
        self.self_attn = TrOCRAttention(w, f"{prefix}.self_attn", d, d, cfg.num_heads, device, cross=False)
        self.self_ln = LayerNorm(w, f"{prefix}.self_attn_layer_norm", d, cfg.layer_norm_eps, device)
        self.cross_attn = TrOCRAttention(w, f"{prefix}.encoder_attn", d, kv_dim, cfg.num_heads, device,
                                         cross=True)
        self.cross_ln = LayerNorm(w, f"{prefix}.encoder_attn_layer_norm", d, cfg.layer_norm_eps, device)
        self.fc1 = Linear(w, f"{prefix}.fc1", d, cfg.ffn_dim, device)
        self.fc2 = Linear(w, f"{prefix}.fc2", cfg.ffn_dim, d, device)
        self.final_ln = LayerNorm(w, f"{prefix}.final_layer_norm", d, cfg.layer_norm_eps, device)
        self.activation = cfg.activation

    def __call__(self, x, cache: LayerCache, causal: bool):
        x = self.self_ln(x + self.self_attn.self_attention(x, cache, causal))
        x = self.cross_ln(x + self.cross_attn.cross_attention(x, cache.cross_k, cache.cross_v))
        if self.activation in ("gelu", "gelu_python"):
            h = F.linear_gelu(x, self.fc1.weight, self.fc1.bias)
        else:
            h = _activation(self.activation)(self.fc1(x))
        return self.final_ln(x + self.fc2(h))


def sinusoidal_table(num_positions: int, dim: int, padding_idx: int | None) -> np.ndarray:
    """fairseq/tensor2tensor sinusoidal positions, as TrOCR builds them (float32 maths)."""
    half = dim // 2
    step = math.log(10000) / (half - 1)
    freqs = np.exp(np.arange(half, dtype=np.float32) * np.float32(-step)).astype(np.float32)
    angles = np.arange(num_positions, dtype=np.float32)[:, None] * freqs[None, :]
    table = np.concatenate([np.sin(angles), np.cos(angles)], axis=1).astype(np.float32)
    if dim % 2 == 1:
        table = np.concatenate([table, np.zeros((num_positions, 1), np.float32)], axis=1)
    if padding_idx is not None:
        table[padding_idx] = 0
    return table


class TrOCRDecoder:
    def __init__(self, w: WeightFile, cfg: TrOCRConfig, device, prefix: str = "decoder"):
        dc = cfg.decoder
        self.cfg = dc
        self.device = device
        d = dc.d_model
        base = f"{prefix}.model.decoder"
        self.embed_tokens_np = w.get(f"{base}.embed_tokens.weight", (dc.vocab_size, d))
        self.embed_scale = math.sqrt(d) if dc.scale_embedding else 1.0
        self.embed_tokens = _t(self.embed_tokens_np * np.float32(self.embed_scale), device)
        if dc.learned_positions:
            self.positions = w.get(f"{base}.embed_positions.weight", (dc.max_position_embeddings + 2, d))
            self.position_offset = 2
        else:
            self.positions = sinusoidal_table(dc.max_position_embeddings + dc.pad_token_id + 1, d,
                                              dc.pad_token_id)
            self.position_offset = dc.pad_token_id + 1
        self.ln_embedding = (LayerNorm(w, f"{base}.layernorm_embedding", d, dc.layer_norm_eps, device)
                             if dc.layernorm_embedding else None)
        self.layers = [TrOCRDecoderLayer(w, f"{base}.layers.{i}", dc, cfg.cross_kv_dim, device)
                       for i in range(dc.num_layers)]
        out_name = f"{prefix}.output_projection.weight"
        if out_name in w:
            self.output = _t(w.get(out_name, (dc.vocab_size, d)), device)
        elif dc.tie_word_embeddings:
            self.output = _t(self.embed_tokens_np, device)
        else:
            w.get(out_name, (dc.vocab_size, d))  # raises the "missing tensor" error

    def _position_rows(self, ids: np.ndarray, past: int) -> np.ndarray:
        n, t = ids.shape
        if self.cfg.learned_positions:
            pos = np.broadcast_to(np.arange(past, past + t) + self.position_offset, (n, t))
        else:
            # Sinusoidal positions skip padding tokens, as fairseq's make_positions does.
            mask = ids != self.cfg.pad_token_id
            pos = (np.cumsum(mask, axis=1) + past) * mask + self.cfg.pad_token_id
        if pos.max() >= len(self.positions):
            if self.cfg.learned_positions:
                raise ValueError(f"sequence longer than the decoder's {len(self.positions)} positions")
            # Sinusoidal positions extend to any length (transformers rebuilds its table too).
            self.positions = sinusoidal_table(int(pos.max()) + 1, self.cfg.d_model, self.cfg.pad_token_id)
        return self.positions[pos]

    def start(self, encoder_states) -> list[LayerCache]:
        """A fresh cache: cross-attention keys/values are projected here, once."""
        caches = []
        for layer in self.layers:
            k, v = layer.cross_attn.project_kv(encoder_states)
            caches.append(LayerCache(cross_k=k, cross_v=v))
        return caches

    def __call__(self, ids: np.ndarray, caches: list[LayerCache], past: int):
        ids = np.asarray(ids, dtype=np.int64)
        x = F.embedding(engine.tensor(ids, dtype=engine.i64, device=self.device), self.embed_tokens)
        x = x + _t(self._position_rows(ids, past), self.device)
        if self.ln_embedding is not None:
            x = self.ln_embedding(x)
        for layer, cache in zip(self.layers, caches):
            x = layer(x, cache, causal=True)
        return F.linear(x, self.output)


# ----------------------------------------------------------------------------- model


class TrOCRModel:
    """A VisionEncoderDecoder TrOCR loaded from a Hugging Face model folder."""

    def __init__(self, config: TrOCRConfig, weights: WeightFile, device="cpu", folder: Path | None = None):
        self.config = config
        self.device = engine.Device.parse(device) if isinstance(device, str) else device
        self.folder = folder
        self.encoder = ViTEncoder(weights, config.encoder, self.device)
        self.enc_to_dec = (Linear(weights, "enc_to_dec_proj", config.encoder.hidden_size,
                                  config.decoder.d_model, self.device)
                           if config.needs_enc_to_dec_proj else None)
        self.decoder = TrOCRDecoder(weights, config, self.device)

    @classmethod
    def from_pretrained(cls, path: str | Path, device="cpu") -> TrOCRModel:
        folder = Path(path)
        if not folder.is_dir():
            from ocr.hub import resolve_model  # a hub id already in the local cache
            folder = resolve_model(str(path))
        config = TrOCRConfig.from_folder(folder)
        return cls(config, WeightFile(folder), device=device, folder=folder)

    def encode(self, pixel_values):
        """Encoder states for the decoder's cross-attention, (B, S, d)."""
        with engine.no_grad():
            pv = pixel_values if isinstance(pixel_values, engine.Tensor) else \
                engine.tensor(np.asarray(pixel_values, dtype=np.float32), device=self.device)
            states = self.encoder(pv)
            if self.enc_to_dec is not None:
                states = self.enc_to_dec(states)
            return states

    def forward(self, pixel_values, decoder_input_ids) -> np.ndarray:
        """Logits (B, T, V) for teacher-forced decoder input ids, as numpy."""
        with engine.no_grad():
            states = self.encode(pixel_values)
            caches = self.decoder.start(states)
            logits = self.decoder(np.asarray(decoder_input_ids), caches, past=0)
            return logits.numpy()

    __call__ = forward

    def session(self, encoder_states) -> DecoderSession:
        return DecoderSession(self, encoder_states)


class DecoderSession:
    """KV-cached incremental decoding for ocr.generation (step / select)."""

    def __init__(self, model: TrOCRModel, encoder_states):
        self.model = model
        self.caches = model.decoder.start(encoder_states)
        self.past = 0

    def step(self, last_tokens: np.ndarray) -> np.ndarray:
        with engine.no_grad():
            logits = self.model.decoder(np.asarray(last_tokens, dtype=np.int64)[:, None],
                                        self.caches, self.past)
            self.past += 1
            return logits.numpy()[:, -1, :]

    def select(self, rows: np.ndarray) -> None:
        idx = engine.tensor(np.asarray(rows, dtype=np.int64), dtype=engine.i64,
                            device=self.model.device)
        for c in self.caches:
            c.cross_k = c.cross_k.index_select(0, idx)
            c.cross_v = c.cross_v.index_select(0, idx)
            if c.self_k is not None:
                c.self_k = c.self_k.index_select(0, idx)
                c.self_v = c.self_v.index_select(0, idx)
