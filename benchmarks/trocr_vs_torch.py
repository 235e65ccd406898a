"""TrOCR speed: the engine against transformers on PyTorch CPU (and ONNX Runtime).

    python3 -m benchmarks.trocr_vs_torch [--threads 2] [--repeat 5] [--blas auto|openblas|mkl]

A trocr-small-shaped model with random weights (DeiT 384x384 encoder, 12 x 384;
TrOCR decoder 6 x 256; vocabulary 64044), written as a model folder by transformers
and loaded by the engine from that folder. Times, in one run with the same thread
count: encoder forward at batch 1 and 8, greedy generation of exactly 16 tokens at
batch 1 and 8 (encoder included), and the encoder under ONNX Runtime (exported with
torch.onnx.export, intra-op threads = --threads). Each side runs in a fresh process,
the sides alternate --rounds times, and every case keeps its best median. The
header names the CPU and the GEMM library each side runs (benchmarks.machine).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.scoring import median_ms as _median_ms

REPO = Path(__file__).resolve().parent.parent
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def build_small(folder: Path):
    import torch
    from transformers import (
        DeiTConfig,
        DeiTModel,
        TrOCRConfig,
        TrOCRForCausalLM,
        VisionEncoderDecoderConfig,
        VisionEncoderDecoderModel,
    )

    torch.manual_seed(0)
    enc_cfg = DeiTConfig(hidden_size=384, num_hidden_layers=12, num_attention_heads=6,
                         intermediate_size=1536, image_size=384, patch_size=16, qkv_bias=True)
    dec_cfg = TrOCRConfig(vocab_size=64044, d_model=256, decoder_layers=6, decoder_attention_heads=8,
                          decoder_ffn_dim=1024, activation_function="relu", max_position_embeddings=512,
                          scale_embedding=True, use_learned_position_embeddings=True,
                          layernorm_embedding=True, cross_attention_hidden_size=384,
                          tie_word_embeddings=False, pad_token_id=1, bos_token_id=0, eos_token_id=2,
                          decoder_start_token_id=2, dropout=0.0, attention_dropout=0.0)
    cfg = VisionEncoderDecoderConfig.from_encoder_decoder_configs(enc_cfg, dec_cfg)
    cfg.decoder_start_token_id, cfg.pad_token_id, cfg.eos_token_id = 2, 1, 2
    model = VisionEncoderDecoderModel(config=cfg, encoder=DeiTModel(enc_cfg, add_pooling_layer=False),
                                      decoder=TrOCRForCausalLM(dec_cfg)).eval()
    model.save_pretrained(folder)
    return model


def median_ms(fn, repeat: int) -> float:
    return _median_ms(fn, repeat, warmup=1)  # warm-up: numba compilation, allocator


def time_side(side: str, folder: Path, threads: int, repeat: int) -> dict:
    """Median ms of each case for one side, in this (fresh) process."""
    import numpy as np

    rng = np.random.default_rng(0)
    inputs = {batch: rng.standard_normal((batch, 3, 384, 384)).astype(np.float32) for batch in (1, 8)}
    out = {}
    if side == "engine":
        from ocr import TrOCRModel, greedy  # numba's thread count: NUMBA_NUM_THREADS from run_side

        ours = TrOCRModel.from_pretrained(folder)
        for batch, pv in inputs.items():
            out[f"encoder b={batch}"] = median_ms(lambda pv=pv: ours.encode(pv).numpy(), repeat)
            # eos -1: exactly 16 tokens, encoder included
            out[f"greedy 16 tok b={batch}"] = median_ms(
                lambda pv=pv, batch=batch: greedy(ours.session(ours.encode(pv)), batch, 2, -1, 16),
                repeat)
        from benchmarks.machine import engine_microkernel
        from engine.backend.cpu import gemm

        out["_engine_gemm"] = f"{gemm.describe()}; {engine_microkernel()}"
        return out
    import torch

    torch.set_num_threads(threads)
    from transformers import VisionEncoderDecoderModel

    ref = VisionEncoderDecoderModel.from_pretrained(folder).eval()
    for batch, pv in inputs.items():
        tpv = torch.from_numpy(pv)
        if side == "torch":
            def enc(tpv=tpv):
                with torch.no_grad():
                    ref.encoder(pixel_values=tpv)

            def gen(tpv=tpv):
                with torch.no_grad():
                    ref.generate(pixel_values=tpv, max_new_tokens=16, min_new_tokens=16,
                                 num_beams=1, do_sample=False)

            out[f"encoder b={batch}"] = median_ms(enc, repeat)
            out[f"greedy 16 tok b={batch}"] = median_ms(gen, repeat)
        else:  # ort: the encoder exported with torch.onnx.export
            import onnxruntime as ort

            onnx_path = folder / f"encoder_b{batch}.onnx"
            torch.onnx.export(ref.encoder, (tpv,), str(onnx_path), input_names=["pixel_values"],
                              output_names=["last_hidden_state"], dynamo=False, opset_version=17)
            so = ort.SessionOptions()
            so.intra_op_num_threads = threads
            so.inter_op_num_threads = 1
            sess = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
            out[f"encoder b={batch}"] = median_ms(lambda sess=sess, pv=pv: sess.run(None, {"pixel_values": pv}),
                                                repeat)
            # ORT's own reduced precision: int8 weights, activations quantised per call
            from onnxruntime.quantization import QuantType, quantize_dynamic

            int8_path = folder / f"encoder_b{batch}_int8.onnx"
            quantize_dynamic(str(onnx_path), str(int8_path), weight_type=QuantType.QInt8)
            sess8 = ort.InferenceSession(str(int8_path), so, providers=["CPUExecutionProvider"])
            out[f"int8 encoder b={batch}"] = median_ms(
                lambda sess8=sess8, pv=pv: sess8.run(None, {"pixel_values": pv}), repeat)
            out["_ort"] = (f"onnxruntime {ort.__version__}: its own MLAS GEMM, {threads} intra-op threads; "
                           "ORT-i8: quantize_dynamic (int8 weights, activations quantised per call)")
    return out


def run_side(side: str, folder: Path, args) -> dict:
    """One side in a fresh process: the thread pools of PyTorch (libgomp), numba and
    OpenBLAS keep spinning after their work, and in one shared process each side
    would be timed while the other's idle threads still hold the cores."""
    env = dict(os.environ, NUMBA_NUM_THREADS=str(args.threads), OMP_NUM_THREADS=str(args.threads))
    if args.blas:
        env["TABLESCRIBE_BLAS"] = args.blas
    if args.precision:
        env["TABLESCRIBE_PRECISION"] = args.precision
    cmd = [sys.executable, "-m", "benchmarks.trocr_vs_torch", "--side", side, "--folder", str(folder),
           "--threads", str(args.threads), "--repeat", str(args.repeat)]
    proc = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{side} side failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2,
                    help="alternate the sides this many times; each case keeps its best median")
    ap.add_argument("--no-ort", action="store_true")
    ap.add_argument("--blas", choices=["auto", "openblas", "mkl"],
                    help="the engine's GEMM library (default: $TABLESCRIBE_BLAS, else auto)")
    ap.add_argument("--precision", choices=["auto", "fp32", "bf16"],
                    help="the engine's packed weights (default: $TABLESCRIBE_PRECISION, else auto: "
                         "bfloat16 where the CPU has AVX512-BF16); the header says which ran")
    ap.add_argument("--side", choices=["engine", "torch", "ort"], help=argparse.SUPPRESS)
    ap.add_argument("--folder", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.side:
        print(json.dumps(time_side(args.side, Path(args.folder), args.threads, args.repeat)))
        return 0

    import torch

    folder = Path(tempfile.mkdtemp())
    build_small(folder)
    sides = ["engine", "torch"] + ([] if args.no_ort else ["ort"])
    best: dict[str, dict[str, float]] = {side: {} for side in sides}
    notes: dict[str, str] = {}
    for _ in range(args.rounds):
        for side in sides:
            try:
                times = run_side(side, folder, args)
            except RuntimeError as exc:
                if side != "ort":
                    raise
                print(f"(ONNX Runtime skipped: {exc})")  # the ORT column is informative
                continue
            for case, ms in times.items():
                if case.startswith("_"):  # a note on what the side ran, not a time
                    notes[case] = ms
                    continue
                best[side][case] = min(ms, best[side].get(case, float("inf")))

    import numpy  # noqa: F401 - loaded, so threadpoolctl lists numpy's BLAS

    from benchmarks.machine import cpu_summary, pools, torch_blas

    torch.set_num_threads(args.threads)
    print(f"CPU: {cpu_summary()}")
    print(f"engine GEMM: {notes.get('_engine_gemm', '?')}")
    print(torch_blas())
    if "_ort" in notes:
        print(notes["_ort"])
    for line in pools():
        print(f"  loaded here: {line}")
    print(f"threads={args.threads}  torch {torch.__version__}  repeat={args.repeat}  "
          f"rounds={args.rounds} (best median ms; each side in its own process)")
    print(f"{'case':22} {'engine':>9} {'torch':>9} {'eng/torch':>9} {'ORT':>9} {'eng/ORT':>8} "
          f"{'ORT-i8':>9} {'eng/i8':>7}")
    for case, o in best["engine"].items():
        t = best["torch"][case]
        cols = []
        for key, width in ((case, 8), (f"int8 {case}", 7)):
            r = best.get("ort", {}).get(key)
            cols.append(f"{r:9.1f} {o / r:{width}.2f}" if r else f"{'-':>9} {'-':>{width}}")
        print(f"{case:22} {o:9.1f} {t:9.1f} {o / t:9.2f} {' '.join(cols)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
