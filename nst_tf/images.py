"""Image files in and out: decode to float32 RGB in [0, 1], resize, save atomically.

Taught in notebooks/01_images_and_vgg_features.

Every image in the course is a float32 tensor of shape [1, H, W, 3] with values in [0, 1]
(batch first, channels last, RGB order). Whatever the file holds (grayscale, an alpha channel,
16 bits per channel, a phone photo rotated by its EXIF tag) comes out in that one form.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np
import tensorflow as tf

# Five 2x2 poolings in VGG shrink 32 px to 1 px; anything smaller has no deep features at all.
MIN_SIDE = 32
_WRITABLE = {".png", ".jpg", ".jpeg"}


class ImageError(ValueError):
    """An image file that cannot be used; the message names the file and the cause."""


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise ImageError(f"{path}: no such file")
    if path.is_dir():
        raise ImageError(f"{path}: is a directory, not an image file")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ImageError(f"{path}: cannot be read ({err.strerror or err})") from None
    if not data:
        raise ImageError(f"{path}: the file is empty (0 bytes)")
    return data


_SIGNATURES = {b"\xff\xd8\xff": "JPEG", b"\x89PNG\r\n\x1a\n": "PNG", b"GIF8": "GIF", b"BM": "BMP",
               b"II*\x00": "TIFF", b"MM\x00*": "TIFF", b"RIFF": "WebP"}


def _format_of(data: bytes) -> str | None:
    return next((name for magic, name in _SIGNATURES.items() if data.startswith(magic)), None)


def _check_complete(data: bytes, path: Path) -> None:
    """Refuse truncated files: OpenCV decodes a cut-off JPEG silently, with grey at the bottom."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
    except UnidentifiedImageError:
        return  # a format Pillow does not know; OpenCV already decoded it
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageError(f"{path}: the image data is truncated or corrupt ({err})") from None


def _to_unit_float(pixels: np.ndarray) -> np.ndarray:
    if pixels.dtype == np.uint8:
        return pixels.astype(np.float32) / 255.0
    if pixels.dtype == np.uint16:
        return pixels.astype(np.float32) / 65535.0
    return np.clip(pixels.astype(np.float32), 0.0, 1.0)  # float formats (EXR, HDR)


def decode_image(data: bytes, name: str | os.PathLike = "<bytes>") -> np.ndarray:
    """Decode encoded image bytes to a float32 RGB array [H, W, 3] in [0, 1]."""
    path = Path(name)
    buffer = np.frombuffer(data, np.uint8)
    kind = _format_of(data)
    if kind is not None:
        _check_complete(data, path)
    raw = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
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
    bgr = cv2.imdecode(buffer, cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH)
    if bgr is None:
        raise ImageError(f"{path}: not an image, or a format OpenCV cannot decode")
    return _to_unit_float(bgr[..., ::-1])


def resize_image(image: tf.Tensor, max_dim: int) -> tf.Tensor:
    """Scale [B, H, W, 3] so that its long side is ``max_dim`` px, keeping the aspect ratio."""
    height, width = int(image.shape[1]), int(image.shape[2])
    scale = max_dim / max(height, width)
    new_size = (max(1, round(height * scale)), max(1, round(width * scale)))
    if new_size == (height, width):
        return image
    # antialias: without it, downscaling aliases fine texture, which is exactly what style is.
    resized = tf.image.resize(image, new_size, method="bilinear", antialias=True)
    return tf.clip_by_value(resized, 0.0, 1.0)


def load_image(path: str | os.PathLike, max_dim: int | None = None) -> tf.Tensor:
    """Load an image file as a float32 RGB tensor [1, H, W, 3] in [0, 1].

    ``max_dim`` scales the long side to that many pixels (up or down). Raises ``ImageError``
    (a ``ValueError``) naming the file and the cause for a missing, empty, non-image, truncated
    or too small file, or a directory.
    """
    path = Path(path)
    if max_dim is not None and (not isinstance(max_dim, (int, np.integer)) or max_dim < MIN_SIDE):
        raise ImageError(f"{path}: max_dim must be an integer >= {MIN_SIDE}, got {max_dim!r}")
    pixels = decode_image(_read_bytes(path), path)
    image = tf.convert_to_tensor(pixels[np.newaxis], tf.float32)
    if max_dim is not None:
        image = resize_image(image, int(max_dim))
    height, width = int(image.shape[1]), int(image.shape[2])
    if min(height, width) < MIN_SIDE:
        raise ImageError(
            f"{path}: too small for VGG: {width}x{height} px after resizing; "
            f"both sides must be at least {MIN_SIDE} px")
    return image


def to_uint8(image) -> np.ndarray:
    """[1, H, W, 3] or [H, W, 3] float in [0, 1] -> uint8 array [H, W, 3] (rounded, clipped)."""
    array = np.asarray(image, dtype=np.float32)
    if array.ndim == 4:
        if array.shape[0] != 1:
            raise ValueError(f"expected one image, got a batch of {array.shape[0]}")
        array = array[0]
    if array.ndim != 3 or array.shape[-1] != 3:
        raise ValueError(f"expected an RGB image [H, W, 3], got shape {array.shape}")
    return np.round(np.clip(array, 0.0, 1.0) * 255.0).astype(np.uint8)


def save_image(image, path: str | os.PathLike, quality: int = 95) -> Path:
    """Write an RGB image in [0, 1] to PNG or JPEG (by extension), atomically.

    The file appears complete or not at all: it is written to a temporary file in the same
    folder and renamed. Missing folders are created. Returns the path written.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _WRITABLE:
        raise ImageError(f"{path}: cannot write '{suffix or 'no extension'}'; use .png or .jpg")
    if path.is_dir():
        raise ImageError(f"{path}: is a directory, not an image file")
    pixels = to_uint8(image)
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if suffix != ".png" else []
    ok, encoded = cv2.imencode(suffix, pixels[..., ::-1], params)
    if not ok:
        raise ImageError(f"{path}: OpenCV could not encode the image")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as temp:
            temp.write(encoded.tobytes())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return path
