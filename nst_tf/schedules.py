"""Optimizer schedules: the settings ``stylize`` fills in for optimizer arguments left as None.

Taught in notebooks/06_speed_and_scale (time to quality); measured by benchmarks/bench_quality.py
(issue 14). ``arguments.validated`` applies them; this module imports nothing from ``nst_tf``,
nor TensorFlow until a learning rate is built (``keras_schedule``, ``decay_schedule_class``).
"""

from __future__ import annotations

import functools

import numpy as np

# "classic" (the default until issue 14, kept bit for bit):
# Adam 0.02, x0.96 every 100 steps, one scale: the TF tutorial's optimizer plus a staircase decay.
# "fast" (the default): time to a given loss, not time per step, decides: L-BFGS (the tutorial's
# 1000-step loss in ~300-400 evaluations at 512 px), and from ``COARSE_FROM`` px most of its evaluations at half the side (a quarter of the pixels) before the full size; Adam,
# when asked for (by name or by giving one of its settings), starts at 0.05 and falls smoothly to
# a tenth over the run.
SCHEDULES = {
    "classic": dict(optimizer="adam", learning_rate=0.02, lr_decay=0.96, lr_decay_every=100, scales=None),
    "fast": dict(optimizer="lbfgs", learning_rate=0.05, lr_decay=0.1, lr_decay_every=None, scales="auto"),
}
DEFAULT_SCHEDULE = "fast"  # what stylize, its checks and the command line use when none is given (issue 14)
COARSE_FROM = 384  # long sides from here on start at half the side ("fast", L-BFGS)
# The share of num_steps at half the side: at equal work, 140 + 65 L-BFGS evaluations (0.68)
# beat 200 + 50 (0.8) and 240 + 40 (0.86) at 512 px (notebooks/06).
COARSE_SHARE = 0.7


def chosen_optimizer(schedule: str, optimizer=None, learning_rate=None, lr_decay=None, lr_decay_every=None) -> str:
    """The optimizer a run uses: the one given; else Adam when one of Adam's settings is given
    (asking for a learning rate asks for Adam); else the schedule's."""
    if optimizer is not None:
        return optimizer
    if any(v is not None for v in (learning_rate, lr_decay, lr_decay_every)):
        return "adam"
    return SCHEDULES[schedule]["optimizer"]


def auto_scales(long_side: int, num_steps):
    """The "fast" schedule's scales and steps: ``([long_side // 2, long_side], [coarse, fine])``
    with ``COARSE_SHARE`` of an integer ``num_steps`` at half the side; one scale (``None``)
    below ``COARSE_FROM`` px, with fewer than 2 steps, or for a list of steps."""
    if long_side < COARSE_FROM or isinstance(num_steps, (list, tuple)) or isinstance(num_steps, bool) \
            or not isinstance(num_steps, (int, np.integer)) or num_steps < 2:
        return None, num_steps
    coarse = min(int(num_steps) - 1, max(1, round(COARSE_SHARE * int(num_steps))))
    return [long_side // 2, long_side], [coarse, int(num_steps) - coarse]


# --- the learning rate of Adam's steps ---------------------------------------------------------

def keras_schedule(learning_rate: float, lr_decay: float, every: int | None, steps: int | None = None,
                   done: int = 0):
    """``learning_rate * lr_decay ** (step // every)``, a staircase; with ``every=None``,
    ``learning_rate * lr_decay ** ((done + step) / steps)``: a smooth fall to ``lr_decay`` times
    the start over the ``steps`` of the whole run (the "fast" schedule; ``done``: the steps of
    earlier scales, so the fall goes on across scales instead of starting again). It never
    stalls early and stretches with the run, so more steps still means a better image
    (notebooks/06_speed_and_scale)."""
    if lr_decay == 1.0:
        return learning_rate
    import keras

    initial, decay_steps, staircase = decay_numbers(learning_rate, lr_decay, every, steps, done)
    return keras.optimizers.schedules.ExponentialDecay(initial, decay_steps=decay_steps, decay_rate=lr_decay,
                                                       staircase=staircase)


def decay_numbers(learning_rate: float, lr_decay: float, every: int | None, steps: int | None, done: int = 0):
    """(initial rate, decay steps, staircase?) of ``keras_schedule``'s decay: with ``every`` a
    staircase from ``learning_rate``; without, a smooth fall over ``steps`` that has already gone
    on for ``done`` steps (earlier scales)."""
    if every is not None:
        return learning_rate, every, True
    steps = max(1, steps or 1)
    return learning_rate * lr_decay ** (done / steps), steps, False


@functools.cache
def decay_schedule_class():
    """``DecaySchedule``: ``keras_schedule``'s learning rate with its numbers in variables, so that
    the Adam step of a sweep's next run (``step_cache.py``) takes other rates without a new
    trace. The operations of Keras's ``ExponentialDecay``, hence the same rates bit for bit.
    (Defined on first use: TensorFlow and Keras are imported only when a run starts.)"""
    import keras
    import tensorflow as tf

    class DecaySchedule(keras.optimizers.schedules.LearningRateSchedule):
        def __init__(self):
            self.initial = tf.Variable(0.0, trainable=False, name="lr_initial")
            self.rate = tf.Variable(1.0, trainable=False, name="lr_decay_rate")
            self.decay_steps = tf.Variable(1.0, trainable=False, name="lr_decay_steps")
            self.staircase = tf.Variable(False, trainable=False, name="lr_staircase")

        def set(self, learning_rate, lr_decay, every, steps, done=0):
            """``keras_schedule(learning_rate, lr_decay, every, steps, done)``'s numbers."""
            initial, decay_steps, staircase = decay_numbers(learning_rate, lr_decay, every, steps, done)
            self.initial.assign(initial)
            self.rate.assign(lr_decay)
            self.decay_steps.assign(float(decay_steps))
            self.staircase.assign(staircase)

        def __call__(self, step):
            p = tf.cast(step, tf.float32) / self.decay_steps
            p = tf.where(self.staircase, tf.floor(p), p)
            return tf.multiply(self.initial, tf.pow(self.rate, p))

        def get_config(self):
            return {}

    return DecaySchedule
