"""Checkers of lecture 09 (notebooks/09_training_a_feed_forward_network): ``upsample_conv`` and
``residual_block``, two blocks of Johnson et al.'s image transformation network.

Both convolve like ``tf.nn.conv2d`` (a cross-correlation, stride 1, no bias) after **reflection**
padding of k // 2 pixels on each side (``tf.pad(x, ..., mode="REFLECT")``), so the output has the
input's size and no dark frame. Kernels are [k, k, C_in, C_out], k odd.

``upsample_conv(x, kernel, factor=2)``: resize-then-convolve (Odena, Dumoulin & Olah 2016):
repeat every pixel ``factor`` times along H and W (nearest neighbour), then the padded convolution.
x [B, H, W, C] -> [B, factor*H, factor*W, C_out].

``residual_block(x, kernel1, kernel2, epsilon=1e-3)``: Johnson et al.'s block (after Gross & Wilber):
conv -> instance norm -> ReLU -> conv -> instance norm, plus x, and **no** ReLU after the sum.
The instance norm here has no learned scale and shift: (h - mean) / sqrt(var + epsilon), mean and
biased variance per image and channel over H and W. x [B, H, W, C], kernels [3, 3, C, C] -> x's shape.

Properties checked besides the values: a constant image stays constant (reflection padding adds
no border); zero kernels make the residual block the identity; each image of a batch on its own.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .core import Exercise, Failure, Mistake
from .inputs import make_case

# --- float64 building blocks --------------------------------------------------------------------------


def _conv(x, kernel, padding="reflect", flip=False):
    """Stride-1 cross-correlation of x [B, H, W, C] with kernel [k, k, C, O] after padding k // 2."""
    x, kernel = np.asarray(x, np.float64), np.asarray(kernel, np.float64)
    if flip:  # a true convolution (scipy.signal.convolve2d's habit): the kernel turned by 180 degrees
        kernel = kernel[::-1, ::-1]
    k = kernel.shape[0]
    p = k // 2
    padded = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)), mode="reflect" if padding == "reflect" else "constant")
    h, w = x.shape[1], x.shape[2]
    out = np.zeros(x.shape[:3] + (kernel.shape[3],))
    for i in range(k):
        for j in range(k):
            out += np.einsum("bhwc,co->bhwo", padded[:, i:i + h, j:j + w], kernel[i, j])
    return out


def _nearest(x, factor):
    return np.repeat(np.repeat(x, factor, axis=1), factor, axis=2)


def _linear_weights(size, factor):
    """The [size*factor, size] matrix of tf.image.resize's bilinear interpolation along one axis
    (half-pixel centres, edges clamped)."""
    out = size * factor
    src = np.clip((np.arange(out) + 0.5) / factor - 0.5, 0, size - 1)
    low = np.floor(src).astype(int)
    high = np.minimum(low + 1, size - 1)
    weights = np.zeros((out, size))
    weights[np.arange(out), low] += 1 - (src - low)
    weights[np.arange(out), high] += src - low
    return weights


def _bilinear(x, factor):
    rows, cols = _linear_weights(x.shape[1], factor), _linear_weights(x.shape[2], factor)
    return np.einsum("ih,jw,bhwc->bijc", rows, cols, x)


def _tiled(x, factor):
    return np.tile(x, (1, factor, factor, 1))


