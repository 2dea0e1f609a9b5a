"""Colour: the luminance/chroma split, and matching one image's colours to another's.

Taught in notebooks/08_artistic_controls (Gatys et al. 2017 §5). The public names are also
importable from ``nst_tf.controls``, where the lecture uses them:

- ``to_luminance``/``from_luminance``: YIQ, exactly invertible;
- ``match_luminance``: the style's luminance mean/std set to the content's (§5.1);
- ``match_color``: a linear map of RGB that gives one image the colour mean and covariance of
  another (§5.2);
- ``seen_by_network`` and ``grey``/``recombine``: how ``stylize(preserve_color=...)`` uses them.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

# NTSC YIQ, as in Gatys et al. 2017. Y's weights sum to 1, so a grey pixel (r = g = b) has Y = r
# and I = Q = 0, and Y of any [0, 1] image is in [0, 1].
YIQ_FROM_RGB = np.array([[0.299, 0.587, 0.114],
                         [0.595716, -0.274453, -0.321263],
                         [0.211456, -0.522591, 0.311135]])
RGB_FROM_YIQ = np.linalg.inv(YIQ_FROM_RGB)  # the exact inverse, so the round trip is exact
PRESERVE_COLOR = ("luminance", "histogram", "luma-swap")


def _float(image) -> tf.Tensor:
    """A tensor in float64 if it came as float64 (tests), float32 otherwise."""
    image = tf.convert_to_tensor(image)
    return image if image.dtype == tf.float64 else tf.cast(image, tf.float32)


def to_luminance(image):
    """Split RGB [..., 3] into luminance Y [..., 1] and chroma (I, Q) [..., 2] (YIQ)."""
    image = _float(image)
    yiq = tf.einsum("...c,kc->...k", image, tf.constant(YIQ_FROM_RGB, image.dtype))
    return yiq[..., :1], yiq[..., 1:]


def from_luminance(luminance, chroma):
    """Join luminance [..., 1] and chroma [..., 2] back into RGB [..., 3]: the exact inverse of
    ``to_luminance``. Not clipped (clipping would break the inverse): clip to [0, 1] for display."""
    luminance, chroma = _float(luminance), _float(chroma)
    yiq = tf.concat([luminance, tf.cast(chroma, luminance.dtype)], axis=-1)
    return tf.einsum("...k,ck->...c", yiq, tf.constant(RGB_FROM_YIQ, luminance.dtype))


def match_luminance(luminance, reference):
    """``luminance`` shifted and scaled to the mean and standard deviation of ``reference``,
    clipped to [0, 1]: L' = (L - mean(L)) * std(ref) / std(L) + mean(ref) (Gatys 2017 §5.1)."""
    luminance, reference = _float(luminance), _float(reference)
    mean, std = tf.reduce_mean(luminance), tf.math.reduce_std(luminance)
    ref_mean, ref_std = tf.reduce_mean(reference), tf.math.reduce_std(reference)
    scale = tf.math.divide_no_nan(tf.cast(ref_std, luminance.dtype), std)  # a flat image: shift only
    return tf.clip_by_value((luminance - mean) * scale + tf.cast(ref_mean, luminance.dtype), 0.0, 1.0)


def _sqrtm(cov: np.ndarray, inverse: bool = False) -> np.ndarray:
    values, vectors = np.linalg.eigh(cov)
    if inverse and values.min() <= 0:
        raise ValueError("the source image has no colour variation in some direction (e.g. a grey "
                         "or one-colour image); use eps > 0")
    values = np.clip(values, 0.0, None)
    roots = 1.0 / np.sqrt(values) if inverse else np.sqrt(values)
    return (vectors * roots) @ vectors.T


