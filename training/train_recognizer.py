"""Train the embedded cell recogniser (TrOCR layout) with PyTorch + transformers.

Training tooling only (extra `train`); the application never imports this module.
The run writes checkpoints to --workdir (keep it outside the checkout) and resumes
from the newest one, so it can be stopped and started across sessions:

    python -m training.train_recognizer --workdir ~/.cache/tablescribe-train

`python -m training.export_model` turns a checkpoint into the shipped model folder.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from ocr.metrics import char_errors
from ocr.preprocess import PreprocessConfig, pixel_values
from training.cells import CellGenerator, char_tokenizer, focus_text
from training.charset_tokenizer import EOS_ID, PAD_ID, UNK_ID
from training.patch_resize import resize_patches
from training.vocab_grow import grow_vocab

# The architecture of the shipped model: a ViT encoder over a strip twelve times as
# wide as high cut into full-height patches a quarter as wide (48 tokens), and a small
# TrOCR decoder over characters. Only the strip's height changed between versions (32
# px up to step 29250, then 48: diacritics are a few pixels at 32), and with it the
# patch size, so the encoder's cost stays the same; a checkpoint records its shape.
# The recogniser reads lines wider than SPLIT_ASPECT (width / height, after trimming)
# in pieces cut at word spaces: the strip would squeeze them (held-out 300 at step
# 18000: CER 2.31% -> 1.49%, exact 89.7% -> 92.0% with 7; 5 starts cutting numbers).
SPLIT_ASPECT = 7.0
LEGACY_HEIGHT = 32  # checkpoints that do not record their shape
IMAGE_HEIGHT = 48


def model_shape(height: int = IMAGE_HEIGHT) -> dict:
    if height % 4:
        raise ValueError(f"the strip height must be a multiple of 4, not {height}")
    return dict(
        image_height=height, image_width=12 * height, patch_h=height, patch_w=height // 4,
        enc_dim=256, enc_layers=4, enc_heads=4, enc_ffn=1024,
        dec_dim=256, dec_layers=3, dec_heads=4, dec_ffn=1024,
        max_len=48,
    )


MODEL_SHAPE = model_shape()


def checkpoint_shape(ckpt: dict) -> dict:
    return ckpt.get("shape") or model_shape(LEGACY_HEIGHT)


def preprocess_config(shape: dict | None = None) -> PreprocessConfig:
    s = shape or MODEL_SHAPE
    return PreprocessConfig(
        height=s["image_height"], width=s["image_width"], resample=2,
        image_mean=(0.5, 0.5, 0.5), image_std=(0.5, 0.5, 0.5), keep_aspect_ratio=True,
        trim_margins=True, split_aspect=SPLIT_ASPECT,
    )


def build_model(vocab_size: int, shape: dict | None = None):
    from transformers import (
        TrOCRConfig,
        TrOCRForCausalLM,
        VisionEncoderDecoderConfig,
        VisionEncoderDecoderModel,
        ViTConfig,
        ViTModel,
    )

    s = shape or MODEL_SHAPE
    enc_cfg = ViTConfig(
        hidden_size=s["enc_dim"], num_hidden_layers=s["enc_layers"],
        num_attention_heads=s["enc_heads"], intermediate_size=s["enc_ffn"],
        image_size=[s["image_height"], s["image_width"]], patch_size=[s["patch_h"], s["patch_w"]],
        num_channels=3, qkv_bias=True, hidden_act="gelu", layer_norm_eps=1e-12,
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
    )
    dec_cfg = TrOCRConfig(
        vocab_size=vocab_size, d_model=s["dec_dim"], decoder_layers=s["dec_layers"],
        decoder_attention_heads=s["dec_heads"], decoder_ffn_dim=s["dec_ffn"],
        activation_function="gelu", max_position_embeddings=s["max_len"] + 4,
        dropout=0.1, attention_dropout=0.0, activation_dropout=0.0,
        scale_embedding=True, use_learned_position_embeddings=True, layernorm_embedding=True,
        tie_word_embeddings=True, cross_attention_hidden_size=s["enc_dim"],
        pad_token_id=PAD_ID, bos_token_id=0, eos_token_id=EOS_ID, decoder_start_token_id=EOS_ID,
        is_decoder=True, add_cross_attention=True,
    )
    cfg = VisionEncoderDecoderConfig.from_encoder_decoder_configs(enc_cfg, dec_cfg)
    cfg.decoder_start_token_id = EOS_ID
    cfg.pad_token_id = PAD_ID
    cfg.eos_token_id = EOS_ID
    cfg.tie_word_embeddings = False
    encoder = ViTModel(enc_cfg, add_pooling_layer=False)
    decoder = TrOCRForCausalLM(dec_cfg)
    return VisionEncoderDecoderModel(config=cfg, encoder=encoder, decoder=decoder)


class CellStream(IterableDataset):
    """Endless batches of rendered cells, starting at a given sample index (for resume).

    With several loader workers, worker w renders batches w, w + W, w + 2W ... and the
    loader hands them out in turn, so the sample order is the same for any worker count.
    Pixels travel as one channel (the crops are grey: the three are equal); the training
    loop widens them to the model's three on the device, a third of the copying.
    """

    def __init__(self, seed: int, start: int, batch: int, shape: dict, focus: float = 0.0,
                 printed: list | None = None, printed_share: float = 0.0):
        self.seed, self.start, self.batch, self.focus = seed, start, batch, focus
        self.printed, self.printed_share = printed or [], printed_share
        self.tokenizer = char_tokenizer()
        self.pre = preprocess_config(shape)
        self.max_len = shape["max_len"]

    def __iter__(self):
        gen = CellGenerator(self.seed, "train")
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        i = self.start + worker * self.batch
        max_len = self.max_len
        while True:
            cells = [self.sample(gen, i + k) for k in range(self.batch)]
            i += self.batch * workers
            images = [c.image for c in cells]
            ids = [self.tokenizer.encode(c.text).ids[1:][: max_len] for c in cells]  # drop <s>
            ids = [x if x[-1] == EOS_ID else x[:-1] + [EOS_ID] for x in ids]
            width = max(len(x) for x in ids)
            labels = np.full((len(ids), width), -100, dtype=np.int64)
            for r, x in enumerate(ids):
                labels[r, : len(x)] = x
            grey = pixel_values(images, self.pre)[:, :1]
            yield torch.from_numpy(np.ascontiguousarray(grey)), torch.from_numpy(labels)

    def sample(self, gen: CellGenerator, index: int):
        """Sample ``index``: for a ``printed_share`` of them a cell cut from office print
        (training/printed_cells.py), otherwise the generator's."""
        if self.printed:
            rng = random.Random(hash((self.seed, 3_000_017, index)) & 0xFFFFFFFFFFFF)
            if rng.random() < self.printed_share:
                return self.printed[rng.randrange(len(self.printed))]
        return gen.sample(index, self.focus_text_for(index))

    def focus_text_for(self, index: int) -> str | None:
        """For a ``focus`` fraction of the samples, text from ``focus_text`` (the
        confusions left); None lets the generator draw its usual mix."""
        if not self.focus:
            return None
        rng = random.Random(hash((self.seed, 2_000_003, index)) & 0xFFFFFFFFFFFF)
        return focus_text(rng) if rng.random() < self.focus else None


