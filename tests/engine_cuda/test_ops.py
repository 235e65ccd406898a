"""The engine's op suite on CUDA: every registered op, forward and backward, compared with
the CPU backend on the same inputs — contiguous, transposed and broadcast (stride 0)
operands, python scalars, integer and half dtypes, edge values."""

from __future__ import annotations

import math

import numpy as np
import pytest

import engine
import engine.functional as F
from engine.ops import elementwise as ew
from engine.ops.registry import registered_ops

from .parity import Case, compare

# edge values (inf, nan, overflowing casts) are part of the cases: numpy warns about them
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

BUILTIN_OPS = registered_ops()  # before any test registers a custom op
rng = np.random.default_rng(7)


def R(*shape, positive=False, scale=1.0):
    a = rng.standard_normal(shape).astype(np.float32) * scale
    return np.abs(a) + 0.5 if positive else a


def I(high, *shape, low=0):
    return rng.integers(low, high, size=shape).astype(np.int64)


T = lambda t: t.transpose(-1, -2)
EXPAND_ROWS = lambda t: t.reshape(1, -1).broadcast_to((3, t.shape[0]))

CASES: list[Case] = []


def case(*args, **kwargs):
    CASES.append(Case(*args, **kwargs))


# ---- binary ops, broadcasting, strides, scalars ----

BINARY = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b, "pow": lambda a, b: a ** b, "maximum": engine.maximum,
    "minimum": engine.minimum, "eq": lambda a, b: a == b, "ne": lambda a, b: a != b,
    "lt": lambda a, b: a < b, "le": lambda a, b: a <= b, "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
}
for name, fn in BINARY.items():
    pos = name == "pow"
    case(f"{name}-broadcast", fn, [R(2, 3, 4, positive=pos), R(3, 1, positive=pos)])
    case(f"{name}-transposed-stride0", fn, [R(4, 3, positive=pos), R(4, positive=pos)],
         prep=[T, EXPAND_ROWS])
case("add-scalar-right", lambda a: a + 2.5, [R(3, 4)])
case("sub-scalar-left", lambda a: 1.5 - a, [R(3, 4)])
case("div-scalar-left", lambda a: 2.0 / a, [R(3, 4, positive=True)])
case("pow-scalar-exponent", lambda a: a ** 3, [R(5)])
case("rpow", lambda a: 2.0 ** a, [R(5)])
case("mul-0d", lambda a, b: a * b, [R(3, 2), np.float32(1.7)])
case("eq-ties", lambda a, b: a == b, [np.array([1, 2, 3], np.float32), np.array([1, 0, 3], np.float32)])
case("maximum-ties-grad", engine.maximum, [np.array([1, 2, 3, -1], np.float32),
                                           np.array([1, 0, 3, 2], np.float32)])
case("add-i64", lambda a, b: a + b, [I(9, 3, 4), I(9, 4)])
case("mul-u8-wraps", lambda a, b: a * b, [I(200, 6), I(200, 6)], dtypes=[engine.u8, engine.u8])
case("div-int-to-float", lambda a, b: a / b, [I(9, 4), I(9, 4, low=1)])
case("int-plus-float-scalar", lambda a: a + 0.5, [I(9, 4)])
case("f64", lambda a, b: (a * b).exp(), [R(3, 4), R(4)], dtypes=[engine.f64, engine.f64])
case("f16-binary", lambda a, b: a * b + a, [R(3, 4), R(4)], dtypes=[engine.f16, engine.f16])
case("bf16-binary", lambda a, b: a - b, [R(3, 4), R(4)], dtypes=[engine.bf16, engine.bf16])
case("promote-f32-f64", lambda a, b: a + b, [R(3), R(3)], dtypes=[engine.f32, engine.f64])
case("many-dims", lambda a, b: a + b, [R(2, 1, 2, 1, 2, 1, 2, 1, 2, 3), R(2, 1, 2, 1, 2, 1, 2, 3)],
     prep=[lambda t: t.transpose(0, 9), lambda t: t.transpose(1, 7)])

# ---- unary ops ----

