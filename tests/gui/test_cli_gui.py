"""`tablescribe gui --screenshot OUT FILE` through the real command line, in its own process."""

import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]


def test_cli_gui_screenshot(tmp_path):
    out = tmp_path / "shot.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run(
        [sys.executable, "-m", "app", "gui", "--screenshot", str(out),
         str(ROOT / "resources" / "samples" / "invoice.png")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    with Image.open(out) as shot:
        assert shot.width >= 800 and shot.height >= 500
        # A real window, not a blank frame: many distinct colours.
        assert len(shot.convert("RGB").getcolors(1 << 20) or []) > 50
