"""The optimization loops of ``stylize``: the compiled Adam step, Adam and L-BFGS per scale,
the best image, and the checkpoints they write.

Taught in notebooks/04_optimizing_pixels (the step, Adam, the best image, checkpoints) and
notebooks/06_speed_and_scale (L-BFGS). ``optimize.stylize`` calls ``run_adam``/``run_lbfgs`` once
per scale; ``make_step`` and ``keras_schedule`` (``schedules.py``) are also reachable as
``nst_tf.optimize.*``.
"""

from __future__ import annotations

import functools
import re

import numpy as np
import tensorflow as tf

from . import loss_scale
from .lbfgs import LbfgsState, lbfgs_minimize
from .objective import make_objective
from .schedules import decay_schedule_class, keras_schedule  # noqa: F401 (public here)


class _NoRetracingNoise:
    """A sweep over image sizes (or layers) compiles one step per shape on purpose
    (``step_cache.py`` reuses it for runs of the same shape); TF's "N out of the last M calls
    triggered tf.function retracing" warning then fires and would teach the wrong lesson.
    Within a run the step is traced once (tested).
    The filter is on only while ``stylize`` runs, so a lecture's own retracing demo still shows
    TensorFlow's real warning (notebooks/04)."""

    def filter(self, record):
        return "triggered tf.function retracing" not in record.getMessage()


def _quiet_retracing(function):
    @functools.wraps(function)
    def quiet(*args, **kwargs):
        noise = _NoRetracingNoise()
        tf.get_logger().addFilter(noise)
        try:
            return function(*args, **kwargs)
        finally:
            tf.get_logger().removeFilter(noise)
    return quiet


class BestImage:
    """The lowest-loss image seen so far, kept on the device and copied only when the loss
    improves (inside the compiled step, so no extra transfer per step). The loss at step i is
    measured *before* update i, so it belongs to the image before that update: that image is
    what is kept. ``step`` is the 1-based step, counted within the scale, of that loss."""

    def __init__(self, image: tf.Variable):
        self.image = tf.Variable(image, trainable=False, name="best_image")
        self.total = tf.Variable(np.inf, trainable=False, dtype=tf.float32, name="best_total")
        self.step = tf.Variable(0, trainable=False, dtype=tf.int64, name="best_step")
        self.count = tf.Variable(0, trainable=False, dtype=tf.int64, name="steps")
        self.variables = [self.image, self.total, self.step, self.count]

    def reset(self, image) -> None:
        """No best yet, as when new: the next run of a sweep (``AdamState``)."""
        for variable, value in zip(self.variables, (image, np.inf, 0, 0)):
            variable.assign(value)

    def update(self, image: tf.Tensor, total: tf.Tensor) -> None:
        self.count.assign_add(1)

        def keep():
            self.image.assign(image)
            self.total.assign(total)
            self.step.assign(self.count)
            return tf.constant(True)

        tf.cond(total < self.total, keep, lambda: tf.constant(False))


