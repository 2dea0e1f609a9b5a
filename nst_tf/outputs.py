"""Where results go: checked before any work, then written atomically like any other new file.

Taught in notebooks/01_images_and_vgg_features (``save_image`` uses it) and used by the command
line, which checks every output before it loads a model: a folder that is really a file, a name
the file system refuses, a folder where nothing can be created (``/proc``) or a full disk are
one line at the start, not a traceback after the work.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile
from pathlib import Path

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
VIDEO_SUFFIXES = (".mp4", ".avi", ".m4v", ".mov")


class OutputError(ValueError):
    """An output that cannot be written; the message names the path and the cause."""


def write_target(path: Path) -> Path:
    """The file that writing ``path`` replaces: a symbolic link is written through to its target
    (as a shell's ``>`` does), so the link stays a link."""
    path = Path(path)
    if not path.is_symlink():
        return path
    try:
        return path.resolve()
    except (RuntimeError, OSError):  # Python 3.11 raises RuntimeError on a loop
        raise OutputError(f"{path}: a loop of symbolic links; there is no file to write through it") from None


def _is_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except (OSError, ValueError):  # pathlib's is_dir raises on a name too long
        return False


def _existing_folder(folder: Path, output=None) -> Path:
    """The nearest existing folder on ``folder``'s path (``folder`` itself if it exists)."""
    current = folder
    while True:
        try:
            info = os.stat(current)
        except OSError as err:
            if err.errno not in (errno.ENOENT, errno.ENOTDIR) or current.parent == current:
                why = ("a loop of symbolic links" if err.errno == errno.ELOOP else
                       "a name too long for the file system" if err.errno == errno.ENAMETOOLONG else
                       err.strerror or str(err))
                raise OutputError(f"{current}: {why}; cannot write under it") from None
            current = current.parent
            continue
        if not stat.S_ISDIR(info.st_mode):
            raise OutputError(f"{current}: is a file, not a folder" + (f"; cannot write {output} in it" if output else ""))
        return current


def check_folder_writable(folder, output=None) -> Path:
    """``OutputError`` unless files can be created in ``folder`` (or, when it does not exist yet,
    it can be created): tried for real, with a temporary file or folder removed at once.
    Returns the nearest existing folder. ``output``: the file meant, for the message."""
    folder = Path(folder)
    existing = _existing_folder(folder, output)
    try:
        if existing == folder:
            handle, probe = tempfile.mkstemp(prefix=".nst-write-check.", dir=folder)
            os.close(handle)
            os.unlink(probe)
        else:
            os.rmdir(tempfile.mkdtemp(prefix=".nst-write-check.", dir=existing))
    except OSError as err:
        raise OutputError(f"{existing}: no file can be created there ({err.strerror or err}); "
                          f"choose another folder") from None
    return existing


def _name_max(folder: Path) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


def check_output_writable(path, suffixes=IMAGE_SUFFIXES, long_side: int | None = None) -> Path:
    """Check, before the work, that a result can be written to ``path``; return the file that
    will be replaced (``write_target``). ``OutputError`` (one line) for: a directory, a suffix
    not in ``suffixes``, a symbolic-link loop, a parent that is a file, a name too long, a
    folder where nothing can be created, and, given the result's ``long_side`` in px, a disk
    without room for an uncompressed RGB image of that size."""
    path = Path(path)
    if _is_dir(path):
        raise OutputError(f"{path}: is a directory; give a file name such as {path / ('out' + suffixes[0])}")
    if path.suffix.lower() not in suffixes:
        raise OutputError(f"{path}: the output must end in {' or '.join(suffixes[:2])}")
    limit = _name_max(_existing_folder(path.parent, path))
    for part in path.parts:
        if len(part.encode()) > limit:
            raise OutputError(f"{part[:24]}...: this name in the output path is {len(part.encode())} bytes "
                              f"long; the file system allows at most {limit}")
    target = write_target(path)
    existing = check_folder_writable(target.parent, path)
    if long_side:
        need, free = 3 * long_side ** 2 + 2**16, shutil.disk_usage(existing).free
        if free < need:
            raise OutputError(f"{existing}: only {free / 2**20:.1f} MB free on the disk; a {long_side} px "
                              f"result may need up to {need / 2**20:.1f} MB")
    return target


def _umask() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # no way to read it without setting it: set it back at once
    os.umask(mask)
    return mask


def finish_write(temp_name, target: Path) -> None:
    """Give the finished temporary file the mode a plain ``open()`` would have given ``target``
    (``mkstemp`` makes 0600 files): the existing file's mode, else 0666 minus the umask (0644
    under umask 022). Then rename it over ``target`` in one step."""
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        mode = 0o666 & ~_umask()
    os.chmod(temp_name, mode)
    os.replace(temp_name, target)
