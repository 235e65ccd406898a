"""Image preprocessing for TrOCR, driven by a model folder's preprocessor_config.json.

Follows what transformers' ViTImageProcessor does (RGB, resize with the configured
PIL resample, rescale by 1/255, normalise with mean/std, channels first), so a
microsoft/trocr-* folder gives the same pixel values as the reference.

One extension of ours: ``"keep_aspect_ratio": true`` (used by the embedded cell
model, whose input is a wide strip such as 32x384). The crop is scaled to the
input height, keeping its aspect ratio, and padded on the right with
``pad_value`` (white) instead of being stretched; a crop wider than the strip is
squeezed to fit. A single digit then looks like a single digit, not a smear.
With ``"trim_margins": true`` as well, blank paper left and right of the ink is cut
off first (down to a margin of a quarter of the height): a right-aligned number in
a wide cell is then not squeezed to a few pixels, however the crop was cut. And
``"split_aspect": a`` asks the recogniser to read a line wider than ``a`` times
its height in pieces cut at word spaces (``split_wide_line``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageFilter

# PIL resample codes as transformers stores them in preprocessor_config.json.
_RESAMPLE = {
    0: Image.Resampling.NEAREST,
    1: Image.Resampling.LANCZOS,
    2: Image.Resampling.BILINEAR,
    3: Image.Resampling.BICUBIC,
    4: Image.Resampling.BOX,
    5: Image.Resampling.HAMMING,
}


@dataclass
class PreprocessConfig:
    height: int = 384
    width: int = 384
    resample: int = 2
    do_resize: bool = True
    do_rescale: bool = True
    rescale_factor: float = 1 / 255
    do_normalize: bool = True
    image_mean: tuple[float, ...] = (0.5, 0.5, 0.5)
    image_std: tuple[float, ...] = (0.5, 0.5, 0.5)
    keep_aspect_ratio: bool = False
    pad_value: int = 255
    trim_margins: bool = False
    split_aspect: float | None = None  # read lines wider than this (width / height) in pieces
    num_channels: int = 3
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, cfg: dict, num_channels: int = 3) -> PreprocessConfig:
        size = cfg.get("size", 384)
        if isinstance(size, int):
            height = width = size
        elif "height" in size and "width" in size:
            height, width = int(size["height"]), int(size["width"])
        elif "shortest_edge" in size:
            height = width = int(size["shortest_edge"])
        else:
            raise ValueError(f"unsupported 'size' in preprocessor config: {size!r}")
        mean = cfg.get("image_mean", [0.5, 0.5, 0.5])
        std = cfg.get("image_std", [0.5, 0.5, 0.5])
        if isinstance(mean, (int, float)):
            mean = [mean] * num_channels
        if isinstance(std, (int, float)):
            std = [std] * num_channels
        return cls(
            height=height,
            width=width,
            resample=int(cfg.get("resample", 2)),
            do_resize=bool(cfg.get("do_resize", True)),
            do_rescale=bool(cfg.get("do_rescale", True)),
            rescale_factor=float(cfg.get("rescale_factor", 1 / 255)),
            do_normalize=bool(cfg.get("do_normalize", True)),
            image_mean=tuple(float(m) for m in mean),
            image_std=tuple(float(s) for s in std),
            keep_aspect_ratio=bool(cfg.get("keep_aspect_ratio", False)),
            pad_value=int(cfg.get("pad_value", 255)),
            trim_margins=bool(cfg.get("trim_margins", False)),
            split_aspect=float(cfg["split_aspect"]) if cfg.get("split_aspect") else None,
            num_channels=num_channels,
        )

    def to_dict(self) -> dict:
        out = {
            "do_resize": self.do_resize,
            "size": {"height": self.height, "width": self.width},
            "resample": self.resample,
            "do_rescale": self.do_rescale,
            "rescale_factor": self.rescale_factor,
            "do_normalize": self.do_normalize,
            "image_mean": list(self.image_mean),
            "image_std": list(self.image_std),
            "image_processor_type": "ViTImageProcessor",
        }
        if self.keep_aspect_ratio:
            out["keep_aspect_ratio"] = True
            out["pad_value"] = self.pad_value
        if self.trim_margins:
            out["trim_margins"] = True
        if self.split_aspect:
            out["split_aspect"] = self.split_aspect
        return out


def to_pil(image) -> Image.Image:
    """A PIL image of a crop given as a PIL image or a (uint8) array."""
    if isinstance(image, Image.Image):
        return image
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    return Image.fromarray(arr)


def _ink_columns(img: Image.Image) -> np.ndarray | None:
    """Which columns of ``img`` hold ink, or None when it holds no clear ink. Paper is
    the median level (light or dark), ink what departs from it by half the strongest
    contrast, judged on a blurred copy so that scan noise does not count."""
    gray = np.asarray(img.convert("L").filter(ImageFilter.GaussianBlur(1.0)), dtype=np.float32)
    departure = np.abs(gray - np.float32(np.median(gray)))
    peak = float(np.percentile(departure, 99.5))
    if peak < 40:  # no text to go by (an empty or washed-out crop)
        return None
    ink = (departure > 0.5 * peak).any(axis=0)
    return ink if ink.any() else None


def _trimmed_bounds(ink: np.ndarray, width: int, height: int) -> tuple[int, int]:
    """Columns [left, right) that keep the ink and a margin of a quarter of the height."""
    cols = np.flatnonzero(ink)
    margin = max(2, height // 4)
    return max(0, int(cols[0]) - margin), min(width, int(cols[-1]) + 1 + margin)


def trim_side_margins(img: Image.Image) -> Image.Image:
    """``img`` without the blank paper left and right of its ink, keeping a margin of
    a quarter of its height; unchanged when it holds no clear ink."""
    ink = _ink_columns(img)
    if ink is None:
        return img
    left, right = _trimmed_bounds(ink, *img.size)
    return img if (left, right) == (0, img.width) else img.crop((left, 0, right, img.height))


def split_wide_line(image, max_aspect: float) -> list[Image.Image]:
    """A text line wider than ``max_aspect`` times its height, cut at word spaces into
    pieces no wider than that (each trimmed like ``trim_side_margins``), left to right.

    A strip model squeezes a long line to its fixed width until the letters blur into
    each other; read in pieces, every letter keeps its shape. The cut is the widest
    blank run of columns in the middle half of the line, and only one twice as wide
    as the line's usual gap and a tenth of its height at least: a word space, not the
    gap beside a hyphen or a comma of a number. A line without one stays whole."""
    img = to_pil(image)
    ink = _ink_columns(img)  # found once; the pieces are cut from it
    if ink is None:
        return [img]
    return _split_at_spaces(img, ink, max_aspect)


def _split_at_spaces(img: Image.Image, ink: np.ndarray, max_aspect: float) -> list[Image.Image]:
    left, right = _trimmed_bounds(ink, *img.size)
    if (left, right) != (0, img.width):
        img, ink = img.crop((left, 0, right, img.height)), ink[left:right]
    width, height = img.size
    if width <= max_aspect * height:
        return [img]
    gaps, x = [], 0  # blank runs between ink: (width, middle)
    while x < width:
        start = x
        while x < width and not ink[x]:
            x += 1
        if 0 < start < x < width:
            gaps.append((x - start, (start + x) // 2))
        x += 1
    if not gaps:
        return [img]
    usual = float(np.median([g for g, _ in gaps]))
    spaces = [(g, m) for g, m in gaps
              if g >= max(0.1 * height, 2.0 * usual) and 0.25 * width <= m <= 0.75 * width]
    if not spaces:
        return [img]
    cut = max(spaces)[1]
    return (_split_at_spaces(img.crop((0, 0, cut, height)), ink[:cut], max_aspect)
            + _split_at_spaces(img.crop((cut, 0, width, height)), ink[cut:], max_aspect))


def resize_image(image, cfg: PreprocessConfig) -> Image.Image:
    """RGB (or L for one-channel models) image of exactly cfg.height x cfg.width."""
    img = to_pil(image).convert("RGB" if cfg.num_channels == 3 else "L")
    if not cfg.do_resize:
        return img
    resample = _RESAMPLE.get(cfg.resample, Image.Resampling.BILINEAR)
    if not cfg.keep_aspect_ratio:
        return img.resize((cfg.width, cfg.height), resample=resample)
    if cfg.trim_margins:
        img = trim_side_margins(img)
    w, h = img.size
    new_w = max(1, min(cfg.width, round(w * cfg.height / max(h, 1))))
    scaled = img.resize((new_w, cfg.height), resample=resample)
    fill = (cfg.pad_value,) * 3 if img.mode == "RGB" else cfg.pad_value
    canvas = Image.new(img.mode, (cfg.width, cfg.height), fill)
    canvas.paste(scaled, (0, 0))
    return canvas


def pixel_values(images: Sequence, cfg: PreprocessConfig) -> np.ndarray:
    """Batch of images -> float32 array (B, C, H, W), as the model expects."""
    batch = np.empty((len(images), cfg.num_channels, cfg.height, cfg.width), dtype=np.float32)
    mean = np.asarray(cfg.image_mean[: cfg.num_channels], dtype=np.float32)[:, None, None]
    std = np.asarray(cfg.image_std[: cfg.num_channels], dtype=np.float32)[:, None, None]
    for i, image in enumerate(images):
        arr = np.asarray(resize_image(image, cfg))
        # Channels first while still 8-bit, then each step in place on contiguous
        # floats: strided float temporaries once took a sixth of the recogniser's time.
        chw = np.ascontiguousarray(arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1))
        out = batch[i]
        out[...] = chw
        if cfg.do_rescale:
            np.multiply(out, np.float32(cfg.rescale_factor), out=out)
        if cfg.do_normalize:
            np.subtract(out, mean, out=out)
            np.divide(out, std, out=out)
    return batch
