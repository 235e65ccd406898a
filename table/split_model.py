"""The split model on the engine: training/tables/split_net.py's SplitNet, read from a
model folder (config.json + model.safetensors, the names of the PyTorch state dict),
and the page-level entry point that turns a deskewed page into decoded tables.

    model = SplitModel.load()            # resources/models/tablescribe-structure
    mi, found = model.tables(gray_page)  # its input, [PageTables]: decoded + page pixels

The net is a small U-Net (conv 3x3 + ReLU, max-pool to 1/8, 1x9 / 9x1 context convs,
nearest upsampling with skips); table.split_input makes its input and table.split_decode
reads its three maps.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

import engine
import engine.functional as F
from engine.nn import Conv2d, Module
from engine.nn.varbuilder import VarBuilder
from table.split_decode import MERGE_T, SPLIT_T, DecodedTable, decode
from table.split_input import CONTEXT, MODEL_TEXT_H, ModelInput, model_input, with_context

__all__ = ["DEFAULT_MODEL", "PageTables", "SplitModel", "default_split_model"]

DEFAULT_MODEL = ("models", "tablescribe-structure")
LAYERS = ("enc1", "enc2a", "enc2b", "enc3a", "enc3b", "ctx0", "ctx1", "ctx2", "ctx3", "ctx4",
          "dec3", "dec2", "dec1", "head")
FAR = ("far0", "far1", "far2", "far3", "far4", "fuse")  # the 1/32 branch (config "deep")


def _conv(vb: VarBuilder, name: str, cin: int, cout: int, k: tuple[int, int]) -> Conv2d:
    conv = Conv2d(cin, cout, k, padding=(k[0] // 2, k[1] // 2))
    conv.weight = engine.nn.Parameter(vb.get(f"{name}.weight", (cout, cin, *k)), False)
    conv.bias = engine.nn.Parameter(vb.get(f"{name}.bias", (cout,)), False)
    return conv


class SplitNet(Module):
    """(N, C, H, W), H and W multiples of 8 (32 with "deep") -> (N, 3, H, W) logits."""

    def __init__(self, cfg: dict, vb: VarBuilder) -> None:
        super().__init__()
        c1, c2, c3, c4, k = cfg["c1"], cfg["c2"], cfg["c3"], cfg["c4"], cfg["long_k"]
        n_out = len(cfg["outputs"])
        sq, wide, tall = (3, 3), (1, k), (k, 1)
        shapes = {"enc1": (cfg["in_channels"], c1, sq), "enc2a": (c1, c2, sq),
                  "enc2b": (c2, c2, sq), "enc3a": (c2, c3, sq), "enc3b": (c3, c3, sq),
                  "ctx0": (c3, c4, sq), "ctx1": (c4, c4, wide), "ctx2": (c4, c4, tall),
                  "ctx3": (c4, c4, wide), "ctx4": (c4, c4, tall), "dec3": (c4 + c3, c3, sq),
                  "dec2": (c3 + c2, c2, sq), "dec1": (c2 + c1, c1, sq), "head": (c1, n_out, (1, 1))}
        self.deep = c5 = cfg.get("deep", 0)
        if c5:
            shapes.update({"far0": (c4, c5, sq), "far1": (c5, c5, wide), "far2": (c5, c5, tall),
                           "far3": (c5, c5, wide), "far4": (c5, c5, tall),
                           "fuse": (c4 + c5, c4, sq)})
        for name in LAYERS + (FAR if c5 else ()):
            setattr(self, name, _conv(vb, name, *shapes[name]))

    def forward(self, x):
        # each convolution applies its ReLU as it adds its bias, and the decoders read the
        # upsampled features and the skip without making either copy (Conv2d.fused)
        e1 = self.enc1.fused(x, relu=True)
        e2 = self.enc2b.fused(self.enc2a.fused(F.max_pool2d(e1, 2), relu=True), relu=True)
        e3 = self.enc3b.fused(self.enc3a.fused(F.max_pool2d(e2, 2), relu=True), relu=True)
        c = self.ctx0.fused(F.max_pool2d(e3, 2), relu=True)
        c = self.ctx2.fused(self.ctx1.fused(c, relu=True), relu=True)
        c = self.ctx4.fused(self.ctx3.fused(c, relu=True), relu=True)
        if self.deep:
            g = self.far0.fused(F.max_pool2d(c, 4), relu=True)
            g = self.far2.fused(self.far1.fused(g, relu=True), relu=True)
            g = self.far4.fused(self.far3.fused(g, relu=True), relu=True)
            c = self.fuse.fused(c, F.upsample_nearest2d(g, 4), relu=True)
        d3 = self.dec3.fused(c, e3, relu=True, upsample=2)
        d2 = self.dec2.fused(d3, e2, relu=True, upsample=2)
        d1 = self.dec1.fused(d2, e1, relu=True, upsample=2)
        return self.head(d1)


@dataclass
class PageTables:
    """One decoded table and its lines in page pixels."""

    decoded: DecodedTable
    row_lines: list[int]
    col_lines: list[int]
    bbox: tuple[int, int, int, int]


class SplitModel:
    def __init__(self, folder: Path, config: dict, net: SplitNet) -> None:
        self.folder = folder
        self.config = config
        self.net = net

    @classmethod
    def load(cls, folder: str | Path | None = None) -> SplitModel:
        """The model in ``folder`` (default: the embedded tablescribe-structure)."""
        if folder is None:
            import resources

            folder = resources.path(*DEFAULT_MODEL)
        folder = Path(folder)
        cfg_path, weights = folder / "config.json", folder / "model.safetensors"
        for p in (cfg_path, weights):
            if not p.is_file():
                raise FileNotFoundError(f"{p}: missing (a structure model folder needs "
                                        "config.json and model.safetensors)")
        try:
            cfg = json.loads(cfg_path.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{cfg_path}: not valid JSON ({exc})") from None
        if cfg.get("model_type") != "tablescribe-split":
            raise ValueError(f"{cfg_path}: model_type is {cfg.get('model_type')!r}, "
                             "expected 'tablescribe-split'")
        vb = VarBuilder(engine.load_safetensors(weights), name=str(weights))
        return cls(folder, cfg, SplitNet(cfg, vb))

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """Model input (2, h, w) -> probability maps (3, h, w). Only the box around the
        ink is computed (page margins hold no table: 0 there)."""
        _, h, w = x.shape
        ink = cv2.boundingRect(((x[0] > 0.25) | (x[1] > 0)).view(np.uint8))
        out = np.zeros((3, h, w), np.float32)
        if ink[2] == 0 or ink[3] == 0:
            return out
        pad = 24
        y0, x0 = max(0, ink[1] - pad), max(0, ink[0] - pad)
        y1, x1 = min(h, ink[1] + ink[3] + pad), min(w, ink[0] + ink[2] + pad)
        if self.config["in_channels"] == 4:
            # the context channels of the box: averaged over a window around it that
            # reaches as far as the averaging does, so they are the whole page's
            context = self.config.get("context", CONTEXT)
            r = context // 2 + 1
            wy0, wx0 = max(0, y0 - r), max(0, x0 - r)
            near = with_context(x[:, wy0:min(h, y1 + r), wx0:min(w, x1 + r)], context)
            crop = near[:, y0 - wy0:y1 - wy0, x0 - wx0:x1 - wx0]
        else:
            crop = x[:, y0:y1, x0:x1]
        mult = 32 if self.config.get("deep") else 8
        ph, pw = -crop.shape[1] % mult, -crop.shape[2] % mult
        if ph or pw:  # the pooling needs multiples of 8 (32): pad with empty paper
            crop = np.pad(crop, ((0, 0), (0, ph), (0, pw)))
        with engine.no_grad():
            logits = self.net(engine.tensor(np.ascontiguousarray(crop[None]), dtype=engine.f32))
            prob = F.sigmoid(logits).numpy()[0]
        out[:, y0:y1, x0:x1] = prob[:, : y1 - y0, : x1 - x0]
        return out

    def tables(self, gray: np.ndarray, text_h: float | None = None
               ) -> tuple[ModelInput, list[PageTables]]:
        """Every table the model finds on a deskewed grey page (H, W) uint8, and the
        input it saw (its rule channel tells drawn separators from inferred ones)."""
        mi = model_input(gray, text_h)
        probs = self.probabilities(mi.x)
        h, w = gray.shape
        out = []
        for t in decode(probs, mi.x[1], MODEL_TEXT_H, self.config.get("split_t", SPLIT_T),
                        self.config.get("merge_t", MERGE_T), ink=mi.x[0]):
            rows = [min(h, max(0, int(round(v / mi.scale)))) for v in t.row_lines]
            cols = [min(w, max(0, int(round(v / mi.scale)))) for v in t.col_lines]
            out.append(PageTables(t, rows, cols, (cols[0], rows[0], cols[-1], rows[-1])))
        return mi, out


_DEFAULT: list[SplitModel | None] = []


def default_split_model() -> SplitModel | None:
    """The embedded model, loaded once; None where this installation has none
    (TABLESCRIBE_STRUCTURE_MODEL=off also turns it off; a folder path picks another)."""
    if not _DEFAULT:
        choice = os.environ.get("TABLESCRIBE_STRUCTURE_MODEL", "")
        if choice == "off":
            _DEFAULT.append(None)
        elif choice:
            _DEFAULT.append(SplitModel.load(choice))
        else:
            import resources

            folder = resources.path(*DEFAULT_MODEL)
            _DEFAULT.append(SplitModel.load(folder) if (folder / "config.json").is_file() else None)
    return _DEFAULT[0]
