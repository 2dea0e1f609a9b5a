"""Decoding image files safely: what a file claims before a pixel is decoded, and a limit on it.

Taught in notebooks/01_images_and_vgg_features (``images.load_image`` uses it).

The header gives the format, the size and the number of frames without decoding. A file above
``MAX_PIXELS`` is a JPEG decoded at a reduced size (libjpeg scales while decoding) or refused,
so a "decompression bomb" (a 49 kB PNG that claims 20000 x 20000 px) costs nothing; an
animation gives its first frame. Each says what was done in one ``note:`` line on stderr.
Pillow's own limit (a raw warning, then an exception with a traceback) is replaced by this one.
"""

from __future__ import annotations

import contextlib
import io
import sys
import threading
from pathlib import Path

# 8192 x 8192 px (67 MP) is ~0.8 GB as float32 RGB.
MAX_PIXELS = 8192 * 8192
_PIL_LOCK = threading.Lock()


class ImageError(ValueError):
    """An image file that cannot be used; the message names the file and the cause."""


_SIGNATURES = {b"\xff\xd8\xff": "JPEG", b"\x89PNG\r\n\x1a\n": "PNG", b"GIF8": "GIF", b"BM": "BMP",
               b"II*\x00": "TIFF", b"MM\x00*": "TIFF"}


def format_of(data: bytes) -> str | None:
    if data.startswith(b"RIFF"):  # RIFF is also AVI's and WAV's container
        return "WebP" if data[8:12] == b"WEBP" else None
    return next((name for magic, name in _SIGNATURES.items() if data.startswith(magic)), None)


def limit_side() -> str:
    side = int(MAX_PIXELS ** 0.5)
    return f"{side}x{side} px"


def _note(message: str) -> None:
    print(f"note: {message}", file=sys.stderr)


@contextlib.contextmanager
def _pil_unlimited():
    """Pillow with its decompression-bomb limit off: this module checks the size itself, first."""
    from PIL import Image

    with _PIL_LOCK:
        saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            yield Image
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def header(data: bytes, frames: bool = False):
    """(width, height, format, frames) from the header, pixels not decoded; None if Pillow cannot
    read it (OpenCV-only formats, or corrupt: decoding then says why)."""
    with _pil_unlimited() as Image:
        try:
            with Image.open(io.BytesIO(data)) as im:
                count = getattr(im, "n_frames", 1) if frames and im.format in ("GIF", "PNG", "WEBP", "TIFF") else 1
                return im.size[0], im.size[1], im.format, count
        except Exception:  # noqa: BLE001 (Pillow raises many kinds for a header it cannot parse)
            return None


def reduction(path: Path, info) -> int:
    """1, or the JPEG scale 2/4/8 that brings a too large image under ``MAX_PIXELS`` (said in a
    note); ``ImageError`` for another format that large. Also notes an animation's first frame.
    ``info``: what ``header`` returned."""
    if info is None:
        return 1
    width, height, kind, frames = info
    if frames > 1:
        what = "pages" if kind == "TIFF" else "frames"
        _note(f"{path} has {frames} {what}: using the first one only")
    megapixels, limit = width * height / 1e6, MAX_PIXELS / 1e6
    if width * height <= MAX_PIXELS:
        return 1
    reduce = next((r for r in (2, 4, 8) if -(-width // r) * -(-height // r) <= MAX_PIXELS), None)
    if kind != "JPEG" or reduce is None:
        raise ImageError(f"{path}: {width}x{height} px ({megapixels:.3g} MP) is too large to decode; the "
                         f"limit is {limit:.3g} MP ({limit_side()}): shrink the file first")
    _note(f"{path} is {width}x{height} px ({megapixels:.3g} MP), above the {limit:.3g} MP decoding "
          f"limit: decoded at 1/{reduce} size ({-(-width // reduce)}x{-(-height // reduce)} px)")
    return reduce


def check_complete(data: bytes, path: Path, reduce: int = 1) -> None:
    """Refuse truncated files: OpenCV decodes a cut-off JPEG silently, with grey at the bottom."""
    from PIL import UnidentifiedImageError

    with _pil_unlimited() as Image:
        try:
            with Image.open(io.BytesIO(data)) as im:
                if reduce > 1:  # JPEG draft mode: decoded at 1/reduce size, still read to the end
                    im.draft("RGB", (im.size[0] // reduce, im.size[1] // reduce))
                im.load()
        except UnidentifiedImageError:
            return  # a format Pillow does not know; OpenCV already decoded it
        except (OSError, SyntaxError, ValueError) as err:
            raise ImageError(f"{path}: the image data is truncated or corrupt ({err})") from None