UNARY = {
    "neg": lambda t: -t, "exp": lambda t: t.exp(), "log": lambda t: t.log(),
    "sqrt": lambda t: t.sqrt(), "rsqrt": lambda t: t.rsqrt(), "tanh": lambda t: t.tanh(),
    "relu": lambda t: t.relu(), "gelu": F.gelu, "gelu_tanh": lambda t: F.gelu(t, "tanh"),
    "sigmoid": lambda t: t.sigmoid(), "abs": lambda t: t.abs(), "sin": lambda t: t.sin(),
    "cos": lambda t: t.cos(), "sign": lambda t: t.sign(), "reciprocal": lambda t: t.reciprocal(),
    "square": lambda t: t.square(),
    "gelu_grad": lambda t: ew.unary(ew.GELU_GRAD, t),
    "gelu_tanh_grad": lambda t: ew.unary(ew.GELU_TANH_GRAD, t),
}
for name, fn in UNARY.items():
    pos = name in ("log", "sqrt", "rsqrt", "reciprocal")
    grad = name not in ("sign", "gelu_grad", "gelu_tanh_grad")
    case(f"{name}-transposed", fn, [R(4, 3, positive=pos)], prep=[T], grad=grad)
case("unary-edges", lambda t: (t.log(), t.sqrt(), t.rsqrt(), t.exp(), t.sigmoid()),
     [np.array([0.0, -1.0, 100.0, -100.0, np.inf, -np.inf, np.nan], np.float32)], grad=False)
case("unary-int", lambda t: (-t, t.abs(), t.relu(), t.sign(), t.square()), [I(9, 6, low=-9)])
case("unary-int-to-float", lambda t: t.exp(), [I(5, 6)])
case("unary-f16", lambda t: t.tanh(), [R(5)], dtypes=[engine.f16])
case("clamp", lambda t: t.clamp(-0.5, 0.5), [R(3, 4)])

# ---- where / masked_fill ----

case("where-broadcast", lambda c, a, b: engine.where(c, a, b),
     [I(2, 3, 1), R(3, 4), R(4)], dtypes=[engine.u8, None, None])
case("where-scalars", lambda c, a: engine.where(c > 0, a, -1.0), [R(3, 4), R(3, 4)])
case("where-two-scalars", lambda c: engine.where(c > 0, 1.0, 0.0), [R(5)], grad=False)
case("where-float-cond", lambda c, a, b: engine.where(c, a, b), [I(2, 4).astype(np.float32), R(4), R(4)])
case("masked_fill", lambda x, m: x.masked_fill(m, -math.inf).softmax(-1),
     [R(2, 3, 4), np.tril(np.ones((3, 4), np.uint8)) == 0], dtypes=[None, engine.u8])

# ---- casts between every pair of dtypes ----

CAST_VALUES = np.array([0.0, 1.0, -2.5, 3.7, 65504.0, 1e-5, 6e-8, 2.0 ** -25, 255.0, 1e9,
                        -1e-30, 70000.0], np.float64)
DTYPES = [engine.u8, engine.u32, engine.i64, engine.f16, engine.bf16, engine.f32, engine.f64]
for src in DTYPES:
    for dst in DTYPES:
        if src is dst:
            continue
        if src.is_float and dst.is_float:
            vals = CAST_VALUES
        else:  # float -> int is only defined for values the int type holds
            vals = np.abs(CAST_VALUES[:9]).astype(np.int64) % 250 + (0.25 if src.is_float else 0)
        case(f"cast-{src.name}-{dst.name}", lambda t, d=dst: t.to(d), [vals], dtypes=[src],
             grad=src.is_float and dst.is_float, rtol=1e-6, atol=0)
case("cast-strided", lambda t: t.to(engine.f16).to(engine.bf16), [R(4, 3)], prep=[T])
case("cast-nan-inf", lambda t: (t.to(engine.f16), t.to(engine.bf16)),
     [np.array([np.nan, np.inf, -np.inf, -0.0, 1e-40], np.float32)], grad=False)

# ---- copies and views (contiguous, clone, getitem, setitem, narrow/split) ----

