"""TrOCR (VisionEncoderDecoder: ViT/DeiT encoder + TrOCR decoder) built from engine.nn.

The modules carry transformers' parameter names (``named_parameters()`` of a loaded
model are the names in its model.safetensors), so the same code reads, runs, trains
and writes a model folder. Pre-norm ViT layers in the encoder, post-norm layers in
the decoder, a KV cache for generation (self-attention keys/values grow by one step;
cross-attention keys/values are projected once per image).

Inference (eval mode, no gradient) keeps the fast paths, as methods of the modules:
- the query/key/value projections of an attention block run as one GEMM over a
  cached concatenation of their weights;
- every projection keeps a copy packed once for the engine's GEMM micro-kernel, used
  whenever two rows or more are multiplied (engine/backend/cpu/packed.py); where the
  CPU has no micro-kernel, encoder projections use a cached (in, out)-contiguous copy;
- the ViT patch embedding (a conv with stride == kernel) is a reshape plus one GEMM.
The caches are dropped whenever the mode changes (``train()``/``eval()``), so weights
updated by an optimizer are never shadowed by stale copies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import engine
import engine.functional as F
from engine import nn
from engine.autograd import is_grad_enabled
from engine.nn.varbuilder import MissingTensorError, ShapeMismatchError, VarBuilder
from ocr.config import DecoderConfig, EncoderConfig, TrOCRConfig
from ocr.weights import ModelWeightsError, WeightFile


def _t(array: np.ndarray, device) -> engine.Tensor:
    return engine.tensor(np.ascontiguousarray(array, dtype=np.float32), dtype=engine.f32,
                         device=device)


class _Namespace(nn.Module):
    """A level of transformers' parameter names with no computation of its own."""

    def __init__(self, **children: nn.Module) -> None:
        super().__init__()
        for name, child in children.items():
            setattr(self, name, child)


def _fast(module: nn.Module) -> bool:
    """Inference fast paths apply: eval mode and no gradient to record."""
    return not module.training and not (is_grad_enabled() and any(
        p.requires_grad for p in module._parameters.values()))


def linear(vb: VarBuilder, name: str, in_dim: int, out_dim: int, bias: bool = True,
           many_rows: bool = False) -> Linear:
    lv = vb.pp(name)
    return Linear.from_weights(lv.get("weight", (out_dim, in_dim)),
                               lv.get("bias", (out_dim,)) if bias else None, many_rows)


def layer_norm(vb: VarBuilder, name: str, dim: int, eps: float) -> nn.LayerNorm:
    lv = vb.pp(name)
    return nn.LayerNorm.from_weights(lv.get("weight", (dim,)), lv.get("bias", (dim,)), eps)


class Linear(nn.Linear):
    """nn.Linear whose inference on the CPU multiplies by a copy of the weight packed
    once for the engine's micro-kernel (two rows or more). Without a micro-kernel, layers
    that always see many rows (the encoder's) use the transpose of a contiguous (in, out)
    copy, which hands BLAS a row-major operand (~5% faster). Single rows use the (out, in)
    weight, which the few-row kernel streams."""

    @classmethod
    def from_weights(cls, weight, bias=None, many_rows: bool = False) -> Linear:
        m = super().from_weights(weight, bias)
        object.__setattr__(m, "many_rows", many_rows)
        object.__setattr__(m, "_cache", None)
        return m

    def clear_cache(self) -> None:
        object.__setattr__(self, "_cache", None)

    def inference_weight(self):
        """The weight to multiply by: the cached layout copy where it pays."""
        return self._inference()[0]

    def inference_packed(self):
        """The weight packed once for the CPU micro-kernel (None: BLAS multiplies)."""
        return self._inference()[1]

    def _inference(self):
        if not _fast(self) or self.weight.device.type != "cpu":
            return self.weight, None
        if self._cache is None:
            # The packed copy serves every product of two rows or more (the encoder, a
            # batch of crops); decoding layers keep (out, in) rows for the few-row kernel.
            # Where nothing is packed, the encoder's layers get the (in, out) layout copy.
            packed = F.pack_linear_weight(self.weight)
            weight = self.weight
            if self.many_rows and packed is None:
                weight = _t(self.weight.numpy().T, self.weight.device).T
            object.__setattr__(self, "_cache", (weight, packed))
        return self._cache

    def forward(self, x, residual=None):
        """x @ W.T + b, plus `residual` (a skip connection of the output's shape) when
        given: on the CPU's inference path the add is fused into the GEMM's epilogue."""
        return F.linear(x, self.inference_weight(), self.bias, packed=self.inference_packed(),
                        residual=residual)


