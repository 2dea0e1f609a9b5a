"""Known-bad answers to the exercises of ``nst_tf.exercises``: the mistakes students really make,
each a small function with the exercise's signature, and the mistake code its checker must name.

``BAD`` lists (exercise, expected mistake code, function). ``GOOD`` lists right answers written
differently from ``nst_tf``: the lectures' own derivations (copied from the notebooks) and NumPy
re-implementations; each must pass.
"""

import math
from collections.abc import Mapping

import keras
import numpy as np
import tensorflow as tf

MEAN_BGR = (103.939, 116.779, 123.68)
BAD = []


def bad(exercise, mistake):
    def register(fn):
        BAD.append((exercise, mistake, fn))
        return fn
    return register


def _hw(features):
    return tf.cast(tf.shape(features)[1] * tf.shape(features)[2], features.dtype)


# --- caffe_preprocess ------------------------------------------------------------------------------

@bad("caffe_preprocess", "rgb_not_bgr")
def caffe_rgb(images):
    return tf.convert_to_tensor(images, tf.float32) * 255.0 - tf.constant(MEAN_BGR)


@bad("caffe_preprocess", "no_mean_subtraction")
def caffe_no_mean(images):
    return tf.reverse(tf.convert_to_tensor(images, tf.float32), axis=[-1]) * 255.0


@bad("caffe_preprocess", "no_x255")
def caffe_no_255(images):  # keras.applications.vgg19.preprocess_input on [0, 1] pixels
    return tf.reverse(tf.convert_to_tensor(images, tf.float32), axis=[-1]) - tf.constant(MEAN_BGR)


@bad("caffe_preprocess", "x255_twice")
def caffe_255_twice(images):
    pixels = tf.convert_to_tensor(images, tf.float32) * 255.0  # "load_image gives 0..255"
    return tf.reverse(pixels, axis=[-1]) * 255.0 - tf.constant(MEAN_BGR)


@bad("caffe_preprocess", "mean_wrong_order")
def caffe_mean_rgb(images):
    bgr = tf.reverse(tf.convert_to_tensor(images, tf.float32), axis=[-1]) * 255.0
    return bgr - tf.constant([123.68, 116.779, 103.939])


@bad("caffe_preprocess", "mean_added")
def caffe_mean_added(images):
    return tf.reverse(tf.convert_to_tensor(images, tf.float32), axis=[-1]) * 255.0 + tf.constant(MEAN_BGR)


@bad("caffe_preprocess", "torch_normalization")
def caffe_torch(images):
    images = tf.convert_to_tensor(images, tf.float32)
    return (images - tf.constant([0.485, 0.456, 0.406])) / tf.constant([0.229, 0.224, 0.225])


@bad("caffe_preprocess", "reversed_wrong_axis")
def caffe_flip_width(images):
    return tf.reverse(tf.convert_to_tensor(images, tf.float32), axis=[2]) * 255.0 - tf.constant(MEAN_BGR)


# --- gram_matrix ------------------------------------------------------------------------------------

@bad("gram_matrix", "sum_instead_of_mean")
def gram_sum(features):
    return tf.einsum("bhwc,bhwd->bcd", features, features)


@bad("gram_matrix", "divided_by_CHW")
def gram_pytorch(features):
    b, h, w, c = features.shape
    return tf.einsum("bhwc,bhwd->bcd", features, features) / (c * h * w)


@bad("gram_matrix", "divided_by_HWC2")
def gram_hwc2(features):
    b, h, w, c = features.shape
    return tf.einsum("bhwc,bhwd->bcd", features, features) / (h * w * c * c)


@bad("gram_matrix", "no_transpose")
def gram_no_transpose(features):
    b, h, w, c = features.shape
    matrix = tf.reshape(features, (b, h * w, c))
    return tf.matmul(matrix, matrix) / (h * w)


@bad("gram_matrix", "transposed_wrong_factor")
def gram_positions(features):  # PyTorch's F F^T, ported to [H*W, C] rows
    b, h, w, c = features.shape
    matrix = tf.reshape(features, (b, h * w, c))
    return tf.matmul(matrix, matrix, transpose_b=True) / (h * w)


@bad("gram_matrix", "wrong_einsum_axes")
def gram_diagonal(features):
    return tf.einsum("bhwc,bhwc->bc", features, features) / _hw(features)


@bad("gram_matrix", "batch_mixing")
def gram_whole_batch(features):
    c = features.shape[-1]
    matrix = tf.reshape(features, (-1, c))  # every image's positions in one matrix
    return (tf.matmul(matrix, matrix, transpose_a=True) / tf.cast(tf.shape(matrix)[0], features.dtype))[None]


@bad("gram_matrix", "batch_mixing")
def gram_einsum_drops_b(features):
    return tf.einsum("bhwc,bhwd->cd", features, features) / _hw(features)


@bad("gram_matrix", "assumed_square")
def gram_h_squared(features):
    h = features.shape[1]
    return tf.einsum("bhwc,bhwd->bcd", features, features) / (h * h)


@bad("gram_matrix", "fixed_float32")
def gram_float32_count(features):
    positions = tf.cast(tf.shape(features)[1] * tf.shape(features)[2], tf.float32)
    return tf.einsum("bhwc,bhwd->bcd", features, features) / positions


# --- style_loss ------------------------------------------------------------------------------------

