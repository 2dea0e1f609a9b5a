"""Decoding image files safely: what a file claims before a pixel is decoded, and a limit on it.

Taught in notebooks/01_images_and_vgg_features (``images.load_image`` uses it).

The header gives the format, the size and the number of frames without decoding. A file above
``MAX_PIXELS`` is a JPEG decoded at a reduced size (libjpeg scales while decoding) or refused,
so a "decompression bomb" (a 49 kB PNG that claims 20000 x 20000 px) costs nothing; an
animation gives its first frame. Each says what was done in one ``note:`` line on stderr.
Pillow's own limit (a raw warning, then an exception with a traceback) is replaced by this one.

No TensorFlow here: the command line runs ``check_image_file`` (every check ``images.load_image``
makes before decoding) before it imports TensorFlow, so that a mistake costs no start-up.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import stat
import sys
import threading
from pathlib import Path

import cv2
import numpy as np

# 8192 x 8192 px (67 MP) is ~0.8 GB as float32 RGB.
MAX_PIXELS = 8192 * 8192
# Five 2x2 poolings in VGG shrink 32 px to 1 px; anything smaller has no deep features at all.
MIN_SIDE = 32
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


def reduction(path: Path, info, notes: bool = True) -> int:
    """1, or the JPEG scale 2/4/8 that brings a too large image under ``MAX_PIXELS`` (said in a
    note); ``ImageError`` for another format that large. Also notes an animation's first frame.
    ``info``: what ``header`` returned; ``notes=False``: a check before the real decoding, silent."""
    if info is None:
        return 1
    width, height, kind, frames = info
    if frames > 1 and notes:
        what = "pages" if kind == "TIFF" else "frames"
        _note(f"{path} has {frames} {what}: using the first one only")
    megapixels, limit = width * height / 1e6, MAX_PIXELS / 1e6
    if width * height <= MAX_PIXELS:
        return 1
    reduce = next((r for r in (2, 4, 8) if -(-width // r) * -(-height // r) <= MAX_PIXELS), None)
    if kind != "JPEG" or reduce is None:
        raise ImageError(f"{path}: {width}x{height} px ({megapixels:.3g} MP) is too large to decode; the "
                         f"limit is {limit:.3g} MP ({limit_side()}): shrink the file first")
    if notes:
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


def _unreadable(path: Path, err: OSError) -> str:
    """Why ``path`` cannot be opened, in words (``err`` from ``os.stat``)."""
    if err.errno == errno.ELOOP:
        return f"{path}: a loop of symbolic links (each points on to the next), not a file"
    if err.errno == errno.ENOENT and path.is_symlink():
        return f"{path}: a symbolic link to {os.readlink(path)}, which does not exist"
    if err.errno in (errno.ENOENT, errno.ENOTDIR):
        from .data import course_image_hint

        return f"{path}: no such file{course_image_hint(str(path))}"
    return f"{path}: cannot be read ({err.strerror or err})"


def read_bytes(path: Path) -> bytes:
    """The bytes of an image file, or ``ImageError`` saying why not (missing, a loop of links, a
    folder, a pipe, empty, unreadable)."""
    try:
        info = os.stat(path)
    except OSError as err:
        raise ImageError(_unreadable(path, err)) from None
    if stat.S_ISDIR(info.st_mode):
        raise ImageError(f"{path}: is a directory, not an image file")
    if not stat.S_ISREG(info.st_mode):  # a pipe or a device: reading could block or never end
        raise ImageError(f"{path}: not a regular file (a pipe, socket or device)")
    if not info.st_size:
        raise ImageError(f"{path}: the file is empty (0 bytes)")
    try:
        return path.read_bytes()
    except OSError as err:
        raise ImageError(f"{path}: cannot be read ({err.strerror or err})") from None


def _to_unit_float(pixels: np.ndarray) -> np.ndarray:
    if pixels.dtype == np.uint8:
        return pixels.astype(np.float32) / 255.0
    if pixels.dtype == np.uint16:
        return pixels.astype(np.float32) / 65535.0
    return np.clip(pixels.astype(np.float32), 0.0, 1.0)  # float formats (EXR, HDR)


def decode_image(data: bytes, name: str | os.PathLike = "<bytes>") -> np.ndarray:
    """Decode encoded image bytes to a float32 RGB array [H, W, 3] in [0, 1].

    An image above ``MAX_PIXELS`` is decoded at a reduced size when it is a JPEG and refused
    otherwise, before any pixel is decoded; an animation gives its first frame. Both say so
    in one ``note:`` line on stderr."""
    path = Path(name)
    buffer = np.frombuffer(data, np.uint8)
    kind = format_of(data)
    reduce = reduction(path, header(data, frames=True))
    if kind is not None:
        check_complete(data, path, reduce)
    flags = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}
    try:
        raw = cv2.imdecode(buffer, flags.get(reduce, cv2.IMREAD_UNCHANGED))
    except cv2.error as err:
        raise ImageError(f"{path}: OpenCV cannot decode it ({str(err).strip().splitlines()[-1]})") from None
    if raw is None or raw.size == 0:
        if kind is not None:
            raise ImageError(f"{path}: the {kind} data is truncated or corrupt")
        raise ImageError(f"{path}: not an image (unrecognised file format)")
    if raw.ndim == 3 and raw.shape[2] in (2, 4):
        # Transparent pixels hold arbitrary colour (often black); composite on white as a viewer does.
        pixels = _to_unit_float(raw)
        colour = pixels[..., :1].repeat(3, -1) if raw.shape[2] == 2 else pixels[..., 2::-1]
        alpha = pixels[..., -1:]
        return colour * alpha + (1.0 - alpha)
    # IMREAD_COLOR applies the EXIF orientation and expands grey to three channels;
    # IMREAD_ANYDEPTH keeps 16-bit data instead of truncating it to 8 bits.
    bgr = raw if reduce > 1 else cv2.imdecode(buffer, cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH)
    if bgr is None:
        raise ImageError(f"{path}: not an image, or a format OpenCV cannot decode")
    return _to_unit_float(bgr[..., ::-1])


def image_dimensions(path: str | os.PathLike) -> tuple[int, int]:
    """(width, height) of an image file, read from its header without decoding the pixels."""
    data = read_bytes(Path(path))
    found = header(data) or (*decode_image(data, path).shape[1::-1], None, 1)
    return int(found[0]), int(found[1])


def resized_shape(height: int, width: int, max_dim: int) -> tuple[int, int]:
    """(height, width) once the long side is ``max_dim`` px, the aspect ratio kept."""
    scale = max_dim / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def checked_shape(path: Path, height: int, width: int, max_dim: int | None) -> tuple[int, int]:
    """(height, width) of a decoded ``height`` x ``width`` image once scaled to ``max_dim``, or
    ``ImageError`` if it is below ``MIN_SIDE`` on a side before or after, or above ``MAX_PIXELS``."""
    if min(height, width) < MIN_SIDE:  # before resizing: a 8x8 image is not a photo to upscale 64x
        raise ImageError(f"{path}: {width}x{height} px is too small: both sides must be at least "
                         f"{MIN_SIDE} px")
    if max_dim is None:
        return height, width
    height, width = resized_shape(height, width, int(max_dim))
    if height * width > MAX_PIXELS:
        raise ImageError(f"{path}: resizing it to a long side of {max_dim} px gives {width}x"
                         f"{height} px, above the {MAX_PIXELS / 1e6:.3g} MP limit ({limit_side()})")
    if min(height, width) < MIN_SIDE:
        raise ImageError(f"{path}: {width}x{height} px after resizing to a long side of {max_dim} px is "
                         f"too small: both sides must be at least {MIN_SIDE} px")
    return height, width


def check_image_file(path: str | os.PathLike, max_dim: int | None = None) -> None:
    """Every check of ``images.load_image(path, max_dim)`` that needs no decoding, silently: the
    file (missing, a loop of links, a folder, empty), the format, the size from the header (a
    decompression bomb, too small, too large or too thin at ``max_dim``). A truncated file is
    found only by decoding it (``load_image``); a format Pillow cannot read is decoded here."""
    path = Path(path)
    data = read_bytes(path)
    info = header(data, frames=True)
    if info is None:  # not a format Pillow knows: OpenCV's decoding says whether it is an image
        height, width = decode_image(data, path).shape[:2]
    else:
        reduce = reduction(path, info, notes=False)
        width, height = -(-info[0] // reduce), -(-info[1] // reduce)
    checked_shape(path, height, width, max_dim)


def check_video_input(path: Path) -> None:
    """``ImageError`` unless ``path`` is a file that may be a video: OpenCV opens a still image
    (JPEG, PNG, ...) as a one-frame "video", which is not what anyone means."""
    if not path.is_file():
        raise ImageError(f"{path}: is not a file" if path.exists() else
                         f"{path}: a symbolic link to {path.readlink()}, which does not lead to a file"
                         if path.is_symlink() else f"{path}: no such file")
    with open(path, "rb") as handle:
        head = handle.read(1 << 16)
    kind = format_of(head)
    if kind == "GIF":
        info = header(path.read_bytes(), frames=True)
        kind = None if info and info[3] > 1 else kind  # an animated GIF is a (silent) video
    if kind is not None:
        raise ImageError(f"{path}: is a still image ({kind}), not a video; stylize an image with "
                         f"python -m nst_tf fast (or fast_stylize)")
