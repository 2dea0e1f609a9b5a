"""The loss terms of neural style transfer, in the course's resolution-invariant convention.

Content and style are the two terms of Gatys et al. (2016). Total variation is not part of their
objective: it is an image prior from Mahendran & Vedaldi (2015, "Understanding Deep Image
Representations by Inverting Them") that Johnson et al. (2016, "Perceptual Losses") added to style
transfer, and that most implementations since (the TF tutorial included) carry.

Taught in notebooks/02_gram_matrices (``gram_matrix``, ``style_loss``),
notebooks/03_the_objective (``content_loss``) and notebooks/05_total_variation_and_full_recipe
(``total_variation_loss``).

Features F are [B, H, W, C]; images are [B, H, W, 3] in [0, 1]. Every term is a *mean*, never a
sum, so a weight tuned at 256 px keeps its meaning at 1024 px:

    gram_matrix(F)      = einsum('bhwc,bhwd->bcd', F, F) / (H*W)
    content_loss(F, P)  = mean((F - P)**2)
    style_loss          = sum_l w_l * mean((gram_matrix(F_l) - A_l)**2),  sum_l w_l = 1 by default
    total_variation     = mean|dx| + mean|dy|   (kind="l1"; "l2" squares the differences)

notebooks/03 converts the paper's sums (1/2 sum, 1/(4 N^2 M^2)) and other courses' weights into
this convention.
"""

from __future__ import annotations

from collections.abc import Mapping

import tensorflow as tf


_LOW_PRECISION = (tf.float16, tf.bfloat16)


def _accumulation_dtype(tensor: tf.Tensor) -> tf.Tensor:
    """Half-precision features are summed in float32; float32/float64 stay as they are."""
    tensor = tf.convert_to_tensor(tensor)
    return tf.cast(tensor, tf.float32) if tensor.dtype in _LOW_PRECISION else tensor


def gram_matrix(features: tf.Tensor) -> tf.Tensor:
    """Channel correlations of [B, H, W, C] features, averaged over positions: [B, C, C].

    Dividing by H*W (not summing) makes the Gram of an image and of that image tiled 2x2 equal,
    so style targets do not depend on image size. Accumulated in float32 even for bf16 features.
    """
    features = _accumulation_dtype(features)
    if features.shape.rank != 4:
        raise ValueError(f"gram_matrix expects features [B, H, W, C], got shape {features.shape}")
    positions = tf.cast(tf.shape(features)[1] * tf.shape(features)[2], features.dtype)
    return tf.einsum("bhwc,bhwd->bcd", features, features) / positions


def _layer_weights(layers, layer_weights) -> dict[str, float]:
    if layer_weights is None:
        return {name: 1.0 / len(layers) for name in layers}
    missing = set(layers) - set(layer_weights)
    if missing:
        raise ValueError(f"layer_weights has no weight for layer(s) {sorted(missing)}")
    return {name: float(layer_weights[name]) for name in layers}


def content_loss(features, target, layer_weights=None) -> tf.Tensor:
    """Mean squared difference of features from the content target.

    ``features`` and ``target`` are tensors, or dicts {layer: tensor} (then a weighted sum over
    layers, equal weights summing to 1 by default).
    """
    if isinstance(features, Mapping):
        weights = _layer_weights(list(target), layer_weights)
        return tf.add_n([weights[name] * content_loss(features[name], target[name])
                         for name in weights])
    features = _accumulation_dtype(features)
    return tf.reduce_mean(tf.square(features - tf.cast(target, features.dtype)))


def style_layer_losses(features: Mapping, target_grams: Mapping) -> dict[str, tf.Tensor]:
    """Unweighted per-layer style losses: {layer: mean((gram(F_l) - A_l)**2)}."""
    missing = set(target_grams) - set(features)
    if missing:
        raise ValueError(f"no features for style layer(s) {sorted(missing)}")
    losses = {}
    for name in target_grams:
        gram = gram_matrix(features[name])
        losses[name] = tf.reduce_mean(tf.square(gram - tf.cast(target_grams[name], gram.dtype)))
    return losses


def style_loss(features: Mapping, target_grams: Mapping, layer_weights=None) -> tf.Tensor:
    """Weighted sum over layers of the mean squared Gram difference.

    ``features``: {layer: [B, H, W, C]}; ``target_grams``: {layer: [1 or B, C, C]};
    ``layer_weights``: {layer: w}, default 1/L for each of the L layers.
    """
    per_layer = style_layer_losses(features, target_grams)
    weights = _layer_weights(list(target_grams), layer_weights)
    return tf.add_n([weights[name] * per_layer[name] for name in weights])


def total_variation_loss(image: tf.Tensor, kind: str = "l1") -> tf.Tensor:
    """Mean absolute (``"l1"``) or squared (``"l2"``) difference of neighbouring pixels, x plus y.

    The total-variation prior of Mahendran & Vedaldi (2015), used for style transfer by Johnson et
    al. (2016); not a term of Gatys et al. L1 penalises noise but lets edges stay sharp; L2 punishes large jumps most and blurs edges.
    """
    if kind not in ("l1", "l2"):
        raise ValueError(f"kind must be 'l1' or 'l2', got {kind!r}")
    image = _accumulation_dtype(image)
    dx = image[:, :, 1:, :] - image[:, :, :-1, :]
    dy = image[:, 1:, :, :] - image[:, :-1, :, :]
    penalty = tf.abs if kind == "l1" else tf.square
    return tf.reduce_mean(penalty(dx)) + tf.reduce_mean(penalty(dy))