def _gram(features):
    return tf.einsum("bhwc,bhwd->bcd", features, features) / _hw(features)


def _weights(target_grams, layer_weights):
    return layer_weights or {name: 1.0 / len(target_grams) for name in target_grams}


@bad("style_loss", "layers_not_weighted")
def style_unweighted(features, target_grams, layer_weights=None):
    return tf.add_n([tf.reduce_mean(tf.square(_gram(features[n]) - a)) for n, a in target_grams.items()])


@bad("style_loss", "layer_weights_ignored")
def style_weights_ignored(features, target_grams, layer_weights=None):
    losses = [tf.reduce_mean(tf.square(_gram(features[n]) - a)) for n, a in target_grams.items()]
    return tf.add_n(losses) / len(losses)


@bad("style_loss", "sum_instead_of_mean")
def style_sum(features, target_grams, layer_weights=None):
    w = _weights(target_grams, layer_weights)
    return tf.add_n([w[n] * tf.reduce_sum(tf.square(_gram(features[n]) - a)) for n, a in target_grams.items()])


@bad("style_loss", "unnormalized_gram")
def style_raw_gram(features, target_grams, layer_weights=None):
    w = _weights(target_grams, layer_weights)
    raw = {n: tf.einsum("bhwc,bhwd->bcd", f, f) for n, f in features.items()}
    return tf.add_n([w[n] * tf.reduce_mean(tf.square(raw[n] - a)) for n, a in target_grams.items()])


@bad("style_loss", "paper_normalization")
def style_paper(features, target_grams, layer_weights=None):
    w, total = _weights(target_grams, layer_weights), 0.0
    for n, a in target_grams.items():
        _, h, wd, c = features[n].shape
        total += w[n] * tf.reduce_sum(tf.square(_gram(features[n]) - a)) / (4 * c ** 2 * (h * wd) ** 2)
    return total


@bad("style_loss", "wrong_gram")
def style_pytorch_gram(features, target_grams, layer_weights=None):
    w = _weights(target_grams, layer_weights)
    return tf.add_n([w[n] * tf.reduce_mean(tf.square(_gram(features[n]) / features[n].shape[-1] - a))
                     for n, a in target_grams.items()])


@bad("style_loss", "no_gradient")
def style_through_numpy(features, target_grams, layer_weights=None):
    w, total = _weights(target_grams, layer_weights), 0.0
    for n, a in target_grams.items():
        f = features[n].numpy()
        g = np.einsum("bhwc,bhwd->bcd", f, f) / (f.shape[1] * f.shape[2])
        total += w[n] * np.mean((g - np.asarray(a)) ** 2)
    return tf.constant(total)  # a tensor, but cut off from the features


@bad("style_loss", "wrong_gradient")
def style_detached_factor(features, target_grams, layer_weights=None):
    w = _weights(target_grams, layer_weights)
    grams = {n: tf.einsum("bhwc,bhwd->bcd", f, tf.stop_gradient(f)) / _hw(f) for n, f in features.items()}
    return tf.add_n([w[n] * tf.reduce_mean(tf.square(grams[n] - a)) for n, a in target_grams.items()])


# --- content_loss ----------------------------------------------------------------------------------

def _content(per_layer, weights=_weights):
    def loss(features, target, layer_weights=None):
        if not isinstance(features, dict):
            return per_layer(features, target)
        w = weights(target, layer_weights)
        return tf.add_n([w[n] * per_layer(features[n], target[n]) for n in target])
    return loss


def _mse(f, p):
    return tf.reduce_mean(tf.square(f - p))


BAD += [
    ("content_loss", "sum_instead_of_mean", _content(lambda f, p: tf.reduce_sum(tf.square(f - p)))),
    ("content_loss", "paper_half_sum", _content(lambda f, p: 0.5 * tf.reduce_sum(tf.square(f - p)))),
    ("content_loss", "l1_instead_of_squared", _content(lambda f, p: tf.reduce_mean(tf.abs(f - p)))),
    ("content_loss", "norm_instead_of_squared", _content(lambda f, p: tf.norm(f - p))),
    ("content_loss", "content_loss_on_gram", _content(lambda f, p: tf.reduce_mean(tf.square(_gram(f) - _gram(p))))),
    ("content_loss", "layers_not_weighted", _content(_mse, weights=lambda t, w: {n: 1.0 for n in t})),
    ("content_loss", "layer_weights_ignored", _content(_mse, weights=lambda t, w: _weights(t, None))),
    ("content_loss", "no_dict_support", lambda features, target, layer_weights=None: _mse(features, target)),
]


# --- total_variation_loss --------------------------------------------------------------------------

def _tv(combine, penalty=None):
    def loss(image, kind="l1"):
        dx = image[:, :, 1:, :] - image[:, :, :-1, :]
        dy = image[:, 1:, :, :] - image[:, :-1, :, :]
        f = penalty or (tf.abs if kind == "l1" else tf.square)
        return combine(f(dx), f(dy))
    return loss


def _means(px, py):
    return tf.reduce_mean(px) + tf.reduce_mean(py)


def tv_cropped(image, kind="l1"):  # keras-io's differences
    f = tf.abs if kind == "l1" else tf.square
    a = f(image[:, :-1, :-1, :] - image[:, 1:, :-1, :])
    b = f(image[:, :-1, :-1, :] - image[:, :-1, 1:, :])
    return tf.reduce_mean(a) + tf.reduce_mean(b)