case("contiguous", lambda t: t.permute(2, 0, 1).contiguous(), [R(2, 3, 4)])
case("clone-expanded", lambda t: t.broadcast_to((3, 2, 4)).clone(), [R(2, 4)])
case("reshape-copy", lambda t: t.T.reshape(-1), [R(3, 4)])
case("getitem-slices", lambda t: t[1:, ::2, None, -1], [R(3, 5, 2)])
case("getitem-list-index", lambda t: t[:, [2, 0, 2]], [R(3, 4)])
case("narrow-split", lambda t: [p * (i + 1) for i, p in enumerate(t.split([1, 3], dim=1))], [R(2, 4)])
case("chunk", lambda t: t.chunk(2, dim=0)[1].exp(), [R(5, 2)])


def _setitem(x, v):
    with engine.no_grad():
        y = x.detach().clone()
        y[1:, 0] = v[:, 1]
        y[0] = 7.0
        y[..., 2:] = y[..., :1]  # overlapping source and destination
        return y


case("setitem", _setitem, [R(3, 4), R(2, 3)], grad=False)

# ---- reductions ----

case("sum-all", lambda t: t.sum(), [R(3, 4, 5)])
case("sum-middle-keepdim", lambda t: t.sum(1, keepdim=True), [R(3, 40, 5)])
case("sum-two-dims-strided", lambda t: t.sum((0, 2)), [R(4, 3, 5)], prep=[lambda t: t.permute(2, 1, 0)])
case("sum-int", lambda t: t.sum(0), [I(9, 4, 3)])
case("sum-u8", lambda t: t.sum(), [I(200, 40)], dtypes=[engine.u8])
case("sum-empty", lambda t: t.sum(1), [np.zeros((3, 0), np.float32)])
case("sum-expanded", lambda t: t.broadcast_to((4, 3)).sum(0), [R(3)])
case("mean", lambda t: t.mean((-1, -2)), [R(2, 3, 40)])
case("max-long-rows", lambda t: t.max(-1), [R(3, 50)])
case("max-ties", lambda t: t.max(0), [np.array([[1, 2], [1, 0], [0, 2]], np.float32)])
case("min-strided", lambda t: t.min(0), [R(5, 3)], prep=[T])
case("max-nan", lambda t: (t.max(-1), t.argmax(-1)),
     [np.array([[1, np.nan, 3], [4, 5, np.nan]], np.float32)], grad=False)
case("argmax-ties-first", lambda t: (t.argmax(-1), t.argmin(-1), t.argmax(0, keepdim=True)),
     [np.array([[3, 1, 3, 1], [0, 0, 0, 0], [2, 5, 5, -1]], np.float32)], grad=False)
case("argmax-long", lambda t: (t.argmax(1), t.argmin(), t.argmax()), [R(3, 40)], grad=False)
case("argmax-int", lambda t: t.argmax(0), [I(5, 30, 3)])
case("max-f16", lambda t: t.max(-1), [R(3, 20)], dtypes=[engine.f16])

# ---- softmax / layer_norm ----

case("softmax-last", lambda t: t.softmax(-1), [R(3, 20)])
case("softmax-dim0", lambda t: t.softmax(0), [R(5, 3)])
case("log_softmax", lambda t: t.log_softmax(-1), [R(2, 3, 9)], prep=[lambda t: t.transpose(0, 1)])
case("softmax-masked-rows", lambda t: (t.softmax(-1), t.log_softmax(-1)),
     [np.array([[-np.inf, -np.inf, -np.inf], [0.0, -np.inf, 1.0]], np.float32)], grad=False)
case("softmax-f16", lambda t: t.softmax(-1), [R(2, 6)], dtypes=[engine.f16])
case("layer_norm-affine", lambda x, w, b: F.layer_norm(x, (12,), w, b, 1e-5), [R(2, 3, 12), R(12), R(12)])
case("layer_norm-plain", lambda x: F.layer_norm(x, (4,)), [R(4, 5)], prep=[T])
case("layer_norm-2d-shape", lambda x, w: F.layer_norm(x, (3, 4), w, None), [R(2, 3, 4), R(3, 4)])
case("layer_norm-strided-tail", lambda x, w, b: F.layer_norm(x, (2, 3), w, b),
     [R(3, 2, 4), R(2, 3), R(2, 3)], prep=[lambda t: t.permute(2, 1, 0), None, None])

# ---- matmul / linear ----