def match_color(source, reference, method: str = "sqrt", eps: float = 1e-5, clip: bool = True):
    """``source`` with the colour mean and covariance of ``reference`` (Gatys 2017 §5.2).

    Each pixel x (an RGB vector) becomes A (x - mean_s) + mean_r, with A chosen so that
    A cov_s A^T = cov_r. ``method="sqrt"`` (default) is the 'Image Analogies' colour transfer that
    Gatys 2017 uses, with symmetric matrix square roots A = cov_r^(1/2) cov_s^(-1/2) (by
    eigendecomposition); ``method="cholesky"`` uses Cholesky factors A = L_r L_s^-1. ``eps`` is
    added to the covariances' diagonals so a flat-coloured image does not divide by zero (the
    result's covariance is then off by ~eps). Images: [H, W, 3] or [1, H, W, 3] float in [0, 1];
    the result has source's shape, float32 (float64 in, float64 out), clipped to [0, 1] unless
    ``clip=False`` (use that to check the statistics exactly).
    """
    if method not in ("sqrt", "cholesky"):
        raise ValueError(f"method must be 'sqrt' or 'cholesky', got {method!r}")
    if not (isinstance(eps, (int, float)) and math.isfinite(eps) and eps >= 0):
        raise ValueError(f"eps must be a finite number >= 0, got {eps!r}")
    src, ref = np.asarray(source, np.float64), np.asarray(reference, np.float64)
    for name, array in (("source", src), ("reference", ref)):
        if array.shape[-1:] != (3,) or array.ndim not in (3, 4) or array.size == 0:
            raise ValueError(f"match_color: {name} must be an RGB image [H, W, 3] or [1, H, W, 3], "
                             f"got shape {array.shape}")
    x, r = src.reshape(-1, 3), ref.reshape(-1, 3)
    mean_s, mean_r = x.mean(0), r.mean(0)
    cov_s = np.cov(x, rowvar=False, bias=True) + eps * np.eye(3)
    cov_r = np.cov(r, rowvar=False, bias=True) + (eps * np.eye(3) if method == "cholesky" else 0.0)
    if method == "sqrt":
        transform = _sqrtm(cov_r) @ _sqrtm(cov_s, inverse=True)
    else:
        try:
            transform = np.linalg.cholesky(cov_r) @ np.linalg.inv(np.linalg.cholesky(cov_s))
        except np.linalg.LinAlgError:
            raise ValueError("a covariance is singular (a one-colour image); use eps > 0") from None
    out = ((x - mean_s) @ transform.T + mean_r).reshape(src.shape)
    if clip:
        out = np.clip(out, 0.0, 1.0)
    dtype = tf.float64 if getattr(source, "dtype", None) in (np.float64, tf.float64) else tf.float32
    return tf.constant(out, dtype)


# --- what stylize(preserve_color=...) does with them ------------------------------------------

def grey(luminance: tf.Tensor) -> tf.Tensor:
    """One luminance channel [1, H, W, 1] repeated to the RGB image the network sees."""
    return tf.tile(luminance, [1, 1, 1, 3])


def recombine(image: tf.Tensor, *, chroma: tf.Tensor, swap: bool) -> tf.Tensor:
    """The optimized luminance (or, ``swap``, the luminance of an RGB result) with the content's
    chroma, clipped to [0, 1]."""
    luminance = to_luminance(image)[0] if swap else tf.convert_to_tensor(image)
    return tf.clip_by_value(from_luminance(luminance, chroma), 0.0, 1.0)


def seen_by_network(content_image, styles, preserve_color):
    """The content and style images the network compares, given ``preserve_color``.

    "histogram" recolours each style to the content's colour statistics; "luminance" turns both
    into grey images of their luminance (the style's matched to the content's mean and std);
    None and "luma-swap" (applied to the result afterwards) leave them as they are.
    """
    if preserve_color == "histogram":
        return content_image, [match_color(s, content_image) for s in styles]
    if preserve_color == "luminance":
        content_y = to_luminance(content_image)[0]
        return grey(content_y), [grey(match_luminance(to_luminance(s)[0], content_y)) for s in styles]
    return content_image, styles