def tv_nchw(image, kind="l1"):  # written for [B, C, H, W]
    f = tf.abs if kind == "l1" else tf.square
    return tf.reduce_mean(f(image[:, :, :, 1:] - image[:, :, :, :-1])) + \
        tf.reduce_mean(f(image[:, :, 1:, :] - image[:, :, :-1, :]))


BAD += [
    ("total_variation_loss", "tv_one_direction", _tv(lambda px, py: tf.reduce_mean(px))),
    ("total_variation_loss", "squares_for_l1", _tv(_means, penalty=tf.square)),
    ("total_variation_loss", "kind_ignored", _tv(_means, penalty=tf.abs)),
    ("total_variation_loss", "sum_instead_of_mean", _tv(lambda px, py: tf.reduce_sum(px) + tf.reduce_sum(py))),
    ("total_variation_loss", "tf_image_total_variation", lambda image, kind="l1": tf.image.total_variation(image)),
    ("total_variation_loss", "cropped_differences", tv_cropped),
    ("total_variation_loss", "differences_along_channels", tv_nchw),
    ("total_variation_loss", "averaged_directions", _tv(lambda px, py: _means(px, py) / 2)),
    ("total_variation_loss", "wrong_defaults", lambda image, kind="l2": _tv(_means)(image, kind)),
]

# --- adam_clip_step --------------------------------------------------------------------------------


def _adam(clip=True, clip_first=False, textbook=False, correct=True, t_shift=0, sign=-1.0, square=True,
          root=True, swap=False, return_old=False, defaults=(0.02, 0.99, 0.1)):
    def step(image, gradient, m, v, t, learning_rate=defaults[0], beta_1=defaults[1], beta_2=0.999,
             epsilon=defaults[2]):
        t = t + t_shift
        m_new = (1 - beta_1) * m + beta_1 * gradient if swap else beta_1 * m + (1 - beta_1) * gradient
        v_new = beta_2 * v + (1 - beta_2) * (tf.square(gradient) if square else gradient)
        denominator = tf.sqrt(v_new) if root else v_new
        if textbook:
            m_hat, v_hat = m_new / (1 - beta_1 ** t), v_new / (1 - beta_2 ** t)
            update = learning_rate * m_hat / (tf.sqrt(v_hat) + epsilon)
        else:
            alpha = learning_rate * (math.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t) if correct else 1.0)
            update = alpha * m_new / (denominator + epsilon)
        start = tf.clip_by_value(image, 0.0, 1.0) if clip_first else image
        new = start + sign * update
        new = tf.clip_by_value(new, 0.0, 1.0) if clip else new
        return (new, m, v) if return_old else (new, m_new, v_new)
    return step


BAD += [
    ("adam_clip_step", "clipping_forgotten", _adam(clip=False)),
    ("adam_clip_step", "clipping_forgotten", _adam(clip=False, clip_first=True)),  # clipped too early
    ("adam_clip_step", "textbook_epsilon", _adam(textbook=True)),
    ("adam_clip_step", "no_bias_correction", _adam(correct=False)),
    ("adam_clip_step", "step_count_off_by_one", _adam(t_shift=1)),
    ("adam_clip_step", "wrong_sign", _adam(sign=1.0)),
    ("adam_clip_step", "v_not_squared", _adam(square=False)),
    ("adam_clip_step", "no_sqrt", _adam(root=False)),
    ("adam_clip_step", "moment_weights_swapped", _adam(swap=True)),
    ("adam_clip_step", "moments_not_updated", _adam(return_old=True)),
    ("adam_clip_step", "keras_default_settings", _adam(defaults=(0.001, 0.9, 1e-7))),
    ("adam_clip_step", "wrong_return", lambda *args: _adam()(*args)[0]),  # the image only
]

# --- loss_and_update -------------------------------------------------------------------------------


@bad("loss_and_update", "update_before_loss")
def update_then_loss(loss_fn, image, optimizer):
    with tf.GradientTape() as tape:
        loss = loss_fn(image)
    optimizer.apply_gradients([(tape.gradient(loss, image), image)])
    image.assign(tf.clip_by_value(image, 0.0, 1.0))
    return loss_fn(image)  # the new image's loss


@bad("loss_and_update", "clipping_forgotten")
def update_no_clip(loss_fn, image, optimizer):
    with tf.GradientTape() as tape:
        loss = loss_fn(image)
    optimizer.apply_gradients([(tape.gradient(loss, image), image)])
    return loss


@bad("loss_and_update", "update_not_applied")
def update_forgotten(loss_fn, image, optimizer):
    with tf.GradientTape() as tape:
        loss = loss_fn(image)
    tape.gradient(loss, image)
    image.assign(tf.clip_by_value(image, 0.0, 1.0))
    return loss


@bad("loss_and_update", "wrong_sign")
def update_ascent(loss_fn, image, optimizer):
    with tf.GradientTape() as tape:
        loss = loss_fn(image)
    optimizer.apply_gradients([(-tape.gradient(loss, image), image)])
    image.assign(tf.clip_by_value(image, 0.0, 1.0))
    return loss


@bad("loss_and_update", "loss_outside_tape")
def update_loss_outside_tape(loss_fn, image, optimizer):
    loss = loss_fn(image)
    with tf.GradientTape() as tape:
        tape.watch(image)
    optimizer.apply_gradients([(tape.gradient(loss, image), image)])
    image.assign(tf.clip_by_value(image, 0.0, 1.0))
    return loss


