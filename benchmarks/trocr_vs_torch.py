"""TrOCR speed: the engine against transformers on PyTorch CPU (and ONNX Runtime).

    python benchmarks/trocr_vs_torch.py [--threads 2] [--repeat 5]

A trocr-small-shaped model with random weights (DeiT 384x384 encoder, 12 x 384;
TrOCR decoder 6 x 256; vocabulary 64044), written as a model folder by transformers
and loaded by the engine from that folder. Times, in one run with the same thread
count: encoder forward at batch 1 and 8, greedy generation of exactly 16 tokens at
batch 1 and 8 (encoder included), and the encoder under ONNX Runtime (exported with
torch.onnx.export, intra-op threads = --threads). Prints medians and the ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def build_small(folder: Path):
    import torch
    from transformers import (DeiTConfig, DeiTModel, TrOCRConfig, TrOCRForCausalLM,
                              VisionEncoderDecoderConfig, VisionEncoderDecoderModel)

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
    fn()  # warm-up (numba compilation, allocator)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-ort", action="store_true")
    args = ap.parse_args(argv)

    os.environ["NUMBA_NUM_THREADS"] = str(args.threads)
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    import numba

    numba.set_num_threads(args.threads)
    from ocr import TrOCRModel, greedy

    tmp = Path(tempfile.mkdtemp())
    ref = build_small(tmp)
    ours = TrOCRModel.from_pretrained(tmp)
    rng = np.random.default_rng(0)
    rows = []
    for batch in (1, 8):
        pv = rng.standard_normal((batch, 3, 384, 384)).astype(np.float32)
        tpv = torch.from_numpy(pv)

        def torch_enc():
            with torch.no_grad():
                ref.encoder(pixel_values=tpv)

        def ours_enc():
            ours.encode(pv).numpy()

        def torch_gen():
            with torch.no_grad():
                ref.generate(pixel_values=tpv, max_new_tokens=16, min_new_tokens=16, num_beams=1,
                             do_sample=False)

        def ours_gen():
            greedy(ours.session(ours.encode(pv)), batch, 2, -1, 16)  # eos -1: exactly 16 tokens

        t_enc, o_enc = median_ms(torch_enc, args.repeat), median_ms(ours_enc, args.repeat)
        t_gen, o_gen = median_ms(torch_gen, args.repeat), median_ms(ours_gen, args.repeat)
        ort_enc = None
        if not args.no_ort:
            try:
                import onnxruntime as ort

                onnx_path = tmp / f"encoder_b{batch}.onnx"
                torch.onnx.export(ref.encoder, (tpv,), str(onnx_path), input_names=["pixel_values"],
                                  output_names=["last_hidden_state"], dynamo=False, opset_version=17)
                so = ort.SessionOptions()
                so.intra_op_num_threads = args.threads
                so.inter_op_num_threads = 1
                sess = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
                ort_enc = median_ms(lambda: sess.run(None, {"pixel_values": pv}), args.repeat)
            except Exception as exc:  # the ORT column is informative, not required
                print(f"(ONNX Runtime skipped: {exc})")
        rows.append((f"encoder b={batch}", o_enc, t_enc, ort_enc))
        rows.append((f"greedy 16 tok b={batch}", o_gen, t_gen, None))

    print(f"threads={args.threads}  torch {torch.__version__}  repeat={args.repeat} (median ms)")
    print(f"{'case':22} {'engine':>9} {'torch':>9} {'eng/torch':>9} {'ORT':>9} {'eng/ORT':>8}")
    for name, o, t, r in rows:
        ort_cols = f"{r:9.1f} {o / r:8.2f}" if r else f"{'-':>9} {'-':>8}"
        print(f"{name:22} {o:9.1f} {t:9.1f} {o / t:9.2f} {ort_cols}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