case("matmul-2d", lambda a, b: a @ b, [R(5, 7), R(7, 3)], rtol=1e-4)
case("matmul-tiles", lambda a, b: a @ b, [R(19, 13), R(13, 21)], rtol=1e-4)
case("matmul-transposed", lambda a, b: a @ b, [R(7, 5), R(3, 7)], prep=[T, T], rtol=1e-4)
case("matmul-batched-broadcast", lambda a, b: a @ b, [R(2, 1, 4, 6), R(3, 6, 5)], rtol=1e-4)
case("matmul-expanded-batch", lambda a, b: a @ b, [R(4, 6), R(2, 6, 3)],
     prep=[lambda t: t.broadcast_to((2, 4, 6)), None], rtol=1e-4)
case("matmul-vec", lambda a, b, v: (a @ v, v @ b, v @ v), [R(3, 4), R(4, 2), R(4)], rtol=1e-4)
case("matmul-int", lambda a, b: a @ b, [I(5, 3, 4), I(5, 4, 2)])
case("matmul-f16", lambda a, b: a @ b, [R(3, 4), R(4, 5)], dtypes=[engine.f16, engine.f16])
case("matmul-f64", lambda a, b: a @ b, [R(6, 5), R(5, 4)], dtypes=[engine.f64, engine.f64], rtol=1e-10)
case("matmul-k0", lambda a, b: a @ b, [np.zeros((2, 0), np.float32), np.zeros((0, 3), np.float32)])
case("linear-bias", F.linear, [R(2, 3, 10), R(6, 10), R(6)], rtol=1e-4)
case("linear-no-bias-strided", F.linear, [R(5, 4), R(3, 4)], prep=[lambda t: t[::2], None], rtol=1e-4)
case("linear-permuted-input", lambda x, w, b: F.linear(x.permute(1, 0, 2), w, b),
     [R(3, 4, 5), R(2, 5), R(2)], rtol=1e-4)
case("linear_gelu", F.linear_gelu, [R(4, 9), R(7, 9), R(7)], rtol=1e-4)
case("linear_gelu-tanh", lambda x, w, b: F.linear_gelu(x, w, b, approximate="tanh"),
     [R(4, 9), R(7, 9), R(7)], rtol=1e-4)
case("linear-f16-weight", lambda x, w: F.linear(x, w), [R(3, 8), R(5, 8)],
     dtypes=[None, engine.f16], rtol=1e-3)

# ---- conv2d ----

case("conv2d-patch", lambda x, w, b: F.conv2d(x, w, b, stride=4), [R(2, 3, 8, 8), R(5, 3, 4, 4), R(5)],
     rtol=1e-4)
case("conv2d-pad-stride", lambda x, w: F.conv2d(x, w, None, stride=(2, 1), padding=(1, 2)),
     [R(1, 2, 5, 6), R(3, 2, 3, 2)], rtol=1e-4)
case("conv2d-strided-input", lambda x, w, b: F.conv2d(x, w, b, padding=1),
     [R(2, 6, 5, 2), R(2, 2, 3, 3), R(2)], prep=[lambda t: t.permute(0, 3, 2, 1), None, None],
     rtol=1e-4)
# the fused kernel runs only where nothing records gradients (grad=False); with
# gradients it is the composition above
case("conv2d-fused-skip-relu", lambda x, s, w, b: F.conv2d_fused([x, s], w, b, 1, relu=True),
     [R(2, 3, 6, 7), R(2, 2, 6, 7), R(4, 5, 3, 3), R(4)], grad=False, rtol=1e-4)
case("conv2d-fused-one-input", lambda x, w: F.conv2d_fused([x], w, None, (0, 4)),
     [R(1, 2, 5, 12), R(3, 2, 1, 9)], grad=False, rtol=1e-4)
case("conv2d-fused-upsampled", lambda x, s, w, b: F.conv2d_fused([x, s], w, b, 1, relu=True,
                                                                  upsample=2),
     [R(1, 3, 3, 4), R(1, 2, 6, 8), R(4, 5, 3, 3), R(4)], grad=False, rtol=1e-4)
case("conv2d-fused-trains", lambda x, s, w, b: F.conv2d_fused([x, s], w, b, 1, relu=True),
     [R(1, 2, 5, 6), R(1, 1, 5, 6), R(3, 3, 3, 3), R(3)], rtol=1e-4)

