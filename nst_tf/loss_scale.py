"""Dynamic loss scaling for float16 gradients, the rule of Keras's ``LossScaleOptimizer``.

Taught in notebooks/06_speed_and_scale.

float16 has no number below ~6e-8 and none above 65504. The per-pixel gradient of a style loss
with a small weight lives far below 6e-8, so backpropagating it through float16 activations
rounds most of it to exactly zero (underflow). Multiplying the loss by a large *scale* S before
differentiating multiplies every intermediate gradient by S too, lifting it into float16's range;
dividing the final float32 gradient by S gives back the true one. Too large an S overflows
instead (inf or NaN). The dynamic rule finds the right S as it goes:

- start high, S = 2**15;
- a step whose gradient is not finite is *skipped* (the pixels and the optimizer are left as they
  were) and S is halved;
- after ``growth_interval`` finite steps in a row, S is doubled (up to ``MAX_SCALE``).

One ``DynamicLossScale`` lives in the objective (``make_objective`` creates it for a float16
extractor). Adam calls ``update`` inside its compiled step; L-BFGS calls ``evaluate``, which
re-evaluates the same point with a halved scale instead of handing a non-finite gradient to the
line search.
"""

from __future__ import annotations

import tensorflow as tf

INITIAL_SCALE = 2.0 ** 15  # Keras's initial_scale: too high is cheap (one skipped step per halving)
# Keras doubles after 2000 finite steps, a number made for training runs of 10^5 steps. A style
# transfer run has 100-1000 steps per scale, so with 2000 the scale could only ever fall, and the
# gradients shrink as the loss falls (later steps underflow first): a scale halved by an early
# spike is worth raising again. 200 allows a few raises per run and costs at most one skipped
# step in 200 (0.5%) when the scale sits just below overflow.
GROWTH_INTERVAL = 200
# Past 2**24 growing cannot help: a gradient that still underflows has true size < 2**-48 per
# pixel, invisible next to Adam's epsilon (0.1) and L-BFGS's steps; capping also keeps the scaled
# float32 loss far from overflow.
MAX_SCALE = 2.0 ** 24
# L-BFGS halvings of one evaluation before giving up: from 2**15 that reaches 2**-9. A gradient
# that still overflows with the loss divided by 500 is not a scaling problem: the forward pass
# itself is out of float16's range.
MAX_RETRIES = 24


class DynamicLossScale:
    """The loss scale and its counters, as ``tf.Variable``s so compiled steps can update them.

    ``scale``: the current S (float32). ``finite_steps``: finite steps since the last change of S.
    ``skipped``: steps (Adam) or evaluations (L-BFGS) thrown away because of a non-finite gradient.
    """

    def __init__(self, initial_scale: float = INITIAL_SCALE, growth_interval: int = GROWTH_INTERVAL,
                 max_scale: float = MAX_SCALE):
        if growth_interval < 1:
            raise ValueError(f"growth_interval must be >= 1, got {growth_interval}")
        self.growth_interval, self.max_scale = int(growth_interval), float(max_scale)
        self.initial_scale = float(initial_scale)
        self.scale = tf.Variable(float(initial_scale), trainable=False, dtype=tf.float32, name="loss_scale")
        self.finite_steps = tf.Variable(0, trainable=False, dtype=tf.int64, name="finite_steps")
        self.skipped = tf.Variable(0, trainable=False, dtype=tf.int64, name="skipped_steps")

    def reset(self) -> None:
        """Back to the state of a new run (``step_cache``: one objective serves many runs)."""
        self.scale.assign(self.initial_scale)
        self.finite_steps.assign(0)
        self.skipped.assign(0)

    def update(self, gradient: tf.Tensor) -> tf.Tensor:
        """Record one step from its (unscaled) gradient; return a bool tensor: apply it?

        Not finite: halve S, reset the run of finite steps, return False (skip the step).
        Finite: count it; the ``growth_interval``-th finite step in a row doubles S. Works in
        eager mode and inside ``tf.function`` (``tf.where``, no Python branching on tensors).
        """
        finite = tf.reduce_all(tf.math.is_finite(gradient))
        run = self.finite_steps + 1
        grow = tf.logical_and(finite, run >= self.growth_interval)
        scale = tf.where(finite, tf.where(grow, tf.minimum(2.0 * self.scale, self.max_scale), self.scale),
                         0.5 * self.scale)
        self.scale.assign(scale)
        self.finite_steps.assign(tf.where(tf.logical_and(finite, tf.logical_not(grow)), run, tf.zeros_like(run)))
        self.skipped.assign_add(tf.cast(tf.logical_not(finite), tf.int64))
        return finite

    def __repr__(self) -> str:
        return (f"DynamicLossScale(scale={float(self.scale.numpy()):g}, finite_steps="
                f"{int(self.finite_steps.numpy())}/{self.growth_interval}, skipped={int(self.skipped.numpy())})")


def evaluate(objective, image, max_retries: int = MAX_RETRIES):
    """``objective(image)`` with finite gradients: on a non-finite float16 gradient, halve the
    scale and evaluate the same ``image`` again, at most ``max_retries`` times (for L-BFGS, whose
    line search must not see an inf, and must not get a silent zero step either).

    Objectives without loss scaling, and non-finite *losses* (the forward pass overflowed: no
    scale can fix that, and ``progress.Recorder`` reports it) are returned as they are. Raises
    ``FloatingPointError`` when the gradient stays non-finite after ``max_retries`` halvings.
    """
    scaler = getattr(objective, "scaler", None)
    for _ in range(max_retries + 1):
        losses, gradient = objective(image)
        if scaler is None or not bool(tf.math.is_finite(losses["total"])) or bool(scaler.update(gradient)):
            return losses, gradient
    raise FloatingPointError(
        f"the float16 gradient stayed inf/NaN after {max_retries} halvings of the loss scale "
        f"(now {float(scaler.scale.numpy()):g}); use precision='float32' or 'mixed_bfloat16'")
