"""Page loading: every format, every page, content sniffing, and a clear error for bad input."""

from __future__ import annotations

import hashlib
import io
import struct

import numpy as np
import pytest
from PIL import Image

from table.pages import Page, PageLoadError, count_pages, load_pages, sniff_format


def _page_image(w: int = 120, h: int = 80, seed: int = 0) -> Image.Image:
    """A small RGB image with a dark marker in its top-left corner."""
    rng = np.random.default_rng(seed)
    a = np.full((h, w, 3), 255, np.uint8)
    a[10 : h - 10, 10 : w - 10] = rng.integers(100, 200, size=3, dtype=np.uint8)
    a[:8, :8] = (0, 0, 0)
    return Image.fromarray(a)


@pytest.mark.parametrize(
    "fmt,ext",
    [("PNG", ".png"), ("JPEG", ".jpg"), ("BMP", ".bmp"), ("WEBP", ".webp"), ("TIFF", ".tif")],
)
def test_single_image_formats(tmp_path, fmt, ext):
    img = _page_image()
    path = tmp_path / f"scan{ext}"
    img.save(path, fmt, **({"quality": 95} if fmt in ("JPEG", "WEBP") else {}))
    pages = load_pages(path)
    assert len(pages) == 1 and count_pages(path) == 1
    page = pages[0]
    assert isinstance(page, Page)
    assert page.source == str(path) and page.index == 0
    assert page.image.dtype == np.uint8 and page.image.shape == (80, 120, 3)
    assert page.image[:6, :6].max() < 60  # the marker survived (lossy formats too)
    assert page.image[40, 60].min() > 90


def test_format_is_sniffed_not_taken_from_the_extension(tmp_path):
    path = tmp_path / "really_a_jpeg.png"
    _page_image().save(path, "JPEG")
    assert sniff_format(path.read_bytes()[:16]) == "JPEG"
    assert load_pages(path)[0].image.shape == (80, 120, 3)
    no_ext = tmp_path / "scan"
    _page_image().save(no_ext, "PNG")
    assert load_pages(no_ext)[0].image.shape == (80, 120, 3)


def test_jpeg_exif_orientation_is_applied(tmp_path):
    img = _page_image(120, 80)
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was turned: show the picture rotated 90 degrees clockwise
    path = tmp_path / "phone.jpg"
    img.save(path, "JPEG", quality=95, exif=exif)
    page = load_pages(path)[0]
    assert page.image.shape == (120, 80, 3)  # width and height swapped
    assert page.image[:6, -6:].max() < 60  # the top-left marker is now top-right
    assert page.image[:6, :6].min() > 200


def test_multipage_tiff_gives_every_page_and_its_dpi(tmp_path):
    frames = [_page_image(seed=k) for k in range(3)]
    path = tmp_path / "stack.tiff"
    frames[0].save(path, "TIFF", save_all=True, append_images=frames[1:], dpi=(200, 200))
    pages = load_pages(path)
    assert [p.index for p in pages] == [0, 1, 2]
    assert count_pages(path) == 3
    for k, p in enumerate(pages):
        assert p.dpi == pytest.approx(200)
        assert np.array_equal(p.image, np.asarray(frames[k]))


def test_grey_palette_and_transparent_images_become_rgb_on_white(tmp_path):
    gray = Image.fromarray(np.full((20, 30), 77, np.uint8), "L")
    gray.save(tmp_path / "g.png")
    assert load_pages(tmp_path / "g.png")[0].image[5, 5].tolist() == [77, 77, 77]
    rgba = Image.new("RGBA", (30, 20), (0, 0, 0, 0))
    rgba.save(tmp_path / "t.png")
    assert load_pages(tmp_path / "t.png")[0].image.min() == 255  # transparent = white paper
    deep = Image.fromarray(np.full((20, 30), 65535, np.uint16))
    deep.save(tmp_path / "deep.png")
    assert load_pages(tmp_path / "deep.png")[0].image.min() == 255


def test_pdf_every_page_at_the_requested_dpi(tmp_path):
    frames = [_page_image(144, 72, seed=k) for k in range(2)]
    path = tmp_path / "doc.pdf"
    # Pillow writes each image as one PDF page at 72 dpi: 144 x 72 px = 2 x 1 inch.
    frames[0].save(path, "PDF", save_all=True, append_images=frames[1:], resolution=72)
    assert count_pages(path) == 2
    pages = load_pages(path)  # default 300 dpi
    assert [p.index for p in pages] == [0, 1]
    assert pages[0].image.shape == (300, 600, 3) and pages[0].dpi == 300
    assert pages[0].image[:20, :20].max() < 80  # the marker, scaled up
    low = load_pages(path, dpi=100)
    assert low[1].image.shape == (100, 200, 3) and low[1].dpi == 100


