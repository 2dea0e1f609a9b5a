"""Many images through one fast model: a folder of photos, or the frames of a video.

Taught in notebooks/07_fast_style_transfer.

The style's bottleneck is predicted once and reused for every image or frame. Outputs are written
to a temporary file and renamed, so an interrupted run leaves no half-written file behind.
"""

from __future__ import annotations

import os
import queue
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .fast import fast_stylize, prepared_style
from .decoding import check_video_input  # noqa: F401 (re-exported: no TensorFlow in it)
from .images import ImageError, ImageWriteError, load_image, resize_image, save_image
from .outputs import IMAGE_SUFFIXES, VIDEO_SUFFIXES, check_folder_writable, check_output_writable, finish_write

_FOURCC = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG"}


def _stylizer(style_image, model):
    """content, strength -> stylized: Magenta's models with ``style_image`` (prepared once), or a
    network trained for one style (``training.TrainedStylizer``, ``needs_style`` False)."""
    if not getattr(model, "needs_style", True):
        return lambda content, strength: model(content, strength=strength)
    style = prepared_style(style_image, model)
    return lambda content, strength: fast_stylize(content, style, model, strength=strength)


def _bar(total, desc, enabled, unit):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled, mininterval=1.0)


def output_names(names) -> dict:
    """{input name: output name}, unique per input (case-insensitively, for any file system).

    Images keep their name when it ends in .png/.jpg/.jpeg; other files get ".png" appended,
    and if that name is another input's ("pic.bmp" and "pic.bmp.png"), a number: "pic.bmp.2.png".
    The same folder always gives the same names, so a rerun finds what it already wrote."""
    names = sorted(names)
    kept = [n for n in names if Path(n).suffix.lower() in IMAGE_SUFFIXES]
    taken = {n.casefold() for n in kept}
    mapping = {n: n for n in kept}
    for name in (n for n in names if n not in mapping):
        candidate, number = f"{name}.png", 1
        while candidate.casefold() in taken:
            number += 1
            candidate = f"{name}.{number}.png"
        taken.add(candidate.casefold())
        mapping[name] = candidate
    return mapping


def _entries(input_dir: Path):
    """(image candidates, skipped): files to try, and (name, why) for what is not even tried."""
    files, skipped = [], []
    for path in sorted(input_dir.iterdir()):
        if path.name.startswith("."):
            skipped.append((path.name, "hidden file (names starting with '.' are skipped)"))
        elif path.is_dir():
            skipped.append((path.name, "a folder (sub-folders are not searched)"))
        elif not path.is_file():
            skipped.append((path.name, "not a regular file (a broken link, a pipe or a device)"))
        else:
            files.append(path)
    return files, skipped


def stylize_folder(input_dir, output_dir, style_image, model, strength: float = 1.0,
                   max_dim: int | None = None, progress: bool = True) -> dict:
    """Stylize every image in ``input_dir`` into ``output_dir`` (names from ``output_names``).

    Outputs that already exist are skipped (a rerun resumes); files that are not images (or
    cannot be decoded, such as a decompression bomb), hidden files and sub-folders are skipped
    and listed, and the batch goes on. Returns ``{"written": [...], "done_before": [...],
    "skipped": [(name, why)], "renamed": [(input, output)]}``.
    """
    input_dir, output_dir = Path(input_dir), Path(output_dir)
    if not input_dir.is_dir():
        raise ImageError(f"{input_dir}: no such folder" if not input_dir.exists() else f"{input_dir}: not a folder")
    if output_dir.resolve() == input_dir.resolve():
        raise ValueError(f"{output_dir}: is the input folder; refusing to write over the inputs")
    check_folder_writable(output_dir)
    files, skipped = _entries(input_dir)
    names = output_names(p.name for p in files)
    report = {"written": [], "done_before": [], "skipped": skipped,
              "renamed": [(p.name, names[p.name]) for p in files
                          if names[p.name] not in (p.name, f"{p.name}.png")]}
    stylize = _stylizer(style_image, model)
    bar = _bar(len(files), "fast stylize", progress, "image")
    for path in files:
        target = output_dir / names[path.name]
        bar.update(1)
        if target.exists():
            report["done_before"].append(path.name)
            continue
        try:
            content = load_image(path)
        except ImageError as err:
            report["skipped"].append((path.name, str(err).split(": ", 1)[-1]))
            continue
        if max_dim and max(content.shape[1:3]) > max_dim:
            content = resize_image(content, max_dim)
        save_image(stylize(content, strength), target)
        report["written"].append(target.name)
    bar.close()
    return report


def _threaded(iterable, depth: int = 4):
    """Run a generator in a background thread, ``depth`` items ahead (decode overlaps inference)."""
    items: queue.Queue = queue.Queue(maxsize=depth)
    done = object()

    def work():
        try:
            for item in iterable:
                items.put(item)
        finally:
            items.put(done)

    threading.Thread(target=work, daemon=True).start()
    while (item := items.get()) is not done:
        yield item