class Projections(nn.Module):
    """Several projections of the same input (query/key/value); outputs as a list.
    Trained as separate Linears; inferred as one GEMM over cached joined weights."""

    def __init__(self, parts: dict[str, Linear], many_rows: bool = False) -> None:
        super().__init__()
        for name, lin in parts.items():
            setattr(self, name, lin)
        object.__setattr__(self, "many_rows", many_rows)
        self.clear_cache()

    def clear_cache(self) -> None:
        object.__setattr__(self, "_cache", None)

    def forward(self, x) -> list:
        parts = list(self.children())
        if not _fast(self) or any(not _fast(p) for p in parts):
            return [p(x) for p in parts]
        if self._cache is None:
            w = np.concatenate([p.weight.numpy() for p in parts], axis=0)
            dev = parts[0].weight.device
            weight = _t(w, dev)
            packed = F.pack_linear_weight(weight)  # None off the CPU; see Linear._inference
            if self.many_rows and dev.type == "cpu" and packed is None:
                weight = _t(w.T, dev).T
            bias = None
            if parts[0].bias is not None:
                bias = _t(np.concatenate([p.bias.numpy() for p in parts]), dev)
            object.__setattr__(self, "_cache", (weight, bias, packed))
        weight, bias, packed = self._cache
        y = F.linear(x, weight, bias, packed=packed)
        n = parts[0].out_features
        return [y.narrow(-1, i * n, n) for i in range(len(parts))]


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


def _feed_forward(x, fc1: Linear, fc2: Linear, act: str, residual=None):
    """fc2(act(fc1(x))) + residual."""
    if act in ("gelu", "gelu_python"):
        h = F.linear_gelu(x, fc1.inference_weight(), fc1.bias, packed=fc1.inference_packed())
    else:
        h = _activation(act)(fc1(x))
    return fc2(h, residual=residual)


# --------------------------------------------------------------------------- encoder


class ViTLayer(nn.Module):
    def __init__(self, vb: VarBuilder, cfg: EncoderConfig):
        super().__init__()
        d, eps = cfg.hidden_size, cfg.layer_norm_eps
        self.heads = cfg.num_heads
        self.act = cfg.hidden_act
        att = vb.pp("attention")
        self.layernorm_before = layer_norm(vb, "layernorm_before", d, eps)
        self.attention = _Namespace(
            attention=Projections({n: linear(att.pp("attention"), n, d, d, cfg.qkv_bias, True)
                                   for n in ("query", "key", "value")}, many_rows=True),
            output=_Namespace(dense=linear(att.pp("output"), "dense", d, d, many_rows=True)))
        self.layernorm_after = layer_norm(vb, "layernorm_after", d, eps)
        self.intermediate = _Namespace(
            dense=linear(vb.pp("intermediate"), "dense", d, cfg.intermediate_size, many_rows=True))
        self.output = _Namespace(
            dense=linear(vb.pp("output"), "dense", cfg.intermediate_size, d, many_rows=True))

    def forward(self, x):
        qkv = self.attention.attention(self.layernorm_before(x))
        q, k, v = (_split_heads(p, self.heads) for p in qkv)
        attended = _merge_heads(F.scaled_dot_product_attention(q, k, v))
        x = self.attention.output.dense(attended, residual=x)
        h = self.layernorm_after(x)
        return _feed_forward(h, self.intermediate.dense, self.output.dense, self.act, residual=x)


