"""Bring a GPU run home: f16 weights of its last checkpoint and of averages of its last
snapshots, each a small .pt that training.export_model reads."""
import glob
import re
import sys

import torch

from training.export_model import average_checkpoints

work, out = sys.argv[1:3]
snaps = sorted(glob.glob(f"{work}/snap-*.pt"), key=lambda p: int(re.search(r"snap-(\d+)", p)[1]))


def half(ckpt: dict) -> dict:
    return {**ckpt, "model": {k: v.half() if v.is_floating_point() else v
                              for k, v in ckpt["model"].items()}}


for k in (4, 8, 12):
    if len(snaps) >= k:
        avg = average_checkpoints(snaps[-k:])
        torch.save(half(avg), f"{out}/avg{k}.pt")
        print(f"avg{k}: steps {avg['averaged_steps']}")
last = torch.load(f"{work}/last.pt", map_location="cpu", weights_only=True)
last.pop("optimizer")
last["ctc_head"] = {k: v.cpu() for k, v in last["ctc_head"].items()}
torch.save(half(last), f"{out}/last.pt")
print(f"last: step {last['step']}, samples {last['samples']}")