# --- guided_gram_matrix ----------------------------------------------------------------------------

def _masked_gram(left, right):
    return tf.einsum("bhwc,bhwd->bcd", left, right)


BAD += [
    ("guided_gram_matrix", "divided_by_mask_sum",
     lambda f, m: _masked_gram(f * m, f * m) / tf.reduce_sum(m)),
    ("guided_gram_matrix", "divided_by_all_positions", lambda f, m: _gram(f * m)),
    ("guided_gram_matrix", "mask_applied_once",
     lambda f, m: _masked_gram(f * m, f) / tf.reduce_sum(m)),
    ("guided_gram_matrix", "mask_ignored", lambda f, m: _gram(f)),
]

# --- match_color -----------------------------------------------------------------------------------


def _power(cov, power):
    values, vectors = np.linalg.eigh(cov)
    return (vectors * values ** power) @ vectors.T


def _recolour(transform, swap=False, transpose=True, own_mean=False):
    def match(source, reference):
        if swap:
            source, reference = reference, source
        x, r = np.reshape(source, (-1, 3)), np.reshape(reference, (-1, 3))
        a = transform(np.cov(x, rowvar=False, bias=True), np.cov(r, rowvar=False, bias=True))
        out = (x - x.mean(0)) @ (a.T if transpose else a) + (x if own_mean else r).mean(0)
        return out.reshape(np.shape(source))
    return match


def _sqrt_map(cov_s, cov_r):
    return _power(cov_r, 0.5) @ _power(cov_s, -0.5)


BAD += [
    ("match_color", "arguments_swapped", _recolour(_sqrt_map, swap=True)),
    ("match_color", "transform_not_transposed", _recolour(_sqrt_map, transpose=False)),
    ("match_color", "roots_swapped", _recolour(lambda s, r: _power(r, -0.5) @ _power(s, 0.5))),
    ("match_color", "cholesky_not_sqrt",
     _recolour(lambda s, r: np.linalg.cholesky(r) @ np.linalg.inv(np.linalg.cholesky(s)))),
    ("match_color", "per_channel_only", _recolour(lambda s, r: np.diag(np.sqrt(np.diag(r) / np.diag(s))))),
    ("match_color", "wrong_mean", _recolour(_sqrt_map, own_mean=True)),
    ("match_color", "elementwise_sqrt", _recolour(lambda s, r: np.sqrt(r) @ np.linalg.inv(np.sqrt(s)))),
]


# --- lbfgs_direction --------------------------------------------------------------------------------
# As students write the two loops in TensorFlow (float32 in, float32 dot products); ``_two_loops``
# switches on one mistake at a time, the functions after it are mistakes written out in full.


def _tdot(a, b):
    return tf.reduce_sum(a * b)


def _two_loops(first_newest=True, second_oldest=True, rho=lambda s, y: 1.0 / _tdot(y, s),
               gamma="newest", beta_first=False, sign=-1.0):
    def direction(gradient, s_history, y_history):
        pairs = list(zip(s_history, y_history))
        q, alphas = gradient, {}
        for i in (range(len(pairs) - 1, -1, -1) if first_newest else range(len(pairs))):
            s, y = pairs[i]
            alphas[i] = rho(s, y) * _tdot(s, q)
            q = q - alphas[i] * y
        if pairs and gamma is not None:
            s, y = pairs[0] if gamma == "oldest" else pairs[-1]
            q = q * _tdot(s, y) / _tdot(y, y) if gamma != "inverted" else q * _tdot(y, y) / _tdot(s, y)
        for i in (range(len(pairs)) if second_oldest else range(len(pairs) - 1, -1, -1)):
            s, y = pairs[i]
            beta = rho(s, y) * _tdot(y, q)
            q = q + ((beta - alphas[i]) if beta_first else (alphas[i] - beta)) * s
        return sign * q
    return direction


BAD += [
    ("lbfgs_direction", "loops_in_wrong_order", _two_loops(first_newest=False, second_oldest=False)),
    ("lbfgs_direction", "first_loop_oldest_first", _two_loops(first_newest=False)),
    ("lbfgs_direction", "second_loop_newest_first", _two_loops(second_oldest=False)),
    ("lbfgs_direction", "rho_inverted", _two_loops(rho=lambda s, y: _tdot(y, s))),
    ("lbfgs_direction", "no_initial_scaling", _two_loops(gamma=None)),
    ("lbfgs_direction", "gamma_inverted", _two_loops(gamma="inverted")),
    ("lbfgs_direction", "gamma_from_oldest_pair", _two_loops(gamma="oldest")),
    ("lbfgs_direction", "alpha_beta_swapped", _two_loops(beta_first=True)),
    ("lbfgs_direction", "wrong_sign", _two_loops(sign=1.0)),
]


@bad("lbfgs_direction", "alpha_not_per_pair")
def lbfgs_one_alpha(gradient, s_history, y_history):  # one variable alpha, overwritten in the loop
    q = gradient
    alpha = 0.0
    for s, y in zip(reversed(s_history), reversed(y_history)):
        alpha = _tdot(s, q) / _tdot(y, s)
        q = q - alpha * y
    if s_history:
        q = q * _tdot(s_history[-1], y_history[-1]) / _tdot(y_history[-1], y_history[-1])
    for s, y in zip(s_history, y_history):
        beta = _tdot(y, q) / _tdot(y, s)
        q = q + (alpha - beta) * s
    return -q