def _frames(capture):
    while True:
        ok, frame = capture.read()
        if not ok:
            return
        yield frame


def flicker(frames) -> float:
    """Mean absolute change between consecutive frames (0-1 scale): temporal flicker, roughly."""
    frames = [np.asarray(f, np.float32) for f in frames]
    if len(frames) < 2:
        return 0.0
    return float(np.mean([np.abs(b - a).mean() for a, b in zip(frames, frames[1:])]))


def stylize_video(input_path, style_image, output_path, model, strength: float = 1.0,
                  max_dim: int | None = None, smoothing: float = 0.0, pipelined: bool = True,
                  progress: bool = True, keep_frames: bool = False) -> dict:
    """Stylize a video frame by frame with OpenCV; frame rate and size are kept (no audio).

    ``max_dim`` shrinks frames whose long side is larger. ``smoothing`` in [0, 1) blends each
    stylized frame with the previous output (an exponential moving average): a simple remedy
    for temporal flicker, since the network sees every frame afresh. ``pipelined`` decodes in a
    background thread and encodes in another while the model runs. Returns frames, fps, seconds and flicker numbers.
    """
    import cv2

    input_path, output_path = Path(input_path), Path(output_path)
    if not 0.0 <= smoothing < 1.0:
        raise ValueError(f"smoothing must be in [0, 1), got {smoothing!r}")
    if output_path.suffix.lower() not in _FOURCC:
        raise ValueError(f"{output_path}: cannot write '{output_path.suffix}'; use .mp4 or .avi")
    if output_path.exists() and input_path.exists() and output_path.resolve() == input_path.resolve():
        raise ValueError(f"{output_path}: is the input video; refusing to overwrite it")
    check_video_input(input_path)
    target = check_output_writable(output_path, VIDEO_SUFFIXES)
    capture = cv2.VideoCapture(str(input_path))
    ok, first = capture.read() if capture.isOpened() else (False, None)
    if not ok:
        capture.release()
        raise ImageError(f"{input_path}: not a video OpenCV can read")
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    height, width = first.shape[:2]
    if max_dim and max(height, width) > max_dim:
        scale = max_dim / max(height, width)
        height, width = round(height * scale / 2) * 2, round(width * scale / 2) * 2
    stylize = _stylizer(style_image, model)  # the style prepared once, not per frame
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{target.stem[:40]}.", suffix=target.suffix, dir=target.parent)
    os.close(handle)
    writer = cv2.VideoWriter(temp, cv2.VideoWriter_fourcc(*_FOURCC[output_path.suffix.lower()]),
                             fps, (width, height))
    frames_in, frames_out, previous, count, pending = [], [], None, 0, []
    encoder = ThreadPoolExecutor(max_workers=1)
    bar = _bar(total, "video", progress, "frame")
    start = time.perf_counter()
    try:
        source = _frames(capture)
        source = _threaded(source) if pipelined else source
        for bgr in _chain(first, source):
            if bgr.shape[:2] != (height, width):
                bgr = cv2.resize(bgr, (width, height), interpolation=cv2.INTER_AREA)
            rgb = bgr[..., ::-1].astype(np.float32) / 255.0
            out = np.asarray(stylize(rgb, strength))[0]
            if previous is not None and smoothing > 0:
                out = (1 - smoothing) * out + smoothing * previous
            previous = out
            encoded = np.round(np.clip(out, 0, 1) * 255).astype(np.uint8)[..., ::-1]
            if pipelined:  # one writer thread keeps the frame order; wait if it falls 4 behind
                pending.append(encoder.submit(writer.write, encoded))
                if len(pending) > 4:
                    pending.pop(0).result()
            else:
                writer.write(encoded)
            if keep_frames or count < 60:  # flicker is measured on the first 60 frames
                frames_in.append(rgb)
                frames_out.append(out)
            count += 1
            bar.update(1)
        for job in pending:
            job.result()
        writer.release()
        if count == 0 or not Path(temp).stat().st_size:
            raise ImageError(f"{output_path}: OpenCV wrote no video (codec unavailable?)")
        finish_write(temp, target)  # the mode a new file gets (umask), through a symbolic link
    except BaseException as err:
        encoder.shutdown(wait=True)
        writer.release()
        Path(temp).unlink(missing_ok=True)
        if isinstance(err, OSError) and not isinstance(err, ImageError):
            raise ImageWriteError(f"{output_path}: cannot write ({err.strerror or err})") from None
        raise
    finally:
        encoder.shutdown(wait=True)
        capture.release()
        bar.close()
    seconds = time.perf_counter() - start
    result = dict(frames=count, fps=fps, size=(width, height), seconds=seconds,
                  frames_per_second=count / seconds, flicker_input=flicker(frames_in),
                  flicker_output=flicker(frames_out))
    if keep_frames:
        result["stylized"] = frames_out
    return result


def _chain(first, rest):
    yield first
    yield from rest
