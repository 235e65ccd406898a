"""The engine's CUDA backend on a real GPU: GEMM throughput against the card's peak and
PyTorch, and the TrOCR encoder on device="cuda" against the CPU engine and PyTorch.

    python3 -m benchmarks.cuda_engine [--repeat 10] [--sizes 512,1024,2048,4096]
                                      [--peak-tflops 66.9] [--no-trocr]
    NUMBA_ENABLE_CUDASIM=1 python3 -m benchmarks.cuda_engine --dry-run   # check the script

Needs an NVIDIA GPU that numba.cuda can use (and the CUDA toolkit numba compiles
with: NVVM + libdevice, e.g. pip install nvidia-cuda-nvcc-cu12 and CUDA_HOME set to
its folder). Prints, in one run on one card:

- the card, its FP32 peak (SMs x FP32 lanes per SM x 2 x boost clock; pass
  --peak-tflops to use the datasheet figure instead);
- f32 GEMM (engine matmul, square sizes and transformer shapes): median ms, GFLOP/s,
  the fraction of peak, and the ratio to torch.matmul on the same GPU when PyTorch
  has CUDA;
- f32 x f16-weight linear through the mixed-precision GEMM (weights stored as f16,
  decoded in the tile loads, f32 accumulation) next to the f32 linear;
- the trocr-small-shaped encoder (DeiT 384x384, 12 x 384, random weights written
  by transformers, loaded by ocr.TrOCRModel) at batch 1 and 8: engine on cuda,
  engine on cpu, PyTorch on cuda (if available) and cpu, and the ratios.

First calls compile the kernels (numba JIT); they are timed separately as warm-up.
--dry-run runs the same code on numba's CUDA simulator with tiny shapes (figures
meaningless) so the script can be checked on a machine without a GPU.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from benchmarks.scoring import first_and_median_ms

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

# FP32 lanes per SM by compute capability major.minor (CUDA programming guide tables).
FP32_PER_SM = {(6, 0): 64, (6, 1): 128, (6, 2): 128, (7, 0): 64, (7, 2): 64, (7, 5): 64,
               (8, 0): 64, (8, 6): 128, (8, 7): 128, (8, 9): 128, (9, 0): 128, (10, 0): 128,
               (10, 3): 128, (12, 0): 128, (12, 1): 128}


def card_info(peak_override: float | None):
    from numba import cuda
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return "numba CUDA simulator (dry run)", (0, 0), 0, 0.0, peak_override
    dev = cuda.get_current_device()
    cc = tuple(dev.compute_capability)
    sms = dev.MULTIPROCESSOR_COUNT
    clock_ghz = dev.CLOCK_RATE / 1e6  # kHz -> GHz
    name = dev.name.decode() if isinstance(dev.name, bytes) else str(dev.name)
    lanes = FP32_PER_SM.get(cc)
    peak = peak_override
    if peak is None and lanes:
        peak = 2 * lanes * sms * clock_ghz / 1000  # TFLOP/s
    return name, cc, sms, clock_ghz, peak


def gemm_rows(args, torch, torch_cuda: bool):
    import numpy as np
    from numba import cuda

    import engine
    import engine.functional as F
    from engine.backend.cuda import kernels as backend

    rng = np.random.default_rng(0)
    shapes = [(n, n, n, ()) for n in args.sizes]
    # transformer shapes: ViT-small MLP at batch 8 (577 tokens), attention scores per head
    tokens, dim, hidden = (577, 384, 1536) if not args.dry_run else (9, 8, 16)
    shapes += [(8 * tokens, hidden, dim, ()), (tokens, tokens, dim // 6, (8 * 6,))]
    rows = []
    for m, n, k, batch in shapes:
        a = engine.tensor(rng.standard_normal(batch + (m, k)), device="cuda")
        b = engine.tensor(rng.standard_normal(batch + (k, n)), device="cuda")
        first, ms = first_and_median_ms(lambda a=a, b=b: a @ b, args.repeat, cuda.synchronize)
        flops = 2.0 * m * n * k * max(1, int(np.prod(batch)))
        torch_ms = None
        if torch_cuda:
            ta = torch.randn(*batch, m, k, device="cuda")
            tb = torch.randn(*batch, k, n, device="cuda")
            _, torch_ms = first_and_median_ms(lambda ta=ta, tb=tb: ta @ tb, args.repeat,
                                   torch.cuda.synchronize)
        rows.append((f"matmul {'x'.join(map(str, batch)) + 'x' if batch else ''}{m}x{k}@{k}x{n}",
                     first, ms, flops, torch_ms))
    # f32 activations x f16 weights: the mixed-precision GEMM vs the f32 one
    x = engine.tensor(rng.standard_normal((8 * tokens, dim)), device="cuda")
    w32 = engine.tensor(rng.standard_normal((hidden, dim)), device="cuda")
    w16 = w32.to(engine.f16)
    b32 = engine.zeros(hidden, device="cuda")
    flops = 2.0 * 8 * tokens * hidden * dim
    first, ms = first_and_median_ms(lambda: F.linear(x, w32, b32), args.repeat, cuda.synchronize)
    rows.append((f"linear f32 w ({8 * tokens}x{dim} -> {hidden})", first, ms, flops, None))
    backend.register()
    kernel = backend.CUDA_KERNELS["linear"]
    first, ms = first_and_median_ms(lambda: kernel(x, w16, b32), args.repeat, cuda.synchronize)
    rows.append(("linear f16 w, f32 acc (kernel)", first, ms, flops, None))
    first, ms = first_and_median_ms(lambda: F.linear(x, w16, b32), args.repeat, cuda.synchronize)
    rows.append(("linear f16 w via F.linear", first, ms, flops, None))
    return rows


def build_model(folder: Path, dry_run: bool):
    if dry_run:  # a tiny random model of the same family, from the parity tests
        from training.reference_models import build_reference, save_reference
        model = build_reference("vit_learned_gelu_tied")
        save_reference(model, folder)
        return model
    from benchmarks.trocr_vs_torch import build_small
    return build_small(folder)


def trocr_rows(args, torch, torch_cuda: bool):
    import numpy as np
    from numba import cuda

    from ocr import TrOCRModel

    tmp = Path(tempfile.mkdtemp())
    ref = build_model(tmp, args.dry_run)
    gpu = TrOCRModel.from_pretrained(tmp, device="cuda")
    cpu = TrOCRModel.from_pretrained(tmp, device="cpu")
    rng = np.random.default_rng(0)
    rows = []
    size = tuple(gpu.config.encoder.image_size)
    for batch in ((1,) if args.dry_run else (1, 8)):
        pv = rng.standard_normal((batch, 3) + size).astype(np.float32)
        first, g_ms = first_and_median_ms(lambda pv=pv: gpu.encode(pv), args.repeat, cuda.synchronize)
        few = max(1, args.repeat // 5)
        _, c_ms = first_and_median_ms(lambda pv=pv: cpu.encode(pv).numpy(), few, lambda: None)
        t_gpu = None
        with torch.no_grad():
            tpv = torch.from_numpy(pv)
            t_cpu = first_and_median_ms(lambda tpv=tpv: ref.encoder(pixel_values=tpv), few, lambda: None)[1]
            if torch_cuda:
                ref.to("cuda")
                tpv = tpv.to("cuda")
                t_gpu = first_and_median_ms(lambda tpv=tpv: ref.encoder(pixel_values=tpv), args.repeat,
                                 torch.cuda.synchronize)[1]
                ref.to("cpu")
        got = gpu.encode(pv).numpy()
        want = cpu.encode(pv).numpy()
        err = float(np.abs(got - want).max())
        rows.append((batch, first, g_ms, c_ms, t_gpu, t_cpu, err))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--sizes", default="512,1024,2048,4096")
    ap.add_argument("--peak-tflops", type=float, default=None,
                    help="the card's FP32 peak, if the computed one is off")
    ap.add_argument("--no-trocr", action="store_true")
    ap.add_argument("--dry-run", action="store_true",
                    help="check the script on numba's CUDA simulator (tiny shapes)")
    args = ap.parse_args(argv)
    args.sizes = [int(s) for s in args.sizes.split(",") if s]

    simulated = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
    if simulated != args.dry_run:
        print("--dry-run goes with NUMBA_ENABLE_CUDASIM=1 (the simulator is not a GPU), and "
              "a real run without it")
        return 2
    if args.dry_run:
        args.sizes, args.repeat = [16], 1
        sys.setswitchinterval(2e-4)  # the simulator's thread polling otherwise dominates
    from numba import cuda
    if not cuda.is_available():
        print("no NVIDIA GPU usable by numba.cuda here: nothing to time "
              "(the CUDA backend is tested on the simulator: tests/engine_cuda)")
        return 2
    try:
        import torch
    except ImportError:
        torch = None
    torch_cuda = bool(torch is not None and torch.cuda.is_available())

    name, cc, sms, clock, peak = card_info(args.peak_tflops)
    peak_txt = f"{peak:.1f} TFLOP/s FP32" if peak else "unknown FP32 peak (pass --peak-tflops)"
    print(f"GPU: {name}  sm_{cc[0]}{cc[1]}  {sms} SMs @ {clock:.2f} GHz  peak {peak_txt}")
    print(f"PyTorch: {torch.__version__ + (' (cuda)' if torch_cuda else ' (cpu only)') if torch else 'absent'}")
    print(f"repeat={args.repeat} (median ms; 'first' includes numba compilation)\n")

    print(f"{'GEMM':36} {'first':>9} {'ms':>9} {'GFLOP/s':>9} {'of peak':>8} {'torch ms':>9} "
          f"{'eng/torch':>9}")
    for label, first, ms, flops, torch_ms in gemm_rows(args, torch, torch_cuda):
        gflops = flops / ms / 1e6
        frac = f"{gflops / (peak * 1000):8.1%}" if peak else f"{'-':>8}"
        tcol = f"{torch_ms:9.3f} {ms / torch_ms:9.2f}" if torch_ms else f"{'-':>9} {'-':>9}"
        print(f"{label:36} {first:9.1f} {ms:9.3f} {gflops:9.0f} {frac} {tcol}")

    if not args.no_trocr:
        if torch is None:
            print("\nTrOCR encoder: needs torch + transformers to write the model folder")
            return 0
        print(f"\n{'TrOCR encoder (trocr-small shape)':36} {'first':>9} {'cuda ms':>9} "
              f"{'cpu ms':>9} {'cpu/cuda':>9} {'torch-cuda':>10} {'eng/t-cuda':>10} "
              f"{'torch-cpu':>9} {'max|cuda-cpu|':>13}")
        for batch, first, g_ms, c_ms, t_gpu, t_cpu, err in trocr_rows(args, torch, torch_cuda):
            tg = f"{t_gpu:10.1f} {g_ms / t_gpu:10.2f}" if t_gpu else f"{'-':>10} {'-':>10}"
            print(f"{'batch ' + str(batch):36} {first:9.0f} {g_ms:9.1f} {c_ms:9.1f} "
                  f"{c_ms / g_ms:9.2f} {tg} {t_cpu:9.1f} {err:13.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
