"""The content and style images at each scale of a ``stylize`` run.

Taught in notebooks/06_speed_and_scale (coarse to fine, ``scales=``) and
notebooks/08_artistic_controls (the brush size, ``style_scale=``); Gatys et al. 2017.
"""

from __future__ import annotations

import tensorflow as tf

from .images import resize_image as resized  # long side to N px, aspect kept, antialiased


def content_at_scale(image: tf.Tensor, size: int, scales) -> tf.Tensor:
    """A content-shaped image at this scale's long side ``size`` (as given without ``scales``)."""
    return resized(image, size) if scales else image


def styles_at_scale(styles: list, size: int, *, content_long_side: int, scales, style_scale) -> list:
    """The style images at this scale: ``style_scale`` times the content's long side, or shrunk
    with the content relative to the finest scale (kept >= 32 px), or as given."""
    if style_scale is not None:
        return [_style_at_scale(s, content_long_side, style_scale) for s in styles]
    if scales:
        return [resized(s, max(32, round(max(s.shape[1:3]) * size / scales[-1]))) for s in styles]
    return styles


def _style_at_scale(style: tf.Tensor, content_long_side: int, style_scale: float) -> tf.Tensor:
    """``scale_style``, kept >= 32 px on the short side at coarse scales (the final scale was
    checked before any work)."""
    height, width = int(style.shape[1]), int(style.shape[2])
    long_side = max(style_scale * content_long_side, 32 * max(height, width) / min(height, width))
    return resized(style, long_side)
