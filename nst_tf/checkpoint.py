"""Checkpoints of a long ``stylize`` run: written every N steps, resumed after a lost runtime.

Taught in notebooks/04_optimizing_pixels (on Colab, a checkpoint on Google Drive outlives a
disconnect; ``stylize(..., checkpoint_dir=..., checkpoint_every=..., resume=True)``).

The format, one folder per run (version ``FORMAT``):

- ``ckpt_<scale>_<step>.npz``: ``scale`` is the 0-based index into ``scales`` (0 without them),
  ``step`` the steps done at that scale (6 digits). NumPy arrays: ``image`` (the optimized
  tensor now); Adam: ``adam/0_iteration``, ``adam/1_momentum``, ``adam/2_velocity`` (its step
  counter, from which the learning-rate schedule follows, and its slots m and v), ``best/...``
  (the best image so far, its loss and step); L-BFGS: ``value``, ``gradient``, ``s``, ``y``,
  ``rho`` (its memory of (s, y) pairs); ``scaler/...`` (the float16 loss scale, if any); and
  ``meta``, one JSON string: ``settings`` (what identifies the run), ``state`` (scale, step,
  counters) and ``history`` (every loss so far). Load one with ``read_checkpoint``.
- ``checkpoint.json``: the settings and the newest file's name, for people; resuming reads the .npz.

Each file is written under a temporary name in the same folder and renamed (``os.replace``): a
checkpoint is complete or absent, never half-written, even if the runtime dies mid-write. The two
newest are kept, so a file damaged by the storage itself still leaves one to resume from.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FORMAT = "nst_tf.checkpoint/1"
KEEP = 2
_NAME = re.compile(r"^ckpt_(\d+)_(\d+)\.npz$")


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a checkpointed run: the state was saved first; ``checkpoint`` is the file."""

    def __init__(self, message: str, checkpoint: Path | None = None, step: int | None = None):
        super().__init__(message)
        self.checkpoint, self.step = checkpoint, step


def image_digest(image) -> str:
    """A short SHA-256 of an image's float32 pixels and shape: the same pixels, the same digest."""
    array = np.ascontiguousarray(np.asarray(image, dtype=np.float32))
    return hashlib.sha256(repr(array.shape).encode() + array.tobytes()).hexdigest()[:16]


def run_identity(run, *, pooling: str, weights: str, init_image=None) -> dict:
    """What makes two ``stylize`` runs the same run: inputs (as digests) and every setting that
    changes the path of the optimization. ``num_steps`` is not in it: a run may be continued
    with more steps (checked separately, ``Checkpointer``)."""
    settings = run.as_dict(pooling=pooling, style_sizes=[])
    for name in ("num_steps", "style_sizes"):
        settings.pop(name)
    settings.update(weights=weights, scales=list(run.sizes) if run.scales else None,
                    content_image=image_digest(run.content_image),
                    style_images=[image_digest(s) for s in run.styles],
                    init_image=None if init_image is None else image_digest(init_image),
                    masks=[image_digest(r.mask) for r in run.regions] if run.regions else None)
    if run.optimizer == "adam" and run.lr_decay_every is None and run.lr_decay != 1.0:
        # The smooth decay spans each scale's steps: other steps, another learning rate at every step.
        settings["num_steps (the smooth learning-rate decay spans them)"] = list(run.steps_per_scale)
    return json.loads(json.dumps(settings))  # tuples -> lists, as they come back from the file


def differences(saved: dict, current: dict) -> list[str]:
    """One phrase per setting that differs: "style_weight=0.01, this run has 0.02"."""
    found = []
    for name in sorted(set(saved) | set(current)):
        old, new = saved.get(name), current.get(name)
        if old != new:
            found.append(f"{name}={old}, this run has {new}")
    return found


