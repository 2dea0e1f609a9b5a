"""Checkers of lecture 04 (notebooks/04_optimizing_pixels): the update step, in two exercises.

``adam_clip_step(image, gradient, m, v, t, learning_rate=0.02, beta_1=0.99, beta_2=0.999,
epsilon=0.1) -> (image, m, v)``: one Adam update of the pixels, exactly as Keras 3's
``keras.optimizers.Adam`` does it, then clipping to [0, 1]. ``t`` is the number of this update,
1 for the first (Keras's ``iterations + 1``); ``m`` and ``v`` are the first and second moments
before the update; it returns the new image, m and v (tensors or NumPy arrays). The defaults are
the course's settings (those of the TensorFlow tutorial): learning_rate 0.02, beta_1 0.99,
epsilon 0.1. Keras's form of Adam puts epsilon outside the bias correction:

    m = beta_1 * m + (1 - beta_1) * gradient
    v = beta_2 * v + (1 - beta_2) * gradient**2
    alpha = learning_rate * sqrt(1 - beta_2**t) / (1 - beta_1**t)
    image = clip(image - alpha * m / (sqrt(v) + epsilon), 0, 1)

(Kingma & Ba's Algorithm 1 adds epsilon to sqrt(v_hat) instead; with epsilon = 0.1 that is a
different step, and the checker names it.)

``loss_and_update(loss_fn, image, optimizer) -> loss``: the body of the compiled step
(``nst_tf.optimize.make_step``): compute ``loss_fn(image)`` and its gradient under a
``tf.GradientTape``, let the (built) Keras ``optimizer`` apply the gradient to the ``tf.Variable``
``image``, clip the image to [0, 1], and return the loss computed *before* the update.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from .core import BadReturn, Case, Exercise, Failure, Mistake, as_array
from .inputs import make_case

# --- adam_clip_step -------------------------------------------------------------------------------


def _adam(keras_form=True, bias_correction=True, clip=True, sign=-1.0,
          square=True, sqrt=True, swap_betas=False, new_moments=True, t_offset=0, defaults=(0.02, 0.99, 0.1)):
    """Adam as Keras does it (all defaults), or with one of the classic mistakes switched on."""
    def step(image, gradient, m, v, t, learning_rate=defaults[0], beta_1=defaults[1], beta_2=0.999,
             epsilon=defaults[2]):
        t = t + t_offset
        keep, take = (1 - beta_1, beta_1) if swap_betas else (beta_1, 1 - beta_1)
        m_new = keep * m + take * gradient
        v_new = beta_2 * v + (1 - beta_2) * (gradient ** 2 if square else gradient)
        root = (np.sqrt(v_new) if sqrt else v_new)
        correction = np.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t) if bias_correction else 1.0
        if keras_form:
            update = learning_rate * correction * m_new / (root + epsilon)
        else:  # Kingma & Ba, Algorithm 1: epsilon added to sqrt(v_hat)
            update = learning_rate * (m_new / (1 - beta_1 ** t)) / (root / np.sqrt(1 - beta_2 ** t) + epsilon)
        new = image + sign * update
        new = np.clip(new, 0, 1) if clip else new
        return np.stack([new, m_new, v_new]) if new_moments else np.stack([new, m, v])
    return step


adam_reference = _adam()
adam_reference.__doc__ = "One Keras Adam update of the pixels, then clipping to [0, 1]; returns (image, m, v)."


def _as_triple(result) -> np.ndarray:
    """(image, m, v) stacked into one [3, ...] array, or BadReturn."""
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        raise BadReturn("wrong_return", f"returned {type(result).__name__}, not a tuple (image, m, v)")
    parts = [as_array(part) for part in result]
    if len({part.shape for part in parts}) != 1:
        raise BadReturn("wrong_return", "image, m and v do not have the same shape")
    return np.stack(parts)


def _adam_cases(rng):
    """Pixels at and near 0 and 1, gradients of both signs from 1e-3 to 1e2, steps t = 1 ... 30."""
    specs = [  # shape, t, float64, hyper-parameters (None: the defaults)
        ((1, 4, 5, 3), 1, False, None), ((2, 3, 6, 3), 3, True, (0.05, 0.9, 0.999, 0.1)),
        ((1, 5, 4, 1), 30, False, (0.5, 0.99, 0.99, 0.01)), ((1, 6, 6, 3), 2, True, None),
        ((3, 2, 4, 3), 10, False, (0.2, 0.8, 0.95, 0.1)),
    ]
    cases = []
    for shape, t, float64, hyper in specs:
        image = rng.uniform(size=shape)
        edge = rng.uniform(size=shape) < 0.4  # these pixels sit on or next to 0 and 1
        image[edge] = rng.choice([0.0, 1.0, 0.003, 0.997], size=edge.sum())
        gradient = rng.normal(size=shape) * 10.0 ** rng.uniform(-3, 2, size=shape)
        m, v = rng.normal(size=shape) * 0.1, rng.uniform(0, 0.5, size=shape)
        args = (image, gradient, m, v) + ((t,) + hyper if hyper else (t,))
        cases.append(make_case(f"t={t}, image", args, float64, tags=set() if hyper else {"defaults"}))
    return cases


ADAM_MISTAKES = [
    Mistake("clipping_forgotten", (_adam(clip=False),),
            "pixels leave [0, 1]: the updated image is not clipped (clipping before the update is too early)",
            "after the update: tf.clip_by_value(image, 0.0, 1.0)"),
    Mistake("textbook_epsilon", (_adam(keras_form=False),),
            "epsilon is added to sqrt(v_hat) (Kingma & Ba's Algorithm 1), not as Keras does",
            "Keras: alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t); image -= alpha * m / (sqrt(v) + eps)"),
    Mistake("no_bias_correction", (_adam(bias_correction=False),), "the bias correction is missing",
            "multiply the learning rate by sqrt(1 - beta_2**t) / (1 - beta_1**t)"),
    Mistake("step_count_off_by_one", (_adam(t_offset=1), _adam(t_offset=-1)),
            "the bias correction uses t + 1 or t - 1",
            "t is already the number of this update (1 for the first): use it as it is"),
    Mistake("wrong_sign", (_adam(sign=1.0),), "the pixels move up the gradient (gradient ascent)",
            "subtract the update: the loss must go down"),
    Mistake("v_not_squared", (_adam(square=False),), "v averages the gradient, not its square",
            "v = beta_2 * v + (1 - beta_2) * gradient**2"),
    Mistake("no_sqrt", (_adam(sqrt=False),), "the update divides by v + epsilon, not sqrt(v) + epsilon",
            "divide by tf.sqrt(v) + epsilon"),
    Mistake("moment_weights_swapped", (_adam(swap_betas=True),),
            "the moment update weights are swapped: m = (1 - beta_1) * m + beta_1 * gradient",
            "the old moment keeps beta_1: m = beta_1 * m + (1 - beta_1) * gradient"),
    Mistake("moments_not_updated", (_adam(new_moments=False),), "the returned m and v are the old ones",
            "return the updated moments: (image, m_new, v_new)"),
    Mistake("keras_default_settings", (_adam(defaults=(0.001, 0.9, 1e-7)),),
            "the defaults are Keras's (0.001, 0.9, 1e-7), not the course's",
            "defaults: learning_rate=0.02, beta_1=0.99, beta_2=0.999, epsilon=0.1"),
]

ADAM_CLIP_STEP = Exercise(
    name="adam_clip_step", reference=adam_reference, cases=_adam_cases, mistakes=ADAM_MISTAKES,
    convert=_as_triple, rtol64=1e-6,  # Keras keeps learning_rate in float32, even for float64 pixels
    hint="m, v = moving averages of g and g**2; image -= lr * sqrt(1-b2**t)/(1-b1**t) * m/(sqrt(v)+eps); clip")

# --- loss_and_update ------------------------------------------------------------------------------

LEARNING_RATE = 0.1  # plain SGD in the checker: the expected update is image - 0.1 * gradient


def _quadratic(target, weight):
    """loss(x) = weight * mean((x - target)**2), whose gradient is 2 * weight * (x - target) / n."""
    return lambda x: weight * tf.reduce_mean(tf.square(x - tf.cast(target, x.dtype)))


def _run_update(fn, case):
    """Call the answer on a fresh variable and optimizer; the result is [loss, *pixels after]."""
    start, target, weight = case.args
    image = tf.Variable(start, dtype=tf.float32)
    optimizer = keras.optimizers.SGD(learning_rate=LEARNING_RATE)
    optimizer.build([image])
    loss = fn(_quadratic(target, weight), image, optimizer)
    return np.concatenate([as_array(loss).reshape(-1), image.numpy().reshape(-1)])


def _update(after_loss=False, clip=True, apply=True, sign=-1.0):
    """[loss before the step, *pixels after it]: the pixels are clip(image - 0.1 * gradient) with
    the checker's SGD; the arguments switch on one of the classic mistakes."""
    def expected(start, target, weight):
        gradient = 2 * weight * (start - target) / start.size
        moved = start + sign * LEARNING_RATE * gradient if apply else start
        moved = np.clip(moved, 0, 1) if clip else moved
        loss = weight * np.mean(((moved if after_loss else start) - target) ** 2)
        return np.concatenate([[loss], moved.reshape(-1)])
    return expected