def _instance_norm(x, epsilon, axes=(1, 2)):
    mean = x.mean(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(((x - mean) ** 2).mean(axis=axes, keepdims=True) + epsilon)


# --- upsample_conv(x, kernel, factor=2) ------------------------------------------------------------


def _upsample(resize=_nearest, padding="reflect", flip=False, order="resize_first"):
    def upsample_conv(x, kernel, factor=2):
        x = np.asarray(x, np.float64)
        if order == "conv_first":
            return _nearest(_conv(x, kernel, padding, flip), factor)
        return _conv(resize(x, factor), kernel, padding, flip)
    return upsample_conv


upsample_conv_reference = _upsample()
upsample_conv_reference.__doc__ = ("Nearest-neighbour upsampling by `factor` (each pixel repeated), then a "
                                   "stride-1 convolution after reflection padding of k // 2.")

UPSAMPLE_HINT = ("x = tf.repeat(tf.repeat(x, factor, axis=1), factor, axis=2); p = k // 2; "
                 "x = tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode='REFLECT'); "
                 "return tf.nn.conv2d(x, kernel, 1, 'VALID')")


def _upsample_cases(rng):
    """Batches of 1 to 3, square and not, 1 to 4 channels in and 1 to 3 out, 3x3 and 5x5 kernels,
    factors 2 (the default) and 3; never an input of one pixel (nothing to interpolate)."""
    specs = [((2, 3, 4, 3), 3, 2, None, False), ((1, 4, 4, 2), 3, 3, None, True), ((3, 3, 5, 1), 5, 2, 2, False),
             ((1, 5, 3, 4), 3, 1, 3, True), ((2, 4, 6, 2), 5, 3, None, False), ((1, 3, 3, 3), 3, 2, 3, False)]
    cases = []
    for shape, k, out, factor, float64 in specs:
        kernel = rng.normal(size=(k, k, shape[3], out)) / k
        x = rng.uniform(size=shape) + rng.normal(size=(shape[0], 1, 1, shape[3]))  # offsets: borders matter
        args = (x, kernel) + (() if factor is None else (factor,))
        cases.append(make_case(f"factor={factor or 'default'}, {k}x{k} kernel, x", args, float64,
                               tags={"defaults"} if factor is None else set()))
    return cases


UPSAMPLE_MISTAKES = [
    Mistake("bilinear_not_nearest", (_upsample(resize=_bilinear),),
            "the image is enlarged by bilinear interpolation (tf.image.resize's default method)",
            "repeat each pixel: tf.repeat along axes 1 and 2, or tf.image.resize(..., method='nearest')"),
    Mistake("tiled_not_repeated", (_upsample(resize=_tiled),),
            "the whole image is tiled factor x factor times instead of each pixel being repeated",
            "tf.tile copies the image; tf.repeat(x, factor, axis=1) repeats every row (then axis=2)"),
    Mistake("conv_then_upsample", (_upsample(order="conv_first"),),
            "the convolution runs before the upsampling, at the low resolution",
            "first enlarge (nearest neighbour), then convolve: the convolution smooths the blocky copy"),
    Mistake("zero_padding", (_upsample(padding="zeros"),),
            "the borders are padded with zeros (padding='SAME'), which darkens a frame around the image",
            "pad k // 2 pixels with tf.pad(..., mode='REFLECT'), then convolve with padding='VALID'"),
    Mistake("kernel_flipped", (_upsample(flip=True),),
            "the kernel is turned by 180 degrees (a true convolution, as scipy.signal.convolve2d computes)",
            "deep-learning 'convolutions' are cross-correlations: tf.nn.conv2d, kernel not flipped"),
]


def _explain_upsample_error(case, err):
    text = str(err)
    if "paddings must be less than" in text:
        return Failure("reflect_pad_too_large", f"the reflection padding is larger than the image allows "
                       f"(on {case.label}): pad after upsampling, k // 2 pixels", UPSAMPLE_HINT)
    return None


def _constant_stays_constant(fn, evaluate):
    """A grey image gives a constant output: reflection padding adds no border, nearest adds no blur."""
    kernel = np.random.default_rng(41).normal(size=(3, 3, 2, 2)).astype(np.float32)
    x = np.full((1, 3, 5, 2), 0.5, np.float32)
    y = evaluate(tf.constant(x), tf.constant(kernel))
    want = 0.5 * kernel.sum(axis=(0, 1, 2))
    if y.shape != (1, 6, 10, 2) or not np.allclose(y, want.reshape(1, 1, 1, 2), atol=1e-4):
        raise Failure("border_on_constant_image", "a constant image does not give a constant output "
                      "(a border, or a wrong size)", UPSAMPLE_HINT)


UPSAMPLE_CONV = Exercise(
    name="upsample_conv", reference=upsample_conv_reference, cases=_upsample_cases, mistakes=UPSAMPLE_MISTAKES,
    checks=[_constant_stays_constant], explain_error=_explain_upsample_error, hint=UPSAMPLE_HINT)

# --- residual_block(x, kernel1, kernel2, epsilon=1e-3) ------------------------------------------------


def _residual(padding="reflect", axes=(1, 2), relu_after_sum=False, relu_after_second=False, skip=True,
              normalize=True):
    def residual_block(x, kernel1, kernel2, epsilon=1e-3):
        x = np.asarray(x, np.float64)
        norm = (lambda h: _instance_norm(h, epsilon, axes)) if normalize else (lambda h: h)
        h = np.maximum(norm(_conv(x, kernel1, padding)), 0.0)
        h = norm(_conv(h, kernel2, padding))
        if relu_after_second:
            h = np.maximum(h, 0.0)
        out = x + h if skip else h
        return np.maximum(out, 0.0) if relu_after_sum else out
    return residual_block


residual_block_reference = _residual()
residual_block_reference.__doc__ = ("x + IN(conv(ReLU(IN(conv(x, kernel1))), kernel2)), reflection-padded "
                                    "convolutions, instance norm without scale and shift, no ReLU after the sum.")

RESIDUAL_HINT = ("h = relu(instance_norm(conv(x, kernel1))); h = instance_norm(conv(h, kernel2)); return x + h "
                 "(conv: tf.pad REFLECT by 1, then tf.nn.conv2d VALID; norm: tf.nn.moments over [1, 2])")


def _residual_cases(rng):
    """Batches of 1 to 3, square and not, 1 to 4 channels; x with a mean around 0 so that a ReLU
    after the sum would change many values; epsilon by default and given."""
    specs = [((2, 4, 5, 3), None, False), ((1, 5, 5, 2), 1e-5, True), ((3, 3, 6, 1), 0.01, False),
             ((2, 6, 4, 4), None, True), ((1, 4, 7, 3), 0.1, False)]
    cases = []
    for shape, epsilon, float64 in specs:
        c = shape[3]
        x = rng.normal(size=shape) + rng.uniform(-0.5, 0.5, size=(shape[0], 1, 1, c))
        kernels = (rng.normal(size=(3, 3, c, c)) / 3, rng.normal(size=(3, 3, c, c)) / 3)
        args = (x,) + kernels + (() if epsilon is None else (epsilon,))
        cases.append(make_case(f"epsilon={epsilon or 'default'}, x", args, float64,
                               tags={"defaults"} if epsilon is None else set()))
    return cases


RESIDUAL_MISTAKES = [
    Mistake("relu_after_sum", (_residual(relu_after_sum=True),),
            "a ReLU follows the sum x + h (He et al.'s original block); Johnson et al.'s block has none",
            "return x + h as it is: the skip carries x through unchanged, negative values included"),
    Mistake("no_skip_connection", (_residual(skip=False),),
            "x is not added back: this is two convolutions, not a residual block",
            "return x + h, where h is conv -> norm -> ReLU -> conv -> norm of x"),
    Mistake("relu_after_second_norm", (_residual(relu_after_second=True),),
            "a ReLU follows the second normalization, so the block can only add, never subtract",
            "one ReLU only, between the two convolutions: h = norm(conv(relu(norm(conv(x)))))"),
    Mistake("batch_statistics", (_residual(axes=(0, 1, 2)),),
            "the normalization takes its mean and variance over the batch too (batch normalization)",
            "instance normalization: tf.nn.moments(h, axes=[1, 2], keepdims=True), per image and channel"),
    Mistake("zero_padding", (_residual(padding="zeros"),),
            "the convolutions pad with zeros (padding='SAME') instead of reflecting the border",
            "tf.pad(h, [[0, 0], [1, 1], [1, 1], [0, 0]], mode='REFLECT'), then tf.nn.conv2d(..., 'VALID')"),
    Mistake("no_normalization", (_residual(normalize=False),),
            "the convolutions' outputs are not normalized", "instance-normalize after each convolution"),
]


def _zero_kernels_identity(fn, evaluate):
    """With zero kernels the residual branch is 0 and the block passes x through unchanged."""
    x = np.random.default_rng(43).normal(size=(2, 4, 5, 3)).astype(np.float32)
    zeros = np.zeros((3, 3, 3, 3), np.float32)
    if not np.allclose(evaluate(tf.constant(x), tf.constant(zeros), tf.constant(zeros)), x, atol=1e-5):
        raise Failure("not_identity_with_zero_kernels", "with zero kernels the block does not return x",
                      "the block is x + h: with h = 0 nothing may change x (no ReLU after the sum)")


def _images_independent(fn, evaluate):
    """Changing image 0 of a batch leaves image 1's output as it was."""
    rng = np.random.default_rng(47)
    x = rng.normal(size=(2, 5, 4, 2)).astype(np.float32)
    k1, k2 = (rng.normal(size=(3, 3, 2, 2)).astype(np.float32) for _ in range(2))
    other = x.copy()
    other[0] = 7 * other[0] + 2
    a = evaluate(tf.constant(x), tf.constant(k1), tf.constant(k2))
    b = evaluate(tf.constant(other), tf.constant(k1), tf.constant(k2))
    if a.shape != x.shape or not np.allclose(a[1], b[1], atol=1e-4):
        raise Failure("images_not_independent", "an image's output depends on the other images of the batch",
                      "normalize over axes [1, 2] only, never over the batch axis 0")


RESIDUAL_BLOCK = Exercise(
    name="residual_block", reference=residual_block_reference, cases=_residual_cases, mistakes=RESIDUAL_MISTAKES,
    checks=[_zero_kernels_identity, _images_independent], hint=RESIDUAL_HINT)