@bad("lbfgs_direction", "alpha_not_per_pair")
def lbfgs_alphas_not_reversed(gradient, s_history, y_history):
    q, alphas = gradient, []
    for s, y in zip(s_history[::-1], y_history[::-1]):
        alphas.append(_tdot(s, q) / _tdot(y, s))
        q = q - alphas[-1] * y
    if s_history:
        q = q * _tdot(s_history[-1], y_history[-1]) / _tdot(y_history[-1], y_history[-1])
    for s, y, alpha in zip(s_history, y_history, alphas):  # alphas[0] belongs to the newest pair
        q = q + (alpha - _tdot(y, q) / _tdot(y, s)) * s
    return -q


@bad("lbfgs_direction", "empty_memory")
def lbfgs_always_scaled(gradient, s_history, y_history):  # s_history[-1] fails with no pairs
    q, alphas = gradient, []
    for s, y in zip(s_history[::-1], y_history[::-1]):
        alphas.append(_tdot(s, q) / _tdot(y, s))
        q = q - alphas[-1] * y
    q = q * _tdot(s_history[-1], y_history[-1]) / _tdot(y_history[-1], y_history[-1])
    for s, y, alpha in zip(s_history, y_history, alphas[::-1]):
        q = q + (alpha - _tdot(y, q) / _tdot(y, s)) * s
    return -q


@bad("lbfgs_direction", "fixed_float32")
def lbfgs_float32_constant(gradient, s_history, y_history):  # tf.constant(1.0) is float32: fails on float64
    return _two_loops(rho=lambda s, y: tf.constant(1.0) / _tdot(y, s))(gradient, s_history, y_history)


# --- instance_norm --------------------------------------------------------------------------------


def _bhwc(v):
    return v[:, None, None, :]


def _normalize(axes, std=lambda var, eps: tf.sqrt(var + eps)):
    def norm(x, scale, offset, epsilon=1e-3):
        mean, var = tf.nn.moments(x, axes=axes, keepdims=True)
        return _bhwc(scale) * (x - mean) / std(var, epsilon) + _bhwc(offset)
    return norm


@bad("instance_norm", "batch_norm_statistics")
def instance_norm_batch_statistics(x, scale, offset, epsilon=1e-3):
    layer = keras.layers.BatchNormalization(epsilon=epsilon, center=False, scale=False, dtype=x.dtype)
    return _bhwc(scale) * layer(x, training=True) + _bhwc(offset)  # training: the batch's statistics


@bad("instance_norm", "unbiased_variance")
def instance_norm_ddof1(x, scale, offset, epsilon=1e-3):  # torch.var's default habit
    x = np.asarray(x, np.float64)
    mean = x.mean(axis=(1, 2), keepdims=True)
    var = x.var(axis=(1, 2), keepdims=True, ddof=1)
    return _bhwc(np.asarray(scale)) * (x - mean) / np.sqrt(var + epsilon) + _bhwc(np.asarray(offset))


@bad("instance_norm", "scale_offset_swapped")
def instance_norm_argument_order(x, scale, offset, epsilon=1e-3):
    mean, var = tf.nn.moments(x, axes=[1, 2], keepdims=True)  # the signature is (x, mean, var, offset, scale, eps)
    return tf.nn.batch_normalization(x, mean, var, _bhwc(scale), _bhwc(offset), epsilon)


@bad("instance_norm", "scale_and_offset_ignored")
def instance_norm_plain(x, scale, offset, epsilon=1e-3):
    mean, var = tf.nn.moments(x, axes=[1, 2], keepdims=True)
    return (x - mean) / tf.sqrt(var + epsilon)


@bad("instance_norm", "mean_not_subtracted")
def instance_norm_not_centred(x, scale, offset, epsilon=1e-3):
    var = tf.math.reduce_variance(x, axis=[1, 2], keepdims=True)
    return _bhwc(scale) * x / tf.sqrt(var + epsilon) + _bhwc(offset)


@bad("instance_norm", "not_reshaped_to_b11c")
def instance_norm_no_reshape(x, scale, offset, epsilon=1e-3):
    mean, var = tf.nn.moments(x, axes=[1, 2], keepdims=True)
    return scale * (x - mean) / tf.sqrt(var + epsilon) + offset


@bad("instance_norm", "not_reshaped_to_b11c")
def instance_norm_no_keepdims(x, scale, offset, epsilon=1e-3):
    mean, var = tf.nn.moments(x, axes=[1, 2])  # [B, C]
    return _bhwc(scale) * (x - mean) / tf.sqrt(var + epsilon) + _bhwc(offset)


@bad("instance_norm", "wrong_defaults")
def instance_norm_magenta_epsilon(x, scale, offset, epsilon=1e-5):
    return _normalize([1, 2])(x, scale, offset, epsilon)


BAD += [
    ("instance_norm", "batch_norm_statistics", _normalize([0, 1, 2])),
    ("instance_norm", "layer_norm_statistics", _normalize([1, 2, 3])),
    ("instance_norm", "epsilon_outside_sqrt", _normalize([1, 2], lambda var, eps: tf.sqrt(var) + eps)),
    ("instance_norm", "epsilon_ignored", _normalize([1, 2], lambda var, eps: tf.sqrt(var))),
    ("instance_norm", "divided_by_variance", _normalize([1, 2], lambda var, eps: var + eps)),
]


