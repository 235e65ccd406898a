"""The split model in PyTorch (training only; table/split_model.py is the same net on
the engine, loaded from the exported safetensors).

A small U-Net: two max-pool stages to 1/8 of the page (text is 8 px there is 1 px), a
context block of long 1x9 / 9x1 kernels at 1/8 (rows and columns are long, thin
structures: a separator between two text lines is decided by what lies far along it),
then nearest upsampling with skip connections back to full resolution. Three output
maps: inside a table, on a row separator, on a column separator. Projection along rows
and columns happens in the decoder (table/split_decode.py) over each table region, as in
SPLERGE's projection pooling, but after the network so that one page can hold several
tables and paragraphs.

With ``deep`` > 0 (issue 17's second model) a far-context branch pools the 1/8 map on to
1/32 (4 px per character height there is 1/4 px) and runs two more 1 x k / k x 1 pairs:
a column separator of an open table is decided by the whole column (tens of text
lines), a row separator by the whole row, which the 1/8 context alone (about 17
characters either way) does not reach. It is upsampled back and fused at 1/8. It is
windowed, not SPLERGE's global row/column mean, so a training crop and a whole page
(with paragraphs above and beside the table) see the same statistics.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

DEFAULT_CONFIG = {"in_channels": 4, "context": 121, "c1": 8, "c2": 24, "c3": 32, "c4": 48, "long_k": 9,
                  "deep": 0, "outputs": ["table", "row_sep", "col_sep"]}


def _conv(cin: int, cout: int, k=(3, 3)) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, padding=(k[0] // 2, k[1] // 2))


class SplitNet(nn.Module):
    def __init__(self, cfg: dict | None = None):
        super().__init__()
        cfg = dict(DEFAULT_CONFIG, **(cfg or {}))
        self.cfg = cfg
        c1, c2, c3, c4, k = cfg["c1"], cfg["c2"], cfg["c3"], cfg["c4"], cfg["long_k"]
        self.enc1 = _conv(cfg["in_channels"], c1)
        self.enc2a, self.enc2b = _conv(c1, c2), _conv(c2, c2)
        self.enc3a, self.enc3b = _conv(c2, c3), _conv(c3, c3)
        self.ctx0 = _conv(c3, c4)
        self.ctx1, self.ctx2 = _conv(c4, c4, (1, k)), _conv(c4, c4, (k, 1))
        self.ctx3, self.ctx4 = _conv(c4, c4, (1, k)), _conv(c4, c4, (k, 1))
        self.deep = cfg.get("deep", 0)
        if self.deep:
            c5 = self.deep
            self.far0 = _conv(c4, c5)
            self.far1, self.far2 = _conv(c5, c5, (1, k)), _conv(c5, c5, (k, 1))
            self.far3, self.far4 = _conv(c5, c5, (1, k)), _conv(c5, c5, (k, 1))
            self.fuse = _conv(c4 + c5, c4)
        self.dec3 = _conv(c4 + c3, c3)
        self.dec2 = _conv(c3 + c2, c2)
        self.dec1 = _conv(c2 + c1, c1)
        self.head = nn.Conv2d(c1, len(cfg["outputs"]), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) with H, W multiples of 8 (32 with ``deep``) -> (N, 3, H, W) logits."""
        e1 = F.relu(self.enc1(x))
        e2 = F.relu(self.enc2b(F.relu(self.enc2a(F.max_pool2d(e1, 2)))))
        e3 = F.relu(self.enc3b(F.relu(self.enc3a(F.max_pool2d(e2, 2)))))
        c = F.relu(self.ctx0(F.max_pool2d(e3, 2)))
        c = F.relu(self.ctx2(F.relu(self.ctx1(c))))
        c = F.relu(self.ctx4(F.relu(self.ctx3(c))))
        if self.deep:
            g = F.relu(self.far0(F.max_pool2d(c, 4)))
            g = F.relu(self.far2(F.relu(self.far1(g))))
            g = F.relu(self.far4(F.relu(self.far3(g))))
            c = F.relu(self.fuse(torch.cat([c, F.interpolate(g, scale_factor=4)], 1)))
        d3 = F.relu(self.dec3(torch.cat([F.interpolate(c, scale_factor=2), e3], 1)))
        d2 = F.relu(self.dec2(torch.cat([F.interpolate(d3, scale_factor=2), e2], 1)))
        d1 = F.relu(self.dec1(torch.cat([F.interpolate(d2, scale_factor=2), e1], 1)))
        return self.head(d1)
