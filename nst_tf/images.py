"""Image files in and out: decode to float32 RGB in [0, 1], resize, save atomically.

Taught in notebooks/01_images_and_vgg_features.

Every image in the course is a float32 tensor of shape [1, H, W, 3] with values in [0, 1]
(batch first, channels last, RGB order). Whatever the file holds (grayscale, an alpha channel,
16 bits per channel, a phone photo rotated by its EXIF tag) comes out in that one form.
Sizes are checked before decoding (``decoding``); outputs before any work (``outputs``).
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

import cv2
import numpy as np
import tensorflow as tf

from . import decoding
from .decoding import ImageError, check_complete, format_of, header, limit_side, reduction
from .outputs import finish_write, write_target

# Five 2x2 poolings in VGG shrink 32 px to 1 px; anything smaller has no deep features at all.
MIN_SIDE = 32
_WRITABLE = (".png", ".jpg", ".jpeg")


class ImageWriteError(ImageError, OSError):
    """Writing an image failed (disk full, permissions): one line naming the file and the cause."""


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


def _read_bytes(path: Path) -> bytes:
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


def image_dimensions(path: str | os.PathLike) -> tuple[int, int]:
    """(width, height) of an image file, read from its header without decoding the pixels."""
    data = _read_bytes(Path(path))
    found = header(data) or (*decode_image(data, path).shape[1::-1], None, 1)
    return int(found[0]), int(found[1])


def _to_unit_float(pixels: np.ndarray) -> np.ndarray:
    if pixels.dtype == np.uint8:
        return pixels.astype(np.float32) / 255.0
    if pixels.dtype == np.uint16:
        return pixels.astype(np.float32) / 65535.0
    return np.clip(pixels.astype(np.float32), 0.0, 1.0)  # float formats (EXR, HDR)


def decode_image(data: bytes, name: str | os.PathLike = "<bytes>") -> np.ndarray:
    """Decode encoded image bytes to a float32 RGB array [H, W, 3] in [0, 1].

    An image above ``decoding.MAX_PIXELS`` is decoded at a reduced size when it is a JPEG and refused
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


def _resized_shape(height: int, width: int, max_dim: int) -> tuple[int, int]:
    scale = max_dim / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize_image(image: tf.Tensor, max_dim: int) -> tf.Tensor:
    """Scale [B, H, W, 3] so that its long side is ``max_dim`` px, keeping the aspect ratio."""
    height, width = int(image.shape[1]), int(image.shape[2])
    new_size = _resized_shape(height, width, max_dim)
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
    pixels = decode_image(_read_bytes(path), path)
    height, width = pixels.shape[:2]
    if min(height, width) < MIN_SIDE:  # before resizing: a 8x8 image is not a photo to upscale 64x
        raise ImageError(f"{path}: {width}x{height} px is too small: both sides must be at least "
                         f"{MIN_SIDE} px")
    image = tf.convert_to_tensor(pixels[np.newaxis], tf.float32)
    if max_dim is not None:
        new_height, new_width = _resized_shape(height, width, int(max_dim))
        if new_height * new_width > decoding.MAX_PIXELS:
            raise ImageError(f"{path}: resizing it to a long side of {max_dim} px gives {new_width}x"
                             f"{new_height} px, above the {decoding.MAX_PIXELS / 1e6:.3g} MP limit ({limit_side()})")
        image = resize_image(image, int(max_dim))
    height, width = int(image.shape[1]), int(image.shape[2])
    if min(height, width) < MIN_SIDE:
        raise ImageError(f"{path}: {width}x{height} px after resizing to a long side of {max_dim} px is "
                         f"too small: both sides must be at least {MIN_SIDE} px")
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