# ---- pooling / upsampling (the split model) ----

case("max_pool2d", lambda x: F.max_pool2d(x, 2), [R(2, 3, 7, 9)])
case("max_pool2d-overlap-strided", lambda x: F.max_pool2d(x, 3, (2, 1)), [R(1, 4, 7, 2)],
     prep=[lambda t: t.permute(0, 3, 2, 1)])
case("max_pool2d-ties", lambda x: F.max_pool2d(x, 2),
     [np.array([[[[1, 1, 0, 2], [1, 0, 2, 2]]]], np.float32)])
case("upsample_nearest2d", lambda x: F.upsample_nearest2d(x, (2, 3)), [R(2, 3, 3, 4)])
case("upsample_nearest2d-strided", lambda x: F.upsample_nearest2d(x, 2), [R(1, 4, 3, 2)],
     prep=[lambda t: t.permute(0, 3, 2, 1)])
case("upsample_nearest2d-f16", lambda x: F.upsample_nearest2d(x, 2), [R(1, 2, 3, 3)],
     dtypes=[engine.f16], grad=False)

# ---- attention ----


def _bool_mask(tq, tk):
    return rng.integers(0, 2, size=(1, 1, tq, tk)).astype(np.uint8) | np.eye(tq, tk, dtype=np.uint8)


for grad in (False, True):
    tag = "composite" if grad else "fused"
    case(f"sdpa-{tag}", lambda q, k, v: F.scaled_dot_product_attention(q, k, v),
         [R(2, 2, 5, 4), R(2, 2, 6, 4), R(2, 2, 6, 3)], grad=grad, rtol=1e-4)
    case(f"sdpa-causal-{tag}", lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
         [R(1, 2, 3, 4), R(1, 2, 5, 4), R(1, 2, 5, 4)], grad=grad, rtol=1e-4)
    case(f"sdpa-float-mask-{tag}",
         lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m, scale=0.3),
         [R(2, 1, 4, 4), R(2, 1, 4, 4), R(2, 1, 4, 4), R(4, 4)], grad=grad, rtol=1e-4)
    case(f"sdpa-bool-mask-3d-{tag}",
         lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m),
         [R(3, 4, 2), R(3, 4, 2), R(3, 4, 2), _bool_mask(4, 4)[0]], dtypes=[None, None, None, engine.u8],
         grad=grad, rtol=1e-4)
case("sdpa-train-float-mask-no-grad",  # attention_probs with a mask (the mask is a constant)
     lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m.detach(), scale=0.3),
     [R(2, 2, 4, 3), R(2, 2, 5, 3), R(2, 2, 5, 3), R(4, 5)], rtol=1e-4)
case("gelu-backward-broadcast-grad", lambda t: F.gelu(t).sum(0), [R(6, 5)])
case("sdpa-heads-view", lambda x: F.scaled_dot_product_attention(
    *(x.reshape(1, 5, 3, 2, 4).permute(2, 0, 3, 1, 4)[i] for i in range(3))),
    [R(1, 5, 24)], grad=False, rtol=1e-4)
case("sdpa-f16", lambda q, k, v: F.scaled_dot_product_attention(q, k, v),
     [R(1, 1, 3, 4), R(1, 1, 3, 4), R(1, 1, 3, 4)], dtypes=[engine.f16] * 3, grad=False)

# ---- indexing ----

case("index_select-dim0-repeats", lambda x, i: x.index_select(0, i), [R(5, 3), np.array([4, 0, 4, 2])])
case("index_select-dim1-strided", lambda x, i: x.index_select(1, i), [R(3, 5, 2), np.array([1, 1, 4])],
     prep=[lambda t: t.transpose(0, 2), None])
