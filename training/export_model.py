"""Turn a training checkpoint into the shipped model folder (Hugging Face layout).

    python -m training.export_model --checkpoint ~/.cache/tablescribe-train/best.pt \
        --out resources/models/tablescribe-cells --metrics metrics.json

Several checkpoints (e.g. the snap-<step>.pt of a run's last steps) are averaged
weight by weight into one model.

Writes config.json, model.safetensors (float16), tokenizer.json,
preprocessor_config.json, generation_config.json and README.md (the model card).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import torch

from training.cells import char_tokenizer, discover_fonts
from training.charset_tokenizer import BOS_ID, EOS_ID, PAD_ID
from training.train_recognizer import build_model, checkpoint_shape, preprocess_config

CARD = """# tablescribe-cells

The embedded default recogniser of tablescribe: a TrOCR-architecture model
(VisionEncoderDecoder, ViT encoder + TrOCR decoder) for printed table cells, trained
from scratch by the tablescribe project on synthetic cells.

## Architecture
- Input: a grayscale cell crop with the blank paper left and right of its ink cut to
  a quarter of its height (`trim_margins`), scaled to {h} px high keeping its aspect
  ratio, padded white to {w} px (`keep_aspect_ratio` in preprocessor_config.json),
  3 channels, normalised with mean/std 0.5. A line wider than `split_aspect` times its
  height is read in pieces cut at word spaces. These keys are tablescribe's
  extensions of the ViTImageProcessor config.
- Encoder: ViT, {enc_layers} layers, hidden {enc_dim}, {enc_heads} heads, patches
  {ph}x{pw} ({tokens} tokens + cls).
- Decoder: TrOCR, {dec_layers} layers, d_model {dec_dim}, {dec_heads} heads, learned
  positions, character-level vocabulary of {vocab} tokens (tokenizer.json).
- {params:.2f}M parameters, stored as float16.

## Decoding
{decoding}

## Training data
`training/cells.py` renders seeded synthetic cells: integers, decimals with thousands
separators, negatives in parentheses, percentages, currency ($ € £ ¥), dates in common
formats, codes, words and phrases from the Debian word list, names with accented
letters, punctuation, single digits and characters, values with units and signs
(m², 25 °C, ±0.5, 3 × 4, 5–10, ≤ 5, ½, ‰, § 12, © 2024, µm), words around spaced
hyphens and dashes ("Line 1 - Col 1"), empty cells. Renders (`training/cell_renders.py`):
half as scans, 8-14 pt at 150-300 dpi, left/centre/right alignment, with blur, noise,
JPEG, rotation, binarisation, uneven background, halftone, white-on-dark cells and
border remnants; a quarter as 55-120 dpi scans (capitals 6-12 px high, area-averaged
from the sharp render); the rest as phone photos (grey paper, falling light, defocus or
shake, JPEG) and photocopies (thickened or thinned strokes, faint ink, streaks, toner
specks).

A run given `--printed` also draws that share of its cells from office print: cells the
app's own structure detection and cropping cut from spreadsheets printed by LibreOffice
and scanned, half of the pages turned, photographed or scanned at 60-120 dpi first
(`training/printed_cells.py`, training families only, page seeds from 1000).

Fonts are split by family (every weight, width and clone of a design together;
`training/tables/fonts.py` RECOGNISER_SPLITS):
- train: {train_families}
- validation (every choice of a run): {validation_families}
- held out (benchmarks/ocr_accuracy.py only): {heldout_families}

## Training
PyTorch + transformers (`python -m training.train_recognizer`), AdamW with an auxiliary
CTC loss on the encoder tokens (not exported), cosine schedule; {steps} steps, {samples}
samples seen.{averaged}

