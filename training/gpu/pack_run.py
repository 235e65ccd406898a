"""Small f16 checkpoints for a machine that takes and gives back little (14 MB each,
read by training.export_model and by --init-from):

    PYTHONPATH=. python training/gpu/pack_run.py WORKDIR OUT  # a finished run: its last
        # checkpoint and averages of its last 4, 8, 12 snapshots
    PYTHONPATH=. python training/gpu/pack_run.py --start CKPT FILE  # one to start a run from
"""
import glob
import re
import sys

import torch

from training.export_model import average_checkpoints


def small(ckpt: dict) -> dict:
    """The checkpoint without its optimizer state, its weights in float16."""
    ckpt = {k: v for k, v in ckpt.items() if k != "optimizer"}
    ckpt["model"] = {k: v.half() if v.is_floating_point() else v for k, v in ckpt["model"].items()}
    return ckpt


def load(path: str) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def pack_run(work: str, out: str) -> None:
    snaps = sorted(glob.glob(f"{work}/snap-*.pt"),
                   key=lambda p: int(re.search(r"snap-(\d+)", p)[1]))
    for k in (4, 8, 12):
        if len(snaps) >= k:
            avg = average_checkpoints(snaps[-k:])
            torch.save(small(avg), f"{out}/avg{k}.pt")
            print(f"avg{k}: steps {avg['averaged_steps']}")
    last = small(load(f"{work}/last.pt"))
    torch.save(last, f"{out}/last.pt")
    print(f"last: step {last['step']}, samples {last['samples']}")


if __name__ == "__main__":
    if sys.argv[1] == "--start":
        torch.save(small(load(sys.argv[2])), sys.argv[3])
    else:
        pack_run(*sys.argv[1:3])
