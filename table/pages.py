"""Loading scanned pages: every page of an image or PDF file as an RGB uint8 array.

The format is read from the file's first bytes, never from its extension (a JPEG
saved as ``.png`` is common). Anything we cannot read becomes a PageLoadError whose
message names the file and what is wrong with it, so a batch can report it and go on.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

__all__ = [
    "SUPPORTED_FORMATS",
    "Page",
    "PageLoadError",
    "count_pages",
    "load_pages",
    "sniff_format",
]

SUPPORTED_FORMATS = ("PNG", "JPEG", "BMP", "WEBP", "TIFF", "PDF")
_PDF_POINTS_PER_INCH = 72.0


class PageLoadError(Exception):
    """A file that cannot be turned into page images. ``str(e)`` names the file and the problem."""

    def __init__(self, path: str | Path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class Page:
    """One page of a file: its source, 0-based index, (H, W, 3) uint8 RGB ``image`` and
    resolution when known (PDF: the render dpi; images: their metadata).

    PDF pages carry ``layer``, their characters and drawings (table.pdf_layer.PdfLayer,
    in points; ``image`` pixels are points * dpi / 72). A PDF page with text is only
    rendered when its ``image`` is first used: a born-digital page read from its text
    layer never needs its pixels.
    """

    def __init__(self, source: str, index: int, image: np.ndarray | None = None,
                 dpi: float | None = None, layer: Any = None,
                 render: Callable[[float], np.ndarray] | None = None) -> None:
        self.source = source
        self.index = index
        self.dpi = dpi
        self.layer = layer
        self._image = image
        self._render = render

    @property
    def image(self) -> np.ndarray:
        if self._image is None and self._render is not None:
            self._image = self._render(self.dpi)
        return self._image

    @image.setter
    def image(self, value: np.ndarray) -> None:
        self._image = value

    @property
    def rendered(self) -> bool:
        return self._image is not None

    def render(self, dpi: float) -> np.ndarray:
        """The page at another resolution (PDF pages; others give their image)."""
        if self._render is None:
            return self.image
        return self._render(dpi)

    def __repr__(self) -> str:
        return f"Page({self.source!r}, {self.index}, dpi={self.dpi})"


def sniff_format(head: bytes) -> str | None:
    """The file format from its first bytes, one of SUPPORTED_FORMATS, or None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"BM"):
        return "BMP"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "TIFF"
    # PDF readers accept the header anywhere in the first 1024 bytes.
    if b"%PDF-" in head[:1024]:
        return "PDF"
    return None


def _read_head(path: Path) -> bytes:
    if not path.exists():
        raise PageLoadError(path, "file not found")
    if not path.is_file():
        raise PageLoadError(path, "not a file")
    try:
        with path.open("rb") as f:
            return f.read(1024)
    except OSError as e:
        raise PageLoadError(path, f"cannot read the file ({e.strerror or e})") from e


def _detect(path: Path) -> str:
    head = _read_head(path)
    if not head:
        raise PageLoadError(path, "the file is empty")
    fmt = sniff_format(head)
    if fmt is None:
        raise PageLoadError(
            path,
            "not a supported image or PDF (the content is none of "
            + ", ".join(SUPPORTED_FORMATS)
            + ")",
        )
    return fmt