def make_step(extractor, image: tf.Variable, optimizer, *, content_targets, style_targets,
              content_weight: float, style_weight: float, tv_weight: float, tv_kind: str = "l1",
              style_layer_weights=None, jit_compile: bool = False, objective=None, best: BestImage | None = None):
    """Build the compiled Adam step: losses and gradient, one update, clip to [0, 1].

    It takes no arguments (everything it needs is captured), so ``tf.function`` traces it once
    and every later call runs the same graph. Returns the losses *before* the update, with the
    ``learning_rate`` that update uses (read from the optimizer: its schedule at its step count).
    ``best``: a ``BestImage`` that keeps the image whose loss was lowest. With a float16
    extractor the objective's dynamic loss scale (``loss_scale.py``) decides: a step whose
    gradient is not finite is skipped, as Keras's ``LossScaleOptimizer`` does (the image, Adam's
    moments and its ``iterations``, hence the learning-rate schedule, stay as they were) and the
    scale halves; ``step.objective.scaler`` counts the skipped steps.
    """
    if objective is None:
        objective = make_objective(extractor, image.shape, content_targets=content_targets,
                                   style_targets=style_targets, content_weight=content_weight,
                                   style_weight=style_weight, tv_weight=tv_weight, tv_kind=tv_kind,
                                   style_layer_weights=style_layer_weights, jit_compile=jit_compile)
    jit_compile = jit_compile and getattr(objective, "jit_compile", True)  # XLA may have been refused
    scaler = getattr(objective, "scaler", None)
    if scaler is not None and not optimizer.built:
        optimizer.build([image])  # its slots must exist before the step's conditional update

    def update(gradient):
        optimizer.apply_gradients([(gradient, image)])
        image.assign(tf.clip_by_value(image, 0.0, 1.0))

    @tf.function(jit_compile=jit_compile)
    def step():
        pixels = tf.convert_to_tensor(image)
        losses, gradient = objective(pixels)
        losses = dict(losses, learning_rate=tf.cast(optimizer.learning_rate, tf.float32))
        if best is not None:
            best.update(pixels, losses["total"])
        if scaler is None:
            update(gradient)
        else:
            tf.cond(scaler.update(gradient), lambda: update(gradient), lambda: None)
        return losses

    step.objective = objective
    return step


def _key(group: str, i: int, variable) -> str:
    """The array name of a variable in a checkpoint: "adam/1_momentum", "best/0_best_image"."""
    name = (getattr(variable, "path", None) or variable.name).split("/")[-1].split(":")[0]
    return f"{group}/{i}_{re.sub(r'^.*_[0-9]+_', '', name)}"


def _arrays(groups: dict) -> dict:
    return {_key(g, i, v): v.numpy() for g, variables in groups.items() for i, v in enumerate(variables)}


def _assign(groups: dict, arrays: dict) -> None:
    for g, variables in groups.items():
        for i, v in enumerate(variables):
            v.assign(arrays[_key(g, i, v)])


def _scaler_variables(objective) -> list:
    scaler = getattr(objective, "scaler", None)
    return [] if scaler is None else [scaler.scale, scaler.finite_steps, scaler.skipped]


class AdamState:
    """The variables of Adam's compiled step at one image size, and the step: kept on the
    objective, so that the next run of a sweep resets them instead of tracing a new step."""

    def __init__(self, objective, start, jit_compile: bool):
        import keras

        self.image = tf.Variable(start, name="image")
        self.schedule = decay_schedule_class()()
        # Keras 3 refuses variables an optimizer was not built with: built now, for this image,
        # so that the step traces once.
        self.adam = keras.optimizers.Adam(learning_rate=self.schedule, beta_1=0.99, epsilon=1e-1)
        self.adam.build([self.image])
        self.best = BestImage(self.image)
        self.step = make_step(None, self.image, self.adam, content_targets=None, style_targets=None,
                              content_weight=0, style_weight=0, tv_weight=0, jit_compile=jit_compile,
                              objective=objective, best=self.best)

    def reset(self, start, run, total: int, before: int) -> None:
        """The state of a new run: ``start`` pixels, Adam's counter and moments at zero, no best yet."""
        self.image.assign(start)
        for variable in self.adam.variables:
            variable.assign(tf.zeros_like(variable))
        self.best.reset(start)
        self.schedule.set(run.learning_rate, run.lr_decay, run.lr_decay_every, total, before)


def run_adam(objective, start, steps, recorder, size, run, *, scale=0, ckpt=None, restored=None):
    """Adam for ``steps`` steps at one scale; returns (the best image, stopped early?)."""
    state = getattr(objective, "adam_state", None)  # a sweep's earlier run on this objective
    if state is None:
        state = objective.adam_state = AdamState(objective, start, run.jit_compile)
    state.reset(start, run, sum(run.steps_per_scale), sum(run.steps_per_scale[:scale]))
    image, adam, best, step = state.image, state.adam, state.best, state.step
    if restored is not None:
        image.assign(restored.arrays["image"])
    groups = {"adam": adam.variables, "best": best.variables, "scaler": _scaler_variables(objective)}
    done = 0
    if restored is not None:
        _assign(groups, restored.arrays)
        done = restored.step

    def save():
        return ckpt.save(scale=scale, step=done, arrays={"image": image.numpy(), **_arrays(groups)}, state={},
                         history=recorder.history, steps_per_scale=run.steps_per_scale)

    stopped = False
    while done < steps:
        losses = step()
        done += 1
        i = recorder.record(image, losses, size)
        if ckpt is not None:
            if ckpt.due(i):
                save()
            ckpt.interrupt_if_asked(save, i)
        if not recorder.notify(image):
            stopped = True
            break
    if ckpt is not None:
        save()  # the end of the scale (or of a stopped run): nothing computed is lost
    recorder.returned = len(recorder.history["step"]) - int(best.count) + int(best.step)
    return tf.convert_to_tensor(best.image), stopped