# --------------------------------------------------------------------------- bad input


def _assert_error(path, *words):
    with pytest.raises(PageLoadError) as err:
        load_pages(path)
    message = str(err.value)
    assert str(path) in message and err.value.path == str(path)
    for w in words:
        assert w in message.lower(), message
    return message


def test_missing_empty_and_non_image_files(tmp_path):
    _assert_error(tmp_path / "nope.png", "not found")
    (tmp_path / "empty.png").write_bytes(b"")
    _assert_error(tmp_path / "empty.png", "empty")
    (tmp_path / "notes.png").write_text("these are not the pixels you are looking for\n")
    _assert_error(tmp_path / "notes.png", "not a supported image or pdf")
    (tmp_path / "folder.png").mkdir()
    _assert_error(tmp_path / "folder.png", "not a file")


@pytest.mark.parametrize(
    "fmt,ext", [("PNG", ".png"), ("JPEG", ".jpg"), ("TIFF", ".tif"), ("WEBP", ".webp")]
)
def test_truncated_images(tmp_path, fmt, ext):
    buf = io.BytesIO()
    _page_image(400, 300).save(buf, fmt)
    data = buf.getvalue()
    path = tmp_path / f"cut{ext}"
    path.write_bytes(data[: len(data) // 2])
    _assert_error(path, fmt.lower())


def test_corrupt_image_body(tmp_path):
    buf = io.BytesIO()
    _page_image(200, 100).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    data[60:200] = b"\x00" * 140  # clobber the compressed pixel data
    path = tmp_path / "bad.png"
    path.write_bytes(bytes(data))
    _assert_error(path, "png")


def test_decompression_bomb_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    _page_image(120, 80).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 5000)  # 120 x 80 = 9600 pixels: over the limit
    message = _assert_error(path, "decompression-bomb")
    assert "5000" in message
    pdf = tmp_path / "poster.pdf"
    _page_image(120, 80).save(pdf, "PDF", resolution=72)
    _assert_error(pdf, "decompression-bomb", "dpi")


def test_corrupt_and_truncated_pdf(tmp_path):
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage without an end")
    _assert_error(path, "pdf")
    good = tmp_path / "good.pdf"
    _page_image().save(good, "PDF")
    cut = tmp_path / "cut.pdf"
    cut.write_bytes(good.read_bytes()[:120])
    _assert_error(cut, "pdf")


# An encrypted PDF, built by hand with the PDF standard security handler (RC4, 40-bit,
# revision 2): the page cannot be opened without the user password.
_PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")


def _rc4(key: bytes, data: bytes) -> bytes:
    s = list(range(256))
    j = 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) % 256
        s[i], s[j] = s[j], s[i]
    out, i, j = bytearray(), 0, 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + s[i]) % 256
        s[i], s[j] = s[j], s[i]
        out.append(byte ^ s[(s[i] + s[j]) % 256])
    return bytes(out)


def _encrypted_pdf(user: bytes = b"secret", owner: bytes = b"owner") -> bytes:
    def padded(p: bytes) -> bytes:
        return (p + _PAD)[:32]

    o_entry = _rc4(hashlib.md5(padded(owner)).digest()[:5], padded(user))
    perms = -4
    doc_id = hashlib.md5(b"tablescribe test").digest()
    key = hashlib.md5(padded(user) + o_entry + struct.pack("<i", perms) + doc_id).digest()[:5]
    u_entry = _rc4(key, _PAD)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] >>",
        b"<< /Filter /Standard /V 1 /R 2 /O <"
        + o_entry.hex().encode()
        + b"> /U <"
        + u_entry.hex().encode()
        + b"> /P "
        + str(perms).encode()
        + b" >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Encrypt 4 0 R /ID [<{doc_id.hex()}> "
        f"<{doc_id.hex()}>] >>\nstartxref\n{xref}\n%%EOF\n"
    ).encode()
    return bytes(out)


def test_encrypted_pdf_is_reported(tmp_path):
    path = tmp_path / "locked.pdf"
    path.write_bytes(_encrypted_pdf())
    _assert_error(path, "encrypted", "password")
    with pytest.raises(PageLoadError, match="encrypted"):
        count_pages(path)


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")  # Pillow's own note on the broken file
def test_count_pages_errors_like_load_pages(tmp_path):
    (tmp_path / "x.tif").write_bytes(b"II*\x00garbage")
    with pytest.raises(PageLoadError, match="x.tif"):
        count_pages(tmp_path / "x.tif")
    with pytest.raises(PageLoadError, match="not found"):
        count_pages(tmp_path / "missing.pdf")
