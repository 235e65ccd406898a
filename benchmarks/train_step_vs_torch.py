"""One training step of the embedded recogniser: the engine against PyTorch on the CPU.

    python3 -m benchmarks.train_step_vs_torch [--threads 2] [--batch 8] [--steps 5] [--top]

Same model (resources/models/tablescribe-cells, f32 master weights), same batch of
rendered cells and labels, same frozen parameters (by default those `model tune`
trains: the encoder; --top: the decoder and the last two encoder blocks only), same threads (NUMBA_NUM_THREADS / BLAS
threads for the engine, torch.set_num_threads for PyTorch). A step is forward,
cross-entropy, backward and AdamW. Both models run without dropout (PyTorch in eval
mode), so the maths is the same; the first losses are printed side by side as a check.
Prints the median (and best) seconds per step over --steps after 2 warm-up steps, and
the ratios.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

_ENCODER_RENAMES = (("attention.q_proj.", "attention.attention.query."),
                    ("attention.k_proj.", "attention.attention.key."),
                    ("attention.v_proj.", "attention.attention.value."),
                    ("attention.o_proj.", "attention.output.dense."),
                    ("mlp.fc1.", "intermediate.dense."), ("mlp.fc2.", "output.dense."))


def our_name(torch_name: str) -> str:
    """transformers 5 renames ViT modules in memory (the files keep the old names):
    the name our model (and the model file) gives the same parameter."""
    import re

    m = re.match(r"encoder\.layers\.(\d+)\.(.*)", torch_name)
    if not m:
        return torch_name
    rest = m.group(2)
    for old, new in _ENCODER_RENAMES:
        if rest.startswith(old):
            rest = new + rest[len(old):]
    return f"encoder.encoder.layer.{m.group(1)}.{rest}"


def _args(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--top", action="store_true",
                    help="train the decoder and the last two encoder blocks only")
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = _args(argv)
    for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)  # before numpy/numba/torch are imported
    import fnmatch
    import statistics

    import torch
    from transformers import VisionEncoderDecoderModel

    import engine
    import engine.functional as F
    from benchmarks.ocr_accuracy import heldout_crops
    from engine.optim import AdamW
    from ocr import DEFAULT_MODEL_DIR, Recognizer
    from ocr.finetune import (
        DECODER_AND_TOP,
        DEFAULT_TRAINABLE,
        IGNORE,
        expand_patterns,
        freeze,
        label_arrays,
    )
    from ocr.preprocess import pixel_values

    torch.set_num_threads(args.threads)
    crops, texts = heldout_crops(args.batch * 3)
    pairs = [(c, t) for c, t in zip(crops, texts) if t and "\n" not in t][: args.batch]
    rec = Recognizer(second_look=False)
    cfg = rec.model.config
    pv = pixel_values([c for c, _ in pairs], rec.preprocess)
    inputs, labels = label_arrays(rec.tokenizer, [t for _, t in pairs], cfg.decoder_start_token_id,
                                  cfg.eos_token_id, cfg.pad_token_id)
    patterns = list(DECODER_AND_TOP if args.top else DEFAULT_TRAINABLE)

    # --- engine
    model = rec.model
    trainable = freeze(model, patterns)
    opt = AdamW([p for _, p in trainable], lr=1e-4)
    target = engine.tensor(labels, dtype=engine.i64)
    model.train()

    def engine_step() -> float:
        opt.zero_grad()
        loss = F.cross_entropy(model.logits(pv, inputs), target, ignore_index=IGNORE)
        loss.backward()
        opt.step()
        return float(loss.item())

    # --- PyTorch
    ref = VisionEncoderDecoderModel.from_pretrained(str(DEFAULT_MODEL_DIR), torch_dtype=torch.float32)
    ref.eval()  # no dropout: the same maths as the engine's model
    pats = expand_patterns(patterns, cfg.encoder.num_layers)
    ours = dict(model.named_parameters())
    params = []
    for name, p in ref.named_parameters():
        mine = our_name(name)
        if "pooler" not in name and tuple(ours[mine].shape) != tuple(p.shape):
            raise SystemExit(f"{name} -> {mine}: shapes differ")
        p.requires_grad_(any(fnmatch.fnmatchcase(mine, q) for q in pats) and "pooler" not in name)
        if p.requires_grad:
            params.append(p)
    n_ours = sum(p.numel() for _, p in trainable)
    topt = torch.optim.AdamW(params, lr=1e-4)
    tpv, tin, tlab = torch.from_numpy(pv), torch.from_numpy(inputs), torch.from_numpy(labels)

    def torch_step() -> float:
        topt.zero_grad()
        logits = ref(pixel_values=tpv, decoder_input_ids=tin).logits
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                                 tlab.reshape(-1), ignore_index=IGNORE)
        loss.backward()
        topt.step()
        return float(loss.item())

    first = {}
    times = {}
    for name, step in (("engine", engine_step), ("pytorch", torch_step)):
        first[name] = step()
        step()
        ts = []
        for _ in range(args.steps):
            t = time.perf_counter()
            step()
            ts.append(time.perf_counter() - t)
        times[name] = statistics.median(ts)
        times[name + "-best"] = min(ts)
    n_train = sum(p.numel() for p in params)
    assert n_train == n_ours, (n_train, n_ours)  # the same parameters are trained
    print(f"batch {args.batch} (decoder length {inputs.shape[1]}), {args.threads} threads, "
          f"{n_train / 1e6:.2f}M trainable parameters ({'decoder + last two encoder blocks' if args.top else 'the model tune default: ' + ', '.join(patterns)})")
    print(f"first-step loss: engine {first['engine']:.5f}, pytorch {first['pytorch']:.5f}")
    print(f"seconds per step (median of {args.steps}): engine {times['engine']:.3f}, "
          f"pytorch {times['pytorch']:.3f}, ratio {times['engine'] / times['pytorch']:.2f}x")
    print(f"best step: engine {times['engine-best']:.3f}, pytorch {times['pytorch-best']:.3f}, "
          f"ratio {times['engine-best'] / times['pytorch-best']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
