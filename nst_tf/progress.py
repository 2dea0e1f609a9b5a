"""What ``stylize`` reports while it runs: the loss history, the progress bar and the callback.

Taught in notebooks/04_optimizing_pixels (the history and the callback) and
notebooks/06_speed_and_scale (the time estimate).
"""

from __future__ import annotations

import copy
import math
import time

import tensorflow as tf

LOSS_KEYS = ("total", "content", "style", "tv")


class Recorder:
    """Collects the history, drives the progress bar and the callback; False means stop.

    Called once per loss evaluation with the optimized tensor, its losses and the scale (the long
    side in px): ``record`` adds the history entry, ``notify`` runs the callback (``__call__``
    does both; between them ``stylize`` may write a checkpoint). ``view`` maps the optimized
    tensor to the RGB image a callback sees (colour controls); ``returned`` is the 1-based
    history step whose losses belong to the image ``stylize`` returns. ``history`` continues a
    resumed run's history (``checkpoint.py``): steps, seconds and the bar go on from there.
    Adam's losses also carry the ``learning_rate`` its update used, kept as a history key.
    """

    def __init__(self, total_steps, style_layers, progress, callback, callback_every, estimate,
                 history: dict | None = None):
        from tqdm.auto import tqdm

        if history is None:
            history = {k: [] for k in ("step", *LOSS_KEYS, "seconds", "scale")}
            history["style_layers"] = {n: [] for n in style_layers}
        self.history = copy.deepcopy(history)
        done = len(self.history["step"])
        self.total_steps, self.callback, self.every = total_steps, callback, callback_every
        self.estimate = estimate and progress
        self.bar = tqdm(total=total_steps, initial=done, disable=not progress, desc="stylize", unit="step",
                        mininterval=1.0)
        # Seconds go on from the resumed history, so they stay a running total of optimizing time.
        self.start = time.perf_counter() - (self.history["seconds"][-1] if done else 0.0)
        self.first = done  # steps recorded before this process: the estimate needs 3 of its own
        self.view = None
        self.returned = None

    def __call__(self, image, losses, scale) -> bool:
        self.record(image, losses, scale)
        return self.notify(image)

    def record(self, image, losses, scale) -> int:
        """Append one history entry; ``FloatingPointError`` if the loss is not finite. Returns
        its step (1-based)."""
        h = self.history
        i = len(h["step"]) + 1
        h["step"].append(i)
        for key in LOSS_KEYS:
            h[key].append(float(losses[key]))
        for name, value in losses["style_layers"].items():
            h["style_layers"][name].append(float(value))
        if "learning_rate" in losses:
            h.setdefault("learning_rate", []).append(float(losses["learning_rate"]))
        h["seconds"].append(time.perf_counter() - self.start)
        h["scale"].append(scale)
        if not math.isfinite(h["total"][-1]):
            self.bar.close()
            raise FloatingPointError(f"the loss became {h['total'][-1]} at step {i}; "
                                     "lower learning_rate or the loss weights")
        if self.estimate and i - self.first == 3 and self.total_steps > i:  # steps 1-2 include tracing
            per_step = h["seconds"][-1] - h["seconds"][-2]
            left = self.total_steps - self.first
            self.bar.write(f"estimate: ~{per_step * left:.0f} s for {left} steps ({per_step * 1000:.0f} ms "
                           "per step measured)")
        self.bar.update(1)
        if i % 10 == 0 or i == self.total_steps:
            self.bar.set_postfix(loss=f"{h['total'][-1]:.4g}", refresh=False)
        return i

    def notify(self, image) -> bool:
        """The callback, every ``callback_every`` steps and after the last; False means stop."""
        h = self.history
        i = len(h["step"])
        if self.callback is not None and ((self.every and i % self.every == 0) or i == self.total_steps):
            shown = tf.identity(image) if self.view is None else self.view(image)
            return self.callback(i, shown, {k: h[k][-1] for k in LOSS_KEYS}) is not False
        return True

    def truncated(self, length: int) -> dict:
        """The history as it was after ``length`` entries (a checkpoint of an earlier state)."""
        cut = {k: v[:length] for k, v in self.history.items() if k != "style_layers"}
        cut["style_layers"] = {n: v[:length] for n, v in self.history["style_layers"].items()}
        return cut