def _to_rgb(frame: Image.Image) -> np.ndarray:
    """Any Pillow mode as (H, W, 3) uint8 RGB; transparency is flattened onto white paper."""
    if frame.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        a = np.asarray(frame, dtype=np.float64)
        hi = 65535.0 if frame.mode.startswith("I;16") or a.max(initial=0) > 255 else 255.0
        g = np.clip(a / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(g[:, :, None], 3, axis=2)
    if frame.mode in ("RGBA", "LA", "PA") or (frame.mode == "P" and "transparency" in frame.info):
        rgba = frame.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        frame = Image.alpha_composite(paper, rgba)
    return np.ascontiguousarray(np.asarray(frame.convert("RGB"), dtype=np.uint8))


def _image_dpi(img: Image.Image) -> float | None:
    dpi = img.info.get("dpi")
    try:
        value = float(dpi[0]) if dpi else None
    except (TypeError, ValueError, IndexError):
        return None
    # Files written without a resolution often say 1 or 72; neither tells us anything.
    return value if value and value > 1 else None


def _open_image(path: Path, fmt: str) -> Image.Image:
    with warnings.catch_warnings():
        # Pillow only warns between its limit and twice its limit; we refuse both.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(path, formats=[fmt])
            img.load()  # decode now so truncation is reported here
            return img
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise PageLoadError(
                path,
                f"image too large: over Pillow's decompression-bomb limit of "
                f"{Image.MAX_IMAGE_PIXELS} pixels ({e})",
            ) from e
        except UnidentifiedImageError as e:
            raise PageLoadError(path, f"corrupt {fmt} file: Pillow cannot identify it") from e
        except (OSError, SyntaxError, ValueError, EOFError) as e:
            raise PageLoadError(path, f"corrupt or truncated {fmt} file ({e})") from e


def _load_image_pages(path: Path, fmt: str) -> list[Page]:
    img = _open_image(path, fmt)
    pages: list[Page] = []
    try:
        frames = ImageSequence.Iterator(img) if fmt == "TIFF" else [img]
        for index, frame in enumerate(frames):
            try:
                frame.load()
                if fmt == "JPEG":
                    frame = ImageOps.exif_transpose(frame)  # phones store rotation in EXIF
                rgb = _to_rgb(frame)
            except (OSError, SyntaxError, ValueError, EOFError) as e:
                raise PageLoadError(
                    path, f"corrupt or truncated {fmt} page {index + 1} ({e})"
                ) from e
            if rgb.shape[0] == 0 or rgb.shape[1] == 0:
                raise PageLoadError(path, f"page {index + 1} is empty (0 pixels)")
            pages.append(Page(str(path), index, rgb, _image_dpi(frame)))
    finally:
        img.close()
    return pages


def _open_pdf(path: Path):
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as e:
        message = str(e)
        if "password" in message.lower():
            raise PageLoadError(path, "encrypted PDF: it needs a password to open") from e
        raise PageLoadError(path, f"corrupt PDF ({message})") from e
    except OSError as e:
        raise PageLoadError(path, f"cannot read the file ({e.strerror or e})") from e


def _render_pdf_page(path: Path, page, index: int, dpi: float) -> np.ndarray:
    w_pt, h_pt = page.get_size()
    scale = dpi / _PDF_POINTS_PER_INCH
    pixels = (w_pt * scale) * (h_pt * scale)
    if Image.MAX_IMAGE_PIXELS and pixels > Image.MAX_IMAGE_PIXELS:
        raise PageLoadError(
            path,
            f"page {index + 1} would render at {int(w_pt * scale)}x{int(h_pt * scale)} "
            f"pixels at {dpi:g} dpi, over Pillow's decompression-bomb limit of "
            f"{Image.MAX_IMAGE_PIXELS} pixels; use a lower dpi",
        )
    try:
        return _to_rgb(page.render(scale=scale).to_pil())
    except Exception as e:  # pdfium reports bad page content as generic errors
        raise PageLoadError(path, f"cannot render PDF page {index + 1} ({e})") from e


def _later(path: Path, index: int) -> Callable[[float], np.ndarray]:
    """Renders page ``index`` of ``path`` when asked (the file is opened again)."""
    def render(dpi: float) -> np.ndarray:
        pdf = _open_pdf(path)
        try:
            page = pdf[index]
            try:
                return _render_pdf_page(path, page, index, dpi)
            finally:
                page.close()
        finally:
            pdf.close()
    return render


def _load_pdf_pages(path: Path, dpi: float, text_layer: bool) -> list[Page]:
    from table.pdf_layer import read_pdf_layer

    if not dpi or dpi <= 0:
        raise ValueError(f"dpi must be positive, got {dpi!r}")
    pdf = _open_pdf(path)
    pages: list[Page] = []
    try:
        n = len(pdf)
        if n == 0:
            raise PageLoadError(path, "the PDF has no pages")
        for index in range(n):
            page = pdf[index]
            try:
                try:
                    layer = read_pdf_layer(page) if text_layer else None
                except Exception as e:  # pdfium raises generic errors for bad content
                    raise PageLoadError(path, f"cannot read PDF page {index + 1} ({e})") from e
                if layer is not None and layer.visible_chars:  # born digital: pixels when needed
                    pages.append(Page(str(path), index, None, float(dpi), layer, _later(path, index)))
                    continue
                rgb = _render_pdf_page(path, page, index, dpi)
            finally:
                page.close()
            pages.append(Page(str(path), index, rgb, float(dpi), layer))
    finally:
        pdf.close()
    return pages


def load_pages(path: str | Path, dpi: float = 300, *, text_layer: bool = True) -> list[Page]:
    """Every page of ``path`` (PNG, JPEG, BMP, WebP, TIFF, PDF) as RGB uint8 images.

    PDF pages are rendered at ``dpi`` and, with ``text_layer``, carry their text and
    drawings (``Page.layer``); JPEG EXIF orientation is applied. Raises
    PageLoadError for missing, corrupt, truncated, encrypted, oversized or
    unsupported files.
    """
    path = Path(path)
    fmt = _detect(path)
    if fmt == "PDF":
        return _load_pdf_pages(path, dpi, text_layer)
    return _load_image_pages(path, fmt)


def count_pages(path: str | Path) -> int:
    """How many pages ``path`` holds, without decoding them all. Same errors as load_pages."""
    path = Path(path)
    fmt = _detect(path)
    if fmt == "PDF":
        pdf = _open_pdf(path)
        try:
            return len(pdf)
        finally:
            pdf.close()
    img = _open_image(path, fmt) if fmt != "TIFF" else None
    if img is not None:
        img.close()
        return 1
    # TIFF: count frames without decoding each one.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(path, formats=["TIFF"]) as tif:
                return int(getattr(tif, "n_frames", 1))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise PageLoadError(
                path, f"image too large: over Pillow's decompression-bomb limit ({e})"
            ) from e
        except (OSError, SyntaxError, ValueError, EOFError) as e:
            raise PageLoadError(path, f"corrupt or truncated TIFF file ({e})") from e
