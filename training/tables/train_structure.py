"""Train the split model (training/tables/split_net.py) on pages written by
training/tables/structure_data.py. CPU friendly: one thread, random 256 px crops
(most of them on a table), Adam. Resumable: ``--ckpt`` keeps last.pt (every
``--save-every`` steps) and best.pt (lowest validation loss); rerunning the same command
continues from last.pt. The training folder may still be growing: it is listed again
every ``--rescan`` steps. ``--device cuda`` trains on a GPU (crops are still cut on the
CPU, so raise --batch there); checkpoints are written for loading on any device.

    python3 -m training.tables.train_structure --train /work/data/struct17/train \
        --val /work/data/struct17/val --ckpt /work/ckpt/struct17 --steps 4000

Logs one line per validation to ``<ckpt>/log.txt``: step, train loss, validation loss,
and per separator channel the pixel F1 at 0.5.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.nn import functional as F

from table.split_input import CONTEXT, with_context
from training.tables.split_net import DEFAULT_CONFIG, SplitNet

CROP = 256
POS_WEIGHT = torch.tensor([1.0, 4.0, 4.0]).view(1, 3, 1, 1)


def load(path: Path, context: int | None = CONTEXT) -> tuple[np.ndarray, np.ndarray]:
    d = np.load(path)
    x = d["x"].astype(np.float32) / 255.0
    if context:
        x = with_context(x, context)
    y = d["y"]
    t = np.stack([(y & 1) > 0, (y & 2) > 0, (y & 4) > 0]).astype(np.float32)
    return x, t


def crop(x: np.ndarray, t: np.ndarray, rng: random.Random, size: int = CROP, jitter=True):
    """A size x size crop, centred on a table pixel 80 % of the time; with ``jitter`` the
    page is first rescaled by 0.85-1.15 (the text-height estimate is not exact)."""
    if jitter:
        s = rng.uniform(0.85, 1.15)
        h, w = x.shape[1:]
        ch, cw = size, size
        # rescale only the neighbourhood needed, not the whole page
        win = int(size / s) + 2
        cy, cx = _centre(t, rng, h, w)
        y0 = min(max(0, cy - win // 2), max(0, h - win))
        x0 = min(max(0, cx - win // 2), max(0, w - win))
        xs = x[:, y0:y0 + win, x0:x0 + win]
        ts = t[:, y0:y0 + win, x0:x0 + win]
        nh, nw = max(1, round(xs.shape[1] * s)), max(1, round(xs.shape[2] * s))
        xs = np.stack([cv2.resize(c, (nw, nh), interpolation=cv2.INTER_LINEAR) for c in xs])
        ts = np.stack([cv2.resize(c, (nw, nh), interpolation=cv2.INTER_NEAREST) for c in ts])
    else:
        h, w = x.shape[1:]
        cy, cx = _centre(t, rng, h, w)
        y0 = min(max(0, cy - size // 2), max(0, h - size))
        x0 = min(max(0, cx - size // 2), max(0, w - size))
        xs, ts = x[:, y0:y0 + size, x0:x0 + size], t[:, y0:y0 + size, x0:x0 + size]
        ch, cw = size, size
    out_x = np.zeros((x.shape[0], ch, cw), np.float32)
    out_t = np.zeros((t.shape[0], ch, cw), np.float32)
    hh, ww = min(ch, xs.shape[1]), min(cw, xs.shape[2])
    out_x[:, :hh, :ww] = xs[:, :hh, :ww]
    out_t[:, :hh, :ww] = ts[:, :hh, :ww]
    return out_x, out_t


def _centre(t, rng, h, w):
    if rng.random() < 0.8:
        ys, xs = np.nonzero(t[0][::4, ::4])
        if len(ys):
            k = rng.randrange(len(ys))
            return int(ys[k]) * 4, int(xs[k]) * 4
    return rng.randrange(h), rng.randrange(w)


def loss_fn(logits: torch.Tensor, target: torch.Tensor, pos_weight=POS_WEIGHT) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, target, pos_weight=pos_weight)


def validate(net, val_set, pos_weight=POS_WEIGHT, device="cpu") -> tuple[float, list[float]]:
    net.eval()
    total, tp, fp, fn = 0.0, np.zeros(3), np.zeros(3), np.zeros(3)
    with torch.no_grad():
        for xb, tb in val_set:
            logits = net(xb.to(device))
            total += float(loss_fn(logits, tb.to(device), pos_weight))
            p = (logits > 0).cpu().numpy()
            t = tb.numpy() > 0.5
            tp += (p & t).sum((0, 2, 3))
            fp += (p & ~t).sum((0, 2, 3))
            fn += (~p & t).sum((0, 2, 3))
    net.train()
    f1 = 2 * tp / np.maximum(1, 2 * tp + fp + fn)
    return total / max(1, len(val_set)), [round(float(v), 4) for v in f1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", type=Path, required=True)
    ap.add_argument("--val", type=Path, required=True)
    ap.add_argument("--ckpt", type=Path, required=True)
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--crop", type=int, default=CROP)
    ap.add_argument("--pages-per-step", type=int, default=2)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--val-every", type=int, default=100)
    ap.add_argument("--save-every", type=int, default=50)
    ap.add_argument("--rescan", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--deep", type=int, default=0,
                    help="channels of the 1/32 far-context branch (0: none; crop a multiple of 32)")
    ap.add_argument("--sep-weight", type=float, default=4.0,
                    help="positive weight of the separator maps in the loss")
    ap.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (PyTorch's device)")
    ap.add_argument("--init-from", type=Path, default=None,
                    help="a checkpoint to start from (matching tensors; a first conv with fewer "
                         "input channels is widened with zeros)")
    args = ap.parse_args(argv)
    device = _device(args.device)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    args.ckpt.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)

    cfg = dict(DEFAULT_CONFIG, deep=args.deep)
    if args.deep and args.crop % 32:
        raise SystemExit(f"--crop {args.crop}: the far-context branch needs a multiple of 32")
    pos_weight = torch.tensor([1.0, args.sep_weight, args.sep_weight]).view(1, 3, 1, 1).to(device)
    ctx = cfg["context"] if cfg["in_channels"] == 4 else None
    # A fixed validation set: 4 crops per validation page, no jitter, seeded.
    vrng = random.Random(1234)
    vx, vt = [], []
    for f in sorted(args.val.glob("*.npz")):
        x, t = load(f, ctx)
        for _ in range(4):
            a, b = crop(x, t, vrng, args.crop, jitter=False)
            vx.append(a)
            vt.append(b)
    if not vx:
        raise SystemExit(f"{args.val}: no validation pages (*.npz)")
    val_set = [(torch.from_numpy(np.stack(vx[i:i + 16])), torch.from_numpy(np.stack(vt[i:i + 16])))
               for i in range(0, len(vx), 16)]

    net = SplitNet(cfg)
    if args.init_from is not None and not (args.ckpt / "last.pt").exists():
        init = torch.load(args.init_from, map_location="cpu")["model"]
        own = net.state_dict()
        for k, v in init.items():
            if k in own and own[k].shape == v.shape:
                own[k] = v
            elif k in own and own[k].shape[1] > v.shape[1] and own[k].shape[2:] == v.shape[2:]:
                own[k] = torch.zeros_like(own[k])
                own[k][:, : v.shape[1]] = v
        net.load_state_dict(own)
        print(f"initialised from {args.init_from}", flush=True)
    net.to(device)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    step, best = 0, float("inf")
    last = args.ckpt / "last.pt"
    if last.exists():
        state = torch.load(last, map_location="cpu")
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])  # Adam's moments follow the parameters' device
        step, best = state["step"], state["best"]
        rng.setstate(state["rng"])
        print(f"resumed at step {step} (best validation loss {best:.4f})", flush=True)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 100) * (0.1 + 0.9 * max(0.0, 1 - s / args.steps)),
        last_epoch=step - 1 if step else -1)
    files: list[Path] = []
    t0, run_loss, n_loss = time.time(), 0.0, 0
    while step < args.steps:
        if step % args.rescan == 0 or not files:
            # (not the writer's ".name.npz" files still being written)
            files = sorted(f for f in args.train.glob("*.npz") if not f.name.startswith("."))
            if not files:
                raise SystemExit(f"{args.train}: no training pages (*.npz)")
        xs, ts = [], []
        per = args.batch // args.pages_per_step
        for f in rng.sample(files, min(args.pages_per_step, len(files))):
            x, t = load(f, ctx)
            for _ in range(per):
                a, b = crop(x, t, rng, args.crop)
                xs.append(a)
                ts.append(b)
        xb = torch.from_numpy(np.stack(xs)).to(device)
        tb = torch.from_numpy(np.stack(ts)).to(device)
        loss = loss_fn(net(xb), tb, pos_weight)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        step += 1
        run_loss += loss.item()
        n_loss += 1
        if step % args.val_every == 0 or step == args.steps:
            vl, f1 = validate(net, val_set, pos_weight, device)
            line = {"step": step, "train": round(run_loss / n_loss, 4), "val": round(vl, 4),
                    "f1_table_row_col": f1, "pages": len(files),
                    "lr": round(sched.get_last_lr()[0], 6), "s": round(time.time() - t0)}
            with open(args.ckpt / "log.txt", "a") as log:
                log.write(json.dumps(line) + "\n")
            print(line, flush=True)
            run_loss, n_loss = 0.0, 0
            if vl < best:
                best = vl
                torch.save({"model": _on_cpu(net.state_dict()), "config": net.cfg,
                            "step": step, "val": vl, "f1": f1}, args.ckpt / "best.pt")
        if step % args.save_every == 0 or step == args.steps:
            torch.save({"model": _on_cpu(net.state_dict()), "opt": opt.state_dict(), "step": step,
                        "best": best, "rng": rng.getstate(), "config": net.cfg},
                       args.ckpt / ".last.pt")
            (args.ckpt / ".last.pt").replace(last)
    return 0


def _device(name: str) -> torch.device:
    """The training device, or a clear exit where it cannot be used."""
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise SystemExit(f"--device {name!r}: {exc}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"--device {name!r}: PyTorch sees no CUDA GPU on this machine")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise SystemExit(f"--device {name!r}: this machine has {torch.cuda.device_count()} GPU(s)")
    return device


def _on_cpu(state: dict) -> dict:
    """A state dict with every tensor on the CPU: checkpoints load anywhere."""
    return {k: v.detach().cpu() for k, v in state.items()}


if __name__ == "__main__":
    raise SystemExit(main())
