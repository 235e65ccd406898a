"""Pages the app tests can read without a trained model, and a recognizer that reads them.

Cell text is drawn as runs of "o" glyphs ("o o o" is a line of three). The
``BlobRecognizer`` counts the blobs in each crop it gets and answers
``TEXTS[count]``: deterministic, independent of the crop's exact margins, and it
records every call so the tests can check batching and that empty cells are never
sent. Everything else is real: the page renderer (app.samples), page loading,
structure detection, line cropping and export.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from app.samples import Page, SampleTable, render_page

# What a line of n blobs reads as: values of every kind the exporter types.
TEXTS = {
    1: "Item", 2: "1,234.50", 3: "15 Mar 2024", 4: "007", 5: "12.5%", 6: "$1,000",
    7: "=SUM(A1:A3)", 8: "(2,500)", 9: "North", 10: "3/15/2024", 11: "Total", 12: "0.5",
}
CONFIDENCE = {n: 1.0 - n / 40 for n in TEXTS}  # 12 blobs: 0.7


def blobs(n: int) -> str:
    return " ".join(["o"] * n)


def blob_text(line_counts: str) -> str:
    """ "3" -> "o o o"; "2/3" -> two lines of 2 and 3 blobs; "" -> empty."""
    return "\n".join(blobs(int(k)) for k in line_counts.split("/")) if line_counts else ""


def expected_text(line_counts: str) -> str:
    return "\n".join(TEXTS[int(k)] for k in line_counts.split("/")) if line_counts else ""


@dataclass
class Recognised:
    text: str
    confidence: float


def count_blobs(crop: np.ndarray) -> int:
    gray = np.asarray(crop)
    if gray.ndim == 3:
        gray = cv2.cvtColor(gray, cv2.COLOR_RGB2GRAY)
    ink = (gray < 128).astype(np.uint8)
    n, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    return sum(1 for i in range(1, n) if stats[i, cv2.CC_STAT_AREA] >= 4)


class BlobRecognizer:
    def __init__(self) -> None:
        self.calls: list[int] = []  # crops per recognize() call
        self.counts: list[int] = []  # blobs seen in every crop, in order

    def recognize(self, crops, beams: int = 1) -> list[Recognised]:
        self.calls.append(len(crops))
        out = []
        for crop in crops:
            n = count_blobs(crop)
            self.counts.append(n)
            out.append(Recognised(TEXTS.get(n, f"<{n} blobs>"), CONFIDENCE.get(n, 0.1)))
        return out


def blob_factory(model: str | None, device: str | None) -> BlobRecognizer:
    """A recognizer factory for app.batch (picklable: a module-level function)."""
    return BlobRecognizer()


class CrashingRecognizer(BlobRecognizer):
    """Kills its own process on a crop of 9 blobs: a worker crashing on one file."""

    def recognize(self, crops, beams: int = 1):
        if any(count_blobs(c) == 9 for c in crops):
            os._exit(3)
        return super().recognize(crops, beams)


def crashing_factory(model: str | None, device: str | None) -> CrashingRecognizer:
    return CrashingRecognizer()


class TroubledRecognizer(BlobRecognizer):
    """Hangs on a crop of 10 blobs (for $FAKE_HANG_S seconds, default an hour: long
    enough that a test without a time limit fails, not hangs) and kills its own process
    (SIGKILL) on one of 9; every crop it reads is logged as "pid count" to $FAKE_LOG, so a test can count
    how often each file was converted."""

    def recognize(self, crops, beams: int = 1):
        counts = [count_blobs(c) for c in crops]
        log = os.environ.get("FAKE_LOG")
        if log:
            with open(log, "a", encoding="utf-8") as fh:
                fh.writelines(f"{os.getpid()} {n}\n" for n in counts)
        if 9 in counts:
            os.kill(os.getpid(), signal.SIGKILL)
        if 10 in counts:
            time.sleep(float(os.environ.get("FAKE_HANG_S", "3600")))  # a file that never finishes
        return super().recognize(crops, beams)


def troubled_factory(model: str | None, device: str | None) -> TroubledRecognizer:
    return TroubledRecognizer()


class InterruptingRecognizer(BlobRecognizer):
    """After ``FAKE_STOP_AFTER`` recognize() calls in this process, the next one is
    interrupted: by Ctrl-C (KeyboardInterrupt) or, with FAKE_STOP=kill, by SIGKILL."""

    def recognize(self, crops, beams: int = 1):
        if len(self.calls) >= int(os.environ.get("FAKE_STOP_AFTER", "1000000")):
            if os.environ.get("FAKE_STOP") == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise KeyboardInterrupt
        return super().recognize(crops, beams)


def interrupting_factory(model: str | None, device: str | None) -> InterruptingRecognizer:
    return InterruptingRecognizer()


def table_of(layout: list[list[str]], merges=(), rules: str = "grid", width: float = 150) -> SampleTable:
    """A SampleTable whose cells hold blob lines; ``layout`` as in blob_text."""
    rows = [[blob_text(k) for k in row] for row in layout]
    return SampleTable(rows, [width] * len(layout[0]), list(merges), header_rows=0, rules=rules)


def write_scan(path: str | Path, tables: list[SampleTable], fmt: str = "PNG", dpi: float = 150) -> Path:
    """Render a clean page with ``tables`` and save it; returns the path."""
    image, _ = render_page(Page(tables, font_pt=11), dpi=dpi)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.convert("RGB").save(path, format=fmt)
    return path


# A small table of every value kind, one empty cell and one two-line cell.
STANDARD = [["1", "2", "3"], ["4", "", "5"], ["6", "7", "2/8"]]


def standard_scan(path: str | Path, fmt: str = "PNG") -> Path:
    return write_scan(path, [table_of(STANDARD)], fmt)
