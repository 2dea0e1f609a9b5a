"""L-BFGS on the pixels, the optimizer of Gatys et al., written in TensorFlow.

Taught in notebooks/06_speed_and_scale.

Why L-BFGS: the NST loss is smooth almost everywhere and a few hundred thousand pixels are one
vector; a quasi-Newton method that remembers the last ``history_size`` gradient changes takes
steps shaped like the curvature of the loss, so it needs far fewer loss evaluations than Adam.

Pixels must stay in [0, 1]. We keep the box constraint by *projection* rather than by
reparametrizing (x = sigmoid(z)): a sigmoid flattens the gradient of every dark or bright pixel,
exactly the saturated colours paintings are full of, while projection leaves the loss untouched
inside the box. Each step (1) drops the gradient components that push a pixel already at a bound
further out, (2) builds the L-BFGS direction from those free components, (3) clips the trial
point into the box and backtracks until the loss decreases enough (Armijo). Curvature pairs with
s.y <= 0 (possible after a projection) are skipped, which keeps the inverse-Hessian estimate
positive definite.
"""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf


def _dot(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    # float64 accumulation: the dot products of ~10^6 pixels lose digits in float32
    return tf.reduce_sum(tf.cast(a, tf.float64) * tf.cast(b, tf.float64))


def two_loop_direction(gradient, s_history, y_history, rho_history) -> tf.Tensor:
    """The L-BFGS search direction -H*g by the two-loop recursion (Nocedal & Wright, Alg. 7.4)."""
    q = tf.identity(gradient)
    alphas = []
    for s, y, rho in zip(reversed(s_history), reversed(y_history), reversed(rho_history)):
        alpha = rho * _dot(s, q)
        q = q - tf.cast(alpha, q.dtype) * y
        alphas.append(alpha)
    if s_history:
        gamma = _dot(s_history[-1], y_history[-1]) / _dot(y_history[-1], y_history[-1])
        q = q * tf.cast(gamma, q.dtype)
    for (s, y, rho), alpha in zip(zip(s_history, y_history, rho_history), reversed(alphas)):
        beta = rho * _dot(y, q)
        q = q + tf.cast(alpha - beta, q.dtype) * s
    return -q


@tf.function
def _two_loop(gradient, s_buffer, y_buffer, rho_buffer, count):
    """``two_loop_direction`` over fixed-size buffers (newest pair last, the first
    ``history_size - count`` rows unused), so one compiled graph serves every step."""
    size = s_buffer.shape[0]
    q = tf.cast(gradient, tf.float64)
    alphas = [None] * size
    for i in reversed(range(size)):
        used = tf.cast(i >= size - count, tf.float64)
        alphas[i] = used * rho_buffer[i] * _dot(s_buffer[i], q)
        q = q - alphas[i] * tf.cast(y_buffer[i], tf.float64)
    newest_y = tf.cast(y_buffer[-1], tf.float64)
    gamma = tf.where(count > 0, _dot(s_buffer[-1], newest_y) / tf.maximum(_dot(newest_y, newest_y), 1e-300), 1.0)
    q = q * gamma
    for i in range(size):
        used = tf.cast(i >= size - count, tf.float64)
        beta = used * rho_buffer[i] * _dot(y_buffer[i], q)
        q = q + (alphas[i] - beta) * tf.cast(s_buffer[i], tf.float64)
    return tf.cast(-q, gradient.dtype)


def _empty_memory(x: tf.Tensor, history_size: int):
    """Zeroed (s, y, rho) buffers. Forgetting the past zeroes them too (unused rows never count,
    ``_two_loop``), so a checkpoint need only store the ``count`` rows in use."""
    shape = [history_size] + list(x.shape)
    return tf.zeros(shape, x.dtype), tf.zeros(shape, x.dtype), tf.zeros([history_size], tf.float64)


@dataclass
class LbfgsState:
    """Everything ``lbfgs_minimize`` needs to go on from the top of an iteration: the current
    point with its value and gradient, the memory ((s, y, rho) buffers of ``history_size`` rows,
    newest last, the last ``count`` in use and the others zero), the evaluations so far, and
    whether it has converged. Passing it back as ``state=`` continues exactly where it left
    (checkpoints, ``checkpoint.py``)."""

    x: tf.Tensor
    value: tf.Tensor
    gradient: tf.Tensor
    s: tf.Tensor  # [history_size, *x.shape]
    y: tf.Tensor
    rho: tf.Tensor  # [history_size] float64
    count: int
    evaluations: int
    converged: bool = False


def lbfgs_minimize(value_and_gradient, x0, *, max_evaluations: int, history_size: int = 10,
                   lower: float = 0.0, upper: float = 1.0, initial_step: float = 0.05,
                   max_backtracks: int = 8, callback=None, state: LbfgsState | None = None,
                   on_iteration=None):
    """Minimize ``f`` over the box [lower, upper] with projected L-BFGS.

    ``value_and_gradient(x)`` returns ``(value, gradient, extras)``: a scalar tensor, a tensor
    shaped like ``x`` and anything the caller wants back (per-term losses). ``callback(evaluation,
    x, value, extras)`` runs after every evaluation; returning ``False`` stops. Returns
    ``(x, value, evaluations)`` with the last accepted point (accepted values only decrease).

    ``on_iteration(state)`` runs at the top of every iteration and once at the end (an
    ``LbfgsState``: a complete state, from which ``state=`` resumes; ``x0`` is then ignored and
    ``max_evaluations`` counts the evaluations of the state too).
    """
    if max_evaluations < 1:
        raise ValueError(f"max_evaluations must be >= 1, got {max_evaluations}")
    if state is None:
        x = tf.clip_by_value(tf.convert_to_tensor(x0), lower, upper)
        value, gradient, extras = value_and_gradient(x)
        evaluations = 1
        if callback is not None and callback(evaluations, x, value, extras) is False:
            return x, value, evaluations
        (s_buffer, y_buffer, rho_buffer), count, converged = _empty_memory(x, history_size), 0, False
    else:
        x, value, gradient, evaluations = state.x, state.value, state.gradient, state.evaluations
        s_buffer, y_buffer, rho_buffer = state.s, state.y, state.rho
        count, converged = state.count, state.converged
    while True:
        if on_iteration is not None:
            on_iteration(LbfgsState(x, value, gradient, s_buffer, y_buffer, rho_buffer, count, evaluations,
                                    converged))
        if converged or evaluations >= max_evaluations:
            break
        at_lower = tf.logical_and(x <= lower, gradient > 0)
        at_upper = tf.logical_and(x >= upper, gradient < 0)
        free = tf.logical_not(tf.logical_or(at_lower, at_upper))
        free_gradient = tf.where(free, gradient, tf.zeros_like(gradient))
        if float(tf.reduce_max(tf.abs(free_gradient))) == 0.0:
            converged = True  # a stationary point of the box-constrained problem
            continue
        direction = tf.where(free, _two_loop(free_gradient, s_buffer, y_buffer, rho_buffer, tf.constant(count)),
                             tf.zeros_like(gradient))
        if float(_dot(direction, free_gradient)) >= 0.0:  # not a descent direction: forget the past
            (s_buffer, y_buffer, rho_buffer), count = _empty_memory(x, history_size), 0
            direction = -free_gradient
        # With no curvature yet, scale the first step to move pixels by at most initial_step.
        step = 1.0 if count else initial_step / float(tf.reduce_max(tf.abs(direction)))
        for _ in range(max_backtracks):
            trial = tf.clip_by_value(x + step * direction, lower, upper)
            trial_value, trial_gradient, trial_extras = value_and_gradient(trial)
            evaluations += 1
            if callback is not None and callback(evaluations, trial, trial_value, trial_extras) is False:
                return (trial, trial_value, evaluations) if float(trial_value) < float(value) else (x, value, evaluations)
            if float(trial_value) <= float(value) + 1e-4 * float(_dot(gradient, trial - x)):
                break
            if evaluations >= max_evaluations:
                break
            step *= 0.5
        if float(trial_value) >= float(value):  # no progress: restart from the gradient
            if not count:
                converged = True  # not even a short gradient step helps: converged to float precision
            (s_buffer, y_buffer, rho_buffer), count = _empty_memory(x, history_size), 0
            continue
        s, y = trial - x, trial_gradient - gradient
        sy = float(_dot(s, y))
        if sy > 1e-10 * float(_dot(y, y)):
            s_buffer = tf.concat([s_buffer[1:], s[tf.newaxis]], 0)
            y_buffer = tf.concat([y_buffer[1:], y[tf.newaxis]], 0)
            rho_buffer = tf.concat([rho_buffer[1:], tf.constant([1.0 / sy], tf.float64)], 0)
            count = min(count + 1, history_size)
        x, value, gradient = trial, trial_value, trial_gradient
    return x, value, evaluations
