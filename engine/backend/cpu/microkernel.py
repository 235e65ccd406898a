"""The engine's own float32 GEMM micro-kernel, written in LLVM IR and compiled for this CPU.

numba cannot be told to keep a tile of C in vector registers, and that is what a
GEMM's inner loop must do to run near the FMA units' peak. So the tile loop is
generated here as LLVM IR with explicit vectors (<W x float>, W = 16 with AVX-512,
8 with AVX2) and `llvm.fma`, and compiled by llvmlite (numba's own LLVM) for the
host CPU. LLVM allocates the registers; the shape of the loop is ours:

    for each k:  load NV vectors of a packed B row (NR = NV * W columns)
                 broadcast A[r, k] of each of the tile's MR rows, MR * NV fused multiply-adds

MR * NV accumulators stay in registers for the whole k loop, so C is read and
written once per tile (AVX-512: 6 x 64 tile, 24 of the 32 zmm registers).

`macro` runs the tile over a block of rows of A times every B panel (B panel outer,
so one B panel stays in L2 while the rows of A stream through). A is read in place,
MR row streams at a time, as ONNX Runtime's MLAS does: packing it into k-major panels
first cost 1.5-4 % of each product and bought nothing. The last tile may have fewer
than MR rows: only those are stored. numba code calls it by address
(packed._call_macro) from prange loops, so the engine's threads run blocks side by side.

CPUs without FMA (or a failed compile) get `KERNEL = None`; callers then use BLAS.
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass

__all__ = ["Kernel", "bf16_kernel", "compile_kernel", "conv_kernel", "host_isa", "kernel"]


@dataclass(frozen=True)
class Kernel:
    mr: int  # rows of a tile (one A panel)
    nr: int  # columns of a tile (one B panel)
    isa: str  # "avx512", "avx2" or "avx512bf16" (bfloat16 operands), for benchmark headers
    macro: object  # ctypes function, see _macro_ir
    address: int  # of the same function, for numba code (packed._call_macro)

    @property
    def bf16(self) -> bool:
        """Operands in bfloat16 (A and B panels), each k step a pair of depths."""
        return self.isa == "avx512bf16"


def _tile_ir(mr: int, nv: int, w: int, bf16: bool = False) -> list[str]:
    """define internal void @tile(ptr a, ptr b, ptr c, i64 k, i64 ldc, i64 accum, i64 rows,
    i64 lda, i64 ldb): c[r, :nr] (=|+=) sum_k a[r, k] * b[k, :nr] for r < rows (a:
    row-major with row stride lda, read in place; b: k rows of nr values, ldb apart: nr
    for a packed panel, or the channel stride of an image read in place by a convolution).

    bf16: a and b hold bfloat16 and each step k takes a pair of depths (2k, 2k+1) with
    one vdpbf16ps (a float32 lane += a0*b0 + a1*b1): b's step is nr pairs, a's row is
    read a pair at a time, sums stay float32. Twice the multiply-adds per instruction."""
    v = f"<{w} x float>"
    elem = "i16" if bf16 else "float"
    accs = [(r, j) for r in range(mr) for j in range(nv)]
    out = [("define internal void @tile(ptr %a, ptr %b, ptr %c, i64 %k, i64 %ldc, i64 %accum, "
            "i64 %rows, i64 %lda, i64 %ldb) #0 {"),
           "entry:",
           "  %lastrow = sub i64 %rows, 1"]
    # One pointer per row of A. In a ragged last tile the missing rows read the last real
    # row again (never past the matrix); their sums are computed and not stored.
    for r in range(mr):
        out += [f"  %real{r} = icmp slt i64 {r}, %rows",
                f"  %src{r} = select i1 %real{r}, i64 {r}, i64 %lastrow",
                f"  %roff{r} = mul i64 %src{r}, %lda",
                f"  %arow{r} = getelementptr {elem}, ptr %a, i64 %roff{r}"]
    out += ["  %has = icmp sgt i64 %k, 0",
            "  br i1 %has, label %loop, label %done"]
    out += ["loop:", "  %kk = phi i64 [0, %entry], [%kn, %loop]"]
    out += [f"  %acc{r}_{j} = phi {v} [zeroinitializer, %entry], [%nacc{r}_{j}, %loop]"
            for r, j in accs]
    out += _bf16_step(mr, nv, w) if bf16 else _f32_step(mr, nv, w)
    out += ["  %kn = add i64 %kk, 1",
            "  %more = icmp slt i64 %kn, %k",
            "  br i1 %more, label %loop, label %done",
            "done:"]
    out += [f"  %f{r}_{j} = phi {v} [zeroinitializer, %entry], [%nacc{r}_{j}, %loop]" for r, j in accs]
    # store row r only if r < rows; the accumulate flag picks one of two chains once per
    # tile, so a fresh C is written without being read first
    out += ["  %acm = icmp ne i64 %accum, 0", "  br i1 %acm, label %addrow0, label %putrow0"]
    for chain in ("add", "put"):
        for r in range(mr):
            nxt = f"{chain}row{r + 1}" if r + 1 < mr else "end"
            out += [f"{chain}row{r}:",
                    f"  br i1 %real{r}, label %{chain}st{r}, label %end",
                    f"{chain}st{r}:",
                    f"  %{chain}ro{r} = mul i64 %ldc, {r}"]
            for j in range(nv):
                ptr = f"%{chain}cp{r}_{j}"
                out += [f"  %{chain}co{r}_{j} = add i64 %{chain}ro{r}, {w * j}",
                        f"  {ptr} = getelementptr float, ptr %c, i64 %{chain}co{r}_{j}"]
                if chain == "add":
                    out += [f"  %old{r}_{j} = load {v}, ptr {ptr}, align 4",
                            f"  %sum{r}_{j} = fadd {v} %old{r}_{j}, %f{r}_{j}",
                            f"  store {v} %sum{r}_{j}, ptr {ptr}, align 4"]
                else:
                    out.append(f"  store {v} %f{r}_{j}, ptr {ptr}, align 4")
            out.append(f"  br label %{nxt}")
    out += ["end:", "  ret void", "}"]
    return out


def _f32_step(mr: int, nv: int, w: int) -> list[str]:
    """One depth k: NV vectors of B's row k, MR broadcasts of a[r, k], MR x NV FMAs."""
    v = f"<{w} x float>"
    out = ["  %boff = mul i64 %kk, %ldb"]
    for j in range(nv):
        out += [f"  %bo{j} = add i64 %boff, {w * j}",
                f"  %bp{j} = getelementptr float, ptr %b, i64 %bo{j}",
                f"  %bv{j} = load {v}, ptr %bp{j}, align 4"]
    for r in range(mr):
        out += [f"  %ap{r} = getelementptr float, ptr %arow{r}, i64 %kk",
                f"  %as{r} = load float, ptr %ap{r}, align 4",
                f"  %ai{r} = insertelement {v} poison, float %as{r}, i32 0",
                f"  %av{r} = shufflevector {v} %ai{r}, {v} poison, <{w} x i32> zeroinitializer"]
        out += [f"  %nacc{r}_{j} = call {v} @llvm.fma.v{w}f32({v} %av{r}, {v} %bv{j}, {v} %acc{r}_{j})"
                for j in range(nv)]
    return out