class ViTEmbeddings(nn.Module):
    def __init__(self, vb: VarBuilder, cfg: EncoderConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.hidden_size
        ph, pw = cfg.patch_size
        pv = vb.pp("patch_embeddings").pp("projection")
        conv = _Namespace()
        conv.weight = nn.Parameter(pv.get("weight", (d, cfg.num_channels, ph, pw)))
        conv.bias = nn.Parameter(pv.get("bias", (d,)))
        self.patch_embeddings = _Namespace(projection=conv)
        self.cls_token = nn.Parameter(vb.get("cls_token", (1, 1, d)))
        if cfg.kind == "deit":
            self.distillation_token = nn.Parameter(vb.get("distillation_token", (1, 1, d)))
        self.position_embeddings = nn.Parameter(vb.get("position_embeddings", (1, cfg.seq_len, d)))

    def patchify(self, pixel_values):
        """(B, C, H, W) -> (B, num_patches, C*ph*pw) in the conv's (c, kh, kw) order."""
        b, c, h, w = pixel_values.shape
        ph, pw = self.cfg.patch_size
        gh, gw = h // ph, w // pw
        x = pixel_values.reshape(b, c, gh, ph, gw, pw).permute(0, 2, 4, 1, 3, 5)
        return x.reshape(b, gh * gw, c * ph * pw)

    def forward(self, pixel_values):
        b = pixel_values.shape[0]
        conv = self.patch_embeddings.projection
        d = conv.weight.shape[0]
        n = self.cfg.num_prefix_tokens
        pos = self.position_embeddings
        x = F.linear(self.patchify(pixel_values), conv.weight.reshape(d, -1), conv.bias)
        x = x + pos.narrow(1, n, pos.shape[1] - n)
        tokens = [self.cls_token] + ([self.distillation_token] if self.cfg.kind == "deit" else [])
        prefix = (engine.cat(tokens, dim=1) if len(tokens) > 1 else tokens[0]) + pos.narrow(1, 0, n)
        return engine.cat([prefix.broadcast_to((b, n, d)), x], dim=1)


class ViTEncoder(nn.Module):
    """ViT (cls token) or DeiT (cls + distillation token) encoder, as in transformers."""

    def __init__(self, vb: VarBuilder, cfg: EncoderConfig):
        super().__init__()
        self.cfg = cfg
        self.embeddings = ViTEmbeddings(vb.pp("embeddings"), cfg)
        lv = vb.pp("encoder").pp("layer")
        self.encoder = _Namespace(layer=nn.ModuleList(
            ViTLayer(lv.pp(str(i)), cfg) for i in range(cfg.num_layers)))
        self.layernorm = layer_norm(vb, "layernorm", cfg.hidden_size, cfg.layer_norm_eps)

    def forward(self, pixel_values):
        _, c, h, w = pixel_values.shape
        if (h, w) != tuple(self.cfg.image_size) or c != self.cfg.num_channels:
            raise ValueError(
                f"pixel_values of shape {tuple(pixel_values.shape)} do not fit the encoder "
                f"({self.cfg.num_channels}, {self.cfg.image_size[0]}, {self.cfg.image_size[1]})"
            )
        x = self.embeddings(pixel_values)
        for layer in self.encoder.layer:
            x = layer(x)
        return self.layernorm(x)


# --------------------------------------------------------------------------- decoder


@dataclass
class LayerCache:
    self_k: object = None  # (N, H, T, D), grows by one step per generated token
    self_v: object = None
    cross_k: object = None  # (N, H, S, D), projected once from the encoder states
    cross_v: object = None


class TrOCRAttention(nn.Module):
    def __init__(self, vb: VarBuilder, d: int, kv_dim: int, heads: int, cross: bool):
        super().__init__()
        self.heads = heads
        self.scale = (d // heads) ** -0.5
        self.q_proj = linear(vb, "q_proj", d, d)
        self.k_proj = linear(vb, "k_proj", kv_dim, d)
        self.v_proj = linear(vb, "v_proj", kv_dim, d)
        self.out_proj = linear(vb, "out_proj", d, d)
        # The joined projections share the Linears above (listed once by named_parameters).
        if cross:
            self.kv = Projections({"k_proj": self.k_proj, "v_proj": self.v_proj})
        else:
            self.qkv = Projections({"q_proj": self.q_proj, "k_proj": self.k_proj,
                                    "v_proj": self.v_proj})

    def project_kv(self, states):
        k, v = self.kv(states)
        return _split_heads(k, self.heads), _split_heads(v, self.heads)

    def self_attention(self, x, cache: LayerCache | None, causal: bool, residual=None):
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
        return self.out_proj(_merge_heads(out), residual=residual)

    def cross_attention(self, x, k, v, residual=None):
        q = _split_heads(self.q_proj(x), self.heads)
        out = F.scaled_dot_product_attention(q, k, v, scale=self.scale)
        return self.out_proj(_merge_heads(out), residual=residual)


class TrOCRDecoderLayer(nn.Module):
    def __init__(self, vb: VarBuilder, cfg: DecoderConfig, kv_dim: int):
        super().__init__()
        d, eps = cfg.d_model, cfg.layer_norm_eps
        self.self_attn = TrOCRAttention(vb.pp("self_attn"), d, d, cfg.num_heads, cross=False)
        self.self_attn_layer_norm = layer_norm(vb, "self_attn_layer_norm", d, eps)
        self.encoder_attn = TrOCRAttention(vb.pp("encoder_attn"), d, kv_dim, cfg.num_heads,
                                           cross=True)
        self.encoder_attn_layer_norm = layer_norm(vb, "encoder_attn_layer_norm", d, eps)
        self.fc1 = linear(vb, "fc1", d, cfg.ffn_dim)
        self.fc2 = linear(vb, "fc2", cfg.ffn_dim, d)
        self.final_layer_norm = layer_norm(vb, "final_layer_norm", d, eps)
        self.activation = cfg.activation

    def forward(self, x, cache: LayerCache, causal: bool):
        # Each sublayer's output projection adds the skip connection (x + sublayer(x)).
        x = self.self_attn_layer_norm(self.self_attn.self_attention(x, cache, causal, residual=x))
        x = self.encoder_attn_layer_norm(
            self.encoder_attn.cross_attention(x, cache.cross_k, cache.cross_v, residual=x))
        return self.final_layer_norm(
            _feed_forward(x, self.fc1, self.fc2, self.activation, residual=x))


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


class TrOCRDecoderStack(nn.Module):
    """transformers' TrOCRDecoder: embeddings, positions and the post-norm layers."""

    def __init__(self, vb: VarBuilder, cfg: TrOCRConfig):
        super().__init__()
        dc = cfg.decoder
        self.cfg = dc
        d = dc.d_model
        self.embed_scale = math.sqrt(d) if dc.scale_embedding else 1.0
        self.embed_tokens = nn.Embedding.from_weights(
            vb.get("embed_tokens.weight", (dc.vocab_size, d)))
        if dc.learned_positions:
            self.embed_positions = nn.Embedding.from_weights(
                vb.get("embed_positions.weight", (dc.max_position_embeddings + 2, d)))
            self.position_offset = 2
        else:
            self.positions = sinusoidal_table(dc.max_position_embeddings + dc.pad_token_id + 1, d,
                                              dc.pad_token_id)
            self.position_offset = dc.pad_token_id + 1
        if dc.layernorm_embedding:
            self.layernorm_embedding = layer_norm(vb, "layernorm_embedding", d, dc.layer_norm_eps)
        lv = vb.pp("layers")
        self.layers = nn.ModuleList(TrOCRDecoderLayer(lv.pp(str(i)), dc, cfg.cross_kv_dim)
                                    for i in range(dc.num_layers))

    def _positions(self, ids: np.ndarray, past: int, device):
        n, t = ids.shape
        if self.cfg.learned_positions:
            pos = np.broadcast_to(np.arange(past, past + t) + self.position_offset, (n, t))
            if pos.max() >= self.embed_positions.num_embeddings:
                raise ValueError(f"sequence longer than the decoder's "
                                 f"{self.embed_positions.num_embeddings} positions")
            return self.embed_positions(engine.tensor(np.ascontiguousarray(pos), dtype=engine.i64,
                                                      device=device))
        # Sinusoidal positions skip padding tokens, as fairseq's make_positions does.
        mask = ids != self.cfg.pad_token_id
        pos = (np.cumsum(mask, axis=1) + past) * mask + self.cfg.pad_token_id
        if pos.max() >= len(self.positions):
            # Sinusoidal positions extend to any length (transformers rebuilds its table too).
            self.positions = sinusoidal_table(int(pos.max()) + 1, self.cfg.d_model, self.cfg.pad_token_id)
        return _t(self.positions[pos], device)

    def forward(self, ids: np.ndarray, caches: list[LayerCache], past: int):
        ids = np.asarray(ids, dtype=np.int64)
        device = self.embed_tokens.weight.device
        x = self.embed_tokens(engine.tensor(ids, dtype=engine.i64, device=device))
        if self.embed_scale != 1.0:
            x = x * self.embed_scale
        x = x + self._positions(ids, past, device)
        if self.cfg.layernorm_embedding:
            x = self.layernorm_embedding(x)
        for layer, cache in zip(self.layers, caches):
            x = layer(x, cache, causal=True)
        return x


class TrOCRDecoder(nn.Module):
    """transformers' TrOCRForCausalLM: the decoder stack and the output projection."""

    def __init__(self, vb: VarBuilder, cfg: TrOCRConfig):
        super().__init__()
        dc = cfg.decoder
        self.model = _Namespace(decoder=TrOCRDecoderStack(vb.pp("model").pp("decoder"), cfg))
        stack = self.model.decoder
        if "output_projection.weight" in vb:
            self.output_projection = linear(vb, "output_projection", dc.d_model, dc.vocab_size,
                                            bias=False)
        elif dc.tie_word_embeddings:  # the same Parameter: trained once, listed once
            self.output_projection = Linear.from_weights(stack.embed_tokens.weight)
        else:
            vb.get("output_projection.weight", (dc.vocab_size, dc.d_model))  # the "missing" error

    @property
    def layers(self):
        return self.model.decoder.layers

    def start(self, encoder_states) -> list[LayerCache]:
        """A fresh cache: cross-attention keys/values are projected here, once."""
        caches = []
        for layer in self.layers:
            k, v = layer.encoder_attn.project_kv(encoder_states)
            caches.append(LayerCache(cross_k=k, cross_v=v))
        return caches

    def forward(self, ids: np.ndarray, caches: list[LayerCache], past: int):
        return self.output_projection(self.model.decoder(ids, caches, past))


# ----------------------------------------------------------------------------- model


class TrOCRModel(nn.Module):
    """A VisionEncoderDecoder TrOCR loaded from a Hugging Face model folder.

    Parameters are float32 whatever the file stores (f16 files included): the same
    object reads crops (``encode``/``session``, fast paths in eval mode) and is
    fine-tuned (``logits`` under autograd in train mode)."""

    def __init__(self, config: TrOCRConfig, weights: WeightFile, device="cpu",
                 folder: Path | None = None):
        super().__init__()
        self.config = config
        self.device = engine.Device.parse(device) if isinstance(device, str) else device
        self.folder = folder
        vb = VarBuilder(weights, name=str(weights.path), dtype=engine.f32, device=self.device)
        try:
            self.encoder = ViTEncoder(vb.pp("encoder"), config.encoder)
            if config.needs_enc_to_dec_proj:
                self.enc_to_dec_proj = linear(vb, "enc_to_dec_proj", config.encoder.hidden_size,
                                              config.decoder.d_model)
            self.decoder = TrOCRDecoder(vb.pp("decoder"), config)
        except (MissingTensorError, ShapeMismatchError) as exc:
            raise ModelWeightsError(str(exc)) from None
        self.eval()

    @classmethod
    def from_pretrained(cls, path: str | Path, device="cpu") -> TrOCRModel:
        folder = Path(path)
        if not folder.is_dir():
            from ocr.hub import resolve_model  # a hub id already in the local cache
            folder = resolve_model(str(path))
        config = TrOCRConfig.from_folder(folder)
        return cls(config, WeightFile(folder), device=device, folder=folder)

    def train(self, mode: bool = True) -> TrOCRModel:
        """Switch mode and drop the inference caches (the weights may change next)."""
        super().train(mode)
        for m in self.modules():
            if isinstance(m, (Linear, Projections)):
                m.clear_cache()
        return self

    def _states(self, pv):
        states = self.encoder(pv)
        return self.enc_to_dec_proj(states) if self.config.needs_enc_to_dec_proj else states

    def _pixels(self, pixel_values):
        if isinstance(pixel_values, engine.Tensor):
            return pixel_values
        return engine.tensor(np.asarray(pixel_values, dtype=np.float32), device=self.device)

    def encode(self, pixel_values):
        """Encoder states for the decoder's cross-attention, (B, S, d)."""
        with engine.no_grad():
            return self._states(self._pixels(pixel_values))

    def logits(self, pixel_values, decoder_input_ids) -> engine.Tensor:
        """Teacher-forced logits (B, T, V) as a Tensor, recorded for backward when
        parameters require grad (training)."""
        states = self._states(self._pixels(pixel_values))
        return self.decoder(np.asarray(decoder_input_ids), self.decoder.start(states), past=0)

    def forward(self, pixel_values, decoder_input_ids) -> np.ndarray:
        """Logits (B, T, V) for teacher-forced decoder input ids, as numpy."""
        with engine.no_grad():
            return self.logits(pixel_values, decoder_input_ids).numpy()

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