def run_lbfgs(objective, start, steps, recorder, size, run, *, scale=0, ckpt=None, restored=None):
    """L-BFGS for ``steps`` loss evaluations at one scale; returns (the last accepted point,
    stopped early?). Checkpoints are written at the top of an iteration (a complete state) once
    ``checkpoint_every`` more evaluations have been made, so their steps need not be multiples."""
    stopped = []
    # The history also holds rejected line-search trials, so its last entry need not describe the
    # point lbfgs_minimize returns. That point is one of the evaluated tensors and stays alive
    # from its evaluation on, so no later tensor can reuse its id: id -> history step finds it.
    step_of = {}
    scaler_variables = _scaler_variables(objective)
    state = None
    if restored is not None:
        a, info = restored.arrays, restored.state
        unused = info["history_size"] - info["count"]  # the rows not in use are zeros (lbfgs._empty_memory)
        pad = lambda rows: tf.constant(np.concatenate([np.zeros((unused, *rows.shape[1:]), rows.dtype), rows]))
        state = LbfgsState(tf.constant(a["image"]), tf.constant(a["value"]), tf.constant(a["gradient"]),
                           pad(a["s"]), pad(a["y"]), pad(a["rho"]), info["count"], restored.step, info["converged"])
        step_of[id(state.x)] = restored.state["x_step"]
        _assign({"scaler": scaler_variables}, a)
    latest = {}

    def evaluate(x):
        losses, gradient = loss_scale.evaluate(objective, x)  # float16: halve and retry, never inf
        return losses["total"], gradient, losses

    def on_evaluation(evaluation, x, value, losses):
        recorder.record(x, losses, size)
        step_of[id(x)] = len(recorder.history["step"])
        going_on = recorder.notify(x)
        if not going_on:
            stopped.append(True)
        return going_on

    def save():
        s = latest["state"]
        used = slice(s.rho.shape[0] - s.count, None)  # only the pairs in use: up to 2 x 10 images
        arrays = {"image": s.x.numpy(), "value": s.value.numpy(), "gradient": s.gradient.numpy(),
                  "s": s.s[used].numpy(), "y": s.y[used].numpy(), "rho": s.rho[used].numpy(),
                  **_arrays({"scaler": scaler_variables})}
        info = {"count": s.count, "history_size": int(s.rho.shape[0]), "converged": s.converged,
                "x_step": step_of[id(s.x)]}
        return ckpt.save(scale=scale, step=s.evaluations, arrays=arrays, state=info,
                         history=recorder.truncated(latest["length"]), steps_per_scale=run.steps_per_scale)

    def on_iteration(s):
        latest.update(state=s, length=len(recorder.history["step"]))
        if ckpt is None:
            return
        i = latest["length"]
        saved_at = ckpt.last[1] if ckpt.last and ckpt.last[0] == scale else 0
        if ckpt.every and (i - s.evaluations + saved_at) // ckpt.every < i // ckpt.every:
            save()  # a multiple of checkpoint_every was passed since the last checkpoint
        ckpt.interrupt_if_asked(save, i)

    image, _, _ = lbfgs_minimize(evaluate, start, max_evaluations=steps, callback=on_evaluation, state=state,
                                 on_iteration=on_iteration)
    if ckpt is not None and latest:
        save()
    recorder.returned = step_of[id(image)]
    return image, bool(stopped)