# --- upsample_conv and residual_block (lecture 09) ---------------------------------------------------


def _reflect(x, kernel):
    p = kernel.shape[0] // 2
    return tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode="REFLECT")


def _conv_reflect(x, kernel):
    return tf.nn.conv2d(_reflect(x, kernel), kernel, 1, "VALID")


@bad("upsample_conv", "bilinear_not_nearest")
def upsample_default_resize(x, kernel, factor=2):  # tf.image.resize's default method is bilinear
    resized = tf.image.resize(x, (x.shape[1] * factor, x.shape[2] * factor))  # float32, whatever x is
    return _conv_reflect(resized, tf.cast(kernel, resized.dtype))


@bad("upsample_conv", "tiled_not_repeated")
def upsample_tiled(x, kernel, factor=2):
    return _conv_reflect(tf.tile(x, [1, factor, factor, 1]), kernel)


@bad("upsample_conv", "conv_then_upsample")
def upsample_after_conv(x, kernel, factor=2):
    y = _conv_reflect(x, kernel)
    return tf.repeat(tf.repeat(y, factor, axis=1), factor, axis=2)


@bad("upsample_conv", "zero_padding")
def upsample_same_padding(x, kernel, factor=2):
    x = tf.repeat(tf.repeat(x, factor, axis=1), factor, axis=2)
    return tf.nn.conv2d(x, kernel, 1, "SAME")


@bad("upsample_conv", "kernel_flipped")
def upsample_true_convolution(x, kernel, factor=2):
    x = tf.repeat(tf.repeat(x, factor, axis=1), factor, axis=2)
    return _conv_reflect(x, kernel[::-1, ::-1])


@bad("upsample_conv", "wrong_defaults")
def upsample_default_three(x, kernel, factor=3):
    x = tf.repeat(tf.repeat(x, factor, axis=1), factor, axis=2)
    return _conv_reflect(x, kernel)


@bad("upsample_conv", "fixed_float32")
def upsample_keras_layer(x, kernel, factor=2):  # a Keras layer computes in float32 unless told otherwise
    return _conv_reflect(tf.cast(keras.layers.UpSampling2D(factor)(x), x.dtype), kernel)


def _inorm(h, epsilon, axes=(1, 2)):
    mean, var = tf.nn.moments(h, axes=list(axes), keepdims=True)
    return (h - mean) / tf.sqrt(var + epsilon)


def _block(conv=_conv_reflect, norm=_inorm, finish=lambda x, h: x + h, second=lambda h: h):
    def residual_block(x, kernel1, kernel2, epsilon=1e-3):
        h = tf.nn.relu(norm(conv(x, kernel1), epsilon))
        return finish(x, second(norm(conv(h, kernel2), epsilon)))
    return residual_block


BAD += [
    ("residual_block", "relu_after_sum", _block(finish=lambda x, h: tf.nn.relu(x + h))),
    ("residual_block", "no_skip_connection", _block(finish=lambda x, h: h)),
    ("residual_block", "relu_after_second_norm", _block(second=tf.nn.relu)),
    ("residual_block", "batch_statistics", _block(norm=lambda h, eps: _inorm(h, eps, (0, 1, 2)))),
    ("residual_block", "zero_padding", _block(conv=lambda x, k: tf.nn.conv2d(x, k, 1, "SAME"))),
    ("residual_block", "no_normalization", _block(norm=lambda h, eps: h)),
]


@bad("residual_block", "batch_statistics")
def residual_keras_batch_norm(x, kernel1, kernel2, epsilon=1e-3):  # BatchNormalization in training mode
    def norm(h):
        layer = keras.layers.BatchNormalization(epsilon=epsilon, center=False, scale=False, dtype=h.dtype)
        return layer(h, training=True)
    h = tf.nn.relu(norm(_conv_reflect(x, kernel1)))
    return x + norm(_conv_reflect(h, kernel2))


# === Right answers written differently from nst_tf ================================================
# The lectures' derivations, copied from the notebooks (01, 02, 03, 05, 06, 08, 09), and the ways TF,
# Magenta and Keras normalize (07) ...

IMAGENET_MEAN_BGR = (103.939, 116.779, 123.68)


def lecture_caffe_preprocess(images):
    bgr = tf.reverse(tf.convert_to_tensor(images, tf.float32), axis=[-1]) * 255.0
    return bgr - tf.constant(IMAGENET_MEAN_BGR)


def lecture_gram_matmul(features):
    batch, height, width, channels = features.shape
    matrix = tf.reshape(features, (batch, height * width, channels))
    return tf.matmul(matrix, matrix, transpose_a=True) / (height * width)


def lecture_gram_matrix(features):
    positions = tf.cast(tf.shape(features)[1] * tf.shape(features)[2], features.dtype)
    return tf.einsum("bhwc,bhwd->bcd", features, features) / positions


def lecture_style_loss(features, target_grams, layer_weights=None):
    if layer_weights is None:
        layer_weights = {layer: 1.0 / len(target_grams) for layer in target_grams}
    return tf.add_n([layer_weights[layer] * tf.reduce_mean(tf.square(lecture_gram_matrix(features[layer]) - target))
                     for layer, target in target_grams.items()])