class CTCHead(torch.nn.Module):
    """Auxiliary CTC classifier over the encoder's patch tokens (training only).

    Reading a line left to right is what the encoder must learn; a CTC loss on its
    patch tokens teaches that directly and far sooner than the decoder's
    cross-attention alone (joint CTC-attention training). The head is not exported:
    the shipped model is a plain TrOCR.
    """

    def __init__(self, dim: int, vocab: int):
        super().__init__()
        self.proj = torch.nn.Linear(dim, vocab)

    def loss(self, encoder_states: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """``labels`` on the CPU (read row by row), the states on any device."""
        logp = self.proj(encoder_states[:, 1:]).log_softmax(-1).transpose(0, 1)  # (T, B, V)
        targets, lengths = [], []
        for row in labels.tolist():
            chars = [t for t in row if t > UNK_ID]  # text characters only
            targets.extend(chars)
            lengths.append(len(chars))
        device = logp.device
        t_len = torch.full((labels.shape[0],), logp.shape[0], dtype=torch.long, device=device)
        return torch.nn.functional.ctc_loss(
            logp, torch.tensor(targets, dtype=torch.long, device=device), t_len,
            torch.tensor(lengths, device=device), blank=PAD_ID, zero_infinity=True)


VALIDATION_MIXES = ("scan", "lowres")


def validation_sets(n: int, seed: int = 8) -> dict:
    """The validation draw: cells in the validation font families (never trained on,
    never benchmarked), scan-like and low-resolution, ``n`` of each. Every choice of a
    run (best.pt, which snapshots to average) is made on it, never on the benchmark's
    held-out families."""
    sets = {}
    for mix in VALIDATION_MIXES:
        gen = CellGenerator(seed, "validation", mix)
        sets[mix] = [gen.sample(i) for i in range(n)]
    return sets


def evaluate_sets(model, sets: dict, tokenizer, pre, device: str = "cpu") -> dict:
    """``evaluate`` on each validation set, and their mean CER and exact-match."""
    out = {name: evaluate(model, cells, tokenizer, pre, device=device) for name, cells in sets.items()}
    out["cer"] = sum(m["cer"] for m in out.values()) / len(sets)
    out["exact"] = sum(out[name]["exact"] for name in sets) / len(sets)
    return out


@torch.no_grad()
def evaluate(model, cells, tokenizer, pre, batch: int = 64, device: str = "cpu") -> dict:
    model.eval()
    dist = total = exact = 0
    for b in range(0, len(cells), batch):
        chunk = cells[b : b + batch]
        pv = torch.from_numpy(pixel_values([c.image for c in chunk], pre)).to(device)
        out = model.generate(pv, max_new_tokens=MODEL_SHAPE["max_len"], num_beams=1,
                             do_sample=False)
        for seq, cell in zip(out.tolist(), chunk):
            text = tokenizer.decode([t for t in seq if t > 3])
            d, n = char_errors(text, cell.text)  # the benchmarks' CER (ocr.metrics)
            dist += d
            total += n
            exact += text == cell.text
    model.train()
    return {"cer": dist / max(total, 1), "exact": exact / len(cells)}


def printed_training_cells(folder: Path, tokenizer) -> list:
    """The crops of a corrections-format folder whose text the vocabulary spells, as
    samples with .image and .text; those it cannot are counted and left out."""
    from app.corrections import read_corrections
    from training.printed_cells import PrintedCell

    found = read_corrections(folder)
    vocab = tokenizer.get_vocab()
    cells = [PrintedCell(np.asarray(im.convert("L")), text)
             for im, text in zip(found.images, found.texts) if all(ch in vocab for ch in text)]
    print(f"printed cells: {len(cells)} of {len(found)} from {folder} "
          f"({len(found) - len(cells)} outside the vocabulary, {len(found.skipped)} unreadable)",
          flush=True)
    return cells


def lr_at(step: int, base: float, warmup: int, total: int, start: int = 0,
          progress: float | None = None) -> float:
    """Warm-up then cosine down to 5 % of ``base`` at step ``total``, for a schedule
    begun at step ``start`` (a run initialised from another's checkpoint). A run on a
    wall-clock budget passes its ``progress`` (the fraction of the time spent) instead:
    it cannot know how many steps it will make."""
    step, total = step - start, total - start
    if step < warmup:
        return base * (step + 1) / warmup
    if progress is None:
        progress = (step - warmup) / max(1, total - warmup)
    progress = min(1.0, progress)
    return base * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))


