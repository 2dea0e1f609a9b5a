"""Checker of lecture 07 (notebooks/07_fast_style_transfer): ``instance_norm``.

``instance_norm(x, scale, offset, epsilon=1e-3) -> y``: conditional instance normalization
(Dumoulin, Shlens & Kudlur 2017), the layer through which the style steers the transfer network.
``x`` is [B, H, W, C]; ``scale`` and ``offset`` are [B, C], row b being the scale and shift of
image b's style (Dumoulin et al. gather one row per image from a table of N styles; Ghiasi et al.
predict it from the painting). For one style for the whole batch, tile its [C] vectors to [B, C].
Per image and per channel, over the H*W positions:

    mean = mean of x[b, :, :, c],  var = mean of (x[b, :, :, c] - mean)**2   (the *biased* variance)
    y[b, :, :, c] = scale[b, c] * (x[b, :, :, c] - mean) / sqrt(var + epsilon) + offset[b, c]

The variance divides by H*W, not H*W - 1, as ``tf.nn.moments``, ``tf.math.reduce_variance`` and
Keras's normalization layers do (``keras.layers.GroupNormalization(groups=-1)`` is this layer with
one [C] scale for every image). epsilon's default 1e-3 is Keras's.

Properties checked besides the values: each output channel has mean offset[b, c] and standard
deviation |scale[b, c]| sqrt(var / (var + epsilon)); adding a constant per image and channel changes
nothing; each image of the batch is normalized on its own.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .core import Exercise, Failure, Mistake
from .inputs import make_case

# --- the reference and the classic mistakes -------------------------------------------------------


def _norm(axes=(1, 2), ddof=0, divide=lambda var, eps: np.sqrt(var + eps), center=True, swap=False,
          affine=True):
    """Instance normalization in float64; each argument can switch on one classic mistake.
    ``axes``: where the statistics are taken; ``divide(var, eps)``: the denominator."""
    def norm(x, scale, offset, epsilon=1e-3):
        x = np.asarray(x, np.float64)
        mean = x.mean(axis=axes, keepdims=True)
        count = np.prod([x.shape[a] for a in axes])
        var = ((x - mean) ** 2).sum(axis=axes, keepdims=True) / (count - ddof)
        normalized = ((x - mean) if center else x) / divide(var, epsilon)
        if not affine:
            return normalized
        gamma, beta = (offset, scale) if swap else (scale, offset)
        return np.asarray(gamma)[:, None, None, :] * normalized + np.asarray(beta)[:, None, None, :]
    return norm


instance_norm_reference = _norm()
instance_norm_reference.__doc__ = ("scale[b, c] * (x - mean) / sqrt(var + epsilon) + offset[b, c], mean and "
                                   "biased var of x[b, :, :, c] over H and W.")

HINT = ("mean, var = tf.nn.moments(x, axes=[1, 2], keepdims=True); y = scale[:, None, None, :] * "
        "(x - mean) / tf.sqrt(var + epsilon) + offset[:, None, None, :]")

MISTAKES = [
    Mistake("batch_norm_statistics", (_norm(axes=(0, 1, 2)), _norm(axes=(0, 1, 2, 3))),
            "the mean and variance are taken over the batch too (batch normalization)",
            "statistics per image and per channel: reduce over axes [1, 2] only, never over axis 0"),
    Mistake("layer_norm_statistics", (_norm(axes=(1, 2, 3)),),
            "the mean and variance are taken over the channels too (layer normalization)",
            "each channel has its own statistics: reduce over axes [1, 2] (H and W), not over axis 3"),
    Mistake("unbiased_variance", (_norm(ddof=1),),
            "the variance divides by H*W - 1; TF and Keras use the biased variance (divide by H*W)",
            "var = mean((x - mean)**2) over H and W, as tf.nn.moments gives it (not ddof=1)"),
    Mistake("epsilon_outside_sqrt", (_norm(divide=lambda var, eps: np.sqrt(var) + eps),),
            "divided by std + epsilon; epsilon goes inside the root",
            "divide by tf.sqrt(var + epsilon), not by tf.sqrt(var) + epsilon"),
    Mistake("epsilon_ignored", (_norm(divide=lambda var, eps: np.sqrt(var)),),
            "divided by the standard deviation alone: epsilon is not used",
            "add epsilon to the variance before the root: tf.sqrt(var + epsilon)"),
    Mistake("divided_by_variance", (_norm(divide=lambda var, eps: var + eps),),
            "divided by the variance (plus epsilon), not by its square root",
            "take the square root: (x - mean) / tf.sqrt(var + epsilon)"),
    Mistake("mean_not_subtracted", (_norm(center=False),),
            "x is divided by the standard deviation but its mean is not subtracted",
            "normalize x - mean, then scale and shift"),
    Mistake("scale_offset_swapped", (_norm(swap=True),),
            "scale and offset are swapped: the normalized x is multiplied by offset and shifted by scale",
            "scale multiplies the normalized x, offset is added: scale * x_hat + offset"),
    Mistake("scale_and_offset_ignored", (_norm(affine=False),),
            "the output is the normalized x: scale and offset (the style) are not applied",
            "finish with scale[:, None, None, :] * x_hat + offset[:, None, None, :]"),
]

# --- inputs -----------------------------------------------------------------------------------------


def _features(rng, shape):
    """Feature maps whose channels have their own mean (-1 to 1) and standard deviation (0.02 to
    3, log-uniform): epsilon matters for the quiet channels, not for the loud ones."""
    b, _, _, c = shape
    mean = rng.uniform(-1, 1, size=(b, 1, 1, c))
    std = np.exp(rng.uniform(np.log(0.02), np.log(3.0), size=(b, 1, 1, c)))
    return mean + std * rng.normal(size=shape)


def _cases(rng):
    """Batches of 1 to 3 (never B == W, where a [B, C] scale would broadcast silently against
    [W, C]), square and not, 1 to 6 channels; epsilon by default and given."""
    specs = [((2, 3, 4, 3), None, False), ((1, 5, 5, 4), 1e-5, True), ((3, 4, 2, 2), 0.01, False),
             ((2, 6, 5, 6), None, True), ((1, 3, 7, 1), 0.05, False), ((3, 4, 4, 5), 1e-3, False)]
    cases = []
    for shape, epsilon, float64 in specs:
        b, _, _, c = shape
        scale, offset = rng.uniform(0.3, 2.0, size=(b, c)), rng.uniform(-1.5, 1.5, size=(b, c))
        args = (_features(rng, shape), scale, offset) + (() if epsilon is None else (epsilon,))
        tags = {"defaults"} if epsilon is None else set()
        cases.append(make_case(f"epsilon={epsilon or 'default'}, x", args, float64, tags=tags))
    return cases


def _explain_error(case, err):
    text = str(err)
    if "Incompatible shapes" in text or "broadcast" in text:
        return Failure("not_reshaped_to_b11c", f"a [B, C] tensor (scale, offset, or a mean without keepdims) "
                       f"does not broadcast against x [B, H, W, C] (on {case.label})",
                       "make them [B, 1, 1, C]: scale[:, None, None, :], and keepdims=True for the moments")
    return None


# --- properties ---------------------------------------------------------------------------------------


def _inputs(seed, shape=(3, 5, 6, 4)):
    rng = np.random.default_rng(seed)
    b, _, _, c = shape
    x = rng.uniform(-2, 2, size=(b, 1, 1, c)) + rng.uniform(1, 4, size=(b, 1, 1, c)) * rng.normal(size=shape)
    return x.astype(np.float32), rng.uniform(0.3, 2, size=(b, c)).astype(np.float32), \
        rng.uniform(-1, 1, size=(b, c)).astype(np.float32)


def _close(got, want, rtol=1e-4):
    return got.shape == want.shape and np.allclose(got, want, rtol=rtol, atol=rtol * np.abs(want).max())


def _moments(fn, evaluate):
    """Every output channel has mean offset[b, c] and std |scale[b, c]| sqrt(var / (var + eps))."""
    x, scale, offset = _inputs(29)
    y = evaluate(tf.constant(x), tf.constant(scale), tf.constant(offset), 1e-3)
    if y.shape != x.shape:
        raise Failure("wrong_shape", f"returned shape {list(y.shape)}, expected {list(x.shape)}", HINT)
    var = np.var(x.astype(np.float64), axis=(1, 2))
    checks = [(y.mean(axis=(1, 2)), offset.astype(np.float64), "the output channels' means are not the offsets"),
              (y.std(axis=(1, 2)), np.abs(scale) * np.sqrt(var / (var + 1e-3)),
               "the output channels' standard deviations are not the scales")]
    for got, want, what in checks:
        if not np.allclose(got, want, rtol=1e-4, atol=1e-4):
            raise Failure("output_moments_wrong", what, HINT)


def _shift_invariant(fn, evaluate):
    """Adding a constant to every position of one image's channel changes nothing."""
    x, scale, offset = _inputs(31)
    shift = np.random.default_rng(31).uniform(-5, 5, size=(x.shape[0], 1, 1, x.shape[3])).astype(np.float32)
    if not _close(evaluate(tf.constant(x + shift), tf.constant(scale), tf.constant(offset)),
                  evaluate(tf.constant(x), tf.constant(scale), tf.constant(offset)), rtol=5e-4):
        raise Failure("not_shift_invariant", "adding a constant per image and channel changes the output",
                      "subtract each image's and channel's own mean")


def _independent(fn, evaluate):
    """Each image is normalized on its own: image 1 alone gives what it gives in the batch, and
    changing image 0 leaves image 1's output as it was."""
    x, scale, offset = _inputs(37)
    batch = evaluate(tf.constant(x), tf.constant(scale), tf.constant(offset))
    alone = evaluate(tf.constant(x[1:2]), tf.constant(scale[1:2]), tf.constant(offset[1:2]))
    other = x.copy()
    other[0] = 10 * other[0] + 3
    changed = evaluate(tf.constant(other), tf.constant(scale), tf.constant(offset))
    if not (_close(alone.reshape(-1), batch[1].reshape(-1)) and _close(changed[1:], batch[1:])):
        raise Failure("images_not_independent", "an image's output depends on the other images of the batch",
                      "reduce over axes [1, 2] only; the batch axis 0 stays")


INSTANCE_NORM = Exercise(
    name="instance_norm", reference=instance_norm_reference, cases=_cases, mistakes=MISTAKES,
    checks=[_moments, _shift_invariant, _independent], explain_error=_explain_error, hint=HINT)
