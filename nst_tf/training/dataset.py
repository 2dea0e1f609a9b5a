"""Training photos: a ``tf.data`` pipeline from any folder of images.

Taught in notebooks/09_training_a_feed_forward_network.

Johnson et al. trained on the ~80k photos of MS-COCO, resized to 256x256. Here any folder will
do: it is searched recursively, every file the course's decoder reads is used (PNG, JPEG, BMP,
GIF, WebP, TIFF; grey, alpha or 16 bits become RGB in [0, 1]: ``nst_tf.images.decode_image``),
and what cannot be used is skipped and counted in one line.

Each example is the short side resized to ``image_size``, a random square crop and a random
left-right flip. The randomness is *stateless*: example ``i`` (the i-th photo drawn since step 0)
takes its file from a per-epoch permutation (``tf.random.experimental.index_shuffle``) and its
crop and flip from the seed ``(seed, i)``. So the stream is the same on every run, and a resumed
run starts at example ``start`` at once, with no need to replay the photos before it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

from ..decoding import ImageError, _pil_unlimited
from ..images import MIN_SIDE, decode_image

SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def _check_file(path: Path) -> str | None:
    """Why ``path`` cannot be a training photo (from its header only), or None if it can."""
    try:
        with _pil_unlimited() as Image, Image.open(path) as image:
            width, height = image.size
    except Exception:  # noqa: BLE001 (Pillow raises many kinds for what is not an image)
        return "not an image"
    if min(width, height) < MIN_SIDE:
        return f"smaller than {MIN_SIDE} px"
    return None


def find_images(folder) -> tuple[list[Path], dict[str, int]]:
    """The usable photos under ``folder`` (recursive, sorted, hidden files skipped), and a count
    of the skipped files by reason. ``ValueError`` if the folder is missing or holds no photo."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise ImageError(f"{folder}: no such folder" if not folder.exists() else f"{folder}: not a folder")
    found, skipped = [], {}
    for path in sorted(folder.rglob("*")):
        if any(part.startswith(".") for part in path.relative_to(folder).parts) or not path.is_file():
            continue
        why = _check_file(path) if path.suffix.lower() in SUFFIXES else "not an image"
        if why is None:
            found.append(path)
        else:
            skipped[why] = skipped.get(why, 0) + 1
    if not found:
        raise ImageError(f"{folder}: no usable image in it (searched sub-folders too)"
                         + (f"; skipped {describe_skipped(skipped)}" if skipped else ""))
    return found, skipped


def describe_skipped(skipped: dict[str, int]) -> str:
    return ", ".join(f"{count} {why}" for why, count in sorted(skipped.items()))


class _Decoder:
    """Decodes in ``tf.py_function`` with the course's decoder; remembers the files that fail only
    now (a truncated JPEG has a good header), which the pipeline then drops."""

    def __init__(self):
        self.failed_files = set()

    @property
    def failed(self) -> int:
        return len(self.failed_files)

    def __call__(self, path):
        name = path.numpy().decode()
        try:
            return decode_image(Path(name).read_bytes(), name), True
        except (ImageError, OSError):
            self.failed_files.add(name)
            return np.zeros((MIN_SIDE, MIN_SIDE, 3), np.float32), False


def image_dataset(folder, image_size: int, batch_size: int, seed: int = 0, *, start: int = 0,
                  paths=None, quiet: bool = False, with_index: bool = False) -> tf.data.Dataset:
    """An endless, seeded stream of batches [batch_size, image_size, image_size, 3] in [0, 1].

    ``start``: the index of the first example (``steps_done * batch_size`` to resume). The
    pipeline decodes in parallel and prefetches, so the next batch is ready when a step ends.
    Prints one line: how many photos, how many files skipped and why (``quiet``: no line).
    ``paths``: a list from ``find_images`` (not searched again). The dataset's ``decoder.failed``
    counts photos that passed the header check but did not decode (dropped from the stream).
    ``with_index``: batches are ``(images, indices)``; the largest index + 1 is where a resumed
    run starts (exact even when a photo was dropped).
    """
    if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)) or image_size < MIN_SIDE:
        raise ValueError(f"image_size must be an integer >= {MIN_SIDE}, got {image_size!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    skipped = {}
    if paths is None:
        paths, skipped = find_images(folder)
    if not quiet:
        print(f"training images: {len(paths)} in {folder}"
              + (f"; skipped {sum(skipped.values())} ({describe_skipped(skipped)})" if skipped else ""),
              file=sys.stderr)
    table = tf.constant([str(p) for p in paths])
    count = len(paths)
    decoder = _Decoder()

    def example(index):
        epoch, position = index // count, index % count
        shuffled = tf.random.experimental.index_shuffle(
            position, seed=tf.stack([tf.cast(seed, tf.int64), epoch]),
            max_index=count - 1)
        pixels, ok = tf.py_function(decoder, [table[shuffled]], [tf.float32, tf.bool])
        pixels.set_shape([None, None, 3])
        return _crop_and_flip(pixels, image_size, tf.stack([tf.cast(seed, tf.int64), index])), index, ok

    dataset = (tf.data.Dataset.range(int(start), sys.maxsize)
               .map(example, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
               .filter(lambda image, index, ok: ok)
               .map(lambda image, index, ok: (image, index) if with_index else image)
               .batch(batch_size, drop_remainder=True)
               .prefetch(tf.data.AUTOTUNE))
    dataset.decoder = decoder
    return dataset


def _crop_and_flip(pixels, image_size: int, seed):
    """Short side to ``image_size`` (antialiased), a seeded square crop, a seeded flip."""
    shape = tf.cast(tf.shape(pixels)[:2], tf.float32)
    scale = image_size / tf.reduce_min(shape)
    size = tf.maximum(tf.cast(tf.math.ceil(shape * scale), tf.int32), image_size)
    resized = tf.image.resize(pixels, size, antialias=True)
    crop = tf.image.stateless_random_crop(resized, [image_size, image_size, 3], seed=seed)
    flipped = tf.image.stateless_random_flip_left_right(crop, seed=seed + tf.constant([1, 0], tf.int64))
    return tf.clip_by_value(flipped, 0.0, 1.0)
