"""Artistic controls (Gatys et al. 2017, "Controlling Perceptual Factors in Neural Style Transfer").

Taught in notebooks/08_artistic_controls. ``stylize`` takes every control as an argument
(``preserve_color``, ``style_blend``, ``masks``, ``style_scale``, ``strength``);
this module holds the pieces it is made of, so each can be tried and tested on its own:

- colour: ``to_luminance``/``from_luminance``, ``match_luminance`` and ``match_color``, defined
  in ``color.py`` and importable from here;
- several styles: ``blend_weights`` (validated, normalized);
- regions: ``as_mask``, ``load_mask``, ``threshold_mask``, ``resize_mask`` and
  ``guided_gram_matrix`` (the Gram matrix of one region, §4);
- brush size: ``scale_style``;
- the plumbing ``stylize`` uses: ``check_regions`` and ``style_terms`` (a list of ``StyleTerm``
  that ``objective.make_objective`` sums).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from .color import (PRESERVE_COLOR, RGB_FROM_YIQ, YIQ_FROM_RGB, from_luminance, match_color,  # noqa: F401
                     match_luminance, to_luminance)
from .losses import _accumulation_dtype, gram_matrix
from .validation import check_weight



# --- several styles --------------------------------------------------------------------------

def blend_weights(style_blend, count: int) -> list[float]:
    """Validated blend weights for ``count`` styles, normalized to sum 1 (``None``: equal)."""
    if style_blend is None:
        return [1.0 / count] * count
    try:
        weights = [float(w) for w in style_blend]
    except (TypeError, ValueError):
        raise ValueError(f"style_blend must be a list of numbers, one per style, got {style_blend!r}") from None
    if len(weights) != count:
        raise ValueError(f"style_blend has {len(weights)} weight(s) for {count} style image(s)")
    if any(not math.isfinite(w) or w < 0 for w in weights):
        raise ValueError(f"style_blend weights must be finite numbers >= 0, got {weights}")
    total = sum(weights)
    if total <= 0:
        raise ValueError(f"style_blend weights sum to 0, got {weights}")
    return [w / total for w in weights]


# --- brush size ------------------------------------------------------------------------------

def scale_style(style_image, content_long_side: int, style_scale: float, min_side: int = 1):
    """The style image resized so that its long side is ``style_scale * content_long_side``.

    That is: first set the style's long side equal to the content's, then multiply its size by
    ``style_scale``. The network's filters have a fixed size in pixels, so a smaller style image
    (0.5) makes its strokes and motifs smaller relative to the content (finer texture), a larger
    one (2.0) makes them bigger. The aspect ratio is kept; sides are at least ``min_side`` px.
    """
    height, width = int(style_image.shape[1]), int(style_image.shape[2])
    factor = style_scale * content_long_side / max(height, width)
    size = (max(min_side, round(height * factor)), max(min_side, round(width * factor)))
    return tf.clip_by_value(tf.image.resize(style_image, size, antialias=True), 0.0, 1.0)


# --- regions ---------------------------------------------------------------------------------

def load_mask(path: str | os.PathLike) -> np.ndarray:
    """A mask from an image file (white = 1, black = 0): the channel mean, float32 [H, W]."""
    from .images import load_image

    return np.asarray(load_image(path))[0].mean(-1).astype(np.float32)


def threshold_mask(image, threshold: float = 0.5, channel="luminance", above: bool = True) -> np.ndarray:
    """1 where ``channel`` of ``image`` is above ``threshold`` (below, with ``above=False``), else 0.

    ``channel``: "luminance" (YIQ's Y), "r", "g", "b" or 0, 1, 2. Returns float32 [H, W].
    """
    rgb = np.asarray(image, np.float32)
    rgb = rgb[0] if rgb.ndim == 4 else rgb
    if rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise ValueError(f"threshold_mask expects an RGB image [1, H, W, 3] or [H, W, 3], got {rgb.shape}")
    index = {"r": 0, "g": 1, "b": 2}.get(channel, channel)
    if channel == "luminance":
        values = rgb @ YIQ_FROM_RGB[0].astype(np.float32)
    elif index in (0, 1, 2) and not isinstance(index, bool):
        values = rgb[..., index]
    else:
        raise ValueError(f"channel must be 'luminance', 'r', 'g', 'b' or 0-2, got {channel!r}")
    return ((values > threshold) if above else (values <= threshold)).astype(np.float32)


def as_mask(mask, content_shape, name: str = "mask") -> np.ndarray:
    """Check one region mask and return it as float32 [H, W] in [0, 1].

    Accepts a file path, or an array [H, W], [H, W, 1], [1, H, W, 1], or RGB [(1,) H, W, 3]
    (channel mean). Any size, as long as its aspect ratio is the content's (within 5%): it is
    resized to each layer. Raises ``ValueError`` naming the mask and the cause.
    """
    if isinstance(mask, (str, bytes)) or hasattr(mask, "__fspath__"):
        mask = load_mask(mask)
    try:
        array = np.asarray(mask, np.float32)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: not an array of numbers") from None
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    if array.ndim == 3 and array.shape[-1] in (1, 3):
        array = array.mean(-1)
    elif array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2 or min(array.shape) < 1:
        raise ValueError(f"{name}: a mask must be one 2-D array [H, W] (or [1, H, W, 1]), got shape "
                         f"{np.shape(mask)}")
    if not np.all(np.isfinite(array)) or array.min() < -1e-6 or array.max() > 1 + 1e-6:
        raise ValueError(f"{name}: mask values must be finite and in [0, 1]")
    height, width = int(content_shape[1]), int(content_shape[2])
    ratio, content_ratio = array.shape[1] / array.shape[0], width / height
    if abs(ratio / content_ratio - 1) > 0.05:
        raise ValueError(f"{name}: the mask is {array.shape[1]}x{array.shape[0]} px but the content is "
                         f"{width}x{height}: a mask may have any size but must have the content's "
                         f"aspect ratio ({ratio:.2f} vs {content_ratio:.2f})")
    return np.clip(array, 0.0, 1.0)


def resize_mask(mask, size) -> tf.Tensor:
    """A [H, W] mask resized to a layer's ``size`` (h, w): [1, h, w, 1] float32 (area-averaged)."""
    mask = tf.convert_to_tensor(np.asarray(mask, np.float32)[np.newaxis, ..., np.newaxis])
    return tf.clip_by_value(tf.image.resize(mask, size, method="bilinear", antialias=True), 0.0, 1.0)


def guided_gram_matrix(features, mask) -> tf.Tensor:
    """The Gram matrix of one region (Gatys 2017 §4): features [B, h, w, C] multiplied by the mask
    [1, h, w, 1] (already at the layer's size), then Gram, normalized by the sum of mask**2.

    For a 0/1 mask that sum is the number of positions in the region, so this is exactly the
    ``gram_matrix`` of the region's features alone; an all-ones mask gives ``gram_matrix(F)``
    and an all-zeros mask gives zeros.
    """
    features = _accumulation_dtype(features)
    mask = tf.cast(mask, features.dtype)
    masked = features * mask
    gram = tf.einsum("bhwc,bhwd->bcd", masked, masked)
    return tf.math.divide_no_nan(gram, tf.reduce_sum(tf.square(mask)))


@dataclass
class StyleTerm:
    """One style term of the objective: weight * sum_l w_l * coverage_l * mean((G_l - A_l)**2).

    ``targets``: {layer: A_l [1, C, C]}. ``masks``: None (the whole image, coverage 1, G = Gram)
    or {layer: [1, h, w, 1]} (G = guided Gram; coverage = the mask's mean, so a region's pixels
    get the same push per pixel as an unmasked style, and an empty region contributes nothing).
    """

    weight: float
    targets: dict
    masks: dict | None = None


def term_layer_losses(features, term: StyleTerm) -> dict:
    """Unweighted per-layer losses of one ``StyleTerm`` (coverage included, ``weight`` not)."""
    losses = {}
    for name, target in term.targets.items():
        if term.masks is None:
            gram, coverage = gram_matrix(features[name]), None
        else:
            mask = term.masks[name]
            gram, coverage = guided_gram_matrix(features[name], mask), tf.reduce_mean(mask)
        loss = tf.reduce_mean(tf.square(gram - tf.cast(target, gram.dtype)))
        losses[name] = loss if coverage is None else tf.cast(coverage, loss.dtype) * loss
    return losses


# --- the objective's style terms (used by optimize.stylize) -------------------------------

@dataclass
class Region:
    """One region of ``stylize(masks=...)``: its mask, its style (index or None) and weight."""

    mask: np.ndarray  # [H, W] float32 in [0, 1]
    style: int | None
    weight: float


def check_regions(masks, mask_styles, mask_weights, num_styles, content_shape):
    """Check ``masks``/``mask_styles``/``mask_weights`` before any work; None without masks."""
    if masks is None:
        if mask_styles is not None or mask_weights is not None:
            raise ValueError("mask_styles and mask_weights need masks")
        return None
    if isinstance(masks, (str, bytes)) or hasattr(masks, "__fspath__") or not isinstance(masks, (list, tuple)):
        raise ValueError("masks must be a list with one mask per region, e.g. masks=[sky, 1 - sky]")
    if not masks:
        raise ValueError("masks is an empty list; give one mask per region (or masks=None)")
    arrays = [as_mask(m, content_shape, f"masks[{i}]") for i, m in enumerate(masks)]
    if mask_styles is None:
        if len(masks) != num_styles and num_styles != 1:
            raise ValueError(f"{len(masks)} masks for {num_styles} styles: say which style each region "
                             f"gets with mask_styles (an index per mask, or None for no style)")
        mask_styles = list(range(num_styles)) if len(masks) == num_styles else [0] * len(masks)
    mask_styles = list(mask_styles)
    if len(mask_styles) != len(masks):
        raise ValueError(f"mask_styles has {len(mask_styles)} entries for {len(masks)} masks")
    for index in mask_styles:
        if index is not None and (isinstance(index, bool) or not isinstance(index, (int, np.integer))
                                  or not 0 <= index < num_styles):
            raise ValueError(f"mask_styles entries must be None or a style index 0..{num_styles - 1}, "
                             f"got {index!r}")
    if all(index is None for index in mask_styles):
        raise ValueError("every region has mask_styles None: no style to transfer")
    weights = [1.0] * len(masks) if mask_weights is None else list(mask_weights)
    if len(weights) != len(masks):
        raise ValueError(f"mask_weights has {len(weights)} entries for {len(masks)} masks")
    weights = [check_weight(f"mask_weights[{i}]", w) for i, w in enumerate(weights)]
    return [Region(m, None if s is None else int(s), w) for m, s, w in zip(arrays, mask_styles, weights)]


def style_terms(extractor, styles, content_features, layers, blend, regions, strength):
    """The objective's style terms: one with the blended Gram targets, or one term per region.

    Blending Gram targets is the same objective as blending the style losses: for weights w_i
    summing to 1, sum_i w_i ||G - A_i||^2 = ||G - sum_i w_i A_i||^2 + a constant (expand both
    squares: the terms in G agree, the rest does not depend on the image), so the gradients and
    the optimization path are identical (tests/test_controls.py checks it).

    ``strength`` < 1 moves each target towards the content's own (guided) Gram matrix."""
    used = (sorted({r.style for r in regions if r.style is not None}) if regions
            else [i for i, w in enumerate(blend) if w > 0])
    grams = {}
    for i in used:
        features = extractor(styles[i])
        grams[i] = {n: gram_matrix(features[n]) for n in layers}

    def toward_content(target, content_gram):
        return target if strength == 1.0 else (1.0 - strength) * content_gram + strength * target

    if regions is None:
        content_grams = {n: gram_matrix(content_features[n]) if strength < 1 else None for n in layers}
        blended = {n: grams[used[0]][n] if len(used) == 1 else tf.add_n([blend[i] * grams[i][n] for i in used])
                   for n in layers}
        return [StyleTerm(1.0, {n: toward_content(blended[n], content_grams[n]) for n in layers})]
    terms = []
    for region in regions:
        if region.style is None:
            continue
        layer_masks = {n: resize_mask(region.mask, content_features[n].shape[1:3]) for n in layers}
        targets = {n: toward_content(grams[region.style][n],
                                     guided_gram_matrix(content_features[n], layer_masks[n]))
                   for n in layers}
        terms.append(StyleTerm(region.weight, targets, layer_masks))
    return terms