def _bf16_step(mr: int, nv: int, w: int) -> list[str]:
    """One pair of depths: NV vectors of B's bfloat16 pairs, MR broadcasts of the pair
    (a[r, 2k], a[r, 2k+1]) as one 32-bit value, MR x NV vdpbf16ps."""
    v, vb = f"<{w} x float>", f"<{2 * w} x bfloat>"
    out = ["  %boff = mul i64 %kk, %ldb"]  # i16 elements: 2 * nr for a packed panel
    for j in range(nv):
        out += [f"  %bo{j} = add i64 %boff, {2 * w * j}",
                f"  %bp{j} = getelementptr i16, ptr %b, i64 %bo{j}",
                f"  %bv{j} = load {vb}, ptr %bp{j}, align 2"]
    out.append("  %k2 = mul i64 %kk, 2")
    for r in range(mr):
        out += [f"  %ap{r} = getelementptr i16, ptr %arow{r}, i64 %k2",
                f"  %as{r} = load i32, ptr %ap{r}, align 2",
                f"  %ai{r} = insertelement <{w} x i32> poison, i32 %as{r}, i32 0",
                f"  %aw{r} = shufflevector <{w} x i32> %ai{r}, <{w} x i32> poison, <{w} x i32> zeroinitializer",
                f"  %av{r} = bitcast <{w} x i32> %aw{r} to {vb}"]
        out += [f"  %nacc{r}_{j} = call {v} @llvm.x86.avx512bf16.dpbf16ps.512({v} %acc{r}_{j}, "
                f"{vb} %av{r}, {vb} %bv{j})" for j in range(nv)]
    return out