def _update_cases(rng):
    """Three float32 images (batches of 1 and 2, RGB and one channel), targets outside [0, 1]."""
    cases = []
    for shape, weight in [((1, 3, 4, 3), 40.0), ((2, 2, 5, 3), 100.0), ((1, 4, 2, 1), 25.0)]:
        start = rng.uniform(0.05, 0.95, size=shape)
        target = rng.uniform(-1.5, 2.5, size=shape)  # outside [0, 1]: the step needs clipping
        cases.append(Case(f"float32 image {list(shape)}", (start, target, weight),
                          (start.astype(np.float32).astype(np.float64), target, weight)))
    return cases


def _explain_update_error(case, err):
    text = str(err)
    if "No gradients provided" in text or ("None" in text and "gradient" in text.lower()):
        return Failure("loss_outside_tape", "the gradient is None: the loss was not computed under the tape",
                       "call loss_fn(image) inside `with tf.GradientTape() as tape:`")
    return None


LOSS_AND_UPDATE = Exercise(
    name="loss_and_update", reference=_update(), cases=_update_cases, call=_run_update,
    explain_error=_explain_update_error,
    mistakes=[
        Mistake("update_before_loss", (_update(after_loss=True),),
                "the returned loss is that of the image *after* the update",
                "return the loss computed under the tape, before optimizer.apply_gradients"),
        Mistake("clipping_forgotten", (_update(clip=False),), "pixels leave [0, 1]: the clipping is missing",
                "after the update: image.assign(tf.clip_by_value(image, 0.0, 1.0))"),
        Mistake("update_not_applied", (_update(apply=False), _update(apply=False, clip=False)),
                "the image did not change", "optimizer.apply_gradients([(gradient, image)])"),
        Mistake("wrong_sign", (_update(sign=1.0),), "the image moved up the gradient",
                "pass the gradient itself to apply_gradients; the optimizer subtracts it"),
    ],
    hint="with tape: loss = loss_fn(image); apply tape.gradient(loss, image); clip image; return loss")
