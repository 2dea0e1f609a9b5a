"""What ``stylize`` reports while it runs: the loss history, the progress bar and the callback.

Taught in notebooks/04_optimizing_pixels (the history and the callback) and
notebooks/06_speed_and_scale (the time estimate).
"""

from __future__ import annotations

import math
import time

import tensorflow as tf

LOSS_KEYS = ("total", "content", "style", "tv")


class Recorder:
    """Collects the history, drives the progress bar and the callback; False means stop.

    Called once per loss evaluation with the optimized tensor, its losses and the scale (the long
    side in px). ``view`` maps the optimized tensor to the RGB image a callback sees (colour
    controls); ``returned`` is the 1-based history step whose losses belong to the image
    ``stylize`` returns, when that is not the last one (L-BFGS).
    """

    def __init__(self, total_steps, style_layers, progress, callback, callback_every, estimate):
        from tqdm.auto import tqdm

        self.history = {k: [] for k in ("step", *LOSS_KEYS, "seconds", "scale")}
        self.history["style_layers"] = {n: [] for n in style_layers}
        self.total_steps, self.callback, self.every = total_steps, callback, callback_every
        self.estimate = estimate and progress
        self.bar = tqdm(total=total_steps, disable=not progress, desc="stylize", unit="step",
                        mininterval=1.0)
        self.start = time.perf_counter()
        self.view = None
        self.returned = None

    def __call__(self, image, losses, scale) -> bool:
        h = self.history
        i = len(h["step"]) + 1
        h["step"].append(i)
        for key in LOSS_KEYS:
            h[key].append(float(losses[key]))
        for name, value in losses["style_layers"].items():
            h["style_layers"][name].append(float(value))
        h["seconds"].append(time.perf_counter() - self.start)
        h["scale"].append(scale)
        if not math.isfinite(h["total"][-1]):
            self.bar.close()
            raise FloatingPointError(f"the loss became {h['total'][-1]} at step {i}; "
                                     "lower learning_rate or the loss weights")
        if self.estimate and i == 3 and self.total_steps > 3:  # steps 1-2 include tracing
            per_step = h["seconds"][2] - h["seconds"][1]
            self.bar.write(f"estimate: ~{per_step * self.total_steps:.0f} s for {self.total_steps} "
                           f"steps ({per_step * 1000:.0f} ms per step measured)")
        self.bar.update(1)
        if i % 10 == 0 or i == self.total_steps:
            self.bar.set_postfix(loss=f"{h['total'][-1]:.4g}", refresh=False)
        if self.callback is not None and ((self.every and i % self.every == 0) or i == self.total_steps):
            shown = tf.identity(image) if self.view is None else self.view(image)
            return self.callback(i, shown, {k: h[k][-1] for k in LOSS_KEYS}) is not False
        return True
