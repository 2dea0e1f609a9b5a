"""The command line's argument types and checks, shared by ``cli`` and ``cli_fast``.

Expected mistakes (a missing file, a bad number) become one line on stderr and exit status 2:
argparse types raise ``argparse.ArgumentTypeError``, later checks ``UsageError``.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not usage + error
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


class UsageError(ValueError):
    """A command-line mistake found before any work."""


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number >= 0")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 1")
    return value


def _image_size(text: str) -> int:
    value = _positive_int(text)
    if value < 32:
        raise argparse.ArgumentTypeError(f"{text!r} is too small: VGG needs at least 32 px")
    return value


def _positive_float(text: str) -> float:
    value = _non_negative(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
    return value


def _strength(text: str) -> float:
    value = _non_negative(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be between 0 and 1")
    return value


def _mask_styles(texts, count: int, masks: int):
    if texts is None:
        return None
    if not masks:
        raise UsageError("--mask-styles needs --mask")
    styles = []
    for text in texts:
        if text.lower() == "none":
            styles.append(None)
            continue
        try:
            styles.append(int(text))
        except ValueError:
            raise UsageError(f"--mask-styles: {text!r} is not a style index or 'none'") from None
        if not 0 <= styles[-1] < count:
            raise UsageError(f"--mask-styles: {text} is not a style index 0..{count - 1}")
    if len(styles) != masks:
        raise UsageError(f"--mask-styles has {len(styles)} entries for {masks} --mask file(s)")
    return styles


def _image_source(text: str, download: bool = True) -> Path | None:
    """A file path, or the name of a course image (see ``python -m nst_tf images``).
    ``download=False`` (the checks before TensorFlow): None for a course image that would have
    to be downloaded, which Keras does, after TensorFlow's quiet import."""
    from .data import course_image, course_images, local_asset, offline

    path = Path(text).expanduser()
    if not path.exists() and text in course_images():
        if not download and not offline() and local_asset(text) is None:
            return None
        return course_image(text)
    return path


def _check_output(output: Path, inputs: list[Path]) -> None:
    if output.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise UsageError(f"{output}: the output must end in .png or .jpg")
    if output.is_dir():
        raise UsageError(f"{output}: is a directory; give a file name such as {output / 'out.png'}")
    resolved = output.resolve()
    for source in inputs:
        if source.exists() and source.resolve() == resolved:
            raise UsageError(f"{output}: is an input image; refusing to overwrite it")


def _decay(text: str) -> float:
    value = _positive_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be in (0, 1]: the factor the learning rate is multiplied by")
    return value


def _split(texts) -> list[str]:
    """``["a,b", "c"]`` -> ``["a", "b", "c"]``: lists may be given with spaces or commas."""
    return [part.strip() for text in texts or [] for part in text.split(",") if part.strip()]


def _check_new_file(path: Path, overwrite: bool, flag: str) -> None:
    """An existing file is replaced only with ``--overwrite`` (and left untouched without it)."""
    # os.path never raises (a name too long, a loop); a folder is left to the check that says so
    if os.path.lexists(path) and not os.path.isdir(path) and not overwrite:
        raise UsageError(f"{path}: exists ({flag}); add --overwrite to replace it")