case("embedding", lambda w, i: F.embedding(i, w), [R(10, 4), I(10, 2, 3)])
case("embedding-host-ids", lambda w: F.embedding([[1, 9], [9, 0]], w), [R(10, 4)])
case("gather", lambda x, i: x.gather(1, i), [R(3, 5), I(5, 3, 4)])
case("gather-dim0-smaller-index", lambda x, i: x.gather(0, i), [R(4, 5), I(4, 2, 3)])
case("gather-strided", lambda x, i: x.gather(0, i), [R(5, 3), I(3, 4, 5)], prep=[T, None])
case("topk", lambda x: x.topk(3), [R(4, 10)])
case("topk-long-rows", lambda x: x.topk(2), [R(2, 45)])
case("topk-smallest-dim0", lambda x: x.topk(2, dim=0, largest=False), [R(6, 3)])
case("topk-large-k", lambda x: x.topk(40), [R(2, 45)])
case("topk-ties", lambda x: x.topk(3), [np.array([[1, 3, 3, 1, 3], [0, 0, 0, 0, 0]], np.float32)],
     grad=False)
case("topk-int", lambda x: x.topk(2), [I(3, 3, 20)])
case("topk-f16", lambda x: x.topk(2), [R(3, 6)], dtypes=[engine.f16], grad=False)

# ---- cat / stack ----

case("cat-dim1-mixed-layouts", lambda a, b: engine.cat([a, b, a], dim=1), [R(3, 2), R(2, 3)],
     prep=[None, T])
case("stack", lambda a, b: engine.stack([a, b], dim=-1), [R(2, 3), R(2, 3)])
case("cat-promote", lambda a, b: engine.cat([a, b]), [R(2), I(5, 3)], grad=False)

# ---- losses and composite functional paths ----

case("cross_entropy", lambda x, t: F.cross_entropy(x, t, ignore_index=1), [R(2, 3, 6), I(6, 2, 3)])
case("mse_loss", F.mse_loss, [R(3, 4), R(3, 4)])
case("dropout-seeded", lambda x: F.dropout(x, 0.3, True, seed=3), [R(4, 5)])
case("sdpa-causal-decoder-step",
     lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
     [R(1, 1, 1, 4), R(1, 1, 3, 4), R(1, 1, 3, 4)], grad=False, rtol=1e-4)



@pytest.mark.parametrize("c", CASES, ids=[c.name for c in CASES])
def test_cuda_matches_cpu(c: Case) -> None:
    compare(c)


# ops whose coverage comes from the cases above (forward; backward where it has one)
COVERED_BY = {
    **{n: n for n in BINARY}, **{n: n for n in UNARY}, "where": "where", "cast": "cast",
    "copy": "contiguous", "sum": "sum", "max": "max", "min": "min", "argmax": "argmax",
    "argmin": "argmax-ties", "softmax": "softmax", "log_softmax": "log_softmax",
    "layer_norm": "layer_norm", "matmul": "matmul", "linear": "linear", "linear_gelu": "linear_gelu",
    "conv2d": "conv2d", "conv2d_backward": "conv2d",
    "conv2d_fused": "conv2d-fused", "attention": "sdpa-fused",
    "max_pool2d": "max_pool2d", "max_pool2d_backward": "max_pool2d",
    "upsample_nearest2d": "upsample_nearest2d",
    "upsample_nearest2d_backward": "upsample_nearest2d",
    "index_select": "index_select", "index_add": "index_select", "gather": "gather",
    "scatter_add": "gather", "topk": "topk", "cat": "cat", "slice_scatter": "getitem-slices",
    "assign": "setitem", "sgd_step": None, "adamw_step": None,  # test_training.py
    # fused backward kernels: run by the backward pass of these cases
    "softmax_backward": "softmax", "layer_norm_backward": "layer_norm",
    "gelu_backward": "gelu", "attention_probs": "sdpa-train",
}


def test_every_registered_op_has_a_cuda_kernel_and_a_case() -> None:
    from engine.backend.cuda import kernels as backend
    from engine.ops.registry import get_op
    backend.register()
    for name in BUILTIN_OPS:
        op = get_op(name)
        if op.cpu is None:  # views and device moves: no kernel on any device
            assert name in backend.COMPOSED_OPS, f"{name}: neither kernel nor documented composition"
            continue
        assert op.cuda is not None, f"op {name!r} has a CPU kernel but no CUDA kernel"
        assert name in COVERED_BY, f"op {name!r} has no CUDA parity case"
        prefix = COVERED_BY[name]
        if prefix is not None:
            assert any(c.name.startswith(prefix) for c in CASES), f"no case named {prefix}*"
