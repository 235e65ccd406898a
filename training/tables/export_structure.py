"""Export a SplitNet checkpoint (training/tables/train_structure.py) as a model folder the
engine reads (table/split_model.py): config.json + model.safetensors, then check the
engine's logits against PyTorch's on a real page input (max abs difference <= 1e-4).

    python3 -m training.tables.export_structure /work/ckpt/struct17/best.pt \
        resources/models/tablescribe-structure
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from table.split_input import MODEL_TEXT_H, with_context
from training.tables.split_net import SplitNet

PARITY_TOL = 1e-4


def export(state: dict, config: dict, out: Path, extra: dict | None = None) -> None:
    from safetensors.numpy import save_file

    out.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in state.items()}
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
    cfg = {"model_type": "tablescribe-split", **config, "model_text_h": MODEL_TEXT_H,
           **(extra or {})}
    (out / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")


def parity(folder: Path, net: SplitNet, x: np.ndarray) -> float:
    """Max |engine - torch| of the logits on x (in_channels, h, w), h and w multiples of 8 (32 with deep)."""
    import engine
    from table.split_model import SplitModel

    model = SplitModel.load(folder)
    with torch.no_grad():
        want = net(torch.from_numpy(x[None])).numpy()
    with engine.no_grad():
        got = model.net(engine.tensor(x[None], dtype=engine.f32)).numpy()
    return float(np.abs(got - want).max())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--split-t", type=float, default=None, help="decoder threshold for config.json")
    ap.add_argument("--merge-t", type=float, default=None, help="decoder threshold for config.json")
    ap.add_argument("--page", type=Path, default=None,
                    help="a structure_data .npz page for the parity check (default: random)")
    args = ap.parse_args(argv)
    ck = torch.load(args.checkpoint, map_location="cpu")
    net = SplitNet(ck["config"]).eval()
    net.load_state_dict(ck["model"])
    extra = {"trained_steps": int(ck.get("step", 0)),
             # JSON has no NaN: a checkpoint saved without a validation loss says null
             "validation_loss": float(ck["val"]) if ck.get("val") is not None else None}
    if args.split_t is not None:
        extra["split_t"] = args.split_t
    if args.merge_t is not None:
        extra["merge_t"] = args.merge_t
    export(ck["model"], ck["config"], args.out, extra)
    if args.page is not None:
        x = np.load(args.page)["x"][:, :256, :256].astype(np.float32) / 255.0
    else:
        x = np.random.default_rng(0).random((2, 128, 128), dtype=np.float32)
    m = 32 if net.cfg.get("deep") else 8
    x = np.ascontiguousarray(x[:, : x.shape[1] // m * m, : x.shape[2] // m * m])
    if net.cfg["in_channels"] == 4:
        x = with_context(x, net.cfg["context"])
    diff = parity(args.out, net, x)
    print(f"exported {args.checkpoint} (step {ck.get('step')}) to {args.out}; "
          f"engine vs torch max |diff| {diff:.2e}")
    if diff > PARITY_TOL:
        raise SystemExit(f"parity failed: {diff:.2e} > {PARITY_TOL}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