def initial_state(source: str, height: int, vocab_size: int = 0) -> dict:
    """Weights (and step, samples, CTC head where known) to begin a run from: a training
    checkpoint or a shipped model folder, its patch embedding resized to ``height`` and
    its vocabulary grown to ``vocab_size`` (rows appended, no id moved) when smaller."""
    if os.path.isdir(source):
        from transformers import VisionEncoderDecoderModel

        shipped = VisionEncoderDecoderModel.from_pretrained(source).float()
        size = shipped.config.encoder.image_size  # an int for square images, else (h, w)
        shipped_height = size[0] if isinstance(size, (list, tuple)) else size
        # from_pretrained gives the ViT a pooler that build_model's encoder has not got
        weights = {k: v for k, v in shipped.state_dict().items()
                   if not k.startswith("encoder.pooler.")}
        state = {"model": weights, "shape": model_shape(int(shipped_height))}
    else:
        state = torch.load(source, map_location="cpu", weights_only=True)
    target = model_shape(height)
    if checkpoint_shape(state)["image_height"] != height:
        state = {**state, "model": resize_patches(state["model"],
                                                 (target["patch_h"], target["patch_w"]))}
    state.pop("optimizer", None)  # moments of other shapes, another schedule's
    if vocab_size and _vocab_of(state) != vocab_size:
        state.pop("ctc_head", None)  # a classifier over the old vocabulary
        state = {**state, "model": grow_vocab(state["model"], vocab_size)}
    return {**state, "shape": target}


