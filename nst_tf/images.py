"""Image files in and out: decode to float32 RGB in [0, 1], resize, save atomically.

Taught in notebooks/01_images_and_vgg_features.

Every image in the course is a float32 tensor of shape [1, H, W, 3] with values in [0, 1]
(batch first, channels last, RGB order). Whatever the file holds (grayscale, an alpha channel,
16 bits per channel, a phone photo rotated by its EXIF tag) comes out in that one form.
Files and sizes are checked before decoding (``decoding``, which needs no TensorFlow); outputs
before any work (``outputs``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import cv2
import numpy as np
import tensorflow as tf

from .decoding import (MIN_SIDE, ImageError, checked_shape, decode_image,  # noqa: F401 (re-exported)
                       image_dimensions, read_bytes, resized_shape)
from .outputs import finish_write, write_target

_WRITABLE = (".png", ".jpg", ".jpeg")


class ImageWriteError(ImageError, OSError):
    """Writing an image failed (disk full, permissions): one line naming the file and the cause."""


def resize_image(image: tf.Tensor, max_dim: int) -> tf.Tensor:
    """Scale [B, H, W, 3] so that its long side is ``max_dim`` px, keeping the aspect ratio."""
    height, width = int(image.shape[1]), int(image.shape[2])
    new_size = resized_shape(height, width, max_dim)
    if new_size == (height, width):
        return image
    # antialias: without it, downscaling aliases fine texture, which is exactly what style is.
    resized = tf.image.resize(image, new_size, method="bilinear", antialias=True)
    return tf.clip_by_value(resized, 0.0, 1.0)


def load_image(path: str | os.PathLike, max_dim: int | None = None) -> tf.Tensor:
    """Load an image file as a float32 RGB tensor [1, H, W, 3] in [0, 1].

    ``max_dim`` scales the long side to that many pixels (up or down). Raises ``ImageError``
    (a ``ValueError``) naming the file and the cause for a missing, empty, non-image, truncated
    or too small file (under 32 px on a side, checked before and after resizing), or a directory.
    """
    path = Path(path)
    if max_dim is not None and (not isinstance(max_dim, (int, np.integer)) or max_dim < MIN_SIDE):
        raise ImageError(f"{path}: max_dim must be an integer >= {MIN_SIDE}, got {max_dim!r}")
    pixels = decode_image(read_bytes(path), path)
    checked_shape(path, *pixels.shape[:2], max_dim)  # too small, or too large or thin once resized
    image = tf.convert_to_tensor(pixels[np.newaxis], tf.float32)
    return image if max_dim is None else resize_image(image, int(max_dim))


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
    folder and renamed, with the mode any new file gets (0644 under umask 022; an existing
    file keeps its own). A symbolic link is written through, as a shell's ``>`` does. Missing
    folders are created. A failed write raises ``ImageWriteError`` (an ``ImageError`` and an
    ``OSError``) in one line. Returns the path written.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _WRITABLE:
        raise ImageError(f"{path}: cannot write '{suffix or 'no extension'}'; use .png or .jpg")
    if path.is_dir():
        raise ImageError(f"{path}: is a directory, not an image file")
    target = write_target(path)
    pixels = to_uint8(image)
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if suffix != ".png" else []
    ok, encoded = cv2.imencode(suffix, pixels[..., ::-1], params)
    if not ok:
        raise ImageError(f"{path}: OpenCV could not encode the image")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(prefix=f".{target.name[:40]}.", suffix=".tmp", dir=target.parent)
    except OSError as err:
        raise ImageWriteError(f"{path}: cannot write ({err.strerror or err})") from None
    try:
        with os.fdopen(handle, "wb") as temp:
            temp.write(encoded.tobytes())
        finish_write(temp_name, target)
    except BaseException as err:
        Path(temp_name).unlink(missing_ok=True)
        if isinstance(err, OSError) and not isinstance(err, ImageError):
            raise ImageWriteError(f"{path}: cannot write ({err.strerror or err})") from None
        raise
    return path