def lecture_content_loss(features, target, layer_weights=None):
    if isinstance(features, Mapping):
        if layer_weights is None:
            layer_weights = {layer: 1.0 / len(target) for layer in target}
        return tf.add_n([layer_weights[layer] * lecture_content_loss(features[layer], target[layer])
                         for layer in target])
    return tf.reduce_mean(tf.square(features - target))


def lecture_total_variation_loss(image, kind="l1"):
    if kind not in ("l1", "l2"):
        raise ValueError(f"kind must be 'l1' or 'l2', got {kind!r}")
    dx = image[:, :, 1:, :] - image[:, :, :-1, :]
    dy = image[:, 1:, :, :] - image[:, :-1, :, :]
    penalty = tf.abs if kind == "l1" else tf.square
    return tf.reduce_mean(penalty(dx)) + tf.reduce_mean(penalty(dy))


def lecture_guided_gram_matrix(features, mask):
    masked = features * mask
    return tf.einsum("bhwc,bhwd->bcd", masked, masked) / tf.reduce_sum(mask ** 2)


def lecture_match_color(source, reference):
    x = np.asarray(source, np.float64).reshape(-1, 3)
    r = np.asarray(reference, np.float64).reshape(-1, 3)
    cov_x, cov_r = np.cov(x, rowvar=False, bias=True), np.cov(r, rowvar=False, bias=True)
    transform = _power(cov_r, 0.5) @ _power(cov_x, -0.5)
    out = (x - x.mean(0)) @ transform.T + r.mean(0)
    return out.reshape(np.shape(source))

def lecture_two_loop_direction(gradient, s_history, y_history, rho_history):  # notebooks/06, as derived there
    def _dot(a, b):
        return tf.reduce_sum(tf.cast(a, tf.float64) * tf.cast(b, tf.float64))
    q = tf.identity(gradient)
    alphas = []
    for s, y, rho in zip(s_history[::-1], y_history[::-1], rho_history[::-1]):  # newest first
        alpha = rho * _dot(s, q)
        q = q - tf.cast(alpha, q.dtype) * y
        alphas.append(alpha)
    if s_history:
        gamma = _dot(s_history[-1], y_history[-1]) / _dot(y_history[-1], y_history[-1])
        q = tf.cast(gamma, q.dtype) * q
    for s, y, rho, alpha in zip(s_history, y_history, rho_history, alphas[::-1]):  # oldest first
        beta = rho * _dot(y, q)
        q = q + tf.cast(alpha - beta, q.dtype) * s
    return -q


def lecture_lbfgs_direction(gradient, s_history, y_history):
    rho_history = [1.0 / tf.reduce_sum(tf.cast(y, tf.float64) * tf.cast(s, tf.float64))
                   for s, y in zip(s_history, y_history)]
    return lecture_two_loop_direction(gradient, s_history, y_history, rho_history)


def magenta_instance_norm(x, scale, offset, epsilon=1e-3):  # how Magenta's conditional_instance_norm does it
    mean, variance = tf.nn.moments(x, axes=[1, 2], keepdims=True)
    return tf.nn.batch_normalization(x, mean, variance, offset[:, None, None, :], scale[:, None, None, :], epsilon)


def keras_instance_norm(x, scale, offset, epsilon=1e-3):  # Keras's instance norm (groups=-1), then the style
    layer = keras.layers.GroupNormalization(groups=-1, epsilon=epsilon, center=False, scale=False, dtype=x.dtype)
    return layer(x) * scale[:, None, None, :] + offset[:, None, None, :]


# ... and float64 NumPy re-implementations (a NumPy array instead of a tensor is fine).

def numpy_caffe_preprocess(images):
    return np.asarray(images, np.float64)[..., ::-1] * 255.0 - np.array(IMAGENET_MEAN_BGR)


def numpy_gram_matrix(features):
    f = np.asarray(features, np.float64)
    b, h, w, c = f.shape
    flat = f.reshape(b, h * w, c)
    return np.transpose(flat, (0, 2, 1)) @ flat / (h * w)


def numpy_style_loss(features, target_grams, layer_weights=None):
    weights = layer_weights or {name: 1 / len(target_grams) for name in target_grams}
    return sum(weights[n] * np.mean((numpy_gram_matrix(features[n]) - np.asarray(a, np.float64)) ** 2)
               for n, a in target_grams.items())


def numpy_content_loss(features, target, layer_weights=None):
    if isinstance(features, Mapping):
        weights = layer_weights or {name: 1 / len(target) for name in target}
        return sum(weights[n] * numpy_content_loss(features[n], target[n]) for n in target)
    return np.mean((np.asarray(features, np.float64) - np.asarray(target, np.float64)) ** 2)


def numpy_total_variation_loss(image, kind="l1"):
    x = np.asarray(image, np.float64)
    penalty = np.abs if kind == "l1" else np.square
    return penalty(np.diff(x, axis=2)).mean() + penalty(np.diff(x, axis=1)).mean()


def numpy_adam_clip_step(image, gradient, m, v, t, learning_rate=0.02, beta_1=0.99, beta_2=0.999, epsilon=0.1):
    image, gradient, m, v = (np.asarray(a, np.float64) for a in (image, gradient, m, v))
    m = beta_1 * m + (1 - beta_1) * gradient
    v = beta_2 * v + (1 - beta_2) * gradient ** 2
    alpha = learning_rate * np.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
    return np.clip(image - alpha * m / (np.sqrt(v) + epsilon), 0.0, 1.0), m, v