def _macro_ir(mr: int, nv: int, w: int, elem: str = "float") -> list[str]:
    """define void @macro(i64 a, i64 b, i64 c, i64 m, i64 npanels, i64 k, i64 ldc, i64 lda,
    i64 bstride, i64 accum, i64 ldb): every (tile of mr rows of A, B panel) pair over m rows
    of A; panel p of B starts at b + p * bstride elements, its rows ldb elements apart."""
    nr = w * nv
    return [
        ("define void @macro(i64 %ai, i64 %bi, i64 %ci, i64 %m, i64 %np, i64 %k, i64 %ldc, "
         "i64 %lda, i64 %bstride, i64 %accum, i64 %ldb) #0 {"),
        "entry:",
        "  %a = inttoptr i64 %ai to ptr",
        "  %b = inttoptr i64 %bi to ptr",
        "  %c = inttoptr i64 %ci to ptr",
        "  %any = icmp sgt i64 %np, 0",
        "  %anym = icmp sgt i64 %m, 0",
        "  %go = and i1 %any, %anym",
        "  br i1 %go, label %nloop, label %exit",
        "nloop:",
        "  %pn = phi i64 [0, %entry], [%pnn, %nnext]",
        "  %boff = mul i64 %pn, %bstride",
        f"  %bp = getelementptr {elem}, ptr %b, i64 %boff",
        f"  %col = mul i64 %pn, {nr}",
        "  br label %mloop",
        "mloop:",
        "  %row = phi i64 [0, %nloop], [%rown, %mloop]",
        "  %aoff = mul i64 %row, %lda",
        f"  %ap = getelementptr {elem}, ptr %a, i64 %aoff",
        "  %rowoff = mul i64 %row, %ldc",
        "  %coff = add i64 %rowoff, %col",
        "  %cp = getelementptr float, ptr %c, i64 %coff",
        "  %left = sub i64 %m, %row",
        f"  %full = icmp sgt i64 %left, {mr}",
        f"  %rows = select i1 %full, i64 {mr}, i64 %left",
        ("  call void @tile(ptr %ap, ptr %bp, ptr %cp, i64 %k, i64 %ldc, i64 %accum, i64 %rows, "
         "i64 %lda, i64 %ldb)"),
        f"  %rown = add i64 %row, {mr}",
        "  %mmore = icmp slt i64 %rown, %m",
        "  br i1 %mmore, label %mloop, label %nnext",
        "nnext:",
        "  %pnn = add i64 %pn, 1",
        "  %nmore = icmp slt i64 %pnn, %np",
        "  br i1 %nmore, label %nloop, label %exit",
        "exit:",
        "  ret void",
        "}",
    ]


def module_ir(mr: int, nv: int, w: int, bf16: bool = False) -> str:
    v = f"<{w} x float>"
    lines = [f"declare {v} @llvm.fma.v{w}f32({v}, {v}, {v})"]
    if bf16:
        vb = f"<{2 * w} x bfloat>"
        lines.append(f"declare {v} @llvm.x86.avx512bf16.dpbf16ps.512({v}, {vb}, {vb})")
    lines += _tile_ir(mr, nv, w, bf16) + _macro_ir(mr, nv, w, "i16" if bf16 else "float")
    lines.append(f'attributes #0 = {{ nounwind "prefer-vector-width"="{32 * w}" '
                 f'"min-legal-vector-width"="{32 * w}" }}')
    return "\n".join(lines)


# (vector width, MR, NV) by instruction set: MR * NV accumulators + NV B vectors + one
# broadcast must fit the register file (32 zmm / 16 ymm).
SHAPES = {"avx512": (16, 6, 4), "avx2": (8, 6, 2), "avx512bf16": (16, 6, 4)}

_lock = threading.Lock()
_kernel: Kernel | None = None
_tried = False
_keep: list = []  # the JIT engines: the compiled code lives as long as they do


def _isa_override() -> str:
    """TABLESCRIBE_ISA: "auto" (the default), or "avx2" / "none" to run on an AVX-512 CPU
    the micro-kernel an older one gets (the AVX2 tile, or BLAS): for benchmarks, or to
    step around a kernel suspected of a fault. Only the micro-kernel is capped: numba's
    own kernels follow NUMBA_CPU_NAME (e.g. haswell) and OpenBLAS OPENBLAS_CORETYPE."""
    import os

    asked = (os.environ.get("TABLESCRIBE_ISA") or "auto").lower()
    if asked not in ("auto", "avx2", "none"):
        raise ValueError(f"TABLESCRIBE_ISA={asked!r}: expected auto, avx2 or none")
    return asked