def _vocab_of(state: dict) -> int:
    return int(state["model"]["decoder.model.decoder.embed_tokens.weight"].shape[0])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--workdir", default=os.path.expanduser("~/.cache/tablescribe-train"))
    ap.add_argument("--steps", type=int, default=30000, help="total steps of the schedule")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--ctc-weight", type=float, default=0.5,
                    help="weight of the auxiliary CTC loss on the encoder (0 turns it off)")
    ap.add_argument("--lr", type=float, default=6e-4)
    ap.add_argument("--warmup", type=int, default=800)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--init-from", default=None,
                    help="a model folder (e.g. the shipped resources/models/tablescribe-cells) or "
                         "a training checkpoint (.pt) to start from when --workdir has no "
                         "checkpoint yet; the run's schedule starts at its step")
    ap.add_argument("--image-height", type=int, default=IMAGE_HEIGHT,
                    help="strip height of a new run; a model initialised at another height "
                         "has its patch embedding resized (training/patch_resize.py)")
    ap.add_argument("--device", default="cpu", help="cpu, or cuda where PyTorch sees a GPU")
    ap.add_argument("--workers", type=int, default=1,
                    help="processes rendering cells (the bottleneck of a GPU run)")
    ap.add_argument("--time-budget", type=float, default=0,
                    help="seconds of training: the run stops then, its cosine schedule spread "
                         "over that time instead of --steps (for a machine lent for minutes)")
    ap.add_argument("--focus", type=float, default=0.0,
                    help="fraction of training cells drawn from training.cells.focus_text "
                         "(diacritics, lone letters, look-alike codes) instead of the usual mix")
    ap.add_argument("--printed", type=Path, default=None,
                    help="a folder of cells cut from office print (training/printed_cells.py; "
                         "PNG crops + labels.jsonl)")
    ap.add_argument("--printed-share", type=float, default=0.25,
                    help="fraction of training cells drawn from --printed")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--save-every", type=int, default=250)
    ap.add_argument("--eval-every", type=int, default=1000)
    ap.add_argument("--eval-size", type=int, default=300,
                    help="validation cells of each mix (scan-like, low-resolution)")
    ap.add_argument("--eval-first", action="store_true",
                    help="evaluate the starting weights before the first step (a baseline)")
    ap.add_argument("--snapshot-every", type=int, default=0,
                    help="also keep the weights every N steps as snap-<step>.pt, for "
                         "averaging the last few (several --checkpoint to training.export_model)")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    if args.device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    torch.manual_seed(args.seed)
    os.makedirs(args.workdir, exist_ok=True)
    tokenizer = char_tokenizer()
    ckpt_path = os.path.join(args.workdir, "last.pt")
    resume = os.path.exists(ckpt_path)
    start = (torch.load(ckpt_path, map_location="cpu", weights_only=True) if resume
             else initial_state(args.init_from, args.image_height, tokenizer.get_vocab_size())
             if args.init_from else None)
    shape = checkpoint_shape(start) if resume else model_shape(args.image_height)
    model = build_model(tokenizer.get_vocab_size(), shape)
    ctc_head = CTCHead(shape["enc_dim"], tokenizer.get_vocab_size())
    step = samples = schedule_start = 0
    if start is not None:
        model.load_state_dict(start["model"])
        if "ctc_head" in start:
            ctc_head.load_state_dict(start["ctc_head"])
    model.to(args.device)
    ctc_head.to(args.device)
    params = list(model.parameters()) + list(ctc_head.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01, betas=(0.9, 0.98))
    if start is not None:
        if resume and "optimizer" in start:
            opt.load_state_dict(start["optimizer"])  # moves the moments to the params' device
        step = int(start.get("step", 0))
        samples = int(start.get("samples", step * args.batch))
        schedule_start = int(start.get("schedule_start", 0)) if resume else step
        how = "resumed" if resume else f"initialised from {args.init_from} at"
        print(f"{how} step {step} ({samples} samples)", flush=True)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params / 1e6:.2f}M parameters, vocab {tokenizer.get_vocab_size()}, "
          f"input {shape['image_height']}x{shape['image_width']}", flush=True)
    record = {"shape": shape, "schedule_start": schedule_start}

    pre = preprocess_config(shape)
    validation = validation_sets(args.eval_size)
    printed = printed_training_cells(args.printed, tokenizer) if args.printed else None
    stream = CellStream(args.seed, samples, args.batch, shape, args.focus, printed, args.printed_share)
    loader = DataLoader(stream, batch_size=None, num_workers=args.workers, prefetch_factor=4 if args.workers else None,
                        pin_memory=args.device.startswith("cuda"))
    log = open(os.path.join(args.workdir, "log.jsonl"), "a")  # noqa: SIM115 (open for the run)

    def save_checkpoint() -> None:
        tmp = ckpt_path + ".tmp"
        torch.save({"model": model.state_dict(), "ctc_head": ctc_head.state_dict(),
                    "optimizer": opt.state_dict(), "step": step, "samples": samples,
                    **record}, tmp)
        os.replace(tmp, ckpt_path)

    def save_weights(name: str) -> None:
        """The weights alone (a snapshot or best.pt): no optimizer state, a third of last.pt."""
        torch.save({"model": model.state_dict(), "step": step, "samples": samples, **record},
                   os.path.join(args.workdir, name))

    def log_eval() -> None:
        metrics = evaluate_sets(model, validation, tokenizer, pre, device=args.device)
        rec = {"step": step, "eval": metrics, "time": time.time()}
        print(json.dumps(rec), flush=True)
        log.write(json.dumps(rec) + "\n")
        log.flush()
        best_path = os.path.join(args.workdir, "best.json")
        best = (json.loads(Path(best_path).read_text()) if os.path.exists(best_path)
                else {"cer": 9.9})
        if metrics["cer"] < best["cer"]:
            save_weights("best.pt")
            Path(best_path).write_text(json.dumps({**metrics, "step": step}))

    if args.eval_first and not resume:
        log_eval()
    model.train()
    t0, seen, run_loss, run_ce = None, 0, 0.0, 0.0
    for pv, labels in loader:
        t0 = t0 or time.time()  # the clock starts with the first batch, workers up
        progress = (time.time() - t0) / args.time_budget if args.time_budget else None
        if (progress >= 1) if args.time_budget else (step >= args.steps):
            break
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args.lr, args.warmup, args.steps, schedule_start, progress)
        pv = pv.to(args.device, non_blocking=True).expand(-1, 3, -1, -1)
        out = model(pixel_values=pv, labels=labels.to(args.device, non_blocking=True))
        loss = out.loss
        run_ce += out.loss.item()
        if args.ctc_weight > 0:
            loss = loss + args.ctc_weight * ctc_head.loss(out.encoder_last_hidden_state, labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        seen += pv.shape[0]
        samples += pv.shape[0]
        run_loss += loss.item()
        if step % 50 == 0:
            rate = seen / (time.time() - t0)
            rec = {"step": step, "loss": run_loss / 50, "ce": run_ce / 50, "samples": samples, "lr": opt.param_groups[0]["lr"],
                   "samples_per_s": round(rate, 1), "time": time.time()}
            print(json.dumps(rec), flush=True)
            log.write(json.dumps(rec) + "\n")
            log.flush()
            run_loss = run_ce = 0.0
        if step % args.save_every == 0:
            save_checkpoint()
        if args.snapshot_every and step % args.snapshot_every == 0:
            save_weights(f"snap-{step}.pt")
        if step % args.eval_every == 0:
            log_eval()
    # where the run stopped (its steps or its time were up), unless saved at this step
    if step % args.save_every:
        save_checkpoint()
    if args.snapshot_every and step % args.snapshot_every:
        save_weights(f"snap-{step}.pt")
    print(json.dumps({"step": step, "stopped": True, "samples": samples}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