## Metrics
{metrics}
"""


# The second look an exported model asks for by default. The threshold depends on how the
# model's confidences are calibrated, so each model's is chosen on the validation draw
# (training/validate_models.py, --single-look against folders with other thresholds) and
# given to export with --second-look-below. 0.8 and these views were chosen for an
# earlier embedded model on the validation draws (seeds 8 and 9), not on the benchmark's.
SECOND_LOOK = {"below_confidence": 0.8,
               "views": [{"stretch_x": 1.15}, {"stretch_x": 0.87}, {"trim_rows": 0.05}, {"pad_rows": 0.05}]}

_VIEW_WORDS = {"stretch_x": "{:g}x as wide", "trim_rows": "{:.0%} of the height cut off top and bottom",
               "pad_rows": "{:.0%} of the height of paper added top and bottom"}


def _decoding_text(second_look: dict | None) -> str:
    if not second_look:
        return "Greedy, one reading per crop (no `second_look` in generation_config.json)."
    views = "\n".join("- " + _VIEW_WORDS[k].format(v) for view in second_look["views"] for k, v in view.items())
    return (f"Greedy. A crop read with a token less likely than {second_look['below_confidence']:g} "
            "(`second_look` in\ngeneration_config.json) is read again in other views of it, one after "
            "the other,\nkeeping the reading with the highest mean log-probability per token, until "
            "the\nreading kept is sure (`ocr/second_look.py`). The views, in order:\n" + views)


def average_checkpoints(paths: list[str]) -> dict:
    """The weights of several checkpoints of one run, averaged (step, samples: the last's).

    Averaging the snapshots of a run's last, low-learning-rate steps lands nearer the
    middle of the basin the optimiser was circling than any one of them does.
    """
    ckpts = [torch.load(p, map_location="cpu", weights_only=True) for p in paths]
    if len({json.dumps(checkpoint_shape(c), sort_keys=True) for c in ckpts}) > 1:
        raise ValueError("cannot average checkpoints of different shapes: " + ", ".join(paths))
    last = max(ckpts, key=lambda c: int(c.get("step", 0)))
    weights = {}
    for name, value in last["model"].items():
        if value.is_floating_point():
            weights[name] = sum(c["model"][name].double() for c in ckpts).div(len(ckpts)).to(value.dtype)
        else:
            weights[name] = value
    steps = sorted(int(c.get("step", 0)) for c in ckpts)
    return {"model": weights, "step": last.get("step", 0), "samples": last.get("samples", 0),
            "shape": checkpoint_shape(last), "averaged_steps": steps}


def export(checkpoint: str | list[str], out: str, metrics: dict | None = None,
           second_look: dict | None = SECOND_LOOK) -> Path:
    """Write the model folder ``out``; ``second_look`` is the generation config's (None: none)."""
    tokenizer = char_tokenizer()
    paths = [checkpoint] if isinstance(checkpoint, str) else list(checkpoint)
    ckpt = (torch.load(paths[0], map_location="cpu", weights_only=True) if len(paths) == 1
            else average_checkpoints(paths))
    s = checkpoint_shape(ckpt)
    model = build_model(tokenizer.get_vocab_size(), s)
    model.load_state_dict(ckpt["model"])
    step = int(ckpt.get("step", 0))
    # The checkpoint counts the samples it has seen; batch sizes changed between runs.
    samples = int(ckpt.get("samples", 0))
    averaged = ckpt.get("averaged_steps")
    averaged_text = (f" The shipped weights are the average of the checkpoints at steps "
                     f"{', '.join(map(str, averaged))}." if averaged else "")
    model.eval()
    model.half()
    out_path = Path(out)
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=out_path.parent if out_path.parent.exists() else None))
    model.config.decoder_start_token_id = EOS_ID
    model.save_pretrained(tmp)
    # Keep the shipped config free of torch-isms the engine does not need.
    cfg = json.loads((tmp / "config.json").read_text())
    cfg.pop("dtype", None)
    (tmp / "config.json").write_text(json.dumps(cfg, indent=2))
    tokenizer.save(str(tmp / "tokenizer.json"))
    pre = preprocess_config(s).to_dict()
    (tmp / "preprocessor_config.json").write_text(json.dumps(pre, indent=2))
    gen = {"decoder_start_token_id": EOS_ID, "bos_token_id": BOS_ID, "eos_token_id": EOS_ID,
           "pad_token_id": PAD_ID, "max_new_tokens": s["max_len"], "num_beams": 1}
    if second_look:
        gen["second_look"] = second_look
    (tmp / "generation_config.json").write_text(json.dumps(gen, indent=2))
    metrics_text = "\n".join(f"- {k}: {v}" for k, v in (metrics or {}).items()) or "- not measured"
    (tmp / "README.md").write_text(CARD.format(
        h=s["image_height"], w=s["image_width"], enc_layers=s["enc_layers"], enc_dim=s["enc_dim"],
        enc_heads=s["enc_heads"], ph=s["patch_h"], pw=s["patch_w"],
        tokens=(s["image_height"] // s["patch_h"]) * (s["image_width"] // s["patch_w"]),
        dec_layers=s["dec_layers"], dec_dim=s["dec_dim"], dec_heads=s["dec_heads"],
        vocab=tokenizer.get_vocab_size(), params=sum(p.numel() for p in model.parameters()) / 1e6,
        steps=step, samples=samples, averaged=averaged_text, metrics=metrics_text,
        decoding=_decoding_text(second_look), **_families()))
    if out_path.exists():
        shutil.rmtree(out_path)
    os.replace(tmp, out_path)
    return out_path


def _families() -> dict:
    """The installed font families of each split, for the card."""
    by_split: dict[str, set[str]] = {}
    for f in discover_fonts():
        by_split.setdefault(f.split, set()).add(f.family)
    return {f"{split}_families": ", ".join(sorted(by_split.get(split, ()))) or "none installed"
            for split in ("train", "validation", "heldout")}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True, nargs="+",
                    help="a checkpoint, or several of one run to average")
    ap.add_argument("--out", default="resources/models/tablescribe-cells")
    ap.add_argument("--metrics", help="JSON file of metrics for the model card")
    ap.add_argument("--second-look-below", type=float, default=SECOND_LOOK["below_confidence"],
                    help="read again, in other views, crops with a token less likely than this "
                         "(0: never); choose it on the validation draw")
    args = ap.parse_args(argv)
    metrics = json.loads(Path(args.metrics).read_text()) if args.metrics else None
    second_look = ({**SECOND_LOOK, "below_confidence": args.second_look_below}
                   if args.second_look_below > 0 else None)
    path = export(args.checkpoint, args.out, metrics, second_look)
    size = sum(f.stat().st_size for f in path.iterdir())
    print(f"wrote {path} ({size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