def numpy_guided_gram_matrix(features, mask):
    masked = np.asarray(features, np.float64) * np.asarray(mask, np.float64)
    return np.einsum("bhwc,bhwd->bcd", masked, masked) / np.sum(np.asarray(mask, np.float64) ** 2)



def numpy_lbfgs_direction(gradient, s_history, y_history):
    q = np.asarray(gradient, np.float64).copy()
    S = np.array([np.asarray(s, np.float64) for s in s_history]).reshape(len(s_history), q.size)
    Y = np.array([np.asarray(y, np.float64) for y in y_history]).reshape(len(y_history), q.size)
    rho = 1.0 / np.einsum("ij,ij->i", S, Y)
    alpha = np.zeros(len(S))
    for i in reversed(range(len(S))):
        alpha[i] = rho[i] * S[i] @ q
        q -= alpha[i] * Y[i]
    if len(S):
        q *= S[-1] @ Y[-1] / (Y[-1] @ Y[-1])
    for i in range(len(S)):
        q += (alpha[i] - rho[i] * Y[i] @ q) * S[i]
    return -q


def numpy_instance_norm(x, scale, offset, epsilon=1e-3):
    x = np.asarray(x, np.float64)
    centred = x - x.mean(axis=(1, 2), keepdims=True)
    std = np.sqrt(np.mean(centred ** 2, axis=(1, 2), keepdims=True) + epsilon)
    return np.asarray(scale)[:, None, None, :] * centred / std + np.asarray(offset)[:, None, None, :]


def lecture_upsample_conv(x, kernel, factor=2):  # notebooks/09's solution
    x = tf.repeat(tf.repeat(x, factor, axis=1), factor, axis=2)
    p = kernel.shape[0] // 2
    x = tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode="REFLECT")
    return tf.nn.conv2d(x, kernel, 1, "VALID")


def keras_upsample_conv(x, kernel, factor=2):  # Keras layers, told the input's dtype
    x = keras.layers.UpSampling2D(factor, interpolation="nearest", dtype=x.dtype)(x)
    return _conv_reflect(x, kernel)


def resize_upsample_conv(x, kernel, factor=2):
    size = tf.shape(x)[1:3] * factor
    return _conv_reflect(tf.image.resize(x, size, method="nearest"), kernel)


def lecture_residual_block(x, kernel1, kernel2, epsilon=1e-3):  # notebooks/09's solution
    def conv(h, kernel):
        return tf.nn.conv2d(tf.pad(h, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="REFLECT"), kernel, 1, "VALID")

    def instance_norm(h):
        mean, variance = tf.nn.moments(h, axes=[1, 2], keepdims=True)
        return (h - mean) / tf.sqrt(variance + epsilon)
    h = tf.nn.relu(instance_norm(conv(x, kernel1)))
    return x + instance_norm(conv(h, kernel2))


def keras_residual_block(x, kernel1, kernel2, epsilon=1e-3):  # Keras's instance norm: GroupNormalization(-1)
    norm = keras.layers.GroupNormalization(groups=-1, epsilon=epsilon, center=False, scale=False, dtype=x.dtype)
    h = tf.nn.relu(norm(_conv_reflect(x, kernel1)))
    return keras.layers.Add(dtype=x.dtype)([x, norm(_conv_reflect(h, kernel2))])


def numpy_upsample_conv(x, kernel, factor=2):
    x = np.repeat(np.repeat(np.asarray(x, np.float64), factor, axis=1), factor, axis=2)
    kernel = np.asarray(kernel, np.float64)
    k = kernel.shape[0]
    p = k // 2
    padded = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)), mode="reflect")
    windows = np.lib.stride_tricks.sliding_window_view(padded, (k, k), axis=(1, 2))  # [B, H, W, C, k, k]
    return np.einsum("bhwcij,ijco->bhwo", windows, kernel)


GOOD = [
    ("caffe_preprocess", lecture_caffe_preprocess), ("caffe_preprocess", numpy_caffe_preprocess),
    ("gram_matrix", lecture_gram_matmul), ("gram_matrix", lecture_gram_matrix), ("gram_matrix", numpy_gram_matrix),
    ("style_loss", lecture_style_loss), ("style_loss", numpy_style_loss),
    ("content_loss", lecture_content_loss), ("content_loss", numpy_content_loss),
    ("total_variation_loss", lecture_total_variation_loss),
    ("total_variation_loss", numpy_total_variation_loss),
    ("adam_clip_step", _adam()), ("adam_clip_step", numpy_adam_clip_step),
    ("guided_gram_matrix", lecture_guided_gram_matrix), ("guided_gram_matrix", numpy_guided_gram_matrix),
    ("match_color", lecture_match_color),
    ("lbfgs_direction", lecture_lbfgs_direction), ("lbfgs_direction", numpy_lbfgs_direction),
    ("instance_norm", magenta_instance_norm), ("instance_norm", keras_instance_norm),
    ("instance_norm", numpy_instance_norm),
    ("upsample_conv", lecture_upsample_conv), ("upsample_conv", keras_upsample_conv),
    ("upsample_conv", resize_upsample_conv), ("upsample_conv", numpy_upsample_conv),
    ("residual_block", lecture_residual_block), ("residual_block", keras_residual_block),
]