def list_checkpoints(folder) -> list[Path]:
    """The ``ckpt_<scale>_<step>.npz`` files in ``folder``, oldest first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [(tuple(int(g) for g in m.groups()), p) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


@dataclass
class Snapshot:
    """One checkpoint read back: where it was (``scale``, ``step``), its state, history, arrays."""

    path: Path
    settings: dict
    state: dict
    history: dict
    arrays: dict = field(repr=False)

    @property
    def scale(self) -> int:
        return self.state["scale"]

    @property
    def step(self) -> int:
        return self.state["step"]


def read_checkpoint(path) -> Snapshot:
    """Load ``ckpt_<scale>_<step>.npz``; ``ValueError`` if it is not a checkpoint of this format."""
    path = Path(path)
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    meta = json.loads(str(arrays.pop("meta")))
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT} checkpoint (format {meta.get('format')!r})")
    return Snapshot(path, meta["settings"], meta["state"], meta["history"], arrays)


def write_atomically(path, write) -> None:
    """``write(file)`` to a temporary file beside ``path``, then rename it over ``path``: the
    file is complete or absent. Its mode is what ``open()`` would give (0666 minus the umask)."""
    path = Path(path)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())  # on Drive/network folders: on disk before the rename
        umask = os.umask(0o022)  # read by setting; set back at once
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)  # mkstemp's 0600 would survive the rename
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


class _InterruptGuard:
    """Ctrl-C (SIGINT) during the steps only sets a flag; the loop saves and stops at the next
    point where the state is complete. A second Ctrl-C stops at once. Main thread only (Python
    delivers signals there); elsewhere it does nothing and Ctrl-C behaves as usual."""

    def __init__(self):
        self.requested, self.previous = False, None

    def __enter__(self):
        def handler(signum, frame):
            if self.requested:
                raise KeyboardInterrupt
            self.requested = True

        try:
            self.previous = signal.signal(signal.SIGINT, handler)
        except ValueError:  # not the main thread
            self.previous = None
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


class Checkpointer:
    """Writes the checkpoints of one run into ``folder`` and finds the one to resume from.

    ``every``: write after every ``every``-th step (``None``: only at the end of each scale, when a
    callback stops the run and on Ctrl-C). ``resume=True``: ``restored`` is the newest checkpoint,
    refused with ``ValueError`` naming the difference if its settings differ; with no checkpoint
    the run starts from the beginning (``restored`` None). ``resume=False`` refuses a folder that
    already holds checkpoints: continuing or replacing another run must be asked for.
    """

    def __init__(self, folder, every, settings: dict, *, resume: bool, steps_per_scale: list):
        if every is not None and (isinstance(every, bool) or not isinstance(every, int) or every < 1):
            raise ValueError(f"checkpoint_every must be an integer >= 1, got {every!r}")
        self.folder, self.settings, self.restored, self.guard = Path(folder), settings, None, _InterruptGuard()
        existing = list_checkpoints(self.folder)
        if existing and not resume:
            raise ValueError(f"{self.folder} already holds checkpoints (newest {existing[-1].name}): pass "
                             "resume=True to continue that run, or delete them / choose another folder")
        if resume and existing:
            self.restored = self._newest_readable(existing)
            self._check(self.restored, steps_per_scale)
        saved_every = self.restored.state.get("every") if self.restored else None
        self.every = every if every is not None else saved_every
        self.last = (self.restored.scale, self.restored.step) if self.restored else None
        self.newest = self.restored.path if self.restored else None

    def describe_resume(self) -> str:
        """One line: where a ``resume=True`` run goes on from."""
        if self.restored is None:
            return f"resume: no checkpoint in {self.folder} yet; starting from the beginning"
        return f"resume: continuing from {self.restored.path} (step {len(self.restored.history['step'])})"

    @staticmethod
    def _newest_readable(paths: list[Path]) -> Snapshot:
        for path in reversed(paths):
            try:
                return read_checkpoint(path)
            except (OSError, ValueError, KeyError) as err:  # damaged: the older one is the fallback
                warnings.warn(f"{path}: unreadable checkpoint skipped ({err})", RuntimeWarning, stacklevel=3)
        raise ValueError(f"{paths[-1].parent}: no readable checkpoint among {len(paths)} file(s)")

    def _check(self, snapshot: Snapshot, steps_per_scale: list) -> None:
        found = differences(snapshot.settings, self.settings)
        if found:
            raise ValueError(f"cannot resume from {snapshot.path}: the checkpoint was made with "
                             + "; ".join(found[:3]) + ("; ..." if len(found) > 3 else ""))
        saved = snapshot.state["steps_per_scale"]
        scale, step = snapshot.scale, snapshot.step
        if saved[:scale] != steps_per_scale[:scale] or step > steps_per_scale[scale]:
            raise ValueError(f"cannot resume from {snapshot.path}: it is at step {step} of scale {scale} of "
                             f"num_steps={saved}; this run has num_steps={steps_per_scale} (only the "
                             "current and later scales may change, and not below the steps done)")

    def due(self, global_step: int) -> bool:
        return bool(self.every) and global_step % self.every == 0

    def save(self, *, scale: int, step: int, arrays: dict, state: dict, history: dict,
             steps_per_scale: list) -> Path:
        """Write ``ckpt_<scale>_<step>.npz`` atomically, then drop all but the ``KEEP`` newest.
        A state already written (same scale and step) is not written again."""
        if self.last == (scale, step) and self.newest is not None and self.newest.exists():
            return self.newest
        self.folder.mkdir(parents=True, exist_ok=True)
        state = {**state, "scale": scale, "step": step, "every": self.every, "steps_per_scale": steps_per_scale}
        meta = json.dumps({"format": FORMAT, "settings": self.settings, "state": state, "history": history})
        path = self.folder / f"ckpt_{scale}_{step:06d}.npz"
        write_atomically(path, lambda file: np.savez(file, meta=np.array(meta), **arrays))
        summary = json.dumps({"format": FORMAT, "newest": path.name, "settings": self.settings}, indent=1)
        write_atomically(self.folder / "checkpoint.json", lambda file: file.write(summary.encode()))
        for old in list_checkpoints(self.folder)[:-KEEP]:
            old.unlink(missing_ok=True)
        self.last, self.newest = (scale, step), path
        return path

    def interrupt_if_asked(self, save, global_step: int) -> None:
        """After a complete step: if Ctrl-C was pressed, save (unless just saved) and stop."""
        if self.guard.requested:
            path = save()
            raise Interrupted(f"interrupted at step {global_step}: checkpoint {path} written; "
                              "run again with resume=True (command line: --resume) to continue",
                              checkpoint=path, step=global_step)