def host_isa() -> str | None:
    """"avx512", "avx2" (with FMA) or None: the widest micro-kernel this CPU runs, capped
    by TABLESCRIBE_ISA."""
    import llvmlite.binding as llvm

    cap = _isa_override()
    features = llvm.get_host_cpu_features()
    if cap == "none":
        return None
    if features.get("avx512f") and cap == "auto":
        return "avx512"
    if features.get("avx2") and features.get("fma"):
        return "avx2"
    return None


def compile_kernel(isa: str, shape: tuple[int, int, int] | None = None) -> Kernel:
    """Build the micro-kernel for `isa` (which the host must support), with the tile
    shape (vector width, MR, NV) of SHAPES unless `shape` names another. The AVX2 kernel
    is built with AVX-512 turned off, so on any CPU it is the code an AVX2 CPU runs (16
    vector registers, VEX encodings)."""
    import llvmlite.binding as llvm

    features = llvm.get_host_cpu_features()
    if isa == "avx2":
        for name in list(features):
            if name.startswith(("avx512", "avx10", "amx", "evex512")):
                features[name] = False
    w, mr, nv = shape or SHAPES[isa]
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    mod = llvm.parse_assembly(module_ir(mr, nv, w, bf16=isa == "avx512bf16"))
    mod.verify()
    target = llvm.Target.from_default_triple()
    tm = target.create_target_machine(cpu=llvm.get_host_cpu_name(), features=features.flatten(),
                                      opt=3)
    ee = llvm.create_mcjit_compiler(mod, tm)
    ee.finalize_object()
    _keep.append((ee, mod, tm))
    addr = ee.get_function_address("macro")
    proto = ctypes.CFUNCTYPE(None, *([ctypes.c_int64] * 11))
    return Kernel(mr, w * nv, isa, proto(addr), addr)


_bf16_kernel: Kernel | None = None
_bf16_tried = False


def bf16_kernel() -> Kernel | None:
    """The bfloat16 micro-kernel (AVX512-BF16's vdpbf16ps), or None where the CPU has no
    such instruction or LLVM could not build it."""
    global _bf16_kernel, _bf16_tried
    import llvmlite.binding as llvm

    with _lock:
        if not _bf16_tried:
            _bf16_tried = True
            try:
                if (llvm.get_host_cpu_features().get("avx512bf16")
                        and _isa_override() == "auto"):
                    _bf16_kernel = compile_kernel("avx512bf16")
            except Exception:  # noqa: BLE001 - any failure means: stay in float32
                _bf16_kernel = None
        return _bf16_kernel


def kernel() -> Kernel | None:
    """The compiled micro-kernel for this CPU, or None where there is none (no FMA, or
    LLVM could not build it: BLAS serves then)."""
    global _kernel, _tried
    with _lock:
        if not _tried:
            isa = host_isa()  # a bad TABLESCRIBE_ISA raises here, on every call
            _tried = True
            try:
                _kernel = None if isa is None else compile_kernel(isa)
            except Exception:  # noqa: BLE001 - any failure means: use BLAS
                _kernel = None
        return _kernel


# Convolutions multiply few output channels (A's rows: 8, 24, 32, 48 in the structure
# model) by many pixels: an 8-row tile wastes nothing on those counts where the 6-row
# one spends a third of dec1's work on padding rows (AVX-512: 8 x 48, 24 accumulators).
CONV_SHAPES = {"avx512": (16, 8, 3)}
_conv_kernel: list = []


def conv_kernel() -> Kernel | None:
    """The micro-kernel with the tile shape for convolutions (CONV_SHAPES; elsewhere the
    GEMM kernel itself), or None where there is no micro-kernel."""
    base = kernel()
    with _lock:
        if not _conv_kernel:
            shape = CONV_SHAPES.get(base.isa) if base is not None else None
            try:
                _conv_kernel.append(compile_kernel(base.isa, shape) if shape else base)
            except Exception:  # noqa: BLE001 - the GEMM kernel serves then
                _conv_kernel.append(base)
        return _conv_kernel[0]
